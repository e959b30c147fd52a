/* lens-forward.c: the forward pass of every family, built from the shared operations of
 * lens-ops.c as the family's row of the architecture table says. Reads top to bottom: embed, then
 * per block x += attention(norm(x)); x += mlp(norm(x)). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "lens-error.h"
#include "lens-head.h"
#include "lens-model-private.h"

/* Keys and values of a block's positions, row j = [NKV key heads | NKV value heads] of position
 * j, as the attention reads them. */
struct LensKvCache
{
  int n_layer;
  int width; /* 2 NKV hd floats a row */
  int cap;   /* rows allocated per layer */
  float **layers;
};

/* The positions a call computes: p .. p + n - 1 of a prompt whose earlier positions' keys and
 * values are in kv (NULL when p is 0 and nothing is kept). */
typedef struct
{
  int p, n;
  LensKvCache *kv;
} Span;

/* Activations for the n positions of a call (T below), sized once per call. */
typedef struct
{
  float *x;      /* (T, C) residual stream */
  float *ln;     /* (T, C) normed input of a sub-block */
  float *qkv;    /* (T, QKV) per row: NH query heads | NKV key heads | NKV value heads */
  float *att;    /* (T, NH * hd) attention output before the output projection */
  float *att_sc; /* attention scores, lens_attention_scratch_floats (n, p + n) */
  float *proj;   /* (T, C) output of a projection */
  float *proj2;  /* (T, C) the MLP's output beside the attention's (parallel residual) */
  float *up;     /* (T, F) */
  float *gate;   /* (T, F), or (T, 2F) gate | up when fused; gated MLPs only */
  float *cos_t;  /* (T, rot / 2) RoPE tables */
  float *sin_t;
  float *cos_local; /* (T, rot / 2) the sliding blocks' RoPE tables (Gemma 3) */
  float *sin_local;
  float *tiles; /* per-thread scratch of weights converted tile by tile */
} LensActivations;

static void
activations_free (LensActivations *a)
{
  /* every buffer of LensActivations (the assertion fails when one is added without a line here) */
  float **all[] = {&a->x,  &a->ln,   &a->qkv,   &a->att,   &a->att_sc,    &a->proj,      &a->proj2,
                   &a->up, &a->gate, &a->cos_t, &a->sin_t, &a->cos_local, &a->sin_local, &a->tiles};
  G_STATIC_ASSERT (sizeof (LensActivations) == 14 * sizeof (float *));
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    g_clear_pointer (all[i], g_free);
}

/* Allocates everything, or nothing and FALSE (a long prompt on a big model can ask for more
 * memory than there is). */
