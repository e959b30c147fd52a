/* The small-M GEMM kernels (lens-gemm-small.h) of every instruction set this CPU runs, against
 * the naive reference: every layout, tile edge (rows, columns, k blocks, lanes) and leading
 * dimension, with beta 0 (C must not be read: it holds NaN) and 1, and nothing written outside
 * C's M x N. The tolerance is the bound on float rounding of a K-term sum in any order,
 * (K + 2) eps sum_k |a_k b_k|: an element that misses or repeats one of its products almost
 * always fails it (at K 600 the bound is about 1% of the mass, against products of random values
 * in [-1, 1]), and a wrong row, column or lane far more. */
#include <float.h>
#include <glib.h>
#include <math.h>

#include "lens-gemm-small.h"

static float *
random_floats (GRand *rng, size_t n)
{
  float *p = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    p[i] = (float) g_rand_double_range (rng, -1.0, 1.0);
  return p;
}

static void
check_product (LensGemmIsa isa, GRand *rng, int M, int N, int K, gboolean b_transposed, float beta)
{
  int lda = K + 3, ldc = N + 7;
  int ldb = b_transposed ? K + 5 : N + 5;
  size_t b_size = b_transposed ? (size_t) N * ldb : (size_t) K * ldb;
  g_autofree float *A = random_floats (rng, (size_t) M * lda);
  g_autofree float *B = random_floats (rng, b_size);
  g_autofree float *C = random_floats (rng, (size_t) M * ldc);
  g_autofree float *ref = g_memdup2 (C, sizeof (float) * (size_t) M * ldc);
  if (beta == 0.0f)
    for (int m = 0; m < M; m++)
      for (int n = 0; n < N; n++)
        C[(size_t) m * ldc + n] = NAN;

  lens_gemm_small (isa, M, N, K, A, lda, B, ldb, b_transposed, beta, C, ldc);
  lens_gemm_small_ref (M, N, K, A, lda, B, ldb, b_transposed, beta, ref, ldc);

  for (int m = 0; m < M; m++)
    for (int n = 0; n < ldc; n++)
      {
        float got = C[(size_t) m * ldc + n], want = ref[(size_t) m * ldc + n];
        if (n >= N)
          {
            /* the padding between rows is left as it was */
            if (got != want)
              g_error ("%s M %d N %d K %d %s beta %g: wrote outside C at (%d, %d)",
                       lens_gemm_isa_name (isa), M, N, K, b_transposed ? "NT" : "NN", beta, m, n);
            continue;
          }
        double mass = beta != 0.0f ? fabs (want) : 0.0;
        for (int k = 0; k < K; k++)
          {
            float b = b_transposed ? B[(size_t) n * ldb + k] : B[(size_t) k * ldb + n];
            mass += fabs ((double) A[(size_t) m * lda + k] * b);
          }
        double bound = (K + 2) * (double) FLT_EPSILON * mass + 1e-30;
        if (!(fabs ((double) got - want) <= bound))
          g_error ("%s M %d N %d K %d %s beta %g: C[%d, %d] = %.9g, reference %.9g (bound %.3g)",
                   lens_gemm_isa_name (isa), M, N, K, b_transposed ? "NT" : "NN", beta, m, n, got,
                   want, bound);
      }
}

static void
test_kernels (void)
{
  LensGemmIsa best = lens_gemm_small_isa ();
  if (best == LENS_GEMM_ISA_NONE)
    {
      g_test_skip ("this CPU (or build) has no small-M GEMM kernel: every GEMM runs in OpenBLAS");
      return;
    }
  g_autoptr (GRand) rng = g_rand_new_with_seed (7);
  /* rows across the register tiles (6 and 4 / 3), columns across the 64- and 24-column panels
   * and the 4- and 3-row B tiles, k across the 256-step blocks and the 16 and 8 lanes */
  const int Ms[] = {1, 2, 3, 4, 5, 6, 7, 13, 16, 25, 64, 131};
  const int Ns[] = {1, 2, 3, 5, 17, 47, 64, 65, 130, 200};
  const int Ks[] = {1, 7, 8, 16, 33, 256, 257, 600};
  int n_isas = 0;
  for (LensGemmIsa isa = LENS_GEMM_ISA_AVX2; isa <= best; isa++, n_isas++)
    for (size_t mi = 0; mi < G_N_ELEMENTS (Ms); mi++)
      for (size_t ni = 0; ni < G_N_ELEMENTS (Ns); ni++)
        for (size_t ki = 0; ki < G_N_ELEMENTS (Ks); ki++)
          {
            int M = Ms[mi], N = Ns[ni], K = Ks[ki];
            if ((double) M * N * K > 2e6)
              continue;
            for (int t = 0; t < 2; t++)
              {
                check_product (isa, rng, M, N, K, t, 0.0f);
                check_product (isa, rng, M, N, K, t, 1.0f);
              }
          }
  g_test_message ("checked %d instruction sets, best %s", n_isas, lens_gemm_isa_name (best));
}

/* The kernels are used only where they win: never for one row (a GEMV), never without one. */
static void
test_wins (void)
{
  for (LensGemmIsa isa = LENS_GEMM_ISA_NONE; isa <= LENS_GEMM_ISA_AVX512; isa++)
    for (int t = 0; t < 2; t++)
      {
        g_assert_false (lens_gemm_small_wins (isa, 1, t));
        g_assert_false (lens_gemm_small_wins (isa, 100000, t));
        g_assert_true (lens_gemm_small_wins (isa, 16, t) == (isa != LENS_GEMM_ISA_NONE));
      }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gemm-small/kernels", test_kernels);
  g_test_add_func ("/gemm-small/wins", test_wins);
  return g_test_run ();
}
