/* lens-paint-line.c: one position across the kept layers, plotly style (shaded plot area, white
 * grid, lines with markers, legend on the right): the probability of each target and of every
 * token that is top-1 at some layer there (logitlenskit's line view), or one metric of the cell
 * (next-token probability or rank, KL to the final layer, entropy). */
#include "config.h"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "lens-paint-private.h"

#define PAD 12.0
#define TITLE_H 34.0
#define LEFT_W 70.0   /* y axis title + tick labels */
#define BOTTOM_H 52.0 /* x tick labels + axis title */
#define LEGEND_GAP 16.0
#define LEGEND_ROW 22.0
#define LEGEND_SWATCH 26.0
#define LEGEND_MAX_LABEL 160.0

typedef struct
{
  double x, y, w, h; /* plot area */
  double legend_x;
  double legend_w;
} LineGeometry;

/* One line of the plot: a value (R) per row at the shown position. */
typedef struct
{
  char *label;      /* legend text (display form), NULL for a metric's single line */
  float *values;    /* (R), NAN where unknown */
  int color;        /* palette index */
  gboolean tracked; /* a top-1 token the plot added, drawn lighter than the user's targets */
} LineSeries;

typedef struct
{
  LineSeries *items;
  int n;
} LineSeriesSet;

static void
series_set_clear (LineSeriesSet *set)
{
  for (int i = 0; i < set->n; i++)
    {
      g_free (set->items[i].label);
      g_free (set->items[i].values);
    }
  g_free (set->items);
  *set = (LineSeriesSet){0};
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LineSeriesSet, series_set_clear)

/* Is this top-1 token one of the targets already (by id when both have one, else by text)? */
static gboolean
is_target (const LensResult *r, const LensPaintState *state, int32_t id)
{
  const char *text = lens_result_token_text (r, id);
  for (int i = 0; state->targets != NULL && i < state->n_targets; i++)
    {
      const LensTarget *t = state->targets[i];
      if (t->probs == NULL)
        continue;
      if (t->id >= 0 && lens_result_has_model (r) ? t->id == id : g_strcmp0 (t->label, text) == 0)
        return TRUE;
    }
  return FALSE;
}

/* The metric of line_metric at every row of `pos` (NAN where unknown). */
static void
metric_values (const LensResult *r, LensColorBy metric, int pos, float *values)
{
  for (int row = 0; row < r->n_rows; row++)
    values[row] = lens_cell_metric (r, metric, row, pos);
}

/* What the plot draws at `pos`: the targets then the top-1 tokens (tracked probabilities), or
 * the one line of a metric. Nothing for a position still being computed. Without `values`, the
 * labels alone (what the layout needs; hit-testing runs on every pointer move, and a live
 * result's top-1 tokens cost a pass of the lens head each). */
static void
collect_series (const LensResult *r, const LensPaintState *state, int pos, gboolean values,
                LineSeriesSet *set)
{
  *set = (LineSeriesSet){0};
  if (r == NULL || r->n_rows <= 0 || pos < 0 || pos >= r->n_tokens
      || !lens_result_pos_ready (r, pos))
    return;
  int R = r->n_rows;
  if (state->line_metric != LENS_COLOR_TOP_PROB)
    {
      set->items = g_new0 (LineSeries, 1);
      if (values)
        {
          set->items[0].values = g_new (float, R);
          metric_values (r, state->line_metric, pos, set->items[0].values);
        }
      set->n = 1;
      return;
    }

  g_autofree int32_t *top1 = g_new (int32_t, R);
  int n_top1 = state->line_top1 ? lens_result_top1_ids (r, pos, top1) : 0;
  set->items = g_new0 (LineSeries, MAX (state->n_targets, 0) + n_top1);
  for (int i = 0; state->targets != NULL && i < state->n_targets; i++)
    {
      if (state->targets[i]->probs == NULL)
        continue;
      LineSeries *s = &set->items[set->n++];
      s->label = lens_token_display (state->targets[i]->label);
      if (values)
        {
          s->values = g_new (float, R);
          for (int row = 0; row < R; row++)
            s->values[row] = state->targets[i]->probs[lens_result_cell_index (r, row, pos)];
        }
      s->color = i; /* the targets keep their colours whatever the position */
    }
  int color = MAX (state->n_targets, 0);
  for (int i = 0; i < n_top1; i++)
    {
      if (is_target (r, state, top1[i]))
        continue;
      LineSeries *s = &set->items[set->n++];
      s->label = lens_token_display (lens_result_token_text (r, top1[i]));
      if (values)
        {
          s->values = g_new (float, R);
          lens_result_token_trajectory (r, pos, top1[i], s->values);
        }
      s->color = color++;
      s->tracked = TRUE;
    }
}

