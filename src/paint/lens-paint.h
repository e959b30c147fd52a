/* lens-paint.h: cairo painters for every view. No GTK: the same code paints the window, the
 * exported SVG/PNG/PDF files and the headless tests.
 *
 * A painter takes a LensResult, a LensPaintState (view state: selection, hover, targets, scales)
 * and a size, and nothing else. Geometry is computed by a layout function so that widgets can
 * hit-test by arithmetic (Sysprof style) instead of asking the painter. */
#pragma once

#include <cairo.h>
#include <glib.h>
#include <stdbool.h>

#include "lens-compare.h"
#include "lens-result.h"
#include "lens-target.h"

G_BEGIN_DECLS

typedef enum
{
  LENS_VIEW_HEATMAP, /* top-1 token per cell, coloured by its probability */
  LENS_VIEW_TARGET,  /* probability of the active target token per cell */
  LENS_VIEW_LINE,    /* across layers at the selected position: the probability of each target
                        and top-1 token, or one metric (LensPaintState.line_metric) */
  LENS_VIEW_TOPK,    /* top-k bars of the selected cell */
  LENS_VIEW_DIFF,    /* per cell, this result against a pinned one (LensPaintState.diff_*):
                        the difference of a target's probability, or the KL divergence */
} LensView;

/* "heatmap", "target", "line", "topk", "diff": the CLI's --view and the app's settings. */
gboolean lens_view_from_string (const char *name, LensView *view);
const char *lens_view_to_string (LensView view);

typedef enum
{
  LENS_SCALE_RDYLBU,  /* diverging, centred at 0.5; high = red (plotly RdYlBu_r, the seed's) */
  LENS_SCALE_BLUES,   /* sequential from 0 (white) to 1 (dark blue) */
  LENS_SCALE_VIRIDIS, /* perceptually uniform alternative */
} LensColorScale;

/* What colours the top-token heatmap's cells (the text is always the top-1 token). The metrics
 * need a result computed with them (LensRunOptions.metrics); cells without a value are hatched. */
typedef enum
{
  LENS_COLOR_TOP_PROB,  /* the top-1 token's probability (the seed's figure) */
  LENS_COLOR_NEXT_PROB, /* the probability of the token that actually comes next */
  LENS_COLOR_NEXT_RANK, /* its rank, on a log scale from 1 to 1000 and beyond */
  LENS_COLOR_KL_FINAL,  /* KL from the final layer's distribution, nats */
  LENS_COLOR_ENTROPY,   /* entropy of the cell's distribution, nats */
} LensColorBy;

/* "top", "next", "rank", "kl", "entropy": the CLI's --color-by and the app's setting. */
gboolean lens_color_by_from_string (const char *name, LensColorBy *by);
const char *lens_color_by_to_string (LensColorBy by);

/* How a probability axis (the line plot's y axis, the target heatmap's colours) is drawn. */
typedef enum
{
  LENS_AXIS_AUTO,   /* logarithmic when the values shown span more than three decades or all lie
                       below 1%, linear otherwise */
  LENS_AXIS_LINEAR, /* 0 .. 1 */
  LENS_AXIS_LOG,    /* powers of ten from the smallest value shown (at most LENS_LOG_MAX_DECADES
                       below the largest; smaller values and zeros are marked as clipped) */
} LensAxis;

#define LENS_LOG_MAX_DECADES 12

/* "auto", "linear", "log": the names the CLI's --scale and the app's setting use. */
gboolean lens_axis_from_string (const char *name, LensAxis *axis);
const char *lens_axis_to_string (LensAxis axis);

