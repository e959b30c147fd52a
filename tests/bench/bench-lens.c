/* bench-lens: times the full logit lens through the public engine API.
 *
 *   bench-lens MODEL_DIR [--threads N] [--tokens 1,16,64,256] [--reps R] [--peak-n N]
 *                        [--progressive] [--append T0 [--append-reps R]]
 *
 * Prints the OpenBLAS build and the kernels running (lens_blas_describe, as --version does), the
 * measured single-precision GEMM peak at the thread count (large square cblas_sgemm), the model
 * load time, and per T the best-of-R wall time of lens_run_ids over embeddings + every block
 * output at every position with top-10 and entropy.
 * Output is one `key value...` record per line so tests/bench/report.py can read it.
 *
 * --append T0 also times what typing one more token costs: lens_run_ids_cached on a T0-token
 * prompt, then, R times, on that prompt plus one new token (a different one each time, so every
 * run computes exactly one position), each followed by lens_result_to_json of the whole result
 * (the document `logit-lens-cli --serve` writes per request by default), and, separately, the
 * document of the new column alone (lens_result_slice of the last position, then
 * lens_result_to_json: what a --serve request with "positions" set to it gets). It reports the
 * median and best of the run, the JSONs and the totals, and splits the run into the forward pass
 * (up to the progress report of the last block) and the rest (final norm, unembedding,
 * assembling the result).
 *
 * --progressive asks for partial results (LENS_PROGRESSIVE_AUTO, as the app does) and also prints,
 * per T, the time to the first partial result (the last position) and the number of partial
 * results. */
#include <cblas.h>
#include <glib.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lens-blas.h"
#include "lens-model.h"
#include "lens-result.h"
#include "lens-results-io.h"

/* OpenBLAS extensions (declared in OpenBLAS's cblas.h, repeated in case another cblas.h wins). */
char *openblas_get_config (void);
int openblas_get_num_threads (void);
void openblas_set_num_threads (int num_threads);

static double
now_s (void)
{
  return (double) g_get_monotonic_time () / 1e6;
}

typedef struct
{
  double first_partial; /* seconds from the start, or 0 */
  int n_partials;
  double start;
  int n_layer;
  double forward; /* when the progress passed the forward pass's steps */
} PartialLog;

static void
log_progress (int done, int total, gpointer user_data)
{
  PartialLog *log = user_data;
  if (done >= log->n_layer && log->forward == 0.0)
    log->forward = now_s () - log->start;
}

static void
log_partial (LensResult *partial, gpointer user_data)
{
  PartialLog *log = user_data;
  if (log->n_partials++ == 0)
    log->first_partial = now_s () - log->start;
}

