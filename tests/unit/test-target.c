/* test-target.c: the one target type: the entry's grammar, tokenizing once, reference counting,
 * probabilities equal to the engine's query on a tiny model, and targets read from a file. */
#include "config.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

#include "lens-error.h"
#include "lens-model.h"
#include "lens-results-io.h"
#include "lens-target.h"
#include "lens-tokenizer.h"
#include "tiny-gpt2.h"

static LensModel *model;

static LensResult *
run (const char *prompt)
{
  g_autoptr (GError) error = NULL;
  const int layers[] = {LENS_ROW_EMBEDDINGS, 0, 1, 2};
  LensRunOptions opts = {.layers = layers, .n_layers = 4, .top_k = 5};
  LensResult *r = lens_run_prompt (model, prompt, &opts, &error);
  g_assert_no_error (error);
  g_assert_true (lens_result_has_model (r));
  return r;
}

static void
assert_probs_of_id (const LensResult *r, const LensTarget *t, int32_t id)
{
  size_t cells = (size_t) r->n_rows * r->n_tokens;
  g_autofree float *want = g_new (float, cells); /* (R, T) */
  g_autoptr (GError) error = NULL;
  g_assert_true (lens_result_target_probs (r, id, want, &error));
  g_assert_no_error (error);
  g_assert_cmpint (t->n_rows, ==, r->n_rows);
  g_assert_cmpint (t->n_tokens, ==, r->n_tokens);
  g_assert_cmpmem (t->probs, cells * sizeof (float), want, cells * sizeof (float));
}

static void
test_split (void)
{
  g_auto (GStrv) got = lens_targets_split (" Paris, \"x\" ,Paris,, \"\"");
  const char *want[] = {" Paris", "x", NULL};
  g_assert_true (g_strv_equal ((const char *const *) got, want));
  g_auto (GStrv) none = lens_targets_split (NULL);
  g_assert_cmpint (g_strv_length (none), ==, 0);
}

static void
test_refcount (void)
{
  const int32_t ids[] = {3, 4};
  const float probs[] = {0.25f, NAN, 0.5f, 1.0f, 0.0f, 0.125f}; /* (2, 3) */
  LensTarget *t = lens_target_new (" ab", NULL, 3, ids, 2, probs, 2, 3);
  g_assert_cmpstr (t->text, ==, " ab");
  g_assert_cmpstr (t->label, ==, " ab"); /* no label: the text */
  g_assert_cmpint (t->n_ids, ==, 2);
  g_assert_true (t->ids != ids); /* copied */
  g_assert_cmpmem (t->ids, sizeof ids, ids, sizeof ids);
  g_assert_true (t->probs != probs);
  g_assert_cmpfloat (t->probs[5], ==, 0.125f);
  g_assert_true (isnan (t->probs[1]));

  g_assert_true (lens_target_ref (t) == t);
  g_assert_true (g_atomic_ref_count_compare (&t->ref_count, 2));
  lens_target_unref (t);
  g_assert_true (g_atomic_ref_count_compare (&t->ref_count, 1));
  g_assert_cmpstr (t->text, ==, " ab"); /* still alive for the other holder */
  lens_target_unref (t);
  lens_target_unref (NULL);

  /* A target of no result, and one without ids. */
  g_autoptr (LensTarget) bare = lens_target_new ("x", "X", -1, NULL, 0, NULL, 0, 0);
  g_assert_null (bare->probs);
  g_assert_null (bare->ids);
  g_assert_cmpstr (bare->label, ==, "X");
}

