/* logit-lens-cli: the logit lens from the command line. Same engine and painters as the app.
 *
 * Output is built completely before anything is printed, so a failure never leaves a partial
 * result on stdout; errors are one line on stderr and a non-zero exit status. */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lens-blas.h"
#include "lens-error.h"
#include "lens-format.h"
#include "lens-json-write.h"
#include "lens-json.h"
#include "lens-locate.h"
#include "lens-model.h"
#include "lens-paint.h"
#include "lens-result.h"
#include "lens-ndif.h"
#include "lens-results-io.h"
#include "lens-threads.h"

/* no --threads on the command line (a value nobody can type as a count) */
#define THREADS_NOT_GIVEN G_MININT

typedef struct
{
  char *model_dir;
  char *prompt;
  char *prompt_file;
  char **targets;
  int top_k;
  char *layers;
  char *positions;
  gboolean embeddings;
  gboolean metrics;
  gboolean sublayers;
  gboolean tokenize;
  gboolean json;
  char *export_path;
  char *view;
  char *scale;
  char *color_by;
  char *line_metric;          /* --line-metric */
  gboolean line_targets_only; /* --line-targets-only */
  char *compare_prompt;       /* --compare-prompt: the pinned side of --view diff */
  char *compare_open;         /* --compare-open */
  char *diff;                 /* --diff */
  char *perplexity_file;
  char *open_path;
  gboolean serve;
  int threads; /* THREADS_NOT_GIVEN when not given */
  gboolean version;
  char *ndif_model; /* --ndif-script */
} CliOptions;

/* What one lens run asks for: the flags, or one --serve request line. `what_*` name the options
 * in error messages as the user wrote them ("--layers" or "layers"). */
typedef struct
{
  const char *prompt;
  const char *what_prompt;
  char **targets;
  int top_k;
  const char *layers;
  const char *what_layers;
  gboolean embeddings;
  gboolean metrics;      /* kl_final and next in every cell */
  gboolean sublayers;    /* "L.attn" rows */
  const char *positions; /* --serve: the positions the answer holds ("A-B" or "N"), or NULL */
} CliRequest;

