/* ll-chart-view.c: a thin widget around the painters.
 *
 * The widget asks for the figure's natural size and paints the figure at whatever size it gets:
 * in a GtkScrolledWindow that is the larger of the natural size and the visible area, so a small
 * heatmap's cells grow to fill the pane and a large one keeps its natural cells and scrolls.
 * Figure coordinates are widget coordinates, and hit-testing is lens_heatmap_hit on the event
 * position with the layout for the widget's size. A very large figure (a long prompt, many
 * layers) is painted only where it is visible, and redrawn when the scrolled window's
 * adjustments move; smaller ones are painted whole, so the render node is reused while
 * scrolling. While a heatmap is scrolled, its layer and token labels are painted again at the
 * edges of the visible area (frozen, as in a spreadsheet).
 *
 * Zoom: Ctrl+scroll (or ll_chart_view_zoom) asks for a new cell width with "zoom-changed"; the
 * owner puts it into the state it gives every view (LensPaintState.zoom_cell_w), and once this
 * view has its new size it scrolls so that the cell that was under the pointer still is. */
#include "config.h"

#include <adwaita.h>
#include <math.h>
#include <glib/gi18n-lib.h>

#include "ll-chart-view.h"

struct _LlChartView
{
  GtkWidget parent_instance;

  LensView view;
  LensResult *result;
  LensPaintState state; /* copy of the caller's; hover fields are ours */
  int hover_row, hover_pos;

  GtkScrolledWindow *scroller; /* nearest scrolled window ancestor (not owned), or NULL */
  gulong hadj_handler, vadj_handler;
  gulong hadj_size_handler, vadj_size_handler; /* "changed": the visible area was resized */
  GtkAdjustment *hadj, *vadj;                  /* owned refs while connected */

  /* The figure without the hover outline, kept between frames: moving the pointer only repaints
   * the hovered cell on top of it. */
  GskRenderNode *base;
  graphene_rect_t base_area;

  /* The last tooltip: GTK asks again on pointer motion. Target ranks cost a pass over the
   * vocabulary each (about 0.15 s for GPT-2 small here), so the tooltip first shows the cell
   * without them and a thread computes the full text; one job at a time. */
  char *tip_markup;
  int tip_row, tip_pos;
  gboolean tip_full;         /* tip_markup has the ranks (or there are none to compute) */
  GCancellable *rank_cancel; /* the running rank job, or NULL */
  int want_row, want_pos;    /* cell whose ranks the tooltip waits for */

  guint accessible_idle; /* pending update_accessible */

  /* last pointer position over the widget, NAN when outside; in the scrolled window's visible
   * area (which stays put while the figure scrolls) when there is one */
  double pointer_x, pointer_y;
};

G_DEFINE_FINAL_TYPE (LlChartView, ll_chart_view, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_VIEW,
  N_PROPS
};

enum
{
  SIGNAL_CELL_SELECTED,
  SIGNAL_CELL_HOVERED,
  SIGNAL_ZOOM_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static gboolean
is_heatmap (LlChartView *self)
{
  return self->view == LENS_VIEW_HEATMAP || self->view == LENS_VIEW_TARGET
         || self->view == LENS_VIEW_DIFF;
}

static gboolean
has_cells (LlChartView *self)
{
  return self->result != NULL && self->result->n_rows > 0 && self->result->n_tokens > 0;
}

/* The heatmap layout at the widget's size. */
static void
layout (LlChartView *self, LensHeatmapLayout *out)
{
  lens_heatmap_layout_for_size (self->result, &self->state,
                                gtk_widget_get_width (GTK_WIDGET (self)),
                                gtk_widget_get_height (GTK_WIDGET (self)), out);
}

static gboolean
is_dark (void)
{
  return adw_style_manager_get_dark (adw_style_manager_get_default ());
}

/* The painters' state as this widget shows it. */
static void
paint_state (LlChartView *self, LensPaintState *out)
{
  *out = self->state;
  out->hover_row = self->hover_row;
  out->hover_pos = self->hover_pos;
  out->dark = is_dark ();
  /* The figure brings its own paper (the same colour as a view's background), so the frozen
   * labels can cover the cells that scroll under them with the colour around them. */
  out->transparent_background = false;
}

static char *
view_name (LensView view)
{
  switch (view)
    {
    case LENS_VIEW_HEATMAP:
      return g_strdup (_ ("Top-token heatmap"));
    case LENS_VIEW_TARGET:
      return g_strdup (_ ("Target heatmap"));
    case LENS_VIEW_LINE:
      return g_strdup (_ ("Target probability across layers"));
    case LENS_VIEW_DIFF:
      return g_strdup (_ ("Difference from the pinned result"));
    case LENS_VIEW_TOPK:
    default:
      return g_strdup (_ ("Top tokens of the selected cell"));
    }
}

/* The accessible description follows the selected (or default) cell, as plain text. Target
 * ranks are left out: each costs a pass over the vocabulary, too slow for every key press. */
static void
update_accessible (LlChartView *self)
{
  g_autofree char *text = NULL;
  if (!has_cells (self))
    text = g_strdup (_ ("No result yet"));
  else
    {
      LensPaintState st;
      paint_state (self, &st);
      st.no_ranks = TRUE;
      const LensResult *r = self->result;
      int row = st.sel_row >= 0 && st.sel_row < r->n_rows ? st.sel_row : r->n_rows - 1;
      int pos = st.sel_pos >= 0 && st.sel_pos < r->n_tokens ? st.sel_pos : r->n_tokens - 1;
      g_autofree char *markup = lens_describe_cell (r, &st, row, pos);
      if (!pango_parse_markup (markup, -1, 0, NULL, &text, NULL, NULL))
        text = g_strdup ("");
    }
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, text,
                                  -1);
}

