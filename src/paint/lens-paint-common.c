/* lens-paint-common.c: text drawing and formatting shared by the painters. */
#include "config.h"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "lens-paint-private.h"

static PangoFontDescription *
font_for (double size, gboolean bold, gboolean monospace)
{
  PangoFontDescription *font = pango_font_description_new ();
  pango_font_description_set_family (font, monospace ? "Monospace" : LENS_FONT_FAMILY);
  pango_font_description_set_weight (font, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
  pango_font_description_set_absolute_size (font, size * PANGO_SCALE);
  return font;
}

static void
setup_layout (PangoLayout *layout, const char *text, const LensTextStyle *style)
{
  PangoFontDescription *font = font_for (style->size, style->bold, style->monospace);
  pango_layout_set_font_description (layout, font);
  pango_font_description_free (font);
  pango_layout_set_single_paragraph_mode (layout, TRUE);
  if (style->max_width > 0)
    {
      pango_layout_set_width (layout, (int) (style->max_width * PANGO_SCALE));
      pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
    }
  pango_layout_set_text (layout, text, -1);
}

static double
align_offset (LensAlign align, double extent)
{
  switch (align)
    {
    case LENS_ALIGN_CENTER:
      return extent / 2.0;
    case LENS_ALIGN_END:
      return extent;
    case LENS_ALIGN_START:
    default:
      return 0.0;
    }
}

void
lens_draw_text (cairo_t *cr, const char *text, double x, double y, const LensTextStyle *style)
{
  if (text == NULL || *text == '\0' || (style->max_width > 0 && style->max_width < 1.0))
    return;

  /* One layout per cairo context: creating one per text (a PangoContext each) was most of the
   * time spent painting a heatmap. */
  static const cairo_user_data_key_t layout_key;
  PangoLayout *layout = cairo_get_user_data (cr, &layout_key);
  if (layout == NULL)
    {
      layout = pango_cairo_create_layout (cr);
      cairo_set_user_data (cr, &layout_key, layout, g_object_unref);
    }
  else
    pango_cairo_update_layout (cr, layout);
  /* Reset what a previous text may have set. */
  pango_layout_set_width (layout, -1);
  pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_NONE);
  setup_layout (layout, text, style);

  /* With a width set, pango lays out in a box of that width; use the ink of the logical extents
   * so centring works for short texts too. */
  PangoRectangle logical;
  pango_layout_get_pixel_extents (layout, NULL, &logical);

  cairo_save (cr);
  cairo_translate (cr, x, y);
  if (style->angle != 0.0)
    cairo_rotate (cr, style->angle);
  cairo_move_to (cr, -logical.x - align_offset (style->halign, logical.width),
                 -logical.y - align_offset (style->valign, logical.height));
  pango_cairo_show_layout (cr, layout);
  cairo_restore (cr);
}

void
lens_measure_text (const char *text, double size, gboolean bold, double *width, double *height)
{
  /* The default cairo font map, as pango_cairo_create_layout uses; one context per thread. */
  static GPrivate context_key = G_PRIVATE_INIT (g_object_unref);
  PangoContext *context = g_private_get (&context_key);
  if (context == NULL)
    {
      context = pango_font_map_create_context (pango_cairo_font_map_get_default ());
      g_private_set (&context_key, context);
    }

  PangoLayout *layout = pango_layout_new (context);
  LensTextStyle style = {.size = size, .bold = bold};
  setup_layout (layout, text != NULL ? text : "", &style);
  PangoRectangle logical;
  pango_layout_get_pixel_extents (layout, NULL, &logical);
  if (width != NULL)
    *width = logical.width;
  if (height != NULL)
    *height = logical.height;
  g_object_unref (layout);
}

