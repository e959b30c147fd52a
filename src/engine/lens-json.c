#include "lens-json.h"
#include "lens-error.h"

#include <string.h>

typedef struct
{
  gboolean is_object;
  GHashTable *keys; /* objects only, created on the first key */
  size_t n_items;   /* arrays only */
} Frame;

typedef struct
{
  const char *s;
  size_t len;
  size_t pos;
  const char *name;
  Frame stack[LENS_JSON_MAX_DEPTH];
  int depth;
  int max_depth;
  size_t max_array_len;
} Scanner;

static gboolean
scan_fail (Scanner *sc, GError **error, const char *what)
{
  g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: invalid JSON at byte %zu: %s", sc->name,
               sc->pos, what);
  return FALSE;
}

static void
skip_ws (Scanner *sc)
{
  while (sc->pos < sc->len)
    {
      char c = sc->s[sc->pos];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
        break;
      sc->pos++;
    }
}

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Reads the 4 hex digits after "\u" at sc->pos (which points at 'u'). */
static gboolean
scan_u4 (Scanner *sc, guint *out, GError **error)
{
  guint v = 0;
  if (sc->len - sc->pos < 5)
    return scan_fail (sc, error, "truncated \\u escape");
  for (int i = 1; i <= 4; i++)
    {
      int h = hex_value (sc->s[sc->pos + i]);
      if (h < 0)
        return scan_fail (sc, error, "bad hex digit in \\u escape");
      v = v * 16 + (guint) h;
    }
  sc->pos += 5;
  *out = v;
  return TRUE;
}

/* Scans a string starting at the opening quote. When `decoded` is non-NULL the string's value is
 * appended to it (keys only, so the duplicate check compares values, not spellings). */
static gboolean
scan_string (Scanner *sc, GString *decoded, GError **error)
{
  sc->pos++; /* opening quote */
  for (;;)
    {
      if (sc->pos >= sc->len)
        return scan_fail (sc, error, "unterminated string");
      guchar c = (guchar) sc->s[sc->pos];
      if (c == '"')
        {
          sc->pos++;
          return TRUE;
        }
      if (c < 0x20)
        return scan_fail (sc, error, "control character in string");
      if (c != '\\')
        {
          if (decoded)
            g_string_append_c (decoded, (char) c);
          sc->pos++;
          continue;
        }
      sc->pos++;
      if (sc->pos >= sc->len)
        return scan_fail (sc, error, "unterminated string");
      char e = sc->s[sc->pos];
      char simple = 0;
      switch (e)
        {
          case '"': simple = '"'; break;
          case '\\': simple = '\\'; break;
          case '/': simple = '/'; break;
          case 'b': simple = '\b'; break;
          case 'f': simple = '\f'; break;
          case 'n': simple = '\n'; break;
          case 'r': simple = '\r'; break;
          case 't': simple = '\t'; break;
          case 'u': break;
          default: return scan_fail (sc, error, "bad escape in string");
        }
      if (simple)
        {
          if (decoded)
            g_string_append_c (decoded, simple);
          sc->pos++;
          continue;
        }
      guint cp;
      if (!scan_u4 (sc, &cp, error))
        return FALSE;
      if (cp >= 0xDC00 && cp <= 0xDFFF)
        return scan_fail (sc, error, "lone low surrogate in \\u escape");
      if (cp >= 0xD800 && cp <= 0xDBFF)
        {
          guint lo;
          if (sc->len - sc->pos < 2 || sc->s[sc->pos] != '\\' || sc->s[sc->pos + 1] != 'u')
            return scan_fail (sc, error, "lone high surrogate in \\u escape");
          sc->pos++;
          if (!scan_u4 (sc, &lo, error))
            return FALSE;
          if (lo < 0xDC00 || lo > 0xDFFF)
            return scan_fail (sc, error, "lone high surrogate in \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
      if (decoded)
        g_string_append_unichar (decoded, cp);
    }
}

static gboolean
is_digit (char c)
{
  return c >= '0' && c <= '9';
}

static gboolean
scan_number (Scanner *sc, GError **error)
{
  if (sc->s[sc->pos] == '-')
    sc->pos++;
  if (sc->pos >= sc->len || !is_digit (sc->s[sc->pos]))
    return scan_fail (sc, error, "bad number");
  if (sc->s[sc->pos] == '0')
    sc->pos++;
  else
    while (sc->pos < sc->len && is_digit (sc->s[sc->pos]))
      sc->pos++;
  if (sc->pos < sc->len && sc->s[sc->pos] == '.')
    {
      sc->pos++;
      if (sc->pos >= sc->len || !is_digit (sc->s[sc->pos]))
        return scan_fail (sc, error, "bad number: digit expected after '.'");
      while (sc->pos < sc->len && is_digit (sc->s[sc->pos]))
        sc->pos++;
    }
  if (sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E'))
    {
      sc->pos++;
      if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
        sc->pos++;
      if (sc->pos >= sc->len || !is_digit (sc->s[sc->pos]))
        return scan_fail (sc, error, "bad number: digit expected in exponent");
      while (sc->pos < sc->len && is_digit (sc->s[sc->pos]))
        sc->pos++;
    }
  /* "01" or "1x": the grammar stops here, whatever follows must be a separator. */
  return TRUE;
}

static gboolean
scan_literal (Scanner *sc, const char *word, GError **error)
{
  size_t n = strlen (word);
  if (sc->len - sc->pos < n || memcmp (sc->s + sc->pos, word, n) != 0)
    return scan_fail (sc, error, "unexpected character");
  sc->pos += n;
  return TRUE;
}

static gboolean
push (Scanner *sc, gboolean is_object, GError **error)
{
  if (sc->depth >= sc->max_depth)
    return scan_fail (sc, error, "nested too deeply");
  sc->stack[sc->depth].is_object = is_object;
  sc->stack[sc->depth].keys = NULL;
  sc->stack[sc->depth].n_items = 0;
  sc->depth++;
  sc->pos++;
  return TRUE;
}

static void
pop (Scanner *sc)
{
  sc->depth--;
  g_clear_pointer (&sc->stack[sc->depth].keys, g_hash_table_unref);
}

static gboolean
scan_key (Scanner *sc, GError **error)
{
  if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
    return scan_fail (sc, error, "string key expected");
  size_t start = sc->pos;
  g_autoptr (GString) key = g_string_new (NULL);
  if (!scan_string (sc, key, error))
    return FALSE;
  if (memchr (key->str, '\0', key->len) != NULL)
    {
      sc->pos = start;
      return scan_fail (sc, error, "key contains a NUL character");
    }
  Frame *f = &sc->stack[sc->depth - 1];
  if (f->keys == NULL)
    f->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (g_hash_table_contains (f->keys, key->str))
    {
      g_autofree char *desc = lens_json_describe (key->str, (gssize) key->len);
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: duplicate key %s at byte %zu",
                   sc->name, desc, start);
      return FALSE;
    }
  g_hash_table_add (f->keys, g_string_free (g_steal_pointer (&key), FALSE));
  skip_ws (sc);
  if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
    return scan_fail (sc, error, "':' expected after key");
  sc->pos++;
  return TRUE;
}

/* Counts one more element of the innermost array. */
static gboolean
array_item (Scanner *sc, GError **error)
{
  Frame *f = &sc->stack[sc->depth - 1];
  if (++f->n_items > sc->max_array_len)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: invalid JSON at byte %zu: array has more than %zu elements", sc->name,
                   sc->pos, sc->max_array_len);
      return FALSE;
    }
  return TRUE;
}

