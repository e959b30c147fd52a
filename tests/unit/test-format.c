/* test-format.c: lens_format_param_count, shared by the CLI and the app. */
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/format/param-count", test_param_count);
  return g_test_run ();
}
