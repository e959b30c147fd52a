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

/* Decoding a JSON string's body: the one decoder behind the validating scanner (lens-json.c), the
 * results pull reader (lens-json-pull.c) and the tokenizer's one-pass vocab.json reader. They
 * differ only in what they need, given as flags, and in how they word an error, so the decoder
 * names the fault and where it is, and each caller keeps its own message. */
typedef enum
{
  LENS_JSON_STRING_CHECK_UTF8 = 1 << 0,  /* the text is not validated beforehand: check it here */
  LENS_JSON_STRING_NO_NUL = 1 << 1,      /* \u0000 is a fault (no token may contain it) */
  LENS_JSON_STRING_NUL_AS_TEXT = 1 << 2, /* \u0000 decodes to the text "\x00", as token displays
                                          * show raw bytes: U+0000 cannot live in a C string */
} LensJsonStringFlags;

typedef enum
{
  LENS_JSON_STRING_OK,           /* at: past the closing quote */
  LENS_JSON_STRING_UNTERMINATED, /* at: the end of the text */
  LENS_JSON_STRING_CONTROL,      /* a raw control character; at: it */
  LENS_JSON_STRING_BAD_UTF8,     /* at: the sequence (LENS_JSON_STRING_CHECK_UTF8) */
  LENS_JSON_STRING_CUT_UTF8,     /* a sequence cut by the end of the text; at: the end */
  LENS_JSON_STRING_BAD_ESCAPE,   /* a backslash and a letter that is no escape; at: the backslash */
  /* the rest are about a \u escape; at: its backslash */
  LENS_JSON_STRING_U_TRUNCATED, /* fewer than four characters follow \u */
  LENS_JSON_STRING_U_BAD_HEX,   /* one of the four is not a hex digit */
  LENS_JSON_STRING_NUL,         /* \u0000 (LENS_JSON_STRING_NO_NUL) */
  LENS_JSON_STRING_LONE_LOW,    /* a low surrogate with no high one before it */
  /* a high surrogate not followed by a \u escape, followed by a truncated one, by one with a bad
   * hex digit, or by one that is not a low surrogate */
  LENS_JSON_STRING_HIGH_ALONE,
  LENS_JSON_STRING_HIGH_THEN_TRUNCATED,
  LENS_JSON_STRING_HIGH_THEN_BAD_HEX,
  LENS_JSON_STRING_HIGH_THEN_NOT_LOW,
} LensJsonStringStatus;

typedef struct
{
  const char *at;          /* see LensJsonStringStatus */
  gboolean escaped;        /* the string has an escape */
  gboolean surrogate_pair; /* it has an escaped surrogate pair */
} LensJsonStringEnd;

/* Decodes the string whose body starts at `p` (after the opening quote), reading no further than
 * `end`, onto `out` (NULL: only checks). */
LensJsonStringStatus lens_json_string_decode (const char *p, const char *end,
                                              LensJsonStringFlags flags, GString *out,
                                              LensJsonStringEnd *res);

G_END_DECLS
