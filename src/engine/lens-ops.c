/* lens-ops.c: forward-pass and lens kernels. GEMMs go to OpenBLAS; the element-wise loops are
 * written so GCC vectorises them, and are compiled for AVX2+FMA beside a baseline version. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>
#include <glib.h>

#include "lens-blas.h"
#include "lens-convert.h"
#include "lens-gemm-small.h"
#include "lens-hot.h"
#include "lens-ops.h"

/* ------------------------------------------------------------------------------------------ */
/* exp for x <= 0, vectorisable: 2^x = 2^round(x) * 2^frac, degree-7 polynomial for the
 * fraction. Relative error < 2e-7 over [-87, 0]; exp(x < -87) flushes to 0. */
static inline float
exp_nonpositive (float x)
{
  /* NaN (a model that produced one) takes the clamp too, so the integer conversion below is
   * defined, and is given back at the end: the lens reports such cells instead of hiding them. */
  float in = x;
  x = x >= -87.0f ? x : -87.0f;
  float t = x * 1.44269504088896341f;
  float r = (t + 12582912.0f) - 12582912.0f; /* round to nearest integer (|t| < 2^22) */
  float f = (t - r) * 0.693147180559945309f; /* |f| <= ln2 / 2 */
  float p = 1.0f / 5040.0f;
  p = p * f + 1.0f / 720.0f;
  p = p * f + 1.0f / 120.0f;
  p = p * f + 1.0f / 24.0f;
  p = p * f + 1.0f / 6.0f;
  p = p * f + 0.5f;
  p = p * f + 1.0f;
  p = p * f + 1.0f;
  int32_t e = (int32_t) r + 127;
  uint32_t bits = (uint32_t) e << 23;
  float scale;
  memcpy (&scale, &bits, sizeof scale);
  return in == in ? p * scale : in;
}

/* ------------------------------------------------------------------------------------------ */

void
lens_blas_use_one_thread (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done))
    {
      lens_blas_release_threads ();
      g_once_init_leave (&done, 1);
    }
}

/* Threads for work on `n` columns or rows: at least `min_each` per thread. */
static int
split_threads (int n, int min_each)
{
  return MAX (1, MIN (omp_get_max_threads (), n / MAX (min_each, 1)));
}

