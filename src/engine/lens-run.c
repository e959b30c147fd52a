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
  int step_base; /* steps of the progressive passes before the current one */
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

/* The metrics of a run (LensRunOptions.metrics), accumulated in the same pass over the vocabulary
 * as the top-k. KL(P_f || P_c) = (sum_v p_f z_f - lse_f) - sum_v p_f z_c + lse_c, where f is the
 * last block's row at the cell's position: for each tile, each thread first unembeds the final
 * row of every position and turns its logits into weights exp(z_f - M) (M: that thread's running
 * maximum of the final logits at that position, sums rescaled when it grows, as the softmax
 * partials are), then adds sum_v w(v) z_c(v) to each cell's running cross term. The next token's
 * rank counts, tile by tile, the other ids whose logit is strictly greater than its own. */
typedef struct
{
  int n;                   /* positions of the cells (cell = row * n + position) */
  const float *final_norm; /* (n, C) final-norm output of the last block at each position */
  const int32_t *next_ids; /* (n) id of the token after each position, -1 for the last */
  const float *next_logit; /* (cells) the logit of that token in each cell, NAN when none */
  /* per (position, thread): the final row over the thread's tiles so far */
  float *fmax;  /* (n, P) running maximum of z_f */
  double *fsum; /* (n, P) sum exp(z_f - fmax) */
  double *fdot; /* (n, P) sum exp(z_f - fmax) z_f */
  /* per (cell, thread) */
  double *cross;  /* (cells, P) sum exp(z_f - fmax) z_c */
  int32_t *above; /* (cells, P) ids v != next with z_c(v) > next_logit */
} MetricsPass;

/* fin (n, Vt) = the final rows' logits against tile wu (Vt, C), turned into the weights
 * exp(z_f - fmax) after folding this tile into thread j's running maximum; rescale (n) receives
 * the factor by which the cells' running cross terms are to be multiplied at each position. */
static void
metrics_tile_begin (LensModel *model, MetricsPass *mp, int j, int P, const float *wu, int Vt,
                    float *fin, double *rescale)
{
  int C = lens_model_config (model)->n_embd;
  lens_head_tile_logits (model, mp->final_norm, mp->n, C, wu, Vt, fin, Vt);
  for (int u = 0; u < mp->n; u++)
    {
      float *z = fin + (size_t) u * Vt;
      size_t s = (size_t) u * P + j;
      float m = mp->fmax[s];
      for (int v = 0; v < Vt; v++)
        m = z[v] > m ? z[v] : m;
      double scale = exp ((double) mp->fmax[s] - (double) m); /* 0 for the first tile */
      double se = 0.0, sd = 0.0;
      for (int v = 0; v < Vt; v++)
        {
          float w = expf (z[v] - m);
          se += w;
          sd += (double) w * z[v];
          z[v] = w;
        }
      mp->fsum[s] = mp->fsum[s] * scale + se;
      mp->fdot[s] = mp->fdot[s] * scale + sd;
      mp->fmax[s] = m;
      rescale[u] = scale;
    }
}

/* Folds one cell's logits row (Vt) of tile [v0, v0 + Vt) into thread j's running terms; w (Vt):
 * the weights of the cell's position. */
static void
metrics_cell (MetricsPass *mp, size_t cell, int j, int P, const float *row, int Vt, int v0,
              const float *w, double rescale)
{
  size_t s = cell * P + j;
  /* sum_v w(v) z_c(v), and the ids above the next token's logit, in one pass of independent
   * lanes so that it vectorises; the sum in double since the KL is a small difference of large
   * terms */
  float zn = mp->next_logit[cell];
  gboolean count = !isnan (zn);
  double lanes[8] = {0};
  int32_t above_l[8] = {0};
  int v = 0;
  if (count)
    for (; v + 8 <= Vt; v += 8)
      for (int k = 0; k < 8; k++)
        {
          lanes[k] += (double) w[v + k] * (double) row[v + k];
          above_l[k] += row[v + k] > zn;
        }
  else
    for (; v + 8 <= Vt; v += 8)
      for (int k = 0; k < 8; k++)
        lanes[k] += (double) w[v + k] * (double) row[v + k];
  double acc = 0.0;
  int32_t above = 0;
  for (; v < Vt; v++)
    {
      acc += (double) w[v] * (double) row[v];
      above += count && row[v] > zn;
    }
  for (int k = 0; k < 8; k++)
    {
      acc += lanes[k];
      above += above_l[k];
    }
  mp->cross[s] = mp->cross[s] * rescale + acc;
  if (!count)
    return;
  /* the next token itself never counts (its logit here may differ from zn by rounding) */
  int32_t id = mp->next_ids[cell % mp->n];
  if (id >= v0 && id < v0 + Vt && row[id - v0] > zn)
    above--;
  mp->above[s] += above;
}