static gboolean
accessible_idle_cb (gpointer data)
{
  LlChartView *self = data;
  self->accessible_idle = 0;
  update_accessible (self);
  return G_SOURCE_REMOVE;
}

/* Callers set the state and the result one after the other, and the targets' arrays match the
 * new result only once both are set: describe the cell when the main loop is idle again. */
static void
queue_accessible (LlChartView *self)
{
  if (self->accessible_idle == 0)
    self->accessible_idle = g_idle_add (accessible_idle_cb, self);
}

static void
cancel_ranks (LlChartView *self)
{
  if (self->rank_cancel != NULL)
    g_cancellable_cancel (self->rank_cancel);
  g_clear_object (&self->rank_cancel);
}

static void
invalidate (LlChartView *self)
{
  g_clear_pointer (&self->base, gsk_render_node_unref);
  g_clear_pointer (&self->tip_markup, g_free);
  cancel_ranks (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* ---- scrolling ---- */

static void
disconnect_adjustments (LlChartView *self)
{
  if (self->hadj != NULL)
    {
      g_clear_signal_handler (&self->hadj_handler, self->hadj);
      g_clear_signal_handler (&self->hadj_size_handler, self->hadj);
    }
  if (self->vadj != NULL)
    {
      g_clear_signal_handler (&self->vadj_handler, self->vadj);
      g_clear_signal_handler (&self->vadj_size_handler, self->vadj);
    }
  g_clear_object (&self->hadj);
  g_clear_object (&self->vadj);
}

static gboolean is_large (LlChartView *self);

static void
adjustment_changed_cb (GtkAdjustment *adj, LlChartView *self)
{
  if (is_large (self))
    invalidate (self);
  else if (is_heatmap (self))
    gtk_widget_queue_draw (GTK_WIDGET (self)); /* the frozen labels move */
}

static void
connect_adjustments (LlChartView *self)
{
  disconnect_adjustments (self);
  if (self->scroller == NULL)
    return;
  self->hadj = g_object_ref (gtk_scrolled_window_get_hadjustment (self->scroller));
  self->vadj = g_object_ref (gtk_scrolled_window_get_vadjustment (self->scroller));
  self->hadj_handler
      = g_signal_connect (self->hadj, "value-changed", G_CALLBACK (adjustment_changed_cb), self);
  self->vadj_handler
      = g_signal_connect (self->vadj, "value-changed", G_CALLBACK (adjustment_changed_cb), self);
  /* A smaller or larger scrolled window (a banner shown, the pane moved) leaves this widget's
   * own size as it is, so GTK does not redraw it; but the frozen labels sit at the visible
   * area's bottom edge, and were left where the old edge was, cut off by the new one. */
  self->hadj_size_handler
      = g_signal_connect (self->hadj, "changed", G_CALLBACK (adjustment_changed_cb), self);
  self->vadj_size_handler
      = g_signal_connect (self->vadj, "changed", G_CALLBACK (adjustment_changed_cb), self);
}

/* Past this size a figure is painted only where it is visible: GL renderers rasterize a cairo
 * node into one texture, and textures are limited to 8192 or 16384 pixels a side. */
#define LARGE_SIDE 8192
#define LARGE_AREA (4096 * 4096)

static gboolean
is_large (LlChartView *self)
{
  int w = gtk_widget_get_width (GTK_WIDGET (self));
  int h = gtk_widget_get_height (GTK_WIDGET (self));
  return w > LARGE_SIDE || h > LARGE_SIDE || (gint64) w * h > LARGE_AREA;
}

/* The part of the widget the scrolled window shows (or all of it), in widget coordinates. */
static graphene_rect_t
port_area (LlChartView *self)
{
  int w = gtk_widget_get_width (GTK_WIDGET (self));
  int h = gtk_widget_get_height (GTK_WIDGET (self));
  graphene_rect_t all = GRAPHENE_RECT_INIT (0, 0, w, h);
  if (self->scroller == NULL)
    return all;
  graphene_rect_t port;
  if (!gtk_widget_compute_bounds (GTK_WIDGET (self->scroller), GTK_WIDGET (self), &port))
    return all;
  graphene_rect_t out;
  if (!graphene_rect_intersection (&all, &port, &out))
    return GRAPHENE_RECT_INIT (0, 0, 0, 0);
  /* Whole pixels, so cell edges stay crisp. */
  graphene_rect_round_extents (&out, &out);
  return out;
}

/* The part of the widget to paint: what is visible for a large figure, else all of it. */
static graphene_rect_t
visible_area (LlChartView *self)
{
  if (!is_large (self))
    return GRAPHENE_RECT_INIT (0, 0, gtk_widget_get_width (GTK_WIDGET (self)),
                               gtk_widget_get_height (GTK_WIDGET (self)));
  return port_area (self);
}

/* The frozen label bands of a heatmap for the current scroll position. */
static gboolean
frozen_bands (LlChartView *self, const LensHeatmapLayout *l, cairo_rectangle_t *visible,
              cairo_rectangle_t *rows, cairo_rectangle_t *cols)
{
  *rows = *cols = (cairo_rectangle_t){0};
  if (self->scroller == NULL || !is_heatmap (self) || !has_cells (self))
    return FALSE;
  graphene_rect_t port = port_area (self);
  *visible = (cairo_rectangle_t){port.origin.x, port.origin.y, port.size.width, port.size.height};
  lens_heatmap_frozen_bands (l, visible, rows, cols);
  return rows->width > 0 || cols->width > 0;
}

static gboolean
in_band (const cairo_rectangle_t *band, double x, double y)
{
  return band->width > 0 && x >= band->x && x < band->x + band->width && y >= band->y
         && y < band->y + band->height;
}

static void
scroll_cell_into_view (LlChartView *self, int row, int pos)
{
  if (self->hadj == NULL || !is_heatmap (self) || !has_cells (self))
    return;
  LensHeatmapLayout l;
  layout (self, &l);
  /* The widget is the viewport's child at the viewport's origin, scrolled by the values. Room
   * for the frozen labels on the left and below, and a cell of context. */
  double x = l.grid_x + pos * l.cell_w, y = l.grid_y + row * l.cell_h;
  gtk_adjustment_clamp_page (self->hadj, x - MAX (l.cell_w, l.labels_w), x + 2 * l.cell_w);
  gtk_adjustment_clamp_page (self->vadj, y - l.cell_h, y + 2 * l.cell_h + l.labels_h);
}

static void
ll_chart_view_root (GtkWidget *widget)
{
  LlChartView *self = LL_CHART_VIEW (widget);
  GTK_WIDGET_CLASS (ll_chart_view_parent_class)->root (widget);
  self->scroller = GTK_SCROLLED_WINDOW (gtk_widget_get_ancestor (widget, GTK_TYPE_SCROLLED_WINDOW));
  connect_adjustments (self);
}

static void
ll_chart_view_unroot (GtkWidget *widget)
{
  LlChartView *self = LL_CHART_VIEW (widget);
  disconnect_adjustments (self);
  self->scroller = NULL;
  GTK_WIDGET_CLASS (ll_chart_view_parent_class)->unroot (widget);
}

/* ---- drawing and size ---- */

static void
ll_chart_view_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  LlChartView *self = LL_CHART_VIEW (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  graphene_rect_t area = visible_area (self);
  if (w <= 0 || h <= 0 || area.size.width <= 0 || area.size.height <= 0)
    return;

  LensPaintState st;
  paint_state (self, &st);
  if (self->base == NULL || !graphene_rect_equal (&self->base_area, &area))
    {
      g_clear_pointer (&self->base, gsk_render_node_unref);
      LensPaintState base_state = st;
      if (is_heatmap (self))
        base_state.hover_row = base_state.hover_pos = -1;
      GtkSnapshot *base = gtk_snapshot_new ();
      cairo_t *cr = gtk_snapshot_append_cairo (base, &area);
      lens_paint_view (cr, self->view, self->result, &base_state, w, h);
      cairo_destroy (cr);
      self->base = gtk_snapshot_free_to_node (base);
      self->base_area = area;
    }
  if (self->base != NULL)
    gtk_snapshot_append_node (snapshot, self->base);

  if (!is_heatmap (self) || !has_cells (self))
    return;
  LensHeatmapLayout l;
  layout (self, &l);
  graphene_rect_t clip;
  if (st.hover_row >= 0 && st.hover_pos >= 0 && st.hover_row < self->result->n_rows
      && st.hover_pos < self->result->n_tokens)
    {
      /* The hovered cell painted again with its outline, clipped to the cell: the painter draws
       * the cell's opaque fill first, so this covers the base exactly. */
      graphene_rect_t cell
          = GRAPHENE_RECT_INIT (l.grid_x + st.hover_pos * l.cell_w,
                                l.grid_y + st.hover_row * l.cell_h, l.cell_w, l.cell_h);
      if (graphene_rect_intersection (&cell, &area, &clip))
        {
          cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &clip);
          cairo_rectangle (cr, clip.origin.x, clip.origin.y, clip.size.width, clip.size.height);
          cairo_clip (cr);
          lens_paint_view (cr, self->view, self->result, &st, w, h);
          cairo_destroy (cr);
        }
    }

  /* Frozen labels last, over the cells (and any hover outline) that scrolled under them. */
  cairo_rectangle_t visible, rows, cols;
  if (!frozen_bands (self, &l, &visible, &rows, &cols))
    return;
  graphene_rect_t bands = GRAPHENE_RECT_INIT (rows.x, rows.y, rows.width, rows.height);
  if (rows.width <= 0)
    bands = GRAPHENE_RECT_INIT (cols.x, cols.y, cols.width, cols.height);
  else if (cols.width > 0)
    {
      graphene_rect_t c = GRAPHENE_RECT_INIT (cols.x, cols.y, cols.width, cols.height);
      graphene_rect_union (&bands, &c, &bands);
    }
  graphene_rect_round_extents (&bands, &bands);
  cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &bands);
  lens_paint_heatmap_frozen (cr, self->view, self->result, &st, w, h, &visible, NULL);
  cairo_destroy (cr);
}

