/* lens-tokenizer.c: loading a tokenizer and running its pipeline (see lens-tokenizer.h).
 *
 * The pipeline is Hugging Face `tokenizers`' own, a stage per file (lens-tok-private.h): added
 * tokens are split out of the text first (lens-tok-added.c), the rest is normalized
 * (lens-tok-normalizer.c), split into pre-tokens (lens-tok-pretokenizer.c), each pre-token is
 * encoded by the BPE model (lens-tok-bpe.c), and the post-processor's special tokens go around
 * the result (lens-tok-postprocessor.c). What each token shows as comes from the decoder
 * (lens-tok-decoder.c). GPT-2's vocab.json + merges.txt are one more way to build the same BPE
 * model with a ByteLevel pre-tokenizer and decoder. A setting this code does not implement is
 * refused, so a file is either tokenized exactly as Hugging Face would or not at all. */
#include "lens-tokenizer.h"
#include "lens-file.h"

#include "lens-error.h"
#include "lens-json.h"
#include "lens-tok-private.h"
#include "lens-tokenizer-private.h"

#include <json-c/json.h>
#include <string.h>

/* Upper bounds that keep every size computation far from overflow; real vocabularies have a few
 * hundred thousand entries at most. */
#define MAX_IDS (1 << 24)
/* tokenizer.json of the largest public vocabularies is tens of MB; this bounds what a hostile
 * file can make us allocate */
#define MAX_FILE_SIZE ((gsize) 512 << 20)
/* tokenizer_config.json is a few kB */
#define MAX_CONFIG_SIZE ((gsize) 16 << 20)

/* The vocabulary as the files spell it (byte-to-unicode form, or added-token content), by id, and
 * an open-addressing index from string to id. All strings live in one allocation, so a vocabulary
 * of 50,000 tokens costs three allocations rather than 100,000. */
typedef struct
{
  GByteArray *chars; /* every string followed by a NUL, in the order they were read */
  size_t *off;       /* id -> offset of its string in chars, n_ids entries */
  size_t *len;       /* id -> length in bytes */
  int32_t *slots;    /* id + 1, 0 when empty; at most half full */
  size_t cap;        /* power of two */
} VocabStrings;

struct LensTokenizer
{
  int n_ids;
  /* display bytes: id -> blob[tok_off[id] .. tok_off[id] + tok_len[id]) */
  uint8_t *blob;
  size_t *tok_off;
  size_t *tok_len;
  VocabStrings strs;
  LensTokBpe bpe;
  LensTokAdded *added; /* sorted by id */
  guint n_added;
  gboolean any_normalized; /* some added token is matched after normalization */
  LensTokNormalizer *normalizer;
  LensTokPreTokenizer *pretok;
  GArray *prefix, *suffix; /* int32_t ids the post-processor puts around a text */
  int32_t eos_id;
  gboolean lossless; /* decode (encode (text)) == text for every text */
};

/* ---- errors ---- */

/* A token or line quoted in an error message: in double quotes, on one line (control characters,
 * quotes and stray bytes escaped) and cut short when long. Free with g_free. */
static char *
quote (const char *s, size_t len)
{
  return lens_json_describe (s, (gssize) MIN (len, (size_t) G_MAXSSIZE));
}

G_GNUC_PRINTF (4, 5)
static void
set_error (GError **error, int code, const char *file, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, LENS_ERROR, code, "%s: %s", file, msg);
}

/* ---- JSON ---- */

/* lens_json_parse checks the text against RFC 8259 (UTF-8, grammar, no raw control characters in
 * strings, no duplicate keys, no NUL in keys) before json-c builds the objects. What is left is
 * \u0000 inside string values: json-c keeps it, but the tokenizer handles tokens as C strings in
 * places, and no tokenizer needs NUL (byte 0 is "Ā" in the byte-level alphabet). The text is
 * valid JSON here, so tracking quotes and backslash escapes is enough to find strings. Returns the
 * offset of the first \u0000, or -1. */
static gssize
find_escaped_nul (const char *s, size_t len)
{
  gboolean in_string = FALSE;
  for (size_t i = 0; i < len; i++)
    {
      if (in_string && s[i] == '\\')
        {
          if (i + 6 <= len && s[i + 1] == 'u' && memcmp (s + i + 2, "0000", 4) == 0)
            return (gssize) i;
          i++; /* skip the escaped character */
        }
      else if (s[i] == '"')
        in_string = !in_string;
    }
  return -1;
}

static json_object *
parse_json (const char *data, size_t len, const char *file, GError **error)
{
  json_object *obj = lens_json_parse (data, len, file, error);
  if (obj == NULL)
    return NULL;
  gssize at = find_escaped_nul (data, len);
  if (at >= 0)
    {
      json_object_put (obj);
      set_error (error, LENS_ERROR_FORMAT, file,
                 "invalid JSON at byte %zu: a string contains \\u0000, which is not allowed",
                 (size_t) at);
      return NULL;
    }
  return obj;
}

static const char *
json_type_label (json_object *o)
{
  return o == NULL ? "null" : json_type_to_name (json_object_get_type (o));
}

/* ---- vocabulary strings and their index ---- */

static void
vocab_strings_clear (VocabStrings *vs)
{
  if (vs->chars != NULL)
    g_byte_array_unref (vs->chars);
  g_free (vs->off);
  g_free (vs->len);
  g_free (vs->slots);
  memset (vs, 0, sizeof *vs);
}

static inline const char *
vocab_text (const VocabStrings *vs, int32_t id)
{
  return (const char *) vs->chars->data + vs->off[id];
}

static inline size_t
string_hash (const char *s, size_t len)
{
  guint64 h = 14695981039346656037ULL; /* FNV-1a */
  for (size_t i = 0; i < len; i++)
    h = (h ^ (guint8) s[i]) * 1099511628211ULL;
  return (size_t) (h ^ (h >> 32));
}

/* The slot holding `s`, or the empty slot where it would go. */
static int32_t *
vocab_slot (const VocabStrings *vs, const char *s, size_t len)
{
  size_t mask = vs->cap - 1;
  for (size_t i = string_hash (s, len) & mask;; i = (i + 1) & mask)
    {
      int32_t *slot = &vs->slots[i];
      if (*slot == 0)
        return slot;
      int32_t id = *slot - 1;
      if (vs->len[id] == len && memcmp (vocab_text (vs, id), s, len) == 0)
        return slot;
    }
}

static int32_t
vocab_find (const VocabStrings *vs, const char *s, size_t len)
{
  if (vs->slots == NULL)
    return -1;
  return *vocab_slot (vs, s, len) - 1;
}

/* Indexes ids [0, n_ids): the first id with a given string wins (an added token beyond the
 * vocabulary may repeat a vocabulary entry). Returns the number of ids below `n_unique` whose
 * string an earlier id already had. */
static int
vocab_index (VocabStrings *vs, int n_ids, int n_unique)
{
  g_free (vs->slots);
  vs->cap = 16;
  while (vs->cap < 2 * (size_t) n_ids + 2)
    vs->cap *= 2;
  vs->slots = g_new0 (int32_t, vs->cap);
  int repeated = 0;
  for (int32_t id = 0; id < n_ids; id++)
    {
      int32_t *slot = vocab_slot (vs, vocab_text (vs, id), vs->len[id]);
      if (*slot == 0)
        *slot = id + 1;
      else if (id < n_unique)
        repeated++;
    }
  return repeated;
}

/* ---- building ---- */

typedef struct
{
  const char *file; /* for error messages */
  int n_vocab;      /* entries of the model vocabulary (before added tokens beyond it) */
  int n_ids;
  VocabStrings strs; /* off/len have n_ids entries; no index yet */
} Builder;

static void
builder_clear (Builder *b)
{
  vocab_strings_clear (&b->strs);
  b->n_vocab = b->n_ids = 0;
}

/* Sizes the builder for `n` vocabulary ids, whose strings go to (or are in) `chars`, which it
 * takes; every offset starts as "no string yet". */
static void
builder_alloc (Builder *b, int n, GByteArray *chars)
{
  b->n_vocab = b->n_ids = n;
  b->strs.chars = chars;
  b->strs.off = g_new (size_t, n);
  b->strs.len = g_new (size_t, n);
  for (int i = 0; i < n; i++)
    b->strs.off[i] = SIZE_MAX;
}

static void
builder_set (Builder *b, int32_t id, const char *s, size_t len)
{
  b->strs.off[id] = b->strs.chars->len;
  b->strs.len[id] = len;
  g_byte_array_append (b->strs.chars, (const guint8 *) s, (guint) len);
  g_byte_array_append (b->strs.chars, (const guint8 *) "", 1);
}