/* Combines the threads' terms into r's metrics (log_z already merged). */
static void
metrics_finish (const MetricsPass *mp, LensResult *r, int n_threads, int team)
{
  int n = mp->n, P = n_threads;
  size_t n_cells = (size_t) r->n_rows * n;
  g_autofree double *fac = g_new (double, (size_t) n *P); /* (n, P) exp(fmax_j - M) / S */
  g_autofree double *base = g_new (double, n);            /* (n) sum p_f z_f - lse_f */
  for (int u = 0; u < n; u++)
    {
      const float *fm = mp->fmax + (size_t) u * P;
      float m = -INFINITY;
      for (int j = 0; j < team; j++)
        m = fm[j] > m ? fm[j] : m;
      double S = 0.0, D = 0.0;
      for (int j = 0; j < team; j++)
        {
          double e = exp ((double) fm[j] - (double) m);
          S += e * mp->fsum[(size_t) u * P + j];
          D += e * mp->fdot[(size_t) u * P + j];
          fac[(size_t) u * P + j] = e;
        }
      for (int j = 0; j < team; j++)
        fac[(size_t) u * P + j] /= S;
      base[u] = D / S - ((double) m + log (S));
    }
  for (size_t cell = 0; cell < n_cells; cell++)
    {
      int u = (int) (cell % n);
      double cross = 0.0;
      int32_t above = 0;
      for (int j = 0; j < team; j++)
        {
          cross += mp->cross[cell * P + j] * fac[(size_t) u * P + j];
          above += mp->above[cell * P + j];
        }
      /* >= 0 in exact arithmetic; rounding can leave the final row itself a hair below. A NaN
       * (a model that produced one) stays NaN: it is unknown, not "the same as final". */
      double kl = base[u] - cross + (double) r->log_z[cell];
      r->kl_final[cell] = kl < 0.0 ? 0.0f : (float) kl;
      float zn = mp->next_logit[cell];
      if (!isnan (zn))
        {
          /* <= 0 in exact arithmetic, but zn (a dot product) and log_z (the tile GEMM) round
           * differently: a nearly certain next token could come out a hair above probability 1 */
          double lp = (double) zn - (double) r->log_z[cell];
          r->next_logprob[cell] = lp > 0.0 ? 0.0f : (float) lp;
          r->next_rank[cell] = 1 + above;
        }
    }
}

/* The unembedding of every cell, reduced on the fly. The vocabulary is cut into tiles and each
 * thread takes a contiguous run of them. For each tile it gets that slice of W_U in f32 once
 * (converted from BF16/F16 when the checkpoint stores those), then for every chunk of cells runs
 * a single-threaded GEMM, reduces each row of that block to partial softmax statistics and a
 * partial top-k, and folds that into its running partial of the row. The threads' partials are
 * merged at the end. Splitting by vocabulary keeps both cores busy even for one-token prompts. */
