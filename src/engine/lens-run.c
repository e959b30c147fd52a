/* lens-run.c: the logit lens itself. Runs the model once keeping every residual, then applies
 * the final norm and the unembedding to all kept (layer, position) cells as batched GEMMs over
 * chunks of cells, reducing each row of logits to top-k, entropy and log-normaliser on the fly
 * (the full (cells, V) logits never exist at once). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "lens-error.h"
#include "lens-head.h"
#include "lens-model-private.h"
#include "lens-ops.h"
#include "lens-result.h"

/* The unembedding is computed in blocks of (cells, vocabulary ids): a tile of lens_head_tile_ids
 * ids (each GEMM reads its rows of W_U once, so fewer, larger tiles read less) against as many
 * cells as keep the block of logits at about this many floats (2 MB, so it is reduced while it
 * is still in cache rather than written to memory and read back; measured against 128 x 2048,
 * 256 x 1024 and 512 x 1024 on GPT-2 small: best or level at T = 16, 64 and 256). */
#define LENS_LOGITS_BLOCK_FLOATS ((size_t) 512 * 1024)

typedef struct
{
  LensRunOptions opts;
  int total_steps;
  int done_steps;
} RunProgress;

static void
forward_progress (int done, int total, gpointer user_data)
{
  RunProgress *p = user_data;
  p->done_steps = MIN (done, p->total_steps); /* a smaller OpenMP team does more tiles each */
  if (p->opts.progress != NULL)
    p->opts.progress (p->done_steps, p->total_steps, p->opts.user_data);
}

static gboolean
forward_cancel (gpointer user_data)
{
  RunProgress *p = user_data;
  return p->opts.cancel != NULL && p->opts.cancel (p->opts.user_data);
}

