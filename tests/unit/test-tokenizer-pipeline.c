/* Unit tests for the stages of the tokenizer.json pipeline (lens-tok-*.c), each on a small
 * hand-made tokenizer.json. The expected values follow Hugging Face `tokenizers` semantics; the
 * comments say which rule each case pins down. Real files are checked against transformers.js in
 * tests/tokenizer/compare-hf.py. */
#include "lens-error.h"
#include "lens-tokenizer-private.h"
#include "lens-tokenizer.h"

#include <json-c/json.h>
#include <string.h>

typedef struct
{
  const char *vocab; /* tokens separated by '|' (a lone '|' token is not possible) */
  const char *merges, *model, *added, *normalizer, *pre, *post, *decoder, *config;
} Spec;

static char *
spec_json (const Spec *s)
{
  json_object *v = json_object_new_object ();
  char **toks = g_strsplit (s->vocab, "|", -1);
  for (int i = 0; toks[i]; i++)
    json_object_object_add (v, toks[i], json_object_new_int (i));
  g_strfreev (toks);
  char *j = g_strdup_printf (
      "{\"added_tokens\": %s, \"normalizer\": %s, \"pre_tokenizer\": %s, \"post_processor\": %s, "
      "\"decoder\": %s, \"model\": {\"type\": \"BPE\", \"vocab\": %s, \"merges\": %s%s}}",
      s->added ? s->added : "[]", s->normalizer ? s->normalizer : "null", s->pre ? s->pre : "null",
      s->post ? s->post : "null", s->decoder ? s->decoder : "null",
      json_object_to_json_string_ext (v, JSON_C_TO_STRING_PLAIN), s->merges ? s->merges : "[]",
      s->model ? s->model : "");
  json_object_put (v);
  return j;
}

static LensTokenizer *
build (const Spec *s, GError **error)
{
  g_autofree char *j = spec_json (s);
  if (s->config)
    return lens_tokenizer_new_from_tokenizer_json_data_with_config (j, strlen (j), s->config,
                                                                    strlen (s->config), error);
  return lens_tokenizer_new_from_tokenizer_json_data (j, strlen (j), error);
}

#define BUILD(...) build (&(Spec){__VA_ARGS__}, NULL)

/* The tokens of `text` joined by '|' (token bytes: the vocabulary string when there is no
 * decoder). */
static char *
enc_str (const LensTokenizer *tok, const char *text, gboolean special)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_autoptr (GError) error = NULL;
  gboolean ok = special ? lens_tokenizer_encode_with_special (tok, text, -1, ids, &error)
                        : lens_tokenizer_encode (tok, text, -1, ids, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < ids->len; i++)
    {
      size_t n = 0;
      const uint8_t *b = lens_tokenizer_token_bytes (tok, g_array_index (ids, int32_t, i), &n);
      if (i > 0)
        g_string_append_c (s, '|');
      g_string_append_len (s, (const char *) b, (gssize) n);
    }
  return g_string_free (s, FALSE);
}

#define ASSERT_ENC(tok, text, expected)                                                            \
  do                                                                                               \
    {                                                                                              \
      g_autofree char *got_ = enc_str (tok, text, FALSE);                                          \
      g_assert_cmpstr (got_, ==, expected);                                                        \
    }                                                                                              \
  while (0)

#define ASSERT_ENC_SPECIAL(tok, text, expected)                                                    \
  do                                                                                               \
    {                                                                                              \
      g_autofree char *got_ = enc_str (tok, text, TRUE);                                           \
      g_assert_cmpstr (got_, ==, expected);                                                        \
    }                                                                                              \
  while (0)

/* The pieces the pre-tokenizer makes, joined by '|'. */
static void
assert_pieces (const LensTokenizer *tok, const char *text, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) p = lens_tokenizer_pretokenize (tok, text, -1, &error);
  g_assert_no_error (error);
  g_autoptr (GString) got = g_string_new (NULL);
  for (guint i = 0; i < p->len; i++)
    g_string_append_printf (got, i ? "|%s" : "%s", (char *) p->pdata[i]);
  g_assert_cmpstr (got->str, ==, expected);
}

#define CHARS "a|b|c|d|e|f|h|i|x|y| |_|-|,|!|1|2|3"

