/* lens-results-write.c: writing results: our own JSON (the --json document) and logitlenskit's
 * widget JSON version 2, on the values of lens-json-write.h. See lens-results-io.h. */
#include <math.h>
#include <string.h>

#include "lens-error.h"
#include "lens-head.h"
#include "lens-json-pull.h"
#include "lens-json-write.h"
#include "lens-results-io.h"

/* Model description of a result, from model_info or (live results) the model itself. */
typedef struct
{
  const char *name, *path, *architecture, *dtype;
  int n_layer, d_model, n_head, vocab_size, n_kv_head, context_length;
  int64_t n_params;
} ModelDesc;

static void
model_desc (const LensResult *r, ModelDesc *d)
{
  const LensModelInfo *mi = &r->model_info;
  *d = (ModelDesc){
      .name = mi->name,
      .path = mi->path,
      .architecture = mi->architecture,
      .dtype = mi->dtype,
      .n_layer = mi->n_layer,
      .d_model = mi->d_model,
      .n_head = mi->n_head,
      .vocab_size = mi->vocab_size,
      .n_kv_head = mi->n_kv_head,
      .context_length = mi->context_length,
      .n_params = mi->n_params,
  };
  if (r->model != NULL)
    {
      const LensConfig *c = lens_model_config (r->model);
      if (d->name == NULL)
        d->name = lens_model_name (r->model);
      if (d->path == NULL)
        d->path = lens_model_path (r->model);
      if (d->architecture == NULL)
        d->architecture = lens_config_architecture (c);
      if (d->n_layer <= 0)
        d->n_layer = c->n_layer;
      if (d->d_model <= 0)
        d->d_model = c->n_embd;
      if (d->n_head <= 0)
        d->n_head = c->n_head;
      if (d->vocab_size <= 0)
        d->vocab_size = c->vocab_size;
      if (d->n_kv_head <= 0)
        d->n_kv_head = c->n_kv_head;
      if (d->context_length <= 0)
        d->context_length = c->n_positions;
      if (d->n_params <= 0)
        d->n_params = (int64_t) lens_model_n_params (r->model);
      if (d->dtype == NULL && lens_model_dtype (r->model)[0] != '\0')
        d->dtype = lens_model_dtype (r->model);
    }
}

/* A cell's metrics: "kl_final", then "next": {"id", "prob", "rank", "cross_entropy"}, null at the
 * last position (no token follows) or where unknown. */
static void
append_cell_metrics (GString *o, const LensResult *r, int row, int t, const char *comma,
                     gboolean pretty)
{
  g_string_append (o, comma);
  lens_json_write_key (o, "kl_final", pretty);
  lens_json_write_float (o, lens_result_kl_final (r, row, t));
  g_string_append (o, comma);
  lens_json_write_key (o, "next", pretty);
  /* every "next" is about a token of the document: the last position of a range (whose next
   * token was left out) is null too */
  int32_t id = t + 1 < r->n_tokens ? lens_result_next_id (r, t) : -1;
  int rank = lens_result_next_rank (r, row, t);
  float xent = lens_result_next_cross_entropy (r, row, t);
  if (id < 0 || rank < 1 || isnan (xent))
    {
      g_string_append (o, "null");
      return;
    }
  g_string_append_c (o, '{');
  lens_json_write_key (o, "id", pretty);
  g_string_append_printf (o, "%d", id);
  g_string_append (o, comma);
  lens_json_write_key (o, "prob", pretty);
  /* what the reader accepts, whatever the result holds: a probability, a cross-entropy >= 0 */
  xent = xent < 0.0f ? 0.0f : xent;
  lens_json_write_float (o, exp (-(double) xent));
  g_string_append (o, comma);
  lens_json_write_key (o, "rank", pretty);
  g_string_append_printf (o, "%d", rank);
  g_string_append (o, comma);
  lens_json_write_key (o, "cross_entropy", pretty);
  lens_json_write_float (o, xent);
  g_string_append_c (o, '}');
}

