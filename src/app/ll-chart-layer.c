/* ll-chart-layer.c: the base class of the chart view's layers, with the defaults the views
 * share (painting with lens_paint_view, the painters' natural size, the accessible description
 * of the selected cell, a cell's tooltip whose target ranks come from a thread). */
#include "config.h"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "ll-cell-tooltip.h"
#include "ll-chart-layer.h"

typedef struct
{
  LensView view;
  LlCellTooltip *cells; /* created by the first cell tooltip asked for */
} LlChartLayerPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (LlChartLayer, ll_chart_layer, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_VIEW,
  N_PROPS
};

enum
{
  SIGNAL_TOOLTIP_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

gboolean
ll_chart_frame_has_cells (const LlChartFrame *frame)
{
  return frame->result != NULL && frame->result->n_rows > 0 && frame->result->n_tokens > 0;
}

void
ll_chart_frame_shown_cell (const LlChartFrame *frame, int *row, int *pos)
{
  const LensResult *r = frame->result;
  const LensPaintState *st = frame->state;
  *row = st->sel_row >= 0 && st->sel_row < r->n_rows ? st->sel_row : r->n_rows - 1;
  *pos = st->sel_pos >= 0 && st->sel_pos < r->n_tokens ? st->sel_pos : r->n_tokens - 1;
}

/* ---- defaults ---- */

static void
ll_chart_layer_real_measure (LlChartLayer *self, const LlChartFrame *frame,
                             GtkOrientation orientation, int *minimum, int *natural)
{
  double w, h;
  lens_view_natural_size (ll_chart_layer_get_view (self), frame->result, frame->state, &w, &h);
  *natural = (int) ceil (orientation == GTK_ORIENTATION_HORIZONTAL ? w : h);
  /* the plots (and an empty figure) shrink down to a readable minimum */
  *minimum = MIN (*natural, orientation == GTK_ORIENTATION_VERTICAL ? 240 : 360);
}

static void
ll_chart_layer_real_paint (LlChartLayer *self, cairo_t *cr, const LlChartFrame *frame)
{
  lens_paint_view (cr, ll_chart_layer_get_view (self), frame->result, frame->state, frame->width,
                   frame->height);
}

/* Target ranks are left out: each costs a pass over the vocabulary, too slow for every key
 * press. */
static char *
ll_chart_layer_real_describe (LlChartLayer *self, const LlChartFrame *frame)
{
  if (!ll_chart_frame_has_cells (frame))
    return g_strdup (_ ("No result yet"));
  LensPaintState st = *frame->state;
  st.no_ranks = TRUE;
  int row, pos;
  ll_chart_frame_shown_cell (frame, &row, &pos);
  g_autofree char *markup = lens_describe_cell (frame->result, &st, row, pos);
  char *text = NULL;
  if (!pango_parse_markup (markup, -1, 0, NULL, &text, NULL, NULL))
    text = g_strdup ("");
  return text;
}

static char *
ll_chart_layer_real_tooltip_markup (LlChartLayer *self, const LlChartFrame *frame,
                                    const LlChartHit *hit)
{
  if (hit->kind != LL_CHART_HIT_CELL)
    return NULL;
  return ll_chart_layer_cell_tooltip (self, frame, hit->row, hit->pos);
}

static void
ll_chart_layer_real_reset (LlChartLayer *self)
{
  LlChartLayerPrivate *priv = ll_chart_layer_get_instance_private (self);
  if (priv->cells != NULL)
    ll_cell_tooltip_reset (priv->cells);
}

/* ---- public API ---- */

LensView
ll_chart_layer_get_view (LlChartLayer *self)
{
  g_return_val_if_fail (LL_IS_CHART_LAYER (self), LENS_VIEW_HEATMAP);
  LlChartLayerPrivate *priv = ll_chart_layer_get_instance_private (self);
  return priv->view;
}

char *
ll_chart_layer_dup_name (LlChartLayer *self)
{
  g_return_val_if_fail (LL_IS_CHART_LAYER (self), NULL);
  return LL_CHART_LAYER_GET_CLASS (self)->dup_name (self);
}

void
ll_chart_layer_measure (LlChartLayer *self, const LlChartFrame *frame, GtkOrientation orientation,
                        int *minimum, int *natural)
{
  g_return_if_fail (LL_IS_CHART_LAYER (self));
  LL_CHART_LAYER_GET_CLASS (self)->measure (self, frame, orientation, minimum, natural);
}

gboolean
ll_chart_layer_state_changes_size (LlChartLayer *self, const LensPaintState *old,
                                   const LensPaintState *state)
{
  g_return_val_if_fail (LL_IS_CHART_LAYER (self), FALSE);
  LlChartLayerClass *klass = LL_CHART_LAYER_GET_CLASS (self);
  return klass->state_changes_size != NULL && klass->state_changes_size (self, old, state);
}

gboolean
ll_chart_layer_has_grid (LlChartLayer *self)
{
  g_return_val_if_fail (LL_IS_CHART_LAYER (self), FALSE);
  return LL_CHART_LAYER_GET_CLASS (self)->get_grid != NULL;
}

gboolean
ll_chart_layer_get_grid (LlChartLayer *self, const LlChartFrame *frame, LensHeatmapLayout *grid)
{
  g_return_val_if_fail (LL_IS_CHART_LAYER (self), FALSE);
  LlChartLayerClass *klass = LL_CHART_LAYER_GET_CLASS (self);
  return klass->get_grid != NULL && klass->get_grid (self, frame, grid);
}

void
ll_chart_layer_size_in_port (LlChartLayer *self, const LlChartFrame *frame, double port_w,
                             double port_h, double *width, double *height, LensHeatmapLayout *grid)
{
  g_return_if_fail (LL_IS_CHART_LAYER (self));
  LlChartLayerClass *klass = LL_CHART_LAYER_GET_CLASS (self);
  g_return_if_fail (klass->size_in_port != NULL);
  klass->size_in_port (self, frame, port_w, port_h, width, height, grid);
}

void
ll_chart_layer_paint (LlChartLayer *self, cairo_t *cr, const LlChartFrame *frame)
{
  g_return_if_fail (LL_IS_CHART_LAYER (self));
  LL_CHART_LAYER_GET_CLASS (self)->paint (self, cr, frame);
}

void
ll_chart_layer_paint_frozen (LlChartLayer *self, cairo_t *cr, const LlChartFrame *frame,
                             const cairo_rectangle_t *visible)
{
  g_return_if_fail (LL_IS_CHART_LAYER (self));
  LlChartLayerClass *klass = LL_CHART_LAYER_GET_CLASS (self);
  if (klass->paint_frozen != NULL)
    klass->paint_frozen (self, cr, frame, visible);
}

gboolean
ll_chart_layer_hit (LlChartLayer *self, const LlChartFrame *frame, double x, double y,
                    LlChartHit *hit)
{
  g_return_val_if_fail (LL_IS_CHART_LAYER (self), FALSE);
  LlChartLayerClass *klass = LL_CHART_LAYER_GET_CLASS (self);
  *hit = (LlChartHit){LL_CHART_HIT_CELL, -1, -1, -1};
  return ll_chart_frame_has_cells (frame) && klass->hit != NULL
         && klass->hit (self, frame, x, y, hit);
}

char *
ll_chart_layer_tooltip_markup (LlChartLayer *self, const LlChartFrame *frame, const LlChartHit *hit)
{
  g_return_val_if_fail (LL_IS_CHART_LAYER (self), NULL);
  if (!ll_chart_frame_has_cells (frame))
    return NULL;
  return LL_CHART_LAYER_GET_CLASS (self)->tooltip_markup (self, frame, hit);
}

char *
ll_chart_layer_describe (LlChartLayer *self, const LlChartFrame *frame)
{
  g_return_val_if_fail (LL_IS_CHART_LAYER (self), NULL);
  return LL_CHART_LAYER_GET_CLASS (self)->describe (self, frame);
}

void
ll_chart_layer_reset (LlChartLayer *self)
{
  g_return_if_fail (LL_IS_CHART_LAYER (self));
  LL_CHART_LAYER_GET_CLASS (self)->reset (self);
}

static void
cells_updated_cb (LlCellTooltip *cells, LlChartLayer *self)
{
  g_signal_emit (self, signals[SIGNAL_TOOLTIP_CHANGED], 0);
}

char *
ll_chart_layer_cell_tooltip (LlChartLayer *self, const LlChartFrame *frame, int row, int pos)
{
  g_return_val_if_fail (LL_IS_CHART_LAYER (self), NULL);
  LlChartLayerPrivate *priv = ll_chart_layer_get_instance_private (self);
  if (priv->cells == NULL)
    {
      priv->cells = ll_cell_tooltip_new ();
      g_signal_connect_object (priv->cells, "updated", G_CALLBACK (cells_updated_cb), self, 0);
    }
  return g_strdup (ll_cell_tooltip_markup (priv->cells, frame->result, frame->state, row, pos));
}

/* ---- GObject ---- */

static void
ll_chart_layer_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_VIEW:
      g_value_set_int (value, ll_chart_layer_get_view (LL_CHART_LAYER (object)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ll_chart_layer_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  LlChartLayerPrivate *priv = ll_chart_layer_get_instance_private (LL_CHART_LAYER (object));
  switch (prop_id)
    {
    case PROP_VIEW:
      priv->view = (LensView) g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ll_chart_layer_dispose (GObject *object)
{
  LlChartLayerPrivate *priv = ll_chart_layer_get_instance_private (LL_CHART_LAYER (object));
  g_clear_object (&priv->cells);
  G_OBJECT_CLASS (ll_chart_layer_parent_class)->dispose (object);
}

static void
ll_chart_layer_class_init (LlChartLayerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = ll_chart_layer_get_property;
  object_class->set_property = ll_chart_layer_set_property;
  object_class->dispose = ll_chart_layer_dispose;

  klass->measure = ll_chart_layer_real_measure;
  klass->paint = ll_chart_layer_real_paint;
  klass->tooltip_markup = ll_chart_layer_real_tooltip_markup;
  klass->describe = ll_chart_layer_real_describe;
  klass->reset = ll_chart_layer_real_reset;

  /* The LensView it paints (an int: LensView lives in the GObject-free painters). */
  properties[PROP_VIEW]
      = g_param_spec_int ("view", NULL, NULL, LENS_VIEW_HEATMAP, LENS_VIEW_DIFF, LENS_VIEW_HEATMAP,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The tooltip markup of the last hit asked for has become more complete: ask again. */
  signals[SIGNAL_TOOLTIP_CHANGED]
      = g_signal_new ("tooltip-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 0);
}

static void
ll_chart_layer_init (LlChartLayer *self)
{
}