static int32_t
vocab_lookup (const void *vs, const char *s, size_t len)
{
  return vocab_find (vs, s, len);
}

static LensTokenizer *
tokenizer_alloc (void)
{
  lens_tok_init_byte_map ();
  LensTokenizer *tok = g_new0 (LensTokenizer, 1);
  tok->eos_id = -1;
  lens_tok_bpe_init (&tok->bpe);
  tok->bpe.lookup = vocab_lookup;
  tok->bpe.vocab = &tok->strs;
  tok->prefix = g_array_new (FALSE, FALSE, sizeof (int32_t));
  tok->suffix = g_array_new (FALSE, FALSE, sizeof (int32_t));
  tok->lossless = TRUE;
  return tok;
}

void
lens_tokenizer_free (LensTokenizer *tok)
{
  if (tok == NULL)
    return;
  g_free (tok->blob);
  g_free (tok->tok_off);
  g_free (tok->tok_len);
  vocab_strings_clear (&tok->strs);
  lens_tok_bpe_clear (&tok->bpe);
  for (guint i = 0; i < tok->n_added; i++)
    g_free (tok->added[i].content);
  g_free (tok->added);
  g_clear_pointer (&tok->normalizer, lens_tok_normalizer_free);
  g_clear_pointer (&tok->pretok, lens_tok_pretokenizer_free);
  g_array_unref (tok->prefix);
  g_array_unref (tok->suffix);
  g_free (tok);
}

static int32_t
str_lookup (const LensTokenizer *tok, const char *s, size_t len)
{
  return vocab_find (&tok->strs, s, len);
}

static gboolean
read_vocab (Builder *b, json_object *vocab, const char *where, GError **error)
{
  if (!json_object_is_type (vocab, json_type_object))
    {
      set_error (error, LENS_ERROR_FORMAT, b->file, "%s must be a JSON object, not %s", where,
                 json_type_label (vocab));
      return FALSE;
    }
  int n = json_object_object_length (vocab);
  if (n <= 0)
    {
      set_error (error, LENS_ERROR_FORMAT, b->file, "%s is empty", where);
      return FALSE;
    }
  if (n > MAX_IDS)
    {
      set_error (error, LENS_ERROR_FORMAT, b->file, "%s has %d entries, more than the limit of %d",
                 where, n, MAX_IDS);
      return FALSE;
    }
  builder_alloc (b, n,
                 g_byte_array_sized_new ((guint) MIN ((size_t) n * 8, (size_t) G_MAXUINT / 2)));
  json_object_object_foreach (vocab, key, val)
  {
    size_t klen = strlen (key);
    if (!g_utf8_validate_len (key, klen, NULL))
      {
        set_error (error, LENS_ERROR_FORMAT, b->file, "%s: a token is not valid UTF-8", where);
        return FALSE;
      }
    /* An empty token would stand for no bytes at all: it cannot come out of BPE merges, and GPT-2
     * vocabularies never contain one. */
    if (klen == 0)
      {
        set_error (error, LENS_ERROR_FORMAT, b->file, "%s contains an empty token \"\"", where);
        return FALSE;
      }
    if (!json_object_is_type (val, json_type_int))
      {
        g_autofree char *shown = quote (key, klen);
        set_error (error, LENS_ERROR_FORMAT, b->file,
                   "%s: the id of token %s must be an integer, not %s", where, shown,
                   json_type_label (val));
        return FALSE;
      }
    int64_t id = json_object_get_int64 (val);
    if (id < 0 || id >= n)
      {
        g_autofree char *shown = quote (key, klen);
        set_error (error, LENS_ERROR_FORMAT, b->file,
                   "%s: token %s has id %" G_GINT64_FORMAT
                   ", outside 0..%d (ids must run from 0 to the number of entries - 1)",
                   where, shown, id, n - 1);
        return FALSE;
      }
    if (b->strs.off[id] != SIZE_MAX)
      {
        g_autofree char *shown = quote (key, klen);
        g_autofree char *other = quote (vocab_text (&b->strs, (int32_t) id), b->strs.len[id]);
        set_error (error, LENS_ERROR_FORMAT, b->file,
                   "%s: id %" G_GINT64_FORMAT " is used by both %s and %s", where, id, other,
                   shown);
        return FALSE;
      }
    builder_set (b, (int32_t) id, key, klen);
  }
  /* n distinct ids in 0..n-1 means every id is present (duplicate keys are refused by the JSON
   * parser) */
  for (int i = 0; i < n; i++)
    if (b->strs.off[i] == SIZE_MAX)
      {
        set_error (error, LENS_ERROR_FORMAT, b->file, "%s: no token has id %d", where, i);
        return FALSE;
      }
  return TRUE;
}

/* ---- vocab.json without an object model ---- */

static inline const char *
skip_json_space (const char *p, const char *end)
{
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  return p;
}

/* Decodes the JSON string starting after its opening quote onto `out`; *pp moves past the
 * closing quote. FALSE for anything RFC 8259 forbids and for \u0000, which no token may contain
 * (the general path refuses it too). UTF-8 is checked by the caller on the decoded bytes: escapes
 * only ever produce whole characters, so the decoded text is valid exactly when the raw bytes
 * were. */
static gboolean
decode_flat_string (const char **pp, const char *end, GByteArray *out)
{
  const char *p = *pp;
  for (;;)
    {
      const char *run = p;
      while (p < end && *p != '"' && *p != '\\' && (guint8) *p >= 0x20)
        p++;
      if (p > run)
        g_byte_array_append (out, (const guint8 *) run, (guint) (p - run));
      if (p == end || (guint8) *p < 0x20)
        return FALSE;
      if (*p == '"')
        {
          *pp = p + 1;
          return TRUE;
        }
      /* a backslash */
      if (end - p < 2)
        return FALSE;
      char simple = lens_json_simple_escape (p[1]);
      if (simple != 0)
        {
          g_byte_array_append (out, (const guint8 *) &simple, 1);
          p += 2;
          continue;
        }
      if (p[1] != 'u' || end - p < 6)
        return FALSE;
      int cp = lens_json_hex4 (p + 2);
      p += 6;
      if (cp <= 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return FALSE;
      if (cp >= 0xD800 && cp <= 0xDBFF)
        {
          if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
            return FALSE;
          int low = lens_json_hex4 (p + 2);
          if (low < 0xDC00 || low > 0xDFFF)
            return FALSE;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          p += 6;
        }
      char utf8[6];
      int n = g_unichar_to_utf8 ((gunichar) cp, utf8);
      g_byte_array_append (out, (const guint8 *) utf8, (guint) n);
    }
}

typedef struct
{
  int32_t id;
  size_t off, len;
} FlatEntry;

/* vocab.json is one flat object of string -> id with tens of thousands of entries. Building that
 * as json-c objects took most of a cold CLI start (one allocation per entry, and the first touch
 * of all that memory in a fresh process), so the usual shape is read here in one pass straight
 * into the builder. This accepts a subset of what read_vocab accepts and returns FALSE for
 * anything else, errors included, so that the general path with its precise messages runs
 * instead; the tokenizer fuzz harness checks that both give the same tokenizer. */
static gboolean
read_vocab_flat (Builder *b, const char *json, size_t len)
{
  const char *p = json, *end = json + len;
  p = skip_json_space (p, end);
  if (p == end || *p != '{')
    return FALSE;
  p++;
  g_autoptr (GByteArray) chars = g_byte_array_sized_new ((guint) MIN (len, (size_t) G_MAXUINT / 2));
  g_autoptr (GArray) entries = g_array_sized_new (FALSE, FALSE, sizeof (FlatEntry),
                                                  (guint) MIN (len / 8, (size_t) MAX_IDS));
  for (;;)
    {
      p = skip_json_space (p, end);
      if (p == end || *p != '"' || entries->len >= MAX_IDS)
        return FALSE;
      p++;
      FlatEntry e = {.off = chars->len};
      if (!decode_flat_string (&p, end, chars))
        return FALSE;
      e.len = chars->len - e.off;
      if (e.len == 0 || e.len > G_MAXUINT / 4
          || !g_utf8_validate_len ((const char *) chars->data + e.off, e.len, NULL))
        return FALSE;
      g_byte_array_append (chars, (const guint8 *) "", 1);

      p = skip_json_space (p, end);
      if (p == end || *p != ':')
        return FALSE;
      p = skip_json_space (p + 1, end);
      /* a JSON integer without sign, fraction or exponent, at most 9 digits (MAX_IDS has 8) */
      if (p == end || *p < '0' || *p > '9')
        return FALSE;
      int64_t id = 0;
      int digits = 0;
      while (p < end && *p >= '0' && *p <= '9' && digits < 10)
        id = id * 10 + (*p++ - '0'), digits++;
      if (digits > 9 || (digits > 1 && p[-digits] == '0')
          || (p < end && (*p == '.' || *p == 'e' || *p == 'E')) || id >= MAX_IDS)
        return FALSE;
      e.id = (int32_t) id;
      g_array_append_val (entries, e);

      p = skip_json_space (p, end);
      if (p < end && *p == ',')
        {
          p++;
          continue;
        }
      if (p < end && *p == '}')
        break;
      return FALSE;
    }
  if (skip_json_space (p + 1, end) != end || entries->len == 0 || chars->len > G_MAXUINT / 2)
    return FALSE;

  int n = (int) entries->len;
  builder_alloc (b, n, g_steal_pointer (&chars));
  for (int i = 0; i < n; i++)
    {
      const FlatEntry *e = &g_array_index (entries, FlatEntry, i);
      if (e->id >= n || b->strs.off[e->id] != SIZE_MAX)
        return FALSE;
      b->strs.off[e->id] = e->off;
      b->strs.len[e->id] = e->len;
    }
  /* n distinct ids below n: all present. A key written twice (perhaps spelt differently) is a
   * JSON error the general path reports. */
  if (vocab_index (&b->strs, n, n) != 0)
    return FALSE;
  return TRUE;
}

/* Turns the builder's strings into the tokenizer's byte table, string index and byte ids. */
/* Turns the builder's strings into the tokenizer's string index. */
static gboolean
finish_vocab (LensTokenizer *tok, Builder *b, GError **error)
{
  if (b->strs.chars->len > G_MAXUINT / 2)
    {
      set_error (error, LENS_ERROR_FORMAT, b->file, "the vocabulary is too large");
      return FALSE;
    }
  tok->n_ids = b->n_ids;
  tok->bpe.n_vocab = b->n_vocab;
  /* read_vocab_flat has indexed the vocabulary already; only added tokens come after */
  if (b->strs.slots == NULL || b->n_ids != b->n_vocab)
    vocab_index (&b->strs, b->n_ids, 0);
  tok->strs = b->strs;
  memset (&b->strs, 0, sizeof b->strs);
  lens_tok_bpe_index_bytes (&tok->bpe);
  return TRUE;
}

/* `added` is sorted by id (added_tokens are read in id order) */
static const LensTokAdded *
find_added (const LensTokenizer *tok, int32_t id)
{
  guint lo = 0, hi = tok->n_added;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      if (tok->added[mid].id == id)
        return &tok->added[mid];
      if (tok->added[mid].id < id)
        lo = mid + 1;
      else
        hi = mid;
    }
  return NULL;
}

