/* lens-tok-decoder.c: what one token shows as. tokenizers' decoders work on whole sequences; here
 * each token is decoded alone, keeping its leading space (Metaspace's and Strip's removal of the
 * first space is for the start of a text, not for a token shown on its own), so that "▁Paris"
 * shows " Paris" as GPT-2's "ĠParis" does. Fuse only joins tokens and does nothing to one. */
#include "lens-error.h"
#include "lens-tok-private.h"

#include <string.h>

typedef enum
{
  DEC_BYTE_LEVEL,
  DEC_METASPACE,
  DEC_REPLACE,
  DEC_BYTE_FALLBACK,
  DEC_FUSE,
  DEC_STRIP,
  DEC_SEQUENCE,
} DecKind;

struct LensTokDecoder
{
  DecKind kind;
  char *pattern, *content; /* Replace; Metaspace's replacement in `pattern` */
  size_t pattern_len;
  int stop;            /* Strip: characters `content` removed from the end */
  GPtrArray *children; /* Sequence */
};

void
lens_tok_decoder_free (LensTokDecoder *d)
{
  if (d == NULL)
    return;
  g_free (d->pattern);
  g_free (d->content);
  g_clear_pointer (&d->children, g_ptr_array_unref);
  g_free (d);
}

LensTokDecoder *
lens_tok_decoder_new_byte_level (void)
{
  LensTokDecoder *d = g_new0 (LensTokDecoder, 1);
  d->kind = DEC_BYTE_LEVEL;
  return d;
}

LensTokDecoder *
lens_tok_decoder_parse (json_object *o, const char *file, const char *path, int depth,
                        GError **error)
{
  const char *type = lens_tok_type (o, file, path, depth, error);
  if (type == NULL)
    return NULL;
  g_autoptr (LensTokDecoder) d = g_new0 (LensTokDecoder, 1);
  if (strcmp (type, "ByteLevel") == 0)
    d->kind = DEC_BYTE_LEVEL;
  else if (strcmp (type, "ByteFallback") == 0)
    d->kind = DEC_BYTE_FALLBACK;
  else if (strcmp (type, "Fuse") == 0)
    d->kind = DEC_FUSE;
  else if (strcmp (type, "Metaspace") == 0)
    {
      json_object *r;
      if (!lens_tok_get (o, "replacement", json_type_string, &r, file, path, error))
        return NULL;
      d->kind = DEC_METASPACE;
      d->pattern = g_strdup (r ? json_object_get_string (r) : "\xe2\x96\x81");
      d->pattern_len = strlen (d->pattern);
      d->content = g_strdup (" ");
    }
  else if (strcmp (type, "Replace") == 0)
    {
      const char *pat;
      size_t plen;
      gboolean is_regex;
      json_object *c;
      if (!lens_tok_pattern (o, &pat, &plen, &is_regex, file, path, error)
          || !lens_tok_get (o, "content", json_type_string, &c, file, path, error))
        return NULL;
      if (is_regex || plen == 0 || c == NULL)
        {
          lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                          "must replace a non-empty String pattern by a string content");
          return NULL;
        }
      if (json_object_get_string_len (c) > LENS_TOK_MAX_INSERT)
        {
          lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                          "replaces by more than %d bytes", LENS_TOK_MAX_INSERT);
          return NULL;
        }
      d->kind = DEC_REPLACE;
      d->pattern = g_strndup (pat, plen);
      d->pattern_len = plen;
      d->content = g_strdup (json_object_get_string (c));
    }
  else if (strcmp (type, "Strip") == 0)
    {
      json_object *c, *stop;
      if (!lens_tok_get (o, "content", json_type_string, &c, file, path, error)
          || !lens_tok_get (o, "stop", json_type_int, &stop, file, path, error))
        return NULL;
      d->kind = DEC_STRIP;
      d->content = g_strdup (c ? json_object_get_string (c) : " ");
      d->stop = stop ? (int) CLAMP (json_object_get_int64 (stop), 0, 1 << 20) : 0;
      if (g_utf8_strlen (d->content, -1) != 1)
        {
          lens_tok_error (error, LENS_ERROR_FORMAT, file, path, "content must be one character");
          return NULL;
        }
    }
  else if (strcmp (type, "Sequence") == 0)
    {
      json_object *arr = lens_tok_sequence (o, "decoders", file, path, error);
      if (arr == NULL)
        return NULL;
      d->kind = DEC_SEQUENCE;
      d->children = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_tok_decoder_free);
      for (size_t i = 0; i < json_object_array_length (arr); i++)
        {
          g_autofree char *cp = g_strdup_printf ("%s.decoders[%zu]", path, i);
          LensTokDecoder *c = lens_tok_decoder_parse (json_object_array_get_idx (arr, i), file, cp,
                                                      depth + 1, error);
          if (c == NULL)
            return NULL;
          g_ptr_array_add (d->children, c);
        }
    }
  else
    {
      g_autofree char *shown = g_strescape (type, NULL);
      lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                      "is a decoder of type \"%s\", which is not supported", shown);
      return NULL;
    }
  return g_steal_pointer (&d);
}

