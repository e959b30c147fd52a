/* lens-heatmap-layout.c: the heatmap's geometry by arithmetic: text extents measured once and
 * cached, cell sizes for an area (natural, shrunk, filled, zoomed), hit-testing and the frozen
 * label bands. Row 0 (the first kept layer) is at the top, as plotly's imshow draws the seed's
 * figure; columns are input positions. */
#include "config.h"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "lens-heatmap-private.h"

/* Text extents the geometry is built from: measuring them is the slow part, so they are cached
 * and any target size is laid out from them by arithmetic. */
typedef struct
{
  int n_rows, n_cols;
  int first_pos;       /* the prompt's number of the first column (a range of a prompt) */
  double widest_label; /* input tokens (column labels), up to COL_LABEL_MAX + 1 */
  double widest_cell;  /* sampled top-1 texts, up to CELL_W_MAX - 2 * CELL_TEXT_PAD */
  double row_w;        /* widest row label */
  double bar_title_w, title_w;
} Measures;

const char *
lens_heatmap_top1_text (const LensResult *r, int row, int pos, float *prob)
{
  size_t k0 = lens_result_cell_index (r, row, pos) * (size_t) r->top_k;
  int32_t id = r->top_ids[k0];
  *prob = r->top_probs[k0];
  if (id < 0 || isnan (*prob))
    return NULL;
  return lens_result_token_text (r, id);
}

/* Rows whose top-1 texts size the cells: sizing every cell would cost a text layout per cell;
 * the last row (the model's own predictions) and every step-th row above it are a good guide,
 * and anything wider is elided. */
static int
sample_step (const LensResult *r)
{
  return MAX (1, r->n_rows / 8);
}

