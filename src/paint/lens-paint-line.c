/* lens-paint-line.c: each target's probability across the kept layers at one position, plotly
 * style (shaded plot area, white grid, lines with markers, legend on the right). */
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

static double
legend_width (const LensPaintState *state)
{
  double widest = 0.0;
  for (int i = 0; state->targets != NULL && i < state->n_targets; i++)
    {
      g_autofree char *shown = lens_token_display (state->targets[i].label);
      double w;
      lens_measure_text (shown, LENS_FONT_LABEL, FALSE, &w, NULL);
      widest = MAX (widest, MIN (w, LEGEND_MAX_LABEL));
    }
  if (widest > 0.0 && state->prob_axis != LENS_AXIS_LINEAR)
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
  double legend = legend_width (state);
  *width = ceil (MAX (560.0, PAD + LEFT_W + n_rows * 36.0 + LEGEND_GAP + legend + PAD));
  *height = 400.0;
}

static void
compute_geometry (const LensPaintState *state, double width, double height, LineGeometry *g)
{
  g->legend_w = legend_width (state);
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

/* Vertical pixel of probability p; values below a log axis sit on its bottom edge (and are
 * marked there). */
static double
y_of (const LineGeometry *g, double p, const LensValueAxis *axis)
{
  return g->y + g->h * (1.0 - lens_value_axis_fraction (axis, p));
}

/* The axis fitted to every target's values at position `pos`. */
static void
fit_axis (const LensResult *r, const LensPaintState *state, int pos, LensValueAxis *axis)
{
  LensValueStats stats = LENS_VALUE_STATS_INIT;
  for (int i = 0; state->targets != NULL && i < state->n_targets; i++)
    for (int row = 0; state->targets[i].probs != NULL && row < r->n_rows; row++)
      lens_value_stats_add (&stats, state->targets[i].probs[lens_result_cell_index (r, row, pos)]);
  lens_value_axis_fit (state->prob_axis, &stats, axis);
}

gboolean
lens_line_hit (const LensResult *r, const LensPaintState *state, double width, double height,
               double x, double y, int *row)
{
  if (r == NULL || r->n_rows <= 0 || r->n_tokens <= 0 || state == NULL)
    return FALSE;
  LineGeometry g;
  compute_geometry (state, width, height, &g);
  /* Markers sit on the plot's edges, so a few pixels around it count too. */
  if (!(x >= g.x && x < g.x + g.w && y >= g.y - 6.0 && y <= g.y + g.h + 6.0))
    return FALSE;
  if (row != NULL)
    *row = CLAMP ((int) ((x - g.x) / (g.w / r->n_rows)), 0, r->n_rows - 1);
  return TRUE;
}

static void
paint_grid (cairo_t *cr, const LensResult *r, const LensPaintState *state, const LensTheme *theme,
            const LineGeometry *g, const LensValueAxis *axis)
{
  lens_set_rgb (cr, theme->plot_bg);
  cairo_rectangle (cr, g->x, g->y, g->w, g->h);
  cairo_fill (cr);

  LensTextStyle tick
      = {.size = LENS_FONT_LABEL - 1.0, .halign = LENS_ALIGN_END, .valign = LENS_ALIGN_CENTER};
  cairo_set_line_width (cr, 1.0);
  /* linear: 0, 0.2, ... 1; log: every decade of the fitted range, every label_step-th labelled */
  int n_y = axis->log ? (int) (axis->hi - axis->lo) + 1 : 6;
  for (int i = 0; i < n_y; i++)
    {
      double p = axis->log ? pow (10.0, axis->hi - i) : i / 5.0;
      double y = lens_grid_line (y_of (g, p, axis), g->y, g->y + g->h);
      lens_set_rgb (cr, theme->grid);
      cairo_move_to (cr, g->x, y);
      cairo_line_to (cr, g->x + g->w, y);
      cairo_stroke (cr);
      char label[16];
      if (axis->log && i % axis->label_step != 0)
        continue;
      if (axis->log)
        lens_value_axis_decade_label ((int) axis->hi - i, label, sizeof label);
      else
        g_snprintf (label, sizeof label, "%.1f", p);
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
  lens_draw_text (cr, axis->log ? _ ("Probability (log)") : _ ("Probability"), PAD + 10.0,
                  g->y + g->h / 2.0, &title);
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

void
lens_paint_line (cairo_t *cr, const LensResult *r, const LensPaintState *state,
                 const LensTheme *theme, double width, double height)
{
  LineGeometry g;
  compute_geometry (state, width, height, &g);

  g_autofree char *title = lens_view_title (LENS_VIEW_LINE, r, state);
  lens_set_rgb (cr, theme->text);
  LensTextStyle title_style = {.size = LENS_FONT_TITLE,
                               .bold = TRUE,
                               .valign = LENS_ALIGN_CENTER,
                               .max_width = width - 2 * PAD};
  lens_draw_text (cr, title, PAD, PAD + TITLE_H / 2.0 - 4.0, &title_style);

  int row_sel, pos;
  lens_effective_cell (r, state, &row_sel, &pos);
  LensValueAxis axis;
  fit_axis (r, state, pos, &axis);
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

  if (state->targets == NULL || state->n_targets <= 0)
    {
      lens_draw_message (cr, theme, _ ("Add a target token to plot its probability across layers"),
                         g.x, g.y, g.w, g.h);
      return;
    }
  if (!lens_result_pos_ready (r, pos))
    {
      lens_draw_message (cr, theme, _ ("Computing this position…"), g.x, g.y, g.w, g.h);
      return;
    }

  cairo_save (cr);
  cairo_rectangle (cr, g.x - 6.0, g.y - 6.0, g.w + 12.0, g.h + 12.0);
  cairo_clip (cr);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  for (int i = 0; i < state->n_targets; i++)
    {
      const float *probs = state->targets[i].probs;
      if (probs == NULL)
        continue;
      LensRgb color = lens_palette_color (i);
      /* NAN breaks the line. */
      gboolean drawing = FALSE;
      for (int row = 0; row < r->n_rows; row++)
        {
          float p = probs[lens_result_cell_index (r, row, pos)];
          if (isnan (p))
            {
              drawing = FALSE;
              continue;
            }
          double x = x_of (&g, row, r->n_rows), y = y_of (&g, p, &axis);
          if (drawing)
            cairo_line_to (cr, x, y);
          else
            cairo_move_to (cr, x, y);
          drawing = TRUE;
        }
      lens_set_rgb (cr, color);
      cairo_set_line_width (cr, 2.0);
      cairo_stroke (cr);
      for (int row = 0; row < r->n_rows; row++)
        {
          float p = probs[lens_result_cell_index (r, row, pos)];
          double x = x_of (&g, row, r->n_rows);
          if (lens_value_axis_clips (&axis, p))
            paint_clipped_marker (cr, theme, color, x, g.y + g.h);
          else if (!isnan (p))
            paint_marker (cr, theme, color, x, y_of (&g, p, &axis));
        }
    }
  cairo_restore (cr);

  /* Legend. */
  LensTextStyle legend
      = {.size = LENS_FONT_LABEL, .valign = LENS_ALIGN_CENTER, .max_width = LEGEND_MAX_LABEL};
  for (int i = 0; i < state->n_targets; i++)
    {
      double y = g.y + 8.0 + i * LEGEND_ROW;
      LensRgb color = lens_palette_color (i);
      lens_set_rgb (cr, color);
      cairo_set_line_width (cr, 2.0);
      cairo_move_to (cr, g.legend_x, y);
      cairo_line_to (cr, g.legend_x + LEGEND_SWATCH - 4.0, y);
      cairo_stroke (cr);
      paint_marker (cr, theme, color, g.legend_x + (LEGEND_SWATCH - 4.0) / 2.0, y);
      g_autofree char *shown = lens_token_display (state->targets[i].label);
      lens_set_rgb (cr, theme->text);
      lens_draw_text (cr, shown, g.legend_x + LEGEND_SWATCH + 2.0, y, &legend);
    }
  if (axis.clipped)
    {
      /* Say what the triangles on the bottom edge mean. */
      char bound[16];
      lens_value_axis_decade_label ((int) axis.lo, bound, sizeof bound);
      g_autofree char *note = g_strdup_printf (_ ("▼ below %s"), bound);
      double y = g.y + 8.0 + (state->n_targets + 0.5) * LEGEND_ROW;
      lens_set_rgb (cr, theme->muted);
      lens_draw_text (cr, note, g.legend_x, y, &legend);
    }
}
