/* test-paint-live.c: the painters and cell descriptions on a live result (lens_run on a small
 * random GPT-2 written by the test): ranks in the description, colours of a real run. The
 * checkpoint writer is the one of tests/unit/test-lens.c. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <cairo.h>
#include <pango/pango.h>

#include "lens-error.h"
#include "lens-paint.h"
#include "lens-result.h"

enum { L = 3, C = 32, NH = 4, P = 24, V = 300 };

typedef struct
{
  const char *name;
  int64_t shape[2];
  int n_dims;
} Spec;

static void
append_tensor (GString *header, GByteArray *data, GRand *rng, const char *name, int n_dims,
               const int64_t *shape, double scale)
{
  size_t n = 1;
  for (int i = 0; i < n_dims; i++)
    n *= (size_t) shape[i];
  size_t begin = data->len;
  for (size_t i = 0; i < n; i++)
    {
      float v = (float) (g_rand_double_range (rng, -1.0, 1.0) * scale);
      g_byte_array_append (data, (const guint8 *) &v, sizeof v);
    }
  g_string_append_printf (header, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", header->len > 1 ? "," : "",
                          name);
  for (int i = 0; i < n_dims; i++)
    g_string_append_printf (header, "%s%" G_GINT64_FORMAT, i ? "," : "", shape[i]);
  g_string_append_printf (header, "],\"data_offsets\":[%zu,%u]}", begin, data->len);
}

/* Writes config.json, model.safetensors (F32, tied) and a byte-level vocab.json/merges.txt
 * (256 bytes + a few merges + <|endoftext|>) into `dir`. */
static void
write_model (const char *dir)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (42);
  g_autoptr (GString) header = g_string_new ("{");
  g_autoptr (GByteArray) data = g_byte_array_new ();
  char name[64];

#define T(nm, scale, ...)                                                                          \
  G_STMT_START                                                                                     \
  {                                                                                                \
    const int64_t s_[] = {__VA_ARGS__};                                                            \
    append_tensor (header, data, rng, nm, G_N_ELEMENTS (s_), s_, scale);                          \
  }                                                                                                \
  G_STMT_END

  T ("wte.weight", 0.5, V, C);
  T ("wpe.weight", 0.2, P, C);
  for (int l = 0; l < L; l++)
    {
#define B(suffix, scale, ...)                                                                      \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_snprintf (name, sizeof name, "h.%d.%s", l, suffix);                                          \
    T (name, scale, __VA_ARGS__);                                                                  \
  }                                                                                                \
  G_STMT_END
      B ("ln_1.weight", 1.0, C);
      B ("ln_1.bias", 0.1, C);
      B ("attn.c_attn.weight", 0.3, C, 3 * C);
      B ("attn.c_attn.bias", 0.1, 3 * C);
      B ("attn.c_proj.weight", 0.3, C, C);
      B ("attn.c_proj.bias", 0.1, C);
      B ("ln_2.weight", 1.0, C);
      B ("ln_2.bias", 0.1, C);
      B ("mlp.c_fc.weight", 0.3, C, 4 * C);
      B ("mlp.c_fc.bias", 0.1, 4 * C);
      B ("mlp.c_proj.weight", 0.3, 4 * C, C);
      B ("mlp.c_proj.bias", 0.1, C);
#undef B
    }
  T ("ln_f.weight", 1.0, C);
  T ("ln_f.bias", 0.1, C);
#undef T
  g_string_append_c (header, '}');
  while (header->len % 8 != 0)
    g_string_append_c (header, ' ');

  g_autoptr (GByteArray) file = g_byte_array_new ();
  guint64 hlen = GUINT64_TO_LE (header->len);
  g_byte_array_append (file, (const guint8 *) &hlen, 8);
  g_byte_array_append (file, (const guint8 *) header->str, header->len);
  g_byte_array_append (file, data->data, data->len);
  g_autofree char *st_path = g_build_filename (dir, "model.safetensors", NULL);
  g_assert_true (g_file_set_contents (st_path, (const char *) file->data, file->len, NULL));

  g_autofree char *config = g_strdup_printf (
    "{\"model_type\":\"gpt2\",\"n_layer\":%d,\"n_embd\":%d,\"n_head\":%d,\"n_positions\":%d,"
    "\"vocab_size\":%d,\"layer_norm_epsilon\":1e-5,\"n_inner\":null,"
    "\"activation_function\":\"gelu_new\"}",
    L, C, NH, P, V);
  g_autofree char *config_path = g_build_filename (dir, "config.json", NULL);
  g_assert_true (g_file_set_contents (config_path, config, -1, NULL));

  /* GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the rest to U+0100.. */
  g_autoptr (GString) vocab = g_string_new ("{");
  int extra = 0;
  for (int b = 0; b < 256; b++)
    {
      gunichar u = ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
                     ? (gunichar) b
                     : (gunichar) (256 + extra++);
      char utf8[8] = {0};
      g_unichar_to_utf8 (u, utf8);
      if (u == '"' || u == '\\')
        g_string_append_printf (vocab, "%s\"\\%s\":%d", b ? "," : "", utf8, b);
      else
        g_string_append_printf (vocab, "%s\"%s\":%d", b ? "," : "", utf8, b);
    }
  /* merges: "t h" -> "th", "Ġ t" -> "Ġt", "th e" -> "the" */
  g_string_append (vocab, ",\"th\":256,\"Ġt\":257,\"the\":258,\"<|endoftext|>\":259}");
  g_autofree char *vocab_path = g_build_filename (dir, "vocab.json", NULL);
  g_assert_true (g_file_set_contents (vocab_path, vocab->str, -1, NULL));
  g_autofree char *merges_path = g_build_filename (dir, "merges.txt", NULL);
  g_assert_true (g_file_set_contents (merges_path, "#version: 0.2\nt h\nĠ t\nth e\n", -1, NULL));
}

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
  g_assert_true (lens_result_target_probs_for_text (r, " the", space_probs, &space_id, &n_ids, &error));
  g_assert_no_error (error);
  int row = 1, pos = 2;
  size_t cell = lens_result_cell_index (r, row, pos);
  int32_t top_id = r->top_ids[cell * r->top_k];
  g_assert_true (lens_result_target_probs (r, top_id, top_probs, &error));
  LensTarget targets[] = {{" the", space_id, space_probs},
                          {lens_result_token_text (r, top_id), top_id, top_probs}};
  LensPaintState state;
  lens_paint_state_init (&state);
  state.targets = targets;
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
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) l.width, (int) l.height);
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
                              r->top_probs[lens_result_cell_index (r, rr, t) * r->top_k], &er, &eg, &eb);
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
  write_model (model_dir);
  g_test_add_func ("/paint/live", test_live);
  int status = g_test_run ();
  const char *files[] = {"model.safetensors", "config.json", "vocab.json", "merges.txt"};
  for (size_t i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (model_dir, files[i], NULL);
      g_unlink (path);
    }
  g_rmdir (model_dir);
  g_free (model_dir);
  return status;
}
