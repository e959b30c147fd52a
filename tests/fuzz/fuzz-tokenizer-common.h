/* Shared checks for the tokenizer harnesses: whatever a hostile vocabulary loads as, using it must
 * not crash, ids stay in range, encoding with special tokens adds only the post-processor's ids
 * around the plain encoding, and for a lossless pipeline (no normalizer, byte-level) encoding
 * valid UTF-8 then decoding gives the text back. */
#pragma once

#include "lens-error.h"
#include "lens-tokenizer.h"
#include "lens-tokenizer-private.h"

#include <stdlib.h>
#include <string.h>

static void
fuzz_check_failure (GError *error)
{
  if (error == NULL || error->domain != LENS_ERROR || error->message[0] == '\0'
      || strchr (error->message, '\n') != NULL)
    abort ();
}

static void
fuzz_encode_roundtrip (const LensTokenizer *tok, const char *text, size_t len)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  GError *error = NULL;
  int n_vocab = lens_tokenizer_vocab_size (tok);
  if (!lens_tokenizer_encode (tok, text, (gssize) len, ids, &error))
    {
      fuzz_check_failure (error);
      g_error_free (error);
      g_array_unref (ids);
      return;
    }
  for (guint i = 0; i < ids->len; i++)
    {
      int32_t id = g_array_index (ids, int32_t, i);
      size_t blen = 0;
      if (id < 0 || id >= n_vocab || lens_tokenizer_token_bytes (tok, id, &blen) == NULL)
        abort ();
      char *disp = lens_tokenizer_token_display (tok, id);
      if (disp == NULL || !g_utf8_validate (disp, -1, NULL))
        abort ();
      g_free (disp);
    }
  GArray *with = g_array_new (FALSE, FALSE, sizeof (int32_t));
  if (!lens_tokenizer_encode_with_special (tok, text, (gssize) len, with, &error)
      || with->len < ids->len)
    abort ();
  gboolean found = ids->len == 0; /* the plain ids appear whole inside */
  for (guint at = 0; !found && at + ids->len <= with->len; at++)
    found
        = memcmp (&g_array_index (with, int32_t, at), ids->data, ids->len * sizeof (int32_t)) == 0;
  if (!found)
    abort ();
  g_array_unref (with);
  char *back = lens_tokenizer_decode (tok, (const int32_t *) (void *) ids->data, ids->len);
  if (back == NULL
      || (lens_tokenizer_is_lossless (tok)
          && (strlen (back) != len || memcmp (back, text, len) != 0)))
    abort ();
  g_free (back);
  g_array_unref (ids);
}

/* Valid UTF-8 where NUL bytes count as valid characters, as they do in UTF-8. */
static gboolean
utf8_valid_with_nul (const char *s, size_t n)
{
  const char *end = s + n;
  while (s < end)
    {
      const char *stop = NULL;
      if (g_utf8_validate_len (s, (gsize) (end - s), &stop))
        return TRUE;
      if (*stop != '\0')
        return FALSE;
      s = stop + 1;
    }
  return TRUE;
}

static void
fuzz_use_tokenizer (LensTokenizer *tok, const uint8_t *data, size_t size)
{
  static const char *texts[] = {
      "Hello world",
      "The capital of France is",
      "<|endoftext|>",
      "a<|endoftext|>b",
      " \n\n\t  x  123 4567 it's we'll",
      "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 e\xcc\x81",
      "",
  };
  int n_vocab = lens_tokenizer_vocab_size (tok);
  if (n_vocab < 0)
    abort ();
  for (size_t i = 0; i < G_N_ELEMENTS (texts); i++)
    fuzz_encode_roundtrip (tok, texts[i], strlen (texts[i]));
  /* The fuzz input itself as text, when it is valid UTF-8 (bounded so runs stay fast). */
  size_t n = MIN (size, 4096);
  if (g_utf8_validate_len ((const char *) data, n, NULL))
    fuzz_encode_roundtrip (tok, (const char *) data, n);
  else if (utf8_valid_with_nul ((const char *) data, n))
    {
      /* NUL is valid UTF-8 but g_utf8_validate refuses it, and decode cannot return it in a C
       * string: encode it (it may fail only as any text can, e.g. a vocabulary without byte
       * tokens) but skip the round trip. */
      GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
      GError *error = NULL;
      if (!lens_tokenizer_encode (tok, (const char *) data, (gssize) n, ids, &error))
        {
          fuzz_check_failure (error);
          g_error_free (error);
        }
      g_array_unref (ids);
    }
  else
    {
      GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
      GError *error = NULL;
      if (lens_tokenizer_encode (tok, (const char *) data, (gssize) n, ids, &error))
        abort (); /* invalid UTF-8 must be rejected */
      fuzz_check_failure (error);
      g_error_free (error);
      g_array_unref (ids);
    }
  int32_t probe[] = {-1, 0, 1, 255, 256, n_vocab - 1, n_vocab, G_MAXINT32};
  for (size_t i = 0; i < G_N_ELEMENTS (probe); i++)
    {
      char *disp = lens_tokenizer_token_display (tok, probe[i]);
      if (disp == NULL || !g_utf8_validate (disp, -1, NULL))
        abort ();
      g_free (disp);
      size_t blen = 0;
      const uint8_t *b = lens_tokenizer_token_bytes (tok, probe[i], &blen);
      if ((b == NULL) != (probe[i] < 0 || probe[i] >= n_vocab))
        abort ();
    }
  char *text = lens_tokenizer_decode (tok, probe, 6);
  g_free (text);
  int32_t eos = lens_tokenizer_eos_id (tok);
  if (eos < -1 || eos >= n_vocab)
    abort ();
  (void) lens_tokenizer_lookup (tok, "\xc4\xa0the");
}
