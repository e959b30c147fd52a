/* ll-result-cache.h: the worker's cache of finished results, least recently used out first,
 * bounded by entries and bytes. Thread-safe: the worker's thread fills it, any thread may read. */
#pragma once

#include "lens-model.h"
#include "lens-result.h"

G_BEGIN_DECLS

typedef struct _LlResultCache LlResultCache;

LlResultCache *ll_result_cache_new (void);
void ll_result_cache_free (LlResultCache *self);
/* Drops every entry (a new model). */
void ll_result_cache_clear (LlResultCache *self);

/* The key of a run: the model, whether it has sub-layer rows, and the token ids (T). */
char *ll_result_cache_key (LensModel *model, gboolean sublayers, const int32_t *ids, int T);
/* A new reference to the result under `key`, or NULL; a hit becomes the most recent entry. */
LensResult *ll_result_cache_lookup (LlResultCache *self, const char *key);
/* Adds `result` under `key` (taken), replacing an entry with the same key, then drops the
 * least recently used entries beyond the bounds (the newest stays, however big). */
void ll_result_cache_insert (LlResultCache *self, char *key, LensResult *result);

G_END_DECLS
