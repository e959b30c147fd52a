/* gui-pointer.c: the real X pointer for the tests (see gui-support.h); needs Xlib and GTK's X11
 * backend, which the tests that do not move the pointer can do without. */
#include "gui-support.h"

#include <X11/Xlib.h>
#include <gdk/x11/gdkx.h>

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
