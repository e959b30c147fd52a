/* ll-window-results.c: the window's results files: opening one (shown in "imported" mode, no
 * model needed) and going back to the model, saving results, exporting logitlenskit JSON and
 * figures, and the Run on NDIF dialog that writes such a file. */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "lens-error.h"
#include "lens-results-io.h"
#include "ll-ndif-dialog.h"
#include "ll-window-private.h"

/* "meta-llama/Llama-3.1-70B · 80 layers · from results file “x.json”", with whatever else the
 * file tells of the model (logitlenskit files only name it). */
void
ll_window_update_imported_labels (LlWindow *self)
{
  const LensResult *r = ll_session_get_result (self->session);
  g_autofree char *base
      = g_filename_display_basename (ll_session_get_imported_path (self->session));
  const char *name = r->model_info.name != NULL && r->model_info.name[0] != '\0'
                         ? r->model_info.name
                         : _ ("Unknown model");
  /* Files from logitlenskit list only some layers; the model's count is the highest + 1. */
  int n_layer = r->model_info.n_layer, n_block_rows = 0, max_layer = -1;
  for (int i = 0; i < r->n_rows; i++)
    if (r->row_layers[i] >= 0 && r->row_kinds[i] == LENS_ROW_OUTPUT) /* not the "L.attn" rows */
      {
        n_block_rows++;
        max_layer = MAX (max_layer, r->row_layers[i]);
      }
  if (n_layer <= 0)
    n_layer = max_layer + 1;
  g_autofree char *layers = NULL;
  if (n_block_rows == n_layer)
    layers = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d layer", "%d layers", n_layer),
                              n_layer);
  else
    layers = g_strdup_printf (
        g_dngettext (GETTEXT_PACKAGE, "%d layers, %d shown", "%d layers, %d shown", n_layer),
        n_layer, n_block_rows);
  const LensModelInfo *mi = &r->model_info;
  ModelFacts facts = {
      .name = name,
      .architecture = mi->architecture,
      .n_params = mi->n_params,
      .dtype = mi->dtype,
      .layers = layers,
      .width = mi->d_model,
      .n_head = mi->n_head,
      .n_kv_head = mi->n_kv_head,
      .vocab_size = mi->vocab_size,
      .context_length = mi->context_length,
  };
  g_autofree char *facts_text = ll_window_model_facts_text (&facts);
  g_autofree char *summary = g_strdup_printf (_ ("%s · from results file “%s”"), facts_text, base);
  ll_window_set_model_summary (self, summary);
  adw_view_switcher_title_set_subtitle (self->switcher_title, base);

  LensModel *model = ll_worker_get_model (self->worker);
  g_autofree char *banner = NULL;
  if (model != NULL)
    banner = g_strdup_printf (_ ("Opened from results file “%s” — go back to the model to run "
                                 "new prompts"),
                              base);
  else
    banner = g_strdup_printf (_ ("Opened from results file “%s” — open a model to run new "
                                 "prompts"),
                              base);
  gtk_label_set_text (self->imported_label, banner);
  GAction *back = g_action_map_lookup_action (G_ACTION_MAP (self), "back-to-model");
  g_simple_action_set_enabled (G_SIMPLE_ACTION (back), model != NULL);
}

typedef struct
{
  LlWindow *self;
  LensView view;
  double scale;
} ExportRequest;

static void
export_chooser_response_cb (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  ExportRequest *req = user_data;
  LlWindow *self = req->self;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      g_autoptr (GError) error = NULL;
      if (path == NULL)
        ll_window_show_error (self, _ ("Figures can only be exported to local files"));
      else if (!ll_window_export_view (self, req->view, path, req->scale, &error))
        {
          g_autofree char *message = g_strdup_printf (_ ("Could not export: %s"), error->message);
          ll_window_show_error (self, message);
        }
      else if (self->export_notice[0] == '\0') /* a cut export said so already */
        {
          g_autofree char *base = g_filename_display_basename (path);
          g_autofree char *text = g_strdup_printf (_ ("Exported “%s”"), base);
          ll_window_show_toast (self, text);
        }
    }
  g_object_unref (dialog);
  g_object_unref (req->self);
  g_free (req);
}

