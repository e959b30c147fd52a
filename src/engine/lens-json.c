#include "lens-json.h"
#include "lens-error.h"

#include <string.h>

/* One object's keys, for the duplicate check: open addressing, at most half full. A key points
 * into the text when it has no escapes, else to its decoded copy in Scanner.blocks. */
typedef struct
{
  const char *p; /* NULL: empty slot */
  size_t len;
  guint64 hash;
} KeySlot;

typedef struct
{
  gboolean is_object;
  KeySlot *keys; /* objects only, allocated on the first key */
  size_t keys_cap, n_keys;
  size_t n_items; /* arrays only */
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
  GString *scratch;  /* a key with escapes is decoded here... */
  GPtrArray *blocks; /* ...then copied into these blocks, whose addresses never change */
  size_t block_used, block_cap;
  guint64 seed;
  gboolean surrogate_pairs; /* the text escapes a surrogate pair (see unescape_surrogate_pairs) */
} Scanner;

/* A string's value as scan_string hands it to scan_key. */
typedef struct
{
  const char *p;
  size_t len;
  GString *buf; /* set once an escape is seen */
} KeyText;

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

/* Scans a string starting at the opening quote. When `key` is non-NULL the string's value is
 * returned in it (keys only, so the duplicate check compares values, not spellings): pointing into
 * the text when there are no escapes, which is nearly always, else decoded into key->buf. */
static gboolean
scan_string (Scanner *sc, KeyText *key, GError **error)
{
  const char *body = sc->s + sc->pos + 1, *end = sc->s + sc->len;
  LensJsonStringEnd se;
  /* UTF-8 was validated beforehand */
  LensJsonStringStatus st = lens_json_string_decode (body, end, 0, NULL, &se);
  if (st == LENS_JSON_STRING_OK)
    {
      sc->surrogate_pairs |= se.surrogate_pair;
      if (key != NULL && se.escaped)
        {
          if (sc->scratch == NULL)
            sc->scratch = g_string_sized_new (256);
          key->buf = sc->scratch;
          g_string_truncate (key->buf, 0);
          lens_json_string_decode (body, end, 0, key->buf, &se);
          key->p = key->buf->str;
          key->len = key->buf->len;
        }
      else if (key != NULL)
        {
          key->p = body;
          key->len = (size_t) (se.at - 1 - body);
        }
      sc->pos = (size_t) (se.at - sc->s);
      return TRUE;
    }
  /* each message names the byte this scanner has always pointed at */
  size_t esc = (size_t) (se.at - sc->s);
  switch (st)
    {
    case LENS_JSON_STRING_UNTERMINATED:
      sc->pos = esc;
      return scan_fail (sc, error, "unterminated string");
    case LENS_JSON_STRING_CONTROL:
      sc->pos = esc;
      return scan_fail (sc, error, "control character in string");
    case LENS_JSON_STRING_BAD_ESCAPE:
      sc->pos = esc + 1;
      return scan_fail (sc, error, "bad escape in string");
    case LENS_JSON_STRING_U_TRUNCATED:
      sc->pos = esc + 1;
      return scan_fail (sc, error, "truncated \\u escape");
    case LENS_JSON_STRING_U_BAD_HEX:
      sc->pos = esc + 1;
      return scan_fail (sc, error, "bad hex digit in \\u escape");
    case LENS_JSON_STRING_LONE_LOW:
      sc->pos = esc + 6;
      return scan_fail (sc, error, "lone low surrogate in \\u escape");
    case LENS_JSON_STRING_HIGH_ALONE:
      sc->pos = esc + 6;
      return scan_fail (sc, error, "lone high surrogate in \\u escape");
    case LENS_JSON_STRING_HIGH_THEN_TRUNCATED:
      sc->pos = esc + 7;
      return scan_fail (sc, error, "truncated \\u escape");
    case LENS_JSON_STRING_HIGH_THEN_BAD_HEX:
      sc->pos = esc + 7;
      return scan_fail (sc, error, "bad hex digit in \\u escape");
    case LENS_JSON_STRING_HIGH_THEN_NOT_LOW:
      sc->pos = esc + 12;
      return scan_fail (sc, error, "lone high surrogate in \\u escape");
    case LENS_JSON_STRING_OK:
    case LENS_JSON_STRING_BAD_UTF8: /* not asked for */
    case LENS_JSON_STRING_CUT_UTF8:
    case LENS_JSON_STRING_NUL:
      break;
    }
  g_assert_not_reached ();
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
  Frame *f = &sc->stack[sc->depth];
  f->is_object = is_object;
  f->keys = NULL;
  f->keys_cap = 0;
  f->n_keys = 0;
  f->n_items = 0;
  sc->depth++;
  sc->pos++;
  return TRUE;
}

