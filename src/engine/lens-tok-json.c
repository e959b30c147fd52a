/* lens-tok-json.c: what the tokenizer stages share: reading their JSON settings with errors that
 * name the file and JSON path, Oniguruma-compatible regexes, the byte-level alphabet and pieces. */
#include "lens-error.h"
#include "lens-json.h"
#include "lens-tok-private.h"

#include <string.h>

void
lens_tok_error (GError **error, int code, const char *file, const char *path, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, LENS_ERROR, code, "%s: %s %s", file, path, msg);
}

static const char *
type_label (json_object *o)
{
  return o == NULL ? "null" : json_type_to_name (json_object_get_type (o));
}

gboolean
lens_tok_get (json_object *o, const char *key, json_type type, json_object **out, const char *file,
              const char *path, GError **error)
{
  json_object *v = NULL;
  *out = NULL;
  if (!json_object_object_get_ex (o, key, &v) || v == NULL)
    return TRUE;
  /* JSON does not tell integers from doubles by need: 1.0 for a count is fine */
  if (!json_object_is_type (v, type)
      && !(type == json_type_double && json_object_is_type (v, json_type_int)))
    {
      g_autofree char *p = g_strdup_printf ("%s.%s", path, key);
      lens_tok_error (error, LENS_ERROR_FORMAT, file, p, "must be %s, not %s",
                      json_type_to_name (type), type_label (v));
      return FALSE;
    }
  *out = v;
  return TRUE;
}

gboolean
lens_tok_get_bool (json_object *o, const char *key, gboolean dflt, gboolean *out, const char *file,
                   const char *path, GError **error)
{
  json_object *v;
  if (!lens_tok_get (o, key, json_type_boolean, &v, file, path, error))
    return FALSE;
  *out = v ? json_object_get_boolean (v) : dflt;
  return TRUE;
}

const char *
lens_tok_type (json_object *o, const char *file, const char *path, int depth, GError **error)
{
  json_object *t = NULL;
  if (!json_object_is_type (o, json_type_object))
    {
      lens_tok_error (error, LENS_ERROR_FORMAT, file, path, "must be an object, not %s",
                      type_label (o));
      return NULL;
    }
  if (!json_object_object_get_ex (o, "type", &t) || !json_object_is_type (t, json_type_string))
    {
      lens_tok_error (error, LENS_ERROR_FORMAT, file, path, "needs a string \"type\"");
      return NULL;
    }
  if (depth > LENS_TOK_MAX_DEPTH)
    {
      lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                      "nests Sequences deeper than %d levels", LENS_TOK_MAX_DEPTH);
      return NULL;
    }
  return json_object_get_string (t);
}

json_object *
lens_tok_sequence (json_object *o, const char *key, const char *file, const char *path,
                   GError **error)
{
  json_object *arr;
  if (!lens_tok_get (o, key, json_type_array, &arr, file, path, error))
    return NULL;
  if (arr == NULL)
    lens_tok_error (error, LENS_ERROR_FORMAT, file, path, "needs an array \"%s\"", key);
  return arr;
}

gboolean
lens_tok_only_keys (json_object *o, const char *const *known, const char *file, const char *path,
                    GError **error)
{
  json_object_object_foreach (o, key, val)
  {
    (void) val;
    gboolean ok = FALSE;
    for (const char *const *k = known; *k && !ok; k++)
      ok = strcmp (*k, key) == 0;
    if (!ok)
      {
        g_autofree char *shown = lens_json_describe (key, -1);
        lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                        "has the setting %s, which is not supported", shown);
        return FALSE;
      }
  }
  return TRUE;
}

gboolean
lens_tok_pattern (json_object *o, const char **s, size_t *len, gboolean *is_regex, const char *file,
                  const char *path, GError **error)
{
  json_object *v = NULL;
  g_autofree char *p = g_strdup_printf ("%s.pattern", path);
  if (!json_object_object_get_ex (o, "pattern", &o) || !json_object_is_type (o, json_type_object)
      || json_object_object_length (o) != 1)
    {
      lens_tok_error (error, LENS_ERROR_FORMAT, file, p,
                      "must be {\"String\": ...} or {\"Regex\": ...}");
      return FALSE;
    }
  if (json_object_object_get_ex (o, "String", &v))
    *is_regex = FALSE;
  else if (json_object_object_get_ex (o, "Regex", &v))
    *is_regex = TRUE;
  if (v == NULL || !json_object_is_type (v, json_type_string))
    {
      lens_tok_error (error, LENS_ERROR_FORMAT, file, p,
                      "must be {\"String\": ...} or {\"Regex\": ...} with a string");
      return FALSE;
    }
  *s = json_object_get_string (v);
  *len = (size_t) json_object_get_string_len (v);
  return TRUE;
}

/* ---- regexes ---- */

/* Oniguruma (through the Rust `onig` crate, as `tokenizers` uses it) gives \s, \d and \w their
 * Unicode meaning: White_Space, Decimal_Number, and Letter | Mark | Decimal_Number |
 * Connector_Punctuation. PCRE2's \s in UCP mode also takes U+180E, and its \w differs in marks, so
 * they are spelt out as properties (PCRE2 10.40 and later know White_Space). */