static gboolean fail (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error, const char *format, ...)
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
static GArray *
parse_layers (const char *spec, const char *what, int L, gboolean embeddings, GError **error)
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
        return fail (error, "%s is empty: give block numbers or ranges such as 0,%d or 0-%d:2",
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
            return fail (error, "%s: \"%s\" is not a layer number or range", what, part), NULL;
          last = first;
          if (*end == '-')
            {
              char *start = end + 1;
              last = g_ascii_strtoll (start, &end, 10);
              if (end == start)
                return fail (error, "%s: \"%s\" has no end after '-'", what, part), NULL;
            }
          if (*end == ':')
            {
              char *start = end + 1;
              step = g_ascii_strtoll (start, &end, 10);
              if (end == start || step < 1)
                return fail (error, "%s: \"%s\" needs a step of 1 or more after ':'", what, part),
                       NULL;
            }
          if (*end != '\0')
            return fail (error, "%s: unexpected \"%s\" in \"%s\"", what, end, part), NULL;
          if (first > last)
            return fail (error,
                         "%s: \"%s\" is a reversed range (did you mean %" G_GINT64_FORMAT
                         "-%" G_GINT64_FORMAT "?)",
                         what, part, last, first),
                   NULL;
          if (first < 0 || last >= L)
            return fail (error, "%s: \"%s\" is outside 0-%d (the model has %d blocks)", what, part,
                         L - 1, L),
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
static gboolean
parse_positions (const char *spec, const char *what, const LensResult *r, int *first, int *count,
                 GError **error)
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

static char *
read_prompt (const CliOptions *o, GError **error)
{
  if (o->prompt != NULL && o->prompt_file != NULL)
    return fail (error, "give --prompt or --prompt-file, not both"), NULL;
  if (o->prompt_file != NULL)
    {
      char *text = NULL;
      gsize len = 0;
      if (!g_file_get_contents (o->prompt_file, &text, &len, error))
        return NULL;
      if (memchr (text, '\0', len) != NULL)
        {
          g_free (text);
          return fail (error, "%s: the file contains a NUL byte; prompts are UTF-8 text",
                       o->prompt_file),
                 NULL;
        }
      return text;
    }
  if (o->prompt == NULL)
    return fail (error, "no prompt: give --prompt TEXT or --prompt-file FILE"), NULL;
  return g_strdup (o->prompt);
}

static gboolean
validate_utf8 (const char *text, const char *what, GError **error)
{
  const char *bad;
  if (!g_utf8_validate (text, -1, &bad))
    return fail (error, "%s: not valid UTF-8 text (byte %ld)", what, (long) (bad - text));
  return TRUE;
}

static const char *
prompt_source (const CliOptions *o)
{
  return o->prompt_file != NULL ? o->prompt_file : "--prompt";
}

/* Display form of a token for the text output: quoted, with C escapes for control characters,
 * quotes and backslashes; other UTF-8 text stays as it is. */
static void
append_quoted (GString *out, const char *text)
{
  static char non_ascii[129];
  if (non_ascii[0] == '\0')
    for (int b = 0x80; b <= 0xFF; b++)
      non_ascii[b - 0x80] = (char) b;
  g_autofree char *esc = g_strescape (text, non_ascii);
  g_string_append_printf (out, "\"%s\"", esc);
}

/* Right-aligned in 10 columns, as the app shows it ("41.3%", "4.70e-10"). */
static void
append_prob (GString *out, double p)
{
  g_autofree char *text = isnan (p) ? g_strdup ("n/a") : lens_format_prob (p);
  g_string_append_printf (out, "%10s", text);
}

/* The seed notebook's printout: model, tokens, top-1 and top-5 per layer at the last position,
 * each target's probability per layer. */
static void
append_text_summary (GString *out, const LensResult *r, LensTarget *const *targets, int n_targets)
{
  const LensModelInfo *mi = &r->model_info;
  int last = r->n_tokens - 1;
  /* wide enough for "11.attn" when there are sub-layer rows; 6 as before otherwise */
  int label_w = 6;
  for (int row = 0; row < r->n_rows; row++)
    label_w = MAX (label_w, (int) strlen (r->row_labels[row]) + 1);

  g_string_append_printf (out, "Model: %s", mi->name != NULL ? mi->name : "(unknown)");
  if (mi->architecture != NULL)
    g_string_append_printf (out, " (%s)", mi->architecture);
  if (mi->n_layer > 0)
    {
      g_string_append_printf (out, ": %d layers, hidden size %d, %d heads", mi->n_layer,
                              mi->d_model, mi->n_head);
      /* Only grouped-query (and multi-query) attention has fewer key/value heads. */
      if (mi->n_kv_head > 0 && mi->n_kv_head != mi->n_head)
        g_string_append_printf (out, " (%d key/value)", mi->n_kv_head);
      g_string_append_printf (out, ", vocabulary %d", mi->vocab_size);
    }
  /* Results files written before these were recorded leave them unknown: say nothing. */
  if (mi->n_params > 0)
    {
      g_autofree char *count = lens_format_param_count ((uint64_t) mi->n_params);
      g_string_append_printf (out, "%s%s parameters", mi->n_layer > 0 ? ", " : ": ", count);
      if (mi->dtype != NULL)
        g_string_append_printf (out, " (%s)", mi->dtype);
    }
  if (mi->context_length > 0)
    g_string_append_printf (out, "%scontext %d", mi->n_layer > 0 || mi->n_params > 0 ? ", " : ": ",
                            mi->context_length);
  /* Gemma 2: every row of the lens goes through the model's own head, soft-cap included */
  if (r->model != NULL && lens_model_config (r->model)->final_logit_softcap > 0.0)
    g_string_append_printf (out,
                            "; logits soft-capped at %g at every layer, as the model's head does",
                            lens_model_config (r->model)->final_logit_softcap);
  g_string_append_c (out, '\n');
  if (r->prompt != NULL)
    {
      g_string_append (out, "Prompt: ");
      append_quoted (out, r->prompt);
      g_string_append_c (out, '\n');
    }

  /* a range of the prompt (--positions) says which positions it holds */
  gboolean range = r->first_pos > 0 || r->next_after_last >= 0;
  if (range)
    g_string_append_printf (out, "Tokens (%d, positions %d-%d):", r->n_tokens, r->first_pos,
                            r->first_pos + r->n_tokens - 1);
  else
    g_string_append_printf (out, "Tokens (%d):", r->n_tokens);
  for (int t = 0; t < r->n_tokens; t++)
    {
      g_string_append_c (out, ' ');
      append_quoted (out, r->token_texts[t]);
      if (r->token_ids[t] >= 0)
        g_string_append_printf (out, "=%d", r->token_ids[t]);
    }
  if (range)
    g_string_append_printf (out, "\n\nTop-1 per layer at position %d, the last of the range (",
                            r->first_pos + last);
  else
    g_string_append (out, "\n\nTop-1 per layer at the last position (");
  append_quoted (out, r->token_texts[last]);
  g_string_append (out, "):\n");
  for (int row = 0; row < r->n_rows; row++)
    {
      size_t cell = lens_result_cell_index (r, row, last);
      g_string_append_printf (out, "  layer %-*s", label_w, r->row_labels[row]);
      append_prob (out, r->top_probs[cell * r->top_k]);
      g_string_append (out, "  ");
      append_quoted (out, lens_result_token_text (r, r->top_ids[cell * r->top_k]));
      if (lens_result_has_metrics (r))
        {
          /* nats, not a probability: three decimals, "n/a" where unknown */
          double kl = lens_result_kl_final (r, row, last);
          if (isnan (kl))
            g_string_append (out, "  KL from final        n/a");
          else
            g_string_append_printf (out, "  KL from final %7.3f nats", kl);
        }
      g_string_append_c (out, '\n');
    }

  int k5 = MIN (5, r->top_k);
  if (range)
    g_string_append_printf (out, "\nTop-%d per layer at position %d:\n", k5, r->first_pos + last);
  else
    g_string_append_printf (out, "\nTop-%d per layer at the last position:\n", k5);
  for (int row = 0; row < r->n_rows; row++)
    {
      size_t cell = lens_result_cell_index (r, row, last);
      g_string_append_printf (out, "  layer %-*s", label_w, r->row_labels[row]);
      for (int k = 0; k < k5; k++)
        {
          int32_t id = r->top_ids[cell * r->top_k + k];
          if (id < 0)
            break;
          g_string_append (out, k ? ", " : " ");
          append_quoted (out, lens_result_token_text (r, id));
          g_autofree char *prob = lens_format_prob (r->top_probs[cell * r->top_k + k]);
          g_string_append_printf (out, " %s", prob);
        }
      g_string_append_c (out, '\n');
    }

  for (int i = 0; i < n_targets; i++)
    {
      g_string_append (out, "\nTarget ");
      append_quoted (out, targets[i]->text);
      if (targets[i]->n_ids > 0)
        g_string_append_printf (out, " (token id %d)", targets[i]->ids[0]);
      if (range)
        g_string_append_printf (out, " probability per layer at position %d:\n",
                                r->first_pos + last);
      else
        g_string_append (out, " probability per layer at the last position:\n");
      for (int row = 0; row < r->n_rows; row++)
        {
          g_string_append_printf (out, "  layer %-*s", label_w, r->row_labels[row]);
          append_prob (out, targets[i]->probs[lens_result_cell_index (r, row, last)]);
          g_string_append_c (out, '\n');
        }
    }
}

/* Tracks each --target (LensTarget * appended to `targets`): probabilities at every cell (first
 * token when it is several). */
static gboolean
compute_targets (const LensResult *r, char **texts, GPtrArray *targets, GError **error)
{
  for (char **p = texts; p != NULL && *p != NULL; p++)
    {
      if (!validate_utf8 (*p, "--target", error))
        return FALSE;
      LensTarget *t = lens_target_compute (*p, r, error);
      if (t == NULL)
        return FALSE;
      g_ptr_array_add (targets, t);
      if (t->n_ids > 1)
        {
          g_autofree char *display = g_strescape (t->label, "");
          fprintf (stderr,
                   "logit-lens-cli: warning: target \"%s\" is %d tokens; tracking its first "
                   "token \"%s\" (id %d)\n",
                   *p, t->n_ids, display, t->id);
        }
    }
  return TRUE;
}

static gboolean
parse_view (const char *name, LensView *view, GError **error)
{
  if (lens_view_from_string (name, view))
    return TRUE;
  return fail (error, "--view: \"%s\" is not one of heatmap, target, line, topk, diff", name);
}

/* Does colouring by (or plotting) this --color-by / --line-metric value need the metrics? */
static gboolean
needs_metrics (const char *metric)
{
  return metric != NULL && g_strcmp0 (metric, "top") != 0 && g_strcmp0 (metric, "entropy") != 0;
}

/* --view diff: the values of `pinned` against `r`, per cell of r (R, T); NULL on error. */
static float *
diff_values (const CliOptions *o, const LensResult *pinned, const LensResult *r, GPtrArray *targets,
             LensDiffKind kind, GError **error)
{
  if (!lens_compare_rows_match (pinned, r, error))
    return NULL;
  size_t cells = (size_t) r->n_rows * (size_t) r->n_tokens;
  g_autofree float *values = g_new (float, cells);
  if (kind == LENS_DIFF_KL)
    {
      if (!lens_compare_kl (pinned, r, values, NULL, NULL, error))
        return NULL;
      return g_steal_pointer (&values);
    }
  /* the first target, as the target heatmap shows it, looked up in the pinned result */
  const LensTarget *t = g_ptr_array_index (targets, 0);
  g_autofree float *pinned_probs = g_new (float, (size_t) pinned->n_rows * pinned->n_tokens);
  if (!lens_result_target_probs_for_text (pinned, t->text, pinned_probs, NULL, NULL, error))
    {
      g_prefix_error (error,
                      "%s: ", o->compare_open != NULL ? o->compare_open : "--compare-prompt");
      return NULL;
    }
  lens_compare_target_diff (pinned, pinned_probs, r, t->probs, values);
  return g_steal_pointer (&values);
}

static gboolean
export_figure (const CliOptions *o, const LensResult *r, const LensResult *pinned,
               GPtrArray *targets, GError **error)
{
  LensView view;
  const char *name = o->view != NULL ? o->view : "heatmap";
  if (!parse_view (name, &view, error))
    return FALSE;

  LensColorBy line_metric = LENS_COLOR_TOP_PROB;
  if (o->line_metric != NULL)
    lens_color_by_from_string (o->line_metric, &line_metric); /* checked before the run */
  /* the line plot draws the top-1 tokens or a metric without targets */
  gboolean line_needs_targets = line_metric == LENS_COLOR_TOP_PROB && o->line_targets_only;
  /* a saved pinned result has no distributions for KL: its default is the target too */
  LensDiffKind diff_kind
      = targets->len > 0 || o->compare_open != NULL ? LENS_DIFF_TARGET : LENS_DIFF_KL;
  if (o->diff != NULL)
    lens_diff_kind_from_string (o->diff, &diff_kind); /* checked before the run */
  if ((view == LENS_VIEW_TARGET || (view == LENS_VIEW_LINE && line_needs_targets)
       || (view == LENS_VIEW_DIFF && diff_kind == LENS_DIFF_TARGET))
      && targets->len == 0)
    return fail (error, "--view %s%s needs at least one --target", name,
                 view == LENS_VIEW_LINE ? " --line-targets-only" : "");

  /* The CLI's figures label a target with its text as given, not its first token's. */
  g_autoptr (GPtrArray) paint_targets
      = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
  for (guint i = 0; i < targets->len; i++)
    {
      const LensTarget *t = g_ptr_array_index (targets, i);
      g_ptr_array_add (paint_targets,
                       lens_target_new (t->text, t->text, t->n_ids > 0 ? t->ids[0] : -1, t->ids,
                                        t->n_ids, t->probs, t->n_rows, t->n_tokens));
    }
  LensPaintState state;
  lens_paint_state_init (&state);
  state.targets = (LensTarget *const *) paint_targets->pdata;
  state.n_targets = (int) targets->len;
  if (o->scale != NULL)
    lens_axis_from_string (o->scale, &state.prob_axis); /* checked before the run */
  if (o->color_by != NULL)
    lens_color_by_from_string (o->color_by, &state.heatmap_color_by); /* checked too */
  state.line_metric = line_metric;
  state.line_top1 = !o->line_targets_only;
  g_autofree float *diff = NULL;
  if (view == LENS_VIEW_DIFF)
    {
      diff = diff_values (o, pinned, r, targets, diff_kind, error);
      if (diff == NULL)
        return FALSE;
      state.diff_values = diff;
      state.diff_kind = diff_kind;
      state.diff_pinned = pinned->prompt;
    }
  if (!lens_export_view (o->export_path, view, r, &state, 1.0, error))
    return FALSE;
  int first, count;
  if (lens_export_positions (view, r, &first, &count))
    fprintf (stderr,
             "logit-lens-cli: warning: %s shows positions %d-%d of %d-%d (a figure holds at most "
             "%d positions); choose others with --positions A-B\n",
             o->export_path, r->first_pos + first, r->first_pos + first + count - 1, r->first_pos,
             r->first_pos + r->n_tokens - 1, LENS_EXPORT_MAX_POSITIONS);
  return TRUE;
}

static gboolean
run_tokenize (const CliOptions *o, GString *out, GError **error)
{
  g_autofree char *prompt = read_prompt (o, error);
  if (prompt == NULL || !validate_utf8 (prompt, prompt_source (o), error))
    return FALSE;

  g_autofree char *dir = lens_locate_default_model (o->model_dir, NULL, NULL, error);
  if (dir == NULL)
    return FALSE;
  g_autoptr (LensTokenizer) tok = lens_tokenizer_load_dir (dir, error);
  if (tok == NULL)
    return FALSE;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  /* the ids the lens runs on: with the special tokens the tokenizer adds (BOS) */
  if (*prompt != '\0' && !lens_tokenizer_encode_with_special (tok, prompt, -1, ids, error))
    return FALSE;

  g_string_append_c (out, '[');
  for (guint i = 0; i < ids->len; i++)
    {
      if (i > 0)
        g_string_append (out, ", ");
      lens_json_write_int_or_null (out, g_array_index (ids, int32_t, i), TRUE);
    }
  g_string_append (out, "]\n");
  return TRUE;
}

static LensModel *
load_model (const CliOptions *o, GError **error)
{
  g_autofree char *dir = lens_locate_default_model (o->model_dir, NULL, NULL, error);
  if (dir == NULL)
    return NULL;
  return lens_model_load (dir, error);
}

/* Mean next-token loss over `path`, in consecutive windows of the model's context (at most
 * LENS_LOSS_MAX_WINDOW ids): each window predicts its ids[1:] from its own prefix. */
static gboolean
run_perplexity (const CliOptions *o, GString *out, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (o->perplexity_file, &text, &len, error))
    return FALSE;
  const char *bad;
  if (!g_utf8_validate_len (text, len, &bad))
    return fail (error, "%s: not valid UTF-8 (at byte %ld)", o->perplexity_file,
                 (long) (bad - text));

  g_autoptr (LensModel) model = load_model (o, error);
  if (model == NULL)
    return FALSE;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  /* as the model reads text: with the special tokens its tokenizer adds (BOS) */
  if (!lens_tokenizer_encode_with_special (lens_model_tokenizer (model), text, (gssize) len, ids,
                                           error))
    return FALSE;
  if (ids->len < 2)
    return fail (error, "%s: needs at least two tokens of text", o->perplexity_file);

  double mean;
  long n_predicted;
  if (!lens_model_mean_loss (model, (const int32_t *) ids->data, ids->len, &mean, &n_predicted,
                             error))
    return FALSE;
  /* The engine's JSON writer escapes what JSON must (g_strescape wrote octal escapes, invalid
   * JSON, for a non-ASCII name); a file name that is not UTF-8 is shown as the display name. */
  g_autofree char *file = g_filename_display_name (o->perplexity_file);
  g_string_append (out, "{ ");
  lens_json_write_key (out, "file", TRUE);
  lens_json_write_string (out, file);
  g_string_append (out, ", ");
  lens_json_write_key (out, "model", TRUE);
  lens_json_write_string (out, lens_model_name (model));
  g_string_append_printf (out, ", \"tokens\": %u, \"predicted\": %ld", ids->len, n_predicted);
  /* six decimals as before, with a decimal point whatever the locale says; null (and a warning)
   * when the model produced NaN or infinity, which JSON cannot write */
  g_string_append (out, ", \"mean_loss_nats\": ");
  lens_json_write_fixed (out, mean, 6);
  g_string_append (out, ", \"perplexity\": ");
  lens_json_write_fixed (out, exp (mean), 6);
  if (!isfinite (mean))
    fprintf (stderr, "logit-lens-cli: warning: the model produced NaN or infinity: the loss is "
                     "not a number\n");
  g_string_append (out, " }\n");
  return TRUE;
}