typedef struct
{
  int sel_row,
      sel_pos; /* selected cell, -1 for none (line/top-k default: last position, last row) */
  int hover_row, hover_pos;   /* hovered cell (outlined), -1 for none */
  LensTarget *const *targets; /* n_targets entries, computed on the painted result (their
                                 probs (R, T) index its cells) */
  int n_targets;
  int active_target;            /* index into targets for the target heatmap */
  LensColorScale heatmap_scale; /* top-token heatmap */
  LensColorBy heatmap_color_by; /* what its colours show */
  LensColorScale target_scale;  /* target heatmap */
  LensAxis prob_axis;           /* target heatmap colours and line plot y axis */
  LensColorBy line_metric;      /* what the line plot draws across layers: LENS_COLOR_TOP_PROB
                                   the tracked tokens' probabilities, else that metric */
  bool line_top1; /* with LENS_COLOR_TOP_PROB, track every token that is top-1 at some row of
                     the position as well as the targets (the default) */
  const float *diff_values; /* LENS_VIEW_DIFF: (R, T) per cell of this result, NAN where the
                               pinned result has no partner cell; NULL when nothing is pinned */
  LensDiffKind diff_kind;
  const char *diff_pinned;  /* the pinned result's prompt, for the title (may be NULL) */
  const char *diff_message; /* why diff_values is NULL while something is pinned (computing, or
                               the two cannot be compared), or NULL */
  bool no_ranks;      /* lens_describe_cell leaves the targets' ranks out: each costs a pass over
                         the vocabulary, too slow for every pointer move */
  bool show_marks;    /* selection outline, bold selected labels, dashed selected layer, hover */
  bool shrink_to_fit; /* heatmaps painted into a smaller area narrow their cells (down to
                         LENS_CELL_W_COMPACT) instead of keeping the natural size */
  double zoom_cell_w; /* heatmap cell width chosen by zooming (clamped to LENS_CELL_W_COMPACT ..
                         LENS_CELL_W_ZOOM_MAX; taller rows once wider than natural), or 0 for
                         the automatic width (natural, shrink_to_fit, filling the area); exports
                         ignore it */
  bool export_marks;  /* lens_export_view keeps the marks only when set: figures are clean */
  bool dark;          /* dark theme colours for text, grid and background */
  bool transparent_background; /* widgets draw over the theme background */
} LensPaintState;

void lens_paint_state_init (LensPaintState *state);

/* Geometry of a heatmap (top-token or target). */
typedef struct
{
  double width, height;  /* size of the whole figure */
  double grid_x, grid_y; /* top-left corner of cell (row 0, pos 0) */
  double cell_w, cell_h;
  int n_rows, n_cols;
  double labels_w; /* left margin up to the row labels' right edge (axis title, labels) */
  double labels_h; /* token labels under the grid */
} LensHeatmapLayout;

/* The narrowest heatmap cells (shrink_to_fit); below LENS_CELL_W_TEXT a cell shows its colour
 * only, and the tooltip says the rest. */
#define LENS_CELL_W_COMPACT 14.0
#define LENS_CELL_W_TEXT 26.0
/* The widest cells zooming in gives (the widest filling an area gives too). */
#define LENS_CELL_W_ZOOM_MAX 160.0

/* At the natural size (exports, the widget's requested size); with state->zoom_cell_w at that
 * cell width. */
void lens_heatmap_layout (const LensResult *r, const LensPaintState *state, LensHeatmapLayout *out);
/* Painted into width x height: the cells grow (whole pixels, up to 160 x 64, text size fixed) to
 * fill the area; an area smaller than natural gives the natural layout, or with
 * state->shrink_to_fit narrower cells down to LENS_CELL_W_COMPACT. The figure stays at the top
 * left: out->width/height may be less than the area once the cells reach their cap. A zoomed
 * state (zoom_cell_w > 0) keeps its cell width whatever the area; its rows still grow to fill a
 * taller area. */
void lens_heatmap_layout_for_size (const LensResult *r, const LensPaintState *state, double width,
                                   double height, LensHeatmapLayout *out);
/* Cell under (x, y) in figure coordinates; FALSE outside the grid. */
gboolean lens_heatmap_hit (const LensHeatmapLayout *layout, double x, double y, int *row, int *pos);
/* Layer (row) of the line plot under (x, y) when painted at width x height; FALSE outside the
 * plot area. */
gboolean lens_line_hit (const LensResult *r, const LensPaintState *state, double width,
                        double height, double x, double y, int *row);
/* Bar of the top-k view under (x, y) when painted at width x height: *rank is its index into the
 * shown cell's top-k (0 is the best); FALSE outside the bars' rows or on a row without a token. */