GRegex *
lens_tok_regex (const char *pattern, size_t len, const char *file, const char *path, GError **error)
{
  if (len > 4096)
    {
      lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                      "is a regex of %zu bytes, more than the limit of 4096", len);
      return NULL;
    }
  g_autoptr (GString) rx = g_string_sized_new (len + 32);
  gboolean in_class = FALSE;
  for (size_t i = 0; i < len; i++)
    {
      char c = pattern[i];
      if (c == '\\' && i + 1 < len)
        {
          char e = pattern[++i];
          const char *sub = NULL;
          switch (e)
            {
            case 's':
              sub = "\\p{White_Space}";
              break;
            case 'S':
              sub = "\\P{White_Space}";
              break;
            case 'd':
              sub = "\\p{Nd}";
              break;
            case 'D':
              sub = "\\P{Nd}";
              break;
            case 'w':
              sub = in_class ? "\\p{L}\\p{M}\\p{Nd}\\p{Pc}" : "[\\p{L}\\p{M}\\p{Nd}\\p{Pc}]";
              break;
            case 'W':
              if (in_class)
                {
                  lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                                  "uses \\W inside a character class, which is not supported");
                  return NULL;
                }
              sub = "[^\\p{L}\\p{M}\\p{Nd}\\p{Pc}]";
              break;
            default:
              break;
            }
          if (sub)
            g_string_append (rx, sub);
          else
            {
              g_string_append_c (rx, '\\');
              g_string_append_c (rx, e);
            }
          continue;
        }
      if (!in_class && c == '[')
        {
          in_class = TRUE;
          g_string_append_c (rx, c);
          /* a ']' right after '[' or '[^' is a literal */
          if (i + 1 < len && pattern[i + 1] == '^')
            g_string_append_c (rx, pattern[++i]);
          if (i + 1 < len && pattern[i + 1] == ']')
            g_string_append_c (rx, pattern[++i]);
          continue;
        }
      if (in_class && c == '[')
        {
          /* nested classes and POSIX classes: Oniguruma and PCRE2 read them differently */
          lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                          "uses a nested character class, which is not supported");
          return NULL;
        }
      if (in_class && c == ']')
        in_class = FALSE;
      g_string_append_c (rx, c);
    }
  g_autoptr (GError) local = NULL;
  GRegex *re = g_regex_new (rx->str, G_REGEX_OPTIMIZE | G_REGEX_MULTILINE, 0, &local);
  if (re == NULL)
    {
      g_autofree char *shown = lens_json_describe (pattern, (gssize) len);
      /* GLib's message repeats the (rewritten) pattern raw, line breaks and all: keep messages
       * on one line */
      for (char *c = local->message; *c; c++)
        if ((guchar) *c < 0x20)
          *c = ' ';
      lens_tok_error (error, LENS_ERROR_FORMAT, file, path, "is not a valid regex %s: %s", shown,
                      local->message);
    }
  return re;
}

gboolean
lens_tok_regex_matches (const GRegex *re, const char *s, size_t n, GArray *out, GError **error)
{
  if (n == 0)
    return TRUE;
  g_autoptr (GMatchInfo) mi = NULL;
  g_autoptr (GError) local = NULL;
  g_regex_match_full (re, s, (gssize) n, 0, 0, &mi, &local);
  while (local == NULL && g_match_info_matches (mi))
    {
      int a = -1, b = -1;
      g_match_info_fetch_pos (mi, 0, &a, &b);
      if (a < 0 || b < a)
        break;
      size_t pair[2] = {(size_t) a, (size_t) b};
      g_array_append_vals (out, pair, 2);
      g_match_info_next (mi, &local);
    }
  if (local != NULL)
    {
      /* PCRE2's match limits: a pathological pattern on a long text */
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "pre-tokenizer regex failed: %s",
                   local->message);
      return FALSE;
    }
  return TRUE;
}

/* ---- byte-level alphabet (GPT-2's bytes_to_unicode) ---- */

guint32 lens_tok_byte_to_cp[256];
int16_t lens_tok_cp_to_byte[324]; /* the alphabet's code points are all below 256 + 68 */

void
lens_tok_init_byte_map (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done))
    {
      int n = 0;
      for (int b = 0; b < 256; b++)
        {
          gboolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
          lens_tok_byte_to_cp[b] = printable ? (guint32) b : (guint32) (256 + n++);
        }
      for (int c = 0; c < 324; c++)
        lens_tok_cp_to_byte[c] = -1;
      for (int b = 0; b < 256; b++)
        lens_tok_cp_to_byte[lens_tok_byte_to_cp[b]] = (int16_t) b;
      g_once_init_leave (&done, 1);
    }
}

/* ---- pieces ---- */

void
lens_tok_pieces_clear (GArray *pieces)
{
  for (guint i = 0; i < pieces->len; i++)
    g_free (g_array_index (pieces, LensTokPiece, i).s);
  g_array_set_size (pieces, 0);
}

void
lens_tok_piece_materialise (LensTokPiece *p)
{
  if (!p->byte_level)
    return;
  GString *s = g_string_sized_new (p->len * 2 + 1);
  for (size_t i = 0; i < p->len; i++)
    g_string_append_unichar (s, lens_tok_byte_to_cp[(guint8) p->s[i]]);
  g_free (p->s);
  p->len = s->len;
  p->s = g_string_free (s, FALSE);
  p->byte_level = FALSE;
}
