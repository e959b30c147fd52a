/* lens-tok-vocab.c: the vocabulary: its strings and their string -> id index, the builder the
 * loaders fill, vocab.json (through json-c, and a one-pass reader for the usual flat shape), and
 * the display bytes of each token. */
#include "lens-tok-load.h"

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
      if (vs->len[id] == len && memcmp (lens_tok_vocab_text (vs, id), s, len) == 0)
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
  /* cleared here, not by calloc, so that each page faults once (see lens_tok_bpe_alloc_merges) */
  vs->slots = g_new (int32_t, vs->cap);
  lens_memory_prefault (vs->slots, vs->cap * sizeof *vs->slots);
  memset (vs->slots, 0, vs->cap * sizeof *vs->slots);
  int repeated = 0;
  for (int32_t id = 0; id < n_ids; id++)
    {
      int32_t *slot = vocab_slot (vs, lens_tok_vocab_text (vs, id), vs->len[id]);
      if (*slot == 0)
        *slot = id + 1;
      else if (id < n_unique)
        repeated++;
    }
  return repeated;
}

/* ---- building ---- */

void
lens_tok_builder_clear (Builder *b)
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
  lens_memory_prefault (b->strs.off, (size_t) n * sizeof (size_t));
  lens_memory_prefault (b->strs.len, (size_t) n * sizeof (size_t));
  for (int i = 0; i < n; i++)
    b->strs.off[i] = SIZE_MAX;
}

void
lens_tok_builder_set (Builder *b, int32_t id, const char *s, size_t len)
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

LensTokenizer *
lens_tok_tokenizer_alloc (void)
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

int32_t
lens_tok_str_lookup (const LensTokenizer *tok, const char *s, size_t len)
{
  return vocab_find (&tok->strs, s, len);
}

gboolean
lens_tok_read_vocab (Builder *b, json_object *vocab, const char *where, GError **error)
{
  if (!json_object_is_type (vocab, json_type_object))
    {
      lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file, "%s must be a JSON object, not %s",
                          where, lens_tok_json_type_label (vocab));
      return FALSE;
    }
  int n = json_object_object_length (vocab);
  if (n <= 0)
    {
      lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file, "%s is empty", where);
      return FALSE;
    }
  if (n > MAX_IDS)
    {
      lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file,
                          "%s has %d entries, more than the limit of %d", where, n, MAX_IDS);
      return FALSE;
    }
  builder_alloc (b, n,
                 g_byte_array_sized_new ((guint) MIN ((size_t) n * 8, (size_t) G_MAXUINT / 2)));
  json_object_object_foreach (vocab, key, val)
  {
    size_t klen = strlen (key);
    if (!g_utf8_validate_len (key, klen, NULL))
      {
        lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file, "%s: a token is not valid UTF-8",
                            where);
        return FALSE;
      }
    /* An empty token would stand for no bytes at all: it cannot come out of BPE merges, and GPT-2
     * vocabularies never contain one. */
    if (klen == 0)
      {
        lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file, "%s contains an empty token \"\"",
                            where);
        return FALSE;
      }
    if (!json_object_is_type (val, json_type_int))
      {
        g_autofree char *shown = lens_tok_quote (key, klen);
        lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file,
                            "%s: the id of token %s must be an integer, not %s", where, shown,
                            lens_tok_json_type_label (val));
        return FALSE;
      }
    int64_t id = json_object_get_int64 (val);
    if (id < 0 || id >= n)
      {
        g_autofree char *shown = lens_tok_quote (key, klen);
        lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file,
                            "%s: token %s has id %" G_GINT64_FORMAT
                            ", outside 0..%d (ids must run from 0 to the number of entries - 1)",
                            where, shown, id, n - 1);
        return FALSE;
      }
    if (b->strs.off[id] != SIZE_MAX)
      {
        g_autofree char *shown = lens_tok_quote (key, klen);
        g_autofree char *other
            = lens_tok_quote (lens_tok_vocab_text (&b->strs, (int32_t) id), b->strs.len[id]);
        lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file,
                            "%s: id %" G_GINT64_FORMAT " is used by both %s and %s", where, id,
                            other, shown);
        return FALSE;
      }
    lens_tok_builder_set (b, (int32_t) id, key, klen);
  }
  /* n distinct ids in 0..n-1 means every id is present (duplicate keys are refused by the JSON
   * parser) */
  for (int i = 0; i < n; i++)
    if (b->strs.off[i] == SIZE_MAX)
      {
        lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file, "%s: no token has id %d", where, i);
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

/* One entry as read. Offsets and lengths fit 32 bits: longer texts are left to the general path,
 * and the strings never decode longer than the text. Half the size of size_t fields: this array
 * is new memory in a fresh process, and each of its pages faulted (300 for GPT-2's 50,257). */
