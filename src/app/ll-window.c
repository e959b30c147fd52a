/* ll-window.c: the main window. Input (prompt, targets) goes to the worker after a short pause;
 * results come back on the main thread and are handed to the chart views with one paint state.
 * The view settings and navigation actions are in ll-window-actions.c, the struct in
 * ll-window-private.h. Still large (about 2,300 lines): the results files, the model menu and the
 * Range are the next parts to move to their own files (issue 14). */
#include "config.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "lens-error.h"
#include "lens-format.h"
#include "lens-locate.h"
#include "lens-results-io.h"
#include "lens-threads.h"
#include "ll-chart-view.h"
#include "ll-compare-page.h"
#include "ll-ndif-dialog.h"
#include "ll-window-private.h"

/* Typing recomputes after this pause, so a fast typist does not start a run per key. */
#define DEBOUNCE_MS 150
/* The prompt editor grows with its text up to this many lines, then scrolls: a paragraph stays
 * readable while the views keep most of the window. */
#define PROMPT_MAX_LINES 6
/* Cache hits finish well within this; only real runs show the progress bar. */
#define PROGRESS_DELAY_MS 120
#define MAX_RECENT_MODELS 8

G_DEFINE_FINAL_TYPE (LlWindow, ll_window, ADW_TYPE_APPLICATION_WINDOW)

enum
{
  SIGNAL_RESULT_CHANGED,
  SIGNAL_OPEN_FINISHED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void update_targets (LlWindow *self);
static void prompt_changed_cb (LlWindow *self);
static void leave_imported (LlWindow *self);

/* ---- small helpers ---- */

static const char *
view_title (LensView view)
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

static void
show_error (LlWindow *self, const char *message)
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

/* A model that loads answers only its own failure: an error about anything else (a results
 * file given on the command line while the model was loading) stays until it is dismissed. */
static void
hide_model_load_error (LlWindow *self)
{
  if (self->error_is_model_load)
    ll_window_hide_error (self);
}

/* ---- the prompt ---- */

static GtkTextBuffer *
prompt_buffer (LlWindow *self)
{
  return gtk_text_view_get_buffer (self->prompt_view);
}

/* The prompt as typed, newlines included (the tokenizer sees them). Free with g_free. */
static char *
dup_prompt_text (LlWindow *self)
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
static void
set_prompt_text_quietly (LlWindow *self, const char *text)
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
static void
show_prompt_count (LlWindow *self, int n_tokens, int max_tokens)
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

static void
set_content (LlWindow *self, const char *name)
{
  gtk_stack_set_visible_child_name (self->content_stack, name);
  gboolean loading = g_strcmp0 (name, "loading") == 0;
  gtk_spinner_set_spinning (self->loading_spinner, loading);
}

static void
update_selection_labels (LlWindow *self)
{
  const LensResult *r = self->result;
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

void
ll_window_push_state (LlWindow *self)
{
  self->state.targets = self->targets->len > 0 ? (LensTarget *const *) self->targets->pdata : NULL;
  self->state.n_targets = (int) self->targets->len;
  if (self->state.active_target >= self->state.n_targets)
    self->state.active_target = 0;
  for (int v = 0; v < 4; v++)
    ll_chart_view_set_state (self->views[v], &self->state);
  ll_compare_page_set_current (self->compare_page, self->result, &self->state);
  update_selection_labels (self);
}

/* What the summary line says about a model; unknown values (0, NULL) are left out. */
typedef struct
{
  const char *name;
  const char *architecture; /* config.json's model_type */
  int64_t n_params;
  const char *dtype;  /* "F32", "F16", "BF16" or "mixed" */
  const char *layers; /* "12 layers", or how many of them a results file shows */
  int width, n_head, n_kv_head, vocab_size, context_length;
  double final_softcap; /* the output head's soft-cap, which every row of the lens applies */
} ModelFacts;

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
static char *
model_facts_text (const ModelFacts *f)
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

static void
set_model_summary (LlWindow *self, const char *summary)
{
  gtk_label_set_text (self->model_summary, summary);
  /* The line is ellipsized in a narrow window; the tooltip keeps all of it readable. */
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->model_summary),
                               summary[0] != '\0' ? summary : NULL);
}

/* "meta-llama/Llama-3.1-70B · 80 layers · from results file “x.json”", with whatever else the
 * file tells of the model (logitlenskit files only name it). */
