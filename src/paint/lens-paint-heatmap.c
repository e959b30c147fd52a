/* lens-paint-heatmap.c: the top-token heatmap and the target heatmap (same geometry), with their
 * colour bar. Row 0 (the first kept layer) is at the top, as plotly's imshow draws the seed's
 * figure; columns are input positions. */
#include "config.h"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "lens-paint-private.h"

/* Geometry constants (pixels). */
#define PAD 12.0
#define TITLE_H 34.0
#define AXIS_TITLE_W 22.0 /* rotated "Layer" */
#define AXIS_TITLE_H 24.0 /* "Input tokens" */
#define CELL_H 26.0
#define CELL_W_MIN 48.0
#define CELL_W_MAX 96.0                  /* natural size: longer top-1 texts are elided */
#define CELL_W_FILL LENS_CELL_W_ZOOM_MAX /* cells grow up to this to fill a larger area */
#define CELL_H_FILL 64.0
#define CELL_TEXT_PAD 6.0
#define COL_LABEL_MAX 120.0 /* longest rotated column label before eliding */
#define BAR_GAP 20.0
#define BAR_W 16.0
#define BAR_H_MIN 140.0
#define BAR_H_MAX 480.0
#define BAR_TITLE_H 24.0
#define BAR_LABELS_W 48.0 /* "≤1e-12" on a log scale */
#define ROTATION (-G_PI / 4.0)
#define POS_NUMBERS_MIN_COLS 16 /* long prompts get position numbers under the grid */
#define POS_NUMBERS_H 16.0

static const double bar_ticks[] = {0.0, 0.25, 0.5, 0.75, 1.0};

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

/* Parts of the layout that the public LensHeatmapLayout does not carry. */
typedef struct
{
  LensHeatmapLayout pub;
  gboolean rotate_labels;
  double col_label_h; /* position numbers (long prompts) and token labels under the grid */
  gboolean pos_numbers;
  double row_label_w;
  double bar_x, bar_y, bar_h;
} Geometry;

static const char *
top1_text (const LensResult *r, int row, int pos, float *prob)
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
        h = fnv1a_str (h, top1_text (r, row, t, &p));
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
            widest_add (&cells, top1_text (r, row, t, &p));
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
static void
compute_geometry (const LensResult *r, const LensPaintState *state, double width, double height,
                  Geometry *g)
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
  compute_geometry (r, state, 0.0, 0.0, &g);
  *out = g.pub;
}

