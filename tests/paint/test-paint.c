/* test-paint.c: the painters, checked on real pixels of headless renders. Rendered figures are
 * saved to $LENS_PAINT_OUTPUT_DIR (the build dir under meson) for people to look at. */
#include "config.h"

#include <math.h>
#include <string.h>
#include <cairo.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <pango/pango.h>

#include "lens-error.h"
#include "lens-format.h"
#include "lens-paint.h"
#include "lens-result.h"
#include "paint-targets.h"

/* ---- fixtures ---------------------------------------------------------------------------- */

static const char *vocab[] = {
    " Paris",  " the",    " France",  ",",
    " of",     "\n",      " capital", "The",
    " Eiffel", " Tower",  " is",      " in",
    " a",      " city",   "<b>&amp;", " extraordinarily_long_token_name",
    " London", " Berlin", ".",        " and",
};
#define N_VOCAB ((int) G_N_ELEMENTS (vocab))

/* p of the top-1 token at (row, pos): every cell different, covering 0..1. */
static float
cell_prob (int R, int T, int row, int pos)
{
  return (float) (row * T + pos) / (float) (R * T - 1);
}

/* A result built by hand: R rows, T tokens, top-K; top-1 probability cell_prob, the others
 * splitting the rest. Input tokens repeat (" the" twice) on purpose. */
static LensResult *
make_result (int R, int T, int K)
{
  static const int prompt_ids[] = {7, 6, 4, 1, 1, 15, 5, 9, 10, 11};
  LensResult *r = lens_result_new_empty (R, T, K);
  g_assert_nonnull (r);
  r->prompt = g_strdup ("The capital of the the ...");
  r->n_vocab_texts = N_VOCAB;
  r->vocab_texts = g_new0 (char *, N_VOCAB);
  for (int i = 0; i < N_VOCAB; i++)
    r->vocab_texts[i] = g_strdup (vocab[i]);
  for (int t = 0; t < T; t++)
    {
      int id = prompt_ids[t % G_N_ELEMENTS (prompt_ids)];
      r->token_ids[t] = id;
      g_free (r->token_texts[t]);
      r->token_texts[t] = g_strdup (vocab[id]);
    }
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        size_t cell = lens_result_cell_index (r, row, t);
        float p = cell_prob (R, T, row, t);
        for (int k = 0; k < K; k++)
          {
            r->top_ids[cell * K + k] = (row + t + k * 3) % N_VOCAB;
            r->top_probs[cell * K + k] = k == 0 ? p : (1.0f - p) / (float) (K + k);
          }
        r->entropy[cell] = 0.5f + 0.1f * (float) row;
      }
  return r;
}

static cairo_surface_t *
render (LensView view, const LensResult *r, const LensPaintState *state, const char *save_as)
{
  double w, h;
  lens_view_natural_size (view, r, state, &w, &h);
  g_assert_cmpfloat (w, >, 0);
  g_assert_cmpfloat (h, >, 0);
  cairo_surface_t *s
      = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) ceil (w), (int) ceil (h));
  cairo_t *cr = cairo_create (s);
  lens_paint_view (cr, view, r, state, w, h);
  g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
  cairo_destroy (cr);
  cairo_surface_flush (s);
  if (save_as != NULL)
    {
      const char *dir = g_getenv ("LENS_PAINT_OUTPUT_DIR");
      g_autofree char *path = g_build_filename (dir != NULL ? dir : ".", save_as, NULL);
      g_assert_cmpint (cairo_surface_write_to_png (s, path), ==, CAIRO_STATUS_SUCCESS);
    }
  return s;
}

typedef struct
{
  int r, g, b, a;
} Px;

