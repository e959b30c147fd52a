/* libFuzzer harness for the safetensors parser.
 *
 * Each input is tried twice: as a whole file (so the 8-byte length prefix itself is fuzzed), and
 * with the prefix rewritten to the length of the bytes after it up to the first NUL, so mutations
 * of the JSON header are not all rejected by a stale length. Accepted files must describe tensors
 * that lie inside the buffer: every byte of every tensor is read (ASan checks the bounds) and the
 * float ones are converted. */
#include "lens-error.h"
#include "lens-safetensors.h"

#include <stdlib.h>
#include <string.h>

static void
check_error (GError *error)
{
  /* Errors are one line and name the file. */
  if (error == NULL || error->domain != LENS_ERROR || strchr (error->message, '\n') != NULL
      || strncmp (error->message, "fuzz.safetensors", 16) != 0)
    abort ();
}

static void
exercise (const uint8_t *buf, size_t len)
{
  GError *error = NULL;
  LensSafetensors *st = lens_safetensors_parse (buf, len, "fuzz.safetensors", &error);
  if (st == NULL)
    {
      check_error (error);
      g_error_free (error);
      return;
    }
  uint64_t total = 0;
  const uint8_t *prev_end = NULL;
  for (size_t i = 0; i < lens_safetensors_n_tensors (st); i++)
    {
      const LensTensor *t = lens_safetensors_tensor (st, i);
      if (lens_safetensors_find (st, t->name) != t)
        abort ();
      const uint8_t *d = t->data;
      /* Sorted, contiguous, inside the buffer. */
      if (d < buf || d + t->n_bytes > buf + len || (prev_end != NULL && d != prev_end))
        abort ();
      prev_end = d + t->n_bytes;
      if (t->n_bytes != t->n_elements * lens_dtype_size (t->dtype))
        abort ();
      volatile uint8_t sink = 0;
      for (uint64_t b = 0; b < t->n_bytes; b++)
        sink ^= d[b];
      (void) sink;
      total += t->n_bytes;
      if (t->dtype == LENS_DTYPE_F32 || t->dtype == LENS_DTYPE_F16 || t->dtype == LENS_DTYPE_BF16)
        {
          float *out = malloc (t->n_elements * sizeof (float) + 1);
          if (!lens_tensor_to_f32 (t, out, &error))
            abort ();
          free (out);
          const float *direct = lens_tensor_f32_direct (t);
          if (direct != NULL && (const void *) direct != t->data)
            abort ();
        }
      else
        {
          float dummy;
          if (lens_tensor_to_f32 (t, &dummy, &error))
            abort ();
          check_error (error);
          g_clear_error (&error);
        }
    }
  if (lens_safetensors_n_tensors (st) > 0 && prev_end != buf + len)
    abort ();
  (void) total;
  lens_safetensors_free (st);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  exercise (data, size);

  if (size >= 8)
    {
      const uint8_t *nul = memchr (data + 8, 0, size - 8);
      uint64_t hlen = nul ? (uint64_t) (nul - (data + 8)) : size - 8;
      uint8_t *copy = malloc (size);
      memcpy (copy, data, size);
      uint64_t le = GUINT64_TO_LE (hlen);
      memcpy (copy, &le, 8);
      exercise (copy, size);
      free (copy);
    }
  return 0;
}
