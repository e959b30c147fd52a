/* lens-model.c: loading a GPT-2 checkpoint folder and running its forward pass. */
#include <math.h>
#include <string.h>

#include "lens-error.h"
#include "lens-model.h"
#include "lens-ops.h"
#include "lens-safetensors.h"

#include <cblas.h>

/* A weight in f32: either straight from the mapping (aligned F32) or widened into `owned`. */
typedef struct
{
  const float *data;
  float *owned;
} LensWeight;

typedef struct
{
  LensWeight ln_1_w, ln_1_b;           /* (C) */
  LensWeight attn_w, attn_b;           /* (C, 3C), (3C) */
  LensWeight attn_proj_w, attn_proj_b; /* (C, C), (C) */
  LensWeight ln_2_w, ln_2_b;           /* (C) */
  LensWeight fc_w, fc_b;               /* (C, F), (F) */
  LensWeight fc_proj_w, fc_proj_b;     /* (F, C), (C) */
} LensBlockWeights;

struct LensModel
{
  gint ref_count;
  char *path;
  char *name;
  LensConfig config;
  LensWeightStore *store;
  LensTokenizer *tokenizer;
  char **token_texts; /* (V) display strings */

  LensWeight wte;            /* (V, C) */
  LensWeight wpe;            /* (maxT, C) */
  LensBlockWeights *blocks;  /* (L) */
  LensWeight ln_f_w, ln_f_b; /* (C) */
  LensWeight lm_head;        /* (V, C); aliases wte when tied */
};

static void
weight_clear (LensWeight *w)
{
  g_clear_pointer (&w->owned, g_free);
  w->data = NULL;
}

/* Finds `name` (trying the "transformer." prefix too when `prefixed`), checks its shape and makes
 * it available as f32. */
static gboolean
load_weight (LensModel *m, const char *name, gboolean prefixed, int n_dims, const int64_t *shape,
             LensWeight *out, GError **error)
{
  const LensTensor *t = lens_weight_store_find (m->store, name);
  if (t == NULL && prefixed)
    {
      g_autofree char *alt = g_strconcat ("transformer.", name, NULL);
      t = lens_weight_store_find (m->store, alt);
    }
  if (t == NULL)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: the checkpoint has no tensor \"%s\"%s", m->path, name,
                   prefixed ? " (nor \"transformer.\" + that name)" : "");
      return FALSE;
    }

  gboolean same = t->n_dims == n_dims;
  for (int i = 0; same && i < n_dims; i++)
    same = t->shape[i] == shape[i];
  if (!same)
    {
      g_autoptr (GString) want = g_string_new ("[");
      g_autoptr (GString) got = g_string_new ("[");
      for (int i = 0; i < n_dims; i++)
        g_string_append_printf (want, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
      for (int i = 0; i < t->n_dims; i++)
        g_string_append_printf (got, "%s%" G_GINT64_FORMAT, i ? ", " : "", t->shape[i]);
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: tensor \"%s\" has shape %s], config.json implies %s]", t->file, t->name,
                   got->str, want->str);
      return FALSE;
    }

  out->data = lens_tensor_f32_direct (t);
  if (out->data != NULL)
    return TRUE;

  out->owned = g_try_new (float, t->n_elements);
  if (out->owned == NULL && t->n_elements > 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "%s: out of memory widening tensor \"%s\"",
                   t->file, t->name);
      return FALSE;
    }
  if (!lens_tensor_to_f32 (t, out->owned, error))
    return FALSE;
  out->data = out->owned;
  return TRUE;
}

