/* test-results-io.c: results files (our JSON, logitlenskit v1/v2): reading hand-checked files,
 * round trips, every rejection rule with its message, and a generated 1000-token x 80-layer
 * logitlenskit file (about 60 MB) with its parse time. */
#include <math.h>
#include <string.h>
#include <time.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-c/json.h>

#include "lens-error.h"
#include "lens-model.h"
#include "tiny-gpt2.h"
#include "lens-results-io.h"

static char *
data_path (const char *name)
{
  return g_build_filename (TEST_DATA_DIR, "results", name, NULL);
}

static LensResult *
load_data (const char *name, GPtrArray **targets)
{
  g_autofree char *path = data_path (name);
  g_autoptr (GError) error = NULL;
  LensResult *r = lens_results_load_full (path, targets, &error);
  g_assert_no_error (error);
  g_assert_nonnull (r);
  return r;
}

static const char *
top_text (const LensResult *r, int row, int pos, int k)
{
  int32_t id = r->top_ids[lens_result_cell_index (r, row, pos) * r->top_k + k];
  return id < 0 ? NULL : lens_result_token_text (r, id);
}

static float
top_prob (const LensResult *r, int row, int pos, int k)
{
  return r->top_probs[lens_result_cell_index (r, row, pos) * r->top_k + k];
}

static const float *
tracked (const LensResult *r, int pos, const char *text)
{
  g_assert_nonnull (r->tracked);
  g_assert_nonnull (r->tracked[pos]);
  return g_hash_table_lookup (r->tracked[pos], text);
}

/* ---------------------------------------------------------------------------------------- */

static void
test_v2_small (void)
{
  g_autoptr (LensResult) r = load_data ("v2-small.json", NULL);

  g_assert_cmpint (r->n_rows, ==, 3);
  g_assert_cmpint (r->n_tokens, ==, 3);
  g_assert_cmpint (r->top_k, ==, 2);
  g_assert_null (r->model);
  g_assert_null (r->norm_resid);
  g_assert_false (lens_result_has_model (r));
  g_assert_null (r->prompt);
  g_assert_cmpstr (r->model_info.name, ==, "meta-llama/Llama-3.1-70B");
  g_assert_cmpint (r->model_info.vocab_size, ==, 0);
  /* logitlenskit files say nothing of the model's size: unknown. */
  g_assert_cmpint (r->model_info.n_params, ==, 0);
  g_assert_null (r->model_info.dtype);
  g_assert_cmpint (r->model_info.context_length, ==, 0);
  g_assert_cmpint (r->model_info.n_kv_head, ==, 0);

  int layers[] = {0, 40, 79};
  const char *labels[] = {"0", "40", "79"};
  for (int i = 0; i < 3; i++)
    {
      g_assert_cmpint (r->row_layers[i], ==, layers[i]);
      g_assert_cmpstr (r->row_labels[i], ==, labels[i]);
    }
  g_assert_cmpstr (r->token_texts[0], ==, "<|begin_of_text|>");
  g_assert_cmpstr (r->token_texts[1], ==, "The");
  g_assert_cmpstr (r->token_texts[2], ==, " capital");
  for (int t = 0; t < 3; t++)
    g_assert_cmpint (r->token_ids[t], ==, -1);

  /* topk[layer][position], probabilities from tracked[position][token][layer] */
  g_assert_cmpstr (top_text (r, 0, 0, 0), ==, "\n");
  g_assert_cmpfloat (top_prob (r, 0, 0, 0), ==, 0.5f);
  g_assert_cmpstr (top_text (r, 0, 0, 1), ==, " the");
  g_assert_cmpfloat (top_prob (r, 0, 0, 1), ==, 0.25f);
  g_assert_cmpstr (top_text (r, 0, 2, 1), ==, "été");
  g_assert_cmpfloat (top_prob (r, 0, 2, 1), ==, 0.05f);
  g_assert_cmpstr (top_text (r, 1, 0, 0), ==, " the");
  g_assert_cmpfloat (top_prob (r, 1, 0, 0), ==, 0.3f);
  g_assert_cmpstr (top_text (r, 1, 2, 1), ==, " city");
  g_assert_cmpfloat (top_prob (r, 1, 2, 1), ==, 0.02f);
  g_assert_cmpstr (top_text (r, 2, 0, 0), ==, "Question");
  g_assert_cmpfloat (top_prob (r, 2, 0, 0), ==, 0.31f);
  g_assert_cmpstr (top_text (r, 2, 1, 0), ==, " same");
  g_assert_cmpfloat (top_prob (r, 2, 1, 0), ==, 0.45f);
  g_assert_cmpstr (top_text (r, 2, 1, 1), ==, " first");
  g_assert_cmpfloat (top_prob (r, 2, 1, 1), ==, 0.1f);
  /* Same string, same id (the local vocabulary interns strings). */
  g_assert_cmpint (r->top_ids[lens_result_cell_index (r, 0, 0) * 2 + 1], ==,
                   r->top_ids[lens_result_cell_index (r, 1, 0) * 2 + 0]);

  for (int c = 0; c < 9; c++)
    {
      g_assert_true (isnan (r->entropy[c]));
      g_assert_true (isnan (r->log_z[c]));
    }

  /* Tracked tokens: the line plot of any of them at a position. */
  const float *q = tracked (r, 0, "Question");
  g_assert_nonnull (q);
  g_assert_cmpfloat (q[0], ==, 0.0f);
  g_assert_cmpfloat (q[1], ==, 0.01f);
  g_assert_cmpfloat (q[2], ==, 0.31f);
  g_assert_null (tracked (r, 1, "Question"));
  g_assert_cmpuint (g_hash_table_size (r->tracked[2]), ==, 3);

  float probs[9];
  int32_t first_id = 0;
  int n_ids = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (lens_result_target_probs_for_text (r, " same", probs, &first_id, &n_ids, &error));
  g_assert_no_error (error);
  g_assert_true (isnan (probs[lens_result_cell_index (r, 0, 0)]));
  g_assert_cmpfloat (probs[lens_result_cell_index (r, 2, 1)], ==, 0.45f);
}

static void
test_v1_small (void)
{
  g_autoptr (LensResult) r = load_data ("v1-small.json", NULL);

  g_assert_cmpint (r->n_rows, ==, 3);
  g_assert_cmpint (r->n_tokens, ==, 2);
  g_assert_cmpint (r->top_k, ==, 3);
  g_assert_null (r->model_info.name);
  g_assert_cmpstr (r->token_texts[1], ==, " quick");
  g_assert_cmpstr (r->row_labels[2], ==, "2");

  /* cells[position][layer] */
  g_assert_cmpstr (top_text (r, 0, 0, 0), ==, " the");
  g_assert_cmpfloat (top_prob (r, 0, 0, 0), ==, 0.4f);
  g_assert_cmpstr (top_text (r, 0, 0, 1), ==, " a");
  g_assert_cmpfloat (top_prob (r, 0, 0, 1), ==, 0.2f);
  g_assert_null (top_text (r, 0, 0, 2));
  g_assert_true (isnan (top_prob (r, 0, 0, 2)));
  g_assert_cmpstr (top_text (r, 2, 0, 2), ==, " brown");
  g_assert_cmpfloat (top_prob (r, 2, 0, 2), ==, 0.05f);
  g_assert_cmpstr (top_text (r, 1, 1, 0), ==, " fox");
  g_assert_cmpfloat (top_prob (r, 1, 1, 0), ==, 0.6f);
  /* A cell without "topk": its token and prob are the top-1. */
  g_assert_cmpstr (top_text (r, 2, 1, 0), ==, " fox");
  g_assert_cmpfloat (top_prob (r, 2, 1, 0), ==, 0.9f);
  g_assert_null (top_text (r, 2, 1, 1));

  const float *a = tracked (r, 0, " a");
  g_assert_nonnull (a);
  g_assert_cmpfloat (a[0], ==, 0.2f);
  g_assert_cmpfloat (a[1], ==, 0.25f);
  g_assert_cmpfloat (a[2], ==, 0.3f);
  g_assert_nonnull (tracked (r, 0, " brown"));
  g_assert_cmpuint (g_hash_table_size (r->tracked[0]), ==, 3);
  g_assert_cmpuint (g_hash_table_size (r->tracked[1]), ==, 1);
}

static void
test_own_small (void)
{
  g_autoptr (GPtrArray) targets = NULL;
  g_autoptr (LensResult) r = load_data ("own-small.json", &targets);

  g_assert_cmpint (r->n_rows, ==, 3);
  g_assert_cmpint (r->n_tokens, ==, 2);
  g_assert_cmpint (r->top_k, ==, 2);
  g_assert_cmpstr (r->prompt, ==, "The Eiffel");
  g_assert_cmpstr (r->model_info.path, ==, "/models/gpt2");
  g_assert_cmpstr (r->model_info.name, ==, "gpt2");
  g_assert_cmpstr (r->model_info.architecture, ==, "gpt2");
  g_assert_cmpint (r->model_info.n_layer, ==, 12);
  g_assert_cmpint (r->model_info.d_model, ==, 768);
  g_assert_cmpint (r->model_info.n_head, ==, 12);
  g_assert_cmpint (r->model_info.vocab_size, ==, 50257);
  /* Written before n_params, dtype, context_length and n_kv_head existed: unknown, not an error. */
  g_assert_cmpint (r->model_info.n_params, ==, 0);
  g_assert_null (r->model_info.dtype);
  g_assert_cmpint (r->model_info.context_length, ==, 0);
  g_assert_cmpint (r->model_info.n_kv_head, ==, 0);
  g_assert_cmpint (r->token_ids[0], ==, 464);
  g_assert_cmpint (r->token_ids[1], ==, 412);
  g_assert_cmpstr (r->token_texts[1], ==, " E");
  g_assert_cmpint (r->row_layers[0], ==, LENS_ROW_EMBEDDINGS);
  g_assert_cmpstr (r->row_labels[0], ==, "embed");
  g_assert_cmpint (r->row_layers[2], ==, 11);

  /* Real ids are kept (the vocabulary size is known). */
  g_assert_cmpint (r->top_ids[lens_result_cell_index (r, 1, 1) * 2 + 1], ==, 6342);
  g_assert_cmpstr (top_text (r, 1, 1, 1), ==, " Paris");
  g_assert_cmpfloat (top_prob (r, 0, 0, 0), ==, 0.123456789f);
  g_assert_cmpfloat (top_prob (r, 2, 0, 0), ==, 1e-05f);
  g_assert_null (top_text (r, 0, 1, 1));
  g_assert_cmpfloat (r->entropy[lens_result_cell_index (r, 1, 0)], ==, 4.25f);
  g_assert_cmpfloat (r->log_z[lens_result_cell_index (r, 0, 0)], ==, 12.25f);
  g_assert_true (isnan (r->log_z[lens_result_cell_index (r, 0, 1)]));

  g_assert_nonnull (targets);
  g_assert_cmpuint (targets->len, ==, 1);
  const LensTarget *ft = g_ptr_array_index (targets, 0);
  g_assert_cmpstr (ft->text, ==, " Paris");
  g_assert_cmpint (ft->n_ids, ==, 1);
  g_assert_cmpint (ft->ids[0], ==, 6342);
  const float *p0 = tracked (r, 0, " Paris"), *p1 = tracked (r, 1, " Paris");
  g_assert_cmpfloat (p0[0], ==, 0.001f);
  g_assert_cmpfloat (p0[1], ==, 0.003f);
  g_assert_true (isnan (p0[2]));
  g_assert_cmpfloat (p1[2], ==, 0.015625f);
}

