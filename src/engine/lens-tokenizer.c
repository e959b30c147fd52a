/* lens-tokenizer.c: loading a tokenizer from its files and running its pipeline (encode,
 * decode, queries; see lens-tokenizer.h). The loaders are in lens-tok-vocab.c (vocabulary),
 * lens-tok-load-gpt2.c (vocab.json + merges.txt) and lens-tok-load-json.c (tokenizer.json).
 *
 * The pipeline is Hugging Face `tokenizers`' own, a stage per file (lens-tok-private.h): added
 * tokens are split out of the text first (lens-tok-added.c), the rest is normalized
 * (lens-tok-normalizer.c), split into pre-tokens (lens-tok-pretokenizer.c), each pre-token is
 * encoded by the BPE model (lens-tok-bpe.c), and the post-processor's special tokens go around
 * the result (lens-tok-postprocessor.c). What each token shows as comes from the decoder
 * (lens-tok-decoder.c). GPT-2's vocab.json + merges.txt are one more way to build the same BPE
 * model with a ByteLevel pre-tokenizer and decoder. A setting this code does not implement is
 * refused, so a file is either tokenized exactly as Hugging Face would or not at all. */
#include "lens-tok-load.h"

/* ---- errors ---- */

/* A token or line quoted in an error message: in double quotes, on one line (control characters,
 * quotes and stray bytes escaped) and cut short when long. Free with g_free. */
char *
lens_tok_quote (const char *s, size_t len)
{
  return lens_json_describe (s, (gssize) MIN (len, (size_t) G_MAXSSIZE));
}

G_GNUC_PRINTF (4, 5)
void
lens_tok_set_error (GError **error, int code, const char *file, const char *fmt, ...)
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

json_object *
lens_tok_parse_json (const char *data, size_t len, const char *file, GError **error)
{
  json_object *obj = lens_json_parse (data, len, file, error);
  if (obj == NULL)
    return NULL;
  gssize at = find_escaped_nul (data, len);
  if (at >= 0)
    {
      json_object_put (obj);
      lens_tok_set_error (
          error, LENS_ERROR_FORMAT, file,
          "invalid JSON at byte %zu: a string contains \\u0000, which is not allowed", (size_t) at);
      return NULL;
    }
  return obj;
}

const char *
lens_tok_json_type_label (json_object *o)
{
  return o == NULL ? "null" : json_type_to_name (json_object_get_type (o));
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
      LensTokenizer *tok = lens_tok_new_from_tokenizer_json (d, l, c, cl, &local);
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
  return vocab_string ? lens_tok_str_lookup (tok, vocab_string, strlen (vocab_string)) : -1;
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
        || memcmp (lens_tok_vocab_text (&a->strs, id), lens_tok_vocab_text (&b->strs, id),
                   a->strs.len[id])
               != 0
        || lens_tok_str_lookup (a, lens_tok_vocab_text (&a->strs, id), a->strs.len[id])
               != lens_tok_str_lookup (b, lens_tok_vocab_text (&b->strs, id), b->strs.len[id]))
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