typedef struct
{
  int32_t id;
  guint32 off, len;
} FlatEntry;

/* vocab.json is one flat object of string -> id with tens of thousands of entries. Building that
 * as json-c objects took most of a cold CLI start (one allocation per entry, and the first touch
 * of all that memory in a fresh process), so the usual shape is read here in one pass straight
 * into the builder. This accepts a subset of what lens_tok_read_vocab accepts and returns FALSE for
 * anything else, errors included, so that the general path with its precise messages runs
 * instead; the tokenizer fuzz harness checks that both give the same tokenizer. */
gboolean
lens_tok_read_vocab_flat (Builder *b, const char *json, size_t len)
{
  const char *p = json, *end = json + len;
  if (len > G_MAXUINT / 2)
    return FALSE; /* see FlatEntry */
  p = skip_json_space (p, end);
  if (p == end || *p != '{')
    return FALSE;
  p++;
  g_autoptr (GString) chars = g_string_sized_new (MIN (len, (size_t) G_MAXUINT / 2));
  g_autoptr (GArray) entries = g_array_sized_new (FALSE, FALSE, sizeof (FlatEntry),
                                                  (guint) MIN (len / 8, (size_t) MAX_IDS));
  for (;;)
    {
      p = skip_json_space (p, end);
      if (p == end || *p != '"' || entries->len >= MAX_IDS)
        return FALSE;
      p++;
      FlatEntry e = {.off = (guint32) chars->len};
      /* \u0000 is refused: no token may contain it (the general path refuses it too). UTF-8 is
       * checked on the decoded bytes: escapes only ever produce whole characters, so the decoded
       * text is valid exactly when the raw bytes were. */
      LensJsonStringEnd se;
      if (lens_json_string_decode (p, end, LENS_JSON_STRING_NO_NUL, chars, &se)
          != LENS_JSON_STRING_OK)
        return FALSE;
      p = se.at;
      e.len = (guint32) (chars->len - e.off);
      if (e.len == 0 || e.len > G_MAXUINT / 4
          || !g_utf8_validate_len (chars->str + e.off, e.len, NULL))
        return FALSE;
      g_string_append_c (chars, '\0');

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
  gsize n_chars = chars->len;
  builder_alloc (
      b, n,
      g_byte_array_new_take ((guint8 *) g_string_free (g_steal_pointer (&chars), FALSE), n_chars));
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

/* Turns the builder's strings into the tokenizer's string index. */
gboolean
lens_tok_finish_vocab (LensTokenizer *tok, Builder *b, GError **error)
{
  if (b->strs.chars->len > G_MAXUINT / 2)
    {
      lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file, "the vocabulary is too large");
      return FALSE;
    }
  tok->n_ids = b->n_ids;
  tok->bpe.n_vocab = b->n_vocab;
  /* lens_tok_read_vocab_flat has indexed the vocabulary already; only added tokens come after */
  if (b->strs.slots == NULL || b->n_ids != b->n_vocab)
    vocab_index (&b->strs, b->n_ids, 0);
  tok->strs = b->strs;
  memset (&b->strs, 0, sizeof b->strs);
  lens_tok_bpe_index_bytes (&tok->bpe);
  return TRUE;
}

/* `added` is sorted by id (added_tokens are read in id order) */
const LensTokAdded *
lens_tok_find_added (const LensTokenizer *tok, int32_t id)
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
void
lens_tok_finish_display (LensTokenizer *tok, const LensTokDecoder *decoder)
{
  g_autoptr (GByteArray) blob = g_byte_array_sized_new (tok->strs.chars->len + 1);
  tok->tok_off = g_new (size_t, tok->n_ids);
  tok->tok_len = g_new (size_t, tok->n_ids);
  lens_memory_prefault (tok->tok_off, (size_t) tok->n_ids * sizeof (size_t));
  lens_memory_prefault (tok->tok_len, (size_t) tok->n_ids * sizeof (size_t));
  for (int32_t i = 0; i < tok->n_ids; i++)
    {
      tok->tok_off[i] = blob->len;
      lens_tok_decoder_token (decoder, lens_tok_vocab_text (&tok->strs, i), tok->strs.len[i], blob);
      tok->tok_len[i] = blob->len - tok->tok_off[i];
    }
  tok->blob = g_byte_array_free (g_steal_pointer (&blob), FALSE);
}

/* Whether added token `t` decodes to its own content, as it is written in a text. */
gboolean
lens_tok_added_decodes_as_written (const LensTokenizer *tok, const LensTokAdded *t)
{
  size_t len = tok->tok_len[t->id];
  return len == tok->strs.len[t->id]
         && memcmp (tok->blob + tok->tok_off[t->id], lens_tok_vocab_text (&tok->strs, t->id), len)
                == 0;
}
