/* test-paint-live.c: the painters and cell descriptions on a live result (lens_run on a small
 * random GPT-2 written by the test): ranks in the description, colours of a real run. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <cairo.h>
#include <pango/pango.h>

#include "lens-error.h"
#include "lens-paint.h"
#include "paint-targets.h"
#include "lens-result.h"
#include "tiny-gpt2.h"

static char *model_dir;

static void
test_live (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LensModel) m = lens_model_load (model_dir, &error);
  g_assert_no_error (error);
  g_autoptr (LensResult) r = lens_run_prompt (m, "the theory of the thing", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (lens_result_has_model (r));

  /* Two targets: " the" (tracked by its first token, id 32) and the top-1 of cell (1, 2). */
  size_t cells = (size_t) r->n_rows * r->n_tokens;
  g_autofree float *space_probs = g_new (float, cells);
  g_autofree float *top_probs = g_new (float, cells);
  int32_t space_id = -1;
  int n_ids = 0;
  g_assert_true (
      lens_result_target_probs_for_text (r, " the", space_probs, &space_id, &n_ids, &error));
  g_assert_no_error (error);
  int row = 1, pos = 2;
  size_t cell = lens_result_cell_index (r, row, pos);
  int32_t top_id = r->top_ids[cell * r->top_k];
  g_assert_true (lens_result_target_probs (r, top_id, top_probs, &error));
  TargetSpec targets[]
      = {{" the", space_id, space_probs}, {lens_result_token_text (r, top_id), top_id, top_probs}};
  LensPaintState state;
  lens_paint_state_init (&state);
  g_autoptr (GPtrArray) kept_targets = NULL;
  state.targets = state_targets (r, targets, 2, &kept_targets);
  state.n_targets = 2;

  g_autofree char *m1 = lens_describe_cell (r, &state, row, pos);
  g_test_message ("%s", m1);
  g_assert_true (pango_parse_markup (m1, -1, 0, NULL, NULL, NULL, NULL));
  /* The top-1 token is rank 1; " the"'s rank is what the engine says. */
  g_assert_nonnull (strstr (m1, "(rank 1)"));
  int rank = 0;
  float p = 0;
  g_assert_true (lens_result_target_rank (r, row, pos, space_id, &p, &rank, &error));
  g_autofree char *rank_text = g_strdup_printf ("(rank %d)", rank);
  g_assert_nonnull (strstr (m1, rank_text));
  g_autofree char *layer = g_strdup_printf ("Layer %s", r->row_labels[row]);
  g_assert_nonnull (strstr (m1, layer));
  g_autofree char *entropy = g_strdup_printf ("Entropy: %.3f nats", r->entropy[cell]);
  g_assert_nonnull (strstr (m1, entropy));

  /* The figure of a real run: every cell's colour is its top-1 probability's. */
  LensHeatmapLayout l;
  lens_heatmap_layout (r, &state, &l);
  g_assert_cmpint (l.n_rows, ==, r->n_rows);
  g_assert_cmpint (l.n_cols, ==, r->n_tokens);
  cairo_surface_t *s
      = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) l.width, (int) l.height);
  cairo_t *cr = cairo_create (s);
  lens_paint_view (cr, LENS_VIEW_HEATMAP, r, &state, l.width, l.height);
  cairo_destroy (cr);
  cairo_surface_flush (s);
  const unsigned char *data = cairo_image_surface_get_data (s);
  int stride = cairo_image_surface_get_stride (s);
  for (int rr = 0; rr < r->n_rows; rr++)
    for (int t = 0; t < r->n_tokens; t++)
      {
        double er, eg, eb;
        lens_color_scale_rgb (LENS_SCALE_RDYLBU,
                              r->top_probs[lens_result_cell_index (r, rr, t) * r->top_k], &er, &eg,
                              &eb);
        int x = (int) (l.grid_x + t * l.cell_w + 3), y = (int) (l.grid_y + rr * l.cell_h + 3);
        guint32 v = *(const guint32 *) (data + (size_t) y * stride + (size_t) x * 4);
        g_assert_cmpint (abs ((int) ((v >> 16) & 0xff) - (int) lround (er * 255)), <=, 1);
        g_assert_cmpint (abs ((int) ((v >> 8) & 0xff) - (int) lround (eg * 255)), <=, 1);
        g_assert_cmpint (abs ((int) (v & 0xff) - (int) lround (eb * 255)), <=, 1);
      }
  cairo_surface_destroy (s);

  /* Exports of a live result, all views. */
  for (int v = LENS_VIEW_HEATMAP; v <= LENS_VIEW_TOPK; v++)
    {
      const char *dir = g_getenv ("LENS_PAINT_OUTPUT_DIR");
      g_autofree char *name = g_strdup_printf ("live-view%d.png", v);
      g_autofree char *path = g_build_filename (dir != NULL ? dir : ".", name, NULL);
      g_assert_true (lens_export_view (path, (LensView) v, r, &state, 1.0, &error));
      g_assert_no_error (error);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  model_dir = g_dir_make_tmp ("lens-paint-live-XXXXXX", &error);
  g_assert_no_error (error);
  write_tiny_gpt2 (model_dir);
  g_test_add_func ("/paint/live", test_live);
  int status = g_test_run ();
  tiny_gpt2_remove (model_dir);
  g_free (model_dir);
  return status;
}
