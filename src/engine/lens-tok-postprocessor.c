/* lens-tok-postprocessor.c: the special tokens a post_processor puts around a single sequence
 * (tokenizers' TemplateProcessing "single", RobertaProcessing / BertProcessing "<cls> $A <sep>",
 * ByteLevel which adds none, and Sequence of those). Only ids matter here, so each processor
 * reduces to the ids before and after the text. */
#include "lens-error.h"
#include "lens-tok-private.h"

#include <string.h>

static gboolean
check_id (json_object *v, int n_ids, int32_t *out, const char *file, const char *path,
          GError **error)
{
  if (!json_object_is_type (v, json_type_int) || json_object_get_int64 (v) < 0
      || json_object_get_int64 (v) >= n_ids)
    {
      lens_tok_error (error, LENS_ERROR_FORMAT, file, path, "must be a token id between 0 and %d",
                      n_ids - 1);
      return FALSE;
    }
  *out = (int32_t) json_object_get_int64 (v);
  return TRUE;
}

/* "cls": ["<s>", 0] */
static gboolean
read_pair (json_object *o, const char *key, int n_ids, int32_t *out, const char *file,
           const char *path, GError **error)
{
  json_object *v = NULL;
  g_autofree char *p = g_strdup_printf ("%s.%s", path, key);
  if (!json_object_object_get_ex (o, key, &v) || !json_object_is_type (v, json_type_array)
      || json_object_array_length (v) != 2
      || !json_object_is_type (json_object_array_get_idx (v, 0), json_type_string))
    {
      lens_tok_error (error, LENS_ERROR_FORMAT, file, p, "must be a pair [token, id]");
      return FALSE;
    }
  return check_id (json_object_array_get_idx (v, 1), n_ids, out, file, p, error);
}

static gboolean
template_single (json_object *o, int n_ids, GArray *prefix, GArray *suffix, const char *file,
                 const char *path, GError **error)
{
  json_object *single, *specials;
  g_autofree char *sp = g_strdup_printf ("%s.single", path);
  if (!lens_tok_get (o, "single", json_type_array, &single, file, path, error)
      || !lens_tok_get (o, "special_tokens", json_type_object, &specials, file, path, error))
    return FALSE;
  if (single == NULL)
    {
      lens_tok_error (error, LENS_ERROR_FORMAT, file, sp, "must be an array");
      return FALSE;
    }
  gboolean seen_a = FALSE;
  for (size_t i = 0; i < json_object_array_length (single); i++)
    {
      json_object *piece = json_object_array_get_idx (single, i), *v = NULL, *id = NULL;
      g_autofree char *pp = g_strdup_printf ("%s[%zu]", sp, i);
      if (json_object_is_type (piece, json_type_object)
          && json_object_object_get_ex (piece, "Sequence", &v))
        {
          if (!json_object_object_get_ex (v, "id", &id)
              || !json_object_is_type (id, json_type_string)
              || strcmp (json_object_get_string (id), "A") != 0 || seen_a)
            {
              lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, pp,
                              "must be the one sequence \"A\" of a single template");
              return FALSE;
            }
          seen_a = TRUE;
          continue;
        }
      if (!json_object_is_type (piece, json_type_object)
          || !json_object_object_get_ex (piece, "SpecialToken", &v)
          || !json_object_object_get_ex (v, "id", &id)
          || !json_object_is_type (id, json_type_string))
        {
          lens_tok_error (error, LENS_ERROR_FORMAT, file, pp,
                          "must be {\"Sequence\": ...} or {\"SpecialToken\": {\"id\": ...}}");
          return FALSE;
        }
      const char *name = json_object_get_string (id);
      json_object *tok = NULL, *ids = NULL;
      if (specials == NULL || !json_object_object_get_ex (specials, name, &tok)
          || !json_object_is_type (tok, json_type_object)
          || !json_object_object_get_ex (tok, "ids", &ids)
          || !json_object_is_type (ids, json_type_array))
        {
          g_autofree char *shown = g_strescape (name, NULL);
          lens_tok_error (error, LENS_ERROR_FORMAT, file, pp,
                          "names the special token \"%s\", which special_tokens does not define "
                          "with its ids",
                          shown);
          return FALSE;
        }
      for (size_t j = 0; j < json_object_array_length (ids); j++)
        {
          int32_t t;
          g_autofree char *shown = g_strescape (name, NULL);
          g_autofree char *ip = g_strdup_printf ("%s.special_tokens.%s.ids[%zu]", path, shown, j);
          if (!check_id (json_object_array_get_idx (ids, j), n_ids, &t, file, ip, error))
            return FALSE;
          g_array_append_val (seen_a ? suffix : prefix, t);
        }
    }
  if (!seen_a)
    {
      lens_tok_error (error, LENS_ERROR_FORMAT, file, sp, "has no sequence \"A\"");
      return FALSE;
    }
  return TRUE;
}

gboolean
lens_tok_postprocessor_parse (json_object *o, int n_ids, GArray *prefix, GArray *suffix,
                              const char *file, const char *path, int depth, GError **error)
{
  const char *type = lens_tok_type (o, file, path, depth, error);
  if (type == NULL)
    return FALSE;
  if (strcmp (type, "ByteLevel") == 0)
    return TRUE; /* it only trims offsets */
  if (strcmp (type, "TemplateProcessing") == 0)
    {
      /* applied after earlier processors: its tokens go outside theirs */
      g_autoptr (GArray) pre = g_array_new (FALSE, FALSE, sizeof (int32_t));
      g_autoptr (GArray) suf = g_array_new (FALSE, FALSE, sizeof (int32_t));
      if (!template_single (o, n_ids, pre, suf, file, path, error))
        return FALSE;
      g_array_prepend_vals (prefix, pre->data, pre->len);
      g_array_append_vals (suffix, suf->data, suf->len);
      return TRUE;
    }
  if (strcmp (type, "RobertaProcessing") == 0 || strcmp (type, "BertProcessing") == 0)
    {
      int32_t cls, sep;
      if (!read_pair (o, "cls", n_ids, &cls, file, path, error)
          || !read_pair (o, "sep", n_ids, &sep, file, path, error))
        return FALSE;
      g_array_prepend_val (prefix, cls);
      g_array_append_val (suffix, sep);
      return TRUE;
    }
  if (strcmp (type, "Sequence") == 0)
    {
      json_object *arr = lens_tok_sequence (o, "processors", file, path, error);
      if (arr == NULL)
        return FALSE;
      for (size_t i = 0; i < json_object_array_length (arr); i++)
        {
          g_autofree char *cp = g_strdup_printf ("%s.processors[%zu]", path, i);
          if (!lens_tok_postprocessor_parse (json_object_array_get_idx (arr, i), n_ids, prefix,
                                             suffix, file, cp, depth + 1, error))
            return FALSE;
        }
      return TRUE;
    }
  g_autofree char *shown = g_strescape (type, NULL);
  lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                  "is a post-processor of type \"%s\", which is not supported", shown);
  return FALSE;
}
