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

/* Moves the X pointer to (x, y) in widget coordinates; FALSE if the point is not in its native. */
gboolean gui_warp_pointer_to (GtkWidget *widget, double x, double y);
/* The mapped GtkTooltipWindow under `window`, or NULL. */
GtkWidget *gui_find_tooltip_window (GtkWidget *window);
/* The first non-empty visible label text under `w`, or NULL. */
const char *gui_find_label_text (GtkWidget *w);
/* A GuiCondition: is a tooltip shown for the window `data`? */
gboolean gui_tooltip_visible (gpointer window);

G_END_DECLS