/* Each token's display bytes: what the decoder makes of it alone. Added tokens go through the
 * decoder too, as in tokenizers' Tokenizer::decode (Gemma's added token "▁▁" decodes as two
 * spaces; ByteLevel keeps the UTF-8 of a token with a character outside its alphabet, so
 * "<|endoftext|>" or GPT-NeoX's added runs of spaces stay as they are). */
static void
finish_display (LensTokenizer *tok, const LensTokDecoder *decoder)
{
  g_autoptr (GByteArray) blob = g_byte_array_sized_new (tok->strs.chars->len + 1);
  tok->tok_off = g_new (size_t, tok->n_ids);
  tok->tok_len = g_new (size_t, tok->n_ids);
  for (int32_t i = 0; i < tok->n_ids; i++)
    {
      tok->tok_off[i] = blob->len;
      lens_tok_decoder_token (decoder, vocab_text (&tok->strs, i), tok->strs.len[i], blob);
      tok->tok_len[i] = blob->len - tok->tok_off[i];
    }
  tok->blob = g_byte_array_free (g_steal_pointer (&blob), FALSE);
}

/* Whether added token `t` decodes to its own content, as it is written in a text. */
static gboolean
added_decodes_as_written (const LensTokenizer *tok, const LensTokAdded *t)
{
  size_t len = tok->tok_len[t->id];
  return len == tok->strs.len[t->id]
         && memcmp (tok->blob + tok->tok_off[t->id], vocab_text (&tok->strs, t->id), len) == 0;
}

typedef struct
{
  const char *prefix, *suffix;
  size_t n;
} MergeWhere;

static char *
merge_where (const MergeWhere *w)
{
  return g_strdup_printf ("%s%zu%s", w->prefix, w->n, w->suffix);
}

/* Adds one merge "left right" (as vocab strings, neither containing NUL). */
/* Adds one merge "left right" (as vocab strings, neither containing NUL). */
static gboolean
add_merge (LensTokenizer *tok, const char *file, const char *left, size_t llen, const char *right,
           size_t rlen, int32_t rank, const MergeWhere *where, GError **error)
{
  int32_t a = str_lookup (tok, left, llen), b = str_lookup (tok, right, rlen);
  if (a < 0 || b < 0)
    {
      g_autofree char *shown = a < 0 ? quote (left, llen) : quote (right, rlen);
      g_autofree char *w = merge_where (where);
      set_error (error, LENS_ERROR_FORMAT, file, "%s: token %s is not in the vocabulary", w, shown);
      return FALSE;
    }
  /* with a continuing_subword_prefix, "a ##b" makes "ab" (tokenizers' BpeBuilder) */
  const char *prefix = tok->bpe.prefix;
  size_t plen = prefix ? strlen (prefix) : 0;
  if (plen > 0 && rlen >= plen && memcmp (right, prefix, plen) == 0)
    {
      right += plen;
      rlen -= plen;
    }
  char stack[256];
  g_autofree char *heap = NULL;
  size_t jlen = llen + rlen; /* both lengths are below the file size, no overflow */
  char *joined = jlen <= sizeof stack ? stack : (heap = g_malloc (jlen));
  memcpy (joined, left, llen);
  memcpy (joined + llen, right, rlen);
  int32_t m = str_lookup (tok, joined, jlen);
  if (m < 0)
    {
      g_autofree char *shown = quote (joined, jlen);
      g_autofree char *w = merge_where (where);
      set_error (error, LENS_ERROR_FORMAT, file, "%s: the merged token %s is not in the vocabulary",
                 w, shown);
      return FALSE;
    }
  lens_tok_bpe_add_merge (&tok->bpe, a, b, m, rank);
  return TRUE;
}

static gboolean
parse_merge_line (LensTokenizer *tok, const char *file, const char *line, size_t len, int32_t rank,
                  const MergeWhere *where, GError **error)
{
  if (!g_utf8_validate_len (line, len, NULL))
    {
      g_autofree char *w = merge_where (where);
      set_error (error, LENS_ERROR_FORMAT, file, "%s is not valid UTF-8", w);
      return FALSE;
    }
  const char *sp = memchr (line, ' ', len);
  if (sp == NULL || sp == line || sp + 1 == line + len
      || memchr (sp + 1, ' ', (size_t) (line + len - sp - 1)) != NULL)
    {
      g_autofree char *shown = quote (line, len);
      g_autofree char *w = merge_where (where);
      set_error (error, LENS_ERROR_FORMAT, file,
                 "%s: expected two tokens separated by one space, got %s", w, shown);
      return FALSE;
    }
  if (memchr (line, '\0', len) != NULL)
    {
      g_autofree char *w = merge_where (where);
      set_error (error, LENS_ERROR_FORMAT, file, "%s contains a NUL byte", w);
      return FALSE;
    }
  return add_merge (tok, file, line, (size_t) (sp - line), sp + 1, (size_t) (line + len - sp - 1),
                    rank, where, error);
}

