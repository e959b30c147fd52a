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
  r->next_after_last = -1;
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
  if (pos < 0 || pos >= r->n_tokens)
    return -1;
  return pos + 1 < r->n_tokens ? r->token_ids[pos + 1] : r->next_after_last;
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
                          n, (size_t) r->n_rows * r->n_tokens, r->row_labels[row],
                          r->first_pos + pos);
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

/* Is [first, first + n) a non-empty range inside [0, size)? Written so that no sum can overflow
 * whatever the caller passes. */
static gboolean
range_inside (int first, int n, int size)
{
  return first >= 0 && n >= 1 && first < size && n <= size - first;
}

void
lens_result_slice_cells (const LensResult *r, int first_row, int n_rows, int first_pos, int n_pos,
                         const float *cells, float *out)
{
  g_return_if_fail (range_inside (first_row, n_rows, r->n_rows)
                    && range_inside (first_pos, n_pos, r->n_tokens));
  for (int row = 0; row < n_rows; row++)
    memcpy (out + (size_t) row * (size_t) n_pos,
            cells + lens_result_cell_index (r, first_row + row, first_pos),
            sizeof (float) * (size_t) n_pos);
}

/* The range of an (R, T, per_cell) array of `r` into a new (n_rows, n_pos, per_cell) array. */
static void *
slice_blocks (const LensResult *r, const void *cells, size_t elem_size, size_t per_cell,
              int first_row, int n_rows, int first_pos, int n_pos)
{
  if (cells == NULL)
    return NULL;
  size_t block = elem_size * per_cell; /* bytes of one cell */
  size_t run = block * (size_t) n_pos; /* bytes of one row of the range */
  guint8 *out = g_malloc (run * (size_t) n_rows);
  for (int row = 0; row < n_rows; row++)
    memcpy (out + run * (size_t) row,
            (const guint8 *) cells + block * lens_result_cell_index (r, first_row + row, first_pos),
            run);
  return out;
}

/* A file's tracked tokens at one position: token -> float[R], keeping the range's rows. */
static GHashTable *
slice_tracked (GHashTable *tracked, int first_row, int n_rows)
{
  GHashTable *out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, tracked);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (out, g_strdup (key),
                         g_memdup2 ((const float *) value + first_row, sizeof (float) * n_rows));
  return out;
}