static void
test_normalizers (void)
{
  g_autoptr (LensTokenizer) nfc
      = BUILD (.vocab = "e|\xc3\xa9|\xcc\x81", .normalizer = "{\"type\": \"NFC\"}");
  ASSERT_ENC (nfc, "e\xcc\x81", "\xc3\xa9"); /* e + combining acute composes */
  g_autoptr (LensTokenizer) nfd
      = BUILD (.vocab = "e|\xc3\xa9|\xcc\x81", .normalizer = "{\"type\": \"NFD\"}");
  ASSERT_ENC (nfd, "\xc3\xa9", "e|\xcc\x81");
  g_autoptr (LensTokenizer) nfkc = BUILD (.vocab = CHARS, .normalizer = "{\"type\": \"NFKC\"}");
  ASSERT_ENC (nfkc, "\xef\xac\x81", "f|i"); /* the ligature fi */
  g_autoptr (LensTokenizer) nfkd
      = BUILD (.vocab = "e|\xcc\x81|1", .normalizer = "{\"type\": \"NFKD\"}");
  ASSERT_ENC (nfkd, "\xc2\xb9\xc3\xa9", "1|e|\xcc\x81"); /* superscript one, é */
  g_autoptr (LensTokenizer) low = BUILD (.vocab = CHARS, .normalizer = "{\"type\": \"Lowercase\"}");
  ASSERT_ENC (low, "AbC", "a|b|c");
  g_autoptr (LensTokenizer) strip
      = BUILD (.vocab = CHARS,
               .normalizer = "{\"type\": \"Strip\", \"strip_left\": false, \"strip_right\": true}");
  ASSERT_ENC (strip, "  ab \t\n", " | |a|b");
  /* Llama 2: Prepend then Replace, on each stretch between added tokens; an empty stretch gets
   * nothing prepended */
  g_autoptr (LensTokenizer) llama
      = BUILD (.vocab = "<s>|\xe2\x96\x81|a|b",
               .added = "[{\"id\": 0, \"content\": \"<s>\", \"special\": true}]",
               .normalizer
               = "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", "
                 "\"prepend\": \"\\u2581\"}, {\"type\": \"Replace\", \"pattern\": {\"String\": "
                 "\" \"}, \"content\": \"\\u2581\"}]}");
  ASSERT_ENC (llama, "a b", "\xe2\x96\x81|a|\xe2\x96\x81|b");
  ASSERT_ENC (llama, "a<s>b", "\xe2\x96\x81|a|<s>|\xe2\x96\x81|b");
  ASSERT_ENC (llama, "<s>", "<s>");
  /* Replace with a regex; the replacement is literal */
  g_autoptr (LensTokenizer) rx
      = BUILD (.vocab = CHARS "|$", .normalizer
                                    = "{\"type\": \"Replace\", \"pattern\": {\"Regex\": \" +\"}, "
                                      "\"content\": \"$\"}");
  ASSERT_ENC (rx, "a   b c", "a|$|b|$|c");
}