void
lens_heatmap_layout_for_size (const LensResult *r, const LensPaintState *state, double width,
                              double height, LensHeatmapLayout *out)
{
  Geometry g;
  compute_geometry (r, state, width, height, &g);
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

static const float *
active_target_probs (const LensPaintState *state, const LensTarget **target)
{
  *target = NULL;
  if (state == NULL || state->targets == NULL || state->active_target < 0
      || state->active_target >= state->n_targets)
    return NULL;
  *target = state->targets[state->active_target];
  return (*target)->probs;
}

char *
lens_view_title (LensView view, const LensResult *r, const LensPaintState *state)
{
  if ((view == LENS_VIEW_HEATMAP || view == LENS_VIEW_TARGET || view == LENS_VIEW_DIFF) && r != NULL
      && lens_result_is_partial (r))
    {
      /* A partial result says so, and how far it is. */
      g_autofree char *title = lens_view_title (view, NULL, state);
      /* Translators: a heatmap's title, then how many positions are computed so far */
      return g_strdup_printf (_ ("%s · computing %d/%d"), title, r->n_ready, r->n_tokens);
    }
  switch (view)
    {
    case LENS_VIEW_HEATMAP:
      switch (state != NULL ? state->heatmap_color_by : LENS_COLOR_TOP_PROB)
        {
        case LENS_COLOR_NEXT_PROB:
          return g_strdup (_ ("Top token at each layer and position, coloured by the probability "
                              "of the next token"));
        case LENS_COLOR_NEXT_RANK:
          return g_strdup (
              _ ("Top token at each layer and position, coloured by the next token's rank"));
        case LENS_COLOR_KL_FINAL:
          return g_strdup (
              _ ("Top token at each layer and position, coloured by KL from the final layer"));
        case LENS_COLOR_ENTROPY:
          return g_strdup (_ ("Top token at each layer and position, coloured by entropy"));
        case LENS_COLOR_TOP_PROB:
        default:
          return g_strdup (_ ("Top token at each layer and position"));
        }
    case LENS_VIEW_DIFF:
      {
        g_autofree char *pinned = state != NULL && state->diff_pinned != NULL
                                      ? lens_token_display (state->diff_pinned)
                                      : g_strdup ("");
        /* long prompts: the title is ellipsized when painted */
        if (state != NULL && state->diff_kind == LENS_DIFF_KL)
          /* Translators: the placeholder is the pinned prompt */
          return g_strdup_printf (_ ("KL(pinned ‖ this prompt) at each layer and position · "
                                     "pinned: “%s”"),
                                  pinned);
        const LensTarget *target;
        active_target_probs (state, &target);
        if (target == NULL)
          return g_strdup (_ ("Target probability: this prompt − pinned"));
        g_autofree char *shown = lens_token_display (target->label);
        /* Translators: a target token, then the pinned prompt */
        return g_strdup_printf (_ ("Probability of “%s”: this prompt − pinned · pinned: “%s”"),
                                shown, pinned);
      }
    case LENS_VIEW_TARGET:
      {
        const LensTarget *target;
        active_target_probs (state, &target);
        if (target == NULL)
          return g_strdup (_ ("Target token probability"));
        g_autofree char *shown = lens_token_display (target->label);
        /* Translators: the placeholder is a token such as “␣Paris” */
        return g_strdup_printf (_ ("Probability of “%s” at each layer and position"), shown);
      }
    case LENS_VIEW_LINE:
      {
        if (r == NULL)
          return g_strdup (_ ("Target probability across layers"));
        int row, pos;
        lens_line_cell (r, state, &row, &pos);
        g_autofree char *shown = lens_token_display (r->token_texts[pos]);
        pos += r->first_pos; /* the prompt's number, in a range too */
        switch (state->line_metric)
          {
          case LENS_COLOR_NEXT_PROB:
            /* Translators: position number and its input token */
            return g_strdup_printf (_ ("Next-token probability across layers at position %d “%s”"),
                                    pos, shown);
          case LENS_COLOR_NEXT_RANK:
            /* Translators: position number and its input token */
            return g_strdup_printf (_ ("Next-token rank across layers at position %d “%s”"), pos,
                                    shown);
          case LENS_COLOR_KL_FINAL:
            /* Translators: position number and its input token */
            return g_strdup_printf (_ ("KL to the final layer across layers at position %d “%s”"),
                                    pos, shown);
          case LENS_COLOR_ENTROPY:
            /* Translators: position number and its input token */
            return g_strdup_printf (_ ("Entropy across layers at position %d “%s”"), pos, shown);
          case LENS_COLOR_TOP_PROB:
          default:
            if (state->line_top1)
              /* Translators: position number and its input token */
              return g_strdup_printf (
                  _ ("Targets and top-1 tokens across layers at position %d “%s”"), pos, shown);
            /* Translators: position number and its input token */
            return g_strdup_printf (_ ("Target probability across layers at position %d “%s”"), pos,
                                    shown);
          }
      }
    case LENS_VIEW_TOPK:
    default:
      {
        if (r == NULL)
          return g_strdup (_ ("Top tokens"));
        int row, pos;
        lens_effective_cell (r, state, &row, &pos);
        g_autofree char *layer = lens_row_title (r, row);
        g_autofree char *shown = lens_token_display (r->token_texts[pos]);
        /* Translators: "Top 10 · Layer 5 · position 3 “␣Paris”" */
        return g_strdup_printf (_ ("Top %d · %s · position %d “%s”"), r->top_k, layer,
                                r->first_pos + pos, shown);
      }
    }
}

/* Short signed form for inside difference cells: "+0.12", "-3e-04", "0"; KL: "0.41". */
static char *
format_diff_short (double v, LensDiffKind kind)
{
  if (kind == LENS_DIFF_KL)
    return g_strdup_printf (v < 0.01 && v > 0.0 ? "%.0e" : "%.2f", v);
  if (v == 0.0)
    return g_strdup ("0");
  return g_strdup_printf (fabs (v) < 0.01 ? "%+.0e" : "%+.2f", v);
}

/* How the cells' values become colours, and how the colour bar is labelled. */
typedef struct
{
  LensView view;
  LensColorBy by;      /* top-token view */
  LensValueAxis axis;  /* probabilities: linear 0..1, or fitted decades */
  double max;          /* KL and entropy: the value at the top of the scale (nats) */
  const float *target; /* target view: the active target's (R, T) probabilities, or NULL */
  const float *diff;   /* difference view: LensPaintState.diff_values, or NULL */
  LensDiffKind diff_kind;
  double diff_max; /* difference view: the scale's end (|difference| or KL) */
} CellColors;

#define RANK_DECADES 3.0 /* rank 1 at the top of the scale, 1000 and beyond at the bottom */

/* The value that colours a cell (NAN when missing) and, for the top-token view, its token. */
static float
cell_value (const CellColors *cc, const LensResult *r, int row, int pos, const char **top)
{
  float p = NAN;
  *top = NULL;
  if (cc->view == LENS_VIEW_DIFF)
    return cc->diff != NULL ? cc->diff[lens_result_cell_index (r, row, pos)] : NAN;
  if (cc->view == LENS_VIEW_TARGET)
    {
      if (cc->target != NULL)
        p = cc->target[lens_result_cell_index (r, row, pos)];
      return p;
    }
  *top = top1_text (r, row, pos, &p);
  return cc->by == LENS_COLOR_TOP_PROB ? p : lens_cell_metric (r, cc->by, row, pos);
}

static void
cell_colors_init (CellColors *cc, LensView view, const LensResult *r, const LensPaintState *state,
                  const float *target)
{
  *cc = (CellColors){.view = view,
                     .by
                     = view == LENS_VIEW_HEATMAP ? state->heatmap_color_by : LENS_COLOR_TOP_PROB,
                     .target = target};
  if (view == LENS_VIEW_DIFF)
    {
      cc->diff = state->diff_values;
      cc->diff_kind = state->diff_kind;
      double max = 0.0;
      for (int row = 0; cc->diff != NULL && row < r->n_rows; row++)
        for (int t = 0; t < r->n_tokens; t++)
          {
            double v = fabs (cc->diff[lens_result_cell_index (r, row, t)]);
            if (isfinite (v))
              max = MAX (max, v);
          }
      /* Differences of probabilities: a symmetric scale to the next 1, 2, 5 step (at most 1),
       * so a small effect is not washed out by a fixed -1 .. 1; KL: up to its largest value. */
      if (cc->diff_kind == LENS_DIFF_TARGET)
        {
          static const double ends[] = {1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0};
          cc->diff_max = 1.0;
          for (size_t i = 0; i < G_N_ELEMENTS (ends); i++)
            if (ends[i] >= max * (1.0 - 1e-6)) /* max is widened from float */
              {
                cc->diff_max = ends[i];
                break;
              }
        }
      else
        cc->diff_max = MAX (max, 1e-6);
      return;
    }
  gboolean fitted = view == LENS_VIEW_TARGET || cc->by == LENS_COLOR_NEXT_PROB;
  /* entropy tops out at ln V when the vocabulary is known */
  gboolean entropy_bound
      = cc->by == LENS_COLOR_ENTROPY && r != NULL && r->model_info.vocab_size > 1;
  /* Only a fitted axis or a scale topped by the largest value needs the data: the default
   * top-1 probability and the rank have fixed scales, and this runs on every repaint. */
  gboolean scan
      = fitted || cc->by == LENS_COLOR_KL_FINAL || (cc->by == LENS_COLOR_ENTROPY && !entropy_bound);
  LensValueStats stats = LENS_VALUE_STATS_INIT;
  double max = 0.0;
  for (int row = 0; scan && r != NULL && row < r->n_rows; row++)
    for (int t = 0; t < r->n_tokens; t++)
      {
        if (!lens_result_pos_ready (r, t))
          continue;
        const char *top;
        float v = cell_value (cc, r, row, t, &top);
        lens_value_stats_add (&stats, v);
        if (isfinite (v))
          max = MAX (max, v);
      }
  lens_value_axis_fit (fitted ? state->prob_axis : LENS_AXIS_LINEAR, &stats, &cc->axis);
  /* KL has no bound: the largest shown value (never zero) */
  cc->max = entropy_bound ? log ((double) r->model_info.vocab_size) : MAX (max, 1e-6);
}

/* Where a value sits on the colour scale, 0 .. 1. */
static double
cell_fraction (const CellColors *cc, double v)
{
  if (cc->view == LENS_VIEW_DIFF)
    return cc->diff_kind == LENS_DIFF_TARGET ? CLAMP (0.5 + v / (2.0 * cc->diff_max), 0.0, 1.0)
                                             : CLAMP (v / cc->diff_max, 0.0, 1.0);
  switch (cc->by)
    {
    case LENS_COLOR_NEXT_RANK:
      return 1.0 - CLAMP (log10 (MAX (v, 1.0)) / RANK_DECADES, 0.0, 1.0);
    case LENS_COLOR_KL_FINAL:
    case LENS_COLOR_ENTROPY:
      return CLAMP (v / cc->max, 0.0, 1.0);
    case LENS_COLOR_TOP_PROB:
    case LENS_COLOR_NEXT_PROB:
    default:
      return lens_value_axis_fraction (&cc->axis, v);
    }
}

/* Selection: a thick ring in the text colour around a thin ring of the paper colour, so it shows
 * on every fill. Hover: a dashed outline in the cell's own text colour (dark on light fills,
 * white on dark ones). */
static void
outline_cell (cairo_t *cr, const LensTheme *theme, const LensHeatmapLayout *l, int row, int pos,
              gboolean selected, LensRgb hover_color)
{
  double x = l->grid_x + pos * l->cell_w, y = l->grid_y + row * l->cell_h;
  cairo_save (cr);
  if (selected)
    {
      lens_set_rgb (cr, theme->text);
      cairo_set_line_width (cr, 3.0);
      cairo_rectangle (cr, x + 0.5, y + 0.5, l->cell_w - 2.0, l->cell_h - 2.0);
      cairo_stroke (cr);
      lens_set_rgb (cr, theme->paper);
      cairo_set_line_width (cr, 1.0);
      cairo_rectangle (cr, x + 2.5, y + 2.5, l->cell_w - 6.0, l->cell_h - 6.0);
      cairo_stroke (cr);
    }
  else
    {
      lens_set_rgb (cr, hover_color);
      cairo_set_line_width (cr, 2.0);
      double dash[] = {4.0, 2.0};
      cairo_set_dash (cr, dash, 2, 0.0);
      cairo_rectangle (cr, x + 1.0, y + 1.0, l->cell_w - 3.0, l->cell_h - 3.0);
      cairo_stroke (cr);
    }
  cairo_restore (cr);
}

static void
paint_bar_tick (cairo_t *cr, const LensTheme *theme, const Geometry *g, double fraction,
                const char *label)
{
  LensTextStyle tick = {.size = LENS_FONT_LABEL - 1.0, .valign = LENS_ALIGN_CENTER};
  double y = round (g->bar_y + g->bar_h * (1.0 - fraction)) + 0.5;
  lens_set_rgb (cr, theme->muted);
  cairo_move_to (cr, g->bar_x + BAR_W, y);
  cairo_line_to (cr, g->bar_x + BAR_W + 4.0, y);
  cairo_stroke (cr);
  lens_draw_text (cr, label, g->bar_x + BAR_W + 7.0, y, &tick);
}

static const char *
color_bar_title (const CellColors *cc)
{
  if (cc->view == LENS_VIEW_DIFF)
    return cc->diff_kind == LENS_DIFF_TARGET ? _ ("This − pinned") : _ ("KL (nats)");
  switch (cc->by)
    {
    case LENS_COLOR_NEXT_PROB:
      return cc->axis.log ? _ ("Next token (log)") : _ ("Next token");
    case LENS_COLOR_NEXT_RANK:
      return _ ("Next-token rank");
    case LENS_COLOR_KL_FINAL:
      return _ ("KL from final");
    case LENS_COLOR_ENTROPY:
      return _ ("Entropy");
    case LENS_COLOR_TOP_PROB:
    default:
      return cc->axis.log ? _ ("Probability (log)") : _ ("Probability");
    }
}

static void
paint_color_bar (cairo_t *cr, const LensTheme *theme, const Geometry *g, LensColorScale scale,
                 const CellColors *cc)
{
  const LensValueAxis *axis = &cc->axis;
  lens_set_rgb (cr, theme->text);
  LensTextStyle title = {.size = LENS_FONT_LABEL, .valign = LENS_ALIGN_END};
  lens_draw_text (cr, color_bar_title (cc), g->bar_x, g->bar_y - 8.0, &title);

  /* p = 1 at the top. */
  cairo_pattern_t *pattern
      = lens_color_scale_pattern (scale, 0.0, g->bar_y + g->bar_h, 0.0, g->bar_y);
  cairo_rectangle (cr, g->bar_x, g->bar_y, BAR_W, g->bar_h);
  cairo_set_source (cr, pattern);
  cairo_fill (cr);
  cairo_pattern_destroy (pattern);

  cairo_set_line_width (cr, 1.0);
  char label[24];
  if (cc->view == LENS_VIEW_DIFF && cc->diff_kind == LENS_DIFF_TARGET)
    for (int i = 0; i <= 4; i++)
      {
        /* -max, -max/2, 0, +max/2, +max */
        double v = cc->diff_max * (i - 2) / 2.0;
        g_snprintf (label, sizeof label, "%+.3g", v);
        paint_bar_tick (cr, theme, g, i / 4.0, i == 2 ? "0" : label);
      }
  else if (cc->view == LENS_VIEW_DIFF)
    for (int i = 0; i <= 2; i++)
      {
        g_snprintf (label, sizeof label, "%.3g", cc->diff_max * i / 2.0);
        paint_bar_tick (cr, theme, g, i / 2.0, label);
      }
  else if (cc->by == LENS_COLOR_NEXT_RANK)
    for (int e = 0; e <= (int) RANK_DECADES; e++)
      {
        /* rank 1 at the top; the bottom colour is every rank from 1000 on */
        g_snprintf (label, sizeof label, e == (int) RANK_DECADES ? "≥%.0f" : "%.0f", pow (10.0, e));
        paint_bar_tick (cr, theme, g, 1.0 - e / RANK_DECADES, label);
      }
  else if (cc->by == LENS_COLOR_KL_FINAL || cc->by == LENS_COLOR_ENTROPY)
    for (int i = 0; i <= 2; i++)
      {
        /* nats: 0, half and the top of the scale */
        g_snprintf (label, sizeof label, "%.3g", cc->max * i / 2.0);
        paint_bar_tick (cr, theme, g, i / 2.0, label);
      }
  else if (!axis->log)
    for (size_t i = 0; i < G_N_ELEMENTS (bar_ticks); i++)
      {
        g_snprintf (label, sizeof label, "%g", bar_ticks[i]);
        paint_bar_tick (cr, theme, g, bar_ticks[i], label);
      }
  else
    for (int e = (int) axis->hi; e >= (int) axis->lo; e--)
      {
        gboolean bottom = e == (int) axis->lo;
        if ((int) (axis->hi - e) % axis->label_step != 0 && !bottom)
          continue;
        lens_value_axis_decade_label (e, label, sizeof label);
        /* the bottom colour stands for everything below it too */
        g_autofree char *shown
            = bottom && axis->clipped ? g_strdup_printf ("≤%s", label) : g_strdup (label);
        paint_bar_tick (cr, theme, g, (e - axis->lo) / (axis->hi - axis->lo), shown);
      }
}

/* Row labels right-aligned at `right`, only those within [y0, y1). */
static void
paint_row_labels (cairo_t *cr, const LensResult *r, const LensPaintState *state,
                  const LensTheme *theme, const Geometry *g, double right, double y0, double y1)
{
  const LensHeatmapLayout *l = &g->pub;
  LensTextStyle row_style
      = {.size = LENS_FONT_LABEL, .halign = LENS_ALIGN_END, .valign = LENS_ALIGN_CENTER};
  for (int row = 0; row < r->n_rows; row++)
    {
      double y = l->grid_y + (row + 0.5) * l->cell_h;
      if (y + l->cell_h < y0 || y - l->cell_h > y1)
        continue;
      row_style.bold = state->show_marks && row == state->sel_row;
      lens_set_rgb (cr, row_style.bold ? theme->text : theme->muted);
      lens_draw_text (cr, r->row_labels[row], right - 6.0, y, &row_style);
    }
}

/* Column labels (the input tokens, rotated when they do not fit their column) hanging from
 * label_y, only those near [x0, x1). */
static void
paint_col_labels (cairo_t *cr, const LensResult *r, const LensPaintState *state,
                  const LensTheme *theme, const Geometry *g, double label_y, double x0, double x1)
{
  const LensHeatmapLayout *l = &g->pub;
  LensTextStyle col_style;
  if (g->rotate_labels)
    col_style = (LensTextStyle){.size = LENS_FONT_LABEL,
                                .max_width = COL_LABEL_MAX,
                                .halign = LENS_ALIGN_END,
                                .valign = LENS_ALIGN_CENTER,
                                .angle = ROTATION};
  else
    col_style = (LensTextStyle){.size = LENS_FONT_LABEL,
                                .max_width = l->cell_w - 4.0,
                                .halign = LENS_ALIGN_CENTER,
                                .valign = LENS_ALIGN_START};
  int t0 = MAX (0, (int) floor ((x0 - l->grid_x) / l->cell_w) - 1);
  int t1 = MIN (r->n_tokens, (int) ceil ((x1 - l->grid_x + COL_LABEL_MAX) / l->cell_w) + 1);
  if (g->pos_numbers)
    {
      /* every 1, 2, 5, 10, 20, 50, ... positions, as far apart as the widest number needs */
      char widest[16];
      g_snprintf (widest, sizeof widest, "%d", r->first_pos + r->n_tokens - 1);
      double number_w;
      lens_measure_text (widest, LENS_FONT_LABEL - 2.0, FALSE, &number_w, NULL);
      int step = 1;
      for (int decade = 1; step * l->cell_w < number_w + 6.0; decade *= 10)
        for (int k = 0; k < 3 && step * l->cell_w < number_w + 6.0; k++)
          step = decade * (k == 0 ? 2 : k == 1 ? 5 : 10);
      LensTextStyle number_style = {
          .size = LENS_FONT_LABEL - 2.0, .halign = LENS_ALIGN_CENTER, .valign = LENS_ALIGN_START};
      lens_set_rgb (cr, theme->muted);
      /* on the prompt's multiples of the step, wherever the range starts */
      int first = t0 - (r->first_pos + t0) % step;
      if (first < 0)
        first += step;
      for (int t = first; t < t1; t += step)
        {
          char number[16];
          g_snprintf (number, sizeof number, "%d", r->first_pos + t);
          lens_draw_text (cr, number, l->grid_x + (t + 0.5) * l->cell_w, label_y, &number_style);
        }
      label_y += POS_NUMBERS_H;
    }
  /* Narrow (shrunk) columns: rotated labels closer than a line of text would overlap, so only
   * every k-th is written (the selected one always); the tooltip names every token. */
  int every = 1;
  if (g->rotate_labels)
    every = MAX (1, (int) ceil ((LENS_FONT_LABEL + 2.0) / (l->cell_w * sin (G_PI / 4.0))));
  for (int t = t0; t < t1; t++)
    {
      gboolean selected = state->show_marks && t == state->sel_pos;
      if (t % every != 0 && !selected)
        continue;
      double x = l->grid_x + (t + 0.5) * l->cell_w;
      g_autofree char *label = lens_token_display (r->token_texts[t]);
      col_style.bold = selected;
      lens_set_rgb (cr, col_style.bold ? theme->text : theme->muted);
      if (g->rotate_labels)
        lens_draw_text (cr, label, x + 4.0, label_y + 4.0, &col_style);
      else
        lens_draw_text (cr, label, x, label_y, &col_style);
    }
}

static void
paint_layer_title (cairo_t *cr, const LensTheme *theme, double x, double y)
{
  lens_set_rgb (cr, theme->text);
  LensTextStyle axis = {.size = LENS_FONT_AXIS,
                        .halign = LENS_ALIGN_CENTER,
                        .valign = LENS_ALIGN_CENTER,
                        .angle = -G_PI / 2.0};
  lens_draw_text (cr, _ ("Layer"), x + PAD + AXIS_TITLE_W / 2.0, y, &axis);
}

static void
paint_axes (cairo_t *cr, const LensResult *r, const LensPaintState *state, const LensTheme *theme,
            const Geometry *g)
{
  const LensHeatmapLayout *l = &g->pub;
  double clip_x0, clip_y0, clip_x1, clip_y1;
  cairo_clip_extents (cr, &clip_x0, &clip_y0, &clip_x1, &clip_y1);

  paint_row_labels (cr, r, state, theme, g, l->grid_x, clip_y0, clip_y1);
  double label_y = l->grid_y + l->n_rows * l->cell_h + 6.0;
  paint_col_labels (cr, r, state, theme, g, label_y, clip_x0, clip_x1);

  /* Axis titles. */
  lens_set_rgb (cr, theme->text);
  LensTextStyle axis
      = {.size = LENS_FONT_AXIS, .halign = LENS_ALIGN_CENTER, .valign = LENS_ALIGN_CENTER};
  double grid_w = l->n_cols * l->cell_w, grid_h = l->n_rows * l->cell_h;
  lens_draw_text (cr, _ ("Input tokens"), l->grid_x + MIN (grid_w, clip_x1 - l->grid_x) / 2.0,
                  label_y + g->col_label_h + AXIS_TITLE_H / 2.0 - 4.0, &axis);
  paint_layer_title (cr, theme, 0.0, l->grid_y + grid_h / 2.0);
}

void
lens_paint_heatmap (cairo_t *cr, LensView view, const LensResult *r, const LensPaintState *state,
                    const LensTheme *theme, double width, double height)
{
  Geometry g;
  compute_geometry (r, state, width, height, &g);
  const LensHeatmapLayout *l = &g.pub;

  const LensTarget *target = NULL;
  const float *target_probs = NULL;
  if (view == LENS_VIEW_TARGET)
    target_probs = active_target_probs (state, &target);
  /* a difference diverges around zero (red: higher in this prompt); KL grows from zero */
  LensColorScale scale
      = view == LENS_VIEW_TARGET ? state->target_scale
        : view == LENS_VIEW_DIFF
            ? (state->diff_kind == LENS_DIFF_TARGET ? LENS_SCALE_RDYLBU : LENS_SCALE_BLUES)
            : state->heatmap_scale;
  if (view == LENS_VIEW_DIFF && state->diff_kind == LENS_DIFF_TARGET)
    target_probs = active_target_probs (state, &target);
  /* top-token view: the chosen value on its own scale; target view: fitted to the target's */
  CellColors cc;
  cell_colors_init (&cc, view, r, state, target_probs);

  /* Title. */
  g_autofree char *title = lens_view_title (view, r, state);
  lens_set_rgb (cr, theme->text);
  LensTextStyle title_style = {.size = LENS_FONT_TITLE,
                               .bold = TRUE,
                               .valign = LENS_ALIGN_CENTER,
                               .max_width = l->width - 2 * PAD};
  lens_draw_text (cr, title, PAD, PAD + TITLE_H / 2.0 - 4.0, &title_style);

  double clip_x0, clip_y0, clip_x1, clip_y1;
  cairo_clip_extents (cr, &clip_x0, &clip_y0, &clip_x1, &clip_y1);
  int c0 = MAX (0, (int) floor ((clip_x0 - l->grid_x) / l->cell_w));
  int c1 = MIN (l->n_cols, (int) ceil ((clip_x1 - l->grid_x) / l->cell_w));
  int r0 = MAX (0, (int) floor ((clip_y0 - l->grid_y) / l->cell_h));
  int r1 = MIN (l->n_rows, (int) ceil ((clip_y1 - l->grid_y) / l->cell_h));

  LensTextStyle cell_style = {.size = LENS_FONT_CELL,
                              .max_width = l->cell_w - CELL_TEXT_PAD,
                              .halign = LENS_ALIGN_CENTER,
                              .valign = LENS_ALIGN_CENTER};
  for (int row = r0; row < r1; row++)
    for (int t = c0; t < c1; t++)
      {
        /* 1 px gaps between cells, as a plotly heatmap with xgap/ygap. */
        double x = l->grid_x + t * l->cell_w, y = l->grid_y + row * l->cell_h;
        double w = l->cell_w - 1.0, h = l->cell_h - 1.0;
        if (!lens_result_pos_ready (r, t))
          {
            lens_fill_pending (cr, theme, x, y, w, h);
            continue;
          }
        const char *top;
        float p = cell_value (&cc, r, row, t, &top);
        g_autofree char *text = NULL;
        if (l->cell_w < LENS_CELL_W_TEXT)
          ; /* compact: colour only */
        else if (view == LENS_VIEW_TARGET && !isnan (p))
          text = lens_format_prob_short (p);
        else if (view == LENS_VIEW_DIFF && !isnan (p))
          text = format_diff_short (p, state->diff_kind);
        else if (top != NULL)
          text = lens_token_display (top);

        if (isnan (p))
          {
            lens_fill_missing (cr, theme, x, y, w, h);
            continue;
          }
        LensRgb fill;
        lens_color_scale_rgb (scale, cell_fraction (&cc, p), &fill.r, &fill.g, &fill.b);
        lens_set_rgb (cr, fill);
        cairo_rectangle (cr, x, y, w, h);
        cairo_fill (cr);
        lens_set_rgb (cr, lens_contrast_text (fill));
        lens_draw_text (cr, text, x + w / 2.0, y + h / 2.0, &cell_style);
      }

  if (view == LENS_VIEW_TARGET && target_probs == NULL)
    lens_draw_message (cr, theme, _ ("Add a target token to see its probability at every cell"),
                       l->grid_x, l->grid_y, l->n_cols * l->cell_w, l->n_rows * l->cell_h);
  else if (view == LENS_VIEW_DIFF && state->diff_values == NULL)
    lens_draw_message (cr, theme,
                       state->diff_message != NULL ? state->diff_message
                       : state->diff_kind == LENS_DIFF_TARGET && target_probs == NULL
                           ? _ ("Add a target token to compare its probability")
                           : _ ("Pin a result, then change the prompt to compare"),
                       l->grid_x, l->grid_y, l->n_cols * l->cell_w, l->n_rows * l->cell_h);

  if (state->show_marks && state->hover_row >= 0 && state->hover_row < l->n_rows
      && state->hover_pos >= 0 && state->hover_pos < l->n_cols
      && !(state->hover_row == state->sel_row && state->hover_pos == state->sel_pos))
    {
      const char *top;
      float p = cell_value (&cc, r, state->hover_row, state->hover_pos, &top);
      LensRgb fill = lens_result_pos_ready (r, state->hover_pos) ? theme->missing : theme->pending;
      if (!isnan (p))
        lens_color_scale_rgb (scale, cell_fraction (&cc, p), &fill.r, &fill.g, &fill.b);
      outline_cell (cr, theme, l, state->hover_row, state->hover_pos, FALSE,
                    lens_contrast_text (fill));
    }
  if (state->show_marks && state->sel_row >= 0 && state->sel_row < l->n_rows && state->sel_pos >= 0
      && state->sel_pos < l->n_cols)
    outline_cell (cr, theme, l, state->sel_row, state->sel_pos, TRUE, theme->text);

  paint_axes (cr, r, state, theme, &g);
  paint_color_bar (cr, theme, &g, scale, &cc);
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

static void
fill_band (cairo_t *cr, const cairo_rectangle_t *band, LensRgb bg)
{
  lens_set_rgb (cr, bg);
  cairo_rectangle (cr, band->x, band->y, band->width, band->height);
  cairo_fill (cr);
}

void
lens_paint_heatmap_frozen (cairo_t *cr, LensView view, const LensResult *r,
                           const LensPaintState *state, double width, double height,
                           const cairo_rectangle_t *visible, const double background[3])
{
  if (r == NULL || r->n_rows <= 0 || r->n_tokens <= 0 || r->top_k <= 0 || visible == NULL
      || (view != LENS_VIEW_HEATMAP && view != LENS_VIEW_TARGET && view != LENS_VIEW_DIFF))
    return;
  LensPaintState defaults;
  if (state == NULL)
    {
      lens_paint_state_init (&defaults);
      state = &defaults;
    }
  LensTheme theme;
  lens_theme_get (state, &theme);
  LensRgb bg
      = background != NULL ? (LensRgb){background[0], background[1], background[2]} : theme.paper;
  Geometry g;
  compute_geometry (r, state, width, height, &g);
  cairo_rectangle_t rows, cols;
  lens_heatmap_frozen_bands (&g.pub, visible, &rows, &cols);
  if (rows.width <= 0 && cols.width <= 0)
    return;

  /* A faint line where the cells slide under a band, as a spreadsheet marks frozen panes. */
  LensRgb edge = theme.muted;
  cairo_save (cr);
  cairo_set_line_width (cr, 1.0);
  if (cols.width > 0)
    {
      cairo_save (cr);
      cairo_rectangle (cr, cols.x, cols.y, cols.width, cols.height);
      cairo_clip (cr);
      fill_band (cr, &cols, bg);
      /* Left of the grid (and under a frozen row band) the band stays blank. */
      double x0 = MAX (cols.x + (rows.width > 0 ? rows.width : 0.0), g.pub.grid_x - COL_LABEL_MAX);
      cairo_rectangle (cr, x0, cols.y, cols.x + cols.width - x0, cols.height);
      cairo_clip (cr);
      paint_col_labels (cr, r, state, &theme, &g, cols.y + 6.0, cols.x, cols.x + cols.width);
      cairo_restore (cr);
      cairo_set_source_rgba (cr, edge.r, edge.g, edge.b, 0.35);
      cairo_move_to (cr, cols.x, floor (cols.y) + 0.5);
      cairo_line_to (cr, cols.x + cols.width, floor (cols.y) + 0.5);
      cairo_stroke (cr);
    }
  if (rows.width > 0)
    {
      cairo_save (cr);
      cairo_rectangle (cr, rows.x, rows.y, rows.width, rows.height);
      cairo_clip (cr);
      fill_band (cr, &rows, bg);
      /* the title in the middle of the rows in view, not of the corner below them */
      double rows_y1 = MIN (rows.y + rows.height, g.pub.grid_y + g.pub.n_rows * g.pub.cell_h);
      paint_row_labels (cr, r, state, &theme, &g, rows.x + g.pub.labels_w, rows.y, rows_y1);
      paint_layer_title (cr, &theme, rows.x, (rows.y + rows_y1) / 2.0);
      cairo_restore (cr);
      double x = floor (rows.x + rows.width) - 0.5;
      cairo_set_source_rgba (cr, edge.r, edge.g, edge.b, 0.35);
      cairo_move_to (cr, x, rows.y);
      cairo_line_to (cr, x, rows.y + rows.height);
      cairo_stroke (cr);
    }
  cairo_restore (cr);
}
