/* gui-support.c: see gui-support.h. */
#include "config.h"

#include "gui-support.h"

#include <glib/gstdio.h>
#include <time.h>

#include "ll-application.h"

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

char *
gui_text_view_get_text (GtkTextView *view)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (view);
  GtkTextIter start, end;
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

void
gui_text_view_set_text (GtkTextView *view, const char *text)
{
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (view), text, -1);
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

void
gui_rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
      const char *name;
      while (d != NULL && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          gui_rm_rf (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

gboolean
gui_window_test_setup (GuiWindowTest *t, int argc, char **argv, const char *name)
{
  GOptionEntry entries[] = {
      {"model", 0, 0, G_OPTION_ARG_FILENAME, &t->model, "Model folder", "DIR"},
      {"artifacts", 0, 0, G_OPTION_ARG_FILENAME, &t->artifacts, "Where to save screenshots", "DIR"},
      {NULL},
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || t->model == NULL
      || t->artifacts == NULL)
    {
      g_printerr ("usage: %s --model DIR --artifacts DIR\n", name);
      return FALSE;
    }
  g_autofree char *template = g_strdup_printf ("%s-XXXXXX", name);
  t->tmp_dir = g_dir_make_tmp (template, &error);
  g_assert_no_error (error);

  /* Start like a first run with an empty prompt, so prompts are typed, not restored (and not
   * already in the cache). The runner uses the memory settings backend. */
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);
  g_settings_set_string (settings, "last-prompt", "");
  g_settings_set_string (settings, "last-targets", "");
  return TRUE;
}

int
gui_window_test_run_app (GuiWindowTest *t, const char *argv0, GCallback window_added)
{
  LlApplication *app = ll_application_new (G_APPLICATION_NON_UNIQUE);
  g_signal_connect (app, "window-added", window_added, NULL);
  char *app_argv[] = {(char *) argv0, (char *) "--model", t->model, NULL};
  int status = g_application_run (G_APPLICATION (app), 3, app_argv);
  g_object_unref (app);
  return status;
}

int
gui_window_test_finish (GuiWindowTest *t, gboolean had_window, int status, int failures)
{
  gui_rm_rf (t->tmp_dir);
  g_clear_pointer (&t->tmp_dir, g_free);
  if (!had_window)
    {
      g_print ("FAIL: no window was created\n");
      return 1;
    }
  g_print ("# %d failure(s)\n", failures);
  return status != 0 || failures > 0 ? 1 : 0;
}

typedef struct
{
  gboolean done;
  char *text;
} ClipboardRead;

static void
clipboard_read_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  ClipboardRead *read = data;
  read->text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), res, NULL);
  read->done = TRUE;
}

static gboolean
clipboard_read_done (gpointer data)
{
  return ((ClipboardRead *) data)->done;
}

char *
gui_read_clipboard (GtkWidget *widget)
{
  ClipboardRead *read = g_new0 (ClipboardRead, 1);
  gdk_clipboard_read_text_async (gtk_widget_get_clipboard (widget), NULL, clipboard_read_cb, read);
  if (!gui_wait_until (clipboard_read_done, read, 5000))
    return NULL; /* the callback may still come: the small struct is left to it */
  char *text = read->text;
  g_free (read);
  return text;
}