static void
test_pretokenizers (void)
{
  const char *split
      = "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\s+\"}, \"behavior\": \"%s\"}";
  struct
  {
    const char *behavior, *pieces;
  } cases[] = {
      {"Removed", "a|b|c"},
      {"Isolated", "a|  |b| |c"},
      {"MergedWithPrevious", "a  |b |c"},
      {"MergedWithNext", "a|  b| c"},
      {"Contiguous", "a|  |b| |c"},
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *pre = g_strdup_printf (split, cases[i].behavior);
      g_autoptr (LensTokenizer) t = BUILD (.vocab = CHARS, .pre = pre);
      assert_pieces (t, "a  b c", cases[i].pieces);
    }
  /* adjacent matches: Contiguous joins them, Isolated keeps each */
  g_autoptr (LensTokenizer) contig
      = BUILD (.vocab = CHARS, .pre = "{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, "
                                      "\"behavior\": \"Contiguous\"}");
  assert_pieces (contig, "a--b-c", "a|--|b|-|c");
  g_autoptr (LensTokenizer) iso
      = BUILD (.vocab = CHARS, .pre = "{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, "
                                      "\"behavior\": \"Isolated\"}");
  assert_pieces (iso, "a--b-c", "a|-|-|b|-|c");
  /* invert: the letters are the pieces, what lies between them is removed */
  g_autoptr (LensTokenizer) inv
      = BUILD (.vocab = CHARS, .pre
                               = "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\p{L}+\"}, "
                                 "\"behavior\": \"Removed\", \"invert\": true}");
  assert_pieces (inv, "ab, cd!", "ab|cd");
  /* \s is Oniguruma's White_Space: U+0085 splits, U+180E (PCRE2's \s has it) does not */
  g_autoptr (LensTokenizer) ws
      = BUILD (.vocab = CHARS, .pre = "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\s\"}, "
                                      "\"behavior\": \"Removed\"}");
  assert_pieces (ws,
                 "a\xc2\x85"
                 "b",
                 "a|b");
  assert_pieces (ws,
                 "a\xe1\xa0\x8e"
                 "b",
                 "a\xe1\xa0\x8e"
                 "b");

  g_autoptr (LensTokenizer) meta
      = BUILD (.vocab = CHARS, .pre = "{\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", "
                                      "\"prepend_scheme\": \"always\", \"split\": true}");
  assert_pieces (meta, "Hey friend",
                 "\xe2\x96\x81Hey|\xe2\x96\x81"
                 "friend");
  assert_pieces (meta, "  a",
                 "\xe2\x96\x81|\xe2\x96\x81"
                 "a");
  g_autoptr (LensTokenizer) never
      = BUILD (.vocab = CHARS, .pre = "{\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", "
                                      "\"prepend_scheme\": \"never\", \"split\": false}");
  assert_pieces (never, "a b",
                 "a\xe2\x96\x81"
                 "b");
  /* legacy add_prefix_space without prepend_scheme means "always" */
  g_autoptr (LensTokenizer) legacy
      = BUILD (.vocab = CHARS, .pre = "{\"type\": \"Metaspace\", \"replacement\": \"_\", "
                                      "\"add_prefix_space\": true}");
  assert_pieces (legacy, "a b", "_a|_b");

  g_autoptr (LensTokenizer) dig1
      = BUILD (.vocab = CHARS, .pre = "{\"type\": \"Digits\", \"individual_digits\": true}");
  assert_pieces (dig1, "a123b", "a|1|2|3|b");
  g_autoptr (LensTokenizer) dig
      = BUILD (.vocab = CHARS, .pre = "{\"type\": \"Digits\", \"individual_digits\": false}");
  assert_pieces (dig, "a123b\xd9\xa3", "a|123|b|\xd9\xa3"); /* Arabic-Indic three is a digit */
  g_autoptr (LensTokenizer) punct = BUILD (.vocab = CHARS, .pre = "{\"type\": \"Punctuation\"}");
  assert_pieces (punct, "Hey, you!", "Hey|,| you|!");
  g_autoptr (LensTokenizer) white = BUILD (.vocab = CHARS, .pre = "{\"type\": \"Whitespace\"}");
  assert_pieces (white, "Hey friend!  ok", "Hey|friend|!|ok");
  g_autoptr (LensTokenizer) wsplit
      = BUILD (.vocab = CHARS, .pre = "{\"type\": \"WhitespaceSplit\"}");
  assert_pieces (wsplit, "Hey friend!  ok", "Hey|friend!|ok");
  /* ByteLevel's add_prefix_space adds a space to a piece that does not start with one */
  g_autoptr (LensTokenizer) bl
      = BUILD (.vocab = CHARS, .pre = "{\"type\": \"ByteLevel\", \"add_prefix_space\": true}");
  assert_pieces (bl, "Hey you", " Hey| you");
  /* Llama 3's shape: Split then ByteLevel without its own regex */
  g_autoptr (LensTokenizer) seq
      = BUILD (.vocab = CHARS,
               .pre = "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", "
                      "\"pattern\": {\"Regex\": \"\\\\p{N}{1,3}\"}, \"behavior\": "
                      "\"Isolated\"}, {\"type\": \"ByteLevel\", \"add_prefix_space\": "
                      "false, \"use_regex\": false}]}");
  assert_pieces (seq, "a1234b", "a|123|4|b");
}

static void
test_bpe (void)
{
  /* byte_fallback: a character not in the vocabulary becomes its UTF-8 bytes as <0xNN> */
  g_autoptr (LensTokenizer) fb
      = BUILD (.vocab = "<unk>|a|<0xC3>|<0xA9>",
               .model = ", \"byte_fallback\": true, \"unk_token\": \"<unk>\"");
  ASSERT_ENC (fb, "a\xc3\xa9", "a|<0xC3>|<0xA9>");
  /* unk_token, fused or not */
  g_autoptr (LensTokenizer) fuse
      = BUILD (.vocab = "<unk>|a", .model = ", \"unk_token\": \"<unk>\", \"fuse_unk\": true");
  ASSERT_ENC (fuse, "xya", "<unk>|a");
  g_autoptr (LensTokenizer) nofuse
      = BUILD (.vocab = "<unk>|a", .model = ", \"unk_token\": \"<unk>\"");
  ASSERT_ENC (nofuse, "xya", "<unk>|<unk>|a");
  /* no unk_token and no byte fallback: Hugging Face would drop the character; refused here */
  g_autoptr (LensTokenizer) drop = BUILD (.vocab = "a");
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_autoptr (GError) error = NULL;
  g_assert_false (lens_tokenizer_encode (drop, "ax", -1, ids, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "U+0078"));
  g_assert_cmpuint (ids->len, ==, 0);

  /* ignore_merges: a word in the vocabulary is taken whole even if merges cannot reach it */
  g_autoptr (LensTokenizer) im = BUILD (.vocab = "a|b|c|ab|abc", .merges = "[\"a b\"]",
                                        .model = ", \"ignore_merges\": true");
  ASSERT_ENC (im, "abc", "abc");
  g_autoptr (LensTokenizer) nim = BUILD (.vocab = "a|b|c|ab|abc", .merges = "[\"a b\"]");
  ASSERT_ENC (nim, "abc", "ab|c");

  /* merge order (word.rs): "ab a" ranks before "a b"; after the first "a b" merge the new pair
   * (ab, a) goes first and takes the "a" of the second "a b" (GPT-2's encoder.py would merge both
   * "a b" first and give ab|ab) */
  g_autoptr (LensTokenizer) order = BUILD (.vocab = "a|b|ab|aba", .merges = "[\"ab a\", \"a b\"]");
  ASSERT_ENC (order, "abab", "aba|b");

  /* continuing_subword_prefix: non-first characters carry it; "a ##b" makes "ab" */
  g_autoptr (LensTokenizer) pre = BUILD (.vocab = "a|##b|##c|ab", .merges = "[\"a ##b\"]",
                                         .model = ", \"continuing_subword_prefix\": \"##\"");
  ASSERT_ENC (pre, "abc", "ab|##c");
  g_autoptr (LensTokenizer) suf = BUILD (.vocab = "a|b</w>|b|ab</w>", .merges = "[\"a b</w>\"]",
                                         .model = ", \"end_of_word_suffix\": \"</w>\"");
  ASSERT_ENC (suf, "ab", "ab</w>");
  /* merges as pairs */
  g_autoptr (LensTokenizer) pairs = BUILD (.vocab = "a|b|ab", .merges = "[[\"a\", \"b\"]]");
  ASSERT_ENC (pairs, "abab", "ab|ab");
}

