/* lens-run.c: the logit lens itself. Runs the model once keeping every residual, then has
 * lens-unembed.c apply the final norm and the unembedding to the kept (layer, position) cells;
 * keeps what the next run can reuse (LensRunCache), and splits a large lens into progressive
 * passes whose partial results go to the caller. */
#include <math.h>
#include <string.h>

#include "lens-error.h"
#include "lens-head.h"
#include "lens-model-private.h"
#include "lens-ops.h"
#include "lens-result.h"
#include "lens-unembed.h"

/* A progressive run (LensRunOptions.partial) is chosen automatically when the lens of the new
 * cells, 2 R n V C floating-point operations, is at least this: about 0.2 s at the 50-100
 * GFLOP/s a 2-core machine's SGEMM reaches, where waiting for the whole heatmap starts to show.
 * Typing one more token (n = 1) never splits. */
#define LENS_PROGRESSIVE_MIN_FLOPS 1.5e10

typedef struct
{
  LensRunOptions opts;
  int total_steps;
  int done_steps;
  int step_base;     /* steps of the progressive passes before the current one */
  int forward_steps; /* the forward pass's (one a block), before the unembedding's */
  LensUnembedCallbacks unembed;
} RunProgress;

static void
forward_progress (int done, int total, gpointer user_data)
{
  RunProgress *p = user_data;
  p->done_steps
      = MIN (done + p->step_base, p->total_steps); /* a smaller OpenMP team does more tiles each */
  if (p->opts.progress != NULL)
    p->opts.progress (p->done_steps, p->total_steps, p->opts.user_data);
}

static gboolean
forward_cancel (gpointer user_data)
{
  RunProgress *p = user_data;
  return p->opts.cancel != NULL && p->opts.cancel (p->opts.user_data);
}

/* The unembedding's steps come after the forward pass's. */
static void
unembed_progress (int tiles_done, gpointer user_data)
{
  RunProgress *p = user_data;
  forward_progress (p->forward_steps + tiles_done, p->total_steps, p);
}

/* With sub-layer rows: each block's row (not the embeddings') preceded by its attention
 * sub-layer's. rows (R) becomes (R'), kinds (R') is filled. */
static int *
expand_rows (int *rows, int *n_rows, gboolean sublayers, LensRowKind **kinds)
{
  int R = *n_rows, n = 0;
  int *out = g_new (int, 2 * (size_t) R);
  *kinds = g_new (LensRowKind, 2 * (size_t) R);
  for (int i = 0; i < R; i++)
    {
      if (sublayers && rows[i] != LENS_ROW_EMBEDDINGS)
        {
          out[n] = rows[i];
          (*kinds)[n++] = LENS_ROW_ATTN;
        }
      out[n] = rows[i];
      (*kinds)[n++] = LENS_ROW_OUTPUT;
    }
  g_free (rows);
  *n_rows = n;
  return out;
}

/* Checks the requested rows; fills `rows` (R) with the layer list, all blocks when NULL. */
static int *
resolve_rows (const LensRunOptions *o, int L, int *n_rows, GError **error)
{
  if (o->layers == NULL)
    {
      int *rows = g_new (int, L);
      for (int l = 0; l < L; l++)
        rows[l] = l;
      *n_rows = L;
      return rows;
    }
  if (o->n_layers < 1)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "No layers selected");
      return NULL;
    }
  for (int i = 0; i < o->n_layers; i++)
    if (o->layers[i] < LENS_ROW_EMBEDDINGS || o->layers[i] >= L)
      {
        g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                     "Layer %d does not exist; this model has layers 0 to %d", o->layers[i], L - 1);
        return NULL;
      }
  *n_rows = o->n_layers;
  return g_memdup2 (o->layers, sizeof (int) * (size_t) o->n_layers);
}

/* What a run leaves for the next one: the model, the ids and the result of the last run, and the
 * keys and values of its positions. Positions 0 .. n_ids - 1 are valid (a failed run keeps the
 * prefix it did not touch). */