static void
ll_chart_view_size_allocate (GtkWidget *widget, int width, int height, int baseline)
{
  g_clear_pointer (&LL_CHART_VIEW (widget)->base, gsk_render_node_unref);
}

static void
ll_chart_view_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum,
                       int *natural, int *minimum_baseline, int *natural_baseline)
{
  LlChartView *self = LL_CHART_VIEW (widget);
  double w, h;
  LensPaintState st;
  paint_state (self, &st);
  lens_view_natural_size (self->view, self->result, &st, &w, &h);
  int nat = (int) ceil (orientation == GTK_ORIENTATION_HORIZONTAL ? w : h);
  if (is_heatmap (self) && has_cells (self) && orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      /* as narrow as the compact cells allow: the pane decides between that and natural */
      LensHeatmapLayout compact;
      lens_heatmap_layout_for_size (self->result, &st, 1.0, 0.0, &compact);
      *minimum = (int) ceil (compact.width);
      *natural = nat;
      return;
    }
  /* Heatmaps keep their cell size and scroll; the plots shrink down to a readable minimum, but
   * the top-k bars keep their height (a row per token) and scroll, or top-k 50 loses half. */
  int min = nat;
  gboolean bars_height = self->view == LENS_VIEW_TOPK && orientation == GTK_ORIENTATION_VERTICAL;
  if ((!is_heatmap (self) || !has_cells (self)) && !bars_height)
    min = MIN (nat, orientation == GTK_ORIENTATION_VERTICAL ? 240
                    : self->view == LENS_VIEW_TOPK ? 240 /* the side panel gives way first */
                                                   : 360);
  *minimum = min;
  *natural = nat;
}

