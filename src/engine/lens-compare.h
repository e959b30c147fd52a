/* lens-compare.h: two results side by side, cell by cell.
 *
 * Cells align when they read the same row (the same row labels in the same order) at the same
 * position index; positions past the shorter prompt have no partner. Values come out in the
 * layout of the second result ("current", R x T) with NAN where a cell has no partner. */
#pragma once

#include <glib.h>

#include "lens-result.h"

G_BEGIN_DECLS

typedef enum
{
  LENS_DIFF_TARGET, /* the active target's probability: current - pinned */
  LENS_DIFF_KL,     /* KL(P_pinned || P_current) in nats, from the full distributions */
} LensDiffKind;

/* "target", "kl": the CLI's --diff and the app's setting. */
gboolean lens_diff_kind_from_string (const char *name, LensDiffKind *kind);
const char *lens_diff_kind_to_string (LensDiffKind kind);

/* Do the two results have the same rows? If not, says how they differ. */
gboolean lens_compare_rows_match (const LensResult *pinned, const LensResult *current,
                                  GError **error);

/* Positions that have a partner: min(T_pinned, T_current). */
int lens_compare_n_positions (const LensResult *pinned, const LensResult *current);

/* out (R, T_current) = probs_current - probs_pinned at aligned cells, NAN elsewhere (and where
 * either is unknown). probs_* are each result's (R, T) probabilities of the same target. The rows
 * must match. */
void lens_compare_target_diff (const LensResult *pinned, const float *probs_pinned,
                               const LensResult *current, const float *probs_current, float *out);

/* out (R, T_current) = KL(P_pinned || P_current) over the whole vocabulary at aligned cells, NAN
 * elsewhere. Both results must be live runs of the same model with matching rows; the lens head
 * runs again on both residuals (the cost of one more lens over the aligned cells). `cancel` is
 * polled between blocks of cells. */
gboolean lens_compare_kl (const LensResult *pinned, const LensResult *current, float *out,
                          LensCancelFunc cancel, gpointer user_data, GError **error);

G_END_DECLS