static void
test_added (void)
{
  const char *v = CHARS "|<m>";
  g_autofree char *plain = g_strdup_printf ("[{\"id\": 18, \"content\": \"<m>\"}]");
  g_autoptr (LensTokenizer) t = BUILD (.vocab = v, .added = plain);
  ASSERT_ENC (t, "a <m> b", "a| |<m>| |b");
  g_autoptr (LensTokenizer) ls
      = BUILD (.vocab = v, .added = "[{\"id\": 18, \"content\": \"<m>\", \"lstrip\": true}]");
  ASSERT_ENC (ls, "a  <m> b", "a|<m>| |b");
  g_autoptr (LensTokenizer) rs
      = BUILD (.vocab = v, .added = "[{\"id\": 18, \"content\": \"<m>\", \"rstrip\": true}]");
  ASSERT_ENC (rs, "a <m>  b", "a| |<m>|b");
  /* single_word: a match inside a word is not the token */
  g_autoptr (LensTokenizer) sw
      = BUILD (.vocab = CHARS "|ab",
               .added = "[{\"id\": 18, \"content\": \"ab\", \"single_word\": true}]");
  ASSERT_ENC (sw, "ab cab ab_", "ab| |c|a|b| |a|b|_");
  /* leftmost, then longest */
  g_autoptr (LensTokenizer) ll
      = BUILD (.vocab = CHARS "|<a>|<a><b>|b>",
               .added
               = "[{\"id\": 18, \"content\": \"<a>\"}, {\"id\": 19, \"content\": \"<a><b>\"}, "
                 "{\"id\": 20, \"content\": \"b>\"}]");
  ASSERT_ENC (ll, "<a><b>", "<a><b>");
  ASSERT_ENC (ll, "<a>b>", "<a>|b>");
  /* normalized: matched in the normalized text (here lowercased); not normalized: in the raw
   * text, so "HI" written in capitals is the token but "hi" is not */
  g_autoptr (LensTokenizer) norm
      = BUILD (.vocab = CHARS "|hi|HI",
               .added
               = "[{\"id\": 18, \"content\": \"hi\", \"normalized\": true}, "
                 "{\"id\": 19, \"content\": \"HI\", \"normalized\": false, \"special\": true}]",
               .normalizer = "{\"type\": \"Lowercase\"}");
  ASSERT_ENC (norm, "Hi", "hi");
  ASSERT_ENC (norm, "HI", "HI");
  /* a normalized token's own content is normalized before matching: "Hi" is looked for as "hi" */
  g_autoptr (LensTokenizer) normc
      = BUILD (.vocab = CHARS "|Hi",
               .added = "[{\"id\": 18, \"content\": \"Hi\", \"normalized\": true}]",
               .normalizer = "{\"type\": \"Lowercase\"}");
  ASSERT_ENC (normc, "a HI", "a| |Hi");
  /* Metaspace "first": only the stretch at the very start of the text gets the prefix */
  g_autoptr (LensTokenizer) first
      = BUILD (.vocab = CHARS "|<s>|\xe2\x96\x81"
                              "a|\xe2\x96\x81",
               .added = "[{\"id\": 18, \"content\": \"<s>\", \"special\": true}]",
               .pre = "{\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", \"prepend_scheme\": "
                      "\"first\", \"split\": false}",
               .merges = "[\"\\u2581 a\"]");
  ASSERT_ENC (first, "a<s>a",
              "\xe2\x96\x81"
              "a|<s>|a");
}

