/* incremental-driver: the lens of a prompt being edited, computed through a LensRunCache (only
 * the positions after the shared prefix), against the same lens computed whole.
 *
 *   incremental-driver MODEL_DIR
 *
 * Runs a fixed sequence of edits on pseudo-random ids (extend, extend by one, edit in the middle,
 * shrink, the same again, another top-k, other rows) and compares every cell of each cached run
 * with lens_run_ids on the same ids: top-k probabilities within 1e-5, entropy within 1e-4, the
 * same ids unless their probabilities tie within 1e-6. The sequence runs twice: plain, then
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
  if (a->n_rows != b->n_rows || a->n_tokens != b->n_tokens || a->top_k != b->top_k)
    return INFINITY;
  double worst = 0.0;
  int K = a->top_k;
  for (size_t cell = 0; cell < (size_t) a->n_rows * a->n_tokens; cell++)
    {
      if (!lens_result_pos_ready (a, (int) (cell % (size_t) a->n_tokens)))
        continue;
      worst = MAX (worst, fabs (a->entropy[cell] - b->entropy[cell]) / 10.0);
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
  LensRunOptions all = {.top_k = 8}, top3 = {.top_k = 3},
                 rows = {.layers = embed_and_two, .n_layers = 3, .top_k = 8};
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
