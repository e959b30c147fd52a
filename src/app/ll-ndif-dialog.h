/* ll-ndif-dialog.h: "Run on NDIF…": the Python script that computes the current prompt's logit
 * lens on a model too big for this machine, with Copy, and Open Results for the file it writes. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define LL_TYPE_NDIF_DIALOG (ll_ndif_dialog_get_type ())
G_DECLARE_FINAL_TYPE (LlNdifDialog, ll_ndif_dialog, LL, NDIF_DIALOG, AdwWindow)

/* For `prompt`, `targets` (NULL-terminated, may be NULL) and `top_k`; the model id starts as
 * `model_id` (may be NULL). Open Results activates the parent's "win.open-results". */
LlNdifDialog *ll_ndif_dialog_new (GtkWindow *parent, const char *prompt, char *const *targets,
                                  int top_k, const char *model_id);

/* The script shown, or NULL while the model id is not valid (for tests). */
const char *ll_ndif_dialog_get_script (LlNdifDialog *self);
GtkEditable *ll_ndif_dialog_get_model_entry (LlNdifDialog *self);
/* Copies the script, as the Copy button does. */
void ll_ndif_dialog_copy (LlNdifDialog *self);

G_END_DECLS