static gboolean
load_gpt2_weights (LensModel *m, GError **error)
{
  const LensConfig *c = &m->config;
  int64_t C = c->n_embd, V = c->vocab_size, P = c->n_positions, F = c->n_inner;

#define LOAD(name, w, ...)                                                                         \
  G_STMT_START                                                                                     \
  {                                                                                                \
    const int64_t shape_[] = {__VA_ARGS__};                                                        \
    if (!load_weight (m, name, TRUE, G_N_ELEMENTS (shape_), shape_, w, error))                     \
      return FALSE;                                                                                \
  }                                                                                                \
  G_STMT_END

  LOAD ("wte.weight", &m->wte, V, C);
  LOAD ("wpe.weight", &m->wpe, P, C);
  m->blocks = g_new0 (LensBlockWeights, c->n_layer);
  for (int l = 0; l < c->n_layer; l++)
    {
      LensBlockWeights *b = &m->blocks[l];
      char name[96];
#define BLOCK(suffix, w, ...)                                                                      \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_snprintf (name, sizeof name, "h.%d.%s", l, suffix);                                          \
    LOAD (name, w, __VA_ARGS__);                                                                   \
  }                                                                                                \
  G_STMT_END
      BLOCK ("ln_1.weight", &b->ln_1_w, C);
      BLOCK ("ln_1.bias", &b->ln_1_b, C);
      BLOCK ("attn.c_attn.weight", &b->attn_w, C, 3 * C);
      BLOCK ("attn.c_attn.bias", &b->attn_b, 3 * C);
      BLOCK ("attn.c_proj.weight", &b->attn_proj_w, C, C);
      BLOCK ("attn.c_proj.bias", &b->attn_proj_b, C);
      BLOCK ("ln_2.weight", &b->ln_2_w, C);
      BLOCK ("ln_2.bias", &b->ln_2_b, C);
      BLOCK ("mlp.c_fc.weight", &b->fc_w, C, F);
      BLOCK ("mlp.c_fc.bias", &b->fc_b, F);
      BLOCK ("mlp.c_proj.weight", &b->fc_proj_w, F, C);
      BLOCK ("mlp.c_proj.bias", &b->fc_proj_b, C);
#undef BLOCK
    }
  LOAD ("ln_f.weight", &m->ln_f_w, C);
  LOAD ("ln_f.bias", &m->ln_f_b, C);

  /* HF ties lm_head to wte unless tie_word_embeddings is false; an untied checkpoint must ship
   * lm_head.weight, a tied one may still carry a copy, which we then ignore like HF does. */
  if (!c->tie_word_embeddings)
    {
      const int64_t shape[] = {V, C};
      if (!load_weight (m, "lm_head.weight", FALSE, 2, shape, &m->lm_head, error))
        return FALSE;
    }
  else
    m->lm_head.data = m->wte.data;
#undef LOAD
  return TRUE;
}

static char *
model_display_name (const char *dir)
{
  /* .../models--openai-community--gpt2/snapshots/<rev> -> "openai-community/gpt2" */
  g_autofree char *base = g_path_get_basename (dir);
  g_autofree char *parent = g_path_get_dirname (dir);
  g_autofree char *parent_base = g_path_get_basename (parent);
  if (g_str_equal (parent_base, "snapshots"))
    {
      g_autofree char *repo_dir = g_path_get_dirname (parent);
      g_autofree char *repo = g_path_get_basename (repo_dir);
      if (g_str_has_prefix (repo, "models--"))
        {
          g_auto (GStrv) parts = g_strsplit (repo + strlen ("models--"), "--", -1);
          return g_strjoinv ("/", parts);
        }
    }
  return g_steal_pointer (&base);
}

static gpointer
touch_weights_thread (gpointer store)
{
  lens_weight_store_touch (store);
  return NULL;
}

static gboolean
load_tokenizer (LensModel *m, GError **error)
{
  m->tokenizer = lens_tokenizer_load_dir (m->path, error);
  if (m->tokenizer == NULL)
    return FALSE;
  int tok_vocab = lens_tokenizer_vocab_size (m->tokenizer);
  if (tok_vocab > m->config.vocab_size)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: the tokenizer has %d tokens but config.json's vocab_size is %d", m->path,
                   tok_vocab, m->config.vocab_size);
      return FALSE;
    }
  return TRUE;
}

LensModel *
lens_model_load (const char *dir, GError **error)
{
  g_return_val_if_fail (dir != NULL, NULL);

  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO,
                   "%s: not a folder (a model folder holds "
                   "config.json, model.safetensors and tokenizer files)",
                   dir);
      return NULL;
    }

  g_autoptr (LensModel) m = g_new0 (LensModel, 1);
  m->ref_count = 1;
  m->path = g_canonicalize_filename (dir, NULL);
  m->name = model_display_name (m->path);

  g_autofree char *config_path = g_build_filename (m->path, "config.json", NULL);
  if (!lens_config_load (config_path, &m->config, error))
    return NULL;

  m->store = lens_weight_store_open (m->path, error);
  if (m->store == NULL)
    return NULL;
  /* Map the weights in on the other core while this one parses the tokenizer. */
  GThread *toucher = g_thread_try_new ("lens-touch", touch_weights_thread, m->store, NULL);
  gboolean ok = load_tokenizer (m, error) && load_gpt2_weights (m, error);
  if (ok)
    lens_weight_store_touch (m->store); /* help with what is left */
  else
    lens_weight_store_touch_stop (m->store);
  if (toucher != NULL) /* without it, this thread has touched everything above */
    g_thread_join (toucher);
  if (!ok)
    return NULL;

  m->token_texts = g_new0 (char *, m->config.vocab_size + 1);
  for (int v = 0; v < m->config.vocab_size; v++)
    m->token_texts[v] = lens_tokenizer_token_display (m->tokenizer, v);

  return g_steal_pointer (&m);
}

