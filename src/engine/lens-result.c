/* lens-result.c: building and querying LensResult (the lens computation itself is lens_run_ids). */
#include <math.h>
#include <string.h>

#include "lens-error.h"
#include "lens-head.h"
#include "lens-ops.h"
#include "lens-result.h"

static void
model_info_clear (LensModelInfo *info)
{
  g_clear_pointer (&info->name, g_free);
  g_clear_pointer (&info->path, g_free);
  g_clear_pointer (&info->architecture, g_free);
  g_clear_pointer (&info->dtype, g_free);
}

static float *
new_nan_floats (size_t n)
{
  float *v = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    v[i] = NAN;
  return v;
}

LensResult *
lens_result_new_empty (int n_rows, int n_tokens, int top_k)
{
  g_return_val_if_fail (n_rows > 0 && n_tokens > 0 && top_k > 0, NULL);

  size_t cells = (size_t) n_rows * (size_t) n_tokens;
  size_t tops;
  g_return_val_if_fail (!__builtin_mul_overflow (cells, (size_t) top_k, &tops), NULL);

  LensResult *r = g_new0 (LensResult, 1);
  r->ref_count = 1;
  r->n_tokens = n_tokens;
  r->token_ids = g_new (int32_t, n_tokens);
  r->token_texts = g_new0 (char *, n_tokens + 1);
  for (int t = 0; t < n_tokens; t++)
    {
      r->token_ids[t] = -1;
      r->token_texts[t] = g_strdup ("");
    }
  r->n_rows = n_rows;
  r->row_layers = g_new (int, n_rows);
  r->row_labels = g_new0 (char *, n_rows + 1);
  r->row_kinds = g_new0 (LensRowKind, n_rows);
  for (int i = 0; i < n_rows; i++)
    {
      r->row_layers[i] = i;
      r->row_labels[i] = g_strdup_printf ("%d", i);
    }
  r->top_k = top_k;
  r->top_ids = g_new (int32_t, tops);
  for (size_t i = 0; i < tops; i++)
    r->top_ids[i] = -1;
  r->top_probs = new_nan_floats (tops);
  r->entropy = new_nan_floats (cells);
  r->log_z = new_nan_floats (cells);
  return r;
}

LensResult *
lens_result_ref (LensResult *r)
{
  g_return_val_if_fail (r != NULL, NULL);
  g_atomic_int_inc (&r->ref_count);
  return r;
}

LensResult *
lens_result_with_top_k (LensResult *r, int top_k)
{
  g_return_val_if_fail (r != NULL && top_k >= 1, NULL);
  if (top_k >= r->top_k)
    return lens_result_ref (r);
  LensResult *v = g_new (LensResult, 1);
  *v = *r;
  v->ref_count = 1;
  v->borrowed_from = lens_result_ref (r);
  v->top_k = top_k;
  size_t cells = (size_t) r->n_rows * (size_t) r->n_tokens;
  v->top_ids = g_new (int32_t, (cells * top_k));
  v->top_probs = g_new (float, (cells * top_k));
  for (size_t c = 0; c < cells; c++)
    {
      memcpy (v->top_ids + c * top_k, r->top_ids + c * r->top_k, sizeof (int32_t) * top_k);
      memcpy (v->top_probs + c * top_k, r->top_probs + c * r->top_k, sizeof (float) * top_k);
    }
  return v;
}

void
lens_result_unref (LensResult *r)
{
  if (r == NULL || !g_atomic_int_dec_and_test (&r->ref_count))
    return;
  if (r->borrowed_from != NULL)
    {
      const LensResult *b = r->borrowed_from;
      if (r->top_ids != b->top_ids)
        g_free (r->top_ids);
      if (r->top_probs != b->top_probs)
        g_free (r->top_probs);
      if (r->entropy != b->entropy)
        g_free (r->entropy);
      if (r->log_z != b->log_z)
        g_free (r->log_z);
      if (r->ready != b->ready)
        g_free (r->ready);
      if (r->kl_final != b->kl_final)
        g_free (r->kl_final);
      if (r->next_logprob != b->next_logprob)
        g_free (r->next_logprob);
      if (r->next_rank != b->next_rank)
        g_free (r->next_rank);
      lens_result_unref (r->borrowed_from);
      g_free (r);
      return;
    }

  g_free (r->prompt);
  model_info_clear (&r->model_info);
  g_free (r->token_ids);
  g_strfreev (r->token_texts);
  g_free (r->row_layers);
  g_strfreev (r->row_labels);
  g_free (r->row_kinds);
  g_free (r->kl_final);
  g_free (r->next_logprob);
  g_free (r->next_rank);
  g_free (r->top_ids);
  g_free (r->top_probs);
  g_free (r->entropy);
  g_free (r->log_z);
  g_clear_pointer (&r->model, lens_model_unref);
  g_free (r->norm_resid);
  g_free (r->ready);
  if (r->vocab_texts != NULL)
    {
      for (int i = 0; i < r->n_vocab_texts; i++)
        g_free (r->vocab_texts[i]);
      g_free (r->vocab_texts);
    }
  if (r->tracked != NULL)
    {
      for (int t = 0; t < r->n_tokens; t++)
        g_clear_pointer (&r->tracked[t], g_hash_table_unref);
      g_free (r->tracked);
    }
  g_free (r);
}