static void
test_post_processor (void)
{
  const char *tmpl
      = "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", "
        "\"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": "
        "{\"id\": \"</s>\", \"type_id\": 0}}], \"pair\": [], \"special_tokens\": {\"<s>\": "
        "{\"id\": \"<s>\", \"ids\": [18], \"tokens\": [\"<s>\"]}, \"</s>\": {\"id\": \"</s>\", "
        "\"ids\": [19], \"tokens\": [\"</s>\"]}}}";
  const char *added = "[{\"id\": 18, \"content\": \"<s>\", \"special\": true}, {\"id\": 19, "
                      "\"content\": \"</s>\", \"special\": true}]";
  g_autoptr (LensTokenizer) t = BUILD (.vocab = CHARS "|<s>|</s>", .added = added, .post = tmpl);
  ASSERT_ENC (t, "ab", "a|b");
  ASSERT_ENC_SPECIAL (t, "ab", "<s>|a|b|</s>");
  ASSERT_ENC_SPECIAL (t, "", "<s>|</s>");
  g_assert_cmpint (lens_tokenizer_eos_id (t), ==, 19);
  /* Sequence [ByteLevel, Template] as Llama 3.1 has it; Roberta */
  g_autofree char *seq = g_strdup_printf (
      "{\"type\": \"Sequence\", \"processors\": [{\"type\": \"ByteLevel\"}, %s]}", tmpl);
  g_autoptr (LensTokenizer) s = BUILD (.vocab = CHARS "|<s>|</s>", .added = added, .post = seq);
  ASSERT_ENC_SPECIAL (s, "a", "<s>|a|</s>");
  g_autoptr (LensTokenizer) rob = BUILD (
          .vocab = CHARS "|<s>|</s>", .added = added,
          .post
          = "{\"type\": \"RobertaProcessing\", \"sep\": [\"</s>\", 19], \"cls\": [\"<s>\", 18]}");
  ASSERT_ENC_SPECIAL (rob, "a", "<s>|a|</s>");

  /* tokenizer_config.json: LlamaTokenizer rebuilds the template from add_bos_token /
   * add_eos_token; PreTrainedTokenizerFast keeps tokenizer.json's */
  g_autoptr (LensTokenizer) llama
      = BUILD (.vocab = CHARS "|<s>|</s>", .added = added, .post = tmpl,
               .config
               = "{\"tokenizer_class\": \"LlamaTokenizer\", \"add_bos_token\": false, "
                 "\"add_eos_token\": true, \"bos_token\": \"<s>\", \"eos_token\": {\"content\": "
                 "\"</s>\"}}");
  ASSERT_ENC_SPECIAL (llama, "a", "a|</s>");
  g_autoptr (LensTokenizer) llama_default
      = BUILD (.vocab = CHARS "|<s>|</s>", .added = added,
               .config = "{\"tokenizer_class\": \"LlamaTokenizerFast\", \"bos_token\": \"<s>\"}");
  ASSERT_ENC_SPECIAL (llama_default, "a", "<s>|a");
  g_autoptr (LensTokenizer) fast
      = BUILD (.vocab = CHARS "|<s>|</s>", .added = added, .post = tmpl,
               .config
               = "{\"tokenizer_class\": \"PreTrainedTokenizerFast\", \"add_bos_token\": false, "
                 "\"eos_token\": \"b\"}");
  ASSERT_ENC_SPECIAL (fast, "a", "<s>|a|</s>");
  g_assert_cmpint (lens_tokenizer_eos_id (fast), ==, 1); /* eos_token "b" */
}

static void
test_display (void)
{
  /* a Llama 2-style decoder: "▁" shows as a space (kept at the start), <0xNN> as that byte */
  g_autoptr (LensTokenizer) t
      = BUILD (.vocab = "<unk>|<s>|<0xE4>|\xe2\x96\x81Paris|a",
               .added = "[{\"id\": 1, \"content\": \"<s>\", \"special\": true}]",
               .decoder
               = "{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\": "
                 "{\"String\": \"\\u2581\"}, \"content\": \" \"}, {\"type\": \"ByteFallback\"}, "
                 "{\"type\": \"Fuse\"}, {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, "
                 "\"stop\": 0}]}");
  g_autofree char *paris = lens_tokenizer_token_display (t, 3);
  g_assert_cmpstr (paris, ==, " Paris");
  g_autofree char *byte = lens_tokenizer_token_display (t, 2);
  g_assert_cmpstr (byte, ==, "\\xE4");
  g_autofree char *bos = lens_tokenizer_token_display (t, 1);
  g_assert_cmpstr (bos, ==, "<s>");
  g_assert_cmpint (lens_tokenizer_lookup (t, "\xe2\x96\x81Paris"), ==, 3);
  g_autoptr (LensTokenizer) meta
      = BUILD (.vocab = "\xe2\x96\x81"
                        "a",
               .decoder = "{\"type\": \"Metaspace\", \"replacement\": \"\\u2581\"}");
  g_autofree char *a = lens_tokenizer_token_display (meta, 0);
  g_assert_cmpstr (a, ==, " a");
}

/* Gemma 3's pipeline: Replace " " by "▁" (no Prepend: no dummy prefix), then a Split on " " that
 * the normalizer has left nothing to match, so the whole stretch between added tokens is one BPE
 * word; byte fallback; "\n" and "▁▁" as added tokens that are not normalized; <bos> by the
 * template, or by GemmaTokenizer's add_bos_token. */
