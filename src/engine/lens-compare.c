/* lens-compare.c: differences between two results, cell by cell (see lens-compare.h). */
#include <math.h>
#include <string.h>

#include "lens-compare.h"
#include "lens-error.h"
#include "lens-head.h"

static const char *const diff_kind_names[] = {
    [LENS_DIFF_TARGET] = "target",
    [LENS_DIFF_KL] = "kl",
};

gboolean
lens_diff_kind_from_string (const char *name, LensDiffKind *kind)
{
  for (size_t i = 0; name != NULL && i < G_N_ELEMENTS (diff_kind_names); i++)
    if (g_str_equal (name, diff_kind_names[i]))
      {
        *kind = (LensDiffKind) i;
        return TRUE;
      }
  return FALSE;
}

const char *
lens_diff_kind_to_string (LensDiffKind kind)
{
  return (size_t) kind < G_N_ELEMENTS (diff_kind_names) ? diff_kind_names[kind] : "target";
}

gboolean
lens_compare_rows_match (const LensResult *pinned, const LensResult *current, GError **error)
{
  if (pinned->n_rows != current->n_rows)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "The pinned result has %d rows and this one %d: compare results with the "
                   "same layers (and sub-layer rows)",
                   pinned->n_rows, current->n_rows);
      return FALSE;
    }
  for (int row = 0; row < pinned->n_rows; row++)
    if (g_strcmp0 (pinned->row_labels[row], current->row_labels[row]) != 0)
      {
        g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                     "Row %d is “%s” in the pinned result and “%s” in this one: compare results "
                     "with the same layers (and sub-layer rows)",
                     row, pinned->row_labels[row], current->row_labels[row]);
        return FALSE;
      }
  return TRUE;
}

int
lens_compare_n_positions (const LensResult *pinned, const LensResult *current)
{
  return MIN (pinned->n_tokens, current->n_tokens);
}

static void
fill_nan (float *out, size_t n)
{
  for (size_t i = 0; i < n; i++)
    out[i] = NAN;
}

void
lens_compare_target_diff (const LensResult *pinned, const float *probs_pinned,
                          const LensResult *current, const float *probs_current, float *out)
{
  size_t cells = (size_t) current->n_rows * (size_t) current->n_tokens;
  fill_nan (out, cells);
  if (pinned->n_rows != current->n_rows || probs_pinned == NULL || probs_current == NULL)
    return;
  int n_pos = lens_compare_n_positions (pinned, current);
  for (int row = 0; row < current->n_rows; row++)
    for (int t = 0; t < n_pos; t++)
      {
        if (!lens_result_pos_ready (current, t) || !lens_result_pos_ready (pinned, t))
          continue;
        float a = probs_pinned[lens_result_cell_index (pinned, row, t)];
        float b = probs_current[lens_result_cell_index (current, row, t)];
        /* NAN stays NAN: an unknown side makes the difference unknown */
        out[lens_result_cell_index (current, row, t)] = b - a;
      }
}

/* Cells whose logits are computed together: two blocks of (CHUNK, V) floats. */
#define CHUNK 16

gboolean
lens_compare_kl (const LensResult *pinned, const LensResult *current, float *out,
                 LensCancelFunc cancel, gpointer user_data, GError **error)
{
  size_t cells = (size_t) current->n_rows * (size_t) current->n_tokens;
  fill_nan (out, cells);
  if (!lens_result_has_model (pinned) || !lens_result_has_model (current))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "KL between two results needs both computed here with their model (a results "
                   "file has only its top tokens); compare the target probability instead");
      return FALSE;
    }
  /* The same loaded model: a folder loaded again may hold other weights or shapes. */
  if (pinned->model != current->model)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "The pinned result is from %s and this one from %s: KL compares two prompts "
                   "on the same model",
                   pinned->model_info.name, current->model_info.name);
      return FALSE;
    }
  if (!lens_compare_rows_match (pinned, current, error))
    return FALSE;

  const LensModel *model = current->model;
  int V = lens_model_config (model)->vocab_size;
  int C = current->d_model;
  int R = current->n_rows, n_pos = lens_compare_n_positions (pinned, current);
  size_t block = (size_t) CHUNK * (size_t) V;
  g_autofree float *logits_p = g_try_new (float, block);
  g_autofree float *logits_c = g_try_new (float, block);
  g_autofree float *x_p = g_try_new (float, (size_t) CHUNK *C);
  g_autofree float *x_c = g_try_new (float, (size_t) CHUNK *C);
  if (logits_p == NULL || logits_c == NULL || x_p == NULL || x_c == NULL)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "Out of memory for %d x %d logits", CHUNK, V);
      return FALSE;
    }

  /* The aligned cells, CHUNK at a time: both sides' normed residuals gathered, their logits
   * through the lens head, then KL = sum_v p(v) (log p(v) - log q(v)) in double, with each
   * side's log-normaliser taken from these same logits (not the run's stored one, which its own
   * GEMM rounded differently) so that p sums to 1 and identical cells give 0. */
  size_t n_cells = (size_t) R * (size_t) n_pos;
  size_t cell_rows[CHUNK], cell_pos[CHUNK];
  for (size_t first = 0; first < n_cells; first += CHUNK)
    {
      if (cancel != NULL && cancel (user_data))
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_CANCELLED, "Cancelled");
          return FALSE;
        }
      int n = (int) MIN ((size_t) CHUNK, n_cells - first);
      for (int i = 0; i < n; i++)
        {
          cell_rows[i] = (first + i) / n_pos;
          cell_pos[i] = (first + i) % n_pos;
          size_t cp = lens_result_cell_index (pinned, cell_rows[i], cell_pos[i]);
          size_t cc = lens_result_cell_index (current, cell_rows[i], cell_pos[i]);
          memcpy (x_p + (size_t) i * C, pinned->norm_resid + cp * C, sizeof (float) * C);
          memcpy (x_c + (size_t) i * C, current->norm_resid + cc * C, sizeof (float) * C);
        }
      /* logits (n, V) = head(x (n, C)) */
      if (!lens_head_logits (model, x_p, n, logits_p, error)
          || !lens_head_logits (model, x_c, n, logits_c, error))
        return FALSE;
#pragma omp parallel for schedule(static)
      for (int i = 0; i < n; i++)
        {
          size_t cc = lens_result_cell_index (current, cell_rows[i], cell_pos[i]);
          if (!lens_result_pos_ready (pinned, cell_pos[i])
              || !lens_result_pos_ready (current, cell_pos[i]))
            continue;
          const float *lp = logits_p + (size_t) i * V, *lc = logits_c + (size_t) i * V;
          double max_p = -INFINITY, max_c = -INFINITY, sum_p = 0.0, sum_c = 0.0;
          for (int v = 0; v < V; v++)
            {
              max_p = MAX (max_p, lp[v]);
              max_c = MAX (max_c, lc[v]);
            }
          for (int v = 0; v < V; v++)
            {
              sum_p += exp ((double) lp[v] - max_p);
              sum_c += exp ((double) lc[v] - max_c);
            }
          double lz_p = max_p + log (sum_p), lz_c = max_c + log (sum_c);
          double kl = 0.0;
          for (int v = 0; v < V; v++)
            {
              double log_p = (double) lp[v] - lz_p;
              double p = exp (log_p);
              if (p > 0.0)
                kl += p * (log_p - ((double) lc[v] - lz_c));
            }
          /* what rounding leaves below zero for identical distributions; a non-finite logit
           * makes the cell unknown */
          out[cc] = isfinite (kl) ? (float) MAX (kl, 0.0) : NAN;
        }
    }
  return TRUE;
}