/* Runs one request on `model`, through `cache` when there is one (--serve: a request sharing its
 * beginning with the previous one computes only the new positions). */
static LensResult *
run_request (LensModel *model, LensRunCache *cache, const CliRequest *req, GError **error)
{
  if (!validate_utf8 (req->prompt, req->what_prompt, error))
    return NULL;
  if (*req->prompt == '\0')
    return fail (error, "%s: the prompt is empty", req->what_prompt), NULL;

  g_autoptr (GArray) rows = parse_layers (
      req->layers, req->what_layers, lens_model_config (model)->n_layer, req->embeddings, error);
  if (rows == NULL)
    return NULL;
  LensRunOptions run = {
      .layers = (const int *) rows->data,
      .n_layers = (int) rows->len,
      .top_k = req->top_k,
      .metrics = req->metrics,
      .sublayers = req->sublayers,
  };
  if (cache != NULL)
    return lens_run_prompt_cached (model, cache, req->prompt, &run, error);
  return lens_run_prompt (model, req->prompt, &run, error);
}

/* The lens of the prompt; with --compare-prompt, that prompt's too (*pinned), on the same model
 * with the same rows. */
static LensResult *
run_lens (const CliOptions *o, LensResult **pinned, GError **error)
{
  if (o->top_k < 1)
    return fail (error, "--top-k must be at least 1"), NULL;
  g_autofree char *prompt = read_prompt (o, error);
  if (prompt == NULL)
    return NULL;
  g_autoptr (LensModel) model = load_model (o, error);
  if (model == NULL)
    return NULL;
  CliRequest req = {
      .prompt = prompt,
      .what_prompt = prompt_source (o),
      .top_k = o->top_k,
      .layers = o->layers,
      .what_layers = "--layers",
      .embeddings = o->embeddings,
      /* colouring by next-token values or KL needs them */
      .metrics = o->metrics || needs_metrics (o->color_by) || needs_metrics (o->line_metric),
      .sublayers = o->sublayers,
  };
  g_autoptr (LensResult) r = run_request (model, NULL, &req, error);
  if (r == NULL || o->compare_prompt == NULL)
    return g_steal_pointer (&r);
  req.prompt = o->compare_prompt;
  req.what_prompt = "--compare-prompt";
  *pinned = run_request (model, NULL, &req, error);
  return *pinned != NULL ? g_steal_pointer (&r) : NULL;
}

