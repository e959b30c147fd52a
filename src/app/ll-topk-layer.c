/* ll-topk-layer.c: the top-k bars' layer. A point hits a bar (lens_topk_hit on the panel at the
 * figure's size); its tooltip gives the whole token, which the bar's label may cut, with its
 * probability and id. The bars keep their rows' height and scroll. */
#include "config.h"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "ll-topk-layer.h"

struct _LlTopkLayer
{
  LlChartLayer parent_instance;
};

G_DEFINE_FINAL_TYPE (LlTopkLayer, ll_topk_layer, LL_TYPE_CHART_LAYER)

static char *
ll_topk_layer_dup_name (LlChartLayer *layer)
{
  return g_strdup (_ ("Top tokens of the selected cell"));
}

static void
ll_topk_layer_measure (LlChartLayer *layer, const LlChartFrame *frame, GtkOrientation orientation,
                       int *minimum, int *natural)
{
  double w, h;
  lens_view_natural_size (LENS_VIEW_TOPK, frame->result, frame->state, &w, &h);
  *natural = (int) ceil (orientation == GTK_ORIENTATION_HORIZONTAL ? w : h);
  /* a row per token, or top-k 50 loses half; across, the side panel gives way first */
  *minimum = orientation == GTK_ORIENTATION_VERTICAL ? *natural : MIN (*natural, 240);
}

static gboolean
ll_topk_layer_hit (LlChartLayer *layer, const LlChartFrame *frame, double x, double y,
                   LlChartHit *hit)
{
  int rank;
  if (!lens_topk_hit (frame->result, frame->state, frame->width, frame->height, x, y, &rank))
    return FALSE;
  /* the bars belong to the cell the panel shows */
  *hit = (LlChartHit){LL_CHART_HIT_ITEM, -1, -1, rank};
  ll_chart_frame_shown_cell (frame, &hit->row, &hit->pos);
  return TRUE;
}

static char *
ll_topk_layer_tooltip_markup (LlChartLayer *layer, const LlChartFrame *frame, const LlChartHit *hit)
{
  if (hit->kind != LL_CHART_HIT_ITEM)
    return NULL;
  return lens_describe_topk_item (frame->result, frame->state, hit->item);
}

static void
ll_topk_layer_class_init (LlTopkLayerClass *klass)
{
  LlChartLayerClass *layer_class = LL_CHART_LAYER_CLASS (klass);
  layer_class->dup_name = ll_topk_layer_dup_name;
  layer_class->measure = ll_topk_layer_measure;
  layer_class->hit = ll_topk_layer_hit;
  layer_class->tooltip_markup = ll_topk_layer_tooltip_markup;
}

static void
ll_topk_layer_init (LlTopkLayer *self)
{
}

LlChartLayer *
ll_topk_layer_new (void)
{
  return g_object_new (LL_TYPE_TOPK_LAYER, "view", (int) LENS_VIEW_TOPK, NULL);
}