char *
lens_result_to_json (const LensResult *r, LensTarget *const *targets, int n_targets,
                     gboolean pretty)
{
  g_return_val_if_fail (r != NULL, NULL);
  g_return_val_if_fail (n_targets == 0 || targets != NULL, NULL);

  int R = r->n_rows, T = r->n_tokens, K = r->top_k;
  const char *comma = pretty ? ", " : ",";
  const char *nl = pretty ? "\n" : "";
  const char *in1 = pretty ? "  " : "", *in2 = pretty ? "    " : "", *in3 = pretty ? "      " : "";
  ModelDesc md;
  model_desc (r, &md);
  /* Ids are the model's own when there is a model or the file gave a vocabulary; otherwise they
   * index a table made up while importing, meaningless outside this process. */
  gboolean real_ids = r->model != NULL || md.vocab_size > 0;

  GString *o = g_string_sized_new (256 + (size_t) R * T * (40 + (size_t) K * 48));
  g_string_append_printf (o, "{%s%s", nl, in1);
  lens_json_write_key (o, "format", pretty);
  lens_json_write_string (o, LENS_RESULTS_FORMAT_NAME);
  g_string_append_printf (o, ",%s%s", nl, in1);
  lens_json_write_key (o, "version", pretty);
  g_string_append_printf (o, "%d,%s%s", LENS_RESULTS_FORMAT_VERSION, nl, in1);

  lens_json_write_key (o, "model", pretty);
  g_string_append_c (o, '{');
  lens_json_write_key (o, "path", pretty);
  lens_json_write_string (o, md.path);
  g_string_append (o, comma);
  lens_json_write_key (o, "architecture", pretty);
  lens_json_write_string (o, md.architecture);
  g_string_append (o, comma);
  lens_json_write_key (o, "n_layer", pretty);
  lens_json_write_int_or_null (o, md.n_layer, md.n_layer > 0);
  g_string_append (o, comma);
  lens_json_write_key (o, "d_model", pretty);
  lens_json_write_int_or_null (o, md.d_model, md.d_model > 0);
  g_string_append (o, comma);
  lens_json_write_key (o, "n_head", pretty);
  lens_json_write_int_or_null (o, md.n_head, md.n_head > 0);
  g_string_append (o, comma);
  lens_json_write_key (o, "vocab_size", pretty);
  lens_json_write_int_or_null (o, md.vocab_size, md.vocab_size > 0);
  g_string_append (o, comma);
  lens_json_write_key (o, "name", pretty);
  lens_json_write_string (o, md.name);
  /* Added after the first release: new keys go last, older readers skip them. */
  g_string_append (o, comma);
  lens_json_write_key (o, "n_kv_head", pretty);
  lens_json_write_int_or_null (o, md.n_kv_head, md.n_kv_head > 0);
  g_string_append (o, comma);
  lens_json_write_key (o, "context_length", pretty);
  lens_json_write_int_or_null (o, md.context_length, md.context_length > 0);
  g_string_append (o, comma);
  lens_json_write_key (o, "n_params", pretty);
  lens_json_write_int_or_null (o, md.n_params, md.n_params > 0);
  g_string_append (o, comma);
  lens_json_write_key (o, "dtype", pretty);
  lens_json_write_string (o, md.dtype);
  g_string_append_printf (o, "},%s%s", nl, in1);

  lens_json_write_key (o, "prompt", pretty);
  lens_json_write_string (o, r->prompt);
  g_string_append_printf (o, ",%s%s", nl, in1);

  lens_json_write_key (o, "tokens", pretty);
  g_string_append_printf (o, "[%s", nl);
  for (int t = 0; t < T; t++)
    {
      g_string_append_printf (o, "%s{", in2);
      lens_json_write_key (o, "id", pretty);
      lens_json_write_int_or_null (o, r->token_ids[t], r->token_ids[t] >= 0);
      g_string_append (o, comma);
      lens_json_write_key (o, "text", pretty);
      lens_json_write_string (o, r->token_texts[t]);
      g_string_append_printf (o, "}%s%s", t + 1 < T ? "," : "", nl);
    }
  g_string_append_printf (o, "%s],%s%s", in1, nl, in1);

  lens_json_write_key (o, "layers", pretty);
  g_string_append_c (o, '[');
  for (int row = 0; row < R; row++)
    {
      if (row > 0)
        g_string_append (o, comma);
      if (r->row_layers[row] == LENS_ROW_EMBEDDINGS)
        lens_json_write_string (o, "embed");
      else if (r->row_kinds[row] == LENS_ROW_ATTN)
        {
          g_autofree char *label = lens_row_label (r->row_layers[row], LENS_ROW_ATTN);
          lens_json_write_string (o, label);
        }
      else
        g_string_append_printf (o, "%d", r->row_layers[row]);
    }
  g_string_append_printf (o, "],%s%s", nl, in1);

  /* cells[layer][token] = {"top": [{"id", "text", "prob"}], "entropy", "log_z"} */
  lens_json_write_key (o, "cells", pretty);
  g_string_append_printf (o, "[%s", nl);
  for (int row = 0; row < R; row++)
    {
      g_string_append_printf (o, "%s[%s", in2, nl);
      for (int t = 0; t < T; t++)
        {
          size_t cell = lens_result_cell_index (r, row, t);
          g_string_append_printf (o, "%s{", in3);
          lens_json_write_key (o, "top", pretty);
          g_string_append_c (o, '[');
          gboolean first = TRUE;
          for (int k = 0; k < K; k++)
            {
              int32_t id = r->top_ids[cell * K + k];
              if (id < 0)
                continue;
              if (!first)
                g_string_append (o, comma);
              first = FALSE;
              g_string_append_c (o, '{');
              lens_json_write_key (o, "id", pretty);
              lens_json_write_int_or_null (o, id, real_ids);
              g_string_append (o, comma);
              lens_json_write_key (o, "text", pretty);
              lens_json_write_string (o, lens_result_token_text (r, id));
              g_string_append (o, comma);
              lens_json_write_key (o, "prob", pretty);
              lens_json_write_float (o, r->top_probs[cell * K + k]);
              g_string_append_c (o, '}');
            }
          g_string_append_printf (o, "]%s", comma);
          lens_json_write_key (o, "entropy", pretty);
          lens_json_write_float (o, r->entropy[cell]);
          g_string_append (o, comma);
          lens_json_write_key (o, "log_z", pretty);
          lens_json_write_float (o, r->log_z[cell]);
          if (lens_result_has_metrics (r))
            append_cell_metrics (o, r, row, t, comma, pretty);
          g_string_append_printf (o, "}%s%s", t + 1 < T ? "," : "", nl);
        }
      g_string_append_printf (o, "%s]%s%s", in2, row + 1 < R ? "," : "", nl);
    }
  g_string_append_printf (o, "%s],%s%s", in1, nl, in1);

  lens_json_write_key (o, "targets", pretty);
  g_string_append_printf (o, "[%s", n_targets > 0 ? nl : "");
  for (int i = 0; i < n_targets; i++)
    {
      const LensTarget *tg = targets[i];
      g_string_append_printf (o, "%s{", in2);
      lens_json_write_key (o, "text", pretty);
      lens_json_write_string (o, tg->text);
      g_string_append (o, comma);
      lens_json_write_key (o, "ids", pretty);
      g_string_append_c (o, '[');
      for (int k = 0; k < tg->n_ids; k++)
        g_string_append_printf (o, "%s%d", k > 0 ? comma : "", tg->ids[k]);
      g_string_append_printf (o, "]%s", comma);
      lens_json_write_key (o, "prob", pretty);
      g_string_append_c (o, '[');
      for (int row = 0; row < R; row++)
        {
          g_string_append_printf (o, "%s[", row > 0 ? comma : "");
          for (int t = 0; t < T; t++)
            {
              if (t > 0)
                g_string_append (o, comma);
              lens_json_write_float (o, tg->probs[lens_result_cell_index (r, row, t)]);
            }
          g_string_append_c (o, ']');
        }
      g_string_append_printf (o, "]}%s%s", i + 1 < n_targets ? "," : "", nl);
    }
  /* Added later, so last: positions keep the prompt's numbers in a range of it. */
  g_string_append_printf (o, "%s],%s%s", n_targets > 0 ? in1 : "", nl, in1);
  lens_json_write_key (o, "first_position", pretty);
  g_string_append_printf (o, "%d%s}%s", r->first_pos, nl, pretty ? "\n" : "");
  return g_string_free (o, FALSE);
}