/* Says on stderr when the model produced NaN or infinity (the cells are null in --json). */
static void
warn_nonfinite (const LensResult *r)
{
  g_autofree char *message = lens_result_describe_nonfinite (r);
  if (message != NULL)
    fprintf (stderr, "logit-lens-cli: warning: %s\n", message);
}

/* The --json document of a result and its targets, on one line when not `pretty`. */
static char *
result_document (LensResult *r, GPtrArray *targets, gboolean pretty)
{
  return lens_result_to_json (r, (LensTarget *const *) targets->pdata, (int) targets->len, pretty);
}

static GPtrArray *
new_target_array (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
}

static gboolean
run (const CliOptions *o, GString *out, GError **error)
{
  if (o->tokenize)
    return run_tokenize (o, out, error);
  if (o->perplexity_file != NULL)
    return run_perplexity (o, out, error);
  /* checked before the model runs: a typo should not cost a run */
  LensView view;
  if (o->view != NULL && o->export_path == NULL)
    return fail (error, "--view chooses the figure --export writes: give --export FILE too");
  if (o->view != NULL && !parse_view (o->view, &view, error))
    return FALSE;
  LensColorBy color_by;
  if (o->color_by != NULL && o->export_path == NULL)
    return fail (error, "--color-by sets what colours the heatmap --export writes: give "
                        "--export FILE too");
  if (o->color_by != NULL && !lens_color_by_from_string (o->color_by, &color_by))
    return fail (error, "--color-by: \"%s\" is not one of top, next, rank, kl, entropy",
                 o->color_by);
  gboolean is_diff = g_strcmp0 (o->view, "diff") == 0 && o->export_path != NULL;
  if ((o->compare_prompt != NULL || o->compare_open != NULL || o->diff != NULL) && !is_diff)
    return fail (error,
                 "%s compares two results in the figure --view diff writes: give --view "
                 "diff and --export FILE too",
                 o->compare_prompt != NULL ? "--compare-prompt"
                 : o->compare_open != NULL ? "--compare-open"
                                           : "--diff");
  if (is_diff && (o->compare_prompt == NULL) == (o->compare_open == NULL))
    return fail (error, "--view diff compares with one pinned result: give either "
                        "--compare-prompt TEXT or --compare-open FILE");
  LensDiffKind diff_kind;
  if (o->diff != NULL && !lens_diff_kind_from_string (o->diff, &diff_kind))
    return fail (error, "--diff: \"%s\" is not one of target, kl", o->diff);
  /* what is known before the runs is refused before them */
  if (o->diff != NULL && diff_kind == LENS_DIFF_KL && o->compare_open != NULL)
    return fail (error,
                 "--diff kl needs both results computed here with their model (%s has "
                 "only its top tokens): use --compare-prompt, or compare a --target",
                 o->compare_open);
  if (is_diff && o->targets == NULL && o->open_path == NULL
      && ((o->diff != NULL && diff_kind == LENS_DIFF_TARGET) || o->compare_open != NULL))
    return fail (error, "--view diff needs at least one --target");
  if (o->compare_prompt != NULL && o->open_path != NULL)
    return fail (error, "--compare-prompt runs the model; with --open, compare with a saved "
                        "result through --compare-open");
  LensColorBy line_metric;
  if ((o->line_metric != NULL || o->line_targets_only)
      && (o->export_path == NULL || g_strcmp0 (o->view, "line") != 0))
    return fail (error,
                 "%s sets what the line plot --export writes: give --view line and "
                 "--export FILE too",
                 o->line_metric != NULL ? "--line-metric" : "--line-targets-only");
  if (o->line_metric != NULL && !lens_color_by_from_string (o->line_metric, &line_metric))
    return fail (error, "--line-metric: \"%s\" is not one of top, next, rank, kl, entropy",
                 o->line_metric);
  LensAxis axis;
  if (o->scale != NULL && o->export_path == NULL)
    return fail (error, "--scale sets the probability scale of the figure --export writes: give "
                        "--export FILE too");
  if (o->scale != NULL && !lens_axis_from_string (o->scale, &axis))
    return fail (error, "--scale: \"%s\" is not one of auto, linear, log", o->scale);
  if (o->positions != NULL
      && !parse_positions (o->positions, "--positions", NULL, NULL, NULL, error))
    return FALSE;

  g_autoptr (LensResult) r = NULL;
  g_autoptr (LensResult) pinned = NULL; /* --view diff: the other side */
  g_autoptr (GPtrArray) file_targets = NULL;
  if (o->open_path != NULL)
    {
      if (o->prompt != NULL || o->prompt_file != NULL)
        return fail (error, "--open shows a saved result; it takes no --prompt");
      if (o->metrics || o->sublayers)
        return fail (error, "--open shows a saved result with the metrics and rows it was saved "
                            "with; --metrics and --sublayers apply to a model run");
      r = lens_results_load_full (o->open_path, &file_targets, error);
    }
  else
    r = run_lens (o, &pinned, error);
  if (r == NULL)
    return FALSE;
  if (o->compare_open != NULL)
    {
      pinned = lens_results_load_full (o->compare_open, NULL, error);
      if (pinned == NULL)
        return FALSE;
    }
  warn_nonfinite (r);
  if (pinned != NULL)
    warn_nonfinite (pinned);
  if (o->positions != NULL)
    {
      /* Everything below (summary, document, figure, targets) is about the range only. */
      int first, count;
      if (!parse_positions (o->positions, "--positions", r, &first, &count, error))
        return FALSE;
      LensResult *range = lens_result_slice (r, 0, r->n_rows, first, count, error);
      if (range == NULL)
        return FALSE;
      /* --view diff compares cells by index: the pinned side gets what it has of the range */
      if (pinned != NULL)
        {
          int lo = MAX (range->first_pos, pinned->first_pos);
          int hi = MIN (range->first_pos + count - 1, pinned->first_pos + pinned->n_tokens - 1);
          if (lo != range->first_pos || lo > hi)
            {
              lens_result_unref (range);
              return fail (error,
                           "--positions: \"%s\" starts outside the pinned result's "
                           "positions %d-%d",
                           o->positions, pinned->first_pos,
                           pinned->first_pos + pinned->n_tokens - 1);
            }
          LensResult *pinned_range = lens_result_slice (pinned, 0, pinned->n_rows,
                                                        lo - pinned->first_pos, hi - lo + 1, error);
          if (pinned_range == NULL)
            {
              lens_result_unref (range);
              return FALSE;
            }
          lens_result_unref (pinned);
          pinned = pinned_range;
        }
      lens_result_unref (r);
      r = range;
    }
  if (o->color_by != NULL && color_by != LENS_COLOR_TOP_PROB && color_by != LENS_COLOR_ENTROPY
      && !lens_result_has_metrics (r))
    return fail (error,
                 "%s has no metrics (it was saved without --metrics): --color-by %s needs "
                 "them",
                 o->open_path != NULL ? o->open_path : "the result", o->color_by);
  if (needs_metrics (o->line_metric) && !lens_result_has_metrics (r))
    return fail (error,
                 "%s has no metrics (it was saved without --metrics): --line-metric %s needs "
                 "them",
                 o->open_path != NULL ? o->open_path : "the result", o->line_metric);

  g_autoptr (GPtrArray) targets = new_target_array ();
  /* The file's own targets first, with the ids it recorded, as the live run printed them. */
  for (guint i = 0; file_targets != NULL && i < file_targets->len; i++)
    {
      LensTarget *t = lens_target_for_result (g_ptr_array_index (file_targets, i), r, error);
      if (t == NULL)
        return FALSE;
      g_ptr_array_add (targets, t);
    }
  g_auto (GStrv) extra = NULL;
  if (o->targets != NULL)
    {
      g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
      for (char **p = o->targets; *p != NULL; p++)
        {
          gboolean known = FALSE;
          for (guint i = 0; i < targets->len && !known; i++)
            known = g_str_equal (((LensTarget *) g_ptr_array_index (targets, i))->text, *p);
          if (!known)
            g_strv_builder_add (b, *p);
        }
      extra = g_strv_builder_end (b);
    }
  if (!compute_targets (r, extra, targets, error))
    return FALSE;

  if (o->export_path != NULL && !export_figure (o, r, pinned, targets, error))
    return FALSE;

  if (o->json)
    {
      g_autofree char *json = result_document (r, targets, TRUE);
      g_string_append (out, json);
      g_string_append_c (out, '\n');
    }
  else if (o->export_path == NULL) /* the figure is the output; --json adds the data */
    append_text_summary (out, r, (LensTarget *const *) targets->pdata, (int) targets->len);
  return TRUE;
}