void
lens_sgemm_one_thread (int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                       gboolean b_transposed, float beta, float *C, int ldc)
{
  LensGemmIsa isa = lens_gemm_small_isa ();
  /* OpenBLAS 0.3.21 runs a one-row sgemm through its packed GEMM path: measured 4x slower
   * than the GEMV it amounts to (768 x 3072). One-token prompts take this. */
  if (M == 1 && b_transposed)
    cblas_sgemv (CblasRowMajor, CblasNoTrans, N, K, 1.0f, B, ldb, A, 1, beta, C, 1);
  else if (M == 1)
    cblas_sgemv (CblasRowMajor, CblasTrans, K, N, 1.0f, B, ldb, A, 1, beta, C, 1);
  else if ((beta == 0.0f || beta == 1.0f) && lens_gemm_small_wins (isa, M, b_transposed))
    lens_gemm_small (isa, M, N, K, A, lda, B, ldb, b_transposed, beta, C, ldc);
  else
    cblas_sgemm (CblasRowMajor, CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans, M, N, K,
                 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void
lens_sgemm_split (int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                  gboolean b_transposed, float beta, float *C, int ldc)
{
  lens_blas_use_one_thread ();
#pragma omp parallel num_threads(split_threads(N, 64))
  {
    /* partitioned by the team OpenMP gave, which may be smaller than asked for */
    int j = omp_get_thread_num (), n_threads = omp_get_num_threads ();
    int n0 = (int) ((int64_t) N * j / n_threads), n1 = (int) ((int64_t) N * (j + 1) / n_threads);
    /* columns n0..n1 of B: (K, n1 - n0) at B + n0, or rows of B^T at B + n0 * ldb */
    const float *Bj = b_transposed ? B + (size_t) n0 * ldb : B + n0;
    lens_sgemm_one_thread (M, n1 - n0, K, A, lda, Bj, ldb, b_transposed, beta, C + n0, ldc);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Weights in their stored types. */

void
lens_mat_rows_f32 (const LensMat *m, int r0, int n, float *dst)
{
  size_t esize = lens_dtype_size (m->dtype);
  lens_convert_to_f32 (dst, (const uint8_t *) m->data + (size_t) r0 * m->cols * esize, m->dtype,
                       (size_t) n * m->cols);
}

void
lens_mat_cols_f32 (const LensMat *m, int c0, int n, float *dst)
{
  size_t esize = lens_dtype_size (m->dtype);
  for (int r = 0; r < m->rows; r++)
    lens_convert_to_f32 (dst + (size_t) r * n,
                         (const uint8_t *) m->data + ((size_t) r * m->cols + c0) * esize, m->dtype,
                         (size_t) n);
}

/* A converted tile holds about this many floats (4 MiB), and at least one whole row of the input
 * width. OpenBLAS packs the input rows again for every GEMM, so a tile of W must be wide enough
 * that this costs little next to converting and reading the tile itself: with 64 columns a
 * tile, the down projection of a Llama-3.2-1B shape packed its 16 x 8192 input 128 times per
 * block. */
#define LINEAR_TILE_FLOATS (1024 * 1024)

size_t
lens_linear_scratch_floats (int IC)
{
  return MAX ((size_t) LINEAR_TILE_FLOATS, (size_t) IC);
}

void
lens_linear_forward (float *out, int ldo, const float *inp, int N, const LensMat *w,
                     const float *bias, float *scratch)
{
  int OC = lens_mat_out (w), IC = lens_mat_in (w);
  /* out (N, OC) = bias broadcast, then += inp (N, IC) . W */
  float beta = 0.0f;
  if (bias != NULL)
    {
      for (int n = 0; n < N; n++)
        memcpy (out + (size_t) n * ldo, bias, sizeof (float) * (size_t) OC);
      beta = 1.0f;
    }
  if (w->direct)
    {
      lens_sgemm_split (N, OC, IC, inp, IC, w->data, w->cols, !w->in_out, beta, out, ldo);
      return;
    }

  lens_blas_use_one_thread ();
  int tile_cols = MAX (1, LINEAR_TILE_FLOATS / IC);
  size_t per_thread = lens_linear_scratch_floats (IC);
#pragma omp parallel num_threads(split_threads(OC, 64))
  {
    /* partitioned by the team OpenMP gave, which may be smaller than asked for */
    int j = omp_get_thread_num (), n_threads = omp_get_num_threads ();
    int o0 = (int) ((int64_t) OC * j / n_threads), o1 = (int) ((int64_t) OC * (j + 1) / n_threads);
    float *tile = scratch + (size_t) j * per_thread;
    for (int o = o0; o < o1; o += tile_cols)
      {
        int n = MIN (tile_cols, o1 - o);
        if (w->in_out)
          lens_mat_cols_f32 (w, o, n, tile); /* (IC, n) */
        else
          lens_mat_rows_f32 (w, o, n, tile); /* (n, IC) */
        /* out (N, n) (+)= inp (N, IC) . tile, tile (n, IC) used transposed or (IC, n) */
        lens_sgemm_one_thread (N, n, IC, inp, IC, tile, w->in_out ? n : IC, !w->in_out, beta,
                               out + o, ldo);
      }
  }
}

void
lens_linear_forward_ref (float *out, int ldo, const float *inp, int N, const LensMat *w,
                         const float *bias)
{
  int OC = lens_mat_out (w), IC = lens_mat_in (w);
  float *all = g_new (float, ((size_t) w->rows * w->cols));
  lens_mat_rows_f32 (w, 0, w->rows, all);
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++)
      {
        double acc = bias != NULL ? bias[o] : 0.0;
        for (int i = 0; i < IC; i++)
          {
            /* element (o, i) of the projection, wherever the layout puts it */
            size_t at = w->in_out ? (size_t) i * w->cols + o : (size_t) o * w->cols + i;
            acc += (double) inp[(size_t) n * IC + i] * (double) all[at];
          }
        out[(size_t) n * ldo + o] = (float) acc;
      }
  g_free (all);
}

void
lens_layernorm_forward (float *out, const float *inp, const float *weight, const float *bias, int N,
                        int C, float eps)
{
  for (int n = 0; n < N; n++)
    {
      const float *x = inp + (size_t) n * C;
      float *y = out + (size_t) n * C;
      /* Two passes in double: the lens recomputes this norm on early-layer residuals whose mean
       * can be large next to their spread, where a one-pass float variance loses digits. */
      double mean = 0.0;
      for (int i = 0; i < C; i++)
        mean += x[i];
      mean /= C;
      double var = 0.0;
      for (int i = 0; i < C; i++)
        {
          double d = x[i] - mean;
          var += d * d;
        }
      var /= C;
      double rstd = 1.0 / sqrt (var + (double) eps);
      for (int i = 0; i < C; i++)
        y[i] = (float) ((x[i] - mean) * rstd) * weight[i] + (bias != NULL ? bias[i] : 0.0f);
    }
}

void
lens_rmsnorm_forward (float *out, const float *inp, const float *weight, int N, int C, float eps)
{
  for (int n = 0; n < N; n++)
    {
      const float *x = inp + (size_t) n * C;
      float *y = out + (size_t) n * C;
      double ss = 0.0;
      for (int i = 0; i < C; i++)
        ss += (double) x[i] * x[i];
      double rstd = 1.0 / sqrt (ss / C + (double) eps);
      for (int i = 0; i < C; i++)
        y[i] = (float) (x[i] * rstd) * weight[i];
    }
}

static inline float
silu (float v)
{
  /* v sigmoid(v), with e = exp(-|v|) <= 1: sigmoid = 1 / (1 + e) for v >= 0 and e / (1 + e)
   * below */
  float e = exp_nonpositive (v < 0.0f ? v : -v);
  return v * (v < 0.0f ? e : 1.0f) / (1.0f + e);
}

static inline float
gelu_tanh (float v)
{
  const float s = 0.7978845608028654f; /* sqrt(2 / pi) */
  float u = s * (v + 0.044715f * v * v * v);
  /* tanh(u) = sign(u) * (1 - 2 / (exp(2|u|) + 1)), through exp of a non-positive argument */
  float a = u < 0.0f ? -u : u;
  float e = exp_nonpositive (-2.0f * a);
  float th = (1.0f - e) / (1.0f + e);
  th = u < 0.0f ? -th : th;
  return 0.5f * v * (1.0f + th);
}

static inline float
gelu_erf (float v)
{
  return (float) (0.5 * v * (1.0 + erf (v * 0.70710678118654752440)));
}

void
lens_gelu_erf_forward (float *x, size_t N)
{
  for (size_t i = 0; i < N; i++)
    x[i] = gelu_erf (x[i]);
}

LENS_HOT static void
silu_glu (float *out, const float *gate, const float *up, int F)
{
  for (int i = 0; i < F; i++)
    out[i] = silu (gate[i]) * up[i];
}

LENS_HOT static void
gelu_tanh_glu (float *out, const float *gate, const float *up, int F)
{
  for (int i = 0; i < F; i++)
    out[i] = gelu_tanh (gate[i]) * up[i];
}

void
lens_glu_forward (float *out, const float *gate, int ld_gate, const float *up, int ld_up, int T,
                  int F, LensActivation act)
{
  for (int t = 0; t < T; t++)
    {
      float *o = out + (size_t) t * F;
      const float *g = gate + (size_t) t * ld_gate, *u = up + (size_t) t * ld_up;
      switch (act)
        {
        case LENS_ACT_SILU:
          silu_glu (o, g, u, F);
          break;
        case LENS_ACT_GELU_TANH:
          gelu_tanh_glu (o, g, u, F);
          break;
        case LENS_ACT_GELU_ERF:
          for (int i = 0; i < F; i++)
            o[i] = gelu_erf (g[i]) * u[i];
          break;
        }
    }
}

LENS_HOT static void
silu_forward (float *x, size_t N)
{
  for (size_t i = 0; i < N; i++)
    x[i] = silu (x[i]);
}

void
lens_activation_forward (float *x, size_t N, LensActivation act)
{
  switch (act)
    {
    case LENS_ACT_SILU:
      silu_forward (x, N);
      break;
    case LENS_ACT_GELU_TANH:
      lens_gelu_new_forward (x, N);
      break;
    case LENS_ACT_GELU_ERF:
      lens_gelu_erf_forward (x, N);
      break;
    }
}

LENS_HOT void
lens_gelu_new_forward (float *x, size_t N)
{
  for (size_t i = 0; i < N; i++)
    x[i] = gelu_tanh (x[i]);
}

void
lens_residual_add (float *x, const float *y, size_t N)
{
  for (size_t i = 0; i < N; i++)
    x[i] += y[i];
}

void
lens_rope_table (const double *inv_freq, int rot, int pos0, int T, float *cos_t, float *sin_t)
{
  int half = rot / 2;
  for (int t = 0; t < T; t++)
    for (int i = 0; i < half; i++)
      {
        double angle = (double) (pos0 + t) * inv_freq[i];
        cos_t[(size_t) t * half + i] = (float) cos (angle);
        sin_t[(size_t) t * half + i] = (float) sin (angle);
      }
}

void
lens_rope_apply (float *x, int ld, int T, int n_heads, int hd, int rot, const float *cos_t,
                 const float *sin_t)
{
  int half = rot / 2;
  for (int t = 0; t < T; t++)
    {
      const float *c = cos_t + (size_t) t * half, *s = sin_t + (size_t) t * half;
      for (int h = 0; h < n_heads; h++)
        {
          /* x1 = first half, x2 = second: (x1 cos - x2 sin, x2 cos + x1 sin) */
          float *v = x + (size_t) t * ld + (size_t) h * hd;
          for (int i = 0; i < half; i++)
            {
              float x1 = v[i], x2 = v[i + half];
              v[i] = x1 * c[i] - x2 * s[i];
              v[i + half] = x2 * c[i] + x1 * s[i];
            }
        }
    }
}

/* Queries per attention work item: the scores of a block are (QUERY_BLOCK, T), so long prompts
 * need (threads x QUERY_BLOCK x T) floats rather than T x T per head. */
#define QUERY_BLOCK 128

/* Softmax of row `row` (n keys, key j of the row is absolute key k0 + j) over the keys query i
 * may see, zeroing the rest. */
static void
masked_softmax_row (float *row, int n, int k0, int i, int window)
{
  int lo = window > 0 ? MAX (0, i - window + 1) : 0; /* first visible key */
  int a = MAX (lo - k0, 0), b = i - k0;              /* visible: row[a..b] */
  float maxv = -INFINITY;
  for (int j = a; j <= b; j++)
    maxv = row[j] > maxv ? row[j] : maxv;
  double sum = 0.0;
  for (int j = a; j <= b; j++)
    {
      row[j] = expf (row[j] - maxv);
      sum += row[j];
    }
  float inv = (float) (1.0 / sum);
  for (int j = 0; j < n; j++)
    row[j] = (j >= a && j <= b) ? row[j] * inv : 0.0f;
}

static int
attention_threads (void)
{
  return MAX (1, omp_get_max_threads ());
}

size_t
lens_attention_scratch_floats (int n, int T)
{
  return (size_t) attention_threads () * (size_t) MIN (n, QUERY_BLOCK) * (size_t) T;
}

LENS_HOT void
lens_softcap_forward (float *x, size_t n, float cap)
{
  float inv = 1.0f / cap;
  for (size_t i = 0; i < n; i++)
    {
      /* tanh(u) = sign(u) (1 - e) / (1 + e), e = exp(-2|u|) <= 1: relative error about 2e-7 */
      float u = x[i] * inv;
      float a = u < 0.0f ? -u : u;
      float e = exp_nonpositive (-2.0f * a);
      float th = (1.0f - e) / (1.0f + e);
      x[i] = cap * (u < 0.0f ? -th : th);
    }
}

void
lens_attention_forward (float *out, const float *q, int ldq, const float *kv, int ldkv,
                        float *scratch, int q0, int n, int NH, int NKV, int hd, int window,
                        float scale, float softcap)
{
  int T = q0 + n; /* keys */
  int group = NH / NKV, n_blocks = (n + QUERY_BLOCK - 1) / QUERY_BLOCK;
  int ldo = NH * hd;
  lens_blas_use_one_thread ();

  /* (head, query block) pairs are independent: split them over the threads, each with its own
   * scores */
#pragma omp parallel for num_threads(attention_threads()) schedule(dynamic)
  for (int item = 0; item < NH * n_blocks; item++)
    {
      int h = item / n_blocks, blk = item % n_blocks;
      int g = h / group;
      /* query rows r0 .. r1 - 1, at positions q0 + r */
      int r0 = blk * QUERY_BLOCK, r1 = MIN (n, r0 + QUERY_BLOCK), nq = r1 - r0;
      int i0 = q0 + r0, i1 = q0 + r1;
      /* keys that any query of the block can see: k0 .. i1 - 1 */
      int k0 = window > 0 ? MAX (0, i0 - window + 1) : 0, nk = i1 - k0;
      const float *qb = q + (size_t) r0 * ldq + (size_t) h * hd;          /* (nq, hd) */
      const float *k = kv + (size_t) k0 * ldkv + (size_t) g * hd;         /* (nk, hd) */
      const float *v = kv + (size_t) k0 * ldkv + (size_t) (NKV + g) * hd; /* (nk, hd) */
      float *att
          = scratch + (size_t) omp_get_thread_num () * MIN (n, QUERY_BLOCK) * T; /* (nq, nk) */

      /* att = scale * q . k^T */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, hd, scale, qb, ldq, k, ldkv,
                   0.0f, att, nk);
      if (softcap > 0.0f)
        lens_softcap_forward (att, (size_t) nq * nk, softcap);
      for (int r = 0; r < nq; r++)
        masked_softmax_row (att + (size_t) r * nk, nk, k0, i0 + r, window);
      /* out[r0:r1, h*hd : (h+1)*hd] = att (nq, nk) . v (nk, hd) */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, hd, nk, 1.0f, att, nk, v, ldkv,
                   0.0f, out + (size_t) r0 * ldo + (size_t) h * hd, ldo);
    }
}

void
lens_attention_forward_ref (float *out, const float *q, int ldq, const float *kv, int ldkv, int q0,
                            int n, int NH, int NKV, int hd, int window, float scale, float softcap)
{
  int group = NH / NKV, T = q0 + n;
  double *w = g_new (double, T);

  for (int h = 0; h < NH; h++)
    for (int r = 0; r < n; r++)
      {
        int g = h / group, i = q0 + r;
        const float *qr = q + (size_t) r * ldq + (size_t) h * hd;
        int lo = window > 0 ? MAX (0, i - window + 1) : 0;
        double maxv = -INFINITY;
        for (int j = lo; j <= i; j++)
          {
            const float *k = kv + (size_t) j * ldkv + (size_t) g * hd;
            double dot = 0.0;
            for (int d = 0; d < hd; d++)
              dot += (double) qr[d] * k[d];
            w[j] = dot * scale;
            if (softcap > 0.0f)
              w[j] = softcap * tanh (w[j] / softcap);
            maxv = w[j] > maxv ? w[j] : maxv;
          }
        double sum = 0.0;
        for (int j = lo; j <= i; j++)
          {
            w[j] = exp (w[j] - maxv);
            sum += w[j];
          }
        for (int d = 0; d < hd; d++)
          {
            double acc = 0.0;
            for (int j = lo; j <= i; j++)
              acc += w[j] / sum * kv[(size_t) j * ldkv + (size_t) (NKV + g) * hd + d];
            out[(size_t) r * NH * hd + (size_t) h * hd + d] = (float) acc;
          }
      }
  g_free (w);
}

/* ------------------------------------------------------------------------------------------ */

/* sum_v exp(x_v - m) and sum_v exp(x_v - m) * (x_v - m), in 8 float lanes summed in double. */
LENS_HOT static void
row_exp_sums (const float *x, int V, float m, double *sum_e, double *sum_ed)
{
  float se[8] = {0}, sed[8] = {0};
  int v = 0;
  for (; v + 8 <= V; v += 8)
    for (int l = 0; l < 8; l++)
      {
        float d = x[v + l] - m;
        float e = exp_nonpositive (d);
        se[l] += e;
        sed[l] += e * d;
      }
  double a = 0.0, b = 0.0;
  for (int l = 0; l < 8; l++)
    {
      a += se[l];
      b += sed[l];
    }
  for (; v < V; v++)
    {
      float d = x[v] - m;
      float e = exp_nonpositive (d);
      a += e;
      b += (double) e * d;
    }
  *sum_e = a;
  *sum_ed = b;
}

static inline void
topk_insert (float val, int32_t id, int K, int *n, int32_t *ids, float *vals)
{
  int pos = *n < K ? (*n)++ : K - 1;
  while (pos > 0 && val > vals[pos - 1])
    {
      vals[pos] = vals[pos - 1];
      ids[pos] = ids[pos - 1];
      pos--;
    }
  vals[pos] = val;
  ids[pos] = id;
}

/* Keeps the K largest logits, best first; an equal logit does not displace an earlier id. Once
 * the list is full, a block of 16 with no logit above the K-th is skipped whole: after the first
 * few hundred logits almost every block is. The test is a comparison per lane OR-ed together, so
 * that it vectorises (a NaN compares false, as it never enters a full list). */
LENS_HOT static void
row_topk (const float *x, int V, int K, int32_t *ids, float *vals)
{
  enum
  {
    BLOCK = 16
  };
  int n = 0, v = 0;
  for (; v + BLOCK <= V; v += BLOCK)
    {
      if (n == K)
        {
          float kth = vals[K - 1];
          int above = 0;
          for (int l = 0; l < BLOCK; l++)
            above |= x[v + l] > kth;
          if (!above)
            continue;
        }
      for (int l = 0; l < BLOCK; l++)
        if (n < K || x[v + l] > vals[K - 1])
          topk_insert (x[v + l], v + l, K, &n, ids, vals);
    }
  for (; v < V; v++)
    if (n < K || x[v] > vals[K - 1])
      topk_insert (x[v], v, K, &n, ids, vals);
}

LensSoftmaxPartial
lens_softmax_partial (const float *logits, int V, int32_t first_id, int K, int32_t *top_ids,
                      float *top_logits)
{
  LensSoftmaxPartial p;
  row_topk (logits, V, K, top_ids, top_logits);
  p.max = top_logits[0]; /* K >= 1: the best logit is the row's maximum */
  row_exp_sums (logits, V, p.max, &p.sum_e, &p.sum_ed);
  for (int k = 0; k < K; k++)
    top_ids[k] += first_id;
  return p;
}

/* Adds a slice's sums, rescaled to the common maximum m, to s and u:
 * sum exp(l - m) = e^(m_j - m) S_j, sum exp(l - m)(l - m) = e^(m_j - m) (U_j + (m_j - m) S_j) */
static void
add_rescaled (const LensSoftmaxPartial *p, float m, double *s, double *u)
{
  double shift = (double) p->max - (double) m;
  double scale = exp (shift);
  *s += scale * p->sum_e;
  *u += scale * (p->sum_ed + shift * p->sum_e);
}

void
lens_softmax_fold (LensSoftmaxPartial *acc, int32_t *acc_ids, float *acc_logits,
                   const LensSoftmaxPartial *p, const int32_t *ids, const float *logits, int K,
                   int32_t *scratch_ids, float *scratch_logits)
{
  float m = p->max > acc->max ? p->max : acc->max;
  double s = 0.0, u = 0.0;
  add_rescaled (acc, m, &s, &u);
  add_rescaled (p, m, &s, &u);
  *acc = (LensSoftmaxPartial){.max = m, .sum_e = s, .sum_ed = u};

  /* the K best of both sorted lists; acc's ids are the lower ones, so it wins ties */
  int a = 0, b = 0;
  for (int k = 0; k < K; k++)
    if (b >= K || (a < K && !(logits[b] > acc_logits[a])))
      {
        scratch_ids[k] = acc_ids[a];
        scratch_logits[k] = acc_logits[a++];
      }
    else
      {
        scratch_ids[k] = ids[b];
        scratch_logits[k] = logits[b++];
      }
  memcpy (acc_ids, scratch_ids, sizeof (int32_t) * (size_t) K);
  memcpy (acc_logits, scratch_logits, sizeof (float) * (size_t) K);
}

LensSoftmaxStats
lens_softmax_merge (const LensSoftmaxPartial *parts, const int32_t *top_ids,
                    const float *top_logits, int n, int K, int32_t *out_ids, float *out_probs)
{
  float m = -INFINITY;
  for (int j = 0; j < n; j++)
    m = parts[j].max > m ? parts[j].max : m;
  double s = 0.0, u = 0.0;
  for (int j = 0; j < n; j++)
    add_rescaled (&parts[j], m, &s, &u);
  double log_s = log (s);

  /* Merge the sorted lists; on equal logits the earlier slice (lower ids) goes first. */
  int pos[n];
  for (int j = 0; j < n; j++)
    pos[j] = 0;
  for (int k = 0; k < K; k++)
    {
      int best = -1;
      for (int j = 0; j < n; j++)
        if (pos[j] < K
            && (best < 0 || top_logits[j * K + pos[j]] > top_logits[best * K + pos[best]]))
          best = j;
      out_ids[k] = top_ids[best * K + pos[best]];
      out_probs[k] = (float) exp ((double) top_logits[best * K + pos[best]] - (double) m - log_s);
      pos[best]++;
    }
  return (LensSoftmaxStats){.log_z = (float) (m + log_s), .entropy = (float) (log_s - u / s)};
}

LensSoftmaxStats
lens_softmax_topk (const float *logits, int V, int K, int32_t *top_ids, float *top_probs)
{
  g_autofree float *top_logits = g_new (float, K);
  LensSoftmaxPartial p = lens_softmax_partial (logits, V, 0, K, top_ids, top_logits);
  return lens_softmax_merge (&p, top_ids, top_logits, 1, K, top_ids, top_probs);
}

LensSoftmaxStats
lens_softmax_topk_ref (const float *logits, int V, int K, int32_t *top_ids, float *top_probs)
{
  double m = -INFINITY;
  for (int v = 0; v < V; v++)
    m = logits[v] > m ? logits[v] : m;
  double s = 0.0;
  for (int v = 0; v < V; v++)
    s += exp (logits[v] - m);
  double log_z = m + log (s);
  double h = 0.0;
  for (int v = 0; v < V; v++)
    {
      double p = exp (logits[v] - log_z);
      if (p > 0.0)
        h -= p * (logits[v] - log_z);
    }
  /* selection sort on a copy of the candidates: O(V K), fine for a reference */
  for (int k = 0; k < K; k++)
    {
      int best = -1;
      for (int v = 0; v < V; v++)
        {
          gboolean taken = FALSE;
          for (int j = 0; j < k; j++)
            taken |= top_ids[j] == v;
          if (!taken && (best < 0 || logits[v] > logits[best]))
            best = v;
        }
      top_ids[k] = best;
      top_probs[k] = (float) exp (logits[best] - log_z);
    }
  return (LensSoftmaxStats){.log_z = (float) log_z, .entropy = (float) h};
}
