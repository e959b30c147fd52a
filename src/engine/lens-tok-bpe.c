/* lens-tok-bpe.c: the BPE model, as tokenizers' models/bpe: a pre-token's characters are looked
 * up in the vocabulary (with continuing_subword_prefix / end_of_word_suffix, byte_fallback to
 * <0xNN> tokens, unk_token), then merged. Merging follows word.rs merge_all: a priority queue of
 * (rank, position) applies one merge at a time and queues the pairs it creates at once, so a pair
 * of lower rank made by a merge goes before the remaining pairs of the current rank. (GPT-2's
 * encoder.py merges every occurrence of a rank before looking at new pairs; the two differ only
 * when merges are ranked out of the order they could have been learnt in.) The queue is a heap,
 * so a hostile multi-megabyte "word" stays O(n log n). */
#include "lens-error.h"
#include "lens-file.h"
#include "lens-tok-private.h"

#include <string.h>

/* Words up to this many bytes are cached; longer ones are rare and would bloat the cache. */
#define CACHE_MAX_WORD 64
#define CACHE_MAX_ENTRIES (1 << 18)

typedef struct
{
  const char *p; /* a flag byte (byte_level) followed by the piece's bytes */
  size_t len;
} WordKey;

typedef struct
{
  WordKey key; /* key.p points into this allocation, just after the ids */
  guint n;
  int32_t ids[];
} CacheEntry;

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

void
lens_tok_bpe_init (LensTokBpe *m)
{
  memset (m, 0, sizeof *m);
  m->unk_id = -1;
  for (int b = 0; b < 256; b++)
    m->byte_id[b] = m->fallback_id[b] = -1;
  g_mutex_init (&m->cache_lock);
  m->cache = g_hash_table_new_full (word_key_hash, word_key_equal, NULL, g_free);
}

