/* ll-cell-tooltip.h: the tooltip text of a cell, quick first and with the target ranks from a
 * thread once they are known. The layers that describe cells (heatmaps, line plot) use one. */
#pragma once

#include <gio/gio.h>

#include "lens-paint.h"

G_BEGIN_DECLS

#define LL_TYPE_CELL_TOOLTIP (ll_cell_tooltip_get_type ())
G_DECLARE_FINAL_TYPE (LlCellTooltip, ll_cell_tooltip, LL, CELL_TOOLTIP, GObject)

LlCellTooltip *ll_cell_tooltip_new (void);

/* The markup describing cell (row, pos) of `result` (lens_describe_cell). While the targets'
 * ranks are missing from it, a thread computes them (one at a time, for the cell asked for
 * last) and "updated" is emitted once the markup has them: ask again then. The thread holds
 * references to the result and the state's targets and its own copy of the difference values. */
const char *ll_cell_tooltip_markup (LlCellTooltip *self, LensResult *result,
                                    const LensPaintState *state, int row, int pos);

/* Forgets the markup and cancels the thread's work: the result or the state changed. */
void ll_cell_tooltip_reset (LlCellTooltip *self);

G_END_DECLS