static Px
pixel (cairo_surface_t *s, int x, int y)
{
  g_assert_cmpint (x, >=, 0);
  g_assert_cmpint (y, >=, 0);
  g_assert_cmpint (x, <, cairo_image_surface_get_width (s));
  g_assert_cmpint (y, <, cairo_image_surface_get_height (s));
  const unsigned char *data = cairo_image_surface_get_data (s);
  guint32 v = *(const guint32 *) (data + (size_t) y * cairo_image_surface_get_stride (s)
                                  + (size_t) x * 4);
  return (Px){(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff, v >> 24};
}

static Px
scale_px (LensColorScale scale, double p)
{
  double r, g, b;
  lens_color_scale_rgb (scale, p, &r, &g, &b);
  return (Px){(int) lround (r * 255), (int) lround (g * 255), (int) lround (b * 255), 255};
}

static gboolean
px_near (Px a, Px b, int tol)
{
  return abs (a.r - b.r) <= tol && abs (a.g - b.g) <= tol && abs (a.b - b.b) <= tol
         && abs (a.a - b.a) <= tol;
}

static Px
hex_px (guint32 c)
{
  return (Px){(c >> 16) & 0xff, (c >> 8) & 0xff, c & 0xff, 255};
}

#define assert_px(got, want, tol)                                                                  \
  do                                                                                               \
    {                                                                                              \
      Px g_ = (got), w_ = (want);                                                                  \
      if (!px_near (g_, w_, tol))                                                                  \
        g_error ("%s:%d: pixel (%d,%d,%d,%d) != expected (%d,%d,%d,%d)", __FILE__, __LINE__, g_.r, \
                 g_.g, g_.b, g_.a, w_.r, w_.g, w_.b, w_.a);                                        \
    }                                                                                              \
  while (0)

/* ---- colour scales ----------------------------------------------------------------------- */

static void
test_color_scale (void)
{
  /* RdYlBu_r: first stop, centre, last stop (plotly.colors.diverging.RdYlBu reversed). */
  assert_px (scale_px (LENS_SCALE_RDYLBU, 0.0), hex_px (0x313695), 0);
  assert_px (scale_px (LENS_SCALE_RDYLBU, 0.5), hex_px (0xffffbf), 0);
  assert_px (scale_px (LENS_SCALE_RDYLBU, 1.0), hex_px (0xa50026), 0);
  /* Stop 2 of 11 sits at 0.1; halfway between stops 1 and 2 (#313695, #4575b4) at 0.05. */
  assert_px (scale_px (LENS_SCALE_RDYLBU, 0.1), hex_px (0x4575b4), 0);
  double r, g, b;
  lens_color_scale_rgb (LENS_SCALE_RDYLBU, 0.05, &r, &g, &b);
  g_assert_cmpfloat_with_epsilon (r, (0x31 + 0x45) / 2.0 / 255.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (g, (0x36 + 0x75) / 2.0 / 255.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (b, (0x95 + 0xb4) / 2.0 / 255.0, 1e-9);
  /* 0.75 = halfway between stop 7 (#fdae61 at 0.7) and stop 8 (#f46d43 at 0.8). */
  lens_color_scale_rgb (LENS_SCALE_RDYLBU, 0.75, &r, &g, &b);
  g_assert_cmpfloat_with_epsilon (r, (0xfd + 0xf4) / 2.0 / 255.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (g, (0xae + 0x6d) / 2.0 / 255.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (b, (0x61 + 0x43) / 2.0 / 255.0, 1e-9);

  assert_px (scale_px (LENS_SCALE_BLUES, 0.0), hex_px (0xf7fbff), 0);
  assert_px (scale_px (LENS_SCALE_BLUES, 1.0), hex_px (0x08306b), 0);
  assert_px (scale_px (LENS_SCALE_BLUES, 0.5), hex_px (0x6baed6), 0);
  assert_px (scale_px (LENS_SCALE_VIRIDIS, 0.0), hex_px (0x440154), 0);
  assert_px (scale_px (LENS_SCALE_VIRIDIS, 1.0), hex_px (0xfde725), 0);

  /* Out of range and NAN clamp instead of reading outside the table. */
  assert_px (scale_px (LENS_SCALE_RDYLBU, -3.0), hex_px (0x313695), 0);
  assert_px (scale_px (LENS_SCALE_RDYLBU, 7.0), hex_px (0xa50026), 0);
  assert_px (scale_px (LENS_SCALE_RDYLBU, NAN), hex_px (0x313695), 0);
  assert_px (scale_px (LENS_SCALE_RDYLBU, INFINITY), hex_px (0xa50026), 0);
  assert_px (scale_px ((LensColorScale) 99, 1.0), hex_px (0xa50026), 0);
}

/* ---- heatmaps ---------------------------------------------------------------------------- */

/* Top-left corner region of a cell, away from the centred text. */
static Px
cell_corner (cairo_surface_t *s, const LensHeatmapLayout *l, int row, int pos)
{
  int x = (int) (l->grid_x + pos * l->cell_w) + 3;
  int y = (int) (l->grid_y + row * l->cell_h) + 3;
  Px p = pixel (s, x, y);
  /* The corner must be a flat fill: its 3x3 neighbourhood is the same colour. */
  for (int dy = 0; dy < 3; dy++)
    for (int dx = 0; dx < 3; dx++)
      assert_px (pixel (s, x + dx, y + dy), p, 0);
  return p;
}

static int
count_differing (cairo_surface_t *s, int x0, int y0, int x1, int y1, Px fill)
{
  int n = 0;
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      n += !px_near (pixel (s, x, y), fill, 8);
  return n;
}

static void
test_heatmap_cells (void)
{
  const int R = 6, T = 8, K = 5;
  g_autoptr (LensResult) r = make_result (R, T, K);
  LensPaintState state;
  lens_paint_state_init (&state);
  LensHeatmapLayout l;
  lens_heatmap_layout (r, &state, &l);
  g_assert_cmpint (l.n_rows, ==, R);
  g_assert_cmpint (l.n_cols, ==, T);
  g_assert_cmpfloat (l.cell_w, >=, 40);
  g_assert_cmpfloat (l.cell_h, >=, 18);
  g_assert_cmpfloat (l.grid_x + T * l.cell_w, <, l.width);
  g_assert_cmpfloat (l.grid_y + R * l.cell_h, <, l.height);

  cairo_surface_t *s = render (LENS_VIEW_HEATMAP, r, &state, "paint-heatmap.png");
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        /* Row 0 at the top: the cell at grid row `row` has row `row`'s probability. */
        Px want = scale_px (LENS_SCALE_RDYLBU, cell_prob (R, T, row, t));
        assert_px (cell_corner (s, &l, row, t), want, 1);

        /* The top-1 text is drawn in the cell (pixels that are not the fill colour; a comma has
         * few)... */
        int x0 = (int) (l.grid_x + t * l.cell_w), y0 = (int) (l.grid_y + row * l.cell_h);
        g_assert_cmpint (count_differing (s, x0 + 1, y0 + 1, x0 + (int) l.cell_w - 2,
                                          y0 + (int) l.cell_h - 2, want),
                         >, 2);
        /* ...and never spills into the 1 px gap that separates it from the next cell. */
        int gap_x = x0 + (int) l.cell_w - 1;
        for (int y = y0; y < y0 + (int) l.cell_h - 1; y++)
          assert_px (pixel (s, gap_x, y), hex_px (0xffffff), 0);
      }
  /* Paper background outside the grid (light theme). */
  assert_px (pixel (s, 1, 1), hex_px (0xffffff), 0);

  /* Dark theme: same cell colours, dark paper. */
  state.dark = true;
  cairo_surface_t *d = render (LENS_VIEW_HEATMAP, r, &state, "paint-heatmap-dark.png");
  assert_px (pixel (d, 1, 1), hex_px (0x1e1e1e), 0);
  assert_px (cell_corner (d, &l, 2, 3), scale_px (LENS_SCALE_RDYLBU, cell_prob (R, T, 2, 3)), 1);

  /* Transparent background: untouched pixels stay transparent. */
  state.transparent_background = true;
  cairo_surface_t *tr = render (LENS_VIEW_HEATMAP, r, &state, NULL);
  g_assert_cmpint (pixel (tr, 1, 1).a, ==, 0);
  assert_px (cell_corner (tr, &l, 0, 0), scale_px (LENS_SCALE_RDYLBU, 0.0), 1);

  cairo_surface_destroy (s);
  cairo_surface_destroy (d);
  cairo_surface_destroy (tr);
}

/* A partial result (a progressive run's): cells of positions not yet ready are painted as pending
 * (a flat pale fill, unlike the scale's colours, the paper and the hatched missing cells, with
 * only a small ellipsis in the middle and no token text) even when their arrays hold values;
 * ready cells exactly as before. Tooltips of pending cells say they are being computed. */
static void
test_heatmap_pending (void)
{
  const int R = 5, T = 6, K = 3;
  g_autoptr (LensResult) r = make_result (R, T, K);
  r->ready = g_new0 (guint8, T);
  r->ready[4] = r->ready[5] = 1;
  r->n_ready = 2;
  /* a missing cell (NAN) among the ready ones, to tell pending from missing */
  size_t gone = lens_result_cell_index (r, 1, 5);
  r->top_probs[gone * K] = NAN;
  LensPaintState state;
  lens_paint_state_init (&state);
  LensHeatmapLayout l;
  lens_heatmap_layout (r, &state, &l);

  for (int dark = 0; dark <= 1; dark++)
    {
      state.dark = dark;
      cairo_surface_t *s = render (LENS_VIEW_HEATMAP, r, &state,
                                   dark ? "paint-pending-dark.png" : "paint-pending.png");
      Px paper = pixel (s, 1, 1);
      Px missing
          = pixel (s, (int) (l.grid_x + 5 * l.cell_w) + 3, (int) (l.grid_y + 1 * l.cell_h) + 3);
      Px pending = cell_corner (s, &l, 0, 0);
      g_assert_false (px_near (pending, paper, 6));
      g_assert_false (px_near (pending, missing, 6));
      for (int row = 0; row < R; row++)
        for (int t = 0; t < T; t++)
          {
            Px want = scale_px (LENS_SCALE_RDYLBU, cell_prob (R, T, row, t));
            if (r->ready[t])
              {
                if (!(row == 1 && t == 5))
                  assert_px (cell_corner (s, &l, row, t), want, 1);
                continue;
              }
            /* the same flat fill in every pending cell, never the value's colour */
            assert_px (cell_corner (s, &l, row, t), pending, 0);
            g_assert_false (px_near (pending, want, 8));
            /* no text: whatever is not the fill is the ellipsis, near the middle */
            int x0 = (int) (l.grid_x + t * l.cell_w), y0 = (int) (l.grid_y + row * l.cell_h);
            int w = (int) l.cell_w - 1, h = (int) l.cell_h - 1;
            int cx = x0 + w / 2, cy = y0 + h / 2, marks = 0;
            for (int y = y0; y < y0 + h; y++)
              for (int x = x0; x < x0 + w; x++)
                if (!px_near (pixel (s, x, y), pending, 8))
                  {
                    g_assert_cmpint (abs (x - cx), <=, 8);
                    g_assert_cmpint (abs (y - cy), <=, 3);
                    marks++;
                  }
            g_assert_cmpint (marks, >, 3);
          }
      cairo_surface_destroy (s);
    }

  /* the same result complete: every cell in its colour */
  g_clear_pointer (&r->ready, g_free);
  state.dark = false;
  cairo_surface_t *full = render (LENS_VIEW_HEATMAP, r, &state, NULL);
  assert_px (cell_corner (full, &l, 2, 1), scale_px (LENS_SCALE_RDYLBU, cell_prob (R, T, 2, 1)), 1);
  cairo_surface_destroy (full);

  /* tooltips */
  r->ready = g_new0 (guint8, T);
  r->ready[5] = 1;
  r->n_ready = 1;
  g_autofree char *pend = lens_describe_cell (r, &state, 2, 1);
  g_assert_nonnull (strstr (pend, "Computing"));
  g_assert_null (strstr (pend, "Top tokens"));
  g_autofree char *ready = lens_describe_cell (r, &state, 2, 5);
  g_assert_nonnull (strstr (ready, "Top tokens"));
  g_assert_null (strstr (ready, "Computing"));
}

/* Nothing is drawn in a 2 px frame around the figure: long rotated labels, the title and the
 * colour bar all stay inside. */
static void
assert_blank_frame (cairo_surface_t *s, Px paper)
{
  int w = cairo_image_surface_get_width (s), h = cairo_image_surface_get_height (s);
  for (int x = 0; x < w; x++)
    for (int y = 0; y < h; y++)
      if (x < 2 || y < 2 || x >= w - 2 || y >= h - 2)
        assert_px (pixel (s, x, y), paper, 0);
}

static void
test_heatmap_frame (void)
{
  for (int T = 1; T <= 3; T++)
    {
      g_autoptr (LensResult) r = make_result (2, T, 2);
      /* The long token first, where its rotated label reaches furthest left. */
      g_free (r->token_texts[0]);
      r->token_texts[0] = g_strdup (vocab[15]);
      g_free (r->token_texts[T - 1]);
      r->token_texts[T - 1] = g_strdup (vocab[15]);
      for (int v = LENS_VIEW_HEATMAP; v <= LENS_VIEW_TOPK; v++)
        {
          cairo_surface_t *s
              = render ((LensView) v, r, NULL, T == 1 && v == 0 ? "paint-frame.png" : NULL);
          assert_blank_frame (s, hex_px (0xffffff));
          cairo_surface_destroy (s);
        }
    }
}

static void
test_heatmap_outlines (void)
{
  const int R = 4, T = 5, K = 3;
  g_autoptr (LensResult) r = make_result (R, T, K);
  LensPaintState state;
  lens_paint_state_init (&state);
  state.hover_row = 1;
  state.hover_pos = 2;
  state.sel_row = 3;
  state.sel_pos = 0;
  LensHeatmapLayout l;
  lens_heatmap_layout (r, &state, &l);
  cairo_surface_t *s = render (LENS_VIEW_HEATMAP, r, &state, "paint-heatmap-selection.png");

  Px text = hex_px (0x2a3f5f);
  /* Selected: a solid ring along the whole top edge. */
  int sx = (int) (l.grid_x + 0 * l.cell_w), sy = (int) (l.grid_y + 3 * l.cell_h);
  for (int x = sx + 1; x < sx + (int) l.cell_w - 2; x++)
    assert_px (pixel (s, x, sy + 1), text, 0);
  /* Hovered: dashed in the cell's text colour (near-black on this light blue), so the top edge
   * has both outline and fill pixels. */
  int hx = (int) (l.grid_x + 2 * l.cell_w), hy = (int) (l.grid_y + 1 * l.cell_h);
  Px fill = scale_px (LENS_SCALE_RDYLBU, cell_prob (R, T, 1, 2));
  int outline = 0, other = 0;
  for (int x = hx + 2; x < hx + (int) l.cell_w - 3; x++)
    {
      Px p = pixel (s, x, hy + 1);
      outline += px_near (p, hex_px (0x1a1a1a), 0);
      other += px_near (p, fill, 1);
    }
  g_assert_cmpint (outline, >, 5);
  g_assert_cmpint (other, >, 3);
  /* A cell that is neither keeps its plain fill at the edge. */
  assert_px (pixel (s, (int) (l.grid_x + 4 * l.cell_w) + 2, (int) (l.grid_y + 2 * l.cell_h) + 1),
             scale_px (LENS_SCALE_RDYLBU, cell_prob (R, T, 2, 4)), 1);
  cairo_surface_destroy (s);
}

static void
test_target_heatmap (void)
{
  const int R = 5, T = 6, K = 3;
  g_autoptr (LensResult) r = make_result (R, T, K);
  g_autofree float *probs = g_new (float, (R * T));
  for (int i = 0; i < R * T; i++)
    probs[i] = (float) i / (float) (R * T);
  probs[lens_result_cell_index (r, 2, 3)] = NAN;
  TargetSpec targets[] = {{" London", 16, NULL}, {" Paris", 0, probs}};

  LensPaintState state;
  lens_paint_state_init (&state);
  g_autoptr (GPtrArray) kept_targets = NULL;
  state.targets = state_targets (r, targets, 2, &kept_targets);
  state.n_targets = 2;
  state.active_target = 1;
  LensHeatmapLayout l;
  lens_heatmap_layout (r, &state, &l);
  cairo_surface_t *s = render (LENS_VIEW_TARGET, r, &state, "paint-target.png");
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        float p = probs[lens_result_cell_index (r, row, t)];
        if (isnan (p))
          continue;
        assert_px (cell_corner (s, &l, row, t), scale_px (LENS_SCALE_BLUES, p), 1);
      }
  /* The NAN cell is hatched: both the grey fill and the hatch lines appear in it. */
  int x0 = (int) (l.grid_x + 3 * l.cell_w), y0 = (int) (l.grid_y + 2 * l.cell_h);
  int grey = 0, hatch = 0;
  for (int y = y0; y < y0 + (int) l.cell_h - 1; y++)
    for (int x = x0; x < x0 + (int) l.cell_w - 1; x++)
      {
        Px p = pixel (s, x, y);
        grey += px_near (p, hex_px (0xdcdcdc), 2);
        hatch += px_near (p, hex_px (0xb4b4b4), 30);
      }
  g_assert_cmpint (grey, >, 100);
  g_assert_cmpint (hatch, >, 20);

  /* An active target without data, or out of range, paints every cell as missing. */
  state.active_target = 0;
  cairo_surface_t *none = render (LENS_VIEW_TARGET, r, &state, NULL);
  g_assert_cmpint (count_differing (none, (int) l.grid_x + 2, (int) l.grid_y + 2,
                                    (int) l.grid_x + 4, (int) l.grid_y + 4, hex_px (0xdcdcdc)),
                   <=, 4);
  state.active_target = 7;
  cairo_surface_t *bad = render (LENS_VIEW_TARGET, r, &state, NULL);
  cairo_surface_destroy (bad);
  cairo_surface_destroy (none);
  cairo_surface_destroy (s);
}

/* Long prompts get position numbers between the grid and the token labels; short ones do not. */
static void
test_position_numbers (void)
{
  for (int T = 10; T <= 20; T += 10)
    {
      g_autoptr (LensResult) r = make_result (2, T, 2);
      LensPaintState state;
      lens_paint_state_init (&state);
      LensHeatmapLayout l;
      lens_heatmap_layout (r, &state, &l);
      cairo_surface_t *s = render (LENS_VIEW_HEATMAP, r, &state, NULL);
      /* the first 12 px under the grid (+6), across column 1 (a number, or the top of a label) */
      int y0 = (int) (l.grid_y + l.n_rows * l.cell_h + 6), ink_top = 0, ink_numbers = 0;
      for (int y = y0; y < y0 + 12; y++)
        for (int x = (int) (l.grid_x + l.cell_w + 2); x < (int) (l.grid_x + 2 * l.cell_w - 2); x++)
          {
            gboolean ink = !px_near (pixel (s, x, y), hex_px (0xffffff), 40);
            ink_top += ink;
            /* a number is centred: ink in the middle third of the column */
            ink_numbers += ink && fabs (x - (l.grid_x + 1.5 * l.cell_w)) < l.cell_w / 6;
          }
      if (T >= 16)
        g_assert_cmpint (ink_numbers, >, 5);
      g_assert_cmpint (ink_top, >, 0);
      cairo_surface_destroy (s);
    }
  /* the band costs height only with numbers */
  g_autoptr (LensResult) shorter = make_result (2, 15, 2), longer = make_result (2, 16, 2);
  LensPaintState state;
  lens_paint_state_init (&state);
  LensHeatmapLayout ls, ll;
  lens_heatmap_layout (shorter, &state, &ls);
  lens_heatmap_layout (longer, &state, &ll);
  g_assert_cmpfloat (ll.labels_h, >=, ls.labels_h + 16.0 - 0.5);
}

/* The top-token heatmap coloured by a metric: the next token's rank on a log scale (1 at the top,
 * 1000 and beyond at the bottom), KL on 0 .. the largest value; a cell without a value (the last
 * position has no next token) is hatched. */
static void
test_heatmap_color_by (void)
{
  const int R = 2, T = 4, K = 2;
  g_autoptr (LensResult) r = make_result (R, T, K);
  lens_result_alloc_metrics (r);
  const int ranks[] = {1, 10, 100, 0, 5000, 3, 31, 0};
  const float kls[] = {0.0f, 0.5f, 1.0f, 2.0f, 0.25f, 1.5f, 0.75f, 1.25f};
  for (int c = 0; c < R * T; c++)
    {
      r->next_rank[c] = ranks[c];
      r->next_logprob[c] = ranks[c] > 0 ? -1.0f : NAN;
      r->kl_final[c] = kls[c];
    }
  LensPaintState state;
  lens_paint_state_init (&state);
  LensHeatmapLayout l;
  lens_heatmap_layout (r, &state, &l);

  state.heatmap_color_by = LENS_COLOR_NEXT_RANK;
  cairo_surface_t *s = render (LENS_VIEW_HEATMAP, r, &state, "paint-color-by-rank.png");
  for (int c = 0; c < R * T; c++)
    {
      int row = c / T, t = c % T;
      if (ranks[c] == 0)
        {
          /* hatched: grey and its lines, not a colour of the scale */
          int x0 = (int) (l.grid_x + t * l.cell_w), y0 = (int) (l.grid_y + row * l.cell_h),
              grey = 0;
          for (int y = y0 + 2; y < y0 + (int) l.cell_h - 2; y++)
            for (int x = x0 + 2; x < x0 + (int) l.cell_w - 2; x++)
              grey += px_near (pixel (s, x, y), hex_px (0xdcdcdc), 2);
          g_assert_cmpint (grey, >, 50);
          continue;
        }
      double f = 1.0 - MIN (log10 ((double) ranks[c]) / 3.0, 1.0);
      assert_px (cell_corner (s, &l, row, t), scale_px (LENS_SCALE_RDYLBU, f), 1);
    }
  cairo_surface_destroy (s);

  state.heatmap_color_by = LENS_COLOR_KL_FINAL;
  s = render (LENS_VIEW_HEATMAP, r, &state, "paint-color-by-kl.png");
  for (int c = 0; c < R * T; c++)
    assert_px (cell_corner (s, &l, c / T, c % T), scale_px (LENS_SCALE_RDYLBU, kls[c] / 2.0), 1);
  cairo_surface_destroy (s);

  LensColorBy by;
  g_assert_true (lens_color_by_from_string ("rank", &by) && by == LENS_COLOR_NEXT_RANK);
  g_assert_false (lens_color_by_from_string ("ranks", &by));
}

static void
test_hit (void)
{
  g_autoptr (LensResult) r = make_result (12, 9, 3);
  LensHeatmapLayout l;
  lens_heatmap_layout (r, NULL, &l);
  for (int row = 0; row < l.n_rows; row++)
    for (int t = 0; t < l.n_cols; t++)
      {
        int hr = -1, ht = -1;
        double cx = l.grid_x + (t + 0.5) * l.cell_w, cy = l.grid_y + (row + 0.5) * l.cell_h;
        g_assert_true (lens_heatmap_hit (&l, cx, cy, &hr, &ht));
        g_assert_cmpint (hr, ==, row);
        g_assert_cmpint (ht, ==, t);
        /* Corners belong to their own cell. */
        g_assert_true (
            lens_heatmap_hit (&l, l.grid_x + t * l.cell_w, l.grid_y + row * l.cell_h, &hr, &ht));
        g_assert_cmpint (hr, ==, row);
        g_assert_cmpint (ht, ==, t);
      }
  int hr, ht;
  g_assert_false (lens_heatmap_hit (&l, l.grid_x - 0.01, l.grid_y + 1, &hr, &ht));
  g_assert_false (lens_heatmap_hit (&l, l.grid_x + 1, l.grid_y - 0.01, &hr, &ht));
  g_assert_false (lens_heatmap_hit (&l, l.grid_x + l.n_cols * l.cell_w, l.grid_y + 1, &hr, &ht));
  g_assert_false (lens_heatmap_hit (&l, l.grid_x + 1, l.grid_y + l.n_rows * l.cell_h, &hr, &ht));
  g_assert_false (lens_heatmap_hit (&l, NAN, NAN, &hr, &ht));
  g_assert_false (lens_heatmap_hit (&l, INFINITY, 5, &hr, &ht));
}

/* Painted into an area with room for a grid twice as large, a figure's cells are twice as large
 * (up to the cap of 160 x 64: the margins and text keep their size), the colours are at the
 * cells of that layout and hit-testing agrees with it; an area smaller than natural gives the
 * natural layout, as exports use. */
static void
test_heatmap_fill (void)
{
  const int R = 3, T = 6, K = 3;
  g_autoptr (LensResult) r = make_result (R, T, K);
  LensPaintState state;
  lens_paint_state_init (&state);
  LensHeatmapLayout nat, same, small, big;
  lens_heatmap_layout (r, &state, &nat);
  lens_heatmap_layout_for_size (r, &state, nat.width, nat.height, &same);
  lens_heatmap_layout_for_size (r, &state, nat.width / 2, 10, &small);
  g_assert_cmpmem (&same, sizeof same, &nat, sizeof nat);
  g_assert_cmpmem (&small, sizeof small, &nat, sizeof nat);

  double W = nat.width + T * nat.cell_w, H = nat.height + R * nat.cell_h;
  lens_heatmap_layout_for_size (r, &state, W, H, &big);
  g_assert_cmpint (big.n_rows, ==, R);
  g_assert_cmpint (big.n_cols, ==, T);
  g_assert_cmpfloat (big.cell_w, ==, MIN (2 * nat.cell_w, 160.0));
  g_assert_cmpfloat (big.cell_h, ==, MIN (2 * nat.cell_h, 64.0));
  g_assert_cmpfloat (big.width, <=, W);
  g_assert_cmpfloat (big.height, <=, H);
  /* The margins keep their size: only the cells grew. */
  g_assert_cmpfloat (big.grid_y, ==, nat.grid_y);
  g_assert_cmpfloat (big.grid_x, <=, nat.grid_x);

  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) W, (int) H);
  cairo_t *cr = cairo_create (s);
  lens_paint_view (cr, LENS_VIEW_HEATMAP, r, &state, W, H);
  cairo_destroy (cr);
  cairo_surface_flush (s);
  const char *dir = g_getenv ("LENS_PAINT_OUTPUT_DIR");
  g_autofree char *path
      = g_build_filename (dir != NULL ? dir : ".", "paint-heatmap-fill.png", NULL);
  cairo_surface_write_to_png (s, path);
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        Px want = scale_px (LENS_SCALE_RDYLBU, cell_prob (R, T, row, t));
        /* All four corners of the grown cell have its colour, and its centre hits it. */
        double x0 = big.grid_x + t * big.cell_w, y0 = big.grid_y + row * big.cell_h;
        assert_px (pixel (s, (int) x0 + 2, (int) y0 + 2), want, 1);
        assert_px (pixel (s, (int) (x0 + big.cell_w) - 3, (int) y0 + 2), want, 1);
        assert_px (pixel (s, (int) x0 + 2, (int) (y0 + big.cell_h) - 3), want, 1);
        assert_px (pixel (s, (int) (x0 + big.cell_w) - 3, (int) (y0 + big.cell_h) - 3), want, 1);
        int hr, ht;
        g_assert_true (lens_heatmap_hit (&big, x0 + big.cell_w / 2, y0 + big.cell_h / 2, &hr, &ht));
        g_assert_cmpint (hr, ==, row);
        g_assert_cmpint (ht, ==, t);
        g_assert_true (
            lens_heatmap_hit (&big, x0 + big.cell_w - 0.01, y0 + big.cell_h - 0.01, &hr, &ht));
        g_assert_cmpint (hr, ==, row);
        g_assert_cmpint (ht, ==, t);
      }
  cairo_surface_destroy (s);

  /* Short cells double exactly below the cap. */
  g_autoptr (LensResult) shorter = make_result (3, 6, 3);
  for (size_t i = 0; i < (size_t) 3 * 6 * 3; i++)
    if (shorter->top_ids[i] == 15)
      shorter->top_ids[i] = 3;
  LensHeatmapLayout sn, sb;
  lens_heatmap_layout (shorter, &state, &sn);
  g_assert_cmpfloat (2 * sn.cell_w, <, 160);
  lens_heatmap_layout_for_size (shorter, &state, sn.width + 6 * sn.cell_w,
                                sn.height + 3 * sn.cell_h, &sb);
  g_assert_cmpfloat (sb.cell_w, ==, 2 * sn.cell_w);
  g_assert_cmpfloat (sb.cell_h, ==, 2 * sn.cell_h);

  /* A huge area: the cells stop at the cap, the figure stays at the top left. */
  LensHeatmapLayout huge;
  lens_heatmap_layout_for_size (r, &state, 1e5, 1e5, &huge);
  g_assert_cmpfloat (huge.cell_w, ==, 160.0);
  g_assert_cmpfloat (huge.cell_h, ==, 64.0);
  g_assert_cmpfloat (huge.grid_y, ==, nat.grid_y);
  g_assert_cmpfloat (huge.width, <, 1200);
  /* Hostile sizes give the natural layout. */
  LensHeatmapLayout odd;
  lens_heatmap_layout_for_size (r, &state, NAN, INFINITY, &odd);
  g_assert_cmpmem (&odd, sizeof odd, &nat, sizeof nat);
  lens_heatmap_layout_for_size (r, &state, -5, -5, &odd);
  g_assert_cmpmem (&odd, sizeof odd, &nat, sizeof nat);

  /* Shrinking to fit (the window's views): narrower cells, the whole grid and colour bar inside
   * the area, down to the compact width; compact cells are flat colour (no text). */
  state.shrink_to_fit = true;
  LensHeatmapLayout fit;
  lens_heatmap_layout_for_size (r, &state, nat.width - 2 * T, nat.height, &fit);
  g_assert_cmpfloat (fit.cell_w, <, nat.cell_w);
  g_assert_cmpfloat (fit.width, <=, nat.width - 2 * T);
  lens_heatmap_layout_for_size (r, &state, 1.0, nat.height, &fit);
  g_assert_cmpfloat (fit.cell_w, ==, LENS_CELL_W_COMPACT);
  LensHeatmapLayout fit_same;
  lens_heatmap_layout_for_size (r, &state, nat.width, nat.height, &fit_same);
  g_assert_cmpmem (&fit_same, sizeof fit_same, &nat, sizeof nat);
  {
    double cw = fit.width, ch = fit.height;
    cairo_surface_t *cs
        = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) ceil (cw), (int) ceil (ch));
    cairo_t *ccr = cairo_create (cs);
    lens_paint_view (ccr, LENS_VIEW_HEATMAP, r, &state, cw, ch);
    cairo_destroy (ccr);
    cairo_surface_flush (cs);
    for (int row = 0; row < R; row++)
      for (int t = 0; t < T; t++)
        {
          Px want = scale_px (LENS_SCALE_RDYLBU, cell_prob (R, T, row, t));
          int x0 = (int) (fit.grid_x + t * fit.cell_w), y0 = (int) (fit.grid_y + row * fit.cell_h);
          /* every pixel of the cell but its 1 px gap has the fill: no text drawn */
          for (int y = y0 + 1; y < y0 + (int) fit.cell_h - 2; y++)
            for (int x = x0 + 1; x < x0 + (int) fit.cell_w - 2; x++)
              assert_px (pixel (cs, x, y), want, 1);
        }
    cairo_surface_destroy (cs);
  }
  state.shrink_to_fit = false;

  /* Long prompt: wider than the area, so natural columns, but its rows fill the height. */
  g_autoptr (LensResult) wide = make_result (2, 60, 2);
  LensHeatmapLayout wn, wf;
  lens_heatmap_layout (wide, &state, &wn);
  lens_heatmap_layout_for_size (wide, &state, wn.width / 3, wn.height * 2, &wf);
  g_assert_cmpfloat (wf.cell_w, ==, wn.cell_w);
  g_assert_cmpfloat (wf.cell_h, >, wn.cell_h);
  g_assert_cmpfloat (wf.height, <=, wn.height * 2);
}