static void
pop (Scanner *sc)
{
  sc->depth--;
  g_clear_pointer (&sc->stack[sc->depth].keys, g_free);
}

/* A seeded hash of the key's bytes, so that a file cannot be built in advance to make every key
 * collide. */
static guint64
key_hash (const Scanner *sc, const char *p, size_t len)
{
  guint64 h = sc->seed ^ (len * 0x9e3779b97f4a7c15ULL);
  size_t i = 0;
  for (; i + 8 <= len; i += 8)
    {
      guint64 w;
      memcpy (&w, p + i, 8);
      h = (h ^ w) * 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
  guint64 w = 0;
  memcpy (&w, p + i, len - i);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 29;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 32;
  return h;
}

/* Inserts the key into the innermost object's set; FALSE if it is already there. */
static gboolean
key_insert (Frame *f, const char *p, size_t len, guint64 hash)
{
  if (2 * (f->n_keys + 1) > f->keys_cap)
    {
      size_t cap = f->keys_cap ? 2 * f->keys_cap : 16;
      KeySlot *keys = g_new0 (KeySlot, cap);
      for (size_t i = 0; i < f->keys_cap; i++)
        if (f->keys[i].p != NULL)
          {
            size_t j = (size_t) f->keys[i].hash & (cap - 1);
            while (keys[j].p != NULL)
              j = (j + 1) & (cap - 1);
            keys[j] = f->keys[i];
          }
      g_free (f->keys);
      f->keys = keys;
      f->keys_cap = cap;
    }
  size_t mask = f->keys_cap - 1;
  for (size_t j = (size_t) hash & mask;; j = (j + 1) & mask)
    {
      KeySlot *k = &f->keys[j];
      if (k->p == NULL)
        {
          *k = (KeySlot){.p = p, .len = len, .hash = hash};
          f->n_keys++;
          return TRUE;
        }
      if (k->hash == hash && k->len == len && memcmp (k->p, p, len) == 0)
        return FALSE;
    }
}

/* Copies a decoded key to storage that lives as long as the scanner. Keys are copied into
 * 64 KiB blocks so that a vocabulary of escaped keys costs one allocation per block, not per
 * key. */
static const char *
keep_key (Scanner *sc, const char *p, size_t len)
{
  enum
  {
    BLOCK = 64 * 1024
  };
  if (sc->blocks == NULL)
    sc->blocks = g_ptr_array_new_with_free_func (g_free);
  if (sc->blocks->len == 0 || sc->block_cap - sc->block_used < len)
    {
      sc->block_cap = MAX (len, (size_t) BLOCK);
      sc->block_used = 0;
      g_ptr_array_add (sc->blocks, g_malloc (sc->block_cap));
    }
  char *dst = (char *) g_ptr_array_index (sc->blocks, sc->blocks->len - 1) + sc->block_used;
  memcpy (dst, p, len);
  sc->block_used += len;
  return dst;
}

static gboolean
scan_key (Scanner *sc, GError **error)
{
  if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
    return scan_fail (sc, error, "string key expected");
  size_t start = sc->pos;
  KeyText key = {0};
  if (!scan_string (sc, &key, error))
    return FALSE;
  if (key.buf != NULL)
    {
      /* Only an escape can put a NUL into a key: the text itself has none. */
      if (memchr (key.p, '\0', key.len) != NULL)
        {
          sc->pos = start;
          return scan_fail (sc, error, "key contains a NUL character");
        }
      key.p = keep_key (sc, key.p, key.len);
    }
  Frame *f = &sc->stack[sc->depth - 1];
  if (!key_insert (f, key.p, key.len, key_hash (sc, key.p, key.len)))
    {
      g_autofree char *desc = lens_json_describe (key.p, (gssize) key.len);
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: duplicate key %s at byte %zu",
                   sc->name, desc, start);
      return FALSE;
    }
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
            return scan_fail (sc, error,
                              f->is_object ? "',' or '}' expected" : "',' or ']' expected");
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

/* json-c 0.16 decodes an escaped surrogate pair to U+FFFD whenever the code point's low 16 bits
 * fall in the surrogate range (U+1D800-U+1DFFF, U+2D800-U+2DFFF (CJK Extension F), ...: 32 of
 * every 1024 high surrogates). Python's json.dump writes exactly such escapes by default. So
 * before json-c sees a text the scanner has accepted, its escaped pairs are replaced by the
 * UTF-8 they stand for; the scanner has checked that every high surrogate escape is followed by
 * a low one, and noted whether there is any. Returns that copy (other escapes kept as they are);
 * *out_len receives its length. */
static char *
unescape_surrogate_pairs (const char *s, size_t len, size_t *out_len)
{
  GString *out = g_string_sized_new (len);
  gboolean in_string = FALSE;
  for (size_t i = 0; i < len; i++)
    {
      if (!in_string)
        {
          in_string = s[i] == '"';
          g_string_append_c (out, s[i]);
          continue;
        }
      if (s[i] == '"')
        in_string = FALSE;
      if (s[i] != '\\')
        {
          g_string_append_c (out, s[i]);
          continue;
        }
      int hi = s[i + 1] == 'u' ? lens_json_hex4 (s + i + 2) : -1;
      if (hi >= 0xD800 && hi <= 0xDBFF)
        {
          int lo = lens_json_hex4 (s + i + 8);
          gunichar c = 0x10000 + (((gunichar) hi - 0xD800) << 10) + ((gunichar) lo - 0xDC00);
          g_string_append_unichar (out, c);
          i += 11;
        }
      else
        {
          /* the backslash and the escaped character; a \u's digits follow as plain text */
          g_string_append_len (out, s + i, 2);
          i++;
        }
    }
  *out_len = out->len;
  return g_string_free (out, FALSE);
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

  static gsize seed = 0;
  if (g_once_init_enter (&seed))
    g_once_init_leave (&seed, (gsize) ((guint64) g_random_int () << 32 | g_random_int ()) | 1);
  Scanner sc = {.s = text,
                .len = len,
                .name = name,
                .max_depth = max_depth,
                .max_array_len = max_array_len,
                .seed = seed};
  gboolean ok = scan_document (&sc, error);
  while (sc.depth > 0)
    pop (&sc);
  if (sc.scratch != NULL)
    g_string_free (sc.scratch, TRUE);
  g_clear_pointer (&sc.blocks, g_ptr_array_unref);
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
  g_autofree char *rewritten = NULL;
  if (sc.surrogate_pairs)
    {
      rewritten = unescape_surrogate_pairs (text, len, &len);
      text = rewritten;
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
                   end,
                   obj == NULL && jerr == json_tokener_success ? "expected an object"
                                                               : json_tokener_error_desc (jerr));
      return NULL;
    }
  return obj;
}

