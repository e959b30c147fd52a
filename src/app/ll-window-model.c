/* ll-window-model.c: the window's model: the model menu (bundled demo, Hugging Face cache, recent
 * folders), opening a model folder, loading a model on the worker and the summary line that
 * describes it. */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "lens-format.h"
#include "lens-locate.h"
#include "ll-window-private.h"

#define MAX_RECENT_MODELS 8

/* A model that loads answers only its own failure: an error about anything else (a results
 * file given on the command line while the model was loading) stays until it is dismissed. */
static void
hide_model_load_error (LlWindow *self)
{
  if (self->error_is_model_load)
    ll_window_hide_error (self);
}

static void G_GNUC_PRINTF (2, 3) append_part (GString *out, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_string_append (out, " · ");
  g_string_append_vprintf (out, format, args);
  va_end (args);
}

/* "Qwen3-0.6B · qwen3 · 751.6M parameters · BF16 · 28 layers · width 1024 · 16 heads (8
 * key/value) · vocabulary 151936 · context 40960": one line, each part on its own so a part the
 * model or file does not know is dropped rather than shown as 0. */
char *
ll_window_model_facts_text (const ModelFacts *f)
{
  GString *out = g_string_new (f->name);
  if (f->architecture != NULL && f->architecture[0] != '\0')
    append_part (out, "%s", f->architecture);
  if (f->n_params > 0)
    {
      g_autofree char *count = lens_format_param_count ((uint64_t) f->n_params);
      append_part (out, _ ("%s parameters"), count);
    }
  if (f->dtype != NULL && f->dtype[0] != '\0')
    /* Weights stored in more than one type: "mixed" alone would not say of what. */
    append_part (out, "%s", strcmp (f->dtype, "mixed") == 0 ? _ ("mixed weight types") : f->dtype);
  if (f->layers != NULL)
    append_part (out, "%s", f->layers);
  if (f->width > 0)
    append_part (out, _ ("width %d"), f->width);
  if (f->n_head > 0 && f->n_kv_head > 0 && f->n_kv_head != f->n_head)
    /* Grouped-query attention: several query heads share one key/value head. */
    append_part (out,
                 g_dngettext (GETTEXT_PACKAGE, "%d head (%d key/value)", "%d heads (%d key/value)",
                              f->n_head),
                 f->n_head, f->n_kv_head);
  else if (f->n_head > 0)
    append_part (out, g_dngettext (GETTEXT_PACKAGE, "%d head", "%d heads", f->n_head), f->n_head);
  if (f->vocab_size > 0)
    append_part (out, _ ("vocabulary %d"), f->vocab_size);
  if (f->context_length > 0)
    append_part (out, _ ("context %d"), f->context_length);
  if (f->final_softcap > 0.0)
    /* Gemma 2: the lens applies the model's own head, soft-cap included, at every layer */
    append_part (out, _ ("logits soft-capped at %g"), f->final_softcap);
  return g_string_free (out, FALSE);
}

void
ll_window_set_model_summary (LlWindow *self, const char *summary)
{
  gtk_label_set_text (self->model_summary, summary);
  /* The line is ellipsized in a narrow window; the tooltip keeps all of it readable. */
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->model_summary),
                               summary[0] != '\0' ? summary : NULL);
}

/* "meta-llama/Llama-3.1-70B · 80 layers · from results file “x.json”", with whatever else the
 * file tells of the model (logitlenskit files only name it). */
