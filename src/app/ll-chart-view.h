/* ll-chart-view.h: a widget that shows one view of a LensResult with the cairo painters, with
 * hover, tooltips, click and keyboard selection. */
#pragma once

#include <gtk/gtk.h>

#include "lens-paint.h"

G_BEGIN_DECLS

#define LL_TYPE_CHART_VIEW (ll_chart_view_get_type ())
G_DECLARE_FINAL_TYPE (LlChartView, ll_chart_view, LL, CHART_VIEW, GtkWidget)

GtkWidget *ll_chart_view_new (LensView view);

void ll_chart_view_set_view (LlChartView *self, LensView view);
LensView ll_chart_view_get_view (LlChartView *self);

/* Takes a reference; NULL shows the empty state. */
void ll_chart_view_set_result (LlChartView *self, LensResult *result);
LensResult *ll_chart_view_get_result (LlChartView *self);

/* One step of zooming in (its inverse zooms out). */
#define LL_CHART_VIEW_ZOOM_STEP 1.25

/* The cell width a heatmap shows now (0 for other views, or without a result). */
double ll_chart_view_get_cell_width (LlChartView *self);
/* Asks for cells `factor` times as wide as now (whole pixels, at least one pixel a step, from
 * LENS_CELL_W_COMPACT to LENS_CELL_W_ZOOM_MAX) with "zoom-changed", keeping the point (x, y) of
 * the widget where it is in the visible area once the new width is set; (NAN, NAN): the visible
 * area's centre. Nothing happens for other views, without cells or at the limit. */
void ll_chart_view_zoom (LlChartView *self, double factor, double x, double y);

/* Copies the struct; the targets array stays owned by the caller until the next call. The hover
 * fields are ignored: the widget tracks the pointer itself. */
void ll_chart_view_set_state (LlChartView *self, const LensPaintState *state);

G_END_DECLS
