/* lens-tok-load-json.c: loading tokenizer.json (model settings, unk token, added tokens, merges,
 * the pipeline's stage objects) with tokenizer_config.json's settings applied. */
#include "lens-tok-load.h"

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
      lens_tok_set_error (error, LENS_ERROR_UNSUPPORTED, file, "model.dropout must be null or 0");
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
  tok->bpe.unk_id = lens_tok_str_lookup (tok, json_object_get_string (v),
                                         (size_t) json_object_get_string_len (v));
  if (tok->bpe.unk_id < 0 || tok->bpe.unk_id >= tok->bpe.n_vocab)
    {
      g_autofree char *shown
          = lens_tok_quote (json_object_get_string (v), (size_t) json_object_get_string_len (v));
      lens_tok_set_error (error, LENS_ERROR_FORMAT, file,
                          "model.unk_token %s is not in model.vocab", shown);
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
      lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file,
                          "added_tokens must be an array, not %s", lens_tok_json_type_label (arr));
      return FALSE;
    }
  size_t n = json_object_array_length (arr);
  for (size_t i = 0; i < n; i++)
    {
      json_object *e = json_object_array_get_idx (arr, i), *jid = NULL, *jc = NULL;
      g_autofree char *path = g_strdup_printf ("added_tokens[%zu]", i);
      if (!json_object_is_type (e, json_type_object))
        {
          lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file, "%s must be an object, not %s",
                              path, lens_tok_json_type_label (e));
          return FALSE;
        }
      static const char *const keys[]
          = {"id", "content", "single_word", "lstrip", "rstrip", "normalized", "special", NULL};
      if (!lens_tok_only_keys (e, keys, b->file, path, error))
        return FALSE;
      if (!json_object_object_get_ex (e, "id", &jid) || !json_object_is_type (jid, json_type_int))
        {
          lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file, "%s.id must be an integer, not %s",
                              path, lens_tok_json_type_label (jid));
          return FALSE;
        }
      if (!json_object_object_get_ex (e, "content", &jc)
          || !json_object_is_type (jc, json_type_string) || json_object_get_string_len (jc) == 0)
        {
          lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file,
                              "%s.content must be a non-empty string", path);
          return FALSE;
        }
      if (!g_utf8_validate_len (json_object_get_string (jc),
                                (gsize) json_object_get_string_len (jc), NULL))
        {
          lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file, "%s.content is not valid UTF-8",
                              path);
          return FALSE;
        }
      AddedToken t
          = {{(char *) json_object_get_string (jc), (size_t) json_object_get_string_len (jc), 0,
              FALSE, FALSE, FALSE, FALSE, FALSE},
             (guint) i};
      int64_t id = json_object_get_int64 (jid);
      if (id < 0 || id >= MAX_IDS)
        {
          lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file,
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
          const char *known = lens_tok_vocab_text (&b->strs, t->id);
          if (b->strs.len[t->id] != t->len || memcmp (known, t->content, t->len) != 0)
            {
              g_autofree char *mine = lens_tok_quote (t->content, t->len);
              g_autofree char *other = lens_tok_quote (known, b->strs.len[t->id]);
              lens_tok_set_error (error, LENS_ERROR_FORMAT, b->file,
                                  "added_tokens[%u] (%s) has id %d, which already belongs to %s",
                                  index, mine, t->id, other);
              return FALSE;
            }
          continue;
        }
      if (t->id != b->n_ids)
        {
          lens_tok_set_error (
              error, LENS_ERROR_FORMAT, b->file,
              "added_tokens[%u] has id %d, beyond the vocabulary of %d ids (ids must not "
              "leave gaps)",
              index, t->id, b->n_ids);
          return FALSE;
        }
      b->strs.off = g_renew (size_t, b->strs.off, b->n_ids + 1);
      b->strs.len = g_renew (size_t, b->strs.len, b->n_ids + 1);
      lens_tok_builder_set (b, b->n_ids, t->content, t->len);
      b->n_ids++;
    }
  return TRUE;
}

