/* ll-chart-layer.h: what one view of a LlChartView paints and how it answers the pointer. The
 * chart view (the container widget) owns scrolling, zoom, the frozen label bands, events,
 * focus and accessibility; a layer (one subclass per view) paints with the cairo painters and
 * turns a point into a cell or an item by arithmetic, as Sysprof's chart layers do. A layer is
 * not a widget: the container gives it the result, the state and the size it paints at. */
#pragma once

#include <gtk/gtk.h>

#include "lens-paint.h"

G_BEGIN_DECLS

/* What a layer is asked about: the container's result, its state as painted (with the hover and
 * the theme) and the figure's size (the container widget's). */
typedef struct
{
  LensResult *result;          /* NULL while there is nothing to show */
  const LensPaintState *state; /* never NULL */
  double width, height;
} LlChartFrame;

/* A result with at least one cell. */
gboolean ll_chart_frame_has_cells (const LlChartFrame *frame);
/* The cell the plots show and the keyboard starts from: the selected one, else the last row
 * and position. The frame must have cells. */
void ll_chart_frame_shown_cell (const LlChartFrame *frame, int *row, int *pos);

typedef enum
{
  LL_CHART_HIT_CELL, /* a cell (row, pos): heatmaps, and the line plot's layer at its position */
  LL_CHART_HIT_ITEM, /* something inside the cell shown: item indexes a top-k bar */
} LlChartHitKind;

typedef struct
{
  LlChartHitKind kind;
  int row, pos; /* the cell; for an item, the cell it belongs to */
  int item;     /* LL_CHART_HIT_ITEM: the item's index, else -1 */
} LlChartHit;

#define LL_TYPE_CHART_LAYER (ll_chart_layer_get_type ())
G_DECLARE_DERIVABLE_TYPE (LlChartLayer, ll_chart_layer, LL, CHART_LAYER, GObject)

struct _LlChartLayerClass
{
  GObjectClass parent_class;

  /* The view's name for people (the accessible label). */
  char *(*dup_name) (LlChartLayer *self);
  /* Minimum and natural size in one orientation. Default: the painters' natural size, shrinking
   * down to a readable minimum. */
  void (*measure) (LlChartLayer *self, const LlChartFrame *frame, GtkOrientation orientation,
                   int *minimum, int *natural);
  /* Does a change of state from `old` to `state` change the layer's size? Default: no. */
  gboolean (*state_changes_size) (LlChartLayer *self, const LensPaintState *old,
                                  const LensPaintState *state);

  /* Layers with a grid of cells (the heatmaps) give its layout at the frame's size; the container
   * zooms it, keeps its labels frozen while scrolling, repaints only the hovered cell over the
   * cached figure and scrolls a selected cell into view. NULL for layers without a grid. */
  gboolean (*get_grid) (LlChartLayer *self, const LlChartFrame *frame, LensHeatmapLayout *grid);
  /* The size the figure will get in a port_w x port_h scrolled area, and its grid at that size:
   * known before the allocation happens, so a zoom can scroll at once. Grid layers only. */
  void (*size_in_port) (LlChartLayer *self, const LlChartFrame *frame, double port_w, double port_h,
                        double *width, double *height, LensHeatmapLayout *grid);

  /* Paints the figure at the frame's size at the cairo origin (clip it to paint a part). Default:
   * lens_paint_view of the layer's view. */
  void (*paint) (LlChartLayer *self, cairo_t *cr, const LlChartFrame *frame);
  /* Paints the labels frozen at the edges of `visible` (the part in view, in figure
   * coordinates) over the painted figure. Grid layers only. */
  void (*paint_frozen) (LlChartLayer *self, cairo_t *cr, const LlChartFrame *frame,
                        const cairo_rectangle_t *visible);

  /* What is under (x, y) in figure coordinates; FALSE for nothing. Default: nothing. */
  gboolean (*hit) (LlChartLayer *self, const LlChartFrame *frame, double x, double y,
                   LlChartHit *hit);
  /* Tooltip markup for a hit (free with g_free), or NULL for no tooltip. It may come first
   * without the parts that take long; the layer emits "tooltip-changed" once they are there.
   * Default: a cell hit's ll_chart_layer_cell_tooltip, nothing for items. */
  char *(*tooltip_markup) (LlChartLayer *self, const LlChartFrame *frame, const LlChartHit *hit);
  /* Plain text describing what the view shows for the accessible description. Default: the
   * selected cell (or the last one) without target ranks, which are too slow for every key. */
  char *(*describe) (LlChartLayer *self, const LlChartFrame *frame);
  /* The result or the state changed: forget what was worked out for the old ones and stop
   * background work for them. */
  void (*reset) (LlChartLayer *self);
};

LensView ll_chart_layer_get_view (LlChartLayer *self);

char *ll_chart_layer_dup_name (LlChartLayer *self);
void ll_chart_layer_measure (LlChartLayer *self, const LlChartFrame *frame,
                             GtkOrientation orientation, int *minimum, int *natural);
gboolean ll_chart_layer_state_changes_size (LlChartLayer *self, const LensPaintState *old,
                                            const LensPaintState *state);
gboolean ll_chart_layer_has_grid (LlChartLayer *self);
gboolean ll_chart_layer_get_grid (LlChartLayer *self, const LlChartFrame *frame,
                                  LensHeatmapLayout *grid);
void ll_chart_layer_size_in_port (LlChartLayer *self, const LlChartFrame *frame, double port_w,
                                  double port_h, double *width, double *height,
                                  LensHeatmapLayout *grid);
void ll_chart_layer_paint (LlChartLayer *self, cairo_t *cr, const LlChartFrame *frame);
void ll_chart_layer_paint_frozen (LlChartLayer *self, cairo_t *cr, const LlChartFrame *frame,
                                  const cairo_rectangle_t *visible);
gboolean ll_chart_layer_hit (LlChartLayer *self, const LlChartFrame *frame, double x, double y,
                             LlChartHit *hit);
char *ll_chart_layer_tooltip_markup (LlChartLayer *self, const LlChartFrame *frame,
                                     const LlChartHit *hit);
char *ll_chart_layer_describe (LlChartLayer *self, const LlChartFrame *frame);
void ll_chart_layer_reset (LlChartLayer *self);

/* For subclasses: the markup of a cell, at once without target ranks (each costs a pass over the
 * vocabulary), then with them from a thread, announced by "tooltip-changed". */
char *ll_chart_layer_cell_tooltip (LlChartLayer *self, const LlChartFrame *frame, int row, int pos);

G_END_DECLS
