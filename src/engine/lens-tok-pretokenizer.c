/* lens-tok-pretokenizer.c: Hugging Face pre-tokenizers (ByteLevel, Split, Metaspace, Digits,
 * Punctuation, Whitespace, WhitespaceSplit, Sequence). Each one finds "matches" in every piece and
 * then splits as tokenizers' NormalizedString::split does for the configured behaviour. */
#include "lens-error.h"
#include "lens-tok-private.h"

#include <string.h>

/* GPT-2's pattern, which ByteLevel's use_regex applies. In Oniguruma's spelling; lens_tok_regex
 * gives \s its White_Space meaning (PCRE2's also takes U+180E). */
#define GPT2_PATTERN                                                                               \
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef enum
{
  PRE_BYTE_LEVEL,
  PRE_SPLIT,
  PRE_METASPACE,
  PRE_DIGITS,
  PRE_PUNCTUATION,
  PRE_WHITESPACE,
  PRE_WHITESPACE_SPLIT,
  PRE_SEQUENCE,
} PreKind;

typedef enum
{
  SPLIT_REMOVED,
  SPLIT_ISOLATED,
  SPLIT_MERGED_WITH_PREVIOUS,
  SPLIT_MERGED_WITH_NEXT,
  SPLIT_CONTIGUOUS,
} Behavior;

typedef enum
{
  PREPEND_ALWAYS,
  PREPEND_FIRST,
  PREPEND_NEVER,
} PrependScheme;

struct LensTokPreTokenizer
{
  PreKind kind;
  GRegex *regex; /* ByteLevel with use_regex, Split with a Regex, Whitespace */
  char *string;  /* Split with a String pattern; Metaspace's replacement */
  size_t string_len;
  Behavior behavior;
  gboolean invert;
  gboolean add_prefix_space; /* ByteLevel */
  PrependScheme prepend;     /* Metaspace */
  gboolean split;            /* Metaspace */
  gboolean individual;       /* Digits */
  GPtrArray *children;       /* Sequence */
};

void
lens_tok_pretokenizer_free (LensTokPreTokenizer *p)
{
  if (p == NULL)
    return;
  g_clear_pointer (&p->regex, g_regex_unref);
  g_free (p->string);
  g_clear_pointer (&p->children, g_ptr_array_unref);
  g_free (p);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LensTokPreTokenizer, lens_tok_pretokenizer_free)

static gboolean
parse_behavior (json_object *o, Behavior dflt, Behavior *out, const char *file, const char *path,
                GError **error)
{
  json_object *v;
  if (!lens_tok_get (o, "behavior", json_type_string, &v, file, path, error))
    return FALSE;
  *out = dflt;
  if (v == NULL)
    return TRUE;
  static const char *const names[]
      = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (strcmp (json_object_get_string (v), names[i]) == 0)
      {
        *out = (Behavior) i;
        return TRUE;
      }
  g_autofree char *p = g_strdup_printf ("%s.behavior", path);
  g_autofree char *shown = g_strescape (json_object_get_string (v), NULL);
  lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, p, "\"%s\" is not a known behavior", shown);
  return FALSE;
}

LensTokPreTokenizer *
lens_tok_pretokenizer_new_gpt2 (GError **error)
{
  LensTokPreTokenizer *p = g_new0 (LensTokPreTokenizer, 1);
  p->kind = PRE_BYTE_LEVEL;
  p->regex
      = lens_tok_regex (GPT2_PATTERN, strlen (GPT2_PATTERN), "tokenizer", "GPT-2's pattern", error);
  if (p->regex == NULL)
    g_clear_pointer (&p, lens_tok_pretokenizer_free);
  return p;
}