static double
legend_width (const LineSeriesSet *set, const LensPaintState *state, gboolean clip_note)
{
  double widest = 0.0;
  for (int i = 0; i < set->n; i++)
    {
      if (set->items[i].label == NULL)
        continue;
      double w;
      lens_measure_text (set->items[i].label, LENS_FONT_LABEL, FALSE, &w, NULL);
      widest = MAX (widest, MIN (w, LEGEND_MAX_LABEL));
    }
  if (widest > 0.0 && clip_note && state->prob_axis != LENS_AXIS_LINEAR)
    {
      /* room for the note on clipped values, as long as it can get */
      g_autofree char *note = g_strdup_printf (_ ("▼ below %s"), "1e-45");
      double w;
      lens_measure_text (note, LENS_FONT_LABEL, FALSE, &w, NULL);
      widest = MAX (widest, w - LEGEND_SWATCH - 6.0);
    }
  return widest > 0.0 ? LEGEND_SWATCH + 6.0 + widest : 0.0;
}

void
lens_line_natural_size (const LensResult *r, const LensPaintState *state, double *width,
                        double *height)
{
  int n_rows = r != NULL ? r->n_rows : 12;
  LineSeriesSet set = {0};
  if (r != NULL && r->n_tokens > 0)
    {
      int row, pos;
      lens_line_cell (r, state, &row, &pos);
      collect_series (r, state, pos, FALSE, &set);
    }
  double legend = legend_width (&set, state, TRUE);
  series_set_clear (&set);
  *width = ceil (MAX (560.0, PAD + LEFT_W + n_rows * 36.0 + LEGEND_GAP + legend + PAD));
  *height = 400.0;
}

static void
compute_geometry (const LineSeriesSet *set, const LensPaintState *state, double width,
                  double height, LineGeometry *g)
{
  g->legend_w = legend_width (set, state, TRUE);
  g->x = PAD + LEFT_W;
  g->y = PAD + TITLE_H;
  g->w = MAX (width - g->x - PAD - (g->legend_w > 0 ? LEGEND_GAP + g->legend_w : 0.0), 10.0);
  g->h = MAX (height - g->y - BOTTOM_H - PAD, 10.0);
  g->legend_x = g->x + g->w + LEGEND_GAP;
}

static double
x_of (const LineGeometry *g, int row, int n_rows)
{
  return g->x + g->w * (row + 0.5) / n_rows;
}

/* The y axis: probabilities (linear or fitted decades), a metric in nats from 0, or ranks on
 * decades with rank 1 at the top. */
typedef enum
{
  LINE_AXIS_PROB,
  LINE_AXIS_NATS,
  LINE_AXIS_RANK,
} LineAxisKind;

typedef struct
{
  LineAxisKind kind;
  LensValueAxis prob; /* LINE_AXIS_PROB */
  double hi;          /* NATS: 0 .. hi; RANK: 10^0 .. 10^hi */
  double step;        /* NATS: tick spacing */
} LineAxis;

/* The smallest of 1, 2, 5 x 10^k that cuts 0 .. max into at most 6 steps. */
static double
nice_step (double max)
{
  double raw = max / 6.0;
  double decade = pow (10.0, floor (log10 (raw)));
  for (int i = 0; i < 3; i++)
    {
      static const double mult[] = {1.0, 2.0, 5.0};
      if (mult[i] * decade >= raw)
        return mult[i] * decade;
    }
  return 10.0 * decade;
}

