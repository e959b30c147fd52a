/* libFuzzer harness for config.json parsing. Accepted configs must satisfy the invariants the
 * forward pass relies on; rejected ones must give a one-line error naming the file. */
#include "lens-config.h"
#include "lens-error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  LensConfig c;
  GError *error = NULL;
  if (lens_config_parse ((const char *) data, size, "config.json", &c, &error))
    {
      if (error != NULL || c.n_layer < 1 || c.n_layer > 1024 || c.n_embd < 1 || c.n_embd > 65536
          || c.n_head < 1 || c.n_embd % c.n_head != 0 || c.vocab_size < 1 || c.vocab_size > 10000000
          || c.n_positions < 1 || c.n_positions > 1000000 || c.n_inner < 1
          || !(c.layer_norm_epsilon > 0.0f) || c.arch != LENS_ARCH_GPT2
          || strcmp (c.model_type, "gpt2") != 0 || strcmp (lens_arch_name (c.arch), "gpt2") != 0)
        abort ();
      return 0;
    }
  if (error == NULL || error->domain != LENS_ERROR || strchr (error->message, '\n') != NULL
      || strncmp (error->message, "config.json: ", 13) != 0)
    abort ();
  g_error_free (error);
  return 0;
}
