/* gui-support.c: see gui-support.h. */
#include "gui-support.h"

#include <X11/Xlib.h>
#include <gdk/x11/gdkx.h>
#include <time.h>

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

gboolean
gui_wait_until (GuiCondition cond, gpointer data, int timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  /* a timer keeps the blocking iteration from sleeping past the deadline */
  guint tick = g_timeout_add (5, tick_cb, NULL);
  gboolean ok;
  while (!(ok = cond (data)) && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  return ok;
}

static gboolean
always_false (gpointer data)
{
  return FALSE;
}

void
gui_spin_ms (int ms)
{
  gui_wait_until (always_false, NULL, ms);
}

gint64
gui_thread_cpu_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

GdkTexture *
gui_render_widget (GtkWidget *widget)
{
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  if (w <= 0 || h <= 0)
    return NULL;
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, w, h);
  g_autoptr (GskRenderNode) node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    return NULL;
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  return gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
}

void
gui_pixel_rgb (const guchar *data, gsize stride, int x, int y, int *r, int *g, int *b)
{
  const guchar *p = data + (gsize) y * stride + (gsize) x * 4;
  *b = p[0];
  *g = p[1];
  *r = p[2];
}

gboolean
gui_warp_pointer_to (GtkWidget *widget, double x, double y)
{
  GtkNative *native = gtk_widget_get_native (widget);
  double wx, wy, sx, sy;
  if (!gtk_widget_translate_coordinates (widget, GTK_WIDGET (native), x, y, &wx, &wy))
    return FALSE;
  gtk_native_get_surface_transform (native, &sx, &sy);
  GdkSurface *surface = gtk_native_get_surface (native);
  Display *dpy = gdk_x11_display_get_xdisplay (gdk_surface_get_display (surface));
  XWarpPointer (dpy, None, gdk_x11_surface_get_xid (surface), 0, 0, 0, 0, (int) (wx + sx),
                (int) (wy + sy));
  XFlush (dpy);
  return TRUE;
}

const char *
gui_find_label_text (GtkWidget *w)
{
  if (GTK_IS_LABEL (w) && gtk_widget_get_visible (w))
    {
      const char *t = gtk_label_get_text (GTK_LABEL (w));
      if (t != NULL && t[0] != '\0')
        return t;
    }
  for (GtkWidget *c = gtk_widget_get_first_child (w); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      const char *t = gui_find_label_text (c);
      if (t != NULL)
        return t;
    }
  return NULL;
}

GtkWidget *
gui_find_tooltip_window (GtkWidget *w)
{
  for (GtkWidget *c = gtk_widget_get_first_child (w); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    {
      if (g_strcmp0 (G_OBJECT_TYPE_NAME (c), "GtkTooltipWindow") == 0 && gtk_widget_get_mapped (c))
        return c;
      GtkWidget *found = gui_find_tooltip_window (c);
      if (found != NULL)
        return found;
    }
  return NULL;
}

gboolean
gui_tooltip_visible (gpointer window)
{
  return gui_find_tooltip_window (GTK_WIDGET (window)) != NULL;
}
