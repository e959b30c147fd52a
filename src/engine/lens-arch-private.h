/* lens-arch-private.h: what the config readers of the families share across lens-arch.c (table,
 * GPT-2, GPT-NeoX, Phi-3, OLMo 2), lens-arch-llama.c and lens-arch-gemma.c. Internal to them. */
#pragma once

#include "lens-arch.h"
#include "lens-config-private.h"
#include "lens-error.h"
#include "lens-json.h"

#include <math.h>
#include <string.h>

/* The defaults a family's config class gives the keys LlamaConfig's descendants share; 0 for a
 * key that must be present. */
typedef struct
{
  int n_layer, n_embd, n_head, n_kv_head, n_inner, vocab_size, n_positions;
  int head_dim; /* 0: hidden_size / num_attention_heads */
  bool tie;
  double theta;
  LensActivation act;
} LlamaDefaults;

/* LlamaConfig's own defaults */
extern const LlamaDefaults lens_arch_llama_defaults;

/* ---- lens-arch-llama.c ---- */

/* A RoPE settings dict (rope_scaling, rope_parameters or one of Gemma 3's per-layer-type dicts),
 * or NULL for none, into r (whose theta is the default for a rope_theta inside). */
gboolean lens_arch_read_rope_dict (json_object *root, json_object *scaling, const char *where,
                                   const char *path, LensConfig *c, LensRope *r, GError **error);

/* rope_theta and rope_scaling (transformers <= 4.x), or rope_parameters (newer configs, where
 * the theta lives inside). */
gboolean lens_arch_read_rope (json_object *root, const char *path, LensConfig *c,
                              double default_theta, GError **error);

/* hidden_act / hidden_activation as ACT2FN names them. */
gboolean lens_arch_read_activation (json_object *root, const char *path, const char *key,
                                    LensActivation *act, GError **error);

/* An integer shape key: required when its default is 0. */
gboolean lens_arch_shape_key (json_object *root, const char *path, const char *key, int hi,
                              int dflt, int *out, GError **error);

/* What LlamaConfig and its descendants share: shapes, RMSNorm eps, activation, tying, RoPE. */
gboolean lens_arch_read_llama_common (json_object *root, const char *path, LensConfig *c,
                                      const LlamaDefaults *d, GError **error);

/* sliding_window: an integer, or null for none; `dflt` when the key is absent. */
gboolean lens_arch_read_window (json_object *root, const char *path, LensConfig *c, int dflt,
                                GError **error);

/* layer_types (newer configs: "full_attention" / "sliding_attention" per block); without it,
 * c->layer_sliding keeps the family's default rule, which the caller has set. */
gboolean lens_arch_read_layer_types (json_object *root, const char *path, LensConfig *c,
                                     GError **error);

gboolean lens_arch_read_llama (json_object *root, const char *path, LensConfig *c, GError **error);

gboolean lens_arch_read_mistral (json_object *root, const char *path, LensConfig *c,
                                 GError **error);

gboolean lens_arch_read_qwen2 (json_object *root, const char *path, LensConfig *c, GError **error);

gboolean lens_arch_read_qwen3 (json_object *root, const char *path, LensConfig *c, GError **error);

/* ---- lens-arch-gemma.c ---- */

gboolean lens_arch_read_gemma (json_object *root, const char *path, LensConfig *c, GError **error);

gboolean lens_arch_read_gemma2 (json_object *root, const char *path, LensConfig *c, GError **error);

/* Gemma 3's text model. Local (sliding) blocks rotate with rope_local_base_freq and no scaling,
 * global ones with rope_theta and rope_scaling. */
gboolean lens_arch_read_gemma3_text (json_object *root, const char *path, LensConfig *c,
                                     GError **error);

/* A gemma3 folder (text and vision): the text model's config is nested in text_config. */
gboolean lens_arch_read_gemma3 (json_object *root, const char *path, LensConfig *c, GError **error);
