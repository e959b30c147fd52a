/* lens-tokenizer.c: GPT-2 byte-level BPE (see lens-tokenizer.h).
 *
 * Encoding follows OpenAI's encoder.py (and Hugging Face's ByteLevel + BPE, which agree with it):
 * text is split at added/special tokens, each remaining segment is split by GPT-2's regex, every
 * piece is turned into single-byte tokens and merged pair by pair, always merging every
 * occurrence of the lowest-ranked pair first. The merge loop uses a heap so that a hostile
 * multi-megabyte "word" stays O(n log n). */
#include "lens-tokenizer.h"
#include "lens-file.h"

#include "lens-error.h"
#include "lens-json.h"
#include "lens-tokenizer-private.h"

#include <json-c/json.h>
#include <string.h>

/* GPT-2's pattern. GPT-2 (Python `regex`) and Hugging Face (Oniguruma) take \s to be Unicode's
 * White_Space property. PCRE2's \s in UCP mode is that plus U+180E MONGOLIAN VOWEL SEPARATOR (a
 * format character since Unicode 6.3, still in PCRE2's \h), so \s is spelt out as White_Space's
 * definition: \t-\r, U+0085 NEXT LINE and the separators \p{Z}. Letters,
 * numbers and separators all come from PCRE2's Unicode tables; tests/tokenizer checks every code
 * point against GPT-2's semantics. */
#define WS "\\t-\\r\\x{85}\\p{Z}"
#define GPT2_PATTERN                                                                               \
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS         \
  "])|[" WS "]+"

/* Upper bounds that keep every size computation far from overflow; real vocabularies have a few
 * hundred thousand entries at most. */
#define MAX_IDS (1 << 24)
/* tokenizer.json of the largest public vocabularies is tens of MB; this bounds what a hostile
 * file can make us allocate */
#define MAX_FILE_SIZE ((gsize) 512 << 20)

/* Words up to this many bytes are cached; longer ones are rare and would bloat the cache. */
#define CACHE_MAX_WORD 64
#define CACHE_MAX_ENTRIES (1 << 18)

typedef struct
{
  guint64 key; /* (left id << 32) | right id; 0 marks an empty slot (see merge_key) */
  int32_t rank;
  int32_t merged;
} MergeSlot;

typedef struct
{
  uint8_t *bytes;
  size_t len;
  int32_t id;
} SpecialToken;

typedef struct
{
  const char *p;
  size_t len;
} WordKey;

typedef struct
{
  WordKey key; /* key.p points into this allocation, just after the ids */
  guint n;
  int32_t ids[];
} CacheEntry;

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
  /* token bytes: id -> blob[tok_off[id] .. tok_off[id] + tok_len[id]) */
  uint8_t *blob;
  size_t *tok_off;
  size_t *tok_len;
  VocabStrings strs;
  int32_t byte_id[256]; /* id of the single-byte token for each byte, -1 if absent */
  MergeSlot *merges;
  size_t merge_cap; /* power of two */
  SpecialToken *specials;
  guint n_specials;
  int32_t eos_id;
  GRegex *pretok;
  GMutex cache_lock;
  GHashTable *cache; /* WordKey* -> CacheEntry* (the key lives inside the entry) */
};

/* ---- byte <-> unicode mapping (GPT-2's bytes_to_unicode) ---- */

static guint32 byte_to_cp[256];
static int16_t cp_to_byte[324]; /* the mapping's code points are all below 256 + 68 */

static void
init_byte_map (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done))
    {
      int n = 0;
      for (int b = 0; b < 256; b++)
        {
          gboolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
          byte_to_cp[b] = printable ? (guint32) b : (guint32) (256 + n++);
        }
      for (int c = 0; c < 324; c++)
        cp_to_byte[c] = -1;
      for (int b = 0; b < 256; b++)
        cp_to_byte[byte_to_cp[b]] = (int16_t) b;
      g_once_init_leave (&done, 1);
    }
}

/* ---- merge table: open addressing on (left, right) ---- */

static inline guint64
merge_key (int32_t left, int32_t right)
{
  /* +1 so that no real pair maps to the empty-slot value 0 */
  return (((guint64) (guint32) left + 1) << 32) | (guint32) right;
}

static inline size_t
merge_hash (guint64 k)
{
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return (size_t) k;
}

