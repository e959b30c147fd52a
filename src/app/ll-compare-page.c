/* ll-compare-page.c: the Compare view (see ll-compare-page.h).
 *
 * The page keeps the pinned result and follows the window's current result and view state. The
 * difference is computed when one of them changes: a target's probability difference on the UI
 * thread (one dot product per cell of the pinned result, or a lookup in a file's tracked values),
 * the KL divergence on the worker's thread (a second lens head over both results' cells), with
 * the older request cancelled when a newer one starts. */
#include "config.h"

#include <glib/gi18n.h>

#include "lens-compare.h"
#include "lens-error.h"
#include "ll-chart-view.h"
#include "ll-compare-page.h"

struct _LlComparePage
{
  GtkWidget parent_instance;

  GtkStack *stack;
  GtkLabel *status_label;
  LlChartView *pinned_view;
  LlChartView *diff_view;

  LlWorker *worker; /* not owned */
  LensResult *pinned;
  LensResult *current;
  LensPaintState state; /* the window's, with the difference filled in */
  char *active_text;    /* the active target (as given) when the difference was computed */
  int32_t active_id;
  LensDiffKind diff_kind;
  float *diff;   /* (R, T) of current, or NULL */
  char *problem; /* why there is no difference, or NULL */
  GCancellable *kl_cancellable;
  gboolean kl_pending; /* a KL request is running */
  gboolean kl_wanted;  /* KL is due but waits until the page is shown: each one is a second
                          lens head over every cell, which should not delay the runs of typing */
};

G_DEFINE_FINAL_TYPE (LlComparePage, ll_compare_page, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_DIFF_KIND,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
update_views (LlComparePage *self)
{
  gtk_stack_set_visible_child_name (self->stack, self->pinned != NULL ? "compare" : "empty");
  if (self->pinned == NULL)
    {
      /* Let go of everything: the window's target arrays are freed with its next result, and
       * the results hold their residuals and model. */
      LensPaintState empty = self->state;
      empty.targets = NULL;
      empty.n_targets = 0;
      empty.diff_values = NULL;
      ll_chart_view_set_state (self->pinned_view, &empty);
      ll_chart_view_set_result (self->pinned_view, NULL);
      ll_chart_view_set_state (self->diff_view, &empty);
      ll_chart_view_set_result (self->diff_view, NULL);
      return;
    }

  /* The pinned heatmap shows its own cells: the window's targets index the current result. */
  LensPaintState pinned_state = self->state;
  pinned_state.targets = NULL;
  pinned_state.n_targets = 0;
  pinned_state.diff_values = NULL;
  ll_chart_view_set_state (self->pinned_view, &pinned_state);
  ll_chart_view_set_result (self->pinned_view, self->pinned);

  LensPaintState diff_state = self->state;
  diff_state.diff_values = self->diff;
  diff_state.diff_kind = self->diff_kind;
  diff_state.diff_pinned = self->pinned->prompt;
  diff_state.diff_message = self->problem != NULL ? self->problem
                            : self->kl_pending || self->kl_wanted
                                ? _ ("Computing the KL divergence…")
                                : NULL;
  ll_chart_view_set_state (self->diff_view, &diff_state);
  ll_chart_view_set_result (self->diff_view, self->current);

  g_autofree char *shown = g_strdup (self->pinned->prompt != NULL ? self->pinned->prompt : "");
  g_strdelimit (shown, "\n\r\t", ' ');
  g_autofree char *status = NULL;
  if (self->problem != NULL)
    status = g_strdup (self->problem);
  else if (self->kl_pending || self->kl_wanted)
    status = g_strdup (_ ("Computing the KL divergence…"));
  else if (self->current != NULL)
    {
      int n = lens_compare_n_positions (self->pinned, self->current);
      /* Translators: the pinned prompt, its token count, then how many positions are compared */
      status = g_strdup_printf (_ ("Pinned: “%s” (%d tokens) · positions 0–%d compared"), shown,
                                self->pinned->n_tokens, n - 1);
    }
  else
    status = g_strdup_printf (_ ("Pinned: “%s” (%d tokens)"), shown, self->pinned->n_tokens);
  gtk_label_set_text (self->status_label, status);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->status_label), status);
}

static void
set_problem (LlComparePage *self, const char *problem)
{
  g_free (self->problem);
  self->problem = g_strdup (problem);
}

static void
kl_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LlComparePage *self = user_data;
  g_autoptr (GError) error = NULL;
  float *kl = ll_worker_compare_kl_finish (LL_WORKER (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_object_unref (self);
      return; /* a newer request is on its way */
    }
  self->kl_pending = FALSE;
  g_clear_object (&self->kl_cancellable);
  g_free (self->diff);
  self->diff = kl;
  set_problem (self, error != NULL ? error->message : NULL);
  update_views (self);
  g_object_unref (self);
}

