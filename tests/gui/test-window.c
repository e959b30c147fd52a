/* test-window.c: drives the real window (the app's own code, linked from src/app) under Xvfb.
 *
 * usage: test-window --model DIR --artifacts DIR
 *
 * Types the seed prompt, waits for the result, checks the heatmap's cells on screen, hovers a
 * cell with the real X pointer and reads the tooltip that appears, switches views, changes
 * targets (no rerun), goes back to an earlier prompt (cache, no rerun), provokes errors (too
 * long prompt, broken model folder), exports every view, measures the longest main-loop gap
 * while the lens computes, and saves a screenshot of the finished window into --artifacts. */
#include "config.h"

#include <X11/XKBlib.h>
#include <X11/extensions/XTest.h>
#include <gdk/x11/gdkx.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "lens-format.h"
#include "lens-locate.h"
#include "lens-paint.h"
#include "paint-targets.h"
#include "lens-results-io.h"
#include "ll-application.h"
#include "ll-chart-view.h"
#include "ll-ndif-dialog.h"
#include "ll-window.h"
#include "gui-support.h"

#define SEED_PROMPT "The Eiffel Tower is in the city of"

static GuiWindowTest test;
static LlWindow *window;
static int failures;

/* ---- waiting while the main loop runs ---- */

static gboolean
content_is (gpointer name)
{
  return g_strcmp0 (ll_window_get_content_state (window), name) == 0;
}

static gboolean
model_loaded (gpointer data)
{
  return ll_worker_get_model (ll_window_get_worker (window)) != NULL;
}

static gboolean
compare_ready (gpointer page)
{
  LensPaintState st;
  lens_paint_state_init (&st);
  return ll_compare_page_fill_state (page, &st, NULL);
}

static gboolean
idle_result_for (gpointer prompt)
{
  LensResult *r = ll_window_get_result (window);
  return r != NULL && !ll_worker_get_busy (ll_window_get_worker (window))
         && g_strcmp0 (r->prompt, prompt) == 0 && content_is ("result");
}

static gboolean
model_is (gpointer path)
{
  LensModel *m = ll_worker_get_model (ll_window_get_worker (window));
  return m != NULL && g_strcmp0 (lens_model_path (m), path) == 0
         && !ll_worker_get_busy (ll_window_get_worker (window));
}

static gboolean
error_shown (gpointer data)
{
  return ll_window_get_error_message (window) != NULL
         && !ll_worker_get_busy (ll_window_get_worker (window));
}

/* ---- main-loop gap measurement ---- */

/* A 1 ms timeout records the longest time between two of its runs: how long the main loop was
 * unable to run it. `max_gap` covers the time the worker computes (up to the moment the result
 * reaches the window); `max_gap_total` also covers drawing the new result. */
/* Wall-clock gaps include time the OS gave to other processes (the test machine may be busy);
 * the main thread's own CPU time between two ticks (`cpu_*`) is the work it did in one go. */
typedef struct
{
  gint64 last;
  gint64 last_cpu;
  gint64 max_gap;
  gint64 max_gap_total;
  gint64 max_cpu_gap;
  gint64 max_cpu_gap_total;
  gboolean result_arrived;
  gint64 result_at;
  guint n;
} GapMeter;

static gboolean
gap_cb (gpointer data)
{
  GapMeter *m = data;
  gint64 now = g_get_monotonic_time ();
  gint64 cpu = gui_thread_cpu_us ();
  if (m->last != 0)
    {
      gint64 gap = now - m->last;
      gint64 cpu_gap = cpu - m->last_cpu;
      if (!m->result_arrived)
        {
          m->max_gap = MAX (m->max_gap, gap);
          m->max_cpu_gap = MAX (m->max_cpu_gap, cpu_gap);
        }
      m->max_gap_total = MAX (m->max_gap_total, gap);
      m->max_cpu_gap_total = MAX (m->max_cpu_gap_total, cpu_gap);
    }
  m->last = now;
  m->last_cpu = cpu;
  m->n++;
  return G_SOURCE_CONTINUE;
}

static void
gap_result_cb (LlWindow *win, GapMeter *m)
{
  if (!m->result_arrived)
    {
      m->result_arrived = TRUE;
      m->result_at = g_get_monotonic_time ();
    }
}

/* ---- steps ---- */

static Display *
x_display (void)
{
  return gdk_x11_display_get_xdisplay (gtk_widget_get_display (GTK_WIDGET (window)));
}

/* Presses and releases the key for `keysym` through the X server, as a keyboard would. */
static void
press_key (KeySym keysym)
{
  Display *dpy = x_display ();
  KeyCode code = XKeysymToKeycode (dpy, keysym);
  gboolean shift = code != 0 && XkbKeycodeToKeysym (dpy, code, 0, 0) != (KeySym) keysym;
  KeyCode shift_code = XKeysymToKeycode (dpy, XK_Shift_L);
  if (shift)
    XTestFakeKeyEvent (dpy, shift_code, True, 0);
  XTestFakeKeyEvent (dpy, code, True, 0);
  XTestFakeKeyEvent (dpy, code, False, 0);
  if (shift)
    XTestFakeKeyEvent (dpy, shift_code, False, 0);
  XFlush (dpy);
}

/* Types ASCII text into `widget` with real key events (the pointer is moved over the widget, as
 * the X server sends keys to the window under the pointer without a window manager); "\n" is
 * the Return key. */
static void
type_text (GtkWidget *widget, const char *text, int ms_per_char)
{
  gui_warp_pointer_to (widget, 10, 5);
  gtk_widget_grab_focus (widget);
  gui_spin_ms (100);
  for (const char *p = text; *p != '\0'; p++)
    {
      press_key (*p == ' ' ? XK_space : *p == '\n' ? XK_Return : (KeySym) (unsigned char) *p);
      gui_spin_ms (ms_per_char);
    }
}

static int
count_tokens (const char *text)
{
  LensModel *model = ll_worker_get_model (ll_window_get_worker (window));
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  if (!lens_tokenizer_encode (lens_model_tokenizer (model), text, -1, ids, NULL))
    return -1;
  return (int) ids->len;
}

/* What the count beside the prompt says for n tokens (the app groups digits as the locale
 * does). */
static char *
expected_count (int n_tokens, int max_tokens)
{
  if (n_tokens > max_tokens)
    return g_strdup_printf ("%'d / %'d tokens, %'d over the limit", n_tokens, max_tokens,
                            n_tokens - max_tokens);
  return g_strdup_printf ("%'d / %'d tokens", n_tokens, max_tokens);
}

/* The prompt editor's frame: the text view's scroller, in the box that draws the frame. */
static GtkWidget *
prompt_frame (void)
{
  return gtk_widget_get_ancestor (GTK_WIDGET (ll_window_get_prompt_view (window)), GTK_TYPE_BOX);
}

/* Pixels of the prompt editor that are clearly red (the error colour of its text and count over
 * the limit; the usual text is grey, the focus ring blue). */
static int
count_red_prompt_pixels (void)
{
  /* a frame in the middle of a relayout renders nothing: give it a moment */
  g_autoptr (GdkTexture) texture = gui_render_widget (prompt_frame ());
  for (int tries = 0; texture == NULL && tries < 20; tries++)
    {
      gui_spin_ms (100);
      texture = gui_render_widget (prompt_frame ());
    }
  if (texture == NULL)
    return -1;
  int tw = gdk_texture_get_width (texture), th = gdk_texture_get_height (texture);
  gsize stride = (gsize) tw * 4;
  g_autofree guchar *data = g_malloc (stride * (gsize) th);
  gdk_texture_download (texture, data, stride);
  int red = 0;
  for (int y = 0; y < th; y++)
    for (int x = 0; x < tw; x++)
      {
        int pr, pg, pb;
        gui_pixel_rgb (data, stride, x, y, &pr, &pg, &pb);
        if (pr - MAX (pg, pb) > 60)
          red++;
      }
  return red;
}