static void
update_imported_labels (LlWindow *self)
{
  const LensResult *r = self->result;
  g_autofree char *base = g_filename_display_basename (self->imported_path);
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
  g_autofree char *facts_text = model_facts_text (&facts);
  g_autofree char *summary = g_strdup_printf (_ ("%s · from results file “%s”"), facts_text, base);
  set_model_summary (self, summary);
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

static void
update_model_labels (LlWindow *self)
{
  LensModel *model = ll_worker_get_model (self->worker);
  if (self->imported && self->result != NULL)
    update_imported_labels (self);
  if (model == NULL)
    {
      gtk_label_set_text (self->model_button_label, _ ("No Model"));
      if (!self->imported)
        set_model_summary (self, "");
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
  if (self->imported)
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
  g_autofree char *summary = model_facts_text (&facts);
  set_model_summary (self, summary);
}

/* A shown result that no longer answers what the window says (another model is loading or has
 * just loaded): dimmed and not interactive until its replacement arrives. */
static void
set_stale (LlWindow *self, gboolean stale)
{
  gtk_widget_set_opacity (GTK_WIDGET (self->paned), stale ? 0.4 : 1.0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->paned), !stale);
}

static void
set_model_loading (LlWindow *self, gboolean loading)
{
  gtk_stack_set_visible_child_name (self->model_icon_stack, loading ? "spinner" : "icon");
  gtk_spinner_set_spinning (self->model_spinner, loading);
  /* the old model's result, under the new model's header soon: not the new model's answer */
  if (loading && !self->imported && self->result != NULL)
    set_stale (self, TRUE);
  if (loading)
    gtk_label_set_text (self->model_button_label, _ ("Loading…"));
  else
    update_model_labels (self);
}

/* ---- targets ---- */

/* The target of `list` (LensTarget *) with this text, or NULL. */
static const LensTarget *
find_target (GPtrArray *list, const char *text)
{
  for (guint i = 0; list != NULL && i < list->len; i++)
    {
      const LensTarget *t = g_ptr_array_index (list, i);
      if (g_strcmp0 (t->text, text) == 0)
        return t;
    }
  return NULL;
}

static void
set_notice (LlWindow *self, const char *notice)
{
  g_free (self->notice);
  self->notice = g_strdup (notice != NULL ? notice : "");
  gtk_label_set_text (self->notice_label, self->notice);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->notice_label),
                               self->notice[0] != '\0' ? self->notice : NULL);
}