struct LensRunCache
{
  LensModel *model;
  LensKvCache *kv;
  int32_t *ids;
  int n_ids;
  LensResult *result;
  gboolean rope_long;
};

LensRunCache *
lens_run_cache_new (void)
{
  LensRunCache *cache = g_new0 (LensRunCache, 1);
  cache->kv = lens_kv_cache_new ();
  return cache;
}

static void
run_cache_clear (LensRunCache *cache)
{
  g_clear_pointer (&cache->model, lens_model_unref);
  g_clear_pointer (&cache->result, lens_result_unref);
  g_clear_pointer (&cache->ids, g_free);
  cache->n_ids = 0;
}

void
lens_run_cache_free (LensRunCache *cache)
{
  if (cache == NULL)
    return;
  run_cache_clear (cache);
  lens_kv_cache_free (cache->kv);
  g_free (cache);
}

/* How many positions of ids (T) the cache's last run has computed as this run would: the same
 * model, rows, top-k and metrics, the same ids up to there, and the same RoPE factors. At most
 * T - 1, so that a run always computes something. With metrics, a position's `next` metrics are
 * about the token after it: the last shared position is recomputed unless that token is the same
 * in both runs. */
static int
reusable_prefix (const LensRunCache *cache, LensModel *model, const int32_t *ids, int T,
                 const int *rows, const LensRowKind *kinds, int R, int K, gboolean metrics)
{
  const LensResult *prev = cache != NULL ? cache->result : NULL;
  if (prev == NULL || cache->model != model || prev->n_rows != R || prev->top_k != K
      || memcmp (prev->row_layers, rows, sizeof (int) * (size_t) R) != 0
      || memcmp (prev->row_kinds, kinds, sizeof (LensRowKind) * (size_t) R) != 0
      || lens_result_has_metrics (prev) != metrics
      || cache->rope_long != lens_model_rope_is_long (model, T))
    return 0;
  int p = 0;
  while (p < cache->n_ids && p < T && cache->ids[p] == ids[p])
    p++;
  p = MIN (p, T - 1);
  if (metrics && p > 0 && !(p < cache->n_ids && cache->ids[p] == ids[p]))
    p--;
  return p;
}

/* The empty result of a live run: model facts, tokens, rows. */
static LensResult *
live_result_new (LensModel *model, const int32_t *ids, int T, const char *prompt, const int *rows,
                 const LensRowKind *kinds, int R, int K, gboolean metrics)
{
  const LensConfig *c = lens_model_config (model);
  LensResult *r = lens_result_new_empty (R, T, K);
  r->prompt = g_strdup (prompt);
  r->model_info.name = g_strdup (lens_model_name (model));
  r->model_info.path = g_strdup (lens_model_path (model));
  r->model_info.architecture = g_strdup (lens_config_architecture (c));
  r->model_info.n_layer = c->n_layer;
  r->model_info.d_model = c->n_embd;
  r->model_info.n_head = c->n_head;
  r->model_info.vocab_size = c->vocab_size;
  r->model_info.n_kv_head = c->n_kv_head;
  r->model_info.context_length = c->n_positions;
  r->model_info.n_params = (int64_t) lens_model_n_params (model);
  const char *dtype = lens_model_dtype (model);
  r->model_info.dtype = dtype[0] != '\0' ? g_strdup (dtype) : NULL;
  r->model = lens_model_ref (model);
  r->d_model = c->n_embd;
  for (int t = 0; t < T; t++)
    {
      r->token_ids[t] = ids[t];
      g_free (r->token_texts[t]);
      r->token_texts[t] = g_strdup (lens_model_token_text (model, ids[t]));
    }
  for (int i = 0; i < R; i++)
    {
      r->row_layers[i] = rows[i];
      r->row_kinds[i] = kinds[i];
      g_free (r->row_labels[i]);
      r->row_labels[i] = lens_row_label (rows[i], kinds[i]);
    }
  if (metrics)
    lens_result_alloc_metrics (r);
  return r;
}

