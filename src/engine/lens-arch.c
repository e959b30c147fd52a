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

/* One of longrope's factor lists: rotary_dim / 2 positive numbers. */
static gboolean
read_factor_list (json_object *scaling, const char *path, const char *where, const char *key, int n,
                  double *out, GError **error)
{
  json_object *list;
  if (!lens_config_field (scaling, key, &list) || list == NULL
      || !json_object_is_type (list, json_type_array)
      || json_object_array_length (list) != (size_t) n)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"%s%s\" must be a list of %d numbers (rotary dimensions / 2)", path,
                   where, key, n);
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      json_object *v = json_object_array_get_idx (list, (size_t) i);
      double d
          = (json_object_is_type (v, json_type_double) || json_object_is_type (v, json_type_int))
                ? json_object_get_double (v)
                : NAN;
      if (!(d > 0.0 && d < 1e6))
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                       "%s: field \"%s%s[%d]\" must be a positive number", path, where, key, i);
          return FALSE;
        }
      out[i] = d;
    }
  return TRUE;
}

/* Phi-3's longrope (transformers' _compute_longrope_parameters): per-frequency divisors for
 * short and long prompts, the boundary original_max_position_embeddings (top-level in Phi-3
 * configs, else in the scaling dict), and cos/sin scaled by attention_factor, which defaults to
 * sqrt(1 + ln(factor) / ln(original)) with factor = max_position_embeddings / original. */
static gboolean
read_longrope (json_object *root, json_object *scaling, const char *path, const char *where,
               LensConfig *c, LensRope *r, GError **error)
{
  int half = r->rotary_dim / 2;
  if (half > LENS_MAX_ROPE_HALF)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                   "%s: longrope with %d rotary dimensions is not supported (at most %d)", path,
                   r->rotary_dim, 2 * LENS_MAX_ROPE_HALF);
      return FALSE;
    }
  if (!read_factor_list (scaling, path, where, "short_factor", half, r->short_factor, error)
      || !read_factor_list (scaling, path, where, "long_factor", half, r->long_factor, error))
    return FALSE;
  gboolean top;
  r->original_max_position_embeddings = 0;
  /* at least 2: the default attention factor divides by its logarithm */
  if (!lens_config_int (root, path, NULL, "original_max_position_embeddings", FALSE, 2, 16 << 20,
                        &r->original_max_position_embeddings, &top, error))
    return FALSE;
  if (!top
      && !lens_config_int (scaling, path, where, "original_max_position_embeddings", TRUE, 2,
                           16 << 20, &r->original_max_position_embeddings, NULL, error))
    return FALSE;
  double factor;
  if (top)
    factor = (double) c->n_positions / r->original_max_position_embeddings;
  else if (!lens_config_double (scaling, path, where, "factor", 0.0, TRUE, 1e6, 1.0, &factor,
                                error))
    return FALSE;
  r->factor = factor;
  double dflt
      = factor <= 1.0
            ? 1.0
            : sqrt (1.0 + log (factor) / log ((double) r->original_max_position_embeddings));
  return lens_config_double (scaling, path, where, "attention_factor", 0.0, TRUE, 1e6, dflt,
                             &r->attention_factor, error);
}

static gboolean read_rope_dict (json_object *root, json_object *scaling, const char *where,
                                const char *path, LensConfig *c, LensRope *r, GError **error);

/* rope_theta and rope_scaling (transformers <= 4.x), or rope_parameters (newer configs, where
 * the theta lives inside). */
static gboolean
read_rope (json_object *root, const char *path, LensConfig *c, double default_theta, GError **error)
{
  LensRope *r = &c->rope;
  r->type = LENS_ROPE_DEFAULT;
  if (r->rotary_dim == 0)
    r->rotary_dim = c->head_dim;
  r->attention_factor = 1.0;
  if (!lens_config_double (root, path, NULL, "rope_theta", 0.0, TRUE, 1e12, default_theta,
                           &r->theta, error))
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
  return read_rope_dict (root, scaling, where, path, c, r, error);
}

/* A RoPE settings dict (rope_scaling, rope_parameters or one of Gemma 3's per-layer-type dicts),
 * or NULL for none, into r (whose theta is the default for a rope_theta inside). */
