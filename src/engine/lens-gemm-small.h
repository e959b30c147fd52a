/* lens-gemm-small: single-precision GEMM for few rows (a prompt's positions), without packing.
 *
 * OpenBLAS packs every block of the weight matrix into a buffer before its kernel runs. With a
 * few rows that packing is most of the cost and it does not overlap with the arithmetic: at 16
 * rows GPT-2 small's forward pass streamed its weights at about 10 GB/s, a third of what the
 * memory gives. These kernels read the weights once, straight from where they are, into
 * register tiles (llm.c's matmul_forward, vectorised by hand), for the AVX-512 and AVX2 + FMA
 * CPUs. lens_gemm_small_ref is the naive version they are tested against. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The instruction sets with a kernel, best last. */
typedef enum
{
  LENS_GEMM_ISA_NONE,
  LENS_GEMM_ISA_AVX2,   /* AVX2 + FMA: 8 lanes */
  LENS_GEMM_ISA_AVX512, /* AVX-512 F: 16 lanes */
} LensGemmIsa;

/* The best kernel this CPU can run (LENS_GEMM_ISA_NONE where there is none: use BLAS). */
LensGemmIsa lens_gemm_small_isa (void);
/* "AVX-512", "AVX2", "none". */
const char *lens_gemm_isa_name (LensGemmIsa isa);

/* Whether the kernel of isa is the faster way to compute M rows (2 or more: one row is a GEMV,
 * which OpenBLAS streams at memory speed) against B (K, N), or (N, K) when b_transposed. */
gboolean lens_gemm_small_wins (LensGemmIsa isa, int M, gboolean b_transposed);

/* C (M, N) = A (M, K) . B + beta C, row-major with leading dimensions lda, ldb, ldc, where B is
 * (K, N), or (N, K) used transposed when b_transposed; beta is 0 (C is only written) or 1
 * (no other value).
 * Single-threaded: callers split N over their threads. isa must be one this CPU supports
 * (at most lens_gemm_small_isa ()), not NONE. */
void lens_gemm_small (LensGemmIsa isa, int M, int N, int K, const float *A, int lda, const float *B,
                      int ldb, gboolean b_transposed, float beta, float *C, int ldc);

/* The same product computed naively, each element summed in double in the order of k. */
void lens_gemm_small_ref (int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                          gboolean b_transposed, float beta, float *C, int ldc);

G_END_DECLS
