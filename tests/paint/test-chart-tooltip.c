/* test-chart-tooltip.c: the chart view's tooltip with the real X pointer under Xvfb, on a live
 * result (a tiny random GPT-2 written by the test): the tooltip describes the hovered cell, and
 * the target ranks, computed off the main thread, arrive in it; over a top-k bar it describes the
 * bar. */
#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "ll-chart-view.h"
#include "gui-support.h"
#include "paint-targets.h"
#include "tiny-gpt2.h"

static int failures;

/* Waits (up to 10 s) for a tooltip whose text contains all of `needles`; returns a copy. */
static char *
wait_tooltip (GtkWidget *window, const char *const *needles)
{
  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  char *last = NULL;
  while (g_get_monotonic_time () < end)
    {
      GtkWidget *tip = gui_find_tooltip_window (window);
      const char *text = tip != NULL ? gui_find_label_text (tip) : NULL;
      if (text != NULL)
        {
          g_free (last);
          last = g_strdup (text);
          gboolean all = TRUE;
          for (int i = 0; needles[i] != NULL; i++)
            all &= strstr (text, needles[i]) != NULL;
          if (all)
            return last;
        }
      gui_spin_ms (20);
    }
  g_printerr ("last tooltip text: %s\n", last != NULL ? last : "(none)");
  g_free (last);
  return NULL;
}

int
main (int argc, char **argv)
{
  gtk_init ();
  adw_init ();

  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("lens-chart-tooltip-XXXXXX", &error);
  g_assert_no_error (error);
  write_tiny_gpt2 (dir);
  g_autoptr (LensModel) model = lens_model_load (dir, &error);
  g_assert_no_error (error);
  g_autoptr (LensResult) r = lens_run_prompt (model, "the theory of the thing", NULL, &error);
  g_assert_no_error (error);

  /* Targets: " the" (first token, id 32) and the top-1 token of cell (1, 2). */
  size_t cells = (size_t) r->n_rows * r->n_tokens;
  g_autofree float *the_probs = g_new (float, cells);
  g_autofree float *top_probs = g_new (float, cells);
  int32_t the_id = -1;
  int n_ids = 0;
  g_assert_true (lens_result_target_probs_for_text (r, " the", the_probs, &the_id, &n_ids, &error));
  int32_t top_id = r->top_ids[lens_result_cell_index (r, 1, 2) * r->top_k];
  g_assert_true (lens_result_target_probs (r, top_id, top_probs, &error));
  TargetSpec targets[] = {{" the", the_id, the_probs}, {"top", top_id, top_probs}};
  LensPaintState state;
  lens_paint_state_init (&state);
  g_autoptr (GPtrArray) kept_targets = NULL;
  state.targets = state_targets (r, targets, 2, &kept_targets);
  state.n_targets = 2;

  GtkWidget *window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (window), 900, 400);
  GtkWidget *scroller = gtk_scrolled_window_new ();
  gtk_window_set_child (GTK_WINDOW (window), scroller);
  GtkWidget *view = ll_chart_view_new (LENS_VIEW_HEATMAP);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), view);
  ll_chart_view_set_result (LL_CHART_VIEW (view), r);
  ll_chart_view_set_state (LL_CHART_VIEW (view), &state);
  gtk_window_present (GTK_WINDOW (window));
  for (int i = 0; i < 300 && !gtk_widget_get_mapped (view); i++)
    gui_spin_ms (10);
  gui_spin_ms (300);

  /* The widget fills the pane and its cells grow with it: hit the layout at its size. */
  LensHeatmapLayout l;
  lens_heatmap_layout_for_size (r, &state, gtk_widget_get_width (view),
                                gtk_widget_get_height (view), &l);
  const struct
  {
    int row, pos;
  } cells_to_visit[] = {{1, 2}, {2, 3}, {0, 0}};
  for (size_t i = 0; i < G_N_ELEMENTS (cells_to_visit); i++)
    {
      int row = cells_to_visit[i].row, pos = cells_to_visit[i].pos;
      double x = l.grid_x + (pos + 0.5) * l.cell_w, y = l.grid_y + (row + 0.5) * l.cell_h;
      g_assert_true (gui_warp_pointer_to (view, x - 3, y - 3));
      gui_spin_ms (60);
      g_assert_true (gui_warp_pointer_to (view, x, y));

      /* The ranks the engine gives for this cell must show up in the tooltip. */
      int the_rank = 0, top_rank = 0;
      float p;
      g_assert_true (lens_result_target_rank (r, row, pos, the_id, &p, &the_rank, &error));
      g_assert_true (lens_result_target_rank (r, row, pos, top_id, &p, &top_rank, &error));
      g_autofree char *layer = g_strdup_printf ("Layer %d ", row);
      g_autofree char *position = g_strdup_printf ("position %d ", pos);
      g_autofree char *rank1 = g_strdup_printf ("(rank %d)", the_rank);
      g_autofree char *rank2 = g_strdup_printf ("(rank %d)", top_rank);
      const char *needles[] = {layer, position, rank1, rank2, "Entropy", NULL};
      g_autofree char *text = wait_tooltip (window, needles);
      CHECK (text != NULL, "tooltip over (%d,%d) with layer, position and ranks %d, %d", row, pos,
             the_rank, top_rank);
      if (text != NULL)
        g_print ("# tooltip over (%d,%d):\n%s\n", row, pos, text);
    }

  /* The top-k bars: the tooltip over a bar names its token, rank and id. */
  gui_warp_pointer_to (window, 2, 2);
  gui_spin_ms (100);
  state.sel_row = 1;
  state.sel_pos = 2;
  ll_chart_view_set_state (LL_CHART_VIEW (view), &state);
  ll_chart_view_set_view (LL_CHART_VIEW (view), LENS_VIEW_TOPK);
  gui_spin_ms (300);
  int vw = gtk_widget_get_width (view), vh = gtk_widget_get_height (view), bar_y = -1, rank = -1;
  for (int y = 0; y < vh && rank != 1; y++)
    if (lens_topk_hit (r, &state, vw, vh, vw / 2.0, y + 0.5, &rank))
      bar_y = y;
  CHECK (rank == 1, "a second bar in the %dx%d panel", vw, vh);
  if (rank == 1)
    {
      /* the middle of the second bar's row */
      int top = bar_y;
      int row_h = 0, k;
      while (lens_topk_hit (r, &state, vw, vh, vw / 2.0, top + row_h + 0.5, &k) && k == 1)
        row_h++;
      g_assert_true (gui_warp_pointer_to (view, vw / 2.0, top + row_h / 2.0));
      int32_t id = r->top_ids[lens_result_cell_index (r, 1, 2) * r->top_k + 1];
      g_autofree char *id_text = g_strdup_printf ("Token id %d", id);
      const char *needles[] = {"Layer 1 ", "position 2 ", "\n2. ", id_text, NULL};
      g_autofree char *text = wait_tooltip (window, needles);
      CHECK (text != NULL, "tooltip over the second bar with its rank and token id %d", id);
      if (text != NULL)
        g_print ("# tooltip over the second bar:\n%s\n", text);
    }

  gui_warp_pointer_to (window, 2, 2);
  gui_spin_ms (100);
  gtk_window_destroy (GTK_WINDOW (window));
  gui_spin_ms (50);

  tiny_gpt2_remove (dir);
  if (failures > 0)
    g_printerr ("%d check(s) failed\n", failures);
  else
    g_print ("ok: chart tooltip\n");
  return failures > 0 ? 1 : 0;
}
