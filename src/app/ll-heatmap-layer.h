/* ll-heatmap-layer.h: the chart view's layer for the top-token, target and difference heatmaps:
 * cells on a grid, hit by arithmetic on the painters' layout. */
#pragma once

#include "ll-chart-layer.h"

G_BEGIN_DECLS

#define LL_TYPE_HEATMAP_LAYER (ll_heatmap_layer_get_type ())
G_DECLARE_FINAL_TYPE (LlHeatmapLayer, ll_heatmap_layer, LL, HEATMAP_LAYER, LlChartLayer)

/* view: LENS_VIEW_HEATMAP, LENS_VIEW_TARGET or LENS_VIEW_DIFF (same layout, other colours). */
LlChartLayer *ll_heatmap_layer_new (LensView view);

G_END_DECLS