LensTokPreTokenizer *
lens_tok_pretokenizer_parse (json_object *o, const char *file, const char *path, int depth,
                             GError **error)
{
  const char *type = lens_tok_type (o, file, path, depth, error);
  if (type == NULL)
    return NULL;
  g_autoptr (LensTokPreTokenizer) p = g_new0 (LensTokPreTokenizer, 1);
  if (strcmp (type, "ByteLevel") == 0)
    {
      /* trim_offsets only moves offsets, which ids do not carry */
      static const char *const keys[]
          = {"type", "add_prefix_space", "trim_offsets", "use_regex", NULL};
      gboolean use_regex;
      p->kind = PRE_BYTE_LEVEL;
      if (!lens_tok_only_keys (o, keys, file, path, error)
          || !lens_tok_get_bool (o, "add_prefix_space", TRUE, &p->add_prefix_space, file, path,
                                 error)
          || !lens_tok_get_bool (o, "use_regex", TRUE, &use_regex, file, path, error))
        return NULL;
      if (use_regex
          && (p->regex = lens_tok_regex (GPT2_PATTERN, strlen (GPT2_PATTERN), file, path, error))
                 == NULL)
        return NULL;
      return g_steal_pointer (&p);
    }
  if (strcmp (type, "Split") == 0)
    {
      static const char *const keys[] = {"type", "pattern", "behavior", "invert", NULL};
      const char *pat;
      size_t plen;
      gboolean is_regex;
      p->kind = PRE_SPLIT;
      if (!lens_tok_only_keys (o, keys, file, path, error)
          || !lens_tok_pattern (o, &pat, &plen, &is_regex, file, path, error)
          || !parse_behavior (o, SPLIT_REMOVED, &p->behavior, file, path, error)
          || !lens_tok_get_bool (o, "invert", FALSE, &p->invert, file, path, error))
        return NULL;
      if (is_regex)
        {
          g_autofree char *pp = g_strdup_printf ("%s.pattern.Regex", path);
          if ((p->regex = lens_tok_regex (pat, plen, file, pp, error)) == NULL)
            return NULL;
        }
      else
        {
          if (plen == 0)
            {
              lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                              "splits on the empty string, which is not supported");
              return NULL;
            }
          p->string = g_strndup (pat, plen);
          p->string_len = plen;
        }
      return g_steal_pointer (&p);
    }
  if (strcmp (type, "Metaspace") == 0)
    {
      static const char *const keys[]
          = {"type", "replacement", "add_prefix_space", "prepend_scheme", "split", "str_rep", NULL};
      json_object *repl, *scheme;
      gboolean legacy_prefix;
      p->kind = PRE_METASPACE;
      if (!lens_tok_only_keys (o, keys, file, path, error)
          || !lens_tok_get (o, "replacement", json_type_string, &repl, file, path, error)
          || !lens_tok_get (o, "prepend_scheme", json_type_string, &scheme, file, path, error)
          || !lens_tok_get_bool (o, "add_prefix_space", TRUE, &legacy_prefix, file, path, error)
          || !lens_tok_get_bool (o, "split", TRUE, &p->split, file, path, error))
        return NULL;
      const char *r = repl ? json_object_get_string (repl) : "\xe2\x96\x81";
      if (g_utf8_strlen (r, -1) != 1)
        {
          lens_tok_error (error, LENS_ERROR_FORMAT, file, path,
                          "needs a replacement of one character");
          return NULL;
        }
      p->string = g_strdup (r);
      p->string_len = strlen (r);
      /* files written before prepend_scheme existed say add_prefix_space */
      p->prepend = legacy_prefix ? PREPEND_ALWAYS : PREPEND_NEVER;
      if (scheme)
        {
          const char *s = json_object_get_string (scheme);
          if (strcmp (s, "always") == 0)
            p->prepend = PREPEND_ALWAYS;
          else if (strcmp (s, "first") == 0)
            p->prepend = PREPEND_FIRST;
          else if (strcmp (s, "never") == 0)
            p->prepend = PREPEND_NEVER;
          else
            {
              g_autofree char *shown = g_strescape (s, NULL);
              lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                              "has an unknown prepend_scheme \"%s\"", shown);
              return NULL;
            }
        }
      return g_steal_pointer (&p);
    }
  if (strcmp (type, "Digits") == 0)
    {
      static const char *const keys[] = {"type", "individual_digits", NULL};
      p->kind = PRE_DIGITS;
      if (!lens_tok_only_keys (o, keys, file, path, error)
          || !lens_tok_get_bool (o, "individual_digits", FALSE, &p->individual, file, path, error))
        return NULL;
      p->behavior = p->individual ? SPLIT_ISOLATED : SPLIT_CONTIGUOUS;
      return g_steal_pointer (&p);
    }
  if (strcmp (type, "Punctuation") == 0)
    {
      static const char *const keys[] = {"type", "behavior", NULL};
      p->kind = PRE_PUNCTUATION;
      if (!lens_tok_only_keys (o, keys, file, path, error)
          || !parse_behavior (o, SPLIT_ISOLATED, &p->behavior, file, path, error))
        return NULL;
      return g_steal_pointer (&p);
    }
  if (strcmp (type, "Whitespace") == 0 || strcmp (type, "WhitespaceSplit") == 0)
    {
      static const char *const keys[] = {"type", NULL};
      if (!lens_tok_only_keys (o, keys, file, path, error))
        return NULL;
      if (strcmp (type, "Whitespace") == 0)
        {
          /* tokenizers: split on Invert(\w+|[^\w\s]+), Removed */
          static const char rx[] = "\\w+|[^\\w\\s]+";
          p->kind = PRE_WHITESPACE;
          if ((p->regex = lens_tok_regex (rx, strlen (rx), file, path, error)) == NULL)
            return NULL;
          p->invert = TRUE;
        }
      else
        p->kind = PRE_WHITESPACE_SPLIT;
      p->behavior = SPLIT_REMOVED;
      return g_steal_pointer (&p);
    }
  if (strcmp (type, "Sequence") == 0)
    {
      static const char *const keys[] = {"type", "pretokenizers", NULL};
      json_object *arr;
      if (!lens_tok_only_keys (o, keys, file, path, error)
          || (arr = lens_tok_sequence (o, "pretokenizers", file, path, error)) == NULL)
        return NULL;
      p->kind = PRE_SEQUENCE;
      p->children = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_tok_pretokenizer_free);
      for (size_t i = 0; i < json_object_array_length (arr); i++)
        {
          g_autofree char *cp = g_strdup_printf ("%s.pretokenizers[%zu]", path, i);
          LensTokPreTokenizer *c = lens_tok_pretokenizer_parse (json_object_array_get_idx (arr, i),
                                                                file, cp, depth + 1, error);
          if (c == NULL)
            return NULL;
          g_ptr_array_add (p->children, c);
        }
      return g_steal_pointer (&p);
    }
  g_autofree char *shown = g_strescape (type, NULL);
  lens_tok_error (error, LENS_ERROR_UNSUPPORTED, file, path,
                  "is a pre-tokenizer of type \"%s\", which is not supported", shown);
  return NULL;
}

