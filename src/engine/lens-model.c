/* lens-model.c: loading a model folder (config.json, safetensors, tokenizer) for any family of
 * the architecture table: every tensor the family's row names is found, its shape checked against
 * the config and its data left in the mapping. */
#include <math.h>
#include <string.h>

#include "lens-convert.h"
#include "lens-error.h"
#include "lens-head.h"
#include "lens-model-private.h"

static void
vec_clear (LensVec *v)
{
  g_clear_pointer (&v->owned, g_free);
  v->data = NULL;
}

/* Finds `name` under any of the family's prefixes (or exactly, when `prefixed` is FALSE). */
static const LensTensor *
find_tensor (const LensModel *m, const char *name, gboolean prefixed)
{
  if (!prefixed)
    return lens_weight_store_find (m->store, name);
  const LensArch *arch = m->config.arch;
  for (int i = 0; arch->prefixes[i] != NULL; i++)
    {
      g_autofree char *full = g_strconcat (arch->prefixes[i], name, NULL);
      const LensTensor *t = lens_weight_store_find (m->store, full);
      if (t != NULL)
        return t;
    }
  if (arch->model_alias != NULL && g_str_has_prefix (name, "model."))
    {
      g_autofree char *alias = g_strconcat (arch->model_alias, name + strlen ("model."), NULL);
      return lens_weight_store_find (m->store, alias);
    }
  return NULL;
}

static char *
describe_shape (int n_dims, const int64_t *shape)
{
  GString *s = g_string_new ("[");
  for (int i = 0; i < n_dims; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* Finds a tensor and checks its shape and type (F32, F16 or BF16). */
static const LensTensor *
require_tensor (LensModel *m, const char *name, gboolean prefixed, int n_dims, const int64_t *shape,
                GError **error)
{
  const LensTensor *t = find_tensor (m, name, prefixed);
  if (t == NULL)
    {
      g_autoptr (GString) alts = g_string_new (NULL);
      for (int i = 1; prefixed && m->config.arch->prefixes[i] != NULL; i++)
        g_string_append_printf (alts, " (nor \"%s\" + that name)", m->config.arch->prefixes[i]);
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: the checkpoint has no tensor \"%s\"%s", m->path, name, alts->str);
      return NULL;
    }
  gboolean same = t->n_dims == n_dims;
  for (int i = 0; same && i < n_dims; i++)
    same = t->shape[i] == shape[i];
  if (!same)
    {
      g_autofree char *want = describe_shape (n_dims, shape);
      g_autofree char *got = describe_shape (t->n_dims, t->shape);
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: tensor \"%s\" has shape %s, config.json implies %s", t->file, t->name, got,
                   want);
      return NULL;
    }
  if (t->dtype != LENS_DTYPE_F32 && t->dtype != LENS_DTYPE_F16 && t->dtype != LENS_DTYPE_BF16)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED,
                   "%s: tensor \"%s\": dtype %s is not supported for weights (only F32, F16 and "
                   "BF16)",
                   t->file, t->name, lens_dtype_name (t->dtype));
      return NULL;
    }
  m->n_params += t->n_elements;
  return t;
}

/* Notes the storage type of a matrix for the model's dtype. */
static void
note_dtype (LensModel *m, LensDType dtype)
{
  const char *name = lens_dtype_name (dtype);
  if (m->dtype[0] == '\0')
    g_strlcpy (m->dtype, name, sizeof m->dtype);
  else if (strcmp (m->dtype, name) != 0)
    g_strlcpy (m->dtype, "mixed", sizeof m->dtype);
}

/* A matrix of logical shape (out, in), stored as `layout` says. */
static gboolean
load_mat (LensModel *m, const char *name, gboolean prefixed, LensLayout layout, int64_t out,
          int64_t in, LensMat *mat, GError **error)
{
  gboolean in_out = layout == LENS_LAYOUT_IN_OUT;
  const int64_t shape[2] = {in_out ? in : out, in_out ? out : in};
  const LensTensor *t = require_tensor (m, name, prefixed, 2, shape, error);
  if (t == NULL)
    return FALSE;
  *mat = (LensMat){
      .data = t->data,
      .dtype = t->dtype,
      .direct = lens_tensor_f32_direct (t) != NULL,
      .in_out = in_out,
      .rows = (int) shape[0],
      .cols = (int) shape[1],
  };
  note_dtype (m, t->dtype);
  return TRUE;
}

/* A vector in f32; `offset` is added to every element (Gemma's norms scale by 1 + w, computed
 * here once in float32 as transformers does at every call). */
