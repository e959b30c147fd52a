/* ll-compare-page.h: the Compare view: a pinned result, and per cell how the current one differs
 * from it (a target's probability difference, or the KL divergence between the two
 * distributions, computed on the worker's thread). */
#pragma once

#include <gtk/gtk.h>

#include "lens-paint.h"
#include "ll-worker.h"

G_BEGIN_DECLS

#define LL_TYPE_COMPARE_PAGE (ll_compare_page_get_type ())
G_DECLARE_FINAL_TYPE (LlComparePage, ll_compare_page, LL, COMPARE_PAGE, GtkWidget)

/* The worker that computes KL (not owned; set once). */
void ll_compare_page_set_worker (LlComparePage *self, LlWorker *worker);

/* Pins `result` (a reference is taken); NULL unpins. */
void ll_compare_page_pin (LlComparePage *self, LensResult *result);
LensResult *ll_compare_page_get_pinned (LlComparePage *self);

/* What the window shows now: the current result (may be NULL) and the view state (targets with
 * their probabilities for `current`, the active target, selection, scales). Copied. */
void ll_compare_page_set_current (LlComparePage *self, LensResult *current,
                                  const LensPaintState *state);

/* "target" or "kl" (property "diff-kind", action "compare.diff-kind"). */
void ll_compare_page_set_diff_kind (LlComparePage *self, LensDiffKind kind);
LensDiffKind ll_compare_page_get_diff_kind (LlComparePage *self);

/* Adds the difference to `state` (diff_values, kind, pinned prompt) for an export; the values
 * stay owned by the page. FALSE with a message when there is nothing to compare yet. */
gboolean ll_compare_page_fill_state (LlComparePage *self, LensPaintState *state, GError **error);

/* The difference view and the pinned heatmap (the window follows their zoom; tests). */
GtkWidget *ll_compare_page_get_diff_view (LlComparePage *self);
GtkWidget *ll_compare_page_get_pinned_view (LlComparePage *self);

G_END_DECLS