static void
update_targets (LlWindow *self)
{
  g_auto (GStrv) texts
      = lens_targets_split (gtk_editable_get_text (GTK_EDITABLE (self->target_entry)));
  g_autoptr (GString) notice = g_string_new (NULL);
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  const LensResult *r = self->result;

  /* The views still point into the previous array: it goes once they have the new one. */
  g_autoptr (GPtrArray) previous = g_steal_pointer (&self->targets);
  self->targets = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
  /* A new prompt on the same model keeps the targets' ids: each is tokenized once. */
  gboolean same_model = r != NULL && r->model != NULL && r->model == self->targets_model;
  g_clear_pointer (&self->targets_model, lens_model_unref);
  if (r != NULL && r->model != NULL)
    self->targets_model = lens_model_ref (r->model);
  int bad_row = 0, bad_pos = 0;
  size_t n_bad = r != NULL ? lens_result_count_nonfinite (r, &bad_row, &bad_pos) : 0;
  if (n_bad > 0)
    g_string_append_printf (notice,
                            _ ("The model produced NaN or infinity at %zu of %zu cells, first at "
                               "layer %s, position %d: its weights may be corrupt."),
                            n_bad, (size_t) r->n_rows * r->n_tokens, r->row_labels[bad_row],
                            r->first_pos + bad_pos);
  for (int i = 0; r != NULL && texts[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      /* a shown file's own target keeps the ids the file gave for it */
      const LensTarget *known = find_target (self->file_targets, texts[i]);
      if (known == NULL && same_model)
        known = find_target (previous, texts[i]);
      LensTarget *t = known != NULL ? lens_target_for_result (known, r, &error)
                                    : lens_target_compute (texts[i], r, &error);
      if (t == NULL)
        {
          if (notice->len > 0)
            g_string_append (notice, "  ");
          g_string_append_printf (notice, _ ("Cannot track “%s”: %s."), texts[i], error->message);
          continue;
        }
      if (t->n_ids > 1 && t->id >= 0)
        {
          if (notice->len > 0)
            g_string_append (notice, "  ");
          g_string_append_printf (notice, _ ("“%s” is %d tokens; tracking its first, “%s”."),
                                  texts[i], t->n_ids, t->label);
        }
      g_ptr_array_add (self->targets, t);
      g_autofree char *name = g_strdup_printf ("“%s”", t->label);
      g_strv_builder_add (names, name);
    }
  set_notice (self, notice->str);

  /* The drop-down keeps the chosen target when the list only grows or shrinks at the end. */
  g_auto (GStrv) name_list = g_strv_builder_end (names);
  int active = self->state.active_target;
  guint old_n = g_list_model_get_n_items (G_LIST_MODEL (self->target_names));
  gtk_string_list_splice (self->target_names, 0, old_n, (const char *const *) name_list);
  if (active < 0 || active >= (int) self->targets->len)
    active = 0;
  self->state.active_target = active;
  if (self->targets->len > 0)
    gtk_drop_down_set_selected (self->target_dropdown, (guint) active);
  gtk_widget_set_sensitive (GTK_WIDGET (self->target_dropdown), self->targets->len > 1);
  gtk_stack_set_visible_child_name (self->target_stack, self->targets->len > 0 ? "view" : "none");
  ll_window_push_state (self);
}

static void
target_entry_changed_cb (LlWindow *self)
{
  /* Cheap: one GEMV over the cached normalised residuals per target, no model run. */
  update_targets (self);
}

static void
target_dropdown_selected_cb (LlWindow *self)
{
  guint selected = gtk_drop_down_get_selected (self->target_dropdown);
  if (selected == GTK_INVALID_LIST_POSITION || selected >= self->targets->len)
    return;
  if ((int) selected == self->state.active_target)
    return;
  self->state.active_target = (int) selected;
  ll_window_push_state (self);
}

/* ---- results ---- */

/* The part of `r` inside the chosen Range: the rows of blocks first..last (an "L.attn" row with
 * its block; the embeddings row only when the range starts at the first block) and the positions
 * first..last that r has; all of it when no range is chosen or none of it is inside. */
static LensResult *
range_of_result (LlWindow *self, LensResult *r)
{
  if (r == NULL || (!self->has_layer_range && !self->has_position_range))
    return r != NULL ? lens_result_ref (r) : NULL;
  int row0 = 0, n_rows = r->n_rows;
  if (self->has_layer_range)
    {
      int lowest = G_MAXINT;
      for (int row = 0; row < r->n_rows; row++)
        if (r->row_layers[row] >= 0)
          lowest = MIN (lowest, r->row_layers[row]);
      int first = -1, last = -1;
      for (int row = 0; row < r->n_rows; row++)
        {
          int layer = r->row_layers[row];
          gboolean inside = layer == LENS_ROW_EMBEDDINGS ? self->range_layer_first <= lowest
                                                         : layer >= self->range_layer_first
                                                               && layer <= self->range_layer_last;
          if (inside && first < 0)
            first = row;
          if (inside)
            last = row;
        }
      if (first >= 0) /* rows are in block order, so those inside follow each other */
        row0 = first, n_rows = last - first + 1;
    }
  int pos0 = 0, n_pos = r->n_tokens;
  if (self->has_position_range)
    {
      int lo = MAX (self->range_pos_first, r->first_pos);
      int hi = MIN (self->range_pos_last, r->first_pos + r->n_tokens - 1);
      if (lo <= hi)
        pos0 = lo - r->first_pos, n_pos = hi - lo + 1;
    }
  if (row0 == 0 && n_rows == r->n_rows && pos0 == 0 && n_pos == r->n_tokens)
    return lens_result_ref (r);
  LensResult *part = lens_result_slice (r, row0, n_rows, pos0, n_pos, NULL);
  return part != NULL ? part : lens_result_ref (r);
}

static void
set_result (LlWindow *self, LensResult *full)
{
  if (full != NULL)
    lens_result_ref (full);
  g_clear_pointer (&self->full_result, lens_result_unref);
  self->full_result = full;
  LensResult *result = range_of_result (self, full);

  gboolean same_shape = self->result != NULL && result != NULL
                        && self->result->n_rows == result->n_rows
                        && self->result->n_tokens == result->n_tokens;

  g_clear_pointer (&self->result, lens_result_unref);
  self->result = result; /* the reference range_of_result returned */

  /* A selection survives a new result of the same shape (e.g. a changed top-k); otherwise the
   * views fall back to the last position, which is what typing at the end wants. */
  if (!same_shape)
    {
      self->state.sel_row = -1;
      self->state.sel_pos = -1;
    }
  self->state.hover_row = -1;
  self->state.hover_pos = -1;

  /* Views get the new result before the targets computed on it (update_targets). */
  self->state.targets = NULL;
  self->state.n_targets = 0;
  for (int v = 0; v < 4; v++)
    {
      ll_chart_view_set_state (self->views[v], &self->state);
      ll_chart_view_set_result (self->views[v], result);
    }
  update_targets (self);
  ll_compare_page_set_current (self->compare_page, self->result, &self->state);
  set_stale (self, FALSE);
  g_signal_emit (self, signals[SIGNAL_RESULT_CHANGED], 0);
}

/* ---- range ---- */

/* The compare page compares cells by index: it gets the same Range of the pinned result as of
 * the current one, so that both start at the same layer and position. */
void
ll_window_pin_range (LlWindow *self)
{
  if (self->pinned_full == NULL)
    return;
  g_autoptr (LensResult) part = range_of_result (self, self->pinned_full);
  ll_compare_page_pin (self->compare_page, part);
}

static void
range_apply_clicked_cb (LlWindow *self)
{
  g_autoptr (GError) error = NULL;
  if (!ll_window_set_range (self, gtk_editable_get_text (self->range_layers_entry),
                            gtk_editable_get_text (self->range_positions_entry), &error))
    {
      gtk_label_set_text (self->range_error_label, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->range_error_label), TRUE);
      return;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->range_error_label), FALSE);
  gtk_popover_popdown (self->range_popover);
}

static void
range_reset_clicked_cb (LlWindow *self)
{
  gtk_editable_set_text (self->range_layers_entry, "");
  gtk_editable_set_text (self->range_positions_entry, "");
  range_apply_clicked_cb (self);
}

/* A spec of the Range popover: empty for all, else one range inside lo..hi. */
static gboolean
parse_range_entry (const char *spec, const char *what, int lo, int hi, const char *of,
                   gboolean *has, int *first, int *last, GError **error)
{
  g_autofree char *trimmed = g_strstrip (g_strdup (spec != NULL ? spec : ""));
  *has = trimmed[0] != '\0';
  return !*has || lens_range_parse (trimmed, what, lo, hi, of, first, last, error);
}

