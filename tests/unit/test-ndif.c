/* test-ndif.c: the NDIF script's constants (lens_ndif_script) through the engine API, including
 * what the CLI cannot pass (an output path, NULL targets). tests/unit/check_ndif.py parses the
 * scripts with Python and runs their functions. */
#include <string.h>

#include "lens-error.h"
#include "lens-ndif.h"

/* The script's line that starts with `prefix` (e.g. "OUTPUT = "), without its newline. */
static char *
line_of (const char *script, const char *prefix)
{
  g_autofree char *needle = g_strconcat ("\n", prefix, NULL);
  const char *at = strstr (script, needle);
  g_assert_nonnull (at);
  at++;
  const char *nl = strchr (at, '\n');
  g_assert_nonnull (nl);
  return g_strndup (at, (gsize) (nl - at));
}

static void
test_literals (void)
{
  g_autoptr (GError) error = NULL;
  const char *targets[] = {" Paris", "\"\\", NULL};
  g_autofree char *s
      = lens_ndif_script ("openai-community/gpt2", "a \"b\"\n\\ caf\xc3\xa9 \xf0\x9f\x8e\x89",
                          (char *const *) targets, 7, "/tmp/my \"results\"\n\xc3\xa9.json", &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  for (const char *p = s; *p != '\0'; p++)
    g_assert_true ((unsigned char) *p < 0x80);
  g_autofree char *model = line_of (s, "MODEL_ID = ");
  g_assert_cmpstr (model, ==, "MODEL_ID = \"openai-community/gpt2\"");
  g_autofree char *prompt = line_of (s, "PROMPT = ");
  g_assert_cmpstr (prompt, ==, "PROMPT = \"a \\\"b\\\"\\n\\\\ caf\\u00e9 \\U0001f389\"");
  g_autofree char *tl = line_of (s, "TARGETS = ");
  g_assert_cmpstr (tl, ==, "TARGETS = [\" Paris\", \"\\\"\\\\\"]");
  g_autofree char *k = line_of (s, "TOP_K = ");
  g_assert_cmpstr (k, ==, "TOP_K = 7");
  g_autofree char *out = line_of (s, "OUTPUT = ");
  g_assert_cmpstr (out, ==, "OUTPUT = \"/tmp/my \\\"results\\\"\\n\\u00e9.json\"");

  /* No targets, default file name. */
  g_autofree char *s2 = lens_ndif_script ("meta-llama/Llama-3.1-70B", "x", NULL, 1, NULL, &error);
  g_assert_no_error (error);
  g_autofree char *tl2 = line_of (s2, "TARGETS = ");
  g_assert_cmpstr (tl2, ==, "TARGETS = []");
  g_autofree char *out2 = line_of (s2, "OUTPUT = ");
  g_assert_cmpstr (out2, ==, "OUTPUT = \"logit-lens-meta-llama--Llama-3.1-70B.json\"");
}

static void
expect_refused (const char *model, const char *prompt, const char *target, int top_k,
                const char *output, const char *fragment)
{
  g_autoptr (GError) error = NULL;
  const char *targets[] = {target, NULL};
  g_autofree char *s
      = lens_ndif_script (model, prompt, (char *const *) targets, top_k, output, &error);
  g_assert_null (s);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  if (strstr (error->message, fragment) == NULL)
    g_error ("\"%s\" does not say \"%s\"", error->message, fragment);
}

static void
test_refusals (void)
{
  expect_refused ("gpt2", "x", NULL, 5, NULL, "no owner");
  expect_refused ("a/b/c", "x", NULL, 5, NULL, "more than one '/'");
  expect_refused ("a/b\"", "x", NULL, 5, NULL, "character");
  expect_refused ("a/-b", "x", NULL, 5, NULL, "start and end");
  expect_refused ("a--x/b", "x", NULL, 5, NULL, "--");
  expect_refused ("a/b", "", NULL, 5, NULL, "prompt is empty");
  expect_refused ("a/b", "bad \xff", NULL, 5, NULL, "prompt is not valid UTF-8");
  expect_refused ("a/b", "x", "", 5, NULL, "target is empty");
  expect_refused ("a/b", "x", "\xc3", 5, NULL, "target is not valid UTF-8");
  expect_refused ("a/b", "x", NULL, 0, NULL, "Top-k");
  expect_refused ("a/b", "x", NULL, LENS_NDIF_MAX_TOP_K + 1, NULL, "Top-k");
  expect_refused ("a/b", "x", NULL, 5, "out\xff.json", "output file name");
  g_assert_true (lens_ndif_check_model_id ("EleutherAI/gpt-j-6b", NULL));
  g_assert_false (lens_ndif_check_model_id (NULL, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ndif/literals", test_literals);
  g_test_add_func ("/ndif/refusals", test_refusals);
  return g_test_run ();
}