/* Copies the cells of positions [t0, t0 + n) of src (n_tokens Ts) to positions [u0, u0 + n) of
 * dst, every row: top-k, entropy, log-normaliser, metrics and (with `resid`) normed residual. */
static void
copy_cells (LensResult *dst, int u0, const LensResult *src, int t0, int n, gboolean resid)
{
  int K = dst->top_k, C = dst->d_model;
  for (int i = 0; i < dst->n_rows; i++)
    {
      size_t d = lens_result_cell_index (dst, i, u0), s = lens_result_cell_index (src, i, t0);
      memcpy (dst->top_ids + d * K, src->top_ids + s * K, sizeof (int32_t) * (size_t) n * K);
      memcpy (dst->top_probs + d * K, src->top_probs + s * K, sizeof (float) * (size_t) n * K);
      memcpy (dst->entropy + d, src->entropy + s, sizeof (float) * (size_t) n);
      memcpy (dst->log_z + d, src->log_z + s, sizeof (float) * (size_t) n);
      if (resid)
        memcpy (dst->norm_resid + d * C, src->norm_resid + s * C, sizeof (float) * (size_t) n * C);
      if (dst->kl_final != NULL && src->kl_final != NULL)
        {
          memcpy (dst->kl_final + d, src->kl_final + s, sizeof (float) * (size_t) n);
          memcpy (dst->next_logprob + d, src->next_logprob + s, sizeof (float) * (size_t) n);
          memcpy (dst->next_rank + d, src->next_rank + s, sizeof (int32_t) * (size_t) n);
        }
    }
}

/* Progressive runs cut the n new positions into passes, right to left: the last position alone
 * (the first partial result), then passes that double in size. Each pass streams the whole
 * unembedding once more (and converts it when it is BF16/F16): measured on a
 * Llama-3.2-1B-shaped BF16 checkpoint on 2 cores, 0.1 to 0.2 s, the cost of some
 * LENS_PASS_OVERHEAD_CELLS cells. So a run gets as many extra passes as keep that under
 * LENS_PASS_BUDGET of its work (none below about 500 new cells, 2 for 64 positions of 17 rows,
 * 8 for 256), and is only split when partial results are wanted and its lens is worth showing
 * in parts (LENS_PROGRESSIVE_MIN_FLOPS, 2 R n V C). LENS_PROGRESSIVE_ALWAYS splits whatever the
 * cost: 1, 1, 2, 4, ... positions. */
#define LENS_PASS_OVERHEAD_CELLS 40
#define LENS_PASS_BUDGET 0.08
#define LENS_MAX_PASSES 32

/* Fills sizes (positions per pass, right to left) and returns how many passes; 1 when the run
 * is not progressive. */
static int
plan_passes (const LensRunOptions *o, const LensConfig *c, int R, int n, int *sizes)
{
  sizes[0] = n;
  if (n < 2 || o->progressive == LENS_PROGRESSIVE_NEVER)
    return 1;
  int extra = 0;
  if (o->progressive == LENS_PROGRESSIVE_ALWAYS)
    for (int done = 1; done < n; done *= 2)
      extra++;
  else if (o->partial != NULL
           && 2.0 * R * n * (double) c->vocab_size * c->n_embd >= LENS_PROGRESSIVE_MIN_FLOPS)
    extra = (int) (LENS_PASS_BUDGET * R * n / LENS_PASS_OVERHEAD_CELLS);
  extra = MIN (extra, MIN (n - 1, LENS_MAX_PASSES - 1));
  if (extra < 1)
    return 1;
  /* the other n - 1 positions in `extra` passes of sizes in the ratio 1 : 2 : 4 : ..., each at
   * least one position */
  sizes[0] = 1;
  double parts = ldexp (1.0, extra) - 1.0;
  int prev_end = 0;
  for (int k = 0; k < extra; k++)
    {
      int end = (int) lround ((n - 1) * ((ldexp (1.0, k + 1) - 1.0) / parts));
      end = CLAMP (end, prev_end + 1, n - 1 - (extra - 1 - k));
      sizes[k + 1] = end - prev_end;
      prev_end = end;
    }
  return extra + 1;
}

