/* ll-window-range.c: the window's Range popover: which layers and positions of a result are
 * shown (and pinned, exported and saved); the session keeps the Range and slices results. */
#include "config.h"

#include <glib/gi18n.h>

#include "lens-error.h"
#include "ll-window-private.h"

/* ---- range ---- */

/* The compare page compares cells by index: it gets the same Range of the pinned result as of
 * the current one, so that both start at the same layer and position. */
void
ll_window_pin_range (LlWindow *self)
{
  /* NULL when nothing is pinned: the page goes back to its empty state */
  g_autoptr (LensResult) part
      = ll_session_range_of (self->session, ll_session_get_pinned (self->session));
  ll_compare_page_pin (self->compare_page, part);
}

static void
range_apply_clicked_cb (LlWindow *self)
{
  g_autoptr (GError) error = NULL;
  if (!ll_window_set_range (self, gtk_editable_get_text (self->range_layers_entry),
                            gtk_editable_get_text (self->range_positions_entry), &error))
    {
      gtk_label_set_text (self->range_error_label, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->range_error_label), TRUE);
      return;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->range_error_label), FALSE);
  gtk_popover_popdown (self->range_popover);
}

static void
range_reset_clicked_cb (LlWindow *self)
{
  gtk_editable_set_text (self->range_layers_entry, "");
  gtk_editable_set_text (self->range_positions_entry, "");
  range_apply_clicked_cb (self);
}

/* A spec of the Range popover: empty for all, else one range inside lo..hi. */
static gboolean
parse_range_entry (const char *spec, const char *what, int lo, int hi, const char *of,
                   gboolean *has, int *first, int *last, GError **error)
{
  g_autofree char *trimmed = g_strstrip (g_strdup (spec != NULL ? spec : ""));
  *has = trimmed[0] != '\0';
  return !*has || lens_range_parse (trimmed, what, lo, hi, of, first, last, error);
}

gboolean
ll_window_set_range (LlWindow *self, const char *layers, const char *positions, GError **error)
{
  g_return_val_if_fail (LL_IS_WINDOW (self), FALSE);
  const LensResult *r = ll_session_get_full_result (self->session);
  /* Bounds from what is shown (none yet: the form only, and a later result shows what it has of
   * the range); the messages are the CLI's (--layers, --positions). */
  int layer_lo = 1, layer_hi = 0, pos_lo = 1, pos_hi = 0;
  g_autofree char *layers_of = NULL, *positions_of = NULL;
  if (r != NULL)
    {
      layer_lo = G_MAXINT, layer_hi = -1;
      for (int row = 0; row < r->n_rows; row++)
        if (r->row_layers[row] >= 0)
          {
            layer_lo = MIN (layer_lo, r->row_layers[row]);
            layer_hi = MAX (layer_hi, r->row_layers[row]);
          }
      if (layer_lo == 0 && layer_hi + 1 == r->model_info.n_layer)
        layers_of = g_strdup_printf ("the model has %d blocks", r->model_info.n_layer);
      pos_lo = r->first_pos;
      pos_hi = r->first_pos + r->n_tokens - 1;
      if (r->first_pos == 0 && r->next_after_last < 0)
        positions_of = g_strdup_printf ("the prompt has %d tokens", r->n_tokens);
    }
  gboolean has_layers, has_positions;
  int layer_first = 0, layer_last = 0, pos_first = 0, pos_last = 0;
  /* Translators: the Range popover's fields, as its error messages name them */
  if (!parse_range_entry (layers, _ ("Layers"), layer_lo, layer_hi, layers_of, &has_layers,
                          &layer_first, &layer_last, error)
      || !parse_range_entry (positions, _ ("Positions"), pos_lo, pos_hi, positions_of,
                             &has_positions, &pos_first, &pos_last, error))
    return FALSE;
  if ((has_layers && r == NULL) || (has_positions && r == NULL))
    {
      g_set_error_literal (error, LENS_ERROR, LENS_ERROR_INPUT,
                           _ ("There is no result yet to choose a range of"));
      return FALSE;
    }
  LlSessionRange range = {
      .has_layers = has_layers,
      .has_positions = has_positions,
      .layer_first = layer_first,
      .layer_last = layer_last,
      .pos_first = pos_first,
      .pos_last = pos_last,
  };
  ll_session_set_range (self->session, &range);
  if (has_layers || has_positions)
    gtk_widget_add_css_class (GTK_WIDGET (self->range_button), "accent");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->range_button), "accent");
  gtk_editable_set_text (self->range_layers_entry, layers != NULL ? layers : "");
  gtk_editable_set_text (self->range_positions_entry, positions != NULL ? positions : "");
  if (ll_session_get_full_result (self->session) != NULL)
    {
      g_autoptr (LensResult) full = lens_result_ref (ll_session_get_full_result (self->session));
      ll_window_set_result (self, full);
    }
  ll_window_pin_range (self);
  return TRUE;
}

GtkEditable *
ll_window_get_range_entry (LlWindow *self, gboolean positions)
{
  return positions ? self->range_positions_entry : self->range_layers_entry;
}

const char *
ll_window_get_range_error (LlWindow *self)
{
  return gtk_widget_get_visible (GTK_WIDGET (self->range_error_label))
             ? gtk_label_get_text (self->range_error_label)
             : NULL;
}

void
ll_window_range_init (LlWindow *self)
{
  g_signal_connect_swapped (self->range_apply_button, "clicked",
                            G_CALLBACK (range_apply_clicked_cb), self);
  g_signal_connect_swapped (self->range_reset_button, "clicked",
                            G_CALLBACK (range_reset_clicked_cb), self);
  g_signal_connect_swapped (self->range_layers_entry, "activate",
                            G_CALLBACK (range_apply_clicked_cb), self);
  g_signal_connect_swapped (self->range_positions_entry, "activate",
                            G_CALLBACK (range_apply_clicked_cb), self);
}
