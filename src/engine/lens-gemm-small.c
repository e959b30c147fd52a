/* lens-gemm-small: dispatch to the kernel of the best instruction set, and the naive reference.
 * The kernels themselves are in lens-gemm-small-impl.h. */
#include "lens-gemm-small.h"

#include "lens-gemm-small-private.h"

#include <stdlib.h>
#include <string.h>

LensGemmIsa
lens_gemm_small_isa (void)
{
  static gsize isa = 0; /* LensGemmIsa + 1 once known */
  if (g_once_init_enter (&isa))
    {
      LensGemmIsa best = LENS_GEMM_ISA_NONE;
#if defined(LENS_HAVE_GEMM_SMALL)
      /* libgcc's and compiler-rt's checks include the OS saving the wider registers (XCR0) */
      __builtin_cpu_init ();
      if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
        best = LENS_GEMM_ISA_AVX2;
      if (__builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("fma"))
        best = LENS_GEMM_ISA_AVX512;
      /* LENS_GEMM_SMALL=blas: OpenBLAS for every GEMM, to compare (tests/bench) */
      const char *env = g_getenv ("LENS_GEMM_SMALL");
      if (env != NULL && strcmp (env, "blas") == 0)
        best = LENS_GEMM_ISA_NONE;
#endif
      g_once_init_leave (&isa, (gsize) best + 1);
    }
  return (LensGemmIsa) (isa - 1);
}

const char *
lens_gemm_isa_name (LensGemmIsa isa)
{
  switch (isa)
    {
    case LENS_GEMM_ISA_AVX512:
      return "AVX-512";
    case LENS_GEMM_ISA_AVX2:
      return "AVX2";
    case LENS_GEMM_ISA_NONE:
    default:
      return "none";
    }
}

/* Up to these row counts the kernels were faster than OpenBLAS 0.3.21's SGEMM (its Cooperlake
 * kernels) on GPT-2-small shapes, with the weights read from memory, on 2 threads of an AMD
 * Zen 4 at load average 1 (tests/bench has the whole-lens figures). The 48 matrices of the
 * forward pass, in ms, kernel against OpenBLAS:
 *
 *   rows                 2            16            64           128           256
 *   AVX-512, (K, N)   12.5 / 22.1   18.2 / 34.3   53.5 / 70.4  104.2 / 121.8  211.3 / 243.7
 *   AVX-512, (N, K)   10.8 / 22.1   22.3 / 33.3   62.1 / 71.7  117.7 / 124.8  238.8 / 250.1
 *   AVX2, (K, N)      13.5 / 22.1   23.8 / 34.3   72.4 / 70.4
 *   AVX2, (N, K)      12.0 / 22.1   26.7 / 33.3   70.4 / 71.7
 *
 * (AVX2 measured on the same CPU; its limits are kept at the low end.) The unembedding, (N, K)
 * in tiles of 2,048 ids: 42.4 against 45.1 ms at 104 rows, level at 208 and 416, behind at 832;
 * it runs in chunks of about 200 cells, so past 128 rows (N, K) stays with OpenBLAS. */
gboolean
lens_gemm_small_wins (LensGemmIsa isa, int M, gboolean b_transposed)
{
  if (M < 2)
    return FALSE;
  switch (isa)
    {
    case LENS_GEMM_ISA_AVX512:
      return M <= (b_transposed ? 128 : 256);
    case LENS_GEMM_ISA_AVX2:
      return M <= 32;
    case LENS_GEMM_ISA_NONE:
    default:
      return FALSE;
    }
}

void
lens_gemm_small (LensGemmIsa isa, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, gboolean b_transposed, float beta, float *C, int ldc)
{
  g_return_if_fail (beta == 0.0f || beta == 1.0f);
  if (M <= 0 || N <= 0)
    return;
  if (K <= 0)
    {
      for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++)
          C[(size_t) m * ldc + n] = beta != 0.0f ? C[(size_t) m * ldc + n] : 0.0f;
      return;
    }
  switch (isa)
    {
#if defined(LENS_HAVE_GEMM_SMALL)
    case LENS_GEMM_ISA_AVX512:
      lens_gemm_small_avx512 (M, N, K, A, lda, B, ldb, b_transposed, beta, C, ldc);
      return;
    case LENS_GEMM_ISA_AVX2:
      lens_gemm_small_avx2 (M, N, K, A, lda, B, ldb, b_transposed, beta, C, ldc);
      return;
#endif
    case LENS_GEMM_ISA_NONE:
    default:
      g_assert_not_reached ();
    }
}

void
lens_gemm_small_ref (int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                     gboolean b_transposed, float beta, float *C, int ldc)
{
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++)
      {
        double acc = 0.0;
        for (int k = 0; k < K; k++)
          {
            float b = b_transposed ? B[(size_t) n * ldb + k] : B[(size_t) k * ldb + n];
            acc += (double) A[(size_t) m * lda + k] * (double) b;
          }
        float *c = C + (size_t) m * ldc + n;
        *c = beta != 0.0f ? (float) ((double) *c + acc) : (float) acc;
      }
}
