/* test-targets.c: the target entry's parsing rules (lens_targets_split). */
#include "lens-target.h"

static void
check (const char *text, const char *const *expected)
{
  g_auto (GStrv) got = lens_targets_split (text);
  g_assert_true (g_strv_equal ((const char *const *) got, expected));
}

static void
test_parse (void)
{
  check ("", (const char *[]){NULL});
  check (NULL, (const char *[]){NULL});
  check (" , ,, ", (const char *[]){NULL});
  check ("Paris", (const char *[]){" Paris", NULL});
  check (" Paris", (const char *[]){" Paris", NULL});
  check ("Paris, London,Rome", (const char *[]){" Paris", " London", " Rome", NULL});
  check ("Paris, Paris , London", (const char *[]){" Paris", " London", NULL});
  check ("\"Paris\", \" Eiffel Tower\"", (const char *[]){"Paris", " Eiffel Tower", NULL});
  check ("\"\", \"", (const char *[]){" \"", NULL});
  check ("New York", (const char *[]){" New York", NULL});
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/targets/parse", test_parse);
  return g_test_run ();
}
