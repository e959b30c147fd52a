/* lens-arch.c: the table of model families, and the config.json readers of GPT-2, GPT-NeoX, Phi-3
 * and OLMo 2; the Llama family's (and the keys its descendants share) are in lens-arch-llama.c,
 * Gemma's in lens-arch-gemma.c.
 *
 * The key names and their defaults follow transformers' configuration_*.py of each family, so a
 * config that leaves a key out means what it means to transformers. */
#include "lens-arch-private.h"

/* ---- GPT-2 ---- */

static gboolean
read_gpt2 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  if (!lens_config_int (root, path, NULL, "n_layer", TRUE, 1, LENS_MAX_LAYERS, &c->n_layer, NULL,
                        error)
      || !lens_config_int (root, path, NULL, "n_embd", TRUE, 1, 65536, &c->n_embd, NULL, error)
      || !lens_config_int (root, path, NULL, "n_head", TRUE, 1, 65536, &c->n_head, NULL, error)
      || !lens_config_int (root, path, NULL, "vocab_size", TRUE, 1, 10000000, &c->vocab_size, NULL,
                           error))
    return FALSE;
  if (c->n_embd % c->n_head != 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: n_embd (%d) is not a multiple of n_head (%d)", path, c->n_embd, c->n_head);
      return FALSE;
    }
  c->n_kv_head = c->n_head;
  c->head_dim = c->n_embd / c->n_head;

  /* n_positions is the current name; very old configs only have n_ctx. */
  json_object *v;
  const char *ctx_key = lens_config_field (root, "n_positions", &v) ? "n_positions" : "n_ctx";
  if (!lens_config_field (root, ctx_key, &v))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"n_positions\" is missing (and there is no \"n_ctx\")", path);
      return FALSE;
    }
  if (!lens_config_int (root, path, NULL, ctx_key, TRUE, 1, 1000000, &c->n_positions, NULL, error))
    return FALSE;

  c->n_inner = 4 * c->n_embd;
  if (!lens_config_int (root, path, NULL, "n_inner", FALSE, 1, 4 * 65536, &c->n_inner, NULL, error))
    return FALSE;

  double eps;
  if (!lens_config_double (root, path, NULL, "layer_norm_epsilon", 0.0, TRUE, 1.0, 1e-5, &eps,
                           error))
    return FALSE;
  c->norm_eps = (float) eps;
  if (c->norm_eps == 0.0f)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"layer_norm_epsilon\" = %g is out of range (0..1]", path, eps);
      return FALSE;
    }

  const char *act = NULL;
  size_t act_len;
  if (!lens_config_string (root, path, NULL, "activation_function", &act, &act_len, error))
    return FALSE;
  /* Both are 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))) in transformers. */
  if (act != NULL && !lens_config_string_is (act, act_len, "gelu_new")
      && !lens_config_string_is (act, act_len, "gelu_pytorch_tanh"))
    {
      g_autofree char *ad = lens_json_describe (act, (gssize) act_len);
      g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                   "%s: activation_function %s is not supported (supported: gelu_new, "
                   "gelu_pytorch_tanh)",
                   path, ad);
      return FALSE;
    }

  c->act = LENS_ACT_GELU_TANH;
  c->attn_qkv_bias = c->attn_out_bias = c->mlp_bias = true;
  if (!lens_config_bool (root, path, NULL, "tie_word_embeddings", true, &c->tie_word_embeddings,
                         error)
      || !lens_config_refuse_flag (root, path, "scale_attn_weights", true, error)
      || !lens_config_refuse_flag (root, path, "scale_attn_by_inverse_layer_idx", false, error)
      || !lens_config_refuse_flag (root, path, "add_cross_attention", false, error))
    return FALSE;
  return TRUE;
}

/* ---- partial rotary (GPT-NeoX, Phi-3) ---- */

/* The rotated dimensions per head, int(head_dim * fraction) as transformers computes them; they
 * must come in pairs (rotate-half splits them in two). */
static gboolean
set_rotary_dim (LensConfig *c, double fraction, const char *key, const char *path, GError **error)
{
  int rot = (int) (c->head_dim * fraction);
  if (rot < 2 || rot % 2 != 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                   "%s: field \"%s\" = %g rotates %d of the %d dimensions of a head; a positive "
                   "even number is supported",
                   path, key, fraction, rot, c->head_dim);
      return FALSE;
    }
  c->rope.rotary_dim = rot;
  return TRUE;
}

/* ---- GPT-NeoX (Pythia) ---- */