static MergeSlot *
merge_find (const LensTokenizer *tok, int32_t left, int32_t right)
{
  guint64 k = merge_key (left, right);
  size_t mask = tok->merge_cap - 1;
  for (size_t i = merge_hash (k) & mask;; i = (i + 1) & mask)
    {
      MergeSlot *s = &tok->merges[i];
      if (s->key == k || s->key == 0)
        return s;
    }
}

/* ---- word cache ---- */

static guint
word_key_hash (gconstpointer p)
{
  const WordKey *k = p;
  guint h = 2166136261u;
  for (size_t i = 0; i < k->len; i++)
    h = (h ^ (guint8) k->p[i]) * 16777619u;
  return h;
}

static gboolean
word_key_equal (gconstpointer a, gconstpointer b)
{
  const WordKey *x = a, *y = b;
  return x->len == y->len && memcmp (x->p, y->p, x->len) == 0;
}

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

static LensTokenizer *
tokenizer_alloc (void)
{
  init_byte_map ();
  LensTokenizer *tok = g_new0 (LensTokenizer, 1);
  tok->eos_id = -1;
  g_mutex_init (&tok->cache_lock);
  tok->cache = g_hash_table_new_full (word_key_hash, word_key_equal, NULL, g_free);
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
  g_free (tok->merges);
  for (guint i = 0; i < tok->n_specials; i++)
    g_free (tok->specials[i].bytes);
  g_free (tok->specials);
  g_clear_pointer (&tok->pretok, g_regex_unref);
  g_clear_pointer (&tok->cache, g_hash_table_unref);
  g_mutex_clear (&tok->cache_lock);
  g_free (tok);
}

static int32_t
str_lookup (const LensTokenizer *tok, const char *s, size_t len)
{
  return vocab_find (&tok->strs, s, len);
}

/* Reads the vocabulary object (string -> id) into the builder. Ids must be exactly 0..N-1. */
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
static gboolean
finish_vocab (LensTokenizer *tok, Builder *b, GError **error)
{
  if (b->strs.chars->len > G_MAXUINT / 2)
    {
      set_error (error, LENS_ERROR_FORMAT, b->file, "the vocabulary is too large");
      return FALSE;
    }
  tok->n_ids = b->n_ids;
  tok->tok_off = g_new (size_t, b->n_ids);
  tok->tok_len = g_new (size_t, b->n_ids);
  /* a byte-alphabet character is at least one byte of the vocab string, so the token bytes are
   * never longer than the strings */
  uint8_t *blob = g_malloc (MAX (b->strs.chars->len, 1));
  size_t used = 0;
  for (int i = 0; i < b->n_ids; i++)
    {
      const char *s = vocab_text (&b->strs, i), *end = s + b->strs.len[i];
      tok->tok_off[i] = used;
      if (i >= b->n_vocab) /* added tokens beyond the vocabulary are plain text */
        {
          memcpy (blob + used, s, b->strs.len[i]);
          used += b->strs.len[i];
        }
      else
        while (s < end)
          {
            /* characters outside the byte alphabet (added tokens stored in the vocabulary) stand
             * for their own UTF-8 bytes */
            gunichar c = g_utf8_get_char (s);
            const char *next = g_utf8_next_char (s);
            if (c < 324 && cp_to_byte[c] >= 0)
              blob[used++] = (uint8_t) cp_to_byte[c];
            else
              {
                memcpy (blob + used, s, (size_t) (next - s));
                used += (size_t) (next - s);
              }
            s = next;
          }
      tok->tok_len[i] = used - tok->tok_off[i];
    }
  tok->blob = blob;

  /* read_vocab_flat has indexed the vocabulary already; only added tokens come after */
  if (b->strs.slots == NULL || b->n_ids != b->n_vocab)
    vocab_index (&b->strs, b->n_ids, 0);
  tok->strs = b->strs;
  memset (&b->strs, 0, sizeof b->strs);

  for (int c = 0; c < 256; c++)
    {
      char s[8];
      int l = g_unichar_to_utf8 (byte_to_cp[c], s);
      int32_t id = str_lookup (tok, s, (size_t) l);
      tok->byte_id[c] = (id >= 0 && id < b->n_vocab) ? id : -1;
    }
  return TRUE;
}

/* Where a merge was read, for error messages: "line N" of merges.txt or "model.merges[N]" of
 * tokenizer.json. Only formatted when there is an error to report. */
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
  MergeSlot *s = merge_find (tok, a, b);
  /* a repeated pair takes the later rank, as in encoder.py's dict(zip(merges, range(...))) and
   * in Hugging Face's BPE */
  s->key = merge_key (a, b);
  s->rank = rank;
  s->merged = m;
  return TRUE;
}