static void
fit_axis (const LineSeriesSet *set, const LensPaintState *state, int n_rows, LineAxis *axis)
{
  *axis = (LineAxis){.kind = LINE_AXIS_PROB};
  double max = 0.0;
  LensValueStats stats = LENS_VALUE_STATS_INIT;
  for (int i = 0; i < set->n; i++)
    for (int row = 0; row < n_rows; row++)
      {
        double v = set->items[i].values[row];
        lens_value_stats_add (&stats, v);
        if (isfinite (v))
          max = MAX (max, v);
      }
  switch (state->line_metric)
    {
    case LENS_COLOR_KL_FINAL:
    case LENS_COLOR_ENTROPY:
      axis->kind = LINE_AXIS_NATS;
      if (!(max > 0.0))
        max = 1.0;
      axis->step = nice_step (max);
      axis->hi = ceil (max / axis->step - 1e-9) * axis->step;
      break;
    case LENS_COLOR_NEXT_RANK:
      axis->kind = LINE_AXIS_RANK;
      axis->hi = MAX (1.0, ceil (log10 (MAX (max, 1.0)) - 1e-9));
      break;
    case LENS_COLOR_NEXT_PROB:
    case LENS_COLOR_TOP_PROB:
    default:
      lens_value_axis_fit (state->prob_axis, &stats, &axis->prob);
      break;
    }
}

/* 0 at the bottom of the plot, 1 at the top, clamped. */
static double
axis_fraction (const LineAxis *a, double v)
{
  switch (a->kind)
    {
    case LINE_AXIS_NATS:
      return CLAMP (v / a->hi, 0.0, 1.0);
    case LINE_AXIS_RANK:
      return CLAMP (1.0 - log10 (MAX (v, 1.0)) / a->hi, 0.0, 1.0);
    case LINE_AXIS_PROB:
    default:
      return lens_value_axis_fraction (&a->prob, v);
    }
}

static gboolean
axis_clips (const LineAxis *a, double v)
{
  return a->kind == LINE_AXIS_PROB && lens_value_axis_clips (&a->prob, v);
}

/* Vertical pixel of value v; values below a log probability axis sit on its bottom edge (and are
 * marked there). */
static double
y_of (const LineGeometry *g, double v, const LineAxis *axis)
{
  return g->y + g->h * (1.0 - axis_fraction (axis, v));
}

static const char *
axis_title (const LineAxis *axis, const LensPaintState *state)
{
  switch (state->line_metric)
    {
    case LENS_COLOR_NEXT_PROB:
      return axis->prob.log ? _ ("Next-token probability (log)") : _ ("Next-token probability");
    case LENS_COLOR_NEXT_RANK:
      return _ ("Next-token rank (log)");
    case LENS_COLOR_KL_FINAL:
      return _ ("KL to final layer (nats)");
    case LENS_COLOR_ENTROPY:
      return _ ("Entropy (nats)");
    case LENS_COLOR_TOP_PROB:
    default:
      return axis->prob.log ? _ ("Probability (log)") : _ ("Probability");
    }
}

gboolean
lens_line_hit (const LensResult *r, const LensPaintState *state, double width, double height,
               double x, double y, int *row)
{
  if (r == NULL || r->n_rows <= 0 || r->n_tokens <= 0 || state == NULL)
    return FALSE;
  int sel_row, pos;
  lens_line_cell (r, state, &sel_row, &pos);
  LineSeriesSet set;
  collect_series (r, state, pos, FALSE, &set);
  LineGeometry g;
  compute_geometry (&set, state, width, height, &g);
  series_set_clear (&set);
  /* Markers sit on the plot's edges, so a few pixels around it count too. */
  if (!(x >= g.x && x < g.x + g.w && y >= g.y - 6.0 && y <= g.y + g.h + 6.0))
    return FALSE;
  if (row != NULL)
    *row = CLAMP ((int) ((x - g.x) / (g.w / r->n_rows)), 0, r->n_rows - 1);
  return TRUE;
}

/* Tick label of 10^e for ranks: "1", "10", "100", "1000", then "1e4". */
static void
rank_label (int e, char *buf, size_t size)
{
  if (e <= 3)
    g_snprintf (buf, size, "%.0f", pow (10.0, e));
  else
    g_snprintf (buf, size, "1e%d", e);
}