static gboolean
read_merges_txt (LensTokenizer *tok, const char *merges, size_t len, GError **error)
{
  const char *file = "merges.txt";
  /* count lines first so the table is sized once */
  size_t n_lines = 1;
  for (const char *q = merges; (q = memchr (q, '\n', (size_t) (merges + len - q))) != NULL; q++)
    n_lines++;
  if (n_lines > MAX_IDS)
    {
      set_error (error, LENS_ERROR_FORMAT, file, "too many lines (%zu)", n_lines);
      return FALSE;
    }
  lens_tok_bpe_alloc_merges (&tok->bpe, n_lines);

  const char *p = merges, *end = merges + len;
  size_t lineno = 0;
  int32_t rank = 0;
  while (p < end)
    {
      const char *nl = memchr (p, '\n', (size_t) (end - p));
      const char *le = nl ? nl : end;
      size_t l = (size_t) (le - p);
      if (l > 0 && p[l - 1] == '\r')
        l--;
      lineno++;
      if (lineno == 1 && l >= 8 && memcmp (p, "#version", 8) == 0)
        ; /* the optional header */
      else if (l == 0)
        {
          /* only trailing blank lines are allowed */
          for (const char *q = le; q < end; q++)
            if (*q != '\n' && *q != '\r')
              {
                set_error (error, LENS_ERROR_FORMAT, file, "line %zu is empty", lineno);
                return FALSE;
              }
          break;
        }
      else
        {
          MergeWhere where = {"line ", "", lineno};
          if (!parse_merge_line (tok, file, p, l, rank, &where, error))
            return FALSE;
          rank++;
        }
      p = nl ? nl + 1 : end;
    }
  return TRUE;
}

static void
add_added (LensTokenizer *tok, const LensTokAdded *t)
{
  tok->added = g_renew (LensTokAdded, tok->added, tok->n_added + 1);
  LensTokAdded *a = &tok->added[tok->n_added++];
  *a = *t;
  a->content = g_strndup (t->content, t->len);
  tok->any_normalized |= t->normalized;
}

/* Reads vocab.json into the builder: the flat reader when it can, json-c with full diagnostics
 * otherwise (or always, for the tests that compare the two). */
static gboolean
read_vocab_json (Builder *b, const char *json, size_t len, gboolean allow_flat, GError **error)
{
  if (allow_flat && read_vocab_flat (b, json, len))
    return TRUE;
  builder_clear (b);
  json_object *root = parse_json (json, len, b->file, error);
  if (root == NULL)
    return FALSE;
  gboolean ok = read_vocab (b, root, "the vocabulary", error);
  json_object_put (root);
  return ok;
}

/* GPT-2's files as a tokenizer.json would say them: ByteLevel pre-tokenizer (GPT-2's regex, no
 * prefix space) and decoder, the BPE model, and <|endoftext|> as a special added token. */
static LensTokenizer *
new_from_gpt2_data (const char *vocab_json, size_t vocab_len, const char *merges, size_t merges_len,
                    gboolean allow_flat, GError **error)
{
  g_autoptr (LensTokenizer) tok = tokenizer_alloc ();
  Builder b = {.file = "vocab.json"};
  gboolean ok = read_vocab_json (&b, vocab_json, vocab_len, allow_flat, error)
                && finish_vocab (tok, &b, error);
  builder_clear (&b);
  if (!ok || !read_merges_txt (tok, merges, merges_len, error))
    return NULL;
  tok->pretok = lens_tok_pretokenizer_new_gpt2 (error);
  if (tok->pretok == NULL)
    return NULL;
  int32_t eos = str_lookup (tok, "<|endoftext|>", 13);
  if (eos >= 0)
    {
      tok->eos_id = eos;
      add_added (tok, &(LensTokAdded){(char *) "<|endoftext|>", 13, eos, TRUE, FALSE, FALSE, FALSE,
                                      FALSE});
    }
  g_autoptr (LensTokDecoder) decoder = lens_tok_decoder_new_byte_level ();
  finish_display (tok, decoder);
  return g_steal_pointer (&tok);
}

LensTokenizer *
lens_tokenizer_new_from_gpt2_data (const char *vocab_json, size_t vocab_len, const char *merges,
                                   size_t merges_len, GError **error)
{
  return new_from_gpt2_data (vocab_json, vocab_len, merges, merges_len, TRUE, error);
}

LensTokenizer *
lens_tokenizer_new_from_gpt2_data_general (const char *vocab_json, size_t vocab_len,
                                           const char *merges, size_t merges_len, GError **error)
{
  return new_from_gpt2_data (vocab_json, vocab_len, merges, merges_len, FALSE, error);
}

gboolean
lens_tokenizer_vocab_json_is_flat (const char *vocab_json, size_t len)
{
  lens_tok_init_byte_map ();
  Builder b = {.file = "vocab.json"};
  gboolean flat = read_vocab_flat (&b, vocab_json, len);
  builder_clear (&b);
  return flat;
}

/* ---- tokenizer.json ---- */

/* model: the BPE settings; vocab and merges are read by the caller. */
static gboolean
read_model_settings (LensTokenizer *tok, json_object *model, const char *file, GError **error)
{
  static const char *const keys[] = {"type",
                                     "dropout",
                                     "unk_token",
                                     "continuing_subword_prefix",
                                     "end_of_word_suffix",
                                     "fuse_unk",
                                     "byte_fallback",
                                     "ignore_merges",
                                     "vocab",
                                     "merges",
                                     NULL};
  json_object *v;
  if (!lens_tok_only_keys (model, keys, file, "model", error))
    return FALSE;
  if (!lens_tok_get (model, "dropout", json_type_double, &v, file, "model", error))
    return FALSE;
  if (v != NULL && json_object_get_double (v) != 0.0)
    {
      /* dropout makes encoding random */
      set_error (error, LENS_ERROR_UNSUPPORTED, file, "model.dropout must be null or 0");
      return FALSE;
    }
  static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
  for (guint i = 0; i < G_N_ELEMENTS (affixes); i++)
    {
      if (!lens_tok_get (model, affixes[i], json_type_string, &v, file, "model", error))
        return FALSE;
      /* an empty affix changes nothing, as in tokenizers */
      char *s
          = v && json_object_get_string_len (v) > 0 ? g_strdup (json_object_get_string (v)) : NULL;
      if (i == 0)
        tok->bpe.prefix = s;
      else
        tok->bpe.suffix = s;
    }
  return lens_tok_get_bool (model, "fuse_unk", FALSE, &tok->bpe.fuse_unk, file, "model", error)
         && lens_tok_get_bool (model, "byte_fallback", FALSE, &tok->bpe.byte_fallback, file,
                               "model", error)
         && lens_tok_get_bool (model, "ignore_merges", FALSE, &tok->bpe.ignore_merges, file,
                               "model", error);
}

