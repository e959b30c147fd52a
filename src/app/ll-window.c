/* ll-window.c: the main window's template, lifecycle and prompt. Input (prompt, targets) goes to
 * the worker after a short pause; results come back on the main thread and are handed to the
 * chart views with one paint state. The rest of the window is in ll-window-actions.c (view
 * settings, navigation), ll-window-model.c (model menu and loading), ll-window-results.c (results
 * files: open, save, export, the imported mode), ll-window-range.c (the Range popover) and
 * ll-window-targets.c (the target entry); the struct they share is in ll-window-private.h. */
#include "config.h"

#include <glib/gi18n.h>

#include "ll-chart-view.h"
#include "ll-compare-page.h"
#include "ll-window-private.h"

/* Typing recomputes after this pause, so a fast typist does not start a run per key. */
#define DEBOUNCE_MS 150
/* The prompt editor grows with its text up to this many lines, then scrolls: a paragraph stays
 * readable while the views keep most of the window. */
#define PROMPT_MAX_LINES 6
/* Cache hits finish well within this; only real runs show the progress bar. */
#define PROGRESS_DELAY_MS 120

G_DEFINE_FINAL_TYPE (LlWindow, ll_window, ADW_TYPE_APPLICATION_WINDOW)

enum
{
  SIGNAL_RESULT_CHANGED,
  SIGNAL_OPEN_FINISHED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void prompt_changed_cb (LlWindow *self);

/* ---- small helpers ---- */

/* Emitted by ll-window-results.c when a results file has been opened or failed to open. */
void
ll_window_emit_open_finished (LlWindow *self, gboolean opened)
{
  g_signal_emit (self, signals[SIGNAL_OPEN_FINISHED], 0, opened);
}

const char *
ll_window_view_title (LensView view)
{
  switch (view)
    {
    case LENS_VIEW_HEATMAP:
      return _ ("Heatmap");
    case LENS_VIEW_TARGET:
      return _ ("Target Heatmap");
    case LENS_VIEW_LINE:
      return _ ("Line Plot");
    case LENS_VIEW_DIFF:
      return _ ("Difference Heatmap");
    case LENS_VIEW_TOPK:
    default:
      return _ ("Top Tokens");
    }
}

void
ll_window_show_toast (LlWindow *self, const char *text)
{
  AdwToast *toast = adw_toast_new (text);
  adw_toast_set_timeout (toast, 4);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

void
ll_window_show_error (LlWindow *self, const char *message)
{
  gtk_label_set_text (self->error_label, message);
  gtk_revealer_set_reveal_child (self->error_revealer, TRUE);
  self->error_is_model_load = FALSE;
}

void
ll_window_hide_error (LlWindow *self)
{
  gtk_revealer_set_reveal_child (self->error_revealer, FALSE);
}

/* ---- the prompt ---- */

static GtkTextBuffer *
prompt_buffer (LlWindow *self)
{
  return gtk_text_view_get_buffer (self->prompt_view);
}

/* The prompt as typed, newlines included (the tokenizer sees them). Free with g_free. */
char *
ll_window_dup_prompt_text (LlWindow *self)
{
  GtkTextIter start, end;
  gtk_text_buffer_get_bounds (prompt_buffer (self), &start, &end);
  return gtk_text_buffer_get_text (prompt_buffer (self), &start, &end, FALSE);
}

static gboolean
prompt_is_empty (LlWindow *self)
{
  return gtk_text_buffer_get_char_count (prompt_buffer (self)) == 0;
}

static void
update_prompt_placeholder (LlWindow *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self->prompt_placeholder), prompt_is_empty (self));
}

/* Text the window puts in the prompt (a results file's, the one restored): no run, and not a
 * step Undo goes back to. */
void
ll_window_set_prompt_text_quietly (LlWindow *self, const char *text)
{
  GtkTextBuffer *buffer = prompt_buffer (self);
  g_signal_handlers_block_by_func (buffer, prompt_changed_cb, self);
  gtk_text_buffer_begin_irreversible_action (buffer);
  gtk_text_buffer_set_text (buffer, text, -1);
  gtk_text_buffer_end_irreversible_action (buffer);
  g_signal_handlers_unblock_by_func (buffer, prompt_changed_cb, self);
  update_prompt_placeholder (self);
}