void
ll_window_update_model_labels (LlWindow *self)
{
  LensModel *model = ll_worker_get_model (self->worker);
  if (ll_session_is_imported (self->session) && ll_session_get_result (self->session) != NULL)
    ll_window_update_imported_labels (self);
  if (model == NULL)
    {
      gtk_label_set_text (self->model_button_label, _ ("No Model"));
      if (!ll_session_is_imported (self->session))
        ll_window_set_model_summary (self, "");
      return;
    }
  const LensConfig *c = lens_model_config (model);
  /* The bundled model's folder is just "demo-model"; say what it is. */
  g_autofree char *demo = lens_locate_demo_model (NULL);
  g_autofree char *canon_demo = demo != NULL ? g_canonicalize_filename (demo, NULL) : NULL;
  g_autofree char *canon_path = g_canonicalize_filename (lens_model_path (model), NULL);
  const char *name
      = g_strcmp0 (canon_demo, canon_path) == 0 ? _ ("Demo Model") : lens_model_name (model);
  gtk_label_set_text (self->model_button_label, name);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->model_button), lens_model_path (model));
  if (ll_session_is_imported (self->session))
    return;
  g_autofree char *layers = g_strdup_printf (
      g_dngettext (GETTEXT_PACKAGE, "%d layer", "%d layers", c->n_layer), c->n_layer);
  ModelFacts facts = {
      .name = name,
      .architecture = lens_config_architecture (c),
      .n_params = (int64_t) lens_model_n_params (model),
      .dtype = lens_model_dtype (model),
      .layers = layers,
      .width = c->n_embd,
      .n_head = c->n_head,
      .n_kv_head = c->n_kv_head,
      .vocab_size = c->vocab_size,
      .context_length = c->n_positions,
      .final_softcap = c->final_logit_softcap,
  };
  g_autofree char *summary = ll_window_model_facts_text (&facts);
  ll_window_set_model_summary (self, summary);
}

static void
set_model_loading (LlWindow *self, gboolean loading)
{
  gtk_stack_set_visible_child_name (self->model_icon_stack, loading ? "spinner" : "icon");
  gtk_spinner_set_spinning (self->model_spinner, loading);
  /* the old model's result, under the new model's header soon: not the new model's answer */
  if (loading && !ll_session_is_imported (self->session)
      && ll_session_get_result (self->session) != NULL)
    ll_window_set_stale (self, TRUE);
  if (loading)
    gtk_label_set_text (self->model_button_label, _ ("Loading…"));
  else
    ll_window_update_model_labels (self);
}

/* ---- model loading ---- */

static void
remember_model (LlWindow *self, const char *dir)
{
  if (self->settings == NULL)
    return;
  g_settings_set_string (self->settings, "last-model", dir);
  g_auto (GStrv) old = g_settings_get_strv (self->settings, "recent-models");
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_strv_builder_add (b, dir);
  int n = 1;
  for (int i = 0; old[i] != NULL && n < MAX_RECENT_MODELS; i++)
    if (g_strcmp0 (old[i], dir) != 0)
      {
        g_strv_builder_add (b, old[i]);
        n++;
      }
  g_auto (GStrv) list = g_strv_builder_end (b);
  g_settings_set_strv (self->settings, "recent-models", (const char *const *) list);
}

