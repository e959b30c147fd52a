#include "lens-config.h"
#include "lens-file.h"
#include "lens-error.h"
#include "lens-json.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

/* config.json files are a few KiB; anything this large is not one. */
#define CONFIG_MAX_BYTES (16u << 20)

const char *
lens_arch_name (LensArch arch)
{
  switch (arch)
    {
    case LENS_ARCH_GPT2:
      return "gpt2";
    default:
      return "unknown";
    }
}

/* TRUE when `key` is present; *v is then its value, which is NULL for a JSON null. */
static gboolean
field (json_object *root, const char *key, json_object **v)
{
  *v = NULL;
  return json_object_object_get_ex (root, key, v);
}

/* Reads integer field `key` into `*out`, requiring lo <= value <= hi. A missing field is an error
 * when `required`, else leaves *out alone and sets *present = FALSE (when given). */
static gboolean
get_int (json_object *root, const char *path, const char *key, gboolean required, int64_t lo,
         int64_t hi, int *out, gboolean *present, GError **error)
{
  json_object *v;
  gboolean has = field (root, key, &v);
  if (present)
    *present = has;
  if (!has)
    {
      if (required)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: field \"%s\" is missing", path,
                       key);
          return FALSE;
        }
      return TRUE;
    }
  if (!json_object_is_type (v, json_type_int))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"%s\" must be an integer, not %s", path, key,
                   lens_json_type_name (v));
      return FALSE;
    }
  int64_t i = json_object_get_int64 (v);
  if (i < lo || i > hi)
    {
      /* json-c saturates huge literals; print what the file says, not the saturated value. */
      const char *txt = json_object_to_json_string_ext (v, JSON_C_TO_STRING_PLAIN);
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"%s\" = %s is out of range (%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
                   ")",
                   path, key, txt, lo, hi);
      return FALSE;
    }
  *out = (int) i;
  return TRUE;
}

static gboolean
get_bool (json_object *root, const char *path, const char *key, bool dflt, bool *out,
          GError **error)
{
  json_object *v;
  if (!field (root, key, &v))
    {
      *out = dflt;
      return TRUE;
    }
  if (!json_object_is_type (v, json_type_boolean))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"%s\" must be true or false, not %s", path, key,
                   lens_json_type_name (v));
      return FALSE;
    }
  *out = json_object_get_boolean (v);
  return TRUE;
}

/* GPT-2 options that change the computation in ways LensConfig cannot express: refuse them rather
 * than compute something else than transformers would. */
