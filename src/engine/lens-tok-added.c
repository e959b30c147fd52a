/* lens-tok-added.c: finding added tokens in text, as tokenizers' AddedVocabulary::find_matches
 * does: the leftmost match wins, the longest one among those starting there (aho-corasick's
 * LeftmostLongest), matches do not overlap; then single_word discards matches inside a word, and
 * lstrip / rstrip take the whitespace before / after into the token. */
#include "lens-tok-private.h"

#include <string.h>

static const char *
find_bytes (const char *hay, size_t n, const char *needle, size_t m)
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

/* Rust's char::is_alphanumeric (Alphabetic or Numeric) or '_': a "word" character for
 * single_word. */
static gboolean
is_word_char (gunichar c)
{
  return c == '_' || g_unichar_isalpha (c) || g_unichar_isdigit (c)
         || g_unichar_type (c) == G_UNICODE_LETTER_NUMBER
         || g_unichar_type (c) == G_UNICODE_OTHER_NUMBER;
}

void
lens_tok_added_split (const LensTokAdded *tokens, guint n_tokens, gboolean normalized,
                      const char *s, size_t n, GArray *out)
{
  /* next occurrence of each token at or after the search position; (size_t) -1: not searched */
  g_autofree size_t *next_at = g_new (size_t, n_tokens + 1);
  for (guint i = 0; i < n_tokens; i++)
    next_at[i] = (size_t) -1;
  size_t search = 0, start_offset = 0;
  for (;;)
    {
      size_t best_at = n, best_len = 0;
      int best = -1;
      for (guint i = 0; i < n_tokens; i++)
        {
          const LensTokAdded *t = &tokens[i];
          if (t->normalized != normalized || t->len == 0)
            continue;
          if (next_at[i] == (size_t) -1 || next_at[i] < search)
            {
              const char *f = find_bytes (s + search, n - search, t->content, t->len);
              next_at[i] = f ? (size_t) (f - s) : n;
            }
          if (next_at[i] < n
              && (next_at[i] < best_at || (next_at[i] == best_at && t->len > best_len)))
            {
              best_at = next_at[i];
              best_len = t->len;
              best = (int) i;
            }
        }
      if (best < 0)
        break;
      const LensTokAdded *t = &tokens[best];
      size_t start = best_at, stop = best_at + best_len;
      search = stop; /* the automaton goes on after the match, kept or not */
      if (t->single_word)
        {
          gboolean start_space
              = start == 0 || !is_word_char (g_utf8_get_char (g_utf8_prev_char (s + start)));
          gboolean stop_space = stop == n || !is_word_char (g_utf8_get_char (s + stop));
          if (!start_space || !stop_space)
            continue;
        }
      if (t->lstrip)
        {
          size_t a = start;
          while (a > 0 && lens_tok_is_white_space (g_utf8_get_char (g_utf8_prev_char (s + a))))
            a = (size_t) (g_utf8_prev_char (s + a) - s);
          /* spaces an earlier match took already stay with it */
          start = MAX (a, start_offset);
        }
      if (t->rstrip)
        while (stop < n && lens_tok_is_white_space (g_utf8_get_char (s + stop)))
          stop = (size_t) (g_utf8_next_char (s + stop) - s);
      if (start < start_offset)
        continue; /* inside whitespace a previous rstrip took */
      if (start_offset < start)
        g_array_append_val (out, ((LensTokSegment){start_offset, start, -1}));
      g_array_append_val (out, ((LensTokSegment){start, stop, t->id}));
      start_offset = stop;
      search = MAX (search, stop);
    }
  if (start_offset < n || n == 0)
    g_array_append_val (out, ((LensTokSegment){start_offset, n, -1}));
}