static void
export_view_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  LlWindow *self = user_data;
  g_auto (GStrv) parts = g_strsplit (g_variant_get_string (param, NULL), ":", 2);
  LensView view;

  if (g_strv_length (parts) != 2 || !lens_view_from_string (parts[0], &view))
    return;
  if (ll_session_get_result (self->session) == NULL)
    {
      ll_window_show_toast (self, _ ("Nothing to export yet: type a prompt first"));
      return;
    }
  if (lens_result_is_partial (ll_session_get_result (self->session)))
    {
      ll_window_show_toast (self, _ ("Still computing: export once every position is ready"));
      return;
    }

  const char *format = parts[1];
  const char *ext = g_str_has_prefix (format, "png") ? "png" : format;
  double scale = g_strcmp0 (format, "png2") == 0 ? 2.0 : 1.0;

  g_autofree char *title = g_strdup_printf (_ ("Export %s"), ll_window_view_title (view));
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (
      title, GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SAVE, _ ("_Export"), _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_autofree char *name = g_strdup_printf ("logit-lens-%s%s.%s", lens_view_to_string (view),
                                           scale > 1.0 ? "@2x" : "", ext);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);

  g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();
  g_autofree char *pattern = g_strdup_printf ("*.%s", ext);
  g_autofree char *upper = g_ascii_strup (ext, -1);
  gtk_file_filter_set_name (filter, upper);
  gtk_file_filter_add_pattern (filter, pattern);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);

  ExportRequest *req = g_new0 (ExportRequest, 1);
  req->self = g_object_ref (self);
  req->view = view;
  req->scale = scale;
  g_signal_connect (chooser, "response", G_CALLBACK (export_chooser_response_cb), req);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* ---- results files ---- */

static char *
format_target_for_entry (const char *text)
{
  /* The inverse of lens_targets_split: " Paris" is typed as Paris, anything else in quotes. */
  if (text[0] == ' ' && text[1] != '\0' && text[1] != ' ' && text[1] != '"'
      && !g_str_has_suffix (text, " "))
    return g_strdup (text + 1);
  return g_strdup_printf ("\"%s\"", text);
}

/* The entry text for a shown file: its own targets, or (logitlenskit files carry none) the token
 * the last layer predicts at the last position, which the file tracks there. */
static char *
file_targets_entry_text (const LensResult *r, GPtrArray *file_targets)
{
  g_autoptr (GString) s = g_string_new (NULL);
  for (guint i = 0; file_targets != NULL && i < file_targets->len; i++)
    {
      const LensTarget *t = g_ptr_array_index (file_targets, i);
      if (strchr (t->text, ',') != NULL)
        continue; /* a comma cannot be written in the entry */
      g_autofree char *item = format_target_for_entry (t->text);
      if (s->len > 0)
        g_string_append (s, ", ");
      g_string_append (s, item);
    }
  if (s->len == 0 && r->n_rows > 0 && r->n_tokens > 0 && r->top_k > 0)
    {
      size_t cell = lens_result_cell_index (r, r->n_rows - 1, r->n_tokens - 1);
      int32_t id = r->top_ids[cell * (size_t) r->top_k];
      const char *text = id >= 0 ? lens_result_token_text (r, id) : NULL;
      if (text != NULL && text[0] != '\0' && strchr (text, ',') == NULL)
        {
          g_autofree char *item = format_target_for_entry (text);
          g_string_append (s, item);
        }
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* The input widgets follow the session's mode. A results file's prompt shows what the file was
 * computed for, and neither it nor the top-k can be changed: there is no model behind the result
 * to run a new one. The prompt can still be scrolled, read and copied. */
void
ll_window_show_mode (LlWindow *self)
{
  if (!ll_session_is_imported (self->session))
    {
      gtk_revealer_set_reveal_child (self->imported_revealer, FALSE);
      adw_view_switcher_title_set_subtitle (self->switcher_title, NULL);
      gtk_text_view_set_editable (self->prompt_view, TRUE);
      gtk_widget_remove_css_class (GTK_WIDGET (self->prompt_view), "read-only");
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->prompt_view),
                                   _ ("Prompt: the lens runs as you type"));
      gtk_widget_set_sensitive (GTK_WIDGET (self->top_k_spin), TRUE);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->top_k_spin), _ ("Tokens kept per cell"));
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->target_entry),
                                   _ ("Target tokens, separated by commas. A leading space is "
                                      "added, as words inside a sentence have one; write "
                                      "\"quotes\" for an exact token text."));
      return;
    }
  /* Focus leaves the prompt and the top-k before they stop taking input, to the view a keyboard
   * user wants next. */
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));
  if (focus != NULL
      && (focus == GTK_WIDGET (self->prompt_view)
          || gtk_widget_is_ancestor (focus, GTK_WIDGET (self->prompt_view))
          || focus == GTK_WIDGET (self->top_k_spin)
          || gtk_widget_is_ancestor (focus, GTK_WIDGET (self->top_k_spin))))
    gtk_widget_grab_focus (GTK_WIDGET (self->views[LENS_VIEW_HEATMAP]));
  gtk_text_view_set_editable (self->prompt_view, FALSE);
  gtk_widget_add_css_class (GTK_WIDGET (self->prompt_view), "read-only"); /* dimmed */
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->prompt_view),
                               _ ("Opened from results file — open a model to run new prompts"));
  gtk_widget_set_sensitive (GTK_WIDGET (self->top_k_spin), FALSE);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->top_k_spin),
                               _ ("Fixed by the results file — open a model to change it"));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->target_entry),
                               _ ("Target tokens the results file tracked, separated by commas"));
  gtk_revealer_set_reveal_child (self->imported_revealer, TRUE);
}