/* Frozen labels: a large heatmap scrolled right and up keeps its layer labels at the visible
 * area's left edge and its token labels at the bottom edge, painted over the cells. */
static void
test_heatmap_frozen (void)
{
  const int R = 30, T = 40, K = 2;
  g_autoptr (LensResult) r = make_result (R, T, K);
  LensPaintState state;
  lens_paint_state_init (&state);
  state.sel_row = 12;
  LensHeatmapLayout l;
  lens_heatmap_layout (r, &state, &l);
  double W = l.width, H = l.height;

  /* Nothing to freeze when everything is in view, or at the origin with the labels shown. */
  cairo_rectangle_t rows, cols;
  cairo_rectangle_t all = {0, 0, W, H};
  lens_heatmap_frozen_bands (&l, &all, &rows, &cols);
  g_assert_cmpfloat (rows.width, ==, 0);
  g_assert_cmpfloat (cols.width, ==, 0);

  /* A 500 x 400 view scrolled to the middle. */
  cairo_rectangle_t vis = {l.grid_x + 10.5 * l.cell_w, l.grid_y + 8 * l.cell_h, 500, 400};
  lens_heatmap_frozen_bands (&l, &vis, &rows, &cols);
  g_assert_cmpfloat (rows.x, ==, vis.x);
  g_assert_cmpfloat (rows.y, ==, vis.y);
  g_assert_cmpfloat (rows.width, ==, l.labels_w);
  g_assert_cmpfloat (cols.x, ==, vis.x);
  g_assert_cmpfloat (cols.y + cols.height, ==, vis.y + vis.height);
  g_assert_cmpfloat (cols.height, ==, l.labels_h);
  g_assert_cmpfloat (rows.y + rows.height, ==, cols.y);

  cairo_surface_t *s
      = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) vis.width, (int) vis.height);
  cairo_t *cr = cairo_create (s);
  cairo_translate (cr, -vis.x, -vis.y);
  cairo_rectangle (cr, vis.x, vis.y, vis.width, vis.height);
  cairo_clip (cr);
  lens_paint_view (cr, LENS_VIEW_HEATMAP, r, &state, W, H);
  double bg[3] = {0.0, 1.0, 0.0}; /* a colour nothing else uses */
  lens_paint_heatmap_frozen (cr, LENS_VIEW_HEATMAP, r, &state, W, H, &vis, bg);
  g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
  cairo_destroy (cr);
  cairo_surface_flush (s);
  const char *dir = g_getenv ("LENS_PAINT_OUTPUT_DIR");
  g_autofree char *path
      = g_build_filename (dir != NULL ? dir : ".", "paint-heatmap-frozen.png", NULL);
  cairo_surface_write_to_png (s, path);

  /* Surface pixel of a figure point. */
#define AT(fx, fy) pixel (s, (int) ((fx) -vis.x), (int) ((fy) -vis.y))
  /* Row band: the given background with the labels' text on it; the layer label of a row is
   * at the band's right edge, on that row (the selected row's label bold, in the text colour). */
  int green = 0, ink = 0;
  for (int y = (int) rows.y; y < (int) (rows.y + rows.height); y++)
    for (int x = (int) rows.x; x < (int) (rows.x + rows.width) - 1; x++)
      {
        Px p = AT (x, y);
        green += px_near (p, hex_px (0x00ff00), 0);
        ink += !px_near (p, hex_px (0x00ff00), 40);
      }
  g_assert_cmpint (green, >, (int) (rows.width * rows.height) / 2);
  g_assert_cmpint (ink, >, 100);
  for (int row = 9; row < 12; row++)
    {
      double yc = l.grid_y + (row + 0.5) * l.cell_h;
      int label_ink = 0;
      for (int dy = -4; dy <= 4; dy++)
        for (int x = (int) (rows.x + rows.width - 30); x < (int) (rows.x + rows.width - 2); x++)
          label_ink += !px_near (AT (x, yc + dy), hex_px (0x00ff00), 40);
      g_assert_cmpint (label_ink, >, 5);
    }
  /* Cells right of the band and above the token band are painted as usual. */
  int c = (int) ceil ((rows.x + rows.width - l.grid_x) / l.cell_w);
  int rr = 10;
  assert_px (AT (l.grid_x + c * l.cell_w + 3, l.grid_y + rr * l.cell_h + 3),
             scale_px (LENS_SCALE_RDYLBU, cell_prob (R, T, rr, c)), 1);
  /* Token band at the bottom: background and label text, no cell colours. */
  green = ink = 0;
  for (int y = (int) cols.y + 1; y < (int) (cols.y + cols.height); y++)
    for (int x = (int) (cols.x + rows.width); x < (int) (cols.x + cols.width); x++)
      {
        Px p = AT (x, y);
        green += px_near (p, hex_px (0x00ff00), 0);
        ink += !px_near (p, hex_px (0x00ff00), 40);
      }
  g_assert_cmpint (green, >, (int) (cols.width * cols.height) / 2);
  g_assert_cmpint (ink, >, 100);
#undef AT
  cairo_surface_destroy (s);

  /* Scrolled all the way down: the token labels are in view, only the row band remains. */
  cairo_rectangle_t bottom = {vis.x, H - 400, 500, 400};
  lens_heatmap_frozen_bands (&l, &bottom, &rows, &cols);
  g_assert_cmpfloat (cols.width, ==, 0);
  g_assert_cmpfloat (rows.width, ==, l.labels_w);
  /* it reaches over the token labels under the grid: the corner they would slide into */
  g_assert_cmpfloat (rows.y + rows.height, ==, l.grid_y + R * l.cell_h + l.labels_h);
  /* Scrolled down only: the layer labels scroll with their rows. */
  cairo_rectangle_t down = {0, 100, 500, 300};
  lens_heatmap_frozen_bands (&l, &down, &rows, &cols);
  g_assert_cmpfloat (rows.width, ==, 0);
  g_assert_cmpfloat (cols.width, >, 0);
  /* A degenerate view freezes nothing and painting it is harmless. */
  cairo_rectangle_t none = {NAN, NAN, NAN, NAN};
  lens_heatmap_frozen_bands (&l, &none, &rows, &cols);
  g_assert_cmpfloat (rows.width, ==, 0);
  g_assert_cmpfloat (cols.width, ==, 0);
  cairo_surface_t *t = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 4, 4);
  cr = cairo_create (t);
  lens_paint_heatmap_frozen (cr, LENS_VIEW_HEATMAP, r, NULL, W, H, &none, NULL);
  lens_paint_heatmap_frozen (cr, LENS_VIEW_TOPK, r, NULL, W, H, &vis, NULL);
  lens_paint_heatmap_frozen (cr, LENS_VIEW_HEATMAP, NULL, NULL, W, H, &vis, NULL);
  cairo_surface_flush (t);
  g_assert_cmpint (pixel (t, 1, 1).a, ==, 0);
  cairo_destroy (cr);
  cairo_surface_destroy (t);
}

/* Paints the part `vis` of a width x height heatmap as the chart view does (cells, then the
 * frozen bands on a background nothing else uses: pure green). */
static cairo_surface_t *
paint_scrolled (const LensResult *r, const LensPaintState *state, double W, double H,
                const cairo_rectangle_t *vis, const char *save_as)
{
  cairo_surface_t *s
      = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) vis->width, (int) vis->height);
  cairo_t *cr = cairo_create (s);
  cairo_translate (cr, -vis->x, -vis->y);
  cairo_rectangle (cr, vis->x, vis->y, vis->width, vis->height);
  cairo_clip (cr);
  lens_paint_view (cr, LENS_VIEW_HEATMAP, r, state, W, H);
  double bg[3] = {0.0, 1.0, 0.0};
  lens_paint_heatmap_frozen (cr, LENS_VIEW_HEATMAP, r, state, W, H, vis, bg);
  g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
  cairo_destroy (cr);
  cairo_surface_flush (s);
  const char *dir = g_getenv ("LENS_PAINT_OUTPUT_DIR");
  g_autofree char *path = g_build_filename (dir != NULL ? dir : ".", save_as, NULL);
  cairo_surface_write_to_png (s, path);
  return s;
}

/* Pixels of figure rectangle [x0, x1) x [y0, y1) of a surface showing `vis` that are not the
 * pure green background, and how many were looked at. */
