/* Optimised kernels against their naive references (double accumulation). */
#include <math.h>
#include <omp.h>
#include <string.h>
#include <glib.h>

#include "lens-convert.h"
#include "lens-ops.h"

static float *
random_floats (GRand *rng, size_t n, double scale)
{
  float *v = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    v[i] = (float) (g_rand_double_range (rng, -1.0, 1.0) * scale);
  return v;
}

static double
max_abs_diff (const float *a, const float *b, size_t n)
{
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    m = MAX (m, fabs ((double) a[i] - (double) b[i]));
  return m;
}

/* A weight matrix of `rows` x `cols` in `dtype`, from f32 values (rounded to the type), stored
 * at an odd offset when `unaligned` so that it cannot be used in place. */
typedef struct
{
  guint8 *storage;
  LensMat mat;
} TestMat;

static uint16_t
to_bf16 (float f)
{
  uint32_t b;
  memcpy (&b, &f, 4);
  return (uint16_t) ((b + 0x7fff + ((b >> 16) & 1)) >> 16); /* round to nearest even */
}

static void
test_mat_init (TestMat *tm, const float *values, int rows, int cols, LensDType dtype,
               gboolean in_out, gboolean unaligned)
{
  size_t n = (size_t) rows * cols, es = lens_dtype_size (dtype);
  tm->storage = g_malloc (n * es + 1);
  guint8 *p = tm->storage + (unaligned ? 1 : 0);
  for (size_t i = 0; i < n; i++)
    {
      if (dtype == LENS_DTYPE_F32)
        memcpy (p + 4 * i, &values[i], 4);
      else
        {
          /* F16 through the table-based converter's inverse is not available: BF16 covers
           * rounding, and F16 values are chosen exactly representable below */
          uint16_t h = dtype == LENS_DTYPE_BF16 ? to_bf16 (values[i]) : 0;
          if (dtype == LENS_DTYPE_F16)
            {
              /* values are multiples of 1/64 in [-2, 2]: exact in F16 */
              float v = values[i];
              int sign = v < 0;
              float a = fabsf (v);
              if (a == 0.0f)
                h = 0;
              else
                {
                  int e;
                  float m = frexpf (a, &e); /* a = m 2^e, m in [0.5, 1) */
                  h = (uint16_t) (((e - 1 + 15) << 10) | ((int) ((m * 2.0f - 1.0f) * 1024.0f)));
                }
              h |= (uint16_t) (sign << 15);
            }
          memcpy (p + 2 * i, &h, 2);
        }
    }
  tm->mat = (LensMat){.data = p,
                      .dtype = dtype,
                      .direct = dtype == LENS_DTYPE_F32 && !unaligned,
                      .in_out = in_out,
                      .rows = rows,
                      .cols = cols};
}