gboolean lens_topk_hit (const LensResult *r, const LensPaintState *state, double width,
                        double height, double x, double y, int *rank);

/* Natural size of a view (heatmaps: from the layout; line/top-k: a sensible default). */
void lens_view_natural_size (LensView view, const LensResult *r, const LensPaintState *state,
                             double *width, double *height);

/* Paint a view into a `width` x `height` area at the current cairo origin. */
void lens_paint_view (cairo_t *cr, LensView view, const LensResult *r, const LensPaintState *state,
                      double width, double height);

/* Labels kept in view while a heatmap is scrolled, like a spreadsheet's frozen panes. `visible`
 * is the part of a width x height heatmap that is shown, in figure coordinates. *rows is the band
 * at the visible area's left edge where the layer labels and axis title are drawn over the cells
 * once the figure is scrolled right; it reaches down over the token labels under the grid when
 * they are in view, so the labels of columns scrolled left do not show beside the frozen layer
 * labels. *cols is the band at the bottom edge for the token labels when they are below the
 * visible area; the corner where the two meet stays blank. A band that is not needed is empty
 * (zero width and height). */
void lens_heatmap_frozen_bands (const LensHeatmapLayout *layout, const cairo_rectangle_t *visible,
                                cairo_rectangle_t *rows, cairo_rectangle_t *cols);
/* Paints those bands over an already painted heatmap of the same size: filled with
 * `background` (RGB, the colour behind the figure; NULL for the theme's paper) and the labels. */
void lens_paint_heatmap_frozen (cairo_t *cr, LensView view, const LensResult *r,
                                const LensPaintState *state, double width, double height,
                                const cairo_rectangle_t *visible, const double background[3]);

/* The colour of probability p (0..1) on a scale. */
void lens_color_scale_rgb (LensColorScale scale, double p, double *red, double *green,
                           double *blue);

/* The most positions a heatmap figure (top-token or target) holds when exported. At the narrowest
 * natural column (48 px) 64 positions make a figure about 3,300 px wide, the width of an A4 or
 * Letter page in landscape at 300 dpi; the widest columns (96 px) make it about 6,400 px, a PNG
 * cairo can still write at scale 4 and a PDF page well inside the 14,400 pt a side that PDF
 * viewers are built for (PDF 1.7, annex C). Before this limit a 245-token prompt made a 19,263 px
 * PNG and a 1,000-position results file an 86,153 pt PDF page and a 48 MB SVG. */
#define LENS_EXPORT_MAX_POSITIONS 64

/* The positions an export of `view` shows, as indices into r's positions: all of them, or for a
 * heatmap of more than LENS_EXPORT_MAX_POSITIONS the last LENS_EXPORT_MAX_POSITIONS (those
 * nearest the model's prediction). Returns TRUE when the export is cut, so that callers can say
 * which positions were left out and how to choose others. */
gboolean lens_export_positions (LensView view, const LensResult *r, int *first, int *count);

/* Writes a view to `path`; format from the extension (.svg, .png, .pdf). `scale` multiplies the
 * pixel size of PNGs (1 or 2). The selection still chooses what the line plot and the top-k bars
 * show, but it is marked (and hover never is) only with state->export_marks. A heatmap of a long
 * prompt is cut to lens_export_positions (with its targets' probabilities). */
gboolean lens_export_view (const char *path, LensView view, const LensResult *r,
                           const LensPaintState *state, double scale, GError **error);

/* Pango markup describing one cell for tooltips and accessible descriptions: layer, position,
 * input token, the best LENS_DESCRIBE_MAX_TOP top-k tokens with probabilities (and how many more
 * there are), entropy, and each target's probability and rank (rank only for live results and
 * without state->no_ranks). Free with g_free. */
#define LENS_DESCRIBE_MAX_TOP 10
char *lens_describe_cell (const LensResult *r, const LensPaintState *state, int row, int pos);
/* Pango markup describing one bar of the top-k view (rank 0 is the best): the cell it belongs to,
 * the whole token with its probability, its id and the top ranks' summed probability. Free with
 * g_free. */
char *lens_describe_topk_item (const LensResult *r, const LensPaintState *state, int rank);

G_END_DECLS
