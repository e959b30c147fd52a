/* ll-window-actions.c: the window's view settings and navigation: colour scales, probability
 * axis, what colours the heatmap and what the line plot shows (saved in GSettings), sub-layer
 * rows, compute threads, pinning for comparison, zoom, moving between views and the two heatmaps
 * scrolling together. The file and model actions are in ll-window-results.c and
 * ll-window-model.c, with the code they drive. */
#include "config.h"

#include <glib/gi18n.h>
#include <math.h>

#include "lens-threads.h"
#include "ll-window-private.h"

static const char *
scale_to_string (LensColorScale scale)
{
  switch (scale)
    {
    case LENS_SCALE_BLUES:
      return "blues";
    case LENS_SCALE_VIRIDIS:
      return "viridis";
    case LENS_SCALE_RDYLBU:
    default:
      return "rdylbu";
    }
}

static gboolean
scale_from_string (const char *s, LensColorScale *out)
{
  if (g_strcmp0 (s, "rdylbu") == 0)
    *out = LENS_SCALE_RDYLBU;
  else if (g_strcmp0 (s, "blues") == 0)
    *out = LENS_SCALE_BLUES;
  else if (g_strcmp0 (s, "viridis") == 0)
    *out = LENS_SCALE_VIRIDIS;
  else
    return FALSE;
  return TRUE;
}

/* ---- zoom: every heatmap (the Compare page's too) shares one cell width ---- */

static void
zoom_changed_cb (LlChartView *view, double cell_w, LlWindow *self)
{
  self->state.zoom_cell_w = cell_w;
  ll_window_push_state (self);
}

/* The heatmap the zoom actions work on: the one shown, else the top-token one (its layout is
 * the target heatmap's). */
static LlChartView *
zoom_view (LlWindow *self)
{
  const char *name = adw_view_stack_get_visible_child_name (self->view_stack);
  return self->views[g_strcmp0 (name, "target") == 0 ? LENS_VIEW_TARGET : LENS_VIEW_HEATMAP];
}

static void
zoom_in_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  ll_chart_view_zoom (zoom_view (user_data), LL_CHART_VIEW_ZOOM_STEP, NAN, NAN);
}

static void
zoom_out_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  ll_chart_view_zoom (zoom_view (user_data), 1.0 / LL_CHART_VIEW_ZOOM_STEP, NAN, NAN);
}

/* Back to the automatic cells (the default): as many positions as fit the pane's width down to
 * the compact cells, grown to fill it when there is room. Says when even those do not fit. */
static void
zoom_fit_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  LlWindow *self = user_data;
  self->state.zoom_cell_w = 0.0;
  ll_window_push_state (self);
  GtkWidget *pane = gtk_widget_get_parent (GTK_WIDGET (zoom_view (self)));
  int pane_w = pane != NULL ? gtk_widget_get_width (pane) : 0;
  const LensResult *r = ll_session_get_result (self->session);
  if (r == NULL || r->n_tokens <= 0 || r->n_rows <= 0 || pane_w <= 0)
    return;
  LensHeatmapLayout l;
  lens_heatmap_layout_for_size (r, &self->state, pane_w, 0.0, &l);
  if (l.width <= pane_w)
    return;
  int fit = (int) floor ((pane_w - (l.width - l.n_cols * l.cell_w)) / l.cell_w);
  g_autofree char *text = g_strdup_printf (
      g_dngettext (GETTEXT_PACKAGE,
                   "%d of %d position fits the window at the narrowest cells; scroll for the "
                   "others, or choose fewer in Range",
                   "%d of %d positions fit the window at the narrowest cells; scroll for the "
                   "others, or choose fewer in Range",
                   r->n_tokens),
      CLAMP (fit, 0, r->n_tokens), r->n_tokens);
  ll_window_show_toast (self, text);
}

