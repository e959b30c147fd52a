/* The lens end to end on a small random GPT-2 checkpoint written by the test itself: the last
 * row equals the model's own next-token distribution, target queries agree with the top-k,
 * cancellation and progress work, and bad requests fail cleanly. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "lens-compare.h"
#include "lens-error.h"
#include "lens-head.h"
#include "lens-ops.h"
#include "lens-result.h"
#include "tiny-gpt2.h"

enum
{
  L = TINY_GPT2_N_LAYER,
  P = TINY_GPT2_N_POSITIONS,
  V = TINY_GPT2_VOCAB
};

static char *model_dir;

static LensModel *
load (void)
{
  g_autoptr (GError) error = NULL;
  LensModel *m = lens_model_load (model_dir, &error);
  g_assert_no_error (error);
  return m;
}

static void
test_last_row_is_model_output (void)
{
  g_autoptr (LensModel) m = load ();
  const int layers[] = {LENS_ROW_EMBEDDINGS, 0, 1, 2};
  LensRunOptions opts = {.layers = layers, .n_layers = 4, .top_k = 7};
  g_autoptr (GError) error = NULL;
  g_autoptr (LensResult) r = lens_run_prompt (m, "the theory of the thing", &opts, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r->n_rows, ==, 4);
  g_assert_cmpstr (r->row_labels[0], ==, "embed");
  g_assert_cmpstr (r->row_labels[3], ==, "2");

  int T = r->n_tokens;
  g_autofree float *logits = g_new (float, ((size_t) T * V));
  g_assert_true (lens_model_forward (m, r->token_ids, T, NULL, logits, NULL, NULL, NULL, &error));
  for (int t = 0; t < T; t++)
    {
      int32_t ids[7];
      float probs[7];
      LensSoftmaxStats st = lens_softmax_topk_ref (logits + (size_t) t * V, V, 7, ids, probs);
      size_t cell = lens_result_cell_index (r, 3, t);
      g_assert_cmpfloat (fabs (r->log_z[cell] - st.log_z), <, 1e-5);
      g_assert_cmpfloat (fabs (r->entropy[cell] - st.entropy), <, 1e-5);
      for (int k = 0; k < 7; k++)
        {
          g_assert_cmpint (r->top_ids[cell * 7 + k], ==, ids[k]);
          g_assert_cmpfloat (fabs (r->top_probs[cell * 7 + k] - probs[k]), <, 1e-6);
        }
    }
}

static void
test_target_queries (void)
{
  g_autoptr (LensModel) m = load ();
  g_autoptr (GError) error = NULL;
  g_autoptr (LensResult) r = lens_run_prompt (m, "the cat", NULL, &error);
  g_assert_no_error (error);
  size_t cells = (size_t) r->n_rows * r->n_tokens;
  g_autofree float *probs = g_new (float, cells);

  for (size_t cell = 0; cell < cells; cell++)
    {
      int32_t top = r->top_ids[cell * r->top_k];
      g_assert_true (lens_result_target_probs (r, top, probs, &error));
      g_assert_cmpfloat (fabs (probs[cell] - r->top_probs[cell * r->top_k]), <, 1e-5);
      int rank = 0;
      float p = 0;
      int row = (int) (cell / r->n_tokens), pos = (int) (cell % r->n_tokens);
      int32_t third = r->top_ids[cell * r->top_k + 2];
      g_assert_true (lens_result_target_rank (r, row, pos, third, &p, &rank, &error));
      g_assert_cmpint (rank, ==, 3);
      g_assert_cmpfloat (fabs (p - r->top_probs[cell * r->top_k + 2]), <, 1e-5);
    }

  /* By text: " the" is "Ġ" (byte 32) + "the" (merges t h, then th e); several tokens track
   * the first. */
  int32_t first = -1;
  int n_ids = 0;
  g_assert_true (lens_result_target_probs_for_text (r, " the", probs, &first, &n_ids, &error));
  g_assert_no_error (error);
  g_assert_cmpint (first, ==, 32);
  g_assert_cmpint (n_ids, ==, 2);

  g_assert_false (lens_result_target_probs (r, V, probs, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
}

/* The line plot's tracked tokens: the distinct top-1 ids of a position, and one token's
 * probability at every row of it, the same numbers as the whole-grid target query. */
static void
test_token_trajectory (void)
{
  g_autoptr (LensModel) m = load ();
  g_autoptr (GError) error = NULL;
  g_autoptr (LensResult) r = lens_run_prompt (m, "the cat sat on", NULL, &error);
  g_assert_no_error (error);
  int R = r->n_rows, T = r->n_tokens, K = r->top_k;
  g_autofree float *grid = g_new (float, (size_t) R *T);
  g_autofree float *traj = g_new (float, R);
  g_autofree int32_t *ids = g_new (int32_t, R);
  for (int pos = 0; pos < T; pos++)
    {
      int n = lens_result_top1_ids (r, pos, ids);
      g_assert_cmpint (n, >=, 1);
      g_assert_cmpint (n, <=, R);
      /* each id is top-1 at some row, once; the first is the first row's */
      g_assert_cmpint (ids[0], ==, r->top_ids[lens_result_cell_index (r, 0, pos) * K]);
      for (int i = 0; i < n; i++)
        {
          gboolean top_somewhere = FALSE;
          for (int row = 0; row < R; row++)
            top_somewhere |= r->top_ids[lens_result_cell_index (r, row, pos) * K] == ids[i];
          g_assert_true (top_somewhere);
          for (int j = 0; j < i; j++)
            g_assert_cmpint (ids[j], !=, ids[i]);
        }
      for (int i = 0; i < n; i++)
        {
          lens_result_token_trajectory (r, pos, ids[i], traj);
          g_assert_true (lens_result_target_probs (r, ids[i], grid, &error));
          for (int row = 0; row < R; row++)
            g_assert_cmpfloat (fabsf (traj[row] - grid[lens_result_cell_index (r, row, pos)]), <=,
                               1e-6f + 1e-5f * grid[lens_result_cell_index (r, row, pos)]);
        }
    }
}

/* Two prompts compared cell by cell: KL against a naive double-precision sum over the full
 * distributions of both cells; the target difference; alignment by position index. */
static void
test_compare (void)
{
  g_autoptr (LensModel) m = load ();
  g_autoptr (GError) error = NULL;
  g_autoptr (LensResult) a = lens_run_prompt (m, "the cat sat on the", NULL, &error);
  g_assert_no_error (error);
  g_autoptr (LensResult) b = lens_run_prompt (m, "a dog sat", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (a->n_tokens, >, b->n_tokens);
  g_assert_true (lens_compare_rows_match (a, b, &error));
  int R = b->n_rows, T = b->n_tokens, V = lens_model_config (m)->vocab_size;
  g_assert_cmpint (lens_compare_n_positions (a, b), ==, T);

  /* pinned a (longer) against current b: every cell of b has a partner */
  g_autofree float *kl = g_new (float, (size_t) R *T);
  g_assert_true (lens_compare_kl (a, b, kl, NULL, NULL, &error));
  g_assert_no_error (error);
  g_autofree float *la = g_new (float, V);
  g_autofree float *lb = g_new (float, V);
  double largest = 0.0;
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      {
        size_t ca = lens_result_cell_index (a, row, t), cb = lens_result_cell_index (b, row, t);
        g_assert_true (lens_head_logits (m, a->norm_resid + ca * a->d_model, 1, la, &error));
        g_assert_true (lens_head_logits (m, b->norm_resid + cb * b->d_model, 1, lb, &error));
        /* log-softmax of each from scratch, not from the results' log_z */
        double ma = -INFINITY, mb = -INFINITY, za = 0.0, zb = 0.0;
        for (int v = 0; v < V; v++)
          ma = MAX (ma, la[v]), mb = MAX (mb, lb[v]);
        for (int v = 0; v < V; v++)
          za += exp (la[v] - ma), zb += exp (lb[v] - mb);
        double want = 0.0;
        for (int v = 0; v < V; v++)
          {
            double lpa = la[v] - ma - log (za), lpb = lb[v] - mb - log (zb);
            want += exp (lpa) * (lpa - lpb);
          }
        largest = MAX (largest, want);
        g_assert_cmpfloat (fabs (kl[cb] - want), <=, 1e-5 + 1e-4 * want);
      }
  g_assert_cmpfloat (largest, >, 1e-3); /* the prompts differ: not a test of zeros */

  /* the other way round: positions past the shorter prompt have no partner */
  size_t cells_a = (size_t) a->n_rows * a->n_tokens;
  g_autofree float *kl_a = g_new (float, cells_a);
  g_assert_true (lens_compare_kl (b, a, kl_a, NULL, NULL, &error));
  for (int row = 0; row < R; row++)
    for (int t = 0; t < a->n_tokens; t++)
      g_assert_true (isnan (kl_a[lens_result_cell_index (a, row, t)]) == (t >= T));
  /* a result against itself: 0 */
  g_assert_true (lens_compare_kl (b, b, kl, NULL, NULL, &error));
  for (size_t i = 0; i < (size_t) R * T; i++)
    g_assert_cmpfloat (fabs (kl[i]), <, 1e-6);

  /* the target difference is current - pinned, cell by cell */
  int32_t id = b->top_ids[0];
  g_autofree float *pa = g_new (float, cells_a);
  g_autofree float *pb = g_new (float, (size_t) R *T);
  g_autofree float *diff = g_new (float, (size_t) R *T);
  g_assert_true (lens_result_target_probs (a, id, pa, &error));
  g_assert_true (lens_result_target_probs (b, id, pb, &error));
  lens_compare_target_diff (a, pa, b, pb, diff);
  for (int row = 0; row < R; row++)
    for (int t = 0; t < T; t++)
      g_assert_cmpfloat (diff[lens_result_cell_index (b, row, t)], ==,
                         pb[lens_result_cell_index (b, row, t)]
                             - pa[lens_result_cell_index (a, row, t)]);

  /* other rows cannot be compared */
  LensRunOptions sublayers = {.sublayers = TRUE};
  g_autoptr (LensResult) c = lens_run_prompt (m, "a dog sat", &sublayers, &error);
  g_assert_no_error (error);
  g_assert_false (lens_compare_rows_match (a, c, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_clear_error (&error);
  g_autofree float *kl_c = g_new (float, (size_t) c->n_rows * c->n_tokens);
  g_assert_false (lens_compare_kl (a, c, kl_c, NULL, NULL, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_clear_error (&error);

  LensDiffKind kind;
  g_assert_true (lens_diff_kind_from_string ("kl", &kind) && kind == LENS_DIFF_KL);
  g_assert_false (lens_diff_kind_from_string ("KL", &kind));
  g_assert_cmpstr (lens_diff_kind_to_string (LENS_DIFF_TARGET), ==, "target");
}

static gboolean
cancel_after_first (gpointer user_data)
{
  int *polls = user_data;
  return ++*polls > 1;
}

static void
count_progress (int done, int total, gpointer user_data)
{
  int *last = (int *) user_data + 1;
  g_assert_cmpint (done, <=, total);
  g_assert_cmpint (done, >=, *last);
  *last = done;
  if (done == total)
    last[1] = total;
}

static void
test_cancel_and_progress (void)
{
  g_autoptr (LensModel) m = load ();
  g_autoptr (GError) error = NULL;
  int polls = 0;
  LensRunOptions opts = {.cancel = cancel_after_first, .user_data = &polls};
  LensResult *r = lens_run_prompt (m, "the cat sat", &opts, &error);
  g_assert_null (r);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_CANCELLED);

  int state[3] = {0, 0, 0};
  LensRunOptions popts = {.progress = count_progress, .user_data = state};
  g_autoptr (LensResult) ok = lens_run_prompt (m, "the cat sat", &popts, NULL);
  g_assert_nonnull (ok);
  g_assert_cmpint (state[2], >, L); /* reached total, which counts layers and lens chunks */
}

static void
test_bad_requests (void)
{
  g_autoptr (LensModel) m = load ();
  g_autoptr (GError) error = NULL;
  int32_t ids[P + 1] = {0};

  g_assert_null (lens_run_ids (m, ids, P + 1, NULL, NULL, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "24"));
  g_clear_error (&error);

  g_assert_null (lens_run_prompt (m, "", NULL, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_clear_error (&error);

  const int bad_layer[] = {L};
  LensRunOptions opts = {.layers = bad_layer, .n_layers = 1};
  g_assert_null (lens_run_ids (m, ids, 3, NULL, &opts, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_clear_error (&error);

  ids[1] = V;
  g_assert_null (lens_run_ids (m, ids, 3, NULL, NULL, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_clear_error (&error);

  /* A full context is fine, and T = 1 too. */
  ids[1] = 0;
  g_autoptr (LensResult) full = lens_run_ids (m, ids, P, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (LensResult) one = lens_run_ids (m, ids, 1, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (one->n_tokens, ==, 1);
}

/* A range of a result: every cell equals the same cell of the whole, the prompt's numbering and
 * the token after the range are kept, target queries on the range give the whole's values, and
 * ranges outside the result (including ones whose ends overflow) are refused. */
static void
test_slice (void)
{
  g_autoptr (LensModel) m = load ();
  g_autoptr (GError) error = NULL;
  const int layers[] = {LENS_ROW_EMBEDDINGS, 0, 1, 2};
  LensRunOptions opts = {.layers = layers, .n_layers = 4, .top_k = 5, .metrics = TRUE};
  g_autoptr (LensResult) r = lens_run_prompt (m, "the theory of the thing", &opts, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r->n_tokens, >=, 8);
  int T = r->n_tokens, K = r->top_k;
  const int row0 = 1, n_rows = 2, pos0 = 3, n_pos = 4;

  g_autoptr (LensResult) s = lens_result_slice (r, row0, n_rows, pos0, n_pos, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s->n_rows, ==, n_rows);
  g_assert_cmpint (s->n_tokens, ==, n_pos);
  g_assert_cmpint (s->first_pos, ==, pos0);
  g_assert_cmpint (s->top_k, ==, K);
  g_assert_cmpstr (s->prompt, ==, r->prompt);
  g_assert_cmpint (s->model_info.n_layer, ==, L);
  for (int row = 0; row < n_rows; row++)
    {
      g_assert_cmpstr (s->row_labels[row], ==, r->row_labels[row0 + row]);
      g_assert_cmpint (s->row_layers[row], ==, r->row_layers[row0 + row]);
      g_assert_cmpint (s->row_kinds[row], ==, r->row_kinds[row0 + row]);
    }
  g_assert_null (s->row_labels[n_rows]);
  for (int t = 0; t < n_pos; t++)
    {
      g_assert_cmpint (s->token_ids[t], ==, r->token_ids[pos0 + t]);
      g_assert_cmpstr (s->token_texts[t], ==, r->token_texts[pos0 + t]);
      /* the next token of the range's last position is the one after the range */
      g_assert_cmpint (lens_result_next_id (s, t), ==, lens_result_next_id (r, pos0 + t));
      g_assert_cmpint (lens_result_next_id (s, t), >=, 0);
    }
  g_assert_null (s->token_texts[n_pos]);
  g_assert_cmpint (lens_result_next_id (r, T - 1), ==, -1);

  size_t cells = (size_t) r->n_rows * T;
  g_autofree float *whole = g_new (float, cells);
  g_autofree float *part = g_new (float, (size_t) n_rows *n_pos);
  g_autofree float *cut = g_new (float, (size_t) n_rows *n_pos);
  int32_t target = r->top_ids[lens_result_cell_index (r, 3, T - 1) * K];
  g_assert_true (lens_result_target_probs (r, target, whole, &error));
  g_assert_true (lens_result_target_probs (s, target, part, &error));
  g_assert_no_error (error);
  lens_result_slice_cells (r, row0, n_rows, pos0, n_pos, whole, cut);
  for (int row = 0; row < n_rows; row++)
    for (int t = 0; t < n_pos; t++)
      {
        size_t a = lens_result_cell_index (r, row0 + row, pos0 + t);
        size_t b = lens_result_cell_index (s, row, t);
        g_assert_cmpmem (s->top_ids + b * K, K * sizeof (int32_t), r->top_ids + a * K,
                         K * sizeof (int32_t));
        g_assert_cmpmem (s->top_probs + b * K, K * sizeof (float), r->top_probs + a * K,
                         K * sizeof (float));
        g_assert_cmpfloat (s->entropy[b], ==, r->entropy[a]);
        g_assert_cmpfloat (s->log_z[b], ==, r->log_z[a]);
        g_assert_cmpfloat (s->kl_final[b], ==, r->kl_final[a]);
        g_assert_cmpfloat (s->next_logprob[b], ==, r->next_logprob[a]);
        g_assert_cmpint (s->next_rank[b], ==, r->next_rank[a]);
        g_assert_cmpint (s->next_rank[b], >=, 1);
        g_assert_cmpfloat (cut[b], ==, whole[a]);
        /* computed on the range's own residuals */
        g_assert_cmpfloat (fabs (part[b] - whole[a]), <=, 1e-6 * fmax (1.0, whole[a]));
        int rank_s = 0, rank_r = 0;
        g_assert_true (lens_result_target_rank (s, row, t, target, NULL, &rank_s, &error));
        g_assert_true (
            lens_result_target_rank (r, row0 + row, pos0 + t, target, NULL, &rank_r, &error));
        g_assert_cmpint (rank_s, ==, rank_r);
      }

  /* A range of a range counts positions in the prompt; one ending with the prompt has no token
   * after it. */
  g_autoptr (LensResult) tail = lens_result_slice (s, 1, 1, 1, n_pos - 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tail->first_pos, ==, pos0 + 1);
  g_assert_cmpstr (tail->row_labels[0], ==, r->row_labels[row0 + 1]);
  g_autoptr (LensResult) end = lens_result_slice (r, 0, r->n_rows, T - 2, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lens_result_next_id (end, 1), ==, -1);
  g_assert_cmpint (lens_result_next_id (end, 0), ==, r->token_ids[T - 1]);

  const int bad[][4] = {
      {-1, 1, 0, 1},       {0, 0, 0, 1},        {0, 5, 0, 1},        {4, 1, 0, 1},
      {0, 1, -1, 1},       {0, 1, 0, 0},        {0, 1, T - 1, 2},    {0, 1, T, 1},
      {0, 1, 1, G_MAXINT}, {1, G_MAXINT, 0, 1}, {G_MAXINT, 1, 0, 1}, {0, 1, G_MAXINT, G_MAXINT},
      {0, 1, G_MININT, 4},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      LensResult *none = lens_result_slice (r, bad[i][0], bad[i][1], bad[i][2], bad[i][3], &error);
      g_assert_null (none);
      g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
      g_assert_true (strstr (error->message, "not inside") != NULL);
      g_clear_error (&error);
    }
}

/* A file's tracked tokens (no model) are cut to the range's rows and positions. */
static void
test_slice_tracked (void)
{
  g_autoptr (LensResult) r = lens_result_new_empty (3, 4, 1);
  r->tracked = g_new0 (GHashTable *, 4);
  for (int t = 0; t < 4; t++)
    {
      r->tracked[t] = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      float *probs = g_new (float, 3);
      for (int row = 0; row < 3; row++)
        probs[row] = (float) (10 * row + t) / 100.0f;
      g_hash_table_insert (r->tracked[t], g_strdup (" Paris"), probs);
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (LensResult) s = lens_result_slice (r, 1, 2, 2, 2, &error);
  g_assert_no_error (error);
  float probs[9];
  g_assert_true (lens_result_target_probs_for_text (s, " Paris", probs, NULL, NULL, &error));
  g_assert_no_error (error);
  for (int row = 0; row < 2; row++)
    for (int t = 0; t < 2; t++)
      g_assert_cmpfloat (probs[row * 2 + t], ==, (float) (10 * (row + 1) + t + 2) / 100.0f);

  /* a token the file tracked only outside the range: the message says where it looked */
  g_hash_table_insert (r->tracked[0], g_strdup (" Rome"), g_new0 (float, 3));
  g_autoptr (LensResult) tail = lens_result_slice (r, 0, 3, 1, 3, &error);
  g_assert_no_error (error);
  g_assert_false (lens_result_target_probs_for_text (tail, " Rome", probs, NULL, NULL, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
  g_assert_cmpstr (error->message, ==,
                   "\" Rome\" was not tracked at positions 1-3 of this results file");
}

/* One range "A-B" or number "N" inside bounds, with the CLI's messages; lo > hi checks the form. */
static void
test_range_parse (void)
{
  g_autoptr (GError) error = NULL;
  int a = -1, b = -1;
  g_assert_true (lens_range_parse (" 200-244 ", "--positions", 0, 244, NULL, &a, &b, &error));
  g_assert_no_error (error);
  g_assert_cmpint (a, ==, 200);
  g_assert_cmpint (b, ==, 244);
  g_assert_true (lens_range_parse ("7", "Layers", 0, 79, NULL, &a, &b, &error));
  g_assert_cmpint (a, ==, 7);
  g_assert_cmpint (b, ==, 7);
  g_assert_true (lens_range_parse ("99999-999999", "x", 1, 0, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  const char *bad[][2] = {
      {"", "--positions is empty: give one number N or a range A-B"},
      {"5-2", "--positions: \"5-2\" is a reversed range (did you mean 2-5?)"},
      {"3-", "--positions: \"3-\" has no end after '-'"},
      {"a", "--positions: \"a\" is not a number or range"},
      {"1,4", "--positions: unexpected \",4\" in \"1,4\" (one number N or range A-B)"},
      {"245", "--positions: \"245\" is outside 0-244 (the prompt has 245 tokens)"},
      {"-1-3", "--positions: \"-1-3\" is outside 0-244 (the prompt has 245 tokens)"},
      {"0-99999999999999999999", "--positions: \"0-99999999999999999999\" is outside 0-244 (the "
                                 "prompt has 245 tokens)"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_false (lens_range_parse (bad[i][0], "--positions", 0, 244,
                                        "the prompt has 245 tokens", &a, &b, &error));
      g_assert_error (error, LENS_ERROR, LENS_ERROR_INPUT);
      g_assert_cmpstr (error->message, ==, bad[i][1]);
      g_clear_error (&error);
    }
}

/* The bundled demo model: loads, and its lens' last row is its own next-token distribution. */
/* A result with fewer tokens per cell shares everything else with the one it came from and
 * outlives it; views of views work; asking for as many or more returns the result itself. */
static void
test_with_top_k (void)
{
  g_autoptr (LensModel) m = load ();
  g_autoptr (GError) error = NULL;
  LensRunOptions opts = {.top_k = 6};
  LensResult *r = lens_run_prompt (m, "the cat sat", &opts, &error);
  g_assert_no_error (error);
  size_t cells = (size_t) r->n_rows * r->n_tokens;
  g_autofree int32_t *ids6 = g_memdup2 (r->top_ids, cells * 6 * sizeof (int32_t));
  g_autofree float *entropy = g_memdup2 (r->entropy, cells * sizeof (float));

  g_assert_true (lens_result_with_top_k (r, 6) == r);
  lens_result_unref (r); /* the reference just taken */
  LensResult *v4 = lens_result_with_top_k (r, 4);
  lens_result_unref (r); /* the run's own: v4 keeps it alive */
  LensResult *v2 = lens_result_with_top_k (v4, 2);
  lens_result_unref (v4);
  g_assert_cmpint (v2->top_k, ==, 2);
  for (size_t c = 0; c < cells; c++)
    g_assert_cmpmem (v2->top_ids + c * 2, 2 * sizeof (int32_t), ids6 + c * 6, 2 * sizeof (int32_t));
  g_assert_cmpmem (v2->entropy, cells * sizeof (float), entropy, cells * sizeof (float));
  g_assert_cmpstr (v2->prompt, ==, "the cat sat");
  /* target queries still work through the shared residuals and model */
  g_autofree float *probs = g_new (float, cells);
  g_assert_true (lens_result_target_probs (v2, v2->top_ids[0], probs, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (fabs (probs[0] - v2->top_probs[0]), <, 1e-5);
  lens_result_unref (v2);
}

static void
test_demo_model (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LensModel) m = lens_model_load (SOURCE_DEMO_MODEL_DIR, &error);
  g_assert_no_error (error);
  const LensConfig *c = lens_model_config (m);
  int V = c->vocab_size;
  g_assert_cmpint (c->n_layer, >=, 2);

  g_autoptr (LensResult) r
      = lens_run_prompt (m, "He was born in New York, and he said that he would", NULL, &error);
  g_assert_no_error (error);
  int T = r->n_tokens, K = r->top_k, last = r->n_rows - 1;
  g_assert_cmpint (r->row_layers[last], ==, c->n_layer - 1);
  g_autofree float *logits = g_new (float, ((size_t) T * V));
  g_assert_true (lens_model_forward (m, r->token_ids, T, NULL, logits, NULL, NULL, NULL, &error));
  g_autofree int32_t *ids = g_new (int32_t, K);
  g_autofree float *probs = g_new (float, K);
  for (int t = 0; t < T; t++)
    {
      LensSoftmaxStats st = lens_softmax_topk_ref (logits + (size_t) t * V, V, K, ids, probs);
      size_t cell = lens_result_cell_index (r, last, t);
      g_assert_cmpfloat (fabs (r->entropy[cell] - st.entropy), <, 1e-4);
      for (int k = 0; k < K; k++)
        {
          g_assert_cmpint (r->top_ids[cell * K + k], ==, ids[k]);
          g_assert_cmpfloat (fabs (r->top_probs[cell * K + k] - probs[k]), <, 1e-6);
        }
    }
}

/* The run cache on GPT-2 (learned positions: the new positions' embeddings start at the cached
 * length): extending, editing and shortening give the lens of the whole prompt. The other families
 * are checked by tests/reference/check-incremental.py. */
static void
test_run_cache (void)
{
  g_autoptr (LensModel) m = load ();
  int32_t ids[20];
  for (int i = 0; i < 20; i++)
    ids[i] = (i * 37 + 11) % V;
  const int lengths[] = {6, 14, 15, 15, 4, 20};
  g_autoptr (LensRunCache) cache = lens_run_cache_new ();
  LensRunOptions opts = {.top_k = 5};
  for (guint s = 0; s < G_N_ELEMENTS (lengths); s++)
    {
      if (s == 3)
        ids[9] = (ids[9] + 1) % V; /* an edit in the middle */
      int T = lengths[s];
      g_autoptr (GError) error = NULL;
      g_autoptr (LensResult) cached = lens_run_ids_cached (m, cache, ids, T, NULL, &opts, &error);
      g_assert_no_error (error);
      g_autoptr (LensResult) whole = lens_run_ids (m, ids, T, NULL, &opts, &error);
      g_assert_no_error (error);
      g_assert_cmpint (cached->n_tokens, ==, T);
      for (size_t cell = 0; cell < (size_t) whole->n_rows * T; cell++)
        {
          g_assert_cmpfloat (fabs (cached->entropy[cell] - whole->entropy[cell]), <, 1e-4);
          for (int k = 0; k < 5; k++)
            g_assert_cmpfloat (
                fabs (cached->top_probs[cell * 5 + k] - whole->top_probs[cell * 5 + k]), <, 1e-6);
        }
      for (int t = 0; t < T; t++)
        g_assert_cmpint (cached->token_ids[t], ==, ids[t]);
    }
}

/* Cells of `a` and `b` at position t of `a` and tb of `b` (every row) agree within float
 * rounding. */
static void
assert_same_position (const LensResult *a, int t, const LensResult *b, int tb)
{
  int K = a->top_k;
  g_assert_cmpint (b->top_k, ==, K);
  g_assert_cmpint (a->n_rows, ==, b->n_rows);
  g_assert_cmpint (a->token_ids[t], ==, b->token_ids[tb]);
  for (int row = 0; row < a->n_rows; row++)
    {
      size_t ca = lens_result_cell_index (a, row, t), cb = lens_result_cell_index (b, row, tb);
      g_assert_cmpfloat (fabs (a->entropy[ca] - b->entropy[cb]), <, 1e-5);
      g_assert_cmpfloat (fabs (a->log_z[ca] - b->log_z[cb]), <, 1e-5);
      for (int k = 0; k < K; k++)
        {
          g_assert_cmpint (a->top_ids[ca * K + k], ==, b->top_ids[cb * K + k]);
          g_assert_cmpfloat (fabs (a->top_probs[ca * K + k] - b->top_probs[cb * K + k]), <, 1e-6);
        }
    }
}

typedef struct
{
  GPtrArray *partials; /* of LensResult */
  gboolean cancel_after_partial;
  int last_done, total;
} ProgressiveLog;

static void
keep_partial (LensResult *partial, gpointer user_data)
{
  ProgressiveLog *log = user_data;
  g_ptr_array_add (log->partials, lens_result_ref (partial));
}

static gboolean
cancel_once_partial (gpointer user_data)
{
  ProgressiveLog *log = user_data;
  return log->cancel_after_partial && log->partials->len > 0;
}

static void
check_progress (int done, int total, gpointer user_data)
{
  ProgressiveLog *log = user_data;
  g_assert_cmpint (done, <=, total);
  g_assert_cmpint (done, >=, log->last_done);
  log->last_done = done;
  log->total = total;
}

/* Partial results from a progressive run: the cells they say are ready equal the complete
 * result's (the ready positions grow from the right, the last one first; cached positions are
 * ready from the start), the others are pending (NAN); the complete result equals a plain run's;
 * a run cancelled after its first partial result leaves the run cache usable. */
static void
check_partials (const ProgressiveLog *log, const LensResult *full, int first_new)
{
  int T = full->n_tokens, prev_ready = 0;
  g_assert_cmpuint (log->partials->len, >=, 2);
  for (guint i = 0; i < log->partials->len; i++)
    {
      const LensResult *part = g_ptr_array_index (log->partials, i);
      g_assert_true (lens_result_is_partial (part));
      g_assert_false (lens_result_is_partial (full));
      g_assert_cmpint (part->n_tokens, ==, T);
      g_assert_cmpint (part->n_ready, >, prev_ready);
      g_assert_cmpint (part->n_ready, <, T);
      prev_ready = part->n_ready;
      int n_ready = 0;
      for (int t = 0; t < T; t++)
        {
          /* cached positions, then the new ones from the right */
          gboolean expect = t < first_new || t >= T - (part->n_ready - first_new);
          g_assert_cmpint (lens_result_pos_ready (part, t), ==, expect);
          if (expect)
            {
              n_ready++;
              assert_same_position (part, t, full, t);
            }
          else
            for (int row = 0; row < part->n_rows; row++)
              {
                size_t cell = lens_result_cell_index (part, row, t);
                g_assert_true (isnan (part->entropy[cell]));
                g_assert_cmpint (part->top_ids[cell * part->top_k], ==, -1);
              }
        }
      g_assert_cmpint (n_ready, ==, part->n_ready);
      /* pending cells are not taken for NaN from the model */
      g_assert_cmpuint (lens_result_count_nonfinite (part, NULL, NULL), ==, 0);
    }
  /* the first partial result already has the last position */
  const LensResult *first = g_ptr_array_index (log->partials, 0);
  g_assert_cmpint (first->n_ready, ==, first_new + 1);
}

static void
test_progressive (void)
{
  g_autoptr (LensModel) m = load ();
  enum
  {
    T = 13
  };
  int32_t ids[T];
  for (int i = 0; i < T; i++)
    ids[i] = (i * 53 + 7) % V;
  g_autoptr (GError) error = NULL;
  LensRunOptions plain = {.top_k = 4};
  g_autoptr (LensResult) whole = lens_run_ids (m, ids, T, NULL, &plain, &error);
  g_assert_no_error (error);

  /* no cache: 13 positions in passes of 1, 1, 2, 4 and 5 */
  g_autoptr (GPtrArray) partials
      = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_result_unref);
  ProgressiveLog log = {.partials = partials};
  LensRunOptions opts = {.top_k = 4,
                         .progressive = LENS_PROGRESSIVE_ALWAYS,
                         .partial = keep_partial,
                         .progress = check_progress,
                         .user_data = &log};
  g_autoptr (LensResult) r = lens_run_ids (m, ids, T, "p", &opts, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (partials->len, ==, 4);
  g_assert_cmpint (log.last_done, ==, log.total);
  for (int t = 0; t < T; t++)
    assert_same_position (r, t, whole, t);
  check_partials (&log, r, 0);
  /* target queries on a partial result: real values where ready, pending (NAN) elsewhere */
  const LensResult *part = g_ptr_array_index (partials, 1);
  size_t cells = (size_t) part->n_rows * T;
  g_autofree float *probs = g_new (float, cells);
  g_assert_true (lens_result_target_probs (part, whole->top_ids[0], probs, &error));
  g_assert_true (isnan (probs[0]));
  size_t last = lens_result_cell_index (part, 0, T - 1);
  g_assert_false (isnan (probs[last]));

  /* automatic: a tiny model is not worth splitting */
  g_ptr_array_set_size (partials, 0);
  opts.progressive = LENS_PROGRESSIVE_AUTO;
  log.last_done = 0;
  g_autoptr (LensResult) r_auto = lens_run_ids (m, ids, T, NULL, &opts, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (partials->len, ==, 0);

  /* incremental: 5 positions from the cache, 8 new ones in passes of 1, 1, 2 and 4; the cached
   * positions are ready in every partial result */
  g_autoptr (LensRunCache) cache = lens_run_cache_new ();
  g_autoptr (LensResult) head = lens_run_ids_cached (m, cache, ids, 5, NULL, &plain, &error);
  g_assert_no_error (error);
  opts.progressive = LENS_PROGRESSIVE_ALWAYS;
  log.last_done = 0;
  g_autoptr (LensResult) rc = lens_run_ids_cached (m, cache, ids, T, NULL, &opts, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (partials->len, ==, 3);
  for (int t = 0; t < T; t++)
    assert_same_position (rc, t, whole, t);
  check_partials (&log, rc, 5);

  /* cancelled after the first partial result (an edit at position 8), then run again: the cache
   * must give the lens of the new prompt */
  g_ptr_array_set_size (partials, 0);
  ids[8] = (ids[8] + 1) % V;
  log.cancel_after_partial = TRUE;
  log.last_done = 0;
  opts.cancel = cancel_once_partial;
  LensResult *none = lens_run_ids_cached (m, cache, ids, T, NULL, &opts, &error);
  g_assert_null (none);
  g_assert_error (error, LENS_ERROR, LENS_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpuint (partials->len, ==, 1);
  const LensResult *cut = g_ptr_array_index (partials, 0);
  g_assert_true (lens_result_pos_ready (cut, T - 1) && !lens_result_pos_ready (cut, T - 2));

  g_autoptr (LensResult) edited = lens_run_ids (m, ids, T, NULL, &plain, &error);
  g_assert_no_error (error);
  for (int len = T; len >= T - 1; len--)
    {
      /* the same prompt, then one shorter (all from the cache) */
      log.cancel_after_partial = FALSE;
      g_ptr_array_set_size (partials, 0);
      log.last_done = 0;
      g_autoptr (LensResult) again = lens_run_ids_cached (m, cache, ids, len, NULL, &opts, &error);
      g_assert_no_error (error);
      g_assert_false (lens_result_is_partial (again));
      for (int t = 0; t < len; t++)
        assert_same_position (again, t, edited, t);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  model_dir = g_dir_make_tmp ("lens-test-XXXXXX", &error);
  g_assert_no_error (error);
  write_tiny_gpt2 (model_dir);

  g_test_add_func ("/lens/last-row-is-model-output", test_last_row_is_model_output);
  g_test_add_func ("/lens/target-queries", test_target_queries);
  g_test_add_func ("/lens/token-trajectory", test_token_trajectory);
  g_test_add_func ("/lens/compare", test_compare);
  g_test_add_func ("/lens/cancel-and-progress", test_cancel_and_progress);
  g_test_add_func ("/lens/bad-requests", test_bad_requests);
  g_test_add_func ("/lens/with-top-k", test_with_top_k);
  g_test_add_func ("/lens/slice", test_slice);
  g_test_add_func ("/lens/slice-tracked", test_slice_tracked);
  g_test_add_func ("/lens/range-parse", test_range_parse);
  g_test_add_func ("/lens/demo-model", test_demo_model);
  g_test_add_func ("/lens/run-cache", test_run_cache);
  g_test_add_func ("/lens/progressive", test_progressive);
  int status = g_test_run ();

  tiny_gpt2_remove (model_dir);
  g_free (model_dir);
  return status;
}