/* A snapshot of `whole` while its cells are being computed: its own copy of the per-cell
 * statistics and of `ready`, everything else shared with `whole` (which the lens no longer
 * changes: tokens, rows, normed residuals). */
static LensResult *
partial_snapshot (LensResult *whole, const guint8 *ready)
{
  size_t cells = (size_t) whole->n_rows * whole->n_tokens, tops = cells * whole->top_k;
  LensResult *s = g_new (LensResult, 1);
  *s = *whole;
  s->ref_count = 1;
  s->borrowed_from = lens_result_ref (whole);
  s->top_ids = g_memdup2 (whole->top_ids, sizeof (int32_t) * tops);
  s->top_probs = g_memdup2 (whole->top_probs, sizeof (float) * tops);
  s->entropy = g_memdup2 (whole->entropy, sizeof (float) * cells);
  s->log_z = g_memdup2 (whole->log_z, sizeof (float) * cells);
  /* the metrics change with every pass too: the snapshot keeps its own */
  if (whole->kl_final != NULL)
    {
      s->kl_final = g_memdup2 (whole->kl_final, sizeof (float) * cells);
      s->next_logprob = g_memdup2 (whole->next_logprob, sizeof (float) * cells);
      s->next_rank = g_memdup2 (whole->next_rank, sizeof (int32_t) * cells);
    }
  s->ready = g_memdup2 (ready, whole->n_tokens);
  s->n_ready = 0;
  for (int t = 0; t < whole->n_tokens; t++)
    s->n_ready += ready[t] != 0;
  return s;
}

/* The lens of positions [p, T) of r (whose norm_resid is filled and whose earlier cells are done)
 * in passes of sizes[] positions, right to left, each the existing lens over a result of its
 * positions alone; a partial snapshot goes to the caller after each pass but the last. */
static gboolean
unembed_progressive (LensModel *model, LensResult *r, int p, const int *sizes, int n_passes,
                     const LensMetricsSource *metrics, RunProgress *progress, GError **error)
{
  int T = r->n_tokens, R = r->n_rows, C = r->d_model;
  int steps_per_pass = (progress->total_steps - lens_model_config (model)->n_layer) / n_passes;
  g_autofree guint8 *ready = g_new0 (guint8, T);
  memset (ready, 1, p);
  int b = T; /* positions [b, T) are done */
  for (int pass = 0; pass < n_passes; pass++)
    {
      int m = sizes[pass], a = b - m;
      g_autoptr (LensResult) slice
          = live_result_new (model, r->token_ids + a, m, NULL, r->row_layers, r->row_kinds, R,
                             r->top_k, metrics->enabled);
      slice->norm_resid = g_try_new (float, ((size_t) R * m * C));
      if (slice->norm_resid == NULL)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "Out of memory for %d layers x %d tokens",
                       R, m);
          return FALSE;
        }
      for (int i = 0; i < R; i++)
        memcpy (slice->norm_resid + (size_t) i * m * C,
                r->norm_resid + lens_result_cell_index (r, i, a) * C,
                sizeof (float) * (size_t) m * C);
      progress->step_base = pass * steps_per_pass;
      if (!lens_unembed_cells (model, slice, a, metrics, &progress->unembed, error))
        return FALSE;
      copy_cells (r, a, slice, 0, m, FALSE);
      memset (ready + a, 1, m);
      b = a;
      if (pass < n_passes - 1 && progress->opts.partial != NULL)
        {
          g_autoptr (LensResult) snapshot = partial_snapshot (r, ready);
          progress->opts.partial (snapshot, progress->opts.user_data);
        }
    }
  return TRUE;
}

/* The lens of ids (T); with a cache, only the positions after the prefix it shares with the
 * cache's last run are computed, and the cache then holds this run. */
