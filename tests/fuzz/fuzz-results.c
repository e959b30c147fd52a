/* libFuzzer harness for results files (our JSON, logitlenskit v1/v2). Whatever is accepted must
 * also be written back both ways, and what is written must read back.
 *
 * The results readers need lens-result.c, which needs the rest of the engine (model, tokenizer,
 * OpenBLAS), so this harness links every engine source. Seeds: corpus/results/ (copies of
 * tests/data/results/*.json). */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "lens-results-io.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  GPtrArray *targets = NULL;
  LensResult *r = lens_results_parse_full ((const char *) data, size, "fuzz", &targets, &error);
  if (r == NULL)
    {
      if (error == NULL)
        __builtin_trap ();
      g_error_free (error);
      return 0;
    }
  char *json = lens_result_to_json (r, NULL, 0, FALSE);
  LensResult *back = lens_results_parse (json, strlen (json), "again", &error);
  if (back == NULL)
    g_error ("own JSON of an accepted file does not read back: %s", error->message);
  lens_result_unref (back);
  g_free (json);

  char *v2 = lens_result_to_logitlenskit_json (r, NULL, 0, &error);
  if (v2 != NULL)
    {
      back = lens_results_parse (v2, strlen (v2), "again-v2", &error);
      if (back == NULL)
        g_error ("v2 export of an accepted file does not read back: %s", error->message);
      lens_result_unref (back);
      g_free (v2);
    }
  else
    g_clear_error (&error);
  g_ptr_array_unref (targets);
  lens_result_unref (r);
  return 0;
}