/* The prompt editor: Return starts a new line, which reaches the tokenizer as a token of its
 * own; the count beside the prompt follows; Tab moves on to the targets instead of typing a tab. */
static void
check_prompt_editor (void)
{
  GtkTextView *prompt = ll_window_get_prompt_view (window);
  GtkWidget *targets = GTK_WIDGET (ll_window_get_target_entry (window));
  LensModel *model = ll_worker_get_model (ll_window_get_worker (window));
  const LensConfig *config = lens_model_config (model);
  const char *two_lines = "The Eiffel Tower\nis in the city of";

  gui_text_view_set_text (prompt, "The Eiffel Tower");
  CHECK (gui_wait_until (idle_result_for, "The Eiffel Tower", 60000), "no result");
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (prompt);
  GtkTextIter end;
  gtk_text_buffer_get_end_iter (buffer, &end);
  gtk_text_buffer_place_cursor (buffer, &end);
  type_text (GTK_WIDGET (prompt), "\nis in the city of", 20);
  g_autofree char *typed = gui_text_view_get_text (prompt);
  CHECK (g_strcmp0 (typed, two_lines) == 0, "typed “%s”", typed);
  CHECK (gui_wait_until (idle_result_for, (gpointer) two_lines, 60000),
         "no result for the two-line prompt");
  LensResult *r = ll_window_get_result (window);
  g_autoptr (GArray) newline = g_array_new (FALSE, FALSE, sizeof (int32_t));
  CHECK (lens_tokenizer_encode (lens_model_tokenizer (model), "\n", -1, newline, NULL)
             && newline->len == 1,
         "the tokenizer has no one token for a newline");
  gboolean has_newline = FALSE;
  for (int t = 0; r != NULL && newline->len == 1 && t < r->n_tokens; t++)
    has_newline |= r->token_ids[t] == g_array_index (newline, int32_t, 0);
  CHECK (r != NULL && has_newline && r->n_tokens == count_tokens (two_lines),
         "the newline did not reach the model: %d tokens, %d expected",
         r != NULL ? r->n_tokens : -1, count_tokens (two_lines));
  g_autofree char *count = expected_count (r != NULL ? r->n_tokens : -1, config->n_positions);
  CHECK (g_strcmp0 (ll_window_get_prompt_count (window), count) == 0, "count “%s”, expected “%s”",
         ll_window_get_prompt_count (window), count);
  CHECK (count_red_prompt_pixels () == 0, "%d red pixels in the prompt within the limit",
         count_red_prompt_pixels ());

  press_key (XK_Tab);
  gui_spin_ms (200);
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (window));
  CHECK (focus != NULL && (focus == targets || gtk_widget_is_ancestor (focus, targets)),
         "Tab moved the focus to %s", focus != NULL ? G_OBJECT_TYPE_NAME (focus) : "nothing");
  g_autofree char *after_tab = gui_text_view_get_text (prompt);
  CHECK (g_strcmp0 (after_tab, two_lines) == 0, "Tab changed the prompt to “%s”", after_tab);
}

static void
check_heatmap_pixels (void)
{
  LensResult *r = ll_window_get_result (window);
  const LensPaintState *state = ll_window_get_paint_state (window);
  GtkWidget *view = ll_window_get_view (window, LENS_VIEW_HEATMAP);
  const LensConfig *config
      = lens_model_config (ll_worker_get_model (ll_window_get_worker (window)));

  LensHeatmapLayout layout;
  /* The layout the widget paints with: the cells grow to fill it. */
  lens_heatmap_layout_for_size (r, state, gtk_widget_get_width (view), gtk_widget_get_height (view),
                                &layout);
  CHECK (layout.n_rows == config->n_layer, "rows %d, layers %d", layout.n_rows, config->n_layer);
  CHECK (layout.n_cols == r->n_tokens, "cols %d, tokens %d", layout.n_cols, r->n_tokens);
  CHECK (r->n_rows == config->n_layer, "result rows %d", r->n_rows);

  /* Each cell on screen has the colour of its top-1 probability (sampled near a corner, away
   * from the token text). The widget is as large as the figure, so all cells are painted. */
  g_autoptr (GdkTexture) texture = gui_render_widget (view);
  CHECK (texture != NULL, "heatmap widget rendered nothing");
  if (texture == NULL)
    return;
  int tw = gdk_texture_get_width (texture), th = gdk_texture_get_height (texture);
  CHECK (tw >= (int) (layout.grid_x + layout.n_cols * layout.cell_w)
             && th >= (int) (layout.grid_y + layout.n_rows * layout.cell_h),
         "widget %dx%d smaller than grid", tw, th);
  gsize stride = (gsize) tw * 4;
  g_autofree guchar *data = g_malloc (stride * (gsize) th);
  gdk_texture_download (texture, data, stride);

  int good = 0, total = 0;
  for (int row = 0; row < layout.n_rows; row++)
    for (int pos = 0; pos < layout.n_cols; pos++)
      {
        int x = (int) (layout.grid_x + pos * layout.cell_w + 3);
        int y = (int) (layout.grid_y + row * layout.cell_h + 3);
        if (x >= tw || y >= th)
          continue;
        double p = r->top_probs[lens_result_cell_index (r, row, pos) * (size_t) r->top_k];
        double er, eg, eb;
        lens_color_scale_rgb (state->heatmap_scale, p, &er, &eg, &eb);
        int pr, pg, pb;
        gui_pixel_rgb (data, stride, x, y, &pr, &pg, &pb);
        total++;
        if (abs (pr - (int) lround (er * 255)) <= 3 && abs (pg - (int) lround (eg * 255)) <= 3
            && abs (pb - (int) lround (eb * 255)) <= 3)
          good++;
        else if (total - good <= 3)
          g_print ("# cell (%d,%d) p=%.4f: pixel %d,%d,%d expected %.0f,%.0f,%.0f\n", row, pos, p,
                   pr, pg, pb, er * 255, eg * 255, eb * 255);
      }
  CHECK (total == layout.n_rows * layout.n_cols && good == total,
         "%d of %d cells (of %d) have their colour", good, total, layout.n_rows * layout.n_cols);
}