static guint64
fnv1a (guint64 h, const void *data, size_t len)
{
  const guchar *p = data;
  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

static guint64
fnv1a_str (guint64 h, const char *s)
{
  /* Includes the terminator, so ("ab", "c") and ("a", "bc") differ. */
  return s != NULL ? fnv1a (h, s, strlen (s) + 1) : fnv1a (h, "\xff", 1);
}

/* Everything the measures depend on, hashed: a painted figure is laid out again on every frame
 * and every pointer motion, and measuring a long prompt's texts takes far longer than this. */
static guint64
measures_key (const LensResult *r)
{
  guint64 h = 0xcbf29ce484222325ULL;
  int dims[4] = {r->n_rows, r->n_tokens, r->top_k, r->first_pos};
  h = fnv1a (h, dims, sizeof dims);
  for (int t = 0; t < r->n_tokens; t++)
    h = fnv1a_str (h, r->token_texts[t]);
  for (int row = 0; row < r->n_rows; row++)
    h = fnv1a_str (h, r->row_labels[row]);
  for (int row = r->n_rows - 1; row >= 0; row -= sample_step (r))
    for (int t = 0; t < r->n_tokens; t++)
      {
        float p;
        h = fnv1a_str (h, lens_heatmap_top1_text (r, row, t, &p));
      }
  return h;
}

/* Width of the widest display form of `texts`, stopping once `cap` is reached; repeated texts
 * are measured once. */
typedef struct
{
  GHashTable *seen;
  double widest, cap, size;
} WidestText;

static void
widest_add (WidestText *w, const char *raw)
{
  if (raw == NULL || w->widest >= w->cap || g_hash_table_contains (w->seen, raw))
    return;
  g_hash_table_add (w->seen, (gpointer) raw);
  g_autofree char *shown = lens_token_display (raw);
  double width;
  lens_measure_text (shown, w->size, FALSE, &width, NULL);
  w->widest = MAX (w->widest, width);
}

static void
measure_texts (const LensResult *r, Measures *m)
{
  *m = (Measures){0};
  m->n_rows = r != NULL ? r->n_rows : 0;
  m->n_cols = r != NULL ? r->n_tokens : 0;
  m->first_pos = r != NULL ? r->first_pos : 0;
  if (r != NULL)
    {
      WidestText labels
          = {g_hash_table_new (g_str_hash, g_str_equal), 0.0, COL_LABEL_MAX + 1.0, LENS_FONT_LABEL};
      for (int t = 0; t < r->n_tokens; t++)
        widest_add (&labels, r->token_texts[t]);
      m->widest_label = labels.widest;
      g_hash_table_unref (labels.seen);

      WidestText cells = {g_hash_table_new (g_str_hash, g_str_equal), 0.0,
                          CELL_W_MAX - 2 * CELL_TEXT_PAD, LENS_FONT_CELL};
      for (int row = r->n_rows - 1; row >= 0; row -= sample_step (r))
        for (int t = 0; t < r->n_tokens; t++)
          {
            float p;
            widest_add (&cells, lens_heatmap_top1_text (r, row, t, &p));
          }
      m->widest_cell = cells.widest;
      g_hash_table_unref (cells.seen);

      for (int row = 0; row < r->n_rows; row++)
        {
          double w;
          lens_measure_text (r->row_labels[row], LENS_FONT_LABEL, FALSE, &w, NULL);
          m->row_w = MAX (m->row_w, w);
        }
    }
  /* room for the longest colour bar title, so switching scales or values keeps the layout */
  const char *bar_titles[]
      = {_ ("Probability"),     _ ("Probability (log)"), _ ("Next token"), _ ("Next token (log)"),
         _ ("Next-token rank"), _ ("KL from final"),     _ ("Entropy")};
  for (size_t i = 0; i < G_N_ELEMENTS (bar_titles); i++)
    {
      double w;
      lens_measure_text (bar_titles[i], LENS_FONT_LABEL, FALSE, &w, NULL);
      m->bar_title_w = MAX (m->bar_title_w, w);
    }
  lens_measure_text (_ ("Top token at each layer and position"), LENS_FONT_TITLE, TRUE, &m->title_w,
                     NULL);
}

static void
get_measures (const LensResult *r, Measures *m)
{
  if (r == NULL)
    {
      measure_texts (r, m);
      return;
    }
  /* One entry is enough: the widget asks about the figure it shows, again and again. */
  static GMutex lock;
  static gboolean valid;
  static guint64 cached_key;
  static Measures cached;

  guint64 key = measures_key (r);
  g_mutex_lock (&lock);
  gboolean hit = valid && cached_key == key;
  if (hit)
    *m = cached;
  g_mutex_unlock (&lock);
  if (hit)
    return;

  measure_texts (r, m);
  g_mutex_lock (&lock);
  cached = *m;
  cached_key = key;
  valid = TRUE;
  g_mutex_unlock (&lock);
}

static double
natural_cell_w (const Measures *m)
{
  return round (CLAMP (m->widest_cell + 2 * CELL_TEXT_PAD, CELL_W_MIN, CELL_W_MAX));
}

/* Everything else follows from the cell size. The width without the title's minimum is returned
 * in *content_w, the part that grows with the cells. */
static void
place_geometry (const Measures *m, double cell_w, double cell_h, Geometry *g, double *content_w)
{
  *g = (Geometry){0};
  LensHeatmapLayout *l = &g->pub;
  l->n_rows = m->n_rows;
  l->n_cols = m->n_cols;
  l->cell_w = cell_w;
  l->cell_h = cell_h;

  g->rotate_labels = m->widest_label > l->cell_w - 4.0;
  g->col_label_h = g->rotate_labels
                       ? ceil (MIN (m->widest_label, COL_LABEL_MAX) * sin (G_PI / 4.0) + 18.0)
                       : 22.0;
  /* a range of a prompt always has them: its columns do not start at 0 */
  g->pos_numbers = m->n_cols >= POS_NUMBERS_MIN_COLS || m->first_pos > 0;
  if (g->pos_numbers)
    g->col_label_h += POS_NUMBERS_H;
  g->row_label_w = ceil (MAX (m->row_w, 16.0) + 8.0);
  l->labels_w = PAD + AXIS_TITLE_W + g->row_label_w;
  l->labels_h = g->col_label_h;

  l->grid_x = l->labels_w;
  if (g->rotate_labels)
    {
      /* The first column's rotated label runs down-left from under the column: keep it in. */
      double reach = MIN (m->widest_label, COL_LABEL_MAX) * cos (G_PI / 4.0) + LENS_FONT_LABEL;
      l->grid_x = MAX (l->grid_x, ceil (PAD + reach - l->cell_w / 2.0 - 4.0));
    }
  l->grid_y = PAD + TITLE_H;
  double grid_w = l->cell_w * l->n_cols;
  double grid_h = l->cell_h * l->n_rows;

  g->bar_h = CLAMP (grid_h, BAR_H_MIN, BAR_H_MAX);
  g->bar_x = l->grid_x + grid_w + BAR_GAP;
  g->bar_y = l->grid_y + BAR_TITLE_H;

  double content = ceil (g->bar_x + MAX (BAR_W + BAR_LABELS_W, m->bar_title_w) + PAD);
  if (content_w != NULL)
    *content_w = content;
  /* Wide enough for the title of a short prompt. */
  l->width = MAX (content, ceil (m->title_w + 2 * PAD));
  double below = g->col_label_h + AXIS_TITLE_H;
  l->height = ceil (MAX (l->grid_y + grid_h + below, g->bar_y + g->bar_h + 8.0) + PAD);
}

/* The natural geometry, or with width, height > 0 the one whose cells grow (up to a cap) to fill
 * width x height. Never smaller than natural: a figure larger than the area keeps its natural
 * cells, and the widget scrolls. */
void
lens_heatmap_geometry (const LensResult *r, const LensPaintState *state, double width,
                       double height, Geometry *g)
{
  Measures m;
  get_measures (r, &m);
  double content_w;
  double nat_cell_w = natural_cell_w (&m);
  place_geometry (&m, nat_cell_w, CELL_H, g, &content_w);
  if (m.n_rows <= 0 || m.n_cols <= 0)
    return;

  if (state != NULL && isfinite (state->zoom_cell_w) && state->zoom_cell_w > 0)
    {
      /* Zoomed: the chosen width whatever the area (the widget scrolls); rows grow with columns
       * wider than natural, so cells keep their shape instead of becoming flat bars, and fill a
       * taller area as they do unzoomed, so zooming does not squash the rows the pane had. */
      double cell_w = round (CLAMP (state->zoom_cell_w, LENS_CELL_W_COMPACT, LENS_CELL_W_ZOOM_MAX));
      double cell_h = round (CLAMP (CELL_H * cell_w / nat_cell_w, CELL_H, CELL_H_FILL));
      place_geometry (&m, cell_w, cell_h, g, NULL);
      if (isfinite (height) && height > g->pub.height)
        {
          double fixed = g->pub.grid_y + g->col_label_h + AXIS_TITLE_H + PAD;
          double fill_h = MIN (CELL_H_FILL, floor ((height - fixed) / m.n_rows));
          if (fill_h > cell_h)
            place_geometry (&m, cell_w, fill_h, g, NULL);
        }
      return;
    }

  if (state != NULL && state->shrink_to_fit && isfinite (width) && width > 0 && width < g->pub.width
      && nat_cell_w > LENS_CELL_W_COMPACT)
    {
      /* Narrower cells, down to the compact width, so the whole prompt fits the pane: the fixed
       * parts (labels, colour bar) are what the natural layout has around its grid; rotated
       * labels may move the grid a little, so the width is checked again. */
      double fixed = content_w - nat_cell_w * m.n_cols;
      double cell_w = floor ((width - fixed) / m.n_cols);
      cell_w = CLAMP (cell_w, LENS_CELL_W_COMPACT, nat_cell_w);
      place_geometry (&m, cell_w, CELL_H, g, &content_w);
      while (content_w > width && cell_w > LENS_CELL_W_COMPACT)
        place_geometry (&m, --cell_w, CELL_H, g, &content_w);
    }
  gboolean shrunk = g->pub.cell_w < nat_cell_w;
  nat_cell_w = g->pub.cell_w;

  /* Whole pixels, so cell edges stay crisp; the content width shrinks or stays as cells widen
   * (rotated labels need less room left of a wider first column), so this never overflows. */
  double cell_w = nat_cell_w;
  if (width > g->pub.width && isfinite (width))
    cell_w
        = MIN (MAX (CELL_W_FILL, nat_cell_w), floor (nat_cell_w + (width - content_w) / m.n_cols));
  cell_w = MAX (cell_w, nat_cell_w);
  if (cell_w != nat_cell_w)
    place_geometry (&m, cell_w, CELL_H, g, NULL);

  /* Wider cells may have turned the labels upright, which frees height for the rows. */
  double cell_h = CELL_H;
  if (height > g->pub.height && isfinite (height))
    {
      double fixed = g->pub.grid_y + g->col_label_h + AXIS_TITLE_H + PAD;
      cell_h = MIN (CELL_H_FILL, floor ((height - fixed) / m.n_rows));
      cell_h = MAX (cell_h, CELL_H);
    }
  if (cell_h != CELL_H)
    place_geometry (&m, cell_w, cell_h, g, NULL);
  /* a title longer than the shrunk figure is cut (the painter elides it) rather than scrolled */
  if (shrunk && g->pub.width > width)
    g->pub.width = MAX (ceil (content_w), ceil (width));
}

void
lens_heatmap_layout (const LensResult *r, const LensPaintState *state, LensHeatmapLayout *out)
{
  Geometry g;
  lens_heatmap_geometry (r, state, 0.0, 0.0, &g);
  *out = g.pub;
}

void
lens_heatmap_layout_for_size (const LensResult *r, const LensPaintState *state, double width,
                              double height, LensHeatmapLayout *out)
{
  Geometry g;
  lens_heatmap_geometry (r, state, width, height, &g);
  *out = g.pub;
}

gboolean
lens_heatmap_hit (const LensHeatmapLayout *layout, double x, double y, int *row, int *pos)
{
  if (layout->n_rows <= 0 || layout->n_cols <= 0 || layout->cell_w <= 0 || layout->cell_h <= 0)
    return FALSE;
  double fx = (x - layout->grid_x) / layout->cell_w;
  double fy = (y - layout->grid_y) / layout->cell_h;
  if (!(fx >= 0.0 && fy >= 0.0 && fx < layout->n_cols && fy < layout->n_rows))
    return FALSE;
  if (row != NULL)
    *row = (int) fy;
  if (pos != NULL)
    *pos = (int) fx;
  return TRUE;
}

void
lens_heatmap_frozen_bands (const LensHeatmapLayout *l, const cairo_rectangle_t *visible,
                           cairo_rectangle_t *rows, cairo_rectangle_t *cols)
{
  *rows = *cols = (cairo_rectangle_t){0};
  if (l->n_rows <= 0 || l->n_cols <= 0 || !(visible->width > 0) || !(visible->height > 0))
    return;
  double vx0 = visible->x, vy0 = visible->y;
  double vx1 = vx0 + visible->width, vy1 = vy0 + visible->height;
  double grid_x1 = l->grid_x + l->n_cols * l->cell_w;
  double grid_y1 = l->grid_y + l->n_rows * l->cell_h;

  /* Token labels: frozen while the grid's bottom edge or its labels are below the visible area
   * and enough of the grid is above the band for it to label. */
  double band_top = vy1 - l->labels_h;
  if (grid_y1 + l->labels_h > vy1 + 0.5 && band_top > MAX (l->grid_y, vy0) + 0.5 * l->cell_h
      && l->grid_x < vx1 && grid_x1 > vx0)
    *cols = (cairo_rectangle_t){vx0, band_top, MIN (vx1, grid_x1) - vx0, l->labels_h};

  /* Layer labels: frozen once scrolled right at all, over the rows that are in view and the
   * token labels under them (the corner: labels of columns scrolled left would show there). */
  double y0 = MAX (l->grid_y, vy0);
  double y1 = MIN (grid_y1 + l->labels_h, cols->height > 0 ? cols->y : vy1);
  if (vx0 > 0.5 && y1 > y0 && grid_x1 > vx0)
    *rows = (cairo_rectangle_t){vx0, y0, MIN (l->labels_w, visible->width), y1 - y0};
}