static void
alloc_merges (LensTokenizer *tok, size_t n)
{
  size_t cap = 16;
  while (cap < 2 * n + 2)
    cap *= 2;
  tok->merge_cap = cap;
  tok->merges = g_new0 (MergeSlot, cap);
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
  alloc_merges (tok, n_lines);

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

static gboolean
compile_pattern (LensTokenizer *tok, GError **error)
{
  g_autoptr (GError) local = NULL;
  tok->pretok = g_regex_new (GPT2_PATTERN, G_REGEX_OPTIMIZE, 0, &local);
  if (tok->pretok == NULL)
    {
      /* cannot happen with a working GLib; reported rather than asserted */
      g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                   "tokenizer: cannot compile GPT-2's pre-tokenizer pattern: %s", local->message);
      return FALSE;
    }
  return TRUE;
}

static void
add_special (LensTokenizer *tok, const uint8_t *bytes, size_t len, int32_t id)
{
  if (len == 0)
    return;
  for (guint i = 0; i < tok->n_specials; i++)
    if (tok->specials[i].len == len && memcmp (tok->specials[i].bytes, bytes, len) == 0)
      return;
  tok->specials = g_renew (SpecialToken, tok->specials, tok->n_specials + 1);
  tok->specials[tok->n_specials++] = (SpecialToken){g_memdup2 (bytes, len), len, id};
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

static LensTokenizer *
new_from_gpt2_data (const char *vocab_json, size_t vocab_len, const char *merges, size_t merges_len,
                    gboolean allow_flat, GError **error)
{
  g_autoptr (LensTokenizer) tok = tokenizer_alloc ();
  Builder b = {.file = "vocab.json"};
  gboolean ok = read_vocab_json (&b, vocab_json, vocab_len, allow_flat, error)
                && finish_vocab (tok, &b, error);
  builder_clear (&b);
  if (!ok || !read_merges_txt (tok, merges, merges_len, error) || !compile_pattern (tok, error))
    return NULL;
  int32_t eos = str_lookup (tok, "<|endoftext|>", 13);
  if (eos >= 0)
    {
      tok->eos_id = eos;
      add_special (tok, (const uint8_t *) "<|endoftext|>", 13, eos);
    }
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
  init_byte_map ();
  Builder b = {.file = "vocab.json"};
  gboolean flat = read_vocab_flat (&b, vocab_json, len);
  builder_clear (&b);
  return flat;
}

/* ---- tokenizer.json ---- */

static gboolean
check_null_or (json_object *parent, const char *key, json_type allowed, const char *file,
               const char *where, GError **error)
{
  json_object *v = NULL;
  if (!json_object_object_get_ex (parent, key, &v) || v == NULL)
    return TRUE;
  if (!json_object_is_type (v, allowed))
    {
      set_error (error, LENS_ERROR_FORMAT, file, "%s.%s must be %s or null, not %s", where, key,
                 json_type_to_name (allowed), json_type_label (v));
      return FALSE;
    }
  return TRUE;
}

/* The settings that would change results and that this tokenizer does not implement are refused,
 * so a file is either tokenized exactly as Hugging Face would or not at all. */
static gboolean
check_tokenizer_json_settings (json_object *root, json_object *model, const char *file,
                               GError **error)
{
  json_object *v;
  if (json_object_object_get_ex (root, "normalizer", &v) && v != NULL)
    {
      set_error (error, LENS_ERROR_UNSUPPORTED, file,
                 "a normalizer is set; only GPT-2-style byte-level BPE without one is supported");
      return FALSE;
    }
  json_object *pre = NULL, *type = NULL;
  if (!json_object_object_get_ex (root, "pre_tokenizer", &pre) || pre == NULL
      || !json_object_is_type (pre, json_type_object)
      || !json_object_object_get_ex (pre, "type", &type)
      || !json_object_is_type (type, json_type_string)
      || strcmp (json_object_get_string (type), "ByteLevel") != 0)
    {
      set_error (error, LENS_ERROR_UNSUPPORTED, file,
                 "pre_tokenizer must be {\"type\": \"ByteLevel\", ...} (GPT-2 style)");
      return FALSE;
    }
  if (json_object_object_get_ex (pre, "add_prefix_space", &v) && v != NULL
      && (!json_object_is_type (v, json_type_boolean) || json_object_get_boolean (v)))
    {
      set_error (error, LENS_ERROR_UNSUPPORTED, file,
                 "pre_tokenizer.add_prefix_space must be false");
      return FALSE;
    }
  if (json_object_object_get_ex (pre, "use_regex", &v) && v != NULL
      && (!json_object_is_type (v, json_type_boolean) || !json_object_get_boolean (v)))
    {
      set_error (error, LENS_ERROR_UNSUPPORTED, file, "pre_tokenizer.use_regex must be true");
      return FALSE;
    }
  if (!check_null_or (model, "unk_token", json_type_string, file, "model", error))
    return FALSE;
  if (json_object_object_get_ex (model, "dropout", &v) && v != NULL
      && (!(json_object_is_type (v, json_type_double) || json_object_is_type (v, json_type_int))
          || json_object_get_double (v) != 0.0))
    {
      set_error (error, LENS_ERROR_UNSUPPORTED, file, "model.dropout must be null");
      return FALSE;
    }
  static const char *const empty_strings[] = {"continuing_subword_prefix", "end_of_word_suffix"};
  for (guint i = 0; i < G_N_ELEMENTS (empty_strings); i++)
    if (json_object_object_get_ex (model, empty_strings[i], &v) && v != NULL
        && (!json_object_is_type (v, json_type_string) || json_object_get_string_len (v) != 0))
      {
        set_error (error, LENS_ERROR_UNSUPPORTED, file, "model.%s must be null", empty_strings[i]);
        return FALSE;
      }
  static const char *const false_flags[] = {"byte_fallback", "ignore_merges"};
  for (guint i = 0; i < G_N_ELEMENTS (false_flags); i++)
    if (json_object_object_get_ex (model, false_flags[i], &v) && v != NULL
        && (!json_object_is_type (v, json_type_boolean) || json_object_get_boolean (v)))
      {
        set_error (error, LENS_ERROR_UNSUPPORTED, file, "model.%s must be false", false_flags[i]);
        return FALSE;
      }
  return TRUE;
}

typedef struct
{
  int64_t id;
  const char *content;
  size_t len;
  guint index;
} AddedToken;

static int
added_cmp (gconstpointer a, gconstpointer b)
{
  const AddedToken *x = a, *y = b;
  if (x->id != y->id)
    return x->id < y->id ? -1 : 1;
  return x->index < y->index ? -1 : (x->index > y->index);
}

/* Reads added_tokens: an entry whose id is inside the vocabulary must name the same token; the
 * others extend the id range without gaps. Their contents are collected for `specials`. */
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
      if (!json_object_is_type (e, json_type_object))
        {
          set_error (error, LENS_ERROR_FORMAT, b->file,
                     "added_tokens[%zu] must be an object, not %s", i, json_type_label (e));
          return FALSE;
        }
      if (!json_object_object_get_ex (e, "id", &jid) || !json_object_is_type (jid, json_type_int))
        {
          set_error (error, LENS_ERROR_FORMAT, b->file,
                     "added_tokens[%zu].id must be an integer, not %s", i, json_type_label (jid));
          return FALSE;
        }
      if (!json_object_object_get_ex (e, "content", &jc)
          || !json_object_is_type (jc, json_type_string) || json_object_get_string_len (jc) == 0)
        {
          set_error (error, LENS_ERROR_FORMAT, b->file,
                     "added_tokens[%zu].content must be a non-empty string", i);
          return FALSE;
        }
      static const char *const flags[] = {"lstrip", "rstrip", "single_word"};
      for (guint f = 0; f < G_N_ELEMENTS (flags); f++)
        {
          json_object *v;
          if (json_object_object_get_ex (e, flags[f], &v) && v != NULL
              && (!json_object_is_type (v, json_type_boolean) || json_object_get_boolean (v)))
            {
              set_error (error, LENS_ERROR_UNSUPPORTED, b->file,
                         "added_tokens[%zu].%s is set; only plain added tokens are supported", i,
                         flags[f]);
              return FALSE;
            }
        }
      if (!g_utf8_validate_len (json_object_get_string (jc),
                                (gsize) json_object_get_string_len (jc), NULL))
        {
          set_error (error, LENS_ERROR_FORMAT, b->file,
                     "added_tokens[%zu].content is not valid UTF-8", i);
          return FALSE;
        }
      AddedToken t = {json_object_get_int64 (jid), json_object_get_string (jc),
                      (size_t) json_object_get_string_len (jc), (guint) i};
      if (t.id < 0 || t.id >= MAX_IDS)
        {
          set_error (error, LENS_ERROR_FORMAT, b->file,
                     "added_tokens[%zu].id %" G_GINT64_FORMAT " is out of range", i, t.id);
          return FALSE;
        }
      g_array_append_val (added, t);
    }
  g_array_sort (added, added_cmp);

  for (guint i = 0; i < added->len; i++)
    {
      AddedToken *t = &g_array_index (added, AddedToken, i);
      if (t->id < b->n_ids)
        {
          const char *known = vocab_text (&b->strs, (int32_t) t->id);
          if (b->strs.len[t->id] != t->len || memcmp (known, t->content, t->len) != 0)
            {
              g_autofree char *mine = quote (t->content, t->len);
              g_autofree char *other = quote (known, b->strs.len[t->id]);
              set_error (error, LENS_ERROR_FORMAT, b->file,
                         "added_tokens[%u] (%s) has id %" G_GINT64_FORMAT
                         ", which already belongs to %s",
                         t->index, mine, t->id, other);
              return FALSE;
            }
          continue;
        }
      if (t->id != b->n_ids)
        {
          set_error (error, LENS_ERROR_FORMAT, b->file,
                     "added_tokens[%u] has id %" G_GINT64_FORMAT
                     ", beyond the vocabulary of %d ids (ids must not leave gaps)",
                     t->index, t->id, b->n_ids);
          return FALSE;
        }
      b->strs.off = g_renew (size_t, b->strs.off, b->n_ids + 1);
      b->strs.len = g_renew (size_t, b->strs.len, b->n_ids + 1);
      builder_set (b, b->n_ids, t->content, t->len);
      b->n_ids++;
    }
  return TRUE;
}