void
lens_tok_bpe_clear (LensTokBpe *m)
{
  g_free (m->merges);
  g_free (m->prefix);
  g_free (m->suffix);
  g_clear_pointer (&m->cache, g_hash_table_unref);
  g_mutex_clear (&m->cache_lock);
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

void
lens_tok_bpe_alloc_merges (LensTokBpe *m, size_t n)
{
  size_t cap = 16;
  while (cap < 2 * n + 2)
    cap *= 2;
  g_free (m->merges);
  m->merge_cap = cap;
  /* Cleared here, not by calloc: in a fresh process calloc hands out untouched pages, and each
   * page of the table then faulted twice (mapped to the zero page by the first probe, copied by
   * the first insert): GPT-2's 2 MB table took 1,000 faults, now 500. */
  m->merges = g_new (LensTokMerge, cap);
  lens_memory_prefault (m->merges, cap * sizeof *m->merges);
  memset (m->merges, 0, cap * sizeof *m->merges);
}

LensTokMerge *
lens_tok_bpe_merge_find (const LensTokBpe *m, int32_t left, int32_t right)
{
  guint64 k = merge_key (left, right);
  size_t mask = m->merge_cap - 1;
  for (size_t i = merge_hash (k) & mask;; i = (i + 1) & mask)
    {
      LensTokMerge *s = &m->merges[i];
      if (s->key == k || s->key == 0)
        return s;
    }
}

void
lens_tok_bpe_add_merge (LensTokBpe *m, int32_t left, int32_t right, int32_t merged, int32_t rank)
{
  LensTokMerge *s = lens_tok_bpe_merge_find (m, left, right);
  /* a repeated pair takes the later rank, as in Hugging Face (a map built in file order) */
  s->key = merge_key (left, right);
  s->rank = rank;
  s->merged = merged;
}

static inline int32_t
vocab_id (const LensTokBpe *m, const char *s, size_t len)
{
  int32_t id = m->lookup (m->vocab, s, len);
  return id < m->n_vocab ? id : -1;
}

void
lens_tok_bpe_index_bytes (LensTokBpe *m)
{
  for (int c = 0; c < 256; c++)
    {
      char s[8];
      int l = g_unichar_to_utf8 (lens_tok_byte_to_cp[c], s);
      m->byte_id[c] = vocab_id (m, s, (size_t) l);
      g_snprintf (s, sizeof s, "<0x%02X>", (guint) c);
      m->fallback_id[c] = vocab_id (m, s, 6);
    }
}

/* ---- the merge loop ---- */

typedef struct
{
  int32_t rank;
  int32_t pos; /* index of the left symbol */
  int32_t merged;
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

static void
push_pair (const LensTokBpe *m, GArray *heap, const int32_t *id, int32_t l, int32_t r)
{
  if (l < 0 || r < 0)
    return;
  LensTokMerge *s = lens_tok_bpe_merge_find (m, id[l], id[r]);
  if (s->key != 0)
    heap_push (heap, (Cand){s->rank, l, s->merged});
}

/* Merges the symbols `sym` (ids) and appends the result to `out`. */
static void
merge_all (const LensTokBpe *m, GArray *sym, GArray *out)
{
  size_t n = sym->len;
  int32_t *id = (int32_t *) sym->data;
  g_autofree int32_t *next = g_new (int32_t, n);
  g_autofree int32_t *prev = g_new (int32_t, n);
  for (size_t i = 0; i < n; i++)
    {
      next[i] = i + 1 < n ? (int32_t) (i + 1) : -1;
      prev[i] = (int32_t) i - 1;
    }
  g_autoptr (GArray) heap = g_array_sized_new (FALSE, FALSE, sizeof (Cand), (guint) n);
  for (size_t i = 0; i + 1 < n; i++)
    push_pair (m, heap, id, (int32_t) i, (int32_t) i + 1);
  while (heap->len > 0)
    {
      Cand c = heap_pop (heap);
      int32_t l = c.pos, r = next[l];
      if (id[l] < 0 || r < 0)
        continue; /* merged away, or now the last symbol */
      /* word.rs checks that the pair now at this position still makes the same token */
      LensTokMerge *s = lens_tok_bpe_merge_find (m, id[l], id[r]);
      if (s->key == 0 || s->merged != c.merged)
        continue;
      id[l] = c.merged;
      id[r] = -1;
      next[l] = next[r];
      if (next[r] >= 0)
        prev[next[r]] = l;
      push_pair (m, heap, id, prev[l], l);
      push_pair (m, heap, id, l, next[l]);
    }
  if (n > 0)
    for (int32_t i = 0; i >= 0; i = next[i])
      g_array_append_val (out, id[i]);
}

/* The initial symbols of a word, character by character (models/bpe/model.rs merge_word). */
static gboolean
word_symbols (const LensTokBpe *m, const LensTokPiece *p, GArray *sym, GError **error)
{
  LensTokPiece mat = *p;
  g_autofree char *owned = NULL;
  if (p->byte_level)
    {
      /* the fast path: each byte is one alphabet character */
      gboolean all = m->prefix == NULL && m->suffix == NULL;
      for (size_t i = 0; all && i < p->len; i++)
        {
          int32_t id = m->byte_id[(guint8) p->s[i]];
          if (id < 0 && !m->byte_fallback && m->unk_id < 0)
            {
              g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                           "byte 0x%02x at offset %zu has no token in the vocabulary",
                           (guint8) p->s[i], p->offset + i);
              return FALSE;
            }
          all = id >= 0;
          g_array_append_val (sym, id);
        }
      if (all)
        return TRUE;
      g_array_set_size (sym, 0);
      mat.s = owned = g_memdup2 (p->s, p->len);
      lens_tok_piece_materialise (&mat);
      owned = mat.s;
    }
  int32_t unk = -1; /* a pending unknown-token symbol */
  g_autoptr (GString) key = g_string_new (NULL);
  const char *end = mat.s + mat.len;
  for (const char *c = mat.s; c < end; c = g_utf8_next_char (c))
    {
      const char *cn = g_utf8_next_char (c);
      g_string_truncate (key, 0);
      if (c > mat.s && m->prefix)
        g_string_append (key, m->prefix);
      g_string_append_len (key, c, cn - c);
      if (cn >= end && m->suffix)
        g_string_append (key, m->suffix);
      int32_t id = vocab_id (m, key->str, key->len);
      if (id >= 0)
        {
          if (unk >= 0)
            g_array_append_val (sym, unk);
          unk = -1;
          g_array_append_val (sym, id);
          continue;
        }
      if (m->byte_fallback)
        {
          gboolean all = TRUE;
          for (size_t i = 0; all && i < key->len; i++)
            all = m->fallback_id[(guint8) key->str[i]] >= 0;
          if (all)
            {
              /* as in model.rs, a pending unknown token is not flushed first */
              for (size_t i = 0; i < key->len; i++)
                g_array_append_val (sym, m->fallback_id[(guint8) key->str[i]]);
              continue;
            }
        }
      if (m->unk_id >= 0)
        {
          if (unk >= 0 && !m->fuse_unk)
            g_array_append_val (sym, unk);
          unk = m->unk_id;
          continue;
        }
      /* Hugging Face drops the character silently; a dropped character would make the ids
       * silently wrong for the text, so it is an error here */
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "character U+%04X near offset %zu has no token in the vocabulary, and the "
                   "model has neither byte_fallback nor unk_token",
                   (guint) g_utf8_get_char (c), p->offset + (size_t) (c - mat.s));
      return FALSE;
    }
  if (unk >= 0)
    g_array_append_val (sym, unk);
  return TRUE;
}

