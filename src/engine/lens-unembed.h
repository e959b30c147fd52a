/* lens-unembed.h: the unembedding of kept residuals with its reductions (lens-unembed.c), for
 * lens-run.c. Engine-private. */
#pragma once

#include "lens-model.h"
#include "lens-result.h"

G_BEGIN_DECLS

/* Where the metrics of a run's new cells come from: the final row's normed residual of each new
 * position (a kept row of the result being computed, or final_norm (n, C) for positions
 * [first, T)) and the prompt's ids, for the token that follows each position. */
typedef struct
{
  gboolean enabled;
  int final_row;           /* the kept row that is the last block's output, or -1 */
  const float *final_norm; /* (T - first, C) when final_row < 0 */
  int first;               /* the first new position */
  const int32_t *ids;      /* (T) the prompt */
  int T;
} LensMetricsSource;

/* What a run hears while its cells are unembedded: both called on one thread of the team only,
 * after each vocabulary tile. */
typedef struct
{
  gboolean (*cancel) (gpointer user_data);                /* TRUE stops the run ("Cancelled") */
  void (*tile_done) (int tiles_done, gpointer user_data); /* of lens_unembed_steps () */
  gpointer user_data;
} LensUnembedCallbacks;

/* The progress steps (tiles of one thread) that one call of lens_unembed_cells reports. */
int lens_unembed_steps (const LensModel *model, int top_k);

/* The lens of res's cells (its norm_resid (R, m, C) filled), which are positions [a, a + m) of
 * the prompt: top-k, entropy, log_z, and the metrics when src has them enabled. cb may be
 * NULL. */
gboolean lens_unembed_cells (LensModel *model, LensResult *res, int a, const LensMetricsSource *src,
                             const LensUnembedCallbacks *cb, GError **error);

G_END_DECLS