static gboolean
read_rope_dict (json_object *root, json_object *scaling, const char *where, const char *path,
                LensConfig *c, LensRope *r, GError **error)
{
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
  /* Phi-3's first configs call longrope "su" or "yarn", which Phi3Config reads as longrope */
  gboolean phi3 = strcmp (c->model_type, "phi3") == 0;
  if (lens_config_string_is (type, type_len, "longrope")
      || (phi3
          && (lens_config_string_is (type, type_len, "su")
              || lens_config_string_is (type, type_len, "yarn"))))
    {
      r->type = LENS_ROPE_LONGROPE;
      return read_longrope (root, scaling, path, where, c, r, error);
    }
  g_autofree char *td = lens_json_describe (type, (gssize) type_len);
  g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
               "%s: field \"%srope_type\" %s is not supported (supported: default, linear, llama3, "
               "longrope)",
               path, where, td);
  return FALSE;
}

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

static const LlamaDefaults llama_defaults = {.act = LENS_ACT_SILU, .theta = 10000.0};

/* hidden_act / hidden_activation as ACT2FN names them. */
static gboolean
read_activation (json_object *root, const char *path, const char *key, LensActivation *act,
                 GError **error)
{
  const char *name = NULL;
  size_t len;
  if (!lens_config_string (root, path, NULL, key, &name, &len, error))
    return FALSE;
  if (name == NULL)
    return TRUE;
  static const struct
  {
    const char *name;
    LensActivation act;
  } known[] = {
      {"silu", LENS_ACT_SILU},
      {"swish", LENS_ACT_SILU},
      {"gelu_pytorch_tanh", LENS_ACT_GELU_TANH},
      {"gelu_new", LENS_ACT_GELU_TANH},
      {"gelu_fast", LENS_ACT_GELU_TANH},
      {"gelu", LENS_ACT_GELU_ERF},
  };
  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    if (lens_config_string_is (name, len, known[i].name))
      {
        *act = known[i].act;
        return TRUE;
      }
  g_autofree char *shown = lens_json_describe (name, (gssize) len);
  g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
               "%s: %s %s is not supported (supported: silu, gelu, gelu_pytorch_tanh, gelu_new)",
               path, key, shown);
  return FALSE;
}

/* An integer shape key: required when its default is 0. */
static gboolean
shape_key (json_object *root, const char *path, const char *key, int hi, int dflt, int *out,
           GError **error)
{
  *out = dflt;
  return lens_config_int (root, path, NULL, key, dflt == 0, 1, hi, out, NULL, error);
}

