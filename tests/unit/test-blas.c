/* Choosing OpenBLAS kernels: which fallbacks are replaced, by what, and never without a CPU that
 * runs the replacement. The re-execution itself is tested through the CLI (check-blas-kernels.py
 * in the reference suite runs the torch comparison on the kernels it chooses). Stopping
 * OpenBLAS's idle threads is tested here. */
#include <cblas.h>
#include <glib.h>
#include <string.h>

#include "lens-blas.h"
#include "lens-gemm-small.h"

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
  LensGemmIsa few = lens_gemm_small_isa ();
  g_autofree char *few_text = g_strdup_printf (
      "few-row GEMM: %s", few != LENS_GEMM_ISA_NONE ? lens_gemm_isa_name (few) : "OpenBLAS");
  g_assert_nonnull (strstr (d, few_text));
}

/* Threads of this process, from /proc/self/task. */
static int
count_threads (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  g_assert_nonnull (dir);
  int n = 0;
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* A multi-threaded sgemm (n, n) . (n, n), checked against a naive sum in double at a few
 * entries: OpenBLAS must compute correctly whether its threads were stopped before or not. */
static void
check_threaded_sgemm (void)
{
  const int n = 384;
  g_autofree float *a = g_new (float, n *n), *b = g_new (float, n *n), *c = g_new (float, n *n);
  for (int i = 0; i < n * n; i++)
    {
      a[i] = (float) (((int64_t) i * 7919) % 97) / 97.0f - 0.5f;
      b[i] = (float) (((int64_t) i * 104729) % 89) / 89.0f - 0.5f;
    }
  openblas_set_num_threads (2);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
  const int probes[][2] = {{0, 0}, {n - 1, n - 1}, {17, 301}, {200, 3}};
  for (guint k = 0; k < G_N_ELEMENTS (probes); k++)
    {
      int i = probes[k][0], j = probes[k][1];
      double want = 0.0;
      for (int l = 0; l < n; l++)
        want += (double) a[i * n + l] * b[l * n + j];
      g_assert_cmpfloat_with_epsilon (c[i * n + j], want, 1e-4);
    }
}

/* lens_blas_release_threads leaves the process without OpenBLAS's threads, and a later
 * multi-threaded call still works (OpenBLAS starts them again). */
static void
test_release_threads (void)
{
  if (g_get_num_processors () < 2)
    {
      g_test_skip ("OpenBLAS starts no threads on one CPU");
      return;
    }
  check_threaded_sgemm ();
  g_assert_cmpint (count_threads (), >, 1);
  lens_blas_release_threads ();
  g_assert_cmpint (count_threads (), ==, 1);
  g_assert_cmpint (openblas_get_num_threads (), ==, 1);
  check_threaded_sgemm ();
  g_assert_cmpint (count_threads (), >, 1);
  lens_blas_release_threads ();
  g_assert_cmpint (count_threads (), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/blas/better-core", test_better_core);
  g_test_add_func ("/blas/describe", test_describe);
  g_test_add_func ("/blas/release-threads", test_release_threads);
  return g_test_run ();
}