gboolean
lens_tok_bpe_encode (const LensTokBpe *m, const LensTokPiece *p, GArray *out, GError **error)
{
  if (p->len == 0)
    return TRUE;
  if (p->len > G_MAXINT32 / 2)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "text is too long");
      return FALSE;
    }
  LensTokBpe *mm = (LensTokBpe *) m; /* the cache is internal, guarded by its lock */
  char kbuf[CACHE_MAX_WORD + 1];
  WordKey k = {kbuf, p->len + 1};
  gboolean cacheable = p->len <= CACHE_MAX_WORD;
  if (cacheable)
    {
      kbuf[0] = (char) p->byte_level;
      memcpy (kbuf + 1, p->s, p->len);
      g_mutex_lock (&mm->cache_lock);
      CacheEntry *e = g_hash_table_lookup (mm->cache, &k);
      if (e != NULL)
        g_array_append_vals (out, e->ids, e->n);
      g_mutex_unlock (&mm->cache_lock);
      if (e != NULL)
        return TRUE;
    }
  guint before = out->len;
  int32_t whole = -1;
  if (m->ignore_merges)
    {
      /* Llama 3: a pre-token that is itself in the vocabulary is not merged at all */
      if (p->byte_level)
        {
          LensTokPiece mat = {g_memdup2 (p->s, p->len), p->len, 0, FALSE, TRUE};
          lens_tok_piece_materialise (&mat);
          whole = vocab_id (m, mat.s, mat.len);
          g_free (mat.s);
        }
      else
        whole = vocab_id (m, p->s, p->len);
    }
  if (whole >= 0)
    g_array_append_val (out, whole);
  else
    {
      g_autoptr (GArray) sym = g_array_sized_new (FALSE, FALSE, sizeof (int32_t), (guint) p->len);
      if (!word_symbols (m, p, sym, error))
        return FALSE;
      merge_all (m, sym, out);
    }
  if (cacheable)
    {
      guint cnt = out->len - before;
      CacheEntry *e = g_malloc (sizeof (CacheEntry) + cnt * sizeof (int32_t) + k.len);
      e->n = cnt;
      memcpy (e->ids, &g_array_index (out, int32_t, before), cnt * sizeof (int32_t));
      char *kp = (char *) (e->ids + cnt);
      memcpy (kp, kbuf, k.len);
      e->key = (WordKey){kp, k.len};
      g_mutex_lock (&mm->cache_lock);
      if (g_hash_table_size (mm->cache) >= CACHE_MAX_ENTRIES)
        g_hash_table_remove_all (mm->cache);
      g_hash_table_replace (mm->cache, &e->key, e);
      g_mutex_unlock (&mm->cache_lock);
    }
  return TRUE;
}