/* What LlamaConfig and its descendants share: shapes, RMSNorm eps, activation, tying, RoPE. */
static gboolean
read_llama_common (json_object *root, const char *path, LensConfig *c, const LlamaDefaults *d,
                   GError **error)
{
  gboolean has_kv, has_hd;
  if (!shape_key (root, path, "num_hidden_layers", LENS_MAX_LAYERS, d->n_layer, &c->n_layer, error)
      || !shape_key (root, path, "hidden_size", 65536, d->n_embd, &c->n_embd, error)
      || !shape_key (root, path, "num_attention_heads", 65536, d->n_head, &c->n_head, error)
      || !lens_config_int (root, path, NULL, "num_key_value_heads", FALSE, 1, 65536, &c->n_kv_head,
                           &has_kv, error)
      || !lens_config_int (root, path, NULL, "head_dim", FALSE, 1, 65536, &c->head_dim, &has_hd,
                           error)
      || !shape_key (root, path, "intermediate_size", 1 << 20, d->n_inner, &c->n_inner, error)
      || !shape_key (root, path, "vocab_size", 10000000, d->vocab_size, &c->vocab_size, error)
      || !shape_key (root, path, "max_position_embeddings", 16 << 20, d->n_positions,
                     &c->n_positions, error))
    return FALSE;
  if (!has_kv)
    c->n_kv_head = d->n_kv_head > 0 ? d->n_kv_head : c->n_head;
  if (c->n_head % c->n_kv_head != 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: num_key_value_heads (%d) does not divide num_attention_heads (%d)", path,
                   c->n_kv_head, c->n_head);
      return FALSE;
    }
  if (!has_hd)
    {
      if (d->head_dim > 0)
        c->head_dim = d->head_dim;
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
  c->act = d->act;
  return read_activation (root, path, "hidden_act", &c->act, error)
         && lens_config_bool (root, path, NULL, "tie_word_embeddings", d->tie,
                              &c->tie_word_embeddings, error)
         && read_rope (root, path, c, d->theta, error);
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

/* layer_types (newer configs: "full_attention" / "sliding_attention" per block); without it,
 * c->layer_sliding keeps the family's default rule, which the caller has set. */
static gboolean
read_layer_types (json_object *root, const char *path, LensConfig *c, GError **error)
{
  json_object *types;
  if (!lens_config_field (root, "layer_types", &types) || types == NULL)
    return TRUE;
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
  if (!read_llama_common (root, path, c, &llama_defaults, error)
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
  if (!read_llama_common (root, path, c, &llama_defaults, error)
      || !read_window (root, path, c, 4096, error))
    return FALSE;
  for (int l = 0; l < c->n_layer; l++)
    c->layer_sliding[l] = c->sliding_window > 0;
  return read_layer_types (root, path, c, error);
}

/* Qwen2 and Qwen3: the window only counts with use_sliding_window, and then only from block
 * max_window_layers on. */
static gboolean
read_qwen_window (json_object *root, const char *path, LensConfig *c, GError **error)
{
  bool use_window;
  int max_window_layers = 28; /* Qwen2Config's and Qwen3Config's defaults, as the window's 4096 */
  if (!lens_config_bool (root, path, NULL, "use_sliding_window", false, &use_window, error)
      || !read_window (root, path, c, 4096, error)
      || !lens_config_int (root, path, NULL, "max_window_layers", FALSE, 0, G_MAXINT,
                           &max_window_layers, NULL, error))
    return FALSE;
  if (!use_window)
    c->sliding_window = 0;
  for (int l = 0; l < c->n_layer; l++)
    c->layer_sliding[l] = c->sliding_window > 0 && l >= max_window_layers;
  return read_layer_types (root, path, c, error);
}

static gboolean
read_qwen2 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  c->attn_qkv_bias = true; /* q, k and v have biases, the output projection none */
  return read_llama_common (root, path, c, &llama_defaults, error)
         && read_qwen_window (root, path, c, error);
}

static gboolean
read_qwen3 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  bool attention_bias;
  /* Qwen3Config's head_dim defaults to 128, whatever the hidden size. */
  static const LlamaDefaults qwen3 = {.head_dim = 128, .act = LENS_ACT_SILU, .theta = 10000.0};
  if (!read_llama_common (root, path, c, &qwen3, error)
      || !lens_config_bool (root, path, NULL, "attention_bias", false, &attention_bias, error)
      || !read_qwen_window (root, path, c, error))
    return FALSE;
  c->attn_qkv_bias = c->attn_out_bias = attention_bias;
  return TRUE;
}

/* ---- Gemma ---- */

/* Gemma's twists shared by its three generations: embeddings scaled by sqrt(hidden_size), norms
 * that scale by (1 + w) (the table row's norm_weight_offset), GeGLU with the tanh GELU. */
static gboolean
read_gemma_common (json_object *root, const char *path, LensConfig *c, const LlamaDefaults *d,
                   GError **error)
{
  bool attention_bias;
  if (!read_llama_common (root, path, c, d, error))
    return FALSE;
  /* Gemma reads hidden_activation; the first Gemma configs say "hidden_act": "gelu", which
   * transformers overrode with the tanh GELU, so hidden_act does not count. */
  c->act = LENS_ACT_GELU_TANH;
  if (!read_activation (root, path, "hidden_activation", &c->act, error)
      || !lens_config_bool (root, path, NULL, "attention_bias", false, &attention_bias, error))
    return FALSE;
  c->attn_qkv_bias = c->attn_out_bias = attention_bias;
  c->embed_scale = sqrt ((double) c->n_embd);
  return TRUE;
}

static gboolean
read_gemma (json_object *root, const char *path, LensConfig *c, GError **error)
{
  static const LlamaDefaults gemma
      = {.head_dim = 256, .tie = true, .theta = 10000.0, .act = LENS_ACT_GELU_TANH};
  return read_gemma_common (root, path, c, &gemma, error);
}

/* query_pre_attn_scalar^-0.5 scales the scores; the soft-caps are optional (null: none). */
static gboolean
read_gemma_attention (json_object *root, const char *path, LensConfig *c, double attn_cap,
                      double final_cap, GError **error)
{
  double scalar;
  /* below 1e-6 the scale (scalar^-0.5) turns ordinary scores into float overflow */
  if (!lens_config_double (root, path, NULL, "query_pre_attn_scalar", 1e-6, FALSE, 1e9, 256.0,
                           &scalar, error))
    return FALSE;
  c->attn_scale = 1.0 / sqrt (scalar);
  json_object *v;
  c->attn_softcap = attn_cap;
  if (lens_config_field (root, "attn_logit_softcapping", &v) && v == NULL)
    c->attn_softcap = 0.0;
  /* caps below 1e-6 would round to 0 in float, which means "no cap" */
  else if (!lens_config_double (root, path, NULL, "attn_logit_softcapping", 1e-6, FALSE, 1e9,
                                attn_cap, &c->attn_softcap, error))
    return FALSE;
  c->final_logit_softcap = final_cap;
  if (lens_config_field (root, "final_logit_softcapping", &v) && v == NULL)
    c->final_logit_softcap = 0.0;
  else if (!lens_config_double (root, path, NULL, "final_logit_softcapping", 1e-6, FALSE, 1e9,
                                final_cap, &c->final_logit_softcap, error))
    return FALSE;
  return TRUE;
}

