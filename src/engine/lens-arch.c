/* lens-arch.c: the table of model families and each family's config.json keys.
 *
 * The key names and their defaults follow transformers' configuration_*.py of each family, so a
 * config that leaves a key out means what it means to transformers. */
#include "lens-arch.h"
#include "lens-config-private.h"
#include "lens-error.h"
#include "lens-json.h"

#include <math.h>
#include <string.h>

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

  c->attn_qkv_bias = c->attn_out_bias = c->mlp_bias = true;
  if (!lens_config_bool (root, path, NULL, "tie_word_embeddings", true, &c->tie_word_embeddings,
                         error)
      || !lens_config_refuse_flag (root, path, "scale_attn_weights", true, error)
      || !lens_config_refuse_flag (root, path, "scale_attn_by_inverse_layer_idx", false, error)
      || !lens_config_refuse_flag (root, path, "add_cross_attention", false, error))
    return FALSE;
  return TRUE;
}

/* ---- the Llama family: shared keys ---- */

/* A positive scaling factor that must be present. */
static gboolean
require_factor (json_object *obj, const char *path, const char *where, const char *key, double *out,
                GError **error)
{
  if (!lens_config_double (obj, path, where, key, 0.0, TRUE, 1e6, NAN, out, error))
    return FALSE;
  if (isnan (*out))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: field \"%s%s\" is missing", path,
                   where, key);
      return FALSE;
    }
  return TRUE;
}

/* rope_theta and rope_scaling (transformers <= 4.x), or rope_parameters (newer configs, where
 * the theta lives inside). */
static gboolean
read_rope (json_object *root, const char *path, LensConfig *c, GError **error)
{
  LensRope *r = &c->rope;
  r->type = LENS_ROPE_DEFAULT;
  r->rotary_dim = c->head_dim;
  if (!lens_config_double (root, path, NULL, "rope_theta", 0.0, TRUE, 1e12, 10000.0, &r->theta,
                           error))
    return FALSE;

  /* transformers reads rope_scaling when a config has it, else rope_parameters; the theta may
   * live inside either */
  json_object *scaling = NULL;
  const char *where = "rope_scaling.";
  if (!lens_config_field (root, "rope_scaling", &scaling) || scaling == NULL)
    {
      where = "rope_parameters.";
      lens_config_field (root, "rope_parameters", &scaling);
    }
  if (scaling != NULL && !json_object_is_type (scaling, json_type_object))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"%.*s\" must be an object or null, not %s", path,
                   (int) strlen (where) - 1, where, lens_json_type_name (scaling));
      return FALSE;
    }
  if (scaling != NULL
      && !lens_config_double (scaling, path, where, "rope_theta", 0.0, TRUE, 1e12, r->theta,
                              &r->theta, error))
    return FALSE;
  if (scaling == NULL)
    return TRUE;

  /* "rope_type" is the current key, "type" the legacy one. */
  const char *type = NULL;
  size_t type_len;
  if (!lens_config_string (scaling, path, where, "rope_type", &type, &type_len, error))
    return FALSE;
  if (type == NULL && !lens_config_string (scaling, path, where, "type", &type, &type_len, error))
    return FALSE;
  if (type == NULL || lens_config_string_is (type, type_len, "default"))
    return TRUE;

  if (lens_config_string_is (type, type_len, "linear"))
    {
      r->type = LENS_ROPE_LINEAR;
      return require_factor (scaling, path, where, "factor", &r->factor, error);
    }
  if (lens_config_string_is (type, type_len, "llama3"))
    {
      r->type = LENS_ROPE_LLAMA3;
      if (!require_factor (scaling, path, where, "factor", &r->factor, error)
          || !require_factor (scaling, path, where, "low_freq_factor", &r->low_freq_factor, error)
          || !require_factor (scaling, path, where, "high_freq_factor", &r->high_freq_factor,
                              error))
        return FALSE;
      if (!(r->high_freq_factor > r->low_freq_factor))
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                       "%s: field \"%shigh_freq_factor\" (%g) must be larger than "
                       "low_freq_factor (%g)",
                       path, where, r->high_freq_factor, r->low_freq_factor);
          return FALSE;
        }
      r->original_max_position_embeddings = c->n_positions;
      return lens_config_int (scaling, path, where, "original_max_position_embeddings", FALSE, 1,
                              16 << 20, &r->original_max_position_embeddings, NULL, error);
    }
  g_autofree char *td = lens_json_describe (type, (gssize) type_len);
  g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
               "%s: field \"%srope_type\" %s is not supported (supported: default, linear, llama3)",
               path, where, td);
  return FALSE;
}

