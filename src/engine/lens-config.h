/* lens-config.h: a model's config.json, reduced to neutral hyper-parameters.
 *
 * Every family spells its keys its own way (GPT-2's n_embd, Llama's hidden_size, ...); each
 * family's reader (lens-arch.c) maps them onto this one struct, which is all the forward pass and
 * the loader look at. */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* Blocks beyond this are refused as absurd (the largest public models have ~128). */
#define LENS_MAX_LAYERS 1024

typedef struct LensArch LensArch;

typedef enum
{
  LENS_ROPE_DEFAULT,  /* inv_freq_i = theta^(-2i/d) */
  LENS_ROPE_LINEAR,   /* inv_freq / factor */
  LENS_ROPE_LLAMA3,   /* Llama 3.1's smooth low/high-frequency rescaling */
  LENS_ROPE_LONGROPE, /* Phi-3's per-frequency factors, short or long by prompt length */
} LensRopeType;

/* Frequencies of a head (rotary_dim / 2) that LensRope can carry factors for. */
#define LENS_MAX_ROPE_HALF 512

/* The activation of the MLP (of the gate, in gated MLPs). */
typedef enum
{
  LENS_ACT_SILU,
  LENS_ACT_GELU_TANH, /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
  LENS_ACT_GELU_ERF,  /* 0.5 x (1 + erf(x / sqrt 2)) */
} LensActivation;

typedef struct
{
  LensRopeType type;
  double theta;
  double factor;                        /* linear, llama3 */
  double low_freq_factor;               /* llama3 */
  double high_freq_factor;              /* llama3 */
  int original_max_position_embeddings; /* llama3 */
  int rotary_dim;                       /* dimensions rotated per head (<= head_dim) */
  /* longrope: per-frequency divisors for prompts up to original_max_position_embeddings (short)
   * and beyond (long), and the factor cos and sin are scaled by */
  double short_factor[LENS_MAX_ROPE_HALF];
  double long_factor[LENS_MAX_ROPE_HALF];
  double attention_factor;
} LensRope;

typedef struct
{
  const LensArch *arch; /* the family's table row (never NULL once parsed) */
  char model_type[32];  /* as written in config.json, e.g. "gpt2", "llama" */
  int n_layer;          /* L */
  int n_embd;           /* C, the residual width */
  int n_head;           /* NH, query heads */
  int n_kv_head;        /* NKV, key/value heads; NH % NKV == 0 (NKV == NH without GQA) */
  int head_dim;         /* hd; NH * hd need not equal C (Qwen3) */
  int n_positions;      /* context length */
  int vocab_size;       /* V, rows of the unembedding; may exceed the tokenizer's ids */
  int n_inner;          /* F, the MLP width */
  float norm_eps;
  bool tie_word_embeddings;
  bool attn_qkv_bias; /* q, k, v projections have biases */
  bool attn_out_bias; /* the output projection has a bias */
  bool mlp_bias;
  LensActivation act;
  bool parallel_residual; /* x + attn(norm_1 x) + mlp(norm_2 x) (GPT-NeoX) */
  double embed_scale;     /* token embeddings are multiplied by this (Gemma: sqrt(C)); 1 = none */
  double attn_scale;      /* factor of q . k; 0 = 1 / sqrt(head_dim) */
  double attn_softcap;    /* attention scores -> cap tanh(scores / cap); 0 = none */
  double final_logit_softcap; /* logits -> cap tanh(logits / cap) after the unembedding; 0 = none */
  LensRope rope;              /* for position kind RoPE */
  LensRope rope_local;        /* the sliding layers' RoPE when has_local_rope (Gemma 3) */
  bool has_local_rope;
  int sliding_window; /* tokens a query sees (itself included) on sliding layers; 0 = none */
  /* Per block: whether it uses the sliding window. */
  bool layer_sliding[LENS_MAX_LAYERS];
  char torch_dtype[16]; /* config.json's torch_dtype / dtype, "" when absent (informational) */
} LensConfig;

/* Parses config.json text of `len` bytes. `path` only names the file in error messages. */
gboolean lens_config_parse (const char *json, size_t len, const char *path, LensConfig *out,
                            GError **error);
gboolean lens_config_load (const char *path, LensConfig *out, GError **error);

/* The model_type, e.g. "llama". */
const char *lens_config_architecture (const LensConfig *config);

G_END_DECLS