char *
lens_row_label (int layer, LensRowKind kind)
{
  if (layer == LENS_ROW_EMBEDDINGS)
    return g_strdup ("embed");
  return kind == LENS_ROW_ATTN ? g_strdup_printf ("%d.attn", layer) : g_strdup_printf ("%d", layer);
}

void
lens_result_alloc_metrics (LensResult *r)
{
  size_t cells = (size_t) r->n_rows * (size_t) r->n_tokens;
  g_free (r->kl_final);
  g_free (r->next_logprob);
  g_free (r->next_rank);
  r->kl_final = new_nan_floats (cells);
  r->next_logprob = new_nan_floats (cells);
  r->next_rank = g_new0 (int32_t, cells);
}

gboolean
lens_result_has_metrics (const LensResult *r)
{
  return r->kl_final != NULL;
}

int32_t
lens_result_next_id (const LensResult *r, int pos)
{
  if (pos < 0 || pos + 1 >= r->n_tokens)
    return -1;
  return r->token_ids[pos + 1];
}

float
lens_result_kl_final (const LensResult *r, int row, int pos)
{
  return r->kl_final != NULL ? r->kl_final[lens_result_cell_index (r, row, pos)] : NAN;
}

float
lens_result_next_prob (const LensResult *r, int row, int pos)
{
  return r->next_logprob != NULL ? expf (r->next_logprob[lens_result_cell_index (r, row, pos)])
                                 : NAN;
}

float
lens_result_next_cross_entropy (const LensResult *r, int row, int pos)
{
  return r->next_logprob != NULL ? -r->next_logprob[lens_result_cell_index (r, row, pos)] : NAN;
}

int
lens_result_next_rank (const LensResult *r, int row, int pos)
{
  return r->next_rank != NULL ? r->next_rank[lens_result_cell_index (r, row, pos)] : 0;
}

const char *
lens_result_token_text (const LensResult *r, int32_t id)
{
  if (r->model != NULL)
    return lens_model_token_text (r->model, id);
  if (id >= 0 && id < r->n_vocab_texts && r->vocab_texts[id] != NULL)
    return r->vocab_texts[id];
  return "";
}

gboolean
lens_result_has_model (const LensResult *r)
{
  return r->model != NULL && r->norm_resid != NULL;
}

size_t
lens_result_count_nonfinite (const LensResult *r, int *row, int *pos)
{
  size_t n = 0;
  if (r == NULL || r->model == NULL)
    return 0;
  for (int i = 0; i < r->n_rows; i++)
    for (int t = 0; t < r->n_tokens; t++)
      {
        size_t cell = lens_result_cell_index (r, i, t);
        if (!lens_result_pos_ready (r, t)) /* a partial result's pending cells are not known yet */
          continue;
        /* a finite distribution has a finite best probability and entropy */
        if (isfinite (r->top_probs[cell * (size_t) r->top_k]) && isfinite (r->entropy[cell]))
          continue;
        if (n++ == 0)
          {
            if (row != NULL)
              *row = i;
            if (pos != NULL)
              *pos = t;
          }
      }
  return n;
}

char *
lens_result_describe_nonfinite (const LensResult *r)
{
  int row = 0, pos = 0;
  size_t n = lens_result_count_nonfinite (r, &row, &pos);
  if (n == 0)
    return NULL;
  return g_strdup_printf ("The model produced NaN or infinity at %zu of %zu cells, first at layer "
                          "%s, position %d: its weights may be corrupt",
                          n, (size_t) r->n_rows * r->n_tokens, r->row_labels[row], pos);
}

static gboolean
check_live_query (const LensResult *r, int32_t id, GError **error)
{
  if (!lens_result_has_model (r))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "These results were opened from a file without their model; "
                   "open the model to track new tokens");
      return FALSE;
    }
  int vocab = lens_model_config (r->model)->vocab_size;
  if (id < 0 || id >= vocab)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "Token id %d is outside the vocabulary (0..%d)", id, vocab - 1);
      return FALSE;
    }
  return TRUE;
}

/* p(id) at every cell from the cached normalised residuals: one GEMV over (R*T, C).
 * probs: (R, T) */
gboolean
lens_result_target_probs (const LensResult *r, int32_t id, float *probs, GError **error)
{
  if (!check_live_query (r, id, error))
    return FALSE;

  int cells = r->n_rows * r->n_tokens;
  /* logits (R*T) = head(norm_resid (R*T, C)) at id */
  lens_head_logits_of_ids (r->model, r->norm_resid, cells, r->d_model, &id, 1, probs);
  for (int i = 0; i < cells; i++)
    probs[i] = (float) exp ((double) probs[i] - (double) r->log_z[i]);
  return TRUE;
}