static void
scale_change_state (GSimpleAction *action, GVariant *value, gpointer user_data)
{
  LlWindow *self = user_data;
  LensColorScale scale;
  const char *name = g_action_get_name (G_ACTION (action));

  if (!scale_from_string (g_variant_get_string (value, NULL), &scale))
    return;
  g_simple_action_set_state (action, value);
  if (g_strcmp0 (name, "heatmap-scale") == 0)
    self->state.heatmap_scale = scale;
  else
    self->state.target_scale = scale;
  if (self->settings != NULL)
    g_settings_set_string (self->settings, name, scale_to_string (scale));
  ll_window_push_state (self);
}

static void
probability_scale_change_state (GSimpleAction *action, GVariant *value, gpointer user_data)
{
  LlWindow *self = user_data;
  LensAxis axis;
  if (!lens_axis_from_string (g_variant_get_string (value, NULL), &axis))
    return;
  g_simple_action_set_state (action, value);
  self->state.prob_axis = axis;
  if (self->settings != NULL)
    g_settings_set_string (self->settings, "probability-scale", lens_axis_to_string (axis));
  ll_window_push_state (self);
}

/* "heatmap-color-by" and "line-metric": a LensColorBy each, saved under the action's name. */
static void
color_by_change_state (GSimpleAction *action, GVariant *value, gpointer user_data)
{
  LlWindow *self = user_data;
  LensColorBy by;
  if (!lens_color_by_from_string (g_variant_get_string (value, NULL), &by))
    return;
  const char *name = g_action_get_name (G_ACTION (action));
  g_simple_action_set_state (action, value);
  if (g_str_equal (name, "line-metric"))
    self->state.line_metric = by;
  else
    self->state.heatmap_color_by = by;
  if (self->settings != NULL)
    g_settings_set_string (self->settings, name, lens_color_by_to_string (by));
  ll_window_push_state (self);
}

static void
pin_result_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  LlWindow *self = user_data;
  LensResult *result = ll_session_get_result (self->session);
  if (result == NULL || lens_result_is_partial (result))
    {
      ll_window_show_toast (self, result == NULL ? _ ("Nothing to pin yet: type a prompt first")
                                                 : _ ("Still computing: pin once every position is "
                                                      "ready"));
      return;
    }
  ll_session_pin (self->session, ll_session_get_full_result (self->session));
  adw_view_stack_set_visible_child_name (self->view_stack, "diff");
  ll_window_show_toast (self, _ ("Pinned: change the prompt or open a results file to compare"));
}

static void
unpin_result_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  LlWindow *self = user_data;
  ll_session_pin (self->session, NULL);
}

static void
line_top1_change_state (GSimpleAction *action, GVariant *value, gpointer user_data)
{
  LlWindow *self = user_data;
  g_simple_action_set_state (action, value);
  self->state.line_top1 = g_variant_get_boolean (value);
  if (self->settings != NULL)
    g_settings_set_boolean (self->settings, "line-track-top1", self->state.line_top1);
  ll_window_push_state (self);
}

static void
sublayers_change_state (GSimpleAction *action, GVariant *value, gpointer user_data)
{
  LlWindow *self = user_data;
  g_simple_action_set_state (action, value);
  ll_worker_set_sublayers (self->worker, g_variant_get_boolean (value));
  if (self->settings != NULL)
    g_settings_set_boolean (self->settings, "sublayers", g_variant_get_boolean (value));
  /* other rows: the lens runs again (or comes from the cache) */
  if (!ll_session_is_imported (self->session))
    ll_window_run_now (self);
}

static void
export_marks_change_state (GSimpleAction *action, GVariant *value, gpointer user_data)
{
  LlWindow *self = user_data;
  g_simple_action_set_state (action, value);
  self->state.export_marks = g_variant_get_boolean (value);
  ll_window_push_state (self);
}

static void
threads_change_state (GSimpleAction *action, GVariant *value, gpointer user_data)
{
  LlWindow *self = user_data;
  int n = CLAMP (g_variant_get_int32 (value), 0, LENS_THREADS_MAX);
  g_simple_action_set_state (action, g_variant_new_int32 (n));
  /* the results do not change with it (within float rounding): the next run uses it */
  ll_worker_set_threads (self->worker, n);
  if (self->settings != NULL)
    g_settings_set_int (self->settings, "threads", n);
}