static void
load_done_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr (LlWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_steal_pointer (&self->loading_dir);

  if (!ll_worker_load_model_finish (LL_WORKER (source), res, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return; /* a newer load is in flight */
      set_model_loading (self, FALSE);
      ll_window_set_stale (self, FALSE); /* the previous model and its result stay */
      /* starting the load cancelled the run in progress: run the prompt again on the model that
       * stays (the caches make it cheap), or a partial or older result would stay on screen */
      ll_window_follow_right_end (self, FALSE);
      if (!ll_session_is_imported (self->session) && ll_worker_get_model (self->worker) != NULL)
        ll_window_run_now (self);
      g_autofree char *message = NULL;
      if (ll_worker_get_model (self->worker) != NULL)
        message = g_strdup_printf (_ ("Could not open the model in “%s”: %s. Still using %s."), dir,
                                   error->message,
                                   lens_model_name (ll_worker_get_model (self->worker)));
      else
        message = g_strdup_printf (_ ("Could not open the model in “%s”: %s"), dir, error->message);
      ll_window_show_error (self, message);
      self->error_is_model_load = TRUE;
      if (ll_worker_get_model (self->worker) == NULL)
        {
          adw_status_page_set_title (self->error_page, _ ("No Model"));
          adw_status_page_set_description (self->error_page, message);
          gtk_widget_set_visible (GTK_WIDGET (self->error_open_button), TRUE);
          if (self->open_cancellable != NULL)
            {
              /* Shown if the results file being read fails too. */
              g_free (self->live.content_before_open);
              self->live.content_before_open = g_strdup ("error");
            }
          else if (!ll_session_is_imported (self->session))
            ll_window_set_content (self, "error");
        }
      return;
    }

  LensModel *model = ll_worker_get_model (self->worker);
  if (ll_session_is_imported (self->session) && self->live.leave_imported_on_load)
    ll_window_leave_imported (self);
  self->live.leave_imported_on_load = FALSE;
  set_model_loading (self, FALSE);
  hide_model_load_error (self);
  remember_model (self, lens_model_path (model));
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), "open-model");
  g_simple_action_set_state (G_SIMPLE_ACTION (action),
                             g_variant_new_string (lens_model_path (model)));
  if (self->open_cancellable != NULL)
    {
      /* A results file is being read: its loading page stays; a failed open comes back here. */
      g_free (self->live.content_before_open);
      self->live.content_before_open = g_strdup ("empty");
    }
  else if (g_strcmp0 (ll_window_get_content_state (self), "loading") == 0
           || g_strcmp0 (ll_window_get_content_state (self), "error") == 0)
    ll_window_set_content (self, "empty");
  ll_window_run_now (self);
}

void
ll_window_open_model (LlWindow *self, const char *dir)
{
  g_return_if_fail (LL_IS_WINDOW (self));
  g_return_if_fail (dir != NULL);

  g_free (self->loading_dir);
  self->loading_dir = g_strdup (dir);
  self->live.leave_imported_on_load = ll_session_is_imported (self->session);
  set_model_loading (self, TRUE);
  if (ll_worker_get_model (self->worker) == NULL && !ll_session_is_imported (self->session))
    {
      adw_status_page_set_title (self->loading_page, _ ("Loading Model…"));
      adw_status_page_set_description (self->loading_page, dir);
      ll_window_set_content (self, "loading");
    }
  ll_worker_load_model_async (self->worker, dir, NULL, load_done_cb, g_object_ref (self));
}

void
ll_window_open_default_model (LlWindow *self, const char *explicit_dir)
{
  g_return_if_fail (LL_IS_WINDOW (self));

  g_autofree char *last
      = self->settings != NULL ? g_settings_get_string (self->settings, "last-model") : NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = lens_locate_default_model (explicit_dir, last, NULL, &error);
  if (dir == NULL)
    {
      adw_status_page_set_title (self->error_page, _ ("No Model Found"));
      adw_status_page_set_description (self->error_page, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->error_open_button), TRUE);
      ll_window_set_content (self, "error");
      return;
    }
  ll_window_open_model (self, dir);
}

