/* lens-forward.c: the forward pass of every family, built from the shared operations of
 * lens-ops.c as the family's row of the architecture table says. Reads top to bottom: embed, then
 * per block x += attention(norm(x)); x += mlp(norm(x)). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "lens-error.h"
#include "lens-head.h"
#include "lens-model-private.h"

/* Activations for T tokens, sized once per call. */
typedef struct
{
  float *x;      /* (T, C) residual stream */
  float *ln;     /* (T, C) normed input of a sub-block */
  float *qkv;    /* (T, QKV) per row: NH query heads | NKV key heads | NKV value heads */
  float *att;    /* (T, NH * hd) attention output before the output projection */
  float *att_sc; /* attention scores, lens_attention_scratch_floats (T) */
  float *proj;   /* (T, C) output of a projection */
  float *up;     /* (T, F) */
  float *gate;   /* (T, F), gated MLPs only */
  float *cos_t;  /* (T, rot / 2) RoPE tables */
  float *sin_t;
  float *tiles; /* per-thread scratch of weights converted tile by tile */
} LensActivations;

static void
activations_free (LensActivations *a)
{
  float **all[] = {&a->x,  &a->ln,   &a->qkv,   &a->att,   &a->att_sc, &a->proj,
                   &a->up, &a->gate, &a->cos_t, &a->sin_t, &a->tiles};
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    g_clear_pointer (all[i], g_free);
}

/* Allocates everything, or nothing and FALSE (a long prompt on a big model can ask for more
 * memory than there is). */
static gboolean
activations_alloc (const LensConfig *c, int T, LensActivations *a, GError **error)
{
  size_t TC = (size_t) T * c->n_embd, TF = (size_t) T * c->n_inner;
  size_t QKV = (size_t) (c->n_head + 2 * c->n_kv_head) * c->head_dim;
  size_t max_in = (size_t) MAX (MAX (c->n_embd, c->n_inner), c->n_head * c->head_dim);
  size_t half = (size_t) MAX (c->rope.rotary_dim / 2, 1);
  memset (a, 0, sizeof *a);
  a->x = g_try_new (float, TC);
  a->ln = g_try_new (float, TC);
  a->qkv = g_try_new (float, ((size_t) T * QKV));
  a->att = g_try_new (float, ((size_t) T * c->n_head * c->head_dim));
  a->att_sc = g_try_new (float, lens_attention_scratch_floats (T));
  a->proj = g_try_new (float, TC);
  a->up = g_try_new (float, TF);
  a->gate = c->arch->mlp == LENS_MLP_SWIGLU ? g_try_new (float, TF) : g_new (float, 1);
  a->cos_t = g_try_new (float, ((size_t) T * half));
  a->sin_t = g_try_new (float, ((size_t) T * half));
  a->tiles
      = g_try_new (float, ((size_t) omp_get_max_threads () * lens_linear_scratch_floats (max_in)));
  if (a->x && a->ln && a->qkv && a->att && a->att_sc && a->proj && a->up && a->gate && a->cos_t
      && a->sin_t && a->tiles)
    return TRUE;
  activations_free (a);
  g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "Out of memory for the activations of %d tokens",
               T);
  return FALSE;
}

void
lens_model_norm (const LensModel *m, const LensVec *w, const LensVec *b, const float *x, float *y,
                 int n)
{
  const LensConfig *c = &m->config;
  if (c->arch->norm == LENS_NORM_LAYER)
    lens_layernorm_forward (y, x, w->data, b->data, n, c->n_embd, c->norm_eps);
  else
    lens_rmsnorm_forward (y, x, w->data, n, c->n_embd, c->norm_eps);
}

static gboolean
check_cancel (LensCancelFunc cancel, gpointer user_data, GError **error)
{
  if (cancel != NULL && cancel (user_data))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_CANCELLED, "Cancelled");
      return FALSE;
    }
  return TRUE;
}

/* x (T, C) = tok_embd[ids] (+ pos_embd[0..T) for learned positions) */
static void
embed_forward (const LensModel *m, const int32_t *ids, int T, float *x, float *row)
{
  int C = m->config.n_embd;
  for (int t = 0; t < T; t++)
    {
      float *xt = x + (size_t) t * C;
      lens_mat_rows_f32 (&m->tok_embd, ids[t], 1, xt);
      if (m->config.arch->pos == LENS_POS_LEARNED)
        {
          lens_mat_rows_f32 (&m->pos_embd, t, 1, row);
          for (int i = 0; i < C; i++)
            xt[i] += row[i];
        }
    }
}

/* qkv (T, QKV) = the q, k and v projections of ln (T, C), with the per-head q/k norms and RoPE
 * applied to q and k. */
