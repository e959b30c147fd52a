/* lens-ops.h: the numeric operations of the forward pass and the lens, one function per
 * operation (llm.c style). Shapes are given in comments; all matrices are row-major f32.
 *
 * Each optimised kernel has a naive reference beside it (suffix _ref) that tests compare with. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "lens-config.h"
#include "lens-safetensors.h"

/* A weight matrix as the checkpoint stores it (rows x cols, row-major): F32, F16 or BF16, inside
 * the mapping. Only F32 that is aligned and in native byte order is used in place; anything else
 * is converted to f32 a tile at a time where it is used, never as a whole (a BF16 model stays its
 * own size in memory). */
typedef struct
{
  const void *data;
  LensDType dtype;
  gboolean direct; /* F32 usable in place */
  gboolean in_out; /* a projection stored as (in, out) (GPT-2's Conv1D) rather than (out, in) */
  int rows, cols;
} LensMat;

/* dst (n, cols) = rows r0 .. r0 + n of m, as f32. */
void lens_mat_rows_f32 (const LensMat *m, int r0, int n, float *dst);
/* dst (rows, n) = columns c0 .. c0 + n of m, as f32. */
void lens_mat_cols_f32 (const LensMat *m, int c0, int n, float *dst);

/* The projection's output width (OC) and input width (IC). */
static inline int
lens_mat_out (const LensMat *w)
{
  return w->in_out ? w->cols : w->rows;
}
static inline int
lens_mat_in (const LensMat *w)
{
  return w->in_out ? w->rows : w->cols;
}

/* Floats of scratch per OpenMP thread that lens_linear_forward needs for inputs of width IC. */
size_t lens_linear_scratch_floats (int IC);
/* out (N, OC) (row stride ldo) = inp (N, IC) . W + bias (OC, or NULL). The output columns are
 * split over the OpenMP threads; a matrix that is not used in place is converted tile by tile
 * into scratch (omp_get_max_threads () x lens_linear_scratch_floats (IC) floats). */
void lens_linear_forward (float *out, int ldo, const float *inp, int N, const LensMat *w,
                          const float *bias, float *scratch);
void lens_linear_forward_ref (float *out, int ldo, const float *inp, int N, const LensMat *w,
                              const float *bias);

/* out (N, C) = layernorm(inp (N, C)) * weight (C) + bias (C), biased variance, eps inside sqrt. */
void lens_layernorm_forward (float *out, const float *inp, const float *weight, const float *bias,
                             int N, int C, float eps);

/* x (N) = gelu_new(x), the tanh approximation GPT-2 uses. */
void lens_gelu_new_forward (float *x, size_t N);

/* The engine's one pool of threads is OpenMP's; OpenBLAS runs single-threaded inside it. OpenBLAS's
 * own pthreads pool would spin (sched_yield) for a while after every call and take the second
 * core from the OpenMP threads of the next step. Every kernel that calls BLAS calls this first
 * (it sets OpenBLAS's thread count once per process). */
void lens_blas_use_one_thread (void);

/* C (M, N) = A (M, K) . B (K, N) + beta C, or A . B^T with B (N, K) when b_transposed, on the
 * calling thread: a GEMV for one row, the unpacked kernel of lens-gemm-small.h for the few rows
 * where it is faster, OpenBLAS's SGEMM otherwise. */
void lens_sgemm_one_thread (int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                            gboolean b_transposed, float beta, float *C, int ldc);

/* The same with the N columns split over the OpenMP threads. */
void lens_sgemm_split (int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                       gboolean b_transposed, float beta, float *C, int ldc);

/* out (N, C) = x / sqrt(mean(x^2) + eps) * weight (C), per row; out may be inp. */
void lens_rmsnorm_forward (float *out, const float *inp, const float *weight, int N, int C,
                           float eps);

/* x (N) = act(x): the activation of a plain MLP. */
void lens_activation_forward (float *x, size_t N, LensActivation act);

/* out (T, F) = act(gate) * up, gate and up (T, F) with row strides ld_gate and ld_up (they may be
 * the two halves of one fused projection): the activation of gated MLPs (SwiGLU, GeGLU). out may
 * be gate or up when their stride is F. */
void lens_glu_forward (float *out, const float *gate, int ld_gate, const float *up, int ld_up,
                       int T, int F, LensActivation act);

/* x (n) = cap tanh(x / cap), vectorised (Gemma 2's soft-caps of attention scores and logits). */
void lens_softcap_forward (float *x, size_t n, float cap);

