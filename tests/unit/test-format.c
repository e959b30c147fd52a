/* test-format.c: lens_format_param_count and lens_format_prob, shared by the CLI and the app. */
#include <math.h>

#include "lens-format.h"

static void
check (uint64_t n, const char *want)
{
  g_autofree char *got = lens_format_param_count (n);
  if (g_strcmp0 (got, want) != 0)
    g_test_message ("%" G_GUINT64_FORMAT ": got %s, want %s", n, got, want);
  g_assert_cmpstr (got, ==, want);
}

static void
test_param_count (void)
{
  check (0, "0");
  check (999, "999");
  check (1000, "1K");
  check (2500, "2.5K");
  check (124439808, "124.4M");  /* GPT-2 small, tied unembedding counted once */
  check (1235814400, "1.24B");  /* Llama 3.2 1B */
  check (751632384, "751.6M");  /* Qwen3-0.6B */
  check (70553706496, "70.6B"); /* Llama 3.1 70B */
  check (7615616512, "7.62B");  /* Qwen2.5-7B */
  check (12345, "12.3K");
  check (9996, "10K");     /* two decimals would round up to 10.00 */
  check (999960000, "1B"); /* not "1000M" */
  check (999949999, "999.9M");
  check (1000000000000, "1T");
  check (2000000000000000, "2000T");
}

static void
check_prob (double p, const char *want)
{
  g_autofree char *got = lens_format_prob (p);
  if (g_strcmp0 (got, want) != 0)
    g_test_message ("%g: got %s, want %s", p, got, want);
  g_assert_cmpstr (got, ==, want);
}

static void
test_prob (void)
{
  check_prob (0.4133, "41.3%");
  check_prob (0.0186, "1.86%");
  check_prob (0.00108, "0.108%"); /* not "0.11%" or "0.01%": three significant digits */
  check_prob (0.001, "0.100%");
  check_prob (0.000108, "1.08e-04"); /* below 0.1%: scientific, never "0.01%" */
  check_prob (9.69e-05, "9.69e-05");
  check_prob (4.7e-10, "4.70e-10"); /* never "0.000000" */
  check_prob (0.0, "0%");
  check_prob (1.0, "100%");
  check_prob (0.9996, "100%");
  check_prob (0.9994, "99.9%");
  check_prob (NAN, "—");
  check_prob (0.099996, "10.0%"); /* rounds up into the next band: its decimals */
  check_prob (0.0099999, "1.00%");
  check_prob (0.00999, "0.999%");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/format/param-count", test_param_count);
  g_test_add_func ("/format/prob", test_prob);
  return g_test_run ();
}
