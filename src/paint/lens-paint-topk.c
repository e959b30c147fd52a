/* lens-paint-topk.c: horizontal bars of the top-k tokens of one cell, best first. */
#include "config.h"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "lens-paint-private.h"

#define PAD 12.0
#define TITLE_H 34.0
#define SUBTITLE_H 20.0
#define ROW_H 24.0
#define BAR_H 16.0
#define ROW_H_FILL 36.0 /* rows grow up to this to fill a taller area */
#define LABEL_MIN 60.0
#define LABEL_MAX 160.0
#define VALUE_W 70.0
#define AXIS_H 24.0

static double
label_width (const LensResult *r, int row, int pos)
{
  double widest = LABEL_MIN;
  size_t k0 = lens_result_cell_index (r, row, pos) * (size_t) r->top_k;
  for (int k = 0; k < r->top_k; k++)
    {
      if (r->top_ids[k0 + k] < 0)
        continue;
      g_autofree char *shown = lens_token_display (lens_result_token_text (r, r->top_ids[k0 + k]));
      double w;
      lens_measure_text (shown, LENS_FONT_LABEL, FALSE, &w, NULL);
      widest = MAX (widest, w);
    }
  return MIN (widest, LABEL_MAX) + 10.0;
}

/* The probability axis ends at the smallest of 1, 2 or 5 x 10^k at or above the top probability
 * (at most 1, at least 1e-6), so a flat distribution's bars are still visible. *n_ticks intervals
 * of a round step. */
static double
axis_max (double top, int *n_ticks)
{
  static const double mantissas[] = {1.0, 2.0, 5.0};
  for (int e = -6; e <= 0; e++)
    for (int m = 0; m < 3; m++)
      {
        double v = mantissas[m] * pow (10.0, e);
        if (v > 1.0)
          break;
        if (v >= top - 1e-12)
          {
            *n_ticks = m == 1 ? 4 : 5;
            return v;
          }
      }
  *n_ticks = 5;
  return 1.0;
}

/* The top of the first bar's row and the rows' height: they share the height down to the axis,
 * whole pixels, between natural and ROW_H_FILL. */
static void
bar_rows (const LensResult *r, double height, double *y0, double *row_h)
{
  *y0 = PAD + TITLE_H + SUBTITLE_H;
  *row_h = ROW_H;
  double spare = height - (PAD + TITLE_H + SUBTITLE_H + AXIS_H + PAD);
  if (isfinite (spare) && spare > r->top_k * ROW_H)
    *row_h = MIN (ROW_H_FILL, floor (spare / r->top_k));
}

gboolean
lens_topk_hit (const LensResult *r, const LensPaintState *state, double width, double height,
               double x, double y, int *rank)
{
  if (r == NULL || r->n_rows <= 0 || r->n_tokens <= 0 || r->top_k <= 0)
    return FALSE;
  double y0, row_h;
  bar_rows (r, height, &y0, &row_h);
  double k = floor ((y - y0) / row_h);
  /* a row runs from its label on the left to the panel's right padding */
  if (!(k >= 0.0 && k < r->top_k && x >= PAD && x < width - PAD))
    return FALSE;
  int row, pos;
  lens_effective_cell (r, state, &row, &pos);
  size_t i = lens_result_cell_index (r, row, pos) * (size_t) r->top_k + (size_t) k;
  if (r->top_ids[i] < 0 || isnan (r->top_probs[i]))
    return FALSE; /* no bar there */
  if (rank != NULL)
    *rank = (int) k;
  return TRUE;
}

void
lens_topk_natural_size (const LensResult *r, const LensPaintState *state, double *width,
                        double *height)
{
  int k = r != NULL ? r->top_k : 10;
  *width = 460.0;
  *height = ceil (PAD + TITLE_H + SUBTITLE_H + k * ROW_H + AXIS_H + PAD);
}