static void
check_hover_tooltip (void)
{
  LensResult *r = ll_window_get_result (window);
  const LensPaintState *state = ll_window_get_paint_state (window);
  GtkWidget *view = ll_window_get_view (window, LENS_VIEW_HEATMAP);
  LensHeatmapLayout layout;
  /* The layout the widget paints with: the cells grow to fill it. */
  lens_heatmap_layout_for_size (r, state, gtk_widget_get_width (view), gtk_widget_get_height (view),
                                &layout);

  int row = MIN (1, r->n_rows - 1), pos = MIN (2, r->n_tokens - 1);
  double x = layout.grid_x + (pos + 0.5) * layout.cell_w;
  double y = layout.grid_y + (row + 0.5) * layout.cell_h;

  /* Move in two steps, so GTK sees motion inside the widget. */
  gui_warp_pointer_to (view, x - 2, y - 2);
  gui_spin_ms (50);
  gui_warp_pointer_to (view, x, y);
  gboolean shown = gui_wait_until (gui_tooltip_visible, window, 5000);
  CHECK (shown, "no tooltip appeared over cell (%d, %d)", row, pos);
  if (!shown)
    return;
  const char *text = gui_find_label_text (gui_find_tooltip_window (GTK_WIDGET (window)));
  CHECK (text != NULL, "tooltip has no text");
  if (text == NULL)
    return;
  g_print ("# tooltip over cell (%d, %d):\n%s\n", row, pos, text);

  /* The tooltip names the layer, the input token and the cell's top token. Token texts may be
   * drawn with a visible-space glyph, so compare without the leading space. */
  g_autofree char *layer = g_strdup_printf ("%s", r->row_labels[row]);
  CHECK (strstr (text, layer) != NULL, "layer %s missing", layer);
  const char *input = r->token_texts[pos];
  g_autofree char *input_core = g_strstrip (g_strdup (input));
  CHECK (strstr (text, input_core) != NULL, "input token “%s” missing", input_core);
  int32_t top = r->top_ids[lens_result_cell_index (r, row, pos) * (size_t) r->top_k];
  g_autofree char *top_core = g_strstrip (g_strdup (lens_result_token_text (r, top)));
  CHECK (strstr (text, top_core) != NULL, "top token “%s” missing", top_core);
  g_autofree char *expected = lens_describe_cell (r, state, row, pos);
  CHECK (expected != NULL && expected[0] != '\0', "no description");

  /* Move away so the tooltip closes before the next steps. */
  gui_warp_pointer_to (GTK_WIDGET (window), 5, 5);
  gui_spin_ms (100);
}

static gboolean
file_starts_with (const char *path, const char *magic)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &contents, &len, NULL))
    return FALSE;
  return len >= strlen (magic) && memcmp (contents, magic, strlen (magic)) == 0;
}