static void
rebuild_model_menu (LlWindow *self)
{
  g_menu_remove_all (self->model_menu);
  g_autoptr (GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);

  g_autoptr (GMenu) bundled = g_menu_new ();
  g_autofree char *demo = lens_locate_demo_model (NULL);
  if (demo != NULL)
    {
      g_autoptr (GMenuItem) item = g_menu_item_new (_ ("Demo Model (Brown Corpus)"), NULL);
      g_menu_item_set_action_and_target_value (item, "win.open-model", g_variant_new_string (demo));
      g_menu_append_item (bundled, item);
      g_hash_table_add (listed, demo);
      g_menu_append_section (self->model_menu, NULL, G_MENU_MODEL (bundled));
    }

  g_autoptr (GPtrArray) cached = lens_locate_hf_models (NULL);
  if (cached->len > 0)
    {
      g_autoptr (GMenu) section = g_menu_new ();
      for (guint i = 0; i < cached->len; i++)
        {
          LensCachedModel *m = g_ptr_array_index (cached, i);
          g_autoptr (GMenuItem) item = g_menu_item_new (m->repo_id, NULL);
          /* Only config.json (a few KB), read each time the menu opens so it stays current; a
           * family this program does not run fails to parse and is listed by name alone. */
          g_autofree char *config_path = g_build_filename (m->path, "config.json", NULL);
          LensConfig config;
          if (lens_config_load (config_path, &config, NULL))
            {
              g_autofree char *label
                  = g_strdup_printf ("%s · %s", m->repo_id, lens_config_architecture (&config));
              g_menu_item_set_label (item, label);
            }
          g_menu_item_set_action_and_target_value (item, "win.open-model",
                                                   g_variant_new_string (m->path));
          g_menu_append_item (section, item);
          g_hash_table_add (listed, m->path);
        }
      g_menu_append_section (self->model_menu, _ ("Hugging Face Cache"), G_MENU_MODEL (section));
    }

  g_auto (GStrv) recent
      = self->settings != NULL ? g_settings_get_strv (self->settings, "recent-models") : NULL;
  g_autoptr (GMenu) recent_section = g_menu_new ();
  for (int i = 0; recent != NULL && recent[i] != NULL; i++)
    {
      if (g_hash_table_contains (listed, recent[i]) || !lens_locate_is_model_dir (recent[i]))
        continue;
      g_autofree char *base = g_filename_display_basename (recent[i]);
      g_autoptr (GMenuItem) item = g_menu_item_new (base, NULL);
      g_menu_item_set_action_and_target_value (item, "win.open-model",
                                               g_variant_new_string (recent[i]));
      g_menu_append_item (recent_section, item);
    }
  if (g_menu_model_get_n_items (G_MENU_MODEL (recent_section)) > 0)
    g_menu_append_section (self->model_menu, _ ("Recent"), G_MENU_MODEL (recent_section));

  g_autoptr (GMenu) open = g_menu_new ();
  g_menu_append (open, _ ("_Open Model Folder…"), "win.open-model-folder");
  g_menu_append_section (self->model_menu, NULL, G_MENU_MODEL (open));
}

static void
model_popover_visible_cb (LlWindow *self)
{
  /* The list of cached models and recent folders is read when the menu opens, so it reflects
   * downloads made while the app runs. (GtkMenuButton:active is GTK 4.10.) */
  GtkPopover *popover = gtk_menu_button_get_popover (self->model_button);
  if (popover != NULL && gtk_widget_get_visible (GTK_WIDGET (popover)))
    rebuild_model_menu (self);
}

/* ---- file and model actions (the view settings are in ll-window-actions.c) ---- */

static void
open_model_change_state (GSimpleAction *action, GVariant *value, gpointer user_data)
{
  LlWindow *self = user_data;
  /* The state follows the loaded model once it has loaded, not the request. */
  ll_window_open_model (self, g_variant_get_string (value, NULL));
}

static void
folder_chooser_response_cb (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  LlWindow *self = user_data;
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      if (path != NULL)
        ll_window_open_model (self, path);
      else
        ll_window_show_error (self, _ ("Only local folders can be opened as models"));
    }
  g_object_unref (dialog);
}

static void
open_model_folder_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  LlWindow *self = user_data;
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (
      _ ("Open Model Folder"), GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
      _ ("_Open"), _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (folder_chooser_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

const char *
ll_window_get_model_summary (LlWindow *self)
{
  return gtk_label_get_text (self->model_summary);
}

GMenuModel *
ll_window_get_model_menu (LlWindow *self)
{
  rebuild_model_menu (self);
  return G_MENU_MODEL (self->model_menu);
}
static const GActionEntry model_entries[] = {
    {"open-model", NULL, "s", "''", open_model_change_state},
    {"open-model-folder", open_model_folder_activated},
};

void
ll_window_model_init (LlWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), model_entries, G_N_ELEMENTS (model_entries),
                                   self);
  g_signal_connect_object (gtk_menu_button_get_popover (self->model_button), "notify::visible",
                           G_CALLBACK (model_popover_visible_cb), self, G_CONNECT_SWAPPED);
}