static void
paint_grid (cairo_t *cr, const LensResult *r, const LensPaintState *state, const LensTheme *theme,
            const LineGeometry *g, const LineAxis *axis)
{
  lens_set_rgb (cr, theme->plot_bg);
  cairo_rectangle (cr, g->x, g->y, g->w, g->h);
  cairo_fill (cr);

  LensTextStyle tick
      = {.size = LENS_FONT_LABEL - 1.0, .halign = LENS_ALIGN_END, .valign = LENS_ALIGN_CENTER};
  cairo_set_line_width (cr, 1.0);
  /* probabilities, linear: 0, 0.2, ... 1; log: every decade of the fitted range, every
   * label_step-th labelled; nats: 0 .. hi by step; ranks: every decade from 1 down */
  const LensValueAxis *prob = &axis->prob;
  int n_y = axis->kind == LINE_AXIS_NATS   ? (int) round (axis->hi / axis->step) + 1
            : axis->kind == LINE_AXIS_RANK ? (int) axis->hi + 1
            : prob->log                    ? (int) (prob->hi - prob->lo) + 1
                                           : 6;
  for (int i = 0; i < n_y; i++)
    {
      char label[24];
      double v;
      gboolean labelled = TRUE;
      switch (axis->kind)
        {
        case LINE_AXIS_NATS:
          v = i * axis->step;
          g_snprintf (label, sizeof label, "%g", v);
          break;
        case LINE_AXIS_RANK:
          v = pow (10.0, i);
          rank_label (i, label, sizeof label);
          break;
        case LINE_AXIS_PROB:
        default:
          v = prob->log ? pow (10.0, prob->hi - i) : i / 5.0;
          labelled = !prob->log || i % prob->label_step == 0;
          if (prob->log)
            lens_value_axis_decade_label ((int) prob->hi - i, label, sizeof label);
          else
            g_snprintf (label, sizeof label, "%.1f", v);
          break;
        }
      double y = lens_grid_line (y_of (g, v, axis), g->y, g->y + g->h);
      lens_set_rgb (cr, theme->grid);
      cairo_move_to (cr, g->x, y);
      cairo_line_to (cr, g->x + g->w, y);
      cairo_stroke (cr);
      if (!labelled)
        continue;
      lens_set_rgb (cr, theme->muted);
      lens_draw_text (cr, label, g->x - 6.0, y, &tick);
    }

  /* One vertical grid line per layer; label every k-th so the labels do not collide. */
  int n_rows = r->n_rows;
  double widest = 0.0;
  for (int row = 0; row < n_rows; row++)
    {
      double w;
      lens_measure_text (r->row_labels[row], LENS_FONT_LABEL - 1.0, FALSE, &w, NULL);
      widest = MAX (widest, w);
    }
  int every = MAX (1, (int) ceil ((widest + 8.0) / (g->w / n_rows)));
  LensTextStyle xtick = {.size = LENS_FONT_LABEL - 1.0, .halign = LENS_ALIGN_CENTER};
  for (int row = 0; row < n_rows; row++)
    {
      double x = lens_grid_line (x_of (g, row, n_rows), g->x, g->x + g->w);
      lens_set_rgb (cr, theme->grid);
      cairo_move_to (cr, x, g->y);
      cairo_line_to (cr, x, g->y + g->h);
      cairo_stroke (cr);
      if ((n_rows - 1 - row) % every == 0)
        {
          gboolean selected = state->show_marks && row == state->sel_row;
          lens_set_rgb (cr, selected ? theme->text : theme->muted);
          xtick.bold = selected;
          lens_draw_text (cr, r->row_labels[row], x, g->y + g->h + 6.0, &xtick);
        }
    }

  lens_set_rgb (cr, theme->text);
  LensTextStyle title
      = {.size = LENS_FONT_AXIS, .halign = LENS_ALIGN_CENTER, .valign = LENS_ALIGN_CENTER};
  lens_draw_text (cr, _ ("Layer"), g->x + g->w / 2.0, g->y + g->h + BOTTOM_H - 12.0, &title);
  title.angle = -G_PI / 2.0;
  title.max_width = g->h;
  lens_draw_text (cr, axis_title (axis, state), PAD + 10.0, g->y + g->h / 2.0, &title);
}

