/* ll-line-layer.h: the chart view's layer for the line plot across layers: a point hits the layer
 * under it at the plotted position. */
#pragma once

#include "ll-chart-layer.h"

G_BEGIN_DECLS

#define LL_TYPE_LINE_LAYER (ll_line_layer_get_type ())
G_DECLARE_FINAL_TYPE (LlLineLayer, ll_line_layer, LL, LINE_LAYER, LlChartLayer)

LlChartLayer *ll_line_layer_new (void);

G_END_DECLS
