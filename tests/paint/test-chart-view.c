/* test-chart-view.c: LlChartView in a real window under Xvfb (GSK_RENDERER=cairo): natural size,
 * pixels on screen, hover, click and keyboard selection, dark mode, the empty state and a very
 * large figure painted only where it is visible. Event controllers are driven by emitting their
 * signals, as the events would. */
#include "config.h"

#include <adwaita.h>
#include <math.h>

#include "gui-support.h"
#include "paint-targets.h"
#include "ll-chart-view.h"

static int failures;

static const char *vocab[] = {" Paris", " the", " France", ",", " of", "\n", " capital", "The"};

static LensResult *
make_result (int R, int T, int K)
{
  LensResult *r = lens_result_new_empty (R, T, K);
  r->n_vocab_texts = G_N_ELEMENTS (vocab);
  r->vocab_texts = g_new0 (char *, r->n_vocab_texts);
  for (int i = 0; i < r->n_vocab_texts; i++)
    r->vocab_texts[i] = g_strdup (vocab[i]);
  for (int t = 0; t < T; t++)
    {
      g_free (r->token_texts[t]);
      r->token_texts[t] = g_strdup (vocab[(t + 7) % G_N_ELEMENTS (vocab)]);
    }
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        size_t cell = lens_result_cell_index (r, row, t);
        for (int k = 0; k < K; k++)
          {
            r->top_ids[cell * K + k] = (row + t + k) % (int) G_N_ELEMENTS (vocab);
            r->top_probs[cell * K + k] = k == 0 ? (float) (row * T + t) / (float) (R * T) : 0.01f;
          }
        r->entropy[cell] = 1.0f;
      }
  return r;
}

static gboolean
count_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  (*(int *) data)++;
  return G_SOURCE_CONTINUE;
}

/* Waits until the window has drawn a few frames, so queued layout and drawing have happened
 * (a fixed sleep is too short under sanitizers). */