/* ---- hover, tooltips, selection ---- */

/* The cell under (x, y): a heatmap cell, or in the line plot the layer under the pointer at the
 * position the plot shows. */
static gboolean
hit (LlChartView *self, double x, double y, int *row, int *pos)
{
  if (!has_cells (self))
    return FALSE;
  if (self->view == LENS_VIEW_LINE)
    {
      const LensResult *r = self->result;
      if (!lens_line_hit (r, &self->state, gtk_widget_get_width (GTK_WIDGET (self)),
                          gtk_widget_get_height (GTK_WIDGET (self)), x, y, row))
        return FALSE;
      *pos = self->state.sel_pos >= 0 && self->state.sel_pos < r->n_tokens ? self->state.sel_pos
                                                                           : r->n_tokens - 1;
      return TRUE;
    }
  if (!is_heatmap (self))
    return FALSE;
  LensHeatmapLayout l;
  layout (self, &l);
  /* Cells under the frozen labels are hidden. */
  cairo_rectangle_t visible, rows, cols;
  if (frozen_bands (self, &l, &visible, &rows, &cols)
      && (in_band (&rows, x, y) || in_band (&cols, x, y)))
    return FALSE;
  return lens_heatmap_hit (&l, x, y, row, pos);
}

static void
set_hover (LlChartView *self, int row, int pos)
{
  if (row == self->hover_row && pos == self->hover_pos)
    return;
  self->hover_row = row;
  self->hover_pos = pos;
  /* Heatmaps repaint just the hovered cell over their cached base; the line plot repaints. */
  if (is_heatmap (self))
    gtk_widget_queue_draw (GTK_WIDGET (self));
  else
    {
      g_clear_pointer (&self->base, gsk_render_node_unref);
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
  g_signal_emit (self, signals[SIGNAL_CELL_HOVERED], 0, row, pos);
}

static void
motion_cb (GtkEventControllerMotion *motion, double x, double y, LlChartView *self)
{
  self->pointer_x = x - (self->hadj != NULL ? gtk_adjustment_get_value (self->hadj) : 0.0);
  self->pointer_y = y - (self->vadj != NULL ? gtk_adjustment_get_value (self->vadj) : 0.0);
  int row, pos;
  if (hit (self, x, y, &row, &pos))
    set_hover (self, row, pos);
  else
    set_hover (self, -1, -1);
}

static void
leave_cb (GtkEventControllerMotion *motion, LlChartView *self)
{
  self->pointer_x = self->pointer_y = NAN;
  set_hover (self, -1, -1);
}

static void
select_cell (LlChartView *self, int row, int pos)
{
  gboolean changed = row != self->state.sel_row || pos != self->state.sel_pos;
  self->state.sel_row = row;
  self->state.sel_pos = pos;
  if (changed)
    {
      invalidate (self);
      queue_accessible (self);
    }
  scroll_cell_into_view (self, row, pos);
  g_signal_emit (self, signals[SIGNAL_CELL_SELECTED], 0, row, pos);
}

static void
pressed_cb (GtkGestureClick *gesture, int n_press, double x, double y, LlChartView *self)
{
  gtk_widget_grab_focus (GTK_WIDGET (self));
  int row, pos;
  if (hit (self, x, y, &row, &pos))
    select_cell (self, row, pos);
}

static gboolean
key_pressed_cb (GtkEventControllerKey *key, guint keyval, guint keycode, GdkModifierType modifiers,
                LlChartView *self)
{
  if (!has_cells (self))
    return FALSE;
  const LensResult *r = self->result;
  /* Start from the cell the plots show when nothing is selected yet. */
  int row = self->state.sel_row >= 0 && self->state.sel_row < r->n_rows ? self->state.sel_row
                                                                        : r->n_rows - 1;
  int pos = self->state.sel_pos >= 0 && self->state.sel_pos < r->n_tokens ? self->state.sel_pos
                                                                          : r->n_tokens - 1;
  gboolean ctrl = (modifiers & GDK_CONTROL_MASK) != 0;
  switch (keyval)
    {
    case GDK_KEY_Up:
    case GDK_KEY_KP_Up:
      row--;
      break;
    case GDK_KEY_Down:
    case GDK_KEY_KP_Down:
      row++;
      break;
    case GDK_KEY_Left:
    case GDK_KEY_KP_Left:
      pos--;
      break;
    case GDK_KEY_Right:
    case GDK_KEY_KP_Right:
      pos++;
      break;
    case GDK_KEY_Home:
    case GDK_KEY_KP_Home:
      pos = 0;
      if (ctrl)
        row = 0;
      break;
    case GDK_KEY_End:
    case GDK_KEY_KP_End:
      pos = r->n_tokens - 1;
      if (ctrl)
        row = r->n_rows - 1;
      break;
    case GDK_KEY_Page_Up:
    case GDK_KEY_KP_Page_Up:
      row = 0;
      break;
    case GDK_KEY_Page_Down:
    case GDK_KEY_KP_Page_Down:
      row = r->n_rows - 1;
      break;
    default:
      return FALSE;
    }
  select_cell (self, CLAMP (row, 0, r->n_rows - 1), CLAMP (pos, 0, r->n_tokens - 1));
  return TRUE;
}

/* Ctrl+scroll zooms a heatmap at the pointer; any other scroll goes to the scrolled window. */
static gboolean
scroll_cb (GtkEventControllerScroll *scroll, double dx, double dy, LlChartView *self)
{
  GdkModifierType mods
      = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (scroll));
  if ((mods & GDK_CONTROL_MASK) == 0 || !is_heatmap (self) || !has_cells (self) || dy == 0)
    return FALSE;
  /* The pointer did not necessarily move since the figure last scrolled under it (a zoom
   * scrolls too): where it is over the figure now follows from the scroll position. */
  double x = self->pointer_x, y = self->pointer_y;
  if (self->hadj != NULL)
    {
      x += gtk_adjustment_get_value (self->hadj);
      y += gtk_adjustment_get_value (self->vadj);
    }
  /* a wheel notch (dy = 1) is one step of the keyboard's zoom; touchpads scroll in fractions */
  ll_chart_view_zoom (self, pow (LL_CHART_VIEW_ZOOM_STEP, -dy), x, y);
  return TRUE;
}