static void
test_linear (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (1);
  /* N, IC, OC: one-row (GEMV), odd sizes, several tiles per thread (IC 20000 -> 52 columns a
   * tile), a split over threads; 2 to 256 rows take the few-row kernels where the CPU has them,
   * 300 rows OpenBLAS's SGEMM */
  const int shapes[][3]
      = {{1, 8, 24}, {1, 300, 7}, {7, 33, 5}, {64, 96, 288}, {3, 20000, 130}, {300, 40, 70}};
  const LensDType dtypes[] = {LENS_DTYPE_F32, LENS_DTYPE_F16, LENS_DTYPE_BF16};
  for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (size_t d = 0; d < G_N_ELEMENTS (dtypes); d++)
      for (int in_out = 0; in_out < 2; in_out++)
        for (int unaligned = 0; unaligned < 2; unaligned++)
          {
            int N = shapes[s][0], IC = shapes[s][1], OC = shapes[s][2];
            int rows = in_out ? IC : OC, cols = in_out ? OC : IC;
            g_autofree float *inp = random_floats (rng, (size_t) N * IC, 1.0);
            g_autofree float *w = random_floats (rng, (size_t) IC * OC, 0.5);
            for (size_t i = 0; i < (size_t) IC * OC; i++)
              w[i] = roundf (w[i] * 64.0f) / 64.0f; /* exact in F16 */
            g_autofree float *bias = random_floats (rng, OC, 0.5);
            TestMat tm;
            test_mat_init (&tm, w, rows, cols, dtypes[d], in_out, unaligned);
            int ldo = OC + 3; /* the output may be part of a wider buffer */
            g_autofree float *out = g_new0 (float, ((size_t) N * ldo));
            g_autofree float *ref = g_new0 (float, ((size_t) N * ldo));
            g_autofree float *scratch
                = g_new (float, (omp_get_max_threads () * lens_linear_scratch_floats (IC)));
            lens_linear_forward (out, ldo, inp, N, &tm.mat, bias, scratch);
            lens_linear_forward_ref (ref, ldo, inp, N, &tm.mat, bias);
            g_assert_cmpfloat (max_abs_diff (out, ref, (size_t) N * ldo), <, 1e-3);
            lens_linear_forward (out, ldo, inp, N, &tm.mat, NULL, scratch);
            lens_linear_forward_ref (ref, ldo, inp, N, &tm.mat, NULL);
            g_assert_cmpfloat (max_abs_diff (out, ref, (size_t) N * ldo), <, 1e-3);
            /* the reference reads the stored values: compare one element by hand */
            g_autofree float *row0 = g_new (float, cols);
            lens_mat_rows_f32 (&tm.mat, 0, 1, row0);
            g_assert_cmpfloat (fabsf (row0[0] - w[0]), <=,
                               dtypes[d] == LENS_DTYPE_BF16 ? fabsf (w[0]) / 128.0f : 0.0f);
            g_free (tm.storage);
          }
}

/* The vectorised F16 conversion against its case-by-case reference, for every bit pattern
 * (normals, subnormals, zeros, infinities, NaNs), aligned and not. */
static void
test_f16_conversion (void)
{
  g_autofree uint16_t *all = g_new (uint16_t, 65536 + 1);
  for (uint32_t i = 0; i < 65536; i++)
    all[i] = (uint16_t) GUINT16_TO_LE ((uint16_t) i);
  g_autofree guint8 *odd = g_malloc (2 * 65536 + 1);
  memcpy (odd + 1, all, 2 * 65536);
  g_autofree float *fast = g_new (float, 65536);
  g_autofree float *slow = g_new (float, 65536);
  for (int unaligned = 0; unaligned < 2; unaligned++)
    {
      lens_convert_to_f32 (fast, unaligned ? (const void *) (odd + 1) : all, LENS_DTYPE_F16, 65536);
      for (uint32_t i = 0; i < 65536; i++)
        {
          float want = lens_f16_to_f32_ref ((uint16_t) i);
          if (isnan (want))
            g_assert_true (isnan (fast[i]));
          else
            g_assert_cmpmem (&fast[i], 4, &want, 4);
        }
    }
  /* BF16 is the top half of an f32 */
  lens_convert_to_f32 (slow, all, LENS_DTYPE_BF16, 65536);
  for (uint32_t i = 0; i < 65536; i++)
    {
      uint32_t bits = i << 16;
      g_assert_cmpmem (&slow[i], 4, &bits, 4);
    }
}