/* Sliding blocks need a window: transformers refuses to build their mask without one. */
static gboolean
check_window (const char *path, LensConfig *c, GError **error)
{
  for (int l = 0; l < c->n_layer; l++)
    if (c->layer_sliding[l] && c->sliding_window <= 0)
      {
        g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                     "%s: field \"sliding_window\" is null, but block %d uses sliding-window "
                     "attention",
                     path, l);
        return FALSE;
      }
  return TRUE;
}

static gboolean
read_gemma2 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  static const LlamaDefaults gemma2
      = {.head_dim = 256, .tie = true, .theta = 10000.0, .act = LENS_ACT_GELU_TANH};
  if (!read_gemma_common (root, path, c, &gemma2, error)
      || !read_gemma_attention (root, path, c, 50.0, 30.0, error)
      || !read_window (root, path, c, 4096, error))
    return FALSE;
  /* Gemma2Config: blocks 0, 2, 4, ... slide */
  for (int l = 0; l < c->n_layer; l++)
    c->layer_sliding[l] = l % 2 == 0;
  return read_layer_types (root, path, c, error) && check_window (path, c, error);
}

/* Gemma 3's two RoPEs: the global blocks' from rope_theta and rope_scaling, the sliding blocks'
 * from rope_local_base_freq without scaling; or, in newer configs, rope_parameters with a dict
 * per layer type ("full_attention", "sliding_attention"), which rope_scaling still overrides for
 * the global blocks. */
static gboolean
read_gemma3_ropes (json_object *root, const char *path, LensConfig *c, GError **error)
{
  c->rope_local = c->rope;
  c->rope_local.type = LENS_ROPE_DEFAULT;
  c->has_local_rope = true;
  if (!lens_config_double (root, path, NULL, "rope_local_base_freq", 0.0, TRUE, 1e12, 10000.0,
                           &c->rope_local.theta, error))
    return FALSE;

  json_object *params, *full = NULL, *sliding = NULL, *scaling = NULL;
  if (!lens_config_field (root, "rope_parameters", &params) || params == NULL
      || !json_object_is_type (params, json_type_object)
      || !(lens_config_field (params, "full_attention", &full)
           || lens_config_field (params, "sliding_attention", &sliding)))
    return TRUE; /* read_rope has read the one-dict spelling */
  lens_config_field (params, "sliding_attention", &sliding);
  lens_config_field (root, "rope_scaling", &scaling);
  if ((full != NULL && !json_object_is_type (full, json_type_object))
      || (sliding != NULL && !json_object_is_type (sliding, json_type_object)))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"rope_parameters\": each layer type's settings must be an object",
                   path);
      return FALSE;
    }
  LensRope *g = &c->rope;
  g->type = LENS_ROPE_DEFAULT;
  if (!lens_config_double (root, path, NULL, "rope_theta", 0.0, TRUE, 1e12, 1000000.0, &g->theta,
                           error)
      || !read_rope_dict (root, full, "rope_parameters.full_attention.", path, c, g, error))
    return FALSE;
  if (scaling != NULL && !read_rope_dict (root, scaling, "rope_scaling.", path, c, g, error))
    return FALSE;
  if (!read_rope_dict (root, sliding, "rope_parameters.sliding_attention.", path, c, &c->rope_local,
                       error))
    return FALSE;
  /* the sliding blocks' tables are computed once for every prompt length: longrope, whose
   * factors depend on it, is not taken there (no Gemma 3 uses it) */
  if (c->rope_local.type != LENS_ROPE_DEFAULT && c->rope_local.type != LENS_ROPE_LINEAR)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                   "%s: field \"rope_parameters.sliding_attention.rope_type\": only default and "
                   "linear are supported for the sliding blocks",
                   path);
      return FALSE;
    }
  return TRUE;
}

/* Gemma 3's text model. Local (sliding) blocks rotate with rope_local_base_freq and no scaling,
 * global ones with rope_theta and rope_scaling. */
