/* lens-ops.c: forward-pass and lens kernels. GEMMs go to OpenBLAS; the element-wise loops are
 * written so GCC vectorises them, and are compiled for AVX2+FMA beside a baseline version. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>
#include <glib.h>

#include "lens-ops.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)                                \
    && !defined(__SANITIZE_ADDRESS__)
#define LENS_HOT __attribute__ ((target_clones ("arch=x86-64-v3", "default")))
#else
#define LENS_HOT
#endif

/* ------------------------------------------------------------------------------------------ */
/* exp for x <= 0, vectorisable: 2^x = 2^round(x) * 2^frac, degree-7 polynomial for the
 * fraction. Relative error < 2e-7 over [-87, 0]; exp(x < -87) flushes to 0. */
static inline float
exp_nonpositive (float x)
{
  x = x < -87.0f ? -87.0f : x;
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
  return p * scale;
}

/* ------------------------------------------------------------------------------------------ */

void
lens_blas_use_one_thread (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done))
    {
      openblas_set_num_threads (1);
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
    /* OpenBLAS 0.3.21 runs a one-row sgemm through its packed GEMM path: measured 4x slower
     * than the GEMV it amounts to (768 x 3072, this machine). One-token prompts take this. */
    if (M == 1 && b_transposed)
      cblas_sgemv (CblasRowMajor, CblasNoTrans, n1 - n0, K, 1.0f, Bj, ldb, A, 1, beta, C + n0, 1);
    else if (M == 1)
      cblas_sgemv (CblasRowMajor, CblasTrans, K, n1 - n0, 1.0f, Bj, ldb, A, 1, beta, C + n0, 1);
    else
      cblas_sgemm (CblasRowMajor, CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans, M,
                   n1 - n0, K, 1.0f, A, lda, Bj, ldb, beta, C + n0, ldc);
  }
}

void
lens_matmul_forward (float *out, const float *inp, const float *w, const float *bias, int N, int IC,
                     int OC)
{
  /* out (N, OC) = bias broadcast, then += inp (N, IC) . w (IC, OC) */
  float beta = 0.0f;
  if (bias != NULL)
    {
      for (int n = 0; n < N; n++)
        memcpy (out + (size_t) n * OC, bias, sizeof (float) * (size_t) OC);
      beta = 1.0f;
    }
  lens_sgemm_split (N, OC, IC, inp, IC, w, OC, FALSE, beta, out, OC);
}

void
lens_matmul_forward_ref (float *out, const float *inp, const float *w, const float *bias, int N,
                         int IC, int OC)
{
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++)
      {
        double acc = bias != NULL ? bias[o] : 0.0;
        for (int i = 0; i < IC; i++)
          acc += (double) inp[(size_t) n * IC + i] * (double) w[(size_t) i * OC + o];
        out[(size_t) n * OC + o] = (float) acc;
      }
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
        y[i] = (float) ((x[i] - mean) * rstd) * weight[i] + bias[i];
    }
}

LENS_HOT void
lens_gelu_new_forward (float *x, size_t N)
{
  const float s = 0.7978845608028654f; /* sqrt(2 / pi) */
  for (size_t i = 0; i < N; i++)
    {
      float v = x[i];
      float u = s * (v + 0.044715f * v * v * v);
      /* tanh(u) = sign(u) * (1 - 2 / (exp(2|u|) + 1)), through exp of a non-positive argument */
      float a = u < 0.0f ? -u : u;
      float e = exp_nonpositive (-2.0f * a);
      float th = (1.0f - e) / (1.0f + e);
      th = u < 0.0f ? -th : th;
      x[i] = 0.5f * v * (1.0f + th);
    }
}

void
lens_residual_add (float *x, const float *y, size_t N)
{
  for (size_t i = 0; i < N; i++)
    x[i] += y[i];
}