static void
enter_imported (LlWindow *self, LensResult *result, GPtrArray *file_targets, const char *path)
{
  /* a live run cancelled by the opening no longer decides where the heatmaps scroll */
  ll_window_follow_right_end (self, FALSE);
  if (!ll_session_is_imported (self->session))
    {
      g_free (self->live.prompt);
      self->live.prompt = ll_window_dup_prompt_text (self);
      g_free (self->live.targets);
      self->live.targets = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->target_entry)));
    }
  ll_session_set_imported (self->session, path, file_targets);
  self->live.leave_imported_on_load = FALSE;
  g_clear_handle_id (&self->debounce_id, g_source_remove);
  ll_worker_cancel (self->worker);

  /* the prompt the file was computed for */
  g_autoptr (GString) prompt = g_string_new (result->prompt);
  if (result->prompt == NULL)
    for (int t = 0; t < result->n_tokens; t++)
      g_string_append (prompt, result->token_texts[t]);
  ll_window_set_prompt_text_quietly (self, prompt->str);
  ll_window_show_prompt_count (self, result->n_tokens, 0);

  ll_window_hide_error (self);
  gtk_label_set_text (self->status_label, "");
  ll_window_set_result (self, result);
  g_autofree char *targets = file_targets_entry_text (result, file_targets);
  /* the file's targets are tracked as the entry changes */
  gtk_editable_set_text (GTK_EDITABLE (self->target_entry), targets);
  ll_window_update_imported_labels (self);
  ll_window_set_content (self, "result");
}

void
ll_window_leave_imported (LlWindow *self)
{
  if (!ll_session_is_imported (self->session))
    return;
  ll_session_set_live (self->session);
  ll_window_set_prompt_text_quietly (self, self->live.prompt);
  /* the count of the prompt typed for the model comes back with its run */
  ll_window_show_prompt_count (self, -1, 0);
  /* The file's result goes: its targets are not the model's. */
  gtk_label_set_text (self->status_label, "");
  ll_window_set_result (self, NULL);
  gtk_editable_set_text (GTK_EDITABLE (self->target_entry), self->live.targets);
  ll_window_set_content (self, "empty");
  ll_window_update_model_labels (self);
  ll_window_run_now (self);
}

/* One results file being opened: the window's callback gets the file's path and can tell a
 * superseded open from its own. */
typedef struct
{
  LlWindow *self;
  GCancellable *cancellable;
  char *path;
} OpenRequest;

static void
open_request_free (OpenRequest *req)
{
  g_object_unref (req->self);
  g_object_unref (req->cancellable);
  g_free (req->path);
  g_free (req);
}

