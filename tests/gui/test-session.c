/* LlSession, the document a window shows: one "changed" signal per change with the right flags,
 * the selection kept for a result of the same shape and cleared otherwise, the Range cut, the
 * mode, the pinned result, and targets held by reference until the next result is in place. No
 * display needed. */
#include "config.h"

#include <glib/gstdio.h>

#include "lens-target.h"
#include "ll-session.h"
#include "tiny-gpt2.h"

static LensModel *model;

typedef struct
{
  int n;                /* "changed" emissions */
  LlSessionChange last; /* flags of the last one */
  /* what the session held when it emitted RESULT: the views read it there */
  LensResult *result_seen;
  guint targets_seen;
} Changes;

static void
changed_cb (LlSession *session, LlSessionChange what, Changes *c)
{
  c->n++;
  c->last = what;
  if (what & LL_SESSION_CHANGED_RESULT)
    {
      c->result_seen = ll_session_get_result (session);
      c->targets_seen = ll_session_get_targets (session)->len;
    }
}

static LensResult *
run (const char *prompt)
{
  g_autoptr (GError) error = NULL;
  LensResult *r = lens_run_prompt (model, prompt, NULL, &error);
  g_assert_no_error (error);
  return r;
}

static GPtrArray *
targets_on (LensResult *r, const char *text)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *targets = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
  LensTarget *t = lens_target_compute (text, r, &error);
  g_assert_no_error (error);
  g_ptr_array_add (targets, t);
  return targets;
}

static void
test_result_and_selection (void)
{
  g_autoptr (LlSession) session = ll_session_new ();
  Changes c = {0};
  g_signal_connect (session, "changed", G_CALLBACK (changed_cb), &c);
  g_assert_null (ll_session_get_result (session));
  g_assert_cmpuint (ll_session_get_targets (session)->len, ==, 0);

  g_autoptr (LensResult) a = run ("the theory of");
  g_autoptr (GPtrArray) ta = targets_on (a, " the");
  LensTarget *first_target = lens_target_ref (g_ptr_array_index (ta, 0));
  ll_session_set_result (session, a, a, ta, model);
  /* one emission, with the result and its targets already in place */
  g_assert_cmpint (c.n, ==, 1);
  g_assert_true (c.last & LL_SESSION_CHANGED_RESULT);
  g_assert_true (c.result_seen == a);
  g_assert_cmpuint (c.targets_seen, ==, 1);
  g_assert_true (ll_session_get_full_result (session) == a);
  g_assert_true (ll_session_get_targets_model (session) == model);

  ll_session_set_selection (session, 1, 2);
  g_assert_cmpint (c.n, ==, 2);
  g_assert_true (c.last & LL_SESSION_CHANGED_SELECTION);
  int row, pos;
  ll_session_get_selection (session, &row, &pos);
  g_assert_cmpint (row, ==, 1);
  g_assert_cmpint (pos, ==, 2);

  /* a result of the same shape keeps the selection */
  g_autoptr (LensResult) b = run ("a theory of");
  g_assert_cmpint (b->n_tokens, ==, a->n_tokens);
  g_autoptr (GPtrArray) tb = targets_on (b, " the");
  ll_session_set_result (session, b, b, tb, model);
  g_assert_cmpint (c.n, ==, 3);
  ll_session_get_selection (session, &row, &pos);
  g_assert_cmpint (row, ==, 1);
  g_assert_cmpint (pos, ==, 2);
  /* the previous targets are released: only our reference is left */
  g_ptr_array_set_size (ta, 0);
  g_assert_true (g_atomic_ref_count_compare (&first_target->ref_count, 1));
  lens_target_unref (first_target);

  /* another shape clears it */
  g_autoptr (LensResult) d = run ("the theory of the thing itself");
  g_assert_cmpint (d->n_tokens, !=, b->n_tokens);
  ll_session_set_result (session, d, d, NULL, NULL);
  ll_session_get_selection (session, &row, &pos);
  g_assert_cmpint (row, ==, -1);
  g_assert_cmpint (pos, ==, -1);
  g_assert_cmpuint (ll_session_get_targets (session)->len, ==, 0);

  /* new targets for the same result */
  g_autoptr (GPtrArray) td = targets_on (d, " of");
  ll_session_set_targets (session, td, model);
  g_assert_true (c.last & LL_SESSION_CHANGED_TARGETS);
  g_assert_false (c.last & LL_SESSION_CHANGED_RESULT);
  g_assert_cmpstr (((LensTarget *) g_ptr_array_index (ll_session_get_targets (session), 0))->text,
                   ==, " of");
}

