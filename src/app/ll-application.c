/* ll-application.c: application setup, command line and app-wide actions. */
#include "config.h"

#include <glib/gi18n.h>

#include "lens-blas.h"
#include "ll-application.h"
#include "ll-window.h"

struct _LlApplication
{
  AdwApplication parent_instance;
};

G_DEFINE_FINAL_TYPE (LlApplication, ll_application, ADW_TYPE_APPLICATION)

static const GOptionEntry option_entries[] = {
    {"model", 'm', 0, G_OPTION_ARG_FILENAME, NULL,
     N_ ("Open the model in folder DIR (Hugging Face layout)"), N_ ("DIR")},
    {"version", 0, 0, G_OPTION_ARG_NONE, NULL, N_ ("Show the version and exit"), NULL},
    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, NULL, NULL, N_ ("[RESULTS.json]")},
    {NULL},
};

static LlWindow *
get_window (LlApplication *self, gboolean *created)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));
  *created = window == NULL;
  if (window == NULL)
    window = GTK_WINDOW (ll_window_new (GTK_APPLICATION (self)));
  return LL_WINDOW (window);
}

static int
ll_application_handle_local_options (GApplication *app, GVariantDict *options)
{
  if (g_variant_dict_contains (options, "version"))
    {
      g_autofree char *blas = lens_blas_describe ();
      g_print ("logit-lens %s\n%s\n", PACKAGE_VERSION, blas);
      return 0;
    }
  return -1;
}

static int
ll_application_command_line (GApplication *app, GApplicationCommandLine *cmdline)
{
  LlApplication *self = LL_APPLICATION (app);
  GVariantDict *options = g_application_command_line_get_options_dict (cmdline);
  g_autofree char *model_arg = NULL;
  g_autofree char *model_dir = NULL;

  if (g_variant_dict_lookup (options, "model", "^ay", &model_arg))
    {
      /* Relative to the directory the command was run in, which a remote instance lacks. */
      g_autoptr (GFile) file = g_application_command_line_create_file_for_arg (cmdline, model_arg);
      model_dir = g_file_get_path (file);
    }

  /* A results file given on the command line opens without waiting for the model. */
  g_autofree char **files = NULL;
  g_autofree char *results_path = NULL;
  if (g_variant_dict_lookup (options, G_OPTION_REMAINING, "^a&ay", &files) && files != NULL
      && files[0] != NULL)
    {
      if (files[1] != NULL)
        {
          g_application_command_line_printerr (cmdline,
                                               _ ("Only one results file can be opened\n"));
          return 1;
        }
      g_autoptr (GFile) file = g_application_command_line_create_file_for_arg (cmdline, files[0]);
      results_path = g_file_get_path (file);
    }

  gboolean created;
  LlWindow *window = get_window (self, &created);
  if (created || model_dir != NULL)
    ll_window_open_default_model (window, model_dir);
  if (results_path != NULL)
    ll_window_open_results (window, results_path);
  gtk_window_present (GTK_WINDOW (window));
  return 0;
}

static void
ll_application_activate (GApplication *app)
{
  gboolean created;
  LlWindow *window = get_window (LL_APPLICATION (app), &created);
  if (created)
    ll_window_open_default_model (window, NULL);
  gtk_window_present (GTK_WINDOW (window));
}

static void
about_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  GtkApplication *app = user_data;
  const char *developers[] = {_ ("The Logit Lens contributors"), NULL};

  GtkWidget *about = adw_about_window_new ();
  gtk_window_set_transient_for (GTK_WINDOW (about), gtk_application_get_active_window (app));
  g_object_set (about, "application-name", _ ("Logit Lens"), "application-icon", APP_ID, "version",
                PACKAGE_VERSION, "developer-name", _ ("The Logit Lens contributors"), "developers",
                developers, "license-type", GTK_LICENSE_MIT_X11, "comments",
                _ ("See what every layer of a transformer predicts: the logit lens "
                   "applies the final norm and the unembedding to the residual stream "
                   "after each block."),
                "translator-credits", _ ("translator-credits"), NULL);
  /* which BLAS kernels run decides the speed: shown where bug reports get their details */
  g_autofree char *blas = lens_blas_describe ();
  adw_about_window_set_debug_info (ADW_ABOUT_WINDOW (about), blas);
  gtk_window_present (GTK_WINDOW (about));
}

static void
quit_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  GtkApplication *app = user_data;
  /* Through close-request, so the window saves its settings. */
  GList *windows = g_list_copy (gtk_application_get_windows (app));
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (GTK_WINDOW (l->data));
  g_list_free (windows);
}

static const GActionEntry app_entries[] = {
    {"about", about_activated},
    {"quit", quit_activated},
};

static void
ll_application_startup (GApplication *app)
{
  G_APPLICATION_CLASS (ll_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_entries, G_N_ELEMENTS (app_entries),
                                   app);
  static const struct
  {
    const char *action;
    const char *accels[4];
  } accels[] = {
      {"app.quit", {"<Control>q", NULL}},
      {"win.open-results", {"<Control>o", NULL}},
      {"win.save-results", {"<Control>s", NULL}},
      {"win.open-model-folder", {"<Control><Shift>o", NULL}},
      {"win.focus-prompt", {"<Control>l", NULL}},
      {"win.focus-targets", {"<Control>t", NULL}},
      {"win.show-view::heatmap", {"<Alt>1", NULL}},
      {"win.show-view::target", {"<Alt>2", NULL}},
      {"win.show-view::line", {"<Alt>3", NULL}},
      {"win.show-view::diff", {"<Alt>4", NULL}},
      {"win.pin-result", {"<Control><Shift>p", NULL}},
      {"win.export-view::heatmap:png", {"<Control>e", NULL}},
      {"window.close", {"<Control>w", NULL}},
      {"win.zoom-in", {"<Control>plus", "<Control>equal", "<Control>KP_Add", NULL}},
      {"win.zoom-out", {"<Control>minus", "<Control>KP_Subtract", NULL}},
      {"win.zoom-fit", {"<Control>0", "<Control>KP_0", NULL}},
  };
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (app), accels[i].action,
                                           accels[i].accels);
}

static void
ll_application_class_init (LlApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->activate = ll_application_activate;
  app_class->startup = ll_application_startup;
  app_class->command_line = ll_application_command_line;
  app_class->handle_local_options = ll_application_handle_local_options;
}

static void
ll_application_init (LlApplication *self)
{
  g_application_add_main_option_entries (G_APPLICATION (self), option_entries);
  g_application_set_option_context_parameter_string (G_APPLICATION (self), NULL);
  g_application_set_option_context_summary (
      G_APPLICATION (self), _ ("Show what every layer of a transformer predicts for a prompt."));
}

LlApplication *
ll_application_new (GApplicationFlags extra_flags)
{
  return g_object_new (LL_TYPE_APPLICATION, "application-id", APP_ID, "flags",
                       G_APPLICATION_HANDLES_COMMAND_LINE | extra_flags, "resource-base-path",
                       "/io/github/logitlens/LogitLens", NULL);
}
