/* The engine's JSON writer (lens-json-write.h) and the pull reader's grid walk (lens-json-pull.h):
 * every string the writer makes is valid JSON that reads back to the text (json-c, and our own
 * pull reader), numbers read back to the value written, and the grid walk's shape messages. */
#include <float.h>
#include <math.h>
#include <string.h>
#include <glib.h>
#include <json-c/json.h>

#include "lens-error.h"
#include "lens-json-pull.h"
#include "lens-json-write.h"
#include "lens-json.h"

static char *
written_string (const char *s)
{
  GString *out = g_string_new (NULL);
  lens_json_write_string (out, s);
  return g_string_free (out, FALSE);
}

/* `json` (one string value) read back by both readers; both must agree. */
static char *
read_back (const char *json)
{
  g_autoptr (GError) error = NULL;
  json_object *obj = lens_json_parse (json, strlen (json), "written", &error);
  g_assert_no_error (error);
  g_assert_true (json_object_is_type (obj, json_type_string));
  char *text = g_strdup (json_object_get_string (obj));
  json_object_put (obj);

  g_autoptr (GString) pulled = g_string_new (NULL);
  LensJsonPull j
      = {.base = json, .p = json, .end = json + strlen (json), .name = "written", .error = &error};
  g_assert_true (lens_pull_string (&j, pulled));
  g_assert_no_error (error);
  g_assert_cmpint (lens_pull_peek (&j), ==, -1);
  g_assert_cmpstr (pulled->str, ==, text);
  return text;
}

static void
test_string_escapes (void)
{
  /* every control character: the five with a short name by it, the rest as \u00XX */
  for (int c = 1; c < 0x20; c++)
    {
      char in[2] = {(char) c, '\0'};
      g_autofree char *out = written_string (in);
      const char *named = c == '\b'   ? "\"\\b\""
                          : c == '\f' ? "\"\\f\""
                          : c == '\n' ? "\"\\n\""
                          : c == '\r' ? "\"\\r\""
                          : c == '\t' ? "\"\\t\""
                                      : NULL;
      g_autofree char *want = named != NULL ? g_strdup (named) : g_strdup_printf ("\"\\u%04x\"", c);
      g_assert_cmpstr (out, ==, want);
      g_autofree char *back = read_back (out);
      g_assert_cmpstr (back, ==, in);
    }

  static const struct
  {
    const char *in, *out;
  } cases[] = {
      {"", "\"\""},
      {"plain text", "\"plain text\""},
      {"say \"hi\"", "\"say \\\"hi\\\"\""},
      {"back\\slash", "\"back\\\\slash\""},
      {"a/b", "\"a/b\""},         /* '/' may be escaped; it is not */
      {"del\x7f", "\"del\x7f\""}, /* DEL is not a control character in JSON */
      {"pr\xc3\xbc"
       "fung",
       "\"pr\xc3\xbc"
       "fung\""}, /* non-ASCII stays UTF-8 */
      {"\xe2\x82\xac \xf0\x9f\x98\x80", "\"\xe2\x82\xac \xf0\x9f\x98\x80\""},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = written_string (cases[i].in);
      g_assert_cmpstr (out, ==, cases[i].out);
      g_autofree char *back = read_back (out);
      g_assert_cmpstr (back, ==, cases[i].in);
    }

  g_autofree char *null = written_string (NULL);
  g_assert_cmpstr (null, ==, "null");
}

/* Bytes that are not UTF-8 become U+FFFD, one per byte that does not start a valid sequence, so
 * the document stays valid JSON whatever a file name or an imported text holds. */