static int
ink_in (cairo_surface_t *s, const cairo_rectangle_t *vis, double x0, double y0, double x1,
        double y1, int *looked)
{
  int ink = 0;
  *looked = 0;
  for (int y = (int) ceil (y0); y < (int) floor (y1); y++)
    for (int x = (int) ceil (x0); x < (int) floor (x1); x++)
      {
        (*looked)++;
        ink += !px_near (pixel (s, (int) (x - vis->x), (int) (y - vis->y)), hex_px (0x00ff00), 0);
      }
  return ink;
}

/* Issue 15, item 9: scrolled right and down, the token labels of the columns scrolled left must
 * not show beside (under) the frozen layer labels; with the token labels frozen too, the corner
 * where the two bands meet is blank. */
static void
test_heatmap_frozen_corner (void)
{
  const int R = 30, T = 40, K = 2;
  g_autoptr (LensResult) r = make_result (R, T, K);
  LensPaintState state;
  lens_paint_state_init (&state);
  LensHeatmapLayout l;
  lens_heatmap_layout (r, &state, &l);
  double W = l.width, H = l.height;
  double grid_y1 = l.grid_y + R * l.cell_h;

  /* Scrolled right and to the bottom: the token labels are in view under the grid. */
  cairo_rectangle_t vis = {l.grid_x + 10.5 * l.cell_w, H - 400, 500, 400};
  cairo_rectangle_t rows, cols;
  lens_heatmap_frozen_bands (&l, &vis, &rows, &cols);
  g_assert_cmpfloat (cols.width, ==, 0);
  g_assert_cmpfloat (rows.width, ==, l.labels_w);
  cairo_surface_t *s = paint_scrolled (r, &state, W, H, &vis, "paint-heatmap-frozen-corner.png");
  /* The corner (the band's part under the grid, but its 1 px edge line) is all background: the
   * rotated labels of columns 0 .. 10 (which are long and reach far left) are hidden. */
  int looked;
  int ink = ink_in (s, &vis, rows.x, grid_y1 + 1, rows.x + rows.width - 1, grid_y1 + l.labels_h,
                    &looked);
  g_assert_cmpint (looked, >, 1000);
  g_assert_cmpint (ink, ==, 0);
  /* The token labels of the columns in view are still painted right of the band. */
  ink = ink_in (s, &vis, rows.x + rows.width + 2, grid_y1 + 2, vis.x + vis.width,
                grid_y1 + l.labels_h, &looked);
  g_assert_cmpint (ink, >, 100);
  /* and the layer labels beside the rows in view */
  ink = ink_in (s, &vis, rows.x, vis.y, rows.x + rows.width - 1, grid_y1, &looked);
  g_assert_cmpint (ink, >, 100);
  cairo_surface_destroy (s);

  /* Scrolled right and up: both bands; the corner at the bottom left is blank, the frozen token
   * labels start right of the layer band. */
  cairo_rectangle_t mid = {l.grid_x + 10.5 * l.cell_w, l.grid_y + 8 * l.cell_h, 500, 400};
  lens_heatmap_frozen_bands (&l, &mid, &rows, &cols);
  g_assert_cmpfloat (cols.width, >, 0);
  g_assert_cmpfloat (rows.y + rows.height, ==, cols.y);
  s = paint_scrolled (r, &state, W, H, &mid, "paint-heatmap-frozen-corner-mid.png");
  ink = ink_in (s, &mid, cols.x, cols.y + 1, cols.x + rows.width - 1, cols.y + cols.height,
                &looked);
  g_assert_cmpint (looked, >, 1000);
  g_assert_cmpint (ink, ==, 0);
  ink = ink_in (s, &mid, cols.x + rows.width + 2, cols.y + 2, cols.x + cols.width,
                cols.y + cols.height, &looked);
  g_assert_cmpint (ink, >, 100);
  cairo_surface_destroy (s);
}

/* Zoom: LensPaintState.zoom_cell_w fixes the cell width whatever the area, clamped to the
 * compact and the largest width; rows grow with columns wider than natural; cells narrower than
 * LENS_CELL_W_TEXT are flat colour; exports keep the natural size. */
static void
test_heatmap_zoom (void)
{
  const int R = 4, T = 30, K = 2;
  g_autoptr (LensResult) r = make_result (R, T, K);
  LensPaintState state;
  lens_paint_state_init (&state);
  state.shrink_to_fit = true;
  LensHeatmapLayout nat, z, zs;
  lens_heatmap_layout (r, &state, &nat);

  state.zoom_cell_w = 30.0;
  lens_heatmap_layout (r, &state, &z);
  g_assert_cmpfloat (z.cell_w, ==, 30.0);
  g_assert_cmpfloat (z.cell_h, ==, nat.cell_h);
  g_assert_cmpfloat (z.width, <, nat.width);
  /* any area: a smaller one does not shrink the zoomed cells, a wider one does not widen them;
   * a taller one makes the rows taller (up to their cap), as unzoomed */
  lens_heatmap_layout_for_size (r, &state, 200, 100, &zs);
  g_assert_cmpmem (&zs, sizeof zs, &z, sizeof z);
  lens_heatmap_layout_for_size (r, &state, 1e5, z.height, &zs);
  g_assert_cmpmem (&zs, sizeof zs, &z, sizeof z);
  lens_heatmap_layout_for_size (r, &state, 1e5, z.height + R * 10.0, &zs);
  g_assert_cmpfloat (zs.cell_w, ==, 30.0);
  g_assert_cmpfloat (zs.cell_h, ==, nat.cell_h + 10.0);
  lens_heatmap_layout_for_size (r, &state, 1e5, 1e5, &zs);
  g_assert_cmpfloat (zs.cell_w, ==, 30.0);
  g_assert_cmpfloat (zs.cell_h, ==, 64.0);

  /* wider than natural: taller rows too, up to the caps */
  state.zoom_cell_w = nat.cell_w * 1.5;
  lens_heatmap_layout (r, &state, &z);
  g_assert_cmpfloat (z.cell_w, ==, round (nat.cell_w * 1.5));
  g_assert_cmpfloat (z.cell_h, ==, round (nat.cell_h * z.cell_w / nat.cell_w));
  state.zoom_cell_w = 1000.0;
  lens_heatmap_layout (r, &state, &z);
  g_assert_cmpfloat (z.cell_w, ==, LENS_CELL_W_ZOOM_MAX);
  g_assert_cmpfloat (z.cell_h, ==, MIN (64.0, round (nat.cell_h * z.cell_w / nat.cell_w)));
  state.zoom_cell_w = INFINITY; /* hostile: the automatic layout */
  lens_heatmap_layout (r, &state, &z);
  g_assert_cmpmem (&z, sizeof z, &nat, sizeof nat);

  /* below the compact width: compact, flat colour; hits follow the zoomed cells */
  state.zoom_cell_w = 3.0;
  lens_heatmap_layout (r, &state, &z);
  g_assert_cmpfloat (z.cell_w, ==, LENS_CELL_W_COMPACT);
  int hr, ht;
  g_assert_true (
      lens_heatmap_hit (&z, z.grid_x + 17.5 * z.cell_w, z.grid_y + 2.5 * z.cell_h, &hr, &ht));
  g_assert_cmpint (hr, ==, 2);
  g_assert_cmpint (ht, ==, 17);
  for (int pass = 0; pass < 2; pass++)
    {
      /* compact (no text), then 40 px (text) */
      state.zoom_cell_w = pass == 0 ? 3.0 : 40.0;
      lens_heatmap_layout (r, &state, &z);
      cairo_surface_t *s
          = render (LENS_VIEW_HEATMAP, r, &state,
                    pass == 0 ? "paint-heatmap-zoom-compact.png" : "paint-heatmap-zoom-40.png");
      g_assert_cmpint (cairo_image_surface_get_width (s), ==, (int) ceil (z.width));
      int text_cells = 0;
      for (int row = 0; row < R; row++)
        for (int t = 0; t < T; t++)
          {
            Px want = scale_px (LENS_SCALE_RDYLBU, cell_prob (R, T, row, t));
            int x0 = (int) (z.grid_x + t * z.cell_w), y0 = (int) (z.grid_y + row * z.cell_h);
            assert_px (pixel (s, x0 + 1, y0 + 1), want, 1);
            int other = 0;
            for (int y = y0 + 1; y < y0 + (int) z.cell_h - 2; y++)
              for (int x = x0 + 1; x < x0 + (int) z.cell_w - 2; x++)
                other += !px_near (pixel (s, x, y), want, 1);
            text_cells += other > 10;
          }
      if (pass == 0)
        g_assert_cmpint (text_cells, ==, 0);
      else /* short texts such as "," have few pixels of ink */
        g_assert_cmpint (text_cells, >, R * T * 3 / 4);
      cairo_surface_destroy (s);
    }

  /* Exports ignore the zoom: the same file size as unzoomed. */
  const char *dir = g_getenv ("LENS_PAINT_OUTPUT_DIR");
  g_autofree char *zoomed = g_build_filename (dir != NULL ? dir : ".", "zoom-export.png", NULL);
  g_autofree char *plain = g_build_filename (dir != NULL ? dir : ".", "zoom-export-0.png", NULL);
  state.zoom_cell_w = 150.0;
  g_assert_true (lens_export_view (zoomed, LENS_VIEW_HEATMAP, r, &state, 1.0, NULL));
  state.zoom_cell_w = 0.0;
  g_assert_true (lens_export_view (plain, LENS_VIEW_HEATMAP, r, &state, 1.0, NULL));
  cairo_surface_t *a = cairo_image_surface_create_from_png (zoomed);
  cairo_surface_t *b = cairo_image_surface_create_from_png (plain);
  g_assert_cmpint (cairo_surface_status (a), ==, CAIRO_STATUS_SUCCESS);
  g_assert_cmpint (cairo_image_surface_get_width (a), ==, cairo_image_surface_get_width (b));
  g_assert_cmpint (cairo_image_surface_get_height (a), ==, cairo_image_surface_get_height (b));
  cairo_surface_destroy (a);
  cairo_surface_destroy (b);
  g_remove (zoomed);
  g_remove (plain);
}

/* A 40-character top-1 token does not widen the columns past the natural cap (96 px), and its
 * text is ellipsized inside its cell: the next cell's left part keeps its own colour. */
static void
test_heatmap_long_token (void)
{
  const int R = 2, T = 6, K = 2;
  g_autoptr (LensResult) r = make_result (R, T, K);
  g_free (r->vocab_texts[0]);
  r->vocab_texts[0] = g_strdup (" abcdefghijklmnopqrstuvwxyzabcdefghijklmn"); /* 40 + space */
  for (int t = 0; t < T; t++)
    r->top_ids[lens_result_cell_index (r, 1, t) * K] = 0;
  LensPaintState state;
  lens_paint_state_init (&state);
  LensHeatmapLayout l;
  lens_heatmap_layout (r, &state, &l);
  g_assert_cmpfloat (l.cell_w, <=, 96.0);
  cairo_surface_t *s = render (LENS_VIEW_HEATMAP, r, &state, "paint-heatmap-long-token.png");
  for (int t = 1; t < T; t++)
    {
      Px want = scale_px (LENS_SCALE_RDYLBU, cell_prob (R, T, 1, t));
      int x0 = (int) (l.grid_x + t * l.cell_w), yc = (int) (l.grid_y + 1.5 * l.cell_h);
      for (int x = x0; x < x0 + 3; x++)
        assert_px (pixel (s, x, yc), want, 1);
    }
  cairo_surface_destroy (s);
}

/* ---- line plot --------------------------------------------------------------------------- */

/* The plot area: the bounding box of the plot background and grid colours. The dark theme is
 * used for this since its paper, plot background and grid colours all differ. */
#define DARK_PLOT_BG 0x2a2f38
#define DARK_GRID 0x414958
static void
find_plot_area (cairo_surface_t *s, int *x0, int *y0, int *x1, int *y1)
{
  int w = cairo_image_surface_get_width (s), h = cairo_image_surface_get_height (s);
  *x0 = w, *y0 = h, *x1 = -1, *y1 = -1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if (px_near (pixel (s, x, y), hex_px (DARK_PLOT_BG), 0)
          || px_near (pixel (s, x, y), hex_px (DARK_GRID), 0))
        {
          *x0 = MIN (*x0, x), *y0 = MIN (*y0, y);
          *x1 = MAX (*x1, x), *y1 = MAX (*y1, y);
        }
  g_assert_cmpint (*x1, >, *x0 + 100);
  g_assert_cmpint (*y1, >, *y0 + 100);
}