static gboolean
activations_alloc (const LensConfig *c, int T, int keys, LensActivations *a, GError **error)
{
  size_t TC = (size_t) T * c->n_embd, TF = (size_t) T * c->n_inner;
  size_t QKV = (size_t) (c->n_head + 2 * c->n_kv_head) * c->head_dim;
  /* the widest input of a projection; the tiles also serve as one row of q|k|v (GPT-NeoX's
   * reordering) */
  size_t max_in = (size_t) MAX (MAX (c->n_embd, c->n_inner), c->n_head * c->head_dim);
  max_in = MAX (max_in, QKV);
  size_t half = (size_t) MAX (c->rope.rotary_dim / 2, 1);
  memset (a, 0, sizeof *a);
  a->x = g_try_new (float, TC);
  a->ln = g_try_new (float, TC);
  a->qkv = g_try_new (float, ((size_t) T * QKV));
  a->att = g_try_new (float, ((size_t) T * c->n_head * c->head_dim));
  a->att_sc = g_try_new (float, lens_attention_scratch_floats (T, keys));
  a->proj = g_try_new (float, TC);
  a->proj2 = g_try_new (float, TC);
  a->up = g_try_new (float, TF);
  a->gate = c->arch->mlp == LENS_MLP_GATED ? g_try_new (float, 2 * TF) : g_new (float, 1);
  a->cos_t = g_try_new (float, ((size_t) T * half));
  a->sin_t = g_try_new (float, ((size_t) T * half));
  size_t local = c->has_local_rope ? (size_t) T * half : 1;
  a->cos_local = g_try_new (float, local);
  a->sin_local = g_try_new (float, local);
  a->tiles
      = g_try_new (float, ((size_t) omp_get_max_threads () * lens_linear_scratch_floats (max_in)));
  if (a->x && a->ln && a->qkv && a->att && a->att_sc && a->proj && a->proj2 && a->up && a->gate
      && a->cos_t && a->sin_t && a->cos_local && a->sin_local && a->tiles)
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

/* x (T, C) = tok_embd[ids] * embed_scale (+ pos_embd[p .. p + T) for learned positions) */
static void
embed_forward (const LensModel *m, const int32_t *ids, int p, int T, float *x, float *row)
{
  int C = m->config.n_embd;
  /* Gemma's sqrt(hidden_size), as a float32 factor */
  float scale = (float) m->config.embed_scale;
  for (int t = 0; t < T; t++)
    {
      float *xt = x + (size_t) t * C;
      lens_mat_rows_f32 (&m->tok_embd, ids[t], 1, xt);
      if (scale != 1.0f)
        for (int i = 0; i < C; i++)
          xt[i] *= scale;
      if (m->config.arch->pos == LENS_POS_LEARNED)
        {
          lens_mat_rows_f32 (&m->pos_embd, p + t, 1, row);
          for (int i = 0; i < C; i++)
            xt[i] += row[i];
        }
    }
}

/* GPT-NeoX's fused projection gives each head's q, k, v side by side; the attention wants all
 * queries, then all keys, then all values. Reorders every row of qkv (T, 3 NH hd) in place. */
static void
qkv_heads_to_blocks (float *qkv, int T, int NH, int hd, float *row)
{
  int QKV = 3 * NH * hd;
  for (int t = 0; t < T; t++)
    {
      float *r = qkv + (size_t) t * QKV;
      memcpy (row, r, sizeof (float) * (size_t) QKV);
      for (int h = 0; h < NH; h++)
        for (int j = 0; j < 3; j++)
          memcpy (r + ((size_t) j * NH + h) * hd, row + ((size_t) h * 3 + j) * hd,
                  sizeof (float) * (size_t) hd);
    }
}

/* qkv (T, QKV) = the q, k and v projections of `in` (T, C), with the q/k norms and RoPE applied
 * to q and k. */
static void
qkv_forward (const LensModel *m, int l, const float *in, LensActivations *a, int T)
{
  const LensConfig *c = &m->config;
  const LensBlockWeights *b = &m->blocks[l];
  int hd = c->head_dim, Q = c->n_head * hd, KV = c->n_kv_head * hd, QKV = Q + 2 * KV;

  if (b->qkv.data != NULL)
    {
      lens_linear_forward (a->qkv, QKV, in, T, &b->qkv, b->qkv_b.data, a->tiles);
      if (c->arch->qkv_order == LENS_QKV_PER_HEAD)
        qkv_heads_to_blocks (a->qkv, T, c->n_head, hd, a->tiles);
    }
  else
    {
      lens_linear_forward (a->qkv, QKV, in, T, &b->q, b->q_b.data, a->tiles);
      lens_linear_forward (a->qkv + Q, QKV, in, T, &b->k, b->k_b.data, a->tiles);
      lens_linear_forward (a->qkv + Q + KV, QKV, in, T, &b->v, b->v_b.data, a->tiles);
    }
  if (b->q_norm_w.data != NULL)
    {
      /* per head (Qwen3, Gemma 3), or over the whole projection before the split (OLMo 2) */
      gboolean whole = c->arch->qk_norm_whole;
      for (int t = 0; t < T; t++)
        {
          float *row = a->qkv + (size_t) t * QKV;
          lens_rmsnorm_forward (row, row, b->q_norm_w.data, whole ? 1 : c->n_head, whole ? Q : hd,
                                c->norm_eps);
          lens_rmsnorm_forward (row + Q, row + Q, b->k_norm_w.data, whole ? 1 : c->n_kv_head,
                                whole ? KV : hd, c->norm_eps);
        }
    }
  if (c->arch->pos == LENS_POS_ROPE)
    {
      gboolean local = c->has_local_rope && c->layer_sliding[l];
      const float *cos_t = local ? a->cos_local : a->cos_t,
                  *sin_t = local ? a->sin_local : a->sin_t;
      int rot = local ? c->rope_local.rotary_dim : c->rope.rotary_dim;
      lens_rope_apply (a->qkv, QKV, T, c->n_head, hd, rot, cos_t, sin_t);
      lens_rope_apply (a->qkv + Q, QKV, T, c->n_kv_head, hd, rot, cos_t, sin_t);
    }
}

/* out (T, C) = attn(in (T, C)), then the family's norm of it when it has one */
static void
attention_forward (const LensModel *m, int l, const float *in, float *out, LensActivations *a,
                   const Span *s)
{
  const LensConfig *c = &m->config;
  const LensBlockWeights *b = &m->blocks[l];
  int T = s->n, C = c->n_embd, hd = c->head_dim;
  int Q = c->n_head * hd, KV2 = 2 * c->n_kv_head * hd, QKV = Q + KV2;
  int window = c->layer_sliding[l] ? c->sliding_window : 0;
  double scale = c->attn_scale > 0.0 ? c->attn_scale : 1.0 / sqrt ((double) hd);

  qkv_forward (m, l, in, a, T);
  /* keys and values: of these positions only, in place; or the earlier ones' from the cache,
   * where these are appended */
  const float *kv = a->qkv + Q;
  int ldkv = QKV;
  if (s->kv != NULL)
    {
      float *rows = s->kv->layers[l] + (size_t) s->p * KV2;
      for (int t = 0; t < T; t++)
        memcpy (rows + (size_t) t * KV2, a->qkv + (size_t) t * QKV + Q, sizeof (float) * KV2);
      kv = s->kv->layers[l];
      ldkv = KV2;
    }
  lens_attention_forward (a->att, a->qkv, QKV, kv, ldkv, a->att_sc, s->p, T, c->n_head,
                          c->n_kv_head, hd, window, (float) scale, (float) c->attn_softcap);
  lens_linear_forward (out, C, a->att, T, &b->o, b->o_b.data, a->tiles);
  if (b->attn_post_norm_w.data != NULL)
    lens_model_norm (m, &b->attn_post_norm_w, &(LensVec){0}, out, out, T);
}

/* out (T, C) = mlp(in (T, C)), then the family's norm of it when it has one */
static void
mlp_forward (const LensModel *m, int l, const float *in, float *out, LensActivations *a, int T)
{
  const LensConfig *c = &m->config;
  const LensBlockWeights *b = &m->blocks[l];
  int C = c->n_embd, F = c->n_inner;
  float *act = a->up;

  switch (c->arch->mlp)
    {
    case LENS_MLP_PLAIN:
      lens_linear_forward (a->up, F, in, T, &b->up, b->up_b.data, a->tiles);
      lens_activation_forward (a->up, (size_t) T * F, c->act);
      break;
    case LENS_MLP_GATED:
      if (b->gate_up.data != NULL)
        {
          /* gate | up (T, 2F) in one GEMM */
          lens_linear_forward (a->gate, 2 * F, in, T, &b->gate_up, NULL, a->tiles);
          lens_glu_forward (a->up, a->gate, 2 * F, a->gate + F, 2 * F, T, F, c->act);
        }
      else
        {
          lens_linear_forward (a->up, F, in, T, &b->up, b->up_b.data, a->tiles);
          lens_linear_forward (a->gate, F, in, T, &b->gate, b->gate_b.data, a->tiles);
          lens_glu_forward (a->up, a->gate, F, a->up, F, T, F, c->act);
        }
      break;
    }
  lens_linear_forward (out, C, act, T, &b->down, b->down_b.data, a->tiles);
  if (b->mlp_post_norm_w.data != NULL)
    lens_model_norm (m, &b->mlp_post_norm_w, &(LensVec){0}, out, out, T);
}

/* One block, in the layout its family has: pre-norm (x += attn(norm x); x += mlp(norm x)),
 * with norms around the sub-layers (Gemma 2/3), post-norm only (OLMo 2: the norms absent), or
 * parallel (GPT-NeoX: x += attn(norm_1 x) + mlp(norm_2 x)). attn_resid (T, C), when not NULL,
 * receives the residual after the attention sub-layer (parallel: x + attn(norm_1 x) alone). */
static void
block_forward (const LensModel *m, int l, LensActivations *a, const Span *s, float *attn_resid)
{
  const LensConfig *c = &m->config;
  const LensBlockWeights *b = &m->blocks[l];
  int T = s->n;
  size_t TC = (size_t) T * c->n_embd;

  const float *attn_in = a->x;
  if (b->attn_norm_w.data != NULL)
    {
      lens_model_norm (m, &b->attn_norm_w, &b->attn_norm_b, a->x, a->ln, T);
      attn_in = a->ln;
    }
  attention_forward (m, l, attn_in, a->proj, a, s);

  if (c->parallel_residual)
    {
      lens_model_norm (m, &b->mlp_norm_w, &b->mlp_norm_b, a->x, a->ln, T);
      mlp_forward (m, l, a->ln, a->proj2, a, T);
      lens_residual_add (a->x, a->proj, TC);
      if (attn_resid != NULL)
        memcpy (attn_resid, a->x, TC * sizeof (float));
      lens_residual_add (a->x, a->proj2, TC);
      return;
    }
  lens_residual_add (a->x, a->proj, TC);
  if (attn_resid != NULL)
    memcpy (attn_resid, a->x, TC * sizeof (float));
  const float *mlp_in = a->x;
  if (b->mlp_norm_w.data != NULL)
    {
      lens_model_norm (m, &b->mlp_norm_w, &b->mlp_norm_b, a->x, a->ln, T);
      mlp_in = a->ln;
    }
  mlp_forward (m, l, mlp_in, a->proj, a, T);
  lens_residual_add (a->x, a->proj, TC);
}

gboolean
lens_model_rope_is_long (const LensModel *m, int T)
{
  const LensRope *r = &m->config.rope;
  return r->type == LENS_ROPE_LONGROPE && T > r->original_max_position_embeddings;
}

/* The RoPE tables of positions p .. p + n - 1: longrope takes its long factors for prompts
 * longer than the original context (p + n in all), and scales cos and sin by its attention
 * factor. */
static void
rope_tables (const LensModel *m, const Span *s, LensActivations *a)
{
  const LensConfig *c = &m->config;
  const LensRope *r = &c->rope;
  int T = s->n;
  const double *inv_freq
      = lens_model_rope_is_long (m, s->p + s->n) ? m->rope_inv_freq_long : m->rope_inv_freq;
  lens_rope_table (inv_freq, r->rotary_dim, s->p, T, a->cos_t, a->sin_t);
  if (r->attention_factor != 1.0)
    for (size_t i = 0; i < (size_t) T * (r->rotary_dim / 2); i++)
      {
        a->cos_t[i] = (float) (a->cos_t[i] * r->attention_factor);
        a->sin_t[i] = (float) (a->sin_t[i] * r->attention_factor);
      }
  if (c->has_local_rope)
    lens_rope_table (m->rope_local_inv_freq, c->rope_local.rotary_dim, s->p, T, a->cos_local,
                     a->sin_local);
}

/* Positions p .. T - 1 of ids (T in all); see lens_model_forward_from. */
static gboolean
forward_span (LensModel *m, LensKvCache *kv, const int32_t *ids, int T, int p, float *residuals,
              float *attn_residuals, float *logits, LensCancelFunc cancel,
              LensProgressFunc progress, gpointer user_data, GError **error)
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
  g_return_val_if_fail (p >= 0 && p < T && (p == 0 || kv != NULL), FALSE);
  if (kv != NULL && !lens_kv_cache_reserve (kv, m, T, error))
    return FALSE;

  Span s = {.p = p, .n = T - p, .kv = kv};
  LensActivations a;
  if (!activations_alloc (c, s.n, T, &a, error))
    return FALSE;
  size_t nC = (size_t) s.n * C;
  gboolean ok = FALSE;

  embed_forward (m, ids + p, p, s.n, a.x, a.proj);
  if (residuals != NULL)
    memcpy (residuals, a.x, nC * sizeof (float));
  if (c->arch->pos == LENS_POS_ROPE)
    rope_tables (m, &s, &a);

  for (int l = 0; l < L; l++)
    {
      if (!check_cancel (cancel, user_data, error))
        goto out;
      block_forward (m, l, &a, &s,
                     attn_residuals != NULL ? attn_residuals + (size_t) l * nC : NULL);
      if (residuals != NULL)
        memcpy (residuals + (size_t) (l + 1) * nC, a.x, nC * sizeof (float));
      if (progress != NULL)
        progress (l + 1, L, user_data);
    }

  /* logits (n, V) = head(x) */
  if (logits != NULL)
    {
      lens_head_norm (m, a.x, a.ln, s.n);
      if (!lens_head_logits (m, a.ln, s.n, logits, error))
        goto out;
    }
  ok = TRUE;

out:
  activations_free (&a);
  return ok;
}

