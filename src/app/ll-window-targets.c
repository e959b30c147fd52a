/* ll-window-targets.c: the window's target entry: its targets computed on the shown result, the
 * notice about targets that cannot be tracked, and the drop-down that picks the active one. */
#include "config.h"

#include <glib/gi18n.h>

#include "ll-window-private.h"

/* ---- targets ---- */

/* The target of `list` (LensTarget *) with this text, or NULL. */
static const LensTarget *
find_target (GPtrArray *list, const char *text)
{
  for (guint i = 0; list != NULL && i < list->len; i++)
    {
      const LensTarget *t = g_ptr_array_index (list, i);
      if (g_strcmp0 (t->text, text) == 0)
        return t;
    }
  return NULL;
}

static void
set_notice (LlWindow *self, const char *notice)
{
  g_free (self->notice);
  self->notice = g_strdup (notice != NULL ? notice : "");
  gtk_label_set_text (self->notice_label, self->notice);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->notice_label),
                               self->notice[0] != '\0' ? self->notice : NULL);
}

/* The target entry's targets computed on `r` (a new array; empty for NULL). A target the shown
 * file tracked keeps the file's ids, and a new prompt on the same model keeps each target's ids:
 * each is tokenized once. The notice says what cannot be tracked as asked. */
GPtrArray *
ll_window_compute_targets (LlWindow *self, const LensResult *r)
{
  g_auto (GStrv) texts
      = lens_targets_split (gtk_editable_get_text (GTK_EDITABLE (self->target_entry)));
  g_autoptr (GString) notice = g_string_new (NULL);
  GPtrArray *targets = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
  GPtrArray *previous = ll_session_get_targets (self->session);
  gboolean same_model
      = r != NULL && r->model != NULL && r->model == ll_session_get_targets_model (self->session);
  GPtrArray *file_targets = ll_session_get_file_targets (self->session);
  int bad_row = 0, bad_pos = 0;
  size_t n_bad = r != NULL ? lens_result_count_nonfinite (r, &bad_row, &bad_pos) : 0;
  if (n_bad > 0)
    g_string_append_printf (notice,
                            _ ("The model produced NaN or infinity at %zu of %zu cells, first at "
                               "layer %s, position %d: its weights may be corrupt."),
                            n_bad, (size_t) r->n_rows * r->n_tokens, r->row_labels[bad_row],
                            r->first_pos + bad_pos);
  for (int i = 0; r != NULL && texts[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      /* a shown file's own target keeps the ids the file gave for it */
      const LensTarget *known = find_target (file_targets, texts[i]);
      if (known == NULL && same_model)
        known = find_target (previous, texts[i]);
      LensTarget *t = known != NULL ? lens_target_for_result (known, r, &error)
                                    : lens_target_compute (texts[i], r, &error);
      if (t == NULL)
        {
          if (notice->len > 0)
            g_string_append (notice, "  ");
          g_string_append_printf (notice, _ ("Cannot track “%s”: %s."), texts[i], error->message);
          continue;
        }
      if (t->n_ids > 1 && t->id >= 0)
        {
          if (notice->len > 0)
            g_string_append (notice, "  ");
          g_string_append_printf (notice, _ ("“%s” is %d tokens; tracking its first, “%s”."),
                                  texts[i], t->n_ids, t->label);
        }
      g_ptr_array_add (targets, t);
    }
  set_notice (self, notice->str);
  return targets;
}

/* The drop-down lists the session's targets; it keeps the chosen one when the list only grows or
 * shrinks at the end. */
void
ll_window_show_target_names (LlWindow *self)
{
  GPtrArray *targets = ll_session_get_targets (self->session);
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  for (guint i = 0; i < targets->len; i++)
    {
      const LensTarget *t = g_ptr_array_index (targets, i);
      g_autofree char *name = g_strdup_printf ("“%s”", t->label);
      g_strv_builder_add (names, name);
    }
  g_auto (GStrv) name_list = g_strv_builder_end (names);
  int active = self->state.active_target;
  guint old_n = g_list_model_get_n_items (G_LIST_MODEL (self->target_names));
  gtk_string_list_splice (self->target_names, 0, old_n, (const char *const *) name_list);
  if (active < 0 || active >= (int) targets->len)
    active = 0;
  self->state.active_target = active;
  if (targets->len > 0)
    gtk_drop_down_set_selected (self->target_dropdown, (guint) active);
  gtk_widget_set_sensitive (GTK_WIDGET (self->target_dropdown), targets->len > 1);
  gtk_stack_set_visible_child_name (self->target_stack, targets->len > 0 ? "view" : "none");
}

/* The entry changed: its targets on the shown result. */
static void
update_targets (LlWindow *self)
{
  LensResult *r = ll_session_get_result (self->session);
  g_autoptr (GPtrArray) targets = ll_window_compute_targets (self, r);
  ll_session_set_targets (self->session, targets, r != NULL ? r->model : NULL);
}

static void
target_entry_changed_cb (LlWindow *self)
{
  /* Cheap: one GEMV over the cached normalised residuals per target, no model run. */
  update_targets (self);
}

static void
target_dropdown_selected_cb (LlWindow *self)
{
  guint selected = gtk_drop_down_get_selected (self->target_dropdown);
  if (selected == GTK_INVALID_LIST_POSITION
      || selected >= ll_session_get_targets (self->session)->len)
    return;
  if ((int) selected == self->state.active_target)
    return;
  self->state.active_target = (int) selected;
  ll_window_push_state (self);
}

const char *
ll_window_get_notice (LlWindow *self)
{
  return self->notice;
}

void
ll_window_targets_init (LlWindow *self)
{
  g_signal_connect_object (self->target_entry, "changed", G_CALLBACK (target_entry_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->target_dropdown, "notify::selected",
                           G_CALLBACK (target_dropdown_selected_cb), self, G_CONNECT_SWAPPED);
}
