/* cli-tools.c: the modes that are not a lens run: --tokenize, --perplexity and --ndif-script. */
#include "config.h"

#include <math.h>
#include <stdio.h>

#include "cli.h"
#include "lens-json-write.h"
#include "lens-locate.h"
#include "lens-ndif.h"
#include "lens-tokenizer.h"

gboolean
cli_run_tokenize (const CliOptions *o, GString *out, GError **error)
{
  g_autofree char *prompt = cli_read_prompt (o, error);
  if (prompt == NULL || !cli_validate_utf8 (prompt, cli_prompt_source (o), error))
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

/* Mean next-token loss over `path`, in consecutive windows of the model's context (at most
 * LENS_LOSS_MAX_WINDOW ids): each window predicts its ids[1:] from its own prefix. */
gboolean
cli_run_perplexity (const CliOptions *o, GString *out, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (o->perplexity_file, &text, &len, error))
    return FALSE;
  const char *bad;
  if (!g_utf8_validate_len (text, len, &bad))
    return cli_fail (error, "%s: not valid UTF-8 (at byte %ld)", o->perplexity_file,
                     (long) (bad - text));

  g_autoptr (LensModel) model = cli_load_model (o, error);
  if (model == NULL)
    return FALSE;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  /* as the model reads text: with the special tokens its tokenizer adds (BOS) */
  if (!lens_tokenizer_encode_with_special (lens_model_tokenizer (model), text, (gssize) len, ids,
                                           error))
    return FALSE;
  if (ids->len < 2)
    return cli_fail (error, "%s: needs at least two tokens of text", o->perplexity_file);

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

/* --ndif-script MODEL_ID: the Python that runs this lens on NDIF; no model runs here. */
gboolean
cli_run_ndif_script (const CliOptions *o, GString *out, GError **error)
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
    return cli_fail (error,
                     "--ndif-script only prints a script for NDIF, which runs the model; it takes "
                     "--prompt or --prompt-file, --target and --top-k, not %s",
                     other);
  g_autofree char *prompt = cli_read_prompt (o, error);
  if (prompt == NULL || !cli_validate_utf8 (prompt, cli_prompt_source (o), error))
    return FALSE;
  for (char **t = o->targets; t != NULL && *t != NULL; t++)
    if (!cli_validate_utf8 (*t, "--target", error))
      return FALSE;
  g_autofree char *script
      = lens_ndif_script (o->ndif_model, prompt, o->targets, o->top_k, NULL, error);
  if (script == NULL)
    return FALSE;
  g_string_append (out, script);
  return TRUE;
}