static gboolean
read_gpt_neox (json_object *root, const char *path, LensConfig *c, GError **error)
{
  static const LlamaDefaults shape = {.act = LENS_ACT_GELU_ERF};
  if (!lens_arch_shape_key (root, path, "num_hidden_layers", LENS_MAX_LAYERS, 0, &c->n_layer, error)
      || !lens_arch_shape_key (root, path, "hidden_size", 65536, 0, &c->n_embd, error)
      || !lens_arch_shape_key (root, path, "num_attention_heads", 65536, 0, &c->n_head, error)
      || !lens_arch_shape_key (root, path, "intermediate_size", 1 << 20, 0, &c->n_inner, error)
      || !lens_arch_shape_key (root, path, "vocab_size", 10000000, 0, &c->vocab_size, error)
      || !lens_arch_shape_key (root, path, "max_position_embeddings", 16 << 20, 2048,
                               &c->n_positions, error))
    return FALSE;
  if (c->n_embd % c->n_head != 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: hidden_size (%d) is not a multiple of num_attention_heads (%d)", path,
                   c->n_embd, c->n_head);
      return FALSE;
    }
  c->n_kv_head = c->n_head;
  c->head_dim = c->n_embd / c->n_head;

  double eps, pct;
  bool bias;
  c->act = shape.act;
  if (!lens_config_double (root, path, NULL, "layer_norm_eps", 0.0, TRUE, 1.0, 1e-5, &eps, error)
      || !lens_arch_read_activation (root, path, "hidden_act", &c->act, error)
      || !lens_config_bool (root, path, NULL, "use_parallel_residual", true, &c->parallel_residual,
                            error)
      || !lens_config_bool (root, path, NULL, "tie_word_embeddings", false, &c->tie_word_embeddings,
                            error)
      || !lens_config_bool (root, path, NULL, "attention_bias", true, &bias, error)
      || !lens_config_double (root, path, NULL, "rotary_pct", 0.0, TRUE, 1.0, 0.25, &pct, error)
      || !lens_config_double (root, path, NULL, "partial_rotary_factor", 0.0, TRUE, 1.0, pct, &pct,
                              error))
    return FALSE;
  c->norm_eps = (float) eps;
  if (c->norm_eps == 0.0f)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"layer_norm_eps\" = %g is out of range (0..1]", path, eps);
      return FALSE;
    }
  c->attn_qkv_bias = c->attn_out_bias = bias;
  c->mlp_bias = true;
  /* rotary_ndims = int(head_dim * rotary_pct) */
  if (!set_rotary_dim (c, pct, "rotary_pct", path, error))
    return FALSE;
  double base;
  if (!lens_config_double (root, path, NULL, "rotary_emb_base", 0.0, TRUE, 1e12, 10000.0, &base,
                           error))
    return FALSE;
  return lens_arch_read_rope (root, path, c, base, error);
}

/* ---- Phi-3 ---- */

static gboolean
read_phi3 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  double factor = 1.0;
  /* partial_rotary_factor must be known before the RoPE settings (longrope's factor lists have
   * one entry per rotated pair) */
  int n_embd = 0, n_head = 0, head_dim = 0;
  gboolean has_hd;
  if (!lens_arch_shape_key (root, path, "hidden_size", 65536, 0, &n_embd, error)
      || !lens_arch_shape_key (root, path, "num_attention_heads", 65536, 0, &n_head, error)
      || !lens_config_int (root, path, NULL, "head_dim", FALSE, 1, 65536, &head_dim, &has_hd, error)
      || !lens_config_double (root, path, NULL, "partial_rotary_factor", 0.0, TRUE, 1.0, 1.0,
                              &factor, error))
    return FALSE;
  if (!has_hd)
    head_dim = n_embd / n_head;
  c->head_dim = head_dim;
  if (!set_rotary_dim (c, factor, "partial_rotary_factor", path, error))
    return FALSE;
  static const LlamaDefaults phi3 = {.n_positions = 4096, .act = LENS_ACT_SILU, .theta = 10000.0};
  if (!lens_arch_read_llama_common (root, path, c, &phi3, error)
      || !lens_arch_read_window (root, path, c, 0, error))
    return FALSE;
  /* Phi3Config accepts only longrope scaling */
  if (c->rope.type != LENS_ROPE_DEFAULT && c->rope.type != LENS_ROPE_LONGROPE)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                   "%s: field \"rope_scaling\": phi3 models take only longrope scaling", path);
      return FALSE;
    }
  for (int l = 0; l < c->n_layer; l++)
    c->layer_sliding[l] = c->sliding_window > 0;
  return lens_arch_read_layer_types (root, path, c, error);
}