/* "37 / 1,024 tokens" beside the prompt; over the limit the frame turns red and the count says
 * by how much. A results file's prompt has no limit (max_tokens 0); n_tokens < 0 is unknown. */
void
ll_window_show_prompt_count (LlWindow *self, int n_tokens, int max_tokens)
{
  g_autofree char *text = NULL;
  gboolean over = max_tokens > 0 && n_tokens > max_tokens;
  if (n_tokens < 0)
    text = g_strdup ("");
  else if (max_tokens <= 0)
    text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%'d token", "%'d tokens", n_tokens),
                            n_tokens);
  else if (over)
    text = g_strdup_printf (_ ("%'d / %'d tokens, %'d over the limit"), n_tokens, max_tokens,
                            n_tokens - max_tokens);
  else
    text = g_strdup_printf (_ ("%'d / %'d tokens"), n_tokens, max_tokens);
  gtk_label_set_text (self->prompt_count_label, text);
  if (over)
    {
      gtk_widget_add_css_class (self->prompt_box, "error");
      gtk_widget_remove_css_class (GTK_WIDGET (self->prompt_count_label), "dim-label");
    }
  else
    {
      gtk_widget_remove_css_class (self->prompt_box, "error");
      gtk_widget_add_css_class (GTK_WIDGET (self->prompt_count_label), "dim-label");
    }
}

void
ll_window_set_content (LlWindow *self, const char *name)
{
  gtk_stack_set_visible_child_name (self->content_stack, name);
  gboolean loading = g_strcmp0 (name, "loading") == 0;
  gtk_spinner_set_spinning (self->loading_spinner, loading);
}

static void
update_selection_labels (LlWindow *self)
{
  const LensResult *r = ll_session_get_result (self->session);
  if (r == NULL || self->state.sel_pos >= 0)
    {
      gtk_label_set_text (self->line_position_label, "");
      return;
    }
  /* The plots' titles name the cell; until one is chosen, say how to choose. A next-token
   * metric has nothing at the last position, so the plot shows the one before it. */
  gboolean scores_next = self->state.line_metric == LENS_COLOR_NEXT_PROB
                         || self->state.line_metric == LENS_COLOR_NEXT_RANK;
  gtk_label_set_text (self->line_position_label,
                      scores_next && r->n_tokens >= 2
                          ? _ ("Showing the last position with a next token: click a heatmap cell "
                               "or use the arrow keys to choose another")
                          : _ ("Showing the last position: click a heatmap cell or use the arrow "
                               "keys to choose another"));
}

/* Every view, and the compare page, show the session's result with the window's paint state. */
void
ll_window_push_state (LlWindow *self)
{
  GPtrArray *targets = ll_session_get_targets (self->session);
  LensResult *result = ll_session_get_result (self->session);
  self->state.targets = targets->len > 0 ? (LensTarget *const *) targets->pdata : NULL;
  self->state.n_targets = (int) targets->len;
  if (self->state.active_target >= self->state.n_targets)
    self->state.active_target = 0;
  for (int v = 0; v < 4; v++)
    {
      /* the state first: it holds the targets computed on the new result */
      ll_chart_view_set_state (self->views[v], &self->state);
      ll_chart_view_set_result (self->views[v], result); /* nothing to do for the same result */
    }
  ll_compare_page_set_current (self->compare_page, result, &self->state);
  update_selection_labels (self);
}

/* The one path from the session to the views: a new mode, pinned result, result, targets or
 * selection. */
static void
session_changed_cb (LlWindow *self, guint what)
{
  if (what & LL_SESSION_CHANGED_MODE)
    ll_window_show_mode (self);
  if (what & LL_SESSION_CHANGED_PINNED)
    ll_window_pin_range (self);
  if (!(what
        & (LL_SESSION_CHANGED_RESULT | LL_SESSION_CHANGED_TARGETS | LL_SESSION_CHANGED_SELECTION)))
    return;
  ll_session_get_selection (self->session, &self->state.sel_row, &self->state.sel_pos);
  if (what & LL_SESSION_CHANGED_RESULT)
    self->state.hover_row = self->state.hover_pos = -1;
  if (what & (LL_SESSION_CHANGED_RESULT | LL_SESSION_CHANGED_TARGETS))
    ll_window_show_target_names (self);
  ll_window_push_state (self);
}