static char *
row_label (int layer)
{
  return layer == LENS_ROW_EMBEDDINGS ? g_strdup ("embed") : g_strdup_printf ("%d", layer);
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

/* How the vocabulary is cut: tile t holds ids [V t / S, V (t + 1) / S), each of n_threads threads
 * takes S / n_threads consecutive tiles. */
typedef struct
{
  int n_threads;
  int n_tiles; /* S */
  int max_tile;
} TilePlan;

static TilePlan
plan_tiles (const LensModel *model, int K)
{
  const LensConfig *c = lens_model_config (model);
  int V = c->vocab_size;
  /* Tiles must hold at least K ids so that each partial top-k is full. */
  int n_threads = MAX (1, MIN (omp_get_max_threads (), V / MAX (K, 1)));
  int tile_ids = lens_head_tile_ids (model);
  int tiles_per_thread = MAX (1, (V / n_threads + tile_ids - 1) / tile_ids);
  while (tiles_per_thread > 1 && V / (n_threads * tiles_per_thread) < K)
    tiles_per_thread--;
  int S = n_threads * tiles_per_thread;
  return (TilePlan){n_threads, S, (V + S - 1) / S};
}

/* The unembedding of every cell, reduced on the fly. The vocabulary is cut into tiles and each
 * thread takes a contiguous run of them. For each tile it gets that slice of W_U in f32 once
 * (converted from BF16/F16 when the checkpoint stores those), then for every chunk of cells runs
 * a single-threaded GEMM, reduces each row of that block to partial softmax statistics and a
 * partial top-k, and folds that into its running partial of the row. The threads' partials are
 * merged at the end. Splitting by vocabulary keeps both cores busy even for one-token prompts. */
static gboolean
unembed_and_reduce (LensModel *model, LensResult *r, RunProgress *progress, GError **error)
{
  const LensConfig *c = lens_model_config (model);
  int C = c->n_embd, V = c->vocab_size, K = r->top_k;
  size_t n_cells = (size_t) r->n_rows * r->n_tokens;

  TilePlan plan = plan_tiles (model, K);
  int n_threads = plan.n_threads, S = plan.n_tiles, max_tile = plan.max_tile;
  /* Cells in chunks of equal size, each small enough that its logits against one tile (chunk x
   * tile floats) stay in cache; fewer, larger chunks pack the cells fewer times per tile. */
  size_t max_chunk = MAX ((size_t) 16, LENS_LOGITS_BLOCK_FLOATS / (size_t) max_tile);
  int n_chunks = (int) ((n_cells + max_chunk - 1) / max_chunk);
  size_t chunk_cells = (n_cells + n_chunks - 1) / n_chunks;
  /* one running partial per (cell, thread) */
  LensSoftmaxPartial *parts
      = g_try_new (LensSoftmaxPartial, (n_cells * n_threads));        /* (cells, P) */
  int32_t *part_ids = g_try_new (int32_t, (n_cells * n_threads * K)); /* (cells, P, K) */
  float *part_logits = g_try_new (float, (n_cells * n_threads * K));  /* (cells, P, K) */
  if (parts == NULL || part_ids == NULL || part_logits == NULL)
    {
      g_free (parts);
      g_free (part_ids);
      g_free (part_logits);
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "Out of memory for the top %d of %zu cells", K,
                   n_cells);
      return FALSE;
    }
  int team = n_threads;
  gint cancelled = FALSE;

  lens_blas_use_one_thread ();
#pragma omp parallel num_threads(n_threads)
  {
    /* the tiles are split over the team OpenMP gave, which may be smaller than asked for; in
     * order, so that each thread's ids come after the previous thread's */
    int j = omp_get_thread_num (), P = omp_get_num_threads ();
    int t0 = (int) ((int64_t) S * j / P), t1 = (int) ((int64_t) S * (j + 1) / P);
    if (j == 0)
      team = P;
    float *logits = g_new (float, (chunk_cells * max_tile)); /* (chunk, tile) */
    float *w_tile = g_new (float, ((size_t) max_tile * C));  /* (tile, C) */
    int32_t *tile_top = g_new (int32_t, 2 * (size_t) K);     /* a tile's top-k, then fold scratch */
    float *tile_logits = g_new (float, 2 * (size_t) K);

    for (int t = t0; t < t1 && !g_atomic_int_get (&cancelled); t++)
      {
        int v0 = (int) ((int64_t) V * t / S), v1 = (int) ((int64_t) V * (t + 1) / S);
        int Vt = v1 - v0;
        const float *wu = lens_head_tile (model, v0, v1, w_tile); /* (Vt, C) */
        for (int chunk = 0; chunk < n_chunks; chunk++)
          {
            size_t first = (size_t) chunk * chunk_cells;
            int n = (int) MIN (chunk_cells, n_cells - first);
            /* logits (n, Vt) = head(norm_resid (n, C), W_U[v0:v1]) */
            lens_head_tile_logits (model, r->norm_resid + first * C, n, C, wu, Vt, logits, Vt);
            for (int i = 0; i < n; i++)
              {
                size_t slot = (first + (size_t) i) * n_threads + j;
                const float *row = logits + (size_t) i * Vt;
                if (t == t0)
                  parts[slot] = lens_softmax_partial (row, Vt, v0, K, part_ids + slot * K,
                                                      part_logits + slot * K);
                else
                  {
                    LensSoftmaxPartial p
                        = lens_softmax_partial (row, Vt, v0, K, tile_top, tile_logits);
                    lens_softmax_fold (&parts[slot], part_ids + slot * K, part_logits + slot * K,
                                       &p, tile_top, tile_logits, K, tile_top + K, tile_logits + K);
                  }
              }
          }
        /* The caller's callbacks run on this thread only. */
        if (j == 0)
          {
            if (forward_cancel (progress))
              g_atomic_int_set (&cancelled, TRUE);
            forward_progress (c->n_layer + (t - t0 + 1), progress->total_steps, progress);
          }
      }
    g_free (logits);
    g_free (w_tile);
    g_free (tile_top);
    g_free (tile_logits);
  }

  if (!cancelled)
    for (size_t cell = 0; cell < n_cells; cell++)
      {
        size_t slot = cell * n_threads;
        LensSoftmaxStats st
            = lens_softmax_merge (parts + slot, part_ids + slot * K, part_logits + slot * K, team,
                                  K, r->top_ids + cell * K, r->top_probs + cell * K);
        r->log_z[cell] = st.log_z;
        r->entropy[cell] = st.entropy;
      }
  g_free (parts);
  g_free (part_ids);
  g_free (part_logits);
  if (cancelled)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_CANCELLED, "Cancelled");
      return FALSE;
    }
  return TRUE;
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
 * model, rows and top-k, the same ids up to there, and the same RoPE factors. At most T - 1, so
 * that a run always computes something. */
