/* The small-M GEMM kernels, written once for a vector of VL floats. Included by
 * lens-gemm-small-avx512.c (VL 16) and lens-gemm-small-avx2.c (VL 8), each compiled for its
 * instruction set, which define before including it:
 *   VL          floats per vector register
 *   NN_MR       rows of A per register tile when B is (K, N)
 *   NN_NV       vectors of columns per register tile when B is (K, N)
 *   NT_MR       rows of A per register tile when B is (N, K), used transposed
 *   NT_NR       rows of B per register tile when B is (N, K)
 *   GEMM_NAME   the name of the entry point
 *   lane_sum    float lane_sum (vf): the sum of a vector's lanes, pairwise by halves
 * The tiles are sized so that the accumulators, the B vectors and one A value fit the register
 * file (32 registers with AVX-512, 16 with AVX2).
 *
 * Each output element is a sum over k in a fixed order with fused multiply-adds: in k order when
 * B is (K, N); in VL interleaved partial sums added at the end when B is (N, K). Only rounding
 * separates either from the exact product (tests/unit/test-gemm-small.c bounds it). */
#include <string.h>

/* Every loop over registers is unrolled completely, so that the tiles stay in registers (GCC at -O2
 * would keep them in memory). */
#define UNROLL _Pragma ("GCC unroll 16")

typedef float vf __attribute__ ((vector_size (VL * 4)));

static inline __attribute__ ((always_inline)) vf
load_v (const float *p)
{
  vf v;
  memcpy (&v, p, sizeof v); /* an unaligned load */
  return v;
}

static inline __attribute__ ((always_inline)) void
store_v (float *p, vf v)
{
  memcpy (p, &v, sizeof v);
}

static inline __attribute__ ((always_inline)) vf
splat (float x)
{
  return x - (vf){}; /* the scalar broadcast to every lane; x - 0 is x, -0 included */
}

/* ---- B (K, N): C[m, n] += sum_k A[m, k] B[k, n] ------------------------------------------ */

/* Columns per register tile, and k steps per block: a block of B (NN_KC x NN_COLS floats, 64 KiB
 * with AVX-512) is read from memory by the first row tile and from cache by the others. */
#define NN_COLS (NN_NV * VL)
#define NN_KC 256

/* How far ahead the first row tile of a block asks for B's rows, into L2 (prefetcht1). The
 * rows of a column panel lie ldb floats apart, a stride the hardware prefetchers follow only a
 * row or two ahead, so the first tile waited on memory for every row: GPT-2 small's 48 forward
 * matrices at 16 rows took 47 ms on one Zen 4 core, 31.6 ms with this (25 -> 17 ms on two).
 * Into L1 (prefetcht0) it was no faster: those requests hold the L1 miss buffers the loads
 * need. The other row tiles find the block in cache. */
#define NN_PREFETCH_ROWS 32

/* C (mr, NN_COLS) (+)= A (mr, kc) . B (kc, NN_COLS); mr is a constant after inlining, so the
 * accumulators live in registers. The first row tile of a block prefetches from the prefetch_rows
 * rows of B it starts (see above); the others pass 0. */
static inline __attribute__ ((always_inline)) void
nn_tile (const int mr, int kc, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
         gboolean load_c, int prefetch_rows)
{
  vf acc[NN_MR][NN_NV];
  UNROLL
  for (int r = 0; r < mr; r++)
    {
      UNROLL
      for (int v = 0; v < NN_NV; v++)
        acc[r][v] = load_c ? load_v (C + (size_t) r * ldc + v * VL) : splat (0.0f);
    }
  for (int k = 0; k < kc; k++)
    {
      const float *b = B + (size_t) k * ldb;
      if (k + NN_PREFETCH_ROWS < prefetch_rows) /* never past B's last row */
        {
          UNROLL
          for (int v = 0; v < NN_NV; v++)
            __builtin_prefetch (b + (size_t) NN_PREFETCH_ROWS * ldb + v * VL, 0, 2);
        }
      vf bv[NN_NV];
      UNROLL
      for (int v = 0; v < NN_NV; v++)
        bv[v] = load_v (b + v * VL);
      UNROLL
      for (int r = 0; r < mr; r++)
        {
          vf a = splat (A[(size_t) r * lda + k]);
          UNROLL
          for (int v = 0; v < NN_NV; v++)
            acc[r][v] += a * bv[v];
        }
    }
  UNROLL
  for (int r = 0; r < mr; r++)
    {
      UNROLL
      for (int v = 0; v < NN_NV; v++)
        store_v (C + (size_t) r * ldc + v * VL, acc[r][v]);
    }
}