static void
test_attention (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (2);
  /* T, NH, NKV, hd, window: MHA, GQA, MQA, windows shorter than the prompt, and prompts longer
   * than one query block (128) */
  const int shapes[][5] = {{1, 2, 2, 4, 0},   {5, 3, 3, 4, 0},    {37, 4, 4, 16, 0},
                           {37, 4, 2, 8, 0},  {20, 6, 1, 8, 0},   {30, 4, 2, 8, 7},
                           {300, 2, 1, 8, 0}, {300, 4, 2, 8, 50}, {260, 2, 2, 4, 1}};
  for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      int T = shapes[s][0], NH = shapes[s][1], NKV = shapes[s][2], hd = shapes[s][3];
      int window = shapes[s][4];
      int Q = NH * hd, ld = (NH + 2 * NKV) * hd + 5;
      float scale = 1.0f / sqrtf ((float) hd);
      g_autofree float *qkv = random_floats (rng, (size_t) T * ld, 2.0);
      g_autofree float *scratch = g_new (float, lens_attention_scratch_floats (T, T));
      g_autofree float *out = g_new (float, ((size_t) T * NH * hd));
      g_autofree float *ref = g_new (float, ((size_t) T * NH * hd));
      for (int capped = 0; capped < 2; capped++)
        {
          /* scores of random q, k reach about 6: a cap of 2 changes them */
          float cap = capped ? 2.0f : 0.0f;
          lens_attention_forward (out, qkv, ld, qkv + Q, ld, scratch, 0, T, NH, NKV, hd, window,
                                  scale, cap);
          lens_attention_forward_ref (ref, qkv, ld, qkv + Q, ld, 0, T, NH, NKV, hd, window, scale,
                                      cap);
          g_assert_cmpfloat (max_abs_diff (out, ref, (size_t) T * NH * hd), <, 1e-5);
          /* the last positions alone, against keys and values of every position (a prompt
           * extended by new tokens): the same rows as the whole computation */
          int q0 = T / 3, n = T - q0;
          g_autofree float *tail = g_new (float, ((size_t) n * NH * hd));
          lens_attention_forward (tail, qkv + (size_t) q0 * ld, ld, qkv + Q, ld, scratch, q0, n, NH,
                                  NKV, hd, window, scale, cap);
          g_assert_cmpfloat (max_abs_diff (tail, out + (size_t) q0 * NH * hd, (size_t) n * NH * hd),
                             <, 1e-5);
        }
    }
}

/* RoPE against the rotation written per pair as a complex product, positions from pos0. */
static void
test_rope (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (5);
  int T = 9, NH = 3, hd = 8, rot = 8, pos0 = 4, ld = NH * hd + 2;
  double inv_freq[4] = {1.0, 0.3, 0.01, 1e-4};
  g_autofree float *x = random_floats (rng, (size_t) T * ld, 1.0);
  g_autofree float *orig = g_memdup2 (x, sizeof (float) * T * ld);
  g_autofree float *cos_t = g_new (float, T *rot / 2);
  g_autofree float *sin_t = g_new (float, T *rot / 2);
  lens_rope_table (inv_freq, rot, pos0, T, cos_t, sin_t);
  lens_rope_apply (x, ld, T, NH, hd, rot, cos_t, sin_t);
  for (int t = 0; t < T; t++)
    for (int h = 0; h < NH; h++)
      for (int i = 0; i < rot / 2; i++)
        {
          const float *o = orig + (size_t) t * ld + h * hd;
          const float *y = x + (size_t) t * ld + h * hd;
          double a = (pos0 + t) * inv_freq[i];
          /* (x_i + i x_{i + d/2}) e^{i a} */
          double re = o[i] * cos (a) - o[i + rot / 2] * sin (a);
          double im = o[i] * sin (a) + o[i + rot / 2] * cos (a);
          g_assert_cmpfloat (fabs (y[i] - re), <, 1e-5);
          g_assert_cmpfloat (fabs (y[i + rot / 2] - im), <, 1e-5);
        }
  /* columns beyond the heads are untouched */
  for (int t = 0; t < T; t++)
    for (int j = NH * hd; j < ld; j++)
      g_assert_cmpfloat (x[(size_t) t * ld + j], ==, orig[(size_t) t * ld + j]);
}