static LensResult *
run_lens (LensModel *model, LensRunCache *cache, const int32_t *ids, int T, const char *prompt,
          const LensRunOptions *options, GError **error)
{
  const LensConfig *c = lens_model_config (model);
  int L = c->n_layer, C = c->n_embd, V = c->vocab_size;
  LensRunOptions o = options != NULL ? *options : (LensRunOptions){0};
  int K = o.top_k > 0 ? o.top_k : 10;

  if (K > V)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "top-k is %d but the vocabulary has only %d tokens", K, V);
      return NULL;
    }
  if (T < 1)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "The prompt is empty");
      return NULL;
    }
  if (T > c->n_positions)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "The prompt has %d tokens but %s reads at most %d (its context length)", T,
                   lens_model_name (model), c->n_positions);
      return NULL;
    }

  int R;
  g_autofree int *rows = resolve_rows (&o, L, &R, error);
  if (rows == NULL)
    return NULL;
  g_autofree LensRowKind *kinds = NULL;
  rows = expand_rows (rows, &R, o.sublayers, &kinds);

  /* positions p .. T - 1 are computed (n of them), the earlier ones come from the cache */
  int p = reusable_prefix (cache, model, ids, T, rows, kinds, R, K, o.metrics), n = T - p;
  g_autoptr (LensResult) prev = cache != NULL && p > 0 ? lens_result_ref (cache->result) : NULL;
  if (cache != NULL)
    {
      /* from here on, only the untouched prefix of the cache stays valid */
      cache->n_ids = p;
      if (cache->model != model)
        {
          run_cache_clear (cache);
          cache->model = lens_model_ref (model);
        }
    }
  size_t nC = (size_t) n * C;
  int pass_sizes[LENS_MAX_PASSES];
  int n_passes = plan_passes (&o, c, R, n, pass_sizes);
  RunProgress progress = {
      .opts = o, .total_steps = L + n_passes * lens_unembed_steps (model, K), .forward_steps = L};
  progress.unembed = (LensUnembedCallbacks){forward_cancel, unembed_progress, &progress};

  /* residuals (L+1, n, C) of the new positions: row 0 = embeddings, row l+1 = output of block l */
  g_autofree float *residuals = g_try_new (float, (size_t) (L + 1) * nC);
  if (residuals == NULL)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "Out of memory for %d layers x %d tokens", L,
                   n);
      return NULL;
    }
  /* sub-layer rows: attn_residuals (L, n, C), row l = after block l's attention */
  g_autofree float *attn_residuals = NULL;
  if (o.sublayers)
    {
      attn_residuals = g_try_new (float, (size_t) L *nC);
      if (attn_residuals == NULL)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_IO,
                       "Out of memory for the sub-layers of %d layers x %d tokens", L, n);
          return NULL;
        }
    }
  /* kv is NULL without a cache (then p is 0) */
  if (!lens_model_forward_from (model, cache != NULL ? cache->kv : NULL, ids, T, p, residuals,
                                attn_residuals, forward_cancel, forward_progress, &progress, error))
    return NULL;

  /* the new cells alone: norm_resid (R, n, C) = final norm of each kept row's residual, then the
   * unembedding */
  g_autoptr (LensResult) fresh
      = live_result_new (model, ids + p, n, prompt, rows, kinds, R, K, o.metrics);
  fresh->norm_resid = g_try_new (float, ((size_t) R * nC));
  if (fresh->norm_resid == NULL)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "Out of memory for %d layers x %d tokens", R,
                   n);
      return NULL;
    }
  int final_row = -1; /* a kept row that is the last block's output, if any */
  for (int i = 0; i < R; i++)
    {
      const float *x = kinds[i] == LENS_ROW_ATTN ? attn_residuals + (size_t) rows[i] * nC
                                                 : residuals + (size_t) (rows[i] + 1) * nC;
      lens_head_norm (model, x, fresh->norm_resid + (size_t) i * nC, n);
      if (kinds[i] == LENS_ROW_OUTPUT && rows[i] == L - 1)
        final_row = i;
    }
  /* metrics: the final row of each new position, when no kept row is it (n, C) */
  g_autofree float *final_norm = NULL;
  if (o.metrics && final_row < 0)
    {
      final_norm = g_try_new (float, nC);
      if (final_norm == NULL)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_IO,
                       "Out of memory for the metrics of %d layers x %d tokens", R, n);
          return NULL;
        }
      lens_head_norm (model, residuals + (size_t) L * nC, final_norm, n);
    }
  LensMetricsSource metrics = {.enabled = o.metrics,
                               .final_row = final_row,
                               .final_norm = final_norm,
                               .first = p,
                               .ids = ids,
                               .T = T};

  /* A progressive run computes the new cells once the whole result exists, to show it in parts. */
  if (n_passes == 1 && !lens_unembed_cells (model, fresh, p, &metrics, &progress.unembed, error))
    return NULL;
  g_autoptr (LensResult) r = NULL;
  if (cache == NULL) /* then p is 0: the new cells are the whole prompt */
    r = g_steal_pointer (&fresh);
  else
    {
      /* the whole prompt: the cached cells, then the new ones */
      r = live_result_new (model, ids, T, prompt, rows, kinds, R, K, o.metrics);
      r->norm_resid = g_try_new (float, ((size_t) R * T * C));
      if (r->norm_resid == NULL)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "Out of memory for %d layers x %d tokens",
                       R, T);
          return NULL;
        }
      if (p > 0)
        copy_cells (r, 0, prev, 0, p, TRUE);
      copy_cells (r, p, fresh, 0, n, TRUE);
    }
  if (n_passes > 1
      && !unembed_progressive (model, r, p, pass_sizes, n_passes, &metrics, &progress, error))
    return NULL;

  if (cache != NULL)
    {
      g_clear_pointer (&cache->result, lens_result_unref);
      cache->result = lens_result_ref (r);
      g_free (cache->ids);
      cache->ids = g_memdup2 (ids, sizeof (int32_t) * (size_t) T);
      cache->n_ids = T;
      cache->rope_long = lens_model_rope_is_long (model, T);
    }
  return g_steal_pointer (&r);
}