static gboolean
unembed_and_reduce (LensModel *model, LensResult *r, MetricsPass *mp, RunProgress *progress,
                    GError **error)
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
    /* metrics: the final rows' weights (n, tile) and their rescale factors (n) */
    float *fin = mp != NULL ? g_new (float, (size_t) mp->n *max_tile) : NULL;
    double *rescale = mp != NULL ? g_new (double, mp->n) : NULL;

    for (int t = t0; t < t1 && !g_atomic_int_get (&cancelled); t++)
      {
        int v0 = (int) ((int64_t) V * t / S), v1 = (int) ((int64_t) V * (t + 1) / S);
        int Vt = v1 - v0;
        const float *wu = lens_head_tile (model, v0, v1, w_tile); /* (Vt, C) */
        if (mp != NULL)
          metrics_tile_begin (model, mp, j, n_threads, wu, Vt, fin, rescale);
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
                if (mp != NULL)
                  {
                    size_t cell = first + (size_t) i;
                    int u = (int) (cell % mp->n);
                    metrics_cell (mp, cell, j, n_threads, row, Vt, v0, fin + (size_t) u * Vt,
                                  rescale[u]);
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
    g_free (fin);
    g_free (rescale);
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
  if (!cancelled && mp != NULL)
    metrics_finish (mp, r, n_threads, team);
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

/* Where the metrics of a run's new cells come from: the final row's normed residual of each new
 * position (a kept row of the result being computed, or final_norm (n, C) for positions
 * [first, T)) and the prompt's ids, for the token that follows each position. */
typedef struct
{
  gboolean enabled;
  int final_row;           /* the kept row that is the last block's output, or -1 */
  const float *final_norm; /* (T - first, C) when final_row < 0 */
  int first;               /* the first new position */
  const int32_t *ids;      /* (T) the prompt */
  int T;
} MetricsSource;

/* The lens of res's cells (its norm_resid filled), which are positions [a, a + m) of the prompt,
 * with their metrics when the source has them enabled. */
static gboolean
unembed_cells (LensModel *model, LensResult *res, int a, const MetricsSource *src,
               RunProgress *progress, GError **error)
{
  if (!src->enabled)
    return unembed_and_reduce (model, res, NULL, progress, error);

  int m = res->n_tokens, R = res->n_rows, C = res->d_model;
  size_t cells = (size_t) R * m, P = (size_t) plan_tiles (model, res->top_k).n_threads;
  MetricsPass mp = {.n = m};
  mp.final_norm = src->final_row >= 0 ? res->norm_resid + (size_t) src->final_row * m * C
                                      : src->final_norm + (size_t) (a - src->first) * C;
  /* the token after each position; the prompt's last has none (a pass of a progressive run
   * ends before it: its next token is the first of the pass to its right) */
  g_autofree int32_t *next_ids = g_new (int32_t, m);
  for (int u = 0; u < m; u++)
    next_ids[u] = a + u + 1 < src->T ? src->ids[a + u + 1] : -1;
  /* next_logit (R, m) = each cell's logit of its position's next token */
  g_autofree int32_t *cell_next = g_new (int32_t, cells);
  for (size_t cell = 0; cell < cells; cell++)
    cell_next[cell] = next_ids[cell % m];
  g_autofree float *next_logit = g_new (float, cells);
  lens_head_logit_per_row (model, res->norm_resid, (int) cells, C, cell_next, next_logit);
  mp.next_ids = next_ids;
  mp.next_logit = next_logit;
  g_autofree float *fmax = g_new (float, m *P);
  for (size_t i = 0; i < m * P; i++)
    fmax[i] = -INFINITY;
  g_autofree double *fsum = g_new0 (double, m *P);
  g_autofree double *fdot = g_new0 (double, m *P);
  g_autofree double *cross = g_try_new0 (double, cells *P);
  g_autofree int32_t *above = g_try_new0 (int32_t, cells * P);
  if (cross == NULL || above == NULL)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO,
                   "Out of memory for the metrics of %d layers x %d tokens", R, m);
      return FALSE;
    }
  mp.fmax = fmax;
  mp.fsum = fsum;
  mp.fdot = fdot;
  mp.cross = cross;
  mp.above = above;
  return unembed_and_reduce (model, res, &mp, progress, error);
}

/* The lens of positions [p, T) of r (whose norm_resid is filled and whose earlier cells are done)
 * in passes of sizes[] positions, right to left, each the existing lens over a result of its
 * positions alone; a partial snapshot goes to the caller after each pass but the last. */
static gboolean
unembed_progressive (LensModel *model, LensResult *r, int p, const int *sizes, int n_passes,
                     const MetricsSource *metrics, RunProgress *progress, GError **error)
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
      if (!unembed_cells (model, slice, a, metrics, progress, error))
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
  TilePlan plan = plan_tiles (model, K);
  int pass_sizes[LENS_MAX_PASSES];
  int n_passes = plan_passes (&o, c, R, n, pass_sizes);
  RunProgress progress = {.opts = o, .total_steps = L + n_passes * (plan.n_tiles / plan.n_threads)};

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
  MetricsSource metrics = {.enabled = o.metrics,
                           .final_row = final_row,
                           .final_norm = final_norm,
                           .first = p,
                           .ids = ids,
                           .T = T};

  /* A progressive run computes the new cells once the whole result exists, to show it in parts. */
  if (n_passes == 1 && !unembed_cells (model, fresh, p, &metrics, &progress, error))
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
