/* ll-window-private.h: what the window's files share (ll-window.c: template, lifecycle, prompt;
 * ll-window-actions.c: view settings and navigation; ll-window-model.c: model menu and loading;
 * ll-window-results.c: results files; ll-window-range.c: the Range; ll-window-targets.c: the
 * target entry). */
#pragma once

#include <adwaita.h>

#include "ll-chart-view.h"
#include "ll-compare-page.h"
#include "ll-session.h"
#include "ll-window.h"
#include "ll-worker.h"

G_BEGIN_DECLS

/* What the window goes back to from a results file (the session's imported mode) or from a
 * failed open. */
typedef struct
{
  char *prompt; /* the entries' text before a file was opened */
  char *targets;
  /* A model chosen while a results file is shown: its load returns the window to live mode. */
  gboolean leave_imported_on_load;
  char *content_before_open; /* what a failed open goes back to (NULL: no open pending) */
  char *status_before_open;
} LlLiveState;

struct _LlWindow
{
  AdwApplicationWindow parent_instance;

  /* Template children */
  AdwToastOverlay *toast_overlay;
  GtkMenuButton *model_button;
  GtkStack *model_icon_stack;
  GtkSpinner *model_spinner;
  GtkLabel *model_button_label;
  GtkRevealer *error_revealer;
  GtkLabel *error_label;
  GtkRevealer *imported_revealer;
  GtkLabel *imported_label;
  AdwViewSwitcherTitle *switcher_title;
  GtkSpinButton *top_k_spin;
  GtkWidget *prompt_box; /* the entry-like frame around the prompt's text view and count */
  GtkScrolledWindow *prompt_scroll;
  GtkTextView *prompt_view;
  GtkLabel *prompt_placeholder;
  GtkLabel *prompt_count_label;
  GtkEntry *target_entry;
  GtkLabel *model_summary;
  GtkLabel *notice_label;
  gboolean error_is_model_load; /* the banner shows a failed model load */
  GtkLabel *status_label;
  GtkPaned *paned;
  GtkStack *content_stack;
  AdwStatusPage *loading_page;
  GtkSpinner *loading_spinner;
  AdwStatusPage *error_page;
  GtkButton *error_open_button;
  AdwViewStack *view_stack;
  GtkScrolledWindow *heatmap_scroll;
  GtkScrolledWindow *target_scroll;
  double heatmap_scroll_xy[2]; /* where both heatmaps are scrolled to: they share one layout */
  GtkScrolledWindow *line_scroll;
  GtkScrolledWindow *topk_scroll;
  GtkDropDown *target_dropdown;
  GtkStack *target_stack;
  GtkLabel *line_position_label;
  LlComparePage *compare_page;
  GtkProgressBar *progress_bar;
  GtkAdjustment *top_k_adjustment;
  GMenu *model_menu;
  GMenu *threads_menu;

  LlChartView *views[4]; /* indexed by LensView */

  GSettings *settings; /* NULL when the schema is not installed */
  LlWorker *worker;
  LlSession *session;   /* the document shown: result, targets, selection, Range, mode */
  LensPaintState state; /* its selection and targets follow the session (session_changed_cb) */

  /* The Range popover (the session keeps the Range chosen in it). */
  GtkMenuButton *range_button;
  GtkPopover *range_popover;
  GtkEditable *range_layers_entry;
  GtkEditable *range_positions_entry;
  GtkLabel *range_error_label;
  GtkButton *range_apply_button;
  GtkButton *range_reset_button;

  GtkStringList *target_names; /* the drop-down's: the session's targets */
  char *notice;
  char *export_notice; /* what the last figure export left out, or "" */

  guint debounce_id;
  guint progress_delay_id;
  /* "changed" handlers on the heatmaps' horizontal adjustments that keep them scrolled to the
   * right end while a progressive run shows its first positions there (0 when not following) */
  gulong scroll_end_ids[2];
  gint64 run_started_us;
  char *loading_dir;
  LlLiveState live;
  GCancellable *open_cancellable; /* the file being opened, or NULL */
  guint open_pulse_id;
};

/* ll-window.c */
const char *ll_window_view_title (LensView view);
void ll_window_push_state (LlWindow *self);
void ll_window_show_toast (LlWindow *self, const char *text);
void ll_window_show_error (LlWindow *self, const char *message);
void ll_window_hide_error (LlWindow *self);
void ll_window_emit_open_finished (LlWindow *self, gboolean opened);
/* The prompt as typed, newlines included (the tokenizer sees them). Free with g_free. */
char *ll_window_dup_prompt_text (LlWindow *self);
void ll_window_set_prompt_text_quietly (LlWindow *self, const char *text);
void ll_window_show_prompt_count (LlWindow *self, int n_tokens, int max_tokens);
void ll_window_set_content (LlWindow *self, const char *name);
void ll_window_set_stale (LlWindow *self, gboolean stale);
void ll_window_set_result (LlWindow *self, LensResult *full);
void ll_window_follow_right_end (LlWindow *self, gboolean follow);
void ll_window_run_now (LlWindow *self);

/* ll-window-actions.c: adds the actions, fills the threads menu and follows the heatmaps' zoom;
 * called once the views exist. */
void ll_window_actions_init (LlWindow *self);
/* Keeps both heatmaps at one scroll position; called once the views exist. */
void ll_window_follow_heatmap_scrolls (LlWindow *self);

/* ll-window-model.c: adds the model actions and rebuilds the model menu when it opens. */
void ll_window_model_init (LlWindow *self);
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
char *ll_window_model_facts_text (const ModelFacts *f);
void ll_window_set_model_summary (LlWindow *self, const char *summary);
void ll_window_update_model_labels (LlWindow *self);

/* ll-window-results.c: adds the file actions (open, save, export, Run on NDIF, back to model). */
void ll_window_results_init (LlWindow *self);
void ll_window_update_imported_labels (LlWindow *self);
void ll_window_leave_imported (LlWindow *self);
void ll_window_show_mode (LlWindow *self);

/* ll-window-range.c: connects the Range popover. */
void ll_window_range_init (LlWindow *self);
void ll_window_pin_range (LlWindow *self);

/* ll-window-targets.c: connects the target entry and the drop-down. */
void ll_window_targets_init (LlWindow *self);
GPtrArray *ll_window_compute_targets (LlWindow *self, const LensResult *r);
void ll_window_show_target_names (LlWindow *self);

G_END_DECLS
