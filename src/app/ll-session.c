/* ll-session.c: the document a window shows: its result (full and ranged), targets, selection,
 * Range and mode, with one "changed" signal the window follows. */
#include "config.h"

#include "lens-target.h"
#include "ll-session.h"

struct _LlSession
{
  GObject parent_instance;

  LlSessionMode mode;
  char *imported_path;     /* the shown file, in imported mode */
  GPtrArray *file_targets; /* of LensTarget *, from the shown file (ids and probabilities) */

  LlSessionRange range;
  LensResult *full_result;  /* the result as given */
  LensResult *result;       /* what the views show: full_result, or the Range of it */
  GPtrArray *targets;       /* of LensTarget *: the target entry's targets computed on `result` */
  LensModel *targets_model; /* the model whose tokenizer gave the targets' ids, or NULL */
  int sel_row, sel_pos;     /* -1 -1: none */
  LensResult *pinned;       /* pinned for comparison, as given (the Range applies when shown) */
};

G_DEFINE_FINAL_TYPE (LlSession, ll_session, G_TYPE_OBJECT)

enum
{
  SIGNAL_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
ll_session_finalize (GObject *object)
{
  LlSession *self = LL_SESSION (object);

  g_free (self->imported_path);
  g_clear_pointer (&self->file_targets, g_ptr_array_unref);
  g_clear_pointer (&self->full_result, lens_result_unref);
  g_clear_pointer (&self->pinned, lens_result_unref);
  g_clear_pointer (&self->result, lens_result_unref);
  g_clear_pointer (&self->targets, g_ptr_array_unref);
  g_clear_pointer (&self->targets_model, lens_model_unref);

  G_OBJECT_CLASS (ll_session_parent_class)->finalize (object);
}

static void
ll_session_class_init (LlSessionClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ll_session_finalize;

  /* The result, its targets, the selection or the mode changed; the argument says which
   * (LlSessionChange flags). */
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
ll_session_init (LlSession *self)
{
  self->mode = LL_SESSION_LIVE;
  self->targets = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
  self->sel_row = self->sel_pos = -1;
}

LlSession *
ll_session_new (void)
{
  return g_object_new (LL_TYPE_SESSION, NULL);
}

/* ---- mode ---- */

LlSessionMode
ll_session_get_mode (LlSession *self)
{
  g_return_val_if_fail (LL_IS_SESSION (self), LL_SESSION_LIVE);
  return self->mode;
}

gboolean
ll_session_is_imported (LlSession *self)
{
  return ll_session_get_mode (self) == LL_SESSION_IMPORTED;
}

void
ll_session_set_imported (LlSession *self, const char *path, GPtrArray *file_targets)
{
  g_return_if_fail (LL_IS_SESSION (self));
  self->mode = LL_SESSION_IMPORTED;
  g_free (self->imported_path);
  self->imported_path = g_strdup (path);
  g_clear_pointer (&self->file_targets, g_ptr_array_unref);
  self->file_targets = file_targets != NULL ? g_ptr_array_ref (file_targets) : NULL;
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, (guint) LL_SESSION_CHANGED_MODE);
}

void
ll_session_set_live (LlSession *self)
{
  g_return_if_fail (LL_IS_SESSION (self));
  self->mode = LL_SESSION_LIVE;
  g_clear_pointer (&self->imported_path, g_free);
  g_clear_pointer (&self->file_targets, g_ptr_array_unref);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, (guint) LL_SESSION_CHANGED_MODE);
}

const char *
ll_session_get_imported_path (LlSession *self)
{
  g_return_val_if_fail (LL_IS_SESSION (self), NULL);
  return self->imported_path;
}

GPtrArray *
ll_session_get_file_targets (LlSession *self)
{
  g_return_val_if_fail (LL_IS_SESSION (self), NULL);
  return self->file_targets;
}

/* ---- the Range ---- */

const LlSessionRange *
ll_session_get_range (LlSession *self)
{
  g_return_val_if_fail (LL_IS_SESSION (self), NULL);
  return &self->range;
}

void
ll_session_set_range (LlSession *self, const LlSessionRange *range)
{
  g_return_if_fail (LL_IS_SESSION (self));
  g_return_if_fail (range != NULL);
  self->range = *range;
}