/* ---------------------------------------------------------------------------------------- */
/* Results made by hand (as the lens would), written and read back                         */

/* A result like a live run's (real ids, entropy, log_z) but without a model: R=4 (embed + 3
 * blocks), T=5, K=3, over a vocabulary of 40 made-up token strings. */
static LensResult *
make_result (void)
{
  int R = 4, T = 5, K = 3, V = 40;
  LensResult *r = lens_result_new_empty (R, T, K);
  r->prompt = g_strdup ("Tab\there, \"quoted\" \\ ünïcödé 🙂");
  r->model_info.name = g_strdup ("hand-made");
  r->model_info.path = g_strdup ("/tmp/hand-made");
  r->model_info.architecture = g_strdup ("gpt2");
  r->model_info.n_layer = 3;
  r->model_info.d_model = 16;
  r->model_info.n_head = 2;
  r->model_info.vocab_size = V;
  r->model_info.n_kv_head = 1;
  r->model_info.context_length = 64;
  /* Above 2^32, to see that the count is not squeezed through an int. */
  r->model_info.n_params = G_GINT64_CONSTANT (70553706496);
  r->model_info.dtype = g_strdup ("BF16");
  r->n_vocab_texts = V;
  r->vocab_texts = g_new0 (char *, V);
  for (int v = 0; v < V; v++)
    r->vocab_texts[v] = v == 7   ? g_strdup ("\\xe2\\x80")
                        : v == 8 ? g_strdup ("\n")
                                 : g_strdup_printf (" tok%d", v);
  for (int t = 0; t < T; t++)
    {
      r->token_ids[t] = 3 * t + 1;
      g_free (r->token_texts[t]);
      r->token_texts[t] = g_strdup (r->vocab_texts[3 * t + 1]);
    }
  for (int i = 0; i < R; i++)
    {
      r->row_layers[i] = i == 0 ? LENS_ROW_EMBEDDINGS : i - 1;
      g_free (r->row_labels[i]);
      r->row_labels[i] = i == 0 ? g_strdup ("embed") : g_strdup_printf ("%d", i - 1);
    }
  GRand *rng = g_rand_new_with_seed (42);
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        size_t c = lens_result_cell_index (r, row, t);
        float left = 1.0f;
        int n = (row == 2 && t == 3) ? 2 : K; /* one cell with fewer valid entries */
        for (int k = 0; k < n; k++)
          {
            int32_t id;
            gboolean dup;
            do
              {
                id = g_rand_int_range (rng, 0, V);
                dup = FALSE;
                for (int q = 0; q < k; q++)
                  dup |= r->top_ids[c * K + q] == id;
              }
            while (dup);
            r->top_ids[c * K + k] = id;
            left *= (float) g_rand_double_range (rng, 0.2, 0.6);
            r->top_probs[c * K + k] = left;
          }
        r->entropy[c] = (float) g_rand_double_range (rng, 0.1, 5.0);
        r->log_z[c] = (float) g_rand_double_range (rng, -3.0, 30.0);
      }
  g_rand_free (rng);
  return r;
}

/* Fills r->tracked with a trajectory for every top-k token (as an imported v2 file has). */
static void
add_trajectories (LensResult *r)
{
  int R = r->n_rows, T = r->n_tokens, K = r->top_k;
  r->tracked = g_new0 (GHashTable *, T);
  for (int t = 0; t < T; t++)
    {
      r->tracked[t] = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      for (int row = 0; row < R; row++)
        for (int k = 0; k < K; k++)
          {
            int32_t id = r->top_ids[lens_result_cell_index (r, row, t) * K + k];
            if (id < 0 || g_hash_table_contains (r->tracked[t], r->vocab_texts[id]))
              continue;
            float *traj = g_new (float, R);
            for (int q = 0; q < R; q++)
              traj[q] = 0.001f * (float) (id + 1) + 0.0001f * (float) q; /* < every top prob */
            /* Where the token is in the top-k, its trajectory is its top-k probability. */
            for (int q = 0; q < R; q++)
              for (int kk = 0; kk < K; kk++)
                if (r->top_ids[lens_result_cell_index (r, q, t) * K + kk] == id)
                  traj[q] = r->top_probs[lens_result_cell_index (r, q, t) * K + kk];
            g_hash_table_insert (r->tracked[t], g_strdup (r->vocab_texts[id]), traj);
          }
    }
}

static void
assert_same_cells (const LensResult *a, const LensResult *b, double tol)
{
  g_assert_cmpint (a->n_rows, ==, b->n_rows);
  g_assert_cmpint (a->n_tokens, ==, b->n_tokens);
  for (int t = 0; t < a->n_tokens; t++)
    g_assert_cmpstr (a->token_texts[t], ==, b->token_texts[t]);
  for (int row = 0; row < a->n_rows; row++)
    {
      g_assert_cmpint (a->row_layers[row], ==, b->row_layers[row]);
      g_assert_cmpstr (a->row_labels[row], ==, b->row_labels[row]);
    }
  for (int row = 0; row < a->n_rows; row++)
    for (int t = 0; t < a->n_tokens; t++)
      for (int k = 0; k < MAX (a->top_k, b->top_k); k++)
        {
          const char *ta = k < a->top_k ? top_text (a, row, t, k) : NULL;
          const char *tb = k < b->top_k ? top_text (b, row, t, k) : NULL;
          g_assert_cmpstr (ta, ==, tb);
          if (ta != NULL)
            g_assert_cmpfloat (fabs (top_prob (a, row, t, k) - top_prob (b, row, t, k)), <=, tol);
        }
}

static void
test_own_round_trip (void)
{
  g_autoptr (LensResult) r = make_result ();
  int R = r->n_rows, T = r->n_tokens;
  g_autofree float *paris = g_new (float, (R * T));
  for (int c = 0; c < R * T; c++)
    paris[c] = c == 3 ? NAN : 1.0f / (float) (c + 3);
  int32_t paris_ids[] = {6, 9};
  g_autoptr (LensTarget) tg_0
      = lens_target_new (" Par is", NULL, -1, paris_ids, 2, paris, r->n_rows, r->n_tokens);
  LensTarget *tg[] = {tg_0};

  for (int pretty = 0; pretty <= 1; pretty++)
    {
      g_autofree char *json = lens_result_to_json (r, tg, 1, pretty);
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) names = NULL;
      g_autoptr (LensResult) back
          = lens_results_parse_full (json, strlen (json), "round-trip.json", &names, &error);
      g_assert_no_error (error);
      g_assert_nonnull (back);

      /* %.9g round-trips floats exactly. */
      assert_same_cells (r, back, 0.0);
      g_assert_cmpint (back->top_k, ==, r->top_k);
      g_assert_cmpmem (back->top_ids, R * T * r->top_k * 4, r->top_ids, R * T * r->top_k * 4);
      g_assert_cmpmem (back->entropy, R * T * 4, r->entropy, R * T * 4);
      g_assert_cmpmem (back->log_z, R * T * 4, r->log_z, R * T * 4);
      g_assert_cmpmem (back->token_ids, T * 4, r->token_ids, T * 4);
      g_assert_cmpstr (back->prompt, ==, r->prompt);
      g_assert_cmpstr (back->model_info.name, ==, "hand-made");
      g_assert_cmpint (back->model_info.vocab_size, ==, 40);
      g_assert_cmpint (back->model_info.n_kv_head, ==, 1);
      g_assert_cmpint (back->model_info.context_length, ==, 64);
      g_assert_cmpint (back->model_info.n_params, ==, G_GINT64_CONSTANT (70553706496));
      g_assert_cmpstr (back->model_info.dtype, ==, "BF16");
      g_assert_cmpstr (lens_result_token_text (back, 7), ==, "\\xe2\\x80");
      g_assert_cmpuint (names->len, ==, 1);
      const LensTarget *ft = g_ptr_array_index (names, 0);
      g_assert_cmpstr (ft->text, ==, " Par is");
      g_assert_cmpint (ft->n_ids, ==, 2);
      g_assert_cmpint (ft->ids[0], ==, 6);
      g_assert_cmpint (ft->ids[1], ==, 9);
      for (int row = 0; row < R; row++)
        for (int t = 0; t < T; t++)
          {
            float want = paris[row * T + t], got = tracked (back, t, " Par is")[row];
            if (isnan (want))
              g_assert_true (isnan (got));
            else
              g_assert_cmpfloat (got, ==, want);
          }

      /* Writing the re-read result with the same target gives the same bytes. */
      g_autofree float *paris2 = g_new (float, (R * T));
      g_assert_true (lens_result_target_probs_for_text (back, " Par is", paris2, NULL, NULL, NULL));
      g_autoptr (LensTarget) tg2_0
          = lens_target_new (" Par is", NULL, -1, paris_ids, 2, paris2, r->n_rows, r->n_tokens);
      LensTarget *tg2[] = {tg2_0};
      g_autofree char *json2 = lens_result_to_json (back, tg2, 1, pretty);
      g_assert_cmpstr (json2, ==, json);
    }
}