/* Causal softmax of row i of scores (T, T) over columns 0..i, zeroing the rest. */
static void
causal_softmax_row (float *row, int i, int T)
{
  float maxv = -INFINITY;
  for (int j = 0; j <= i; j++)
    maxv = row[j] > maxv ? row[j] : maxv;
  double sum = 0.0;
  for (int j = 0; j <= i; j++)
    {
      row[j] = expf (row[j] - maxv);
      sum += row[j];
    }
  float inv = (float) (1.0 / sum);
  for (int j = 0; j <= i; j++)
    row[j] *= inv;
  for (int j = i + 1; j < T; j++)
    row[j] = 0.0f;
}

static int
attention_threads (int NH)
{
  return MAX (1, MIN (omp_get_max_threads (), NH));
}

size_t
lens_attention_scratch_floats (int T, int NH)
{
  return (size_t) attention_threads (NH) * (size_t) T * (size_t) T;
}

void
lens_attention_forward (float *out, const float *qkv, float *scratch, int T, int C, int NH)
{
  int hs = C / NH;
  int C3 = 3 * C;
  float scale = 1.0f / sqrtf ((float) hs);
  lens_blas_use_one_thread ();

  /* heads are independent: split them over the threads, each with its own (T, T) scores */
#pragma omp parallel for num_threads(attention_threads(NH)) schedule(static)
  for (int h = 0; h < NH; h++)
    {
      const float *q = qkv + h * hs;                                 /* (T, hs), stride 3C */
      const float *k = qkv + C + h * hs;                             /* (T, hs), stride 3C */
      const float *v = qkv + 2 * C + h * hs;                         /* (T, hs), stride 3C */
      float *att = scratch + (size_t) omp_get_thread_num () * T * T; /* (T, T) */

      /* att = scale * q . k^T */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, C3, k, C3, 0.0f,
                   att, T);
      for (int i = 0; i < T; i++)
        causal_softmax_row (att + (size_t) i * T, i, T);
      /* out[:, h*hs : (h+1)*hs] = att (T, T) . v (T, hs) */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, att, T, v, C3, 0.0f,
                   out + h * hs, C);
    }
}

void
lens_attention_forward_ref (float *out, const float *qkv, int T, int C, int NH)
{
  int hs = C / NH;
  double scale = 1.0 / sqrt ((double) hs);
  double *w = g_new (double, T);

  for (int h = 0; h < NH; h++)
    for (int i = 0; i < T; i++)
      {
        const float *q = qkv + (size_t) i * 3 * C + h * hs;
        double maxv = -INFINITY;
        for (int j = 0; j <= i; j++)
          {
            const float *k = qkv + (size_t) j * 3 * C + C + h * hs;
            double dot = 0.0;
            for (int d = 0; d < hs; d++)
              dot += (double) q[d] * k[d];
            w[j] = dot * scale;
            maxv = w[j] > maxv ? w[j] : maxv;
          }
        double sum = 0.0;
        for (int j = 0; j <= i; j++)
          {
            w[j] = exp (w[j] - maxv);
            sum += w[j];
          }
        for (int d = 0; d < hs; d++)
          {
            double acc = 0.0;
            for (int j = 0; j <= i; j++)
              acc += w[j] / sum * qkv[(size_t) j * 3 * C + 2 * C + h * hs + d];
            out[(size_t) i * C + h * hs + d] = (float) acc;
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
 * the list is full, a block of 8 whose largest value does not beat the K-th is skipped whole:
 * after the first few hundred logits almost every block is. */
LENS_HOT static void
row_topk (const float *x, int V, int K, int32_t *ids, float *vals)
{
  int n = 0, v = 0;
  for (; v + 8 <= V; v += 8)
    {
      if (n == K)
        {
          float block_max = -INFINITY; /* a NaN never becomes the maximum */
          for (int l = 0; l < 8; l++)
            block_max = x[v + l] > block_max ? x[v + l] : block_max;
          if (!(block_max > vals[K - 1]))
            continue;
        }
      for (int l = 0; l < 8; l++)
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