/* unk_token must name a vocabulary entry: tokenizers would fail on the first unknown character. */
static gboolean
read_unk (LensTokenizer *tok, json_object *model, const char *file, GError **error)
{
  json_object *v;
  if (!lens_tok_get (model, "unk_token", json_type_string, &v, file, "model", error))
    return FALSE;
  if (v == NULL)
    return TRUE;
  tok->bpe.unk_id
      = str_lookup (tok, json_object_get_string (v), (size_t) json_object_get_string_len (v));
  if (tok->bpe.unk_id < 0 || tok->bpe.unk_id >= tok->bpe.n_vocab)
    {
      g_autofree char *shown
          = quote (json_object_get_string (v), (size_t) json_object_get_string_len (v));
      set_error (error, LENS_ERROR_FORMAT, file, "model.unk_token %s is not in model.vocab", shown);
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  LensTokAdded t;
  guint index;
} AddedToken;

static int
added_cmp (gconstpointer a, gconstpointer b)
{
  const AddedToken *x = a, *y = b;
  if (x->t.id != y->t.id)
    return x->t.id < y->t.id ? -1 : 1;
  return x->index < y->index ? -1 : (x->index > y->index);
}

/* Reads added_tokens: an entry whose id is inside the vocabulary must name the same token; the
 * others extend the id range without gaps. */
static gboolean
read_added_tokens (Builder *b, json_object *arr, GArray *added, GError **error)
{
  if (!json_object_is_type (arr, json_type_array))
    {
      set_error (error, LENS_ERROR_FORMAT, b->file, "added_tokens must be an array, not %s",
                 json_type_label (arr));
      return FALSE;
    }
  size_t n = json_object_array_length (arr);
  for (size_t i = 0; i < n; i++)
    {
      json_object *e = json_object_array_get_idx (arr, i), *jid = NULL, *jc = NULL;
      g_autofree char *path = g_strdup_printf ("added_tokens[%zu]", i);
      if (!json_object_is_type (e, json_type_object))
        {
          set_error (error, LENS_ERROR_FORMAT, b->file, "%s must be an object, not %s", path,
                     json_type_label (e));
          return FALSE;
        }
      static const char *const keys[]
          = {"id", "content", "single_word", "lstrip", "rstrip", "normalized", "special", NULL};
      if (!lens_tok_only_keys (e, keys, b->file, path, error))
        return FALSE;
      if (!json_object_object_get_ex (e, "id", &jid) || !json_object_is_type (jid, json_type_int))
        {
          set_error (error, LENS_ERROR_FORMAT, b->file, "%s.id must be an integer, not %s", path,
                     json_type_label (jid));
          return FALSE;
        }
      if (!json_object_object_get_ex (e, "content", &jc)
          || !json_object_is_type (jc, json_type_string) || json_object_get_string_len (jc) == 0)
        {
          set_error (error, LENS_ERROR_FORMAT, b->file, "%s.content must be a non-empty string",
                     path);
          return FALSE;
        }
      if (!g_utf8_validate_len (json_object_get_string (jc),
                                (gsize) json_object_get_string_len (jc), NULL))
        {
          set_error (error, LENS_ERROR_FORMAT, b->file, "%s.content is not valid UTF-8", path);
          return FALSE;
        }
      AddedToken t
          = {{(char *) json_object_get_string (jc), (size_t) json_object_get_string_len (jc), 0,
              FALSE, FALSE, FALSE, FALSE, FALSE},
             (guint) i};
      int64_t id = json_object_get_int64 (jid);
      if (id < 0 || id >= MAX_IDS)
        {
          set_error (error, LENS_ERROR_FORMAT, b->file,
                     "%s.id %" G_GINT64_FORMAT " is out of range", path, id);
          return FALSE;
        }
      t.t.id = (int32_t) id;
      /* tokenizers' AddedToken defaults: special tokens are matched in the raw text */
      if (!lens_tok_get_bool (e, "special", FALSE, &t.t.special, b->file, path, error)
          || !lens_tok_get_bool (e, "lstrip", FALSE, &t.t.lstrip, b->file, path, error)
          || !lens_tok_get_bool (e, "rstrip", FALSE, &t.t.rstrip, b->file, path, error)
          || !lens_tok_get_bool (e, "single_word", FALSE, &t.t.single_word, b->file, path, error)
          || !lens_tok_get_bool (e, "normalized", !t.t.special, &t.t.normalized, b->file, path,
                                 error))
        return FALSE;
      g_array_append_val (added, t);
    }
  g_array_sort (added, added_cmp);

  for (guint i = 0; i < added->len; i++)
    {
      LensTokAdded *t = &g_array_index (added, AddedToken, i).t;
      guint index = g_array_index (added, AddedToken, i).index;
      if (t->id < b->n_ids)
        {
          const char *known = vocab_text (&b->strs, t->id);
          if (b->strs.len[t->id] != t->len || memcmp (known, t->content, t->len) != 0)
            {
              g_autofree char *mine = quote (t->content, t->len);
              g_autofree char *other = quote (known, b->strs.len[t->id]);
              set_error (error, LENS_ERROR_FORMAT, b->file,
                         "added_tokens[%u] (%s) has id %d, which already belongs to %s", index,
                         mine, t->id, other);
              return FALSE;
            }
          continue;
        }
      if (t->id != b->n_ids)
        {
          set_error (error, LENS_ERROR_FORMAT, b->file,
                     "added_tokens[%u] has id %d, beyond the vocabulary of %d ids (ids must not "
                     "leave gaps)",
                     index, t->id, b->n_ids);
          return FALSE;
        }
      b->strs.off = g_renew (size_t, b->strs.off, b->n_ids + 1);
      b->strs.len = g_renew (size_t, b->strs.len, b->n_ids + 1);
      builder_set (b, b->n_ids, t->content, t->len);
      b->n_ids++;
    }
  return TRUE;
}

static gboolean
read_merges_json (LensTokenizer *tok, json_object *merges, const char *file, GError **error)
{
  if (!json_object_is_type (merges, json_type_array))
    {
      set_error (error, LENS_ERROR_FORMAT, file, "model.merges must be an array, not %s",
                 json_type_label (merges));
      return FALSE;
    }
  size_t n_merges = json_object_array_length (merges);
  if (n_merges > MAX_IDS)
    {
      set_error (error, LENS_ERROR_FORMAT, file, "model.merges has too many entries (%zu)",
                 n_merges);
      return FALSE;
    }
  lens_tok_bpe_alloc_merges (&tok->bpe, n_merges);
  for (size_t i = 0; i < n_merges; i++)
    {
      json_object *m = json_object_array_get_idx (merges, i);
      MergeWhere where = {"model.merges[", "]", i};
      if (json_object_is_type (m, json_type_string))
        {
          if (!parse_merge_line (tok, file, json_object_get_string (m),
                                 (size_t) json_object_get_string_len (m), (int32_t) i, &where,
                                 error))
            return FALSE;
        }
      else if (json_object_is_type (m, json_type_array) && json_object_array_length (m) == 2
               && json_object_is_type (json_object_array_get_idx (m, 0), json_type_string)
               && json_object_is_type (json_object_array_get_idx (m, 1), json_type_string))
        {
          json_object *left = json_object_array_get_idx (m, 0);
          json_object *right = json_object_array_get_idx (m, 1);
          if (!add_merge (tok, file, json_object_get_string (left),
                          (size_t) json_object_get_string_len (left),
                          json_object_get_string (right),
                          (size_t) json_object_get_string_len (right), (int32_t) i, &where, error))
            return FALSE;
        }
      else
        {
          g_autofree char *w = merge_where (&where);
          set_error (error, LENS_ERROR_FORMAT, file,
                     "%s must be a string \"a b\" or a pair [\"a\", \"b\"], not %s", w,
                     json_type_label (m));
          return FALSE;
        }
    }
  return TRUE;
}

/* A token named in tokenizer_config.json: a string or {"content": ...}. NULL when absent. */
static const char *
config_token (json_object *config, const char *key)
{
  json_object *v = NULL, *c = NULL;
  if (config == NULL || !json_object_object_get_ex (config, key, &v) || v == NULL)
    return NULL;
  if (json_object_is_type (v, json_type_string))
    return json_object_get_string (v);
  if (json_object_is_type (v, json_type_object) && json_object_object_get_ex (v, "content", &c)
      && json_object_is_type (c, json_type_string))
    return json_object_get_string (c);
  return NULL;
}

/* What transformers does with tokenizer_config.json when it encodes: LlamaTokenizerFast and
 * GemmaTokenizerFast (tokenizer_class "LlamaTokenizer", "GemmaTokenizer" or their Fast names)
 * rebuild the post-processor in __init__ (update_post_processor) as "<bos> $A <eos>", each part
 * present when add_bos_token (default true) / add_eos_token (default false) says so.
 * PreTrainedTokenizerFast and the other classes keep tokenizer.json's post-processor and ignore
 * those keys. eos_token names the end-of-text token. */
static gboolean
apply_config (LensTokenizer *tok, json_object *config, const char *file, GError **error)
{
  const char *eos = config_token (config, "eos_token");
  if (eos != NULL && str_lookup (tok, eos, strlen (eos)) >= 0)
    tok->eos_id = str_lookup (tok, eos, strlen (eos));
  json_object *cls = NULL;
  if (!lens_tok_get (config, "tokenizer_class", json_type_string, &cls, file, "(top level)", error))
    return FALSE;
  static const char *const rebuilders[]
      = {"LlamaTokenizer", "LlamaTokenizerFast", "GemmaTokenizer", "GemmaTokenizerFast"};
  gboolean rebuild = FALSE;
  for (guint i = 0; cls != NULL && i < G_N_ELEMENTS (rebuilders); i++)
    rebuild |= strcmp (json_object_get_string (cls), rebuilders[i]) == 0;
  if (!rebuild)
    return TRUE;
  gboolean add_bos, add_eos;
  if (!lens_tok_get_bool (config, "add_bos_token", TRUE, &add_bos, file, "(top level)", error)
      || !lens_tok_get_bool (config, "add_eos_token", FALSE, &add_eos, file, "(top level)", error))
    return FALSE;
  g_array_set_size (tok->prefix, 0);
  g_array_set_size (tok->suffix, 0);
  static const char *const keys[] = {"bos_token", "eos_token"};
  for (guint i = 0; i < 2; i++)
    {
      if (!(i == 0 ? add_bos : add_eos))
        continue;
      const char *name = config_token (config, keys[i]);
      int32_t id = name ? str_lookup (tok, name, strlen (name)) : -1;
      if (id < 0)
        {
          set_error (error, LENS_ERROR_FORMAT, file,
                     "%s is set, but %s is missing or not in the vocabulary",
                     i == 0 ? "add_bos_token" : "add_eos_token", keys[i]);
          return FALSE;
        }
      g_array_append_val (i == 0 ? tok->prefix : tok->suffix, id);
    }
  return TRUE;
}

/* The stage objects at the top level (null or absent: no such stage). */
static gboolean
read_stages (LensTokenizer *tok, json_object *root, const char *file, LensTokDecoder **decoder,
             gboolean *decoder_byte_level, GError **error)
{
  json_object *v = NULL;
  if (json_object_object_get_ex (root, "normalizer", &v) && v != NULL
      && (tok->normalizer = lens_tok_normalizer_parse (v, file, "normalizer", 0, error)) == NULL)
    return FALSE;
  if (json_object_object_get_ex (root, "pre_tokenizer", &v) && v != NULL
      && (tok->pretok = lens_tok_pretokenizer_parse (v, file, "pre_tokenizer", 0, error)) == NULL)
    return FALSE;
  if (json_object_object_get_ex (root, "post_processor", &v) && v != NULL
      && !lens_tok_postprocessor_parse (v, tok->n_ids, tok->prefix, tok->suffix, file,
                                        "post_processor", 0, error))
    return FALSE;
  *decoder_byte_level = FALSE;
  if (json_object_object_get_ex (root, "decoder", &v) && v != NULL)
    {
      if ((*decoder = lens_tok_decoder_parse (v, file, "decoder", 0, error)) == NULL)
        return FALSE;
      json_object *t = NULL;
      *decoder_byte_level = json_object_object_get_ex (v, "type", &t)
                            && strcmp (json_object_get_string (t), "ByteLevel") == 0;
    }
  struct
  {
    const char *name;
    guint n;
  } counts[] = {
      {"normalizer", tok->normalizer ? lens_tok_normalizer_count (tok->normalizer) : 0},
      {"pre_tokenizer", tok->pretok ? lens_tok_pretokenizer_count (tok->pretok) : 0},
      {"decoder", *decoder ? lens_tok_decoder_count (*decoder) : 0},
  };
  for (guint i = 0; i < G_N_ELEMENTS (counts); i++)
    if (counts[i].n > LENS_TOK_MAX_STAGES)
      {
        set_error (error, LENS_ERROR_UNSUPPORTED, file,
                   "%s has %u stages, more than the limit of %d", counts[i].name, counts[i].n,
                   LENS_TOK_MAX_STAGES);
        return FALSE;
      }
  /* truncation and padding change the ids of long texts / batches: refused when set */
  static const char *const refused[] = {"truncation", "padding"};
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    if (json_object_object_get_ex (root, refused[i], &v) && v != NULL)
      {
        set_error (error, LENS_ERROR_UNSUPPORTED, file, "%s is set, which is not supported",
                   refused[i]);
        return FALSE;
      }
  return TRUE;
}

static LensTokenizer *
new_from_tokenizer_json (const char *json, size_t len, const char *config_json, size_t config_len,
                         GError **error)
{
  const char *file = "tokenizer.json";
  json_object *root = parse_json (json, len, file, error);
  if (root == NULL)
    return NULL;
  json_object *config = NULL;
  if (config_json != NULL
      && (config = parse_json (config_json, config_len, "tokenizer_config.json", error)) == NULL)
    {
      json_object_put (root);
      return NULL;
    }
  g_autoptr (LensTokenizer) tok = tokenizer_alloc ();
  Builder b = {.file = file};
  g_autoptr (GArray) added = g_array_new (FALSE, FALSE, sizeof (AddedToken));
  g_autoptr (LensTokDecoder) decoder = NULL;
  gboolean ok = FALSE, decoder_byte_level = FALSE;
  json_object *model = NULL, *type = NULL, *vocab = NULL, *merges = NULL, *added_json = NULL;

  if (!json_object_is_type (root, json_type_object))
    {
      set_error (error, LENS_ERROR_FORMAT, file, "the top level must be a JSON object, not %s",
                 json_type_label (root));
      goto out;
    }
  if (config != NULL && !json_object_is_type (config, json_type_object))
    {
      set_error (error, LENS_ERROR_FORMAT, "tokenizer_config.json",
                 "the top level must be a JSON object, not %s", json_type_label (config));
      goto out;
    }
  if (!json_object_object_get_ex (root, "model", &model)
      || !json_object_is_type (model, json_type_object))
    {
      set_error (error, LENS_ERROR_FORMAT, file, "\"model\" must be an object, not %s",
                 json_type_label (model));
      goto out;
    }
  if (json_object_object_get_ex (model, "type", &type))
    {
      if (!json_object_is_type (type, json_type_string))
        {
          set_error (error, LENS_ERROR_FORMAT, file, "model.type must be a string, not %s",
                     json_type_label (type));
          goto out;
        }
      if (strcmp (json_object_get_string (type), "BPE") != 0)
        {
          g_autofree char *shown
              = quote (json_object_get_string (type), (size_t) json_object_get_string_len (type));
          set_error (error, LENS_ERROR_UNSUPPORTED, file,
                     "model.type is %s; only \"BPE\" is supported", shown);
          goto out;
        }
    }
  if (!read_model_settings (tok, model, file, error))
    goto out;
  if (!json_object_object_get_ex (model, "vocab", &vocab))
    {
      set_error (error, LENS_ERROR_FORMAT, file, "model.vocab is missing");
      goto out;
    }
  if (!read_vocab (&b, vocab, "model.vocab", error))
    goto out;
  if (json_object_object_get_ex (root, "added_tokens", &added_json) && added_json != NULL
      && !read_added_tokens (&b, added_json, added, error))
    goto out;
  if (!finish_vocab (tok, &b, error) || !read_unk (tok, model, file, error))
    goto out;
  json_object_object_get_ex (model, "merges", &merges);
  if (!read_merges_json (tok, merges, file, error))
    goto out;
  for (guint i = 0; i < added->len; i++)
    {
      const LensTokAdded *t = &g_array_index (added, AddedToken, i).t;
      if (find_added (tok, t->id) == NULL)
        add_added (tok, t);
    }
  if (!read_stages (tok, root, file, &decoder, &decoder_byte_level, error))
    goto out;
  /* as tokenizers' AddedVocabulary does, a normalized added token is matched by its own content
   * normalized (with Lowercase, "Hi" is found as "hi" in the lowercased text) */
  for (guint i = 0; tok->normalizer != NULL && i < tok->n_added; i++)
    {
      LensTokAdded *t = &tok->added[i];
      if (!t->normalized)
        continue;
      g_autoptr (GString) c = g_string_new_len (t->content, (gssize) t->len);
      if (!lens_tok_normalizer_apply (tok->normalizer, c, LENS_TOK_LIMIT (t->len)))
        {
          set_error (error, LENS_ERROR_FORMAT, file,
                     "the normalizer makes added token %d more than %d times longer", t->id,
                     LENS_TOK_GROWTH);
          goto out;
        }
      g_free (t->content);
      t->len = c->len;
      t->content = g_string_free (g_steal_pointer (&c), FALSE);
    }
  /* the end-of-text token: tokenizer_config.json's eos_token when given, else the usual names */
  static const char *const eos_names[] = {"<|endoftext|>", "</s>", "<|end_of_text|>"};
  for (guint i = 0; i < G_N_ELEMENTS (eos_names) && tok->eos_id < 0; i++)
    {
      int32_t id = str_lookup (tok, eos_names[i], strlen (eos_names[i]));
      if (id >= 0 && find_added (tok, id) != NULL)
        tok->eos_id = id;
    }
  if (config != NULL && !apply_config (tok, config, "tokenizer_config.json", error))
    goto out;
  finish_display (tok, decoder);
  tok->lossless = tok->normalizer == NULL && decoder_byte_level && tok->pretok != NULL
                  && lens_tok_pretokenizer_lossless (tok->pretok) && tok->bpe.unk_id < 0;
  for (guint i = 0; i < tok->n_added; i++)
    tok->lossless &= !tok->added[i].lstrip && !tok->added[i].rstrip /* they take spaces */
                     && added_decodes_as_written (tok, &tok->added[i]);
  ok = TRUE;

out:
  builder_clear (&b);
  json_object_put (root);
  if (config != NULL)
    json_object_put (config);
  return ok ? g_steal_pointer (&tok) : NULL;
}

LensTokenizer *
lens_tokenizer_new_from_tokenizer_json_data (const char *json, size_t len, GError **error)
{
  return new_from_tokenizer_json (json, len, NULL, 0, error);
}

LensTokenizer *
lens_tokenizer_new_from_tokenizer_json_data_with_config (const char *json, size_t len,
                                                         const char *config, size_t config_len,
                                                         GError **error)
{
  return new_from_tokenizer_json (json, len, config, config_len, error);
}

/* ---- files ---- */

/* The data functions name the file by its usual base name; replace that with the real path. */
static void
prefix_path (GError **error, const char *path, const char *generic)
{
  if (error == NULL || *error == NULL)
    return;
  size_t gl = strlen (generic);
  const char *msg = (*error)->message;
  if (strncmp (msg, generic, gl) == 0 && msg[gl] == ':')
    {
      char *m = g_strconcat (path, msg + gl, NULL);
      g_free ((*error)->message);
      (*error)->message = m;
    }
}

LensTokenizer *
lens_tokenizer_new_from_gpt2_files (const char *vocab_json_path, const char *merges_path,
                                    GError **error)
{
  size_t vl = 0, ml = 0;
  g_autofree char *v = lens_file_read (vocab_json_path, MAX_FILE_SIZE, &vl, error);
  if (v == NULL)
    return NULL;
  g_autofree char *m = lens_file_read (merges_path, MAX_FILE_SIZE, &ml, error);
  if (m == NULL)
    return NULL;
  LensTokenizer *tok = lens_tokenizer_new_from_gpt2_data (v, vl, m, ml, error);
  prefix_path (error, vocab_json_path, "vocab.json");
  prefix_path (error, merges_path, "merges.txt");
  return tok;
}

LensTokenizer *
lens_tokenizer_new_from_tokenizer_json (const char *path, GError **error)
{
  size_t l = 0;
  g_autofree char *d = lens_file_read (path, MAX_FILE_SIZE, &l, error);
  if (d == NULL)
    return NULL;
  LensTokenizer *tok = lens_tokenizer_new_from_tokenizer_json_data (d, l, error);
  prefix_path (error, path, "tokenizer.json");
  return tok;
}

LensTokenizer *
lens_tokenizer_load_dir (const char *dir, GError **error)
{
  g_autofree char *tj = g_build_filename (dir, "tokenizer.json", NULL);
  g_autofree char *tc = g_build_filename (dir, "tokenizer_config.json", NULL);
  g_autofree char *vj = g_build_filename (dir, "vocab.json", NULL);
  g_autofree char *mt = g_build_filename (dir, "merges.txt", NULL);
  gboolean have_gpt2
      = g_file_test (vj, G_FILE_TEST_IS_REGULAR) && g_file_test (mt, G_FILE_TEST_IS_REGULAR);
  if (g_file_test (tj, G_FILE_TEST_EXISTS))
    {
      g_autoptr (GError) local = NULL;
      size_t l = 0, cl = 0;
      g_autofree char *d = lens_file_read (tj, MAX_FILE_SIZE, &l, error);
      if (d == NULL)
        return NULL;
      g_autofree char *c = NULL;
      if (g_file_test (tc, G_FILE_TEST_EXISTS)
          && (c = lens_file_read (tc, MAX_CONFIG_SIZE, &cl, error)) == NULL)
        return NULL;
      LensTokenizer *tok = new_from_tokenizer_json (d, l, c, cl, &local);
      prefix_path (&local, tj, "tokenizer.json");
      prefix_path (&local, tc, "tokenizer_config.json");
      if (tok != NULL)
        return tok;
      /* a tokenizer.json we cannot use (not BPE, an unsupported stage) falls back to GPT-2's
       * files; a broken one is reported */
      if (!have_gpt2 || !g_error_matches (local, LENS_ERROR, LENS_ERROR_UNSUPPORTED))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
    }
  if (!have_gpt2)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO,
                   "%s: no tokenizer found (need tokenizer.json, or vocab.json and merges.txt)",
                   dir);
      return NULL;
    }
  return lens_tokenizer_new_from_gpt2_files (vj, mt, error);
}