/* Checks that s[0..len) is exactly one RFC 8259 JSON value plus optional whitespace. */
static gboolean
scan_document (Scanner *sc, GError **error)
{
  skip_ws (sc);
  for (;;)
    {
      /* A value is expected at sc->pos. */
      skip_ws (sc);
      if (sc->pos >= sc->len)
        return scan_fail (sc, error, "unexpected end of text");
      char c = sc->s[sc->pos];
      gboolean ok;
      if (c == '{')
        {
          if (!push (sc, TRUE, error))
            return FALSE;
          skip_ws (sc);
          if (sc->pos < sc->len && sc->s[sc->pos] == '}')
            {
              sc->pos++;
              pop (sc);
            }
          else
            {
              if (!scan_key (sc, error))
                return FALSE;
              continue;
            }
          ok = TRUE;
        }
      else if (c == '[')
        {
          if (!push (sc, FALSE, error))
            return FALSE;
          skip_ws (sc);
          if (sc->pos < sc->len && sc->s[sc->pos] == ']')
            {
              sc->pos++;
              pop (sc);
            }
          else
            {
              if (!array_item (sc, error))
                return FALSE;
              continue;
            }
          ok = TRUE;
        }
      else if (c == '"')
        ok = scan_string (sc, NULL, error);
      else if (c == '-' || is_digit (c))
        ok = scan_number (sc, error);
      else if (c == 't')
        ok = scan_literal (sc, "true", error);
      else if (c == 'f')
        ok = scan_literal (sc, "false", error);
      else if (c == 'n')
        ok = scan_literal (sc, "null", error);
      else
        ok = scan_fail (sc, error, "unexpected character");
      if (!ok)
        return FALSE;

      /* After a value: close containers, or find the separator before the next value. */
      for (;;)
        {
          skip_ws (sc);
          if (sc->depth == 0)
            {
              if (sc->pos != sc->len)
                return scan_fail (sc, error, "unexpected text after the end of the value");
              return TRUE;
            }
          if (sc->pos >= sc->len)
            return scan_fail (sc, error, "unexpected end of text");
          Frame *f = &sc->stack[sc->depth - 1];
          c = sc->s[sc->pos];
          if (c == (f->is_object ? '}' : ']'))
            {
              sc->pos++;
              pop (sc);
              continue;
            }
          if (c != ',')
            return scan_fail (sc, error, f->is_object ? "',' or '}' expected" : "',' or ']' expected");
          sc->pos++;
          if (f->is_object)
            {
              skip_ws (sc);
              if (!scan_key (sc, error))
                return FALSE;
            }
          else if (!array_item (sc, error))
            return FALSE;
          break;
        }
    }
}