char *
lens_json_describe (const char *s, gssize len)
{
  enum
  {
    LIMIT = 120
  };
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
    case json_type_null:
      return "null";
    case json_type_boolean:
      return "a boolean";
    case json_type_double:
      return "a non-integer number";
    case json_type_int:
      return "an integer";
    case json_type_object:
      return "an object";
    case json_type_array:
      return "an array";
    case json_type_string:
      return "a string";
    default:
      return "an unknown JSON type";
    }
}

int
lens_json_utf8_sequence (const unsigned char *s, const unsigned char *end)
{
  unsigned c = s[0], cp, min;
  int n;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2, cp = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0)
    n = 3, cp = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, cp = c & 0x07, min = 0x10000;
  else
    return 0;
  if (end - s < n)
    return 0;
  for (int i = 1; i < n; i++)
    {
      if ((s[i] & 0xC0) != 0x80)
        return 0;
      cp = (cp << 6) | (s[i] & 0x3F);
    }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

/* See lens-json.h. The fault checks are those RFC 8259 makes; the flags add the callers' own. */
LensJsonStringStatus
lens_json_string_decode (const char *p, const char *end, LensJsonStringFlags flags, GString *out,
                         LensJsonStringEnd *res)
{
  /* without CHECK_UTF8 a byte >= 0x80 is part of a plain run */
  const unsigned plain_below = (flags & LENS_JSON_STRING_CHECK_UTF8) ? 0x80 : 0x100;
  res->escaped = res->surrogate_pair = FALSE;
  for (;;)
    {
      /* The common case first: a run of plain characters. */
      const char *run = p;
      while (p < end && *p != '"' && *p != '\\' && (unsigned char) *p >= 0x20
             && (unsigned char) *p < plain_below)
        p++;
      if (p > run && out != NULL)
        g_string_append_len (out, run, p - run);
      res->at = p;
      if (p >= end)
        return LENS_JSON_STRING_UNTERMINATED;
      unsigned char c = (unsigned char) *p;
      if (c == '"')
        {
          res->at = p + 1;
          return LENS_JSON_STRING_OK;
        }
      if (c < 0x20)
        return LENS_JSON_STRING_CONTROL;
      if (c >= plain_below)
        {
          int n = lens_json_utf8_sequence ((const unsigned char *) p, (const unsigned char *) end);
          if (n == 0 && c >= 0xC2 && c <= 0xF4)
            {
              /* A sequence cut by the end of the text is a truncation, not bad UTF-8. */
              ptrdiff_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2, have = end - p;
              gboolean prefix = have < need;
              for (ptrdiff_t i = 1; prefix && i < have; i++)
                prefix = ((unsigned char) p[i] & 0xC0) == 0x80;
              if (prefix)
                {
                  res->at = end;
                  return LENS_JSON_STRING_CUT_UTF8;
                }
            }
          if (n == 0)
            return LENS_JSON_STRING_BAD_UTF8;
          if (out != NULL)
            g_string_append_len (out, p, n);
          p += n;
          continue;
        }
      /* a backslash */
      res->escaped = TRUE;
      if (end - p < 2)
        {
          res->at = end;
          return LENS_JSON_STRING_UNTERMINATED;
        }
      char simple = lens_json_simple_escape (p[1]);
      if (simple != 0)
        {
          if (out != NULL)
            g_string_append_c (out, simple);
          p += 2;
          continue;
        }
      if (p[1] != 'u')
        return LENS_JSON_STRING_BAD_ESCAPE;
      if (end - p < 6)
        return LENS_JSON_STRING_U_TRUNCATED;
      int u = lens_json_hex4 (p + 2);
      if (u < 0)
        return LENS_JSON_STRING_U_BAD_HEX;
      if (u == 0 && (flags & LENS_JSON_STRING_NO_NUL))
        return LENS_JSON_STRING_NUL;
      if (u >= 0xDC00 && u <= 0xDFFF)
        return LENS_JSON_STRING_LONE_LOW;
      gunichar cp = (gunichar) u;
      if (u >= 0xD800 && u <= 0xDBFF)
        {
          const char *lo_at = p + 6;
          if (end - lo_at < 2 || lo_at[0] != '\\' || lo_at[1] != 'u')
            return LENS_JSON_STRING_HIGH_ALONE;
          if (end - lo_at < 6)
            return LENS_JSON_STRING_HIGH_THEN_TRUNCATED;
          int lo = lens_json_hex4 (lo_at + 2);
          if (lo < 0)
            return LENS_JSON_STRING_HIGH_THEN_BAD_HEX;
          if (lo < 0xDC00 || lo > 0xDFFF)
            return LENS_JSON_STRING_HIGH_THEN_NOT_LOW;
          cp = 0x10000 + (((gunichar) u - 0xD800) << 10) + ((gunichar) lo - 0xDC00);
          res->surrogate_pair = TRUE;
          p += 6;
        }
      p += 6;
      if (out == NULL)
        continue;
      if (cp == 0 && (flags & LENS_JSON_STRING_NUL_AS_TEXT))
        g_string_append (out, "\\x00");
      else
        g_string_append_unichar (out, cp);
    }
}
