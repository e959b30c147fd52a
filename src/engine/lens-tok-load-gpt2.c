/* lens-tok-load-gpt2.c: merges (as merges.txt lines or tokenizer.json entries) and loading
 * GPT-2's vocab.json + merges.txt as the BPE model a tokenizer.json would describe. */
#include "lens-tok-load.h"

char *
lens_tok_merge_where (const MergeWhere *w)
{
  return g_strdup_printf ("%s%zu%s", w->prefix, w->n, w->suffix);
}

/* Adds one merge "left right" (as vocab strings, neither containing NUL). */
gboolean
lens_tok_add_merge (LensTokenizer *tok, const char *file, const char *left, size_t llen,
                    const char *right, size_t rlen, int32_t rank, const MergeWhere *where,
                    GError **error)
{
  int32_t a = lens_tok_str_lookup (tok, left, llen), b = lens_tok_str_lookup (tok, right, rlen);
  if (a < 0 || b < 0)
    {
      g_autofree char *shown = a < 0 ? lens_tok_quote (left, llen) : lens_tok_quote (right, rlen);
      g_autofree char *w = lens_tok_merge_where (where);
      lens_tok_set_error (error, LENS_ERROR_FORMAT, file, "%s: token %s is not in the vocabulary",
                          w, shown);
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
  int32_t m = lens_tok_str_lookup (tok, joined, jlen);
  if (m < 0)
    {
      g_autofree char *shown = lens_tok_quote (joined, jlen);
      g_autofree char *w = lens_tok_merge_where (where);
      lens_tok_set_error (error, LENS_ERROR_FORMAT, file,
                          "%s: the merged token %s is not in the vocabulary", w, shown);
      return FALSE;
    }
  lens_tok_bpe_add_merge (&tok->bpe, a, b, m, rank);
  return TRUE;
}

gboolean
lens_tok_parse_merge_line (LensTokenizer *tok, const char *file, const char *line, size_t len,
                           int32_t rank, const MergeWhere *where, GError **error)
{
  if (!g_utf8_validate_len (line, len, NULL))
    {
      g_autofree char *w = lens_tok_merge_where (where);
      lens_tok_set_error (error, LENS_ERROR_FORMAT, file, "%s is not valid UTF-8", w);
      return FALSE;
    }
  const char *sp = memchr (line, ' ', len);
  if (sp == NULL || sp == line || sp + 1 == line + len
      || memchr (sp + 1, ' ', (size_t) (line + len - sp - 1)) != NULL)
    {
      g_autofree char *shown = lens_tok_quote (line, len);
      g_autofree char *w = lens_tok_merge_where (where);
      lens_tok_set_error (error, LENS_ERROR_FORMAT, file,
                          "%s: expected two tokens separated by one space, got %s", w, shown);
      return FALSE;
    }
  if (memchr (line, '\0', len) != NULL)
    {
      g_autofree char *w = lens_tok_merge_where (where);
      lens_tok_set_error (error, LENS_ERROR_FORMAT, file, "%s contains a NUL byte", w);
      return FALSE;
    }
  return lens_tok_add_merge (tok, file, line, (size_t) (sp - line), sp + 1,
                             (size_t) (line + len - sp - 1), rank, where, error);
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
      lens_tok_set_error (error, LENS_ERROR_FORMAT, file, "too many lines (%zu)", n_lines);
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
                lens_tok_set_error (error, LENS_ERROR_FORMAT, file, "line %zu is empty", lineno);
                return FALSE;
              }
          break;
        }
      else
        {
          MergeWhere where = {"line ", "", lineno};
          if (!lens_tok_parse_merge_line (tok, file, p, l, rank, &where, error))
            return FALSE;
          rank++;
        }
      p = nl ? nl + 1 : end;
    }
  return TRUE;
}

void
lens_tok_add_added (LensTokenizer *tok, const LensTokAdded *t)
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
  if (allow_flat && lens_tok_read_vocab_flat (b, json, len))
    return TRUE;
  lens_tok_builder_clear (b);
  json_object *root = lens_tok_parse_json (json, len, b->file, error);
  if (root == NULL)
    return FALSE;
  gboolean ok = lens_tok_read_vocab (b, root, "the vocabulary", error);
  json_object_put (root);
  return ok;
}

typedef struct
{
  LensTokenizer *tok;
  const LensTokDecoder *decoder;
} DisplayJob;

static gpointer
display_thread (gpointer data)
{
  DisplayJob *job = data;
  lens_tok_finish_display (job->tok, job->decoder);
  return NULL;
}

/* GPT-2's files as a tokenizer.json would say them: ByteLevel pre-tokenizer (GPT-2's regex, no
 * prefix space) and decoder, the BPE model, and <|endoftext|> as a special added token. */
static LensTokenizer *
new_from_gpt2_data (const char *vocab_json, size_t vocab_len, const char *merges, size_t merges_len,
                    gboolean allow_flat, GError **error)
{
  g_autoptr (LensTokenizer) tok = lens_tok_tokenizer_alloc ();
  Builder b = {.file = "vocab.json"};
  gboolean ok = read_vocab_json (&b, vocab_json, vocab_len, allow_flat, error)
                && lens_tok_finish_vocab (tok, &b, error);
  lens_tok_builder_clear (&b);
  if (!ok)
    return NULL;
  /* The display bytes need only the vocabulary: another thread makes them while this one reads
   * the merges. They write different members of `tok` (blob, tok_off and tok_len there; bpe,
   * pretok and added here) and both only read the vocabulary. */
  g_autoptr (LensTokDecoder) decoder = lens_tok_decoder_new_byte_level ();
  DisplayJob job = {tok, decoder};
  GThread *display = g_thread_try_new ("lens-tok-display", display_thread, &job, NULL);
  ok = read_merges_txt (tok, merges, merges_len, error)
       && (tok->pretok = lens_tok_pretokenizer_new_gpt2 (error)) != NULL;
  if (display != NULL)
    g_thread_join (display);
  else
    lens_tok_finish_display (tok, decoder);
  if (!ok)
    return NULL;
  int32_t eos = lens_tok_str_lookup (tok, "<|endoftext|>", 13);
  if (eos >= 0)
    {
      tok->eos_id = eos;
      lens_tok_add_added (tok, &(LensTokAdded){(char *) "<|endoftext|>", 13, eos, TRUE, FALSE,
                                               FALSE, FALSE, FALSE});
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
  lens_tok_init_byte_map ();
  Builder b = {.file = "vocab.json"};
  gboolean flat = lens_tok_read_vocab_flat (&b, vocab_json, len);
  lens_tok_builder_clear (&b);
  return flat;
}