/* The --json contract of the core engine issue, checked with json-c (an independent parser). */
static void
test_json_shape (void)
{
  g_autoptr (LensResult) r = make_result ();
  int R = r->n_rows, T = r->n_tokens;
  g_autofree float *probs = g_new (float, (R * T));
  for (int c = 0; c < R * T; c++)
    probs[c] = 0.5f / (float) (c + 1);
  int32_t ids[] = {6};
  g_autoptr (LensTarget) tg_0
      = lens_target_new (" tok6", NULL, -1, ids, 1, probs, r->n_rows, r->n_tokens);
  LensTarget *tg[] = {tg_0};
  g_autofree char *json = lens_result_to_json (r, tg, 1, FALSE);

  json_object *doc = json_tokener_parse (json);
  g_assert_nonnull (doc);
  json_object *v, *model, *tokens, *layers, *cells, *targets;
  g_assert_true (json_object_object_get_ex (doc, "format", &v));
  g_assert_cmpstr (json_object_get_string (v), ==, "logit-lens-results");
  g_assert_true (json_object_object_get_ex (doc, "model", &model));
  const char *mkeys[]
      = {"path", "architecture", "n_layer",        "d_model",  "n_head", "vocab_size",
         "name", "n_kv_head",    "context_length", "n_params", "dtype"};
  for (guint i = 0; i < G_N_ELEMENTS (mkeys); i++)
    g_assert_true (json_object_object_get_ex (model, mkeys[i], NULL));
  json_object_object_get_ex (model, "n_params", &v);
  g_assert_cmpint (json_object_get_int64 (v), ==, G_GINT64_CONSTANT (70553706496));
  json_object_object_get_ex (model, "dtype", &v);
  g_assert_cmpstr (json_object_get_string (v), ==, "BF16");
  json_object_object_get_ex (model, "context_length", &v);
  g_assert_cmpint (json_object_get_int (v), ==, 64);
  json_object_object_get_ex (model, "n_kv_head", &v);
  g_assert_cmpint (json_object_get_int (v), ==, 1);
  json_object_object_get_ex (model, "n_layer", &v);
  g_assert_cmpint (json_object_get_int (v), ==, 3);
  json_object_object_get_ex (model, "architecture", &v);
  g_assert_cmpstr (json_object_get_string (v), ==, "gpt2");
  g_assert_true (json_object_object_get_ex (doc, "prompt", &v));
  g_assert_cmpstr (json_object_get_string (v), ==, r->prompt);

  g_assert_true (json_object_object_get_ex (doc, "tokens", &tokens));
  g_assert_cmpuint (json_object_array_length (tokens), ==, T);
  json_object *tok0 = json_object_array_get_idx (tokens, 0);
  json_object_object_get_ex (tok0, "id", &v);
  g_assert_cmpint (json_object_get_int (v), ==, 1);
  json_object_object_get_ex (tok0, "text", &v);
  g_assert_cmpstr (json_object_get_string (v), ==, " tok1");

  g_assert_true (json_object_object_get_ex (doc, "layers", &layers));
  g_assert_cmpuint (json_object_array_length (layers), ==, R);
  g_assert_true (json_object_is_type (json_object_array_get_idx (layers, 0), json_type_string));
  g_assert_cmpstr (json_object_get_string (json_object_array_get_idx (layers, 0)), ==, "embed");
  g_assert_true (json_object_is_type (json_object_array_get_idx (layers, 1), json_type_int));
  g_assert_cmpint (json_object_get_int (json_object_array_get_idx (layers, 3)), ==, 2);

  g_assert_true (json_object_object_get_ex (doc, "cells", &cells));
  g_assert_cmpuint (json_object_array_length (cells), ==, R);
  for (int row = 0; row < R; row++)
    {
      json_object *rowv = json_object_array_get_idx (cells, row);
      g_assert_cmpuint (json_object_array_length (rowv), ==, T);
      for (int t = 0; t < T; t++)
        {
          json_object *cell = json_object_array_get_idx (rowv, t), *top, *ent;
          g_assert_true (json_object_object_get_ex (cell, "top", &top));
          g_assert_true (json_object_object_get_ex (cell, "entropy", &ent));
          g_assert_cmpfloat_with_epsilon (json_object_get_double (ent),
                                          r->entropy[lens_result_cell_index (r, row, t)], 1e-6);
          size_t n = json_object_array_length (top);
          g_assert_cmpuint (n, ==, (row == 2 && t == 3) ? 2 : 3);
          double prev = 2.0;
          for (size_t k = 0; k < n; k++)
            {
              json_object *e = json_object_array_get_idx (top, k), *id, *text, *prob;
              g_assert_true (json_object_object_get_ex (e, "id", &id));
              g_assert_true (json_object_object_get_ex (e, "text", &text));
              g_assert_true (json_object_object_get_ex (e, "prob", &prob));
              g_assert_cmpint (json_object_get_int (id), ==,
                               r->top_ids[lens_result_cell_index (r, row, t) * 3 + k]);
              g_assert_cmpstr (json_object_get_string (text), ==,
                               r->vocab_texts[json_object_get_int (id)]);
              double p = json_object_get_double (prob);
              /* At least 6 significant digits: the float itself comes back. */
              g_assert_cmpfloat ((float) p, ==, top_prob (r, row, t, k));
              g_assert_cmpfloat (p, <=, prev);
              prev = p;
            }
        }
    }

  g_assert_true (json_object_object_get_ex (doc, "targets", &targets));
  g_assert_cmpuint (json_object_array_length (targets), ==, 1);
  json_object *t0 = json_object_array_get_idx (targets, 0), *prob;
  json_object_object_get_ex (t0, "text", &v);
  g_assert_cmpstr (json_object_get_string (v), ==, " tok6");
  json_object_object_get_ex (t0, "ids", &v);
  g_assert_cmpuint (json_object_array_length (v), ==, 1);
  g_assert_cmpint (json_object_get_int (json_object_array_get_idx (v, 0)), ==, 6);
  json_object_object_get_ex (t0, "prob", &prob);
  g_assert_cmpuint (json_object_array_length (prob), ==, R);
  json_object *row2 = json_object_array_get_idx (prob, 2);
  g_assert_cmpuint (json_object_array_length (row2), ==, T);
  g_assert_cmpfloat ((float) json_object_get_double (json_object_array_get_idx (row2, 4)), ==,
                     probs[2 * T + 4]);
  json_object_put (doc);

  /* Pretty output is the same document. */
  g_autofree char *pretty = lens_result_to_json (r, tg, 1, TRUE);
  json_object *a = json_tokener_parse (json), *b = json_tokener_parse (pretty);
  g_assert_nonnull (b);
  g_assert_true (json_object_equal (a, b));
  g_assert_nonnull (strchr (pretty, '\n'));
  json_object_put (a);
  json_object_put (b);
}

static void
test_v2_round_trip (void)
{
  g_autoptr (LensResult) r = make_result ();
  add_trajectories (r);
  int R = r->n_rows, T = r->n_tokens;
  g_autofree float *tp = g_new (float, (R * T));
  for (int c = 0; c < R * T; c++)
    tp[c] = c == 0 ? 0.123455f : 0.0001f * (float) c;
  g_autoptr (LensTarget) tg_0
      = lens_target_new (" target", NULL, -1, NULL, 0, tp, r->n_rows, r->n_tokens);
  g_autoptr (LensTarget) tg_1
      = lens_target_new (" tok3", NULL, -1, NULL, 0, tp, r->n_rows, r->n_tokens);
  LensTarget *tg[] = {tg_0, tg_1};

  g_autoptr (GError) error = NULL;
  g_autofree char *json = lens_result_to_logitlenskit_json (r, tg, 2, &error);
  g_assert_no_error (error);
  g_assert_nonnull (json);

  /* An independent reader sees logitlenskit's shape. */
  json_object *doc = json_tokener_parse (json), *meta, *v, *tr, *topk, *ent;
  g_assert_nonnull (doc);
  g_assert_true (json_object_object_get_ex (doc, "meta", &meta));
  json_object_object_get_ex (meta, "version", &v);
  g_assert_cmpint (json_object_get_int (v), ==, 2);
  g_assert_true (json_object_object_get_ex (meta, "timestamp", &v));
  json_object_object_get_ex (meta, "model", &v);
  g_assert_cmpstr (json_object_get_string (v), ==, "hand-made");
  json_object_object_get_ex (doc, "layers", &v);
  g_assert_cmpint (json_object_get_int (json_object_array_get_idx (v, 0)), ==, -1);
  g_assert_cmpint (json_object_get_int (json_object_array_get_idx (v, 1)), ==, 0);
  json_object_object_get_ex (doc, "input", &v);
  g_assert_cmpuint (json_object_array_length (v), ==, T);
  g_assert_true (json_object_object_get_ex (doc, "topk", &topk));
  g_assert_cmpuint (json_object_array_length (topk), ==, R);
  g_assert_true (json_object_object_get_ex (doc, "entropy", &ent));
  g_assert_true (json_object_object_get_ex (doc, "tracked", &tr));
  g_assert_cmpuint (json_object_array_length (tr), ==, T);
  for (int t = 0; t < T; t++)
    {
      json_object *pos = json_object_array_get_idx (tr, t), *traj;
      /* Every top-k token of the position plus the targets, every value rounded. */
      g_assert_cmpuint (json_object_object_length (pos), ==,
                        g_hash_table_size (r->tracked[t]) + 1
                            + !g_hash_table_contains (r->tracked[t], " tok3"));
      g_assert_true (json_object_object_get_ex (pos, " target", &traj));
      g_assert_cmpuint (json_object_array_length (traj), ==, R);
      for (int row = 0; row < R; row++)
        {
          double x = json_object_get_double (json_object_array_get_idx (traj, row));
          char buf[64];
          g_ascii_formatd (buf, sizeof buf, "%.5f", tp[row * T + t]);
          g_assert_cmpfloat (x, ==, g_ascii_strtod (buf, NULL));
        }
    }
  /* 0.123455f is 0.12345500290393829...: rounds up, as Python's round(p, 5) does. */
  json_object *traj0;
  json_object_object_get_ex (json_object_array_get_idx (tr, 0), " target", &traj0);
  g_assert_cmpfloat (json_object_get_double (json_object_array_get_idx (traj0, 0)), ==, 0.12346);
  json_object_put (doc);

  g_autoptr (LensResult) back = lens_results_parse (json, strlen (json), "export.json", &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  assert_same_cells (r, back, 5.0001e-6);
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        size_t c = lens_result_cell_index (r, row, t);
        g_assert_cmpfloat_with_epsilon (back->entropy[c], r->entropy[c], 5.0001e-6);
      }
  float probs[4 * 5];
  g_assert_true (lens_result_target_probs_for_text (back, " target", probs, NULL, NULL, &error));
  g_assert_no_error (error);
  for (int c = 0; c < R * T; c++)
    g_assert_cmpfloat_with_epsilon (probs[c], tp[c], 5.0001e-6);

  /* Exporting the import again gives the same data (the timestamp aside). */
  g_autofree char *json2 = lens_result_to_logitlenskit_json (back, tg, 2, &error);
  g_assert_no_error (error);
  json_object *a = json_tokener_parse (json), *b = json_tokener_parse (json2);
  json_object_object_del (a, "meta");
  json_object_object_del (b, "meta");
  g_assert_true (json_object_equal (a, b));
  json_object_put (a);
  json_object_put (b);
}