static void
test_line_plot (void)
{
  const int R = 8, T = 4, K = 3;
  g_autoptr (LensResult) r = make_result (R, T, K);
  g_autofree float *a = g_new (float, (R * T));
  g_autofree float *b = g_new (float, (R * T));
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        size_t c = lens_result_cell_index (r, row, t);
        a[c] = t == T - 1 ? (float) row / (float) (R - 1) : 0.5f;                /* rises 0 -> 1 */
        b[c] = t == T - 1 ? powf (10.0f, -(float) (R - 1 - row) * 0.75f) : 0.5f; /* 10^-5.25 -> 1 */
      }
  TargetSpec targets[] = {{" Paris", 0, a}, {" London", 16, b}};
  LensPaintState state;
  lens_paint_state_init (&state);
  state.dark = true;
  g_autoptr (GPtrArray) kept_targets = NULL;
  state.targets = state_targets (r, targets, 2, &kept_targets);
  state.n_targets = 2;
  state.line_top1 = false; /* the targets' lines alone; /paint/line/top1 adds the top-1 tokens */

  const Px colors[] = {hex_px (0x636efa), hex_px (0xef553b)};
  for (int log_y = 0; log_y <= 1; log_y++)
    {
      /* the log axis fits 10^-5.25 .. 1 (and a zero, clipped): 1e-6 .. 1 */
      state.prob_axis = log_y ? LENS_AXIS_LOG : LENS_AXIS_LINEAR;
      cairo_surface_t *s
          = render (LENS_VIEW_LINE, r, &state, log_y ? "paint-line-log.png" : "paint-line.png");
      int x0, y0, x1, y1;
      find_plot_area (s, &x0, &y0, &x1, &y1);
      double pw = x1 - x0 + 1, ph = y1 - y0 + 1;
      for (int i = 0; i < 2; i++)
        {
          const float *probs = targets[i].probs;
          double prev_x = 0, prev_y = 0;
          for (int row = 0; row < R; row++)
            {
              double p = probs[lens_result_cell_index (r, row, T - 1)];
              double f = log_y ? (log10 (MAX (p, 1e-6)) + 6.0) / 6.0 : p;
              double x = x0 + pw * (row + 0.5) / R, y = y0 + ph * (1.0 - f);
              /* The marker centre has the target's colour, unless the other target's marker
               * (drawn later or earlier) is on top of it. */
              double q = targets[1 - i].probs[lens_result_cell_index (r, row, T - 1)];
              double fq = log_y ? (log10 (MAX (q, 1e-6)) + 6.0) / 6.0 : q;
              if (fabs (ph * (f - fq)) > 10.0)
                assert_px (pixel (s, (int) x, (int) y), colors[i], 2);
              /* The line passes halfway between consecutive markers. */
              if (row > 0)
                {
                  int mx = (int) ((x + prev_x) / 2), my = (int) ((y + prev_y) / 2);
                  int found = 0;
                  for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                      found += px_near (pixel (s, mx + dx, my + dy), colors[i], 2);
                  g_assert_cmpint (found, >, 0);
                }
              prev_x = x, prev_y = y;
            }
        }
      cairo_surface_destroy (s);
    }

  /* Another position: both targets are flat at 0.5 (linear axis). */
  state.prob_axis = LENS_AXIS_LINEAR;
  state.sel_pos = 1;
  state.sel_row = 2;
  cairo_surface_t *s = render (LENS_VIEW_LINE, r, &state, "paint-line-selected.png");
  int x0, y0, x1, y1;
  find_plot_area (s, &x0, &y0, &x1, &y1);
  double y_half = y0 + (y1 - y0 + 1) * 0.5;
  int on_line = 0;
  for (int dy = -1; dy <= 1; dy++)
    on_line += px_near (pixel (s, x0 + (x1 - x0) * 3 / 4 + 3, (int) y_half + dy), colors[1], 2);
  g_assert_cmpint (on_line, >, 0);
  cairo_surface_destroy (s);

  /* Hit-testing agrees with the pixels: the middle of each layer's column maps to that layer;
   * outside the plot area nothing. The hovered layer's column is shaded. */
  double nat_w, nat_h;
  lens_view_natural_size (LENS_VIEW_LINE, r, &state, &nat_w, &nat_h);
  double band = (x1 - x0 + 1) / (double) R;
  for (int row = 0; row < R; row++)
    {
      int hit_row = -1;
      g_assert_true (
          lens_line_hit (r, &state, nat_w, nat_h, x0 + band * (row + 0.5), y0 + 10, &hit_row));
      g_assert_cmpint (hit_row, ==, row);
      g_assert_true (
          lens_line_hit (r, &state, nat_w, nat_h, x0 + band * row + 1, y1 - 10, &hit_row));
      g_assert_cmpint (hit_row, ==, row);
    }
  g_assert_false (lens_line_hit (r, &state, nat_w, nat_h, x0 - 2, (y0 + y1) / 2, NULL));
  g_assert_false (lens_line_hit (r, &state, nat_w, nat_h, x1 + 2, (y0 + y1) / 2, NULL));
  g_assert_false (lens_line_hit (r, &state, nat_w, nat_h, (x0 + x1) / 2, y0 - 20, NULL));
  g_assert_false (lens_line_hit (NULL, &state, nat_w, nat_h, (x0 + x1) / 2, y0 + 5, NULL));
  state.hover_row = 5;
  cairo_surface_t *hs = render (LENS_VIEW_LINE, r, &state, "paint-line-hover.png");
  Px bg = hex_px (DARK_PLOT_BG);
  int probe_y = y0 + 12;
  assert_px (pixel (hs, (int) (x0 + band * 4.2), probe_y), bg, 0);
  Px shaded = pixel (hs, (int) (x0 + band * 5.2), probe_y);
  g_assert_false (px_near (shaded, bg, 2));
  g_assert_cmpint (shaded.r, >, bg.r);
  cairo_surface_destroy (hs);
  state.hover_row = -1;

  /* No targets: an empty plot with a message, no crash. */
  state.n_targets = 0;
  state.targets = NULL;
  cairo_surface_destroy (render (LENS_VIEW_LINE, r, &state, "paint-line-empty.png"));
}

/* Marker centre of `row` for value f (0 bottom .. 1 top of the plot area). */
static void
line_marker (int R, int row, double f, int x0, int y0, int x1, int y1, int *x, int *y)
{
  *x = (int) (x0 + (x1 - x0 + 1) * (row + 0.5) / R);
  *y = (int) (y0 + (y1 - y0 + 1) * (1.0 - f));
}

/* Pixels of `color` in the 7 x 7 square around (x, y). */
static int
color_near (cairo_surface_t *s, int x, int y, Px color)
{
  int n = 0;
  for (int dy = -3; dy <= 3; dy++)
    for (int dx = -3; dx <= 3; dx++)
      n += px_near (pixel (s, x + dx, y + dy), color, 2);
  return n;
}

static void
test_line_top1 (void)
{
  /* make_result's position 3 of 8 rows has a different top-1 token at every row (ids 3..10);
   * id 6 (" capital") is top-1 at row 3 and second at row 0, absent from the top-3 of rows 1-2
   * and 4-7: its line has markers at rows 0 and 3 only (unknown elsewhere, never guessed). */
  const int R = 8, T = 4, K = 3;
  g_autoptr (LensResult) r = make_result (R, T, K);
  int32_t ids[8];
  g_assert_cmpint (lens_result_top1_ids (r, T - 1, ids), ==, R);
  g_assert_cmpint (ids[3], ==, 6);
  float traj[8];
  lens_result_token_trajectory (r, T - 1, 6, traj);
  double p3 = cell_prob (R, T, 3, T - 1), p0 = (1.0 - cell_prob (R, T, 0, T - 1)) / (K + 1);
  g_assert_cmpfloat_with_epsilon (traj[3], p3, 1e-6);
  g_assert_cmpfloat_with_epsilon (traj[0], p0, 1e-6);
  for (int row = 0; row < R; row++)
    if (row != 0 && row != 3)
      g_assert_true (isnan (traj[row]));

  LensPaintState state;
  lens_paint_state_init (&state);
  state.dark = true;
  state.prob_axis = LENS_AXIS_LINEAR;
  g_assert_true (state.line_top1); /* the default */
  cairo_surface_t *s = render (LENS_VIEW_LINE, r, &state, "paint-line-top1.png");
  int x0, y0, x1, y1;
  find_plot_area (s, &x0, &y0, &x1, &y1);
  /* the fourth top-1 token gets the fourth palette colour */
  Px capital = hex_px (0xab63fa);
  int x, y;
  line_marker (R, 3, p3, x0, y0, x1, y1, &x, &y);
  assert_px (pixel (s, x, y), capital, 2);
  line_marker (R, 0, p0, x0, y0, x1, y1, &x, &y);
  assert_px (pixel (s, x, y), capital, 2);
  /* no line where its probability is unknown: between rows 1 and 2 at either value */
  for (int row = 1; row <= 2; row++)
    {
      line_marker (R, row, p0, x0, y0, x1, y1, &x, &y);
      g_assert_cmpint (color_near (s, x, y, capital), ==, 0);
    }
  /* every top-1 token's own marker, in its colour, at the row where it is top-1 (the legend
   * lists them, so the plot is narrower than the figure) */
  for (int row = 0; row < R; row++)
    {
      line_marker (R, row, cell_prob (R, T, row, T - 1), x0, y0, x1, y1, &x, &y);
      g_assert_cmpint (
          color_near (s, x, y, hex_px (0x636efa)) + color_near (s, x, y, capital)
              + color_near (s, x, y, hex_px (0xef553b)) + color_near (s, x, y, hex_px (0x00cc96))
              + color_near (s, x, y, hex_px (0xffa15a)) + color_near (s, x, y, hex_px (0x19d3f3))
              + color_near (s, x, y, hex_px (0xff6692)) + color_near (s, x, y, hex_px (0xb6e880)),
          >, 4);
    }
  cairo_surface_destroy (s);

  /* A target that is also a top-1 token is drawn once, in the target's colour. */
  g_autofree float *probs = g_new (float, R *T);
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      probs[lens_result_cell_index (r, row, t)]
          = t == T - 1 && (row == 0 || row == 3) ? traj[row] : NAN;
  TargetSpec target = {" capital", -1, probs};
  g_autoptr (GPtrArray) kept_target = NULL;
  state.targets = state_targets (r, &target, 1, &kept_target);
  state.n_targets = 1;
  s = render (LENS_VIEW_LINE, r, &state, "paint-line-top1-target.png");
  find_plot_area (s, &x0, &y0, &x1, &y1);
  line_marker (R, 3, p3, x0, y0, x1, y1, &x, &y);
  assert_px (pixel (s, x, y), hex_px (0x636efa), 2);
  cairo_surface_destroy (s);

  /* Without tracking, only the target: no other token's colour in the plot. */
  state.line_top1 = false;
  s = render (LENS_VIEW_LINE, r, &state, "paint-line-top1-off.png");
  find_plot_area (s, &x0, &y0, &x1, &y1);
  int others = 0;
  for (int yy = y0; yy <= y1; yy++)
    for (int xx = x0; xx <= x1; xx++)
      others += px_near (pixel (s, xx, yy), hex_px (0xef553b), 2)
                + px_near (pixel (s, xx, yy), hex_px (0x00cc96), 2);
  g_assert_cmpint (others, ==, 0);
  cairo_surface_destroy (s);
}

static void
test_line_metrics (void)
{
  const int R = 4, T = 3, K = 3;
  g_autoptr (LensResult) r = make_result (R, T, K);
  lens_result_alloc_metrics (r);
  const float kl[] = {2.0f, 1.5f, 0.5f, 0.0f};
  const int rank[] = {1000, 100, 10, 1};
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        size_t c = lens_result_cell_index (r, row, t);
        r->kl_final[c] = kl[row];
        if (t < T - 1)
          {
            r->next_rank[c] = rank[row];
            r->next_logprob[c] = logf (0.1f * (float) (row + 1));
          }
      }
  LensPaintState state;
  lens_paint_state_init (&state);
  state.dark = true;
  state.sel_pos = 0;
  const Px color = hex_px (0x636efa);

  /* KL: nats from 0 to 2 (the largest value is a whole tick) */
  state.line_metric = LENS_COLOR_KL_FINAL;
  cairo_surface_t *s = render (LENS_VIEW_LINE, r, &state, "paint-line-kl.png");
  int x0, y0, x1, y1, x, y;
  find_plot_area (s, &x0, &y0, &x1, &y1);
  for (int row = 0; row < R; row++)
    {
      line_marker (R, row, kl[row] / 2.0, x0, y0, x1, y1, &x, &y);
      assert_px (pixel (s, x, MIN (y, y1 - 1)), color, 2);
    }
  cairo_surface_destroy (s);

  /* rank: decades from 1 (top) to 1000 (bottom) */
  state.line_metric = LENS_COLOR_NEXT_RANK;
  s = render (LENS_VIEW_LINE, r, &state, "paint-line-rank.png");
  find_plot_area (s, &x0, &y0, &x1, &y1);
  for (int row = 0; row < R; row++)
    {
      line_marker (R, row, 1.0 - log10 (rank[row]) / 3.0, x0, y0, x1, y1, &x, &y);
      assert_px (pixel (s, x, CLAMP (y, y0 + 1, y1 - 1)), color, 2);
    }
  cairo_surface_destroy (s);

  /* next-token probability on the linear probability axis */
  state.line_metric = LENS_COLOR_NEXT_PROB;
  state.prob_axis = LENS_AXIS_LINEAR;
  s = render (LENS_VIEW_LINE, r, &state, "paint-line-next.png");
  find_plot_area (s, &x0, &y0, &x1, &y1);
  for (int row = 0; row < R; row++)
    {
      line_marker (R, row, 0.1 * (row + 1), x0, y0, x1, y1, &x, &y);
      assert_px (pixel (s, x, y), color, 2);
    }
  cairo_surface_destroy (s);

  /* The last position has no next token: a message, no line. The same without metrics. */
  for (int without = 0; without <= 1; without++)
    {
      state.sel_pos = without ? 0 : T - 1;
      g_autoptr (LensResult) plain = make_result (R, T, K);
      s = render (LENS_VIEW_LINE, without ? plain : r, &state, NULL);
      find_plot_area (s, &x0, &y0, &x1, &y1);
      int n = 0;
      for (int yy = y0; yy <= y1; yy++)
        for (int xx = x0; xx <= x1; xx++)
          n += px_near (pixel (s, xx, yy), color, 2);
      g_assert_cmpint (n, ==, 0);
      cairo_surface_destroy (s);
    }
}

/* The difference view: a diverging scale symmetric around 0 up to the next 1-2-5 step of the
 * largest |difference|, hatched cells without a partner; KL on a sequential scale from 0. */
static void
test_diff_view (void)
{
  const int R = 3, T = 4, K = 3;
  g_autoptr (LensResult) r = make_result (R, T, K);
  float diff[3 * 4];
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      diff[lens_result_cell_index (r, row, t)]
          = t == T - 1 ? NAN : 0.015f * (float) (row - 1) + 0.001f * (float) t;
  LensPaintState state;
  lens_paint_state_init (&state);
  state.diff_values = diff;
  state.diff_kind = LENS_DIFF_TARGET;
  state.diff_pinned = "The pinned prompt";
  TargetSpec target = {" Paris", 0, diff}; /* only its label is used by this view */
  g_autoptr (GPtrArray) kept_target = NULL;
  state.targets = state_targets (r, &target, 1, &kept_target);
  state.n_targets = 1;
  cairo_surface_t *s = render (LENS_VIEW_DIFF, r, &state, "paint-diff-target.png");
  LensHeatmapLayout l;
  lens_heatmap_layout (r, &state, &l);
  /* the largest |difference| is 0.017: the scale runs from -0.02 to +0.02 */
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T - 1; t++)
      {
        double v = diff[lens_result_cell_index (r, row, t)];
        assert_px (cell_corner (s, &l, row, t), scale_px (LENS_SCALE_RDYLBU, 0.5 + v / 0.04), 1);
      }
  int x0 = (int) (l.grid_x + (T - 1) * l.cell_w), y0 = (int) l.grid_y;
  int hatch = 0;
  for (int y = y0; y < y0 + (int) l.cell_h - 1; y++)
    for (int x = x0; x < x0 + (int) l.cell_w - 1; x++)
      hatch += px_near (pixel (s, x, y), hex_px (0xb4b4b4), 30);
  g_assert_cmpint (hatch, >, 20);
  cairo_surface_destroy (s);

  /* KL: 0 .. the largest value, Blues */
  float kl[3 * 4];
  for (int i = 0; i < R * T; i++)
    kl[i] = 0.25f * (float) i;
  state.diff_values = kl;
  state.diff_kind = LENS_DIFF_KL;
  s = render (LENS_VIEW_DIFF, r, &state, "paint-diff-kl.png");
  double top = 0.25 * (R * T - 1);
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      assert_px (cell_corner (s, &l, row, t),
                 scale_px (LENS_SCALE_BLUES, kl[lens_result_cell_index (r, row, t)] / top), 1);
  cairo_surface_destroy (s);

  /* Nothing pinned: every cell hatched, no colour from either scale. */
  state.diff_values = NULL;
  s = render (LENS_VIEW_DIFF, r, &state, "paint-diff-none.png");
  int hatched = 0;
  for (int y = (int) l.grid_y; y < (int) (l.grid_y + l.cell_h) - 1; y++)
    for (int x = (int) l.grid_x; x < (int) (l.grid_x + l.cell_w) - 1; x++)
      hatched += px_near (pixel (s, x, y), hex_px (0xb4b4b4), 30);
  g_assert_cmpint (hatched, >, 20);
  cairo_surface_destroy (s);
  LensView view;
  g_assert_true (lens_view_from_string ("diff", &view) && view == LENS_VIEW_DIFF);
}