#define GEMMA_VOCAB                                                                                \
  "<pad>|<eos>|<bos>|<unk>|\n|\xe2\x96\x81\xe2\x96\x81|<0xC3>|<0xA9>|<0x00>|<0x41>|\xe2\x96\x81|"  \
  "a|"                                                                                             \
  "b|\xe2\x96\x81"                                                                                 \
  "b|ab|<start_of_turn>"
#define GEMMA_ADDED                                                                                \
  "[{\"id\": 0, \"content\": \"<pad>\", \"special\": true}, {\"id\": 1, \"content\": \"<eos>\", "  \
  "\"special\": true}, {\"id\": 2, \"content\": \"<bos>\", \"special\": true}, {\"id\": 3, "       \
  "\"content\": \"<unk>\", \"special\": true}, {\"id\": 4, \"content\": \"\\n\"}, {\"id\": 5, "    \
  "\"content\": \"\\u2581\\u2581\"}, {\"id\": 15, \"content\": \"<start_of_turn>\", \"special\": " \
  "true}]"
#define GEMMA_BOS_TEMPLATE                                                                         \
  "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<bos>\", "        \
  "\"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"pair\": [], "             \
  "\"special_tokens\": {\"<bos>\": {\"id\": \"<bos>\", \"ids\": [2], \"tokens\": [\"<bos>\"]}}}"

static LensTokenizer *
gemma (const char *config)
{
  return BUILD (
          .vocab = GEMMA_VOCAB, .added = GEMMA_ADDED,
          .merges = "[\"a b\", \"\\u2581 b\", \"\\u2581 \\u2581\"]",
          .model = ", \"byte_fallback\": true, \"unk_token\": \"<unk>\", \"fuse_unk\": true",
          .normalizer
          = "{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\\u2581\"}",
          .pre = "{\"type\": \"Split\", \"pattern\": {\"String\": \" \"}, \"behavior\": "
                 "\"MergedWithPrevious\", \"invert\": false}",
          .post = GEMMA_BOS_TEMPLATE,
          .decoder = "{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\": "
                     "{\"String\": \"\\u2581\"}, \"content\": \" \"}, {\"type\": "
                     "\"ByteFallback\"}, {\"type\": \"Fuse\"}]}",
          .config = config);
}

static void
test_gemma (void)
{
  g_autoptr (LensTokenizer) t = gemma (NULL);
  /* no dummy prefix; the Split finds no " " after the normalizer, so "ab▁b" is one word and
   * "▁ b" merges (split after the space, "▁" would stay alone) */
  ASSERT_ENC (t, "ab b", "ab| b"); /* (enc_str shows the decoded tokens) */
  ASSERT_ENC_SPECIAL (t, "ab", "<bos>|ab");
  ASSERT_ENC_SPECIAL (t, "<start_of_turn>a\n", "<bos>|<start_of_turn>|a|\n");
  ASSERT_ENC (t, "\xc3\xa9", "\xc3|\xa9"); /* byte fallback: <0xC3>, <0xA9> */
  /* "▁▁" is not normalized: two spaces are not it (the BPE merges them into the same id, 5),
   * and "▁▁" written in the text is it */
  ASSERT_ENC (t, "a  b", "a|  |b");
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_assert_true (lens_tokenizer_encode (t, "a\xe2\x96\x81\xe2\x96\x81 b", -1, ids, NULL));
  g_assert_cmpuint (ids->len, ==, 3); /* a, the added "▁▁", "▁b" */
  g_assert_cmpint (g_array_index (ids, int32_t, 1), ==, 5);
  g_assert_cmpint (g_array_index (ids, int32_t, 2), ==, 13);
  /* the display: "▁" as a space (also at the start and in added tokens, as tokenizers decodes
   * them), bytes as \xNN when they are not UTF-8 alone, NUL too, ASCII bytes as themselves */
  struct
  {
    int32_t id;
    const char *shown;
  } shown[] = {
      {2, "<bos>"},    {4, "\n"}, {5, "  "}, {6, "\\xC3"}, {7, "\\xA9"},
      {8, "\\x00"},    {9, "A"},  {10, " "}, {13, " b"},   {15, "<start_of_turn>"},
      {16, "<id 16>"},
  };
  for (guint i = 0; i < G_N_ELEMENTS (shown); i++)
    {
      g_autofree char *d = lens_tokenizer_token_display (t, shown[i].id);
      g_assert_cmpstr (d, ==, shown[i].shown);
    }
  g_autofree char *text = lens_tokenizer_decode (t, (const int32_t[]){2, 11, 5, 13, 6, 7}, 6);
  g_assert_cmpstr (text, ==, "<bos>a   b\xc3\xa9");
  /* decode gives "  " for "▁▁" written in a text: not lossless */
  g_assert_false (lens_tokenizer_is_lossless (t));

  /* GemmaTokenizer rebuilds the template from add_bos_token (default true) */
  g_autoptr (LensTokenizer) nobos
      = gemma ("{\"tokenizer_class\": \"GemmaTokenizer\", \"add_bos_token\": false, "
               "\"bos_token\": \"<bos>\", \"eos_token\": \"<eos>\"}");
  ASSERT_ENC_SPECIAL (nobos, "ab", "ab");
  g_autoptr (LensTokenizer) bos
      = gemma ("{\"tokenizer_class\": \"GemmaTokenizerFast\", \"bos_token\": \"<bos>\", "
               "\"eos_token\": \"<eos>\", \"add_eos_token\": true}");
  ASSERT_ENC_SPECIAL (bos, "ab", "<bos>|ab|<eos>");
}

