/* lens-tok-normalizer.c: Hugging Face normalizers (NFC, NFKC, NFD, NFKD, Prepend, Replace, Strip,
 * Lowercase, Sequence). Offsets are not tracked: the pipeline only needs the normalized text. */
#include "lens-error.h"
#include "lens-tok-private.h"

#include <string.h>

typedef enum
{
  NORM_UNICODE,
  NORM_PREPEND,
  NORM_REPLACE,
  NORM_STRIP,
  NORM_LOWERCASE,
  NORM_SEQUENCE,
} NormKind;

struct LensTokNormalizer
{
  NormKind kind;
  GNormalizeMode mode; /* NORM_UNICODE */
  char *text;          /* Prepend's text, Replace's string pattern */
  size_t text_len;
  char *content;        /* Replace's replacement */
  GRegex *regex;        /* Replace with a Regex pattern */
  gboolean left, right; /* Strip */
  GPtrArray *children;  /* Sequence */
};

void
lens_tok_normalizer_free (LensTokNormalizer *n)
{
  if (n == NULL)
    return;
  g_free (n->text);
  g_free (n->content);
  g_clear_pointer (&n->regex, g_regex_unref);
  g_clear_pointer (&n->children, g_ptr_array_unref);
  g_free (n);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LensTokNormalizer, lens_tok_normalizer_free)

LensTokNormalizer *
lens_tok_normalizer_parse (json_object *o, const char *file, const char *path, int depth,
                           GError **error)
{
  const char *type = lens_tok_type (o, file, path, depth, error);
  if (type == NULL)
    return NULL;
  g_autoptr (LensTokNormalizer) n = g_new0 (LensTokNormalizer, 1);
  static const char *const only_type[] = {"type", NULL};
  static const struct
  {
    const char *name;
    GNormalizeMode mode;
  } unicode[] = {{"NFC", G_NORMALIZE_NFC},
                 {"NFD", G_NORMALIZE_NFD},
                 {"NFKC", G_NORMALIZE_NFKC},
                 {"NFKD", G_NORMALIZE_NFKD}};
  for (guint i = 0; i < G_N_ELEMENTS (unicode); i++)
    if (strcmp (type, unicode[i].name) == 0)
      {
        if (!lens_tok_only_keys (o, only_type, file, path, error))
          return NULL;
        n->kind = NORM_UNICODE;
        n->mode = unicode[i].mode;
        return g_steal_pointer (&n);
      }
  if (strcmp (type, "Lowercase") == 0)
    {
      if (!lens_tok_only_keys (o, only_type, file, path, error))
        return NULL;
      n->kind = NORM_LOWERCASE;
      return g_steal_pointer (&n);
    }
  if (strcmp (type, "Prepend") == 0)
    {
      static const char *const keys[] = {"type", "prepend", NULL};
      json_object *v;
      if (!lens_tok_only_keys (o, keys, file, path, error)
          || !lens_tok_get (o, "prepend", json_type_string, &v, file, path, error))
        return NULL;
      if (v == NULL)
        {
          lens_tok_error (error, LENS_ERROR_FORMAT, file, path, "needs a string \"prepend\"");
          return NULL;
        }
      if (json_object_get_string_len (v) > LENS_TOK_MAX_INSERT)
        {
          lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path, "prepends more than %d bytes",
                          LENS_TOK_MAX_INSERT);
          return NULL;
        }
      n->kind = NORM_PREPEND;
      n->text_len = (size_t) json_object_get_string_len (v);
      n->text = g_strndup (json_object_get_string (v), n->text_len);
      return g_steal_pointer (&n);
    }
  if (strcmp (type, "Replace") == 0)
    {
      static const char *const keys[] = {"type", "pattern", "content", NULL};
      json_object *v;
      const char *pat;
      size_t plen;
      gboolean is_regex;
      if (!lens_tok_only_keys (o, keys, file, path, error)
          || !lens_tok_pattern (o, &pat, &plen, &is_regex, file, path, error)
          || !lens_tok_get (o, "content", json_type_string, &v, file, path, error))
        return NULL;
      if (v == NULL)
        {
          lens_tok_error (error, LENS_ERROR_FORMAT, file, path, "needs a string \"content\"");
          return NULL;
        }
      if (json_object_get_string_len (v) > LENS_TOK_MAX_INSERT)
        {
          lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                          "replaces by more than %d bytes", LENS_TOK_MAX_INSERT);
          return NULL;
        }
      n->kind = NORM_REPLACE;
      n->content = g_strndup (json_object_get_string (v), (gsize) json_object_get_string_len (v));
      if (is_regex)
        {
          g_autofree char *p = g_strdup_printf ("%s.pattern.Regex", path);
          n->regex = lens_tok_regex (pat, plen, file, p, error);
          if (n->regex == NULL)
            return NULL;
        }
      else
        {
          /* the empty string matches everywhere; Hugging Face then inserts the content between
           * all characters, which no tokenizer wants */
          if (plen == 0)
            {
              lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                              "replaces the empty string, which is not supported");
              return NULL;
            }
          n->text = g_strndup (pat, plen);
          n->text_len = plen;
        }
      return g_steal_pointer (&n);
    }
  if (strcmp (type, "Strip") == 0)
    {
      static const char *const keys[] = {"type", "strip_left", "strip_right", NULL};
      n->kind = NORM_STRIP;
      if (!lens_tok_only_keys (o, keys, file, path, error)
          || !lens_tok_get_bool (o, "strip_left", TRUE, &n->left, file, path, error)
          || !lens_tok_get_bool (o, "strip_right", TRUE, &n->right, file, path, error))
        return NULL;
      return g_steal_pointer (&n);
    }
  if (strcmp (type, "Sequence") == 0)
    {
      static const char *const keys[] = {"type", "normalizers", NULL};
      json_object *arr;
      if (!lens_tok_only_keys (o, keys, file, path, error)
          || (arr = lens_tok_sequence (o, "normalizers", file, path, error)) == NULL)
        return NULL;
      n->kind = NORM_SEQUENCE;
      n->children = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_tok_normalizer_free);
      for (size_t i = 0; i < json_object_array_length (arr); i++)
        {
          g_autofree char *p = g_strdup_printf ("%s.normalizers[%zu]", path, i);
          LensTokNormalizer *c = lens_tok_normalizer_parse (json_object_array_get_idx (arr, i),
                                                            file, p, depth + 1, error);
          if (c == NULL)
            return NULL;
          g_ptr_array_add (n->children, c);
        }
      return g_steal_pointer (&n);
    }
  g_autofree char *shown = g_strescape (type, NULL);
  lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                  "is a normalizer of type \"%s\", which is not supported", shown);
  return NULL;
}

