/* lens-paint-names.c: the names of views, axes and colourings, and the default paint state. Nothing
 * here calls cairo or pango, so that the CLI can check its flags and prepare an export while
 * linking neither: it loads the painters only to write a figure (cli-export.c). */
#include "config.h"

#include "lens-paint.h"

void
lens_paint_state_init (LensPaintState *state)
{
  *state = (LensPaintState){
      .sel_row = -1,
      .sel_pos = -1,
      .hover_row = -1,
      .hover_pos = -1,
      .targets = NULL,
      .n_targets = 0,
      .active_target = 0,
      .heatmap_scale = LENS_SCALE_RDYLBU,
      .target_scale = LENS_SCALE_BLUES,
      .prob_axis = LENS_AXIS_AUTO,
      .line_metric = LENS_COLOR_TOP_PROB,
      .line_top1 = true,
      .show_marks = true,
      .export_marks = false,
      .dark = false,
      .transparent_background = false,
  };
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