void
lens_paint_topk (cairo_t *cr, const LensResult *r, const LensPaintState *state,
                 const LensTheme *theme, double width, double height)
{
  int row, pos;
  lens_effective_cell (r, state, &row, &pos);
  size_t cell = lens_result_cell_index (r, row, pos);
  size_t k0 = cell * (size_t) r->top_k;

  g_autofree char *title = lens_view_title (LENS_VIEW_TOPK, r, state);
  lens_set_rgb (cr, theme->text);
  LensTextStyle title_style = {.size = LENS_FONT_TITLE,
                               .bold = TRUE,
                               .valign = LENS_ALIGN_CENTER,
                               .max_width = width - 2 * PAD};
  lens_draw_text (cr, title, PAD, PAD + TITLE_H / 2.0 - 4.0, &title_style);

  float entropy = r->entropy[cell];
  if (!isnan (entropy))
    {
      g_autofree char *sub = g_strdup_printf (_ ("Entropy %.3f nats"), entropy);
      lens_set_rgb (cr, theme->muted);
      LensTextStyle sub_style = {.size = LENS_FONT_LABEL, .valign = LENS_ALIGN_CENTER};
      lens_draw_text (cr, sub, PAD, PAD + TITLE_H + SUBTITLE_H / 2.0 - 6.0, &sub_style);
    }

  double label_w = label_width (r, row, pos);
  double x0 = PAD + label_w;
  double y0, row_h;
  bar_rows (r, height, &y0, &row_h);
  double bar_w = MAX (width - x0 - VALUE_W - PAD, 10.0);
  /* bars stay two thirds of a row */
  double bar_h = round (BAR_H * row_h / ROW_H);
  double plot_h = r->top_k * row_h;

  double top = 0.0;
  for (int k = 0; k < r->top_k; k++)
    if (r->top_ids[k0 + k] >= 0 && isfinite (r->top_probs[k0 + k]))
      top = MAX (top, r->top_probs[k0 + k]);
  int n_ticks;
  double x_max = axis_max (top, &n_ticks);

  /* Plot area with vertical grid lines at round steps. */
  lens_set_rgb (cr, theme->plot_bg);
  cairo_rectangle (cr, x0, y0, bar_w, plot_h);
  cairo_fill (cr);
  LensTextStyle tick = {.size = LENS_FONT_LABEL - 1.0, .halign = LENS_ALIGN_CENTER};
  cairo_set_line_width (cr, 1.0);
  /* a narrow panel labels every other grid line (or fewer) so the numbers never touch */
  char widest[16];
  g_snprintf (widest, sizeof widest, "%g", x_max * (n_ticks - 1) / n_ticks);
  double tick_w;
  lens_measure_text (widest, tick.size, FALSE, &tick_w, NULL);
  int every = MAX (1, (int) ceil ((tick_w + 8.0) / (bar_w / n_ticks)));
  for (int i = 0; i <= n_ticks; i++)
    {
      double x = lens_grid_line (x0 + bar_w * i / n_ticks, x0, x0 + bar_w);
      lens_set_rgb (cr, theme->grid);
      cairo_move_to (cr, x, y0);
      cairo_line_to (cr, x, y0 + plot_h);
      cairo_stroke (cr);
      if (i % every != 0)
        continue;
      char label[16];
      g_snprintf (label, sizeof label, "%g", x_max * i / n_ticks);
      lens_set_rgb (cr, theme->muted);
      lens_draw_text (cr, label, x, y0 + plot_h + 4.0, &tick);
    }

  LensTextStyle label_style = {.size = LENS_FONT_LABEL,
                               .halign = LENS_ALIGN_END,
                               .valign = LENS_ALIGN_CENTER,
                               .max_width = LABEL_MAX};
  LensTextStyle value_style = {.size = LENS_FONT_LABEL - 1.0, .valign = LENS_ALIGN_CENTER};
  LensRgb bar_color = lens_palette_color (0);
  int shown_any = 0;
  for (int k = 0; k < r->top_k; k++)
    {
      int32_t id = r->top_ids[k0 + k];
      float p = r->top_probs[k0 + k];
      if (id < 0 || isnan (p))
        continue;
      shown_any++;
      double yc = y0 + (k + 0.5) * row_h;
      g_autofree char *shown = lens_token_display (lens_result_token_text (r, id));
      lens_set_rgb (cr, theme->text);
      lens_draw_text (cr, shown, x0 - 8.0, yc, &label_style);

      double len = bar_w * CLAMP (p / x_max, 0.0, 1.0);
      lens_set_rgb (cr, bar_color);
      cairo_rectangle (cr, x0, yc - bar_h / 2.0, len, bar_h);
      cairo_fill (cr);

      g_autofree char *value = lens_format_prob (p);
      lens_set_rgb (cr, theme->muted);
      lens_draw_text (cr, value, x0 + len + 6.0, yc, &value_style);
    }
  if (shown_any == 0)
    lens_draw_message (cr, theme,
                       lens_result_pos_ready (r, pos) ? _ ("No top tokens for this cell")
                                                      : _ ("Computing this position…"),
                       x0, y0, bar_w, plot_h);
}