LensModel *
lens_model_ref (LensModel *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  g_atomic_int_inc (&m->ref_count);
  return m;
}

void
lens_model_unref (LensModel *m)
{
  if (m == NULL || !g_atomic_int_dec_and_test (&m->ref_count))
    return;
  weight_clear (&m->wte);
  weight_clear (&m->wpe);
  if (m->blocks != NULL)
    for (int l = 0; l < m->config.n_layer; l++)
      {
        LensWeight *w = (LensWeight *) &m->blocks[l];
        for (size_t i = 0; i < sizeof (LensBlockWeights) / sizeof (LensWeight); i++)
          weight_clear (&w[i]);
      }
  g_free (m->blocks);
  weight_clear (&m->ln_f_w);
  weight_clear (&m->ln_f_b);
  weight_clear (&m->lm_head);
  g_clear_pointer (&m->store, lens_weight_store_free);
  g_clear_pointer (&m->tokenizer, lens_tokenizer_free);
  g_strfreev (m->token_texts);
  g_free (m->path);
  g_free (m->name);
  g_free (m);
}

const LensConfig *
lens_model_config (const LensModel *m)
{
  return &m->config;
}

const LensTokenizer *
lens_model_tokenizer (const LensModel *m)
{
  return m->tokenizer;
}

const char *
lens_model_path (const LensModel *m)
{
  return m->path;
}

const char *
lens_model_name (const LensModel *m)
{
  return m->name;
}

const char *
lens_model_token_text (const LensModel *m, int32_t id)
{
  if (id < 0 || id >= m->config.vocab_size)
    return "";
  return m->token_texts[id];
}

uint64_t
lens_model_weights_size (const LensModel *m)
{
  return lens_weight_store_size (m->store);
}

const float *
lens_model_unembedding (const LensModel *m)
{
  return m->lm_head.data;
}

void
lens_model_final_norm (const LensModel *m, const float *x, float *y)
{
  lens_layernorm_forward (y, x, m->ln_f_w.data, m->ln_f_b.data, 1, m->config.n_embd,
                          m->config.layer_norm_epsilon);
}

/* ------------------------------------------------------------------------------------------ */
/* The forward pass. Activations for T tokens, sized once per call. */

typedef struct
{
  float *x;      /* (T, C) residual stream */
  float *ln;     /* (T, C) normed input of a sub-block */
  float *qkv;    /* (T, 3C) */
  float *att;    /* (T, C) attention output before projection */
  float *att_sc; /* (threads, T, T) attention scores, one head per thread at a time */
  float *proj;   /* (T, C) output of a projection */
  float *fc;     /* (T, F) */
} LensActivations;