static void
nn_tile_rows (int mr, int kc, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
              gboolean load_c, int prefetch_rows)
{
  switch (mr)
    {
#define NN_CASE(R)                                                                                 \
  case R:                                                                                          \
    nn_tile (R, kc, A, lda, B, ldb, C, ldc, load_c, prefetch_rows);                                \
    break;
      NN_CASE (1)
      NN_CASE (2)
      NN_CASE (3)
      NN_CASE (4)
#if NN_MR > 4
      NN_CASE (5)
      NN_CASE (6)
#endif
#undef NN_CASE
    default:
      g_assert_not_reached ();
    }
}

/* C (M, cols) (+)= A (M, K) . B (K, cols) for cols < NN_COLS (the last columns): through a
 * zero-padded copy of the block of B and a scratch tile of C, so that the register tile stays
 * whole. */
static void
nn_edge (int M, int cols, int K, const float *A, int lda, const float *B, int ldb, float beta,
         float *C, int ldc)
{
  /* 65 KiB with AVX-512: on the heap, not on a thread's stack */
  float *b_pad = g_new (float, (NN_KC + NN_MR) * NN_COLS);
  float *c_pad = b_pad + NN_KC * NN_COLS;
  for (int k0 = 0; k0 < K; k0 += NN_KC)
    {
      int kc = MIN (NN_KC, K - k0);
      for (int k = 0; k < kc; k++)
        {
          memcpy (b_pad + (size_t) k * NN_COLS, B + (size_t) (k0 + k) * ldb, sizeof (float) * cols);
          memset (b_pad + (size_t) k * NN_COLS + cols, 0, sizeof (float) * (NN_COLS - cols));
        }
      for (int m0 = 0; m0 < M; m0 += NN_MR)
        {
          int mr = MIN (NN_MR, M - m0);
          gboolean load_c = k0 > 0 || beta != 0.0f;
          for (int r = 0; r < mr; r++)
            {
              if (load_c)
                memcpy (c_pad + r * NN_COLS, C + (size_t) (m0 + r) * ldc, sizeof (float) * cols);
              memset (c_pad + r * NN_COLS + cols, 0, sizeof (float) * (NN_COLS - cols));
            }
          nn_tile_rows (mr, kc, A + (size_t) m0 * lda + k0, lda, b_pad, NN_COLS, c_pad, NN_COLS,
                        load_c, 0);
          for (int r = 0; r < mr; r++)
            memcpy (C + (size_t) (m0 + r) * ldc, c_pad + r * NN_COLS, sizeof (float) * cols);
        }
    }
  g_free (b_pad);
}

static void
gemm_nn (int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
         float *C, int ldc)
{
  int full = N - N % NN_COLS;
  for (int n0 = 0; n0 < full; n0 += NN_COLS)
    for (int k0 = 0; k0 < K; k0 += NN_KC)
      {
        int kc = MIN (NN_KC, K - k0);
        const float *b = B + (size_t) k0 * ldb + n0;
        for (int m0 = 0; m0 < M; m0 += NN_MR)
          nn_tile_rows (MIN (NN_MR, M - m0), kc, A + (size_t) m0 * lda + k0, lda, b, ldb,
                        C + (size_t) m0 * ldc + n0, ldc, k0 > 0 || beta != 0.0f,
                        m0 == 0 ? K - k0 : 0);
      }
  if (full < N)
    nn_edge (M, N - full, K, A, lda, B + full, ldb, beta, C + full, ldc);
}

/* ---- B (N, K): C[m, n] = sum_k A[m, k] B[n, k] ------------------------------------------- */