/* GPT-NeoX / Pythia: NFC, ByteLevel with GPT-2's regex, and runs of spaces as added tokens that
 * are normalized and outside the model's vocabulary; they decode as the spaces they are ([EOT]
 * stands for <|endoftext|>, which the '|'-separated vocabulary cannot hold). */
static void
test_neox (void)
{
  const char *byte_level = "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
                           "\"trim_offsets\": true, \"use_regex\": true}";
  g_autoptr (LensTokenizer) t
      = BUILD (.vocab = "a|b|\xc4\xa0|\xc4\xa0"
                        "b|[EOT]",
               .merges = "[\"\\u0120 b\"]",
               .added = "[{\"id\": 4, \"content\": \"[EOT]\", \"special\": true, "
                        "\"normalized\": false}, {\"id\": 5, \"content\": \"   \", \"normalized\": "
                        "true}, {\"id\": 6, \"content\": \"  \", \"normalized\": true}]",
               .normalizer = "{\"type\": \"NFC\"}", .pre = byte_level, .post = byte_level,
               .decoder = byte_level);
  ASSERT_ENC (t, "a b", "a| b"); /* "Ġb", shown decoded */
  /* leftmost-longest: five spaces are "   " then "  ", and the "b" after them has no space */
  ASSERT_ENC (t, "a     b[EOT]", "a|   |  |b|[EOT]");
  ASSERT_ENC_SPECIAL (t, "a  b", "a|  |b");
  g_autofree char *sp = lens_tokenizer_token_display (t, 6);
  g_assert_cmpstr (sp, ==, "  ");
  g_autofree char *gb = lens_tokenizer_token_display (t, 3);
  g_assert_cmpstr (gb, ==, " b");
  g_autofree char *text = lens_tokenizer_decode (t, (const int32_t[]){0, 5, 6, 1, 3, 4}, 6);
  g_assert_cmpstr (text, ==, "a     b b[EOT]");
}

static void
expect_error (const Spec *s, int code, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LensTokenizer) t = build (s, &error);
  g_autofree char *j = spec_json (s);
  if (t != NULL)
    g_error ("accepted %s", j);
  g_assert_error (error, LENS_ERROR, code);
  if (strstr (error->message, needle) == NULL || strchr (error->message, '\n') != NULL)
    g_error ("message \"%s\" should contain \"%s\" (for %s)", error->message, needle, j);
}

#define EXPECT_ERROR(code, needle, ...) expect_error (&(Spec){__VA_ARGS__}, code, needle)