/* --serve: the model stays loaded; each line of stdin is one request, each gets one line. */

static const char *const request_keys[]
    = {"prompt", "targets", "top_k", "layers", "embeddings", "metrics", "sublayers", "positions"};

/* A string member without NUL characters (json-c keeps "\u0000" inside its strings). */
static gboolean
request_text (json_object *value, const char *key, const char **text, GError **error)
{
  if (!json_object_is_type (value, json_type_string))
    return fail (error, "request: \"%s\" must be a string, not %s", key,
                 lens_json_type_name (value));
  *text = json_object_get_string (value);
  if (strlen (*text) != (size_t) json_object_get_string_len (value))
    return fail (error, "request: \"%s\" contains a NUL character", key);
  return TRUE;
}

/* Fills `req` from one request line; its strings point into `*root` (which the caller frees) and
 * `*targets`. Members not given keep the values of the command line's flags. */
static gboolean
parse_request (const char *line, size_t len, CliRequest *req, json_object **root, GStrv *targets,
               GError **error)
{
  *root = lens_json_parse (line, len, "request", error);
  if (*root == NULL)
    return FALSE;
  if (!json_object_is_type (*root, json_type_object))
    return fail (error, "request: expected a JSON object, not %s", lens_json_type_name (*root));

  json_object_object_foreach (*root, key, value)
  {
    gboolean known = FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS (request_keys) && !known; i++)
      known = g_str_equal (key, request_keys[i]);
    if (!known)
      {
        g_autofree char *shown = lens_json_describe (key, -1);
        return fail (error,
                     "request: unknown member %s (known: prompt, targets, top_k, layers, "
                     "embeddings, metrics, sublayers, positions)",
                     shown);
      }
    if (g_str_equal (key, "prompt") && !request_text (value, key, &req->prompt, error))
      return FALSE;
    if (g_str_equal (key, "layers") && !request_text (value, key, &req->layers, error))
      return FALSE;
    if (g_str_equal (key, "positions")
        && (!request_text (value, key, &req->positions, error)
            || !parse_positions (req->positions, "positions", NULL, NULL, NULL, error)))
      return FALSE;
    if (g_str_equal (key, "embeddings") || g_str_equal (key, "metrics")
        || g_str_equal (key, "sublayers"))
      {
        if (!json_object_is_type (value, json_type_boolean))
          return fail (error, "request: \"%s\" must be true or false, not %s", key,
                       lens_json_type_name (value));
        gboolean *flag = g_str_equal (key, "embeddings") ? &req->embeddings
                         : g_str_equal (key, "metrics")  ? &req->metrics
                                                         : &req->sublayers;
        *flag = json_object_get_boolean (value);
      }
    if (g_str_equal (key, "top_k"))
      {
        if (!json_object_is_type (value, json_type_int))
          return fail (error, "request: \"top_k\" must be an integer, not %s",
                       lens_json_type_name (value));
        int64_t k = json_object_get_int64 (value);
        if (k < 1 || k > G_MAXINT)
          return fail (error, "request: \"top_k\" must be at least 1");
        req->top_k = (int) k;
      }
    if (g_str_equal (key, "targets"))
      {
        if (!json_object_is_type (value, json_type_array))
          return fail (error, "request: \"targets\" must be an array of strings, not %s",
                       lens_json_type_name (value));
        g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
        for (size_t i = 0; i < json_object_array_length (value); i++)
          {
            const char *text;
            if (!request_text (json_object_array_get_idx (value, i), "targets", &text, error))
              return FALSE;
            g_strv_builder_add (b, text);
          }
        *targets = g_strv_builder_end (b);
        req->targets = *targets;
      }
  }
  if (req->prompt == NULL)
    return fail (error, "request: \"prompt\" is missing");
  return TRUE;
}