/* Would lens_describe_cell compute a rank for some target of st (a pass over the vocabulary)? */
static gboolean
targets_have_ranks (const LensPaintState *st)
{
  gboolean any = FALSE;
  for (int i = 0; st->targets != NULL && i < st->n_targets; i++)
    any |= st->targets[i]->id >= 0;
  return any;
}

typedef struct
{
  LensResult *result;
  LensPaintState state;
  GPtrArray *targets; /* LensTarget * references: the caller's array may go away meanwhile */
  int row, pos;
} RankJob;

static void
rank_job_free (RankJob *job)
{
  g_ptr_array_unref (job->targets);
  lens_result_unref (job->result);
  g_free (job);
}

static void
rank_job_run (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  RankJob *job = data;
  g_task_return_pointer (task, lens_describe_cell (job->result, &job->state, job->row, job->pos),
                         g_free);
}

static void start_rank_job (LlChartView *self, int row, int pos);

static void
rank_job_done (GObject *source, GAsyncResult *res, gpointer data)
{
  LlChartView *self = LL_CHART_VIEW (source);
  GTask *task = G_TASK (res);
  RankJob *job = g_task_get_task_data (task);
  g_autofree char *markup = g_task_propagate_pointer (task, NULL);
  /* A cancelled job belongs to a result or state that is gone. */
  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    return;
  g_clear_object (&self->rank_cancel);
  if (markup == NULL)
    return;

  if (self->tip_markup != NULL && self->tip_row == job->row && self->tip_pos == job->pos)
    {
      g_free (self->tip_markup);
      self->tip_markup = g_steal_pointer (&markup);
      self->tip_full = TRUE;
      gtk_widget_trigger_tooltip_query (GTK_WIDGET (self));
    }
  /* The pointer moved on while this ran. */
  if ((self->want_row != job->row || self->want_pos != job->pos) && self->tip_markup != NULL
      && !self->tip_full && self->tip_row == self->want_row && self->tip_pos == self->want_pos)
    start_rank_job (self, self->want_row, self->want_pos);
}

