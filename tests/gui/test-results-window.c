/* test-results-window.c: results files in the real window (the app's own code) under Xvfb.
 *
 * usage: test-results-window --model DIR --artifacts DIR
 *
 * Opens tests/data/results/v2-small.json through the function File → Open Results calls, checks
 * the heatmap's cells on screen, hovers a cell with the real X pointer and reads the tooltip,
 * checks the line plot tracks the file's token, that the prompt cannot be edited and that an
 * untracked target is named; opens a truncated copy (the error is shown, the previous result
 * stays); saves the results and reopens them, exports logitlenskit v2 and reopens it; measures
 * the longest main-loop gap while a generated 80-layer x 1000-token file (about 60 MB) opens;
 * goes back to the model; saves screenshots into --artifacts. */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "lens-paint.h"
#include "lens-results-io.h"
#include "ll-application.h"
#include "ll-compare-page.h"
#include "ll-chart-view.h"
#include "ll-window.h"
#include "gui-support.h"

static GuiWindowTest test;
static LlWindow *window;
static int failures;

/* ---- waiting while the main loop runs ---- */

static gboolean
model_idle (gpointer data)
{
  LlWorker *worker = ll_window_get_worker (window);
  return ll_worker_get_model (worker) != NULL && !ll_worker_get_busy (worker);
}

static gboolean
live_and_idle (gpointer data)
{
  return !ll_window_get_imported (window) && model_idle (NULL);
}

static gboolean
live_result_for (gpointer prompt)
{
  LensResult *r = ll_window_get_result (window);
  return r != NULL && r->model != NULL && g_strcmp0 (r->prompt, prompt) == 0
         && !ll_worker_get_busy (ll_window_get_worker (window));
}

static gboolean
open_done (gpointer data)
{
  return !ll_window_get_opening (window);
}

/* Opens `path` as the dialog does and waits for the reader to finish. */
static gboolean
open_and_wait (const char *path, int timeout_ms)
{
  ll_window_open_results (window, path);
  CHECK (ll_window_get_opening (window), "no loading state while %s is read", path);
  gboolean done = gui_wait_until (open_done, NULL, timeout_ms);
  CHECK (done, "%s did not open within %d ms", path, timeout_ms);
  gui_spin_ms (50);
  return done;
}

/* Opens a file that must open: no error, and the summary names it. */
static void
open_ok (const char *path, int timeout_ms)
{
  open_and_wait (path, timeout_ms);
  const char *message = ll_window_get_error_message (window);
  CHECK (message == NULL, "opening %s: %s", path, message);
  g_autofree char *base = g_path_get_basename (path);
  CHECK (ll_window_get_imported (window) && strstr (ll_window_get_model_summary (window), base),
         "summary “%s” does not name %s", ll_window_get_model_summary (window), base);
}

/* ---- main-loop gap measurement (as in test-window.c) ---- */

