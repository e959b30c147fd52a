/* lens-paint-heatmap.c: draws the top-token, target and difference heatmaps (same geometry,
 * lens-heatmap-layout.c; colours, lens-heatmap-colors.c): title, cells, marks, row and column
 * labels, and the frozen labels of a scrolled figure; and every view's title. */
#include "config.h"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "lens-heatmap-private.h"

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
  lens_heatmap_geometry (r, state, width, height, &g);
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
  lens_cell_colors_init (&cc, view, r, state, target_probs);

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
        float p = lens_cell_colors_value (&cc, r, row, t, &top);
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
        lens_color_scale_rgb (scale, lens_cell_colors_fraction (&cc, p), &fill.r, &fill.g, &fill.b);
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
      float p = lens_cell_colors_value (&cc, r, state->hover_row, state->hover_pos, &top);
      LensRgb fill = lens_result_pos_ready (r, state->hover_pos) ? theme->missing : theme->pending;
      if (!isnan (p))
        lens_color_scale_rgb (scale, lens_cell_colors_fraction (&cc, p), &fill.r, &fill.g, &fill.b);
      outline_cell (cr, theme, l, state->hover_row, state->hover_pos, FALSE,
                    lens_contrast_text (fill));
    }
  if (state->show_marks && state->sel_row >= 0 && state->sel_row < l->n_rows && state->sel_pos >= 0
      && state->sel_pos < l->n_cols)
    outline_cell (cr, theme, l, state->sel_row, state->sel_pos, TRUE, theme->text);

  paint_axes (cr, r, state, theme, &g);
  lens_paint_color_bar (cr, theme, &g, scale, &cc);
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
  lens_heatmap_geometry (r, state, width, height, &g);
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
