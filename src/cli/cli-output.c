/* cli-output.c: what a lens run prints: the text summary, the targets, the --json document and
 * the --export figure (with --view diff's values). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lens-compare.h"
#include "lens-format.h"
#include "lens-results-io.h"
#include "lens-target.h"

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
void
cli_append_text_summary (GString *out, const LensResult *r, LensTarget *const *targets,
                         int n_targets)
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
gboolean
cli_compute_targets (const LensResult *r, char **texts, GPtrArray *targets, GError **error)
{
  for (char **p = texts; p != NULL && *p != NULL; p++)
    {
      if (!cli_validate_utf8 (*p, "--target", error))
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

gboolean
cli_export_figure (const CliOptions *o, const LensResult *r, const LensResult *pinned,
                   GPtrArray *targets, GError **error)
{
  LensView view;
  const char *name = o->view != NULL ? o->view : "heatmap";
  if (!cli_parse_view (name, &view, error))
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
    return cli_fail (error, "--view %s%s needs at least one --target", name,
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
  const CliExportFuncs *export = cli_export_funcs (error);
  if (export == NULL || !export->view (o->export_path, view, r, &state, 1.0, error))
    return FALSE;
  int first, count;
  if (export->positions (view, r, &first, &count))
    fprintf (stderr,
             "logit-lens-cli: warning: %s shows positions %d-%d of %d-%d (a figure holds at most "
             "%d positions); choose others with --positions A-B\n",
             o->export_path, r->first_pos + first, r->first_pos + first + count - 1, r->first_pos,
             r->first_pos + r->n_tokens - 1, LENS_EXPORT_MAX_POSITIONS);
  return TRUE;
}

/* Says on stderr when the model produced NaN or infinity (the cells are null in --json). */
void
cli_warn_nonfinite (const LensResult *r)
{
  g_autofree char *message = lens_result_describe_nonfinite (r);
  if (message != NULL)
    fprintf (stderr, "logit-lens-cli: warning: %s\n", message);
}

/* The --json document of a result and its targets, on one line when not `pretty`. */
char *
cli_result_document (LensResult *r, GPtrArray *targets, gboolean pretty)
{
  return lens_result_to_json (r, (LensTarget *const *) targets->pdata, (int) targets->len, pretty);
}

GPtrArray *
cli_new_target_array (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
}