/* ---- matching ---- */

/* A stretch of a piece and whether it matched the pattern. */
typedef struct
{
  size_t start, end;
  gboolean match;
} Span;

/* tokenizers' Pattern::find_matches: spans tiling s[0..n), matches and the gaps between them. */
static void
spans_from_matches (const size_t *m, guint n_m, size_t n, GArray *spans)
{
  size_t prev = 0;
  for (guint i = 0; i < n_m; i++)
    {
      size_t a = m[2 * i], b = m[2 * i + 1];
      if (prev != a)
        g_array_append_val (spans, ((Span){prev, a, FALSE}));
      g_array_append_val (spans, ((Span){a, b, TRUE}));
      prev = b;
    }
  if (prev != n)
    g_array_append_val (spans, ((Span){prev, n, FALSE}));
}

typedef gboolean (*CharPred) (gunichar c);

static gboolean
is_numeric (gunichar c)
{
  /* Rust's char::is_numeric: general categories Nd, Nl and No */
  GUnicodeType t = g_unichar_type (c);
  return t == G_UNICODE_DECIMAL_NUMBER || t == G_UNICODE_LETTER_NUMBER
         || t == G_UNICODE_OTHER_NUMBER;
}

static gboolean
is_punctuation (gunichar c)
{
  /* tokenizers' is_punc: ASCII punctuation (which includes symbols such as $ + < = > ^ ` | ~)
   * or a Unicode punctuation category */
  if (c < 0x80)
    return g_ascii_ispunct ((char) c);
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONNECT_PUNCTUATION:
    case G_UNICODE_DASH_PUNCTUATION:
    case G_UNICODE_CLOSE_PUNCTUATION:
    case G_UNICODE_FINAL_PUNCTUATION:
    case G_UNICODE_INITIAL_PUNCTUATION:
    case G_UNICODE_OTHER_PUNCTUATION:
    case G_UNICODE_OPEN_PUNCTUATION:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Each character satisfying `pred` is a match of its own. */
static void
char_matches (const char *s, size_t n, CharPred pred, GArray *m)
{
  for (const char *c = s; c < s + n; c = g_utf8_next_char (c))
    if (pred (g_utf8_get_char (c)))
      {
        size_t pair[2] = {(size_t) (c - s), (size_t) (g_utf8_next_char (c) - s)};
        g_array_append_vals (m, pair, 2);
      }
}

static void
string_matches (const char *s, size_t n, const char *pat, size_t plen, GArray *m)
{
  for (size_t i = 0; i + plen <= n;)
    if (memcmp (s + i, pat, plen) == 0)
      {
        size_t pair[2] = {i, i + plen};
        g_array_append_vals (m, pair, 2);
        i += plen;
      }
    else
      i++;
}

/* NormalizedString::split: turns spans into the pieces to keep, per `behavior`. */
static void
apply_behavior (GArray *spans, Behavior behavior, gboolean invert)
{
  Span *sp = (Span *) spans->data;
  if (invert)
    for (guint i = 0; i < spans->len; i++)
      sp[i].match = !sp[i].match;
  GArray *out = g_array_sized_new (FALSE, FALSE, sizeof (Span), spans->len);
  gboolean prev_match = FALSE;
  switch (behavior)
    {
    case SPLIT_REMOVED:
      for (guint i = 0; i < spans->len; i++)
        if (!sp[i].match)
          g_array_append_val (out, sp[i]);
      break;
    case SPLIT_ISOLATED:
      g_array_append_vals (out, sp, spans->len);
      break;
    case SPLIT_CONTIGUOUS:
      for (guint i = 0; i < spans->len; i++)
        {
          if (sp[i].match == prev_match && out->len > 0)
            g_array_index (out, Span, out->len - 1).end = sp[i].end;
          else
            g_array_append_val (out, sp[i]);
          prev_match = sp[i].match;
        }
      break;
    case SPLIT_MERGED_WITH_PREVIOUS:
      for (guint i = 0; i < spans->len; i++)
        {
          if (sp[i].match && !prev_match && out->len > 0)
            g_array_index (out, Span, out->len - 1).end = sp[i].end;
          else
            g_array_append_val (out, sp[i]);
          prev_match = sp[i].match;
        }
      break;
    case SPLIT_MERGED_WITH_NEXT:
      for (guint i = spans->len; i-- > 0;)
        {
          if (sp[i].match && !prev_match && out->len > 0)
            g_array_index (out, Span, out->len - 1).start = sp[i].start;
          else
            g_array_append_val (out, sp[i]);
          prev_match = sp[i].match;
        }
      /* built from the right; put back in order */
      for (guint i = 0, j = out->len; i + 1 < j; i++, j--)
        {
          Span t = g_array_index (out, Span, i);
          g_array_index (out, Span, i) = g_array_index (out, Span, j - 1);
          g_array_index (out, Span, j - 1) = t;
        }
      break;
    }
  g_array_set_size (spans, 0);
  g_array_append_vals (spans, out->data, out->len);
  g_array_free (out, TRUE);
}

/* Replaces piece `p` by its kept spans, appended to `dst`; empty ones are dropped. */
static void
emit_spans (const LensTokPiece *p, const GArray *spans, gboolean byte_level, GArray *dst)
{
  for (guint i = 0; i < spans->len; i++)
    {
      const Span *s = &g_array_index (spans, Span, i);
      if (s->end <= s->start)
        continue;
      LensTokPiece q = {g_memdup2 (p->s + s->start, s->end - s->start), s->end - s->start,
                        p->offset + s->start, p->at_start && s->start == 0, byte_level};
      g_array_append_val (dst, q);
    }
}

/* Splits one piece (materialised) by the pre-tokenizer's pattern and behaviour. */
static gboolean
split_piece (const LensTokPreTokenizer *pre, LensTokPiece *p, GArray *dst, GError **error)
{
  g_autoptr (GArray) m = g_array_new (FALSE, FALSE, sizeof (size_t));
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (Span));
  Behavior behavior = pre->behavior;
  gboolean byte_level = FALSE;
  switch (pre->kind)
    {
    case PRE_BYTE_LEVEL:
      if (pre->add_prefix_space && (p->len == 0 || p->s[0] != ' '))
        {
          char *s = g_malloc (p->len + 1);
          s[0] = ' ';
          memcpy (s + 1, p->s, p->len);
          g_free (p->s);
          p->s = s;
          p->len++;
        }
      if (pre->regex == NULL)
        {
          size_t all[2] = {0, p->len};
          g_array_append_vals (m, all, 2);
        }
      else if (!lens_tok_regex_matches (pre->regex, p->s, p->len, m, error))
        return FALSE;
      behavior = SPLIT_ISOLATED;
      byte_level = TRUE;
      break;
    case PRE_SPLIT:
    case PRE_WHITESPACE:
      if (pre->regex != NULL)
        {
          if (!lens_tok_regex_matches (pre->regex, p->s, p->len, m, error))
            return FALSE;
        }
      else
        string_matches (p->s, p->len, pre->string, pre->string_len, m);
      break;
    case PRE_METASPACE:
      {
        GString *s = g_string_sized_new (p->len + 8);
        for (size_t i = 0; i < p->len; i++)
          if (p->s[i] == ' ')
            g_string_append_len (s, pre->string, (gssize) pre->string_len);
          else
            g_string_append_c (s, p->s[i]);
        gboolean starts
            = s->len >= pre->string_len && memcmp (s->str, pre->string, pre->string_len) == 0;
        if (!starts
            && (pre->prepend == PREPEND_ALWAYS || (pre->prepend == PREPEND_FIRST && p->at_start)))
          g_string_prepend_len (s, pre->string, (gssize) pre->string_len);
        g_free (p->s);
        p->len = s->len;
        p->s = g_string_free (s, FALSE);
        if (pre->split)
          string_matches (p->s, p->len, pre->string, pre->string_len, m);
        else
          {
            size_t all[2] = {0, p->len};
            g_array_append_vals (m, all, 2);
          }
        behavior = pre->split ? SPLIT_MERGED_WITH_NEXT : SPLIT_ISOLATED;
        break;
      }
    case PRE_DIGITS:
      char_matches (p->s, p->len, is_numeric, m);
      break;
    case PRE_PUNCTUATION:
      char_matches (p->s, p->len, is_punctuation, m);
      break;
    case PRE_WHITESPACE_SPLIT:
      char_matches (p->s, p->len, lens_tok_is_white_space, m);
      break;
    case PRE_SEQUENCE:
      g_assert_not_reached ();
    }
  spans_from_matches ((const size_t *) m->data, m->len / 2, p->len, spans);
  apply_behavior (spans, behavior, pre->invert);
  emit_spans (p, spans, byte_level, dst);
  return TRUE;
}