static int
reusable_prefix (const LensRunCache *cache, LensModel *model, const int32_t *ids, int T,
                 const int *rows, int R, int K)
{
  const LensResult *prev = cache != NULL ? cache->result : NULL;
  if (prev == NULL || cache->model != model || prev->n_rows != R || prev->top_k != K
      || memcmp (prev->row_layers, rows, sizeof (int) * (size_t) R) != 0
      || cache->rope_long != lens_model_rope_is_long (model, T))
    return 0;
  int p = 0;
  while (p < cache->n_ids && p < T && cache->ids[p] == ids[p])
    p++;
  return MIN (p, T - 1);
}

/* The empty result of a live run: model facts, tokens, rows. */
static LensResult *
live_result_new (LensModel *model, const int32_t *ids, int T, const char *prompt, const int *rows,
                 int R, int K)
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
      g_free (r->row_labels[i]);
      r->row_labels[i] = row_label (rows[i]);
    }
  return r;
}

/* Copies the cells of positions [t0, t0 + n) of src (n_tokens Ts) to positions [u0, u0 + n) of
 * dst, every row: top-k, entropy, log-normaliser and normed residual. */
static void
copy_cells (LensResult *dst, int u0, const LensResult *src, int t0, int n)
{
  int K = dst->top_k, C = dst->d_model;
  for (int i = 0; i < dst->n_rows; i++)
    {
      size_t d = lens_result_cell_index (dst, i, u0), s = lens_result_cell_index (src, i, t0);
      memcpy (dst->top_ids + d * K, src->top_ids + s * K, sizeof (int32_t) * (size_t) n * K);
      memcpy (dst->top_probs + d * K, src->top_probs + s * K, sizeof (float) * (size_t) n * K);
      memcpy (dst->entropy + d, src->entropy + s, sizeof (float) * (size_t) n);
      memcpy (dst->log_z + d, src->log_z + s, sizeof (float) * (size_t) n);
      memcpy (dst->norm_resid + d * C, src->norm_resid + s * C, sizeof (float) * (size_t) n * C);
    }
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

  /* positions p .. T - 1 are computed (n of them), the earlier ones come from the cache */
  int p = reusable_prefix (cache, model, ids, T, rows, R, K), n = T - p;
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
  TilePlan plan = plan_tiles (model, K);
  RunProgress progress = {.opts = o, .total_steps = L + plan.n_tiles / plan.n_threads};

  /* residuals (L+1, n, C) of the new positions: row 0 = embeddings, row l+1 = output of block l */
  g_autofree float *residuals = g_try_new (float, (size_t) (L + 1) * nC);
  if (residuals == NULL)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "Out of memory for %d layers x %d tokens", L,
                   n);
      return NULL;
    }
  if (!(cache != NULL ? lens_model_forward_from (model, cache->kv, ids, T, p, residuals,
                                                 forward_cancel, forward_progress, &progress, error)
                      : lens_model_forward (model, ids, T, residuals, NULL, forward_cancel,
                                            forward_progress, &progress, error)))
    return NULL;

  /* the new cells alone: norm_resid (R, n, C) = final norm of each kept row's residual, then the
   * unembedding */
  g_autoptr (LensResult) fresh = live_result_new (model, ids + p, n, prompt, rows, R, K);
  fresh->norm_resid = g_try_new (float, ((size_t) R * nC));
  if (fresh->norm_resid == NULL)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "Out of memory for %d layers x %d tokens", R,
                   n);
      return NULL;
    }
  for (int i = 0; i < R; i++)
    lens_head_norm (model, residuals + (size_t) (rows[i] + 1) * nC,
                    fresh->norm_resid + (size_t) i * nC, n);
  if (!unembed_and_reduce (model, fresh, &progress, error))
    return NULL;
  if (cache == NULL) /* then p is 0: the new cells are the whole prompt */
    return g_steal_pointer (&fresh);

  /* the whole prompt: the cached cells, then the new ones */
  g_autoptr (LensResult) r = live_result_new (model, ids, T, prompt, rows, R, K);
  r->norm_resid = g_try_new (float, ((size_t) R * T * C));
  if (r->norm_resid == NULL)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "Out of memory for %d layers x %d tokens", R,
                   T);
      return NULL;
    }
  if (p > 0)
    copy_cells (r, 0, prev, 0, p);
  copy_cells (r, p, fresh, 0, n);

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