/* One position's tracked tokens for the logitlenskit export: texts in order of first appearance
 * and their probability at every row. */
typedef struct
{
  GHashTable *index; /* text (borrowed) -> GINT_TO_POINTER (i + 1) */
  GPtrArray *texts;  /* borrowed const char * */
  GArray *ids;       /* int32_t, live results: the token id of each text */
  GArray *traj;      /* float (n, R) */
} Tracked;

static void
tracked_list_clear (Tracked *tl)
{
  g_clear_pointer (&tl->index, g_hash_table_unref);
  g_clear_pointer (&tl->texts, g_ptr_array_unref);
  if (tl->ids != NULL)
    g_array_unref (tl->ids);
  if (tl->traj != NULL)
    g_array_unref (tl->traj);
  tl->ids = tl->traj = NULL;
}

/* Adds `text` unless present; returns its index. */
static int
tracked_list_add (Tracked *tl, const char *text, int32_t id, int R)
{
  gpointer v = g_hash_table_lookup (tl->index, text);
  if (v != NULL)
    return GPOINTER_TO_INT (v) - 1;
  int i = (int) tl->texts->len;
  g_ptr_array_add (tl->texts, (gpointer) text);
  g_array_append_val (tl->ids, id);
  g_array_set_size (tl->traj, (guint) (i + 1) * R);
  g_hash_table_insert (tl->index, (gpointer) text, GINT_TO_POINTER (i + 1));
  return i;
}

