/* lens-arch-gemma.c: config.json readers of Gemma 1, 2 and 3 (soft-caps, sliding windows,
 * Gemma 3's two RoPEs). Key names and defaults follow transformers' configuration_gemma*.py. */
#include "lens-arch-private.h"

/* ---- Gemma ---- */

/* Gemma's twists shared by its three generations: embeddings scaled by sqrt(hidden_size), norms
 * that scale by (1 + w) (the table row's norm_weight_offset), GeGLU with the tanh GELU. */
static gboolean
read_gemma_common (json_object *root, const char *path, LensConfig *c, const LlamaDefaults *d,
                   GError **error)
{
  bool attention_bias;
  if (!lens_arch_read_llama_common (root, path, c, d, error))
    return FALSE;
  /* Gemma reads hidden_activation; the first Gemma configs say "hidden_act": "gelu", which
   * transformers overrode with the tanh GELU, so hidden_act does not count. */
  c->act = LENS_ACT_GELU_TANH;
  if (!lens_arch_read_activation (root, path, "hidden_activation", &c->act, error)
      || !lens_config_bool (root, path, NULL, "attention_bias", false, &attention_bias, error))
    return FALSE;
  c->attn_qkv_bias = c->attn_out_bias = attention_bias;
  c->embed_scale = sqrt ((double) c->n_embd);
  return TRUE;
}

gboolean
lens_arch_read_gemma (json_object *root, const char *path, LensConfig *c, GError **error)
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

gboolean
lens_arch_read_gemma2 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  static const LlamaDefaults gemma2
      = {.head_dim = 256, .tie = true, .theta = 10000.0, .act = LENS_ACT_GELU_TANH};
  if (!read_gemma_common (root, path, c, &gemma2, error)
      || !read_gemma_attention (root, path, c, 50.0, 30.0, error)
      || !lens_arch_read_window (root, path, c, 4096, error))
    return FALSE;
  /* Gemma2Config: blocks 0, 2, 4, ... slide */
  for (int l = 0; l < c->n_layer; l++)
    c->layer_sliding[l] = l % 2 == 0;
  return lens_arch_read_layer_types (root, path, c, error) && check_window (path, c, error);
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
    return TRUE; /* lens_arch_read_rope has read the one-dict spelling */
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
      || !lens_arch_read_rope_dict (root, full, "rope_parameters.full_attention.", path, c, g,
                                    error))
    return FALSE;
  if (scaling != NULL
      && !lens_arch_read_rope_dict (root, scaling, "rope_scaling.", path, c, g, error))
    return FALSE;
  if (!lens_arch_read_rope_dict (root, sliding, "rope_parameters.sliding_attention.", path, c,
                                 &c->rope_local, error))
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
gboolean
lens_arch_read_gemma3_text (json_object *root, const char *path, LensConfig *c, GError **error)
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
      || !lens_arch_read_window (root, path, c, 4096, error)
      || !lens_config_int (root, path, NULL, "sliding_window_pattern", FALSE, 1, LENS_MAX_LAYERS,
                           &pattern, NULL, error))
    return FALSE;
  /* Gemma3Attention passes no soft-cap to its attention: the setting has no effect there */
  c->attn_softcap = 0.0;
  /* every pattern-th block is global, the others slide */
  for (int l = 0; l < c->n_layer; l++)
    c->layer_sliding[l] = (l + 1) % pattern != 0;
  return lens_arch_read_layer_types (root, path, c, error) && check_window (path, c, error)
         && read_gemma3_ropes (root, path, c, error);
}

/* A gemma3 folder (text and vision): the text model's config is nested in text_config. */
gboolean
lens_arch_read_gemma3 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  json_object *text;
  if (!lens_config_field (root, "text_config", &text) || text == NULL
      || !json_object_is_type (text, json_type_object))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"text_config\" must be an object (the text model's settings)", path);
      return FALSE;
    }
  if (lens_arch_read_gemma3_text (text, path, c, error))
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
