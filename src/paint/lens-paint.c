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

/* The names of LensView, LensAxis and LensColorBy values, as the CLI's flags and the app's
 * settings spell them; `names` is indexed by the enum. */
static gboolean
name_index (const char *const *names, size_t n_names, const char *name, int *index)
{
  for (size_t i = 0; name != NULL && i < n_names; i++)
    if (g_str_equal (name, names[i]))
      {
        *index = (int) i;
        return TRUE;
      }
  return FALSE;
}

static const char *const view_names[] = {
    [LENS_VIEW_HEATMAP] = "heatmap", [LENS_VIEW_TARGET] = "target", [LENS_VIEW_LINE] = "line",
    [LENS_VIEW_TOPK] = "topk",       [LENS_VIEW_DIFF] = "diff",
};

gboolean
lens_view_from_string (const char *name, LensView *view)
{
  int i;
  if (!name_index (view_names, G_N_ELEMENTS (view_names), name, &i))
    return FALSE;
  *view = (LensView) i;
  return TRUE;
}

const char *
lens_view_to_string (LensView view)
{
  return (size_t) view < G_N_ELEMENTS (view_names) ? view_names[view] : "heatmap";
}

static const char *const axis_names[] = {
    [LENS_AXIS_AUTO] = "auto",
    [LENS_AXIS_LINEAR] = "linear",
    [LENS_AXIS_LOG] = "log",
};

gboolean
lens_axis_from_string (const char *name, LensAxis *axis)
{
  int i;
  if (!name_index (axis_names, G_N_ELEMENTS (axis_names), name, &i))
    return FALSE;
  *axis = (LensAxis) i;
  return TRUE;
}

const char *
lens_axis_to_string (LensAxis axis)
{
  return (size_t) axis < G_N_ELEMENTS (axis_names) ? axis_names[axis] : "auto";
}

static const char *const color_by_names[] = {
    [LENS_COLOR_TOP_PROB] = "top",    [LENS_COLOR_NEXT_PROB] = "next",
    [LENS_COLOR_NEXT_RANK] = "rank",  [LENS_COLOR_KL_FINAL] = "kl",
    [LENS_COLOR_ENTROPY] = "entropy",
};

gboolean
lens_color_by_from_string (const char *name, LensColorBy *by)
{
  int i;
  if (!name_index (color_by_names, G_N_ELEMENTS (color_by_names), name, &i))
    return FALSE;
  *by = (LensColorBy) i;
  return TRUE;
}

const char *
lens_color_by_to_string (LensColorBy by)
{
  return (size_t) by < G_N_ELEMENTS (color_by_names) ? color_by_names[by] : "top";
}