/* Probabilities of the ids tracked at position t at every row, from the cached normalised
 * residuals: logits (R, n) = head(X_t (R, C)) at the n ids, then exp (logit - log_z). One small
 * GEMM per position costs R * n * C, where one lens_result_target_probs per id would cost R * T *
 * C. */
static void
live_trajectories (const LensResult *r, int t, Tracked *tl)
{
  int R = r->n_rows, T = r->n_tokens, C = r->d_model, n = (int) tl->texts->len;
  g_autofree float *logits = g_new (float, ((size_t) R * n)); /* (R, n) */
  /* Row `row` of X_t is norm_resid[row, t, :]: stride T * C. logits = head(X_t) at the ids */
  lens_head_logits_of_ids (r->model, r->norm_resid + (size_t) t * C, R, T * C,
                           (const int32_t *) tl->ids->data, n, logits);
  float *traj = (float *) tl->traj->data;
  for (int row = 0; row < R; row++)
    {
      double lz = r->log_z[lens_result_cell_index (r, row, t)];
      for (int i = 0; i < n; i++)
        traj[(size_t) i * R + row] = (float) exp ((double) logits[(size_t) row * n + i] - lz);
    }
}

char *
lens_result_to_logitlenskit_json (const LensResult *r, LensTarget *const *targets, int n_targets,
                                  GError **error)
{
  g_return_val_if_fail (r != NULL, NULL);
  g_return_val_if_fail (n_targets == 0 || targets != NULL, NULL);

  int R = r->n_rows, T = r->n_tokens, K = r->top_k;
  for (int row = 0; row < R; row++)
    if (r->row_kinds[row] != LENS_ROW_OUTPUT)
      {
        g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                     "logitlenskit's format has one row per layer, so the sub-layer row %s cannot "
                     "be exported to it; run the lens without sub-layer rows, or save in this "
                     "app's own format, which keeps them",
                     r->row_labels[row]);
        return NULL;
      }
  gboolean live = lens_result_has_model (r);
  ModelDesc md;
  model_desc (r, &md);

  GString *o = g_string_sized_new (256 + (size_t) R * T * (size_t) K * 64);
  g_string_append (o, "{\"meta\": {\"version\": 2, \"timestamp\": ");
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format_iso8601 (now);
  lens_json_write_string (o, stamp);
  if (md.name != NULL || md.path != NULL)
    {
      g_string_append (o, ", \"model\": ");
      lens_json_write_string (o, md.name != NULL ? md.name : md.path);
    }
  g_string_append (o, "}, \"input\": [");
  for (int t = 0; t < T; t++)
    {
      if (t > 0)
        g_string_append (o, ", ");
      lens_json_write_string (o, r->token_texts[t]);
    }
  g_string_append (o, "], \"layers\": [");
  for (int row = 0; row < R; row++)
    g_string_append_printf (o, "%s%d", row > 0 ? ", " : "",
                            r->row_layers[row] == LENS_ROW_EMBEDDINGS ? -1 : r->row_layers[row]);

  g_string_append (o, "], \"topk\": [");
  for (int row = 0; row < R; row++)
    {
      g_string_append (o, row > 0 ? ", [" : "[");
      for (int t = 0; t < T; t++)
        {
          g_string_append (o, t > 0 ? ", [" : "[");
          size_t cell = lens_result_cell_index (r, row, t);
          gboolean first = TRUE;
          for (int k = 0; k < K; k++)
            {
              int32_t id = r->top_ids[cell * K + k];
              if (id < 0)
                continue;
              if (!first)
                g_string_append (o, ", ");
              first = FALSE;
              lens_json_write_string (o, lens_result_token_text (r, id));
            }
          g_string_append_c (o, ']');
        }
      g_string_append_c (o, ']');
    }

  g_string_append (o, "], \"tracked\": [");
  for (int t = 0; t < T; t++)
    {
      Tracked tl = {
          .index = g_hash_table_new (g_str_hash, g_str_equal),
          .texts = g_ptr_array_new (),
          .ids = g_array_new (FALSE, FALSE, sizeof (int32_t)),
          .traj = g_array_new (FALSE, FALSE, sizeof (float)),
      };
      for (int row = 0; row < R; row++)
        {
          size_t cell = lens_result_cell_index (r, row, t);
          for (int k = 0; k < K; k++)
            {
              int32_t id = r->top_ids[cell * K + k];
              if (id >= 0)
                tracked_list_add (&tl, lens_result_token_text (r, id), id, R);
            }
        }
      int n_top = (int) tl.texts->len;
      if (live && n_top > 0)
        live_trajectories (r, t, &tl);
      for (int i = 0; !live && i < n_top; i++)
        {
          const char *text = g_ptr_array_index (tl.texts, i);
          const float *traj = r->tracked != NULL && r->tracked[t] != NULL
                                  ? g_hash_table_lookup (r->tracked[t], text)
                                  : NULL;
          if (traj == NULL)
            {
              g_autofree char *d = lens_pull_describe (text);
              g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                           "Cannot write logitlenskit JSON: the probability of %s at token %d "
                           "is only known where it is in the top-k (these results were opened "
                           "from a file without it); open the model and run the prompt again",
                           d, t);
              tracked_list_clear (&tl);
              g_string_free (o, TRUE);
              return NULL;
            }
          memcpy (&g_array_index (tl.traj, float, ((size_t) i * R)), traj,
                  (size_t) R * sizeof (float));
        }
      for (int i = 0; i < n_targets; i++)
        {
          if (targets[i]->text == NULL || g_hash_table_contains (tl.index, targets[i]->text))
            continue;
          /* An imported file may track a target at some positions only; logitlenskit has no
           * way to say "unknown", so the target is left out where nothing is known. */
          gboolean known = FALSE;
          for (int row = 0; row < R && !known; row++)
            known = !isnan (targets[i]->probs[lens_result_cell_index (r, row, t)]);
          if (!known)
            continue;
          int at = tracked_list_add (&tl, targets[i]->text, -1, R);
          for (int row = 0; row < R; row++)
            g_array_index (tl.traj, float, ((size_t) at * R + row))
                = targets[i]->probs[lens_result_cell_index (r, row, t)];
        }

      g_string_append (o, t > 0 ? ", {" : "{");
      for (guint i = 0; i < tl.texts->len; i++)
        {
          if (i > 0)
            g_string_append (o, ", ");
          lens_json_write_string (o, g_ptr_array_index (tl.texts, i));
          g_string_append (o, ": [");
          const float *traj = &g_array_index (tl.traj, float, ((size_t) i * R));
          for (int row = 0; row < R; row++)
            {
              if (row > 0)
                g_string_append (o, ", ");
              lens_json_write_round5 (o, traj[row]);
            }
          g_string_append_c (o, ']');
        }
      g_string_append_c (o, '}');
      tracked_list_clear (&tl);
    }
  g_string_append_c (o, ']');

  gboolean any_entropy = FALSE;
  for (size_t c = 0; c < (size_t) R * T && !any_entropy; c++)
    any_entropy = !isnan (r->entropy[c]);
  if (any_entropy)
    {
      g_string_append (o, ", \"entropy\": [");
      for (int row = 0; row < R; row++)
        {
          g_string_append (o, row > 0 ? ", [" : "[");
          for (int t = 0; t < T; t++)
            {
              if (t > 0)
                g_string_append (o, ", ");
              lens_json_write_round5 (o, r->entropy[lens_result_cell_index (r, row, t)]);
            }
          g_string_append_c (o, ']');
        }
      g_string_append_c (o, ']');
    }
  g_string_append (o, "}\n");
  return g_string_free (o, FALSE);
}
