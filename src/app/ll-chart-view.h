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

/* Copies the struct; the targets array stays owned by the caller until the next call. The hover
 * fields are ignored: the widget tracks the pointer itself. */
void ll_chart_view_set_state (LlChartView *self, const LensPaintState *state);

G_END_DECLS
