/* ll-heatmap-layer.c: the heatmaps' layer. The top-token, target and difference heatmaps share
 * the painters' layout (lens_heatmap_layout_for_size), so one class serves the three, its view
 * choosing the colours. A cell is hit by lens_heatmap_hit on the layout at the figure's size;
 * its tooltip describes the cell, with the targets' ranks from a thread. */
#include "config.h"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "ll-heatmap-layer.h"

struct _LlHeatmapLayer
{
  LlChartLayer parent_instance;
};

G_DEFINE_FINAL_TYPE (LlHeatmapLayer, ll_heatmap_layer, LL_TYPE_CHART_LAYER)

static char *
ll_heatmap_layer_dup_name (LlChartLayer *layer)
{
  switch (ll_chart_layer_get_view (layer))
    {
    case LENS_VIEW_TARGET:
      return g_strdup (_ ("Target heatmap"));
    case LENS_VIEW_DIFF:
      return g_strdup (_ ("Difference from the pinned result"));
    case LENS_VIEW_HEATMAP:
    default:
      return g_strdup (_ ("Top-token heatmap"));
    }
}

static void
ll_heatmap_layer_measure (LlChartLayer *layer, const LlChartFrame *frame,
                          GtkOrientation orientation, int *minimum, int *natural)
{
  if (!ll_chart_frame_has_cells (frame))
    {
      LL_CHART_LAYER_CLASS (ll_heatmap_layer_parent_class)
          ->measure (layer, frame, orientation, minimum, natural);
      return;
    }
  double w, h;
  lens_view_natural_size (ll_chart_layer_get_view (layer), frame->result, frame->state, &w, &h);
  *natural = (int) ceil (orientation == GTK_ORIENTATION_HORIZONTAL ? w : h);
  /* Cells keep their height and scroll; across, as narrow as the compact cells allow: the pane
   * decides between that and natural. */
  *minimum = *natural;
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      LensHeatmapLayout compact;
      lens_heatmap_layout_for_size (frame->result, frame->state, 1.0, 0.0, &compact);
      *minimum = (int) ceil (compact.width);
    }
}

/* Zooming changes the cells' size. */
static gboolean
ll_heatmap_layer_state_changes_size (LlChartLayer *layer, const LensPaintState *old,
                                     const LensPaintState *state)
{
  return old->zoom_cell_w != state->zoom_cell_w;
}

static gboolean
ll_heatmap_layer_get_grid (LlChartLayer *layer, const LlChartFrame *frame, LensHeatmapLayout *grid)
{
  if (!ll_chart_frame_has_cells (frame))
    return FALSE;
  lens_heatmap_layout_for_size (frame->result, frame->state, frame->width, frame->height, grid);
  return TRUE;
}

/* The scrolled window gives the figure the larger of its size as measured and the visible
 * area. */
static void
ll_heatmap_layer_size_in_port (LlChartLayer *layer, const LlChartFrame *frame, double port_w,
                               double port_h, double *width, double *height,
                               LensHeatmapLayout *grid)
{
  LensHeatmapLayout min;
  lens_heatmap_layout_for_size (frame->result, frame->state, 1.0, 0.0, &min); /* the minimum */
  LensHeatmapLayout nat;
  lens_heatmap_layout (frame->result, frame->state, &nat);
  *width = MAX (ceil (min.width), port_w);
  *height = MAX (ceil (nat.height), port_h);
  lens_heatmap_layout_for_size (frame->result, frame->state, *width, *height, grid);
}

static void
ll_heatmap_layer_paint_frozen (LlChartLayer *layer, cairo_t *cr, const LlChartFrame *frame,
                               const cairo_rectangle_t *visible)
{
  lens_paint_heatmap_frozen (cr, ll_chart_layer_get_view (layer), frame->result, frame->state,
                             frame->width, frame->height, visible, NULL);
}

static gboolean
ll_heatmap_layer_hit (LlChartLayer *layer, const LlChartFrame *frame, double x, double y,
                      LlChartHit *hit)
{
  LensHeatmapLayout grid;
  if (!ll_heatmap_layer_get_grid (layer, frame, &grid))
    return FALSE;
  hit->kind = LL_CHART_HIT_CELL;
  return lens_heatmap_hit (&grid, x, y, &hit->row, &hit->pos);
}

static void
ll_heatmap_layer_class_init (LlHeatmapLayerClass *klass)
{
  LlChartLayerClass *layer_class = LL_CHART_LAYER_CLASS (klass);
  layer_class->dup_name = ll_heatmap_layer_dup_name;
  layer_class->measure = ll_heatmap_layer_measure;
  layer_class->state_changes_size = ll_heatmap_layer_state_changes_size;
  layer_class->get_grid = ll_heatmap_layer_get_grid;
  layer_class->size_in_port = ll_heatmap_layer_size_in_port;
  layer_class->paint_frozen = ll_heatmap_layer_paint_frozen;
  layer_class->hit = ll_heatmap_layer_hit;
}

static void
ll_heatmap_layer_init (LlHeatmapLayer *self)
{
}

LlChartLayer *
ll_heatmap_layer_new (LensView view)
{
  g_return_val_if_fail (
      view == LENS_VIEW_HEATMAP || view == LENS_VIEW_TARGET || view == LENS_VIEW_DIFF, NULL);
  return g_object_new (LL_TYPE_HEATMAP_LAYER, "view", (int) view, NULL);
}