gboolean
lens_forward_run (LensModel *m, const int32_t *ids, int T, float *residuals, float *logits,
                  LensCancelFunc cancel, LensProgressFunc progress, gpointer user_data,
                  GError **error)
{
  return forward_span (m, NULL, ids, T, 0, residuals, NULL, logits, cancel, progress, user_data,
                       error);
}

gboolean
lens_model_forward_from (LensModel *m, LensKvCache *kv, const int32_t *ids, int T, int p,
                         float *residuals, float *attn_residuals, LensCancelFunc cancel,
                         LensProgressFunc progress, gpointer user_data, GError **error)
{
  return forward_span (m, kv, ids, T, p, residuals, attn_residuals, NULL, cancel, progress,
                       user_data, error);
}

/* ---- the key/value cache ---- */

LensKvCache *
lens_kv_cache_new (void)
{
  return g_new0 (LensKvCache, 1);
}

void
lens_kv_cache_free (LensKvCache *kv)
{
  if (kv == NULL)
    return;
  for (int l = 0; l < kv->n_layer; l++)
    g_free (kv->layers[l]);
  g_free (kv->layers);
  g_free (kv);
}

gboolean
lens_kv_cache_reserve (LensKvCache *kv, const LensModel *m, int T, GError **error)
{
  const LensConfig *c = &m->config;
  int width = 2 * c->n_kv_head * c->head_dim;
  if (kv->n_layer != c->n_layer || kv->width != width)
    {
      /* another model: start over */
      for (int l = 0; l < kv->n_layer; l++)
        g_free (kv->layers[l]);
      g_free (kv->layers);
      kv->layers = g_new0 (float *, c->n_layer);
      kv->n_layer = c->n_layer;
      kv->width = width;
      kv->cap = 0;
    }
  if (T <= kv->cap)
    return TRUE;
  int cap = MAX (T, MIN (2 * kv->cap, c->n_positions)); /* grow geometrically, keep rows */
  for (int l = 0; l < kv->n_layer; l++)
    {
      float *grown = g_try_renew (float, kv->layers[l], ((size_t) cap * width));
      if (grown == NULL)
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_IO,
                       "Out of memory for the keys and values of %d tokens", T);
          return FALSE;
        }
      kv->layers[l] = grown;
    }
  kv->cap = cap;
  return TRUE;
}
