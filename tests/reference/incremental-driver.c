/* incremental-driver: the lens of a prompt being edited, computed through a LensRunCache (only
 * the positions after the shared prefix), against the same lens computed whole.
 *
 *   incremental-driver MODEL_DIR
 *
 * Runs a fixed sequence of edits on pseudo-random ids (extend, extend by one, edit in the middle,
 * shrink, the same again, another top-k, other rows, metrics and sub-layer rows) and compares
 * every cell of each cached run with lens_run_ids on the same ids: top-k probabilities within
 * 1e-5, entropy within 1e-4, the same ids unless their probabilities tie within 1e-6; with
 * metrics, kl_final and the next token's log-probability within 1e-4 and its rank within 1 (the
 * cached and whole runs' logits differ by rounding). The sequence runs twice: plain, then
 * progressive (LENS_PROGRESSIVE_ALWAYS), where the ready cells of each step's first partial result
 * are compared too. One line per step, then "N passed, N failed". */
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lens-result.h"

static double
compare (const LensResult *a, const LensResult *b)
{
  if (a->n_rows != b->n_rows || a->n_tokens != b->n_tokens || a->top_k != b->top_k
      || lens_result_has_metrics (a) != lens_result_has_metrics (b))
    return INFINITY;
  for (int row = 0; row < a->n_rows; row++)
    if (a->row_layers[row] != b->row_layers[row] || a->row_kinds[row] != b->row_kinds[row]
        || g_strcmp0 (a->row_labels[row], b->row_labels[row]) != 0)
      return INFINITY;
  double worst = 0.0;
  int K = a->top_k;
  for (size_t cell = 0; cell < (size_t) a->n_rows * a->n_tokens; cell++)
    {
      if (!lens_result_pos_ready (a, (int) (cell % (size_t) a->n_tokens)))
        continue;
      worst = MAX (worst, fabs (a->entropy[cell] - b->entropy[cell]) / 10.0);
      if (lens_result_has_metrics (a))
        {
          int pos = (int) (cell % a->n_tokens);
          gboolean last = pos == a->n_tokens - 1;
          /* the last position has no next token; every other one has */
          if (last != isnan (a->next_logprob[cell]) || last != isnan (b->next_logprob[cell])
              || (last
                      ? a->next_rank[cell] != 0 || b->next_rank[cell] != 0
                      : abs (a->next_rank[cell] - b->next_rank[cell]) > 1 || a->next_rank[cell] < 1)
              || isnan (a->kl_final[cell]))
            return INFINITY;
          worst = MAX (worst, fabs (a->kl_final[cell] - b->kl_final[cell]) / 10.0);
          if (!last)
            worst = MAX (worst, fabs (a->next_logprob[cell] - b->next_logprob[cell]) / 10.0);
        }
      for (int k = 0; k < K; k++)
        {
          float pa = a->top_probs[cell * K + k], pb = b->top_probs[cell * K + k];
          worst = MAX (worst, fabs (pa - pb));
          if (a->top_ids[cell * K + k] != b->top_ids[cell * K + k] && fabs (pa - pb) > 1e-6
              && (k + 1 >= K || fabs (pa - a->top_probs[cell * K + k + 1]) > 1e-6)
              && (k == 0 || fabs (pa - a->top_probs[cell * K + k - 1]) > 1e-6))
            return INFINITY;
        }
    }
  return worst;
}

static void
keep_first_partial (LensResult *partial, gpointer user_data)
{
  LensResult **first = user_data;
  if (*first == NULL)
    *first = lens_result_ref (partial);
}