/* ---- top-k ------------------------------------------------------------------------------- */

static void
test_topk (void)
{
  const int R = 3, T = 4, K = 6;
  g_autoptr (LensResult) r = make_result (R, T, K);
  LensPaintState state;
  lens_paint_state_init (&state);
  state.dark = true;
  state.sel_row = 1;
  state.sel_pos = 2;
  cairo_surface_t *s = render (LENS_VIEW_TOPK, r, &state, "paint-topk.png");
  int x0, y0, x1, y1;
  find_plot_area (s, &x0, &y0, &x1, &y1);
  double bar_w = x1 - x0 + 1, row_h = (y1 - y0 + 1) / (double) K;
  Px bar = hex_px (0x636efa);
  size_t cell = lens_result_cell_index (r, 1, 2);
  for (int k = 0; k < K; k++)
    {
      int y = (int) (y0 + (k + 0.5) * row_h);
      int len = 0;
      for (int x = x0; x <= x1 && px_near (pixel (s, x, y), bar, 0); x++)
        len++;
      double want = r->top_probs[cell * K + k] * bar_w;
      g_assert_cmpfloat (fabs (len - want), <=, 1.0);
    }
  cairo_surface_destroy (s);

  /* A taller area: the rows grow to fill it (up to 36 px), bars with them, same lengths. */
  double nw, nh;
  lens_view_natural_size (LENS_VIEW_TOPK, r, &state, &nw, &nh);
  for (int extra = 5; extra <= 40; extra += 35)
    {
      double th = nh + K * extra;
      s = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) nw, (int) th);
      cairo_t *cr = cairo_create (s);
      lens_paint_view (cr, LENS_VIEW_TOPK, r, &state, nw, th);
      cairo_destroy (cr);
      cairo_surface_flush (s);
      find_plot_area (s, &x0, &y0, &x1, &y1);
      double grown = (y1 - y0 + 1) / (double) K;
      g_assert_cmpfloat (grown, ==, MIN (row_h + extra, 36.0));
      for (int k = 0; k < K; k++)
        {
          int y = (int) (y0 + (k + 0.5) * grown);
          int len = 0, tall = 0;
          for (int x = x0; x <= x1 && px_near (pixel (s, x, y), bar, 0); x++)
            len++;
          int half = (int) (grown / 2) - 1;
          for (int dy = -half; dy <= half; dy++)
            tall += y + dy >= 0 && px_near (pixel (s, x0 + 1, y + dy), bar, 0);
          g_assert_cmpfloat (fabs (len - r->top_probs[cell * K + k] * bar_w), <=, 1.0);
          g_assert_cmpint (tall, ==, (int) round (16.0 * grown / row_h));
        }
      cairo_surface_destroy (s);
    }

  /* Default cell (no selection): last row, last position. */
  lens_paint_state_init (&state);
  state.dark = true;
  s = render (LENS_VIEW_TOPK, r, &state, "paint-topk-default.png");
  find_plot_area (s, &x0, &y0, &x1, &y1);
  cell = lens_result_cell_index (r, R - 1, T - 1);
  int y = (int) (y0 + 0.5 * row_h), len = 0;
  for (int x = x0; x <= x1 && px_near (pixel (s, x, y), bar, 0); x++)
    len++;
  g_assert_cmpfloat (fabs (len - r->top_probs[cell * K] * (x1 - x0 + 1)), <=, 1.0);
  cairo_surface_destroy (s);

  /* A flat distribution: the axis ends at the next 1/2/5 x 10^k above the top probability, here
   * 0.005 for 0.0032, so the bars stay visible. */
  cell = lens_result_cell_index (r, 0, 0);
  const float flat[] = {0.0032f, 0.0031f, 0.0024f, 0.002f, 0.0011f, 0.0001f};
  for (int k = 0; k < K; k++)
    r->top_probs[cell * K + k] = flat[k];
  state.sel_row = 0, state.sel_pos = 0;
  s = render (LENS_VIEW_TOPK, r, &state, "paint-topk-flat.png");
  find_plot_area (s, &x0, &y0, &x1, &y1);
  for (int k = 0; k < K; k++)
    {
      y = (int) (y0 + (k + 0.5) * row_h), len = 0;
      for (int x = x0; x <= x1 && px_near (pixel (s, x, y), bar, 0); x++)
        len++;
      g_assert_cmpfloat (fabs (len - flat[k] / 0.005 * (x1 - x0 + 1)), <=, 1.0);
    }
  cairo_surface_destroy (s);
}

/* ---- describe ---------------------------------------------------------------------------- */

static void
test_describe (void)
{
  const int R = 4, T = 6, K = 3;
  g_autoptr (LensResult) r = make_result (R, T, K);
  g_autofree float *probs = g_new (float, (R * T));
  for (int i = 0; i < R * T; i++)
    probs[i] = 1e-7f * (float) (i + 1);
  TargetSpec targets[] = {{" Paris", -1, probs}, {"<i>", -1, NULL}};
  LensPaintState state;
  lens_paint_state_init (&state);
  g_autoptr (GPtrArray) kept_targets = NULL;
  state.targets = state_targets (r, targets, 2, &kept_targets);
  state.n_targets = 2;

  /* Cell (2, 5): the input token there is the long one (id 15). */
  g_autofree char *m = lens_describe_cell (r, &state, 2, 5);
  g_assert_true (pango_parse_markup (m, -1, 0, NULL, NULL, NULL, NULL));
  g_assert_nonnull (strstr (m, "Layer 2"));
  g_assert_nonnull (strstr (m, "position 5"));
  g_assert_nonnull (strstr (m, "␣extraordinarily_long_token_name"));
  /* Top-k: ids (2 + 5 + 3k) % 20 = 7, 10, 13 -> "The", " is", " city". */
  size_t cell = lens_result_cell_index (r, 2, 5);
  const char *p1 = strstr (m, "1. <tt>The</tt>");
  const char *p2 = strstr (m, "2. <tt>␣is</tt>");
  const char *p3 = strstr (m, "3. <tt>␣city</tt>");
  g_assert_true (p1 != NULL && p2 != NULL && p3 != NULL && p1 < p2 && p2 < p3);
  /* numbers as lens_format_prob writes them (tested in test-format) */
  g_autofree char *top1 = lens_format_prob (r->top_probs[cell * K]);
  g_assert_nonnull (strstr (p1, top1));
  g_assert_nonnull (strstr (m, "Entropy: 0.700 nats"));
  /* Target: tiny probability in scientific notation; no rank without a model. */
  g_autofree char *tiny = lens_format_prob (probs[cell]);
  g_assert_nonnull (strstr (tiny, "e-"));
  g_autofree char *tp = g_strdup_printf ("<tt>␣Paris</tt>  %s", tiny);
  g_assert_nonnull (strstr (m, tp));
  g_assert_null (strstr (m, "rank"));
  g_assert_null (strstr (m, "KL from"));
  /* With metrics: KL from the final layer, and the token that comes next with its probability,
   * rank and cross-entropy. */
  lens_result_alloc_metrics (r);
  r->kl_final[lens_result_cell_index (r, 2, 3)] = 0.25f;
  r->next_logprob[lens_result_cell_index (r, 2, 3)] = logf (0.125f);
  r->next_rank[lens_result_cell_index (r, 2, 3)] = 7;
  g_autofree char *mm = lens_describe_cell (r, &state, 2, 3);
  g_assert_true (pango_parse_markup (mm, -1, 0, NULL, NULL, NULL, NULL));
  g_assert_nonnull (strstr (mm, "KL from the final layer: 0.250 nats"));
  g_assert_nonnull (strstr (mm, "<b>Next token</b>"));
  g_assert_nonnull (strstr (mm, "12.5%, rank 7, cross-entropy 2.079 nats"));
  /* Markup in token texts is escaped; a target without data shows a dash. */
  g_assert_nonnull (strstr (m, "<tt>&lt;i&gt;</tt>  —"));

  /* Markup characters in a top-k token are escaped. */
  r->top_ids[lens_result_cell_index (r, 1, 1) * K] = 14;
  g_autofree char *m3 = lens_describe_cell (r, &state, 1, 1);
  g_assert_true (pango_parse_markup (m3, -1, 0, NULL, NULL, NULL, NULL));
  g_assert_nonnull (strstr (m3, "&lt;b&gt;&amp;amp;"));
  g_assert_nonnull (strstr (m3, "position 1 <tt>␣capital</tt>"));

  /* Out of range cells give an empty string, not a crash. */
  g_autofree char *e1 = lens_describe_cell (r, &state, -1, 0);
  g_autofree char *e2 = lens_describe_cell (r, &state, 0, T);
  g_autofree char *e3 = lens_describe_cell (NULL, &state, 0, 0);
  g_assert_cmpstr (e1, ==, "");
  g_assert_cmpstr (e2, ==, "");
  g_assert_cmpstr (e3, ==, "");
}

/* ---- export ------------------------------------------------------------------------------ */

static GBytes *
read_file (const char *path)
{
  char *data;
  gsize len;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &data, &len, &error));
  g_assert_no_error (error);
  return g_bytes_new_take (data, len);
}

static char *
output_path (const char *name)
{
  const char *dir = g_getenv ("LENS_PAINT_OUTPUT_DIR");
  return g_build_filename (dir != NULL ? dir : ".", name, NULL);
}

/* ---- probability axes that follow the data ------------------------------------------------ */

/* Marker centre of `row` on a log axis 10^lo .. 10^hi in the plot area (x0, y0)-(x1, y1). */
static void
log_marker (int R, int row, double p, double lo, double hi, int x0, int y0, int x1, int y1, int *x,
            int *y)
{
  double f = (log10 (p) - lo) / (hi - lo);
  *x = (int) (x0 + (x1 - x0 + 1) * (row + 0.5) / R);
  *y = (int) (y0 + (y1 - y0 + 1) * (1.0 - CLAMP (f, 0.0, 1.0)));
}

static void
test_line_log_fit (void)
{
  /* The demo model's " Paris" after a long prompt: 4.7e-10 .. 2.3e-7. A fixed 1e-6 floor drew
   * one flat line; the axis must reach 1e-10 and place every marker. */
  const int R = 5, T = 2, K = 3;
  g_autoptr (LensResult) r = make_result (R, T, K);
  float probs[] = {0.5f, 4.7e-10f, 0.5f, 3e-9f, 0.5f, 2e-8f, 0.5f, 1e-7f, 0.5f, 2.3e-7f};
  g_assert_cmpint (lens_result_cell_index (r, 1, 1), ==, 3);
  TargetSpec targets[] = {{" Paris", 0, probs}};
  LensPaintState state;
  lens_paint_state_init (&state);
  state.dark = true;
  g_autoptr (GPtrArray) kept_targets = NULL;
  state.targets = state_targets (r, targets, 1, &kept_targets);
  state.n_targets = 1;
  state.line_top1 = false; /* the axis fitted to the target alone */
  const Px color = hex_px (0x636efa);

  for (int auto_axis = 0; auto_axis <= 1; auto_axis++)
    {
      /* all below 1%: auto picks the same log axis as log */
      state.prob_axis = auto_axis ? LENS_AXIS_AUTO : LENS_AXIS_LOG;
      cairo_surface_t *s = render (LENS_VIEW_LINE, r, &state, "paint-line-log-fit.png");
      int x0, y0, x1, y1;
      find_plot_area (s, &x0, &y0, &x1, &y1);
      int prev_y = G_MAXINT;
      for (int row = 0; row < R; row++)
        {
          int x, y;
          log_marker (R, row, probs[lens_result_cell_index (r, row, T - 1)], -10.0, -6.0, x0, y0,
                      x1, y1, &x, &y);
          assert_px (pixel (s, x, y), color, 2);
          g_assert_cmpint (y, <, prev_y - 20); /* every marker clearly above the last one */
          prev_y = y;
        }
      cairo_surface_destroy (s);
    }

  /* A zero and a value 30 decades down cannot be placed: the axis stops 12 decades below the
   * largest value and those points are marked on the bottom edge with a triangle. */
  float clipped[] = {0.5f, 0.0f, 0.5f, 1e-30f, 0.5f, 1e-3f, 0.5f, 0.1f, 0.5f, 0.5f};
  targets[0].probs = clipped;
  state.targets = state_targets (r, targets, 1, &kept_targets);
  state.prob_axis = LENS_AXIS_LOG;
  cairo_surface_t *s = render (LENS_VIEW_LINE, r, &state, "paint-line-log-clipped.png");
  int x0, y0, x1, y1;
  find_plot_area (s, &x0, &y0, &x1, &y1);
  for (int row = 0; row < R; row++)
    {
      int x, y;
      float p = clipped[lens_result_cell_index (r, row, T - 1)];
      log_marker (R, row, p > 0 ? p : 1e-45, -12.0, 0.0, x0, y0, x1, y1, &x, &y);
      if (row < 2)
        {
          /* on the bottom edge (a triangle pointing down through it) */
          g_assert_cmpint (y, >=, y1);
          assert_px (pixel (s, x, y1), color, 2);
        }
      else
        assert_px (pixel (s, x, y), color, 2);
    }
  /* The legend says what the edge markers mean, under the target entries; nothing is written
   * there when nothing is clipped. */
  int w = cairo_image_surface_get_width (s);
  int note_y0 = y0 + 8 + 22 * 1, note_y1 = y0 + 8 + 22 * 2;
  int written = 0;
  for (int y = note_y0; y < note_y1; y++)
    for (int x = x1 + 12; x < w; x++)
      written += !px_near (pixel (s, x, y), hex_px (0x1e1e1e), 8);
  g_assert_cmpint (written, >, 30);
  targets[0].probs = probs;
  state.targets = state_targets (r, targets, 1, &kept_targets);
  cairo_surface_t *unclipped = render (LENS_VIEW_LINE, r, &state, NULL);
  written = 0;
  for (int y = note_y0; y < note_y1; y++)
    for (int x = x1 + 12; x < w; x++)
      written += !px_near (pixel (unclipped, x, y), hex_px (0x1e1e1e), 8);
  g_assert_cmpint (written, ==, 0);
  cairo_surface_destroy (unclipped);
  cairo_surface_destroy (s);
}

