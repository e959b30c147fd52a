/* ll-window.h: the main window: the prompt editor and the target entry, the three views, the
 * top-k panel. */
#pragma once

#include <adwaita.h>

#include "lens-paint.h"
#include "ll-compare-page.h"
#include "lens-result.h"
#include "ll-worker.h"

G_BEGIN_DECLS

#define LL_TYPE_WINDOW (ll_window_get_type ())
G_DECLARE_FINAL_TYPE (LlWindow, ll_window, LL, WINDOW, AdwApplicationWindow)

LlWindow *ll_window_new (GtkApplication *application);

/* Loads a model folder (off the main thread); on failure the window shows the engine's message
 * and keeps the previous model. */
void ll_window_open_model (LlWindow *self, const char *dir);

/* Opens `explicit_dir` if given, else the default model (last used, HF cache GPT-2, demo). */
void ll_window_open_default_model (LlWindow *self, const char *explicit_dir);

/* Writes `view` of the current result to `path` (format from the extension), as the export
 * menu does after its file dialog. */
gboolean ll_window_export_view (LlWindow *self, LensView view, const char *path, double scale,
                                GError **error);

/* Writes the current result and targets as JSON (the CLI's --json shape). */
gboolean ll_window_export_data (LlWindow *self, const char *path, GError **error);
/* The same, as File → Save Results does after its dialog. */
gboolean ll_window_save_results (LlWindow *self, const char *path, GError **error);
/* Writes the current result and targets as logitlenskit widget JSON version 2 (an imported file
 * of our own format fails when a token it shows was never tracked in it). */
gboolean ll_window_export_logitlenskit (LlWindow *self, const char *path, GError **error);

/* Opens a results file (our own JSON, logitlenskit v2 or v1) off the main thread, as File → Open
 * Results does after its dialog. "open-finished" (gboolean ok) is emitted when done: on success
 * the file's result is shown without a model (prompt editing off, the file's targets tracked)
 * until a model is chosen or win.back-to-model runs; on failure the engine's message is shown and
 * what was shown before stays. A newer open supersedes an older one. */
void ll_window_open_results (LlWindow *self, const char *path);
/* Is a results file being read? Is one shown? */
gboolean ll_window_get_opening (LlWindow *self);
gboolean ll_window_get_imported (LlWindow *self);
/* The model summary line under the entries. */
const char *ll_window_get_model_summary (LlWindow *self);

/* For tests and the self-check: the pieces a user would look at or type into. */
LlWorker *ll_window_get_worker (LlWindow *self);
LensResult *ll_window_get_result (LlWindow *self);
const LensPaintState *ll_window_get_paint_state (LlWindow *self);
GtkWidget *ll_window_get_view (LlWindow *self, LensView view);
/* The Compare view (pinned result and difference). */
LlComparePage *ll_window_get_compare_page (LlWindow *self);
GtkTextView *ll_window_get_prompt_view (LlWindow *self);
/* The prompt's token count as shown beside it: "37 / 1024 tokens", or for a results file
 * "37 tokens"; "" while unknown. */
const char *ll_window_get_prompt_count (LlWindow *self);
GtkEditable *ll_window_get_target_entry (LlWindow *self);
/* "empty", "loading", "error" or "result". */
const char *ll_window_get_content_state (LlWindow *self);
/* The in-window error message, or NULL when none is shown. */
const char *ll_window_get_error_message (LlWindow *self);
/* Notices about targets (e.g. which token of a multi-token target is tracked), or "". */
const char *ll_window_get_notice (LlWindow *self);
/* What the last ll_window_export_view left out (a heatmap of a long prompt keeps its last
 * LENS_EXPORT_MAX_POSITIONS positions; also shown as a toast), or "". */
const char *ll_window_get_export_notice (LlWindow *self);
/* The Range popover: blocks and positions (each "" for all, "N" or "A-B", in the prompt's
 * numbering) that every view and export shows, kept for new results; an invalid range is an
 * error with the CLI's message, and changes nothing. */
gboolean ll_window_set_range (LlWindow *self, const char *layers, const char *positions,
                              GError **error);
/* Its entries (positions TRUE: the positions' one), and its error message or NULL. */
GtkEditable *ll_window_get_range_entry (LlWindow *self, gboolean positions);
const char *ll_window_get_range_error (LlWindow *self);
void ll_window_set_visible_view (LlWindow *self, const char *name);
/* The model menu, rebuilt (demo model, HF cache, recent folders) by this call as when it opens. */
GMenuModel *ll_window_get_model_menu (LlWindow *self);

G_END_DECLS