static void
append_threads_item (GMenu *menu, int n)
{
  g_autofree char *label
      = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d Thread", "%d Threads", n), n);
  g_autoptr (GMenuItem) item = g_menu_item_new (label, NULL);
  g_menu_item_set_action_and_target_value (item, "win.threads", g_variant_new_int32 (n));
  g_menu_append_item (menu, item);
}

/* "All Cores (N)", then 1 ... 8 threads, powers of two beyond, and the number of cores. */
static void
fill_threads_menu (LlWindow *self)
{
  int cores = lens_threads_available ();
  g_autofree char *all = g_strdup_printf (_ ("_All Cores (%d)"), lens_threads_default ());
  g_autoptr (GMenuItem) item = g_menu_item_new (all, NULL);
  g_menu_item_set_action_and_target_value (item, "win.threads", g_variant_new_int32 (0));
  g_menu_append_item (self->threads_menu, item);

  g_autoptr (GMenu) section = g_menu_new ();
  for (int n = 1; n <= MIN (cores, 8); n++)
    append_threads_item (section, n);
  for (int n = 16; n < cores; n *= 2)
    append_threads_item (section, n);
  if (cores > 8)
    append_threads_item (section, cores);
  g_menu_append_section (self->threads_menu, NULL, G_MENU_MODEL (section));
}

static void
dismiss_error_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  ll_window_hide_error (user_data);
}

static void
focus_prompt_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  LlWindow *self = user_data;
  gtk_widget_grab_focus (GTK_WIDGET (self->prompt_view));
}

static void
focus_targets_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  LlWindow *self = user_data;
  gtk_widget_grab_focus (GTK_WIDGET (self->target_entry));
}

static void
show_view_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  ll_window_set_visible_view (user_data, g_variant_get_string (param, NULL));
}

static const GActionEntry view_entries[] = {
    {"heatmap-scale", NULL, "s", "'rdylbu'", scale_change_state},
    {"target-scale", NULL, "s", "'blues'", scale_change_state},
    {"probability-scale", NULL, "s", "'auto'", probability_scale_change_state},
    {"export-marks", NULL, NULL, "false", export_marks_change_state},
    {"sublayers", NULL, NULL, "false", sublayers_change_state},
    {"heatmap-color-by", NULL, "s", "'top'", color_by_change_state},
    {"line-metric", NULL, "s", "'top'", color_by_change_state},
    {"line-track-top1", NULL, NULL, "true", line_top1_change_state},
    {"threads", NULL, "i", "0", threads_change_state},
    {"dismiss-error", dismiss_error_activated},
    {"focus-prompt", focus_prompt_activated},
    {"focus-targets", focus_targets_activated},
    {"show-view", show_view_activated, "s"},
    {"pin-result", pin_result_activated},
    {"unpin-result", unpin_result_activated},
    {"zoom-in", zoom_in_activated},
    {"zoom-out", zoom_out_activated},
    {"zoom-fit", zoom_fit_activated},
};

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

/* Both heatmaps keep one scroll position, and the shown view is remembered. */
void
ll_window_follow_heatmap_scrolls (LlWindow *self)
{
  follow_heatmap_scroll (self, self->heatmap_scroll);
  follow_heatmap_scroll (self, self->target_scroll);
  g_signal_connect_object (self->view_stack, "notify::visible-child-name",
                           G_CALLBACK (visible_view_changed_cb), self, G_CONNECT_SWAPPED);
}

void
ll_window_actions_init (LlWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), view_entries, G_N_ELEMENTS (view_entries),
                                   self);
  fill_threads_menu (self);
  /* one cell width for every heatmap: Ctrl+scroll over any of them, the Compare page's too */
  for (int v = 0; v < 4; v++)
    g_signal_connect (self->views[v], "zoom-changed", G_CALLBACK (zoom_changed_cb), self);
  g_signal_connect (ll_compare_page_get_diff_view (self->compare_page), "zoom-changed",
                    G_CALLBACK (zoom_changed_cb), self);
  g_signal_connect (ll_compare_page_get_pinned_view (self->compare_page), "zoom-changed",
                    G_CALLBACK (zoom_changed_cb), self);
}
