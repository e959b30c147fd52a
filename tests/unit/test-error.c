/* test-error.c: messages made printable as one line (lens_error_one_line). */
#include "lens-error.h"

static void
expect_line (const char *message, const char *expected)
{
  g_autofree char *line = lens_error_one_line (message);
  g_assert_cmpstr (line, ==, expected);
}

static void
test_one_line (void)
{
  expect_line ("/models/gpt2: not a folder", "/models/gpt2: not a folder");
  expect_line ("a\nb\tc\rd", "a\\nb\\tc\\x0Dd");
  expect_line ("dir\x1b[31m red", "dir\\x1B[31m red");
  expect_line ("del \x7f", "del \\x7F");
  /* C1 controls and the Unicode line separators, written as UTF-8 */
  expect_line ("nel \xc2\x85 csi \xc2\x9b ls \xe2\x80\xa8 ps \xe2\x80\xa9",
               "nel \\u0085 csi \\u009B ls \\u2028 ps \\u2029");
  /* ordinary non-ASCII text is kept; stray bytes and cut-off characters are escaped */
  expect_line ("café 東京 🙂", "café 東京 🙂");
  expect_line ("bad \xff byte, cut \xe4\xb8", "bad \\xFF byte, cut \\xE4\\xB8");
  expect_line ("", "");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/error/one-line", test_one_line);
  return g_test_run ();
}
