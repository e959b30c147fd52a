/* lens-unembed.c: the unembedding of a result's kept residuals, reduced on the fly: the final
 * norm's output of every (layer, position) cell against the vocabulary in tiles, each block of
 * logits reduced while in cache to top-k, entropy and log-normaliser, and with metrics to the KL
 * from the final layer and the next token's log-probability and rank (the full (cells, V) logits
 * never exist at once). lens-run.c decides which cells and when; this file computes them. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "lens-error.h"
#include "lens-head.h"
#include "lens-hot.h"
#include "lens-model-private.h"
#include "lens-ops.h"
#include "lens-unembed.h"

/* The unembedding is computed in blocks of (cells, vocabulary ids): a tile of lens_head_tile_ids
 * ids (each GEMM reads its rows of W_U once, so fewer, larger tiles read less) against as many
 * cells as keep the block of logits at about this many floats (2 MB, so it is reduced while it
 * is still in cache rather than written to memory and read back; measured against 128 x 2048,
 * 256 x 1024 and 512 x 1024 on GPT-2 small: best or level at T = 16, 64 and 256). */
#define LENS_LOGITS_BLOCK_FLOATS ((size_t) 512 * 1024)

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
LENS_HOT static void
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
unembed_and_reduce (LensModel *model, LensResult *r, MetricsPass *mp,
                    const LensUnembedCallbacks *cb, GError **error)
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
        if (j == 0 && cb != NULL)
          {
            if (cb->cancel != NULL && cb->cancel (cb->user_data))
              g_atomic_int_set (&cancelled, TRUE);
            if (cb->tile_done != NULL)
              cb->tile_done (t - t0 + 1, cb->user_data);
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

int
lens_unembed_steps (const LensModel *model, int top_k)
{
  TilePlan plan = plan_tiles (model, top_k);
  return plan.n_tiles / plan.n_threads;
}

gboolean
lens_unembed_cells (LensModel *model, LensResult *res, int a, const LensMetricsSource *src,
                    const LensUnembedCallbacks *cb, GError **error)
{
  if (!src->enabled)
    return unembed_and_reduce (model, res, NULL, cb, error);

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
  return unembed_and_reduce (model, res, &mp, cb, error);
}
