/* ll-topk-layer.h: the chart view's layer for the top-k bars of the selected cell: a point hits a
 * bar. */
#pragma once

#include "ll-chart-layer.h"

G_BEGIN_DECLS

#define LL_TYPE_TOPK_LAYER (ll_topk_layer_get_type ())
G_DECLARE_FINAL_TYPE (LlTopkLayer, ll_topk_layer, LL, TOPK_LAYER, LlChartLayer)

LlChartLayer *ll_topk_layer_new (void);

G_END_DECLS