LensTokenizer *
lens_tokenizer_new_from_tokenizer_json_data (const char *json, size_t len, GError **error)
{
  const char *file = "tokenizer.json";
  json_object *root = parse_json (json, len, file, error);
  if (root == NULL)
    return NULL;
  g_autoptr (LensTokenizer) tok = tokenizer_alloc ();
  Builder b = {.file = file};
  g_autoptr (GArray) added = g_array_new (FALSE, FALSE, sizeof (AddedToken));
  gboolean ok = FALSE;
  json_object *model = NULL, *type = NULL, *vocab = NULL, *merges = NULL, *added_json = NULL;

  if (!json_object_is_type (root, json_type_object))
    {
      set_error (error, LENS_ERROR_FORMAT, file, "the top level must be a JSON object, not %s",
                 json_type_label (root));
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
  if (!check_tokenizer_json_settings (root, model, file, error))
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
  if (!finish_vocab (tok, &b, error))
    goto out;

  if (!json_object_object_get_ex (model, "merges", &merges)
      || !json_object_is_type (merges, json_type_array))
    {
      set_error (error, LENS_ERROR_FORMAT, file, "model.merges must be an array, not %s",
                 json_type_label (merges));
      goto out;
    }
  size_t n_merges = json_object_array_length (merges);
  if (n_merges > MAX_IDS)
    {
      set_error (error, LENS_ERROR_FORMAT, file, "model.merges has too many entries (%zu)",
                 n_merges);
      goto out;
    }
  alloc_merges (tok, n_merges);
  for (size_t i = 0; i < n_merges; i++)
    {
      json_object *m = json_object_array_get_idx (merges, i);
      MergeWhere where = {"model.merges[", "]", i};
      if (json_object_is_type (m, json_type_string))
        {
          if (!parse_merge_line (tok, file, json_object_get_string (m),
                                 (size_t) json_object_get_string_len (m), (int32_t) i, &where,
                                 error))
            goto out;
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
            goto out;
        }
      else
        {
          g_autofree char *w = merge_where (&where);
          set_error (error, LENS_ERROR_FORMAT, file,
                     "%s must be a string \"a b\" or a pair [\"a\", \"b\"], not %s", w,
                     json_type_label (m));
          goto out;
        }
    }
  if (!compile_pattern (tok, error))
    goto out;

  for (guint i = 0; i < added->len; i++)
    {
      AddedToken *t = &g_array_index (added, AddedToken, i);
      add_special (tok, (const uint8_t *) t->content, t->len, (int32_t) t->id);
    }
  /* as in Hugging Face, only added_tokens are matched in text; a vocabulary entry that looks
   * special but is not listed there is ordinary text */
  tok->eos_id = str_lookup (tok, "<|endoftext|>", 13);
  ok = TRUE;

out:
  builder_clear (&b);
  json_object_put (root);
  return ok ? g_steal_pointer (&tok) : NULL;
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
  g_autofree char *vj = g_build_filename (dir, "vocab.json", NULL);
  g_autofree char *mt = g_build_filename (dir, "merges.txt", NULL);
  gboolean have_gpt2
      = g_file_test (vj, G_FILE_TEST_IS_REGULAR) && g_file_test (mt, G_FILE_TEST_IS_REGULAR);
  if (g_file_test (tj, G_FILE_TEST_EXISTS))
    {
      g_autoptr (GError) local = NULL;
      LensTokenizer *tok = lens_tokenizer_new_from_tokenizer_json (tj, &local);
      if (tok != NULL)
        return tok;
      /* a tokenizer.json we cannot use (not BPE, other pre-tokenizer) falls back to GPT-2's
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

typedef struct
{
  int32_t rank;
  int32_t pos; /* index of the left symbol */
  int32_t left, right;
} Cand;

static inline gboolean
cand_less (const Cand *a, const Cand *b)
{
  return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void
heap_push (GArray *h, Cand c)
{
  g_array_append_val (h, c);
  Cand *a = (Cand *) h->data;
  guint i = h->len - 1;
  while (i > 0)
    {
      guint p = (i - 1) / 2;
      if (!cand_less (&a[i], &a[p]))
        break;
      Cand t = a[i];
      a[i] = a[p];
      a[p] = t;
      i = p;
    }
}

static Cand
heap_pop (GArray *h)
{
  Cand *a = (Cand *) h->data;
  Cand top = a[0];
  a[0] = a[h->len - 1];
  g_array_set_size (h, h->len - 1);
  guint n = h->len, i = 0;
  for (;;)
    {
      guint l = 2 * i + 1, r = l + 1, m = i;
      if (l < n && cand_less (&a[l], &a[m]))
        m = l;
      if (r < n && cand_less (&a[r], &a[m]))
        m = r;
      if (m == i)
        break;
      Cand t = a[i];
      a[i] = a[m];
      a[m] = t;
      i = m;
    }
  return top;
}

typedef struct
{
  GArray *id;   /* int32_t per symbol, -1 once merged into its left neighbour */
  GArray *next; /* int32_t, -1 at the end */
  GArray *prev; /* int32_t, -1 at the start */
  GArray *heap; /* Cand */
  GArray *pending;
} Scratch;

static void
push_pair (const LensTokenizer *tok, GArray *dst, const int32_t *id, int32_t l, int32_t r,
           gboolean heap)
{
  if (l < 0 || r < 0)
    return;
  MergeSlot *s = merge_find (tok, id[l], id[r]);
  if (s->key == 0)
    return;
  Cand c = {s->rank, l, id[l], id[r]};
  if (heap)
    heap_push (dst, c);
  else
    g_array_append_val (dst, c);
}

/* BPE on one pre-token's bytes; appends the resulting ids. Merges follow encoder.py exactly: take
 * the lowest-ranked pair present, merge all its occurrences left to right, repeat. */
static gboolean
bpe_word (const LensTokenizer *tok, const uint8_t *w, size_t n, size_t offset, Scratch *sc,
          GArray *out, GError **error)
{
  if (n > G_MAXINT32 / 2)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "text is too long");
      return FALSE;
    }
  g_array_set_size (sc->id, n);
  g_array_set_size (sc->next, n);
  g_array_set_size (sc->prev, n);
  int32_t *id = (int32_t *) sc->id->data, *next = (int32_t *) sc->next->data,
          *prev = (int32_t *) sc->prev->data;
  for (size_t i = 0; i < n; i++)
    {
      id[i] = tok->byte_id[w[i]];
      if (id[i] < 0)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                       "byte 0x%02x at offset %zu has no token in the vocabulary", w[i],
                       offset + i);
          return FALSE;
        }
      next[i] = i + 1 < n ? (int32_t) (i + 1) : -1;
      prev[i] = (int32_t) i - 1;
    }
  g_array_set_size (sc->heap, 0);
  for (size_t i = 0; i + 1 < n; i++)
    push_pair (tok, sc->heap, id, (int32_t) i, (int32_t) i + 1, TRUE);

  while (sc->heap->len > 0)
    {
      int32_t rank = ((Cand *) sc->heap->data)[0].rank;
      g_array_set_size (sc->pending, 0);
      while (sc->heap->len > 0 && ((Cand *) sc->heap->data)[0].rank == rank)
        {
          Cand c = heap_pop (sc->heap);
          int32_t l = c.pos, r = next[l];
          if (id[l] != c.left || r < 0 || id[r] != c.right)
            continue; /* stale: one side was merged since */
          id[l] = merge_find (tok, c.left, c.right)->merged;
          id[r] = -1;
          next[l] = next[r];
          if (next[r] >= 0)
            prev[next[r]] = l;
          /* new pairs wait until this rank is done, as encoder.py's sweep does */
          push_pair (tok, sc->pending, id, prev[l], l, FALSE);
          push_pair (tok, sc->pending, id, l, next[l], FALSE);
        }
      for (guint i = 0; i < sc->pending->len; i++)
        heap_push (sc->heap, g_array_index (sc->pending, Cand, i));
    }
  for (int32_t i = 0; i >= 0; i = next[i])
    g_array_append_val (out, id[i]);
  return TRUE;
}