static const LensTarget *
active_target (const LensPaintState *state)
{
  if (state->targets == NULL || state->active_target < 0
      || state->active_target >= state->n_targets)
    return NULL;
  return state->targets[state->active_target];
}

static const char *
target_text (const LensTarget *t)
{
  return t == NULL ? NULL : t->text;
}

static void
start_kl (LlComparePage *self)
{
  self->kl_wanted = FALSE;
  self->kl_pending = TRUE;
  self->kl_cancellable = g_cancellable_new ();
  ll_worker_compare_kl_async (self->worker, self->pinned, self->current, self->kl_cancellable,
                              kl_done_cb, g_object_ref (self));
}

/* Computes the difference for the current inputs (or starts computing it). */
static void
recompute (LlComparePage *self)
{
  if (self->kl_cancellable != NULL)
    g_cancellable_cancel (self->kl_cancellable);
  g_clear_object (&self->kl_cancellable);
  self->kl_pending = FALSE;
  self->kl_wanted = FALSE;
  g_clear_pointer (&self->diff, g_free);
  set_problem (self, NULL);
  const LensTarget *t = active_target (&self->state);
  g_free (self->active_text);
  self->active_text = g_strdup (target_text (t));
  self->active_id = t != NULL ? t->id : -1;

  g_autoptr (GError) error = NULL;
  if (self->pinned == NULL || self->current == NULL)
    ;
  else if (lens_result_is_partial (self->current))
    set_problem (self, _ ("Waiting for every position of the current result…"));
  else if (!lens_compare_rows_match (self->pinned, self->current, &error))
    set_problem (self, error->message);
  else if (self->diff_kind == LENS_DIFF_TARGET)
    {
      if (t == NULL || t->probs == NULL)
        set_problem (self, _ ("Add a target token to compare its probability"));
      else
        {
          g_autofree float *pinned_probs
              = g_new (float, (size_t) self->pinned->n_rows * self->pinned->n_tokens);
          /* the same token on the same model; elsewhere the same text */
          gboolean by_id = t->id >= 0 && lens_result_has_model (self->pinned)
                           && self->pinned->model == self->current->model;
          if (!(by_id ? lens_result_target_probs (self->pinned, t->id, pinned_probs, &error)
                      : lens_result_target_probs_for_text (self->pinned, target_text (t),
                                                           pinned_probs, NULL, NULL, &error)))
            set_problem (self, error->message);
          else
            {
              self->diff = g_new (float, (size_t) self->current->n_rows * self->current->n_tokens);
              lens_compare_target_diff (self->pinned, pinned_probs, self->current, t->probs,
                                        self->diff);
            }
        }
    }
  else if (self->worker != NULL && gtk_widget_get_mapped (GTK_WIDGET (self)))
    start_kl (self);
  else
    self->kl_wanted = TRUE;
  update_views (self);
}

void
ll_compare_page_set_worker (LlComparePage *self, LlWorker *worker)
{
  g_return_if_fail (LL_IS_COMPARE_PAGE (self));
  self->worker = worker;
}

void
ll_compare_page_pin (LlComparePage *self, LensResult *result)
{
  g_return_if_fail (LL_IS_COMPARE_PAGE (self));
  if (result == self->pinned)
    return;
  g_clear_pointer (&self->pinned, lens_result_unref);
  if (result != NULL)
    self->pinned = lens_result_ref (result);
  recompute (self);
}

LensResult *
ll_compare_page_get_pinned (LlComparePage *self)
{
  g_return_val_if_fail (LL_IS_COMPARE_PAGE (self), NULL);
  return self->pinned;
}

void
ll_compare_page_set_current (LlComparePage *self, LensResult *current, const LensPaintState *state)
{
  g_return_if_fail (LL_IS_COMPARE_PAGE (self));
  /* The previous state's targets may be freed by now (the window rebuilds them): compare with
   * what the page kept, never through the old pointers. The same target of the same result has
   * the same probabilities. */
  gboolean same_result = current == self->current;
  const LensTarget *t = active_target (state);
  gboolean same_target = g_strcmp0 (target_text (t), self->active_text) == 0
                         && (t != NULL ? t->id : -1) == self->active_id;
  self->state = *state;
  if (!same_result)
    {
      g_clear_pointer (&self->current, lens_result_unref);
      if (current != NULL)
        self->current = lens_result_ref (current);
    }
  gboolean target_changed = self->diff_kind == LENS_DIFF_TARGET && !same_target;
  if (!same_result || target_changed)
    recompute (self);
  else
    update_views (self);
}