/* Best GFLOP/s of C = A·B on n×n matrices over a few repetitions (2n³ FLOPs each). */
static double
sgemm_peak (int n, int reps)
{
  size_t nn = (size_t) n * (size_t) n;
  float *a = g_malloc (nn * sizeof (float));
  float *b = g_malloc (nn * sizeof (float));
  float *c = g_malloc (nn * sizeof (float));
  for (size_t i = 0; i < nn; i++)
    {
      a[i] = (float) ((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
      b[i] = (float) ((i * 40503u) % 1000) / 1000.0f - 0.5f;
    }
  double best = 0;
  for (int r = 0; r < reps + 1; r++)
    {
      double t0 = now_s ();
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                   n);
      double dt = now_s () - t0;
      double gf = 2.0 * n * (double) n * n / dt / 1e9;
      if (r > 0 && gf > best) /* the first call warms up threads and pages */
        best = gf;
    }
  g_free (a);
  g_free (b);
  g_free (c);
  return best;
}

/* GEMM FLOPs of the work lens_run_ids has to do: the forward pass (QKV, causal attention scores
 * and weighted sum over the T(T+1)/2 allowed pairs, output projection, MLP) and the unembedding of
 * every kept row (R·T vectors against V·C). Norms, softmax, GELU, top-k are not counted. */
static double
lens_flops (const LensConfig *c, int T, int R)
{
  double C = c->n_embd, H = c->n_inner, V = c->vocab_size, t = T;
  double pairs = t * (t + 1) / 2;
  double per_layer = 2 * t * C * 3 * C /* c_attn */
                     + 2 * pairs * C   /* q·k over all heads */
                     + 2 * pairs * C   /* att·v */
                     + 2 * t * C * C   /* attn c_proj */
                     + 2 * t * C * H   /* c_fc */
                     + 2 * t * H * C;  /* mlp c_proj */
  return c->n_layer * per_layer + 2.0 * R * t * C * V;
}

static int
parse_list (const char *s, int *out, int max)
{
  int n = 0;
  g_auto (GStrv) parts = g_strsplit (s, ",", -1);
  for (int i = 0; parts[i] && n < max; i++)
    {
      char *end = NULL;
      long v = strtol (parts[i], &end, 10);
      if (end == parts[i] || *end || v < 1 || v > 1 << 20)
        return -1;
      out[n++] = (int) v;
    }
  return n;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Median of v (n), which it sorts. */
static double
median (double *v, int n)
{
  qsort (v, (size_t) n, sizeof (double), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Records when the forward pass ends: lens_run reports progress once per block (done = 1 .. L),
 * then per unembedding tile (done > L). */
typedef struct
{
  int n_layer;
  double forward_done;
} AppendClock;

static void
append_progress (int done, int total, gpointer user_data)
{
  (void) total;
  AppendClock *clock = user_data;
  if (done == clock->n_layer && clock->forward_done == 0)
    clock->forward_done = now_s ();
}

/* The --append mode (see the top of the file). Returns the exit status. */
static int
bench_append (LensModel *model, const LensRunOptions *base, int T0, int reps)
{
  const LensConfig *c = lens_model_config (model);
  if (T0 + 1 > c->n_positions)
    {
      printf ("skip append T0=%d (n_positions %d)\n", T0, c->n_positions);
      return 0;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (LensRunCache) cache = lens_run_cache_new ();
  AppendClock clock = {c->n_layer, 0};
  LensRunOptions opt = *base;
  opt.progress = append_progress;
  opt.user_data = &clock;
  opt.partial = NULL; /* one new position: a single pass whatever --progressive says */
  opt.progressive = LENS_PROGRESSIVE_NEVER;
  GRand *rand = g_rand_new_with_seed (64);
  g_autofree int32_t *ids = g_new (int32_t, T0 + 1);
  for (int t = 0; t < T0 + 1; t++)
    ids[t] = (int32_t) g_rand_int_range (rand, 0, c->vocab_size);

  double t_first = now_s ();
  g_autoptr (LensResult) first = lens_run_ids_cached (model, cache, ids, T0, NULL, &opt, &error);
  if (!first)
    {
      fprintf (stderr, "bench-lens: append T0=%d: %s\n", T0, error->message);
      g_rand_free (rand);
      return 1;
    }
  t_first = now_s () - t_first;

  g_autofree double *run = g_new (double, reps);
  g_autofree double *fwd = g_new (double, reps);
  g_autofree double *rest = g_new (double, reps);
  g_autofree double *json = g_new (double, reps);
  g_autofree double *total = g_new (double, reps);
  g_autofree double *column_json = g_new (double, reps);
  g_autofree double *column_total = g_new (double, reps);
  size_t json_bytes = 0, column_bytes = 0;
  for (int r = 0; r < reps; r++)
    {
      /* a new last token each time: the cache holds T0 + 1 ids, of which T0 are shared */
      int32_t last = ids[T0];
      while (ids[T0] == last)
        ids[T0] = (int32_t) g_rand_int_range (rand, 0, c->vocab_size);
      clock.forward_done = 0;
      double s = now_s ();
      g_autoptr (LensResult) res
          = lens_run_ids_cached (model, cache, ids, T0 + 1, NULL, &opt, &error);
      double s_run = now_s ();
      if (!res)
        {
          fprintf (stderr, "bench-lens: append T0=%d: %s\n", T0, error->message);
          g_rand_free (rand);
          return 1;
        }
      g_autofree char *doc = lens_result_to_json (res, NULL, 0, FALSE);
      double s_json = now_s ();
      json_bytes = strlen (doc);
      run[r] = s_run - s;
      fwd[r] = clock.forward_done > 0 ? clock.forward_done - s : NAN;
      rest[r] = clock.forward_done > 0 ? s_run - clock.forward_done : NAN;
      json[r] = s_json - s_run;
      total[r] = s_json - s;
      double s_col = now_s ();
      g_autoptr (LensResult) column = lens_result_slice (res, 0, res->n_rows, T0, 1, &error);
      if (!column)
        {
          fprintf (stderr, "bench-lens: append T0=%d: %s\n", T0, error->message);
          g_rand_free (rand);
          return 1;
        }
      g_autofree char *column_doc = lens_result_to_json (column, NULL, 0, FALSE);
      column_json[r] = now_s () - s_col;
      column_total[r] = run[r] + column_json[r];
      column_bytes = strlen (column_doc);
    }
  g_rand_free (rand);
  double best_run = run[0], best_total = total[0];
  for (int r = 1; r < reps; r++)
    {
      best_run = MIN (best_run, run[r]);
      best_total = MIN (best_total, total[r]);
    }
  printf ("append T0=%d reps %d first_run_s %.6f run_median_s %.6f run_best_s %.6f "
          "forward_median_s %.6f lens_median_s %.6f json_median_s %.6f total_median_s %.6f "
          "total_best_s %.6f json_bytes %zu column_json_median_s %.6f "
          "column_total_median_s %.6f column_json_bytes %zu\n",
          T0, reps, t_first, median (run, reps), best_run, median (fwd, reps), median (rest, reps),
          median (json, reps), median (total, reps), best_total, json_bytes,
          median (column_json, reps), median (column_total, reps), column_bytes);
  fflush (stdout);
  return 0;
}

int
main (int argc, char **argv)
{
  lens_blas_prefer_native_kernels (argv);
  int threads = 0, reps = 3, peak_n = 2048, append = 0, append_reps = 21;
  gboolean progressive = FALSE;
  char *tokens_s = NULL;
  GOptionEntry entries[] = {{"threads", 0, 0, G_OPTION_ARG_INT, &threads,
                             "threads (default: OpenBLAS's and OpenMP's default)", "N"},
                            {"tokens", 0, 0, G_OPTION_ARG_STRING, &tokens_s,
                             "Sequence lengths (default 1,16,64,256)", "LIST"},
                            {"reps", 0, 0, G_OPTION_ARG_INT, &reps,
                             "Repetitions per T; the best is kept (default 3)", "R"},
                            {"peak-n", 0, 0, G_OPTION_ARG_INT, &peak_n,
                             "Matrix size of the sgemm peak (default 2048)", "N"},
                            {"progressive", 0, 0, G_OPTION_ARG_NONE, &progressive,
                             "Progressive runs; time the first partial result too", NULL},
                            {"append", 0, 0, G_OPTION_ARG_INT, &append,
                             "Also time one more token after a T0-token prompt", "T0"},
                            {"append-reps", 0, 0, G_OPTION_ARG_INT, &append_reps,
                             "Appended tokens timed; the median is kept (default 21)", "R"},
                            {NULL}};
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL_DIR - time the logit lens");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2 || reps < 1 || peak_n < 64
      || append < 0 || append_reps < 1)
    {
      fprintf (stderr, "bench-lens: %s\n", error ? error->message : "usage: bench-lens MODEL_DIR");
      return 2;
    }
  int Ts[16];
  int nT = parse_list (tokens_s ? tokens_s : "1,16,64,256", Ts, 16);
  if (nT < 1)
    {
      fprintf (stderr, "bench-lens: bad --tokens list\n");
      return 2;
    }
  /* The peak is OpenBLAS's own threaded sgemm; the engine splits its work over OpenMP threads
   * and calls OpenBLAS single-threaded inside them. Both get the same count. */
  if (threads > 0)
    omp_set_num_threads (threads);
  /* lens_blas_prefer_native_kernels released OpenBLAS's threads; the peak gets them back */
  openblas_set_num_threads (omp_get_max_threads ());

  printf ("openblas_config %s\n", openblas_get_config ());
  g_autofree char *blas = lens_blas_describe ();
  printf ("blas %s\n", blas);
  printf ("blas_core %s\n", lens_blas_core_name ());
  printf ("threads %d (OpenBLAS for the peak), %d (OpenMP for the engine)\n",
          openblas_get_num_threads (), omp_get_max_threads ());
  int peak_threads = openblas_get_num_threads ();
  double peak = sgemm_peak (peak_n, 3);
  printf ("sgemm_peak_gflops %.2f n=%d\n", peak, peak_n);
  lens_blas_release_threads (); /* as the programs run: no OpenBLAS threads beside the engine's */
  fflush (stdout);

  double t0 = now_s ();
  g_autoptr (LensModel) model = lens_model_load (argv[1], &error);
  if (!model)
    {
      fprintf (stderr, "bench-lens: %s\n", error->message);
      return 1;
    }
  printf ("load_s %.4f\n", now_s () - t0);
  const LensConfig *c = lens_model_config (model);
  printf ("model L=%d C=%d NH=%d V=%d n_positions=%d weights_bytes=%" G_GUINT64_FORMAT "\n",
          c->n_layer, c->n_embd, c->n_head, c->vocab_size, c->n_positions,
          (guint64) lens_model_weights_size (model));

  /* Embeddings + every block output. */
  int R = c->n_layer + 1;
  g_autofree int *layers = g_new (int, R);
  layers[0] = LENS_ROW_EMBEDDINGS;
  for (int l = 0; l < c->n_layer; l++)
    layers[l + 1] = l;
  PartialLog plog = {0};
  LensRunOptions opt = {.layers = layers, .n_layers = R, .top_k = 10};
  if (progressive)
    {
      opt.progressive = LENS_PROGRESSIVE_AUTO; /* split where the engine would in the app */
      opt.partial = log_partial;
      opt.progress = log_progress;
      opt.user_data = &plog;
    }

  GRand *rand = g_rand_new_with_seed (42);
  for (int i = 0; i < nT; i++)
    {
      int T = Ts[i];
      if (T > c->n_positions)
        {
          printf ("skip T=%d (n_positions %d)\n", T, c->n_positions);
          continue;
        }
      g_autofree int32_t *ids = g_new (int32_t, T);
      for (int t = 0; t < T; t++)
        ids[t] = (int32_t) g_rand_int_range (rand, 0, c->vocab_size);
      double best = 1e30, best_first = 1e30, best_forward = 1e30, best_plain = 1e30;
      for (int r = 0; r < reps; r++)
        {
          double s = now_s ();
          plog = (PartialLog){.start = s, .n_layer = c->n_layer};
          g_autoptr (LensResult) res = lens_run_ids (model, ids, T, NULL, &opt, &error);
          double dt = now_s () - s;
          if (!res)
            {
              fprintf (stderr, "bench-lens: T=%d: %s\n", T, error->message);
              g_rand_free (rand);
              return 1;
            }
          if (dt < best)
            best = dt;
          if (plog.n_partials > 0 && plog.first_partial < best_first)
            best_first = plog.first_partial;
          if (plog.forward > 0.0 && plog.forward < best_forward)
            best_forward = plog.forward;
          if (progressive)
            {
              /* the same run in one pass, right after, so that both see the same machine */
              LensRunOptions plain = opt;
              plain.progressive = LENS_PROGRESSIVE_NEVER;
              s = now_s ();
              g_autoptr (LensResult) res1 = lens_run_ids (model, ids, T, NULL, &plain, &error);
              dt = now_s () - s;
              if (res1 != NULL && dt < best_plain)
                best_plain = dt;
            }
        }
      if (progressive)
        printf ("progressive T=%d forward_s %.6f first_partial_s %.6f partials %d "
                "one_pass_best_s %.6f\n",
                T, best_forward, plog.n_partials > 0 ? best_first : -1.0, plog.n_partials,
                best_plain);
      double fl = lens_flops (c, T, R);
      printf ("lens T=%d best_s %.6f gflop %.4f gflops %.2f at_peak_s %.6f\n", T, best, fl / 1e9,
              fl / best / 1e9, fl / (peak * 1e9));
      fflush (stdout);
    }
  g_rand_free (rand);
  /* again after the runs: on a shared machine one measurement can land in a busy moment, and the
   * better of the two is nearer the machine's peak (report.py uses it). The engine has set
   * OpenBLAS to one thread (it calls it inside its own OpenMP threads): back to the count the
   * first measurement had. */
  openblas_set_num_threads (peak_threads);
  printf ("sgemm_peak_after_gflops %.2f n=%d\n", sgemm_peak (peak_n, 3), peak_n);
  fflush (stdout);
  /* and back to one for the engine (it sets that only once per process), with OpenBLAS's threads
   * stopped: inside the engine's OpenMP threads they would oversubscribe the cores, and spinning
   * after the peak they would take a core from the runs timed next */
  lens_blas_release_threads ();
  return append > 0 ? bench_append (model, &opt, append, append_reps) : 0;
}
