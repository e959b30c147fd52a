/* test-worker.c: LlWorker without a display: loading, one request at a time, a newer request
 * cancels the older, stale results are never delivered, results come from the cache.
 *
 * usage: test-worker MODEL_DIR */
#include "config.h"

#include <string.h>

#include "lens-error.h"
#include "ll-worker.h"

static const char *model_dir;

typedef struct
{
  gboolean done;
  LensResult *result;
  gboolean from_cache;
  GError *error;
  gboolean loaded;
} Outcome;

static void
outcome_clear (Outcome *o)
{
  g_clear_pointer (&o->result, lens_result_unref);
  g_clear_error (&o->error);
  o->done = FALSE;
}

static void
run_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  Outcome *o = data;
  o->result = ll_worker_run_finish (LL_WORKER (source), res, &o->from_cache, &o->error);
  o->done = TRUE;
}

static void
load_cb (GObject *source, GAsyncResult *res, gpointer data)
{
  Outcome *o = data;
  o->loaded = ll_worker_load_model_finish (LL_WORKER (source), res, &o->error);
  o->done = TRUE;
}

static void
wait_for (Outcome *o)
{
  while (!o->done)
    g_main_context_iteration (NULL, TRUE);
}

static void
wait_idle (LlWorker *w)
{
  while (ll_worker_get_busy (w))
    g_main_context_iteration (NULL, TRUE);
}

static LlWorker *
loaded_worker (void)
{
  LlWorker *w = ll_worker_new ();
  Outcome o = {0};
  ll_worker_load_model_async (w, model_dir, NULL, load_cb, &o);
  wait_for (&o);
  g_assert_no_error (o.error);
  g_assert_true (o.loaded);
  wait_idle (w);
  return w;
}

static void
count_cb (gpointer instance, gpointer data)
{
  (*(int *) data)++;
}

