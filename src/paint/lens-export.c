/* lens-export.c: a view to an SVG, PNG or PDF file with the same painters as the screen. */
#include "config.h"

#include <math.h>
#include <string.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <gio/gio.h>
#include <glib/gi18n-lib.h>

#include "lens-error.h"
#include "lens-paint-private.h"

/* cairo's image surfaces are limited to 32767 pixels a side. */
#define PNG_MAX_SIDE 32767.0
#define PNG_MAX_BYTES (1024.0 * 1024.0 * 1024.0)

typedef enum
{
  FORMAT_SVG,
  FORMAT_PNG,
  FORMAT_PDF,
} Format;

static cairo_status_t
append_to_bytes (void *closure, const unsigned char *data, unsigned int length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

static gboolean
format_for_path (const char *path, Format *format, GError **error)
{
  const char *dot = strrchr (path, '.');
  const char *slash = strrchr (path, G_DIR_SEPARATOR);
  if (dot != NULL && (slash == NULL || dot > slash))
    {
      if (g_ascii_strcasecmp (dot, ".svg") == 0)
        return *format = FORMAT_SVG, TRUE;
      if (g_ascii_strcasecmp (dot, ".png") == 0)
        return *format = FORMAT_PNG, TRUE;
      if (g_ascii_strcasecmp (dot, ".pdf") == 0)
        return *format = FORMAT_PDF, TRUE;
    }
  g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
               _ ("Cannot export to “%s”: the file name must end in .svg, .png or .pdf"), path);
  return FALSE;
}

/* Plain-text summary of what the figure shows, for the SVG <desc> (screen readers, search). */
static char *
describe_figure (LensView view, const LensResult *r, const LensPaintState *state)
{
  GString *out = g_string_new (NULL);
  if (r == NULL || r->n_rows <= 0 || r->n_tokens <= 0)
    return g_string_free (out, FALSE);
  if (r->prompt != NULL)
    g_string_append_printf (out, "%s: %s\n", _ ("Prompt"), r->prompt);
  g_string_append_printf (out, "%s:", _ ("Input tokens"));
  for (int t = 0; t < r->n_tokens; t++)
    {
      g_autofree char *shown = lens_token_display (r->token_texts[t]);
      g_string_append_printf (out, " %s", shown);
    }
  if (view == LENS_VIEW_HEATMAP)
    for (int row = 0; row < r->n_rows; row++)
      {
        g_autofree char *layer = lens_row_title (r, row);
        g_string_append_printf (out, "\n%s:", layer);
        for (int t = 0; t < r->n_tokens; t++)
          {
            size_t k0 = lens_result_cell_index (r, row, t) * (size_t) r->top_k;
            g_autofree char *shown
                = r->top_ids[k0] >= 0
                      ? lens_token_display (lens_result_token_text (r, r->top_ids[k0]))
                      : g_strdup ("—");
            g_string_append_printf (out, " %s", shown);
          }
      }
  return g_string_free (out, FALSE);
}

/* cairo writes text as glyph outlines, so give the SVG a <title> and <desc> with the words. */
static GByteArray *
add_svg_text (GByteArray *svg, const char *title, const char *desc)
{
  const char *start = (const char *) svg->data;
  const char *tag = g_strstr_len (start, svg->len, "<svg");
  const char *end = tag != NULL ? memchr (tag, '>', svg->len - (size_t) (tag - start)) : NULL;
  if (end == NULL)
    return svg;
  size_t split = (size_t) (end - start) + 1;
  g_autofree char *title_esc = g_markup_escape_text (title, -1);
  g_autofree char *desc_esc = g_markup_escape_text (desc, -1);
  g_autofree char *insert
      = g_strdup_printf ("\n<title>%s</title>\n<desc>%s</desc>", title_esc, desc_esc);
  GByteArray *out = g_byte_array_sized_new (svg->len + strlen (insert));
  g_byte_array_append (out, svg->data, split);
  g_byte_array_append (out, (const guint8 *) insert, strlen (insert));
  g_byte_array_append (out, svg->data + split, svg->len - split);
  g_byte_array_unref (svg);
  return out;
}