static void
start_rank_job (LlChartView *self, int row, int pos)
{
  RankJob *job = g_new0 (RankJob, 1);
  job->result = lens_result_ref (self->result);
  paint_state (self, &job->state);
  job->row = row;
  job->pos = pos;
  job->targets = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
  for (int i = 0; i < job->state.n_targets; i++)
    g_ptr_array_add (job->targets, lens_target_ref (self->state.targets[i]));
  job->state.targets = (LensTarget *const *) job->targets->pdata;

  self->rank_cancel = g_cancellable_new ();
  GTask *task = g_task_new (self, self->rank_cancel, rank_job_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) rank_job_free);
  g_task_run_in_thread (task, rank_job_run);
  g_object_unref (task);
}

static void
request_ranks (LlChartView *self, int row, int pos)
{
  self->want_row = row;
  self->want_pos = pos;
  if (self->rank_cancel == NULL)
    start_rank_job (self, row, pos);
}

static gboolean
ll_chart_view_query_tooltip (GtkWidget *widget, int x, int y, gboolean keyboard_mode,
                             GtkTooltip *tooltip)
{
  LlChartView *self = LL_CHART_VIEW (widget);
  if (!(is_heatmap (self) || self->view == LENS_VIEW_LINE) || !has_cells (self))
    return FALSE;

  int row, pos;
  if (keyboard_mode)
    {
      row = self->state.sel_row;
      pos = self->state.sel_pos;
      if (row < 0 || row >= self->result->n_rows || pos < 0 || pos >= self->result->n_tokens)
        return FALSE;
    }
  else if (!hit (self, x, y, &row, &pos))
    return FALSE;

  if (self->tip_markup == NULL || self->tip_row != row || self->tip_pos != pos)
    {
      LensPaintState st;
      paint_state (self, &st);
      gboolean ranks = targets_have_ranks (&st);
      st.no_ranks = TRUE;
      g_free (self->tip_markup);
      self->tip_markup = lens_describe_cell (self->result, &st, row, pos);
      self->tip_row = row;
      self->tip_pos = pos;
      self->tip_full = !ranks;
    }
  if (!self->tip_full)
    request_ranks (self, row, pos);
  gtk_tooltip_set_markup (tooltip, self->tip_markup);

  if (!is_heatmap (self))
    return TRUE;
  /* The tooltip belongs to the cell: moving to another cell asks again. */
  LensHeatmapLayout l;
  layout (self, &l);
  GdkRectangle cell = {(int) (l.grid_x + pos * l.cell_w), (int) (l.grid_y + row * l.cell_h),
                       (int) l.cell_w, (int) l.cell_h};
  gtk_tooltip_set_tip_area (tooltip, &cell);
  return TRUE;
}

/* ---- public API ---- */

GtkWidget *
ll_chart_view_new (LensView view)
{
  return g_object_new (LL_TYPE_CHART_VIEW, "view", (int) view, NULL);
}

void
ll_chart_view_set_view (LlChartView *self, LensView view)
{
  g_return_if_fail (LL_IS_CHART_VIEW (self));
  g_return_if_fail (view >= LENS_VIEW_HEATMAP && view <= LENS_VIEW_DIFF);
  if (self->view == view)
    return;
  self->view = view;
  self->hover_row = self->hover_pos = -1;
  g_autofree char *name = view_name (view);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
  queue_accessible (self);
  invalidate (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VIEW]);
}