static gboolean
load_vec (LensModel *m, const char *name, int64_t n, float offset, LensVec *v, GError **error)
{
  const LensTensor *t = require_tensor (m, name, TRUE, 1, &n, error);
  if (t == NULL)
    return FALSE;
  v->data = offset == 0.0f ? lens_tensor_f32_direct (t) : NULL;
  if (v->data != NULL)
    return TRUE;
  v->owned = g_new (float, n);
  lens_convert_to_f32 (v->owned, t->data, t->dtype, (size_t) n);
  for (int64_t i = 0; i < n; i++)
    v->owned[i] += offset;
  v->data = v->owned;
  return TRUE;
}

/* Whether a checkpoint must carry block tensor `role` under this config (the family names it). */
static gboolean
role_enabled (const LensConfig *c, LensBlockTensor role)
{
  switch (role)
    {
    case LENS_BT_QKV_B:
    case LENS_BT_Q_B:
    case LENS_BT_K_B:
    case LENS_BT_V_B:
      return c->attn_qkv_bias;
    case LENS_BT_O_B:
      return c->attn_out_bias;
    case LENS_BT_GATE_B:
    case LENS_BT_UP_B:
    case LENS_BT_DOWN_B:
      return c->mlp_bias;
    default:
      return TRUE;
    }
}

/* Where each role goes in LensBlockWeights and its logical shape: (out, in) for matrices, (n)
 * for vectors (in == 0); whether it is a norm's weight (Gemma's offset applies). */
typedef struct
{
  LensMat *mat;
  LensVec *vec;
  int64_t out, in;
  gboolean norm;
} RoleSlot;

static RoleSlot
role_slot (const LensConfig *c, LensBlockWeights *b, LensBlockTensor role)
{
  int64_t C = c->n_embd, F = c->n_inner, hd = c->head_dim;
  int64_t Q = (int64_t) c->n_head * hd, KV = (int64_t) c->n_kv_head * hd;
  gboolean whole = c->arch->qk_norm_whole;
  switch (role)
    {
    case LENS_BT_ATTN_NORM_W:
      return (RoleSlot){NULL, &b->attn_norm_w, C, 0, TRUE};
    case LENS_BT_ATTN_NORM_B:
      return (RoleSlot){NULL, &b->attn_norm_b, C, 0};
    case LENS_BT_QKV_W:
      return (RoleSlot){&b->qkv, NULL, Q + 2 * KV, C};
    case LENS_BT_QKV_B:
      return (RoleSlot){NULL, &b->qkv_b, Q + 2 * KV, 0};
    case LENS_BT_Q_W:
      return (RoleSlot){&b->q, NULL, Q, C};
    case LENS_BT_Q_B:
      return (RoleSlot){NULL, &b->q_b, Q, 0};
    case LENS_BT_K_W:
      return (RoleSlot){&b->k, NULL, KV, C};
    case LENS_BT_K_B:
      return (RoleSlot){NULL, &b->k_b, KV, 0};
    case LENS_BT_V_W:
      return (RoleSlot){&b->v, NULL, KV, C};
    case LENS_BT_V_B:
      return (RoleSlot){NULL, &b->v_b, KV, 0};
    case LENS_BT_Q_NORM_W:
      return (RoleSlot){NULL, &b->q_norm_w, whole ? Q : hd, 0, TRUE};
    case LENS_BT_K_NORM_W:
      return (RoleSlot){NULL, &b->k_norm_w, whole ? KV : hd, 0, TRUE};
    case LENS_BT_ATTN_POST_NORM_W:
      return (RoleSlot){NULL, &b->attn_post_norm_w, C, 0, TRUE};
    case LENS_BT_MLP_POST_NORM_W:
      return (RoleSlot){NULL, &b->mlp_post_norm_w, C, 0, TRUE};
    case LENS_BT_GATE_UP_W:
      return (RoleSlot){&b->gate_up, NULL, 2 * F, C};
    case LENS_BT_O_W:
      return (RoleSlot){&b->o, NULL, C, Q};
    case LENS_BT_O_B:
      return (RoleSlot){NULL, &b->o_b, C, 0};
    case LENS_BT_MLP_NORM_W:
      return (RoleSlot){NULL, &b->mlp_norm_w, C, 0, TRUE};
    case LENS_BT_MLP_NORM_B:
      return (RoleSlot){NULL, &b->mlp_norm_b, C, 0};
    case LENS_BT_GATE_W:
      return (RoleSlot){&b->gate, NULL, F, C};
    case LENS_BT_GATE_B:
      return (RoleSlot){NULL, &b->gate_b, F, 0};
    case LENS_BT_UP_W:
      return (RoleSlot){&b->up, NULL, F, C};
    case LENS_BT_UP_B:
      return (RoleSlot){NULL, &b->up_b, F, 0};
    case LENS_BT_DOWN_W:
      return (RoleSlot){&b->down, NULL, C, F};
    case LENS_BT_DOWN_B:
      return (RoleSlot){NULL, &b->down_b, C, 0};
    default:
      g_assert_not_reached ();
    }
}

