/* lens-head.h: the lens head, the one place where a residual becomes next-token logits: the
 * model's final norm, its unembedding, and anything the model applies after it. The live lens
 * (lens-run.c), target and rank queries (lens-result.c), the tracked tokens of results files
 * (lens-results-write.c), the forward pass's own logits and the perplexity all go through here, so
 * the last block's row of the lens is exactly the model's prediction. */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "lens-model.h"

G_BEGIN_DECLS

/* y (n, C) = final_norm(x (n, C)); y may be x. */
void lens_head_norm (const LensModel *model, const float *x, float *y, int n);

/* How many vocabulary ids a tile of the unembedding should hold: 2,048 when W_U is used in place
 * (the logits of a chunk of cells against it still fit in cache); fewer when it has to be
 * converted (about 4 MiB of f32: each GEMM packs its chunk of cells again, so much smaller tiles
 * cost more packing than the cache saves). */
int lens_head_tile_ids (const LensModel *model);

/* Rows [v0, v1) of the unembedding W_U (V, C) in f32: a pointer into the mapping when the weights
 * are usable in place, else converted into `scratch`, which must hold (v1 - v0) x C floats. */
const float *lens_head_tile (const LensModel *model, int v0, int v1, float *scratch);

/* logits (n, Vt) (row stride ldl) = y (n, C) (row stride ldy) . tile (Vt, C)^T, then the model's
 * output transform. One thread (callers split the vocabulary over theirs). */
void lens_head_tile_logits (const LensModel *model, const float *y, int n, int ldy,
                            const float *tile, int Vt, float *logits, int ldl);

/* logits (n, V) of normed residuals y (n, C), over the OpenMP threads. FALSE when out of
 * memory. */
gboolean lens_head_logits (const LensModel *model, const float *y, int n, float *logits,
                           GError **error);

/* out (n, n_ids) = the logits of the given ids only, for normed residuals y (n rows, stride
 * ldy). Ids must be inside the vocabulary. */
void lens_head_logits_of_ids (const LensModel *model, const float *y, int n, int ldy,
                              const int32_t *ids, int n_ids, float *out);

/* out (n) = the logit of ids[i] for normed residual row i of y (n rows, stride ldy), one id per
 * row; NAN where ids[i] < 0. Ids must be inside the vocabulary. */
void lens_head_logit_per_row (const LensModel *model, const float *y, int n, int ldy,
                              const int32_t *ids, float *out);

G_END_DECLS