/* The response to one request line: the --json document on one line, or {"error": "..."}. */
static char *
serve_one (LensModel *model, LensRunCache *cache, const CliOptions *o, const char *line, size_t len)
{
  g_autoptr (GError) error = NULL;
  CliRequest req = {
      .what_prompt = "prompt",
      .targets = o->targets,
      .top_k = o->top_k,
      .layers = o->layers,
      .what_layers = "layers",
      .embeddings = o->embeddings,
      .metrics = o->metrics,
      .sublayers = o->sublayers,
  };
  json_object *root = NULL;
  g_auto (GStrv) targets = NULL;
  g_autoptr (LensResult) r = NULL;
  g_autoptr (GPtrArray) tracked = new_target_array ();
  char *doc = NULL;
  if (len == 0)
    fail (&error, "request: the line is empty; expected a JSON object");
  else if (parse_request (line, len, &req, &root, &targets, &error)
           && (r = run_request (model, cache, &req, &error)) != NULL)
    {
      warn_nonfinite (r);
      /* only the positions asked for, e.g. the new last one while typing: the document of one
       * column instead of the whole prompt's */
      int first, count;
      LensResult *range = NULL;
      if (req.positions != NULL
          && (!parse_positions (req.positions, "positions", r, &first, &count, &error)
              || (range = lens_result_slice (r, 0, r->n_rows, first, count, &error)) == NULL))
        g_clear_pointer (&r, lens_result_unref);
      else if (range != NULL)
        {
          lens_result_unref (r);
          r = range;
        }
      if (r != NULL && compute_targets (r, req.targets, tracked, &error))
        doc = result_document (r, tracked, FALSE);
    }
  json_object_put (root);
  if (doc != NULL)
    return doc;

  /* the one-line form has no line breaks; the writer escapes the rest */
  g_autofree char *message = lens_error_one_line (error->message);
  GString *reply = g_string_new ("{");
  lens_json_write_key (reply, "error", FALSE);
  lens_json_write_string (reply, message);
  g_string_append_c (reply, '}');
  return g_string_free (reply, FALSE);
}

