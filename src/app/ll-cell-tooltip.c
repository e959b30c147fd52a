/* ll-cell-tooltip.c: a cell's tooltip text with the targets' ranks computed off the main thread.
 *
 * GTK asks for the tooltip again on every pointer motion, so the last text is kept. Target ranks
 * cost a pass over the vocabulary each (about 0.15 s for GPT-2 small here), so the text first
 * describes the cell without them and a thread computes the full text; one job at a time, and
 * when it ends the cell the pointer is over by then gets the next one. */
#include "config.h"

#include "ll-cell-tooltip.h"

struct _LlCellTooltip
{
  GObject parent_instance;

  char *markup;              /* the last text, or NULL */
  int row, pos;              /* its cell */
  gboolean full;             /* markup has the ranks (or there are none to compute) */
  GCancellable *rank_cancel; /* the running rank job, or NULL */
  int want_row, want_pos;    /* cell whose ranks the tooltip waits for */
  LensResult *want_result;   /* and its result and state, for the next job (owned ref) */
  LensPaintState want_state;
};

G_DEFINE_FINAL_TYPE (LlCellTooltip, ll_cell_tooltip, G_TYPE_OBJECT)

enum
{
  SIGNAL_UPDATED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* Would lens_describe_cell compute a rank for some target of st (a pass over the vocabulary)? */
static gboolean
targets_have_ranks (const LensPaintState *st)
{
  gboolean any = FALSE;
  for (int i = 0; st->targets != NULL && i < st->n_targets; i++)
    any |= st->targets[i]->id >= 0;
  return any;
}

typedef struct
{
  LensResult *result;
  LensPaintState state;
  GPtrArray *targets; /* LensTarget * references: the caller's array may go away meanwhile */
  float *diff_values; /* a copy of the state's (R, T), or NULL: the compare page frees its own
                         whenever the current result or the KL changes */
  int row, pos;
} RankJob;

static void
rank_job_free (RankJob *job)
{
  g_ptr_array_unref (job->targets);
  g_free (job->diff_values);
  lens_result_unref (job->result);
  g_free (job);
}

static void
rank_job_run (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  RankJob *job = data;
  g_task_return_pointer (task, lens_describe_cell (job->result, &job->state, job->row, job->pos),
                         g_free);
}

static void start_rank_job (LlCellTooltip *self, LensResult *result, const LensPaintState *state,
                            int row, int pos);

static void
rank_job_done (GObject *source, GAsyncResult *res, gpointer data)
{
  LlCellTooltip *self = LL_CELL_TOOLTIP (source);
  GTask *task = G_TASK (res);
  RankJob *job = g_task_get_task_data (task);
  g_autofree char *markup = g_task_propagate_pointer (task, NULL);
  /* A cancelled job belongs to a result or state that is gone. */
  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    return;
  g_clear_object (&self->rank_cancel);
  if (markup == NULL)
    return;

  if (self->markup != NULL && self->row == job->row && self->pos == job->pos)
    {
      g_free (self->markup);
      self->markup = g_steal_pointer (&markup);
      self->full = TRUE;
      g_signal_emit (self, signals[SIGNAL_UPDATED], 0);
    }
  /* The pointer moved on while this ran. */
  if ((self->want_row != job->row || self->want_pos != job->pos) && self->markup != NULL
      && !self->full && self->row == self->want_row && self->pos == self->want_pos
      && self->want_result != NULL)
    start_rank_job (self, self->want_result, &self->want_state, self->want_row, self->want_pos);
}

static void
start_rank_job (LlCellTooltip *self, LensResult *result, const LensPaintState *state, int row,
                int pos)
{
  RankJob *job = g_new0 (RankJob, 1);
  job->result = lens_result_ref (result);
  job->state = *state;
  job->row = row;
  job->pos = pos;
  job->targets = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
  for (int i = 0; i < job->state.n_targets; i++)
    g_ptr_array_add (job->targets, lens_target_ref (state->targets[i]));
  job->state.targets = (LensTarget *const *) job->targets->pdata;
  /* the thread reads the difference after the ranks, which take long enough for the page to
   * have replaced its values: it gets its own copy, and no strings it does not describe */
  if (state->diff_values != NULL)
    job->diff_values = g_memdup2 (state->diff_values, sizeof (float) * (size_t) result->n_rows
                                                          * (size_t) result->n_tokens);
  job->state.diff_values = job->diff_values;
  job->state.diff_pinned = NULL;
  job->state.diff_message = NULL;

  self->rank_cancel = g_cancellable_new ();
  GTask *task = g_task_new (self, self->rank_cancel, rank_job_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) rank_job_free);
  g_task_run_in_thread (task, rank_job_run);
  g_object_unref (task);
}

static void
request_ranks (LlCellTooltip *self, LensResult *result, const LensPaintState *state, int row,
               int pos)
{
  self->want_row = row;
  self->want_pos = pos;
  if (self->rank_cancel == NULL)
    start_rank_job (self, result, state, row, pos);
  else
    {
      /* for the job that follows the running one: the same result and state (a new result or
       * state resets this object), whose targets the owner keeps until then */
      if (self->want_result != result)
        {
          g_clear_pointer (&self->want_result, lens_result_unref);
          self->want_result = lens_result_ref (result);
        }
      self->want_state = *state;
    }
}

const char *
ll_cell_tooltip_markup (LlCellTooltip *self, LensResult *result, const LensPaintState *state,
                        int row, int pos)
{
  g_return_val_if_fail (LL_IS_CELL_TOOLTIP (self), NULL);
  g_return_val_if_fail (result != NULL && state != NULL, NULL);
  if (self->markup == NULL || self->row != row || self->pos != pos)
    {
      LensPaintState st = *state;
      st.no_ranks = TRUE;
      g_free (self->markup);
      self->markup = lens_describe_cell (result, &st, row, pos);
      self->row = row;
      self->pos = pos;
      self->full = !targets_have_ranks (state);
    }
  if (!self->full)
    request_ranks (self, result, state, row, pos);
  return self->markup;
}

void
ll_cell_tooltip_reset (LlCellTooltip *self)
{
  g_return_if_fail (LL_IS_CELL_TOOLTIP (self));
  g_clear_pointer (&self->markup, g_free);
  if (self->rank_cancel != NULL)
    g_cancellable_cancel (self->rank_cancel);
  g_clear_object (&self->rank_cancel);
  g_clear_pointer (&self->want_result, lens_result_unref);
}

static void
ll_cell_tooltip_dispose (GObject *object)
{
  ll_cell_tooltip_reset (LL_CELL_TOOLTIP (object));
  G_OBJECT_CLASS (ll_cell_tooltip_parent_class)->dispose (object);
}

static void
ll_cell_tooltip_class_init (LlCellTooltipClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = ll_cell_tooltip_dispose;

  /* The markup of the cell asked for last now has the targets' ranks. */
  signals[SIGNAL_UPDATED] = g_signal_new ("updated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
ll_cell_tooltip_init (LlCellTooltip *self)
{
  lens_paint_state_init (&self->want_state);
  self->want_row = self->want_pos = -1;
}

LlCellTooltip *
ll_cell_tooltip_new (void)
{
  return g_object_new (LL_TYPE_CELL_TOOLTIP, NULL);
}