static void
settle (GtkWidget *widget)
{
  int ticks = 0;
  guint id = gtk_widget_add_tick_callback (widget, count_tick, &ticks, NULL);
  gtk_widget_queue_draw (widget);
  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (ticks < 3 && g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  gtk_widget_remove_tick_callback (widget, id);
  gui_spin_ms (20);
}

typedef struct
{
  guchar *data;
  int w, h;
} Pixels;

static Pixels
download (GtkWidget *widget)
{
  g_autoptr (GdkTexture) texture = gui_render_widget (widget);
  Pixels p = {0};
  if (texture == NULL)
    return p;
  p.w = gdk_texture_get_width (texture);
  p.h = gdk_texture_get_height (texture);
  p.data = g_malloc ((gsize) p.w * p.h * 4);
  gdk_texture_download (texture, p.data, (gsize) p.w * 4);
  return p;
}

/* BGRA premultiplied; returns alpha too. */
static void
px (const Pixels *p, int x, int y, int *r, int *g, int *b, int *a)
{
  *r = *g = *b = *a = -1;
  if (x < 0 || y < 0 || x >= p->w || y >= p->h)
    return;
  const guchar *q = p->data + ((gsize) y * p->w + x) * 4;
  *b = q[0], *g = q[1], *r = q[2], *a = q[3];
}

static gboolean
cell_has_color (const Pixels *p, const LensHeatmapLayout *l, int row, int pos, double prob,
                LensColorScale scale)
{
  double er, eg, eb;
  lens_color_scale_rgb (scale, prob, &er, &eg, &eb);
  int r, g, b, a;
  px (p, (int) (l->grid_x + pos * l->cell_w + 3), (int) (l->grid_y + row * l->cell_h + 3), &r, &g,
      &b, &a);
  return a == 255 && abs (r - (int) lround (er * 255)) <= 1
         && abs (g - (int) lround (eg * 255)) <= 1 && abs (b - (int) lround (eb * 255)) <= 1;
}

static GtkEventController *
find_controller (GtkWidget *widget, GType type)
{
  g_autoptr (GListModel) list = gtk_widget_observe_controllers (widget);
  for (guint i = 0; i < g_list_model_get_n_items (list); i++)
    {
      g_autoptr (GtkEventController) c = g_list_model_get_item (list, i);
      if (G_TYPE_CHECK_INSTANCE_TYPE (c, type))
        return c;
    }
  return NULL;
}

static int last_sel_row = -9, last_sel_pos = -9, n_selected;
static int last_hover_row = -9, last_hover_pos = -9;

static void
selected_cb (LlChartView *view, int row, int pos, gpointer data)
{
  last_sel_row = row, last_sel_pos = pos;
  n_selected++;
}

static void
hovered_cb (LlChartView *view, int row, int pos, gpointer data)
{
  last_hover_row = row, last_hover_pos = pos;
}

static gboolean
press_key (GtkWidget *view, guint keyval, GdkModifierType mods)
{
  GtkEventController *key = find_controller (view, GTK_TYPE_EVENT_CONTROLLER_KEY);
  gboolean handled = FALSE;
  g_signal_emit_by_name (key, "key-pressed", keyval, 0, mods, &handled);
  return handled;
}

static void
wait_allocated (GtkWidget *w)
{
  for (int i = 0; i < 200 && (gtk_widget_get_width (w) <= 0 || !gtk_widget_get_mapped (w)); i++)
    gui_spin_ms (10);
  gui_spin_ms (50);
}

int
main (int argc, char **argv)
{
  gtk_init ();
  adw_init ();
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (),
                                      ADW_COLOR_SCHEME_FORCE_LIGHT);

  const int R = 6, T = 8, K = 4;
  g_autoptr (LensResult) result = make_result (R, T, K);

  GtkWidget *window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (window), 900, 500);
  GtkWidget *scroller = gtk_scrolled_window_new ();
  gtk_window_set_child (GTK_WINDOW (window), scroller);
  GtkWidget *view = ll_chart_view_new (LENS_VIEW_HEATMAP);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), view);
  g_signal_connect (view, "cell-selected", G_CALLBACK (selected_cb), NULL);
  g_signal_connect (view, "cell-hovered", G_CALLBACK (hovered_cb), NULL);
  ll_chart_view_set_result (LL_CHART_VIEW (view), result);
  CHECK (ll_chart_view_get_view (LL_CHART_VIEW (view)) == LENS_VIEW_HEATMAP, "view");
  CHECK (ll_chart_view_get_result (LL_CHART_VIEW (view)) == result, "result");
  gtk_window_present (GTK_WINDOW (window));
  wait_allocated (view);

  /* Natural size = the painters' natural size. */
  LensPaintState state;
  lens_paint_state_init (&state);
  LensHeatmapLayout l;
  lens_heatmap_layout (result, &state, &l);
  int min_w, nat_w, min_h, nat_h;
  gtk_widget_measure (view, GTK_ORIENTATION_HORIZONTAL, -1, &min_w, &nat_w, NULL, NULL);
  gtk_widget_measure (view, GTK_ORIENTATION_VERTICAL, -1, &min_h, &nat_h, NULL, NULL);
  CHECK (nat_w == (int) ceil (l.width) && nat_h == (int) ceil (l.height), "natural %dx%d vs %gx%g",
         nat_w, nat_h, l.width, l.height);
  CHECK (min_w == nat_w && min_h == nat_h, "heatmap minimum is its natural size (it scrolls)");

  /* The pane is larger than the figure: the viewport gives the widget all of it, and the cells
   * grow to fill it (whole pixels, up to 160 x 64) with the same layout the widget hit-tests. */
  int vw0 = gtk_widget_get_width (view), vh0 = gtk_widget_get_height (view);
  CHECK (vw0 > nat_w + T && vh0 > nat_h + R, "widget %dx%d fills the %dx%d pane", vw0, vh0, nat_w,
         nat_h);
  LensHeatmapLayout natural = l;
  lens_heatmap_layout_for_size (result, &state, vw0, vh0, &l);
  CHECK (l.cell_w > natural.cell_w && l.cell_h > natural.cell_h, "cells grew from %gx%g to %gx%g",
         natural.cell_w, natural.cell_h, l.cell_w, l.cell_h);
  CHECK (l.width <= vw0 && l.height <= vh0, "grown figure %gx%g fits %dx%d", l.width, l.height, vw0,
         vh0);
  CHECK (l.cell_w == 160 || vw0 - l.width < T, "width filled (%g of %d) or cells at the cap (%g)",
         l.width, vw0, l.cell_w);
  CHECK (l.cell_h == 64 || vh0 - l.height < R, "height filled (%g of %d) or cells at the cap (%g)",
         l.height, vh0, l.cell_h);

  /* Every cell on screen has its probability's colour. */
  Pixels p = download (view);
  CHECK (p.data != NULL, "nothing rendered");
  int good = 0;
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      good += cell_has_color (&p, &l, row, t,
                              result->top_probs[lens_result_cell_index (result, row, t) * K],
                              LENS_SCALE_RDYLBU);
  CHECK (good == R * T, "%d of %d cells have their colour", good, R * T);
  g_free (p.data);

  /* Hover: the motion controller reports the cell and the outline appears. */
  GtkEventController *motion = find_controller (view, GTK_TYPE_EVENT_CONTROLLER_MOTION);
  CHECK (motion != NULL, "no motion controller");
  double cx = l.grid_x + 2.5 * l.cell_w, cy = l.grid_y + 1.5 * l.cell_h;
  g_signal_emit_by_name (motion, "motion", cx, cy);
  CHECK (last_hover_row == 1 && last_hover_pos == 2, "hovered (%d,%d)", last_hover_row,
         last_hover_pos);
  settle (window);
  p = download (view);
  int outline = 0;
  for (int x = (int) (l.grid_x + 2 * l.cell_w) + 2; x < (int) (l.grid_x + 3 * l.cell_w) - 3; x++)
    {
      int r, g, b, a;
      px (&p, x, (int) (l.grid_y + l.cell_h) + 1, &r, &g, &b, &a);
      outline += r == 0x1a && g == 0x1a && b == 0x1a; /* dark text colour of a light cell */
    }
  CHECK (outline > 5, "hover outline: %d pixels", outline);
  g_free (p.data);
  g_signal_emit_by_name (motion, "motion", 1.0, 1.0);
  CHECK (last_hover_row == -1 && last_hover_pos == -1, "outside the grid: (%d,%d)", last_hover_row,
         last_hover_pos);
  g_signal_emit_by_name (motion, "motion", cx, cy);
  g_signal_emit_by_name (motion, "leave");
  CHECK (last_hover_row == -1 && last_hover_pos == -1, "after leave: (%d,%d)", last_hover_row,
         last_hover_pos);

  /* Click selects and focuses. */
  GtkEventController *click = find_controller (view, GTK_TYPE_GESTURE_CLICK);
  g_signal_emit_by_name (click, "pressed", 1, l.grid_x + 3.5 * l.cell_w, l.grid_y + 2.5 * l.cell_h);
  CHECK (last_sel_row == 2 && last_sel_pos == 3, "clicked (%d,%d)", last_sel_row, last_sel_pos);
  CHECK (gtk_widget_has_focus (view), "click focuses the view");
  int before = n_selected;
  g_signal_emit_by_name (click, "pressed", 1, 2.0, 2.0);
  CHECK (n_selected == before, "a click outside the grid selects nothing");

  /* Keyboard. */
  struct
  {
    guint key;
    GdkModifierType mods;
    int row, pos;
  } steps[] = {
      {GDK_KEY_Right, 0, 2, 4},
      {GDK_KEY_Down, 0, 3, 4},
      {GDK_KEY_Home, 0, 3, 0},
      {GDK_KEY_Left, 0, 3, 0},
      {GDK_KEY_End, 0, 3, T - 1},
      {GDK_KEY_Right, 0, 3, T - 1},
      {GDK_KEY_Home, GDK_CONTROL_MASK, 0, 0},
      {GDK_KEY_Up, 0, 0, 0},
      {GDK_KEY_End, GDK_CONTROL_MASK, R - 1, T - 1},
      {GDK_KEY_Page_Up, 0, 0, T - 1},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      CHECK (press_key (view, steps[i].key, steps[i].mods), "key %u not handled", steps[i].key);
      CHECK (last_sel_row == steps[i].row && last_sel_pos == steps[i].pos,
             "step %zu: (%d,%d), expected (%d,%d)", i, last_sel_row, last_sel_pos, steps[i].row,
             steps[i].pos);
    }
  CHECK (!press_key (view, GDK_KEY_a, 0), "other keys are left to others");

  /* The caller's state wins; selection shows as a solid ring; dark mode follows Adwaita. */
  state.sel_row = 4, state.sel_pos = 5;
  before = n_selected;
  ll_chart_view_set_state (LL_CHART_VIEW (view), &state);
  CHECK (n_selected == before, "set_state does not emit cell-selected");
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (),
                                      ADW_COLOR_SCHEME_FORCE_DARK);
  settle (window);
  p = download (view);
  int ring = 0;
  for (int x = (int) (l.grid_x + 5 * l.cell_w) + 1; x < (int) (l.grid_x + 6 * l.cell_w) - 2; x++)
    {
      int r, g, b, a;
      px (&p, x, (int) (l.grid_y + 4 * l.cell_h) + 1, &r, &g, &b, &a);
      ring += r == 0xf2 && g == 0xf5 && b == 0xfa;
    }
  CHECK (ring >= (int) l.cell_w - 4, "dark selection ring: %d pixels", ring);
  CHECK (cell_has_color (&p, &l, 0, 0, 0.0, LENS_SCALE_RDYLBU), "dark mode keeps cell colours");
  g_free (p.data);

  /* Save what the window looks like for people. */
  const char *dir = g_getenv ("LENS_PAINT_OUTPUT_DIR");
  g_autofree char *shot = g_build_filename (dir != NULL ? dir : ".", "chart-view-window.png", NULL);
  {
    g_autoptr (GdkTexture) texture = gui_render_widget (window);
    if (texture != NULL)
      gdk_texture_save_to_png (texture, shot);
  }
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (),
                                      ADW_COLOR_SCHEME_FORCE_LIGHT);

  /* Other views in the same widget. */
  g_autofree float *probs = g_new (float, (R * T));
  for (int i = 0; i < R * T; i++)
    probs[i] = (float) i / (R * T);
  TargetSpec targets[] = {{" Paris", -1, probs}};
  g_autoptr (GPtrArray) kept_targets = NULL;
  state.targets = state_targets (result, targets, 1, &kept_targets);
  state.n_targets = 1;
  ll_chart_view_set_state (LL_CHART_VIEW (view), &state);
  ll_chart_view_set_view (LL_CHART_VIEW (view), LENS_VIEW_TARGET);
  settle (window);
  p = download (view);
  CHECK (cell_has_color (&p, &l, 3, 4, probs[3 * T + 4], LENS_SCALE_BLUES), "target heatmap cell");
  g_free (p.data);
  ll_chart_view_set_view (LL_CHART_VIEW (view), LENS_VIEW_LINE);
  settle (window);
  double lw, lh;
  lens_view_natural_size (LENS_VIEW_LINE, result, &state, &lw, &lh);
  gtk_widget_measure (view, GTK_ORIENTATION_HORIZONTAL, -1, &min_w, &nat_w, NULL, NULL);
  CHECK (nat_w == (int) ceil (lw) && min_w < nat_w, "line plot size %d/%d vs %g", min_w, nat_w, lw);
  /* A click in the line plot selects that layer at the plotted position. */
  int line_row = -1;
  int vw = gtk_widget_get_width (view), vh = gtk_widget_get_height (view);
  CHECK (lens_line_hit (result, &state, vw, vh, vw / 2.0, vh / 2.0, &line_row), "line hit");
  g_signal_emit_by_name (click, "pressed", 1, vw / 2.0, vh / 2.0);
  CHECK (last_sel_row == line_row && last_sel_pos == 5,
         "line plot click selected (%d,%d), expected (%d,5)", last_sel_row, last_sel_pos, line_row);
  before = n_selected;
  g_signal_emit_by_name (click, "pressed", 1, 3.0, 3.0);
  CHECK (n_selected == before, "a click outside the plot selects nothing");
  ll_chart_view_set_view (LL_CHART_VIEW (view), LENS_VIEW_TOPK);
  settle (window);

  /* No result: the empty state is painted (not a blank widget). */
  ll_chart_view_set_result (LL_CHART_VIEW (view), NULL);
  ll_chart_view_set_view (LL_CHART_VIEW (view), LENS_VIEW_HEATMAP);
  settle (window);
  gtk_widget_measure (view, GTK_ORIENTATION_HORIZONTAL, -1, &min_w, &nat_w, NULL, NULL);
  CHECK (nat_w == 480, "empty natural width %d", nat_w);
  p = download (view);
  /* Ink: pixels that are not the (opaque, white) paper. */
  int ink = 0;
  for (int i = 0; i < p.w * p.h; i++)
    ink += p.data[i * 4 + 3] != 0
           && (p.data[i * 4] != 0xff || p.data[i * 4 + 1] != 0xff || p.data[i * 4 + 2] != 0xff);
  CHECK (ink > 50, "empty state draws a message (%d pixels)", ink);
  g_free (p.data);
  CHECK (!press_key (view, GDK_KEY_Right, 0), "no keyboard selection without a result");

  /* A very large figure: painted where visible, and again after scrolling. */
  g_autoptr (LensResult) big = make_result (4, 400, 2);
  lens_paint_state_init (&state);
  ll_chart_view_set_state (LL_CHART_VIEW (view), &state);
  ll_chart_view_set_result (LL_CHART_VIEW (view), big);
  settle (window);
  LensHeatmapLayout bl, big_natural;
  lens_heatmap_layout (big, &state, &big_natural);
  lens_heatmap_layout_for_size (big, &state, gtk_widget_get_width (view),
                                gtk_widget_get_height (view), &bl);
  CHECK (gtk_widget_get_width (view) >= (int) bl.width, "large widget width %d < %g",
         gtk_widget_get_width (view), bl.width);
  /* Too wide for the pane: natural columns (it scrolls); its four rows still fill the height. */
  CHECK (bl.cell_w == big_natural.cell_w && bl.cell_h > big_natural.cell_h,
         "long prompt cells %gx%g (natural %gx%g)", bl.cell_w, bl.cell_h, big_natural.cell_w,
         big_natural.cell_h);
  p = download (view);
  double p00 = big->top_probs[0];
  size_t last = lens_result_cell_index (big, 0, 399) * 2;
  CHECK (cell_has_color (&p, &bl, 0, 0, p00, LENS_SCALE_RDYLBU), "first cell painted");
  int r, g, b, a;
  px (&p, (int) (bl.grid_x + 399 * bl.cell_w + 3), (int) (bl.grid_y + 3), &r, &g, &b, &a);
  CHECK (a == 0, "a far cell outside the viewport is not painted (alpha %d)", a);
  g_free (p.data);
  GtkAdjustment *hadj = gtk_scrolled_window_get_hadjustment (GTK_SCROLLED_WINDOW (scroller));
  gtk_adjustment_set_value (hadj, gtk_adjustment_get_upper (hadj));
  /* Wait for the viewport to move the view (a frame later; slow under sanitizers). */
  for (int i = 0; i < 500; i++)
    {
      graphene_rect_t bounds;
      if (gtk_widget_compute_bounds (view, scroller, &bounds)
          && fabs (bounds.origin.x + gtk_adjustment_get_value (hadj)) < 0.5)
        break;
      gui_spin_ms (10);
    }
  settle (window);
  p = download (view);
  CHECK (cell_has_color (&p, &bl, 0, 399, big->top_probs[last], LENS_SCALE_RDYLBU),
         "last cell painted after scrolling");

  /* Scrolled right, the layer labels stay at the visible area's left edge (frozen): a band of
   * paper with the labels' text over the cells that scrolled under it, and cells right of it. */
  double hval = gtk_adjustment_get_value (hadj);
  CHECK (hval > bl.labels_w, "scrolled to %g", hval);
  int band_x0 = (int) ceil (hval), band_x1 = (int) floor (hval + bl.labels_w) - 1;
  int paper = 0, text = 0, cells = 0;
  for (int y = (int) bl.grid_y; y < (int) (bl.grid_y + bl.n_rows * bl.cell_h); y++)
    for (int x = band_x0; x < band_x1; x++)
      {
        px (&p, x, y, &r, &g, &b, &a);
        if (r == 0xff && g == 0xff && b == 0xff && a == 0xff)
          paper++;
        else if (a == 0xff && abs (r - 0x50) < 60 && abs (g - 0x67) < 60 && abs (b - 0x84) < 60)
          text++; /* the labels' muted blue-grey and its antialiasing */
        int hr, hp;
        if (lens_heatmap_hit (&bl, x, y, &hr, &hp)
            && cell_has_color (&p, &bl, hr, hp,
                               big->top_probs[lens_result_cell_index (big, hr, hp) * 2],
                               LENS_SCALE_RDYLBU))
          cells++;
      }
  int band_px = (band_x1 - band_x0) * (int) (bl.n_rows * bl.cell_h);
  CHECK (paper > band_px / 2 && text > 40 && cells == 0,
         "frozen row labels: %d paper, %d text, %d cell pixels of %d", paper, text, cells, band_px);
  int first_col = (int) ceil ((hval + bl.labels_w - bl.grid_x) / bl.cell_w);
  CHECK (cell_has_color (&p, &bl, 1, first_col,
                         big->top_probs[lens_result_cell_index (big, 1, first_col) * 2],
                         LENS_SCALE_RDYLBU),
         "the first whole column right of the frozen labels (%d) is painted", first_col);
  /* The cells under the band are hidden, so the pointer there hovers and selects nothing. */
  g_signal_emit_by_name (motion, "motion", bl.grid_x + (first_col + 0.5) * bl.cell_w,
                         bl.grid_y + 0.5 * bl.cell_h);
  CHECK (last_hover_row == 0 && last_hover_pos == first_col, "hover right of the band: (%d,%d)",
         last_hover_row, last_hover_pos);
  g_signal_emit_by_name (motion, "motion", hval + bl.labels_w / 2.0, bl.grid_y + bl.cell_h / 2.0);
  CHECK (last_hover_row == -1 && last_hover_pos == -1, "hover under the frozen labels: (%d,%d)",
         last_hover_row, last_hover_pos);
  before = n_selected;
  g_signal_emit_by_name (click, "pressed", 1, hval + bl.labels_w / 2.0,
                         bl.grid_y + bl.cell_h / 2.0);
  CHECK (n_selected == before, "a click on the frozen labels selects nothing");
  g_signal_emit_by_name (motion, "motion", bl.grid_x + (first_col + 0.5) * bl.cell_w,
                         bl.grid_y + 1.5 * bl.cell_h);
  CHECK (last_hover_row == 1 && last_hover_pos == first_col, "hover right of the band: (%d,%d)",
         last_hover_row, last_hover_pos);
  g_signal_emit_by_name (motion, "leave");
  g_free (p.data);
  /* Keyboard selection scrolls the cell into view. */
  gtk_widget_grab_focus (view);
  press_key (view, GDK_KEY_Home, GDK_CONTROL_MASK);
  settle (window);
  CHECK (gtk_adjustment_get_value (hadj) <= bl.grid_x, "Ctrl+Home scrolls back (%g)",
         gtk_adjustment_get_value (hadj));

  /* The scrolled window shrinks (a banner appears above it, as the window's "Opened from results
   * file" one does) while the figure keeps its size: the token labels frozen at the visible
   * area's bottom edge move up with that edge instead of staying under it, cut off. */
  GtkWidget *window2 = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (window2), 700, 460);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *banner = gtk_label_new ("banner");
  gtk_widget_set_size_request (banner, -1, 80);
  gtk_widget_set_visible (banner, FALSE);
  GtkWidget *scroller2 = gtk_scrolled_window_new ();
  gtk_widget_set_vexpand (scroller2, TRUE);
  gtk_box_append (GTK_BOX (box), banner);
  gtk_box_append (GTK_BOX (box), scroller2);
  gtk_window_set_child (GTK_WINDOW (window2), box);
  GtkWidget *tall = ll_chart_view_new (LENS_VIEW_HEATMAP);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller2), tall);
  g_autoptr (LensResult) tall_result = make_result (40, 60, 2);
  ll_chart_view_set_result (LL_CHART_VIEW (tall), tall_result);
  gtk_window_present (GTK_WINDOW (window2));
  wait_allocated (tall);
  settle (window2);
  int port_h0 = gtk_widget_get_height (scroller2);
  gtk_widget_set_visible (banner, TRUE);
  settle (window2);
  int port_w = gtk_widget_get_width (scroller2), port_h1 = gtk_widget_get_height (scroller2);
  CHECK (port_h1 <= port_h0 - 80, "the banner shrinks the scrolled window (%d, was %d)", port_h1,
         port_h0);
  LensHeatmapLayout tl;
  lens_paint_state_init (&state);
  lens_heatmap_layout_for_size (tall_result, &state, gtk_widget_get_width (tall),
                                gtk_widget_get_height (tall), &tl);
  cairo_rectangle_t port = {0, 0, port_w, port_h1}, frozen_rows, frozen_cols;
  lens_heatmap_frozen_bands (&tl, &port, &frozen_rows, &frozen_cols);
  CHECK (frozen_cols.height > 0 && frozen_cols.y + frozen_cols.height <= port_h1 + 0.5,
         "token labels frozen at the new bottom edge (%g + %g, port %d)", frozen_cols.y,
         frozen_cols.height, port_h1);
  p = download (tall);
  int band_paper = 0, band_cells = 0, band_total = 0;
  for (int y = (int) ceil (frozen_cols.y); y < (int) (frozen_cols.y + frozen_cols.height); y++)
    for (int x = (int) tl.grid_x; x < MIN (port_w, (int) (tl.grid_x + tl.n_cols * tl.cell_w)); x++)
      {
        int hr, hp;
        px (&p, x, y, &r, &g, &b, &a);
        band_total++;
        band_paper += r == 0xff && g == 0xff && b == 0xff && a == 0xff;
        double er, eg, eb;
        /* this pixel has its cell's colour: the cell shows through where the labels should be */
        if (lens_heatmap_hit (&tl, x, y, &hr, &hp))
          {
            lens_color_scale_rgb (
                LENS_SCALE_RDYLBU,
                tall_result->top_probs[lens_result_cell_index (tall_result, hr, hp) * 2], &er, &eg,
                &eb);
            band_cells += a == 255 && abs (r - (int) lround (er * 255)) <= 1
                          && abs (g - (int) lround (eg * 255)) <= 1
                          && abs (b - (int) lround (eb * 255)) <= 1;
          }
      }
  CHECK (band_paper > band_total / 2 && band_cells == 0,
         "the frozen token labels at the new bottom edge: %d paper, %d cell pixels of %d",
         band_paper, band_cells, band_total);
  g_free (p.data);
  gtk_window_destroy (GTK_WINDOW (window2));

  gtk_window_destroy (GTK_WINDOW (window));
  gui_spin_ms (50);
  if (failures > 0)
    g_printerr ("%d check(s) failed\n", failures);
  else
    g_print ("ok: chart view\n");
  return failures > 0 ? 1 : 0;
}
