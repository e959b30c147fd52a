/* lens-model.h: a loaded model (config + validated weights + tokenizer) and its forward pass,
 * for every family of the architecture table (lens-arch.h).
 *
 * A LensModel is reference-counted and immutable after loading, so a worker thread can run it
 * while the UI thread holds results that point back at it. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdbool.h>

#include "lens-config.h"
#include "lens-tokenizer.h"

G_BEGIN_DECLS

typedef struct LensModel LensModel;

/* Polled between layers; return TRUE to stop (the call then fails with LENS_ERROR_CANCELLED). */
typedef gboolean (*LensCancelFunc) (gpointer user_data);
/* Reports progress: `done` of `total` steps finished. Called on the computing thread. */
typedef void (*LensProgressFunc) (int done, int total, gpointer user_data);

LensModel *lens_model_load (const char *dir, GError **error);
LensModel *lens_model_ref (LensModel *model);
void lens_model_unref (LensModel *model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LensModel, lens_model_unref)

const LensConfig *lens_model_config (const LensModel *model);
const LensTokenizer *lens_model_tokenizer (const LensModel *model);
/* The folder it was loaded from, and a short display name (the folder's or the HF repo's name). */
const char *lens_model_path (const LensModel *model);
const char *lens_model_name (const LensModel *model);
/* Display text of token `id` (lens_tokenizer_token_display, cached for the whole vocabulary;
 * "" for an id out of range). Valid as long as the model. */
const char *lens_model_token_text (const LensModel *model, int32_t id);
/* Bytes of weights mapped from disk (for the memory budget). */
uint64_t lens_model_weights_size (const LensModel *model);

/* Number of parameters (every tensor the forward pass reads, the tied unembedding once). */
uint64_t lens_model_n_params (const LensModel *model);
/* The weights' storage type: "F32", "F16", "BF16", or "mixed". */
const char *lens_model_dtype (const LensModel *model);

/* Runs the model on ids (T tokens, 1 <= T <= n_positions).
 * residuals: (L+1, T, C) or NULL; row 0 = embeddings, row l+1 = output of block l
 *            (what nnsight reads as model.transformer.h[l].output[0], or
 *            model.model.layers[l].output[0]).
 * logits:    (T, V) or NULL; the model's own next-token logits (the lens head, lens-head.h, of
 *            the last block's output). */
gboolean lens_model_forward (LensModel *model, const int32_t *ids, int T, float *residuals,
                             float *logits, LensCancelFunc cancel, LensProgressFunc progress,
                             gpointer user_data, GError **error);

/* The keys and values (after RoPE) of every block for the positions a run computed, so that a
 * later run of the same tokens extended computes only the new positions. Owned by the caller (the
 * lens keeps one per prompt being edited); lens_model_forward_from fills and reads it. */
typedef struct LensKvCache LensKvCache;
LensKvCache *lens_kv_cache_new (void);
void lens_kv_cache_free (LensKvCache *kv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LensKvCache, lens_kv_cache_free)
/* Room for T positions of `model` (a cache of another shape starts over). */
gboolean lens_kv_cache_reserve (LensKvCache *kv, const LensModel *model, int T, GError **error);

/* The forward pass of positions p .. T - 1 of ids, whose positions 0 .. p - 1 this model has run
 * before with their keys and values left in kv (the caller checks that they were these ids); the
 * new positions' keys and values are added to kv. kv may be NULL when p is 0 (nothing kept).
 * residuals: (L+1, T - p, C) or NULL, as lens_model_forward's for the new positions.
 * attn_residuals: (L, T - p, C) or NULL; row l = the residual after block l's attention sub-layer
 * (parallel-residual blocks: the block's input plus the attention output alone). 0 <= p < T. */
gboolean lens_model_forward_from (LensModel *model, LensKvCache *kv, const int32_t *ids, int T,
                                  int p, float *residuals, float *attn_residuals,
                                  LensCancelFunc cancel, LensProgressFunc progress,
                                  gpointer user_data, GError **error);

/* Mean next-token cross-entropy (nats) of ids (N) in consecutive windows of the context length
 * (at most LENS_LOSS_MAX_WINDOW ids), each window predicting its ids[1:] from its own prefix;
 * *n_predicted receives the count. */
#define LENS_LOSS_MAX_WINDOW 2048
gboolean lens_model_mean_loss (LensModel *model, const int32_t *ids, size_t N, double *mean_loss,
                               long *n_predicted, GError **error);

G_END_DECLS