guint
lens_tok_pretokenizer_count (const LensTokPreTokenizer *p)
{
  guint c = 1;
  for (guint i = 0; p->kind == PRE_SEQUENCE && i < p->children->len; i++)
    c += lens_tok_pretokenizer_count (p->children->pdata[i]);
  return c;
}

gboolean
lens_tok_pretokenizer_apply (const LensTokPreTokenizer *pre, GArray *pieces, size_t limit,
                             GError **error)
{
  if (pre->kind == PRE_SEQUENCE)
    {
      for (guint i = 0; i < pre->children->len; i++)
        if (!lens_tok_pretokenizer_apply (pre->children->pdata[i], pieces, limit, error))
          return FALSE;
      return TRUE;
    }
  g_autoptr (GArray) out = g_array_sized_new (FALSE, FALSE, sizeof (LensTokPiece), pieces->len);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < pieces->len; i++)
    {
      LensTokPiece *p = &g_array_index (pieces, LensTokPiece, i);
      lens_tok_piece_materialise (p);
      ok = split_piece (pre, p, out, error);
    }
  lens_tok_pieces_clear (pieces);
  size_t total = 0;
  for (guint i = 0; ok && i < out->len; i++)
    total += g_array_index (out, LensTokPiece, i).len;
  if (ok && total > limit)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "the pre-tokenizer makes the text more than %d times longer", LENS_TOK_GROWTH);
      ok = FALSE;
    }
  if (ok)
    g_array_append_vals (pieces, out->data, out->len);
  else
    lens_tok_pieces_clear (out);
  return ok;
}

gboolean
lens_tok_pretokenizer_lossless (const LensTokPreTokenizer *pre)
{
  switch (pre->kind)
    {
    case PRE_BYTE_LEVEL:
      return !pre->add_prefix_space;
    case PRE_SPLIT:
    case PRE_DIGITS:
    case PRE_PUNCTUATION:
      return pre->behavior != SPLIT_REMOVED;
    case PRE_METASPACE:
    case PRE_WHITESPACE:
    case PRE_WHITESPACE_SPLIT:
      return FALSE;
    case PRE_SEQUENCE:
      for (guint i = 0; i < pre->children->len; i++)
        if (!lens_tok_pretokenizer_lossless (pre->children->pdata[i]))
          return FALSE;
      return TRUE;
    }
  return FALSE;
}