static void
test_rmsnorm_glu (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (6);
  int N = 3, C = 50;
  g_autofree float *x = random_floats (rng, (size_t) N * C, 3.0);
  g_autofree float *w = random_floats (rng, C, 1.0);
  g_autofree float *y = g_new (float, N *C);
  lens_rmsnorm_forward (y, x, w, N, C, 1e-6f);
  for (int n = 0; n < N; n++)
    {
      double ss = 0.0;
      for (int i = 0; i < C; i++)
        ss += (double) x[n * C + i] * x[n * C + i];
      for (int i = 0; i < C; i++)
        g_assert_cmpfloat (fabs (y[n * C + i] - x[n * C + i] / sqrt (ss / C + 1e-6) * w[i]), <,
                           1e-5);
    }
  /* in place gives the same */
  lens_rmsnorm_forward (x, x, w, N, C, 1e-6f);
  g_assert_cmpmem (x, sizeof (float) * N * C, y, sizeof (float) * N * C);

  /* soft-cap against cap tanh(x / cap) in double, scores far past the cap included */
  g_autofree float *capped = random_floats (rng, 1000, 200.0);
  g_autofree float *raw = g_memdup2 (capped, sizeof (float) * 1000);
  lens_softcap_forward (capped, 1000, 30.0f);
  for (int i = 0; i < 1000; i++)
    g_assert_cmpfloat (fabs (capped[i] - 30.0 * tanh (raw[i] / 30.0)), <=, 30.0 * 5e-7);

  /* gated activations against their formulas in double, separate and fused (gate | up rows) */
  int T = 5, F = 400;
  g_autofree float *fused = random_floats (rng, (size_t) T * 2 * F, 8.0);
  g_autofree float *out = g_new (float, T *F);
  const LensActivation acts[] = {LENS_ACT_SILU, LENS_ACT_GELU_TANH, LENS_ACT_GELU_ERF};
  for (size_t k = 0; k < G_N_ELEMENTS (acts); k++)
    {
      lens_glu_forward (out, fused, 2 * F, fused + F, 2 * F, T, F, acts[k]);
      for (int t = 0; t < T; t++)
        for (int i = 0; i < F; i++)
          {
            double v = fused[t * 2 * F + i], u = fused[t * 2 * F + F + i], a;
            if (acts[k] == LENS_ACT_SILU)
              a = v / (1.0 + exp (-v));
            else if (acts[k] == LENS_ACT_GELU_TANH)
              a = 0.5 * v * (1.0 + tanh (sqrt (2.0 / G_PI) * (v + 0.044715 * v * v * v)));
            else
              a = 0.5 * v * (1.0 + erf (v / sqrt (2.0)));
            double want = a * u;
            /* float math on inputs up to 8: a few ulps of 8 */
            g_assert_cmpfloat (fabs (out[t * F + i] - want), <=, 2e-6 * fabs (want) + 4e-6);
          }
      /* in place over `up` with stride F, as the forward pass calls it */
      g_autofree float *gate = g_new (float, T *F);
      g_autofree float *up = g_new (float, T *F);
      for (int t = 0; t < T; t++)
        {
          memcpy (gate + t * F, fused + t * 2 * F, sizeof (float) * F);
          memcpy (up + t * F, fused + t * 2 * F + F, sizeof (float) * F);
        }
      lens_glu_forward (up, gate, F, up, F, T, F, acts[k]);
      g_assert_cmpmem (up, sizeof (float) * T * F, out, sizeof (float) * T * F);
    }
}

static void
test_gelu (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (3);
  size_t n = 10001;
  g_autofree float *x = random_floats (rng, n, 12.0);
  x[0] = 0.0f;
  x[1] = -30.0f;
  x[2] = 30.0f;
  g_autofree float *y = g_memdup2 (x, n * sizeof (float));
  lens_gelu_new_forward (y, n);
  for (size_t i = 0; i < n; i++)
    {
      double v = x[i];
      double want = 0.5 * v * (1.0 + tanh (sqrt (2.0 / G_PI) * (v + 0.044715 * v * v * v)));
      g_assert_cmpfloat (fabs (y[i] - want), <=, 2e-6 * MAX (1.0, fabs (want)));
    }
}

static void
test_layernorm (void)
{
  /* A large common offset: the lens applies ln_f to residuals whose mean dwarfs their spread. */
  int C = 64;
  float x[64], w[64], b[64], y[64];
  for (int i = 0; i < C; i++)
    {
      x[i] = 1000.0f + (float) (i % 7) * 0.01f;
      w[i] = 1.0f + 0.01f * i;
      b[i] = 0.1f * (float) (i % 3);
    }
  lens_layernorm_forward (y, x, w, b, 1, C, 1e-5f);
  double mean = 0.0, var = 0.0;
  for (int i = 0; i < C; i++)
    mean += x[i];
  mean /= C;
  for (int i = 0; i < C; i++)
    var += (x[i] - mean) * (x[i] - mean);
  var /= C;
  for (int i = 0; i < C; i++)
    {
      double want = (x[i] - mean) / sqrt (var + 1e-5) * w[i] + b[i];
      g_assert_cmpfloat (fabs (y[i] - want), <, 1e-4);
    }
}

