/* libFuzzer harness for loading GPT-2's own tokenizer files from memory: the input is vocab.json,
 * a NUL byte, then merges.txt (no NUL: merges.txt is empty). A vocab.json the one-pass reader
 * takes is loaded through json-c as well, and the two tokenizers must be the same. */
#include "fuzz-tokenizer-common.h"
#include "lens-tokenizer-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *nul = memchr (data, 0, size);
  size_t vlen = nul ? (size_t) (nul - data) : size;
  const char *merges = nul ? (const char *) nul + 1 : "";
  size_t mlen = nul ? size - vlen - 1 : 0;
  /* Exactly-sized copies so ASan sees any read past either part (never NULL: an empty part is
   * still a valid pointer, as a caller reading a file would pass). */
  char *v = g_malloc (MAX (vlen, 1));
  char *m = g_malloc (MAX (mlen, 1));
  memcpy (v, data, vlen);
  memcpy (m, merges, mlen);
  GError *error = NULL;
  LensTokenizer *tok = lens_tokenizer_new_from_gpt2_data (v, vlen, m, mlen, &error);
  if (tok == NULL)
    {
      fuzz_check_failure (error);
      g_error_free (error);
    }
  else
    {
      if (error != NULL)
        abort ();
      LensTokenizer *general = lens_tokenizer_new_from_gpt2_data_general (v, vlen, m, mlen, NULL);
      if (general == NULL || !lens_tokenizer_equal (tok, general))
        abort ();
      lens_tokenizer_free (general);
      fuzz_use_tokenizer (tok, nul ? nul + 1 : data, mlen);
      lens_tokenizer_free (tok);
    }
  g_free (v);
  g_free (m);
  return 0;
}
