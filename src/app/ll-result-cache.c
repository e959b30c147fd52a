/* ll-result-cache.c: the worker's LRU cache of finished results (see ll-result-cache.h). */
#include "config.h"

#include <string.h>

#include "ll-result-cache.h"

/* Enough to flip between a dozen prompts of a typical session; bounded by bytes as well since a
 * long prompt on a big model keeps (R, T, C) floats of normalised residuals per result. */
#define CACHE_MAX_ENTRIES 48
#define CACHE_MAX_BYTES ((size_t) 768 * 1024 * 1024)

typedef struct
{
  char *key;
  LensResult *result;
  size_t bytes;
} CacheEntry;

struct _LlResultCache
{
  GMutex lock;
  GQueue entries; /* of CacheEntry, most recently used first */
  size_t bytes;
};

static void
cache_entry_free (CacheEntry *e)
{
  g_free (e->key);
  lens_result_unref (e->result);
  g_free (e);
}

LlResultCache *
ll_result_cache_new (void)
{
  LlResultCache *self = g_new0 (LlResultCache, 1);
  g_mutex_init (&self->lock);
  g_queue_init (&self->entries);
  return self;
}

void
ll_result_cache_clear (LlResultCache *self)
{
  g_mutex_lock (&self->lock);
  g_queue_clear_full (&self->entries, (GDestroyNotify) cache_entry_free);
  g_queue_init (&self->entries);
  self->bytes = 0;
  g_mutex_unlock (&self->lock);
}

void
ll_result_cache_free (LlResultCache *self)
{
  if (self == NULL)
    return;
  ll_result_cache_clear (self);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* Keyed by model, rows and token ids, not top-k: a cached result with more tokens per cell serves
 * any smaller top-k (lens_result_with_top_k). */
char *
ll_result_cache_key (LensModel *model, gboolean sublayers, const int32_t *ids, int T)
{
  GString *s = g_string_new (lens_model_path (model));
  g_string_append (s, sublayers ? "\nsublayers\n" : "\n");
  for (int t = 0; t < T; t++)
    g_string_append_printf (s, "%" G_GINT32_FORMAT ",", ids[t]);
  return g_string_free (s, FALSE);
}

static size_t
result_bytes (const LensResult *r)
{
  size_t cells = (size_t) r->n_rows * (size_t) r->n_tokens;
  size_t bytes = cells * (size_t) r->top_k * (sizeof (int32_t) + sizeof (float));
  bytes += cells * 2 * sizeof (float);
  if (r->norm_resid != NULL)
    bytes += cells * (size_t) r->d_model * sizeof (float);
  return bytes;
}

/* Returns a new reference, or NULL. Moves a hit to the front. */
LensResult *
ll_result_cache_lookup (LlResultCache *self, const char *key)
{
  LensResult *found = NULL;

  g_mutex_lock (&self->lock);
  for (GList *l = self->entries.head; l != NULL; l = l->next)
    {
      CacheEntry *e = l->data;
      if (strcmp (e->key, key) == 0)
        {
          g_queue_unlink (&self->entries, l);
          g_queue_push_head_link (&self->entries, l);
          found = lens_result_ref (e->result);
          break;
        }
    }
  g_mutex_unlock (&self->lock);
  return found;
}

void
ll_result_cache_insert (LlResultCache *self, char *key, LensResult *result)
{
  CacheEntry *e = g_new0 (CacheEntry, 1);
  e->key = key;
  e->result = lens_result_ref (result);
  e->bytes = result_bytes (result);

  g_mutex_lock (&self->lock);
  /* a result for a larger top-k replaces the one it supersedes */
  for (GList *l = self->entries.head; l != NULL; l = l->next)
    {
      CacheEntry *old = l->data;
      if (strcmp (old->key, e->key) == 0)
        {
          self->bytes -= old->bytes;
          g_queue_delete_link (&self->entries, l);
          cache_entry_free (old);
          break;
        }
    }
  g_queue_push_head (&self->entries, e);
  self->bytes += e->bytes;
  /* Keep at least the newest entry, however big. */
  while (self->entries.length > 1
         && (self->entries.length > CACHE_MAX_ENTRIES || self->bytes > CACHE_MAX_BYTES))
    {
      CacheEntry *old = g_queue_pop_tail (&self->entries);
      self->bytes -= old->bytes;
      cache_entry_free (old);
    }
  g_mutex_unlock (&self->lock);
}