static void
test_range (void)
{
  g_autoptr (LlSession) session = ll_session_new ();
  g_autoptr (LensResult) r = run ("the theory of the thing");
  /* no range: all of it */
  g_autoptr (LensResult) all = ll_session_range_of (session, r);
  g_assert_true (all == r);

  LlSessionRange range = {.has_layers = TRUE,
                          .layer_first = 0,
                          .layer_last = 1,
                          .has_positions = TRUE,
                          .pos_first = 1,
                          .pos_last = 3};
  ll_session_set_range (session, &range);
  const LlSessionRange *got = ll_session_get_range (session);
  g_assert_true (got->has_layers && got->has_positions);
  g_assert_cmpint (got->pos_last, ==, 3);
  g_autoptr (LensResult) part = ll_session_range_of (session, r);
  g_assert_cmpint (part->n_tokens, ==, 3);
  g_assert_cmpint (part->first_pos, ==, 1);
  /* blocks 0 and 1 (a run without options has no embeddings row) */
  g_assert_cmpint (part->n_rows, ==, 2);
  g_assert_cmpint (r->n_rows, >, 2);
  /* the cells are the whole result's */
  size_t whole = lens_result_cell_index (r, 1, 2) * r->top_k;
  size_t cut = lens_result_cell_index (part, 1, 1) * part->top_k;
  g_assert_cmpint (part->top_ids[cut], ==, r->top_ids[whole]);
  g_assert_cmpfloat (part->top_probs[cut], ==, r->top_probs[whole]);

  /* a range outside the result leaves it whole */
  LlSessionRange outside = {.has_positions = TRUE, .pos_first = 50, .pos_last = 60};
  ll_session_set_range (session, &outside);
  g_autoptr (LensResult) whole_again = ll_session_range_of (session, r);
  g_assert_cmpint (whole_again->n_tokens, ==, r->n_tokens);
  g_assert_null (ll_session_range_of (session, NULL));
}

static void
test_mode (void)
{
  g_autoptr (LlSession) session = ll_session_new ();
  Changes c = {0};
  g_signal_connect (session, "changed", G_CALLBACK (changed_cb), &c);
  g_assert_cmpint (ll_session_get_mode (session), ==, LL_SESSION_LIVE);
  g_assert_false (ll_session_is_imported (session));

  g_autoptr (LensResult) r = run ("the theory");
  g_autoptr (GPtrArray) file_targets = targets_on (r, " of");
  ll_session_set_imported (session, "/tmp/results.json", file_targets);
  g_assert_cmpint (c.n, ==, 1);
  g_assert_true (c.last & LL_SESSION_CHANGED_MODE);
  g_assert_true (ll_session_is_imported (session));
  g_assert_cmpstr (ll_session_get_imported_path (session), ==, "/tmp/results.json");
  g_assert_true (ll_session_get_file_targets (session) == file_targets);

  ll_session_set_live (session);
  g_assert_cmpint (c.n, ==, 2);
  g_assert_true (c.last & LL_SESSION_CHANGED_MODE);
  g_assert_cmpint (ll_session_get_mode (session), ==, LL_SESSION_LIVE);
  g_assert_null (ll_session_get_imported_path (session));
  g_assert_null (ll_session_get_file_targets (session));
}

static void
test_pin (void)
{
  g_autoptr (LlSession) session = ll_session_new ();
  Changes c = {0};
  g_signal_connect (session, "changed", G_CALLBACK (changed_cb), &c);
  g_assert_null (ll_session_get_pinned (session));
  g_autoptr (LensResult) r = run ("the theory");
  ll_session_pin (session, r);
  g_assert_cmpint (c.n, ==, 1);
  g_assert_true (c.last == LL_SESSION_CHANGED_PINNED);
  g_assert_true (ll_session_get_pinned (session) == r);
  /* a new result leaves the pinned one alone */
  g_autoptr (LensResult) other = run ("a theory");
  ll_session_set_result (session, other, other, NULL, NULL);
  g_assert_true (ll_session_get_pinned (session) == r);
  ll_session_pin (session, NULL);
  g_assert_cmpint (c.n, ==, 3);
  g_assert_true (c.last == LL_SESSION_CHANGED_PINNED);
  g_assert_null (ll_session_get_pinned (session));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ll-session-XXXXXX", &error);
  g_assert_no_error (error);
  write_tiny_gpt2 (dir);
  model = lens_model_load (dir, &error);
  g_assert_no_error (error);

  g_test_add_func ("/session/result-and-selection", test_result_and_selection);
  g_test_add_func ("/session/range", test_range);
  g_test_add_func ("/session/mode", test_mode);
  g_test_add_func ("/session/pin", test_pin);
  int status = g_test_run ();

  lens_model_unref (model);
  tiny_gpt2_remove (dir);
  return status;
}
