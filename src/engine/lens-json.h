/* lens-json.h: strict JSON for untrusted files (safetensors headers, config.json, index files).
 *
 * json-c's "strict" mode still accepts single quotes, NaN, raw control characters in strings,
 * "1." and lone surrogates, and it silently keeps the last of duplicate keys. So the text is first
 * checked against RFC 8259 by a small scanner of our own (UTF-8, grammar, escapes, nesting depth,
 * duplicate keys in any object, keys without NUL) and only then handed to json-c for the object
 * model. Trailing JSON whitespace is allowed (Hugging Face pads safetensors headers with spaces),
 * anything else after the value is not. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <json-c/json.h>

G_BEGIN_DECLS

#define LENS_JSON_MAX_DEPTH 64

/* Parses `len` bytes of `text` (need not be NUL-terminated). Returns a new reference, or NULL with
 * a LENS_ERROR_FORMAT error "NAME: ..." naming the byte offset of the problem. */
json_object *lens_json_parse (const char *text, size_t len, const char *name, GError **error);

/* The same with tighter limits for formats whose legitimate files are known to be shallow and
 * to have short arrays (safetensors headers): JSON objects cost json-c tens of bytes per input
 * byte, so this caps what a hostile file can make us allocate. 1 <= max_depth <=
 * LENS_JSON_MAX_DEPTH. */
json_object *lens_json_parse_limited (const char *text, size_t len, const char *name, int max_depth,
                                      size_t max_array_len, GError **error);

/* A one-line, quoted, escaped and length-limited rendering of `s` (`len` bytes, or -1 for
 * NUL-terminated) for error messages. Free with g_free. */
char *lens_json_describe (const char *s, gssize len);

/* A short name for a json-c type ("a string", "an integer", ...) for error messages. */
const char *lens_json_type_name (const json_object *obj);

/* The character a one-letter JSON escape (the letter after the backslash) stands for, or 0 for
 * 'u' and for anything that is not an escape. Shared by the validating scanner and the results
 * pull parser. */
static inline char
lens_json_simple_escape (char letter)
{
  switch (letter)
    {
    case '"':
      return '"';
    case '\\':
      return '\\';
    case '/':
      return '/';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return 0;
    }
}

/* Length of the valid UTF-8 sequence at s (no overlongs, surrogates or code points past U+10FFFF;
 * reads no further than `end`), or 0. Shared by the results pull reader, which checks strings
 * with it, and the JSON writer, which replaces what it rejects. */
int lens_json_utf8_sequence (const unsigned char *s, const unsigned char *end);

/* The value of the four hex digits at `p` (the caller has checked that four bytes are there), or
 * -1 when one of them is not a hex digit. For \u escapes. */
static inline int
lens_json_hex4 (const char *p)
{
  int v = 0;
  for (int i = 0; i < 4; i++)
    {
      int d = g_ascii_xdigit_value (p[i]);
      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  return v;
}

G_END_DECLS
