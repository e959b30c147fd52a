/* lens-paint.c: natural sizes and the painting entry point, which dispatches to one painter per
 * view. */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "lens-paint-private.h"

static gboolean
has_data (const LensResult *r)
{
  return r != NULL && r->n_rows > 0 && r->n_tokens > 0 && r->top_k > 0;
}

void
lens_view_natural_size (LensView view, const LensResult *r, const LensPaintState *state,
                        double *width, double *height)
{
  LensPaintState defaults;
  if (state == NULL)
    {
      lens_paint_state_init (&defaults);
      state = &defaults;
    }
  if (!has_data (r))
    {
      *width = 480.0;
      *height = 240.0;
      return;
    }
  switch (view)
    {
    case LENS_VIEW_HEATMAP:
    case LENS_VIEW_TARGET:
    case LENS_VIEW_DIFF:
      {
        LensHeatmapLayout layout;
        lens_heatmap_layout (r, state, &layout);
        *width = layout.width;
        *height = layout.height;
        break;
      }
    case LENS_VIEW_LINE:
      lens_line_natural_size (r, state, width, height);
      break;
    case LENS_VIEW_TOPK:
    default:
      lens_topk_natural_size (r, state, width, height);
      break;
    }
}

void
lens_paint_view (cairo_t *cr, LensView view, const LensResult *r, const LensPaintState *state,
                 double width, double height)
{
  LensPaintState defaults;
  if (state == NULL)
    {
      lens_paint_state_init (&defaults);
      state = &defaults;
    }
  LensTheme theme;
  lens_theme_get (state, &theme);

  cairo_save (cr);
  cairo_rectangle (cr, 0.0, 0.0, width, height);
  cairo_clip (cr);
  if (!state->transparent_background)
    {
      lens_set_rgb (cr, theme.paper);
      cairo_paint (cr);
    }

  if (!has_data (r))
    lens_draw_message (cr, &theme, _ ("Type a prompt to see what each layer predicts"), 0.0, 0.0,
                       width, height);
  else
    switch (view)
      {
      case LENS_VIEW_HEATMAP:
      case LENS_VIEW_TARGET:
      case LENS_VIEW_DIFF:
        lens_paint_heatmap (cr, view, r, state, &theme, width, height);
        break;
      case LENS_VIEW_LINE:
        lens_paint_line (cr, r, state, &theme, width, height);
        break;
      case LENS_VIEW_TOPK:
      default:
        lens_paint_topk (cr, r, state, &theme, width, height);
        break;
      }
  cairo_restore (cr);
}