static void
test_softmax_topk (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (4);
  const int sizes[] = {1, 7, 8, 9, 1000, 50257};
  for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      int V = sizes[s], K = MIN (10, V);
      g_autofree float *logits = random_floats (rng, V, 15.0);
      if (V > 20)
        {
          logits[3] = logits[17] = 40.0f; /* a tie: the lower id must come first */
          logits[V - 1] = -200.0f;        /* underflows exp: must not disturb the sums */
        }
      int32_t ids[10], ref_ids[10];
      float probs[10], ref_probs[10];
      LensSoftmaxStats st = lens_softmax_topk (logits, V, K, ids, probs);
      LensSoftmaxStats ref = lens_softmax_topk_ref (logits, V, K, ref_ids, ref_probs);
      g_assert_cmpfloat (fabs (st.log_z - ref.log_z), <, 1e-5 * MAX (1.0, fabs (ref.log_z)));
      g_assert_cmpfloat (fabs (st.entropy - ref.entropy), <, 1e-5);
      for (int k = 0; k < K; k++)
        {
          g_assert_cmpint (ids[k], ==, ref_ids[k]);
          g_assert_cmpfloat (fabs (probs[k] - ref_probs[k]), <, 1e-6);
        }
      if (V > 20)
        {
          g_assert_cmpint (ids[0], ==, 3);
          g_assert_cmpint (ids[1], ==, 17);
        }
    }
}

/* The top-k scan skips blocks of 8 that cannot enter the list; rows full of ties (the lower id
 * wins), rising rows (every value enters) and falling rows must still give the reference's ids. */
static void
test_softmax_topk_orders (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (11);
  const int sizes[] = {9, 100, 1003};
  const int ks[] = {1, 5, 8, 64};
  for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (int pattern = 0; pattern < 3; pattern++)
      for (size_t ki = 0; ki < G_N_ELEMENTS (ks); ki++)
        {
          int V = sizes[s], K = MIN (ks[ki], V);
          g_autofree float *logits = g_new (float, V);
          for (int v = 0; v < V; v++)
            logits[v] = pattern == 0   ? (float) g_rand_int_range (rng, 0, 4) /* 4 levels */
                        : pattern == 1 ? (float) v * 0.01f                    /* rising */
                                       : (float) (V - v) * 0.01f;             /* falling */
          g_autofree int32_t *ids = g_new (int32_t, K);
          g_autofree int32_t *ref_ids = g_new (int32_t, K);
          g_autofree float *probs = g_new (float, K);
          g_autofree float *ref_probs = g_new (float, K);
          lens_softmax_topk (logits, V, K, ids, probs);
          lens_softmax_topk_ref (logits, V, K, ref_ids, ref_probs);
          for (int k = 0; k < K; k++)
            g_assert_cmpint (ids[k], ==, ref_ids[k]);
        }
}

/* Partials over vocabulary slices, merged, equal the whole-row reference (ties across a slice
 * boundary keep the lower id first). */
static void
test_softmax_merge (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (5);
  int V = 5003, K = 10;
  g_autofree float *logits = random_floats (rng, V, 15.0);
  logits[2400] = logits[2600] = 50.0f; /* a tie straddling the split at 2501 */
  for (int n = 1; n <= 4; n++)
    {
      LensSoftmaxPartial parts[4];
      int32_t ids[4 * 10], out_ids[10], ref_ids[10];
      float top[4 * 10], out_probs[10], ref_probs[10];
      for (int j = 0; j < n; j++)
        {
          int v0 = V * j / n, v1 = V * (j + 1) / n;
          parts[j] = lens_softmax_partial (logits + v0, v1 - v0, v0, K, ids + j * K, top + j * K);
        }
      LensSoftmaxStats st = lens_softmax_merge (parts, ids, top, n, K, out_ids, out_probs);
      LensSoftmaxStats ref = lens_softmax_topk_ref (logits, V, K, ref_ids, ref_probs);
      g_assert_cmpfloat (fabs (st.log_z - ref.log_z), <, 1e-5 * fabs (ref.log_z));
      g_assert_cmpfloat (fabs (st.entropy - ref.entropy), <, 1e-5);
      for (int k = 0; k < K; k++)
        {
          g_assert_cmpint (out_ids[k], ==, ref_ids[k]);
          g_assert_cmpfloat (fabs (out_probs[k] - ref_probs[k]), <, 1e-6);
        }
      g_assert_cmpint (out_ids[0], ==, 2400);
      g_assert_cmpint (out_ids[1], ==, 2600);
    }
}

