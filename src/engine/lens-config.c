/* lens-config.c: config.json -> LensConfig. The family's row (lens-arch.c) reads its own keys;
 * what every family must satisfy (shapes that fit together, sizes within reason) is checked here
 * once. */
#include "lens-config.h"
#include "lens-arch.h"
#include "lens-config-private.h"
#include "lens-error.h"
#include "lens-file.h"
#include "lens-json.h"

#include <math.h>
#include <string.h>

/* config.json files are a few KiB; anything this large is not one. */
#define CONFIG_MAX_BYTES (16u << 20)

/* ---- typed field readers ---- */

gboolean
lens_config_field (json_object *obj, const char *key, json_object **v)
{
  *v = NULL;
  return json_object_object_get_ex (obj, key, v);
}

G_GNUC_PRINTF (5, 6)
static void
field_error (GError **error, int code, const char *path, const char *where, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, LENS_ERROR, code, "%s: field \"%s%s", path, where ? where : "", msg);
}

gboolean
lens_config_int (json_object *obj, const char *path, const char *where, const char *key,
                 gboolean required, int64_t lo, int64_t hi, int *out, gboolean *present,
                 GError **error)
{
  json_object *v;
  /* null stands for "not set" in optional fields (head_dim, sliding_window, n_inner) */
  gboolean has = lens_config_field (obj, key, &v) && (v != NULL || required);
  if (present)
    *present = has;
  if (!has)
    {
      if (required)
        {
          field_error (error, LENS_ERROR_FORMAT, path, where, "%s\" is missing", key);
          return FALSE;
        }
      return TRUE;
    }
  if (!json_object_is_type (v, json_type_int))
    {
      field_error (error, LENS_ERROR_FORMAT, path, where, "%s\" must be an integer, not %s", key,
                   lens_json_type_name (v));
      return FALSE;
    }
  int64_t i = json_object_get_int64 (v);
  if (i < lo || i > hi)
    {
      /* json-c saturates huge literals; print what the file says, not the saturated value. */
      const char *txt = json_object_to_json_string_ext (v, JSON_C_TO_STRING_PLAIN);
      field_error (error, LENS_ERROR_FORMAT, path, where,
                   "%s\" = %s is out of range (%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT ")", key,
                   txt, lo, hi);
      return FALSE;
    }
  *out = (int) i;
  return TRUE;
}

gboolean
lens_config_double (json_object *obj, const char *path, const char *where, const char *key,
                    double lo, gboolean lo_open, double hi, double dflt, double *out,
                    GError **error)
{
  json_object *v;
  if (!lens_config_field (obj, key, &v))
    {
      *out = dflt;
      return TRUE;
    }
  if (!json_object_is_type (v, json_type_double) && !json_object_is_type (v, json_type_int))
    {
      field_error (error, LENS_ERROR_FORMAT, path, where, "%s\" must be a number, not %s", key,
                   lens_json_type_name (v));
      return FALSE;
    }
  double d = json_object_get_double (v);
  if (!isfinite (d) || d > hi || (lo_open ? !(d > lo) : d < lo))
    {
      field_error (error, LENS_ERROR_FORMAT, path, where, "%s\" = %g is out of range (%s%g..%g]",
                   key, d, lo_open ? "above " : "", lo, hi);
      return FALSE;
    }
  *out = d;
  return TRUE;
}

gboolean
lens_config_bool (json_object *obj, const char *path, const char *where, const char *key, bool dflt,
                  bool *out, GError **error)
{
  json_object *v;
  if (!lens_config_field (obj, key, &v))
    {
      *out = dflt;
      return TRUE;
    }
  if (!json_object_is_type (v, json_type_boolean))
    {
      field_error (error, LENS_ERROR_FORMAT, path, where, "%s\" must be true or false, not %s", key,
                   lens_json_type_name (v));
      return FALSE;
    }
  *out = json_object_get_boolean (v);
  return TRUE;
}

gboolean
lens_config_string (json_object *obj, const char *path, const char *where, const char *key,
                    const char **out, size_t *len, GError **error)
{
  json_object *v;
  *out = NULL;
  *len = 0;
  if (!lens_config_field (obj, key, &v) || v == NULL)
    return TRUE;
  if (!json_object_is_type (v, json_type_string))
    {
      field_error (error, LENS_ERROR_FORMAT, path, where, "%s\" must be a string, not %s", key,
                   lens_json_type_name (v));
      return FALSE;
    }
  *out = json_object_get_string (v);
  *len = (size_t) json_object_get_string_len (v);
  return TRUE;
}

gboolean
lens_config_string_is (const char *s, size_t len, const char *value)
{
  return s != NULL && len == strlen (value) && memcmp (s, value, len) == 0;
}

gboolean
lens_config_refuse_flag (json_object *obj, const char *path, const char *key, bool allowed,
                         GError **error)
{
  bool value;
  if (!lens_config_bool (obj, path, NULL, key, allowed, &value, error))
    return FALSE;
  if (value != allowed)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                   "%s: \"%s\": %s is not supported (only %s)", path, key, value ? "true" : "false",
                   allowed ? "true" : "false");
      return FALSE;
    }
  return TRUE;
}

/* ---- what every family must satisfy ---- */

static gboolean
check_shapes (const LensConfig *c, const char *path, GError **error)
{
  /* Sizes whose products index the weights and activations: keep them far from overflow (the
   * tensors themselves are checked against the file later). */
  if ((int64_t) c->n_head * c->head_dim > (1 << 20)
      || (int64_t) c->n_kv_head * c->head_dim > (1 << 20))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: %d attention heads (%d key/value) of head_dim %d are out of range (at most "
                   "2^20 dimensions)",
                   path, c->n_head, c->n_kv_head, c->head_dim);
      return FALSE;
    }
  if (c->arch->pos == LENS_POS_ROPE && (c->rope.rotary_dim % 2 != 0 || c->rope.rotary_dim < 2))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: field \"head_dim\": rotary embeddings need an even head dimension, not "
                   "%d",
                   path, c->rope.rotary_dim);
      return FALSE;
    }
  return TRUE;
}

const char *
lens_config_architecture (const LensConfig *c)
{
  return c->model_type;
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
  LensConfig *c = g_new0 (LensConfig, 1);

  if (!json_object_is_type (root, json_type_object))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: expected a JSON object, not %s", path,
                   lens_json_type_name (root));
      goto out;
    }
  json_object *mt;
  if (!lens_config_field (root, "model_type", &mt))
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
  c->arch = lens_arch_find (type, tlen);
  if (c->arch == NULL)
    {
      g_autofree char *td = lens_json_describe (type, (gssize) tlen);
      g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                   "%s: model_type %s is not supported (supported: %s)", path, td,
                   lens_arch_supported_list ());
      goto out;
    }
  g_strlcpy (c->model_type, c->arch->model_type, sizeof c->model_type);

  const char *dtype = NULL;
  size_t dtype_len;
  if (!lens_config_string (root, path, NULL, "torch_dtype", &dtype, &dtype_len, error))
    goto out;
  if (dtype == NULL && !lens_config_string (root, path, NULL, "dtype", &dtype, &dtype_len, error))
    goto out;
  if (dtype != NULL && dtype_len == strlen (dtype))
    g_strlcpy (c->torch_dtype, dtype, sizeof c->torch_dtype);

  c->embed_scale = 1.0; /* the other neutral defaults are 0: none */
  if (!c->arch->read_hparams (root, path, c, error) || !check_shapes (c, path, error))
    goto out;
  *out = *c;
  ok = TRUE;
out:
  g_free (c);
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
