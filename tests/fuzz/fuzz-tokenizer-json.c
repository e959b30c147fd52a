/* libFuzzer harness for loading a Hugging Face tokenizer.json from memory. */
#include "fuzz-tokenizer-common.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  LensTokenizer *tok
      = lens_tokenizer_new_from_tokenizer_json_data ((const char *) data, size, &error);
  if (tok == NULL)
    {
      fuzz_check_failure (error);
      g_error_free (error);
      return 0;
    }
  if (error != NULL)
    abort ();
  fuzz_use_tokenizer (tok, data, size);
  lens_tokenizer_free (tok);
  return 0;
}