static gboolean
read_gemma3_text (json_object *root, const char *path, LensConfig *c, GError **error)
{
  /* Gemma3TextConfig's defaults: a config nested in a gemma3 folder leaves most keys out */
  static const LlamaDefaults gemma3 = {.n_layer = 26,
                                       .n_embd = 2304,
                                       .n_head = 8,
                                       .n_kv_head = 4,
                                       .n_inner = 9216,
                                       .vocab_size = 262208,
                                       .n_positions = 131072,
                                       .head_dim = 256,
                                       .tie = true,
                                       .theta = 1000000.0,
                                       .act = LENS_ACT_GELU_TANH};
  int pattern = 6;
  if (!read_gemma_common (root, path, c, &gemma3, error)
      || !read_gemma_attention (root, path, c, 0.0, 0.0, error)
      || !read_window (root, path, c, 4096, error)
      || !lens_config_int (root, path, NULL, "sliding_window_pattern", FALSE, 1, LENS_MAX_LAYERS,
                           &pattern, NULL, error))
    return FALSE;
  /* Gemma3Attention passes no soft-cap to its attention: the setting has no effect there */
  c->attn_softcap = 0.0;
  /* every pattern-th block is global, the others slide */
  for (int l = 0; l < c->n_layer; l++)
    c->layer_sliding[l] = (l + 1) % pattern != 0;
  return read_layer_types (root, path, c, error) && check_window (path, c, error)
         && read_gemma3_ropes (root, path, c, error);
}

/* A gemma3 folder (text and vision): the text model's config is nested in text_config. */
static gboolean
read_gemma3 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  json_object *text;
  if (!lens_config_field (root, "text_config", &text) || text == NULL
      || !json_object_is_type (text, json_type_object))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"text_config\" must be an object (the text model's settings)", path);
      return FALSE;
    }
  if (read_gemma3_text (text, path, c, error))
    return TRUE;
  /* "config.json: field "x" ..." -> "config.json: text_config: field "x" ..." */
  size_t n = strlen (path);
  if (error != NULL && *error != NULL && strncmp ((*error)->message, path, n) == 0
      && strncmp ((*error)->message + n, ": ", 2) == 0)
    {
      char *m = g_strdup_printf ("%s: text_config: %s", path, (*error)->message + n + 2);
      g_free ((*error)->message);
      (*error)->message = m;
    }
  return FALSE;
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
  if (!shape_key (root, path, "num_hidden_layers", LENS_MAX_LAYERS, 0, &c->n_layer, error)
      || !shape_key (root, path, "hidden_size", 65536, 0, &c->n_embd, error)
      || !shape_key (root, path, "num_attention_heads", 65536, 0, &c->n_head, error)
      || !shape_key (root, path, "intermediate_size", 1 << 20, 0, &c->n_inner, error)
      || !shape_key (root, path, "vocab_size", 10000000, 0, &c->vocab_size, error)
      || !shape_key (root, path, "max_position_embeddings", 16 << 20, 2048, &c->n_positions, error))
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
      || !read_activation (root, path, "hidden_act", &c->act, error)
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
  return read_rope (root, path, c, base, error);
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
  if (!shape_key (root, path, "hidden_size", 65536, 0, &n_embd, error)
      || !shape_key (root, path, "num_attention_heads", 65536, 0, &n_head, error)
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
  if (!read_llama_common (root, path, c, &phi3, error) || !read_window (root, path, c, 0, error))
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
  return read_layer_types (root, path, c, error);
}

/* ---- OLMo 2 ---- */

static gboolean
read_olmo2 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  bool attention_bias;
  if (!read_llama_common (root, path, c, &llama_defaults, error)
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
    LLAMA_ROW ("llama", read_llama),
    LLAMA_ROW ("mistral", read_mistral),
    LLAMA_ROW ("qwen2", read_qwen2),
    LLAMA_ROW ("qwen3", read_qwen3, QK_NORMS),
    GEMMA_ROW ("gemma", read_gemma, NULL, NULL),
    GEMMA_ROW ("gemma2", read_gemma2, NULL, NULL, GEMMA2_NORMS),
    GEMMA_ROW ("gemma3_text", read_gemma3_text, NULL, NULL, GEMMA2_NORMS, QK_NORMS),
    /* the text model of a gemma3 (text + vision) checkpoint, saved under language_model. */
    GEMMA_ROW ("gemma3", read_gemma3, "language_model.", "model.language_model.", GEMMA2_NORMS,
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