/* Results from our own format carry no trajectories for top-k tokens, so they cannot become
 * logitlenskit JSON; the error says why. Our own JSON is still fine. */
static void
test_v2_export_needs_trajectories (void)
{
  g_autoptr (LensResult) r = load_data ("own-small.json", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *json = lens_result_to_logitlenskit_json (r, NULL, 0, &error);
  g_assert_null (json);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_assert_cmpstr (error->message, ==,
                   "Cannot write logitlenskit JSON: the probability of \"The\" at token 0 is only "
                   "known where it is in the top-k (these results were opened from a file "
                   "without it); open the model and run the prompt again");
  g_autofree char *own = lens_result_to_json (r, NULL, 0, TRUE);
  g_assert_nonnull (own);
}

/* A target an imported file tracked at some positions only is exported where it is known and
 * left out elsewhere (logitlenskit has no "unknown"); the export reads back. */
static void
test_v2_export_partial_target (void)
{
  g_autoptr (LensResult) r = load_data ("v2-small.json", NULL);
  g_autoptr (GError) error = NULL;
  float probs[3 * 3];
  g_assert_true (lens_result_target_probs_for_text (r, " city", probs, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (isnan (probs[lens_result_cell_index (r, 0, 0)]));
  g_autoptr (LensTarget) tg_0
      = lens_target_new (" city", NULL, -1, NULL, 0, probs, r->n_rows, r->n_tokens);
  LensTarget *tg[] = {tg_0};
  g_autofree char *json = lens_result_to_logitlenskit_json (r, tg, 1, &error);
  g_assert_no_error (error);
  g_assert_null (strstr (json, "null"));
  g_autoptr (LensResult) back = lens_results_parse (json, strlen (json), "partial.json", &error);
  g_assert_no_error (error);
  float back_probs[3 * 3];
  g_assert_true (lens_result_target_probs_for_text (back, " city", back_probs, NULL, NULL, &error));
  for (int c = 0; c < 9; c++)
    g_assert_true (isnan (probs[c]) ? isnan (back_probs[c])
                                    : fabsf (probs[c] - back_probs[c]) < 1e-5f);
}

/* Imported logitlenskit results written as our JSON and read back: ids are local, so null. */
static void
test_v2_to_own (void)
{
  g_autoptr (LensResult) r = load_data ("v2-small.json", NULL);
  g_autofree char *json = lens_result_to_json (r, NULL, 0, FALSE);
  g_assert_nonnull (strstr (json, "\"id\":null,\"text\":\"\\n\",\"prob\":0.5}"));
  g_autoptr (GError) error = NULL;
  g_autoptr (LensResult) back = lens_results_parse (json, strlen (json), "again.json", &error);
  g_assert_no_error (error);
  assert_same_cells (r, back, 0.0);
  g_assert_cmpstr (back->model_info.name, ==, "meta-llama/Llama-3.1-70B");
}

/* ---------------------------------------------------------------------------------------- */
/* Rejections: one clear message naming what and where                                      */

typedef struct
{
  const char *json;
  const char *message; /* the whole message after "bad.json: " */
} Bad;

/* Valid v2 skeleton pieces for the mutations below. */
#define META "\"meta\": {\"version\": 2, \"timestamp\": \"x\"}"
#define V2(layers, input, tracked, topk)                                                           \
  "{" META ", \"layers\": " layers ", \"input\": " input ", \"tracked\": " tracked                 \
  ", \"topk\": " topk "}"

static const Bad bad_cases[] = {
    /* not JSON, empty, wrong top level */
    {"hello", "invalid JSON at line 1, column 1: this is not JSON"},
    {"  \n ", "the file contains no JSON value"},
    {"[1, 2]", "the JSON is an array, expected an object (a results file)"},
    {"{}", "not a logit lens results file: expected \"format\": \"logit-lens-results\", or "
           "logitlenskit widget JSON (\"meta\", \"tracked\", \"topk\" or \"cells\")"},
    {"{\"a\": 1} x", "invalid JSON at line 1, column 10: unexpected data after the JSON object"},
    {"{\"a\": 1,}", "invalid JSON at line 1, column 9: a trailing comma"},
    /* NaN is read (Python writes it into logitlenskit files), Infinity is not */
    {"{\"a\": Infinity}",
     "invalid JSON at line 1, column 7: NaN and Infinity are not JSON numbers"},
    {"{\"a\": [-Infinity]}", "invalid JSON at line 1, column 8: NaN and Infinity are not JSON "
                             "numbers"},
    {"{\"a\": nul}", "invalid JSON at line 1, column 7: expected a value"},
    {"{\"a\": [01]}", "invalid JSON at line 1, column 9: a number with a leading zero"},
    {"{\"a\": \"x\ny\"}",
     "invalid JSON at line 1, column 9: control character in a string (it must "
     "be escaped)"},
    {"{\"a\": \"\xC3\x28\"}", "invalid JSON at line 1, column 8: invalid UTF-8 in a string"},
    {"{\"a\": \"\xED\xA0\x80\"}", "invalid JSON at line 1, column 8: invalid UTF-8 in a string"},
    {"{\"a\": \"\\ud800x\"}",
     "invalid JSON at line 1, column 8: unpaired UTF-16 surrogate in a \\u "
     "escape"},
    {"{\"a\": 1,\n \"a\": 2}", "invalid JSON at line 2, column 2: a duplicate key in an object"},
    {"{\"a\": {\"b\": 1, \"b\": 2}}", "invalid JSON at line 1, column 16: a duplicate key in an "
                                      "object"},
    {"{\"a\": 1e999}", "invalid JSON at line 1, column 7: a number too large for a double"},
    /* wrong versions */
    {"{\"meta\": {\"version\": 3}, \"layers\": [0], \"input\": [\"a\"], \"tracked\": [{}], "
     "\"topk\": [[[]]]}",
     "meta.version is 3, expected 2 (logitlenskit widget JSON versions 1 and 2 can be read)"},
    {"{\"meta\": {\"version\": \"2\"}, \"tracked\": [], \"topk\": []}",
     "meta.version is a string, expected a version number"},
    {"{\"meta\": {}, \"tracked\": [], \"topk\": []}", "meta has no \"version\""},
    {"{\"tracked\": [], \"topk\": []}",
     "there is no \"meta\" (required in logitlenskit JSON version 2)"},
    {"{\"format\": \"logit-lens-results\", \"version\": 2, \"tokens\": [], \"layers\": [], "
     "\"cells\": []}",
     "version 2 of the logit-lens-results format is not supported (this program reads version 1)"},
    {"{\"format\": \"other\"}", "format is \"other\", expected \"logit-lens-results\""},

    /* missing members, empty inputs */
    {"{" META ", \"layers\": [0], \"input\": [\"a\"], \"tracked\": [{}]}",
     "there is no \"topk\" (required in logitlenskit JSON version 2)"},
    {V2 ("[]", "[\"a\"]", "[{}]", "[]"), "layers is empty"},
    {V2 ("[0]", "[]", "[]", "[[]]"), "input is empty"},
    {V2 ("[0]", "[\"a\"]", "[{}]", "[[[]]]"), "no cell has any top-k tokens"},

    /* inconsistent lengths */
    {V2 ("[0, 1, 2]", "[\"a\", \"b\"]",
         "[{\" x\": [0.1, 0.2, 0.3]}, {\" the\": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, "
         "1, 1]}]",
         "[]"),
     "tracked[1][\" the\"] has 12 values, layers has 3"},
    {V2 ("[0]", "[\"a\", \"b\"]", "[{\" x\": [0.1]}]", "[]"), "tracked has 1 entries, input has 2 "
                                                              "tokens"},
    {V2 ("[0, 1]", "[\"a\"]", "[{\" x\": [0.1, 0.2]}]", "[[[\" x\"]]]"),
     "topk has 1 entries, layers has 2"},
    {V2 ("[0]", "[\"a\", \"b\"]", "[{\" x\": [0.1]}, {}]", "[[[\" x\"]]]"),
     "topk[0] has 1 entries, input has 2 tokens"},
    {"{\"layers\": [0, 1], \"tokens\": [\"a\"], \"cells\": [[{\"token\": \" x\", \"prob\": 0.5}]]}",
     "cells[0] has 1 entries, layers has 2"},
    {"{\"layers\": [0], \"tokens\": [\"a\", \"b\"], \"cells\": [[{\"token\": \" x\", \"prob\": "
     "0.5}]]}",
     "cells has 1 entries, tokens has 2"},
    {"{\"layers\": [0, 1], \"tokens\": [\"a\"], \"cells\": [[{\"token\": \" x\", \"prob\": 0.5, "
     "\"trajectory\": [0.5]}, {\"token\": \" x\", \"prob\": 0.5}]]}",
     "cells[0][0].trajectory has 1 values, layers has 2"},
    {"{\"format\": \"logit-lens-results\", \"tokens\": [{\"id\": 1, \"text\": \"a\"}, {\"id\": 2, "
     "\"text\": \"b\"}], \"layers\": [0], \"cells\": [[{\"top\": [{\"id\": 3, \"text\": \"c\", "
     "\"prob\": 0.5}]}]]}",
     "cells[0] has 1 entries, tokens has 2"},
    {"{\"format\": \"logit-lens-results\", \"tokens\": [{\"id\": 1, \"text\": \"a\"}], \"layers\": "
     "[0, 1], \"cells\": [[{\"top\": [{\"id\": 3, \"text\": \"c\", \"prob\": 0.5}]}], [{\"top\": "
     "[]}]], \"targets\": [{\"text\": \"c\", \"ids\": [3], \"prob\": [[0.5]]}]}",
     "targets[0].prob has 1 entries, layers has 2"},

    /* probabilities outside [0, 1] or not numbers */
    {V2 ("[0, 1]", "[\"a\"]", "[{\"\\n\": [0.5, 1.5]}]", "[]"),
     "tracked[0][\"\\x0a\"][1] is 1.5, outside [0, 1]"},
    {V2 ("[0]", "[\"a\"]", "[{\" x\": [-0.25]}]", "[]"), "tracked[0][\" x\"][0] is -0.25, outside "
                                                         "[0, 1]"},
    {V2 ("[0]", "[\"a\"]", "[{\" x\": [\"0.5\"]}]", "[]"), "tracked[0][\" x\"][0] is a string, not "
                                                           "a probability"},
    {V2 ("[0]", "[\"a\"]", "[{\" x\": [null]}]", "[]"), "tracked[0][\" x\"][0] is null, not a "
                                                        "probability"},
    {V2 ("[0]", "[\"a\"]", "[{\" x\": 0.5}]", "[]"), "tracked[0][\" x\"] is a number, expected an "
                                                     "array of probabilities"},
    {"{\"layers\": [0], \"tokens\": [\"a\"], \"cells\": [[{\"token\": \" x\", \"prob\": 2}]]}",
     "cells[0][0].prob is 2, outside [0, 1]"},
    {"{\"layers\": [0], \"tokens\": [\"a\"], \"cells\": [[{\"token\": \" x\", \"prob\": 0.5, "
     "\"topk\": [{\"token\": \" x\", \"prob\": true}]}]]}",
     "cells[0][0].topk[0].prob is a boolean, not a probability"},
    {"{\"format\": \"logit-lens-results\", \"tokens\": [{\"id\": 1, \"text\": \"a\"}], \"layers\": "
     "[0], \"cells\": [[{\"top\": [{\"id\": 3, \"text\": \"c\", \"prob\": 1.01}]}]]}",
     "cells[0][0].top[0].prob is 1.01, outside [0, 1]"},

    /* unknown tokens in topk */
    {V2 ("[0, 1]", "[\"a\"]", "[{\" x\": [0.5, 0.25]}]", "[[[\" x\"]], [[\" x\", \" y\"]]]"),
     "topk[1][0][1] is \" y\", which is not in tracked[0]"},
    {V2 ("[0]", "[\"a\"]", "[{\" x\": [0.5]}]", "[[[3]]]"), "topk[0][0][0] is a number, expected a "
                                                            "token string"},

    /* other structure and size rules */
    {V2 ("[0, 1e300]", "[\"a\"]", "[{}]", "[]"),
     "layers[1] is 1.0000000000000001e+300, expected an "
     "integer from -1 to 1000000"},
    {V2 ("[0.5]", "[\"a\"]", "[{}]", "[]"), "layers[0] is 0.5, expected an integer from -1 to "
                                            "1000000"},
    {V2 ("[\"x\"]", "[\"a\"]", "[{}]", "[]"), "layers[0] is \"x\", expected a layer index or "
                                              "\"embed\""},
    {V2 ("[0]", "[\"a\", 5]", "[{}]", "[]"), "input[1] is a number, expected a string"},
    {"{\"layers\": [0, 1], \"tokens\": [\"a\"], \"cells\": [[{\"token\": \" x\", \"prob\": 0.5, "
     "\"trajectory\": [0.5, 0.25]}, {\"token\": \" x\", \"prob\": 0.25, \"trajectory\": [0.5, "
     "0.5]}]]}",
     "cells[0][1]: the trajectory of \" x\" differs from the one given earlier for position 0"},
    {"{\"layers\": [0], \"tokens\": [\"a\"], \"cells\": [[{\"prob\": 0.5}]]}",
     "cells[0][0] has no \"token\""},
    {"{\"format\": \"logit-lens-results\", \"model\": {\"vocab_size\": 1e10}, \"tokens\": [], "
     "\"layers\": [], \"cells\": []}",
     "model.vocab_size is 10000000000, expected an integer from 0 to 4194304"},
    {"{\"format\": \"logit-lens-results\", \"model\": {\"n_params\": 1.5}, \"tokens\": [], "
     "\"layers\": [], \"cells\": []}",
     "model.n_params is 1.5, expected an integer from 0 to 1000000000000000"},
    {"{\"format\": \"logit-lens-results\", \"model\": {\"n_params\": \"7B\"}, \"tokens\": [], "
     "\"layers\": [], \"cells\": []}",
     "model.n_params is a string, expected an integer"},
    {"{\"format\": \"logit-lens-results\", \"model\": {\"dtype\": 16}, \"tokens\": [], "
     "\"layers\": [], \"cells\": []}",
     "model.dtype is a number, expected a string"},
    {"{\"format\": \"logit-lens-results\", \"model\": {\"context_length\": -1}, \"tokens\": "
     "[], \"layers\": [], \"cells\": []}",
     "model.context_length is -1, expected an integer from 0 to 2147483647"},
    {"{\"format\": \"logit-lens-results\", \"model\": {\"vocab_size\": 10}, \"tokens\": [{\"id\": "
     "10, \"text\": \"a\"}], \"layers\": [0], \"cells\": [[]]}",
     "tokens[0].id is 10, expected an integer from 0 to 9"},
    {"{\"format\": \"logit-lens-results\", \"model\": {\"vocab_size\": 10}, \"tokens\": [{\"id\": "
     "1, \"text\": \"a\"}], \"layers\": [0, 1], \"cells\": [[{\"top\": [{\"id\": 3, \"text\": "
     "\"c\","
     " \"prob\": 0.5}]}], [{\"top\": [{\"id\": 3, \"text\": \"d\", \"prob\": 0.5}]}]]}",
     "cells[1][0].top[0]: token 3 is \"d\" here but \"c\" elsewhere"},
    {"{\"format\": \"logit-lens-results\", \"tokens\": [{\"id\": 1, \"text\": \"a\"}], \"layers\": "
     "[0], \"cells\": [[{\"entropy\": 1}]]}",
     "cells[0][0] has no \"top\""},
    {"{\"format\": \"logit-lens-results\", \"model\": {\"vocab_size\": 10}, \"tokens\": [{\"id\": "
     "1, \"text\": \"a\"}], \"layers\": [0], \"cells\": [[{\"top\": [{\"id\": 3, \"text\": \"c\","
     " \"prob\": 0.5}]}]], \"targets\": [{\"text\": \"c\", \"ids\": [3, 12], \"prob\": [[0.5]]}]}",
     "targets[0].ids[1] is 12, expected an integer from 0 to 9"},

/* metrics and sub-layer rows (--metrics, --sublayers) */
#define OWN2(layers, cell0, cell1)                                                                 \
  "{\"format\": \"logit-lens-results\", \"model\": {\"vocab_size\": 10}, \"tokens\": [{\"id\": "   \
  "1, "                                                                                            \
  "\"text\": \"a\"}, {\"id\": 2, \"text\": \"b\"}], \"layers\": " layers                           \
  ", \"cells\": [[{\"top\": "                                                                      \
  "[{\"id\": 3, \"text\": \"c\", \"prob\": 0.5}]" cell0                                            \
  "}, {\"top\": [{\"id\": 3, \"text\": \"c\", "                                                    \
  "\"prob\": 0.5}]" cell1 "}]]}"
    {OWN2 ("[\"0.mlp\"]", "", ""),
     "layers[0] is \"0.mlp\", expected a layer index, \"L.attn\" or \"embed\""},
    {OWN2 ("[\"-1.attn\"]", "", ""),
     "layers[0] is \"-1.attn\", expected a layer index, \"L.attn\" or \"embed\""},
    {OWN2 ("[0]", ", \"kl_final\": -0.5", ""), "cells[0][0].kl_final is negative"},
    {OWN2 ("[0]", ", \"kl_final\": \"0\"", ""), "cells[0][0].kl_final is a string, expected a "
                                                "number"},
    {OWN2 ("[0]", "", ", \"next\": {\"id\": 2, \"prob\": 0.5, \"rank\": 1}"),
     "cells[0][1].next is given, but no token follows the last position"},
    {OWN2 ("[0]", ", \"next\": {\"id\": 3, \"prob\": 0.5, \"rank\": 1}", ""),
     "cells[0][0].next.id is 3, but the next token (tokens[1]) is 2"},
    {OWN2 ("[0]", ", \"next\": {\"id\": 2, \"prob\": 0.5, \"rank\": 0}", ""),
     "cells[0][0].next.rank is 0, expected an integer from 1 to 10"},
    {OWN2 ("[0]", ", \"next\": {\"id\": 2, \"prob\": 1.5, \"rank\": 1}", ""),
     "cells[0][0].next.prob is 1.5, outside [0, 1]"},
    {OWN2 ("[0]", ", \"next\": {\"id\": 2, \"rank\": 1}", ""),
     "cells[0][0].next needs \"id\", \"prob\" and \"rank\""},
    {OWN2 ("[0]", ", \"next\": {\"id\": 2, \"prob\": 0.5, \"rank\": 1, \"cross_entropy\": 2}", ""),
     "cells[0][0].next.prob and next.cross_entropy disagree"},
    {OWN2 ("[0]", ", \"next\": [2]", ""),
     "cells[0][0].next is an array, expected an object or null"},
    /* a next token named where the tokens have no ids cannot be checked (and would be lost) */
    {"{\"format\": \"logit-lens-results\", \"model\": {\"vocab_size\": 10}, \"tokens\": "
     "[{\"text\": \"a\"}, {\"text\": \"b\"}], \"layers\": [0], \"cells\": [[{\"top\": [{\"id\": "
     "3, \"text\": \"c\", \"prob\": 0.5}], \"next\": {\"id\": 2, \"prob\": 0.5, \"rank\": 1}}, "
     "{\"top\": [{\"id\": 3, \"text\": \"c\", \"prob\": 0.5}]}]]}",
     "cells[0][0].next.id is 2, but the next token (tokens[1]) has no id"},
/* a range of a prompt (--positions): the number of its first position, so that its last
 * is a position too */
#define OWN1(first)                                                                                \
  "{\"format\": \"logit-lens-results\", \"tokens\": [{\"id\": 1, \"text\": \"a\"}], "              \
  "\"layers\": [0], \"cells\": [[{\"top\": [{\"id\": 3, \"text\": \"c\", \"prob\": 0.5}]}]], "     \
  "\"first_position\": " first "}"
    {OWN1 ("-1"), "first_position is -1, expected an integer from 0 to 2147483646"},
    {OWN1 ("2147483647"), "first_position is 2147483647, expected an integer from 0 to 2147483646"},
    {OWN1 ("\"200\""), "first_position is a string, expected an integer"},
    {OWN1 ("2.5"), "first_position is 2.5, expected an integer from 0 to 2147483646"},
};

static void
test_rejections (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autoptr (GError) error = NULL;
      const char *json = bad_cases[i].json;
      g_autoptr (LensResult) r = lens_results_parse (json, strlen (json), "bad.json", &error);
      g_autofree char *want = g_strdup_printf ("bad.json: %s", bad_cases[i].message);
      if (r != NULL || error == NULL || g_strcmp0 (error->message, want) != 0)
        g_test_message ("case %u: %s", i, json);
      g_assert_null (r);
      g_assert_error (error, LENS_ERROR, LENS_ERROR_FORMAT);
      g_assert_cmpstr (error->message, ==, want);
    }
}

/* Sizes beyond the limits are refused before anything is allocated for them. */
static void
test_reject_sizes (void)
{
  g_autoptr (GString) s = g_string_new ("{" META ", \"layers\": [");
  for (int i = 0; i < LENS_RESULTS_MAX_ROWS + 1; i++)
    g_string_append (s, i ? ",0" : "0");
  g_string_append (s, "], \"input\": [\"a\"], \"tracked\": [], \"topk\": []}");
  g_autoptr (GError) error = NULL;
  g_autoptr (LensResult) r = lens_results_parse (s->str, s->len, "rows.json", &error);
  g_assert_null (r);
  g_assert_cmpstr (error->message, ==, "rows.json: layers has more than 65536 entries");
  g_clear_error (&error);

  /* 65536 layers x 1025 tokens = 67174400 cells > 2^26 */
  g_string_assign (s, "{" META ", \"layers\": [");
  for (int i = 0; i < LENS_RESULTS_MAX_ROWS; i++)
    g_string_append (s, i ? ",0" : "0");
  g_string_append (s, "], \"input\": [");
  for (int i = 0; i < 1025; i++)
    g_string_append (s, i ? ",\"a\"" : "\"a\"");
  g_string_append (s, "], \"tracked\": [], \"topk\": []}");
  r = lens_results_parse (s->str, s->len, "cells.json", &error);
  g_assert_null (r);
  g_assert_cmpstr (error->message, ==,
                   "cells.json: 65536 layers x 1025 tokens is more than the 67108864 cells "
                   "supported");
  g_clear_error (&error);

  /* Nesting deeper than 64 levels (the 64th bracket is at column 70). */
  g_string_assign (s, "{\"x\": ");
  for (int i = 0; i < 100; i++)
    g_string_append_c (s, '[');
  for (int i = 0; i < 100; i++)
    g_string_append_c (s, ']');
  g_string_append_c (s, '}');
  r = lens_results_parse (s->str, s->len, "deep.json", &error);
  g_assert_null (r);
  g_assert_cmpstr (error->message, ==,
                   "deep.json: invalid JSON at line 1, column 70: nested more than 64 levels deep");
  g_clear_error (&error);

  r = lens_results_parse ("", 0, "empty.json", &error);
  g_assert_null (r);
  g_assert_cmpstr (error->message, ==, "empty.json: the file is empty");
}

/* Every truncation of a valid file fails cleanly and says it is truncated. */
static void
test_truncated (void)
{
  const char *names[] = {"v2-small.json", "v1-small.json", "own-small.json"};
  for (guint f = 0; f < G_N_ELEMENTS (names); f++)
    {
      g_autofree char *path = data_path (names[f]);
      g_autofree char *text = NULL;
      gsize len;
      g_assert_true (g_file_get_contents (path, &text, &len, NULL));
      gsize last = (gsize) (strrchr (text, '}') - text);
      for (gsize n = 1; n <= last; n++)
        {
          /* A copy of exactly n bytes, so ASan sees any read past the end. */
          g_autofree char *cut = g_memdup2 (text, n);
          g_autoptr (GError) error = NULL;
          g_autoptr (LensResult) r = lens_results_parse (cut, n, "cut.json", &error);
          g_assert_null (r);
          g_assert_error (error, LENS_ERROR, LENS_ERROR_FORMAT);
          if (strstr (error->message, "(truncated?)") == NULL)
            g_error ("%s cut at %zu: %s", names[f], n, error->message);
        }
    }
}

/* Flipping single bytes of valid files never crashes (and ASan/UBSan stay quiet). */
static void
test_mutations (void)
{
  const char *names[] = {"v2-small.json", "v1-small.json", "own-small.json"};
  const char repl[]
      = {'"', '[', ']', '{', '}', ',', ':', '0', '9', '-', 'e', '.', ' ', 'x', '\\', '\x80'};
  int rejected = 0, accepted = 0;
  for (guint f = 0; f < G_N_ELEMENTS (names); f++)
    {
      g_autofree char *path = data_path (names[f]);
      g_autofree char *text = NULL;
      gsize len;
      g_assert_true (g_file_get_contents (path, &text, &len, NULL));
      for (gsize i = 0; i < len; i++)
        for (guint k = 0; k < G_N_ELEMENTS (repl); k++)
          {
            g_autofree char *m = g_memdup2 (text, len);
            m[i] = repl[k];
            g_autoptr (GError) error = NULL;
            g_autoptr (LensResult) r = lens_results_parse (m, len, "m.json", &error);
            g_assert_true ((r == NULL) == (error != NULL));
            if (r == NULL)
              {
                g_assert_true (g_str_has_prefix (error->message, "m.json: "));
                rejected++;
              }
            else
              accepted++;
          }
    }
  g_test_message ("mutations: %d rejected, %d accepted", rejected, accepted);
  g_assert_cmpint (rejected, >, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* A generated logitlenskit v2 file: 1000 tokens x 80 layers, top-5, 80 tracked tokens per    */
/* position (about 60 MB, the size logitlenskit's documentation gives for this shape).        */

#define BIG_R 80
#define BIG_T 1000
#define BIG_K 5
#define BIG_N 80 /* tracked tokens per position */

typedef struct
{
  int tok[BIG_N];         /* vocabulary index of each tracked token */
  int prob[BIG_N][BIG_R]; /* probability * 1e5 */
  int top[BIG_R][BIG_K];  /* index into tok, best first */
} BigPos;

static void
append_token (GString *s, int v)
{
  /* Some tokens need escapes or are multi-byte, like real vocabularies. */
  if (v % 97 == 0)
    g_string_append_printf (s, "\"\\n\\\"q%d\\u00e9\"", v);
  else if (v % 89 == 0)
    g_string_append_printf (s, "\"\xe2\x96\x81x%d\"", v);
  else
    g_string_append_printf (s, "\" w%d\"", v);
}

static char *
token_string (int v)
{
  if (v % 97 == 0)
    return g_strdup_printf ("\n\"q%dé", v);
  if (v % 89 == 0)
    return g_strdup_printf ("\xe2\x96\x81x%d", v);
  return g_strdup_printf (" w%d", v);
}

static void
append_prob (GString *s, int p)
{
  /* The shortest form, as Python's repr of round(p, 5) gives: 0.0, 1e-05, 0.1234 */
  if (p == 0)
    g_string_append (s, "0.0");
  else if (p == 100000)
    g_string_append (s, "1.0");
  else if (p < 10)
    g_string_append_printf (s, "%de-05", p);
  else
    {
      char buf[16];
      int n = g_snprintf (buf, sizeof buf, "0.%05d", p);
      while (buf[n - 1] == '0')
        n--;
      g_string_append_len (s, buf, n);
    }
}

static BigPos *
big_generate (GString *s)
{
  BigPos *pos = g_new0 (BigPos, BIG_T);
  GRand *rng = g_rand_new_with_seed (7);
  for (int t = 0; t < BIG_T; t++)
    {
      BigPos *P = &pos[t];
      for (int i = 0; i < BIG_N; i++)
        {
          P->tok[i] = t * 13 + i * 7919 % 50000 + 1; /* distinct within the position */
          for (int r = 0; r < BIG_R; r++)
            {
              double x = g_rand_double (rng);
              P->prob[i][r] = (int) (x * x * x * 20000.0);
            }
        }
      for (int r = 0; r < BIG_R; r++)
        {
          gboolean used[BIG_N] = {0};
          for (int k = 0; k < BIG_K; k++)
            {
              int best = -1;
              for (int i = 0; i < BIG_N; i++)
                if (!used[i] && (best < 0 || P->prob[i][r] > P->prob[best][r]))
                  best = i;
              used[best] = TRUE;
              P->top[r][k] = best;
            }
        }
    }
  g_rand_free (rng);

  g_string_append (s, "{\"meta\": {\"version\": 2, \"model\": \"big-test\"}, \"input\": [");
  for (int t = 0; t < BIG_T; t++)
    g_string_append_printf (s, "%s\"t%d\"", t ? ", " : "", t);
  g_string_append (s, "], \"layers\": [");
  for (int r = 0; r < BIG_R; r++)
    g_string_append_printf (s, "%s%d", r ? ", " : "", r);
  /* topk before tracked, as logitlenskit writes them */
  g_string_append (s, "], \"topk\": [");
  for (int r = 0; r < BIG_R; r++)
    {
      g_string_append (s, r ? ", [" : "[");
      for (int t = 0; t < BIG_T; t++)
        {
          g_string_append (s, t ? ", [" : "[");
          for (int k = 0; k < BIG_K; k++)
            {
              if (k)
                g_string_append (s, ", ");
              append_token (s, pos[t].tok[pos[t].top[r][k]]);
            }
          g_string_append_c (s, ']');
        }
      g_string_append_c (s, ']');
    }
  g_string_append (s, "], \"tracked\": [");
  for (int t = 0; t < BIG_T; t++)
    {
      g_string_append (s, t ? ", {" : "{");
      for (int i = 0; i < BIG_N; i++)
        {
          if (i)
            g_string_append (s, ", ");
          append_token (s, pos[t].tok[i]);
          g_string_append (s, ": [");
          for (int r = 0; r < BIG_R; r++)
            {
              if (r)
                g_string_append (s, ", ");
              append_prob (s, pos[t].prob[i][r]);
            }
          g_string_append_c (s, ']');
        }
      g_string_append_c (s, '}');
    }
  g_string_append (s, "]}");
  return pos;
}

static void
test_big (void)
{
  g_autoptr (GString) s = g_string_sized_new (64 << 20);
  g_autofree BigPos *pos = big_generate (s);
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("results-io-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *path = g_build_filename (dir, "big-v2.json", NULL);
  g_assert_true (lens_results_write_file (path, s->str, &error));
  g_assert_no_error (error);
  gsize size = s->len;
  g_string_truncate (s, 0);

  gint64 t0 = g_get_monotonic_time ();
  struct timespec c0, c1;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c0);
  g_autoptr (LensResult) r = lens_results_load (path, &error);
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c1);
  double secs = (double) (g_get_monotonic_time () - t0) / 1e6;
  double cpu = (double) (c1.tv_sec - c0.tv_sec) + (double) (c1.tv_nsec - c0.tv_nsec) / 1e9;
  g_assert_no_error (error);
  g_assert_nonnull (r);
  g_test_message ("parsed %.1f MB (%d tokens x %d layers) in %.3f s (%.3f s CPU)",
                  (double) size / 1e6, BIG_T, BIG_R, secs, cpu);
  /* The target is 2 s on an idle machine, where wall and CPU time agree (one thread). The bound
   * is on CPU time, which other jobs on the machine do not inflate much, and only catches gross
   * regressions. */
  g_assert_cmpfloat (cpu, <, 10.0);
  g_assert_cmpuint (size, >, 50000000);

  g_assert_cmpint (r->n_rows, ==, BIG_R);
  g_assert_cmpint (r->n_tokens, ==, BIG_T);
  g_assert_cmpint (r->top_k, ==, BIG_K);
  g_assert_cmpstr (r->model_info.name, ==, "big-test");
  g_assert_cmpstr (r->token_texts[999], ==, "t999");
  for (int t = 0; t < BIG_T; t += 37)
    {
      for (int row = 0; row < BIG_R; row += 11)
        for (int k = 0; k < BIG_K; k++)
          {
            int i = pos[t].top[row][k];
            g_autofree char *want = token_string (pos[t].tok[i]);
            g_assert_cmpstr (top_text (r, row, t, k), ==, want);
            g_assert_cmpfloat (top_prob (r, row, t, k), ==, (float) (pos[t].prob[i][row] / 1e5));
          }
      g_assert_cmpuint (g_hash_table_size (r->tracked[t]), ==, BIG_N);
      g_autofree char *tok = token_string (pos[t].tok[3]);
      const float *traj = tracked (r, t, tok);
      g_assert_nonnull (traj);
      for (int row = 0; row < BIG_R; row++)
        g_assert_cmpfloat (traj[row], ==, (float) (pos[t].prob[3][row] / 1e5));
    }

  /* And back out: the export of an imported file reads back to the same cells. */
  t0 = g_get_monotonic_time ();
  g_autofree char *json = lens_result_to_logitlenskit_json (r, NULL, 0, &error);
  g_assert_no_error (error);
  double wsecs = (double) (g_get_monotonic_time () - t0) / 1e6;
  g_test_message ("exported %.1f MB in %.3f s", (double) strlen (json) / 1e6, wsecs);
  g_assert_true (g_str_has_prefix (json, "{\"meta\": {\"version\": 2, "));
  g_autoptr (LensResult) back = lens_results_parse (json, strlen (json), "big-export", &error);
  g_assert_no_error (error);
  assert_same_cells (r, back, 0.0);

  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_write_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("results-io-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *path = g_build_filename (dir, "out.json", NULL);
  g_assert_true (lens_results_write_file (path, "{\"a\": 1}", &error));
  g_assert_true (lens_results_write_file (path, "{\"b\": 2}", &error));
  g_autofree char *back = NULL;
  g_assert_true (g_file_get_contents (path, &back, NULL, NULL));
  g_assert_cmpstr (back, ==, "{\"b\": 2}");

  g_autofree char *missing = g_build_filename (dir, "no", "such", "dir.json", NULL);
  g_assert_false (lens_results_write_file (missing, "x", &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
  g_clear_error (&error);

  g_autoptr (LensResult) r = lens_results_load (missing, &error);
  g_assert_null (r);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "dir.json"));

  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Live results: the shared small random GPT-2 checkpoint (tests/common/tiny-gpt2.c)         */

static void
remove_model (const char *dir)
{
  tiny_gpt2_remove (dir);
}

/* A live run written both ways and read back. The logitlenskit export's trajectories (one
 * small GEMM per position) must agree with lens_result_target_probs for every tracked token. */
static void
test_live (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("results-io-model-XXXXXX", &error);
  g_assert_no_error (error);
  write_tiny_gpt2 (dir);
  g_autoptr (LensModel) m = lens_model_load (dir, &error);
  g_assert_no_error (error);
  const int layers[] = {LENS_ROW_EMBEDDINGS, 0, 1, 2};
  LensRunOptions opts = {.layers = layers, .n_layers = 4, .top_k = 5};
  g_autoptr (LensResult) r
      = lens_run_prompt (m, "the theory of the thing\n\xc3\xa9", &opts, &error);
  g_assert_no_error (error);
  g_assert_true (lens_result_has_model (r));
  int R = r->n_rows, T = r->n_tokens, K = r->top_k;
  size_t cells = (size_t) R * T;

  g_autofree float *the = g_new (float, cells);
  int32_t the_id = -1;
  int n_ids = 0;
  g_assert_true (lens_result_target_probs_for_text (r, " the", the, &the_id, &n_ids, &error));
  int32_t the_ids[] = {the_id};
  g_autoptr (LensTarget) tg_0
      = lens_target_new (" the", NULL, -1, the_ids, 1, the, r->n_rows, r->n_tokens);
  LensTarget *tg[] = {tg_0};

  /* Our format: exact. */
  g_autofree char *json = lens_result_to_json (r, tg, 1, TRUE);
  g_autoptr (GPtrArray) names = NULL;
  g_autoptr (LensResult) own
      = lens_results_parse_full (json, strlen (json), "live.json", &names, &error);
  g_assert_no_error (error);
  assert_same_cells (r, own, 0.0);
  g_assert_cmpmem (own->top_ids, cells * K * 4, r->top_ids, cells * K * 4);
  g_assert_cmpmem (own->token_ids, T * 4, r->token_ids, T * 4);
  g_assert_cmpmem (own->entropy, cells * 4, r->entropy, cells * 4);
  g_assert_cmpmem (own->log_z, cells * 4, r->log_z, cells * 4);
  g_assert_cmpstr (own->model_info.architecture, ==, "gpt2");
  g_assert_cmpint (own->model_info.n_layer, ==, TINY_GPT2_N_LAYER);
  g_assert_cmpint (own->model_info.d_model, ==, TINY_GPT2_N_EMBD);
  g_assert_cmpint (own->model_info.n_head, ==, TINY_GPT2_N_HEAD);
  g_assert_cmpint (own->model_info.vocab_size, ==, TINY_GPT2_VOCAB);
  g_assert_cmpint (own->model_info.n_kv_head, ==, TINY_GPT2_N_HEAD);
  g_assert_cmpint (own->model_info.context_length, ==, lens_model_config (m)->n_positions);
  g_assert_cmpint (own->model_info.n_params, ==, (int64_t) lens_model_n_params (m));
  g_assert_cmpint (own->model_info.n_params, >, 0);
  g_assert_cmpstr (own->model_info.dtype, ==, lens_model_dtype (m));
  g_assert_cmpstr (r->model_info.dtype, ==, "F32");
  g_assert_cmpint (r->model_info.n_params, ==, own->model_info.n_params);
  g_assert_cmpuint (names->len, ==, 1);
  g_assert_cmpstr (((LensTarget *) g_ptr_array_index (names, 0))->text, ==, " the");
  g_assert_cmpint (((LensTarget *) g_ptr_array_index (names, 0))->ids[0], ==, the_id);
  for (size_t c = 0; c < cells; c++)
    g_assert_cmpfloat (tracked (own, (int) (c % T), " the")[c / T], ==, the[c]);
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      for (int k = 0; k < K; k++)
        g_assert_cmpstr (top_text (own, row, t, k), ==, top_text (r, row, t, k));

  /* logitlenskit v2 */
  g_autofree char *v2 = lens_result_to_logitlenskit_json (r, tg, 1, &error);
  g_assert_no_error (error);
  json_object *doc = json_tokener_parse (v2), *tr;
  g_assert_nonnull (doc);
  g_assert_true (json_object_object_get_ex (doc, "tracked", &tr));
  g_autofree float *probs = g_new (float, cells);
  int checked = 0;
  for (int32_t id = 0; id < TINY_GPT2_VOCAB; id++)
    {
      const char *text = lens_result_token_text (r, id);
      g_assert_true (lens_result_target_probs (r, id, probs, &error));
      for (int t = 0; t < T; t++)
        {
          json_object *traj;
          if (!json_object_object_get_ex (json_object_array_get_idx (tr, t), text, &traj))
            continue;
          g_assert_cmpuint (json_object_array_length (traj), ==, R);
          for (int row = 0; row < R; row++)
            {
              double x = json_object_get_double (json_object_array_get_idx (traj, row));
              g_assert_cmpfloat (fabs (x - probs[row * T + t]), <=, 5.1e-6);
              checked++;
            }
        }
    }
  g_test_message ("%d exported trajectory values checked against target queries", checked);
  g_assert_cmpint (checked, >=, (int) cells);
  json_object_put (doc);

  g_autoptr (LensResult) back = lens_results_parse (v2, strlen (v2), "live-v2.json", &error);
  g_assert_no_error (error);
  assert_same_cells (r, back, 5.1e-6);
  for (size_t c = 0; c < cells; c++)
    g_assert_cmpfloat (fabs (back->entropy[c] - r->entropy[c]), <=, 5.1e-6);
  g_assert_cmpstr (back->model_info.name, ==, lens_model_name (m));

  remove_model (dir);
}

/* A live run with metrics and sub-layer rows: written, read back and written again, the same;
 * every next-token probability and rank as lens_result_target_rank computes them from the cell's
 * full logits. */
static void
test_live_metrics (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("results-io-model-XXXXXX", &error);
  g_assert_no_error (error);
  write_tiny_gpt2 (dir);
  g_autoptr (LensModel) m = lens_model_load (dir, &error);
  g_assert_no_error (error);
  const int layers[] = {LENS_ROW_EMBEDDINGS, 0, 2};
  LensRunOptions opts
      = {.layers = layers, .n_layers = 3, .top_k = 4, .metrics = TRUE, .sublayers = TRUE};
  g_autoptr (LensResult) r = lens_run_prompt (m, "the theory of the thing", &opts, &error);
  g_assert_no_error (error);
  int R = r->n_rows, T = r->n_tokens;
  size_t cells = (size_t) R * T;
  const char *labels[] = {"embed", "0.attn", "0", "2.attn", "2"};
  g_assert_cmpint (R, ==, G_N_ELEMENTS (labels));
  for (int row = 0; row < R; row++)
    {
      g_assert_cmpstr (r->row_labels[row], ==, labels[row]);
      g_assert_cmpint (r->row_kinds[row], ==, strstr (labels[row], "attn") ? LENS_ROW_ATTN : 0);
    }
  g_assert_true (lens_result_has_metrics (r));
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        g_assert_cmpfloat (lens_result_kl_final (r, row, t), >=, 0.0);
        if (row == R - 1) /* the last block against itself */
          g_assert_cmpfloat (lens_result_kl_final (r, row, t), <, 1e-5);
        if (t == T - 1)
          {
            g_assert_true (isnan (lens_result_next_prob (r, row, t)));
            g_assert_cmpint (lens_result_next_rank (r, row, t), ==, 0);
            continue;
          }
        float prob;
        int rank;
        g_assert_true (
            lens_result_target_rank (r, row, t, lens_result_next_id (r, t), &prob, &rank, &error));
        g_assert_cmpint (lens_result_next_rank (r, row, t), ==, rank);
        g_assert_cmpfloat (fabs (lens_result_next_prob (r, row, t) - prob), <=, 1e-6 + 1e-5 * prob);
        g_assert_cmpfloat (lens_result_next_cross_entropy (r, row, t), ==,
                           -r->next_logprob[lens_result_cell_index (r, row, t)]);
      }

  /* kl_final from every token's probability, in double */
  g_autofree double *probs = g_new (double, (size_t) TINY_GPT2_VOCAB *cells); /* (V, R, T) */
  g_autofree float *p1 = g_new (float, cells);
  for (int32_t id = 0; id < TINY_GPT2_VOCAB; id++)
    {
      g_assert_true (lens_result_target_probs (r, id, p1, &error));
      for (size_t c = 0; c < cells; c++)
        probs[(size_t) id * cells + c] = p1[c];
    }
  double worst = 0.0;
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        size_t c = lens_result_cell_index (r, row, t), f = lens_result_cell_index (r, R - 1, t);
        double kl = 0.0;
        for (int32_t id = 0; id < TINY_GPT2_VOCAB; id++)
          {
            double pf = probs[(size_t) id * cells + f], pc = probs[(size_t) id * cells + c];
            if (pf > 0.0)
              kl += pf * (log (pf) - log (pc));
          }
        worst = MAX (worst, fabs (lens_result_kl_final (r, row, t) - kl));
        g_assert_cmpfloat (fabs (lens_result_kl_final (r, row, t) - kl), <=, 1e-5 + 1e-4 * kl);
      }
  g_test_message ("kl_final: max |error| %.3g against the full distributions", worst);

  /* What the app writes it reads back, even at the limits: a next-token log-probability a hair
   * above 0 (rounding, for a nearly certain token) and the largest KL the reader takes. */
  {
    g_autoptr (LensResult) edge = lens_result_ref (r);
    size_t c0 = lens_result_cell_index (edge, 0, 0);
    float saved_lp = edge->next_logprob[c0], saved_kl = edge->kl_final[c0];
    edge->next_logprob[c0] = 3e-5f;
    edge->kl_final[c0] = 1e30f;
    g_autofree char *edge_json = lens_result_to_json (edge, NULL, 0, FALSE);
    g_autoptr (LensResult) edge_back
        = lens_results_parse (edge_json, strlen (edge_json), "edge.json", &error);
    g_assert_no_error (error);
    g_assert_cmpfloat (lens_result_next_prob (edge_back, 0, 0), ==, 1.0f);
    g_assert_cmpfloat (lens_result_kl_final (edge_back, 0, 0), ==, 1e30f);
    edge->next_logprob[c0] = saved_lp;
    edge->kl_final[c0] = saved_kl;
  }

  g_autofree char *json = lens_result_to_json (r, NULL, 0, TRUE);
  g_autoptr (LensResult) back = lens_results_parse (json, strlen (json), "metrics.json", &error);
  g_assert_no_error (error);
  assert_same_cells (r, back, 0.0);
  g_assert_cmpmem (back->row_kinds, R * sizeof (LensRowKind), r->row_kinds,
                   R * sizeof (LensRowKind));
  g_assert_true (lens_result_has_metrics (back));
  g_assert_cmpmem (back->kl_final, cells * 4, r->kl_final, cells * 4);
  g_assert_cmpmem (back->next_rank, cells * 4, r->next_rank, cells * 4);
  for (size_t c = 0; c < cells; c++)
    if (isnan (r->next_logprob[c]))
      g_assert_true (isnan (back->next_logprob[c]));
    else
      g_assert_cmpfloat (back->next_logprob[c], ==, r->next_logprob[c]);
  g_autofree char *again = lens_result_to_json (back, NULL, 0, TRUE);
  g_assert_cmpstr (again, ==, json);

  /* logitlenskit's format has rows for layers only */
  g_autofree char *v2 = lens_result_to_logitlenskit_json (r, NULL, 0, &error);
  g_assert_null (v2);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "sub-layer row 0.attn"));
  g_clear_error (&error);

  /* without metrics: no metric keys, and a file without them reads as none */
  LensRunOptions plain = {.layers = layers, .n_layers = 3, .top_k = 4};
  g_autoptr (LensResult) p = lens_run_prompt (m, "the theory of the thing", &plain, &error);
  g_assert_no_error (error);
  g_assert_false (lens_result_has_metrics (p));
  g_autofree char *pj = lens_result_to_json (p, NULL, 0, TRUE);
  g_assert_null (strstr (pj, "kl_final"));
  g_assert_null (strstr (pj, "attn"));
  g_autoptr (LensResult) pb = lens_results_parse (pj, strlen (pj), "plain.json", &error);
  g_assert_no_error (error);
  g_assert_false (lens_result_has_metrics (pb));
  g_assert_true (isnan (lens_result_kl_final (pb, 0, 0)));

  remove_model (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/results-io/v2/small", test_v2_small);
  g_test_add_func ("/results-io/v1/small", test_v1_small);
  g_test_add_func ("/results-io/own/small", test_own_small);
  g_test_add_func ("/results-io/own/round-trip", test_own_round_trip);
  g_test_add_func ("/results-io/own/json-shape", test_json_shape);
  g_test_add_func ("/results-io/v2/round-trip", test_v2_round_trip);
  g_test_add_func ("/results-io/v2/export-needs-trajectories", test_v2_export_needs_trajectories);
  g_test_add_func ("/results-io/v2/to-own", test_v2_to_own);
  g_test_add_func ("/results-io/v2/export-partial-target", test_v2_export_partial_target);
  g_test_add_func ("/results-io/reject/messages", test_rejections);
  g_test_add_func ("/results-io/reject/sizes", test_reject_sizes);
  g_test_add_func ("/results-io/reject/truncated", test_truncated);

  g_test_add_func ("/results-io/write-file", test_write_file);
  g_test_add_func ("/results-io/live", test_live);
  g_test_add_func ("/results-io/live-metrics", test_live_metrics);
  /* Seconds of CPU, minutes of wall time on a busy machine: only with -m slow (the separate
   * results-io-slow test, which has a longer timeout). */
  if (g_test_slow ())
    {
      g_test_add_func ("/results-io/reject/mutations", test_mutations);
      g_test_add_func ("/results-io/v2/big", test_big);
    }
  return g_test_run ();
}