/* How far ahead along its rows the first row tile asks for B, into L2: 1 KiB, a little ahead of
 * the hardware prefetchers (the forward matrices of GPT-2 small as (N, K) at 16 rows: 24.7 ->
 * 21.5 ms on two Zen 4 cores; 4 KiB ahead gained nothing). */
#define NT_PREFETCH_FLOATS 256

/* C (mr, nr) (+)= A (mr, K) . B (nr, K)^T: mr x nr vector accumulators over k, VL floats at a
 * time, each summed across its lanes at the end; the last K % VL products are added one by one. */
static inline __attribute__ ((always_inline)) void
nt_tile (const int mr, const int nr, int K, const float *A, int lda, const float *B, int ldb,
         float beta, float *C, int ldc, gboolean prefetch)
{
  vf acc[NT_MR][NT_NR];
  UNROLL
  for (int r = 0; r < mr; r++)
    {
      UNROLL
      for (int n = 0; n < nr; n++)
        acc[r][n] = splat (0.0f);
    }
  int k = 0;
  for (; k + VL <= K; k += VL)
    {
      vf bv[NT_NR];
      if (prefetch && k + NT_PREFETCH_FLOATS < K) /* never past the row's end */
        {
          UNROLL
          for (int n = 0; n < nr; n++)
            __builtin_prefetch (B + (size_t) n * ldb + k + NT_PREFETCH_FLOATS, 0, 2);
        }
      UNROLL
      for (int n = 0; n < nr; n++)
        bv[n] = load_v (B + (size_t) n * ldb + k);
      UNROLL
      for (int r = 0; r < mr; r++)
        {
          vf a = load_v (A + (size_t) r * lda + k);
          UNROLL
          for (int n = 0; n < nr; n++)
            acc[r][n] += a * bv[n];
        }
    }
  UNROLL
  for (int r = 0; r < mr; r++)
    {
      UNROLL
      for (int n = 0; n < nr; n++)
        {
          float s = lane_sum (acc[r][n]);
          for (int t = k; t < K; t++)
            s += A[(size_t) r * lda + t] * B[(size_t) n * ldb + t];
          float *c = C + (size_t) r * ldc + n;
          *c = beta != 0.0f ? *c + s : s; /* C is not read when beta is 0: it may hold anything */
        }
    }
}

static void
nt_tile_rows (int mr, gboolean whole, int K, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc, gboolean prefetch)
{
  switch (mr * 2 + (whole ? 1 : 0))
    {
#define NT_CASE(R)                                                                                 \
  case R * 2 + 1:                                                                                  \
    nt_tile (R, NT_NR, K, A, lda, B, ldb, beta, C, ldc, prefetch);                                 \
    break;                                                                                         \
  case R * 2:                                                                                      \
    nt_tile (R, 1, K, A, lda, B, ldb, beta, C, ldc, prefetch);                                     \
    break;
      NT_CASE (1)
      NT_CASE (2)
      NT_CASE (3)
#if NT_MR > 3
      NT_CASE (4)
      NT_CASE (5)
      NT_CASE (6)
#endif
#undef NT_CASE
    default:
      g_assert_not_reached ();
    }
}

static void
gemm_nt (int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
         float *C, int ldc)
{
  /* NT_NR rows of B at a time (read from memory by the first row tile, from cache by the
   * others); the last N % NT_NR rows one at a time */
  for (int n0 = 0; n0 < N;)
    {
      gboolean whole = n0 + NT_NR <= N;
      for (int m0 = 0; m0 < M; m0 += NT_MR)
        nt_tile_rows (MIN (NT_MR, M - m0), whole, K, A + (size_t) m0 * lda, lda,
                      B + (size_t) n0 * ldb, ldb, beta, C + (size_t) m0 * ldc + n0, ldc, m0 == 0);
      n0 += whole ? NT_NR : 1;
    }
}

void
GEMM_NAME (int M, int N, int K, const float *A, int lda, const float *B, int ldb,
           gboolean b_transposed, float beta, float *C, int ldc)
{
  if (b_transposed)
    gemm_nt (M, N, K, A, lda, B, ldb, beta, C, ldc);
  else
    gemm_nn (M, N, K, A, lda, B, ldb, beta, C, ldc);
}
