/* lens-head.c: final norm + unembedding (see lens-head.h). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "lens-error.h"
#include "lens-head.h"
#include "lens-model-private.h"

void
lens_head_norm (const LensModel *m, const float *x, float *y, int n)
{
  lens_model_norm (m, &m->final_norm_w, &m->final_norm_b, x, y, n);
}

int
lens_head_tile_ids (const LensModel *m)
{
  if (m->lm_head.direct)
    return 2048;
  return MAX (64, (1024 * 1024) / m->config.n_embd);
}

const float *
lens_head_tile (const LensModel *m, int v0, int v1, float *scratch)
{
  if (m->lm_head.direct)
    return (const float *) m->lm_head.data + (size_t) v0 * m->lm_head.cols;
  lens_mat_rows_f32 (&m->lm_head, v0, v1 - v0, scratch);
  return scratch;
}

/* What the model applies to its logits after the unembedding: a final soft-cap,
 * cap * tanh(logit / cap), when its config sets one (Gemma 2's final_logit_softcapping). */
static void
output_transform (const LensModel *m, float *logits, int n, int Vt, int ldl)
{
  float cap = (float) m->config.final_logit_softcap;
  if (cap <= 0.0f)
    return;
  for (int i = 0; i < n; i++)
    lens_softcap_forward (logits + (size_t) i * ldl, (size_t) Vt, cap);
}

void
lens_head_tile_logits (const LensModel *m, const float *y, int n, int ldy, const float *tile,
                       int Vt, float *logits, int ldl)
{
  int C = m->config.n_embd;
  lens_blas_use_one_thread ();
  /* logits (n, Vt) = y (n, C) . tile (Vt, C)^T */
  lens_sgemm_one_thread (n, Vt, C, y, ldy, tile, C, TRUE, 0.0f, logits, ldl);
  output_transform (m, logits, n, Vt, ldl);
}

gboolean
lens_head_logits (const LensModel *m, const float *y, int n, float *logits, GError **error)
{
  int C = m->config.n_embd, V = m->config.vocab_size;
  g_autofree float *scratch = NULL;
  if (!m->lm_head.direct)
    {
      scratch
          = g_try_new (float, ((size_t) omp_get_max_threads () * lens_linear_scratch_floats (C)));
      if (scratch == NULL)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "Out of memory for the unembedding");
          return FALSE;
        }
    }
  /* logits (n, V) = y (n, C) . W_U (V, C)^T */
  lens_linear_forward (logits, V, y, n, &m->lm_head, NULL, scratch);
  output_transform (m, logits, n, V, V);
  return TRUE;
}

void
lens_head_logits_of_ids (const LensModel *m, const float *y, int n, int ldy, const int32_t *ids,
                         int n_ids, float *out)
{
  int C = m->config.n_embd;
  g_autofree float *w = g_new (float, ((size_t) n_ids * C)); /* (n_ids, C) */
  for (int i = 0; i < n_ids; i++)
    lens_mat_rows_f32 (&m->lm_head, ids[i], 1, w + (size_t) i * C);
  lens_blas_use_one_thread ();
  /* out (n, n_ids) = y (n, C) . w (n_ids, C)^T */
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, n_ids, C, 1.0f, y, ldy, w, C, 0.0f, out,
               n_ids);
  output_transform (m, out, n, n_ids, n_ids);
}

void
lens_head_logit_per_row (const LensModel *m, const float *y, int n, int ldy, const int32_t *ids,
                         float *out)
{
  int C = m->config.n_embd;
  g_autofree float *w = g_new (float, C); /* (C) row ids[i] of W_U */
  lens_blas_use_one_thread ();
  for (int i = 0; i < n; i++)
    {
      out[i] = NAN;
      if (ids[i] < 0)
        continue;
      lens_mat_rows_f32 (&m->lm_head, ids[i], 1, w);
      out[i] = cblas_sdot (C, y + (size_t) i * ldy, 1, w, 1);
      output_transform (m, out + i, 1, 1, 1);
    }
}