gboolean
ll_window_set_range (LlWindow *self, const char *layers, const char *positions, GError **error)
{
  g_return_val_if_fail (LL_IS_WINDOW (self), FALSE);
  const LensResult *r = self->full_result;
  /* Bounds from what is shown (none yet: the form only, and a later result shows what it has of
   * the range); the messages are the CLI's (--layers, --positions). */
  int layer_lo = 1, layer_hi = 0, pos_lo = 1, pos_hi = 0;
  g_autofree char *layers_of = NULL, *positions_of = NULL;
  if (r != NULL)
    {
      layer_lo = G_MAXINT, layer_hi = -1;
      for (int row = 0; row < r->n_rows; row++)
        if (r->row_layers[row] >= 0)
          {
            layer_lo = MIN (layer_lo, r->row_layers[row]);
            layer_hi = MAX (layer_hi, r->row_layers[row]);
          }
      if (layer_lo == 0 && layer_hi + 1 == r->model_info.n_layer)
        layers_of = g_strdup_printf ("the model has %d blocks", r->model_info.n_layer);
      pos_lo = r->first_pos;
      pos_hi = r->first_pos + r->n_tokens - 1;
      if (r->first_pos == 0 && r->next_after_last < 0)
        positions_of = g_strdup_printf ("the prompt has %d tokens", r->n_tokens);
    }
  gboolean has_layers, has_positions;
  int layer_first = 0, layer_last = 0, pos_first = 0, pos_last = 0;
  /* Translators: the Range popover's fields, as its error messages name them */
  if (!parse_range_entry (layers, _ ("Layers"), layer_lo, layer_hi, layers_of, &has_layers,
                          &layer_first, &layer_last, error)
      || !parse_range_entry (positions, _ ("Positions"), pos_lo, pos_hi, positions_of,
                             &has_positions, &pos_first, &pos_last, error))
    return FALSE;
  if ((has_layers && r == NULL) || (has_positions && r == NULL))
    {
      g_set_error_literal (error, LENS_ERROR, LENS_ERROR_INPUT,
                           _ ("There is no result yet to choose a range of"));
      return FALSE;
    }
  self->has_layer_range = has_layers;
  self->range_layer_first = layer_first;
  self->range_layer_last = layer_last;
  self->has_position_range = has_positions;
  self->range_pos_first = pos_first;
  self->range_pos_last = pos_last;
  if (has_layers || has_positions)
    gtk_widget_add_css_class (GTK_WIDGET (self->range_button), "accent");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->range_button), "accent");
  gtk_editable_set_text (self->range_layers_entry, layers != NULL ? layers : "");
  gtk_editable_set_text (self->range_positions_entry, positions != NULL ? positions : "");
  if (self->full_result != NULL)
    {
      g_autoptr (LensResult) full = lens_result_ref (self->full_result);
      set_result (self, full);
    }
  ll_window_pin_range (self);
  return TRUE;
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
static void
follow_right_end (LlWindow *self, gboolean follow)
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
  if (self->imported)
    return;
  /* the token count is beside the prompt */
  g_autofree char *status
      = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "computing, %d of %d position ready",
                                      "computing, %d of %d positions ready", partial->n_tokens),
                         partial->n_ready, partial->n_tokens);
  gtk_label_set_text (self->status_label, status);
  gboolean new_shape = self->full_result == NULL || self->full_result->n_tokens != partial->n_tokens
                       || self->full_result->n_rows != partial->n_rows;
  set_content (self, "result");
  set_result (self, partial);
  if (new_shape)
    follow_right_end (self, TRUE);
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
    follow_right_end (self, FALSE);

  /* A run that finished after a results file was opened must not replace it. */
  if (self->imported)
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
      set_result (self, NULL);
      set_content (self, "error");
      return;
    }

  double seconds = (g_get_monotonic_time () - self->run_started_us) / 1e6;
  /* how long it took (the token count is beside the prompt) */
  g_autofree char *status
      = from_cache ? g_strdup (_ ("from cache")) : g_strdup_printf (_ ("%.2f s"), seconds);
  gtk_label_set_text (self->status_label, status);
  set_result (self, result);
  set_content (self, "result");
}