/* ---- encoding ---- */

/* Pre-tokenizes and encodes one stretch of normalized text that holds no added token. */
static gboolean
encode_piece (const LensTokenizer *tok, GArray *pieces, const char *s, size_t n, size_t offset,
              gboolean at_start, GArray *ids, GError **error)
{
  if (n == 0)
    return TRUE;
  LensTokPiece p = {g_memdup2 (s, n), n, offset, at_start, FALSE};
  g_array_append_val (pieces, p);
  gboolean ok = tok->pretok == NULL
                || lens_tok_pretokenizer_apply (tok->pretok, pieces, LENS_TOK_LIMIT (n), error);
  for (guint i = 0; ok && i < pieces->len; i++)
    ok = lens_tok_bpe_encode (&tok->bpe, &g_array_index (pieces, LensTokPiece, i), ids, error);
  lens_tok_pieces_clear (pieces);
  return ok;
}

/* tokenizers' encode without the post-processor: added tokens matched in the raw text, the rest
 * normalized, normalized added tokens matched in that, then pre-tokenizer and model. */
static gboolean
encode_text (const LensTokenizer *tok, const char *text, size_t n, GArray *ids, GError **error)
{
  g_autoptr (GArray) segs = g_array_new (FALSE, FALSE, sizeof (LensTokSegment));
  g_autoptr (GArray) segs2 = g_array_new (FALSE, FALSE, sizeof (LensTokSegment));
  g_autoptr (GArray) pieces = g_array_new (FALSE, FALSE, sizeof (LensTokPiece));
  g_autoptr (GString) norm = g_string_new (NULL);
  lens_tok_added_split (tok->added, tok->n_added, FALSE, text, n, segs);
  for (guint i = 0; i < segs->len; i++)
    {
      const LensTokSegment *sg = &g_array_index (segs, LensTokSegment, i);
      if (sg->id >= 0)
        {
          g_array_append_val (ids, sg->id);
          continue;
        }
      if (sg->end == sg->start)
        continue;
      if (tok->normalizer == NULL && !tok->any_normalized)
        {
          if (!encode_piece (tok, pieces, text + sg->start, sg->end - sg->start, sg->start,
                             sg->start == 0, ids, error))
            return FALSE;
          continue;
        }
      g_string_truncate (norm, 0);
      g_string_append_len (norm, text + sg->start, (gssize) (sg->end - sg->start));
      if (tok->normalizer != NULL
          && !lens_tok_normalizer_apply (tok->normalizer, norm,
                                         LENS_TOK_LIMIT (sg->end - sg->start)))
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                       "the normalizer failed: it makes the text more than %d times longer, or "
                       "its pattern took too long to match",
                       LENS_TOK_GROWTH);
          return FALSE;
        }
      g_array_set_size (segs2, 0);
      lens_tok_added_split (tok->added, tok->n_added, TRUE, norm->str, norm->len, segs2);
      for (guint j = 0; j < segs2->len; j++)
        {
          const LensTokSegment *s2 = &g_array_index (segs2, LensTokSegment, j);
          if (s2->id >= 0)
            g_array_append_val (ids, s2->id);
          /* offsets inside normalized text are approximate; they only serve error messages */
          else if (!encode_piece (tok, pieces, norm->str + s2->start, s2->end - s2->start,
                                  sg->start + MIN (s2->start, sg->end - sg->start),
                                  sg->start == 0 && s2->start == 0, ids, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* UTF-8 validation that accepts U+0000 (g_utf8_validate_len stops at NUL bytes); on failure,
 * `*bad` is the offset of the first invalid byte. */
static gboolean
utf8_valid (const char *text, size_t n, size_t *bad)
{
  size_t pos = 0;
  while (pos < n)
    {
      const char *nul = memchr (text + pos, '\0', n - pos);
      size_t chunk = nul ? (size_t) (nul - (text + pos)) : n - pos;
      const char *end = NULL;
      if (!g_utf8_validate_len (text + pos, chunk, &end))
        {
          *bad = (size_t) (end - text);
          return FALSE;
        }
      pos += chunk + (nul != NULL);
    }
  return TRUE;
}

static gboolean
encode (const LensTokenizer *tok, const char *text, gssize len, gboolean with_special, GArray *ids,
        GError **error)
{
  g_return_val_if_fail (tok != NULL && ids != NULL, FALSE);
  g_return_val_if_fail (g_array_get_element_size (ids) == sizeof (int32_t), FALSE);
  size_t n = len < 0 ? strlen (text) : (size_t) len;
  if (n > (size_t) G_MAXINT)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "text is too long (%zu bytes)", n);
      return FALSE;
    }
  size_t bad = 0;
  if (!utf8_valid (text, n, &bad))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "text is not valid UTF-8 at byte offset %zu", bad);
      return FALSE;
    }
  guint start_len = ids->len;
  if (with_special)
    g_array_append_vals (ids, tok->prefix->data, tok->prefix->len);
  if (!encode_text (tok, text, n, ids, error))
    {
      g_array_set_size (ids, start_len);
      return FALSE;
    }
  if (with_special)
    g_array_append_vals (ids, tok->suffix->data, tok->suffix->len);
  return TRUE;
}