typedef struct
{
  gint64 last, last_cpu;
  gint64 max_gap, max_cpu_gap;             /* while the file is read */
  gint64 max_gap_total, max_cpu_gap_total; /* also showing and drawing the result */
  gboolean opened;
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
      gint64 gap = now - m->last, cpu_gap = cpu - m->last_cpu;
      if (!m->opened)
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
open_finished_cb (LlWindow *win, gboolean ok, GapMeter *m)
{
  m->opened = TRUE;
}

/* ---- screenshots ---- */

/* Is a label with `text` in it shown under `w` (a toast, a banner)? */
static gboolean
find_label_containing (GtkWidget *w, const char *text)
{
  if (GTK_IS_LABEL (w) && gtk_widget_get_mapped (w)
      && strstr (gtk_label_get_text (GTK_LABEL (w)), text) != NULL)
    return TRUE;
  for (GtkWidget *c = gtk_widget_get_first_child (w); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    if (find_label_containing (c, text))
      return TRUE;
  return FALSE;
}

/* The button labelled `label` under `w`, or NULL. */
static GtkButton *
find_button (GtkWidget *w, const char *label)
{
  if (GTK_IS_BUTTON (w) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (w)), label) == 0)
    return GTK_BUTTON (w);
  for (GtkWidget *c = gtk_widget_get_first_child (w); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      GtkButton *found = find_button (c, label);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
label_shown (gpointer text)
{
  return find_label_containing (GTK_WIDGET (window), text);
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

/* ---- checks ---- */

/* Every cell of the heatmap is on screen with the colour of its top-1 probability. */
/* Pixels of the prompt's text as dark as text in the normal colour; a read-only prompt is dimmed
 * and has none. */
static int
count_dark_prompt_pixels (void)
{
  g_autoptr (GdkTexture) texture
      = gui_render_widget (GTK_WIDGET (ll_window_get_prompt_view (window)));
  if (texture == NULL)
    return -1;
  int tw = gdk_texture_get_width (texture), th = gdk_texture_get_height (texture);
  gsize stride = (gsize) tw * 4;
  g_autofree guchar *data = g_malloc (stride * (gsize) th);
  gdk_texture_download (texture, data, stride);
  int dark = 0;
  for (int y = 0; y < th; y++)
    for (int x = 0; x < tw; x++)
      {
        int pr, pg, pb;
        gui_pixel_rgb (data, stride, x, y, &pr, &pg, &pb);
        /* the widget alone is drawn on nothing: seen on white (the colours are premultiplied),
         * the text is dark where it is opaque enough */
        int white = 255 - data[(gsize) y * stride + (gsize) x * 4 + 3];
        if (MAX (pr, MAX (pg, pb)) + white < 90)
          dark++;
      }
  return dark;
}

static void
check_heatmap_cells (int want_rows, int want_cols)
{
  LensResult *r = ll_window_get_result (window);
  const LensPaintState *state = ll_window_get_paint_state (window);
  GtkWidget *view = ll_window_get_view (window, LENS_VIEW_HEATMAP);
  LensHeatmapLayout layout;
  /* The layout the widget paints with: the cells grow to fill it. */
  lens_heatmap_layout_for_size (r, state, gtk_widget_get_width (view), gtk_widget_get_height (view),
                                &layout);
  CHECK (layout.n_rows == want_rows && layout.n_cols == want_cols,
         "heatmap %d x %d, the file has %d layers x %d tokens", layout.n_rows, layout.n_cols,
         want_rows, want_cols);

  g_autoptr (GdkTexture) texture = gui_render_widget (view);
  CHECK (texture != NULL, "heatmap widget rendered nothing");
  if (texture == NULL)
    return;
  int tw = gdk_texture_get_width (texture), th = gdk_texture_get_height (texture);
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
      }
  CHECK (total == want_rows * want_cols && good == total,
         "%d of %d cells (of %d) have their colour", good, total, want_rows * want_cols);
}

static void
check_tooltip (int row, int pos, const char *const *must_contain)
{
  LensResult *r = ll_window_get_result (window);
  const LensPaintState *state = ll_window_get_paint_state (window);
  GtkWidget *view = ll_window_get_view (window, LENS_VIEW_HEATMAP);
  LensHeatmapLayout layout;
  lens_heatmap_layout_for_size (r, state, gtk_widget_get_width (view), gtk_widget_get_height (view),
                                &layout);
  double x = layout.grid_x + (pos + 0.5) * layout.cell_w;
  double y = layout.grid_y + (row + 0.5) * layout.cell_h;

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
  for (int i = 0; must_contain[i] != NULL; i++)
    CHECK (strstr (text, must_contain[i]) != NULL, "“%s” missing from the tooltip",
           must_contain[i]);
  gui_warp_pointer_to (GTK_WIDGET (window), 5, 5);
  gui_spin_ms (100);
}

/* Same tokens, layers and cells (top-k texts and probabilities within `tol`). */
static gboolean
same_cells (const LensResult *a, const LensResult *b, double tol)
{
  if (a->n_rows != b->n_rows || a->n_tokens != b->n_tokens)
    {
      g_print ("# shape %d x %d vs %d x %d\n", a->n_rows, a->n_tokens, b->n_rows, b->n_tokens);
      return FALSE;
    }
  for (int t = 0; t < a->n_tokens; t++)
    if (g_strcmp0 (a->token_texts[t], b->token_texts[t]) != 0)
      {
        g_print ("# token %d: “%s” vs “%s”\n", t, a->token_texts[t], b->token_texts[t]);
        return FALSE;
      }
  for (int row = 0; row < a->n_rows; row++)
    {
      if (a->row_layers[row] != b->row_layers[row])
        {
          g_print ("# row %d: layer %d vs %d\n", row, a->row_layers[row], b->row_layers[row]);
          return FALSE;
        }
      for (int t = 0; t < a->n_tokens; t++)
        {
          size_t ca = lens_result_cell_index (a, row, t) * (size_t) a->top_k;
          size_t cb = lens_result_cell_index (b, row, t) * (size_t) b->top_k;
          for (int k = 0; k < MAX (a->top_k, b->top_k); k++)
            {
              int32_t ia = k < a->top_k ? a->top_ids[ca + k] : -1;
              int32_t ib = k < b->top_k ? b->top_ids[cb + k] : -1;
              if ((ia < 0) != (ib < 0))
                {
                  g_print ("# cell (%d, %d) entry %d present in one only\n", row, t, k);
                  return FALSE;
                }
              if (ia < 0)
                continue;
              const char *ta = lens_result_token_text (a, ia), *tb = lens_result_token_text (b, ib);
              double pa = a->top_probs[ca + k], pb = b->top_probs[cb + k];
              if (g_strcmp0 (ta, tb) != 0 || fabs (pa - pb) > tol)
                {
                  g_print ("# cell (%d, %d) entry %d: “%s” %g vs “%s” %g\n", row, t, k, ta, pa, tb,
                           pb);
                  return FALSE;
                }
            }
        }
    }
  return TRUE;
}

/* ---- a generated 80-layer x 1000-token logitlenskit v2 file (as tests/unit/test-results-io.c) */

#define BIG_R 80
#define BIG_T 1000
#define BIG_K 5
#define BIG_N 80 /* tracked tokens per position */

static void
append_prob (GString *s, int p)
{
  if (p == 0)
    g_string_append (s, "0.0");
  else if (p < 10)
    g_string_append_printf (s, "%de-05", p);
  else
    {
      char buf[16];
      int n = g_snprintf (buf, sizeof buf, "0.%05d", p);
      while (buf[n - 1] == '0')
        n--;
      g_string_append_len (s, buf, n);
    }
}

static void
big_generate (GString *s)
{
  GRand *rng = g_rand_new_with_seed (7);
  static int prob[BIG_N][BIG_R]; /* probability * 1e5 */
  int tok[BIG_N];
  g_autoptr (GString) tracked = g_string_new (NULL);
  /* topk is [layer][position]; built per position, so keep one string per layer. */
  GString *rows[BIG_R];
  for (int r = 0; r < BIG_R; r++)
    rows[r] = g_string_new (NULL);

  for (int t = 0; t < BIG_T; t++)
    {
      g_string_append (tracked, t ? ", {" : "{");
      for (int i = 0; i < BIG_N; i++)
        {
          tok[i] = t * 13 + i * 7919 % 50000 + 1;
          g_string_append_printf (tracked, "%s\" w%d\": [", i ? ", " : "", tok[i]);
          for (int r = 0; r < BIG_R; r++)
            {
              double x = g_rand_double (rng);
              prob[i][r] = (int) (x * x * x * 20000.0);
              if (r)
                g_string_append (tracked, ", ");
              append_prob (tracked, prob[i][r]);
            }
          g_string_append_c (tracked, ']');
        }
      g_string_append_c (tracked, '}');
      for (int r = 0; r < BIG_R; r++)
        {
          gboolean used[BIG_N] = {0};
          g_string_append (rows[r], t ? ", [" : "[");
          for (int k = 0; k < BIG_K; k++)
            {
              int best = -1;
              for (int i = 0; i < BIG_N; i++)
                if (!used[i] && (best < 0 || prob[i][r] > prob[best][r]))
                  best = i;
              used[best] = TRUE;
              g_string_append_printf (rows[r], "%s\" w%d\"", k ? ", " : "", tok[best]);
            }
          g_string_append_c (rows[r], ']');
        }
    }
  g_rand_free (rng);

  g_string_append (s, "{\"meta\": {\"version\": 2, \"timestamp\": \"2026-01-02T03:00:00+00:00\", "
                      "\"model\": \"generated/big-80x1000\"}, \"input\": [");
  for (int t = 0; t < BIG_T; t++)
    g_string_append_printf (s, "%s\" t%d\"", t ? ", " : "", t);
  g_string_append (s, "], \"layers\": [");
  for (int r = 0; r < BIG_R; r++)
    g_string_append_printf (s, "%s%d", r ? ", " : "", r);
  g_string_append (s, "], \"topk\": [");
  for (int r = 0; r < BIG_R; r++)
    {
      g_string_append (s, r ? ", [" : "[");
      g_string_append_len (s, rows[r]->str, rows[r]->len);
      g_string_append_c (s, ']');
      g_string_free (rows[r], TRUE);
    }
  g_string_append (s, "], \"tracked\": [");
  g_string_append_len (s, tracked->str, tracked->len);
  g_string_append (s, "]}");
}

/* ---- the script ---- */

static void
script (void)
{
  g_autofree char *v2
      = g_build_filename (SOURCE_ROOT, "tests", "data", "results", "v2-small.json", NULL);
  g_autofree char *own
      = g_build_filename (SOURCE_ROOT, "tests", "data", "results", "own-small.json", NULL);
  GtkTextView *prompt_view = ll_window_get_prompt_view (window);
  GtkWidget *prompt = GTK_WIDGET (prompt_view);
  GtkEditable *targets = ll_window_get_target_entry (window);

  CHECK (gui_wait_until (model_idle, NULL, 120000), "the model did not load");
  CHECK (gtk_widget_is_sensitive (prompt) && gtk_text_view_get_editable (prompt_view),
         "prompt not editable with a model");
  gui_text_view_set_text (prompt_view, "The cat sat");
  CHECK (gui_wait_until (live_result_for, (gpointer) "The cat sat", 60000), "no live result");
  int live_dark = count_dark_prompt_pixels ();

  /* 0. A bad file given on the command line fails while the model loads: the model finishing
   * afterwards must not hide that error (it used to clear every error). */
  {
    g_autofree char *garbage = g_build_filename (test.tmp_dir, "not-results.json", NULL);
    CHECK (g_file_set_contents (garbage, "{\"hello\": 1}", -1, NULL), "write %s", garbage);
    g_autofree char *model_dir
        = g_strdup (lens_model_path (ll_worker_get_model (ll_window_get_worker (window))));
    open_and_wait (garbage, 10000);
    ll_window_open_default_model (window, model_dir);
    CHECK (gui_wait_until (model_idle, NULL, 120000), "the model did not load again");
    gui_spin_ms (100);
    const char *message = ll_window_get_error_message (window);
    CHECK (message != NULL && strstr (message, "not-results.json") != NULL,
           "the results error was hidden by the model load: “%s”", message);
    g_action_group_activate_action (G_ACTION_GROUP (window), "dismiss-error", NULL);
    gui_spin_ms (50);
    CHECK (ll_window_get_error_message (window) == NULL, "error not dismissed");
  }

  /* 1. logitlenskit v2: 3 layers x 3 tokens of meta-llama/Llama-3.1-70B. */
  open_ok (v2, 10000);
  LensResult *r = ll_window_get_result (window);
  CHECK (ll_window_get_imported (window), "not in results mode");
  CHECK (ll_window_get_error_message (window) == NULL, "error: %s",
         ll_window_get_error_message (window));
  CHECK (g_strcmp0 (ll_window_get_content_state (window), "result") == 0, "content %s",
         ll_window_get_content_state (window));
  CHECK (r != NULL && r->model == NULL && r->n_rows == 3 && r->n_tokens == 3, "result %d x %d",
         r ? r->n_rows : -1, r ? r->n_tokens : -1);
  const char *summary = ll_window_get_model_summary (window);
  CHECK (strstr (summary, "meta-llama/Llama-3.1-70B") != NULL && strstr (summary, "80 layers")
             && strstr (summary, "v2-small.json") != NULL,
         "summary “%s”", summary);
  /* The file's prompt can be read (and scrolled, selected, copied), not edited. */
  CHECK (!gtk_text_view_get_editable (prompt_view), "prompt editable without a model");
  CHECK (gtk_root_get_focus (GTK_ROOT (window)) != prompt,
         "the focus stayed in the prompt, which takes no input now");
  const char *tip = gtk_widget_get_tooltip_text (prompt);
  CHECK (tip != NULL && strstr (tip, "results file") != NULL, "prompt tooltip “%s”", tip);
  {
    g_autofree char *shown = gui_text_view_get_text (prompt_view);
    CHECK (g_strcmp0 (shown, "<|begin_of_text|>The capital") == 0, "prompt shows “%s”", shown);
    /* the file's count, without a limit: the model that made it is not here */
    CHECK (g_strcmp0 (ll_window_get_prompt_count (window), "3 tokens") == 0, "count “%s”",
           ll_window_get_prompt_count (window));
    /* and its text is dimmed */
    int file_dark = count_dark_prompt_pixels ();
    g_print ("# dark pixels in the prompt: %d live, %d from the file\n", live_dark, file_dark);
    CHECK (live_dark > 50 && file_dark == 0, "dark pixels in the prompt: %d live, %d read-only",
           live_dark, file_dark);
  }
  ll_window_set_visible_view (window, "heatmap");
  gui_spin_ms (400);
  check_heatmap_cells (3, 3);
  /* Layer 40, “ capital”: top-2 “ of” 0.7 and “ city” 0.02 (probabilities from "tracked"). */
  const char *want_tip[] = {"40", "capital", "of", "city", "70", NULL};
  check_tooltip (1, 2, want_tip);

  /* The line plot tracks the token the last layer predicts at the last position, “ of”. */
  const LensPaintState *st = ll_window_get_paint_state (window);
  CHECK (st->n_targets == 1 && g_strcmp0 (st->targets[0]->label, " of") == 0, "targets: %d “%s”",
         st->n_targets, st->n_targets > 0 ? st->targets[0]->label : "");
  CHECK (g_strcmp0 (gtk_editable_get_text (targets), "of") == 0, "target entry “%s”",
         gtk_editable_get_text (targets));
  if (st->n_targets == 1)
    {
      const float *p = st->targets[0]->probs;
      CHECK (fabsf (p[lens_result_cell_index (r, 0, 2)] - 0.6f) < 1e-6f
                 && fabsf (p[lens_result_cell_index (r, 2, 2)] - 0.8f) < 1e-6f
                 && isnan (p[lens_result_cell_index (r, 0, 0)]),
             "tracked probabilities of “ of” wrong");
    }
  ll_window_set_visible_view (window, "line");
  gui_spin_ms (300);
  g_autofree char *line_svg = g_build_filename (test.tmp_dir, "line.svg", NULL);
  g_autoptr (GError) error = NULL;
  CHECK (ll_window_export_view (window, LENS_VIEW_LINE, line_svg, 1, &error), "%s",
         error ? error->message : "");
  g_clear_error (&error);
  g_autofree char *svg = NULL;
  g_file_get_contents (line_svg, &svg, NULL, NULL);
  CHECK (svg != NULL && strstr (svg, "<path") != NULL, "line plot SVG has no path");
  save_screenshot ("gui-results-line.png");
  ll_window_set_visible_view (window, "target");
  gui_spin_ms (300);
  save_screenshot ("gui-results-target.png");
  ll_window_set_visible_view (window, "heatmap");

  /* A target the file did not track is named in the window; a tracked one is added. */
  gtk_editable_set_text (targets, "of, Paris, city");
  gui_spin_ms (100);
  const char *notice = ll_window_get_notice (window);
  CHECK (strstr (notice, "Paris") != NULL && strstr (notice, "not tracked") != NULL, "notice “%s”",
         notice);
  st = ll_window_get_paint_state (window);
  CHECK (st->n_targets == 2, "%d targets", st->n_targets);
  gtk_editable_set_text (targets, "of");
  gui_spin_ms (100);
  CHECK (ll_window_get_notice (window)[0] == '\0', "notice “%s”", ll_window_get_notice (window));
  save_screenshot ("gui-results-heatmap.png");

  /* 2. A truncated copy: the engine's message, the previous result stays. */
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_file_get_contents (v2, &contents, &len, NULL);
  g_autofree char *bad = g_build_filename (test.tmp_dir, "truncated.json", NULL);
  g_file_set_contents (bad, contents, (gssize) (len / 2), NULL);
  open_and_wait (bad, 10000);
  const char *message = ll_window_get_error_message (window);
  g_print ("# error shown: %s\n", message ? message : "(none)");
  CHECK (message != NULL && strstr (message, "truncated.json") != NULL, "error “%s”",
         message ? message : "(none)");
  CHECK (ll_window_get_result (window) == r && ll_window_get_imported (window)
             && g_strcmp0 (ll_window_get_content_state (window), "result") == 0,
         "the previous result was not kept");
  CHECK (strstr (ll_window_get_model_summary (window), "v2-small.json") != NULL, "summary “%s”",
         ll_window_get_model_summary (window));
  gui_spin_ms (400); /* the banner slides in */
  save_screenshot ("gui-results-error.png");

  /* 3. Save Results, reopen, same cells and the same target. */
  g_autofree char *saved = g_build_filename (test.tmp_dir, "saved.json", NULL);
  CHECK (ll_window_save_results (window, saved, &error), "%s", error ? error->message : "");
  g_clear_error (&error);
  LensResult *before = lens_result_ref (r);
  open_ok (saved, 10000);
  r = ll_window_get_result (window);
  CHECK (r != before && same_cells (before, r, 1e-7), "saved results differ");
  CHECK (ll_window_get_error_message (window) == NULL, "error: %s",
         ll_window_get_error_message (window));
  CHECK (g_strcmp0 (gtk_editable_get_text (targets), "of") == 0, "target entry “%s”",
         gtk_editable_get_text (targets));
  st = ll_window_get_paint_state (window);
  CHECK (st->n_targets == 1
             && fabsf (st->targets[0]->probs[lens_result_cell_index (r, 2, 2)] - 0.8f) < 1e-6f,
         "saved target lost");
  summary = ll_window_get_model_summary (window);
  CHECK (strstr (summary, "meta-llama/Llama-3.1-70B") != NULL && strstr (summary, "saved.json"),
         "summary “%s”", summary);

  /* 4. Export logitlenskit v2 (from the v2 file: a file of our format keeps only its targets'
   * trajectories, not those logitlenskit wants for every top-k token) and reopen it. */
  open_ok (v2, 10000);
  g_autofree char *exported = g_build_filename (test.tmp_dir, "exported-v2.json", NULL);
  CHECK (ll_window_export_logitlenskit (window, exported, &error), "%s",
         error ? error->message : "");
  g_clear_error (&error);
  open_ok (exported, 10000);
  r = ll_window_get_result (window);
  CHECK (same_cells (before, r, 1e-5), "exported logitlenskit file differs");
  g_autoptr (LensResult) direct = lens_results_load (exported, &error);
  CHECK (direct != NULL && same_cells (direct, r, 0), "window and engine read it differently: %s",
         error != NULL ? error->message : "");
  g_clear_error (&error);
  lens_result_unref (before);

  /* 5. Our own format with targets: they become the targets (“ Paris” is typed as Paris). */
  open_ok (own, 10000);
  CHECK (g_strcmp0 (gtk_editable_get_text (targets), "Paris") == 0, "target entry “%s”",
         gtk_editable_get_text (targets));
  {
    g_autofree char *shown = gui_text_view_get_text (prompt_view);
    CHECK (g_strcmp0 (shown, "The Eiffel") == 0, "prompt “%s”", shown);
  }
  g_autofree char *own_v2 = g_build_filename (test.tmp_dir, "own-v2.json", NULL);
  gboolean exported_own = ll_window_export_logitlenskit (window, own_v2, &error);
  g_print ("# export of an imported own-format file: %s\n",
           exported_own ? "written" : error->message);
  CHECK (exported_own || (error != NULL && error->message[0] != '\0'), "no message");
  g_clear_error (&error);
  /* Written before the file recorded size, weights type and context: those are left out. */
  summary = ll_window_get_model_summary (window);
  CHECK (g_strcmp0 (summary, "gpt2 · gpt2 · 12 layers, 2 shown · width 768 · 12 heads · "
                             "vocabulary 50257 · from results file “own-small.json”")
             == 0,
         "summary “%s”", summary);

  /* 5b. A file that records them (as this program writes every result now): all shown. */
  {
    g_autofree char *text = NULL;
    gsize text_len = 0;
    CHECK (g_file_get_contents (own, &text, &text_len, NULL), "cannot read %s", own);
    g_autoptr (GString) qwen = g_string_new (text);
    g_string_replace (qwen,
                      "\"model\": {\"path\": \"/models/gpt2\", \"architecture\": \"gpt2\", "
                      "\"n_layer\": 12, \"d_model\": 768, \"n_head\": 12, \"vocab_size\": 50257}",
                      "\"model\": {\"name\": \"Qwen/Qwen3-0.6B\", \"architecture\": \"qwen3\", "
                      "\"n_layer\": 28, \"d_model\": 1024, \"n_head\": 16, \"vocab_size\": 151936, "
                      "\"n_kv_head\": 8, \"context_length\": 40960, \"n_params\": 751632384, "
                      "\"dtype\": \"BF16\"}",
                      1);
    g_autofree char *qwen_path = g_build_filename (test.tmp_dir, "qwen3.json", NULL);
    CHECK (g_file_set_contents (qwen_path, qwen->str, (gssize) qwen->len, NULL), "cannot write");
    open_ok (qwen_path, 10000);
    summary = ll_window_get_model_summary (window);
    CHECK (g_strcmp0 (summary, "Qwen/Qwen3-0.6B · qwen3 · 751.6M parameters · BF16 · 28 layers, 2 "
                               "shown · width 1024 · 16 heads (8 key/value) · vocabulary 151936 · "
                               "context 40960 · from results file “qwen3.json”")
               == 0,
           "summary “%s”", summary);
    gui_spin_ms (200);
    save_screenshot ("gui-results-qwen3-summary.png");
  }

  /* 6. The large file: 80 layers x 1000 tokens, about 60 MB, read off the main thread. */
  g_autoptr (GString) big = g_string_sized_new (64 << 20);
  big_generate (big);
  g_autofree char *big_path = g_build_filename (test.tmp_dir, "big-80x1000.json", NULL);
  CHECK (g_file_set_contents (big_path, big->str, (gssize) big->len, NULL), "cannot write");
  g_print ("# generated %s: %.1f MB\n", big_path, big->len / 1e6);
  GapMeter meter = {0};
  gulong handler
      = g_signal_connect (window, "open-finished", G_CALLBACK (open_finished_cb), &meter);
  guint gap_source = g_timeout_add_full (G_PRIORITY_DEFAULT, 1, gap_cb, &meter, NULL);
  gint64 t0 = g_get_monotonic_time ();
  struct timespec c0, c1;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c0);
  open_ok (big_path, 60000);
  double open_ms = (g_get_monotonic_time () - t0) / 1000.0;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c1);
  /* CPU time of all threads (the reader's, mostly): the wall clock depends on the machine's load.
   */
  double open_cpu_ms = (c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6;
  gui_spin_ms (500); /* the first draws of the large heatmap */
  g_source_remove (gap_source);
  g_signal_handler_disconnect (window, handler);
  r = ll_window_get_result (window);
  CHECK (r != NULL && r->n_rows == BIG_R && r->n_tokens == BIG_T, "big file %d x %d",
         r ? r->n_rows : -1, r ? r->n_tokens : -1);
  LensHeatmapLayout layout;
  lens_heatmap_layout (r, ll_window_get_paint_state (window), &layout);
  CHECK (layout.n_rows == BIG_R && layout.n_cols == BIG_T, "heatmap %d x %d", layout.n_rows,
         layout.n_cols);
  /* Main-thread CPU time per gap does not depend on what else the machine runs. */
  CHECK (meter.max_cpu_gap < 50000, "main thread busy %.1f ms while reading",
         meter.max_cpu_gap / 1000.0);
  g_print ("# opening %.1f MB (%d layers x %d tokens): %.0f ms until shown (%.0f ms CPU); longest "
           "main-loop "
           "gap while reading %.1f ms wall / %.1f ms main-thread CPU, including showing and the "
           "first draws %.1f ms wall / %.1f ms CPU (%u ticks)\n",
           big->len / 1e6, BIG_R, BIG_T, open_ms, open_cpu_ms, meter.max_gap / 1000.0,
           meter.max_cpu_gap / 1000.0, meter.max_gap_total / 1000.0,
           meter.max_cpu_gap_total / 1000.0, meter.n);
  g_autofree char *gap_path = g_build_filename (test.artifacts, "gui-results-open-gap.txt", NULL);
  g_autofree char *gap_text = g_strdup_printf (
      "file_mb %.1f\nlayers %d\ntokens %d\nopen_until_shown_ms %.1f\nopen_process_cpu_ms %.1f\n"
      "max_gap_while_reading_ms %.2f\nmax_cpu_gap_while_reading_ms %.2f\n"
      "max_gap_including_first_draw_ms %.2f\nmax_cpu_gap_including_first_draw_ms %.2f\nticks %u\n",
      big->len / 1e6, BIG_R, BIG_T, open_ms, open_cpu_ms, meter.max_gap / 1000.0,
      meter.max_cpu_gap / 1000.0, meter.max_gap_total / 1000.0, meter.max_cpu_gap_total / 1000.0,
      meter.n);
  g_file_set_contents (gap_path, gap_text, -1, NULL);
  save_screenshot ("gui-results-large.png");
  g_string_set_size (big, 0);

  /* Its heatmap exported: a figure of the last LENS_EXPORT_MAX_POSITIONS positions, not an
   * 86,000 px strip, and the window says which positions it holds; the line plot is whole. */
  g_autofree char *big_png = g_build_filename (test.tmp_dir, "big-heatmap.png", NULL);
  CHECK (ll_window_export_view (window, LENS_VIEW_HEATMAP, big_png, 1, &error), "%s",
         error ? error->message : "");
  g_clear_error (&error);
  g_autoptr (GdkTexture) big_figure = gdk_texture_new_from_filename (big_png, &error);
  CHECK (big_figure != NULL
             && gdk_texture_get_width (big_figure) < LENS_EXPORT_MAX_POSITIONS * 96 + 400,
         "exported heatmap %d px wide", big_figure ? gdk_texture_get_width (big_figure) : -1);
  g_clear_error (&error);
  g_autofree char *want_notice
      = g_strdup_printf ("positions %d–%d of 0–%d", BIG_T - 64, BIG_T - 1, BIG_T - 1);
  CHECK (strstr (ll_window_get_export_notice (window), want_notice) != NULL,
         "export notice “%s”, expected it to name %s", ll_window_get_export_notice (window),
         want_notice);
  CHECK (gui_wait_until (label_shown, want_notice, 5000),
         "no message in the window names the exported positions");
  g_autofree char *big_line = g_build_filename (test.tmp_dir, "big-line.svg", NULL);
  CHECK (ll_window_export_view (window, LENS_VIEW_LINE, big_line, 1, &error), "%s",
         error ? error->message : "");
  g_clear_error (&error);
  CHECK (ll_window_get_export_notice (window)[0] == '\0', "line plot export notice “%s”",
         ll_window_get_export_notice (window));

  /* The Range popover: an invalid range is refused with the CLI's message and changes nothing;
   * layers 10-20 and positions 200-244 reach every view (numbered as in the prompt) and the
   * export; Show All goes back to everything. */
  GtkEditable *range_layers = ll_window_get_range_entry (window, FALSE);
  GtkEditable *range_positions = ll_window_get_range_entry (window, TRUE);
  gtk_editable_set_text (range_layers, "10-20");
  gtk_editable_set_text (range_positions, "300-200");
  g_signal_emit_by_name (range_positions, "activate");
  CHECK (g_strcmp0 (ll_window_get_range_error (window),
                    "Positions: \"300-200\" is a reversed range (did you mean 200-300?)")
             == 0,
         "range error “%s”", ll_window_get_range_error (window));
  CHECK (ll_window_get_result (window) == r, "an invalid range changed the result");
  gtk_editable_set_text (range_positions, "1000");
  g_signal_emit_by_name (range_layers, "activate");
  CHECK (g_strcmp0 (ll_window_get_range_error (window),
                    "Positions: \"1000\" is outside 0-999 (the prompt has 1000 tokens)")
             == 0,
         "range error “%s”", ll_window_get_range_error (window));
  gtk_editable_set_text (range_positions, " 200-244");
  g_signal_emit_by_name (range_positions, "activate");
  CHECK (ll_window_get_range_error (window) == NULL, "range error “%s”",
         ll_window_get_range_error (window));
  LensResult *part = ll_window_get_result (window);
  CHECK (part != NULL && part->n_rows == 11 && part->n_tokens == 45 && part->first_pos == 200
             && g_strcmp0 (part->row_labels[0], "10") == 0
             && g_strcmp0 (part->token_texts[0], r->token_texts[200]) == 0,
         "range shows %d x %d from position %d", part ? part->n_rows : -1,
         part ? part->n_tokens : -1, part ? part->first_pos : -1);
  for (LensView v = LENS_VIEW_HEATMAP; v <= LENS_VIEW_TOPK; v++)
    CHECK (ll_chart_view_get_result (LL_CHART_VIEW (ll_window_get_view (window, v))) == part,
           "view %d does not show the range", v);
  gui_spin_ms (300);
  check_heatmap_cells (11, 45);
  save_screenshot ("gui-results-range.png");
  g_autofree char *range_png = g_build_filename (test.tmp_dir, "range-heatmap.png", NULL);
  CHECK (ll_window_export_view (window, LENS_VIEW_HEATMAP, range_png, 1, &error), "%s",
         error ? error->message : "");
  g_clear_error (&error);
  g_autoptr (GdkTexture) range_figure = gdk_texture_new_from_filename (range_png, &error);
  g_clear_error (&error);
  CHECK (range_figure != NULL && ll_window_get_export_notice (window)[0] == '\0'
             && gdk_texture_get_width (range_figure) < 45 * 96 + 400
             && gdk_texture_get_height (range_figure) < 11 * 26 + 400,
         "range export %d x %d, notice “%s”",
         range_figure ? gdk_texture_get_width (range_figure) : -1,
         range_figure ? gdk_texture_get_height (range_figure) : -1,
         ll_window_get_export_notice (window));
  GtkButton *show_all
      = find_button (gtk_widget_get_parent (GTK_WIDGET (range_layers)), "Show _All");
  CHECK (show_all != NULL, "no Show All button next to the range entries");
  if (show_all != NULL)
    g_signal_emit_by_name (show_all, "clicked");
  CHECK (ll_window_get_result (window) == r && r->n_tokens == BIG_T,
         "Show All did not show the whole file");

  /* 7. Choosing the model from the model menu goes back to live runs. */
  open_ok (v2, 10000);
  save_screenshot ("gui-screenshot-results.png");
  LensModel *model = ll_worker_get_model (ll_window_get_worker (window));
  g_action_group_activate_action (G_ACTION_GROUP (window), "open-model",
                                  g_variant_new_string (lens_model_path (model)));
  CHECK (gui_wait_until (live_and_idle, NULL, 120000),
         "still showing the file after choosing the model");
  CHECK (gtk_text_view_get_editable (prompt_view), "prompt still not editable");
  gui_text_view_set_text (prompt_view, "The cat");
  CHECK (gui_wait_until (live_result_for, (gpointer) "The cat", 60000)
             && !ll_window_get_imported (window),
         "no live result after going back");

  /* 8. And the Back to Model button. */
  open_ok (v2, 10000);
  CHECK (ll_window_get_imported (window), "not in results mode");
  g_action_group_activate_action (G_ACTION_GROUP (window), "back-to-model", NULL);
  gui_wait_until (live_result_for, (gpointer) "The cat", 60000);
  r = ll_window_get_result (window);
  {
    g_autofree char *shown = gui_text_view_get_text (prompt_view);
    CHECK (!ll_window_get_imported (window) && gtk_text_view_get_editable (prompt_view)
               && g_strcmp0 (shown, "The cat") == 0,
           "back to model did not restore the prompt: “%s”", shown);
    /* the live count again, with the model's limit */
    int max_tokens = ll_worker_get_max_prompt_tokens (ll_window_get_worker (window));
    g_autofree char *count
        = g_strdup_printf ("%'d / %'d tokens", r != NULL ? r->n_tokens : -1, max_tokens);
    CHECK (g_strcmp0 (ll_window_get_prompt_count (window), count) == 0, "count “%s”, expected “%s”",
           ll_window_get_prompt_count (window), count);
  }
  CHECK (r != NULL && r->model != NULL && g_strcmp0 (r->prompt, "The cat") == 0,
         "no live result after Back to Model");

  /* 9. A range of a live result: its targets are the model's probabilities at those cells (from
   * the range's own residuals), as in the whole prompt. */
  if (r == NULL || r->n_tokens < 2)
    return;
  gtk_editable_set_text (ll_window_get_target_entry (window), "cat");
  const LensPaintState *ps = ll_window_get_paint_state (window);
  CHECK (ps->n_targets == 1, "%d targets for “cat”", ps->n_targets);
  if (ps->n_targets != 1)
    return;
  int whole_rows = r->n_rows, whole_tokens = r->n_tokens;
  g_autofree float *whole_probs
      = g_memdup2 (ps->targets[0]->probs, sizeof (float) * (size_t) whole_rows * whole_tokens);
  g_autoptr (GError) range_error = NULL;
  g_autofree char *last = g_strdup_printf ("%d", whole_tokens - 1);
  CHECK (ll_window_set_range (window, "", last, &range_error), "%s",
         range_error ? range_error->message : "");
  LensResult *tail = ll_window_get_result (window);
  ps = ll_window_get_paint_state (window);
  CHECK (tail != NULL && tail->n_tokens == 1 && tail->first_pos == whole_tokens - 1
             && tail->n_rows == whole_rows && ps->n_targets == 1,
         "live range %d x %d from %d, %d targets", tail ? tail->n_rows : -1,
         tail ? tail->n_tokens : -1, tail ? tail->first_pos : -1, ps->n_targets);
  int same = 0;
  for (int row = 0; tail != NULL && ps->n_targets == 1 && row < whole_rows; row++)
    {
      float want = whole_probs[(size_t) row * whole_tokens + whole_tokens - 1];
      same += fabsf (ps->targets[0]->probs[row] - want) <= 1e-6f * fmaxf (1.0f, want);
    }
  CHECK (same == whole_rows, "%d of %d rows of the live range's target agree with the whole", same,
         whole_rows);
  /* A pinned result is compared over the same range: both sides start at its first position. */
  g_action_group_activate_action (G_ACTION_GROUP (window), "pin-result", NULL);
  LlComparePage *compare = ll_window_get_compare_page (window);
  LensResult *pinned = ll_compare_page_get_pinned (compare);
  CHECK (pinned != NULL && pinned->n_tokens == 1 && pinned->first_pos == whole_tokens - 1,
         "pinned under a range: %d positions from %d", pinned ? pinned->n_tokens : -1,
         pinned ? pinned->first_pos : -1);
  CHECK (ll_window_set_range (window, "", "", &range_error), "%s",
         range_error ? range_error->message : "");
  CHECK (ll_window_get_result (window)->n_tokens == whole_tokens, "Show All after a live range");
  pinned = ll_compare_page_get_pinned (compare);
  CHECK (pinned != NULL && pinned->n_tokens == whole_tokens && pinned->first_pos == 0,
         "pinned after Show All: %d positions from %d", pinned ? pinned->n_tokens : -1,
         pinned ? pinned->first_pos : -1);
  g_action_group_activate_action (G_ACTION_GROUP (window), "unpin-result", NULL);
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
  if (!gui_window_test_setup (&test, argc, argv, "test-results-window"))
    return 2;
  int status = gui_window_test_run_app (&test, argv[0], G_CALLBACK (window_added_cb));

  /* The prompt typed for the model is what the next start restores, not the file's. */
  if (window != NULL)
    {
      g_autoptr (GSettings) settings = g_settings_new (APP_ID);
      g_autofree char *prompt = g_settings_get_string (settings, "last-prompt");
      CHECK (g_strcmp0 (prompt, "The cat") == 0, "last-prompt “%s”", prompt);
    }

  return gui_window_test_finish (&test, window != NULL, status, failures);
}
