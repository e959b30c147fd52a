/* test-chart-layers.c: each chart layer's hit-testing and tooltip text against the painters'
 * layout, headless, on a live result (a tiny random GPT-2 written by the test): the centre of
 * every heatmap cell hits that cell in the three heatmap kinds, at the natural, a filled and a
 * zoomed size, where the painted pixels have the cell's colour; the line plot's layers and the
 * top-k bars are hit in order from the top; the tooltips describe what was hit, and a cell's
 * target ranks arrive from the layer's thread. */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "ll-heatmap-layer.h"
#include "ll-line-layer.h"
#include "ll-topk-layer.h"
#include "paint-targets.h"
#include "tiny-gpt2.h"

static LensResult *result;
#define N_TARGETS 2
static GPtrArray *targets_keep;    /* owns the targets */
static LensTarget *const *targets; /* (N_TARGETS) */
static float *diff_values;

static void
base_state (LensPaintState *state)
{
  lens_paint_state_init (state);
  state->targets = targets;
  state->n_targets = N_TARGETS;
}

/* The markup of lens_describe_cell for (row, pos), with or without the targets' ranks. */
static char *
describe (const LensPaintState *state, int row, int pos, gboolean ranks)
{
  LensPaintState st = *state;
  st.no_ranks = !ranks;
  return lens_describe_cell (result, &st, row, pos);
}

/* BGRA pixel of an ARGB32 surface as r, g, b. */
static void
pixel (cairo_surface_t *surface, int x, int y, int *r, int *g, int *b)
{
  const guchar *data = cairo_image_surface_get_data (surface);
  const guchar *q = data + (gsize) y * cairo_image_surface_get_stride (surface) + (gsize) x * 4;
  *b = q[0], *g = q[1], *r = q[2];
}

static gboolean
has_color (cairo_surface_t *surface, double x, double y, LensColorScale scale, double fraction)
{
  double er, eg, eb;
  lens_color_scale_rgb (scale, fraction, &er, &eg, &eb);
  int r, g, b;
  pixel (surface, (int) x, (int) y, &r, &g, &b);
  return abs (r - (int) lround (er * 255)) <= 1 && abs (g - (int) lround (eg * 255)) <= 1
         && abs (b - (int) lround (eb * 255)) <= 1;
}

/* Every cell's centre hits the cell, and a point just inside its top-left corner is painted in
 * the cell's colour (the top-token and target heatmaps' linear scales map p to p). */
static void
check_heatmap (LensView view, const LensPaintState *state, double width, double height)
{
  g_autoptr (LlChartLayer) layer = ll_heatmap_layer_new (view);
  g_assert_true (ll_chart_layer_has_grid (layer));
  LlChartFrame frame = {result, state, width, height};
  LensHeatmapLayout grid, painters;
  g_assert_true (ll_chart_layer_get_grid (layer, &frame, &grid));
  lens_heatmap_layout_for_size (result, state, width, height, &painters);
  g_assert_cmpfloat (grid.cell_w, ==, painters.cell_w);
  g_assert_cmpfloat (grid.grid_x, ==, painters.grid_x);

  cairo_surface_t *surface
      = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) ceil (width), (int) ceil (height));
  cairo_t *cr = cairo_create (surface);
  ll_chart_layer_paint (layer, cr, &frame);
  cairo_destroy (cr);
  cairo_surface_flush (surface);

  const float *active = targets[state->active_target]->probs;
  for (int row = 0; row < result->n_rows; row++)
    for (int pos = 0; pos < result->n_tokens; pos++)
      {
        double x = grid.grid_x + (pos + 0.5) * grid.cell_w;
        double y = grid.grid_y + (row + 0.5) * grid.cell_h;
        LlChartHit hit;
        g_assert_true (ll_chart_layer_hit (layer, &frame, x, y, &hit));
        g_assert_cmpint (hit.kind, ==, LL_CHART_HIT_CELL);
        g_assert_cmpint (hit.row, ==, row);
        g_assert_cmpint (hit.pos, ==, pos);
        size_t cell = lens_result_cell_index (result, row, pos);
        double x0 = grid.grid_x + pos * grid.cell_w + 3, y0 = grid.grid_y + row * grid.cell_h + 3;
        if (view == LENS_VIEW_HEATMAP)
          g_assert_true (has_color (surface, x0, y0, state->heatmap_scale,
                                    result->top_probs[cell * result->top_k]));
        else if (view == LENS_VIEW_TARGET && state->prob_axis == LENS_AXIS_LINEAR)
          g_assert_true (has_color (surface, x0, y0, state->target_scale, active[cell]));
      }
  cairo_surface_destroy (surface);

  /* Left of and under the grid: nothing. */
  LlChartHit hit;
  g_assert_false (ll_chart_layer_hit (layer, &frame, grid.grid_x - 1.0, grid.grid_y + 1.0, &hit));
  g_assert_false (ll_chart_layer_hit (layer, &frame, grid.grid_x + 1.0,
                                      grid.grid_y + grid.n_rows * grid.cell_h + 1.0, &hit));
}