static void
test_target_heatmap_log (void)
{
  /* Targets at 1e-8 .. 1e-3 were all white on the fixed 0..1 scale. */
  const int R = 2, T = 3, K = 3;
  g_autoptr (LensResult) r = make_result (R, T, K);
  float probs[] = {1e-8f, 1e-7f, 1e-6f, 1e-5f, 1e-4f, 1e-3f};
  TargetSpec targets[] = {{" Paris", 0, probs}};
  LensPaintState state;
  lens_paint_state_init (&state);
  g_autoptr (GPtrArray) kept_targets = NULL;
  state.targets = state_targets (r, targets, 1, &kept_targets);
  state.n_targets = 1;
  LensHeatmapLayout l;
  lens_heatmap_layout (r, &state, &l);

  LensAxis axes[] = {LENS_AXIS_AUTO, LENS_AXIS_LOG, LENS_AXIS_LINEAR};
  for (size_t a = 0; a < G_N_ELEMENTS (axes); a++)
    {
      state.prob_axis = axes[a];
      cairo_surface_t *s = render (LENS_VIEW_TARGET, r, &state, "paint-target-log.png");
      for (int row = 0; row < R; row++)
        for (int t = 0; t < T; t++)
          {
            double p = probs[lens_result_cell_index (r, row, t)];
            /* log: 1e-8 .. 1e-3 spread over the whole scale */
            double f = axes[a] == LENS_AXIS_LINEAR ? p : (log10 (p) + 8.0) / 5.0;
            assert_px (cell_corner (s, &l, row, t), scale_px (LENS_SCALE_BLUES, f), 1);
          }
      cairo_surface_destroy (s);
    }
}

static gboolean
same_pixels (cairo_surface_t *a, cairo_surface_t *b)
{
  int w = cairo_image_surface_get_width (a), h = cairo_image_surface_get_height (a);
  if (w != cairo_image_surface_get_width (b) || h != cairo_image_surface_get_height (b))
    return FALSE;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if (!px_near (pixel (a, x, y), pixel (b, x, y), 0))
        return FALSE;
  return TRUE;
}

static cairo_surface_t *
export_png (LensView view, const LensResult *r, const LensPaintState *state, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = output_path (name);
  g_assert_true (lens_export_view (path, view, r, state, 1.0, &error));
  g_assert_no_error (error);
  cairo_surface_t *png = cairo_image_surface_create_from_png (path);
  g_assert_cmpint (cairo_surface_status (png), ==, CAIRO_STATUS_SUCCESS);
  return png;
}

static void
test_export_marks (void)
{
  /* A figure for a paper carries no selection outline, bold labels, dashed layer or hover. */
  const int R = 4, T = 5, K = 3;
  g_autoptr (LensResult) r = make_result (R, T, K);
  float probs[R * T];
  for (int i = 0; i < R * T; i++)
    probs[i] = 0.05f * (float) i;
  TargetSpec targets[] = {{" Paris", 0, probs}};
  LensPaintState clean, marked;
  lens_paint_state_init (&clean);
  g_autoptr (GPtrArray) kept_targets = NULL;
  clean.targets = state_targets (r, targets, 1, &kept_targets);
  clean.n_targets = 1;
  /* the line plot and the bars are about the last position either way */
  clean.sel_pos = T - 1;
  marked = clean;
  marked.sel_row = 1;
  marked.hover_row = 2;
  marked.hover_pos = 0;

  LensView views[] = {LENS_VIEW_HEATMAP, LENS_VIEW_TARGET, LENS_VIEW_LINE};
  for (size_t v = 0; v < G_N_ELEMENTS (views); v++)
    {
      cairo_surface_t *a = export_png (views[v], r, &clean, "export-clean.png");
      cairo_surface_t *b = export_png (views[v], r, &marked, "export-unmarked.png");
      g_assert_true (same_pixels (a, b));
      marked.export_marks = true;
      cairo_surface_t *c = export_png (views[v], r, &marked, "export-marked.png");
      marked.export_marks = false;
      g_assert_false (same_pixels (a, c));
      cairo_surface_destroy (a);
      cairo_surface_destroy (b);
      cairo_surface_destroy (c);
    }
}

