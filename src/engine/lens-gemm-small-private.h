/* The per-instruction-set entry points behind lens_gemm_small (same arguments). */
#pragma once

#include <glib.h>

void lens_gemm_small_avx512 (int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                             gboolean b_transposed, float beta, float *C, int ldc);
void lens_gemm_small_avx2 (int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                           gboolean b_transposed, float beta, float *C, int ldc);