static void
test_errors (void)
{
  const int F = LENS_ERROR_FORMAT, U = LENS_ERROR_UNSUPPORTED;
  EXPECT_ERROR (
      F, "tokenizer.json: pre_tokenizer.pattern.Regex is not a valid regex", .vocab = "a",
      .pre = "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}, \"behavior\": \"Isolated\"}");
  EXPECT_ERROR (
      U, "pre_tokenizer.behavior \"Sideways\" is not a known behavior", .vocab = "a",
      .pre = "{\"type\": \"Split\", \"pattern\": {\"String\": \"a\"}, \"behavior\": \"Sideways\"}");
  EXPECT_ERROR (U, "pre_tokenizer.pattern.Regex uses \\W inside a character class", .vocab = "a",
                .pre = "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"[\\\\W]\"}}");
  EXPECT_ERROR (F, "pre_tokenizer.pattern must be", .vocab = "a",
                .pre = "{\"type\": \"Split\", \"pattern\": \"a\"}");
  EXPECT_ERROR (U, "normalizer.normalizers[1] is a normalizer of type \"Precompiled\"",
                .vocab = "a",
                .normalizer = "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, "
                              "{\"type\": \"Precompiled\"}]}");
  EXPECT_ERROR (F, "normalizer needs a string \"prepend\"", .vocab = "a",
                .normalizer = "{\"type\": \"Prepend\"}");
  EXPECT_ERROR (F, "pre_tokenizer needs a replacement of one character", .vocab = "a",
                .pre = "{\"type\": \"Metaspace\", \"replacement\": \"ab\"}");
  EXPECT_ERROR (U, "decoder is a decoder of type \"WordPiece\"", .vocab = "a",
                .decoder = "{\"type\": \"WordPiece\"}");
  EXPECT_ERROR (
      F, "post_processor.special_tokens.<s>.ids[0] must be a token id between 0 and 0",
      .vocab = "a",
      .post
      = "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}, "
        "{\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {\"<s>\": {\"ids\": [5]}}}");
  EXPECT_ERROR (F, "post_processor.single has no sequence \"A\"", .vocab = "a",
                .post = "{\"type\": \"TemplateProcessing\", \"single\": []}");
  EXPECT_ERROR (F, "model.unk_token \"<unk>\" is not in model.vocab", .vocab = "a",
                .model = ", \"unk_token\": \"<unk>\"");
  EXPECT_ERROR (F, "model.merges[0]: token \"q\" is not in the vocabulary", .vocab = "a",
                .merges = "[\"a q\"]");
  EXPECT_ERROR (U, "truncation is set", .vocab = "a", .post = "null, \"truncation\": {}");
  EXPECT_ERROR (F, "add_bos_token is set, but bos_token is missing", .vocab = "a",
                .config = "{\"tokenizer_class\": \"LlamaTokenizer\"}");
  /* deep nesting: refused, not a stack overflow */
  GString *deep = g_string_new (NULL);
  for (int i = 0; i < 20; i++)
    g_string_append (deep, "{\"type\": \"Sequence\", \"pretokenizers\": [");
  g_string_append (deep, "{\"type\": \"Digits\"}");
  for (int i = 0; i < 20; i++)
    g_string_append (deep, "]}");
  g_autofree char *deep_s = g_string_free (deep, FALSE);
  EXPECT_ERROR (U, "nests Sequences deeper than 16 levels", .vocab = "a", .pre = deep_s);
  /* many stages: each is a pass over the text */
  GString *many = g_string_new ("{\"type\": \"Sequence\", \"normalizers\": [");
  for (int i = 0; i < 70; i++)
    g_string_append (many, i ? ", {\"type\": \"NFC\"}" : "{\"type\": \"NFC\"}");
  g_string_append (many, "]}");
  g_autofree char *many_s = g_string_free (many, FALSE);
  EXPECT_ERROR (U, "normalizer has 71 stages, more than the limit of 64", .vocab = "a",
                .normalizer = many_s);
}

/* A pipeline that doubles the text at every stage is stopped at a bounded size, with an error. */
static void
test_growth (void)
{
  GString *dbl = g_string_new ("{\"type\": \"Sequence\", \"normalizers\": [");
  for (int i = 0; i < 40; i++)
    g_string_append_printf (dbl,
                            "%s{\"type\": \"Replace\", \"pattern\": {\"String\": \"a\"}, "
                            "\"content\": \"aa\"}",
                            i ? ", " : "");
  g_string_append (dbl, "]}");
  g_autofree char *dbl_s = g_string_free (dbl, FALSE);
  g_autoptr (LensTokenizer) t = BUILD (.vocab = "a", .normalizer = dbl_s);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_autoptr (GError) error = NULL;
  g_assert_false (lens_tokenizer_encode (t, "aaaa", -1, ids, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "more than 16 times longer"));
  g_clear_error (&error);
  /* ByteLevel doubles the UTF-8 of every non-ASCII byte when applied again and again */
  GString *bl = g_string_new ("{\"type\": \"Sequence\", \"pretokenizers\": [");
  for (int i = 0; i < 30; i++)
    g_string_append_printf (bl,
                            "%s{\"type\": \"ByteLevel\", \"use_regex\": false, "
                            "\"add_prefix_space\": false}",
                            i ? ", " : "");
  g_string_append (bl, "]}");
  g_autofree char *bl_s = g_string_free (bl, FALSE);
  g_autoptr (LensTokenizer) t2 = BUILD (.vocab = "a", .pre = bl_s);
  g_autoptr (GPtrArray) p = lens_tokenizer_pretokenize (t2, "\xc3\xa9\xc3\xa9", -1, &error);
  g_assert_null (p);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tokenizer-pipeline/normalizers", test_normalizers);
  g_test_add_func ("/tokenizer-pipeline/pretokenizers", test_pretokenizers);
  g_test_add_func ("/tokenizer-pipeline/bpe", test_bpe);
  g_test_add_func ("/tokenizer-pipeline/added", test_added);
  g_test_add_func ("/tokenizer-pipeline/post-processor", test_post_processor);
  g_test_add_func ("/tokenizer-pipeline/display", test_display);
  g_test_add_func ("/tokenizer-pipeline/gemma", test_gemma);
  g_test_add_func ("/tokenizer-pipeline/neox", test_neox);
  g_test_add_func ("/tokenizer-pipeline/errors", test_errors);
  g_test_add_func ("/tokenizer-pipeline/growth", test_growth);
  return g_test_run ();
}