static gboolean
serve (const CliOptions *o, GError **error)
{
  if (o->prompt != NULL || o->prompt_file != NULL)
    return fail (error, "--serve reads its prompts from standard input; it takes no --prompt");
  if (o->json || o->export_path != NULL || o->view != NULL || o->scale != NULL
      || o->color_by != NULL || o->line_metric != NULL || o->line_targets_only
      || o->compare_prompt != NULL || o->compare_open != NULL || o->diff != NULL || o->tokenize
      || o->perplexity_file != NULL || o->open_path != NULL || o->positions != NULL)
    return fail (error, "--serve answers every request with its --json document; it takes no "
                        "--json, --export, --view, --scale, --color-by, --line-metric, "
                        "--line-targets-only, --compare-prompt, --compare-open, --diff, "
                        "--tokenize, --perplexity, --open or --positions");
  if (o->top_k < 1)
    return fail (error, "--top-k must be at least 1");
  g_autoptr (LensModel) model = load_model (o, error);
  if (model == NULL)
    return FALSE;
  g_autoptr (LensRunCache) cache = lens_run_cache_new ();

  char *line = NULL;
  size_t size = 0;
  ssize_t n;
  while ((n = getline (&line, &size, stdin)) >= 0)
    {
      size_t len = (size_t) n;
      while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
      g_autofree char *reply = serve_one (model, cache, o, line, len);
      fputs (reply, stdout);
      fputc ('\n', stdout);
      /* the client waits for this line before it sends the next request */
      fflush (stdout);
    }
  gboolean ok = !ferror (stdin);
  free (line);
  if (!ok)
    return fail (error, "reading standard input: %s", g_strerror (errno));
  return TRUE;
}

/* --ndif-script MODEL_ID: the Python that runs this lens on NDIF; no model runs here. */
static gboolean
run_ndif_script (const CliOptions *o, GString *out, GError **error)
{
  const char *other = o->model_dir != NULL              ? "--model"
                      : o->json                         ? "--json"
                      : o->export_path != NULL          ? "--export"
                      : o->view != NULL                 ? "--view"
                      : o->scale != NULL                ? "--scale"
                      : o->serve                        ? "--serve"
                      : o->open_path != NULL            ? "--open"
                      : o->perplexity_file != NULL      ? "--perplexity"
                      : o->tokenize                     ? "--tokenize"
                      : o->layers != NULL               ? "--layers"
                      : o->positions != NULL            ? "--positions"
                      : o->embeddings                   ? "--embeddings"
                      : o->metrics                      ? "--metrics"
                      : o->sublayers                    ? "--sublayers"
                      : o->color_by != NULL             ? "--color-by"
                      : o->line_metric != NULL          ? "--line-metric"
                      : o->line_targets_only            ? "--line-targets-only"
                      : o->compare_prompt != NULL       ? "--compare-prompt"
                      : o->compare_open != NULL         ? "--compare-open"
                      : o->diff != NULL                 ? "--diff"
                      : o->threads != THREADS_NOT_GIVEN ? "--threads"
                                                        : NULL;
  if (other != NULL)
    return fail (error,
                 "--ndif-script only prints a script for NDIF, which runs the model; it takes "
                 "--prompt or --prompt-file, --target and --top-k, not %s",
                 other);
  g_autofree char *prompt = read_prompt (o, error);
  if (prompt == NULL || !validate_utf8 (prompt, prompt_source (o), error))
    return FALSE;
  for (char **t = o->targets; t != NULL && *t != NULL; t++)
    if (!validate_utf8 (*t, "--target", error))
      return FALSE;
  g_autofree char *script
      = lens_ndif_script (o->ndif_model, prompt, o->targets, o->top_k, NULL, error);
  if (script == NULL)
    return FALSE;
  g_string_append (out, script);
  return TRUE;
}

