/* ll-ndif-dialog.c: the script for NDIF, kept in step with the model id being typed. */
#include "config.h"

#include <glib/gi18n.h>

#include "lens-ndif.h"
#include "ll-ndif-dialog.h"

struct _LlNdifDialog
{
  AdwWindow parent_instance;

  GtkEntry *model_entry;
  GtkLabel *status_label;
  GtkTextView *script_view;
  GtkButton *copy_button;
  GtkButton *open_button;

  char *prompt;
  char **targets;
  int top_k;
  char *script; /* NULL while the model id is not valid */
};

G_DEFINE_FINAL_TYPE (LlNdifDialog, ll_ndif_dialog, ADW_TYPE_WINDOW)

static void
update_script (LlNdifDialog *self)
{
  const char *model = gtk_editable_get_text (GTK_EDITABLE (self->model_entry));
  g_autoptr (GError) error = NULL;
  g_clear_pointer (&self->script, g_free);
  if (*model == '\0')
    g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         _ ("Type the Hugging Face id of the model to run, such as "
                            "meta-llama/Llama-3.1-70B"));
  else
    self->script = lens_ndif_script (model, self->prompt, self->targets, self->top_k, NULL, &error);

  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->script_view);
  gtk_text_buffer_set_text (buffer, self->script != NULL ? self->script : "", -1);
  gtk_widget_set_sensitive (GTK_WIDGET (self->copy_button), self->script != NULL);
  if (self->script != NULL)
    {
      g_autofree char *file = lens_ndif_default_output (model);
      g_autofree char *status = g_strdup_printf (_ ("The script writes “%s”."), file);
      gtk_label_set_text (self->status_label, status);
    }
  else
    gtk_label_set_text (self->status_label, error->message);
}

static void
model_changed_cb (LlNdifDialog *self)
{
  update_script (self);
}

void
ll_ndif_dialog_copy (LlNdifDialog *self)
{
  g_return_if_fail (LL_IS_NDIF_DIALOG (self));
  if (self->script == NULL)
    return;
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), self->script);
  gtk_label_set_text (self->status_label, _ ("Copied. Run it, then open the file it writes."));
}

static void
copy_clicked_cb (LlNdifDialog *self)
{
  ll_ndif_dialog_copy (self);
}

static void
open_clicked_cb (LlNdifDialog *self)
{
  GtkWindow *parent = gtk_window_get_transient_for (GTK_WINDOW (self));
  if (parent != NULL)
    gtk_widget_activate_action (GTK_WIDGET (parent), "win.open-results", NULL);
  gtk_window_close (GTK_WINDOW (self));
}

static void
ll_ndif_dialog_finalize (GObject *object)
{
  LlNdifDialog *self = LL_NDIF_DIALOG (object);
  g_free (self->prompt);
  g_strfreev (self->targets);
  g_free (self->script);
  G_OBJECT_CLASS (ll_ndif_dialog_parent_class)->finalize (object);
}

static void
ll_ndif_dialog_class_init (LlNdifDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->finalize = ll_ndif_dialog_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/logitlens/LogitLens/ll-ndif-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, LlNdifDialog, model_entry);
  gtk_widget_class_bind_template_child (widget_class, LlNdifDialog, status_label);
  gtk_widget_class_bind_template_child (widget_class, LlNdifDialog, script_view);
  gtk_widget_class_bind_template_child (widget_class, LlNdifDialog, copy_button);
  gtk_widget_class_bind_template_child (widget_class, LlNdifDialog, open_button);
  gtk_widget_class_bind_template_callback (widget_class, model_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, copy_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, open_clicked_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
ll_ndif_dialog_init (LlNdifDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

LlNdifDialog *
ll_ndif_dialog_new (GtkWindow *parent, const char *prompt, char *const *targets, int top_k,
                    const char *model_id)
{
  LlNdifDialog *self = g_object_new (LL_TYPE_NDIF_DIALOG, "transient-for", parent, NULL);
  self->prompt = g_strdup (prompt != NULL ? prompt : "");
  self->targets = g_strdupv ((char **) targets);
  self->top_k = top_k;
  gtk_editable_set_text (GTK_EDITABLE (self->model_entry), model_id != NULL ? model_id : "");
  update_script (self);
  return self;
}

const char *
ll_ndif_dialog_get_script (LlNdifDialog *self)
{
  g_return_val_if_fail (LL_IS_NDIF_DIALOG (self), NULL);
  return self->script;
}

GtkEditable *
ll_ndif_dialog_get_model_entry (LlNdifDialog *self)
{
  g_return_val_if_fail (LL_IS_NDIF_DIALOG (self), NULL);
  return GTK_EDITABLE (self->model_entry);
}