static void
activations_free (LensActivations *a)
{
  g_free (a->x);
  g_free (a->ln);
  g_free (a->qkv);
  g_free (a->att);
  g_free (a->att_sc);
  g_free (a->proj);
  g_free (a->fc);
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

/* x (T, C) = wte[ids] + wpe[0..T) */
static void
embed_forward (const LensModel *m, const int32_t *ids, int T, float *x)
{
  int C = m->config.n_embd;
  for (int t = 0; t < T; t++)
    {
      const float *te = m->wte.data + (size_t) ids[t] * C;
      const float *pe = m->wpe.data + (size_t) t * C;
      for (int i = 0; i < C; i++)
        x[(size_t) t * C + i] = te[i] + pe[i];
    }
}

/* x (T, C) += attn(ln_1(x)); x += mlp(ln_2(x)) */
static void
block_forward (const LensModel *m, const LensBlockWeights *b, LensActivations *a, int T)
{
  const LensConfig *c = &m->config;
  int C = c->n_embd, F = c->n_inner;

  lens_layernorm_forward (a->ln, a->x, b->ln_1_w.data, b->ln_1_b.data, T, C, c->layer_norm_epsilon);
  lens_matmul_forward (a->qkv, a->ln, b->attn_w.data, b->attn_b.data, T, C, 3 * C);
  lens_attention_forward (a->att, a->qkv, a->att_sc, T, C, c->n_head);
  lens_matmul_forward (a->proj, a->att, b->attn_proj_w.data, b->attn_proj_b.data, T, C, C);
  lens_residual_add (a->x, a->proj, (size_t) T * C);

  lens_layernorm_forward (a->ln, a->x, b->ln_2_w.data, b->ln_2_b.data, T, C, c->layer_norm_epsilon);
  lens_matmul_forward (a->fc, a->ln, b->fc_w.data, b->fc_b.data, T, C, F);
  lens_gelu_new_forward (a->fc, (size_t) T * F);
  lens_matmul_forward (a->proj, a->fc, b->fc_proj_w.data, b->fc_proj_b.data, T, F, C);
  lens_residual_add (a->x, a->proj, (size_t) T * C);
}

gboolean
lens_model_forward (LensModel *m, const int32_t *ids, int T, float *residuals, float *logits,
                    LensCancelFunc cancel, LensProgressFunc progress, gpointer user_data,
                    GError **error)
{
  const LensConfig *c = &m->config;
  int C = c->n_embd, V = c->vocab_size, L = c->n_layer;

  if (T < 1 || T > c->n_positions)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "The prompt has %d tokens; this model takes 1 to %d (n_positions)", T,
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

  size_t TC = (size_t) T * C;
  LensActivations a = {
      .x = g_new (float, TC),
      .ln = g_new (float, TC),
      .qkv = g_new (float, 3 * TC),
      .att = g_new (float, TC),
      .att_sc = g_new (float, lens_attention_scratch_floats (T, c->n_head)),
      .proj = g_new (float, TC),
      .fc = g_new (float, ((size_t) T * c->n_inner)),
  };
  gboolean ok = FALSE;

  embed_forward (m, ids, T, a.x);
  if (residuals != NULL)
    memcpy (residuals, a.x, TC * sizeof (float));

  for (int l = 0; l < L; l++)
    {
      if (!check_cancel (cancel, user_data, error))
        goto out;
      block_forward (m, &m->blocks[l], &a, T);
      if (residuals != NULL)
        memcpy (residuals + (size_t) (l + 1) * TC, a.x, TC * sizeof (float));
      if (progress != NULL)
        progress (l + 1, L, user_data);
    }

  if (logits != NULL)
    {
      /* logits (T, V) = ln_f(x) (T, C) . lm_head (V, C)^T */
      lens_layernorm_forward (a.ln, a.x, m->ln_f_w.data, m->ln_f_b.data, T, C,
                              c->layer_norm_epsilon);
      lens_sgemm_split (T, V, C, a.ln, C, m->lm_head.data, C, TRUE, 0.0f, logits, V);
    }
  ok = TRUE;

out:
  activations_free (&a);
  return ok;
}

gboolean
lens_model_mean_loss (LensModel *m, const int32_t *ids, size_t N, double *mean_loss,
                      long *n_predicted, GError **error)
{
  int V = m->config.vocab_size, W = m->config.n_positions;
  g_autofree float *logits = g_new (float, ((size_t) MIN ((size_t) W, N) * V));
  double total = 0.0;
  long count = 0;

  for (size_t start = 0; start + 1 < N; start += (size_t) W)
    {
      int T = (int) MIN ((size_t) W, N - start);
      const int32_t *w = ids + start;
      /* logits (T, V) */
      if (!lens_model_forward (m, w, T, NULL, logits, NULL, NULL, NULL, error))
        return FALSE;
      for (int t = 0; t + 1 < T; t++)
        {
          const float *row = logits + (size_t) t * V;
          int32_t top_id;
          float top_prob;
          LensSoftmaxStats st = lens_softmax_topk (row, V, 1, &top_id, &top_prob);
          total += (double) st.log_z - (double) row[w[t + 1]];
          count++;
        }
    }
  if (count == 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "Needs at least two tokens of text");
      return FALSE;
    }
  *mean_loss = total / (double) count;
  *n_predicted = count;
  return TRUE;
}