json_object *
lens_json_parse (const char *text, size_t len, const char *name, GError **error)
{
  return lens_json_parse_limited (text, len, name, LENS_JSON_MAX_DEPTH, G_MAXSIZE, error);
}

json_object *
lens_json_parse_limited (const char *text, size_t len, const char *name, int max_depth,
                         size_t max_array_len, GError **error)
{
  g_return_val_if_fail (max_depth >= 1 && max_depth <= LENS_JSON_MAX_DEPTH, NULL);
  const char *bad = NULL;
  if (len > G_MAXSSIZE)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: JSON text too large", name);
      return NULL;
    }
  if (!g_utf8_validate_len (text, len, &bad))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: %s at byte %zu", name,
                   *bad == '\0' ? "NUL byte in JSON text" : "invalid UTF-8 in JSON text",
                   (size_t) (bad - text));
      return NULL;
    }

  Scanner sc = {.s = text, .len = len, .name = name, .max_depth = max_depth,
                .max_array_len = max_array_len};
  gboolean ok = scan_document (&sc, error);
  while (sc.depth > 0)
    pop (&sc);
  if (!ok)
    return NULL;

  /* json-c counts the top-level value as one level; give it room beyond our own limit. */
  json_tokener *tok = json_tokener_new_ex (LENS_JSON_MAX_DEPTH + 2);
  if (tok == NULL)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: out of memory parsing JSON", name);
      return NULL;
    }
  json_tokener_set_flags (tok, JSON_TOKENER_STRICT);
  /* json-c takes an int length; texts beyond that are rejected above only by size limits of the
   * callers, so check here too. */
  if (len > (size_t) G_MAXINT)
    {
      json_tokener_free (tok);
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: JSON text too large", name);
      return NULL;
    }
  json_object *obj = json_tokener_parse_ex (tok, text, (int) len);
  enum json_tokener_error jerr = json_tokener_get_error (tok);
  size_t end = json_tokener_get_parse_end (tok);
  json_tokener_free (tok);
  if (obj == NULL || jerr != json_tokener_success)
    {
      /* Not expected after our own scan, but never trust that. A bare `null` document also lands
       * here; callers want objects anyway. */
      json_object_put (obj);
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: invalid JSON at byte %zu: %s", name,
                   end, obj == NULL && jerr == json_tokener_success
                          ? "expected an object"
                          : json_tokener_error_desc (jerr));
      return NULL;
    }
  return obj;
}

char *
lens_json_describe (const char *s, gssize len)
{
  enum { LIMIT = 120 };
  size_t n = len < 0 ? strlen (s) : (size_t) len;
  GString *out = g_string_sized_new (MIN (n, LIMIT) + 8);
  g_string_append_c (out, '"');
  size_t i = 0;
  while (i < n)
    {
      if (i >= LIMIT)
        {
          g_string_append (out, "...");
          break;
        }
      guchar c = (guchar) s[i];
      if (c == '"' || c == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char) c);
          i++;
        }
      else if (c < 0x20 || c == 0x7f)
        {
          g_string_append_printf (out, "\\x%02x", c);
          i++;
        }
      else if (c < 0x80)
        {
          g_string_append_c (out, (char) c);
          i++;
        }
      else
        {
          /* Copy a whole valid UTF-8 character, or escape a stray byte. */
          const char *end = NULL;
          size_t avail = n - i;
          size_t clen = (size_t) g_utf8_skip[c];
          if (clen <= avail && g_utf8_validate_len (s + i, clen, &end))
            {
              g_string_append_len (out, s + i, (gssize) clen);
              i += clen;
            }
          else
            {
              g_string_append_printf (out, "\\x%02x", c);
              i++;
            }
        }
    }
  g_string_append_c (out, '"');
  return g_string_free (out, FALSE);
}

const char *
lens_json_type_name (const json_object *obj)
{
  switch (json_object_get_type (obj))
    {
      case json_type_null: return "null";
      case json_type_boolean: return "a boolean";
      case json_type_double: return "a non-integer number";
      case json_type_int: return "an integer";
      case json_type_object: return "an object";
      case json_type_array: return "an array";
      case json_type_string: return "a string";
      default: return "an unknown JSON type";
    }
}
