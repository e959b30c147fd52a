/* cli-run.c: one lens run from the flags: the model run (or the --open file), the --positions
 * range, the targets, and the output the flags ask for. */
#include "config.h"

#include <math.h>
#include <stdio.h>

#include "cli.h"
#include "lens-results-io.h"
#include "lens-target.h"

/* Runs one request on `model`, through `cache` when there is one (--serve: a request sharing its
 * beginning with the previous one computes only the new positions). */
LensResult *
cli_run_request (LensModel *model, LensRunCache *cache, const CliRequest *req, GError **error)
{
  if (!cli_validate_utf8 (req->prompt, req->what_prompt, error))
    return NULL;
  if (*req->prompt == '\0')
    return cli_fail (error, "%s: the prompt is empty", req->what_prompt), NULL;

  g_autoptr (GArray) rows = cli_parse_layers (
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
    return cli_fail (error, "--top-k must be at least 1"), NULL;
  g_autofree char *prompt = cli_read_prompt (o, error);
  if (prompt == NULL)
    return NULL;
  g_autoptr (LensModel) model = cli_load_model (o, error);
  if (model == NULL)
    return NULL;
  CliRequest req = {
      .prompt = prompt,
      .what_prompt = cli_prompt_source (o),
      .top_k = o->top_k,
      .layers = o->layers,
      .what_layers = "--layers",
      .embeddings = o->embeddings,
      /* colouring by next-token values or KL needs them */
      .metrics
      = o->metrics || cli_needs_metrics (o->color_by) || cli_needs_metrics (o->line_metric),
      .sublayers = o->sublayers,
  };
  g_autoptr (LensResult) r = cli_run_request (model, NULL, &req, error);
  if (r == NULL || o->compare_prompt == NULL)
    return g_steal_pointer (&r);
  req.prompt = o->compare_prompt;
  req.what_prompt = "--compare-prompt";
  *pinned = cli_run_request (model, NULL, &req, error);
  return *pinned != NULL ? g_steal_pointer (&r) : NULL;
}

gboolean
cli_run (const CliOptions *o, GString *out, GError **error)
{
  if (o->tokenize)
    return cli_run_tokenize (o, out, error);
  if (o->perplexity_file != NULL)
    return cli_run_perplexity (o, out, error);
  /* checked before the model runs: a typo should not cost a run */
  if (o->export_path != NULL && cli_export_funcs (error) == NULL)
    return FALSE;
  LensView view;
  if (o->view != NULL && o->export_path == NULL)
    return cli_fail (error, "--view chooses the figure --export writes: give --export FILE too");
  if (o->view != NULL && !cli_parse_view (o->view, &view, error))
    return FALSE;
  LensColorBy color_by;
  if (o->color_by != NULL && o->export_path == NULL)
    return cli_fail (error, "--color-by sets what colours the heatmap --export writes: give "
                            "--export FILE too");
  if (o->color_by != NULL && !lens_color_by_from_string (o->color_by, &color_by))
    return cli_fail (error, "--color-by: \"%s\" is not one of top, next, rank, kl, entropy",
                     o->color_by);
  gboolean is_diff = g_strcmp0 (o->view, "diff") == 0 && o->export_path != NULL;
  if ((o->compare_prompt != NULL || o->compare_open != NULL || o->diff != NULL) && !is_diff)
    return cli_fail (error,
                     "%s compares two results in the figure --view diff writes: give --view "
                     "diff and --export FILE too",
                     o->compare_prompt != NULL ? "--compare-prompt"
                     : o->compare_open != NULL ? "--compare-open"
                                               : "--diff");
  if (is_diff && (o->compare_prompt == NULL) == (o->compare_open == NULL))
    return cli_fail (error, "--view diff compares with one pinned result: give either "
                            "--compare-prompt TEXT or --compare-open FILE");
  LensDiffKind diff_kind;
  if (o->diff != NULL && !lens_diff_kind_from_string (o->diff, &diff_kind))
    return cli_fail (error, "--diff: \"%s\" is not one of target, kl", o->diff);
  /* what is known before the runs is refused before them */
  if (o->diff != NULL && diff_kind == LENS_DIFF_KL && o->compare_open != NULL)
    return cli_fail (error,
                     "--diff kl needs both results computed here with their model (%s has "
                     "only its top tokens): use --compare-prompt, or compare a --target",
                     o->compare_open);
  if (is_diff && o->targets == NULL && o->open_path == NULL
      && ((o->diff != NULL && diff_kind == LENS_DIFF_TARGET) || o->compare_open != NULL))
    return cli_fail (error, "--view diff needs at least one --target");
  if (o->compare_prompt != NULL && o->open_path != NULL)
    return cli_fail (error, "--compare-prompt runs the model; with --open, compare with a saved "
                            "result through --compare-open");
  LensColorBy line_metric;
  if ((o->line_metric != NULL || o->line_targets_only)
      && (o->export_path == NULL || g_strcmp0 (o->view, "line") != 0))
    return cli_fail (error,
                     "%s sets what the line plot --export writes: give --view line and "
                     "--export FILE too",
                     o->line_metric != NULL ? "--line-metric" : "--line-targets-only");
  if (o->line_metric != NULL && !lens_color_by_from_string (o->line_metric, &line_metric))
    return cli_fail (error, "--line-metric: \"%s\" is not one of top, next, rank, kl, entropy",
                     o->line_metric);
  LensAxis axis;
  if (o->scale != NULL && o->export_path == NULL)
    return cli_fail (error,
                     "--scale sets the probability scale of the figure --export writes: give "
                     "--export FILE too");
  if (o->scale != NULL && !lens_axis_from_string (o->scale, &axis))
    return cli_fail (error, "--scale: \"%s\" is not one of auto, linear, log", o->scale);
  if (o->positions != NULL
      && !cli_parse_positions (o->positions, "--positions", NULL, NULL, NULL, error))
    return FALSE;

  g_autoptr (LensResult) r = NULL;
  g_autoptr (LensResult) pinned = NULL; /* --view diff: the other side */
  g_autoptr (GPtrArray) file_targets = NULL;
  if (o->open_path != NULL)
    {
      if (o->prompt != NULL || o->prompt_file != NULL)
        return cli_fail (error, "--open shows a saved result; it takes no --prompt");
      if (o->metrics || o->sublayers)
        return cli_fail (error,
                         "--open shows a saved result with the metrics and rows it was saved "
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
  cli_warn_nonfinite (r);
  if (pinned != NULL)
    cli_warn_nonfinite (pinned);
  if (o->positions != NULL)
    {
      /* Everything below (summary, document, figure, targets) is about the range only. */
      int first, count;
      if (!cli_parse_positions (o->positions, "--positions", r, &first, &count, error))
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
              return cli_fail (error,
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
    return cli_fail (error,
                     "%s has no metrics (it was saved without --metrics): --color-by %s needs "
                     "them",
                     o->open_path != NULL ? o->open_path : "the result", o->color_by);
  if (cli_needs_metrics (o->line_metric) && !lens_result_has_metrics (r))
    return cli_fail (error,
                     "%s has no metrics (it was saved without --metrics): --line-metric %s needs "
                     "them",
                     o->open_path != NULL ? o->open_path : "the result", o->line_metric);

  g_autoptr (GPtrArray) targets = cli_new_target_array ();
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
  if (!cli_compute_targets (r, extra, targets, error))
    return FALSE;

  if (o->export_path != NULL && !cli_export_figure (o, r, pinned, targets, error))
    return FALSE;

  if (o->json)
    {
      g_autofree char *json = cli_result_document (r, targets, TRUE);
      g_string_append (out, json);
      g_string_append_c (out, '\n');
    }
  else if (o->export_path == NULL) /* the figure is the output; --json adds the data */
    cli_append_text_summary (out, r, (LensTarget *const *) targets->pdata, (int) targets->len);
  return TRUE;
}