static void
test_string_invalid_utf8 (void)
{
  static const struct
  {
    const char *in, *back;
  } cases[] = {
      {"a\xff"
       "b",
       "a\xef\xbf\xbd"
       "b"},
      {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong '/' */
      {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a UTF-16 surrogate */
      {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
      {"cut \xe2\x82", "cut \xef\xbf\xbd\xef\xbf\xbd"}, /* a sequence cut by the end */
      {"\x80", "\xef\xbf\xbd"},                         /* a lone continuation byte */
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = written_string (cases[i].in);
      g_assert_true (g_utf8_validate (out, -1, NULL));
      g_autofree char *back = read_back (out);
      g_assert_cmpstr (back, ==, cases[i].back);
    }
}

static void
test_key (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  lens_json_write_key (out, "a\"b", FALSE);
  g_string_append_c (out, '|');
  lens_json_write_key (out, "name", TRUE);
  g_assert_cmpstr (out->str, ==, "\"a\\\"b\":|\"name\": ");
}

static double
parse_number (const char *text)
{
  char *end = NULL;
  double v = g_ascii_strtod (text, &end);
  g_assert_true (end != text && *end == '\0');
  return v;
}

/* %.9g: every float reads back as itself, whatever the locale's decimal separator. */
static void
test_float_round_trip (void)
{
  const float values[]
      = {0.0f,     -0.0f,       1.0f,   0.1f,   1.0f / 3.0f, 2.0f / 3.0f, FLT_MIN,    FLT_MAX,
         -FLT_MAX, FLT_EPSILON, 1e-45f, 1e-40f, 123456.7f,   0.99999994f, 7.0953071f, -3.4e38f};
  for (size_t i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr (GString) out = g_string_new (NULL);
      lens_json_write_float (out, values[i]);
      g_assert_null (strchr (out->str, ','));
      g_assert_cmpfloat ((float) parse_number (out->str), ==, values[i]);
    }
  /* a sweep over the exponents and mantissas of floats */
  guint32 bits = 1;
  for (int i = 0; i < 20000; i++, bits = bits * 2654435761u + 12345u)
    {
      guint32 b = bits & 0x7f7fffffu; /* finite */
      float f;
      memcpy (&f, &b, sizeof f);
      g_autoptr (GString) out = g_string_new (NULL);
      lens_json_write_float (out, f);
      g_assert_cmpfloat ((float) parse_number (out->str), ==, f);
    }
  /* JSON has no NaN or infinity: unknown values are null */
  const double unknown[] = {NAN, INFINITY, -INFINITY};
  for (size_t i = 0; i < G_N_ELEMENTS (unknown); i++)
    {
      g_autoptr (GString) out = g_string_new (NULL);
      lens_json_write_float (out, unknown[i]);
      lens_json_write_fixed (out, unknown[i], 6);
      lens_json_write_round5 (out, unknown[i]);
      g_assert_cmpstr (out->str, ==, "nullnullnull");
    }
}

static void
test_fixed_round5_int (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  lens_json_write_fixed (out, 7.0953071, 6);
  g_string_append_c (out, ' ');
  lens_json_write_fixed (out, 1206.2929166, 6);
  g_string_append_c (out, ' ');
  lens_json_write_fixed (out, -2.5, 0);
  g_assert_cmpstr (out->str, ==, "7.095307 1206.292917 -2");

  /* round(v, 5) as Python's logitlenskit writes it (values from Python), without trailing zeros */
  static const struct
  {
    double v;
    const char *out;
  } round5[] = {
      {0.5, "0.5"},          {1.0, "1.0"},     {0.000004, "0.0"},      {0.123456, "0.12346"},
      {0.000025, "0.00003"}, {2.675, "2.675"}, {999.999996, "1000.0"}, {1234.56789, "1234.56789"},
      {0.0, "0.0"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (round5); i++)
    {
      g_string_truncate (out, 0);
      lens_json_write_round5 (out, round5[i].v);
      g_assert_cmpstr (out->str, ==, round5[i].out);
    }

  g_string_truncate (out, 0);
  lens_json_write_int_or_null (out, G_GINT64_CONSTANT (175000000000), TRUE);
  g_string_append_c (out, ' ');
  lens_json_write_int_or_null (out, -1, TRUE);
  g_string_append_c (out, ' ');
  lens_json_write_int_or_null (out, 5, FALSE);
  g_assert_cmpstr (out->str, ==, "175000000000 -1 null");
}

/* The grid walk over `json` with n_outer x n_inner; returns the cells visited as "o,i " pairs, or
 * the error message. */
static char *
walk_grid (const char *json, int n_outer, int n_inner, gboolean skip_extra)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) scratch = g_string_new (NULL);
  LensJsonPull j = {.base = json,
                    .p = json,
                    .end = json + strlen (json),
                    .name = "grid.json",
                    .error = &error,
                    .scratch = scratch};
  const LensPullGridShape shape = {
      .name = "cells",
      .outer_kind = "an array with one array per layer",
      .inner_kind = "an array with one cell per token",
      .inner_noun = "entries",
      .inner_of = "tokens",
      .inner_unit = " tokens",
      .outer_of = "layers",
      .skip_extra = skip_extra,
  };
  LensPullGrid g;
  GString *visited = g_string_new (NULL);
  if (lens_pull_grid_begin (&j, &g, &shape, n_outer, n_inner, json))
    while (lens_pull_grid_next (&j, &g))
      {
        double v;
        if (!lens_pull_number (&j, &v, NULL))
          break;
        g_string_append_printf (visited, "%d,%d=%g ", g.outer, g.inner, v);
      }
  g_free (j.desc);
  if (error != NULL)
    {
      g_assert_true (j.failed);
      g_string_free (visited, TRUE);
      return g_strdup (error->message);
    }
  g_assert_false (j.failed);
  return g_string_free (visited, FALSE);
}

static void
test_grid (void)
{
  static const struct
  {
    const char *json;
    int n_outer, n_inner;
    gboolean skip_extra;
    const char *want;
  } cases[] = {
      {"[[1, 2, 3], [4, 5, 6]]", 2, 3, TRUE, "0,0=1 0,1=2 0,2=3 1,0=4 1,1=5 1,2=6 "},
      {" [ [1] ] ", 1, 1, TRUE, "0,0=1 "},
      {"{}", 2, 3, TRUE,
       "grid.json: cells is an object, expected an array with one array per layer"},
      {"[[1, 2, 3], 7]", 2, 3, TRUE,
       "grid.json: cells[1] is a number, expected an array with one cell per token"},
      {"[[1, 2]]", 1, 3, TRUE, "grid.json: cells[0] has 2 entries, tokens has 3 tokens"},
      {"[[1], [2]]", 3, 1, TRUE, "grid.json: cells has 2 entries, layers has 3"},
      /* extra elements are counted for the message, not handed out... */
      {"[[1, 2, 99], [3, 4]]", 2, 2, TRUE,
       "grid.json: cells[0] has 3 entries, tokens has 2 tokens"},
      {"[[1, 2], [3, 4], [\"x\"]]", 2, 2, TRUE, "grid.json: cells has 3 entries, layers has 2"},
      /* ...but still validated */
      {"[[1, 2, {\"a\": 1, \"a\": 2}]]", 1, 2, TRUE,
       "grid.json: invalid JSON at line 1, column 18: a duplicate key in an object"},
      /* without skip_extra the caller sees them (and checks the indices itself) */
      {"[[1, 2, 99]]", 1, 2, FALSE, "grid.json: cells[0] has 3 entries, tokens has 2 tokens"},
      {"[[1], [2]]", 1, 1, FALSE, "grid.json: cells has 2 entries, layers has 1"},
      {"[[1, 2", 1, 2, TRUE,
       "grid.json: the file ends in the middle of the JSON (truncated?): "
       "expected ',' or ']'"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got
          = walk_grid (cases[i].json, cases[i].n_outer, cases[i].n_inner, cases[i].skip_extra);
      g_assert_cmpstr (got, ==, cases[i].want);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json-write/string-escapes", test_string_escapes);
  g_test_add_func ("/json-write/string-invalid-utf8", test_string_invalid_utf8);
  g_test_add_func ("/json-write/key", test_key);
  g_test_add_func ("/json-write/float-round-trip", test_float_round_trip);
  g_test_add_func ("/json-write/fixed-round5-int", test_fixed_round5_int);
  g_test_add_func ("/json-pull/grid", test_grid);
  return g_test_run ();
}