gboolean
lens_tokenizer_encode (const LensTokenizer *tok, const char *text, gssize len, GArray *ids,
                       GError **error)
{
  return encode (tok, text, len, FALSE, ids, error);
}

gboolean
lens_tokenizer_encode_with_special (const LensTokenizer *tok, const char *text, gssize len,
                                    GArray *ids, GError **error)
{
  return encode (tok, text, len, TRUE, ids, error);
}

GPtrArray *
lens_tokenizer_pretokenize (const LensTokenizer *tok, const char *text, gssize len, GError **error)
{
  size_t n = len < 0 ? strlen (text) : (size_t) len, bad = 0;
  if (n > (size_t) G_MAXINT || !utf8_valid (text, n, &bad))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "text is too long or not valid UTF-8");
      return NULL;
    }
  g_autoptr (GArray) pieces = g_array_new (FALSE, FALSE, sizeof (LensTokPiece));
  if (n > 0)
    {
      LensTokPiece p = {g_memdup2 (text, n), n, 0, TRUE, FALSE};
      g_array_append_val (pieces, p);
    }
  if (tok->pretok != NULL
      && !lens_tok_pretokenizer_apply (tok->pretok, pieces, LENS_TOK_LIMIT (n), error))
    {
      lens_tok_pieces_clear (pieces);
      return NULL;
    }
  /* byte-level pieces are given as their raw bytes */
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < pieces->len; i++)
    {
      LensTokPiece *p = &g_array_index (pieces, LensTokPiece, i);
      g_ptr_array_add (out, g_strndup (p->s, p->len));
    }
  lens_tok_pieces_clear (pieces);
  return out;
}