guint
lens_tok_decoder_count (const LensTokDecoder *d)
{
  guint c = 1;
  for (guint i = 0; d->kind == DEC_SEQUENCE && i < d->children->len; i++)
    c += lens_tok_decoder_count (d->children->pdata[i]);
  return c;
}

static void
replace_all (GByteArray *b, const char *pat, size_t plen, const char *content)
{
  g_autoptr (GByteArray) out = g_byte_array_sized_new (b->len);
  for (size_t i = 0; i < b->len;)
    if (i + plen <= b->len && memcmp (b->data + i, pat, plen) == 0)
      {
        g_byte_array_append (out, (const guint8 *) content, (guint) strlen (content));
        i += plen;
      }
    else
      g_byte_array_append (out, b->data + i++, 1);
  g_byte_array_set_size (b, 0);
  g_byte_array_append (b, out->data, out->len);
}

/* The byte that the ByteLevel alphabet character at s[0..left) stands for, with its UTF-8 length
 * in *width; -1 when it is not an alphabet character or not valid UTF-8. The alphabet lies in
 * U+0021..U+0143, so only one- and two-byte sequences can be in it; as g_utf8_get_char_validated
 * would, this refuses overlong forms (C0, C1) and NUL (which no byte maps to). */
static inline int
byte_level_char (const guint8 *s, size_t left, size_t *width)
{
  guint c;
  if (s[0] < 0x80)
    {
      c = s[0];
      *width = 1;
    }
  else if (s[0] >= 0xC2 && s[0] < 0xE0 && left >= 2 && (s[1] & 0xC0) == 0x80)
    {
      c = ((guint) (s[0] & 0x1F) << 6) | (s[1] & 0x3F);
      *width = 2;
    }
  else
    return -1;
  return c < G_N_ELEMENTS (lens_tok_cp_to_byte) ? lens_tok_cp_to_byte[c] : -1;
}

/* Decodes ByteLevel text s[0..len) into dst, which has room for len bytes and may be s itself;
 * returns the number of bytes, or -1 with dst untouched when a character is not in the alphabet
 * (tokenizers then keeps the token's own UTF-8: an added token stored in the vocabulary, say).
 * Checked in a first pass so that decoding in place never has to be undone. */
static gssize
byte_level_decode (const guint8 *s, size_t len, guint8 *dst)
{
  size_t width;
  for (size_t i = 0; i < len; i += width)
    if (byte_level_char (s + i, len - i, &width) < 0)
      return -1;
  size_t n = 0;
  for (size_t i = 0; i < len; i += width)
    dst[n++] = (guint8) byte_level_char (s + i, len - i, &width);
  return (gssize) n;
}

static void
decode_one (const LensTokDecoder *d, GByteArray *b)
{
  switch (d->kind)
    {
    case DEC_BYTE_LEVEL:
      {
        gssize n = byte_level_decode (b->data, b->len, b->data);
        if (n >= 0)
          g_byte_array_set_size (b, (guint) n);
        break;
      }
    case DEC_BYTE_FALLBACK:
      if (b->len == 6 && memcmp (b->data, "<0x", 3) == 0 && b->data[5] == '>'
          && g_ascii_isxdigit (b->data[3]) && g_ascii_isxdigit (b->data[4]))
        {
          guint8 byte = (guint8) (g_ascii_xdigit_value (b->data[3]) * 16
                                  + g_ascii_xdigit_value (b->data[4]));
          g_byte_array_set_size (b, 0);
          g_byte_array_append (b, &byte, 1);
        }
      break;
    case DEC_METASPACE:
    case DEC_REPLACE:
      replace_all (b, d->pattern, d->pattern_len, d->content);
      break;
    case DEC_FUSE:
      break;
    case DEC_STRIP:
      {
        size_t cl = strlen (d->content);
        for (int i = 0;
             i < d->stop && b->len >= cl && memcmp (b->data + b->len - cl, d->content, cl) == 0;
             i++)
          g_byte_array_set_size (b, (guint) (b->len - cl));
        break;
      }
    case DEC_SEQUENCE:
      for (guint i = 0; i < d->children->len; i++)
        decode_one (d->children->pdata[i], b);
      break;
    }
}

void
lens_tok_decoder_token (const LensTokDecoder *d, const char *s, size_t len, GByteArray *out)
{
  /* ByteLevel alone (GPT-2 and the byte-level BPE models like it) decodes straight into `out`:
   * every load decodes the whole vocabulary, and the scratch arrays of the general path below
   * were a third of loading GPT-2's tokenizer */
  if (d != NULL && d->kind == DEC_BYTE_LEVEL)
    {
      guint at = out->len;
      g_byte_array_set_size (out, (guint) (at + len));
      gssize n = byte_level_decode ((const guint8 *) s, len, out->data + at);
      if (n < 0)
        {
          memcpy (out->data + at, s, len);
          n = (gssize) len;
        }
      g_byte_array_set_size (out, (guint) (at + (size_t) n));
      return;
    }
  g_autoptr (GByteArray) b = g_byte_array_sized_new ((guint) len);
  g_byte_array_append (b, (const guint8 *) s, (guint) len);
  if (d != NULL)
    decode_one (d, b);
  g_byte_array_append (out, b->data, b->len);
}