/* ---- OLMo 2 ---- */

static gboolean
read_olmo2 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  bool attention_bias;
  if (!lens_arch_read_llama_common (root, path, c, &lens_arch_llama_defaults, error)
      || !lens_config_bool (root, path, NULL, "attention_bias", false, &attention_bias, error))
    return FALSE;
  c->attn_qkv_bias = c->attn_out_bias = attention_bias;
  return TRUE;
}

/* ---- the table ---- */

#define LLAMA_BLOCK_NAMES                                                                          \
  [LENS_BT_ATTN_NORM_W] = "model.layers.%d.input_layernorm.weight",                                \
  [LENS_BT_Q_W] = "model.layers.%d.self_attn.q_proj.weight",                                       \
  [LENS_BT_Q_B] = "model.layers.%d.self_attn.q_proj.bias",                                         \
  [LENS_BT_K_W] = "model.layers.%d.self_attn.k_proj.weight",                                       \
  [LENS_BT_K_B] = "model.layers.%d.self_attn.k_proj.bias",                                         \
  [LENS_BT_V_W] = "model.layers.%d.self_attn.v_proj.weight",                                       \
  [LENS_BT_V_B] = "model.layers.%d.self_attn.v_proj.bias",                                         \
  [LENS_BT_O_W] = "model.layers.%d.self_attn.o_proj.weight",                                       \
  [LENS_BT_O_B] = "model.layers.%d.self_attn.o_proj.bias",                                         \
  [LENS_BT_MLP_NORM_W] = "model.layers.%d.post_attention_layernorm.weight",                        \
  [LENS_BT_GATE_W] = "model.layers.%d.mlp.gate_proj.weight",                                       \
  [LENS_BT_GATE_B] = "model.layers.%d.mlp.gate_proj.bias",                                         \
  [LENS_BT_UP_W] = "model.layers.%d.mlp.up_proj.weight",                                           \
  [LENS_BT_UP_B] = "model.layers.%d.mlp.up_proj.bias",                                             \
  [LENS_BT_DOWN_W] = "model.layers.%d.mlp.down_proj.weight",                                       \
  [LENS_BT_DOWN_B] = "model.layers.%d.mlp.down_proj.bias"

#define LLAMA_ROW(type, reader, ...)                                                               \
  {                                                                                                \
    .model_type = type, .read_hparams = reader, .norm = LENS_NORM_RMS, .pos = LENS_POS_ROPE,       \
    .mlp = LENS_MLP_GATED, .layout = LENS_LAYOUT_OUT_IN, .prefixes = {"", NULL},                   \
    .tok_embd = "model.embed_tokens.weight", .final_norm_w = "model.norm.weight",                  \
    .lm_head = "lm_head.weight", .block = {LLAMA_BLOCK_NAMES, __VA_ARGS__},                        \
  }

/* Gemma: Llama's names, (1 + w) norms; Gemma 2 and 3 add the norms around each sub-layer (their
 * post_attention_layernorm normalises the attention output, unlike Llama's). */
#define GEMMA_ROW(type, reader, prefix, alias, ...)                                                \
  {                                                                                                \
    .model_type = type, .read_hparams = reader, .norm = LENS_NORM_RMS, .pos = LENS_POS_ROPE,       \
    .mlp = LENS_MLP_GATED, .layout = LENS_LAYOUT_OUT_IN, .norm_weight_offset = 1.0f,               \
    .prefixes = {"", prefix, NULL}, .model_alias = alias, .tok_embd = "model.embed_tokens.weight", \
    .final_norm_w = "model.norm.weight", .lm_head = "lm_head.weight",                              \
    .block = {LLAMA_BLOCK_NAMES, __VA_ARGS__},                                                     \
  }

#define GEMMA2_NORMS                                                                               \
  [LENS_BT_ATTN_POST_NORM_W] = "model.layers.%d.post_attention_layernorm.weight",                  \
  [LENS_BT_MLP_NORM_W] = "model.layers.%d.pre_feedforward_layernorm.weight",                       \
  [LENS_BT_MLP_POST_NORM_W] = "model.layers.%d.post_feedforward_layernorm.weight"

#define QK_NORMS                                                                                   \
  [LENS_BT_Q_NORM_W] = "model.layers.%d.self_attn.q_norm.weight",                                  \
  [LENS_BT_K_NORM_W] = "model.layers.%d.self_attn.k_norm.weight"

