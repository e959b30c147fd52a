/* lens-heatmap-colors.c: how a heatmap's cells get their colours (the value each cell shows,
 * the scale's range fitted to them) and the colour bar that explains them. */
#include "config.h"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "lens-heatmap-private.h"

static const double bar_ticks[] = {0.0, 0.25, 0.5, 0.75, 1.0};

float
lens_cell_colors_value (const CellColors *cc, const LensResult *r, int row, int pos,
                        const char **top)
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
  *top = lens_heatmap_top1_text (r, row, pos, &p);
  return cc->by == LENS_COLOR_TOP_PROB ? p : lens_cell_metric (r, cc->by, row, pos);
}

void
lens_cell_colors_init (CellColors *cc, LensView view, const LensResult *r,
                       const LensPaintState *state, const float *target)
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
        float v = lens_cell_colors_value (cc, r, row, t, &top);
        lens_value_stats_add (&stats, v);
        if (isfinite (v))
          max = MAX (max, v);
      }
  lens_value_axis_fit (fitted ? state->prob_axis : LENS_AXIS_LINEAR, &stats, &cc->axis);
  /* KL has no bound: the largest shown value (never zero) */
  cc->max = entropy_bound ? log ((double) r->model_info.vocab_size) : MAX (max, 1e-6);
}

double
lens_cell_colors_fraction (const CellColors *cc, double v)
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

void
lens_paint_color_bar (cairo_t *cr, const LensTheme *theme, const Geometry *g, LensColorScale scale,
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