static gboolean
load_block (LensModel *m, int l, GError **error)
{
  const LensArch *arch = m->config.arch;
  LensBlockWeights *b = &m->blocks[l];
  for (int role = 0; role < LENS_BT_N_ROLES; role++)
    {
      const char *tmpl = arch->block[role];
      if (tmpl == NULL || !role_enabled (&m->config, role))
        continue;
      char name[128];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
      g_snprintf (name, sizeof name, tmpl, l);
#pragma GCC diagnostic pop
      RoleSlot slot = role_slot (&m->config, b, role);
      float offset = slot.norm ? arch->norm_weight_offset : 0.0f;
      gboolean ok = slot.mat != NULL
                        ? load_mat (m, name, TRUE, arch->layout, slot.out, slot.in, slot.mat, error)
                        : load_vec (m, name, slot.out, offset, slot.vec, error);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* transformers' RoPE frequencies (modeling_rope_utils.py): the default theta^(-2i/d), divided by
 * the factor for "linear", and Llama 3.1's rescaling: wavelengths longer than
 * original_max_position_embeddings / low_freq_factor are divided by the factor, shorter than
 * .../ high_freq_factor kept, and those in between interpolated. */
static double *
rope_inv_freq (const LensRope *r, const double *longrope_factors)
{
  int half = r->rotary_dim / 2;
  double *f = g_new (double, half);
  for (int i = 0; i < half; i++)
    f[i] = 1.0 / pow (r->theta, (double) (2 * i) / r->rotary_dim);
  if (r->type == LENS_ROPE_LONGROPE)
    for (int i = 0; i < half; i++)
      f[i] /= longrope_factors[i];
  if (r->type == LENS_ROPE_LINEAR)
    for (int i = 0; i < half; i++)
      f[i] /= r->factor;
  else if (r->type == LENS_ROPE_LLAMA3)
    {
      double old_ctx = r->original_max_position_embeddings;
      double low_freq_wavelen = old_ctx / r->low_freq_factor;
      double high_freq_wavelen = old_ctx / r->high_freq_factor;
      for (int i = 0; i < half; i++)
        {
          double wavelen = 2.0 * G_PI / f[i];
          if (wavelen > low_freq_wavelen)
            f[i] /= r->factor;
          else if (!(wavelen < high_freq_wavelen))
            {
              double smooth = (old_ctx / wavelen - r->low_freq_factor)
                              / (r->high_freq_factor - r->low_freq_factor);
              f[i] = (1.0 - smooth) * f[i] / r->factor + smooth * f[i];
            }
        }
    }
  return f;
}

static gboolean
load_weights (LensModel *m, GError **error)
{
  const LensConfig *c = &m->config;
  const LensArch *arch = c->arch;
  int64_t C = c->n_embd, V = c->vocab_size;

  if (!load_mat (m, arch->tok_embd, TRUE, LENS_LAYOUT_OUT_IN, V, C, &m->tok_embd, error))
    return FALSE;
  if (arch->pos == LENS_POS_LEARNED
      && !load_mat (m, arch->pos_embd, TRUE, LENS_LAYOUT_OUT_IN, c->n_positions, C, &m->pos_embd,
                    error))
    return FALSE;
  m->blocks = g_new0 (LensBlockWeights, c->n_layer);
  for (int l = 0; l < c->n_layer; l++)
    if (!load_block (m, l, error))
      return FALSE;
  if (!load_vec (m, arch->final_norm_w, C, arch->norm_weight_offset, &m->final_norm_w, error))
    return FALSE;
  if (arch->final_norm_b != NULL
      && !load_vec (m, arch->final_norm_b, C, 0.0f, &m->final_norm_b, error))
    return FALSE;

  /* transformers ties lm_head to the token embeddings when tie_word_embeddings is set; an untied
   * checkpoint must ship lm_head.weight, a tied one may still carry a copy, ignored like there. */
  if (!c->tie_word_embeddings)
    {
      if (!load_mat (m, arch->lm_head, FALSE, LENS_LAYOUT_OUT_IN, V, C, &m->lm_head, error))
        return FALSE;
    }
  else
    m->lm_head = m->tok_embd;
  if (arch->pos == LENS_POS_ROPE)
    {
      m->rope_inv_freq = rope_inv_freq (&c->rope, c->rope.short_factor);
      if (c->rope.type == LENS_ROPE_LONGROPE)
        m->rope_inv_freq_long = rope_inv_freq (&c->rope, c->rope.long_factor);
      if (c->has_local_rope)
        m->rope_local_inv_freq = rope_inv_freq (&c->rope_local, NULL);
    }
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
  gboolean ok = load_tokenizer (m, error) && load_weights (m, error);
  if (ok)
    lens_weight_store_touch (m->store); /* help with what is left */
  else
    lens_weight_store_touch_stop (m->store);
  if (toucher != NULL) /* without it, this thread has touched everything above */
    g_thread_join (toucher);
  if (!ok)
    return NULL;

  /* filled as tokens are shown (lens_model_token_text): most never are, and making all of them
   * at load was 3% of a one-token CLI run */
  m->token_texts = g_new0 (char *, m->config.vocab_size + 1);

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
  if (m->blocks != NULL)
    for (int l = 0; l < m->config.n_layer; l++)
      {
        LensBlockWeights *b = &m->blocks[l];
        /* every vector of LensBlockWeights */
        LensVec *vecs[] = {&b->attn_norm_w, &b->attn_norm_b,
                           &b->qkv_b,       &b->q_b,
                           &b->k_b,         &b->v_b,
                           &b->q_norm_w,    &b->k_norm_w,
                           &b->o_b,         &b->attn_post_norm_w,
                           &b->mlp_norm_w,  &b->mlp_norm_b,
                           &b->gate_b,      &b->up_b,
                           &b->down_b,      &b->mlp_post_norm_w};

        for (guint i = 0; i < G_N_ELEMENTS (vecs); i++)
          vec_clear (vecs[i]);
      }
  g_free (m->blocks);
  vec_clear (&m->final_norm_w);
  vec_clear (&m->final_norm_b);
  g_free (m->rope_inv_freq);
  g_free (m->rope_inv_freq_long);
  g_free (m->rope_local_inv_freq);
  g_clear_pointer (&m->store, lens_weight_store_free);
  g_clear_pointer (&m->tokenizer, lens_tokenizer_free);
  for (int v = 0; m->token_texts != NULL && v < m->config.vocab_size; v++)
    g_free (m->token_texts[v]); /* NULL where never shown */
  g_free (m->token_texts);
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
  char *text = g_atomic_pointer_get (&m->token_texts[id]);
  if (text != NULL)
    return text;
  /* Any thread may be first; the one that loses the race frees its copy and takes the winner's,
   * so the string returned stays valid as long as the model. */
  char *made = lens_tokenizer_token_display (m->tokenizer, id);
  if (g_atomic_pointer_compare_and_exchange (&m->token_texts[id], NULL, made))
    return made;
  g_free (made);
  return g_atomic_pointer_get (&m->token_texts[id]);
}

uint64_t
lens_model_weights_size (const LensModel *m)
{
  return lens_weight_store_size (m->store);
}

uint64_t
lens_model_n_params (const LensModel *m)
{
  return m->n_params;
}

const char *
lens_model_dtype (const LensModel *m)
{
  return m->dtype;
}

gboolean
lens_model_forward (LensModel *m, const int32_t *ids, int T, float *residuals, float *logits,
                    LensCancelFunc cancel, LensProgressFunc progress, gpointer user_data,
                    GError **error)
{
  return lens_forward_run (m, ids, T, residuals, logits, cancel, progress, user_data, error);
}

gboolean
lens_model_mean_loss (LensModel *m, const int32_t *ids, size_t N, double *mean_loss,
                      long *n_predicted, GError **error)
{
  /* Long-context models (131,072 for Llama 3.1) would need (W, V) logits of tens of GB; a window of
   * 2,048 ids is as long as GPT-2's context and more than the demo model's. */
  int V = m->config.vocab_size, W = MIN (m->config.n_positions, LENS_LOSS_MAX_WINDOW);
  size_t max_T = MIN ((size_t) W, N);
  float *logits = g_try_new (float, (max_T * V));
  if (logits == NULL)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "Out of memory for %zu x %d logits", max_T, V);
      return FALSE;
    }
  double total = 0.0;
  long count = 0;
  gboolean ok = TRUE;

  for (size_t start = 0; ok && start + 1 < N; start += (size_t) W)
    {
      int T = (int) MIN ((size_t) W, N - start);
      const int32_t *w = ids + start;
      /* logits (T, V) */
      ok = lens_model_forward (m, w, T, NULL, logits, NULL, NULL, NULL, error);
      for (int t = 0; ok && t + 1 < T; t++)
        {
          const float *row = logits + (size_t) t * V;
          int32_t top_id;
          float top_prob;
          LensSoftmaxStats st = lens_softmax_topk (row, V, 1, &top_id, &top_prob);
          total += (double) st.log_z - (double) row[w[t + 1]];
          count++;
        }
    }
  g_free (logits);
  if (!ok)
    return FALSE;
  if (count == 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "Needs at least two tokens of text");
      return FALSE;
    }
  *mean_loss = total / (double) count;
  *n_predicted = count;
  return TRUE;
}
