/* lens-ndif.h: a Python script that runs the logit lens of a big model on NDIF.
 *
 * NDIF (https://ndif.us) runs models too big for this machine. lens_ndif_script() writes a
 * ready-to-run script (nnterp + nnsight + logitlenskit) for one prompt: it traces the model
 * remotely, keeps the top-k tokens of every layer and position plus the targets, and writes a
 * logitlenskit widget JSON version 2 file that lens_results_load() opens. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Largest top-k a script may ask for: every position keeps the union of its top-k lists over
 * all layers, so the file grows with it. */
#define LENS_NDIF_MAX_TOP_K 1000

/* Checks that `model_id` is a Hugging Face repository id "owner/name": two parts of 1 to 96
 * characters from A-Z a-z 0-9 . _ -, each starting and ending with a letter or digit, without
 * "--" or "..". Anything else is LENS_ERROR_INPUT with a message that says what is wrong. */
gboolean lens_ndif_check_model_id (const char *model_id, GError **error);

/* The file name a script writes when no output path is given: "logit-lens-OWNER--NAME.json"
 * (in the directory the script runs in). `model_id` must be valid. Free with g_free. */
char *lens_ndif_default_output (const char *model_id);

/* The script, as UTF-8 text that is pure ASCII: the prompt, the targets (NULL-terminated, may be
 * NULL; each tracked by its first token) and the output path are embedded as double-quoted
 * Python literals where every quote, backslash, control and non-ASCII character is escaped, so
 * no text can end the literal. `output_path` NULL means lens_ndif_default_output(). Errors
 * (LENS_ERROR_INPUT): a bad model id, an empty prompt or target, text that is not UTF-8, top_k
 * outside 1..LENS_NDIF_MAX_TOP_K. Free with g_free. */
char *lens_ndif_script (const char *model_id, const char *prompt, char *const *targets, int top_k,
                        const char *output_path, GError **error);

G_END_DECLS
