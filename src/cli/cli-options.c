/* cli-options.c: the command line's shared parsing and checks: one-line errors, --layers,
 * --positions, the prompt, UTF-8, --view, the metric names, the model folder. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lens-error.h"
#include "lens-locate.h"

gboolean
cli_fail (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, LENS_ERROR, LENS_ERROR_INPUT, msg);
  return FALSE;
}

/* "0,5,11", "0-11:2", "3-5,8": block indices, sorted and deduplicated; the last block is always
 * kept (it is the model's own output). */
GArray *
cli_parse_layers (const char *spec, const char *what, int L, gboolean embeddings, GError **error)
{
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (int));
  g_autofree gboolean *keep = g_new0 (gboolean, L);

  if (spec == NULL)
    for (int l = 0; l < L; l++)
      keep[l] = TRUE;
  else
    {
      g_autofree char *trimmed = g_strstrip (g_strdup (spec));
      if (*trimmed == '\0')
        return cli_fail (error, "%s is empty: give block numbers or ranges such as 0,%d or 0-%d:2",
                         what, L - 1, L - 1),
               NULL;
      g_auto (GStrv) parts = g_strsplit (spec, ",", -1);
      for (char **p = parts; *p != NULL; p++)
        {
          g_autofree char *part = g_strstrip (g_strdup (*p));
          gint64 first, last, step = 1;
          char *end;

          first = g_ascii_strtoll (part, &end, 10);
          if (end == part)
            return cli_fail (error, "%s: \"%s\" is not a layer number or range", what, part), NULL;
          last = first;
          if (*end == '-')
            {
              char *start = end + 1;
              last = g_ascii_strtoll (start, &end, 10);
              if (end == start)
                return cli_fail (error, "%s: \"%s\" has no end after '-'", what, part), NULL;
            }
          if (*end == ':')
            {
              char *start = end + 1;
              step = g_ascii_strtoll (start, &end, 10);
              if (end == start || step < 1)
                return cli_fail (error, "%s: \"%s\" needs a step of 1 or more after ':'", what,
                                 part),
                       NULL;
            }
          if (*end != '\0')
            return cli_fail (error, "%s: unexpected \"%s\" in \"%s\"", what, end, part), NULL;
          if (first > last)
            return cli_fail (error,
                             "%s: \"%s\" is a reversed range (did you mean %" G_GINT64_FORMAT
                             "-%" G_GINT64_FORMAT "?)",
                             what, part, last, first),
                   NULL;
          if (first < 0 || last >= L)
            return cli_fail (error, "%s: \"%s\" is outside 0-%d (the model has %d blocks)", what,
                             part, L - 1, L),
                   NULL;
          for (gint64 l = first; l <= last; l += step)
            keep[l] = TRUE;
        }
      keep[L - 1] = TRUE;
    }

  if (embeddings)
    {
      int e = LENS_ROW_EMBEDDINGS;
      g_array_append_val (rows, e);
    }
  for (int l = 0; l < L; l++)
    if (keep[l])
      g_array_append_val (rows, l);
  return g_steal_pointer (&rows);
}

/* --positions "A-B" or "N" (or a --serve request's "positions", named `what` in messages): one
 * range of positions, in the prompt's numbering, with --layers' messages. Without `r` only the
 * form is checked (before the model runs); with it the range must lie inside r's positions, and
 * *first, *count index them. */
gboolean
cli_parse_positions (const char *spec, const char *what, const LensResult *r, int *first,
                     int *count, GError **error)
{
  if (r == NULL)
    return lens_range_parse (spec, what, 1, 0, NULL, NULL, NULL, error);
  /* a range already (an opened --positions document) counts in its prompt's numbers */
  gboolean range = r->first_pos > 0 || r->next_after_last >= 0;
  g_autofree char *of = range ? g_strdup ("the positions of the prompt this result holds")
                              : g_strdup_printf ("the prompt has %d tokens", r->n_tokens);
  int a, b;
  if (!lens_range_parse (spec, what, r->first_pos, r->first_pos + r->n_tokens - 1, of, &a, &b,
                         error))
    return FALSE;
  *first = a - r->first_pos;
  *count = b - a + 1;
  return TRUE;
}

char *
cli_read_prompt (const CliOptions *o, GError **error)
{
  if (o->prompt != NULL && o->prompt_file != NULL)
    return cli_fail (error, "give --prompt or --prompt-file, not both"), NULL;
  if (o->prompt_file != NULL)
    {
      char *text = NULL;
      gsize len = 0;
      if (!g_file_get_contents (o->prompt_file, &text, &len, error))
        return NULL;
      if (memchr (text, '\0', len) != NULL)
        {
          g_free (text);
          return cli_fail (error, "%s: the file contains a NUL byte; prompts are UTF-8 text",
                           o->prompt_file),
                 NULL;
        }
      return text;
    }
  if (o->prompt == NULL)
    return cli_fail (error, "no prompt: give --prompt TEXT or --prompt-file FILE"), NULL;
  return g_strdup (o->prompt);
}

gboolean
cli_validate_utf8 (const char *text, const char *what, GError **error)
{
  const char *bad;
  if (!g_utf8_validate (text, -1, &bad))
    return cli_fail (error, "%s: not valid UTF-8 text (byte %ld)", what, (long) (bad - text));
  return TRUE;
}

const char *
cli_prompt_source (const CliOptions *o)
{
  return o->prompt_file != NULL ? o->prompt_file : "--prompt";
}

gboolean
cli_parse_view (const char *name, LensView *view, GError **error)
{
  if (lens_view_from_string (name, view))
    return TRUE;
  return cli_fail (error, "--view: \"%s\" is not one of heatmap, target, line, topk, diff", name);
}

/* Does colouring by (or plotting) this --color-by / --line-metric value need the metrics? */
gboolean
cli_needs_metrics (const char *metric)
{
  return metric != NULL && g_strcmp0 (metric, "top") != 0 && g_strcmp0 (metric, "entropy") != 0;
}

LensModel *
cli_load_model (const CliOptions *o, GError **error)
{
  g_autofree char *dir = lens_locate_default_model (o->model_dir, NULL, NULL, error);
  if (dir == NULL)
    return NULL;
  return lens_model_load (dir, error);
}