static void
open_results_done_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  OpenRequest *req = user_data;
  LlWindow *self = req->self;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) targets = NULL;
  g_autoptr (LensResult) result
      = ll_worker_open_results_finish (LL_WORKER (source), res, &targets, &error);

  if (g_cancellable_is_cancelled (req->cancellable))
    {
      /* A newer open (or the window closing) took over. */
      open_request_free (req);
      return;
    }
  g_clear_object (&self->open_cancellable);
  g_clear_handle_id (&self->open_pulse_id, g_source_remove);
  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), FALSE);
  g_autofree char *before = g_steal_pointer (&self->live.content_before_open);
  g_autofree char *status_before = g_steal_pointer (&self->live.status_before_open);

  if (result == NULL)
    {
      /* What was shown stays; the engine's message says what is wrong and where. */
      if (g_strcmp0 (before, "loading") == 0)
        {
          /* Only a model can still be loading: its page comes back. */
          adw_status_page_set_title (self->loading_page, _ ("Loading Model…"));
          adw_status_page_set_description (self->loading_page, self->loading_dir);
        }
      if (before != NULL)
        ll_window_set_content (self, before);
      gtk_label_set_text (self->status_label, status_before != NULL ? status_before : "");
      if (ll_session_is_imported (self->session) && ll_session_get_result (self->session) != NULL)
        ll_window_update_imported_labels (self);
      g_autofree char *message
          = g_strdup_printf (_ ("Could not open the results: %s"), error->message);
      ll_window_show_error (self, message);
      ll_window_emit_open_finished (self, FALSE);
      open_request_free (req);
      return;
    }
  enter_imported (self, result, targets, req->path);
  ll_window_emit_open_finished (self, TRUE);
  open_request_free (req);
}

static gboolean
open_pulse_cb (gpointer user_data)
{
  LlWindow *self = user_data;
  gtk_progress_bar_pulse (self->progress_bar);
  return G_SOURCE_CONTINUE;
}

void
ll_window_open_results (LlWindow *self, const char *path)
{
  g_return_if_fail (LL_IS_WINDOW (self));
  g_return_if_fail (path != NULL);

  if (self->open_cancellable != NULL)
    g_cancellable_cancel (self->open_cancellable);
  g_clear_object (&self->open_cancellable);
  self->open_cancellable = g_cancellable_new ();

  /* The loading state: a status page when nothing is shown, else a pulsing bar over the views
   * (which stay usable until the file has been read). */
  const char *content = ll_window_get_content_state (self);
  if (self->live.content_before_open == NULL)
    {
      self->live.content_before_open = g_strdup (content);
      self->live.status_before_open = g_strdup (gtk_label_get_text (self->status_label));
    }
  g_autofree char *base = g_filename_display_basename (path);
  g_autofree char *status = g_strdup_printf (_ ("Opening “%s”…"), base);
  gtk_label_set_text (self->status_label, status);
  if (g_strcmp0 (content, "result") != 0)
    {
      adw_status_page_set_title (self->loading_page, _ ("Opening Results…"));
      adw_status_page_set_description (self->loading_page, base);
      ll_window_set_content (self, "loading");
    }
  else
    {
      gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), TRUE);
      gtk_progress_bar_pulse (self->progress_bar);
      if (self->open_pulse_id == 0)
        self->open_pulse_id = g_timeout_add (100, open_pulse_cb, self);
    }

  OpenRequest *req = g_new0 (OpenRequest, 1);
  req->self = g_object_ref (self);
  req->cancellable = g_object_ref (self->open_cancellable);
  req->path = g_strdup (path);
  ll_worker_open_results_async (self->worker, path, self->open_cancellable, open_results_done_cb,
                                req);
}

gboolean
ll_window_get_opening (LlWindow *self)
{
  return self->open_cancellable != NULL;
}

gboolean
ll_window_get_imported (LlWindow *self)
{
  return ll_session_is_imported (self->session);
}

static void
open_results_response_cb (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  LlWindow *self = user_data;
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      if (path != NULL)
        ll_window_open_results (self, path);
      else
        ll_window_show_error (self, _ ("Only local files can be opened"));
    }
  g_object_unref (dialog);
  g_object_unref (self);
}