static void
check_exports (void)
{
  static const char *names[] = {"heatmap", "target", "line", "topk"};
  for (int v = 0; v < 4; v++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *svg = g_strdup_printf ("%s/%s.svg", test.tmp_dir, names[v]);
      g_autofree char *pdf = g_strdup_printf ("%s/%s.pdf", test.tmp_dir, names[v]);
      g_autofree char *png1 = g_strdup_printf ("%s/%s.png", test.tmp_dir, names[v]);
      g_autofree char *png2 = g_strdup_printf ("%s/%s@2x.png", test.tmp_dir, names[v]);

      CHECK (ll_window_export_view (window, v, svg, 1, &error), "%s", error ? error->message : "");
      g_clear_error (&error);
      CHECK (ll_window_export_view (window, v, pdf, 1, &error), "%s", error ? error->message : "");
      g_clear_error (&error);
      CHECK (ll_window_export_view (window, v, png1, 1, &error), "%s", error ? error->message : "");
      g_clear_error (&error);
      CHECK (ll_window_export_view (window, v, png2, 2, &error), "%s", error ? error->message : "");
      g_clear_error (&error);

      g_autofree char *svg_text = NULL;
      g_file_get_contents (svg, &svg_text, NULL, NULL);
      CHECK (svg_text != NULL && strstr (svg_text, "<svg") != NULL, "%s is not SVG", svg);
      CHECK (file_starts_with (pdf, "%PDF-"), "%s is not PDF", pdf);
      g_autoptr (GdkTexture) t1 = gdk_texture_new_from_filename (png1, &error);
      CHECK (t1 != NULL, "%s: %s", png1, error ? error->message : "");
      g_clear_error (&error);
      g_autoptr (GdkTexture) t2 = gdk_texture_new_from_filename (png2, &error);
      CHECK (t2 != NULL, "%s: %s", png2, error ? error->message : "");
      if (t1 != NULL && t2 != NULL)
        CHECK (gdk_texture_get_width (t2) == 2 * gdk_texture_get_width (t1)
                   && gdk_texture_get_height (t2) == 2 * gdk_texture_get_height (t1),
               "2x PNG is %dx%d, 1x is %dx%d", gdk_texture_get_width (t2),
               gdk_texture_get_height (t2), gdk_texture_get_width (t1),
               gdk_texture_get_height (t1));
    }
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

static GtkSpinButton *
find_spin_button (GtkWidget *widget)
{
  if (GTK_IS_SPIN_BUTTON (widget))
    return GTK_SPIN_BUTTON (widget);
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      GtkSpinButton *found = find_spin_button (c);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
top_k_is (gpointer k)
{
  LensResult *r = ll_window_get_result (window);
  return r != NULL && r->top_k == GPOINTER_TO_INT (k)
         && !ll_worker_get_busy (ll_window_get_worker (window));
}

/* A visible toplevel of the type named `type` (the window list holds it), or NULL. */
static GtkWindow *
find_shown_window (const char *type)
{
  GtkWindow *found = NULL;
  GListModel *toplevels = gtk_window_get_toplevels (); /* not owned */
  for (guint j = 0; j < g_list_model_get_n_items (toplevels); j++)
    {
      g_autoptr (GtkWindow) w = g_list_model_get_item (toplevels, j);
      if (g_strcmp0 (G_OBJECT_TYPE_NAME (w), type) == 0 && gtk_widget_get_visible (GTK_WIDGET (w)))
        found = w;
    }
  return found;
}

static gboolean
rows_are (gpointer n)
{
  LensResult *r = ll_window_get_result (window);
  return r != NULL && r->n_rows == GPOINTER_TO_INT (n) && !lens_result_is_partial (r)
         && !ll_worker_get_busy (ll_window_get_worker (window));
}

typedef struct
{
  GtkAdjustment *adjustment;
  double value;
} AdjustmentAt;

static gboolean
adjustment_at (gpointer data)
{
  const AdjustmentAt *at = data;
  return fabs (gtk_adjustment_get_value (at->adjustment) - at->value) < 1.0;
}

static void
script (void)
{
  GtkTextView *prompt = ll_window_get_prompt_view (window);
  GtkEditable *targets = ll_window_get_target_entry (window);
  LlWorker *worker = ll_window_get_worker (window);

  CHECK (gui_wait_until (model_loaded, NULL, 60000), "model did not load");
  CHECK (gui_wait_until (content_is, "empty", 2000), "state at start %s",
         ll_window_get_content_state (window));
  if (ll_worker_get_model (worker) == NULL)
    return;
  const LensConfig *config = lens_model_config (ll_worker_get_model (worker));
  /* The window starts in the prompt, which shows how long it may be. */
  CHECK (gtk_root_get_focus (GTK_ROOT (window)) == GTK_WIDGET (prompt), "focus at start on %s",
         gtk_root_get_focus (GTK_ROOT (window)) != NULL
             ? G_OBJECT_TYPE_NAME (gtk_root_get_focus (GTK_ROOT (window)))
             : "nothing");
  {
    g_autofree char *count = expected_count (0, config->n_positions);
    CHECK (g_strcmp0 (ll_window_get_prompt_count (window), count) == 0,
           "count at start “%s”, expected “%s”", ll_window_get_prompt_count (window), count);
  }
  g_print ("# model %s: %d layers, width %d\n", lens_model_name (ll_worker_get_model (worker)),
           config->n_layer, config->n_embd);

  /* The summary line names the family, the size, the weights' type and the context. */
  {
    LensModel *model = ll_worker_get_model (worker);
    const char *summary = ll_window_get_model_summary (window);
    g_print ("# summary: %s\n", summary);
    g_autofree char *count = lens_format_param_count (lens_model_n_params (model));
    g_autofree char *arch = g_strdup_printf (" · %s · ", lens_config_architecture (config));
    g_autofree char *params
        = g_strdup_printf (" · %s parameters · %s · ", count, lens_model_dtype (model));
    g_autofree char *layers = g_strdup_printf (" · %d layers · width %d · %d heads · ",
                                               config->n_layer, config->n_embd, config->n_head);
    g_autofree char *tail = g_strdup_printf (" · vocabulary %d · context %d", config->vocab_size,
                                             config->n_positions);
    CHECK (strstr (summary, arch) != NULL && strstr (summary, params) != NULL
               && strstr (summary, layers) != NULL && g_str_has_suffix (summary, tail),
           "summary “%s”", summary);
  }

  /* Empty prompt: an empty state, not an error. */
  gui_text_view_set_text (prompt, "");
  CHECK (gui_wait_until (content_is, "empty", 2000), "state %s",
         ll_window_get_content_state (window));
  CHECK (ll_window_get_error_message (window) == NULL, "error shown for an empty prompt");

  /* Type the seed prompt; measure the main loop from the last key to the shown result. */
  gtk_editable_set_text (targets, " Paris");
  guint forward_before = ll_worker_get_n_forward (worker);
  GapMeter meter = {0};
  gulong handler = g_signal_connect (window, "result-changed", G_CALLBACK (gap_result_cb), &meter);
  type_text (GTK_WIDGET (prompt), SEED_PROMPT, 20);
  gint64 t0 = g_get_monotonic_time ();
  guint gap_source = g_timeout_add_full (G_PRIORITY_DEFAULT, 1, gap_cb, &meter, NULL);
  gboolean done = gui_wait_until (idle_result_for, SEED_PROMPT, 60000);
  gui_spin_ms (300); /* the new result's first frames */
  g_source_remove (gap_source);
  g_signal_handler_disconnect (window, handler);
  double elapsed_ms = (meter.result_at - t0) / 1000.0;
  CHECK (done, "no result for the seed prompt");
  if (!done)
    return;
  {
    /* At the default window size the whole seed heatmap, colour bar included, is in view: the
     * cells narrow to fit the pane rather than push the last column (the one the side panel
     * describes) out of sight. */
    GtkWidget *heatmap_view = ll_window_get_view (window, LENS_VIEW_HEATMAP);
    GtkWidget *scroll = gtk_widget_get_ancestor (heatmap_view, GTK_TYPE_SCROLLED_WINDOW);
    GtkAdjustment *h = gtk_scrolled_window_get_hadjustment (GTK_SCROLLED_WINDOW (scroll));
    int window_w = gtk_widget_get_width (GTK_WIDGET (window));
    CHECK (gtk_adjustment_get_upper (h) <= gtk_adjustment_get_page_size (h) + 0.5,
           "at %d px the seed heatmap needs %.0f px, %.0f shown", window_w,
           gtk_adjustment_get_upper (h), gtk_adjustment_get_page_size (h));
    g_print ("# seed heatmap at window width %d: %.0f px in a %.0f px pane\n", window_w,
             gtk_adjustment_get_upper (h), gtk_adjustment_get_page_size (h));
  }
  /* For comparison: the same meter over an idle second after the result is shown (the machine
   * may be busy with other work, which shows up here too). */
  GapMeter idle = {0};
  guint idle_source = g_timeout_add_full (G_PRIORITY_DEFAULT, 1, gap_cb, &idle, NULL);
  gint64 idle_t0 = g_get_monotonic_time ();
  gui_spin_ms (1000);
  g_source_remove (idle_source);
  g_print ("# idle meter: %u ticks in %.1f ms, longest gap %.1f ms (main thread CPU %.1f ms)\n",
           idle.n, (g_get_monotonic_time () - idle_t0) / 1000.0, idle.max_gap_total / 1000.0,
           idle.max_cpu_gap_total / 1000.0);

  g_print ("# seed prompt: result %.1f ms after the last key (150 ms of it debounce); longest "
           "main-loop gap while computing %.1f ms wall / %.1f ms main-thread CPU, including "
           "drawing the result %.1f ms wall / %.1f ms CPU (%u ticks); idle for comparison "
           "%.1f ms wall / %.1f ms CPU\n",
           elapsed_ms, meter.max_gap / 1000.0, meter.max_cpu_gap / 1000.0,
           meter.max_gap_total / 1000.0, meter.max_cpu_gap_total / 1000.0, meter.n,
           idle.max_gap_total / 1000.0, idle.max_cpu_gap_total / 1000.0);
  g_autofree char *gap_path = g_build_filename (test.artifacts, "gui-main-loop-gap.txt", NULL);
  g_autofree char *gap_text = g_strdup_printf (
      "result_after_last_key_ms %.1f\n"
      "max_gap_while_computing_ms %.2f\nmax_cpu_gap_while_computing_ms %.2f\n"
      "max_gap_including_first_draw_ms %.2f\nmax_cpu_gap_including_first_draw_ms %.2f\n"
      "ticks %u\nmax_gap_idle_ms %.2f\nmax_cpu_gap_idle_ms %.2f\n",
      elapsed_ms, meter.max_gap / 1000.0, meter.max_cpu_gap / 1000.0, meter.max_gap_total / 1000.0,
      meter.max_cpu_gap_total / 1000.0, meter.n, idle.max_gap_total / 1000.0,
      idle.max_cpu_gap_total / 1000.0);
  g_file_set_contents (gap_path, gap_text, -1, NULL);
  /* Typing at 20 ms a key is faster than the debounce: not one run per key. (Usually exactly
   * one; a main loop stalled by a busy machine or a sanitizer build can see a pause.) */
  guint runs = ll_worker_get_n_forward (worker) - forward_before;
  g_print ("# %u run(s) of the model while typing %zu characters\n", runs, strlen (SEED_PROMPT));
  CHECK (runs >= 1 && runs * 4 <= strlen (SEED_PROMPT), "%u runs for one typed prompt", runs);

  LensResult *r = ll_window_get_result (window);
  {
    g_autofree char *typed = gui_text_view_get_text (prompt);
    CHECK (g_strcmp0 (typed, SEED_PROMPT) == 0, "typed “%s”", typed);
    g_autofree char *count = expected_count (r->n_tokens, config->n_positions);
    CHECK (g_strcmp0 (ll_window_get_prompt_count (window), count) == 0, "count “%s”, expected “%s”",
           ll_window_get_prompt_count (window), count);
  }
  CHECK (r->n_tokens == count_tokens (SEED_PROMPT), "%d tokens", r->n_tokens);
  gui_spin_ms (200); /* let the views draw */
  check_heatmap_pixels ();
  check_hover_tooltip ();

  /* The colour scale menu repaints the heatmap with the new scale and remembers it; so does the
   * probability scale. Neither reruns the model. */
  {
    guint before = ll_worker_get_n_forward (worker);
    const LensPaintState *st = ll_window_get_paint_state (window);
    g_action_group_change_action_state (G_ACTION_GROUP (window), "heatmap-scale",
                                        g_variant_new_string ("viridis"));
    gui_spin_ms (300);
    CHECK (st->heatmap_scale == LENS_SCALE_VIRIDIS, "scale %d", st->heatmap_scale);
    check_heatmap_pixels ();
    CHECK (st->prob_axis == LENS_AXIS_AUTO, "probability scale %d by default", st->prob_axis);
    g_action_group_change_action_state (G_ACTION_GROUP (window), "probability-scale",
                                        g_variant_new_string ("log"));
    CHECK (st->prob_axis == LENS_AXIS_LOG, "log scale not set");
    g_autoptr (GSettings) settings = g_settings_new (APP_ID);
    g_autofree char *saved = g_settings_get_string (settings, "heatmap-scale");
    CHECK (g_strcmp0 (saved, "viridis") == 0, "heatmap-scale saved as %s", saved);
    g_autofree char *axis = g_settings_get_string (settings, "probability-scale");
    CHECK (g_strcmp0 (axis, "log") == 0, "probability-scale saved as %s", axis);
    g_action_group_change_action_state (G_ACTION_GROUP (window), "heatmap-scale",
                                        g_variant_new_string ("rdylbu"));
    g_action_group_change_action_state (G_ACTION_GROUP (window), "probability-scale",
                                        g_variant_new_string ("auto"));
    /* What the line plot shows: a metric, and the top-1 tokens tracked or not; remembered. */
    CHECK (st->line_metric == LENS_COLOR_TOP_PROB && st->line_top1, "line plot defaults %d %d",
           st->line_metric, st->line_top1);
    g_action_group_change_action_state (G_ACTION_GROUP (window), "line-metric",
                                        g_variant_new_string ("kl"));
    g_action_group_change_action_state (G_ACTION_GROUP (window), "line-track-top1",
                                        g_variant_new_boolean (FALSE));
    CHECK (st->line_metric == LENS_COLOR_KL_FINAL && !st->line_top1, "line plot %d %d",
           st->line_metric, st->line_top1);
    g_autofree char *line_metric = g_settings_get_string (settings, "line-metric");
    CHECK (g_strcmp0 (line_metric, "kl") == 0, "line-metric saved as %s", line_metric);
    CHECK (!g_settings_get_boolean (settings, "line-track-top1"), "line-track-top1 not saved");
    g_action_group_change_action_state (G_ACTION_GROUP (window), "line-metric",
                                        g_variant_new_string ("top"));
    g_action_group_change_action_state (G_ACTION_GROUP (window), "line-track-top1",
                                        g_variant_new_boolean (TRUE));
    CHECK (ll_worker_get_n_forward (worker) == before, "a colour scale reran the model");
  }

  /* Sub-layer rows: "L.attn" before each block's row, then back to the blocks alone. */
  {
    int blocks = r->n_rows; /* r is replaced by the next result */
    g_action_group_change_action_state (G_ACTION_GROUP (window), "sublayers",
                                        g_variant_new_boolean (TRUE));
    CHECK (gui_wait_until (rows_are, GINT_TO_POINTER (2 * blocks), 60000),
           "no result with sub-layer rows");
    LensResult *sub = ll_window_get_result (window);
    CHECK (sub != NULL && sub->n_rows == 2 * blocks && g_strcmp0 (sub->row_labels[0], "0.attn") == 0
               && g_strcmp0 (sub->row_labels[1], "0") == 0,
           "sub-layer rows: %d, first “%s”", sub ? sub->n_rows : -1, sub ? sub->row_labels[0] : "");
    g_action_group_change_action_state (G_ACTION_GROUP (window), "sublayers",
                                        g_variant_new_boolean (FALSE));
    CHECK (gui_wait_until (rows_are, GINT_TO_POINTER (blocks), 60000),
           "no result without sub-layer rows");
    r = ll_window_get_result (window);
  }

  /* Target: the view shows " Paris", computed from the cached result. */
  ll_window_set_visible_view (window, "target");
  gui_spin_ms (100);
  const LensPaintState *state = ll_window_get_paint_state (window);
  CHECK (state->n_targets == 1, "%d targets", state->n_targets);
  if (state->n_targets == 1)
    {
      size_t cells = (size_t) r->n_rows * r->n_tokens;
      g_autofree float *expect = g_new (float, cells);
      int32_t id;
      int n_ids;
      CHECK (lens_result_target_probs_for_text (r, " Paris", expect, &id, &n_ids, NULL), "query");
      CHECK (state->targets[0]->id == id, "tracked id %d, expected %d", state->targets[0]->id, id);
      CHECK (memcmp (expect, state->targets[0]->probs, cells * sizeof (float)) == 0,
             "target probabilities differ from the engine's");
    }

  /* More targets, one of them several tokens long: no rerun, and a notice names the token. */
  guint forward = ll_worker_get_n_forward (worker);
  gtk_editable_set_text (targets, " Paris, London, \" Eiffel Tower\"");
  gui_spin_ms (300);
  CHECK (state->n_targets == 3, "%d targets", state->n_targets);
  CHECK (strstr (ll_window_get_notice (window), "Eiffel Tower") != NULL
             && strstr (ll_window_get_notice (window), "first") != NULL,
         "notice: %s", ll_window_get_notice (window));
  g_print ("# notice: %s\n", ll_window_get_notice (window));
  CHECK (ll_worker_get_n_forward (worker) == forward, "changing targets reran the model");

  /* Views and selection never rerun the model either. The keyboard moves the selection from
   * the default cell (last layer, last position); the line plot and top-k panel follow it. */
  ll_window_set_visible_view (window, "line");
  gui_spin_ms (100);
  ll_window_set_visible_view (window, "heatmap");
  gui_spin_ms (100);
  GtkWidget *heatmap = ll_window_get_view (window, LENS_VIEW_HEATMAP);
  gui_warp_pointer_to (heatmap, 2, 2);
  gtk_widget_grab_focus (heatmap);
  gui_spin_ms (100);
  press_key (XK_Left);
  gui_spin_ms (100);
  press_key (XK_Up);
  gui_spin_ms (200);
  CHECK (state->sel_row == r->n_rows - 2 && state->sel_pos == r->n_tokens - 2,
         "selection after Left, Up: %d,%d", state->sel_row, state->sel_pos);
  CHECK (ll_worker_get_n_forward (worker) == forward, "view/selection reran the model");

  check_exports ();
  {
    /* The data as JSON, read back by the engine's own reader. */
    g_autofree char *json = g_build_filename (test.tmp_dir, "data.json", NULL);
    g_autoptr (GError) error = NULL;
    CHECK (ll_window_export_data (window, json, &error), "%s", error ? error->message : "");
    g_clear_error (&error);
    g_autoptr (LensResult) back = lens_results_load (json, &error);
    CHECK (back != NULL && back->n_tokens == r->n_tokens && back->n_rows == r->n_rows,
           "JSON read back: %s", error ? error->message : "shape differs");
  }

  /* Back to an earlier prompt: served from the cache, no rerun. */
  gui_text_view_set_text (prompt, "The Eiffel Tower");
  CHECK (gui_wait_until (idle_result_for, "The Eiffel Tower", 60000), "no result");
  forward = ll_worker_get_n_forward (worker);
  gui_text_view_set_text (prompt, SEED_PROMPT);
  CHECK (gui_wait_until (idle_result_for, SEED_PROMPT, 60000), "no result");
  CHECK (ll_worker_get_n_forward (worker) == forward, "an earlier prompt was run again");

  /* Compare: pin this result, run another prompt; the difference view gets current − pinned of
   * the active target, then KL from the worker (zero where both prompts are still the same),
   * and exports; unpinned, there is nothing to export. */
  {
    LensResult *pinned = ll_window_get_result (window);
    g_action_group_activate_action (G_ACTION_GROUP (window), "pin-result", NULL);
    LlComparePage *page = ll_window_get_compare_page (window);
    CHECK (ll_compare_page_get_pinned (page) == pinned, "the result was not pinned");
    /* zooming the Compare page's heatmap zooms the window's (one cell width for all) */
    gui_spin_ms (200);
    double zoom_before = ll_window_get_paint_state (window)->zoom_cell_w;
    ll_chart_view_zoom (LL_CHART_VIEW (ll_compare_page_get_diff_view (page)),
                        LL_CHART_VIEW_ZOOM_STEP, NAN, NAN);
    double zoom_after = ll_window_get_paint_state (window)->zoom_cell_w;
    CHECK (zoom_after > 0 && zoom_after != zoom_before, "Compare zoom: %g -> %g", zoom_before,
           zoom_after);
    g_action_group_activate_action (G_ACTION_GROUP (window), "zoom-fit", NULL);
    const char *other = "The Colosseum is in the city of";
    gui_text_view_set_text (prompt, other);
    CHECK (gui_wait_until (idle_result_for, (gpointer) other, 60000), "no result");
    /* More targets typed onto the first: the window's target array grows (and may move) under
     * the page, which must not read the old one (ASan caught that once). */
    int at = (int) strlen (gtk_editable_get_text (targets));
    gtk_editable_insert_text (targets, ", London, \" Eiffel Tower\"", -1, &at);
    gui_spin_ms (300);
    LensResult *cur = ll_window_get_result (window);
    const LensPaintState *ws = ll_window_get_paint_state (window);
    CHECK (ws->n_targets == 3, "%d targets", ws->n_targets);
    CHECK (ws->n_targets > 0 && ws->targets[0]->probs != NULL, "no target to compare");
    LensPaintState st;
    lens_paint_state_init (&st);
    g_autoptr (GError) error = NULL;
    CHECK (ll_compare_page_fill_state (page, &st, &error), "no difference: %s",
           error ? error->message : "");
    g_autofree float *pinned_probs = g_new (float, (size_t) pinned->n_rows * pinned->n_tokens);
    CHECK (lens_result_target_probs (pinned, ws->targets[0]->id, pinned_probs, &error), "probs");
    for (int row = 0; row < cur->n_rows; row++)
      for (int t = 0; t < MIN (cur->n_tokens, pinned->n_tokens); t++)
        {
          size_t c = lens_result_cell_index (cur, row, t);
          float want
              = ws->targets[0]->probs[c] - pinned_probs[lens_result_cell_index (pinned, row, t)];
          CHECK (st.diff_values[c] == want, "difference at %d,%d: %g, not %g", row, t,
                 st.diff_values[c], want);
        }
    g_object_set (page, "diff-kind", "kl", NULL);
    CHECK (gui_wait_until (compare_ready, page, 60000), "no KL");
    lens_paint_state_init (&st);
    CHECK (ll_compare_page_fill_state (page, &st, &error), "no KL: %s",
           error ? error->message : "");
    double largest = 0;
    for (int row = 0; row < cur->n_rows; row++)
      {
        /* "The" starts both prompts: the same distribution at position 0 */
        CHECK (fabsf (st.diff_values[lens_result_cell_index (cur, row, 0)]) < 1e-5f,
               "KL at position 0 of row %d: %g", row,
               st.diff_values[lens_result_cell_index (cur, row, 0)]);
        largest = MAX (largest, st.diff_values[lens_result_cell_index (cur, row, 2)]);
      }
    CHECK (largest > 1e-3, "KL where the prompts differ: %g", largest);
    g_autofree char *svg = g_build_filename (test.tmp_dir, "diff.svg", NULL);
    CHECK (ll_window_export_view (window, LENS_VIEW_DIFF, svg, 1, &error), "%s",
           error ? error->message : "");
    CHECK (g_file_test (svg, G_FILE_TEST_EXISTS), "no diff export");
    g_object_set (page, "diff-kind", "target", NULL);
    g_action_group_activate_action (G_ACTION_GROUP (window), "unpin-result", NULL);
    CHECK (ll_compare_page_get_pinned (page) == NULL, "still pinned");
    CHECK (!ll_window_export_view (window, LENS_VIEW_DIFF, svg, 1, &error), "exported unpinned");
    g_clear_error (&error);
    ll_window_set_visible_view (window, "heatmap");
    gtk_editable_set_text (targets, " Paris");
    gui_text_view_set_text (prompt, SEED_PROMPT);
    CHECK (gui_wait_until (idle_result_for, SEED_PROMPT, 60000), "no result");
  }

  check_prompt_editor ();
  gui_text_view_set_text (prompt, SEED_PROMPT);
  CHECK (gui_wait_until (idle_result_for, SEED_PROMPT, 60000), "no result");

  /* A long prompt, pasted over the whole of the short one: the editor grows from one line to
   * its limit and then scrolls, and the heatmap scrolls too; the target heatmap keeps the
   * top-token heatmap's place. */
  {
    GtkScrolledWindow *prompt_scroll = GTK_SCROLLED_WINDOW (
        gtk_widget_get_ancestor (GTK_WIDGET (prompt), GTK_TYPE_SCROLLED_WINDOW));
    int one_line_height = gtk_widget_get_height (GTK_WIDGET (prompt_scroll));
    GString *long_prompt = g_string_new (NULL);
    while (count_tokens (long_prompt->str) < config->n_positions - 8)
      g_string_append (long_prompt, " and the city of");
    gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (prompt)), long_prompt->str);
    GtkTextBuffer *buffer = gtk_text_view_get_buffer (prompt);
    GtkTextIter start, end;
    gtk_text_buffer_get_bounds (buffer, &start, &end);
    gtk_text_buffer_select_range (buffer, &start, &end);
    g_signal_emit_by_name (prompt, "paste-clipboard");
    CHECK (gui_wait_until (idle_result_for, long_prompt->str, 60000), "no long result");
    g_string_free (long_prompt, TRUE);
    gui_spin_ms (300); /* the text view lays its lines out when idle */
    int long_height = gtk_widget_get_height (GTK_WIDGET (prompt_scroll));
    int max_height = gtk_scrolled_window_get_max_content_height (prompt_scroll);
    GtkAdjustment *pv = gtk_scrolled_window_get_vadjustment (prompt_scroll);
    g_print ("# prompt editor: %d px for one line, %d px (at most %d) for the long prompt, whose "
             "text is %.0f px\n",
             one_line_height, long_height, max_height, gtk_adjustment_get_upper (pv));
    CHECK (long_height > 3 * one_line_height && long_height <= max_height
               && gtk_adjustment_get_upper (pv) > gtk_adjustment_get_page_size (pv) + 20,
           "the prompt editor is %d px for one line, %d px (at most %d) for a long prompt of "
           "%.0f px",
           one_line_height, long_height, max_height, gtk_adjustment_get_upper (pv));
    ll_window_set_visible_view (window, "heatmap");
    gui_spin_ms (300);
    GtkAdjustment *hh
        = gtk_scrolled_window_get_hadjustment (GTK_SCROLLED_WINDOW (gtk_widget_get_ancestor (
            ll_window_get_view (window, LENS_VIEW_HEATMAP), GTK_TYPE_SCROLLED_WINDOW)));
    CHECK (gtk_adjustment_get_upper (hh) > gtk_adjustment_get_page_size (hh) + 100,
           "a %d-token prompt does not scroll", config->n_positions - 8);
    double far = gtk_adjustment_get_upper (hh) - gtk_adjustment_get_page_size (hh);
    gtk_adjustment_set_value (hh, far / 2);
    gui_spin_ms (100);
    ll_window_set_visible_view (window, "target");
    GtkAdjustment *th
        = gtk_scrolled_window_get_hadjustment (GTK_SCROLLED_WINDOW (gtk_widget_get_ancestor (
            ll_window_get_view (window, LENS_VIEW_TARGET), GTK_TYPE_SCROLLED_WINDOW)));
    /* the target view lays out a frame or more later (longer on a busy machine) */
    AdjustmentAt at = {th, far / 2};
    gui_wait_until (adjustment_at, &at, 5000);
    CHECK (fabs (gtk_adjustment_get_value (th) - far / 2) < 1.0,
           "switching views lost the place: target at %.0f, heatmap at %.0f",
           gtk_adjustment_get_value (th), far / 2);
    ll_window_set_visible_view (window, "heatmap");
    gui_spin_ms (100);
  }

  /* A prompt longer than the context says so. */
  CHECK (ll_chart_view_get_result (LL_CHART_VIEW (ll_window_get_view (window, LENS_VIEW_TOPK)))
             != NULL,
         "no result in the side panel before the long prompt");
  GString *longer = g_string_new (NULL);
  while (count_tokens (longer->str) <= config->n_positions)
    g_string_append (longer, " and the city of");
  gui_text_view_set_text (prompt, longer->str);
  CHECK (gui_wait_until (content_is, "error", 10000), "state %s",
         ll_window_get_content_state (window));
  /* ... beside the prompt too, by how much, in the error colour */
  {
    g_autofree char *count = expected_count (count_tokens (longer->str), config->n_positions);
    CHECK (g_strcmp0 (ll_window_get_prompt_count (window), count) == 0, "count “%s”, expected “%s”",
           ll_window_get_prompt_count (window), count);
    gui_spin_ms (300); /* the colours' transition */
    int red = count_red_prompt_pixels ();
    g_print ("# over the limit: “%s”, %d red pixels in the prompt editor\n",
             ll_window_get_prompt_count (window), red);
    CHECK (red > 100, "%d red pixels in the prompt over the limit", red);
  }
  g_string_free (longer, TRUE);
  /* ... and no panel keeps showing the previous prompt's numbers (the side panel did) */
  GtkWidget *side = ll_window_get_view (window, LENS_VIEW_TOPK);
  CHECK (ll_chart_view_get_result (LL_CHART_VIEW (side)) == NULL,
         "the Top Tokens panel still shows a result after a too long prompt");
  gui_text_view_set_text (prompt, SEED_PROMPT);
  CHECK (gui_wait_until (idle_result_for, SEED_PROMPT, 60000), "no result");
  gui_spin_ms (300);
  CHECK (count_red_prompt_pixels () == 0, "the prompt stays red within the limit (%d pixels)",
         count_red_prompt_pixels ());
  CHECK (ll_chart_view_get_result (LL_CHART_VIEW (side)) != NULL, "no result in the side panel");
  gui_text_view_set_text (prompt, "");
  CHECK (gui_wait_until (content_is, "empty", 2000), "state %s",
         ll_window_get_content_state (window));
  CHECK (ll_chart_view_get_result (LL_CHART_VIEW (side)) == NULL,
         "the Top Tokens panel still shows a result after clearing the prompt");

  /* A broken model folder: the engine's message, and the previous model stays usable. */
  gui_text_view_set_text (prompt, SEED_PROMPT);
  CHECK (gui_wait_until (idle_result_for, SEED_PROMPT, 60000), "no result");
  LensModel *before = ll_worker_get_model (worker);
  g_autofree char *broken = g_build_filename (test.tmp_dir, "broken-model", NULL);
  g_mkdir_with_parents (broken, 0755);
  g_autofree char *broken_config = g_build_filename (broken, "config.json", NULL);
  g_file_set_contents (broken_config, "{\"model_type\": \"gpt2\", \"n_layer\": ", -1, NULL);
  ll_window_open_model (window, broken);
  CHECK (gui_wait_until (error_shown, NULL, 10000), "no error shown for a broken model");
  const char *msg = ll_window_get_error_message (window);
  g_print ("# broken model: %s\n", msg ? msg : "(none)");
  CHECK (msg != NULL && strstr (msg, "config.json") != NULL, "message: %s", msg ? msg : "");
  CHECK (ll_worker_get_model (worker) == before, "the previous model was dropped");
  CHECK (content_is ("result"), "state %s", ll_window_get_content_state (window));
  g_action_group_activate_action (G_ACTION_GROUP (window), "dismiss-error", NULL);

  /* The model menu lists the Hugging Face cache (the runner made a fake one holding the same
   * model as openai-community/gpt2) and opening an entry switches models. */
  {
    GMenuModel *menu = ll_window_get_model_menu (window);
    g_autoptr (GString) labels = g_string_new (NULL);
    char *cached_path = NULL;
    for (int i = 0; i < g_menu_model_get_n_items (menu); i++)
      {
        g_autoptr (GMenuModel) section = g_menu_model_get_item_link (menu, i, G_MENU_LINK_SECTION);
        for (int j = 0; section != NULL && j < g_menu_model_get_n_items (section); j++)
          {
            g_autofree char *label = NULL;
            g_menu_model_get_item_attribute (section, j, G_MENU_ATTRIBUTE_LABEL, "s", &label);
            g_string_append_printf (labels, "%s|", label);
            g_autoptr (GVariant) target = g_menu_model_get_item_attribute_value (
                section, j, G_MENU_ATTRIBUTE_TARGET, G_VARIANT_TYPE_STRING);
            /* The entry names the family, read from the snapshot's config.json. */
            if (g_strcmp0 (label, "openai-community/gpt2 · gpt2") == 0 && target != NULL)
              cached_path = g_variant_dup_string (target, NULL);
          }
      }
    g_print ("# model menu: %s\n", labels->str);
    CHECK (strstr (labels->str, "Open Model Folder") != NULL, "menu: %s", labels->str);
    CHECK (cached_path != NULL, "no HF cache entry in the menu: %s", labels->str);
    if (cached_path != NULL)
      {
        GtkWidget *panes
            = gtk_widget_get_ancestor (ll_window_get_view (window, LENS_VIEW_TOPK), GTK_TYPE_PANED);
        g_action_group_activate_action (G_ACTION_GROUP (window), "open-model",
                                        g_variant_new_string (cached_path));
        /* the old model's result is dimmed and inert until the new model's arrives */
        CHECK (gtk_widget_get_opacity (panes) < 0.5 && !gtk_widget_get_sensitive (panes),
               "the old result is not dimmed while another model loads");
        CHECK (gui_wait_until (model_is, cached_path, 30000), "model not switched");
        CHECK (gui_wait_until (idle_result_for, SEED_PROMPT, 60000), "no result after switching");
        gui_spin_ms (50);
        CHECK (gtk_widget_get_opacity (panes) == 1.0 && gtk_widget_get_sensitive (panes),
               "the new result is dimmed");
        CHECK (ll_window_get_error_message (window) == NULL, "error: %s",
               ll_window_get_error_message (window));
        g_autoptr (GSettings) settings = g_settings_new (APP_ID);
        g_autofree char *last = g_settings_get_string (settings, "last-model");
        g_auto (GStrv) recent = g_settings_get_strv (settings, "recent-models");
        CHECK (g_strcmp0 (last, cached_path) == 0, "last-model %s", last);
        CHECK (recent[0] != NULL && g_strcmp0 (recent[0], cached_path) == 0 && recent[1] != NULL
                   && g_strcmp0 (recent[1], test.model) == 0,
               "recent-models does not list both folders, newest first");
        g_free (cached_path);
        g_action_group_activate_action (G_ACTION_GROUP (window), "open-model",
                                        g_variant_new_string (test.model));
        CHECK (gui_wait_until (model_is, test.model, 30000), "model not switched back");
        CHECK (gui_wait_until (idle_result_for, SEED_PROMPT, 60000), "no result after switching");
      }
  }

  /* Run on NDIF…: the script for the current prompt, kept in step with the model id, and Copy
   * puts exactly it on the clipboard. */
  {
    g_action_group_activate_action (G_ACTION_GROUP (window), "run-on-ndif", NULL);
    gui_spin_ms (300);
    GtkWindow *shown = find_shown_window ("LlNdifDialog");
    LlNdifDialog *ndif = shown != NULL ? LL_NDIF_DIALOG (shown) : NULL;
    CHECK (ndif != NULL, "no NDIF dialog shown");
    if (ndif != NULL)
      {
        const char *script = ll_ndif_dialog_get_script (ndif);
        CHECK (script != NULL && strstr (script, "meta-llama/Llama-3.1-70B") != NULL,
               "default script: %s", script ? "no model id" : "none");
        gtk_editable_set_text (ll_ndif_dialog_get_model_entry (ndif), "not a model id");
        gui_spin_ms (50);
        CHECK (ll_ndif_dialog_get_script (ndif) == NULL, "a script for a bad model id");
        gtk_editable_set_text (ll_ndif_dialog_get_model_entry (ndif), "openai-community/gpt2");
        gui_spin_ms (50);
        script = ll_ndif_dialog_get_script (ndif);
        CHECK (script != NULL && strstr (script, "openai-community/gpt2") != NULL
                   && strstr (script, "Eiffel Tower") != NULL,
               "script for gpt2 and the prompt");
        ll_ndif_dialog_copy (ndif);
        g_autofree char *copied = gui_read_clipboard (GTK_WIDGET (ndif));
        CHECK (copied != NULL && script != NULL && g_str_equal (copied, script),
               "the clipboard holds %zu bytes, the script %zu", copied ? strlen (copied) : 0,
               script ? strlen (script) : 0);
        g_autoptr (GdkTexture) t = gui_render_widget (GTK_WIDGET (ndif));
        g_autofree char *path = g_build_filename (test.artifacts, "gui-ndif-dialog.png", NULL);
        if (t != NULL)
          gdk_texture_save_to_png (t, path);
        gtk_window_close (GTK_WINDOW (ndif));
        gui_spin_ms (200);
      }
  }

  /* The shortcuts window (GtkApplication loads gtk/help-overlay.ui from the resources) and the
   * about window open. */
  {
    const char *actions[][2] = {{"win", "show-help-overlay"}, {"app", "about"}};
    const char *types[] = {"GtkShortcutsWindow", "AdwAboutWindow"};
    for (int i = 0; i < 2; i++)
      {
        GActionGroup *group
            = i == 0 ? G_ACTION_GROUP (window)
                     : G_ACTION_GROUP (gtk_window_get_application (GTK_WINDOW (window)));
        CHECK (g_action_group_has_action (group, actions[i][1]), "no action %s.%s", actions[i][0],
               actions[i][1]);
        g_action_group_activate_action (group, actions[i][1], NULL);
        gui_spin_ms (500);
        GtkWindow *found = find_shown_window (types[i]);
        CHECK (found != NULL, "no %s shown", types[i]);
        if (found != NULL)
          {
            g_autoptr (GdkTexture) t = gui_render_widget (GTK_WIDGET (found));
            g_autofree char *name = g_strdup_printf ("gui-%s.png", types[i]);
            g_autofree char *path = g_build_filename (test.artifacts, name, NULL);
            if (t != NULL)
              gdk_texture_save_to_png (t, path);
            gtk_window_close (found);
            gui_spin_ms (200);
          }
      }
  }

  /* The finished window, as a person would see it. */
  gtk_editable_set_text (targets, " Paris, London");
  r = ll_window_get_result (window); /* the model was reloaded: a new result */
  g_signal_emit_by_name (ll_window_get_view (window, LENS_VIEW_HEATMAP), "cell-selected",
                         r->n_rows - 1, r->n_tokens - 1);
  gui_spin_ms (600);
  save_screenshot ("gui-screenshot.png");
  ll_window_set_visible_view (window, "line");
  gui_spin_ms (300);
  save_screenshot ("gui-screenshot-line.png");
  ll_window_set_visible_view (window, "target");
  gui_spin_ms (300);
  save_screenshot ("gui-screenshot-target.png");
  ll_window_set_visible_view (window, "heatmap");

  /* The dark style: the views follow it. */
  AdwStyleManager *style = adw_style_manager_get_default ();
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
  gui_spin_ms (500);
  CHECK (ll_window_get_paint_state (window)->dark, "views not told about the dark style");
  save_screenshot ("gui-screenshot-dark.png");
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);
  gui_spin_ms (200);

  /* Top-k 50: the Top Tokens panel scrolls to its last bar, and a cell's tooltip stays short. */
  {
    GtkSpinButton *spin = find_spin_button (GTK_WIDGET (window));
    CHECK (spin != NULL, "no top-k spin button");
    if (spin != NULL)
      {
        gtk_spin_button_set_value (spin, 50);
        CHECK (gui_wait_until (top_k_is, GINT_TO_POINTER (50), 60000), "no top-k 50 result");
        gui_spin_ms (300);
        GtkWidget *bars = ll_window_get_view (window, LENS_VIEW_TOPK);
        GtkWidget *scroll = gtk_widget_get_ancestor (bars, GTK_TYPE_SCROLLED_WINDOW);
        GtkAdjustment *v = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroll));
        double nat_w, nat_h;
        lens_view_natural_size (LENS_VIEW_TOPK, ll_window_get_result (window),
                                ll_window_get_paint_state (window), &nat_w, &nat_h);
        CHECK (gtk_adjustment_get_upper (v) >= nat_h - 1
                   && gtk_adjustment_get_upper (v) > gtk_adjustment_get_page_size (v),
               "top-k panel: %.0f px of %.0f reachable, page %.0f", gtk_adjustment_get_upper (v),
               nat_h, gtk_adjustment_get_page_size (v));
        r = ll_window_get_result (window);
        g_autofree char *tip = lens_describe_cell (r, ll_window_get_paint_state (window), 0, 0);
        int rows = 0;
        for (const char *p = tip; (p = strstr (p, ". <tt>")) != NULL; p++)
          rows++;
        CHECK (rows == LENS_DESCRIBE_MAX_TOP && strstr (tip, "40 more") != NULL,
               "top-k 50 tooltip lists %d tokens: %s", rows, tip);
        save_screenshot ("gui-screenshot-topk50.png");
      }
  }
}

static gboolean
run_script (gpointer data)
{
  script ();
  gtk_window_close (GTK_WINDOW (window));
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
  if (!gui_window_test_setup (&test, argc, argv, "test-window"))
    return 2;
  int status = gui_window_test_run_app (&test, argv[0], G_CALLBACK (window_added_cb));

  /* What the next start restores. */
  if (window != NULL)
    {
      g_autoptr (GSettings) settings = g_settings_new (APP_ID);
      g_autofree char *prompt = g_settings_get_string (settings, "last-prompt");
      g_autofree char *targets = g_settings_get_string (settings, "last-targets");
      g_autofree char *view = g_settings_get_string (settings, "current-view");
      CHECK (g_strcmp0 (prompt, SEED_PROMPT) == 0, "last-prompt “%s”", prompt);
      CHECK (g_strcmp0 (targets, " Paris, London") == 0, "last-targets “%s”", targets);
      CHECK (g_strcmp0 (view, "heatmap") == 0, "current-view %s", view);
    }

  return gui_window_test_finish (&test, window != NULL, status, failures);
}