/* Runs `f` on each NUL-free run of s (GLib's Unicode functions stop at NUL, which prompts may
 * contain) and puts the NULs back between the results. */
static void
map_nul_free_runs (GString *s, char *(*f) (const char *run, gssize len, gpointer data),
                   gpointer data)
{
  GString *out = g_string_sized_new (s->len + 8);
  const char *p = s->str, *end = s->str + s->len;
  while (p <= end)
    {
      const char *nul = memchr (p, '\0', (size_t) (end - p));
      const char *stop = nul ? nul : end;
      if (stop > p)
        {
          g_autofree char *n = f (p, stop - p, data);
          g_string_append (out, n ? n : "");
        }
      if (nul == NULL)
        break;
      g_string_append_c (out, '\0');
      p = nul + 1;
    }
  g_string_truncate (s, 0);
  g_string_append_len (s, out->str, (gssize) out->len);
  g_string_free (out, TRUE);
}

static char *
normalize_run (const char *run, gssize len, gpointer mode)
{
  return g_utf8_normalize (run, len, (GNormalizeMode) GPOINTER_TO_INT (mode));
}

static char *
lowercase_run (const char *run, gssize len, gpointer unused)
{
  /* Rust's str::to_lowercase: full case mapping, as GLib's (which ignores the locale except for
   * Turkish and Lithuanian) */
  return g_utf8_strdown (run, len);
}