LensResult *
ll_session_range_of (LlSession *self, LensResult *r)
{
  if (r == NULL || (!self->range.has_layers && !self->range.has_positions))
    return r != NULL ? lens_result_ref (r) : NULL;
  int row0 = 0, n_rows = r->n_rows;
  if (self->range.has_layers)
    {
      int lowest = G_MAXINT;
      for (int row = 0; row < r->n_rows; row++)
        if (r->row_layers[row] >= 0)
          lowest = MIN (lowest, r->row_layers[row]);
      int first = -1, last = -1;
      for (int row = 0; row < r->n_rows; row++)
        {
          int layer = r->row_layers[row];
          gboolean inside = layer == LENS_ROW_EMBEDDINGS ? self->range.layer_first <= lowest
                                                         : layer >= self->range.layer_first
                                                               && layer <= self->range.layer_last;
          if (inside && first < 0)
            first = row;
          if (inside)
            last = row;
        }
      if (first >= 0) /* rows are in block order, so those inside follow each other */
        row0 = first, n_rows = last - first + 1;
    }
  int pos0 = 0, n_pos = r->n_tokens;
  if (self->range.has_positions)
    {
      int lo = MAX (self->range.pos_first, r->first_pos);
      int hi = MIN (self->range.pos_last, r->first_pos + r->n_tokens - 1);
      if (lo <= hi)
        pos0 = lo - r->first_pos, n_pos = hi - lo + 1;
    }
  if (row0 == 0 && n_rows == r->n_rows && pos0 == 0 && n_pos == r->n_tokens)
    return lens_result_ref (r);
  LensResult *part = lens_result_slice (r, row0, n_rows, pos0, n_pos, NULL);
  return part != NULL ? part : lens_result_ref (r);
}

/* ---- result, targets, selection ---- */

/* Takes a reference to `targets` and `targets_model`; returns the previous targets, which the
 * views may still point into until they have been told of the new ones. */
static GPtrArray *
swap_targets (LlSession *self, GPtrArray *targets, LensModel *targets_model)
{
  GPtrArray *previous = g_steal_pointer (&self->targets);
  self->targets = targets != NULL
                      ? g_ptr_array_ref (targets)
                      : g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
  if (targets_model != NULL)
    lens_model_ref (targets_model);
  g_clear_pointer (&self->targets_model, lens_model_unref);
  self->targets_model = targets_model;
  return previous;
}

void
ll_session_set_result (LlSession *self, LensResult *full, LensResult *shown, GPtrArray *targets,
                       LensModel *targets_model)
{
  g_return_if_fail (LL_IS_SESSION (self));
  if (full != NULL)
    lens_result_ref (full);
  g_clear_pointer (&self->full_result, lens_result_unref);
  self->full_result = full;

  gboolean same_shape = self->result != NULL && shown != NULL
                        && self->result->n_rows == shown->n_rows
                        && self->result->n_tokens == shown->n_tokens;
  if (shown != NULL)
    lens_result_ref (shown);
  g_clear_pointer (&self->result, lens_result_unref);
  self->result = shown;

  /* A selection survives a new result of the same shape (e.g. a changed top-k); otherwise the
   * views fall back to the last position, which is what typing at the end wants. */
  if (!same_shape)
    self->sel_row = self->sel_pos = -1;

  g_autoptr (GPtrArray) previous = swap_targets (self, targets, targets_model);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, (guint) LL_SESSION_CHANGED_RESULT);
}

LensResult *
ll_session_get_result (LlSession *self)
{
  g_return_val_if_fail (LL_IS_SESSION (self), NULL);
  return self->result;
}

LensResult *
ll_session_get_full_result (LlSession *self)
{
  g_return_val_if_fail (LL_IS_SESSION (self), NULL);
  return self->full_result;
}

void
ll_session_set_targets (LlSession *self, GPtrArray *targets, LensModel *targets_model)
{
  g_return_if_fail (LL_IS_SESSION (self));
  g_autoptr (GPtrArray) previous = swap_targets (self, targets, targets_model);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, (guint) LL_SESSION_CHANGED_TARGETS);
}

GPtrArray *
ll_session_get_targets (LlSession *self)
{
  g_return_val_if_fail (LL_IS_SESSION (self), NULL);
  return self->targets;
}

LensModel *
ll_session_get_targets_model (LlSession *self)
{
  g_return_val_if_fail (LL_IS_SESSION (self), NULL);
  return self->targets_model;
}

void
ll_session_get_selection (LlSession *self, int *row, int *pos)
{
  g_return_if_fail (LL_IS_SESSION (self));
  *row = self->sel_row;
  *pos = self->sel_pos;
}

void
ll_session_set_selection (LlSession *self, int row, int pos)
{
  g_return_if_fail (LL_IS_SESSION (self));
  if (row == self->sel_row && pos == self->sel_pos)
    return;
  self->sel_row = row;
  self->sel_pos = pos;
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, (guint) LL_SESSION_CHANGED_SELECTION);
}

/* ---- the pinned result ---- */

void
ll_session_pin (LlSession *self, LensResult *full)
{
  g_return_if_fail (LL_IS_SESSION (self));
  if (full != NULL)
    lens_result_ref (full);
  g_clear_pointer (&self->pinned, lens_result_unref);
  self->pinned = full;
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, (guint) LL_SESSION_CHANGED_PINNED);
}

LensResult *
ll_session_get_pinned (LlSession *self)
{
  g_return_val_if_fail (LL_IS_SESSION (self), NULL);
  return self->pinned;
}
