/* ll-worker.h: runs the engine off the main thread.
 *
 * Owns the current model, runs one request at a time on a GTask thread, cancels the older request
 * when a newer one arrives (the engine polls the GCancellable between layers) and never delivers a
 * stale result. A run of a big prompt on a big model is progressive: "partial-result" shows what
 * is ready (the last position first) before the complete result arrives. Results are cached by
 * (model folder, top-k, token ids), so asking again for an earlier prompt returns at once without
 * running the model. */
#pragma once

#include <gio/gio.h>

#include "lens-model.h"
#include "lens-result.h"

G_BEGIN_DECLS

#define LL_TYPE_WORKER (ll_worker_get_type ())
G_DECLARE_FINAL_TYPE (LlWorker, ll_worker, LL, WORKER, GObject)

LlWorker *ll_worker_new (void);

/* The current model (borrowed), or NULL before the first successful load. */
LensModel *ll_worker_get_model (LlWorker *self);

/* Loads `dir` on a thread. On success it becomes the current model ("model-changed" is emitted
 * before the callback runs); on failure the previous model stays. A newer load supersedes an
 * older one, which then fails with G_IO_ERROR_CANCELLED. */
void ll_worker_load_model_async (LlWorker *self, const char *dir, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean ll_worker_load_model_finish (LlWorker *self, GAsyncResult *result, GError **error);

/* Tokenizes and runs `prompt` on the current model with `top_k` entries per cell. Cancels the
 * previous run; a superseded run finishes with G_IO_ERROR_CANCELLED. Errors: LENS_ERROR_INPUT for
 * an empty or too long prompt (the message says how long), engine errors otherwise. The prompt's
 * token count is signalled ("prompt-tokenized") as soon as it is known. */
void ll_worker_run_async (LlWorker *self, const char *prompt, int top_k, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data);
/* `from_cache` (may be NULL) tells whether the result came from the cache. */
LensResult *ll_worker_run_finish (LlWorker *self, GAsyncResult *result, gboolean *from_cache,
                                  GError **error);

/* KL(P_pinned || P_current) at every aligned cell of `current` (lens_compare_kl), on the worker's
 * thread after anything queued before it: a float array (R, T of current) to free with g_free.
 * Errors: LENS_ERROR_INPUT when the two cannot be compared (the message says why),
 * G_IO_ERROR_CANCELLED when `cancellable` is cancelled. Independent of the run requests. */
void ll_worker_compare_kl_async (LlWorker *self, LensResult *pinned, LensResult *current,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
float *ll_worker_compare_kl_finish (LlWorker *self, GAsyncResult *result, GError **error);

/* Reads a results file (ours or logitlenskit's, lens_results_load_full) on a thread of its own,
 * not queued behind a model load or run: it needs no model. The parser cannot be interrupted; an
 * open whose `cancellable` is cancelled finishes with G_IO_ERROR_CANCELLED when it returns. */
void ll_worker_open_results_async (LlWorker *self, const char *path, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
/* The file's result, and in `targets` (may be NULL) the targets it tracked: a GPtrArray of
 * LensTarget * (NULL when it has none) to unref. */
LensResult *ll_worker_open_results_finish (LlWorker *self, GAsyncResult *result,
                                           GPtrArray **targets, GError **error);

/* The most tokens a prompt may have on the current model (its context length; runs of longer
 * prompts fail), or 0 without a model. */
int ll_worker_get_max_prompt_tokens (LlWorker *self);

/* Cancels the running request, if any (it finishes with G_IO_ERROR_CANCELLED). */
void ll_worker_cancel (LlWorker *self);

/* Threads the next loads and runs compute with (1 .. LENS_THREADS_MAX); 0 = every core (or
 * OMP_NUM_THREADS). A job already running keeps its count. */
void ll_worker_set_threads (LlWorker *self, int n_threads);

/* Whether the next runs add, before each block's row, the row after its attention sub-layer
 * ("L.attn"). */
void ll_worker_set_sublayers (LlWorker *self, gboolean sublayers);

/* Is a run or load in progress? (property "busy") */
gboolean ll_worker_get_busy (LlWorker *self);

/* How many times the model actually ran (cache misses that completed); for tests. */
guint ll_worker_get_n_forward (LlWorker *self);

G_END_DECLS
