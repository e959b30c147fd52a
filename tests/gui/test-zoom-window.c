/* test-zoom-window.c: zooming the heatmaps in the real window (the app's own code) under Xvfb,
 * with real X key and wheel events (issue 15, items 6 and 9).
 *
 * usage: test-zoom-window --model DIR --artifacts DIR
 *
 * Runs a 245-token prompt; checks that the heatmap fits its cells to the pane (compact, and a
 * toast saying how many positions fit when they do not all fit), that Ctrl+plus, Ctrl+minus and
 * Ctrl+scroll change the cell width for both heatmaps, that Ctrl+scroll keeps the cell under the
 * pointer under it, that Ctrl+0 fits again, and that scrolled right and down the token labels of
 * the columns scrolled left do not show beside the frozen layer labels. Saves screenshots into
 * --artifacts. */
#include "config.h"

#include <X11/XKBlib.h>
#include <X11/extensions/XTest.h>
#include <gdk/x11/gdkx.h>
#include <math.h>
#include <string.h>

#include "lens-paint.h"
#include "ll-application.h"
#include "ll-chart-view.h"
#include "ll-window.h"
#include "gui-support.h"

static GuiWindowTest test;
static LlWindow *window;
static int failures;

/* 245 tokens with GPT-2's tokenizer (the demo model's and the random test model's). */
static char *
long_prompt (void)
{
  static const char *words[]
      = {"The", "Eiffel",  "Tower",   "is",    "in",     "the", "city", "of",    "Paris",
         "and", "the",     "capital", "of",    "France", "is",  "also", "known", "for",
         "its", "museums", "and",     "cafes", "along",  "the", "river"};
  GString *s = g_string_new (NULL);
  int n = (int) G_N_ELEMENTS (words);
  for (int i = 0; i < 8 * n - 7; i++)
    g_string_append_printf (s, i == 0 ? "%s" : " %s", words[i % n]);
  return g_string_free (s, FALSE);
}

static gboolean
idle_result_with (gpointer n_tokens)
{
  LensResult *r = ll_window_get_result (window);
  return r != NULL && r->n_tokens == GPOINTER_TO_INT (n_tokens)
         && !ll_worker_get_busy (ll_window_get_worker (window))
         && g_strcmp0 (ll_window_get_content_state (window), "result") == 0;
}

static Display *
x_display (void)
{
  return gdk_x11_display_get_xdisplay (gtk_widget_get_display (GTK_WIDGET (window)));
}

/* Ctrl + the key for `keysym`, through the X server. */
static void
press_ctrl_key (KeySym keysym)
{
  Display *dpy = x_display ();
  KeyCode ctrl = XKeysymToKeycode (dpy, XK_Control_L), code = XKeysymToKeycode (dpy, keysym);
  XTestFakeKeyEvent (dpy, ctrl, True, 0);
  XTestFakeKeyEvent (dpy, code, True, 0);
  XTestFakeKeyEvent (dpy, code, False, 0);
  XTestFakeKeyEvent (dpy, ctrl, False, 0);
  XFlush (dpy);
}

/* One wheel notch (button 4 up, 5 down) with Ctrl held, at the pointer. */
static void
ctrl_wheel (int button)
{
  Display *dpy = x_display ();
  KeyCode ctrl = XKeysymToKeycode (dpy, XK_Control_L);
  XTestFakeKeyEvent (dpy, ctrl, True, 0);
  XTestFakeButtonEvent (dpy, button, True, 0);
  XTestFakeButtonEvent (dpy, button, False, 0);
  XTestFakeKeyEvent (dpy, ctrl, False, 0);
  XFlush (dpy);
}

typedef struct
{
  GtkWidget *view;
  double not_w; /* wait until the cell width differs from this */
} WidthWait;

static gboolean
width_changed (gpointer data)
{
  WidthWait *w = data;
  return ll_chart_view_get_cell_width (LL_CHART_VIEW (w->view)) != w->not_w;
}

/* Waits for a new cell width, then for the layout and a few frames. */
static double
wait_new_width (GtkWidget *view, double old_w)
{
  WidthWait w = {view, old_w};
  gui_wait_until (width_changed, &w, 5000);
  gui_spin_ms (300);
  return ll_chart_view_get_cell_width (LL_CHART_VIEW (view));
}

