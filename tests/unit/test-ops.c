/* Optimised kernels against their naive references (double accumulation). */
#include <math.h>
#include <glib.h>

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

static void
test_matmul (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (1);
  const int shapes[][3] = {{1, 8, 24}, {1, 300, 7}, {7, 33, 5}, {64, 96, 288}};
  for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      int N = shapes[s][0], IC = shapes[s][1], OC = shapes[s][2];
      g_autofree float *inp = random_floats (rng, (size_t) N * IC, 1.0);
      g_autofree float *w = random_floats (rng, (size_t) IC * OC, 0.5);
      g_autofree float *bias = random_floats (rng, OC, 0.5);
      g_autofree float *out = g_new (float, ((size_t) N * OC));
      g_autofree float *ref = g_new (float, ((size_t) N * OC));
      lens_matmul_forward (out, inp, w, bias, N, IC, OC);
      lens_matmul_forward_ref (ref, inp, w, bias, N, IC, OC);
      g_assert_cmpfloat (max_abs_diff (out, ref, (size_t) N * OC), <, 1e-4);
      lens_matmul_forward (out, inp, w, NULL, N, IC, OC);
      lens_matmul_forward_ref (ref, inp, w, NULL, N, IC, OC);
      g_assert_cmpfloat (max_abs_diff (out, ref, (size_t) N * OC), <, 1e-4);
    }
}

static void
test_attention (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (2);
  const int shapes[][3] = {{1, 8, 2}, {5, 12, 3}, {37, 64, 4}};
  for (size_t s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      int T = shapes[s][0], C = shapes[s][1], NH = shapes[s][2];
      g_autofree float *qkv = random_floats (rng, (size_t) T * 3 * C, 2.0);
      g_autofree float *scratch = g_new (float, lens_attention_scratch_floats (T, NH));
      g_autofree float *out = g_new (float, ((size_t) T * C));
      g_autofree float *ref = g_new (float, ((size_t) T * C));
      lens_attention_forward (out, qkv, scratch, T, C, NH);
      lens_attention_forward_ref (ref, qkv, T, C, NH);
      g_assert_cmpfloat (max_abs_diff (out, ref, (size_t) T * C), <, 1e-5);
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
  g_test_add_func ("/ops/matmul", test_matmul);
  g_test_add_func ("/ops/attention", test_attention);
  g_test_add_func ("/ops/gelu-new", test_gelu);
  g_test_add_func ("/ops/layernorm-large-mean", test_layernorm);
  g_test_add_func ("/ops/softmax-topk", test_softmax_topk);
  g_test_add_func ("/ops/softmax-topk-orders", test_softmax_topk_orders);
  g_test_add_func ("/ops/softmax-uniform", test_softmax_uniform);
  g_test_add_func ("/ops/softmax-merge", test_softmax_merge);
  g_test_add_func ("/ops/softmax-fold", test_softmax_fold);
  return g_test_run ();
}