static void
test_load (void)
{
  g_autoptr (LlWorker) w = ll_worker_new ();
  int changed = 0;
  g_signal_connect (w, "model-changed", G_CALLBACK (count_cb), &changed);
  Outcome o = {0};

  /* A folder that is not a model: the engine's error, no model. */
  g_autofree char *missing = g_build_filename (g_get_tmp_dir (), "no-such-model-dir-xyz", NULL);
  ll_worker_load_model_async (w, missing, NULL, load_cb, &o);
  g_assert_true (ll_worker_get_busy (w));
  wait_for (&o);
  g_assert_false (o.loaded);
  g_assert_nonnull (o.error);
  g_assert_true (o.error->domain == LENS_ERROR);
  g_assert_null (ll_worker_get_model (w));
  g_assert_cmpint (changed, ==, 0);
  outcome_clear (&o);
  wait_idle (w);

  /* Two loads in a row: the first is superseded, the second wins. */
  Outcome first = {0}, second = {0};
  ll_worker_load_model_async (w, model_dir, NULL, load_cb, &first);
  ll_worker_load_model_async (w, model_dir, NULL, load_cb, &second);
  wait_for (&first);
  wait_for (&second);
  g_assert_error (first.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_no_error (second.error);
  g_assert_true (second.loaded);
  g_assert_nonnull (ll_worker_get_model (w));
  g_assert_cmpint (changed, ==, 1);
  LensModel *model = ll_worker_get_model (w);
  outcome_clear (&first);
  outcome_clear (&second);
  wait_idle (w);

  /* A failed load keeps the previous model. */
  ll_worker_load_model_async (w, missing, NULL, load_cb, &o);
  wait_for (&o);
  g_assert_false (o.loaded);
  g_assert_true (ll_worker_get_model (w) == model);
  outcome_clear (&o);
  wait_idle (w);
  g_assert_false (ll_worker_get_busy (w));
}

static void
progress_cb (LlWorker *w, int done, int total, gpointer data)
{
  int *last = data;
  g_assert_cmpint (done, >=, 0);
  g_assert_cmpint (done, <=, total);
  last[0] = done;
  last[1] = total;
}

static void
test_newer_cancels_older (void)
{
  g_autoptr (LlWorker) w = loaded_worker ();
  int last_progress[2] = {-1, -1};
  g_signal_connect (w, "progress", G_CALLBACK (progress_cb), last_progress);

  Outcome a = {0}, b = {0};
  ll_worker_run_async (w, "The quick brown fox jumps over the lazy dog", 5, NULL, run_cb, &a);
  ll_worker_run_async (w, "The Eiffel Tower is in the city of", 5, NULL, run_cb, &b);
  wait_for (&a);
  wait_for (&b);
  /* The older request never delivers a result, whether or not it had started computing. */
  g_assert_null (a.result);
  g_assert_error (a.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_no_error (b.error);
  g_assert_nonnull (b.result);
  g_assert_cmpstr (b.result->prompt, ==, "The Eiffel Tower is in the city of");
  g_assert_cmpint (b.result->top_k, ==, 5);
  g_assert_false (b.from_cache);
  g_assert_cmpint (ll_worker_get_n_forward (w), ==, 1);
  wait_idle (w);
  g_assert_cmpint (last_progress[1], >, 0);
  g_assert_cmpint (last_progress[0], ==, last_progress[1]);

  /* The worker's result equals a direct run of the engine. */
  g_autoptr (GError) error = NULL;
  LensRunOptions options = {.top_k = 5};
  g_autoptr (LensResult) direct
      = lens_run_prompt (ll_worker_get_model (w), b.result->prompt, &options, &error);
  g_assert_no_error (error);
  g_assert_cmpint (direct->n_rows, ==, b.result->n_rows);
  g_assert_cmpint (direct->n_tokens, ==, b.result->n_tokens);
  size_t n = (size_t) direct->n_rows * direct->n_tokens * direct->top_k;
  g_assert_cmpmem (direct->top_ids, n * sizeof (int32_t), b.result->top_ids, n * sizeof (int32_t));

  /* Asking again: the cached result itself, no run. */
  Outcome c = {0};
  ll_worker_run_async (w, "The Eiffel Tower is in the city of", 5, NULL, run_cb, &c);
  wait_for (&c);
  g_assert_no_error (c.error);
  g_assert_true (c.from_cache);
  g_assert_true (c.result == b.result);
  g_assert_cmpint (ll_worker_get_n_forward (w), ==, 1);

  /* A smaller top-k comes from the cached result without a run: each cell's best 3 of its 5. */
  Outcome d = {0};
  ll_worker_run_async (w, "The Eiffel Tower is in the city of", 3, NULL, run_cb, &d);
  wait_for (&d);
  g_assert_no_error (d.error);
  g_assert_true (d.from_cache);
  g_assert_cmpint (d.result->top_k, ==, 3);
  g_assert_cmpint (ll_worker_get_n_forward (w), ==, 1);
  size_t cells = (size_t) b.result->n_rows * b.result->n_tokens;
  for (size_t cell = 0; cell < cells; cell++)
    {
      g_assert_cmpmem (d.result->top_ids + cell * 3, 3 * sizeof (int32_t),
                       b.result->top_ids + cell * 5, 3 * sizeof (int32_t));
      g_assert_cmpmem (d.result->top_probs + cell * 3, 3 * sizeof (float),
                       b.result->top_probs + cell * 5, 3 * sizeof (float));
    }
  g_assert_cmpmem (d.result->entropy, cells * sizeof (float), b.result->entropy,
                   cells * sizeof (float));

  /* A larger one needs the model; its result then serves the smaller ones. */
  Outcome e = {0}, f = {0};
  ll_worker_run_async (w, "The Eiffel Tower is in the city of", 8, NULL, run_cb, &e);
  wait_for (&e);
  g_assert_no_error (e.error);
  g_assert_false (e.from_cache);
  g_assert_cmpint (e.result->top_k, ==, 8);
  g_assert_cmpint (ll_worker_get_n_forward (w), ==, 2);
  ll_worker_run_async (w, "The Eiffel Tower is in the city of", 5, NULL, run_cb, &f);
  wait_for (&f);
  g_assert_true (f.from_cache);
  g_assert_cmpint (f.result->top_k, ==, 5);
  g_assert_cmpint (ll_worker_get_n_forward (w), ==, 2);
  g_assert_cmpmem (f.result->top_ids, cells * 5 * sizeof (int32_t), b.result->top_ids,
                   cells * 5 * sizeof (int32_t));

  outcome_clear (&a);
  outcome_clear (&b);
  outcome_clear (&c);
  outcome_clear (&d);
  outcome_clear (&e);
  outcome_clear (&f);
  wait_idle (w);
}

typedef struct
{
  GPtrArray *partials; /* of LensResult */
  Outcome *final;      /* the run they belong to */
} PartialLog;

static void
partial_cb (LlWorker *w, LensResult *partial, gpointer data)
{
  PartialLog *log = data;
  /* a partial result never arrives after its run's result */
  g_assert_false (log->final->done);
  g_ptr_array_add (log->partials, lens_result_ref (partial));
}

/* Progressive runs (forced on the small model by LOGIT_LENS_PROGRESSIVE=always): partial results
 * reach the main thread before the complete one, their ready cells equal its cells, the last
 * position is ready first, only the complete result is cached, and a superseded run's partial
 * results are never delivered. */
static void
test_progressive (void)
{
  g_setenv ("LOGIT_LENS_PROGRESSIVE", "always", TRUE);
  g_autoptr (LlWorker) w = loaded_worker ();
  g_unsetenv ("LOGIT_LENS_PROGRESSIVE");
  g_autoptr (GPtrArray) partials
      = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_result_unref);
  Outcome o = {0};
  PartialLog log = {partials, &o};
  g_signal_connect (w, "partial-result", G_CALLBACK (partial_cb), &log);

  const char *prompt = "The quick brown fox jumps over the lazy dog and then";
  ll_worker_run_async (w, prompt, 5, NULL, run_cb, &o);
  wait_for (&o);
  g_assert_no_error (o.error);
  g_assert_false (o.from_cache);
  g_assert_false (lens_result_is_partial (o.result));
  int T = o.result->n_tokens, K = o.result->top_k;
  g_assert_cmpint (T, >=, 4);
  g_assert_cmpuint (partials->len, >=, 1);
  for (guint i = 0; i < partials->len; i++)
    {
      const LensResult *part = g_ptr_array_index (partials, i);
      g_assert_true (lens_result_is_partial (part));
      g_assert_cmpstr (part->prompt, ==, prompt);
      g_assert_cmpint (part->n_tokens, ==, T);
      g_assert_cmpint (part->n_ready, <, T);
      g_assert_true (lens_result_pos_ready (part, T - 1));
      g_assert_false (lens_result_pos_ready (part, 0));
      for (int t = 0; t < T; t++)
        if (lens_result_pos_ready (part, t))
          for (int row = 0; row < part->n_rows; row++)
            {
              size_t cell = lens_result_cell_index (part, row, t);
              g_assert_cmpmem (part->top_ids + cell * K, K * sizeof (int32_t),
                               o.result->top_ids + cell * K, K * sizeof (int32_t));
            }
    }
  /* the complete result equals a plain run of the engine */
  g_autoptr (GError) error = NULL;
  LensRunOptions options = {.top_k = 5};
  g_autoptr (LensResult) direct
      = lens_run_prompt (ll_worker_get_model (w), prompt, &options, &error);
  g_assert_no_error (error);
  size_t n = (size_t) direct->n_rows * T;
  for (size_t cell = 0; cell < n; cell++)
    g_assert_cmpint (direct->top_ids[cell * K], ==, o.result->top_ids[cell * K]);
  wait_idle (w);

  /* asked again: the complete result from the cache, no partial results */
  g_ptr_array_set_size (partials, 0);
  Outcome again = {0};
  log.final = &again;
  ll_worker_run_async (w, prompt, 5, NULL, run_cb, &again);
  wait_for (&again);
  g_assert_true (again.from_cache);
  g_assert_true (again.result == o.result);
  g_assert_cmpuint (partials->len, ==, 0);
  wait_idle (w);

  /* a longer prompt: the cached positions are ready in the first partial result already */
  Outcome longer = {0};
  log.final = &longer;
  g_autofree char *extended = g_strconcat (prompt, " ran far away into the woods", NULL);
  ll_worker_run_async (w, extended, 5, NULL, run_cb, &longer);
  wait_for (&longer);
  g_assert_no_error (longer.error);
  g_assert_cmpuint (partials->len, >=, 1);
  const LensResult *first = g_ptr_array_index (partials, 0);
  g_assert_true (lens_result_pos_ready (first, 0) && lens_result_pos_ready (first, T - 2));
  g_assert_cmpint (first->n_ready, >=, T);
  wait_idle (w);

  /* a superseded run's partial results never arrive */
  g_ptr_array_set_size (partials, 0);
  Outcome a = {0}, b = {0};
  log.final = &b;
  ll_worker_run_async (w, "One two three four five six seven eight nine ten eleven", 5, NULL,
                       run_cb, &a);
  ll_worker_run_async (w, "Alpha beta gamma delta epsilon zeta eta theta", 5, NULL, run_cb, &b);
  wait_for (&a);
  wait_for (&b);
  g_assert_error (a.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_no_error (b.error);
  g_assert_cmpuint (partials->len, >=, 1);
  for (guint i = 0; i < partials->len; i++)
    g_assert_cmpstr (((LensResult *) g_ptr_array_index (partials, i))->prompt, ==,
                     "Alpha beta gamma delta epsilon zeta eta theta");
  wait_idle (w);

  outcome_clear (&o);
  outcome_clear (&again);
  outcome_clear (&longer);
  outcome_clear (&a);
  outcome_clear (&b);
}

typedef struct
{
  const Outcome *run; /* the run being counted */
  int n_signals;
  int n_tokens, max_tokens;
  gboolean before_result;
} Tokenized;

static void
tokenized_cb (LlWorker *w, int n_tokens, int max_tokens, gpointer data)
{
  Tokenized *t = data;
  t->n_signals++;
  t->n_tokens = n_tokens;
  t->max_tokens = max_tokens;
  t->before_result = !t->run->done;
}

/* The prompt's token count reaches the main thread before the run's result, also from the cache
 * and for a prompt over the limit (which the message says by how much); never for a superseded
 * run. */
static void
test_prompt_tokenized (void)
{
  g_autoptr (LlWorker) empty = ll_worker_new ();
  g_assert_cmpint (ll_worker_get_max_prompt_tokens (empty), ==, 0);

  g_autoptr (LlWorker) w = loaded_worker ();
  int n_positions = lens_model_config (ll_worker_get_model (w))->n_positions;
  g_assert_cmpint (ll_worker_get_max_prompt_tokens (w), ==, n_positions);
  Outcome o = {0};
  Tokenized t = {.run = &o};
  g_signal_connect (w, "prompt-tokenized", G_CALLBACK (tokenized_cb), &t);

  const char *prompt = "The cat sat\non the mat";
  ll_worker_run_async (w, prompt, 5, NULL, run_cb, &o);
  wait_for (&o);
  g_assert_no_error (o.error);
  g_assert_cmpint (t.n_signals, ==, 1);
  g_assert_true (t.before_result);
  g_assert_cmpint (t.n_tokens, ==, o.result->n_tokens);
  g_assert_cmpint (t.max_tokens, ==, n_positions);
  int n_tokens = o.result->n_tokens;
  outcome_clear (&o);

  ll_worker_run_async (w, prompt, 5, NULL, run_cb, &o);
  wait_for (&o);
  g_assert_true (o.from_cache);
  g_assert_cmpint (t.n_signals, ==, 2);
  g_assert_true (t.before_result);
  g_assert_cmpint (t.n_tokens, ==, n_tokens);
  outcome_clear (&o);

  GString *longer = g_string_new (NULL);
  for (int i = 0; i < n_positions + 3; i++)
    g_string_append (longer, " the");
  ll_worker_run_async (w, longer->str, 5, NULL, run_cb, &o);
  g_string_free (longer, TRUE);
  wait_for (&o);
  g_assert_error (o.error, LENS_ERROR, LENS_ERROR_INPUT);
  g_assert_cmpint (t.n_signals, ==, 3);
  g_assert_true (t.before_result);
  g_assert_cmpint (t.n_tokens, ==, n_positions + 3);
  g_assert_cmpint (t.max_tokens, ==, n_positions);
  g_autofree char *by
      = g_strdup_printf ("is %d tokens long, 3 more than the %d", n_positions + 3, n_positions);
  g_assert_nonnull (strstr (o.error->message, by));
  outcome_clear (&o);
  wait_idle (w);

  Outcome superseded = {0};
  ll_worker_run_async (w, "A prompt nobody waits for", 5, NULL, run_cb, &superseded);
  ll_worker_run_async (w, "Two", 5, NULL, run_cb, &o);
  wait_for (&superseded);
  wait_for (&o);
  g_assert_no_error (o.error);
  g_assert_cmpint (t.n_signals, ==, 4);
  g_assert_cmpint (t.n_tokens, ==, o.result->n_tokens);
  outcome_clear (&superseded);
  outcome_clear (&o);
  wait_idle (w);
}

static void
test_cancel_and_errors (void)
{
  g_autoptr (LlWorker) w = loaded_worker ();
  Outcome o = {0};

  ll_worker_run_async (w, "A prompt that is cancelled", 5, NULL, run_cb, &o);
  ll_worker_cancel (w);
  wait_for (&o);
  g_assert_null (o.result);
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  outcome_clear (&o);

  /* The caller's own cancellable works too. */
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  ll_worker_run_async (w, "Another prompt", 5, cancellable, run_cb, &o);
  g_cancellable_cancel (cancellable);
  wait_for (&o);
  g_assert_null (o.result);
  g_assert_error (o.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  outcome_clear (&o);

  ll_worker_run_async (w, "", 5, NULL, run_cb, &o);
  wait_for (&o);
  g_assert_error (o.error, LENS_ERROR, LENS_ERROR_INPUT);
  outcome_clear (&o);

  /* Too long for the context: the message says how long. */
  int n_positions = lens_model_config (ll_worker_get_model (w))->n_positions;
  GString *longer = g_string_new (NULL);
  for (int i = 0; i <= n_positions; i++)
    g_string_append (longer, " the");
  ll_worker_run_async (w, longer->str, 5, NULL, run_cb, &o);
  g_string_free (longer, TRUE);
  wait_for (&o);
  g_assert_error (o.error, LENS_ERROR, LENS_ERROR_INPUT);
  g_autofree char *count = g_strdup_printf ("%d", n_positions + 1);
  g_assert_nonnull (strstr (o.error->message, count));
  outcome_clear (&o);

  /* Loading a model makes a running request stale. */
  Outcome run = {0}, load = {0};
  ll_worker_run_async (w, "Loading cancels this one", 5, NULL, run_cb, &run);
  ll_worker_load_model_async (w, model_dir, NULL, load_cb, &load);
  wait_for (&run);
  wait_for (&load);
  g_assert_error (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (load.loaded);
  outcome_clear (&run);
  outcome_clear (&load);
  wait_idle (w);

  /* Without a model: an error, not a crash. */
  g_autoptr (LlWorker) empty = ll_worker_new ();
  ll_worker_run_async (empty, "x", 5, NULL, run_cb, &o);
  wait_for (&o);
  g_assert_error (o.error, LENS_ERROR, LENS_ERROR_INPUT);
  outcome_clear (&o);
  wait_idle (empty);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (argc < 2)
    {
      g_printerr ("usage: test-worker MODEL_DIR\n");
      return 2;
    }
  model_dir = argv[1];
  g_test_add_func ("/worker/load", test_load);
  g_test_add_func ("/worker/newer-cancels-older", test_newer_cancels_older);
  g_test_add_func ("/worker/cancel-and-errors", test_cancel_and_errors);
  g_test_add_func ("/worker/progressive", test_progressive);
  g_test_add_func ("/worker/prompt-tokenized", test_prompt_tokenized);
  return g_test_run ();
}