/* A shown result that no longer answers what the window says (another model is loading or has
 * just loaded): dimmed and not interactive until its replacement arrives. */
void
ll_window_set_stale (LlWindow *self, gboolean stale)
{
  gtk_widget_set_opacity (GTK_WIDGET (self->paned), stale ? 0.4 : 1.0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->paned), !stale);
}

/* ---- results ---- */

/* `full` as given, shown in the Range, with the target entry's targets computed on it; NULL
 * for none. */
void
ll_window_set_result (LlWindow *self, LensResult *full)
{
  g_autoptr (LensResult) shown = ll_session_range_of (self->session, full);
  g_autoptr (GPtrArray) targets = ll_window_compute_targets (self, shown);
  ll_session_set_result (self->session, full, shown, targets, shown != NULL ? shown->model : NULL);
  ll_window_set_stale (self, FALSE);
  g_signal_emit (self, signals[SIGNAL_RESULT_CHANGED], 0);
}

static gboolean
progress_delay_cb (gpointer user_data)
{
  LlWindow *self = user_data;
  self->progress_delay_id = 0;
  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), TRUE);
  return G_SOURCE_REMOVE;
}

static void
worker_busy_cb (LlWindow *self)
{
  g_clear_handle_id (&self->progress_delay_id, g_source_remove);
  if (ll_worker_get_busy (self->worker))
    {
      gtk_progress_bar_set_fraction (self->progress_bar, 0.0);
      self->progress_delay_id = g_timeout_add (PROGRESS_DELAY_MS, progress_delay_cb, self);
    }
  else
    gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), FALSE);
}

static void
worker_progress_cb (LlWindow *self, int done, int total)
{
  if (total > 0)
    gtk_progress_bar_set_fraction (self->progress_bar, CLAMP ((double) done / total, 0.0, 1.0));
}

static void
scroll_to_end_cb (GtkAdjustment *adj, LlWindow *self)
{
  gtk_adjustment_set_value (adj,
                            gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
}

/* The heatmaps of a new prompt start at its right end while its lens is computed progressively
 * (the last positions are ready first), also once the new shape is laid out; from the complete
 * result on, scrolling is the user's again. */
void
ll_window_follow_right_end (LlWindow *self, gboolean follow)
{
  GtkScrolledWindow *scrolls[2] = {self->heatmap_scroll, self->target_scroll};
  for (int i = 0; i < 2; i++)
    {
      GtkAdjustment *adj = gtk_scrolled_window_get_hadjustment (scrolls[i]);
      g_clear_signal_handler (&self->scroll_end_ids[i], adj);
      if (follow)
        {
          scroll_to_end_cb (adj, self);
          self->scroll_end_ids[i]
              = g_signal_connect (adj, "changed", G_CALLBACK (scroll_to_end_cb), self);
        }
    }
}

/* A progressive run shows what is ready (the last position first) while the rest is computed;
 * the views paint the other cells as pending, and a selection survives into the complete
 * result (same shape). */
static void
worker_partial_cb (LlWindow *self, LensResult *partial)
{
  if (ll_session_is_imported (self->session))
    return;
  /* the token count is beside the prompt */
  g_autofree char *status
      = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "computing, %d of %d position ready",
                                      "computing, %d of %d positions ready", partial->n_tokens),
                         partial->n_ready, partial->n_tokens);
  gtk_label_set_text (self->status_label, status);
  const LensResult *shown = ll_session_get_full_result (self->session);
  gboolean new_shape
      = shown == NULL || shown->n_tokens != partial->n_tokens || shown->n_rows != partial->n_rows;
  ll_window_set_content (self, "result");
  ll_window_set_result (self, partial);
  if (new_shape)
    ll_window_follow_right_end (self, TRUE);
}