/* x (N) = 0.5 x (1 + erf(x / sqrt 2)), the exact GELU. */
void lens_gelu_erf_forward (float *x, size_t N);

/* Rotary position embeddings (rotate-half layout, as transformers' apply_rotary_pos_emb).
 * inv_freq (rot / 2): the frequencies after any scaling. cos/sin (T, rot / 2) for positions
 * pos0 .. pos0 + T - 1. */
void lens_rope_table (const double *inv_freq, int rot, int pos0, int T, float *cos_t, float *sin_t);
/* Rotates the first `rot` dimensions of each of n_heads heads of hd in every row of x (T rows,
 * stride ld). */
void lens_rope_apply (float *x, int ld, int T, int n_heads, int hd, int rot, const float *cos_t,
                      const float *sin_t);

/* out (n, NH * hd) = causal multi-head self-attention of the queries at positions q0 .. q0 + n - 1
 * over the keys at positions 0 .. q0 + n - 1 (a prompt computed whole has q0 = 0; one extended
 * by new tokens has its earlier keys and values in a cache). Row r of q (stride ldq) holds the NH
 * query heads of position q0 + r; row j of kv (stride ldkv) the NKV key heads then the NKV value
 * heads of position j, hd each; query head h reads key/value head h / (NH / NKV). With window > 0
 * a query at i sees keys i - window < j <= i. scale: the factor of q . k; softcap > 0 turns each
 * score s into softcap tanh(s / softcap) before the mask (Gemma 2). scratch:
 * lens_attention_scratch_floats (n, q0 + n) floats. */
void lens_attention_forward (float *out, const float *q, int ldq, const float *kv, int ldkv,
                             float *scratch, int q0, int n, int NH, int NKV, int hd, int window,
                             float scale, float softcap);
size_t lens_attention_scratch_floats (int n, int T);
void lens_attention_forward_ref (float *out, const float *q, int ldq, const float *kv, int ldkv,
                                 int q0, int n, int NH, int NKV, int hd, int window, float scale,
                                 float softcap);

/* x (N) += y (N) */
void lens_residual_add (float *x, const float *y, size_t N);

/* Summary of one softmax row, computed without materialising the probabilities. */
typedef struct
{
  float log_z;   /* log sum_v exp(logits[v]) */
  float entropy; /* -sum_v p_v log p_v, nats */
} LensSoftmaxStats;

/* Statistics and top-k (ids and probabilities, best first; ties broken by lower id) of
 * softmax(logits (V)). top_ids/top_probs: (K), 1 <= K <= V. */
LensSoftmaxStats lens_softmax_topk (const float *logits, int V, int K, int32_t *top_ids,
                                    float *top_probs);
LensSoftmaxStats lens_softmax_topk_ref (const float *logits, int V, int K, int32_t *top_ids,
                                        float *top_probs);

/* The same reduction split over vocabulary ranges, so that threads can each unembed a slice.
 * A partial holds, for logits l over its slice: m = max l, sum_e = sum exp(l - m),
 * sum_ed = sum exp(l - m) (l - m), and its K best (id, logit), best first. */
typedef struct
{
  float max;
  double sum_e;
  double sum_ed;
} LensSoftmaxPartial;

/* logits (V) of the ids first_id .. first_id + V - 1. top_ids/top_logits: (K), 1 <= K <= V. */
LensSoftmaxPartial lens_softmax_partial (const float *logits, int V, int32_t first_id, int K,
                                         int32_t *top_ids, float *top_logits);
/* Folds the partial `p` (ids, logits: (K)) of a slice that comes after `acc`'s into `acc`, which
 * then summarises both slices; equal logits keep the lower id first. scratch_ids/scratch_logits:
 * (K). */
void lens_softmax_fold (LensSoftmaxPartial *acc, int32_t *acc_ids, float *acc_logits,
                        const LensSoftmaxPartial *p, const int32_t *ids, const float *logits, int K,
                        int32_t *scratch_ids, float *scratch_logits);
/* Combines n partials of disjoint slices given in increasing id order. top_ids/top_logits are
 * (n, K); the result is the same as lens_softmax_topk over the whole row. */
LensSoftmaxStats lens_softmax_merge (const LensSoftmaxPartial *parts, const int32_t *top_ids,
                                     const float *top_logits, int n, int K, int32_t *out_ids,
                                     float *out_probs);
