/* lens-color.c: colour scales (plotly's RdYlBu_r, Blues, Viridis) and the categorical palette. */
#include "config.h"

#include <math.h>

#include "lens-paint-private.h"

typedef struct
{
  int n;
  const guint32 *stops; /* 0xRRGGBB, equally spaced over 0..1 */
} ColorScale;

/* plotly.colors.diverging.RdYlBu reversed (= RdYlBu_r, the seed notebook's imshow scale):
 * 11 ColorBrewer stops; the middle one (#ffffbf) sits at 0.5. */
static const guint32 rdylbu_r_stops[] = {
    0x313695, 0x4575b4, 0x74add1, 0xabd9e9, 0xe0f3f8, 0xffffbf,
    0xfee090, 0xfdae61, 0xf46d43, 0xd73027, 0xa50026,
};

/* plotly.colors.sequential.Blues (ColorBrewer, 9 stops). */
static const guint32 blues_stops[] = {
    0xf7fbff, 0xdeebf7, 0xc6dbef, 0x9ecae1, 0x6baed6, 0x4292c6, 0x2171b5, 0x08519c, 0x08306b,
};

/* plotly.colors.sequential.Viridis (10 stops). */
static const guint32 viridis_stops[] = {
    0x440154, 0x482878, 0x3e4989, 0x31688e, 0x26828e,
    0x1f9e89, 0x35b779, 0x6ece58, 0xb5de2b, 0xfde725,
};

static ColorScale
scale_for (LensColorScale scale)
{
  switch (scale)
    {
    case LENS_SCALE_BLUES:
      return (ColorScale){G_N_ELEMENTS (blues_stops), blues_stops};
    case LENS_SCALE_VIRIDIS:
      return (ColorScale){G_N_ELEMENTS (viridis_stops), viridis_stops};
    case LENS_SCALE_RDYLBU:
    default:
      return (ColorScale){G_N_ELEMENTS (rdylbu_r_stops), rdylbu_r_stops};
    }
}

static double
channel (guint32 rgb, int shift)
{
  return (double) ((rgb >> shift) & 0xff) / 255.0;
}

/* Linear interpolation in RGB between neighbouring stops, as plotly does. */
void
lens_color_scale_rgb (LensColorScale scale, double p, double *red, double *green, double *blue)
{
  ColorScale s = scale_for (scale);
  if (isnan (p))
    p = 0.0;
  p = CLAMP (p, 0.0, 1.0);

  double x = p * (double) (s.n - 1);
  int i = (int) floor (x);
  if (i >= s.n - 1)
    i = s.n - 2;
  double f = x - (double) i;
  guint32 a = s.stops[i], b = s.stops[i + 1];
  *red = channel (a, 16) + f * (channel (b, 16) - channel (a, 16));
  *green = channel (a, 8) + f * (channel (b, 8) - channel (a, 8));
  *blue = channel (a, 0) + f * (channel (b, 0) - channel (a, 0));
}

cairo_pattern_t *
lens_color_scale_pattern (LensColorScale scale, double x0, double y0, double x1, double y1)
{
  ColorScale s = scale_for (scale);
  cairo_pattern_t *pattern = cairo_pattern_create_linear (x0, y0, x1, y1);
  for (int i = 0; i < s.n; i++)
    cairo_pattern_add_color_stop_rgb (pattern, (double) i / (double) (s.n - 1),
                                      channel (s.stops[i], 16), channel (s.stops[i], 8),
                                      channel (s.stops[i], 0));
  return pattern;
}

/* plotly.colors.qualitative.Plotly */
static const guint32 palette[] = {
    0x636efa, 0xef553b, 0x00cc96, 0xab63fa, 0xffa15a,
    0x19d3f3, 0xff6692, 0xb6e880, 0xff97ff, 0xfecb52,
};

LensRgb
lens_palette_color (int index)
{
  guint32 c = palette[(guint) index % G_N_ELEMENTS (palette)];
  return (LensRgb){channel (c, 16), channel (c, 8), channel (c, 0)};
}

static double
linearize (double c)
{
  return c <= 0.04045 ? c / 12.92 : pow ((c + 0.055) / 1.055, 2.4);
}

LensRgb
lens_contrast_text (LensRgb fill)
{
  static const LensRgb dark = {0.102, 0.102, 0.102};
  double l
      = 0.2126 * linearize (fill.r) + 0.7152 * linearize (fill.g) + 0.0722 * linearize (fill.b);
  double l_dark
      = 0.2126 * linearize (dark.r) + 0.7152 * linearize (dark.g) + 0.0722 * linearize (dark.b);
  /* WCAG contrast ratios against white and against the dark text colour. */
  double with_white = 1.05 / (l + 0.05);
  double with_dark = (l + 0.05) / (l_dark + 0.05);
  return with_dark >= with_white ? dark : (LensRgb){1.0, 1.0, 1.0};
}

static LensRgb
hex (guint32 c)
{
  return (LensRgb){channel (c, 16), channel (c, 8), channel (c, 0)};
}

void
lens_theme_get (const LensPaintState *state, LensTheme *theme)
{
  if (state != NULL && state->dark)
    *theme = (LensTheme){
        .paper = hex (0x1e1e1e),
        .plot_bg = hex (0x2a2f38),
        .grid = hex (0x414958),
        .text = hex (0xf2f5fa),
        .muted = hex (0xb8c2d0),
        .missing = hex (0x3a3a3a),
        .hatch = hex (0x5a5a5a),
        .pending = hex (0x2a2a2a),
        .pending_mark = hex (0x8a8a8a),
    };
  else
    *theme = (LensTheme){
        .paper = hex (0xffffff),
        .plot_bg = hex (0xe5ecf6),
        .grid = hex (0xffffff),
        .text = hex (0x2a3f5f),
        .muted = hex (0x506784),
        .missing = hex (0xdcdcdc),
        .hatch = hex (0xb4b4b4),
        .pending = hex (0xebebeb),
        .pending_mark = hex (0x8a8a8a),
    };
}
