/* The small-M GEMM kernels for AVX-512 F (16 floats a vector, 32 registers). This file alone is
 * compiled with -mavx512f -mfma; lens_gemm_small calls it only on a CPU that has both. */
#include "lens-gemm-small-private.h"

#define VL 16
#define NN_MR 6 /* 6 x 4 accumulators + 4 B vectors + 1 A value = 29 registers */
#define NN_NV 4
#define NT_MR 6 /* 6 x 4 accumulators + 4 B vectors + 1 A vector = 29 registers */
#define NT_NR 4
#include <immintrin.h>

#define GEMM_NAME lens_gemm_small_avx512

typedef float vf16 __attribute__ ((vector_size (64)));

/* pairwise by halves: 256-bit halves, then 128-bit halves, then within (GCC's and clang's
 * _mm512_reduce_add_ps) */
static inline __attribute__ ((always_inline)) float
lane_sum (vf16 v)
{
  return _mm512_reduce_add_ps ((__m512) v);
}
#include "lens-gemm-small-impl.h"
