/* lens-target.c: the one target type: parsing the target entry, tokenizing once, probabilities on
 * a result. See lens-target.h. */
#include "lens-target.h"

#include <math.h>
#include <string.h>

#include "lens-error.h"
#include "lens-tokenizer.h"

LensTarget *
lens_target_new (const char *text, const char *label, int32_t id, const int32_t *ids, int n_ids,
                 const float *probs, int n_rows, int n_tokens)
{
  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (n_ids == 0 || ids != NULL, NULL);
  LensTarget *t = g_new0 (LensTarget, 1);
  g_atomic_ref_count_init (&t->ref_count);
  t->text = g_strdup (text);
  t->label = g_strdup (label != NULL ? label : text);
  t->n_ids = MAX (n_ids, 0);
  t->ids = t->n_ids > 0 ? g_memdup2 (ids, sizeof (int32_t) * (gsize) t->n_ids) : NULL;
  t->id = id;
  size_t cells = (size_t) MAX (n_rows, 0) * (size_t) MAX (n_tokens, 0);
  if (probs != NULL && cells > 0)
    {
      t->n_rows = n_rows;
      t->n_tokens = n_tokens;
      t->probs = g_memdup2 (probs, cells * sizeof (float));
    }
  return t;
}

LensTarget *
lens_target_ref (LensTarget *target)
{
  g_return_val_if_fail (target != NULL, NULL);
  g_atomic_ref_count_inc (&target->ref_count);
  return target;
}

void
lens_target_unref (LensTarget *target)
{
  if (target == NULL || !g_atomic_ref_count_dec (&target->ref_count))
    return;
  g_free (target->text);
  g_free (target->label);
  g_free (target->ids);
  g_free (target->probs);
  g_free (target);
}

char **
lens_targets_split (const char *entry)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (entry == NULL)
    entry = "";
  g_auto (GStrv) items = g_strsplit (entry, ",", -1);
  for (int i = 0; items[i] != NULL; i++)
    {
      char *item = g_strstrip (items[i]);
      size_t n = strlen (item);
      char *target;

      if (n == 0)
        continue;
      if (n >= 2 && item[0] == '"' && item[n - 1] == '"')
        target = g_strndup (item + 1, n - 2);
      else
        target = g_strconcat (" ", item, NULL);
      if (target[0] == '\0' || g_hash_table_contains (seen, target))
        {
          g_free (target);
          continue;
        }
      g_strv_builder_add (builder, target);
      g_hash_table_add (seen, target);
    }
  return g_strv_builder_end (builder);
}

/* A target of a live result tracking ids[0]: one GEMV over the kept residuals. */
static LensTarget *
live_target (const char *text, const int32_t *ids, int n_ids, const LensResult *r, GError **error)
{
  size_t cells = (size_t) r->n_rows * (size_t) r->n_tokens;
  g_autofree float *probs = g_new (float, MAX (cells, 1)); /* (R, T) */
  if (!lens_result_target_probs (r, ids[0], probs, error))
    return NULL;
  return lens_target_new (text, lens_result_token_text (r, ids[0]), ids[0], ids, n_ids, probs,
                          r->n_rows, r->n_tokens);
}

/* A target of an imported result: only what the file tracked, per position. */
static LensTarget *
tracked_target (const char *text, const int32_t *ids, int n_ids, const LensResult *r,
                GError **error)
{
  g_autofree float *probs = g_new (float, MAX ((size_t) r->n_rows * r->n_tokens, 1)); /* (R, T) */
  gboolean found = FALSE;
  for (int t = 0; t < r->n_tokens; t++)
    {
      const float *row_probs = NULL;
      if (r->tracked != NULL && r->tracked[t] != NULL)
        row_probs = g_hash_table_lookup (r->tracked[t], text);
      found |= row_probs != NULL;
      for (int row = 0; row < r->n_rows; row++)
        probs[lens_result_cell_index (r, row, t)] = row_probs != NULL ? row_probs[row] : NAN;
    }
  if (!found)
    {
      /* a range of the file may leave out the positions that tracked it */
      if (r->first_pos > 0 || r->next_after_last >= 0)
        g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                     "\"%s\" was not tracked at positions %d-%d of this results file", text,
                     r->first_pos, r->first_pos + r->n_tokens - 1);
      else
        g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                     "\"%s\" was not tracked in this results file", text);
      return NULL;
    }
  return lens_target_new (text, text, -1, ids, n_ids, probs, r->n_rows, r->n_tokens);
}

static gboolean
check_text (const char *text, GError **error)
{
  if (text == NULL || *text == '\0')
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "The target token is empty");
      return FALSE;
    }
  return TRUE;
}

LensTarget *
lens_target_compute (const char *text, const LensResult *r, GError **error)
{
  g_return_val_if_fail (r != NULL, NULL);
  if (!check_text (text, error))
    return NULL;
  if (!lens_result_has_model (r))
    return tracked_target (text, NULL, 0, r, error);

  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  if (!lens_tokenizer_encode (lens_model_tokenizer (r->model), text, -1, ids, error))
    return NULL;
  if (ids->len == 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "The target \"%s\" has no tokens", text);
      return NULL;
    }
  return live_target (text, (const int32_t *) (void *) ids->data, (int) ids->len, r, error);
}

LensTarget *
lens_target_for_result (const LensTarget *target, const LensResult *r, GError **error)
{
  g_return_val_if_fail (target != NULL && r != NULL, NULL);
  if (!check_text (target->text, error))
    return NULL;
  if (!lens_result_has_model (r))
    return tracked_target (target->text, target->ids, target->n_ids, r, error);
  if (target->n_ids == 0)
    return lens_target_compute (target->text, r, error);
  return live_target (target->text, target->ids, target->n_ids, r, error);
}

gboolean
lens_result_target_probs_for_text (const LensResult *r, const char *text, float *probs,
                                   int32_t *first_id, int *n_ids, GError **error)
{
  g_autoptr (LensTarget) t = lens_target_compute (text, r, error);
  if (t == NULL)
    return FALSE;
  if (t->probs != NULL)
    memcpy (probs, t->probs, (size_t) t->n_rows * t->n_tokens * sizeof (float));
  if (first_id != NULL)
    *first_id = t->id;
  if (n_ids != NULL)
    *n_ids = lens_result_has_model (r) ? t->n_ids : 1;
  return TRUE;
}