/* What LlamaConfig and its descendants share. `default_head_dim` is 0 for hidden/heads. */
static gboolean
read_llama_common (json_object *root, const char *path, LensConfig *c, int default_head_dim,
                   GError **error)
{
  gboolean has_kv, has_hd;
  if (!lens_config_int (root, path, NULL, "num_hidden_layers", TRUE, 1, LENS_MAX_LAYERS,
                        &c->n_layer, NULL, error)
      || !lens_config_int (root, path, NULL, "hidden_size", TRUE, 1, 65536, &c->n_embd, NULL, error)
      || !lens_config_int (root, path, NULL, "num_attention_heads", TRUE, 1, 65536, &c->n_head,
                           NULL, error)
      || !lens_config_int (root, path, NULL, "num_key_value_heads", FALSE, 1, 65536, &c->n_kv_head,
                           &has_kv, error)
      || !lens_config_int (root, path, NULL, "head_dim", FALSE, 1, 65536, &c->head_dim, &has_hd,
                           error)
      || !lens_config_int (root, path, NULL, "intermediate_size", TRUE, 1, 1 << 20, &c->n_inner,
                           NULL, error)
      || !lens_config_int (root, path, NULL, "vocab_size", TRUE, 1, 10000000, &c->vocab_size, NULL,
                           error)
      || !lens_config_int (root, path, NULL, "max_position_embeddings", TRUE, 1, 16 << 20,
                           &c->n_positions, NULL, error))
    return FALSE;
  if (!has_kv)
    c->n_kv_head = c->n_head;
  if (c->n_head % c->n_kv_head != 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: num_key_value_heads (%d) does not divide num_attention_heads (%d)", path,
                   c->n_kv_head, c->n_head);
      return FALSE;
    }
  if (!has_hd)
    {
      if (default_head_dim > 0)
        c->head_dim = default_head_dim;
      else if (c->n_embd % c->n_head != 0)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                       "%s: hidden_size (%d) is not a multiple of num_attention_heads (%d) and "
                       "there is no head_dim",
                       path, c->n_embd, c->n_head);
          return FALSE;
        }
      else
        c->head_dim = c->n_embd / c->n_head;
    }

  double eps;
  if (!lens_config_double (root, path, NULL, "rms_norm_eps", 0.0, TRUE, 1.0, 1e-6, &eps, error))
    return FALSE;
  c->norm_eps = (float) eps;
  if (c->norm_eps == 0.0f) /* positive, but below float's range: the norm would divide by 0 */
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"rms_norm_eps\" = %g is out of range (0..1]", path, eps);
      return FALSE;
    }

  const char *act = NULL;
  size_t act_len;
  if (!lens_config_string (root, path, NULL, "hidden_act", &act, &act_len, error))
    return FALSE;
  if (act != NULL && !lens_config_string_is (act, act_len, "silu"))
    {
      g_autofree char *ad = lens_json_describe (act, (gssize) act_len);
      g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                   "%s: hidden_act %s is not supported (supported: silu)", path, ad);
      return FALSE;
    }
  return lens_config_bool (root, path, NULL, "tie_word_embeddings", false, &c->tie_word_embeddings,
                           error)
         && read_rope (root, path, c, error);
}

/* sliding_window: an integer, or null for none; `dflt` when the key is absent. */
static gboolean
read_window (json_object *root, const char *path, LensConfig *c, int dflt, GError **error)
{
  json_object *v;
  c->sliding_window = lens_config_field (root, "sliding_window", &v) ? 0 : dflt;
  return lens_config_int (root, path, NULL, "sliding_window", FALSE, 1, G_MAXINT,
                          &c->sliding_window, NULL, error);
}

/* layer_types (newer configs: "full_attention" / "sliding_attention" per block), or Qwen2's
 * rule: blocks from max_window_layers on slide, when use_sliding_window is set. */