gboolean
lens_result_target_rank (const LensResult *r, int row, int pos, int32_t id, float *prob, int *rank,
                         GError **error)
{
  if (!check_live_query (r, id, error))
    return FALSE;
  g_return_val_if_fail (row >= 0 && row < r->n_rows && pos >= 0 && pos < r->n_tokens, FALSE);

  int C = r->d_model;
  int V = lens_model_config (r->model)->vocab_size;
  size_t cell = lens_result_cell_index (r, row, pos);
  const float *x = r->norm_resid + cell * (size_t) C;
  g_autofree float *logits = g_try_new (float, V);
  if (logits == NULL)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "Out of memory for %d logits", V);
      return FALSE;
    }
  /* logits (V) = head(x (C)) */
  if (!lens_head_logits (r->model, x, 1, logits, error))
    return FALSE;
  float target = logits[id];
  int above = 0;
  for (int v = 0; v < V; v++)
    above += logits[v] > target;
  if (rank != NULL)
    *rank = above + 1;
  if (prob != NULL)
    *prob = (float) exp ((double) target - (double) r->log_z[cell]);
  return TRUE;
}

int
lens_result_top1_ids (const LensResult *r, int pos, int32_t *ids)
{
  g_return_val_if_fail (r != NULL && pos >= 0 && pos < r->n_tokens, 0);
  int n = 0;
  if (r->top_k <= 0)
    return 0;
  for (int row = 0; row < r->n_rows; row++)
    {
      int32_t id = r->top_ids[lens_result_cell_index (r, row, pos) * (size_t) r->top_k];
      gboolean seen = id < 0;
      for (int i = 0; i < n && !seen; i++)
        seen = ids[i] == id;
      if (!seen)
        ids[n++] = id;
    }
  return n;
}

void
lens_result_token_trajectory (const LensResult *r, int pos, int32_t id, float *probs)
{
  g_return_if_fail (r != NULL && pos >= 0 && pos < r->n_tokens);
  int R = r->n_rows, T = r->n_tokens, K = r->top_k;

  if (lens_result_has_model (r) && id >= 0 && id < lens_model_config (r->model)->vocab_size)
    {
      /* logits (R) = head(norm_resid[:, pos] (R, C), row stride T*C) at id */
      lens_head_logits_of_ids (r->model, r->norm_resid + (size_t) pos * r->d_model, R,
                               T * r->d_model, &id, 1, probs);
      for (int row = 0; row < R; row++)
        {
          double log_z = r->log_z[lens_result_cell_index (r, row, pos)];
          probs[row] = (float) exp ((double) probs[row] - log_z);
        }
      return;
    }

  const float *tracked = NULL;
  if (r->tracked != NULL && r->tracked[pos] != NULL && id >= 0)
    tracked = g_hash_table_lookup (r->tracked[pos], lens_result_token_text (r, id));
  for (int row = 0; row < R; row++)
    {
      if (tracked != NULL)
        {
          probs[row] = tracked[row];
          continue;
        }
      size_t cell = lens_result_cell_index (r, row, pos) * (size_t) K;
      probs[row] = NAN;
      for (int k = 0; k < K && id >= 0; k++)
        if (r->top_ids[cell + k] == id)
          {
            probs[row] = r->top_probs[cell + k];
            break;
          }
    }
}

gboolean
lens_result_target_probs_for_text (const LensResult *r, const char *text, float *probs,
                                   int32_t *first_id, int *n_ids, GError **error)
{
  if (text == NULL || *text == '\0')
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "The target token is empty");
      return FALSE;
    }

  if (lens_result_has_model (r))
    {
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
      if (!lens_tokenizer_encode (lens_model_tokenizer (r->model), text, -1, ids, error))
        return FALSE;
      if (ids->len == 0)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "The target \"%s\" has no tokens",
                       text);
          return FALSE;
        }
      int32_t id = g_array_index (ids, int32_t, 0);
      if (first_id != NULL)
        *first_id = id;
      if (n_ids != NULL)
        *n_ids = (int) ids->len;
      return lens_result_target_probs (r, id, probs, error);
    }

  /* Imported: only what the file tracked, per position. */
  gboolean found = FALSE;
  for (int t = 0; t < r->n_tokens; t++)
    {
      const float *row_probs = NULL;
      if (r->tracked != NULL && r->tracked[t] != NULL)
        row_probs = g_hash_table_lookup (r->tracked[t], text);
      found |= row_probs != NULL;
      for (int row = 0; row < r->n_rows; row++)
        probs[lens_result_cell_index (r, row, t)] = row_probs != NULL ? row_probs[row] : NAN;
    }
  if (first_id != NULL)
    *first_id = -1;
  if (n_ids != NULL)
    *n_ids = 1;
  if (!found)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "\"%s\" was not tracked in this results file", text);
      return FALSE;
    }
  return TRUE;
}
