/* lens-arch.h: the model families, as data (llama.cpp style).
 *
 * One row per config.json model_type: how its config keys map onto LensConfig, which norm,
 * position encoding and MLP it uses, where its weights live (tensor-name templates and their
 * layout) and what its output head is. The loader (lens-model.c) and the block forward
 * (lens-forward.c) read only this row and LensConfig; adding a family is a row plus whatever
 * genuinely new operation it needs. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "lens-config.h"

G_BEGIN_DECLS

typedef enum
{
  LENS_NORM_LAYER, /* (x - mean) / sqrt(var + eps) * w + b */
  LENS_NORM_RMS,   /* x / sqrt(mean(x^2) + eps) * w */
} LensNormKind;

typedef enum
{
  LENS_POS_LEARNED, /* a position-embedding table added to the token embeddings */
  LENS_POS_ROPE,    /* rotary embeddings on q and k (rotate-half layout) */
} LensPosKind;

typedef enum
{
  LENS_MLP_PLAIN, /* down(act(up(x))) */
  LENS_MLP_GATED, /* down(act(gate(x)) * up(x)): SwiGLU, GeGLU */
} LensMlpKind;

/* How a fused q|k|v projection orders its outputs. */
typedef enum
{
  LENS_QKV_BLOCKS,   /* all query heads, then all key heads, then all value heads */
  LENS_QKV_PER_HEAD, /* q, k, v of head 0, then of head 1, ... (GPT-NeoX) */
} LensQkvOrder;

/* How a projection's weight is stored. */
typedef enum
{
  LENS_LAYOUT_OUT_IN, /* torch nn.Linear: (out, in) */
  LENS_LAYOUT_IN_OUT, /* GPT-2's Conv1D: (in, out) */
} LensLayout;

/* The tensors of one block, by role. A family names the ones it has; which of those a checkpoint
 * must carry also depends on the config (biases). */
typedef enum
{
  LENS_BT_ATTN_NORM_W,
  LENS_BT_ATTN_NORM_B,
  LENS_BT_QKV_W, /* fused q|k|v projection */
  LENS_BT_QKV_B,
  LENS_BT_Q_W,
  LENS_BT_Q_B,
  LENS_BT_K_W,
  LENS_BT_K_B,
  LENS_BT_V_W,
  LENS_BT_V_B,
  LENS_BT_Q_NORM_W, /* norm of q before RoPE: per head, or of the whole projection */
  LENS_BT_K_NORM_W,
  LENS_BT_O_W,
  LENS_BT_O_B,
  LENS_BT_ATTN_POST_NORM_W, /* norm of the attention output before the residual add */
  LENS_BT_MLP_NORM_W,
  LENS_BT_MLP_NORM_B,
  LENS_BT_GATE_W,
  LENS_BT_GATE_B,
  LENS_BT_GATE_UP_W, /* fused gate|up projection (Phi-3) */
  LENS_BT_UP_W,
  LENS_BT_UP_B,
  LENS_BT_DOWN_W,
  LENS_BT_DOWN_B,
  LENS_BT_MLP_POST_NORM_W, /* norm of the MLP output before the residual add */
  LENS_BT_N_ROLES
} LensBlockTensor;

/* Reads the family's config keys into `c` (model_type, arch already set). `path` names the file. */
typedef gboolean (*LensHparamsReader) (json_object *root, const char *path, LensConfig *c,
                                       GError **error);

struct LensArch
{
  const char *model_type;
  LensHparamsReader read_hparams;
  LensNormKind norm;
  LensPosKind pos;
  LensMlpKind mlp;
  LensLayout layout;
  LensQkvOrder qkv_order;
  float norm_weight_offset; /* Gemma's norms scale by (1 + w): 1, else 0 */
  gboolean qk_norm_whole;   /* q/k norms over the whole projection (OLMo 2), not per head */
  /* Tensor names. Every name may carry one of `prefixes` in front (GPT-2 checkpoints come with
   * and without "transformer."). Block names are printf templates with one %d, the block. */
  const char *prefixes[4]; /* NULL-terminated; "" first */
  /* Another spelling of the leading "model." of the names (newer transformers save a gemma3
   * checkpoint's text model as "model.language_model.", older as "language_model.model."), or
   * NULL. */
  const char *model_alias;
  const char *tok_embd; /* (V, C) */
  const char *pos_embd; /* (n_positions, C), learned positions only */
  const char *final_norm_w, *final_norm_b;
  const char *lm_head; /* (V, C), read without prefix; used unless tie_word_embeddings */
  const char *block[LENS_BT_N_ROLES];
};

/* The row for `model_type`, or NULL when no family has it. */
const LensArch *lens_arch_find (const char *model_type, size_t len);
/* "gpt2, llama, ..." for error messages. */
const char *lens_arch_supported_list (void);

G_END_DECLS
