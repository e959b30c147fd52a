/* The small-M GEMM kernels for AVX2 + FMA (8 floats a vector, 16 registers). This file alone is
 * compiled with -mavx2 -mfma; lens_gemm_small calls it only on a CPU that has both. */
#include "lens-gemm-small-private.h"

#define VL 8
#define NN_MR 4 /* 4 x 3 accumulators + 3 B vectors + 1 A value = 16 registers */
#define NN_NV 3
#define NT_MR 3 /* 3 x 3 accumulators + 3 B vectors + 1 A vector = 13 registers */
#define NT_NR 3
#define GEMM_NAME lens_gemm_small_avx2
#include "lens-gemm-small-impl.h"