static void
test_export (void)
{
  const int R = 4, T = 5, K = 3;
  g_autoptr (LensResult) r = make_result (R, T, K);
  LensPaintState state;
  lens_paint_state_init (&state);
  g_autoptr (GError) error = NULL;
  double nat_w, nat_h;
  lens_view_natural_size (LENS_VIEW_HEATMAP, r, &state, &nat_w, &nat_h);

  /* PNG at 1x and 2x (upper-case extension works too). */
  for (int sc = 1; sc <= 2; sc++)
    {
      g_autofree char *name = g_strdup_printf ("export-heatmap@%dx.PNG", sc);
      g_autofree char *path = output_path (name);
      g_assert_true (lens_export_view (path, LENS_VIEW_HEATMAP, r, &state, sc, &error));
      g_assert_no_error (error);
      g_autoptr (GBytes) bytes = read_file (path);
      g_assert_cmpuint (g_bytes_get_size (bytes), >, 1000);
      g_assert_cmpmem (g_bytes_get_data (bytes, NULL), 8, "\x89PNG\r\n\x1a\n", 8);
      cairo_surface_t *png = cairo_image_surface_create_from_png (path);
      g_assert_cmpint (cairo_surface_status (png), ==, CAIRO_STATUS_SUCCESS);
      g_assert_cmpint (cairo_image_surface_get_width (png), ==, (int) ceil (nat_w * sc));
      g_assert_cmpint (cairo_image_surface_get_height (png), ==, (int) ceil (nat_h * sc));
      /* The same cell colours as on screen, scaled. */
      LensHeatmapLayout l;
      lens_heatmap_layout (r, &state, &l);
      for (int row = 0; row < R; row++)
        for (int t = 0; t < T; t++)
          assert_px (pixel (png, (int) ((l.grid_x + t * l.cell_w + 3) * sc),
                            (int) ((l.grid_y + row * l.cell_h + 3) * sc)),
                     scale_px (LENS_SCALE_RDYLBU, cell_prob (R, T, row, t)), 1);
      cairo_surface_destroy (png);
    }

  /* SVG: a <title>/<desc> with the words (cairo draws text as glyph outlines). */
  g_autofree char *svg_path = output_path ("export-heatmap.svg");
  g_assert_true (lens_export_view (svg_path, LENS_VIEW_HEATMAP, r, &state, 1.0, &error));
  g_assert_no_error (error);
  g_autoptr (GBytes) svg = read_file (svg_path);
  g_autofree char *svg_text = g_strndup (g_bytes_get_data (svg, NULL), g_bytes_get_size (svg));
  g_assert_true (g_str_has_prefix (svg_text, "<?xml"));
  g_assert_nonnull (strstr (svg_text, "<svg"));
  g_assert_nonnull (strstr (svg_text, "</svg>"));
  g_assert_nonnull (strstr (svg_text, "<title>Top token at each layer and position</title>"));
  g_assert_nonnull (strstr (svg_text, "Input tokens: The ␣capital ␣of ␣the ␣the"));
  /* Row 0's top-1 tokens: ids (0 + t) % 20 -> " Paris", " the", " France", ",", " of". */
  g_assert_nonnull (strstr (svg_text, "Layer 0: ␣Paris ␣the ␣France , ␣of"));
  /* Cell fills appear as the scale's colours. */
  g_assert_nonnull (strstr (svg_text, "rgb(19.215686%,21.176471%,58.431373%)")); /* #313695 */
  g_assert_nonnull (strstr (svg_text, "rgb(64.705882%,0%,14.901961%)"));         /* #a50026 */

  /* If librsvg is installed, the SVG must look like the PNG: same cell colours. */
  g_autofree char *rsvg = g_find_program_in_path ("rsvg-convert");
  if (rsvg != NULL)
    {
      g_autofree char *back = output_path ("export-heatmap-svg-rendered.png");
      const char *argv[] = {rsvg, "-o", back, svg_path, NULL};
      int status;
      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL,
                                   NULL, &status, &error));
      g_assert_no_error (error);
      g_assert_true (g_spawn_check_wait_status (status, &error));
      cairo_surface_t *png = cairo_image_surface_create_from_png (back);
      g_assert_cmpint (cairo_surface_status (png), ==, CAIRO_STATUS_SUCCESS);
      LensHeatmapLayout l;
      lens_heatmap_layout (r, &state, &l);
      for (int row = 0; row < R; row++)
        for (int t = 0; t < T; t++)
          assert_px (cell_corner (png, &l, row, t),
                     scale_px (LENS_SCALE_RDYLBU, cell_prob (R, T, row, t)), 1);
      cairo_surface_destroy (png);
    }
  else
    g_test_message ("rsvg-convert not found: SVG rendering not compared");

  /* PDF: valid header and trailer; with poppler-utils, the token texts come back as text. */
  g_autofree char *pdf_path = output_path ("export-heatmap.pdf");
  g_assert_true (lens_export_view (pdf_path, LENS_VIEW_HEATMAP, r, &state, 1.0, &error));
  g_assert_no_error (error);
  g_autoptr (GBytes) pdf = read_file (pdf_path);
  gsize pdf_len;
  const char *pdf_data = g_bytes_get_data (pdf, &pdf_len);
  g_assert_cmpuint (pdf_len, >, 1000);
  g_assert_cmpmem (pdf_data, 5, "%PDF-", 5);
  g_assert_nonnull (g_strstr_len (pdf_data + pdf_len - 32, 32, "%%EOF"));
  g_autofree char *pdftotext = g_find_program_in_path ("pdftotext");
  if (pdftotext != NULL)
    {
      const char *argv[] = {pdftotext, pdf_path, "-", NULL};
      g_autofree char *out = NULL;
      int status;
      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                                   NULL, &status, &error));
      g_assert_no_error (error);
      g_assert_nonnull (strstr (out, "␣Paris"));
      g_assert_nonnull (strstr (out, "␣France"));
      g_assert_nonnull (strstr (out, "Input tokens"));
      g_assert_nonnull (strstr (out, "Probability"));
    }
  else
    g_test_message ("pdftotext not found: PDF text not checked");

  /* The other views export too. */
  TargetSpec targets[] = {{" Paris", 0, NULL}};
  g_autofree float *probs = g_new0 (float, (R * T));
  targets[0].probs = probs;
  g_autoptr (GPtrArray) kept_targets = NULL;
  state.targets = state_targets (r, targets, 1, &kept_targets);
  state.n_targets = 1;
  const LensView views[] = {LENS_VIEW_TARGET, LENS_VIEW_LINE, LENS_VIEW_TOPK};
  for (size_t i = 0; i < G_N_ELEMENTS (views); i++)
    {
      g_autofree char *name = g_strdup_printf ("export-view%d.svg", (int) views[i]);
      g_autofree char *path = output_path (name);
      g_assert_true (lens_export_view (path, views[i], r, &state, 1.0, &error));
      g_assert_no_error (error);
    }

  /* Errors name the file. */
  g_autofree char *jpg = output_path ("figure.jpg");
  g_assert_false (lens_export_view (jpg, LENS_VIEW_HEATMAP, r, &state, 1.0, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "figure.jpg"));
  g_assert_false (g_file_test (jpg, G_FILE_TEST_EXISTS));
  g_clear_error (&error);
  g_assert_false (lens_export_view ("no-extension", LENS_VIEW_HEATMAP, r, &state, 1.0, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_false (lens_export_view ("dir.svg/file", LENS_VIEW_HEATMAP, r, &state, 1.0, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_clear_error (&error);

  const char *unwritable[] = {"/nonexistent-dir/figure.png", "/nonexistent-dir/figure.svg",
                              "/nonexistent-dir/figure.pdf", "/proc/figure.svg"};
  for (size_t i = 0; i < G_N_ELEMENTS (unwritable); i++)
    {
      g_assert_false (lens_export_view (unwritable[i], LENS_VIEW_HEATMAP, r, &state, 1.0, &error));
      g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
      g_assert_nonnull (strstr (error->message, unwritable[i]));
      g_test_message ("%s", error->message);
      g_clear_error (&error);
    }
  g_autofree char *bad_scale = output_path ("bad-scale.png");
  g_assert_false (lens_export_view (bad_scale, LENS_VIEW_HEATMAP, r, &state, NAN, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_false (lens_export_view (bad_scale, LENS_VIEW_HEATMAP, r, &state, 0.0, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_false (g_file_test (bad_scale, G_FILE_TEST_EXISTS));
}

/* A PNG too large for cairo is refused with advice, not a crash or a blank file: positions are
 * cut to a page, so it takes rows beyond cairo's 32,767 pixels. */
static void
test_export_huge (void)
{
  g_autoptr (LensResult) r = make_result (1300, 2, 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *path = output_path ("huge.png");
  g_assert_false (lens_export_view (path, LENS_VIEW_HEATMAP, r, NULL, 1.0, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "SVG or PDF"));
  g_clear_error (&error);
  g_autofree char *svg = output_path ("huge.svg");
  g_assert_true (lens_export_view (svg, LENS_VIEW_HEATMAP, r, NULL, 1.0, &error));
  g_assert_no_error (error);
}

/* A heatmap of a long prompt is exported as its last LENS_EXPORT_MAX_POSITIONS positions (with
 * the target's probabilities cut the same way): the PNG is exactly the figure of that range,
 * numbered as in the prompt, not a 245-column strip. Line plots are not cut. */
static void
test_export_cut (void)
{
  const int R = 3, T = 245;
  g_autoptr (LensResult) r = make_result (R, T, 2);
  int first = -1, count = -1;
  g_assert_true (lens_export_positions (LENS_VIEW_HEATMAP, r, &first, &count));
  g_assert_cmpint (first, ==, T - LENS_EXPORT_MAX_POSITIONS);
  g_assert_cmpint (count, ==, LENS_EXPORT_MAX_POSITIONS);
  g_assert_false (lens_export_positions (LENS_VIEW_LINE, r, &first, &count));
  g_assert_cmpint (count, ==, T);
  g_autoptr (LensResult) small = make_result (R, LENS_EXPORT_MAX_POSITIONS, 2);
  g_assert_false (lens_export_positions (LENS_VIEW_TARGET, small, &first, &count));
  g_assert_cmpint (first, ==, 0);

  /* a target whose probability is the position's number, so a wrong cut shows */
  g_autofree float *probs = g_new (float, (size_t) R *T);
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      probs[lens_result_cell_index (r, row, t)] = (float) t / (float) T;
  TargetSpec target = {.label = " Paris", .id = -1, .probs = probs};
  LensPaintState state;
  lens_paint_state_init (&state);
  g_autoptr (GPtrArray) kept_target = NULL;
  state.targets = state_targets (r, &target, 1, &kept_target);
  state.n_targets = 1;
  state.prob_axis = LENS_AXIS_LINEAR;

  g_autoptr (GError) error = NULL;
  g_autoptr (LensResult) tail = lens_result_slice (r, 0, R, T - LENS_EXPORT_MAX_POSITIONS,
                                                   LENS_EXPORT_MAX_POSITIONS, &error);
  g_assert_no_error (error);
  g_autofree float *tail_probs = g_new (float, (size_t) R *LENS_EXPORT_MAX_POSITIONS);
  lens_result_slice_cells (r, 0, R, T - LENS_EXPORT_MAX_POSITIONS, LENS_EXPORT_MAX_POSITIONS, probs,
                           tail_probs);
  TargetSpec tail_target = target;
  tail_target.probs = tail_probs;
  LensPaintState tail_state = state;
  g_autoptr (GPtrArray) kept_tail_target = NULL;
  tail_state.targets = state_targets (tail, &tail_target, 1, &kept_tail_target);

  for (LensView view = LENS_VIEW_HEATMAP; view <= LENS_VIEW_TARGET; view++)
    {
      g_autofree char *name = g_strdup_printf ("export-cut-%d.png", view);
      g_autofree char *path = output_path (name);
      g_assert_true (lens_export_view (path, view, r, &state, 1.0, &error));
      g_assert_no_error (error);
      cairo_surface_t *got = cairo_image_surface_create_from_png (path);
      g_assert_cmpint (cairo_surface_status (got), ==, CAIRO_STATUS_SUCCESS);
      double whole_w, whole_h;
      lens_view_natural_size (view, r, &state, &whole_w, &whole_h);
      g_assert_cmpint (cairo_image_surface_get_width (got), <, whole_w / 3);
      cairo_surface_t *want = render (view, tail, &tail_state, NULL);
      g_assert_true (same_pixels (got, want));
      cairo_surface_destroy (got);
      cairo_surface_destroy (want);
    }
  /* the line plot of the whole prompt is its usual size */
  g_autofree char *line = output_path ("export-cut-line.png");
  g_assert_true (lens_export_view (line, LENS_VIEW_LINE, r, &state, 1.0, &error));
  g_assert_no_error (error);
}

/* A range of a prompt is numbered as in the prompt: the position numbers are drawn even for a
 * few columns, and they are the prompt's (different pixels for a range from 200 than from 300
 * over the same cells). */
static void
test_range_numbers (void)
{
  g_autoptr (LensResult) r = make_result (2, 400, 2);
  g_autoptr (LensResult) whole = make_result (2, 8, 2);
  g_autoptr (GError) error = NULL;
  g_autoptr (LensResult) a = lens_result_slice (r, 0, 2, 200, 8, &error);
  g_autoptr (LensResult) b = lens_result_slice (r, 0, 2, 300, 8, &error);
  g_assert_no_error (error);
  LensPaintState state;
  lens_paint_state_init (&state);
  LensHeatmapLayout la, lw;
  lens_heatmap_layout (a, &state, &la);
  lens_heatmap_layout (whole, &state, &lw);
  g_assert_cmpfloat (la.labels_h, >=, lw.labels_h + 16.0 - 0.5);

  cairo_surface_t *sa = render (LENS_VIEW_HEATMAP, a, &state, "range-200.png");
  cairo_surface_t *sb = render (LENS_VIEW_HEATMAP, b, &state, NULL);
  /* the numbers' band under the grid: ink in both, and not the same ink */
  int y0 = (int) (la.grid_y + la.n_rows * la.cell_h + 6), differ = 0, ink = 0;
  for (int y = y0; y < y0 + 12; y++)
    for (int x = (int) la.grid_x; x < (int) (la.grid_x + la.n_cols * la.cell_w); x++)
      {
        ink += !px_near (pixel (sa, x, y), hex_px (0xffffff), 40);
        differ += !px_near (pixel (sa, x, y), pixel (sb, x, y), 0);
      }
  g_assert_cmpint (ink, >, 20);
  g_assert_cmpint (differ, >, 20);
  /* tooltips name the prompt's position */
  g_autofree char *tip = lens_describe_cell (a, &state, 0, 3);
  g_assert_nonnull (strstr (tip, "position 203"));
  cairo_surface_destroy (sa);
  cairo_surface_destroy (sb);
}

/* The colour bar of a wide figure (80 layers x 1,000 positions, as a results file from NDIF),
 * painted where the window shows it: scrolled to the right end, the cairo origin is far to the left
 * of the surface, as the chart view paints a large figure. The strip has the scale's colours from
 * top (1) to bottom (0), and the position numbers and token labels under the last columns are
 * inside the figure's height. */
static void
test_wide_color_bar (void)
{
  g_autoptr (LensResult) r = make_result (80, 1000, 1);
  LensPaintState state;
  lens_paint_state_init (&state);
  state.shrink_to_fit = true;
  LensHeatmapLayout l;
  lens_heatmap_layout_for_size (r, &state, 900, 600, &l);
  double grid_x1 = l.grid_x + l.n_cols * l.cell_w;
  g_assert_cmpfloat (l.width, >, 10000);
  /* the last 300 pixels of the figure */
  const int view_w = 300, view_h = (int) ceil (l.height);
  double x0 = l.width - view_w;
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, view_w, view_h);
  cairo_t *cr = cairo_create (s);
  cairo_translate (cr, -x0, 0);
  cairo_rectangle (cr, x0, 0, view_w, view_h);
  cairo_clip (cr);
  lens_paint_view (cr, LENS_VIEW_HEATMAP, r, &state, l.width, l.height);
  g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
  cairo_destroy (cr);
  cairo_surface_flush (s);
  const char *dir = g_getenv ("LENS_PAINT_OUTPUT_DIR");
  g_autofree char *path = g_build_filename (dir != NULL ? dir : ".", "wide-color-bar.png", NULL);
  cairo_surface_write_to_png (s, path);

  /* the strip: 20 px right of the grid, 16 wide, from 24 px under the grid's top */
  int bar_x = (int) (grid_x1 + 20 + 8 - x0);
  double bar_top = l.grid_y + 24, bar_h = 480; /* the grid is taller than the bar's maximum */
  for (double f = 0.1; f < 1.0; f += 0.4)
    assert_px (pixel (s, bar_x, (int) (bar_top + bar_h * (1.0 - f))),
               scale_px (LENS_SCALE_RDYLBU, f), 6);
  cairo_surface_destroy (s);
}

/* ---- robustness -------------------------------------------------------------------------- */

static void
test_empty_and_hostile (void)
{
  /* No result: an empty state with a message. */
  cairo_surface_t *s = render (LENS_VIEW_HEATMAP, NULL, NULL, "paint-empty.png");
  int w = cairo_image_surface_get_width (s), h = cairo_image_surface_get_height (s);
  g_assert_cmpint (count_differing (s, 0, 0, w, h, hex_px (0xffffff)), >, 50);
  cairo_surface_destroy (s);
  for (int v = LENS_VIEW_HEATMAP; v <= LENS_VIEW_TOPK; v++)
    cairo_surface_destroy (render ((LensView) v, NULL, NULL, NULL));

  /* Out-of-range selection, hover and target indices; missing cells; a single cell. */
  g_autoptr (LensResult) r = make_result (1, 1, 1);
  TargetSpec targets[] = {{NULL, -1, NULL}};
  LensPaintState state;
  lens_paint_state_init (&state);
  state.sel_row = 99, state.sel_pos = -7, state.hover_row = 1, state.hover_pos = 1;
  g_autoptr (GPtrArray) kept_targets = NULL;
  state.targets = state_targets (r, targets, 1, &kept_targets), state.n_targets = 1,
  state.active_target = -3;
  state.heatmap_scale = (LensColorScale) 42;
  for (int v = LENS_VIEW_HEATMAP; v <= LENS_VIEW_TOPK; v++)
    cairo_surface_destroy (render ((LensView) v, r, &state, NULL));
  r->top_ids[0] = -1;
  r->top_probs[0] = NAN;
  r->entropy[0] = NAN;
  for (int v = LENS_VIEW_HEATMAP; v <= LENS_VIEW_TOPK; v++)
    cairo_surface_destroy (render ((LensView) v, r, &state, NULL));
  g_autofree char *m = lens_describe_cell (r, &state, 0, 0);
  g_assert_true (pango_parse_markup (m, -1, 0, NULL, NULL, NULL, NULL));

  /* Ids outside the vocabulary table and invalid UTF-8 token texts. */
  g_autoptr (LensResult) q = make_result (3, 3, 2);
  q->top_ids[0] = 100000;
  q->top_ids[1] = -5;
  g_free (q->token_texts[1]);
  q->token_texts[1] = g_strdup ("\xff\xfe bad");
  for (int v = LENS_VIEW_HEATMAP; v <= LENS_VIEW_TOPK; v++)
    cairo_surface_destroy (render ((LensView) v, q, NULL, NULL));
  g_autofree char *m4 = lens_describe_cell (q, NULL, 0, 1);
  g_assert_true (pango_parse_markup (m4, -1, 0, NULL, NULL, NULL, NULL));

  /* Painting into a tiny area clips instead of failing. */
  s = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 10, 10);
  cairo_t *cr = cairo_create (s);
  for (int v = LENS_VIEW_HEATMAP; v <= LENS_VIEW_TOPK; v++)
    lens_paint_view (cr, (LensView) v, q, NULL, 10, 10);
  g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
  cairo_destroy (cr);
  cairo_surface_destroy (s);
}

/* A realistic figure (12 layers, the seed prompt's length) saved for people to look at. */
static void
test_gallery (void)
{
  const int R = 12, T = 10, K = 10;
  g_autoptr (LensResult) r = make_result (R, T, K);
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        size_t cell = lens_result_cell_index (r, row, t);
        /* Confidence growing with depth, with some variety across positions. */
        float p = CLAMP (0.05f + 0.85f * (float) row / (R - 1) * (0.6f + 0.4f * sinf (t * 1.7f)),
                         0.0f, 1.0f);
        r->top_probs[cell * K] = p;
        r->top_ids[cell * K] = row > 8 && t == T - 1 ? 0 : (row * 7 + t * 3) % N_VOCAB;
      }
  g_autofree float *paris = g_new (float, (R * T));
  g_autofree float *london = g_new (float, (R * T));
  g_autofree float *berlin = g_new (float, (R * T));
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        size_t c = lens_result_cell_index (r, row, t);
        float x = (float) row / (R - 1);
        paris[c] = powf (x, 3.0f) * 0.9f + 1e-5f;
        london[c] = 0.08f * sinf (x * 3.0f) + 2e-4f;
        berlin[c] = 0.02f * x * x + 3e-6f;
      }
  TargetSpec targets[] = {{" Paris", 0, paris}, {" London", 16, london}, {" Berlin", 17, berlin}};
  LensPaintState state;
  lens_paint_state_init (&state);
  g_autoptr (GPtrArray) kept_targets = NULL;
  state.targets = state_targets (r, targets, 3, &kept_targets);
  state.n_targets = 3;
  state.hover_row = 4, state.hover_pos = 2;
  state.sel_row = 9, state.sel_pos = T - 1;
  for (int dark = 0; dark <= 1; dark++)
    {
      state.dark = dark;
      const char *suffix = dark ? "-dark" : "";
      const struct
      {
        LensView view;
        const char *name;
      } views[] = {{LENS_VIEW_HEATMAP, "heatmap"},
                   {LENS_VIEW_TARGET, "target"},
                   {LENS_VIEW_LINE, "line"},
                   {LENS_VIEW_TOPK, "topk"}};
      for (size_t i = 0; i < G_N_ELEMENTS (views); i++)
        {
          g_autofree char *name = g_strdup_printf ("gallery-%s%s.png", views[i].name, suffix);
          cairo_surface_destroy (render (views[i].view, r, &state, name));
        }
    }
  state.dark = false;
  state.prob_axis = LENS_AXIS_LOG;
  cairo_surface_destroy (render (LENS_VIEW_LINE, r, &state, "gallery-line-log.png"));
  state.n_targets = 0;
  state.targets = NULL;
  cairo_surface_destroy (render (LENS_VIEW_TARGET, r, &state, "gallery-target-none.png"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/paint/color-scale", test_color_scale);
  g_test_add_func ("/paint/heatmap/cells", test_heatmap_cells);
  g_test_add_func ("/paint/heatmap/outlines", test_heatmap_outlines);
  g_test_add_func ("/paint/heatmap/frame", test_heatmap_frame);
  g_test_add_func ("/paint/heatmap/target", test_target_heatmap);
  g_test_add_func ("/paint/heatmap/hit", test_hit);
  g_test_add_func ("/paint/heatmap/color-by", test_heatmap_color_by);
  g_test_add_func ("/paint/heatmap/position-numbers", test_position_numbers);
  g_test_add_func ("/paint/heatmap/pending", test_heatmap_pending);
  g_test_add_func ("/paint/heatmap/fill", test_heatmap_fill);
  g_test_add_func ("/paint/heatmap/frozen", test_heatmap_frozen);
  g_test_add_func ("/paint/heatmap/frozen-corner", test_heatmap_frozen_corner);
  g_test_add_func ("/paint/heatmap/zoom", test_heatmap_zoom);
  g_test_add_func ("/paint/heatmap/long-token", test_heatmap_long_token);
  g_test_add_func ("/paint/line", test_line_plot);
  g_test_add_func ("/paint/line/log-fit", test_line_log_fit);
  g_test_add_func ("/paint/line/top1", test_line_top1);
  g_test_add_func ("/paint/line/metrics", test_line_metrics);
  g_test_add_func ("/paint/diff", test_diff_view);
  g_test_add_func ("/paint/heatmap/target-log", test_target_heatmap_log);
  g_test_add_func ("/paint/export/marks", test_export_marks);
  g_test_add_func ("/paint/topk", test_topk);
  g_test_add_func ("/paint/describe", test_describe);
  g_test_add_func ("/paint/export", test_export);
  g_test_add_func ("/paint/export/huge", test_export_huge);
  g_test_add_func ("/paint/export/cut", test_export_cut);
  g_test_add_func ("/paint/heatmap/wide-color-bar", test_wide_color_bar);
  g_test_add_func ("/paint/heatmap/range-numbers", test_range_numbers);
  g_test_add_func ("/paint/empty-and-hostile", test_empty_and_hostile);
  g_test_add_func ("/paint/gallery", test_gallery);
  return g_test_run ();
}