static gboolean
read_merges_json (LensTokenizer *tok, json_object *merges, const char *file, GError **error)
{
  if (!json_object_is_type (merges, json_type_array))
    {
      lens_tok_set_error (error, LENS_ERROR_FORMAT, file, "model.merges must be an array, not %s",
                          lens_tok_json_type_label (merges));
      return FALSE;
    }
  size_t n_merges = json_object_array_length (merges);
  if (n_merges > MAX_IDS)
    {
      lens_tok_set_error (error, LENS_ERROR_FORMAT, file, "model.merges has too many entries (%zu)",
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
          if (!lens_tok_parse_merge_line (tok, file, json_object_get_string (m),
                                          (size_t) json_object_get_string_len (m), (int32_t) i,
                                          &where, error))
            return FALSE;
        }
      else if (json_object_is_type (m, json_type_array) && json_object_array_length (m) == 2
               && json_object_is_type (json_object_array_get_idx (m, 0), json_type_string)
               && json_object_is_type (json_object_array_get_idx (m, 1), json_type_string))
        {
          json_object *left = json_object_array_get_idx (m, 0);
          json_object *right = json_object_array_get_idx (m, 1);
          if (!lens_tok_add_merge (
                  tok, file, json_object_get_string (left),
                  (size_t) json_object_get_string_len (left), json_object_get_string (right),
                  (size_t) json_object_get_string_len (right), (int32_t) i, &where, error))
            return FALSE;
        }
      else
        {
          g_autofree char *w = lens_tok_merge_where (&where);
          lens_tok_set_error (error, LENS_ERROR_FORMAT, file,
                              "%s must be a string \"a b\" or a pair [\"a\", \"b\"], not %s", w,
                              lens_tok_json_type_label (m));
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
  if (eos != NULL && lens_tok_str_lookup (tok, eos, strlen (eos)) >= 0)
    tok->eos_id = lens_tok_str_lookup (tok, eos, strlen (eos));
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
      int32_t id = name ? lens_tok_str_lookup (tok, name, strlen (name)) : -1;
      if (id < 0)
        {
          lens_tok_set_error (error, LENS_ERROR_FORMAT, file,
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
        lens_tok_set_error (error, LENS_ERROR_UNSUPPORTED, file,
                            "%s has %u stages, more than the limit of %d", counts[i].name,
                            counts[i].n, LENS_TOK_MAX_STAGES);
        return FALSE;
      }
  /* truncation and padding change the ids of long texts / batches: refused when set */
  static const char *const refused[] = {"truncation", "padding"};
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    if (json_object_object_get_ex (root, refused[i], &v) && v != NULL)
      {
        lens_tok_set_error (error, LENS_ERROR_UNSUPPORTED, file,
                            "%s is set, which is not supported", refused[i]);
        return FALSE;
      }
  return TRUE;
}

LensTokenizer *
lens_tok_new_from_tokenizer_json (const char *json, size_t len, const char *config_json,
                                  size_t config_len, GError **error)
{
  const char *file = "tokenizer.json";
  json_object *root = lens_tok_parse_json (json, len, file, error);
  if (root == NULL)
    return NULL;
  json_object *config = NULL;
  if (config_json != NULL
      && (config = lens_tok_parse_json (config_json, config_len, "tokenizer_config.json", error))
             == NULL)
    {
      json_object_put (root);
      return NULL;
    }
  g_autoptr (LensTokenizer) tok = lens_tok_tokenizer_alloc ();
  Builder b = {.file = file};
  g_autoptr (GArray) added = g_array_new (FALSE, FALSE, sizeof (AddedToken));
  g_autoptr (LensTokDecoder) decoder = NULL;
  gboolean ok = FALSE, decoder_byte_level = FALSE;
  json_object *model = NULL, *type = NULL, *vocab = NULL, *merges = NULL, *added_json = NULL;

  if (!json_object_is_type (root, json_type_object))
    {
      lens_tok_set_error (error, LENS_ERROR_FORMAT, file,
                          "the top level must be a JSON object, not %s",
                          lens_tok_json_type_label (root));
      goto out;
    }
  if (config != NULL && !json_object_is_type (config, json_type_object))
    {
      lens_tok_set_error (error, LENS_ERROR_FORMAT, "tokenizer_config.json",
                          "the top level must be a JSON object, not %s",
                          lens_tok_json_type_label (config));
      goto out;
    }
  if (!json_object_object_get_ex (root, "model", &model)
      || !json_object_is_type (model, json_type_object))
    {
      lens_tok_set_error (error, LENS_ERROR_FORMAT, file, "\"model\" must be an object, not %s",
                          lens_tok_json_type_label (model));
      goto out;
    }
  if (json_object_object_get_ex (model, "type", &type))
    {
      if (!json_object_is_type (type, json_type_string))
        {
          lens_tok_set_error (error, LENS_ERROR_FORMAT, file, "model.type must be a string, not %s",
                              lens_tok_json_type_label (type));
          goto out;
        }
      if (strcmp (json_object_get_string (type), "BPE") != 0)
        {
          g_autofree char *shown = lens_tok_quote (json_object_get_string (type),
                                                   (size_t) json_object_get_string_len (type));
          lens_tok_set_error (error, LENS_ERROR_UNSUPPORTED, file,
                              "model.type is %s; only \"BPE\" is supported", shown);
          goto out;
        }
    }
  if (!read_model_settings (tok, model, file, error))
    goto out;
  if (!json_object_object_get_ex (model, "vocab", &vocab))
    {
      lens_tok_set_error (error, LENS_ERROR_FORMAT, file, "model.vocab is missing");
      goto out;
    }
  if (!lens_tok_read_vocab (&b, vocab, "model.vocab", error))
    goto out;
  if (json_object_object_get_ex (root, "added_tokens", &added_json) && added_json != NULL
      && !read_added_tokens (&b, added_json, added, error))
    goto out;
  if (!lens_tok_finish_vocab (tok, &b, error) || !read_unk (tok, model, file, error))
    goto out;
  json_object_object_get_ex (model, "merges", &merges);
  if (!read_merges_json (tok, merges, file, error))
    goto out;
  for (guint i = 0; i < added->len; i++)
    {
      const LensTokAdded *t = &g_array_index (added, AddedToken, i).t;
      if (lens_tok_find_added (tok, t->id) == NULL)
        lens_tok_add_added (tok, t);
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
          lens_tok_set_error (error, LENS_ERROR_FORMAT, file,
                              "the normalizer makes added token %d more than %d times longer",
                              t->id, LENS_TOK_GROWTH);
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
      int32_t id = lens_tok_str_lookup (tok, eos_names[i], strlen (eos_names[i]));
      if (id >= 0 && lens_tok_find_added (tok, id) != NULL)
        tok->eos_id = id;
    }
  if (config != NULL && !apply_config (tok, config, "tokenizer_config.json", error))
    goto out;
  lens_tok_finish_display (tok, decoder);
  tok->lossless = tok->normalizer == NULL && decoder_byte_level && tok->pretok != NULL
                  && lens_tok_pretokenizer_lossless (tok->pretok) && tok->bpe.unk_id < 0;
  for (guint i = 0; i < tok->n_added; i++)
    tok->lossless &= !tok->added[i].lstrip && !tok->added[i].rstrip /* they take spaces */
                     && lens_tok_added_decodes_as_written (tok, &tok->added[i]);
  ok = TRUE;

out:
  lens_tok_builder_clear (&b);
  json_object_put (root);
  if (config != NULL)
    json_object_put (config);
  return ok ? g_steal_pointer (&tok) : NULL;
}

LensTokenizer *
lens_tokenizer_new_from_tokenizer_json_data (const char *json, size_t len, GError **error)
{
  return lens_tok_new_from_tokenizer_json (json, len, NULL, 0, error);
}

LensTokenizer *
lens_tokenizer_new_from_tokenizer_json_data_with_config (const char *json, size_t len,
                                                         const char *config, size_t config_len,
                                                         GError **error)
{
  return lens_tok_new_from_tokenizer_json (json, len, config, config_len, error);
}