gboolean
lens_tokenizer_is_lossless (const LensTokenizer *tok)
{
  return tok->lossless;
}

/* ---- queries ---- */

int
lens_tokenizer_vocab_size (const LensTokenizer *tok)
{
  return tok->n_ids;
}

const uint8_t *
lens_tokenizer_token_bytes (const LensTokenizer *tok, int32_t id, size_t *len)
{
  if (id < 0 || id >= tok->n_ids)
    {
      if (len)
        *len = 0;
      return NULL;
    }
  if (len)
    *len = tok->tok_len[id];
  return tok->blob + tok->tok_off[id];
}

char *
lens_tokenizer_token_display (const LensTokenizer *tok, int32_t id)
{
  size_t n = 0;
  const uint8_t *p = lens_tokenizer_token_bytes (tok, id, &n);
  if (p == NULL)
    return g_strdup_printf ("<id %d>", id);
  GString *s = g_string_sized_new (n + 1);
  const char *c = (const char *) p, *end = c + n;
  while (c < end)
    {
      const char *valid_end = NULL;
      /* g_utf8_validate_len treats NUL as invalid, so NUL bytes are escaped too */
      g_utf8_validate_len (c, (gsize) (end - c), &valid_end);
      g_string_append_len (s, c, valid_end - c);
      if (valid_end < end)
        {
          g_string_append_printf (s, "\\x%02X", (guint8) *valid_end);
          valid_end++;
        }
      c = valid_end;
    }
  return g_string_free (s, FALSE);
}

/* Length of the maximal prefix of `p` (n > 0 bytes) that could start a valid UTF-8 sequence
 * (at least 1), and whether it is a complete character: the WHATWG / Unicode "maximal subpart"
 * rule, so that each broken sequence becomes exactly one U+FFFD, as Python and browsers do. */
static size_t
utf8_step (const uint8_t *p, size_t n, gboolean *valid)
{
  uint8_t b = p[0];
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;
  *valid = FALSE;
  if (b < 0x80)
    {
      *valid = TRUE;
      return 1;
    }
  else if (b >= 0xC2 && b <= 0xDF)
    need = 1;
  else if (b >= 0xE0 && b <= 0xEF)
    {
      need = 2;
      if (b == 0xE0)
        lo = 0xA0;
      else if (b == 0xED)
        hi = 0x9F;
    }
  else if (b >= 0xF0 && b <= 0xF4)
    {
      need = 3;
      if (b == 0xF0)
        lo = 0x90;
      else if (b == 0xF4)
        hi = 0x8F;
    }
  else
    return 1;
  size_t i = 1;
  for (; i <= need; i++)
    {
      if (i >= n || p[i] < lo || p[i] > hi)
        return i;
      lo = 0x80;
      hi = 0xBF;
    }
  *valid = TRUE;
  return i;
}

char *
lens_tokenizer_decode (const LensTokenizer *tok, const int32_t *ids, size_t n)
{
  g_autoptr (GByteArray) raw = g_byte_array_new ();
  for (size_t i = 0; i < n; i++)
    {
      size_t l = 0;
      const uint8_t *p = lens_tokenizer_token_bytes (tok, ids[i], &l);
      if (p != NULL)
        g_byte_array_append (raw, p, (guint) l);
      else
        g_byte_array_append (raw, (const guint8 *) "\xEF\xBF\xBD", 3);
    }
  GString *s = g_string_sized_new (raw->len + 1);
  const uint8_t *p = raw->data;
  size_t left = raw->len;
  while (left > 0)
    {
      gboolean valid;
      size_t step = utf8_step (p, left, &valid);
      /* a NUL byte would silently cut the returned C string short, so it is replaced too */
      if (valid && p[0] != 0)
        g_string_append_len (s, (const char *) p, (gssize) step);
      else
        g_string_append (s, "\xEF\xBF\xBD");
      p += step;
      left -= step;
    }
  return g_string_free (s, FALSE);
}

int32_t
lens_tokenizer_lookup (const LensTokenizer *tok, const char *vocab_string)
{
  return vocab_string ? str_lookup (tok, vocab_string, strlen (vocab_string)) : -1;
}

int32_t
lens_tokenizer_eos_id (const LensTokenizer *tok)
{
  return tok->eos_id;
}

gboolean
lens_tokenizer_equal (const LensTokenizer *a, const LensTokenizer *b)
{
  if (a->n_ids != b->n_ids || a->eos_id != b->eos_id || a->n_added != b->n_added
      || a->bpe.n_vocab != b->bpe.n_vocab
      || memcmp (a->bpe.byte_id, b->bpe.byte_id, sizeof a->bpe.byte_id) != 0)
    return FALSE;
  for (int32_t id = 0; id < a->n_ids; id++)
    if (a->tok_len[id] != b->tok_len[id]
        || memcmp (a->blob + a->tok_off[id], b->blob + b->tok_off[id], a->tok_len[id]) != 0
        || a->strs.len[id] != b->strs.len[id]
        || memcmp (vocab_text (&a->strs, id), vocab_text (&b->strs, id), a->strs.len[id]) != 0
        || str_lookup (a, vocab_text (&a->strs, id), a->strs.len[id])
               != str_lookup (b, vocab_text (&b->strs, id), b->strs.len[id]))
      return FALSE;
  for (guint i = 0; i < a->n_added; i++)
    if (a->added[i].id != b->added[i].id || a->added[i].len != b->added[i].len
        || memcmp (a->added[i].content, b->added[i].content, a->added[i].len) != 0)
      return FALSE;
  /* the merge tables: the same pairs with the same ranks and results */
  for (size_t i = 0; i < a->bpe.merge_cap; i++)
    {
      const LensTokMerge *s = &a->bpe.merges[i];
      if (s->key == 0)
        continue;
      const LensTokMerge *t = lens_tok_bpe_merge_find (&b->bpe, (int32_t) (s->key >> 32) - 1,
                                                       (int32_t) (guint32) s->key);
      if (t->key != s->key || t->rank != s->rank || t->merged != s->merged)
        return FALSE;
    }
  size_t na = 0, nb = 0;
  for (size_t i = 0; i < a->bpe.merge_cap; i++)
    na += a->bpe.merges[i].key != 0;
  for (size_t i = 0; i < b->bpe.merge_cap; i++)
    nb += b->bpe.merges[i].key != 0;
  return na == nb;
}