static gboolean
surface_ok (cairo_surface_t *surface, const char *path, GError **error)
{
  cairo_status_t status = cairo_surface_status (surface);
  if (status == CAIRO_STATUS_SUCCESS)
    return TRUE;
  g_set_error (error, LENS_ERROR, LENS_ERROR_IO, _ ("Could not draw “%s”: %s"), path,
               cairo_status_to_string (status));
  return FALSE;
}

gboolean
lens_export_positions (LensView view, const LensResult *r, int *first, int *count)
{
  int T = r != NULL ? r->n_tokens : 0;
  gboolean cut
      = (view == LENS_VIEW_HEATMAP || view == LENS_VIEW_TARGET) && T > LENS_EXPORT_MAX_POSITIONS;
  *count = cut ? LENS_EXPORT_MAX_POSITIONS : T;
  *first = T - *count;
  return cut;
}

/* The part of `r` a cut export shows: the result and each target's probabilities sliced, the
 * selection moved with the columns (off the figure when it was left out). */
typedef struct
{
  LensResult *result;
  GPtrArray *targets; /* LensTarget *: the sliced targets */
} CutFigure;

static void
cut_figure_clear (CutFigure *cut)
{
  g_clear_pointer (&cut->result, lens_result_unref);
  g_clear_pointer (&cut->targets, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CutFigure, cut_figure_clear)

static gboolean
cut_figure (const LensResult *r, LensPaintState *state, int first, int count, CutFigure *cut,
            GError **error)
{
  *cut = (CutFigure){0};
  cut->result = lens_result_slice (r, 0, r->n_rows, first, count, error);
  if (cut->result == NULL)
    return FALSE;
  int n_targets = state->targets != NULL ? MAX (state->n_targets, 0) : 0;
  cut->targets = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
  g_autofree float *probs = g_new (float, (size_t) r->n_rows *(size_t) MAX (count, 1));
  for (int i = 0; i < n_targets; i++)
    {
      const LensTarget *t = state->targets[i];
      if (t->probs != NULL)
        lens_result_slice_cells (r, 0, r->n_rows, first, count, t->probs, probs);
      g_ptr_array_add (cut->targets,
                       lens_target_new (t->text, t->label, t->id, t->ids, t->n_ids,
                                        t->probs != NULL ? probs : NULL, r->n_rows, count));
    }
  state->targets = (LensTarget *const *) cut->targets->pdata;
  state->sel_pos = state->sel_pos >= first ? state->sel_pos - first : -1;
  return TRUE;
}

gboolean
lens_export_view (const char *path, LensView view, const LensResult *r, const LensPaintState *state,
                  double scale, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);

  Format format;
  if (!format_for_path (path, &format, error))
    return FALSE;
  if (format == FORMAT_PNG && !(isfinite (scale) && scale > 0.0 && scale <= 8.0))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   _ ("Cannot export “%s”: the scale %g is outside 0..8"), path, scale);
      return FALSE;
    }

  LensPaintState defaults;
  if (state == NULL)
    {
      lens_paint_state_init (&defaults);
      state = &defaults;
    }
  /* A file has no theme behind it, and a figure for a paper no pointer or selection marks
   * unless they were asked for (the selection still chooses what the line and top-k show). */
  LensPaintState file_state = *state;
  file_state.transparent_background = false;
  file_state.hover_row = file_state.hover_pos = -1;
  file_state.show_marks = state->export_marks;
  /* a figure has its natural cells, however the window is zoomed */
  file_state.zoom_cell_w = 0.0;

  /* A figure that fits a page: a heatmap of a long prompt keeps its last positions. */
  int first, count;
  g_auto (CutFigure) cut = {0};
  if (lens_export_positions (view, r, &first, &count))
    {
      if (!cut_figure (r, &file_state, first, count, &cut, error))
        return FALSE;
      r = cut.result;
    }

  double width, height;
  lens_view_natural_size (view, r, &file_state, &width, &height);
  g_autofree char *title = lens_view_title (view, r, &file_state);

  GByteArray *bytes = g_byte_array_new ();
  cairo_surface_t *surface = NULL;
  switch (format)
    {
    case FORMAT_SVG:
      surface = cairo_svg_surface_create_for_stream (append_to_bytes, bytes, width, height);
      cairo_svg_surface_restrict_to_version (surface, CAIRO_SVG_VERSION_1_1);
      /* One figure pixel = one CSS pixel, so the SVG opens at the size the PNG has. */
      cairo_svg_surface_set_document_unit (surface, CAIRO_SVG_UNIT_PX);
      break;
    case FORMAT_PDF:
      surface = cairo_pdf_surface_create_for_stream (append_to_bytes, bytes, width, height);
      cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_TITLE, title);
      cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_CREATOR, "Logit Lens");
      break;
    case FORMAT_PNG:
    default:
      {
        double pw = ceil (width * scale), ph = ceil (height * scale);
        if (pw > PNG_MAX_SIDE || ph > PNG_MAX_SIDE || pw * ph * 4.0 > PNG_MAX_BYTES)
          {
            g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                         _ ("Cannot export “%s”: %.0f × %.0f pixels is too large for a PNG; "
                            "export SVG or PDF instead"),
                         path, pw, ph);
            g_byte_array_unref (bytes);
            return FALSE;
          }
        surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) pw, (int) ph);
        break;
      }
    }

  gboolean ok = surface_ok (surface, path, error);
  if (ok)
    {
      cairo_t *cr = cairo_create (surface);
      if (format == FORMAT_PNG)
        cairo_scale (cr, scale, scale);
      lens_paint_view (cr, view, r, &file_state, width, height);
      cairo_status_t status = cairo_status (cr);
      cairo_destroy (cr);
      if (status != CAIRO_STATUS_SUCCESS)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_IO, _ ("Could not draw “%s”: %s"), path,
                       cairo_status_to_string (status));
          ok = FALSE;
        }
    }
  if (ok && format == FORMAT_PNG)
    {
      cairo_surface_flush (surface);
      cairo_status_t status = cairo_surface_write_to_png_stream (surface, append_to_bytes, bytes);
      if (status != CAIRO_STATUS_SUCCESS)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_IO, _ ("Could not encode “%s”: %s"), path,
                       cairo_status_to_string (status));
          ok = FALSE;
        }
    }
  /* Vector surfaces write their last bytes on finish. */
  cairo_surface_finish (surface);
  ok = ok && surface_ok (surface, path, error);
  cairo_surface_destroy (surface);

  if (ok && format == FORMAT_SVG)
    {
      g_autofree char *desc = describe_figure (view, r, &file_state);
      bytes = add_svg_text (bytes, title, desc);
    }

  if (ok)
    {
      /* Written next to the target and renamed, so a failed export leaves no half file. */
      g_autoptr (GFile) file = g_file_new_for_path (path);
      g_autoptr (GError) local = NULL;
      if (!g_file_replace_contents (file, (const char *) bytes->data, bytes->len, NULL, FALSE,
                                    G_FILE_CREATE_NONE, NULL, NULL, &local))
        {
          /* GIO's messages usually name the file already. */
          if (strstr (local->message, path) != NULL)
            g_set_error_literal (error, LENS_ERROR, LENS_ERROR_IO, local->message);
          else
            g_set_error (error, LENS_ERROR, LENS_ERROR_IO, _ ("Could not save “%s”: %s"), path,
                         local->message);
          ok = FALSE;
        }
    }
  g_byte_array_unref (bytes);
  return ok;
}