void
ll_compare_page_set_diff_kind (LlComparePage *self, LensDiffKind kind)
{
  g_return_if_fail (LL_IS_COMPARE_PAGE (self));
  if (kind == self->diff_kind)
    return;
  self->diff_kind = kind;
  recompute (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DIFF_KIND]);
}

LensDiffKind
ll_compare_page_get_diff_kind (LlComparePage *self)
{
  g_return_val_if_fail (LL_IS_COMPARE_PAGE (self), LENS_DIFF_TARGET);
  return self->diff_kind;
}

gboolean
ll_compare_page_fill_state (LlComparePage *self, LensPaintState *state, GError **error)
{
  g_return_val_if_fail (LL_IS_COMPARE_PAGE (self), FALSE);
  if (self->pinned == NULL || self->diff == NULL)
    {
      g_set_error_literal (error, LENS_ERROR, LENS_ERROR_INPUT,
                           self->pinned == NULL    ? _ ("Pin a result first to compare with it")
                           : self->problem != NULL ? self->problem
                                                   : _ ("The difference is still being computed"));
      return FALSE;
    }
  state->diff_values = self->diff;
  state->diff_kind = self->diff_kind;
  state->diff_pinned = self->pinned->prompt;
  return TRUE;
}

GtkWidget *
ll_compare_page_get_diff_view (LlComparePage *self)
{
  g_return_val_if_fail (LL_IS_COMPARE_PAGE (self), NULL);
  return GTK_WIDGET (self->diff_view);
}

GtkWidget *
ll_compare_page_get_pinned_view (LlComparePage *self)
{
  g_return_val_if_fail (LL_IS_COMPARE_PAGE (self), NULL);
  return GTK_WIDGET (self->pinned_view);
}

static void
ll_compare_page_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  LlComparePage *self = LL_COMPARE_PAGE (object);
  switch (prop_id)
    {
    case PROP_DIFF_KIND:
      g_value_set_string (value, lens_diff_kind_to_string (self->diff_kind));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ll_compare_page_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
  LlComparePage *self = LL_COMPARE_PAGE (object);
  switch (prop_id)
    {
    case PROP_DIFF_KIND:
      {
        LensDiffKind kind;
        if (lens_diff_kind_from_string (g_value_get_string (value), &kind))
          ll_compare_page_set_diff_kind (self, kind);
        break;
      }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ll_compare_page_dispose (GObject *object)
{
  LlComparePage *self = LL_COMPARE_PAGE (object);
  if (self->kl_cancellable != NULL)
    g_cancellable_cancel (self->kl_cancellable);
  g_clear_object (&self->kl_cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), LL_TYPE_COMPARE_PAGE);
  G_OBJECT_CLASS (ll_compare_page_parent_class)->dispose (object);
}

static void
ll_compare_page_finalize (GObject *object)
{
  LlComparePage *self = LL_COMPARE_PAGE (object);
  g_clear_pointer (&self->pinned, lens_result_unref);
  g_clear_pointer (&self->current, lens_result_unref);
  g_free (self->diff);
  g_free (self->problem);
  g_free (self->active_text);
  G_OBJECT_CLASS (ll_compare_page_parent_class)->finalize (object);
}

/* A KL that waited for the page to be shown starts now. */
static void
ll_compare_page_map (GtkWidget *widget)
{
  LlComparePage *self = LL_COMPARE_PAGE (widget);
  GTK_WIDGET_CLASS (ll_compare_page_parent_class)->map (widget);
  if (self->kl_wanted && self->worker != NULL && self->pinned != NULL && self->current != NULL)
    {
      start_kl (self);
      update_views (self);
    }
}

static void
ll_compare_page_class_init (LlComparePageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->get_property = ll_compare_page_get_property;
  object_class->set_property = ll_compare_page_set_property;
  object_class->dispose = ll_compare_page_dispose;
  object_class->finalize = ll_compare_page_finalize;
  widget_class->map = ll_compare_page_map;

  properties[PROP_DIFF_KIND] = g_param_spec_string ("diff-kind", NULL, NULL, "target",
                                                    G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (LL_TYPE_CHART_VIEW);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/logitlens/LogitLens/ll-compare-page.ui");
  gtk_widget_class_bind_template_child (widget_class, LlComparePage, stack);
  gtk_widget_class_bind_template_child (widget_class, LlComparePage, status_label);
  gtk_widget_class_bind_template_child (widget_class, LlComparePage, pinned_view);
  gtk_widget_class_bind_template_child (widget_class, LlComparePage, diff_view);
  gtk_widget_class_install_property_action (widget_class, "compare.diff-kind", "diff-kind");
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
ll_compare_page_init (LlComparePage *self)
{
  lens_paint_state_init (&self->state);
  gtk_widget_init_template (GTK_WIDGET (self));
}
