/* lens-paint-private.h: helpers shared by the painters (theme colours, text, number formats).
 * Not part of the public API: widgets and the CLI use lens-paint.h only. */
#pragma once

#include <cairo.h>
#include <pango/pangocairo.h>

#include "lens-format.h"
#include "lens-paint.h"

G_BEGIN_DECLS

typedef struct
{
  double r, g, b;
} LensRgb;

/* Colours of the non-data parts of a figure, after plotly's "plotly" / "plotly_dark" templates. */
typedef struct
{
  LensRgb paper;        /* figure background (skipped when transparent) */
  LensRgb plot_bg;      /* plot area of line/bar charts */
  LensRgb grid;         /* grid lines over plot_bg */
  LensRgb text;         /* titles, labels */
  LensRgb muted;        /* tick labels, secondary text */
  LensRgb missing;      /* cells without data */
  LensRgb hatch;        /* diagonal lines over missing cells */
  LensRgb pending;      /* cells of a partial result still being computed */
  LensRgb pending_mark; /* the dots over pending cells */
} LensTheme;

void lens_theme_get (const LensPaintState *state, LensTheme *theme);

static inline void
lens_set_rgb (cairo_t *cr, LensRgb c)
{
  cairo_set_source_rgb (cr, c.r, c.g, c.b);
}

/* Sizes in pixels (absolute, so layout does not depend on the display's DPI). */
#define LENS_FONT_FAMILY "Sans"
#define LENS_FONT_CELL 12.0
#define LENS_FONT_LABEL 12.0
#define LENS_FONT_AXIS 13.0
#define LENS_FONT_TITLE 16.0

typedef enum
{
  LENS_ALIGN_START,
  LENS_ALIGN_CENTER,
  LENS_ALIGN_END,
} LensAlign;

typedef struct
{
  double size; /* pixels */
  gboolean bold;
  gboolean monospace;
  double max_width; /* > 0: ellipsize at the end to fit */
  LensAlign halign; /* where (x, y) is on the text box, before rotation */
  LensAlign valign;
  double angle; /* radians, around (x, y) */
} LensTextStyle;

/* Draws `text` (plain, not markup) with the current source colour. */
void lens_draw_text (cairo_t *cr, const char *text, double x, double y, const LensTextStyle *style);
/* Logical width and height of `text` in pixels, without a cairo context. */
void lens_measure_text (const char *text, double size, gboolean bold, double *width,
                        double *height);

/* Token text for display: spaces become "␣", newlines "↵", tabs "⇥", other control characters
 * "\xNN"; invalid UTF-8 is repaired; an empty token is "∅". Free with g_free. */
char *lens_token_display (const char *text);

/* Short form for inside cells: "0.41", "3e-04", "—". Free with g_free. */
char *lens_format_prob_short (double p);

/* Row label for people: "Layer 5", "Embeddings". Free with g_free. */
char *lens_row_title (const LensResult *r, int row);

/* WCAG relative luminance decides between near-black and white text on a fill colour. */
LensRgb lens_contrast_text (LensRgb fill);

/* Pixel-centred coordinate of a 1 px grid line at v, kept inside [lo, hi) so lines at the edges
 * of a plot area do not spill out of it. */
double lens_grid_line (double v, double lo, double hi);

/* Cell of a partial result that is still being computed: a flat neutral grey with three small
 * dots (an ellipsis) in the middle and no text, unlike the hatching of missing values. */
void lens_fill_pending (cairo_t *cr, const LensTheme *theme, double x, double y, double w,
                        double h);

/* Grey cell with diagonal hatching for missing values. */
void lens_fill_missing (cairo_t *cr, const LensTheme *theme, double x, double y, double w,
                        double h);

/* A centred message for empty states. */
void lens_draw_message (cairo_t *cr, const LensTheme *theme, const char *message, double x,
                        double y, double width, double height);

/* The cell the line plot and top-k panel show: the selection, else the last row / position. */
void lens_effective_cell (const LensResult *r, const LensPaintState *state, int *row, int *pos);

/* The value of a metric at a cell, NAN where unknown (a rank of 0 is unknown): the next token's
 * probability or rank, KL from the final layer, or entropy. LENS_COLOR_TOP_PROB is the top-1
 * token's probability. The heatmap's colours and the line plot's metric lines both read it. */
float lens_cell_metric (const LensResult *r, LensColorBy metric, int row, int pos);

/* The position the line plot shows: lens_effective_cell's, except that without a selection a
 * next-token metric shows the last position that has a next token. */
void lens_line_cell (const LensResult *r, const LensPaintState *state, int *row, int *pos);

/* The scale's stops as a cairo gradient from (x0, y0) at p = 0 to (x1, y1) at p = 1; the same
 * colours as lens_color_scale_rgb since cairo also interpolates linearly in RGB. */
cairo_pattern_t *lens_color_scale_pattern (LensColorScale scale, double x0, double y0, double x1,
                                           double y1);

/* A probability axis fitted to the values it shows (see LensAxis). */
typedef struct
{
  double min_positive; /* smallest value > 0, INFINITY when none */
  double max;          /* largest value, 0 when none */
  gboolean any_zero;   /* a value <= 0 */
} LensValueStats;

#define LENS_VALUE_STATS_INIT                                                                      \
  {                                                                                                \
    INFINITY, 0.0, FALSE                                                                           \
  }

/* Adds a value; NAN (not computed) is ignored. */
void lens_value_stats_add (LensValueStats *s, double p);

typedef struct
{
  gboolean log;
  double lo, hi;    /* log: exponents of ten, 10^lo .. 10^hi with hi <= 0; linear: 0 .. 1 */
  gboolean clipped; /* log: some values (zeros, or below 10^lo) are drawn at the bottom, marked */
  int label_step;   /* log: label every label_step-th decade */
} LensValueAxis;

void lens_value_axis_fit (LensAxis axis, const LensValueStats *s, LensValueAxis *out);
/* Where p sits on the axis: 0 at the bottom, 1 at the top, clamped. */
double lens_value_axis_fraction (const LensValueAxis *a, double p);
/* Is p below the axis' range (drawn at the bottom and marked)? */
gboolean lens_value_axis_clips (const LensValueAxis *a, double p);
/* Tick label of the value 10^e ("1", "0.1", "1e-5") on a log axis. */
void lens_value_axis_decade_label (int e, char *buf, size_t size);

/* A fixed categorical palette (plotly's default qualitative colours). */
LensRgb lens_palette_color (int index);

/* Individual painters (lens-paint.c dispatches). */
void lens_paint_heatmap (cairo_t *cr, LensView view, const LensResult *r,
                         const LensPaintState *state, const LensTheme *theme, double width,
                         double height);
void lens_paint_line (cairo_t *cr, const LensResult *r, const LensPaintState *state,
                      const LensTheme *theme, double width, double height);
void lens_line_natural_size (const LensResult *r, const LensPaintState *state, double *width,
                             double *height);
void lens_paint_topk (cairo_t *cr, const LensResult *r, const LensPaintState *state,
                      const LensTheme *theme, double width, double height);
void lens_topk_natural_size (const LensResult *r, const LensPaintState *state, double *width,
                             double *height);

/* Title of a view for people (window titles, SVG <title>, accessible names). Free with g_free. */
char *lens_view_title (LensView view, const LensResult *r, const LensPaintState *state);

G_END_DECLS