/* Rows start from a family's names and override a few (Gemma 2's norms): later designated
 * initialisers win, as intended here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
#ifdef __clang__
#pragma clang diagnostic ignored "-Winitializer-overrides"
#endif
static const LensArch arch_table[] = {
    {
        .model_type = "gpt2",
        .read_hparams = read_gpt2,
        .norm = LENS_NORM_LAYER,
        .pos = LENS_POS_LEARNED,
        .mlp = LENS_MLP_PLAIN,
        .layout = LENS_LAYOUT_IN_OUT,
        .prefixes = {"", "transformer.", NULL},
        .tok_embd = "wte.weight",
        .pos_embd = "wpe.weight",
        .final_norm_w = "ln_f.weight",
        .final_norm_b = "ln_f.bias",
        .lm_head = "lm_head.weight",
        .block =
            {
                [LENS_BT_ATTN_NORM_W] = "h.%d.ln_1.weight",
                [LENS_BT_ATTN_NORM_B] = "h.%d.ln_1.bias",
                [LENS_BT_QKV_W] = "h.%d.attn.c_attn.weight",
                [LENS_BT_QKV_B] = "h.%d.attn.c_attn.bias",
                [LENS_BT_O_W] = "h.%d.attn.c_proj.weight",
                [LENS_BT_O_B] = "h.%d.attn.c_proj.bias",
                [LENS_BT_MLP_NORM_W] = "h.%d.ln_2.weight",
                [LENS_BT_MLP_NORM_B] = "h.%d.ln_2.bias",
                [LENS_BT_UP_W] = "h.%d.mlp.c_fc.weight",
                [LENS_BT_UP_B] = "h.%d.mlp.c_fc.bias",
                [LENS_BT_DOWN_W] = "h.%d.mlp.c_proj.weight",
                [LENS_BT_DOWN_B] = "h.%d.mlp.c_proj.bias",
            },
    },
    LLAMA_ROW ("llama", lens_arch_read_llama),
    LLAMA_ROW ("mistral", lens_arch_read_mistral),
    LLAMA_ROW ("qwen2", lens_arch_read_qwen2),
    LLAMA_ROW ("qwen3", lens_arch_read_qwen3, QK_NORMS),
    GEMMA_ROW ("gemma", lens_arch_read_gemma, NULL, NULL),
    GEMMA_ROW ("gemma2", lens_arch_read_gemma2, NULL, NULL, GEMMA2_NORMS),
    GEMMA_ROW ("gemma3_text", lens_arch_read_gemma3_text, NULL, NULL, GEMMA2_NORMS, QK_NORMS),
    /* the text model of a gemma3 (text + vision) checkpoint, saved under language_model. */
    GEMMA_ROW ("gemma3", lens_arch_read_gemma3, "language_model.", "model.language_model.", GEMMA2_NORMS,
               QK_NORMS),
    {
        .model_type = "gpt_neox",
        .read_hparams = read_gpt_neox,
        .norm = LENS_NORM_LAYER,
        .pos = LENS_POS_ROPE,
        .mlp = LENS_MLP_PLAIN,
        .layout = LENS_LAYOUT_OUT_IN,
        .qkv_order = LENS_QKV_PER_HEAD,
        .prefixes = {"", NULL},
        .tok_embd = "gpt_neox.embed_in.weight",
        .final_norm_w = "gpt_neox.final_layer_norm.weight",
        .final_norm_b = "gpt_neox.final_layer_norm.bias",
        .lm_head = "embed_out.weight",
        .block =
            {
                [LENS_BT_ATTN_NORM_W] = "gpt_neox.layers.%d.input_layernorm.weight",
                [LENS_BT_ATTN_NORM_B] = "gpt_neox.layers.%d.input_layernorm.bias",
                [LENS_BT_QKV_W] = "gpt_neox.layers.%d.attention.query_key_value.weight",
                [LENS_BT_QKV_B] = "gpt_neox.layers.%d.attention.query_key_value.bias",
                [LENS_BT_O_W] = "gpt_neox.layers.%d.attention.dense.weight",
                [LENS_BT_O_B] = "gpt_neox.layers.%d.attention.dense.bias",
                [LENS_BT_MLP_NORM_W] = "gpt_neox.layers.%d.post_attention_layernorm.weight",
                [LENS_BT_MLP_NORM_B] = "gpt_neox.layers.%d.post_attention_layernorm.bias",
                [LENS_BT_UP_W] = "gpt_neox.layers.%d.mlp.dense_h_to_4h.weight",
                [LENS_BT_UP_B] = "gpt_neox.layers.%d.mlp.dense_h_to_4h.bias",
                [LENS_BT_DOWN_W] = "gpt_neox.layers.%d.mlp.dense_4h_to_h.weight",
                [LENS_BT_DOWN_B] = "gpt_neox.layers.%d.mlp.dense_4h_to_h.bias",
            },
    },
    {
        .model_type = "phi3",
        .read_hparams = read_phi3,
        .norm = LENS_NORM_RMS,
        .pos = LENS_POS_ROPE,
        .mlp = LENS_MLP_GATED,
        .layout = LENS_LAYOUT_OUT_IN,
        .prefixes = {"", NULL},
        .tok_embd = "model.embed_tokens.weight",
        .final_norm_w = "model.norm.weight",
        .lm_head = "lm_head.weight",
        .block =
            {
                [LENS_BT_ATTN_NORM_W] = "model.layers.%d.input_layernorm.weight",
                [LENS_BT_QKV_W] = "model.layers.%d.self_attn.qkv_proj.weight",
                [LENS_BT_QKV_B] = "model.layers.%d.self_attn.qkv_proj.bias",
                [LENS_BT_O_W] = "model.layers.%d.self_attn.o_proj.weight",
                [LENS_BT_O_B] = "model.layers.%d.self_attn.o_proj.bias",
                [LENS_BT_MLP_NORM_W] = "model.layers.%d.post_attention_layernorm.weight",
                [LENS_BT_GATE_UP_W] = "model.layers.%d.mlp.gate_up_proj.weight",
                [LENS_BT_DOWN_W] = "model.layers.%d.mlp.down_proj.weight",
            },
    },
    {
        .model_type = "olmo2",
        .read_hparams = read_olmo2,
        .norm = LENS_NORM_RMS,
        .pos = LENS_POS_ROPE,
        .mlp = LENS_MLP_GATED,
        .layout = LENS_LAYOUT_OUT_IN,
        .qk_norm_whole = TRUE,
        .prefixes = {"", NULL},
        .tok_embd = "model.embed_tokens.weight",
        .final_norm_w = "model.norm.weight",
        .lm_head = "lm_head.weight",
        /* post-norm: no norm before the sub-layers, one after each */
        .block =
            {
                [LENS_BT_Q_W] = "model.layers.%d.self_attn.q_proj.weight",
                [LENS_BT_Q_B] = "model.layers.%d.self_attn.q_proj.bias",
                [LENS_BT_K_W] = "model.layers.%d.self_attn.k_proj.weight",
                [LENS_BT_K_B] = "model.layers.%d.self_attn.k_proj.bias",
                [LENS_BT_V_W] = "model.layers.%d.self_attn.v_proj.weight",
                [LENS_BT_V_B] = "model.layers.%d.self_attn.v_proj.bias",
                [LENS_BT_O_W] = "model.layers.%d.self_attn.o_proj.weight",
                [LENS_BT_O_B] = "model.layers.%d.self_attn.o_proj.bias",
                QK_NORMS,
                [LENS_BT_ATTN_POST_NORM_W] = "model.layers.%d.post_attention_layernorm.weight",
                [LENS_BT_GATE_W] = "model.layers.%d.mlp.gate_proj.weight",
                [LENS_BT_UP_W] = "model.layers.%d.mlp.up_proj.weight",
                [LENS_BT_DOWN_W] = "model.layers.%d.mlp.down_proj.weight",
                [LENS_BT_MLP_POST_NORM_W] = "model.layers.%d.post_feedforward_layernorm.weight",
            },
    },
};
#pragma GCC diagnostic pop

const LensArch *
lens_arch_find (const char *model_type, size_t len)
{
  for (guint i = 0; i < G_N_ELEMENTS (arch_table); i++)
    if (strlen (arch_table[i].model_type) == len
        && memcmp (arch_table[i].model_type, model_type, len) == 0)
      return &arch_table[i];
  return NULL;
}

const char *
lens_arch_supported_list (void)
{
  static char *list = NULL;
  if (g_once_init_enter (&list))
    {
      GString *s = g_string_new (NULL);
      for (guint i = 0; i < G_N_ELEMENTS (arch_table); i++)
        g_string_append_printf (s, "%s%s", i ? ", " : "", arch_table[i].model_type);
      g_once_init_leave (&list, g_string_free (s, FALSE));
    }
  return list;
}