static gboolean
encode_word (const LensTokenizer *tok, const char *w, size_t n, size_t offset, Scratch *sc,
             GArray *out, GError **error)
{
  LensTokenizer *mtok = (LensTokenizer *) tok; /* the cache is internal, guarded by its lock */
  if (n <= CACHE_MAX_WORD)
    {
      WordKey k = {w, n};
      g_mutex_lock (&mtok->cache_lock);
      CacheEntry *e = g_hash_table_lookup (mtok->cache, &k);
      if (e != NULL)
        g_array_append_vals (out, e->ids, e->n);
      g_mutex_unlock (&mtok->cache_lock);
      if (e != NULL)
        return TRUE;
    }
  guint before = out->len;
  if (!bpe_word (tok, (const uint8_t *) w, n, offset, sc, out, error))
    return FALSE;
  if (n <= CACHE_MAX_WORD)
    {
      guint cnt = out->len - before;
      CacheEntry *e = g_malloc (sizeof (CacheEntry) + cnt * sizeof (int32_t) + n);
      e->n = cnt;
      memcpy (e->ids, &g_array_index (out, int32_t, before), cnt * sizeof (int32_t));
      char *kp = (char *) (e->ids + cnt);
      memcpy (kp, w, n);
      e->key = (WordKey){kp, n};
      g_mutex_lock (&mtok->cache_lock);
      if (g_hash_table_size (mtok->cache) >= CACHE_MAX_ENTRIES)
        g_hash_table_remove_all (mtok->cache);
      g_hash_table_replace (mtok->cache, &e->key, e);
      g_mutex_unlock (&mtok->cache_lock);
    }
  return TRUE;
}

