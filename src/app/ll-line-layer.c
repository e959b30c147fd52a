/* ll-line-layer.c: the line plot's layer. A point hits the layer (row) under it, by
 * lens_line_hit on the plot at the figure's size, at the position the plot shows; its tooltip
 * describes that cell, with the targets' ranks from a thread. */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "ll-line-layer.h"

struct _LlLineLayer
{
  LlChartLayer parent_instance;
};

G_DEFINE_FINAL_TYPE (LlLineLayer, ll_line_layer, LL_TYPE_CHART_LAYER)

static char *
ll_line_layer_dup_name (LlChartLayer *layer)
{
  return g_strdup (_ ("Target probability across layers"));
}

/* The legend (targets, tracked top-1 tokens) sizes the plot. */
static gboolean
ll_line_layer_state_changes_size (LlChartLayer *layer, const LensPaintState *old,
                                  const LensPaintState *state)
{
  return TRUE;
}

static gboolean
ll_line_layer_hit (LlChartLayer *layer, const LlChartFrame *frame, double x, double y,
                   LlChartHit *hit)
{
  int row, shown_row, pos;
  if (!lens_line_hit (frame->result, frame->state, frame->width, frame->height, x, y, &row))
    return FALSE;
  /* the layer under the point at the position the plot shows */
  ll_chart_frame_shown_cell (frame, &shown_row, &pos);
  *hit = (LlChartHit){LL_CHART_HIT_CELL, row, pos, -1};
  return TRUE;
}

static void
ll_line_layer_class_init (LlLineLayerClass *klass)
{
  LlChartLayerClass *layer_class = LL_CHART_LAYER_CLASS (klass);
  layer_class->dup_name = ll_line_layer_dup_name;
  layer_class->state_changes_size = ll_line_layer_state_changes_size;
  layer_class->hit = ll_line_layer_hit;
}

static void
ll_line_layer_init (LlLineLayer *self)
{
}

LlChartLayer *
ll_line_layer_new (void)
{
  return g_object_new (LL_TYPE_LINE_LAYER, "view", (int) LENS_VIEW_LINE, NULL);
}
