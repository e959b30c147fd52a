/* lens-model-private.h: the loaded model's weights, shared by the loader (lens-model.c), the
 * block forward (lens-forward.c) and the lens head (lens-head.c). Plain structs, llm.c style. */
#pragma once

#include "lens-arch.h"
#include "lens-model.h"
#include "lens-ops.h"
#include "lens-safetensors.h"

G_BEGIN_DECLS

/* A small vector (norm weights, biases) in f32: straight from the mapping when it is aligned F32,
 * else widened into `owned` (a few KiB per block at most). */
typedef struct
{
  const float *data;
  float *owned;
} LensVec;

/* One block. A projection the family does not have has data == NULL; a bias the config does not
 * enable likewise. */
typedef struct
{
  LensVec attn_norm_w, attn_norm_b;
  LensMat qkv; /* fused q|k|v (GPT-2), else q, k and v */
  LensVec qkv_b;
  LensMat q, k, v;
  LensVec q_b, k_b, v_b;
  LensVec q_norm_w, k_norm_w; /* (hd) per-head norms, or (NH hd), (NKV hd) whole-projection */
  LensMat o;
  LensVec o_b;
  LensVec attn_post_norm_w; /* norm of the attention output (Gemma 2/3, OLMo 2) */
  LensVec mlp_norm_w, mlp_norm_b;
  LensMat gate, up, down; /* gate only in gated MLPs */
  LensMat gate_up;        /* gate | up fused (Phi-3), instead of gate and up */
  LensVec gate_b, up_b, down_b;
  LensVec mlp_post_norm_w; /* norm of the MLP output (Gemma 2/3, OLMo 2) */
} LensBlockWeights;

struct LensModel
{
  gint ref_count;
  char *path;
  char *name;
  LensConfig config;
  LensWeightStore *store;
  LensTokenizer *tokenizer;
  char **token_texts; /* (V) display strings, made on first use (NULL until then; atomic) */
  uint64_t n_params;
  char dtype[16]; /* "F32", "BF16", ... or "mixed" */

  LensMat tok_embd;         /* (V, C) */
  LensMat pos_embd;         /* (n_positions, C), learned positions only */
  LensBlockWeights *blocks; /* (L) */
  LensVec final_norm_w, final_norm_b;
  LensMat lm_head;             /* (V, C); the token embeddings when tied */
  double *rope_inv_freq;       /* (rotary_dim / 2), scaling applied; longrope: the short factors */
  double *rope_inv_freq_long;  /* longrope: for prompts beyond original_max_position_embeddings */
  double *rope_local_inv_freq; /* the sliding blocks' frequencies when has_local_rope */
};

/* y (n, C) = the model's norm (kind and eps from the config) of x (n, C) with weight w and bias
 * b (b->data NULL for RMSNorm); y may be x. In lens-forward.c. */
void lens_model_norm (const LensModel *m, const LensVec *w, const LensVec *b, const float *x,
                      float *y, int n);

/* Whether longrope takes its long factors for a prompt of T tokens (keys computed with the other
 * set cannot be reused). */
gboolean lens_model_rope_is_long (const LensModel *m, int T);

/* The block forward, in lens-forward.c. */
gboolean lens_forward_run (LensModel *m, const int32_t *ids, int T, float *residuals, float *logits,
                           LensCancelFunc cancel, LensProgressFunc progress, gpointer user_data,
                           GError **error);

G_END_DECLS
