/* lens-ops.h: the numeric operations of the forward pass and the lens, one function per
 * operation (llm.c style). Shapes are given in comments; all matrices are row-major f32.
 *
 * Each optimised kernel has a naive reference beside it (suffix _ref) that tests compare with. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* out (N, OC) = inp (N, IC) . w (IC, OC) + bias (OC); w in GPT-2's Conv1D [in, out] layout. */
void lens_matmul_forward (float *out, const float *inp, const float *w, const float *bias, int N,
                          int IC, int OC);
void lens_matmul_forward_ref (float *out, const float *inp, const float *w, const float *bias,
                              int N, int IC, int OC);

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

/* C (M, N) = A (M, K) . B (K, N) + beta C, or A . B^T with B (N, K) when b_transposed. The N
 * columns are split over the OpenMP threads, each running a single-threaded OpenBLAS call on its
 * slice. */
void lens_sgemm_split (int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                       gboolean b_transposed, float beta, float *C, int ldc);

/* out (T, C) = causal multi-head self-attention of qkv (T, 3C) (q | k | v, heads contiguous
 * within each). scratch: lens_attention_scratch_floats (T, NH) floats (a (T, T) block per
 * thread). */
void lens_attention_forward (float *out, const float *qkv, float *scratch, int T, int C, int NH);
size_t lens_attention_scratch_floats (int T, int NH);
void lens_attention_forward_ref (float *out, const float *qkv, int T, int C, int NH);

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
