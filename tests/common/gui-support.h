/* gui-support.h: helpers shared by the tests that drive real widgets under Xvfb (the window
 * tests and the chart tooltip test): running the main loop until a condition holds, rendering a
 * widget to pixels, moving the real X pointer and finding the tooltip GTK shows. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Prints "ok   COND" or "FAIL file:line: COND: message" and counts failures in the including
 * file's `static int failures`. */
#define CHECK(cond, ...)                                                                           \
  G_STMT_START                                                                                     \
  {                                                                                                \
    if (cond)                                                                                      \
      g_print ("ok   %s\n", #cond);                                                                \
    else                                                                                           \
      {                                                                                            \
        failures++;                                                                                \
        g_print ("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                   \
        g_print (__VA_ARGS__);                                                                     \
        g_print ("\n");                                                                            \
      }                                                                                            \
  }                                                                                                \
  G_STMT_END

typedef gboolean (*GuiCondition) (gpointer data);

/* Runs the main loop until cond (data) holds or timeout_ms pass; returns whether it held. */
gboolean gui_wait_until (GuiCondition cond, gpointer data, int timeout_ms);
/* Runs the main loop for ms milliseconds. */
void gui_spin_ms (int ms);

/* CPU time of the calling thread, in microseconds. */
gint64 gui_thread_cpu_us (void);

/* The widget as the window's renderer draws it, or NULL when it has no size. */
GdkTexture *gui_render_widget (GtkWidget *widget);
/* Pixel (x, y) of a downloaded BGRA (premultiplied; opaque here) buffer. */
void gui_pixel_rgb (const guchar *data, gsize stride, int x, int y, int *r, int *g, int *b);

/* Moves the X pointer to (x, y) in widget coordinates; FALSE if the point is not in its native.
 * In gui-pointer.c (needs X11). */
gboolean gui_warp_pointer_to (GtkWidget *widget, double x, double y);
/* The mapped GtkTooltipWindow under `window`, or NULL. */
GtkWidget *gui_find_tooltip_window (GtkWidget *window);
/* The first non-empty visible label text under `w`, or NULL. */
const char *gui_find_label_text (GtkWidget *w);
/* A GuiCondition: is a tooltip shown for the window `data`? */
gboolean gui_tooltip_visible (gpointer window);

/* The text on the widget's clipboard (read as another program would, asynchronously, while the
 * main loop runs), or NULL after 5 s. Free with g_free. */
char *gui_read_clipboard (GtkWidget *widget);

/* All the text of a text view (the prompt editor). Free with g_free. */
char *gui_text_view_get_text (GtkTextView *view);
/* Replaces a text view's text in one change, as pasting over a selection of all of it does. */
void gui_text_view_set_text (GtkTextView *view, const char *text);

/* Removes a file or a folder with everything in it (symlinks are not followed). */
void gui_rm_rf (const char *path);

/* The window tests: test-NAME --model DIR --artifacts DIR, and a scratch folder. */
typedef struct
{
  char *model;
  char *artifacts;
  char *tmp_dir;
} GuiWindowTest;

/* Parses the options (usage on stderr and FALSE when they are wrong), makes the scratch folder
 * and clears the remembered prompt and targets, so the app starts like a first run. */
gboolean gui_window_test_setup (GuiWindowTest *t, int argc, char **argv, const char *name);
/* Runs the app on the model with `window_added` on its "window-added" signal; the app's status. */
int gui_window_test_run_app (GuiWindowTest *t, const char *argv0, GCallback window_added);
/* Removes the scratch folder and prints the summary; the test's exit status. */
int gui_window_test_finish (GuiWindowTest *t, gboolean had_window, int status, int failures);

G_END_DECLS