static GtkFileFilter *
new_json_filter (void)
{
  GtkFileFilter *filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, _ ("JSON Files"));
  gtk_file_filter_add_pattern (filter, "*.json");
  gtk_file_filter_add_mime_type (filter, "application/json");
  return filter;
}

/* The script that runs the current prompt on a big model on NDIF; the file it writes opens with
 * Open Results. */
static void
run_on_ndif_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  LlWindow *self = user_data;
  g_auto (GStrv) targets
      = lens_targets_split (gtk_editable_get_text (GTK_EDITABLE (self->target_entry)));
  g_autofree char *prompt = ll_window_dup_prompt_text (self);
  LlNdifDialog *dialog = ll_ndif_dialog_new (
      GTK_WINDOW (self), prompt, targets, (int) gtk_adjustment_get_value (self->top_k_adjustment),
      "meta-llama/Llama-3.1-70B");
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
open_results_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  LlWindow *self = user_data;
  GtkFileChooserNative *chooser
      = gtk_file_chooser_native_new (_ ("Open Results"), GTK_WINDOW (self),
                                     GTK_FILE_CHOOSER_ACTION_OPEN, _ ("_Open"), _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_autoptr (GtkFileFilter) filter = new_json_filter ();
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  g_signal_connect (chooser, "response", G_CALLBACK (open_results_response_cb),
                    g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
back_to_model_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  LlWindow *self = user_data;
  if (ll_worker_get_model (self->worker) != NULL)
    ll_window_leave_imported (self);
}

typedef enum
{
  SAVE_RESULTS,
  SAVE_LOGITLENSKIT,
} SaveKind;

typedef struct
{
  LlWindow *self;
  SaveKind kind;
} SaveRequest;

static void
save_response_cb (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  SaveRequest *req = user_data;
  LlWindow *self = req->self;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      g_autoptr (GError) error = NULL;
      gboolean ok = FALSE;
      if (path == NULL)
        ll_window_show_error (self, _ ("Results can only be saved to local files"));
      else if (req->kind == SAVE_RESULTS)
        ok = ll_window_save_results (self, path, &error);
      else
        ok = ll_window_export_logitlenskit (self, path, &error);
      if (path != NULL && !ok)
        {
          g_autofree char *message
              = req->kind == SAVE_RESULTS
                    ? g_strdup_printf (_ ("Could not save the results: %s"), error->message)
                    : g_strdup_printf (_ ("Could not export: %s"), error->message);
          ll_window_show_error (self, message);
        }
      else if (ok)
        {
          g_autofree char *base = g_filename_display_basename (path);
          g_autofree char *text = req->kind == SAVE_RESULTS
                                      ? g_strdup_printf (_ ("Saved “%s”"), base)
                                      : g_strdup_printf (_ ("Exported “%s”"), base);
          ll_window_show_toast (self, text);
        }
    }
  g_object_unref (dialog);
  g_object_unref (req->self);
  g_free (req);
}

static void
save_dialog (LlWindow *self, SaveKind kind)
{
  if (ll_session_get_result (self->session) == NULL)
    {
      ll_window_show_toast (self,
                            _ ("Nothing to save yet: type a prompt or open a results file first"));
      return;
    }
  if (lens_result_is_partial (ll_session_get_result (self->session)))
    {
      ll_window_show_toast (self, _ ("Still computing: save once every position is ready"));
      return;
    }
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (
      kind == SAVE_RESULTS ? _ ("Save Results") : _ ("Export logitlenskit JSON"), GTK_WINDOW (self),
      GTK_FILE_CHOOSER_ACTION_SAVE, kind == SAVE_RESULTS ? _ ("_Save") : _ ("_Export"),
      _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser),
                                     kind == SAVE_RESULTS ? "logit-lens-results.json"
                                                          : "logit-lens-logitlenskit.json");
  g_autoptr (GtkFileFilter) filter = new_json_filter ();
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  SaveRequest *req = g_new0 (SaveRequest, 1);
  req->self = g_object_ref (self);
  req->kind = kind;
  g_signal_connect (chooser, "response", G_CALLBACK (save_response_cb), req);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