static gboolean
read_layer_types (json_object *root, const char *path, LensConfig *c, int first_sliding,
                  GError **error)
{
  json_object *types;
  if (!lens_config_field (root, "layer_types", &types) || types == NULL)
    {
      for (int l = 0; l < c->n_layer; l++)
        c->layer_sliding[l] = c->sliding_window > 0 && l >= first_sliding;
      return TRUE;
    }
  if (!json_object_is_type (types, json_type_array)
      || json_object_array_length (types) != (size_t) c->n_layer)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"layer_types\" must be an array of %d strings (one per layer)", path,
                   c->n_layer);
      return FALSE;
    }
  for (int l = 0; l < c->n_layer; l++)
    {
      json_object *t = json_object_array_get_idx (types, (size_t) l);
      const char *s = json_object_is_type (t, json_type_string) ? json_object_get_string (t) : "";
      if (strcmp (s, "full_attention") == 0)
        c->layer_sliding[l] = false;
      else if (strcmp (s, "sliding_attention") == 0)
        {
          if (c->sliding_window <= 0)
            {
              g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                           "%s: field \"layer_types[%d]\" is \"sliding_attention\" but there is "
                           "no sliding_window",
                           path, l);
              return FALSE;
            }
          c->layer_sliding[l] = true;
        }
      else
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                       "%s: field \"layer_types[%d]\" must be \"full_attention\" or "
                       "\"sliding_attention\"",
                       path, l);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
read_llama (json_object *root, const char *path, LensConfig *c, GError **error)
{
  bool attention_bias;
  if (!read_llama_common (root, path, c, 0, error)
      || !lens_config_bool (root, path, NULL, "attention_bias", false, &attention_bias, error)
      || !lens_config_bool (root, path, NULL, "mlp_bias", false, &c->mlp_bias, error))
    return FALSE;
  c->attn_qkv_bias = c->attn_out_bias = attention_bias;
  return TRUE;
}

static gboolean
read_mistral (json_object *root, const char *path, LensConfig *c, GError **error)
{
  /* Mistral's projections never have biases; its window applies to every block, and is 4,096
   * tokens when the config does not say (MistralConfig's default). */
  return read_llama_common (root, path, c, 0, error) && read_window (root, path, c, 4096, error)
         && read_layer_types (root, path, c, 0, error);
}

/* Qwen2 and Qwen3: the window only counts with use_sliding_window, and then only from block
 * max_window_layers on. */
static gboolean
read_qwen_window (json_object *root, const char *path, LensConfig *c, GError **error)
{
  bool use_window;
  int max_window_layers = 0;
  if (!lens_config_bool (root, path, NULL, "use_sliding_window", false, &use_window, error)
      || !read_window (root, path, c, 0, error)
      || !lens_config_int (root, path, NULL, "max_window_layers", FALSE, 0, G_MAXINT,
                           &max_window_layers, NULL, error))
    return FALSE;
  if (!use_window)
    c->sliding_window = 0;
  return read_layer_types (root, path, c, max_window_layers, error);
}

static gboolean
read_qwen2 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  c->attn_qkv_bias = true; /* q, k and v have biases, the output projection none */
  return read_llama_common (root, path, c, 0, error) && read_qwen_window (root, path, c, error);
}

static gboolean
read_qwen3 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  bool attention_bias;
  /* Qwen3Config's head_dim defaults to 128, whatever the hidden size. */
  if (!read_llama_common (root, path, c, 128, error)
      || !lens_config_bool (root, path, NULL, "attention_bias", false, &attention_bias, error)
      || !read_qwen_window (root, path, c, error))
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
    .mlp = LENS_MLP_SWIGLU, .layout = LENS_LAYOUT_OUT_IN, .prefixes = {"", NULL},                  \
    .tok_embd = "model.embed_tokens.weight", .final_norm_w = "model.norm.weight",                  \
    .lm_head = "lm_head.weight", .block = {LLAMA_BLOCK_NAMES, __VA_ARGS__},                        \
  }

static const LensArch arch_table[] = {
    {
        .model_type = "gpt2",
        .read_hparams = read_gpt2,
        .norm = LENS_NORM_LAYER,
        .pos = LENS_POS_LEARNED,
        .mlp = LENS_MLP_GELU_TANH,
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
    LLAMA_ROW ("llama", read_llama),
    LLAMA_ROW ("mistral", read_mistral),
    LLAMA_ROW ("qwen2", read_qwen2),
    LLAMA_ROW ("qwen3", read_qwen3, [LENS_BT_Q_NORM_W] = "model.layers.%d.self_attn.q_norm.weight",
               [LENS_BT_K_NORM_W] = "model.layers.%d.self_attn.k_norm.weight"),
};

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
