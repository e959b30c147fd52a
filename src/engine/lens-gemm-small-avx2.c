/* The small-M GEMM kernels for AVX2 + FMA (8 floats a vector, 16 registers). This file alone is
 * compiled with -mavx2 -mfma; lens_gemm_small calls it only on a CPU that has both. */
#include "lens-gemm-small-private.h"

#define VL 8
#define NN_MR 4 /* 4 x 3 accumulators + 3 B vectors + 1 A value = 16 registers */
#define NN_NV 3
#define NT_MR 3 /* 3 x 3 accumulators + 3 B vectors + 1 A vector = 13 registers */
#define NT_NR 3
#include <immintrin.h>

#define GEMM_NAME lens_gemm_small_avx2

typedef float vf8 __attribute__ ((vector_size (32)));

/* pairwise by halves: the two 128-bit halves, then within */
static inline __attribute__ ((always_inline)) float
lane_sum (vf8 v)
{
  __m128 h
      = _mm_add_ps (_mm256_castps256_ps128 ((__m256) v), _mm256_extractf128_ps ((__m256) v, 1));
  h = _mm_add_ps (h, _mm_movehl_ps (h, h));
  h = _mm_add_ss (h, _mm_movehdup_ps (h));
  return _mm_cvtss_f32 (h);
}
#include "lens-gemm-small-impl.h"