/* A value below the log axis: a triangle pointing down from the bottom edge. */
static void
paint_clipped_marker (cairo_t *cr, const LensTheme *theme, LensRgb color, double x, double y)
{
  cairo_move_to (cr, x - 5.0, y - 4.0);
  cairo_line_to (cr, x + 5.0, y - 4.0);
  cairo_line_to (cr, x, y + 4.0);
  cairo_close_path (cr);
  lens_set_rgb (cr, color);
  cairo_fill_preserve (cr);
  lens_set_rgb (cr, theme->paper);
  cairo_set_line_width (cr, 1.0);
  cairo_stroke (cr);
}

static void
paint_marker (cairo_t *cr, const LensTheme *theme, LensRgb color, double x, double y)
{
  cairo_arc (cr, x, y, 4.0, 0.0, 2.0 * G_PI);
  lens_set_rgb (cr, color);
  cairo_fill_preserve (cr);
  lens_set_rgb (cr, theme->paper);
  cairo_set_line_width (cr, 1.0);
  cairo_stroke (cr);
}

/* Why a plot has no line to draw, or NULL when it has one. */
static const char *
empty_message (const LensResult *r, const LensPaintState *state, int pos, const LineSeriesSet *set)
{
  if (!lens_result_pos_ready (r, pos))
    return _ ("Computing this position…");
  switch (state->line_metric)
    {
    case LENS_COLOR_TOP_PROB:
      if (set->n == 0)
        return _ ("Add a target token to plot its probability across layers");
      return NULL;
    case LENS_COLOR_NEXT_PROB:
    case LENS_COLOR_NEXT_RANK:
    case LENS_COLOR_KL_FINAL:
      if (!lens_result_has_metrics (r))
        return _ ("These results were computed without the next-token and KL metrics");
      if (state->line_metric != LENS_COLOR_KL_FINAL && pos == r->n_tokens - 1)
        return _ ("The last position has no next token: select another position");
      break;
    case LENS_COLOR_ENTROPY:
    default:
      break;
    }
  for (int row = 0; set->n > 0 && row < r->n_rows; row++)
    if (!isnan (set->items[0].values[row]))
      return NULL;
  return _ ("No values at this position");
}