static void
run_done_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr (LlWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean from_cache = FALSE;
  g_autoptr (LensResult) result
      = ll_worker_run_finish (LL_WORKER (source), res, &from_cache, &error);
  if (self->scroll_end_ids[0] != 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    ll_window_follow_right_end (self, FALSE);

  /* A run that finished after a results file was opened must not replace it. */
  if (ll_session_is_imported (self->session))
    return;
  if (result == NULL)
    {
      /* Superseded or cancelled: a newer request owns the window now. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      adw_status_page_set_title (self->error_page, _ ("Cannot Run This Prompt"));
      adw_status_page_set_description (self->error_page, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->error_open_button), FALSE);
      gtk_label_set_text (self->status_label, "");
      ll_window_set_result (self, NULL);
      ll_window_set_content (self, "error");
      return;
    }

  double seconds = (g_get_monotonic_time () - self->run_started_us) / 1e6;
  /* how long it took (the token count is beside the prompt) */
  g_autofree char *status
      = from_cache ? g_strdup (_ ("from cache")) : g_strdup_printf (_ ("%.2f s"), seconds);
  gtk_label_set_text (self->status_label, status);
  ll_window_set_result (self, result);
  ll_window_set_content (self, "result");
}

void
ll_window_run_now (LlWindow *self)
{
  g_clear_handle_id (&self->debounce_id, g_source_remove);

  if (ll_worker_get_model (self->worker) == NULL || ll_session_is_imported (self->session))
    return; /* runs when the model has loaded, or when the window is back from a file */

  g_autofree char *prompt = ll_window_dup_prompt_text (self);
  if (prompt[0] == '\0')
    {
      ll_worker_cancel (self->worker);
      ll_window_show_prompt_count (self, 0, ll_worker_get_max_prompt_tokens (self->worker));
      gtk_label_set_text (self->status_label, "");
      /* every panel, the side panel too, stops showing the previous prompt */
      ll_window_follow_right_end (self, FALSE);
      ll_window_set_result (self, NULL);
      ll_window_set_content (self, "empty");
      return;
    }
  self->run_started_us = g_get_monotonic_time ();
  int top_k = (int) gtk_adjustment_get_value (self->top_k_adjustment);
  ll_worker_run_async (self->worker, prompt, top_k, NULL, run_done_cb, g_object_ref (self));
}

static gboolean
debounce_cb (gpointer user_data)
{
  LlWindow *self = user_data;
  self->debounce_id = 0;
  ll_window_run_now (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_run (LlWindow *self)
{
  g_clear_handle_id (&self->debounce_id, g_source_remove);
  self->debounce_id = g_timeout_add (DEBOUNCE_MS, debounce_cb, self);
}

static void
prompt_changed_cb (LlWindow *self)
{
  update_prompt_placeholder (self);
  /* An emptied prompt shows the empty state at once, anything else after a pause. "At once" is
   * the next idle moment: typing or pasting over a selection empties the buffer and fills it
   * again in one go, and the refill replaces the idle callback with the pause. */
  g_clear_handle_id (&self->debounce_id, g_source_remove);
  if (prompt_is_empty (self))
    self->debounce_id = g_idle_add (debounce_cb, self);
  else
    schedule_run (self);
}

/* The editor's height limit, in lines of the font it shows the prompt in. */
static void
fit_prompt_lines (LlWindow *self)
{
  g_autoptr (PangoLayout) layout
      = gtk_widget_create_pango_layout (GTK_WIDGET (self->prompt_view), "Ag");
  int line_height = 0;
  pango_layout_get_pixel_size (layout, NULL, &line_height);
  gtk_scrolled_window_set_max_content_height (
      self->prompt_scroll, PROMPT_MAX_LINES * line_height
                               + gtk_text_view_get_top_margin (self->prompt_view)
                               + gtk_text_view_get_bottom_margin (self->prompt_view));
}

static void
worker_prompt_tokenized_cb (LlWindow *self, int n_tokens, int max_tokens)
{
  if (!ll_session_is_imported (self->session))
    ll_window_show_prompt_count (self, n_tokens, max_tokens);
}

static void
top_k_changed_cb (LlWindow *self)
{
  int k = (int) gtk_adjustment_get_value (self->top_k_adjustment);
  if (self->settings != NULL)
    g_settings_set_int (self->settings, "top-k", k);
  if (!ll_session_is_imported (self->session))
    schedule_run (self);
}

/* ---- selection from the views ---- */

static void
cell_selected_cb (LlChartView *view, int row, int pos, LlWindow *self)
{
  ll_session_set_selection (self->session, row, pos);
}

static void
dark_changed_cb (LlWindow *self)
{
  self->state.dark = adw_style_manager_get_dark (adw_style_manager_get_default ());
  ll_window_push_state (self);
}

/* ---- lifecycle ---- */

static gboolean
ll_window_close_request (GtkWindow *window)
{
  LlWindow *self = LL_WINDOW (window);

  if (self->settings != NULL)
    {
      int width, height;
      gtk_window_get_default_size (window, &width, &height);
      g_settings_delay (self->settings);
      g_settings_set_int (self->settings, "window-width", width);
      g_settings_set_int (self->settings, "window-height", height);
      g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
      /* What the user typed for the model, not what a results file put in the entries. */
      g_autofree char *prompt
          = ll_session_is_imported (self->session) ? NULL : ll_window_dup_prompt_text (self);
      g_settings_set_string (self->settings, "last-prompt",
                             ll_session_is_imported (self->session) ? self->live.prompt : prompt);
      g_settings_set_string (self->settings, "last-targets",
                             ll_session_is_imported (self->session)
                                 ? self->live.targets
                                 : gtk_editable_get_text (GTK_EDITABLE (self->target_entry)));
      g_settings_apply (self->settings);
    }
  ll_worker_cancel (self->worker);
  return GTK_WINDOW_CLASS (ll_window_parent_class)->close_request (window);
}

static void
restore_settings (LlWindow *self)
{
  if (self->settings == NULL)
    return;

  GSettings *s = self->settings;
  gtk_window_set_default_size (GTK_WINDOW (self), g_settings_get_int (s, "window-width"),
                               g_settings_get_int (s, "window-height"));
  if (g_settings_get_boolean (s, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  g_autofree char *heatmap_scale = g_settings_get_string (s, "heatmap-scale");
  g_autofree char *target_scale = g_settings_get_string (s, "target-scale");
  g_action_group_change_action_state (G_ACTION_GROUP (self), "heatmap-scale",
                                      g_variant_new_string (heatmap_scale));
  g_action_group_change_action_state (G_ACTION_GROUP (self), "target-scale",
                                      g_variant_new_string (target_scale));
  g_action_group_change_action_state (
      G_ACTION_GROUP (self), "sublayers",
      g_variant_new_boolean (g_settings_get_boolean (s, "sublayers")));
  g_autofree char *color_by = g_settings_get_string (s, "heatmap-color-by");
  g_action_group_change_action_state (G_ACTION_GROUP (self), "heatmap-color-by",
                                      g_variant_new_string (color_by));
  g_autofree char *line_metric = g_settings_get_string (s, "line-metric");
  g_action_group_change_action_state (G_ACTION_GROUP (self), "line-metric",
                                      g_variant_new_string (line_metric));
  g_action_group_change_action_state (
      G_ACTION_GROUP (self), "line-track-top1",
      g_variant_new_boolean (g_settings_get_boolean (s, "line-track-top1")));
  g_autofree char *probability_scale = g_settings_get_string (s, "probability-scale");
  g_action_group_change_action_state (G_ACTION_GROUP (self), "probability-scale",
                                      g_variant_new_string (probability_scale));
  gtk_adjustment_set_value (self->top_k_adjustment, g_settings_get_int (s, "top-k"));
  g_action_group_change_action_state (G_ACTION_GROUP (self), "threads",
                                      g_variant_new_int32 (g_settings_get_int (s, "threads")));

  g_autofree char *view = g_settings_get_string (s, "current-view");
  ll_window_set_visible_view (self, view);

  g_autofree char *prompt = g_settings_get_string (s, "last-prompt");
  g_autofree char *targets = g_settings_get_string (s, "last-targets");
  gtk_editable_set_text (GTK_EDITABLE (self->target_entry), targets);
  ll_window_set_prompt_text_quietly (self, prompt);
}

static GSettings *
new_settings_if_installed (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema
      = source != NULL ? g_settings_schema_source_lookup (source, APP_ID, TRUE) : NULL;
  if (schema == NULL)
    {
      g_warning ("GSettings schema %s is not installed; settings will not be saved", APP_ID);
      return NULL;
    }
  return g_settings_new_full (schema, NULL, NULL);
}

static void
ll_window_dispose (GObject *object)
{
  LlWindow *self = LL_WINDOW (object);

  g_clear_handle_id (&self->debounce_id, g_source_remove);
  g_clear_handle_id (&self->progress_delay_id, g_source_remove);
  if (self->worker != NULL)
    ll_worker_cancel (self->worker);
  if (self->open_cancellable != NULL)
    g_cancellable_cancel (self->open_cancellable);
  g_clear_object (&self->open_cancellable);
  g_clear_handle_id (&self->open_pulse_id, g_source_remove);
  if (self->heatmap_scroll != NULL)
    ll_window_follow_right_end (self, FALSE);
  gtk_widget_dispose_template (GTK_WIDGET (self), LL_TYPE_WINDOW);

  G_OBJECT_CLASS (ll_window_parent_class)->dispose (object);
}

static void
ll_window_finalize (GObject *object)
{
  LlWindow *self = LL_WINDOW (object);

  g_clear_object (&self->settings);
  g_clear_object (&self->worker);
  g_clear_object (&self->session);
  g_clear_object (&self->target_names);
  g_free (self->notice);
  g_free (self->export_notice);
  g_free (self->loading_dir);
  g_free (self->live.prompt);
  g_free (self->live.targets);
  g_free (self->live.content_before_open);
  g_free (self->live.status_before_open);

  G_OBJECT_CLASS (ll_window_parent_class)->finalize (object);
}

static void
ll_window_class_init (LlWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = ll_window_dispose;
  object_class->finalize = ll_window_finalize;
  window_class->close_request = ll_window_close_request;

  /* Emitted after a new result is shown (tests wait for it). */
  signals[SIGNAL_RESULT_CHANGED]
      = g_signal_new ("result-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 0);
  /* Emitted when a results file has been opened (TRUE) or failed to open (FALSE). */
  signals[SIGNAL_OPEN_FINISHED]
      = g_signal_new ("open-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/logitlens/LogitLens/ll-window.ui");
  g_type_ensure (LL_TYPE_COMPARE_PAGE);
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, LlWindow, name)
  BIND (toast_overlay);
  BIND (model_button);
  BIND (model_icon_stack);
  BIND (model_spinner);
  BIND (model_button_label);
  BIND (error_revealer);
  BIND (error_label);
  BIND (imported_revealer);
  BIND (imported_label);
  BIND (switcher_title);
  BIND (top_k_spin);
  BIND (prompt_box);
  BIND (prompt_scroll);
  BIND (prompt_view);
  BIND (prompt_placeholder);
  BIND (prompt_count_label);
  BIND (target_entry);
  BIND (model_summary);
  BIND (notice_label);
  BIND (status_label);
  BIND (paned);
  BIND (content_stack);
  BIND (loading_page);
  BIND (loading_spinner);
  BIND (error_page);
  BIND (error_open_button);
  BIND (view_stack);
  BIND (heatmap_scroll);
  BIND (target_scroll);
  BIND (line_scroll);
  BIND (topk_scroll);
  BIND (target_dropdown);
  BIND (target_stack);
  BIND (line_position_label);
  BIND (compare_page);
  BIND (progress_bar);
  BIND (top_k_adjustment);
  BIND (model_menu);
  BIND (threads_menu);
  BIND (range_button);
  BIND (range_popover);
  BIND (range_layers_entry);
  BIND (range_positions_entry);
  BIND (range_error_label);
  BIND (range_apply_button);
  BIND (range_reset_button);
#undef BIND
}

static void
ll_window_init (LlWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->worker = ll_worker_new ();
  ll_compare_page_set_worker (self->compare_page, self->worker);
  self->session = ll_session_new ();
  g_signal_connect_object (self->session, "changed", G_CALLBACK (session_changed_cb), self,
                           G_CONNECT_SWAPPED);
  self->target_names = gtk_string_list_new (NULL);
  self->notice = g_strdup ("");
  self->export_notice = g_strdup ("");
  self->live.prompt = g_strdup ("");
  self->live.targets = g_strdup ("");
  gtk_drop_down_set_model (self->target_dropdown, G_LIST_MODEL (self->target_names));

  lens_paint_state_init (&self->state);
  self->state.sel_row = self->state.sel_pos = -1;
  self->state.hover_row = self->state.hover_pos = -1;
  self->state.transparent_background = true;
  self->state.heatmap_scale = LENS_SCALE_RDYLBU;
  self->state.target_scale = LENS_SCALE_BLUES;
  self->state.dark = adw_style_manager_get_dark (adw_style_manager_get_default ());

  GtkScrolledWindow *scrolls[4]
      = {self->heatmap_scroll, self->target_scroll, self->line_scroll, self->topk_scroll};
  const char *descriptions[4] = {
      N_ ("Top-token heatmap: layers by input positions, each cell shows the most likely next "
          "token"),
      N_ ("Target heatmap: probability of the chosen target token at every layer and position"),
      N_ ("Line plot: probability of each target token across layers at the selected position"),
      N_ ("Top tokens of the selected cell with their probabilities"),
  };
  for (int v = 0; v < 4; v++)
    {
      self->views[v] = LL_CHART_VIEW (ll_chart_view_new ((LensView) v));
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->views[v]),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      ll_window_view_title ((LensView) v),
                                      GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, _ (descriptions[v]), -1);
      gtk_scrolled_window_set_child (scrolls[v], GTK_WIDGET (self->views[v]));
      g_signal_connect (self->views[v], "cell-selected", G_CALLBACK (cell_selected_cb), self);
    }
  ll_window_follow_heatmap_scrolls (self);
  ll_window_range_init (self);

  ll_window_model_init (self);
  ll_window_results_init (self);
  ll_window_actions_init (self);

  g_signal_connect_object (prompt_buffer (self), "changed", G_CALLBACK (prompt_changed_cb), self,
                           G_CONNECT_SWAPPED);
  fit_prompt_lines (self);
  ll_window_targets_init (self);
  g_signal_connect_object (self->worker, "notify::busy", G_CALLBACK (worker_busy_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->worker, "progress", G_CALLBACK (worker_progress_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->worker, "partial-result", G_CALLBACK (worker_partial_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->worker, "prompt-tokenized",
                           G_CALLBACK (worker_prompt_tokenized_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (adw_style_manager_get_default (), "notify::dark",
                           G_CALLBACK (dark_changed_cb), self, G_CONNECT_SWAPPED);

  /* the heatmaps narrow their cells to show the whole prompt in the pane when they can */
  self->state.shrink_to_fit = true;
  self->settings = new_settings_if_installed ();
  restore_settings (self);
  /* Connected after restoring so that restoring does not write the settings back. */
  g_signal_connect_object (self->top_k_adjustment, "value-changed", G_CALLBACK (top_k_changed_cb),
                           self, G_CONNECT_SWAPPED);

  /* The side panel keeps its natural width; the views get the rest. */
  int width, height;
  gtk_window_get_default_size (GTK_WINDOW (self), &width, &height);
  gtk_paned_set_position (self->paned, MAX (width - 300, 360));
  ll_window_set_content (self, "empty");
  ll_window_push_state (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->prompt_view));
}

LlWindow *
ll_window_new (GtkApplication *application)
{
  return g_object_new (LL_TYPE_WINDOW, "application", application, NULL);
}

LlWorker *
ll_window_get_worker (LlWindow *self)
{
  return self->worker;
}

LensResult *
ll_window_get_result (LlWindow *self)
{
  return ll_session_get_result (self->session);
}

const LensPaintState *
ll_window_get_paint_state (LlWindow *self)
{
  return &self->state;
}

GtkWidget *
ll_window_get_view (LlWindow *self, LensView view)
{
  if (view == LENS_VIEW_DIFF)
    return ll_compare_page_get_diff_view (self->compare_page);
  g_return_val_if_fail ((int) view >= 0 && (int) view < 4, NULL);
  return GTK_WIDGET (self->views[view]);
}

LlComparePage *
ll_window_get_compare_page (LlWindow *self)
{
  return self->compare_page;
}

GtkTextView *
ll_window_get_prompt_view (LlWindow *self)
{
  return self->prompt_view;
}

const char *
ll_window_get_prompt_count (LlWindow *self)
{
  return gtk_label_get_text (self->prompt_count_label);
}

GtkEditable *
ll_window_get_target_entry (LlWindow *self)
{
  return GTK_EDITABLE (self->target_entry);
}

const char *
ll_window_get_content_state (LlWindow *self)
{
  return gtk_stack_get_visible_child_name (self->content_stack);
}

const char *
ll_window_get_error_message (LlWindow *self)
{
  if (!gtk_revealer_get_reveal_child (self->error_revealer))
    return NULL;
  return gtk_label_get_text (self->error_label);
}

void
ll_window_set_visible_view (LlWindow *self, const char *name)
{
  LensView view;
  if (lens_view_from_string (name, &view) && view != LENS_VIEW_TOPK)
    adw_view_stack_set_visible_child_name (self->view_stack, name);
}