static void
test_heatmaps (void)
{
  LensPaintState state;
  base_state (&state);
  state.prob_axis = LENS_AXIS_LINEAR;
  state.active_target = 1;
  state.diff_values = diff_values;
  const LensView views[] = {LENS_VIEW_HEATMAP, LENS_VIEW_TARGET, LENS_VIEW_DIFF};
  for (size_t i = 0; i < G_N_ELEMENTS (views); i++)
    {
      LensHeatmapLayout natural;
      lens_heatmap_layout (result, &state, &natural);
      check_heatmap (views[i], &state, natural.width, natural.height);
      /* a larger pane: the cells grow */
      check_heatmap (views[i], &state, natural.width + 300.0, natural.height + 200.0);
      /* zoomed in, the figure larger than any pane */
      LensPaintState zoomed = state;
      zoomed.zoom_cell_w = 131.0;
      LensHeatmapLayout z;
      lens_heatmap_layout (result, &zoomed, &z);
      g_assert_cmpfloat (z.cell_w, ==, 131.0);
      check_heatmap (views[i], &zoomed, z.width, z.height);
    }
}

static void
tooltip_changed_cb (LlChartLayer *layer, gpointer data)
{
  (*(int *) data)++;
}

/* A cell's tooltip: at once without the ranks, then with them once the thread is done. */
static void
test_cell_tooltip (void)
{
  LensPaintState state;
  base_state (&state);
  g_autoptr (LlChartLayer) layer = ll_heatmap_layer_new (LENS_VIEW_HEATMAP);
  int changed = 0;
  g_signal_connect (layer, "tooltip-changed", G_CALLBACK (tooltip_changed_cb), &changed);
  LensHeatmapLayout natural;
  lens_heatmap_layout (result, &state, &natural);
  LlChartFrame frame = {result, &state, natural.width, natural.height};
  int row = 1, pos = 2;
  LlChartHit hit;
  g_assert_true (ll_chart_layer_hit (layer, &frame, natural.grid_x + (pos + 0.5) * natural.cell_w,
                                     natural.grid_y + (row + 0.5) * natural.cell_h, &hit));
  g_autofree char *quick = ll_chart_layer_tooltip_markup (layer, &frame, &hit);
  g_autofree char *expect_quick = describe (&state, row, pos, FALSE);
  g_assert_cmpstr (quick, ==, expect_quick);

  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (changed == 0 && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (changed, ==, 1);
  g_autofree char *full = ll_chart_layer_tooltip_markup (layer, &frame, &hit);
  g_autofree char *expect_full = describe (&state, row, pos, TRUE);
  g_assert_cmpstr (full, ==, expect_full);
  g_assert_nonnull (strstr (full, "(rank "));

  /* A new result or state forgets it: the quick text again. */
  ll_chart_layer_reset (layer);
  g_autofree char *again = ll_chart_layer_tooltip_markup (layer, &frame, &hit);
  g_assert_cmpstr (again, ==, expect_quick);
  ll_chart_layer_reset (layer);
}

/* Across the line plot, left to right, the layers hit come in order, every one of them, at the
 * position the plot shows, as the painters' lens_line_hit says; the tooltip describes that
 * cell. */
static void
test_line (void)
{
  LensPaintState state;
  base_state (&state);
  g_autoptr (LlChartLayer) layer = ll_line_layer_new ();
  g_assert_false (ll_chart_layer_has_grid (layer));
  double width, height;
  lens_view_natural_size (LENS_VIEW_LINE, result, &state, &width, &height);
  const int selected[] = {-1, 2};
  for (size_t i = 0; i < G_N_ELEMENTS (selected); i++)
    {
      state.sel_row = selected[i] >= 0 ? 0 : -1;
      state.sel_pos = selected[i];
      int want_pos = selected[i] >= 0 ? selected[i] : result->n_tokens - 1;
      LlChartFrame frame = {result, &state, width, height};
      int last = -1, seen = 0;
      for (double x = 0.5; x < width; x += 1.0)
        {
          LlChartHit hit;
          int painters_row = -1;
          gboolean painters
              = lens_line_hit (result, &state, width, height, x, height / 2.0, &painters_row);
          gboolean layers = ll_chart_layer_hit (layer, &frame, x, height / 2.0, &hit);
          g_assert_cmpint (painters, ==, layers);
          if (!layers)
            continue;
          g_assert_cmpint (hit.kind, ==, LL_CHART_HIT_CELL);
          g_assert_cmpint (hit.row, ==, painters_row);
          g_assert_cmpint (hit.pos, ==, want_pos);
          if (hit.row != last)
            {
              g_assert_cmpint (hit.row, ==, last + 1);
              last = hit.row;
              seen++;
              g_autofree char *tip = ll_chart_layer_tooltip_markup (layer, &frame, &hit);
              g_autofree char *expect = describe (&state, hit.row, hit.pos, FALSE);
              g_assert_cmpstr (tip, ==, expect);
            }
        }
      g_assert_cmpint (seen, ==, result->n_rows);
      ll_chart_layer_reset (layer);
    }
}

/* Down the top-k panel the bars are hit best first, each over one band of rows of equal height,
 * and the tooltip names the token of the cell the panel shows. */
static void
test_topk (void)
{
  LensPaintState state;
  base_state (&state);
  state.sel_row = 1;
  state.sel_pos = 3;
  g_autoptr (LlChartLayer) layer = ll_topk_layer_new ();
  double width, height;
  lens_view_natural_size (LENS_VIEW_TOPK, result, &state, &width, &height);
  height += 100.0; /* taller rows */
  LlChartFrame frame = {result, &state, width, height};
  int K = result->top_k;
  g_autofree int *first = g_new (int, K);
  g_autofree int *last = g_new (int, K);
  for (int k = 0; k < K; k++)
    first[k] = last[k] = -1;
  int previous = -1;
  for (int y = 0; y < (int) height; y++)
    {
      LlChartHit hit;
      if (!ll_chart_layer_hit (layer, &frame, width / 2.0, y + 0.5, &hit))
        continue;
      g_assert_cmpint (hit.kind, ==, LL_CHART_HIT_ITEM);
      g_assert_cmpint (hit.row, ==, 1);
      g_assert_cmpint (hit.pos, ==, 3);
      g_assert_cmpint (hit.item, >=, previous); /* best first, each band in one piece */
      g_assert_true (hit.item == previous || first[hit.item] == -1);
      if (first[hit.item] == -1)
        {
          first[hit.item] = y;
          g_autofree char *tip = ll_chart_layer_tooltip_markup (layer, &frame, &hit);
          int32_t id = result->top_ids[lens_result_cell_index (result, 1, 3) * K + hit.item];
          g_autofree char *id_text = g_strdup_printf ("Token id %d ·", id);
          g_autofree char *rank_text = g_strdup_printf ("\n%d. <tt>", hit.item + 1);
          g_assert_nonnull (strstr (tip, id_text));
          g_assert_nonnull (strstr (tip, rank_text));
        }
      last[hit.item] = y;
      previous = hit.item;
    }
  for (int k = 0; k < K; k++)
    {
      g_assert_cmpint (first[k], >=, 0);
      g_assert_cmpint (last[k] - first[k], ==, last[0] - first[0]);
      g_assert_true (k == 0 || first[k] == last[k - 1] + 1);
    }
  /* A cell is not a bar: no tooltip for the keyboard's cell. */
  LlChartHit cell = {LL_CHART_HIT_CELL, 1, 3, -1};
  g_assert_null (ll_chart_layer_tooltip_markup (layer, &frame, &cell));
  /* The title and the axis are not bars. */
  LlChartHit hit;
  g_assert_false (ll_chart_layer_hit (layer, &frame, width / 2.0, 2.0, &hit));
  g_assert_false (ll_chart_layer_hit (layer, &frame, width / 2.0, height - 2.0, &hit));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("lens-chart-layers-XXXXXX", &error);
  g_assert_no_error (error);
  write_tiny_gpt2 (dir);
  g_autoptr (LensModel) model = lens_model_load (dir, &error);
  g_assert_no_error (error);
  result = lens_run_prompt (model, "the theory of the thing", NULL, &error);
  g_assert_no_error (error);

  /* Targets: " the" (its first token) and the top-1 token of cell (1, 2); a difference that
   * grows across the grid. */
  size_t cells = (size_t) result->n_rows * result->n_tokens;
  g_autofree float *the_probs = g_new (float, cells);
  g_autofree float *top_probs = g_new (float, cells);
  int32_t the_id = -1;
  int n_ids = 0;
  g_assert_true (
      lens_result_target_probs_for_text (result, " the", the_probs, &the_id, &n_ids, &error));
  int32_t top_id = result->top_ids[lens_result_cell_index (result, 1, 2) * result->top_k];
  g_assert_true (lens_result_target_probs (result, top_id, top_probs, &error));
  const TargetSpec specs[N_TARGETS] = {{" the", the_id, the_probs}, {"top", top_id, top_probs}};
  targets = state_targets (result, specs, N_TARGETS, &targets_keep);
  diff_values = g_new (float, cells);
  for (size_t i = 0; i < cells; i++)
    diff_values[i] = (float) i / (float) cells - 0.5f;

  g_test_add_func ("/chart-layers/heatmaps", test_heatmaps);
  g_test_add_func ("/chart-layers/cell-tooltip", test_cell_tooltip);
  g_test_add_func ("/chart-layers/line", test_line);
  g_test_add_func ("/chart-layers/topk", test_topk);
  int status = g_test_run ();

  g_free (diff_values);
  g_ptr_array_unref (targets_keep);
  lens_result_unref (result);
  tiny_gpt2_remove (dir);
  return status;
}