void
ll_window_run_now (LlWindow *self)
{
  g_clear_handle_id (&self->debounce_id, g_source_remove);

  if (ll_worker_get_model (self->worker) == NULL || self->imported)
    return; /* runs when the model has loaded, or when the window is back from a file */

  g_autofree char *prompt = dup_prompt_text (self);
  if (prompt[0] == '\0')
    {
      ll_worker_cancel (self->worker);
      show_prompt_count (self, 0, ll_worker_get_max_prompt_tokens (self->worker));
      gtk_label_set_text (self->status_label, "");
      /* every panel, the side panel too, stops showing the previous prompt */
      follow_right_end (self, FALSE);
      set_result (self, NULL);
      set_content (self, "empty");
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
  if (!self->imported)
    show_prompt_count (self, n_tokens, max_tokens);
}

static void
top_k_changed_cb (LlWindow *self)
{
  int k = (int) gtk_adjustment_get_value (self->top_k_adjustment);
  if (self->settings != NULL)
    g_settings_set_int (self->settings, "top-k", k);
  if (!self->imported)
    schedule_run (self);
}

/* ---- selection from the views ---- */

static void
cell_selected_cb (LlChartView *view, int row, int pos, LlWindow *self)
{
  if (self->state.sel_row == row && self->state.sel_pos == pos)
    return;
  self->state.sel_row = row;
  self->state.sel_pos = pos;
  ll_window_push_state (self);
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
      set_stale (self, FALSE); /* the previous model and its result stay */
      /* starting the load cancelled the run in progress: run the prompt again on the model that
       * stays (the caches make it cheap), or a partial or older result would stay on screen */
      follow_right_end (self, FALSE);
      if (!self->imported && ll_worker_get_model (self->worker) != NULL)
        ll_window_run_now (self);
      g_autofree char *message = NULL;
      if (ll_worker_get_model (self->worker) != NULL)
        message = g_strdup_printf (_ ("Could not open the model in “%s”: %s. Still using %s."), dir,
                                   error->message,
                                   lens_model_name (ll_worker_get_model (self->worker)));
      else
        message = g_strdup_printf (_ ("Could not open the model in “%s”: %s"), dir, error->message);
      show_error (self, message);
      self->error_is_model_load = TRUE;
      if (ll_worker_get_model (self->worker) == NULL)
        {
          adw_status_page_set_title (self->error_page, _ ("No Model"));
          adw_status_page_set_description (self->error_page, message);
          gtk_widget_set_visible (GTK_WIDGET (self->error_open_button), TRUE);
          if (self->open_cancellable != NULL)
            {
              /* Shown if the results file being read fails too. */
              g_free (self->content_before_open);
              self->content_before_open = g_strdup ("error");
            }
          else if (!self->imported)
            set_content (self, "error");
        }
      return;
    }

  LensModel *model = ll_worker_get_model (self->worker);
  if (self->imported && self->leave_imported_on_load)
    leave_imported (self);
  self->leave_imported_on_load = FALSE;
  set_model_loading (self, FALSE);
  hide_model_load_error (self);
  remember_model (self, lens_model_path (model));
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), "open-model");
  g_simple_action_set_state (G_SIMPLE_ACTION (action),
                             g_variant_new_string (lens_model_path (model)));
  if (self->open_cancellable != NULL)
    {
      /* A results file is being read: its loading page stays; a failed open comes back here. */
      g_free (self->content_before_open);
      self->content_before_open = g_strdup ("empty");
    }
  else if (g_strcmp0 (ll_window_get_content_state (self), "loading") == 0
           || g_strcmp0 (ll_window_get_content_state (self), "error") == 0)
    set_content (self, "empty");
  ll_window_run_now (self);
}

void
ll_window_open_model (LlWindow *self, const char *dir)
{
  g_return_if_fail (LL_IS_WINDOW (self));
  g_return_if_fail (dir != NULL);

  g_free (self->loading_dir);
  self->loading_dir = g_strdup (dir);
  self->leave_imported_on_load = self->imported;
  set_model_loading (self, TRUE);
  if (ll_worker_get_model (self->worker) == NULL && !self->imported)
    {
      adw_status_page_set_title (self->loading_page, _ ("Loading Model…"));
      adw_status_page_set_description (self->loading_page, dir);
      set_content (self, "loading");
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
      set_content (self, "error");
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
        show_error (self, _ ("Only local folders can be opened as models"));
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
        show_error (self, _ ("Figures can only be exported to local files"));
      else if (!ll_window_export_view (self, req->view, path, req->scale, &error))
        {
          g_autofree char *message = g_strdup_printf (_ ("Could not export: %s"), error->message);
          show_error (self, message);
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
  if (self->result == NULL)
    {
      ll_window_show_toast (self, _ ("Nothing to export yet: type a prompt first"));
      return;
    }
  if (lens_result_is_partial (self->result))
    {
      ll_window_show_toast (self, _ ("Still computing: export once every position is ready"));
      return;
    }

  const char *format = parts[1];
  const char *ext = g_str_has_prefix (format, "png") ? "png" : format;
  double scale = g_strcmp0 (format, "png2") == 0 ? 2.0 : 1.0;

  g_autofree char *title = g_strdup_printf (_ ("Export %s"), view_title (view));
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

static void
enter_imported (LlWindow *self, LensResult *result, GPtrArray *file_targets, const char *path)
{
  /* a live run cancelled by the opening no longer decides where the heatmaps scroll */
  follow_right_end (self, FALSE);
  if (!self->imported)
    {
      g_free (self->live_prompt);
      self->live_prompt = dup_prompt_text (self);
      g_free (self->live_targets);
      self->live_targets = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->target_entry)));
    }
  self->imported = TRUE;
  self->leave_imported_on_load = FALSE;
  g_clear_handle_id (&self->debounce_id, g_source_remove);
  ll_worker_cancel (self->worker);
  g_free (self->imported_path);
  self->imported_path = g_strdup (path);
  g_clear_pointer (&self->file_targets, g_ptr_array_unref);
  self->file_targets = file_targets != NULL ? g_ptr_array_ref (file_targets) : NULL;

  /* The prompt shows what the file was computed for, and cannot be edited: there is no model
   * behind the result to run a new one. It can still be scrolled, read and copied. */
  g_autoptr (GString) prompt = g_string_new (result->prompt);
  if (result->prompt == NULL)
    for (int t = 0; t < result->n_tokens; t++)
      g_string_append (prompt, result->token_texts[t]);
  set_prompt_text_quietly (self, prompt->str);
  show_prompt_count (self, result->n_tokens, 0);
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

  ll_window_hide_error (self);
  gtk_label_set_text (self->status_label, "");
  set_result (self, result);
  g_autofree char *targets = file_targets_entry_text (result, file_targets);
  /* the file's targets are tracked as the entry changes */
  gtk_editable_set_text (GTK_EDITABLE (self->target_entry), targets);
  update_imported_labels (self);
  gtk_revealer_set_reveal_child (self->imported_revealer, TRUE);
  set_content (self, "result");
}