static void
test_compute_live (void)
{
  g_autoptr (LensResult) r = run ("the theory of the thing");
  g_autoptr (GError) error = NULL;

  /* One token: its ids as the tokenizer gives them, the probabilities of the engine's query. */
  g_autoptr (LensTarget) the = lens_target_compute (" the", r, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_assert_true (lens_tokenizer_encode (lens_model_tokenizer (model), " the", -1, ids, NULL));
  g_assert_cmpint (the->n_ids, ==, (int) ids->len);
  g_assert_cmpmem (the->ids, ids->len * sizeof (int32_t), ids->data, ids->len * sizeof (int32_t));
  g_assert_cmpint (the->id, ==, the->ids[0]);
  g_assert_cmpstr (the->text, ==, " the");
  g_assert_cmpstr (the->label, ==, lens_result_token_text (r, the->id));
  assert_probs_of_id (r, the, the->id);

  /* lens_result_target_probs_for_text is the same query with the probabilities copied out. */
  size_t cells = (size_t) r->n_rows * r->n_tokens;
  g_autofree float *copy = g_new (float, cells);
  int32_t first = -1;
  int n_ids = 0;
  g_assert_true (lens_result_target_probs_for_text (r, " the", copy, &first, &n_ids, NULL));
  g_assert_cmpint (first, ==, the->id);
  g_assert_cmpint (n_ids, ==, the->n_ids);
  g_assert_cmpmem (copy, cells * sizeof (float), the->probs, cells * sizeof (float));

  /* Several tokens: all the ids are kept, the first is tracked and labels it. */
  g_autoptr (LensTarget) multi = lens_target_compute (" theory thing", r, &error);
  g_assert_no_error (error);
  g_assert_cmpint (multi->n_ids, >, 1);
  g_assert_cmpint (multi->id, ==, multi->ids[0]);
  g_assert_cmpstr (multi->text, ==, " theory thing");
  g_assert_cmpstr (multi->label, ==, lens_result_token_text (r, multi->ids[0]));
  assert_probs_of_id (r, multi, multi->ids[0]);

  /* The messages the window and the CLI show. */
  g_assert_null (lens_target_compute ("", r, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_assert_cmpstr (error->message, ==, "The target token is empty");
  g_clear_error (&error);
  g_assert_null (lens_target_compute (NULL, r, &error));
  g_assert_cmpstr (error->message, ==, "The target token is empty");
}

/* lens_target_for_result reuses the ids: no second tokenization. Ids that are not the text's
 * tokenization prove it: the probabilities are those of the given ids[0]. */
static void
test_for_result_keeps_ids (void)
{
  g_autoptr (LensResult) a = run ("the theory");
  g_autoptr (LensResult) b = run ("the theory of the thing");
  g_autoptr (GError) error = NULL;
  const int32_t ids[] = {7, 8};
  g_autoptr (LensTarget) given = lens_target_new (" the", NULL, 7, ids, 2, NULL, 0, 0);
  g_autoptr (LensTarget) on_a = lens_target_for_result (given, a, &error);
  g_assert_no_error (error);
  g_autoptr (LensTarget) on_b = lens_target_for_result (on_a, b, &error);
  g_assert_no_error (error);
  g_assert_cmpint (on_b->n_ids, ==, 2);
  g_assert_cmpint (on_b->ids[1], ==, 8);
  g_assert_cmpint (on_b->id, ==, 7);
  g_assert_cmpstr (on_b->text, ==, " the");
  assert_probs_of_id (a, on_a, 7);
  assert_probs_of_id (b, on_b, 7);
  g_assert_cmpint (on_a->n_tokens, <, on_b->n_tokens);

  /* Without ids it tokenizes, as lens_target_compute. */
  g_autoptr (LensTarget) text_only = lens_target_new (" the", NULL, -1, NULL, 0, NULL, 0, 0);
  g_autoptr (LensTarget) computed = lens_target_for_result (text_only, b, &error);
  g_autoptr (LensTarget) direct = lens_target_compute (" the", b, &error);
  g_assert_no_error (error);
  g_assert_cmpint (computed->id, ==, direct->id);
  assert_probs_of_id (b, computed, direct->id);
}

/* Targets read from a results file: ids as the file gives them, id -1, the file's probabilities;
 * a range of the file gets the same target's cells of that range. */
static void
test_from_file (void)
{
  g_autoptr (LensResult) r = run ("the theory of the thing");
  g_autoptr (GError) error = NULL;
  g_autoptr (LensTarget) the = lens_target_compute (" the", r, &error);
  g_assert_no_error (error);
  LensTarget *list[] = {the};
  g_autofree char *json = lens_result_to_json (r, list, 1, FALSE);

  g_autoptr (GPtrArray) file_targets = NULL;
  g_autoptr (LensResult) back
      = lens_results_parse_full (json, strlen (json), "t.json", &file_targets, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (file_targets->len, ==, 1);
  const LensTarget *ft = g_ptr_array_index (file_targets, 0);
  g_assert_cmpstr (ft->text, ==, " the");
  g_assert_cmpstr (ft->label, ==, " the");
  g_assert_cmpint (ft->id, ==, -1);
  g_assert_cmpint (ft->n_ids, ==, the->n_ids);
  g_assert_cmpint (ft->ids[0], ==, the->id);
  size_t cells = (size_t) r->n_rows * r->n_tokens;
  g_assert_cmpmem (ft->probs, cells * sizeof (float), the->probs, cells * sizeof (float));

  /* Written again from the file's target: the same document. */
  g_autoptr (LensTarget) again = lens_target_for_result (ft, back, &error);
  g_assert_no_error (error);
  LensTarget *again_list[] = {again};
  g_autofree char *json2 = lens_result_to_json (back, again_list, 1, FALSE);
  g_assert_cmpstr (json2, ==, json);

  /* On a range: that range's cells, ids kept. */
  g_autoptr (LensResult) range = lens_result_slice (back, 0, back->n_rows, 1, 2, &error);
  g_assert_no_error (error);
  g_autoptr (LensTarget) ranged = lens_target_for_result (ft, range, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ranged->n_tokens, ==, 2);
  g_assert_cmpint (ranged->ids[0], ==, the->id);
  for (int row = 0; row < r->n_rows; row++)
    for (int t = 0; t < 2; t++)
      g_assert_cmpfloat (ranged->probs[lens_result_cell_index (range, row, t)], ==,
                         the->probs[lens_result_cell_index (r, row, t + 1)]);

  /* A text the file did not track. */
  g_assert_null (lens_target_compute (" thing", back, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_assert_cmpstr (error->message, ==, "\" thing\" was not tracked in this results file");
}

/* Threads share one target by reference: no copies, and the last unref frees it. */
static gpointer
read_target (gpointer data)
{
  LensTarget *t = data;
  double sum = 0;
  for (int i = 0; i < t->n_rows * t->n_tokens; i++)
    sum += t->probs[i];
  lens_target_unref (t);
  return GINT_TO_POINTER (sum > 0);
}

static void
test_threads (void)
{
  g_autoptr (LensResult) r = run ("the theory");
  LensTarget *t = lens_target_compute (" the", r, NULL);
  g_assert_nonnull (t);
  GThread *threads[4];
  for (int i = 0; i < 4; i++)
    threads[i] = g_thread_new ("target", read_target, lens_target_ref (t));
  for (int i = 0; i < 4; i++)
    g_assert_true (GPOINTER_TO_INT (g_thread_join (threads[i])));
  g_assert_true (g_atomic_ref_count_compare (&t->ref_count, 1));
  lens_target_unref (t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("target-model-XXXXXX", &error);
  g_assert_no_error (error);
  write_tiny_gpt2 (dir);
  model = lens_model_load (dir, &error);
  g_assert_no_error (error);

  g_test_add_func ("/target/split", test_split);
  g_test_add_func ("/target/refcount", test_refcount);
  g_test_add_func ("/target/compute-live", test_compute_live);
  g_test_add_func ("/target/for-result-keeps-ids", test_for_result_keeps_ids);
  g_test_add_func ("/target/from-file", test_from_file);
  g_test_add_func ("/target/threads", test_threads);
  int status = g_test_run ();

  lens_model_unref (model);
  tiny_gpt2_remove (dir);
  return status;
}