static void
qkv_forward (const LensModel *m, const LensBlockWeights *b, LensActivations *a, int T)
{
  const LensConfig *c = &m->config;
  int hd = c->head_dim, Q = c->n_head * hd, KV = c->n_kv_head * hd, QKV = Q + 2 * KV;

  if (b->qkv.data != NULL)
    lens_linear_forward (a->qkv, QKV, a->ln, T, &b->qkv, b->qkv_b.data, a->tiles);
  else
    {
      lens_linear_forward (a->qkv, QKV, a->ln, T, &b->q, b->q_b.data, a->tiles);
      lens_linear_forward (a->qkv + Q, QKV, a->ln, T, &b->k, b->k_b.data, a->tiles);
      lens_linear_forward (a->qkv + Q + KV, QKV, a->ln, T, &b->v, b->v_b.data, a->tiles);
    }
  if (b->q_norm_w.data != NULL)
    for (int t = 0; t < T; t++)
      {
        float *row = a->qkv + (size_t) t * QKV;
        lens_rmsnorm_forward (row, row, b->q_norm_w.data, c->n_head, hd, c->norm_eps);
        lens_rmsnorm_forward (row + Q, row + Q, b->k_norm_w.data, c->n_kv_head, hd, c->norm_eps);
      }
  if (c->arch->pos == LENS_POS_ROPE)
    {
      int rot = c->rope.rotary_dim;
      lens_rope_apply (a->qkv, QKV, T, c->n_head, hd, rot, a->cos_t, a->sin_t);
      lens_rope_apply (a->qkv + Q, QKV, T, c->n_kv_head, hd, rot, a->cos_t, a->sin_t);
    }
}

/* x (T, C) += attn(norm_1(x)) */
static void
attention_forward (const LensModel *m, int l, LensActivations *a, int T)
{
  const LensConfig *c = &m->config;
  const LensBlockWeights *b = &m->blocks[l];
  int C = c->n_embd, hd = c->head_dim;
  int QKV = (c->n_head + 2 * c->n_kv_head) * hd;
  int window = c->layer_sliding[l] ? c->sliding_window : 0;

  lens_model_norm (m, &b->attn_norm_w, &b->attn_norm_b, a->x, a->ln, T);
  qkv_forward (m, b, a, T);
  lens_attention_forward (a->att, a->qkv, QKV, a->att_sc, T, c->n_head, c->n_kv_head, hd, window,
                          (float) (1.0 / sqrt ((double) hd)));
  lens_linear_forward (a->proj, C, a->att, T, &b->o, b->o_b.data, a->tiles);
  lens_residual_add (a->x, a->proj, (size_t) T * C);
}

/* x (T, C) += mlp(norm_2(x)) */
static void
mlp_forward (const LensModel *m, int l, LensActivations *a, int T)
{
  const LensConfig *c = &m->config;
  const LensBlockWeights *b = &m->blocks[l];
  int C = c->n_embd, F = c->n_inner;
  float *act = a->up;

  lens_model_norm (m, &b->mlp_norm_w, &b->mlp_norm_b, a->x, a->ln, T);
  lens_linear_forward (a->up, F, a->ln, T, &b->up, b->up_b.data, a->tiles);
  switch (c->arch->mlp)
    {
    case LENS_MLP_GELU_TANH:
      lens_gelu_new_forward (a->up, (size_t) T * F);
      break;
    case LENS_MLP_SWIGLU:
      lens_linear_forward (a->gate, F, a->ln, T, &b->gate, b->gate_b.data, a->tiles);
      lens_swiglu_forward (a->gate, a->up, (size_t) T * F);
      act = a->gate;
      break;
    }
  lens_linear_forward (a->proj, C, act, T, &b->down, b->down_b.data, a->tiles);
  lens_residual_add (a->x, a->proj, (size_t) T * C);
}

gboolean
lens_forward_run (LensModel *m, const int32_t *ids, int T, float *residuals, float *logits,
                  LensCancelFunc cancel, LensProgressFunc progress, gpointer user_data,
                  GError **error)
{
  const LensConfig *c = &m->config;
  int C = c->n_embd, V = c->vocab_size, L = c->n_layer;

  if (T < 1 || T > c->n_positions)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "The prompt has %d tokens; this model takes 1 to %d (its context length)", T,
                   c->n_positions);
      return FALSE;
    }
  for (int t = 0; t < T; t++)
    if (ids[t] < 0 || ids[t] >= V)
      {
        g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                     "Token %d at position %d is outside the vocabulary (0..%d)", ids[t], t, V - 1);
        return FALSE;
      }

  LensActivations a;
  if (!activations_alloc (c, T, &a, error))
    return FALSE;
  size_t TC = (size_t) T * C;
  gboolean ok = FALSE;

  embed_forward (m, ids, T, a.x, a.proj);
  if (residuals != NULL)
    memcpy (residuals, a.x, TC * sizeof (float));
  if (c->arch->pos == LENS_POS_ROPE)
    lens_rope_table (m->rope_inv_freq, c->rope.rotary_dim, 0, T, a.cos_t, a.sin_t);

  for (int l = 0; l < L; l++)
    {
      if (!check_cancel (cancel, user_data, error))
        goto out;
      attention_forward (m, l, &a, T);
      mlp_forward (m, l, &a, T);
      if (residuals != NULL)
        memcpy (residuals + (size_t) (l + 1) * TC, a.x, TC * sizeof (float));
      if (progress != NULL)
        progress (l + 1, L, user_data);
    }

  /* logits (T, V) = head(x) */
  if (logits != NULL)
    {
      lens_head_norm (m, a.x, a.ln, T);
      if (!lens_head_logits (m, a.ln, T, logits, error))
        goto out;
    }
  ok = TRUE;

out:
  activations_free (&a);
  return ok;
}