/* Pre-tokenizes a segment that contains no special token and encodes each piece; with `pieces`
 * set, collects the pieces instead. */
static gboolean
encode_segment (const LensTokenizer *tok, const char *s, size_t n, size_t offset, Scratch *sc,
                GArray *out, GPtrArray *pieces, GError **error)
{
  if (n == 0)
    return TRUE;
  g_autoptr (GMatchInfo) mi = NULL;
  g_autoptr (GError) local = NULL;
  size_t pos = 0;
  g_regex_match_full (tok->pretok, s, (gssize) n, 0, 0, &mi, &local);
  while (local == NULL && g_match_info_matches (mi))
    {
      int a = -1, b = -1;
      g_match_info_fetch_pos (mi, 0, &a, &b);
      /* the pattern's alternatives cover every character, so matches tile the segment */
      if (a < 0 || (size_t) a != pos || b <= a)
        break;
      if (pieces != NULL)
        g_ptr_array_add (pieces, g_strndup (s + a, (gsize) (b - a)));
      else if (!encode_word (tok, s + a, (size_t) (b - a), offset + (size_t) a, sc, out, error))
        return FALSE;
      pos = (size_t) b;
      g_match_info_next (mi, &local);
    }
  if (local != NULL || pos != n)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "pre-tokenizer failed at byte offset %zu%s%s", offset + pos, local ? ": " : "",
                   local ? local->message : "");
      return FALSE;
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