/* Folding the partials of consecutive slices one by one into a running partial, then merging
 * two such running partials, equals the whole-row reference; equal logits across slices keep the
 * lower id first. */
static void
test_softmax_fold (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (6);
  int V = 6007, K = 12;
  g_autofree float *logits = random_floats (rng, V, 15.0);
  logits[100] = logits[3100] = logits[5900] = 60.0f; /* a tie over three slices and both halves */
  logits[700] = logits[701] = 55.0f;                 /* a tie inside one slice */
  for (int n = 2; n <= 6; n++)                       /* slices per half */
    {
      LensSoftmaxPartial acc[2];
      int32_t acc_ids[2 * 12], ids[12], scratch_ids[12], out_ids[12], ref_ids[12];
      float acc_top[2 * 12], top[12], scratch_top[12], out_probs[12], ref_probs[12];
      for (int half = 0; half < 2; half++)
        for (int j = 0; j < n; j++)
          {
            int t = half * n + j;
            int v0 = V * t / (2 * n), v1 = V * (t + 1) / (2 * n);
            if (j == 0)
              acc[half] = lens_softmax_partial (logits + v0, v1 - v0, v0, K, acc_ids + half * K,
                                                acc_top + half * K);
            else
              {
                LensSoftmaxPartial p = lens_softmax_partial (logits + v0, v1 - v0, v0, K, ids, top);
                lens_softmax_fold (&acc[half], acc_ids + half * K, acc_top + half * K, &p, ids, top,
                                   K, scratch_ids, scratch_top);
              }
          }
      LensSoftmaxStats st = lens_softmax_merge (acc, acc_ids, acc_top, 2, K, out_ids, out_probs);
      LensSoftmaxStats ref = lens_softmax_topk_ref (logits, V, K, ref_ids, ref_probs);
      g_assert_cmpfloat (fabs (st.log_z - ref.log_z), <, 1e-5 * fabs (ref.log_z));
      g_assert_cmpfloat (fabs (st.entropy - ref.entropy), <, 1e-5);
      for (int k = 0; k < K; k++)
        {
          g_assert_cmpint (out_ids[k], ==, ref_ids[k]);
          g_assert_cmpfloat (fabs (out_probs[k] - ref_probs[k]), <, 1e-6);
        }
      const int32_t expected[] = {100, 3100, 5900, 700, 701};
      for (int k = 0; k < 5; k++)
        g_assert_cmpint (out_ids[k], ==, expected[k]);
    }
}

static void
test_softmax_uniform (void)
{
  /* Equal logits: entropy is exactly log V and every probability 1/V. */
  int V = 4096;
  g_autofree float *logits = g_new0 (float, V);
  int32_t ids[3];
  float probs[3];
  LensSoftmaxStats st = lens_softmax_topk (logits, V, 3, ids, probs);
  g_assert_cmpfloat (fabs (st.entropy - log (V)), <, 1e-5);
  g_assert_cmpfloat (fabs (probs[0] - 1.0 / V), <, 1e-9);
  g_assert_cmpint (ids[0], ==, 0);
  g_assert_cmpint (ids[2], ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/linear", test_linear);
  g_test_add_func ("/ops/f16-conversion", test_f16_conversion);
  g_test_add_func ("/ops/attention", test_attention);
  g_test_add_func ("/ops/rope", test_rope);
  g_test_add_func ("/ops/rmsnorm-glu", test_rmsnorm_glu);
  g_test_add_func ("/ops/gelu-new", test_gelu);
  g_test_add_func ("/ops/layernorm-large-mean", test_layernorm);
  g_test_add_func ("/ops/softmax-topk", test_softmax_topk);
  g_test_add_func ("/ops/softmax-topk-orders", test_softmax_topk_orders);
  g_test_add_func ("/ops/softmax-uniform", test_softmax_uniform);
  g_test_add_func ("/ops/softmax-merge", test_softmax_merge);
  g_test_add_func ("/ops/softmax-fold", test_softmax_fold);
  return g_test_run ();
}
