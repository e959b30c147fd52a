/* lens-target.h: the one target type. A target is a piece of text whose probability is tracked
 * at every cell of a result: the text as the user gave it, the token ids it tokenizes to (once),
 * the label shown for it and its probabilities on one result. The engine, the painters, the
 * writers, the readers, the CLI and the window all pass these around.
 *
 * A LensTarget is reference-counted and immutable once built, so threads (tooltip and rank jobs,
 * exports) share it by taking a reference instead of copying its arrays. A target for another
 * result is a new LensTarget (lens_target_for_result). */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "lens-result.h"

G_BEGIN_DECLS

typedef struct
{
  char *text;   /* the target as the user gave it, e.g. " Paris" (may be several tokens) */
  char *label;  /* display text: the tracked token's text on a live result, else `text` */
  int32_t *ids; /* (n_ids) the token ids `text` tokenizes to; NULL when n_ids == 0 (unknown: a
                   results file that gave none, or an imported result without a model) */
  int n_ids;    /* > 1 for a multi-token target: only its first token is tracked */
  int32_t id;   /* the tracked token (ids[0]) on a live result; -1 when the probabilities are a
                   results file's tracked values */
  int n_rows, n_tokens; /* the shape of probs: the result's R and T */
  float *probs;         /* (n_rows, n_tokens) probability at every cell, NAN where unknown */
  gatomicrefcount ref_count;
} LensTarget;

/* A new target from its parts, copied (ids may be NULL when n_ids == 0; probs may be NULL for a
 * target of no result, with n_rows = n_tokens = 0). label NULL means `text`. */
LensTarget *lens_target_new (const char *text, const char *label, int32_t id, const int32_t *ids,
                             int n_ids, const float *probs, int n_rows, int n_tokens);
LensTarget *lens_target_ref (LensTarget *target);
void lens_target_unref (LensTarget *target);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LensTarget, lens_target_unref)

/* The target entry's grammar: comma-separated targets. Each item is trimmed and given one
 * leading space (inside a sentence a word's token starts with one: " Paris"); an item in double
 * quotes is taken exactly as written between them ("\"Paris\"" tracks "Paris" without the
 * space). Empty items and repeats are dropped. Never NULL. */
char **lens_targets_split (const char *entry);

/* The target `text` on result r. A live result tokenizes it (once; the first token is tracked
 * and its probability computed at every cell from the kept residuals); an imported one takes the
 * file's tracked values under `text` (ids unknown). Errors: an empty text, a text of no tokens,
 * a token outside the vocabulary, or a text the file did not track. */
LensTarget *lens_target_compute (const char *text, const LensResult *r, GError **error);

/* The same target on another result r, without tokenizing again: a live r computes the
 * probabilities of target->ids[0] (the caller knows r's model gave those ids), an imported r
 * looks up target->text in the file's tracked values and keeps target->ids (a results file's
 * own targets carry the ids it was computed with). A target without ids on a live r is
 * tokenized as by lens_target_compute. */
LensTarget *lens_target_for_result (const LensTarget *target, const LensResult *r, GError **error);

G_END_DECLS