static gboolean
check_unsupported_flag (json_object *root, const char *path, const char *key, bool dflt,
                        GError **error)
{
  bool value;
  if (!get_bool (root, path, key, dflt, &value, error))
    return FALSE;
  if (value != dflt)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                   "%s: \"%s\": %s is not supported (only %s)", path, key, value ? "true" : "false",
                   dflt ? "true" : "false");
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_gpt2 (json_object *root, const char *path, LensConfig *c, GError **error)
{
  gboolean present;
  if (!get_int (root, path, "n_layer", TRUE, 1, 1024, &c->n_layer, NULL, error)
      || !get_int (root, path, "n_embd", TRUE, 1, 65536, &c->n_embd, NULL, error)
      || !get_int (root, path, "n_head", TRUE, 1, 65536, &c->n_head, NULL, error)
      || !get_int (root, path, "vocab_size", TRUE, 1, 10000000, &c->vocab_size, NULL, error))
    return FALSE;
  if (c->n_embd % c->n_head != 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: n_embd (%d) is not a multiple of n_head (%d)", path, c->n_embd, c->n_head);
      return FALSE;
    }

  /* n_positions is the current name; very old configs only have n_ctx. */
  if (!get_int (root, path, "n_positions", FALSE, 1, 1000000, &c->n_positions, &present, error))
    return FALSE;
  if (!present)
    {
      json_object *ctx;
      if (!field (root, "n_ctx", &ctx))
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                       "%s: field \"n_positions\" is missing (and there is no \"n_ctx\")", path);
          return FALSE;
        }
      if (!get_int (root, path, "n_ctx", TRUE, 1, 1000000, &c->n_positions, NULL, error))
        return FALSE;
    }

  json_object *inner;
  if (!field (root, "n_inner", &inner) || inner == NULL)
    c->n_inner = 4 * c->n_embd;
  else if (!get_int (root, path, "n_inner", TRUE, 1, 4 * 65536, &c->n_inner, NULL, error))
    return FALSE;

  json_object *eps;
  if (!field (root, "layer_norm_epsilon", &eps))
    c->layer_norm_epsilon = 1e-5f;
  else
    {
      if (!json_object_is_type (eps, json_type_double) && !json_object_is_type (eps, json_type_int))
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                       "%s: field \"layer_norm_epsilon\" must be a number, not %s", path,
                       lens_json_type_name (eps));
          return FALSE;
        }
      double e = json_object_get_double (eps);
      if (!(e > 0.0 && e <= 1.0) || !isfinite ((float) e) || (float) e == 0.0f)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                       "%s: field \"layer_norm_epsilon\" = %g is out of range (0..1]", path, e);
          return FALSE;
        }
      c->layer_norm_epsilon = (float) e;
    }

  json_object *act;
  if (field (root, "activation_function", &act))
    {
      if (!json_object_is_type (act, json_type_string))
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                       "%s: field \"activation_function\" must be a string, not %s", path,
                       lens_json_type_name (act));
          return FALSE;
        }
      const char *a = json_object_get_string (act);
      size_t alen = (size_t) json_object_get_string_len (act);
      /* Both are 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))) in transformers. */
      if (!(alen == strlen (a)
            && (strcmp (a, "gelu_new") == 0 || strcmp (a, "gelu_pytorch_tanh") == 0)))
        {
          g_autofree char *ad = lens_json_describe (a, (gssize) alen);
          g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                       "%s: activation_function %s is not supported (supported: gelu_new, "
                       "gelu_pytorch_tanh)",
                       path, ad);
          return FALSE;
        }
    }

  if (!get_bool (root, path, "tie_word_embeddings", true, &c->tie_word_embeddings, error))
    return FALSE;
  if (!check_unsupported_flag (root, path, "scale_attn_weights", true, error)
      || !check_unsupported_flag (root, path, "scale_attn_by_inverse_layer_idx", false, error)
      || !check_unsupported_flag (root, path, "add_cross_attention", false, error))
    return FALSE;
  return TRUE;
}

gboolean
lens_config_parse (const char *json, size_t len, const char *path, LensConfig *out, GError **error)
{
  g_return_val_if_fail (out != NULL, FALSE);
  if (path == NULL)
    path = "config.json";
  json_object *root = lens_json_parse (json, len, path, error);
  if (root == NULL)
    return FALSE;
  gboolean ok = FALSE;
  LensConfig c;
  memset (&c, 0, sizeof c);

  if (!json_object_is_type (root, json_type_object))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: expected a JSON object, not %s", path,
                   lens_json_type_name (root));
      goto out;
    }
  json_object *mt;
  if (!field (root, "model_type", &mt))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: field \"model_type\" is missing",
                   path);
      goto out;
    }
  if (!json_object_is_type (mt, json_type_string))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"model_type\" must be a string, not %s", path,
                   lens_json_type_name (mt));
      goto out;
    }
  const char *type = json_object_get_string (mt);
  size_t tlen = (size_t) json_object_get_string_len (mt);
  if (tlen == strlen (type) && strcmp (type, "gpt2") == 0)
    {
      c.arch = LENS_ARCH_GPT2;
      g_strlcpy (c.model_type, type, sizeof c.model_type);
      if (!parse_gpt2 (root, path, &c, error))
        goto out;
    }
  else
    {
      g_autofree char *td = lens_json_describe (type, (gssize) tlen);
      g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                   "%s: model_type %s is not supported (supported: gpt2)", path, td);
      goto out;
    }
  *out = c;
  ok = TRUE;
out:
  json_object_put (root);
  return ok;
}

gboolean
lens_config_load (const char *path, LensConfig *out, GError **error)
{
  size_t len = 0;
  g_autofree char *text = lens_file_read (path, CONFIG_MAX_BYTES, &len, error);
  if (text == NULL)
    return FALSE;
  return lens_config_parse (text, len, path, out, error);
}
