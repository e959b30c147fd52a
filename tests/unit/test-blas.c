/* Choosing OpenBLAS kernels: which fallbacks are replaced, by what, and never without a CPU that
 * runs the replacement. The re-execution itself is tested through the CLI (check-blas-kernels.py
 * in the reference suite runs the torch comparison on the kernels it chooses). */
#include <glib.h>
#include <string.h>

#include "lens-blas.h"

static void
test_better_core (void)
{
  const LensCpuFeatures avx512 = {TRUE, TRUE, FALSE}, avx2 = {FALSE, TRUE, FALSE},
                        zen = {FALSE, TRUE, TRUE}, old = {FALSE, FALSE, FALSE};
  /* an unknown Intel CPU: OpenBLAS 0.3.21 falls back to Prescott */
  g_assert_cmpstr (lens_blas_better_core ("Prescott", avx512), ==, "SkylakeX");
  g_assert_cmpstr (lens_blas_better_core ("prescott", avx2), ==, "Haswell");
  g_assert_cmpstr (lens_blas_better_core ("Sandybridge", avx2), ==, "Haswell");
  /* an unknown AMD CPU falls back to one of the older AMD cores */
  g_assert_cmpstr (lens_blas_better_core ("Barcelona", zen), ==, "Zen");
  g_assert_cmpstr (lens_blas_better_core ("Excavator", zen), ==, "Zen");
  /* kernels that already use AVX2 or AVX-512 are kept */
  g_assert_null (lens_blas_better_core ("Haswell", avx512));
  g_assert_null (lens_blas_better_core ("Zen", zen));
  g_assert_null (lens_blas_better_core ("SkylakeX", avx512));
  g_assert_null (lens_blas_better_core ("Cooperlake", avx512));
  g_assert_null (lens_blas_better_core ("SapphireRapids", avx512));
  /* a CPU that cannot run better kernels keeps its fallback */
  g_assert_null (lens_blas_better_core ("Prescott", old));
  g_assert_null (lens_blas_better_core (NULL, avx512));
}

static void
test_describe (void)
{
  g_autofree char *d = lens_blas_describe ();
  g_assert_nonnull (strstr (d, "kernels: "));
  g_assert_nonnull (strstr (d, lens_blas_core_name ()));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/blas/better-core", test_better_core);
  g_test_add_func ("/blas/describe", test_describe);
  return g_test_run ();
}