int
main (int argc, char **argv)
{
  /* before anything touches OpenBLAS's kernels (they were chosen when it loaded) */
  lens_blas_prefer_native_kernels (argv);
  CliOptions o = {.top_k = 10, .threads = THREADS_NOT_GIVEN};
  GOptionEntry entries[] = {
      {"model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model_dir,
       "Model folder (config.json, model.safetensors, tokenizer files); default: GPT-2 from the "
       "Hugging Face cache, else the bundled demo model",
       "DIR"},
      /* FILENAME types keep the bytes as given: prompts are UTF-8 whatever the locale says. */
      {"prompt", 'p', 0, G_OPTION_ARG_FILENAME, &o.prompt, "Prompt text", "TEXT"},
      {"prompt-file", 'f', 0, G_OPTION_ARG_FILENAME, &o.prompt_file, "Read the prompt from a file",
       "FILE"},
      {"target", 't', 0, G_OPTION_ARG_FILENAME_ARRAY, &o.targets,
       "Track this token's probability (repeatable; first token if it is several)", "TEXT"},
      {"top-k", 'k', 0, G_OPTION_ARG_INT, &o.top_k, "Tokens kept per cell (default 10)", "K"},
      {"layers", 'l', 0, G_OPTION_ARG_STRING, &o.layers,
       "Blocks to show, e.g. 0,5,11 or 0-11:2 (the last is always kept)", "SPEC"},
      {"positions", 0, 0, G_OPTION_ARG_STRING, &o.positions,
       "Positions to show, print and export, e.g. 200-244 or 7 (numbered as in the prompt, from "
       "0)",
       "RANGE"},
      {"embeddings", 'e', 0, G_OPTION_ARG_NONE, &o.embeddings, "Add the embedding row", NULL},
      {"metrics", 0, 0, G_OPTION_ARG_NONE, &o.metrics,
       "Per cell: KL divergence from the model's own prediction (kl_final) and the probability, "
       "rank and cross-entropy of the token that actually follows (next)",
       NULL},
      {"sublayers", 0, 0, G_OPTION_ARG_NONE, &o.sublayers,
       "Before each block's row L, a row L.attn: the residual after its attention sub-layer", NULL},
      {"tokenize", 0, 0, G_OPTION_ARG_NONE, &o.tokenize,
       "Print the prompt's token ids as a JSON array and exit", NULL},
      {"json", 'j', 0, G_OPTION_ARG_NONE, &o.json, "Machine-readable output", NULL},
      {"export", 'o', 0, G_OPTION_ARG_FILENAME, &o.export_path,
       "Write a figure (.svg, .png or .pdf)", "FILE"},
      {"view", 0, 0, G_OPTION_ARG_STRING, &o.view,
       "Figure for --export: heatmap (default), target, line, topk or diff (see --compare-prompt)",
       "VIEW"},
      {"color-by", 0, 0, G_OPTION_ARG_STRING, &o.color_by,
       "What colours --view heatmap: top (the top-1 probability, default), next (the next "
       "token's probability), rank (its rank), kl (KL from the final layer) or entropy; the "
       "metrics are computed when needed",
       "VALUE"},
      {"line-metric", 0, 0, G_OPTION_ARG_STRING, &o.line_metric,
       "What --view line draws across layers at the last position (next and rank: the last one "
       "with a next token): top (the probability of the "
       "targets and of every token that is top-1 at some layer, default), next (the next token's "
       "probability), rank (its rank), kl (KL from the final layer) or entropy",
       "VALUE"},
      {"line-targets-only", 0, 0, G_OPTION_ARG_NONE, &o.line_targets_only,
       "--view line draws the targets alone, without the tokens that are top-1 at some layer",
       NULL},
      {"compare-prompt", 0, 0, G_OPTION_ARG_STRING, &o.compare_prompt,
       "--view diff: compare with this prompt's lens on the same model (the pinned side)", "TEXT"},
      {"compare-open", 0, 0, G_OPTION_ARG_FILENAME, &o.compare_open,
       "--view diff: compare with a saved results file (the pinned side)", "FILE"},
      {"diff", 0, 0, G_OPTION_ARG_STRING, &o.diff,
       "What --view diff shows per cell: target (the first target's probability, this prompt "
       "minus the pinned one; the default with a --target) or kl (KL from the pinned "
       "distribution, both run here on one model; the default without a target)",
       "KIND"},
      {"scale", 0, 0, G_OPTION_ARG_STRING, &o.scale,
       "Probability scale of --view target and line: auto (default: logarithmic when the values "
       "span more than three decades or all lie below 1%), linear or log",
       "SCALE"},
      {"perplexity", 0, 0, G_OPTION_ARG_FILENAME, &o.perplexity_file,
       "Mean next-token loss and perplexity of the model over a text file", "FILE"},
      {"open", 0, 0, G_OPTION_ARG_FILENAME, &o.open_path,
       "Show a saved results file (this app's JSON or logitlenskit's) instead of running a model",
       "FILE"},
      {"serve", 0, 0, G_OPTION_ARG_NONE, &o.serve,
       "Keep the model loaded and answer JSON requests, one per line of standard input, with "
       "one line each (see the README)",
       NULL},
      {"threads", 0, 0, G_OPTION_ARG_INT, &o.threads,
       "Threads to compute with (default: all cores, or OMP_NUM_THREADS)", "N"},
      {"version", 0, 0, G_OPTION_ARG_NONE, &o.version, "Print the version", NULL},
      {"ndif-script", 0, 0, G_OPTION_ARG_STRING, &o.ndif_model,
       "Print a Python script that runs this logit lens on NDIF for a Hugging Face model id "
       "(owner/name) and writes a results file for --open",
       "MODEL_ID"},
      {NULL},
  };

  setlocale (LC_ALL, "");
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- the logit lens of a language model");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_autofree char *line = lens_error_one_line (error->message);
      fprintf (stderr, "logit-lens-cli: %s\n", line);
      return 2;
    }
  if (o.version)
    {
      g_autofree char *blas = lens_blas_describe ();
      printf ("logit-lens-cli %s\n%s\n", PACKAGE_VERSION, blas);
      return 0;
    }
  if (argc > 1)
    {
      g_autofree char *arg = lens_error_one_line (argv[1]);
      fprintf (stderr, "logit-lens-cli: unexpected argument \"%s\" (see --help)\n", arg);
      return 2;
    }

  gboolean ok;
  g_autoptr (GString) out = g_string_new (NULL);
  if (o.threads != THREADS_NOT_GIVEN && (o.threads < 1 || o.threads > LENS_THREADS_MAX))
    ok = fail (&error, "--threads must be between 1 and %d", LENS_THREADS_MAX);
  else
    {
      lens_threads_set (MAX (o.threads, 0));
      if (o.ndif_model != NULL)
        {
          if ((ok = run_ndif_script (&o, out, &error)))
            fwrite (out->str, 1, out->len, stdout);
        }
      else if (o.serve)
        ok = serve (&o, &error);
      else if ((ok = run (&o, out, &error)))
        fwrite (out->str, 1, out->len, stdout);
    }
  if (!ok)
    {
      g_autofree char *line = lens_error_one_line (error->message);
      fprintf (stderr, "logit-lens-cli: %s\n", line);
    }

  g_free (o.model_dir);
  g_free (o.prompt);
  g_free (o.prompt_file);
  g_strfreev (o.targets);
  g_free (o.layers);
  g_free (o.positions);
  g_free (o.export_path);
  g_free (o.view);
  g_free (o.scale);
  g_free (o.color_by);
  g_free (o.line_metric);
  g_free (o.compare_prompt);
  g_free (o.compare_open);
  g_free (o.diff);
  g_free (o.perplexity_file);
  g_free (o.open_path);
  g_free (o.ndif_model);
  return ok ? 0 : 1;
}