LensResult *
lens_result_slice (const LensResult *r, int first_row, int n_rows, int first_pos, int n_pos,
                   GError **error)
{
  g_return_val_if_fail (r != NULL, NULL);
  if (!range_inside (first_row, n_rows, r->n_rows))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "%d rows from row %d are not inside the result's %d rows", n_rows, first_row,
                   r->n_rows);
      return NULL;
    }
  if (!range_inside (first_pos, n_pos, r->n_tokens))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   /* 64 bits: the caller's position may be anything */
                   "%d positions from position %" G_GINT64_FORMAT
                   " are not inside the result's positions %d-%d",
                   n_pos, (gint64) r->first_pos + first_pos, r->first_pos,
                   r->first_pos + r->n_tokens - 1);
      return NULL;
    }

  LensResult *s = g_new0 (LensResult, 1);
  s->ref_count = 1;
  s->prompt = g_strdup (r->prompt);
  s->model_info = r->model_info;
  s->model_info.name = g_strdup (r->model_info.name);
  s->model_info.path = g_strdup (r->model_info.path);
  s->model_info.architecture = g_strdup (r->model_info.architecture);
  s->model_info.dtype = g_strdup (r->model_info.dtype);

  s->n_tokens = n_pos;
  s->first_pos = r->first_pos + first_pos;
  int after = first_pos + n_pos; /* <= r->n_tokens: checked above */
  s->next_after_last = after < r->n_tokens ? r->token_ids[after] : r->next_after_last;
  s->token_ids = g_memdup2 (r->token_ids + first_pos, sizeof (int32_t) * (size_t) n_pos);
  s->token_texts = g_new0 (char *, (size_t) n_pos + 1);
  for (int t = 0; t < n_pos; t++)
    s->token_texts[t] = g_strdup (r->token_texts[first_pos + t]);

  s->n_rows = n_rows;
  s->row_layers = g_memdup2 (r->row_layers + first_row, sizeof (int) * (size_t) n_rows);
  s->row_kinds = g_memdup2 (r->row_kinds + first_row, sizeof (LensRowKind) * (size_t) n_rows);
  s->row_labels = g_new0 (char *, (size_t) n_rows + 1);
  for (int row = 0; row < n_rows; row++)
    s->row_labels[row] = g_strdup (r->row_labels[first_row + row]);

  s->top_k = r->top_k;
  s->top_ids = slice_blocks (r, r->top_ids, sizeof (int32_t), (size_t) r->top_k, first_row, n_rows,
                             first_pos, n_pos);
  s->top_probs = slice_blocks (r, r->top_probs, sizeof (float), (size_t) r->top_k, first_row,
                               n_rows, first_pos, n_pos);
  s->entropy = slice_blocks (r, r->entropy, sizeof (float), 1, first_row, n_rows, first_pos, n_pos);
  s->log_z = slice_blocks (r, r->log_z, sizeof (float), 1, first_row, n_rows, first_pos, n_pos);
  s->kl_final
      = slice_blocks (r, r->kl_final, sizeof (float), 1, first_row, n_rows, first_pos, n_pos);
  s->next_logprob
      = slice_blocks (r, r->next_logprob, sizeof (float), 1, first_row, n_rows, first_pos, n_pos);
  s->next_rank
      = slice_blocks (r, r->next_rank, sizeof (int32_t), 1, first_row, n_rows, first_pos, n_pos);

  if (r->model != NULL)
    s->model = lens_model_ref (r->model);
  s->d_model = r->d_model;
  s->norm_resid = slice_blocks (r, r->norm_resid, sizeof (float), (size_t) r->d_model, first_row,
                                n_rows, first_pos, n_pos);

  /* Imported ids index the file's token table, which the range shares. */
  s->n_vocab_texts = r->n_vocab_texts;
  if (r->vocab_texts != NULL)
    {
      s->vocab_texts = g_new0 (char *, (size_t) MAX (r->n_vocab_texts, 1));
      for (int i = 0; i < r->n_vocab_texts; i++)
        s->vocab_texts[i] = g_strdup (r->vocab_texts[i]);
    }
  if (r->tracked != NULL)
    {
      s->tracked = g_new0 (GHashTable *, (size_t) n_pos);
      for (int t = 0; t < n_pos; t++)
        if (r->tracked[first_pos + t] != NULL)
          s->tracked[t] = slice_tracked (r->tracked[first_pos + t], first_row, n_rows);
    }

  if (r->ready != NULL)
    {
      s->ready = g_memdup2 (r->ready + first_pos, (size_t) n_pos);
      for (int t = 0; t < n_pos; t++)
        s->n_ready += s->ready[t] != 0;
    }
  return s;
}

gboolean
lens_range_parse (const char *spec, const char *what, int lo, int hi, const char *of, int *first,
                  int *last, GError **error)
{
  g_autofree char *part = g_strstrip (g_strdup (spec != NULL ? spec : ""));
  if (*part == '\0')
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "%s is empty: give one number N or a range A-B", what);
      return FALSE;
    }
  char *end;
  gint64 a = g_ascii_strtoll (part, &end, 10), b = a;
  if (end == part)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "%s: \"%s\" is not a number or range", what,
                   part);
      return FALSE;
    }
  if (*end == '-')
    {
      char *start = end + 1;
      b = g_ascii_strtoll (start, &end, 10);
      if (end == start)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "%s: \"%s\" has no end after '-'", what,
                       part);
          return FALSE;
        }
    }
  if (*end != '\0')
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "%s: unexpected \"%s\" in \"%s\" (one number N or range A-B)", what, end, part);
      return FALSE;
    }
  if (a > b)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "%s: \"%s\" is a reversed range (did you mean %" G_GINT64_FORMAT
                   "-%" G_GINT64_FORMAT "?)",
                   what, part, b, a);
      return FALSE;
    }
  if (lo > hi)
    return TRUE;
  if (a < lo || b > hi)
    {
      if (of != NULL)
        g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "%s: \"%s\" is outside %d-%d (%s)", what,
                     part, lo, hi, of);
      else
        g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "%s: \"%s\" is outside %d-%d", what, part,
                     lo, hi);
      return FALSE;
    }
  if (first != NULL)
    *first = (int) a;
  if (last != NULL)
    *last = (int) b;
  return TRUE;
}