char *
lens_token_display (const char *text)
{
  if (text == NULL || *text == '\0')
    return g_strdup ("∅");

  g_autofree char *valid = g_utf8_make_valid (text, -1);
  GString *out = g_string_sized_new (strlen (valid) + 8);
  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (c == ' ')
        g_string_append (out, "␣");
      else if (c == '\n')
        g_string_append (out, "↵");
      else if (c == '\r')
        g_string_append (out, "\\r");
      else if (c == '\t')
        g_string_append (out, "⇥");
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

char *
lens_format_prob_short (double p)
{
  if (isnan (p))
    return g_strdup ("—");
  if (p >= 0.995)
    return g_strdup ("1.00");
  if (p >= 0.01)
    return g_strdup_printf ("%.2f", p);
  if (p <= 0.0)
    return g_strdup ("0");
  /* "3e-04" -> "3e-4": compact enough for a narrow cell. */
  int exponent = (int) floor (log10 (p));
  double mantissa = p / pow (10.0, exponent);
  if (mantissa >= 9.5)
    {
      mantissa = 1.0;
      exponent++;
    }
  return g_strdup_printf ("%.0fe%d", mantissa, exponent);
}

char *
lens_row_title (const LensResult *r, int row)
{
  if (row < 0 || row >= r->n_rows)
    return g_strdup ("");
  if (r->row_layers != NULL && r->row_layers[row] == LENS_ROW_EMBEDDINGS)
    return g_strdup (_ ("Embeddings"));
  const char *label = r->row_labels != NULL && r->row_labels[row] != NULL ? r->row_labels[row] : "";
  /* Translators: "Layer 5" */
  return g_strdup_printf (_ ("Layer %s"), label);
}

double
lens_grid_line (double v, double lo, double hi)
{
  return CLAMP (floor (v), ceil (lo), ceil (hi) - 1.0) + 0.5;
}

void
lens_fill_missing (cairo_t *cr, const LensTheme *theme, double x, double y, double w, double h)
{
  cairo_save (cr);
  cairo_rectangle (cr, x, y, w, h);
  cairo_clip_preserve (cr);
  lens_set_rgb (cr, theme->missing);
  cairo_fill (cr);
  lens_set_rgb (cr, theme->hatch);
  cairo_set_line_width (cr, 1.0);
  for (double d = -h; d < w; d += 6.0)
    {
      cairo_move_to (cr, x + d, y + h);
      cairo_line_to (cr, x + d + h, y);
    }
  cairo_stroke (cr);
  cairo_restore (cr);
}

void
lens_fill_pending (cairo_t *cr, const LensTheme *theme, double x, double y, double w, double h)
{
  cairo_save (cr);
  lens_set_rgb (cr, theme->pending);
  cairo_rectangle (cr, x, y, w, h);
  cairo_fill (cr);
  double radius = MIN (1.5, h / 8.0), step = 3.0 * radius + 1.0;
  if (w > 6.0 * step && h > 4.0 * radius)
    {
      lens_set_rgb (cr, theme->pending_mark);
      for (int i = -1; i <= 1; i++)
        {
          cairo_new_sub_path (cr);
          cairo_arc (cr, x + w / 2.0 + i * step, y + h / 2.0, radius, 0.0, 2.0 * G_PI);
        }
      cairo_fill (cr);
    }
  cairo_restore (cr);
}

void
lens_draw_message (cairo_t *cr, const LensTheme *theme, const char *message, double x, double y,
                   double width, double height)
{
  LensTextStyle style = {
      .size = LENS_FONT_AXIS,
      .max_width = MAX (width - 24.0, 1.0),
      .halign = LENS_ALIGN_CENTER,
      .valign = LENS_ALIGN_CENTER,
  };
  /* A rounded paper-coloured box behind the text keeps it readable over hatching or a plot. */
  double tw, th;
  lens_measure_text (message, LENS_FONT_AXIS, FALSE, &tw, &th);
  tw = MIN (tw, style.max_width);
  double bw = tw + 24.0, bh = th + 14.0, r = 6.0;
  double bx = x + (width - bw) / 2.0, by = y + (height - bh) / 2.0;
  cairo_new_sub_path (cr);
  cairo_arc (cr, bx + bw - r, by + r, r, -G_PI / 2.0, 0.0);
  cairo_arc (cr, bx + bw - r, by + bh - r, r, 0.0, G_PI / 2.0);
  cairo_arc (cr, bx + r, by + bh - r, r, G_PI / 2.0, G_PI);
  cairo_arc (cr, bx + r, by + r, r, G_PI, 1.5 * G_PI);
  cairo_close_path (cr);
  cairo_set_source_rgba (cr, theme->paper.r, theme->paper.g, theme->paper.b, 0.92);
  cairo_fill (cr);

  lens_set_rgb (cr, theme->muted);
  lens_draw_text (cr, message, x + width / 2.0, y + height / 2.0, &style);
}

void
lens_effective_cell (const LensResult *r, const LensPaintState *state, int *row, int *pos)
{
  int sel_row = state != NULL ? state->sel_row : -1;
  int sel_pos = state != NULL ? state->sel_pos : -1;
  *row = sel_row >= 0 && sel_row < r->n_rows ? sel_row : r->n_rows - 1;
  *pos = sel_pos >= 0 && sel_pos < r->n_tokens ? sel_pos : r->n_tokens - 1;
}

float
lens_cell_metric (const LensResult *r, LensColorBy metric, int row, int pos)
{
  switch (metric)
    {
    case LENS_COLOR_NEXT_PROB:
      return lens_result_next_prob (r, row, pos);
    case LENS_COLOR_NEXT_RANK:
      {
        int rank = lens_result_next_rank (r, row, pos);
        return rank > 0 ? (float) rank : NAN;
      }
    case LENS_COLOR_KL_FINAL:
      return lens_result_kl_final (r, row, pos);
    case LENS_COLOR_ENTROPY:
      return r->entropy != NULL ? r->entropy[lens_result_cell_index (r, row, pos)] : NAN;
    case LENS_COLOR_TOP_PROB:
    default:
      return r->top_k > 0 ? r->top_probs[lens_result_cell_index (r, row, pos) * (size_t) r->top_k]
                          : NAN;
    }
}

void
lens_line_cell (const LensResult *r, const LensPaintState *state, int *row, int *pos)
{
  lens_effective_cell (r, state, row, pos);
  gboolean scores_next = state != NULL
                         && (state->line_metric == LENS_COLOR_NEXT_PROB
                             || state->line_metric == LENS_COLOR_NEXT_RANK);
  if (scores_next && (state->sel_pos < 0 || state->sel_pos >= r->n_tokens) && r->n_tokens >= 2)
    *pos = r->n_tokens - 2;
}

void
lens_value_stats_add (LensValueStats *s, double p)
{
  if (isnan (p))
    return;
  if (p <= 0.0)
    s->any_zero = TRUE;
  else
    s->min_positive = MIN (s->min_positive, p);
  s->max = MAX (s->max, p);
}

void
lens_value_axis_fit (LensAxis axis, const LensValueStats *s, LensValueAxis *out)
{
  gboolean have_positive = s->min_positive <= s->max && s->max > 0.0;
  gboolean log = axis == LENS_AXIS_LOG;
  if (axis == LENS_AXIS_AUTO)
    /* On a linear 0..1 axis values under 1% of the largest, or under 1% at all, sit on the floor
     * indistinguishable from each other and from zero. */
    log = have_positive && (s->max < 0.01 || s->min_positive < s->max * 1e-3);
  *out = (LensValueAxis){.log = log, .lo = 0.0, .hi = 1.0, .label_step = 1};
  if (!log)
    return;

  /* Values are floats: 1e-8f is 9.99999994e-9, which must still count as the decade 1e-8. */
  const double slack = 1e-5;  /* decades */
  double hi = 0.0, lo = -6.0; /* nothing to fit: a plain six decades */
  if (have_positive)
    {
      hi = MIN (0.0, ceil (log10 (s->max) - slack));
      lo = floor (log10 (s->min_positive) + slack);
      lo = CLAMP (lo, hi - LENS_LOG_MAX_DECADES, hi - 1.0);
    }
  out->lo = lo;
  out->hi = hi;
  out->clipped = s->any_zero || (have_positive && log10 (s->min_positive) < lo - slack);
  /* at most about seven labels */
  out->label_step = MAX (1, (int) ceil ((hi - lo) / 6.0));
}

double
lens_value_axis_fraction (const LensValueAxis *a, double p)
{
  if (!a->log)
    return CLAMP (p, 0.0, 1.0);
  if (!(p > 0.0))
    return 0.0;
  return CLAMP ((log10 (p) - a->lo) / (a->hi - a->lo), 0.0, 1.0);
}

gboolean
lens_value_axis_clips (const LensValueAxis *a, double p)
{
  return a->log && !isnan (p) && (p <= 0.0 || log10 (p) < a->lo - 1e-5);
}

void
lens_value_axis_decade_label (int e, char *buf, size_t size)
{
  if (e == 0)
    g_strlcpy (buf, "1", size);
  else if (e == -1)
    g_strlcpy (buf, "0.1", size);
  else
    g_snprintf (buf, size, "1e%d", e);
}
