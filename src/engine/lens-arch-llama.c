/* lens-arch-llama.c: config.json readers of the Llama family (Llama, Mistral, Qwen 2 and 3) and
 * the keys its descendants share: RoPE and its scaling, activation, sliding windows, layer types.
 * Key names and defaults follow transformers' configuration_*.py of each family. */
#include "lens-arch-private.h"

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

/* rope_theta and rope_scaling (transformers <= 4.x), or rope_parameters (newer configs, where
 * the theta lives inside). */
gboolean
lens_arch_read_rope (json_object *root, const char *path, LensConfig *c, double default_theta,
                     GError **error)
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
  return lens_arch_read_rope_dict (root, scaling, where, path, c, r, error);
}

/* A RoPE settings dict (rope_scaling, rope_parameters or one of Gemma 3's per-layer-type dicts),
 * or NULL for none, into r (whose theta is the default for a rope_theta inside). */
gboolean
lens_arch_read_rope_dict (json_object *root, json_object *scaling, const char *where,
                          const char *path, LensConfig *c, LensRope *r, GError **error)
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

const LlamaDefaults lens_arch_llama_defaults = {.act = LENS_ACT_SILU, .theta = 10000.0};

/* hidden_act / hidden_activation as ACT2FN names them. */
gboolean
lens_arch_read_activation (json_object *root, const char *path, const char *key,
                           LensActivation *act, GError **error)
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
gboolean
lens_arch_shape_key (json_object *root, const char *path, const char *key, int hi, int dflt,
                     int *out, GError **error)
{
  *out = dflt;
  return lens_config_int (root, path, NULL, key, dflt == 0, 1, hi, out, NULL, error);
}

/* What LlamaConfig and its descendants share: shapes, RMSNorm eps, activation, tying, RoPE. */
gboolean
lens_arch_read_llama_common (json_object *root, const char *path, LensConfig *c,
                             const LlamaDefaults *d, GError **error)
{
  gboolean has_kv, has_hd;
  if (!lens_arch_shape_key (root, path, "num_hidden_layers", LENS_MAX_LAYERS, d->n_layer,
                            &c->n_layer, error)
      || !lens_arch_shape_key (root, path, "hidden_size", 65536, d->n_embd, &c->n_embd, error)
      || !lens_arch_shape_key (root, path, "num_attention_heads", 65536, d->n_head, &c->n_head,
                               error)
      || !lens_config_int (root, path, NULL, "num_key_value_heads", FALSE, 1, 65536, &c->n_kv_head,
                           &has_kv, error)
      || !lens_config_int (root, path, NULL, "head_dim", FALSE, 1, 65536, &c->head_dim, &has_hd,
                           error)
      || !lens_arch_shape_key (root, path, "intermediate_size", 1 << 20, d->n_inner, &c->n_inner,
                               error)
      || !lens_arch_shape_key (root, path, "vocab_size", 10000000, d->vocab_size, &c->vocab_size,
                               error)
      || !lens_arch_shape_key (root, path, "max_position_embeddings", 16 << 20, d->n_positions,
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
  return lens_arch_read_activation (root, path, "hidden_act", &c->act, error)
         && lens_config_bool (root, path, NULL, "tie_word_embeddings", d->tie,
                              &c->tie_word_embeddings, error)
         && lens_arch_read_rope (root, path, c, d->theta, error);
}

/* sliding_window: an integer, or null for none; `dflt` when the key is absent. */
gboolean
lens_arch_read_window (json_object *root, const char *path, LensConfig *c, int dflt, GError **error)
{
  json_object *v;
  c->sliding_window = lens_config_field (root, "sliding_window", &v) ? 0 : dflt;
  return lens_config_int (root, path, NULL, "sliding_window", FALSE, 1, G_MAXINT,
                          &c->sliding_window, NULL, error);
}

/* layer_types (newer configs: "full_attention" / "sliding_attention" per block); without it,
 * c->layer_sliding keeps the family's default rule, which the caller has set. */
gboolean
lens_arch_read_layer_types (json_object *root, const char *path, LensConfig *c, GError **error)
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

gboolean
lens_arch_read_llama (json_object *root, const char *path, LensConfig *c, GError **error)
{
  bool attention_bias;
  if (!lens_arch_read_llama_common (root, path, c, &lens_arch_llama_defaults, error)
      || !lens_config_bool (root, path, NULL, "attention_bias", false, &attention_bias, error)
      || !lens_config_bool (root, path, NULL, "mlp_bias", false, &c->mlp_bias, error))
    return FALSE;
  c->attn_qkv_bias = c->attn_out_bias = attention_bias;
  return TRUE;
}

gboolean
lens_arch_read_mistral (json_object *root, const char *path, LensConfig *c, GError **error)
{
  /* Mistral's projections never have biases; its window applies to every block, and is 4,096
   * tokens when the config does not say (MistralConfig's default). */
  if (!lens_arch_read_llama_common (root, path, c, &lens_arch_llama_defaults, error)
      || !lens_arch_read_window (root, path, c, 4096, error))
    return FALSE;
  for (int l = 0; l < c->n_layer; l++)
    c->layer_sliding[l] = c->sliding_window > 0;
  return lens_arch_read_layer_types (root, path, c, error);
}

/* Qwen2 and Qwen3: the window only counts with use_sliding_window, and then only from block
 * max_window_layers on. */
static gboolean
read_qwen_window (json_object *root, const char *path, LensConfig *c, GError **error)
{
  bool use_window;
  int max_window_layers = 28; /* Qwen2Config's and Qwen3Config's defaults, as the window's 4096 */
  if (!lens_config_bool (root, path, NULL, "use_sliding_window", false, &use_window, error)
      || !lens_arch_read_window (root, path, c, 4096, error)
      || !lens_config_int (root, path, NULL, "max_window_layers", FALSE, 0, G_MAXINT,
                           &max_window_layers, NULL, error))
    return FALSE;
  if (!use_window)
    c->sliding_window = 0;
  for (int l = 0; l < c->n_layer; l++)
    c->layer_sliding[l] = c->sliding_window > 0 && l >= max_window_layers;
  return lens_arch_read_layer_types (root, path, c, error);
}

gboolean
lens_arch_read_qwen2 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  c->attn_qkv_bias = true; /* q, k and v have biases, the output projection none */
  return lens_arch_read_llama_common (root, path, c, &lens_arch_llama_defaults, error)
         && read_qwen_window (root, path, c, error);
}

gboolean
lens_arch_read_qwen3 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  bool attention_bias;
  /* Qwen3Config's head_dim defaults to 128, whatever the hidden size. */
  static const LlamaDefaults qwen3 = {.head_dim = 128, .act = LENS_ACT_SILU, .theta = 10000.0};
  if (!lens_arch_read_llama_common (root, path, c, &qwen3, error)
      || !lens_config_bool (root, path, NULL, "attention_bias", false, &attention_bias, error)
      || !read_qwen_window (root, path, c, error))
    return FALSE;
  c->attn_qkv_bias = c->attn_out_bias = attention_bias;
  return TRUE;
}