static void
unicode_normalize (GString *s, GNormalizeMode mode)
{
  map_nul_free_runs (s, normalize_run, GINT_TO_POINTER (mode));
}

/* Every match of `regex` in s replaced by `content`, by byte lengths (s may hold NUL). FALSE
 * when the regex engine gives up (PCRE2's match limit) or the text grows beyond `limit`. */
static gboolean
replace_regex (GString *s, const GRegex *regex, const char *content, size_t limit)
{
  g_autoptr (GMatchInfo) mi = NULL;
  g_autoptr (GError) local = NULL;
  GString *out = g_string_sized_new (s->len);
  size_t done = 0;
  g_regex_match_full (regex, s->str, (gssize) s->len, 0, 0, &mi, &local);
  while (local == NULL && g_match_info_matches (mi) && out->len <= limit)
    {
      int a = -1, b = -1;
      g_match_info_fetch_pos (mi, 0, &a, &b);
      g_string_append_len (out, s->str + done, (gssize) ((size_t) a - done));
      g_string_append (out, content);
      done = (size_t) b;
      g_match_info_next (mi, &local);
    }
  gboolean ok = local == NULL && out->len <= limit;
  if (ok)
    {
      g_string_append_len (out, s->str + done, (gssize) (s->len - done));
      g_string_truncate (s, 0);
      g_string_append_len (s, out->str, (gssize) out->len);
    }
  g_string_free (out, TRUE);
  return ok;
}

static gboolean
replace_string (GString *s, const char *pat, size_t plen, const char *content, size_t limit)
{
  if (s->len < plen)
    return TRUE;
  GString *out = g_string_sized_new (s->len);
  size_t i = 0;
  while (i < s->len)
    {
      if (out->len > limit)
        {
          g_string_free (out, TRUE);
          return FALSE;
        }
      if (i + plen <= s->len && memcmp (s->str + i, pat, plen) == 0)
        {
          g_string_append (out, content);
          i += plen;
        }
      else
        g_string_append_c (out, s->str[i++]);
    }
  g_string_truncate (s, 0);
  g_string_append_len (s, out->str, (gssize) out->len);
  g_string_free (out, TRUE);
  return TRUE;
}

guint
lens_tok_normalizer_count (const LensTokNormalizer *n)
{
  guint c = 1;
  for (guint i = 0; n->kind == NORM_SEQUENCE && i < n->children->len; i++)
    c += lens_tok_normalizer_count (n->children->pdata[i]);
  return c;
}

gboolean
lens_tok_normalizer_apply (const LensTokNormalizer *n, GString *s, size_t limit)
{
  switch (n->kind)
    {
    case NORM_UNICODE:
      unicode_normalize (s, n->mode);
      break;
    case NORM_LOWERCASE:
      map_nul_free_runs (s, lowercase_run, NULL);
      break;
    case NORM_PREPEND:
      if (s->len > 0)
        g_string_prepend_len (s, n->text, (gssize) n->text_len);
      break;
    case NORM_REPLACE:
      if (n->regex)
        {
          if (!replace_regex (s, n->regex, n->content, limit))
            return FALSE;
        }
      else if (!replace_string (s, n->text, n->text_len, n->content, limit))
        return FALSE;
      break;
    case NORM_STRIP:
      {
        const char *a = s->str, *b = s->str + s->len;
        while (n->left && a < b && lens_tok_is_white_space (g_utf8_get_char (a)))
          a = g_utf8_next_char (a);
        while (n->right && b > a
               && lens_tok_is_white_space (g_utf8_get_char (g_utf8_prev_char (b))))
          b = g_utf8_prev_char (b);
        size_t keep = (size_t) (b - a);
        memmove (s->str, a, keep);
        g_string_truncate (s, keep);
        break;
      }
    case NORM_SEQUENCE:
      for (guint i = 0; i < n->children->len; i++)
        if (!lens_tok_normalizer_apply (n->children->pdata[i], s, limit))
          return FALSE;
      break;
    }
  return s->len <= limit;
}