save_results_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  save_dialog (user_data, SAVE_RESULTS);
}

static void
export_logitlenskit_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  save_dialog (user_data, SAVE_LOGITLENSKIT);
}

gboolean
ll_window_export_view (LlWindow *self, LensView view, const char *path, double scale,
                       GError **error)
{
  g_return_val_if_fail (LL_IS_WINDOW (self), FALSE);

  if (ll_session_get_result (self->session) == NULL)
    {
      g_set_error_literal (error, LENS_ERROR, LENS_ERROR_INPUT, _ ("There is no result to export"));
      return FALSE;
    }
  /* A figure for a paper: light, opaque, no hover outline; the selection stays (it picks the
   * line plot's position and the top-k cell). */
  LensPaintState state = self->state;
  state.hover_row = state.hover_pos = -1;
  state.dark = false;
  state.transparent_background = false;
  if (view == LENS_VIEW_DIFF && !ll_compare_page_fill_state (self->compare_page, &state, error))
    return FALSE;
  if (!lens_export_view (path, view, ll_session_get_result (self->session), &state, scale, error))
    return FALSE;

  /* A heatmap of a long prompt holds its last positions only: say which, where the user looks. */
  const LensResult *r = ll_session_get_result (self->session);
  int first, count;
  g_free (self->export_notice);
  if (lens_export_positions (view, r, &first, &count))
    {
      g_autofree char *base = g_filename_display_basename (path);
      self->export_notice = g_strdup_printf (
          /* Translators: file name, the positions exported, all positions, the limit */
          _ ("Exported “%s” with positions %d–%d of %d–%d: a figure holds at most %d "
             "positions; choose others with Range"),
          base, r->first_pos + first, r->first_pos + first + count - 1, r->first_pos,
          r->first_pos + r->n_tokens - 1, LENS_EXPORT_MAX_POSITIONS);
      ll_window_show_toast (self, self->export_notice);
    }
  else
    self->export_notice = g_strdup ("");
  return TRUE;
}

gboolean
ll_window_save_results (LlWindow *self, const char *path, GError **error)
{
  g_return_val_if_fail (LL_IS_WINDOW (self), FALSE);

  if (ll_session_get_result (self->session) == NULL)
    {
      g_set_error_literal (error, LENS_ERROR, LENS_ERROR_INPUT, _ ("There is no result to save"));
      return FALSE;
    }
  GPtrArray *targets = ll_session_get_targets (self->session);
  g_autofree char *json
      = lens_result_to_json (ll_session_get_result (self->session),
                             (LensTarget *const *) targets->pdata, (int) targets->len, TRUE);
  return lens_results_write_file (path, json, error);
}

gboolean
ll_window_export_data (LlWindow *self, const char *path, GError **error)
{
  return ll_window_save_results (self, path, error);
}

gboolean
ll_window_export_logitlenskit (LlWindow *self, const char *path, GError **error)
{
  g_return_val_if_fail (LL_IS_WINDOW (self), FALSE);

  if (ll_session_get_result (self->session) == NULL)
    {
      g_set_error_literal (error, LENS_ERROR, LENS_ERROR_INPUT, _ ("There is no result to export"));
      return FALSE;
    }
  /* A shown file's targets are written where the file tracked them (the engine leaves them out
   * at positions where they are unknown). */
  GPtrArray *targets = ll_session_get_targets (self->session);
  g_autofree char *json = lens_result_to_logitlenskit_json (ll_session_get_result (self->session),
                                                            (LensTarget *const *) targets->pdata,
                                                            (int) targets->len, error);
  return json != NULL && lens_results_write_file (path, json, error);
}

const char *
ll_window_get_export_notice (LlWindow *self)
{
  return self->export_notice;
}

static const GActionEntry results_entries[] = {
    {"export-view", export_view_activated, "s"},
    {"open-results", open_results_activated},
    {"run-on-ndif", run_on_ndif_activated},
    {"save-results", save_results_activated},
    {"export-logitlenskit", export_logitlenskit_activated},
    {"back-to-model", back_to_model_activated},
};

void
ll_window_results_init (LlWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), results_entries,
                                   G_N_ELEMENTS (results_entries), self);
}