static void
layout_of (GtkWidget *view, LensHeatmapLayout *l)
{
  lens_heatmap_layout_for_size (ll_window_get_result (window), ll_window_get_paint_state (window),
                                gtk_widget_get_width (view), gtk_widget_get_height (view), l);
}

static GtkAdjustment *
hadj_of (GtkWidget *view)
{
  return gtk_scrolled_window_get_hadjustment (
      GTK_SCROLLED_WINDOW (gtk_widget_get_ancestor (view, GTK_TYPE_SCROLLED_WINDOW)));
}

static GtkAdjustment *
vadj_of (GtkWidget *view)
{
  return gtk_scrolled_window_get_vadjustment (
      GTK_SCROLLED_WINDOW (gtk_widget_get_ancestor (view, GTK_TYPE_SCROLLED_WINDOW)));
}

/* The cell of `view` at point (px, py) of its scrolled window. */
static gboolean
cell_at_port_point (GtkWidget *view, double px, double py, int *row, int *pos)
{
  LensHeatmapLayout l;
  layout_of (view, &l);
  double x = px + gtk_adjustment_get_value (hadj_of (view));
  double y = py + gtk_adjustment_get_value (vadj_of (view));
  return lens_heatmap_hit (&l, x, y, row, pos);
}

static gboolean
label_contains (GtkWidget *w, const char *needle)
{
  if (GTK_IS_LABEL (w) && gtk_widget_get_mapped (w)
      && strstr (gtk_label_get_text (GTK_LABEL (w)), needle) != NULL)
    return TRUE;
  for (GtkWidget *c = gtk_widget_get_first_child (w); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    if (label_contains (c, needle))
      return TRUE;
  return FALSE;
}

static gboolean
toast_says_fit (gpointer data)
{
  return label_contains (GTK_WIDGET (window), "of 245 positions fit the window");
}

static void
save_screenshot (const char *name)
{
  g_autoptr (GdkTexture) texture = gui_render_widget (GTK_WIDGET (window));
  CHECK (texture != NULL, "window rendered nothing");
  if (texture == NULL)
    return;
  g_autofree char *path = g_build_filename (test.artifacts, name, NULL);
  CHECK (gdk_texture_save_to_png (texture, path), "could not write %s", path);
  g_print ("# screenshot: %s\n", path);
}

static gboolean
run_script (gpointer data)
{
  g_autofree char *prompt = long_prompt ();
  gui_text_view_set_text (ll_window_get_prompt_view (window), prompt);
  gboolean ok = gui_wait_until (idle_result_with, GINT_TO_POINTER (245), 60000);
  CHECK (ok, "no 245-token result");
  if (!ok)
    {
      g_application_quit (g_application_get_default ());
      return G_SOURCE_REMOVE;
    }
  gui_spin_ms (500);
  GtkWidget *view = ll_window_get_view (window, LENS_VIEW_HEATMAP);
  GtkWidget *target = ll_window_get_view (window, LENS_VIEW_TARGET);
  GtkWidget *scroller = gtk_widget_get_ancestor (view, GTK_TYPE_SCROLLED_WINDOW);
  int port_w = gtk_widget_get_width (scroller), port_h = gtk_widget_get_height (scroller);

  /* 1. The default: cells fitted to the pane, here the compact ones (245 do not fit). */
  double w0 = ll_chart_view_get_cell_width (LL_CHART_VIEW (view));
  CHECK (w0 == LENS_CELL_W_COMPACT, "a 245-token prompt starts with compact cells (%g)", w0);
  CHECK (gtk_widget_get_width (view) > port_w, "the fitted heatmap still scrolls (%d in %d)",
         gtk_widget_get_width (view), port_w);
  /* Ctrl+0 (Fit to Window) says that not all of them fit. */
  gui_warp_pointer_to (view, 5, 5);
  press_ctrl_key (XK_0);
  CHECK (gui_wait_until (toast_says_fit, NULL, 3000), "no toast saying how many positions fit");
  gui_spin_ms (300);
  save_screenshot ("zoom-fit.png");

  /* 2. Ctrl+plus: wider cells for both heatmaps; the visible centre stays. */
  int c_row, c_pos;
  gboolean c_hit = cell_at_port_point (view, port_w / 2.0, port_h / 2.0, &c_row, &c_pos);
  press_ctrl_key (XK_plus);
  double w1 = wait_new_width (view, w0);
  CHECK (w1 == round (w0 * LL_CHART_VIEW_ZOOM_STEP), "Ctrl+plus: %g px after %g", w1, w0);
  CHECK (ll_window_get_paint_state (window)->zoom_cell_w == w1, "the window's zoom is %g",
         ll_window_get_paint_state (window)->zoom_cell_w);
  int n_row, n_pos;
  CHECK (c_hit && cell_at_port_point (view, port_w / 2.0, port_h / 2.0, &n_row, &n_pos)
             && n_pos == c_pos,
         "the cell in the middle of the pane stays there: %d, was %d", n_pos, c_pos);
  press_ctrl_key (XK_minus);
  double w2 = wait_new_width (view, w1);
  CHECK (w2 < w1, "Ctrl+minus: %g px after %g", w2, w1);
  for (int i = 0; i < 4; i++)
    {
      double before = ll_chart_view_get_cell_width (LL_CHART_VIEW (view));
      press_ctrl_key (XK_plus);
      wait_new_width (view, before);
    }
  double w3 = ll_chart_view_get_cell_width (LL_CHART_VIEW (view));
  CHECK (w3 >= LENS_CELL_W_TEXT, "four steps in give cells with text (%g px)", w3);

  /* 3. Ctrl+scroll over a cell right of the middle of a scrolled heatmap: the cell under the
   * pointer is still under it after the zoom. */
  gtk_adjustment_set_value (hadj_of (view), gtk_adjustment_get_upper (hadj_of (view)) / 3);
  gui_spin_ms (300);
  double ptr_x = port_w * 0.7, ptr_y = port_h * 0.3;
  int p_row = -1, p_pos = -1;
  CHECK (cell_at_port_point (view, ptr_x, ptr_y, &p_row, &p_pos), "a cell under the pointer");
  double hval = gtk_adjustment_get_value (hadj_of (view));
  gui_warp_pointer_to (view, ptr_x + hval, ptr_y + gtk_adjustment_get_value (vadj_of (view)));
  gui_spin_ms (200);
  ctrl_wheel (4);
  double w4 = wait_new_width (view, w3);
  CHECK (w4 > w3, "Ctrl+scroll up zooms in: %g px after %g", w4, w3);
  int q_row = -1, q_pos = -1;
  CHECK (cell_at_port_point (view, ptr_x, ptr_y, &q_row, &q_pos) && q_row == p_row
             && q_pos == p_pos,
         "after Ctrl+scroll up the pointer is over cell (%d,%d), was (%d,%d)", q_row, q_pos, p_row,
         p_pos);
  CHECK (gtk_adjustment_get_value (hadj_of (view)) > hval, "the heatmap scrolled with the zoom");
  ctrl_wheel (5);
  double w5 = wait_new_width (view, w4);
  CHECK (cell_at_port_point (view, ptr_x, ptr_y, &q_row, &q_pos) && q_row == p_row
             && q_pos == p_pos,
         "after Ctrl+scroll down the pointer is over cell (%d,%d), was (%d,%d)", q_row, q_pos,
         p_row, p_pos);
  /* Scrolling without Ctrl scrolls, and leaves the zoom. */
  {
    Display *dpy = x_display ();
    XTestFakeButtonEvent (dpy, 5, True, 0);
    XTestFakeButtonEvent (dpy, 5, False, 0);
    XFlush (dpy);
    gui_spin_ms (400);
    CHECK (ll_chart_view_get_cell_width (LL_CHART_VIEW (view)) == w5,
           "a plain scroll changed the zoom to %g",
           ll_chart_view_get_cell_width (LL_CHART_VIEW (view)));
  }
  save_screenshot ("zoom-in.png");

  /* 4. The target heatmap shares the zoom (its layout is the same). */
  CHECK (ll_chart_view_get_cell_width (LL_CHART_VIEW (target)) == w5,
         "the target heatmap's cells are %g px, the heatmap's %g",
         ll_chart_view_get_cell_width (LL_CHART_VIEW (target)), w5);

  /* 5. Item 9: scrolled right and down, the column labels of the columns scrolled left do not
   * show beside the frozen layer labels (the corner is the paper the band is painted on). */
  gtk_adjustment_set_value (vadj_of (view), gtk_adjustment_get_upper (vadj_of (view)));
  gui_spin_ms (400);
  LensHeatmapLayout l;
  layout_of (view, &l);
  double hv = gtk_adjustment_get_value (hadj_of (view));
  double vv = gtk_adjustment_get_value (vadj_of (view));
  double grid_y1 = l.grid_y + l.n_rows * l.cell_h;
  CHECK (hv > l.labels_w && grid_y1 + l.labels_h < vv + port_h,
         "scrolled right (%g) with the token labels in view (%g < %g)", hv, grid_y1 + l.labels_h,
         vv + port_h);
  /* The window as shown (the heatmap widget is wider than a texture may be): figure point
   * (fx, fy) is at port point (fx - hv, fy - vv) of the scrolled window. */
  g_autoptr (GdkTexture) tex = gui_render_widget (GTK_WIDGET (window));
  graphene_point_t origin;
  CHECK (tex != NULL, "the window rendered nothing");
  if (tex != NULL
      && gtk_widget_compute_point (scroller, GTK_WIDGET (window), &GRAPHENE_POINT_INIT (0, 0),
                                   &origin))
    {
      int tw = gdk_texture_get_width (tex), th = gdk_texture_get_height (tex);
      g_autofree guchar *px = g_malloc ((gsize) tw * th * 4);
      gdk_texture_download (tex, px, (gsize) tw * 4);
      /* window pixel of a figure point */
#define WX(fx) ((int) (origin.x + (fx) -hv))
#define WY(fy) ((int) (origin.y + (fy) -vv))
      int ink = 0, looked = 0, paper_r, paper_g, paper_b;
      gui_pixel_rgb (px, (gsize) tw * 4, WX (hv + l.labels_w / 2), WY (grid_y1 + 3), &paper_r,
                     &paper_g, &paper_b);
      for (int y = (int) grid_y1 + 2; y < (int) (grid_y1 + l.labels_h) && WY (y) < th; y++)
        for (int x = (int) ceil (hv) + 8; x < (int) (hv + l.labels_w) - 4 && WX (x) < tw; x++)
          {
            int r, g, b;
            gui_pixel_rgb (px, (gsize) tw * 4, WX (x), WY (y), &r, &g, &b);
            looked++;
            ink += r != paper_r || g != paper_g || b != paper_b;
          }
      CHECK (looked > 1000 && ink == 0,
             "the corner under the frozen layer labels: %d of %d pixels are not paper", ink,
             looked);
      int right_ink = 0;
      for (int y = (int) grid_y1 + 2; y < (int) (grid_y1 + l.labels_h) && WY (y) < th; y++)
        for (int x = (int) (hv + l.labels_w) + 2; x < (int) (hv + port_w) - 2 && WX (x) < tw; x++)
          {
            int r, g, b;
            gui_pixel_rgb (px, (gsize) tw * 4, WX (x), WY (y), &r, &g, &b);
            right_ink += r != paper_r || g != paper_g || b != paper_b;
          }
      CHECK (right_ink > 200, "token labels right of the corner (%d pixels of ink)", right_ink);
#undef WX
#undef WY
    }
  save_screenshot ("zoom-corner.png");

  /* 6. Ctrl+0: fitted again, for both heatmaps. */
  double before = ll_chart_view_get_cell_width (LL_CHART_VIEW (view));
  press_ctrl_key (XK_0);
  double w6 = wait_new_width (view, before);
  CHECK (w6 == LENS_CELL_W_COMPACT && ll_window_get_paint_state (window)->zoom_cell_w == 0,
         "Ctrl+0 fits again (%g px)", w6);
  /* Fitted compact cells are the narrowest: Ctrl+minus leaves them fitted (following the pane). */
  press_ctrl_key (XK_minus);
  gui_spin_ms (400);
  CHECK (ll_window_get_paint_state (window)->zoom_cell_w == 0
             && ll_chart_view_get_cell_width (LL_CHART_VIEW (view)) == LENS_CELL_W_COMPACT,
         "Ctrl+minus at the compact width zoomed to %g",
         ll_window_get_paint_state (window)->zoom_cell_w);

  g_application_quit (g_application_get_default ());
  return G_SOURCE_REMOVE;
}

static void
window_added_cb (GtkApplication *application, GtkWindow *win, gpointer data)
{
  if (window != NULL || !LL_IS_WINDOW (win))
    return;
  window = LL_WINDOW (win);
  g_idle_add (run_script, NULL);
}

int
main (int argc, char **argv)
{
  if (!gui_window_test_setup (&test, argc, argv, "test-zoom-window"))
    return 2;
  int status = gui_window_test_run_app (&test, argv[0], G_CALLBACK (window_added_cb));
  return gui_window_test_finish (&test, window != NULL, status, failures);
}
