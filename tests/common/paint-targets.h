/* paint-targets.h: painter targets for tests, from (label, id, probabilities) triples. */
#pragma once

#include <glib.h>

#include "lens-target.h"

typedef struct
{
  const char *label;  /* the target's text and label (NULL: "") */
  int32_t id;         /* the tracked token, or -1 */
  const float *probs; /* (R, T) of the painted result, or NULL */
} TargetSpec;

/* LensPaintState.targets for `specs`: n new targets (ids [id] when id >= 0), owned by *keep (which
 * is replaced; free it with g_ptr_array_unref). */
static inline LensTarget *const *
state_targets (const LensResult *r, const TargetSpec *specs, int n, GPtrArray **keep)
{
  if (*keep != NULL)
    g_ptr_array_unref (*keep);
  *keep = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
  for (int i = 0; i < n; i++)
    {
      const char *label = specs[i].label != NULL ? specs[i].label : "";
      int32_t id = specs[i].id;
      g_ptr_array_add (*keep, lens_target_new (label, label, id, id >= 0 ? &id : NULL, id >= 0,
                                               specs[i].probs, r->n_rows, r->n_tokens));
    }
  return (LensTarget *const *) (*keep)->pdata;
}