static void
leave_imported (LlWindow *self)
{
  if (!self->imported)
    return;
  self->imported = FALSE;
  g_clear_pointer (&self->imported_path, g_free);
  g_clear_pointer (&self->file_targets, g_ptr_array_unref);
  gtk_revealer_set_reveal_child (self->imported_revealer, FALSE);
  adw_view_switcher_title_set_subtitle (self->switcher_title, NULL);
  gtk_text_view_set_editable (self->prompt_view, TRUE);
  gtk_widget_remove_css_class (GTK_WIDGET (self->prompt_view), "read-only");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->prompt_view),
                               _ ("Prompt: the lens runs as you type"));
  gtk_widget_set_sensitive (GTK_WIDGET (self->top_k_spin), TRUE);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->top_k_spin), _ ("Tokens kept per cell"));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->target_entry),
                               _ ("Target tokens, separated by commas. A leading space is added, "
                                  "as words inside a sentence have one; write \"quotes\" for an "
                                  "exact token text."));
  set_prompt_text_quietly (self, self->live_prompt);
  /* the count of the prompt typed for the model comes back with its run */
  show_prompt_count (self, -1, 0);
  /* The file's result goes: its targets are not the model's. */
  gtk_label_set_text (self->status_label, "");
  set_result (self, NULL);
  gtk_editable_set_text (GTK_EDITABLE (self->target_entry), self->live_targets);
  set_content (self, "empty");
  update_model_labels (self);
  ll_window_run_now (self);
}

typedef struct
{
  LensResult *result;
  GPtrArray *targets;
} OpenedFile;

static void
opened_file_free (OpenedFile *f)
{
  g_clear_pointer (&f->result, lens_result_unref);
  g_clear_pointer (&f->targets, g_ptr_array_unref);
  g_free (f);
}

static void
open_results_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  const char *path = task_data;
  g_autoptr (GError) error = NULL;
  OpenedFile *f = g_new0 (OpenedFile, 1);

  /* The parser cannot be interrupted; a cancelled open is dropped when it returns. */
  f->result = lens_results_load_full (path, &f->targets, &error);
  if (f->result == NULL)
    {
      opened_file_free (f);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, f, (GDestroyNotify) opened_file_free);
}

static void
open_results_done_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  LlWindow *self = LL_WINDOW (source);
  GTask *task = G_TASK (res);
  g_autoptr (GError) error = NULL;
  OpenedFile *f = g_task_propagate_pointer (task, &error);
  GCancellable *cancellable = g_task_get_cancellable (task);

  if (g_cancellable_is_cancelled (cancellable))
    {
      /* A newer open (or the window closing) took over. */
      g_clear_pointer (&f, opened_file_free);
      return;
    }
  g_clear_object (&self->open_cancellable);
  g_clear_handle_id (&self->open_pulse_id, g_source_remove);
  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), FALSE);
  g_autofree char *before = g_steal_pointer (&self->content_before_open);
  g_autofree char *status_before = g_steal_pointer (&self->status_before_open);

  if (f == NULL)
    {
      /* What was shown stays; the engine's message says what is wrong and where. */
      if (g_strcmp0 (before, "loading") == 0)
        {
          /* Only a model can still be loading: its page comes back. */
          adw_status_page_set_title (self->loading_page, _ ("Loading Model…"));
          adw_status_page_set_description (self->loading_page, self->loading_dir);
        }
      if (before != NULL)
        set_content (self, before);
      gtk_label_set_text (self->status_label, status_before != NULL ? status_before : "");
      if (self->imported && self->result != NULL)
        update_imported_labels (self);
      g_autofree char *message
          = g_strdup_printf (_ ("Could not open the results: %s"), error->message);
      show_error (self, message);
      g_signal_emit (self, signals[SIGNAL_OPEN_FINISHED], 0, FALSE);
      return;
    }
  enter_imported (self, f->result, f->targets, g_task_get_task_data (task));
  opened_file_free (f);
  g_signal_emit (self, signals[SIGNAL_OPEN_FINISHED], 0, TRUE);
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
  if (self->content_before_open == NULL)
    {
      self->content_before_open = g_strdup (content);
      self->status_before_open = g_strdup (gtk_label_get_text (self->status_label));
    }
  g_autofree char *base = g_filename_display_basename (path);
  g_autofree char *status = g_strdup_printf (_ ("Opening “%s”…"), base);
  gtk_label_set_text (self->status_label, status);
  if (g_strcmp0 (content, "result") != 0)
    {
      adw_status_page_set_title (self->loading_page, _ ("Opening Results…"));
      adw_status_page_set_description (self->loading_page, base);
      set_content (self, "loading");
    }
  else
    {
      gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), TRUE);
      gtk_progress_bar_pulse (self->progress_bar);
      if (self->open_pulse_id == 0)
        self->open_pulse_id = g_timeout_add (100, open_pulse_cb, self);
    }

  GTask *task = g_task_new (self, self->open_cancellable, open_results_done_cb, NULL);
  g_task_set_source_tag (task, ll_window_open_results);
  g_task_set_task_data (task, g_strdup (path), g_free);
  g_task_run_in_thread (task, open_results_thread);
  g_object_unref (task);
}

