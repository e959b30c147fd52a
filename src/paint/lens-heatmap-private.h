/* lens-heatmap-private.h: what the heatmap's files share: its geometry (lens-heatmap-layout.c),
 * the colours of its cells and its colour bar (lens-heatmap-colors.c); lens-paint-heatmap.c draws
 * the figure with them. Not part of the public API. */
#pragma once

#include "lens-paint-private.h"

G_BEGIN_DECLS

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

/* The natural geometry, or with width, height > 0 the one whose cells grow (up to a cap) to fill
 * width x height (see lens_heatmap_layout_for_size). */
void lens_heatmap_geometry (const LensResult *r, const LensPaintState *state, double width,
                            double height, Geometry *g);

/* The top-1 token's text of a cell and its probability; NULL when the cell has none. */
const char *lens_heatmap_top1_text (const LensResult *r, int row, int pos, float *prob);

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

/* The colour scale's range for the cells of `view` (the active target's probabilities in
 * `target`, or NULL). */
void lens_cell_colors_init (CellColors *cc, LensView view, const LensResult *r,
                            const LensPaintState *state, const float *target);
/* The value that colours a cell (NAN when missing) and, for the top-token view, its token. */
float lens_cell_colors_value (const CellColors *cc, const LensResult *r, int row, int pos,
                              const char **top);
/* Where a value sits on the colour scale, 0 .. 1. */
double lens_cell_colors_fraction (const CellColors *cc, double v);
/* The colour bar right of the grid, with its title and ticks. */
void lens_paint_color_bar (cairo_t *cr, const LensTheme *theme, const Geometry *g,
                           LensColorScale scale, const CellColors *cc);

G_END_DECLS