LensResult *
lens_run_ids (LensModel *model, const int32_t *ids, int T, const char *prompt,
              const LensRunOptions *options, GError **error)
{
  return run_lens (model, NULL, ids, T, prompt, options, error);
}

LensResult *
lens_run_ids_cached (LensModel *model, LensRunCache *cache, const int32_t *ids, int T,
                     const char *prompt, const LensRunOptions *options, GError **error)
{
  g_return_val_if_fail (cache != NULL, NULL);
  return run_lens (model, cache, ids, T, prompt, options, error);
}

/* The ids a prompt runs on, or NULL with "The prompt is empty". */
static GArray *
prompt_ids (LensModel *model, const char *prompt, GError **error)
{
  /* An empty text stays empty even when the tokenizer would add a BOS token to it. */
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  if (*prompt != '\0'
      && !lens_tokenizer_encode_with_special (lens_model_tokenizer (model), prompt, -1, ids, error))
    return NULL;
  if (ids->len == 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "The prompt is empty");
      return NULL;
    }
  return g_steal_pointer (&ids);
}

LensResult *
lens_run_prompt (LensModel *model, const char *prompt, const LensRunOptions *options,
                 GError **error)
{
  g_autoptr (GArray) ids = prompt_ids (model, prompt, error);
  if (ids == NULL)
    return NULL;
  return lens_run_ids (model, (const int32_t *) ids->data, (int) ids->len, prompt, options, error);
}

LensResult *
lens_run_prompt_cached (LensModel *model, LensRunCache *cache, const char *prompt,
                        const LensRunOptions *options, GError **error)
{
  g_autoptr (GArray) ids = prompt_ids (model, prompt, error);
  if (ids == NULL)
    return NULL;
  return lens_run_ids_cached (model, cache, (const int32_t *) ids->data, (int) ids->len, prompt,
                              options, error);
}