static const char *
find_bytes (const char *hay, size_t n, const uint8_t *needle, size_t m)
{
  const char *end = hay + n;
  while (m > 0 && (size_t) (end - hay) >= m)
    {
      const char *c = memchr (hay, needle[0], (size_t) (end - hay) - m + 1);
      if (c == NULL)
        return NULL;
      if (memcmp (c, needle, m) == 0)
        return c;
      hay = c + 1;
    }
  return NULL;
}

gboolean
lens_tokenizer_encode (const LensTokenizer *tok, const char *text, gssize len, GArray *ids,
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
  Scratch sc
      = {g_array_new (FALSE, FALSE, sizeof (int32_t)), g_array_new (FALSE, FALSE, sizeof (int32_t)),
         g_array_new (FALSE, FALSE, sizeof (int32_t)), g_array_new (FALSE, FALSE, sizeof (Cand)),
         g_array_new (FALSE, FALSE, sizeof (Cand))};
  /* next occurrence of each special token at or after `pos`, or n if none */
  size_t *next_at = g_new (size_t, tok->n_specials + 1);
  for (guint i = 0; i < tok->n_specials; i++)
    next_at[i] = (size_t) -1; /* not searched yet */
  gboolean ok = TRUE;
  size_t pos = 0;
  while (ok && pos <= n)
    {
      /* leftmost special token, longest on a tie */
      size_t best_at = n, best_len = 0;
      int32_t best_id = -1;
      for (guint i = 0; i < tok->n_specials; i++)
        {
          const SpecialToken *sp = &tok->specials[i];
          if (next_at[i] == (size_t) -1 || next_at[i] < pos)
            {
              const char *f = find_bytes (text + pos, n - pos, sp->bytes, sp->len);
              next_at[i] = f ? (size_t) (f - text) : n;
            }
          if (next_at[i] < best_at
              || (next_at[i] == best_at && next_at[i] < n && sp->len > best_len))
            {
              best_at = next_at[i];
              best_len = sp->len;
              best_id = sp->id;
            }
        }
      ok = encode_segment (tok, text + pos, best_at - pos, pos, &sc, ids, NULL, error);
      if (!ok || best_id < 0)
        break;
      g_array_append_val (ids, best_id);
      pos = best_at + best_len;
    }
  g_free (next_at);
  g_array_free (sc.id, TRUE);
  g_array_free (sc.next, TRUE);
  g_array_free (sc.prev, TRUE);
  g_array_free (sc.heap, TRUE);
  g_array_free (sc.pending, TRUE);
  if (!ok)
    g_array_set_size (ids, start_len);
  return ok;
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
  GPtrArray *pieces = g_ptr_array_new_with_free_func (g_free);
  if (!encode_segment (tok, text, n, 0, NULL, NULL, pieces, error))
    g_clear_pointer (&pieces, g_ptr_array_unref);
  return pieces;
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
  if (a->n_ids != b->n_ids || a->eos_id != b->eos_id || a->n_specials != b->n_specials
      || memcmp (a->byte_id, b->byte_id, sizeof a->byte_id) != 0)
    return FALSE;
  for (int32_t id = 0; id < a->n_ids; id++)
    if (a->tok_len[id] != b->tok_len[id]
        || memcmp (a->blob + a->tok_off[id], b->blob + b->tok_off[id], a->tok_len[id]) != 0
        || a->strs.len[id] != b->strs.len[id]
        || memcmp (vocab_text (&a->strs, id), vocab_text (&b->strs, id), a->strs.len[id]) != 0
        || str_lookup (a, vocab_text (&a->strs, id), a->strs.len[id])
               != str_lookup (b, vocab_text (&b->strs, id), b->strs.len[id]))
      return FALSE;
  for (guint i = 0; i < a->n_specials; i++)
    if (a->specials[i].id != b->specials[i].id || a->specials[i].len != b->specials[i].len
        || memcmp (a->specials[i].bytes, b->specials[i].bytes, a->specials[i].len) != 0)
      return FALSE;
  /* the merge tables: the same pairs with the same ranks and results */
  for (size_t i = 0; i < a->merge_cap; i++)
    {
      const MergeSlot *s = &a->merges[i];
      if (s->key == 0)
        continue;
      const MergeSlot *t = merge_find (b, (int32_t) (s->key >> 32) - 1, (int32_t) (guint32) s->key);
      if (t->key != s->key || t->rank != s->rank || t->merged != s->merged)
        return FALSE;
    }
  size_t na = 0, nb = 0;
  for (size_t i = 0; i < a->merge_cap; i++)
    na += a->merges[i].key != 0;
  for (size_t i = 0; i < b->merge_cap; i++)
    nb += b->merges[i].key != 0;
  return na == nb;
}
