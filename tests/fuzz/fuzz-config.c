/* libFuzzer harness for config.json parsing. Accepted configs must satisfy the invariants the
 * forward pass relies on; rejected ones must give a one-line error naming the file. */
#include "lens-arch.h"
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
      gboolean rope = c.arch->pos == LENS_POS_ROPE;
      if (error != NULL || c.n_layer < 1 || c.n_layer > LENS_MAX_LAYERS || c.n_embd < 1
          || c.n_embd > 65536 || c.n_head < 1 || c.n_kv_head < 1 || c.n_head % c.n_kv_head != 0
          || c.head_dim < 1 || (int64_t) c.n_head * c.head_dim > (1 << 20) || c.vocab_size < 1
          || c.vocab_size > 10000000 || c.n_positions < 1 || c.n_inner < 1 || !(c.norm_eps > 0.0f)
          || c.sliding_window < 0 || lens_arch_find (c.model_type, strlen (c.model_type)) != c.arch
          || (rope && (c.rope.rotary_dim < 2 || c.rope.rotary_dim % 2 != 0 || !(c.rope.theta > 0)))
          || (rope && c.rope.type != LENS_ROPE_DEFAULT && !(c.rope.factor > 0))
          || (rope && c.rope.type == LENS_ROPE_LLAMA3
              && !(c.rope.high_freq_factor > c.rope.low_freq_factor
                   && c.rope.original_max_position_embeddings > 0)))
        abort ();
      for (int l = 0; l < c.n_layer; l++)
        if (c.layer_sliding[l] && c.sliding_window <= 0)
          abort ();
      return 0;
    }
  if (error == NULL || error->domain != LENS_ERROR || strchr (error->message, '\n') != NULL
      || strncmp (error->message, "config.json: ", 13) != 0)
    abort ();
  g_error_free (error);
  return 0;
}