gboolean
ll_window_get_opening (LlWindow *self)
{
  return self->open_cancellable != NULL;
}

gboolean
ll_window_get_imported (LlWindow *self)
{
  return self->imported;
}

const char *
ll_window_get_model_summary (LlWindow *self)
{
  return gtk_label_get_text (self->model_summary);
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
        show_error (self, _ ("Only local files can be opened"));
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
  g_autofree char *prompt = dup_prompt_text (self);
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
    leave_imported (self);
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
        show_error (self, _ ("Results can only be saved to local files"));
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
          show_error (self, message);
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
  if (self->result == NULL)
    {
      ll_window_show_toast (self,
                            _ ("Nothing to save yet: type a prompt or open a results file first"));
      return;
    }
  if (lens_result_is_partial (self->result))
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

/* ---- the two heatmaps scroll together ---- */

static GtkAdjustment *
heatmap_adjustment (GtkScrolledWindow *scroll, int axis)
{
  return axis == 0 ? gtk_scrolled_window_get_hadjustment (scroll)
                   : gtk_scrolled_window_get_vadjustment (scroll);
}

static gboolean
heatmap_scroll_visible (LlWindow *self, GtkAdjustment *adj, int *axis)
{
  const char *name = adw_view_stack_get_visible_child_name (self->view_stack);
  GtkScrolledWindow *scroll = g_strcmp0 (name, "heatmap") == 0  ? self->heatmap_scroll
                              : g_strcmp0 (name, "target") == 0 ? self->target_scroll
                                                                : NULL;
  for (int a = 0; scroll != NULL && a < 2; a++)
    if (heatmap_adjustment (scroll, a) == adj)
      {
        *axis = a;
        return TRUE;
      }
  return FALSE;
}

/* The shown heatmap scrolled: remember where, for the other one. */
static void
heatmap_scrolled_cb (GtkAdjustment *adj, LlWindow *self)
{
  int axis;
  if (heatmap_scroll_visible (self, adj, &axis))
    self->heatmap_scroll_xy[axis] = gtk_adjustment_get_value (adj);
}

/* The shown heatmap got its size (after a switch of views, or a new result): scroll it to
 * where the other one was, so switching views keeps the place. */
static void
heatmap_resized_cb (GtkAdjustment *adj, LlWindow *self)
{
  int axis;
  if (heatmap_scroll_visible (self, adj, &axis)
      && gtk_adjustment_get_value (adj) != self->heatmap_scroll_xy[axis])
    gtk_adjustment_set_value (adj, self->heatmap_scroll_xy[axis]);
}

static void
follow_heatmap_scroll (LlWindow *self, GtkScrolledWindow *scroll)
{
  for (int a = 0; a < 2; a++)
    {
      GtkAdjustment *adj = heatmap_adjustment (scroll, a);
      g_signal_connect_object (adj, "value-changed", G_CALLBACK (heatmap_scrolled_cb), self, 0);
      g_signal_connect_object (adj, "changed", G_CALLBACK (heatmap_resized_cb), self, 0);
    }
}

static void
visible_view_changed_cb (LlWindow *self)
{
  const char *name = adw_view_stack_get_visible_child_name (self->view_stack);
  for (int v = 0; v < 2; v++)
    for (int a = 0; a < 2; a++)
      heatmap_resized_cb (
          heatmap_adjustment (v == 0 ? self->heatmap_scroll : self->target_scroll, a), self);
  if (self->settings != NULL && name != NULL)
    g_settings_set_string (self->settings, "current-view", name);
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
      g_autofree char *prompt = self->imported ? NULL : dup_prompt_text (self);
      g_settings_set_string (self->settings, "last-prompt",
                             self->imported ? self->live_prompt : prompt);
      g_settings_set_string (self->settings, "last-targets",
                             self->imported
                                 ? self->live_targets
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
  set_prompt_text_quietly (self, prompt);
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
    follow_right_end (self, FALSE);
  gtk_widget_dispose_template (GTK_WIDGET (self), LL_TYPE_WINDOW);

  G_OBJECT_CLASS (ll_window_parent_class)->dispose (object);
}

static void
ll_window_finalize (GObject *object)
{
  LlWindow *self = LL_WINDOW (object);

  g_clear_object (&self->settings);
  g_clear_object (&self->worker);
  g_clear_pointer (&self->result, lens_result_unref);
  g_clear_pointer (&self->full_result, lens_result_unref);
  g_clear_pointer (&self->pinned_full, lens_result_unref);
  g_clear_pointer (&self->targets, g_ptr_array_unref);
  g_clear_pointer (&self->targets_model, lens_model_unref);
  g_clear_object (&self->target_names);
  g_free (self->notice);
  g_free (self->export_notice);
  g_free (self->loading_dir);
  g_free (self->imported_path);
  g_clear_pointer (&self->file_targets, g_ptr_array_unref);
  g_free (self->live_prompt);
  g_free (self->live_targets);
  g_free (self->content_before_open);
  g_free (self->status_before_open);

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

static const GActionEntry win_entries[] = {
    {"open-model", NULL, "s", "''", open_model_change_state},
    {"open-model-folder", open_model_folder_activated},
    {"export-view", export_view_activated, "s"},
    {"open-results", open_results_activated},
    {"run-on-ndif", run_on_ndif_activated},
    {"save-results", save_results_activated},
    {"export-logitlenskit", export_logitlenskit_activated},
    {"back-to-model", back_to_model_activated},
};

static void
ll_window_init (LlWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->worker = ll_worker_new ();
  ll_compare_page_set_worker (self->compare_page, self->worker);
  self->targets = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
  self->target_names = gtk_string_list_new (NULL);
  self->notice = g_strdup ("");
  self->export_notice = g_strdup ("");
  self->live_prompt = g_strdup ("");
  self->live_targets = g_strdup ("");
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
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, view_title ((LensView) v),
                                      GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, _ (descriptions[v]), -1);
      gtk_scrolled_window_set_child (scrolls[v], GTK_WIDGET (self->views[v]));
      g_signal_connect (self->views[v], "cell-selected", G_CALLBACK (cell_selected_cb), self);
    }
  follow_heatmap_scroll (self, self->heatmap_scroll);
  follow_heatmap_scroll (self, self->target_scroll);
  g_signal_connect_swapped (self->range_apply_button, "clicked",
                            G_CALLBACK (range_apply_clicked_cb), self);
  g_signal_connect_swapped (self->range_reset_button, "clicked",
                            G_CALLBACK (range_reset_clicked_cb), self);
  g_signal_connect_swapped (self->range_layers_entry, "activate",
                            G_CALLBACK (range_apply_clicked_cb), self);
  g_signal_connect_swapped (self->range_positions_entry, "activate",
                            G_CALLBACK (range_apply_clicked_cb), self);

  g_action_map_add_action_entries (G_ACTION_MAP (self), win_entries, G_N_ELEMENTS (win_entries),
                                   self);
  ll_window_actions_init (self);

  g_signal_connect_object (prompt_buffer (self), "changed", G_CALLBACK (prompt_changed_cb), self,
                           G_CONNECT_SWAPPED);
  fit_prompt_lines (self);
  g_signal_connect_object (self->target_entry, "changed", G_CALLBACK (target_entry_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->target_dropdown, "notify::selected",
                           G_CALLBACK (target_dropdown_selected_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (gtk_menu_button_get_popover (self->model_button), "notify::visible",
                           G_CALLBACK (model_popover_visible_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->view_stack, "notify::visible-child-name",
                           G_CALLBACK (visible_view_changed_cb), self, G_CONNECT_SWAPPED);
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
  set_content (self, "empty");
  ll_window_push_state (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->prompt_view));
}

LlWindow *
ll_window_new (GtkApplication *application)
{
  return g_object_new (LL_TYPE_WINDOW, "application", application, NULL);
}

/* ---- public helpers ---- */

gboolean
ll_window_export_view (LlWindow *self, LensView view, const char *path, double scale,
                       GError **error)
{
  g_return_val_if_fail (LL_IS_WINDOW (self), FALSE);

  if (self->result == NULL)
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
  if (!lens_export_view (path, view, self->result, &state, scale, error))
    return FALSE;

  /* A heatmap of a long prompt holds its last positions only: say which, where the user looks. */
  const LensResult *r = self->result;
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

  if (self->result == NULL)
    {
      g_set_error_literal (error, LENS_ERROR, LENS_ERROR_INPUT, _ ("There is no result to save"));
      return FALSE;
    }
  g_autofree char *json = lens_result_to_json (
      self->result, (LensTarget *const *) self->targets->pdata, (int) self->targets->len, TRUE);
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

  if (self->result == NULL)
    {
      g_set_error_literal (error, LENS_ERROR, LENS_ERROR_INPUT, _ ("There is no result to export"));
      return FALSE;
    }
  /* A shown file's targets are written where the file tracked them (the engine leaves them out
   * at positions where they are unknown). */
  g_autofree char *json = lens_result_to_logitlenskit_json (
      self->result, (LensTarget *const *) self->targets->pdata, (int) self->targets->len, error);
  return json != NULL && lens_results_write_file (path, json, error);
}

LlWorker *
ll_window_get_worker (LlWindow *self)
{
  return self->worker;
}

LensResult *
ll_window_get_result (LlWindow *self)
{
  return self->result;
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

const char *
ll_window_get_notice (LlWindow *self)
{
  return self->notice;
}

const char *
ll_window_get_export_notice (LlWindow *self)
{
  return self->export_notice;
}

GtkEditable *
ll_window_get_range_entry (LlWindow *self, gboolean positions)
{
  return positions ? self->range_positions_entry : self->range_layers_entry;
}

const char *
ll_window_get_range_error (LlWindow *self)
{
  return gtk_widget_get_visible (GTK_WIDGET (self->range_error_label))
             ? gtk_label_get_text (self->range_error_label)
             : NULL;
}

void
ll_window_set_visible_view (LlWindow *self, const char *name)
{
  LensView view;
  if (lens_view_from_string (name, &view) && view != LENS_VIEW_TOPK)
    adw_view_stack_set_visible_child_name (self->view_stack, name);
}

GMenuModel *
ll_window_get_model_menu (LlWindow *self)
{
  rebuild_model_menu (self);
  return G_MENU_MODEL (self->model_menu);
}