void
lens_paint_line (cairo_t *cr, const LensResult *r, const LensPaintState *state,
                 const LensTheme *theme, double width, double height)
{
  int row_sel, pos;
  lens_line_cell (r, state, &row_sel, &pos);
  g_auto (LineSeriesSet) set;
  collect_series (r, state, pos, TRUE, &set);
  LineGeometry g;
  compute_geometry (&set, state, width, height, &g);

  g_autofree char *title = lens_view_title (LENS_VIEW_LINE, r, state);
  lens_set_rgb (cr, theme->text);
  LensTextStyle title_style = {.size = LENS_FONT_TITLE,
                               .bold = TRUE,
                               .valign = LENS_ALIGN_CENTER,
                               .max_width = width - 2 * PAD};
  lens_draw_text (cr, title, PAD, PAD + TITLE_H / 2.0 - 4.0, &title_style);

  LineAxis axis;
  fit_axis (&set, state, r->n_rows, &axis);
  paint_grid (cr, r, state, theme, &g, &axis);

  if (state->show_marks && state->hover_row >= 0 && state->hover_row < r->n_rows)
    {
      /* The hovered layer's column, lightly shaded. */
      double band = g.w / r->n_rows;
      cairo_set_source_rgba (cr, theme->text.r, theme->text.g, theme->text.b, 0.08);
      cairo_rectangle (cr, g.x + state->hover_row * band, g.y, band, g.h);
      cairo_fill (cr);
    }
  if (state->show_marks && state->sel_row >= 0 && state->sel_row < r->n_rows)
    {
      /* The selected layer, so the plot and the heatmap read together. */
      double x = x_of (&g, state->sel_row, r->n_rows);
      cairo_save (cr);
      lens_set_rgb (cr, theme->muted);
      cairo_set_line_width (cr, 1.0);
      double dash[] = {3.0, 3.0};
      cairo_set_dash (cr, dash, 2, 0.0);
      cairo_move_to (cr, round (x) + 0.5, g.y);
      cairo_line_to (cr, round (x) + 0.5, g.y + g.h);
      cairo_stroke (cr);
      cairo_restore (cr);
    }

  const char *message = empty_message (r, state, pos, &set);
  if (message != NULL)
    {
      lens_draw_message (cr, theme, message, g.x, g.y, g.w, g.h);
      return;
    }

  gboolean clipped = FALSE;
  cairo_save (cr);
  cairo_rectangle (cr, g.x - 6.0, g.y - 6.0, g.w + 12.0, g.h + 12.0);
  cairo_clip (cr);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  /* The tokens the plot added first, so the user's targets are drawn over them (in order). */
  for (int n = 0; n < set.n; n++)
    {
      int first_tracked = 0;
      while (first_tracked < set.n && !set.items[first_tracked].tracked)
        first_tracked++;
      int i = n < set.n - first_tracked ? first_tracked + n : n - (set.n - first_tracked);
      const LineSeries *s = &set.items[i];
      LensRgb color = lens_palette_color (s->color);
      /* NAN breaks the line. */
      gboolean drawing = FALSE;
      for (int row = 0; row < r->n_rows; row++)
        {
          float v = s->values[row];
          if (isnan (v))
            {
              drawing = FALSE;
              continue;
            }
          double x = x_of (&g, row, r->n_rows), y = y_of (&g, v, &axis);
          if (drawing)
            cairo_line_to (cr, x, y);
          else
            cairo_move_to (cr, x, y);
          drawing = TRUE;
        }
      lens_set_rgb (cr, color);
      cairo_set_line_width (cr, s->tracked ? 1.5 : 2.0);
      cairo_stroke (cr);
      for (int row = 0; row < r->n_rows; row++)
        {
          float v = s->values[row];
          double x = x_of (&g, row, r->n_rows);
          if (axis_clips (&axis, v))
            {
              paint_clipped_marker (cr, theme, color, x, g.y + g.h);
              clipped = TRUE;
            }
          else if (!isnan (v))
            paint_marker (cr, theme, color, x, y_of (&g, v, &axis));
        }
    }
  cairo_restore (cr);

  /* Legend: as many lines as fit, then how many more there are. */
  LensTextStyle legend
      = {.size = LENS_FONT_LABEL, .valign = LENS_ALIGN_CENTER, .max_width = LEGEND_MAX_LABEL};
  int fits = MAX (1, (int) ((g.h - 8.0) / LEGEND_ROW) - (clipped ? 2 : 1));
  int shown = 0;
  for (int i = 0; i < set.n; i++)
    {
      const LineSeries *s = &set.items[i];
      if (s->label == NULL)
        continue;
      double y = g.y + 8.0 + shown * LEGEND_ROW;
      if (shown == fits && set.n - i > 1)
        {
          g_autofree char *more = g_strdup_printf (_ ("+%d more"), set.n - i);
          lens_set_rgb (cr, theme->muted);
          lens_draw_text (cr, more, g.legend_x, y, &legend);
          shown++;
          break;
        }
      LensRgb color = lens_palette_color (s->color);
      lens_set_rgb (cr, color);
      cairo_set_line_width (cr, s->tracked ? 1.5 : 2.0);
      cairo_move_to (cr, g.legend_x, y);
      cairo_line_to (cr, g.legend_x + LEGEND_SWATCH - 4.0, y);
      cairo_stroke (cr);
      paint_marker (cr, theme, color, g.legend_x + (LEGEND_SWATCH - 4.0) / 2.0, y);
      lens_set_rgb (cr, s->tracked ? theme->muted : theme->text);
      lens_draw_text (cr, s->label, g.legend_x + LEGEND_SWATCH + 2.0, y, &legend);
      shown++;
    }
  if (clipped)
    {
      /* Say what the triangles on the bottom edge mean. */
      char bound[16];
      lens_value_axis_decade_label ((int) axis.prob.lo, bound, sizeof bound);
      g_autofree char *note = g_strdup_printf (_ ("▼ below %s"), bound);
      double y = g.y + 8.0 + (shown + 0.5) * LEGEND_ROW;
      lens_set_rgb (cr, theme->muted);
      lens_draw_text (cr, note, g.legend_x, y, &legend);
    }
}