int
main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: incremental-driver MODEL_DIR\n");
      return 2;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (LensModel) m = lens_model_load (argv[1], &error);
  if (m == NULL)
    {
      fprintf (stderr, "incremental-driver: %s\n", error->message);
      return 2;
    }
  const LensConfig *c = lens_model_config (m);
  int V = MIN (c->vocab_size, lens_tokenizer_vocab_size (lens_model_tokenizer (m)));
  int N = MIN (c->n_positions, 40);
  g_autofree int32_t *ids = g_new (int32_t, N);
  guint32 x = 12345;
  for (int i = 0; i < N; i++)
    {
      x = x * 1664525u + 1013904223u;
      ids[i] = (int32_t) ((x >> 8) % (guint32) V);
    }
  const int embed_and_two[] = {LENS_ROW_EMBEDDINGS, 0, c->n_layer - 1};
  LensRunOptions all
      = {.top_k = 8},
      top3 = {.top_k = 3}, rows = {.layers = embed_and_two, .n_layers = 3, .top_k = 8},
      metrics = {.top_k = 8, .metrics = TRUE},
      metrics_sub
      = {.layers = embed_and_two, .n_layers = 3, .top_k = 4, .metrics = TRUE, .sublayers = TRUE};
  struct
  {
    const char *what;
    int T;
    int edit_at; /* -1: none; else ids[edit_at] changes before the run */
    const LensRunOptions *opts;
  } steps[] = {
      {"first run", N / 2, -1, &all},
      {"extended by several tokens", N - 3, -1, &all},
      {"extended by one token", N - 2, -1, &all},
      {"edited in the middle", N - 2, N / 3, &all},
      {"shortened", N / 4 + 1, -1, &all},
      {"the same again", N / 4 + 1, -1, &all},
      {"extended to the end", N, -1, &all},
      {"another top-k", N, -1, &top3},
      {"other rows", N, -1, &rows},
      {"extended after other rows", N, N - 1, &rows},
      /* a metrics run must not reuse cells computed without them, nor the other way round; the
       * last shared position gains a next token when one is appended */
      {"metrics after none", N / 2, -1, &metrics},
      {"metrics extended by one token", N / 2 + 1, -1, &metrics},
      {"metrics extended by several", N - 4, -1, &metrics},
      {"metrics, last token edited", N - 4, N - 5, &metrics},
      {"metrics the same again", N - 4, -1, &metrics},
      {"metrics shortened", N / 3, -1, &metrics},
      {"no metrics after metrics", N / 3 + 1, -1, &all},
      {"metrics and sub-layers", N / 3 + 1, -1, &metrics_sub},
      {"metrics and sub-layers extended by one", N / 3 + 2, -1, &metrics_sub},
      {"metrics without sub-layers after them", N / 3 + 3, -1, &metrics},
  };
  int passed = 0, failed = 0;
  g_autofree int32_t *start_ids = g_memdup2 (ids, sizeof (int32_t) * (size_t) N);
  for (int progressive = 0; progressive <= 1; progressive++)
    {
      g_autoptr (LensRunCache) cache = lens_run_cache_new ();
      memcpy (ids, start_ids, sizeof (int32_t) * (size_t) N);
      for (guint s = 0; s < G_N_ELEMENTS (steps); s++)
        {
          if (steps[s].edit_at >= 0)
            ids[steps[s].edit_at] = (ids[steps[s].edit_at] + 1) % V;
          LensRunOptions opts = *steps[s].opts;
          g_autoptr (LensResult) first = NULL;
          if (progressive)
            {
              opts.progressive = LENS_PROGRESSIVE_ALWAYS;
              opts.partial = keep_first_partial;
              opts.user_data = &first;
            }
          g_autoptr (LensResult) cached
              = lens_run_ids_cached (m, cache, ids, steps[s].T, NULL, &opts, &error);
          g_autoptr (LensResult) whole
              = cached != NULL ? lens_run_ids (m, ids, steps[s].T, NULL, steps[s].opts, &error)
                               : NULL;
          double d = whole != NULL ? compare (cached, whole) : INFINITY;
          if (first != NULL && whole != NULL)
            d = MAX (d, compare (first, whole));
          gboolean ok = d < 1e-5 && (cached == NULL || !lens_result_is_partial (cached));
          printf ("%s %s%s (T=%d): max |dp| %.2g%s%s\n", ok ? "ok  " : "FAIL", steps[s].what,
                  !progressive    ? ""
                  : first != NULL ? ", progressive"
                                  : ", progressive (one pass)",
                  steps[s].T, d, error ? ": " : "", error ? error->message : "");
          g_clear_error (&error);
          ok ? passed++ : failed++;
        }
    }
  printf ("%d passed, %d failed\n", passed, failed);
  return failed > 0;
}