LensView
ll_chart_view_get_view (LlChartView *self)
{
  g_return_val_if_fail (LL_IS_CHART_VIEW (self), LENS_VIEW_HEATMAP);
  return self->view;
}

void
ll_chart_view_set_result (LlChartView *self, LensResult *result)
{
  g_return_if_fail (LL_IS_CHART_VIEW (self));
  if (result == self->result)
    return;
  if (result != NULL)
    lens_result_ref (result);
  g_clear_pointer (&self->result, lens_result_unref);
  self->result = result;
  if (self->hover_row != -1 || self->hover_pos != -1)
    set_hover (self, -1, -1);
  queue_accessible (self);
  invalidate (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

double
ll_chart_view_get_cell_width (LlChartView *self)
{
  g_return_val_if_fail (LL_IS_CHART_VIEW (self), 0.0);
  if (!is_heatmap (self) || !has_cells (self))
    return 0.0;
  LensHeatmapLayout l;
  layout (self, &l);
  return l.cell_w;
}

/* The size the scrolled window will give this widget (as measured, or the visible area if that
 * is larger), laid out: known before the allocation happens. */
static void
layout_when_allocated (LlChartView *self, double port_w, double port_h, LensHeatmapLayout *out,
                       double *width, double *height)
{
  LensHeatmapLayout min;
  lens_heatmap_layout_for_size (self->result, &self->state, 1.0, 0.0, &min); /* the minimum */
  LensHeatmapLayout nat;
  lens_heatmap_layout (self->result, &self->state, &nat);
  *width = MAX (ceil (min.width), port_w);
  *height = MAX (ceil (nat.height), port_h);
  lens_heatmap_layout_for_size (self->result, &self->state, *width, *height, out);
}

/* The new extent first, then the value: whoever follows "changed" (the window keeps both
 * heatmaps at one place) sees the old value with the new extent, then the new value. */
static void
configure_for (GtkAdjustment *adj, double value, double upper)
{
  gtk_adjustment_configure (
      adj, gtk_adjustment_get_value (adj), 0.0, upper, gtk_adjustment_get_step_increment (adj),
      gtk_adjustment_get_page_increment (adj), gtk_adjustment_get_page_size (adj));
  gtk_adjustment_set_value (adj, value);
}

void
ll_chart_view_zoom (LlChartView *self, double factor, double x, double y)
{
  g_return_if_fail (LL_IS_CHART_VIEW (self));
  if (!is_heatmap (self) || !has_cells (self) || !isfinite (factor) || factor <= 0)
    return;
  LensHeatmapLayout l;
  layout (self, &l);
  /* Whole pixels, and at least one pixel a step, so small cells still grow. */
  double cell_w = round (l.cell_w * factor);
  if (factor > 1.0)
    cell_w = MAX (cell_w, l.cell_w + 1.0);
  else if (factor < 1.0)
    cell_w = MIN (cell_w, l.cell_w - 1.0);
  cell_w = CLAMP (cell_w, LENS_CELL_W_COMPACT, LENS_CELL_W_ZOOM_MAX);
  if (cell_w == l.cell_w)
    return; /* at a limit already (fitted compact cells stay fitted) */

  graphene_rect_t port = port_area (self);
  if (self->hadj != NULL)
    port.origin = GRAPHENE_POINT_INIT (gtk_adjustment_get_value (self->hadj),
                                       gtk_adjustment_get_value (self->vadj));
  if (!(isfinite (x) && isfinite (y)))
    {
      x = port.origin.x + port.size.width / 2.0;
      y = port.origin.y + port.size.height / 2.0;
    }
  /* A point left of or above the grid keeps the grid's first column or row where it is. */
  double col = MAX (0.0, (x - l.grid_x) / l.cell_w);
  double row = MAX (0.0, (y - l.grid_y) / l.cell_h);
  double at_x = l.grid_x + col * l.cell_w - port.origin.x;
  double at_y = l.grid_y + row * l.cell_h - port.origin.y;
  g_signal_emit (self, signals[SIGNAL_ZOOM_CHANGED], 0, cell_w);
  if (self->hadj == NULL || self->state.zoom_cell_w != cell_w)
    return; /* not scrolled, or the owner did not zoom */

  /* Scroll so that the point stays where it is in the visible area. The scrolled window sets
   * its adjustments for the new size only while it allocates this widget, and places the
   * widget by the values they had then: a value set in that moment (or later) moves the figure
   * a frame late. So the adjustments get the new size and value now, as the scrolled window
   * will set them. */
  LensHeatmapLayout nl;
  double width, height;
  layout_when_allocated (self, gtk_adjustment_get_page_size (self->hadj),
                         gtk_adjustment_get_page_size (self->vadj), &nl, &width, &height);
  configure_for (self->hadj, nl.grid_x + col * nl.cell_w - at_x, width);
  configure_for (self->vadj, nl.grid_y + row * nl.cell_h - at_y, height);
}

LensResult *
ll_chart_view_get_result (LlChartView *self)
{
  g_return_val_if_fail (LL_IS_CHART_VIEW (self), NULL);
  return self->result;
}

void
ll_chart_view_set_state (LlChartView *self, const LensPaintState *state)
{
  g_return_if_fail (LL_IS_CHART_VIEW (self));
  g_return_if_fail (state != NULL);
  gboolean selection_changed
      = state->sel_row != self->state.sel_row || state->sel_pos != self->state.sel_pos;
  gboolean zoom_changed = state->zoom_cell_w != self->state.zoom_cell_w;
  self->state = *state;
  if (selection_changed || state->n_targets > 0)
    queue_accessible (self);
  invalidate (self);
  /* The line plot's size depends on the state (its legend), a heatmap's on the zoom. */
  if (self->view == LENS_VIEW_LINE || (zoom_changed && is_heatmap (self)))
    gtk_widget_queue_resize (GTK_WIDGET (self));
}

/* ---- GObject ---- */

static void
ll_chart_view_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  LlChartView *self = LL_CHART_VIEW (object);
  switch (prop_id)
    {
    case PROP_VIEW:
      g_value_set_int (value, self->view);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ll_chart_view_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  LlChartView *self = LL_CHART_VIEW (object);
  switch (prop_id)
    {
    case PROP_VIEW:
      ll_chart_view_set_view (self, (LensView) g_value_get_int (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ll_chart_view_dispose (GObject *object)
{
  LlChartView *self = LL_CHART_VIEW (object);
  disconnect_adjustments (self);
  g_clear_pointer (&self->result, lens_result_unref);
  g_clear_pointer (&self->base, gsk_render_node_unref);
  g_clear_pointer (&self->tip_markup, g_free);
  cancel_ranks (self);
  g_clear_handle_id (&self->accessible_idle, g_source_remove);
  G_OBJECT_CLASS (ll_chart_view_parent_class)->dispose (object);
}

static void
ll_chart_view_class_init (LlChartViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = ll_chart_view_get_property;
  object_class->set_property = ll_chart_view_set_property;
  object_class->dispose = ll_chart_view_dispose;

  widget_class->snapshot = ll_chart_view_snapshot;
  widget_class->measure = ll_chart_view_measure;
  widget_class->size_allocate = ll_chart_view_size_allocate;
  widget_class->query_tooltip = ll_chart_view_query_tooltip;
  widget_class->root = ll_chart_view_root;
  widget_class->unroot = ll_chart_view_unroot;

  /* An int rather than an enum type: LensView lives in the GObject-free painters. */
  properties[PROP_VIEW]
      = g_param_spec_int ("view", NULL, NULL, LENS_VIEW_HEATMAP, LENS_VIEW_DIFF, LENS_VIEW_HEATMAP,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* (row, pos) of the cell clicked or reached with the keyboard. */
  signals[SIGNAL_CELL_SELECTED]
      = g_signal_new ("cell-selected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
  /* (row, pos) under the pointer, (-1, -1) when it leaves the cells. */
  signals[SIGNAL_CELL_HOVERED]
      = g_signal_new ("cell-hovered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);

  /* (cell width) a heatmap's new cell width asked for by Ctrl+scroll or ll_chart_view_zoom: the
   * owner sets LensPaintState.zoom_cell_w to it (on every view that shares the zoom). */
  signals[SIGNAL_ZOOM_CHANGED]
      = g_signal_new ("zoom-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_DOUBLE);

  gtk_widget_class_set_css_name (widget_class, "chartview");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
ll_chart_view_init (LlChartView *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  lens_paint_state_init (&self->state);
  self->view = LENS_VIEW_HEATMAP;
  self->hover_row = self->hover_pos = -1;
  self->pointer_x = self->pointer_y = NAN;

  gtk_widget_set_focusable (widget, TRUE);
  gtk_widget_set_focus_on_click (widget, TRUE);
  gtk_widget_set_has_tooltip (widget, TRUE);

  GtkEventController *motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (motion_cb), self);
  g_signal_connect (motion, "leave", G_CALLBACK (leave_cb), self);
  gtk_widget_add_controller (widget, motion);

  GtkGesture *click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_PRIMARY);
  g_signal_connect (click, "pressed", G_CALLBACK (pressed_cb), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (click));

  GtkEventController *scroll
      = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  g_signal_connect (scroll, "scroll", G_CALLBACK (scroll_cb), self);
  gtk_widget_add_controller (widget, scroll);

  GtkEventController *key = gtk_event_controller_key_new ();
  g_signal_connect (key, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (widget, key);

  g_signal_connect_object (adw_style_manager_get_default (), "notify::dark",
                           G_CALLBACK (invalidate), self, G_CONNECT_SWAPPED);

  g_autofree char *name = view_name (self->view);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, name,
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, _ ("No result yet"), -1);
}
