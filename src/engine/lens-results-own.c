/* lens-results-own.c: reading our own results JSON (the --json document, "format":
 * "logit-lens-results"): model, prompt, tokens with ids, layers with sub-layer rows, cells with
 * top-k, entropy, log_z and metrics, and targets. See lens-results-io.h. */
#include <math.h>
#include <string.h>

#include "lens-json-pull.h"
#include "lens-results-import.h"
#include "lens-results-io.h"

static gboolean
parse_own_model (LensJsonPull *j, const char *at, LensModelInfo *info)
{
  j->p = at;
  if (lens_pull_is_null (j))
    return TRUE;
  if (j->failed)
    return FALSE;
  if (lens_pull_peek (j) != '{')
    return lens_pull_type_error (j, "an object", "model");
  j->p++;
  int n = 0;
  g_autoptr (GString) key = g_string_new (NULL);
  while (lens_pull_next (j, '}', &n))
    {
      if (!lens_pull_key (j, key))
        return FALSE;
      char **str = NULL;
      int *num = NULL;
      long hi = G_MAXINT;
      if (strcmp (key->str, "name") == 0)
        str = &info->name;
      else if (strcmp (key->str, "path") == 0)
        str = &info->path;
      else if (strcmp (key->str, "architecture") == 0)
        str = &info->architecture;
      else if (strcmp (key->str, "n_layer") == 0)
        num = &info->n_layer;
      else if (strcmp (key->str, "d_model") == 0)
        num = &info->d_model;
      else if (strcmp (key->str, "n_head") == 0)
        num = &info->n_head;
      else if (strcmp (key->str, "vocab_size") == 0)
        num = &info->vocab_size, hi = LENS_RESULTS_MAX_VOCAB;
      else if (strcmp (key->str, "n_kv_head") == 0)
        num = &info->n_kv_head;
      else if (strcmp (key->str, "context_length") == 0)
        num = &info->context_length;
      else if (strcmp (key->str, "dtype") == 0)
        str = &info->dtype;

      g_autofree char *path = g_strdup_printf ("model.%s", key->str);
      if (strcmp (key->str, "n_params") == 0)
        {
          /* Beyond int: read as a double, exact up to 2^53, far above any model. */
          info->n_params = 0;
          if (lens_pull_is_null (j))
            continue;
          if (j->failed)
            return FALSE;
          double raw = 0;
          gboolean is_int;
          if (lens_pull_peek (j) != '-' && !g_ascii_isdigit (lens_pull_peek (j)))
            return lens_pull_type_error (j, "an integer", "%s", path);
          if (!lens_pull_number (j, &raw, &is_int))
            return FALSE;
          if (!is_int || raw < 0 || raw > LENS_RESULTS_MAX_PARAMS)
            {
              char num_text[G_ASCII_DTOSTR_BUF_SIZE];
              g_ascii_formatd (num_text, sizeof num_text, "%.17g", raw);
              return lens_pull_fail (j, "%s is %s, expected an integer from 0 to %.0f", path,
                                     num_text, LENS_RESULTS_MAX_PARAMS);
            }
          info->n_params = (int64_t) raw;
        }
      else if (str != NULL)
        {
          g_clear_pointer (str, g_free);
          if (!lens_pull_opt_string (j, str, path))
            return FALSE;
        }
      else if (num != NULL)
        {
          *num = 0;
          if (lens_pull_is_null (j))
            continue;
          if (j->failed)
            return FALSE;
          long v;
          double raw = 0;
          LensPullStatus st = lens_pull_int (j, 0, hi, &v, &raw);
          if (st != LENS_PULL_OK)
            return lens_pull_int_error (j, st, raw, 0, hi, "%s", path);
          *num = (int) v;
        }
      else if (!lens_pull_skip (j, 1))
        return FALSE;
    }
  return !j->failed;
}

/* "tokens": [{"id": int|null, "text": string}] */
static gboolean
parse_own_tokens (LensJsonPull *j, const char *at, GArray *ids, GPtrArray *texts, int vocab_size)
{
  j->p = at;
  if (lens_pull_peek (j) != '[')
    return lens_pull_type_error (j, "an array of {\"id\", \"text\"} objects", "tokens");
  j->p++;
  int n = 0;
  g_autoptr (GString) key = g_string_new (NULL);
  long id_hi = vocab_size > 0 ? vocab_size - 1 : G_MAXINT32;
  while (lens_pull_next (j, ']', &n))
    {
      int t = n - 1;
      if (t >= LENS_RESULTS_MAX_TOKENS)
        return lens_pull_fail (j, "tokens has more than %d tokens", LENS_RESULTS_MAX_TOKENS);
      if (lens_pull_peek (j) != '{')
        return lens_pull_type_error (j, "an object", "tokens[%d]", t);
      j->p++;
      int32_t id = -1;
      char *text = NULL;
      int m = 0;
      while (lens_pull_next (j, '}', &m))
        {
          if (!lens_pull_key (j, key))
            goto fail;
          if (strcmp (key->str, "id") == 0)
            {
              if (lens_pull_is_null (j))
                continue;
              if (j->failed)
                goto fail;
              long v;
              double raw = 0;
              LensPullStatus st = lens_pull_int (j, 0, id_hi, &v, &raw);
              if (st != LENS_PULL_OK)
                {
                  lens_pull_int_error (j, st, raw, 0, id_hi, "tokens[%d].id", t);
                  goto fail;
                }
              id = (int32_t) v;
            }
          else if (strcmp (key->str, "text") == 0)
            {
              if (!lens_pull_string_member (j, &text, "tokens[%d].text", t))
                goto fail;
            }
          else if (!lens_pull_skip (j, 1))
            goto fail;
        }
      if (j->failed)
        goto fail;
      if (text == NULL)
        {
          lens_pull_fail (j, "tokens[%d] has no \"text\"", t);
          goto fail;
        }
      g_array_append_val (ids, id);
      g_ptr_array_add (texts, text);
      continue;
    fail:
      g_free (text);
      return FALSE;
    }
  if (j->failed)
    return FALSE;
  if (n == 0)
    return lens_pull_fail (j, "tokens is empty");
  return TRUE;
}

/* Ids of our own format: the model's token ids when the vocabulary size is known, so that a
 * re-saved file keeps them; otherwise texts are interned into a local table. */
typedef struct
{
  int vocab_size; /* > 0: vocab_texts is indexed by real ids */
  char **by_id;   /* (vocab_size) */
  LensImportVocab local;
} OwnVocab;

static gboolean
own_vocab_add (LensJsonPull *j, OwnVocab *v, long id, const char *text, int32_t *out,
               const char *path)
{
  if (v->vocab_size <= 0)
    {
      *out = lens_import_vocab_intern (&v->local, text);
      return TRUE;
    }
  if (id < 0)
    return lens_pull_fail (j, "%s.id is missing or null, but model.vocab_size is given", path);
  if (v->by_id[id] == NULL)
    v->by_id[id] = g_strdup (text);
  else if (strcmp (v->by_id[id], text) != 0)
    {
      g_autofree char *a = lens_pull_describe (text);
      g_autofree char *b = lens_pull_describe (v->by_id[id]);
      return lens_pull_fail (j, "%s: token %ld is %s here but %s elsewhere", path, id, a, b);
    }
  *out = (int32_t) id;
  return TRUE;
}

/* A cell's metrics as read: kl_final, next log-probability and rank ((R, T) each, NAN / 0 where
 * absent); `any` is set once a cell has either key. */
typedef struct
{
  float *kl_final;
  float *next_logprob;
  int32_t *next_rank;
  gboolean any;
  const int32_t *token_ids; /* (T) -1 where the file gives none */
  int n_tokens;
  int vocab_size; /* > 0 when known */
} OwnMetrics;

/* A non-negative number (nats; a rounding hair below 0 is read as 0) up to 1e30, or null (NAN). */
static gboolean
read_nats (LensJsonPull *j, float *out, const char *path, const char *key)
{
  double raw;
  LensPullStatus st = lens_pull_nats (j, FALSE, TRUE, 1e30f, out, &raw);
  return st == LENS_PULL_OK || lens_pull_nats_error (j, st, raw, "%s.%s", path, key);
}

/* "next": null, or {"id", "prob", "rank", "cross_entropy"} about the token after position t. */
static gboolean
parse_own_next (LensJsonPull *j, OwnMetrics *mx, size_t cell, int t, const char *path)
{
  if (lens_pull_is_null (j))
    return TRUE;
  if (j->failed)
    return FALSE;
  if (lens_pull_peek (j) != '{')
    return lens_pull_type_error (j, "an object or null", "%s.next", path);
  if (t + 1 >= mx->n_tokens)
    return lens_pull_fail (j, "%s.next is given, but no token follows the last position", path);
  j->p++;
  g_autoptr (GString) key = g_string_new (NULL);
  long id = -1, rank = 0;
  float prob = NAN, xent = NAN;
  int n = 0;
  while (lens_pull_next (j, '}', &n))
    {
      if (!lens_pull_key (j, key))
        return FALSE;
      double raw = 0;
      if (strcmp (key->str, "id") == 0)
        {
          long hi = mx->vocab_size > 0 ? mx->vocab_size - 1 : G_MAXINT32;
          LensPullStatus st = lens_pull_int (j, 0, hi, &id, &raw);
          if (st != LENS_PULL_OK)
            return lens_pull_int_error (j, st, raw, 0, hi, "%s.next.id", path);
        }
      else if (strcmp (key->str, "rank") == 0)
        {
          long hi = mx->vocab_size > 0 ? mx->vocab_size : G_MAXINT32;
          LensPullStatus st = lens_pull_int (j, 1, hi, &rank, &raw);
          if (st != LENS_PULL_OK)
            return lens_pull_int_error (j, st, raw, 1, hi, "%s.next.rank", path);
        }
      else if (strcmp (key->str, "prob") == 0)
        {
          LensPullStatus st = lens_pull_prob (j, FALSE, &prob, &raw);
          if (st != LENS_PULL_OK)
            return lens_pull_prob_error (j, st, raw, "%s.next.prob", path);
        }
      else if (strcmp (key->str, "cross_entropy") == 0)
        {
          if (!read_nats (j, &xent, path, "next.cross_entropy"))
            return FALSE;
        }
      else if (!lens_pull_skip (j, 1))
        return FALSE;
    }
  if (j->failed)
    return FALSE;
  if (id < 0 || rank < 1 || isnan (prob))
    return lens_pull_fail (j, "%s.next needs \"id\", \"prob\" and \"rank\"", path);
  int32_t want = mx->token_ids[t + 1];
  if (want < 0)
    return lens_pull_fail (j, "%s.next.id is %ld, but the next token (tokens[%d]) has no id", path,
                           id, t + 1);
  if (id != want)
    return lens_pull_fail (j, "%s.next.id is %ld, but the next token (tokens[%d]) is %d", path, id,
                           t + 1, want);
  /* both are written from one log-probability: they agree unless the file was edited */
  if (!isnan (xent) && fabs (exp (-(double) xent) - prob) > 1e-4 + 1e-3 * prob)
    return lens_pull_fail (j, "%s.next.prob and next.cross_entropy disagree", path);
  mx->next_logprob[cell] = !isnan (xent) ? -xent : logf (prob);
  mx->next_rank[cell] = (int32_t) rank;
  return TRUE;
}

/* One cell: {"top": [{"id", "text", "prob"}], "entropy", "log_z"}, and with metrics "kl_final"
 * and "next" */
static gboolean
parse_own_cell (LensJsonPull *j, LensTopBuilder *b, OwnVocab *v, int row, int t, float *entropy,
                float *log_z, OwnMetrics *mx)
{
  g_autofree char *path = g_strdup_printf ("cells[%d][%d]", row, t);
  if (lens_pull_peek (j) != '{')
    return lens_pull_type_error (j, "an object", "%s", path);
  j->p++;
  g_autoptr (GString) key = g_string_new (NULL);
  gboolean have_top = FALSE;
  lens_import_top_begin_cell (b, row, t);
  int n = 0;
  while (lens_pull_next (j, '}', &n))
    {
      if (!lens_pull_key (j, key))
        return FALSE;
      if (strcmp (key->str, "top") == 0)
        {
          if (have_top)
            return lens_pull_fail (j, "%s has \"top\" twice", path);
          have_top = TRUE;
          if (lens_pull_peek (j) != '[')
            return lens_pull_type_error (j, "an array", "%s.top", path);
          j->p++;
          int k = 0;
          while (lens_pull_next (j, ']', &k))
            {
              g_autofree char *epath = g_strdup_printf ("%s.top[%d]", path, k - 1);
              if (lens_pull_peek (j) != '{')
                return lens_pull_type_error (j, "an object", "%s", epath);
              j->p++;
              long id = -1;
              float prob = NAN;
              gboolean have_prob = FALSE;
              g_autofree char *text = NULL;
              int m = 0;
              while (lens_pull_next (j, '}', &m))
                {
                  if (!lens_pull_key (j, key))
                    return FALSE;
                  if (strcmp (key->str, "id") == 0)
                    {
                      id = -1;
                      if (lens_pull_is_null (j))
                        continue;
                      if (j->failed)
                        return FALSE;
                      double raw = 0;
                      long hi = v->vocab_size > 0 ? v->vocab_size - 1 : G_MAXINT32;
                      LensPullStatus st = lens_pull_int (j, 0, hi, &id, &raw);
                      if (st != LENS_PULL_OK)
                        return lens_pull_int_error (j, st, raw, 0, hi, "%s.id", epath);
                    }
                  else if (strcmp (key->str, "text") == 0)
                    {
                      if (!lens_pull_string_member (j, &text, "%s.text", epath))
                        return FALSE;
                    }
                  else if (strcmp (key->str, "prob") == 0)
                    {
                      double raw = 0;
                      /* null: the model gave no finite value there (written so by us) */
                      LensPullStatus st = lens_pull_prob (j, TRUE, &prob, &raw);
                      if (st != LENS_PULL_OK)
                        return lens_pull_prob_error (j, st, raw, "%s.prob", epath);
                      have_prob = TRUE;
                    }
                  else if (!lens_pull_skip (j, 1))
                    return FALSE;
                }
              if (j->failed)
                return FALSE;
              if (text == NULL)
                return lens_pull_fail (j, "%s has no \"text\"", epath);
              if (!have_prob)
                return lens_pull_fail (j, "%s has no \"prob\"", epath);
              int32_t vid = -1;
              if (!own_vocab_add (j, v, id, text, &vid, epath))
                return FALSE;
              lens_import_top_add (b, row, t, vid, prob);
            }
          if (j->failed)
            return FALSE;
        }
      else if (strcmp (key->str, "entropy") == 0 || strcmp (key->str, "log_z") == 0)
        {
          gboolean is_entropy = key->str[0] == 'e';
          float *dst = is_entropy ? entropy : log_z;
          /* log Z has no sign: logits can all be negative */
          double raw;
          LensPullStatus st = lens_pull_nats (j, TRUE, is_entropy, INFINITY, dst, &raw);
          if (st != LENS_PULL_OK)
            return lens_pull_nats_error (j, st, raw, "%s.%s", path, key->str);
        }
      else if (strcmp (key->str, "kl_final") == 0)
        {
          mx->any = TRUE;
          if (!read_nats (j, &mx->kl_final[(size_t) row * mx->n_tokens + t], path, "kl_final"))
            return FALSE;
        }
      else if (strcmp (key->str, "next") == 0)
        {
          mx->any = TRUE;
          if (!parse_own_next (j, mx, (size_t) row * mx->n_tokens + t, t, path))
            return FALSE;
        }
      else if (!lens_pull_skip (j, 1))
        return FALSE;
    }
  if (j->failed)
    return FALSE;
  if (!have_top)
    return lens_pull_fail (j, "%s has no \"top\"", path);
  return TRUE;
}

/* "targets": [{"text", "ids", "prob": [[per token] per layer]}] -> tracked + the list. */
static gboolean
parse_own_targets (LensJsonPull *j, const char *at, LensResult *r, GPtrArray *list)
{
  int R = r->n_rows, T = r->n_tokens;
  j->p = at;
  if (lens_pull_is_null (j))
    return TRUE;
  if (j->failed)
    return FALSE;
  if (lens_pull_peek (j) != '[')
    return lens_pull_type_error (j, "an array", "targets");
  j->p++;
  g_autoptr (GString) key = g_string_new (NULL);
  g_autofree float *probs = g_new (float, ((size_t) R * T)); /* (R, T) */
  int n = 0;
  while (lens_pull_next (j, ']', &n))
    {
      int i = n - 1;
      if (lens_pull_peek (j) != '{')
        return lens_pull_type_error (j, "an object", "targets[%d]", i);
      j->p++;
      g_autofree char *text = NULL;
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
      gboolean have_prob = FALSE;
      int m = 0;
      while (lens_pull_next (j, '}', &m))
        {
          if (!lens_pull_key (j, key))
            return FALSE;
          if (strcmp (key->str, "text") == 0)
            {
              if (!lens_pull_string_member (j, &text, "targets[%d].text", i))
                return FALSE;
            }
          else if (strcmp (key->str, "ids") == 0)
            {
              if (lens_pull_is_null (j))
                continue;
              if (j->failed)
                return FALSE;
              if (lens_pull_peek (j) != '[')
                return lens_pull_type_error (j, "an array of token ids", "targets[%d].ids", i);
              j->p++;
              g_array_set_size (ids, 0);
              long hi = r->model_info.vocab_size > 0 ? r->model_info.vocab_size - 1 : G_MAXINT32;
              int k = 0;
              while (lens_pull_next (j, ']', &k))
                {
                  long v;
                  double raw = 0;
                  LensPullStatus st = lens_pull_int (j, 0, hi, &v, &raw);
                  if (st != LENS_PULL_OK)
                    return lens_pull_int_error (j, st, raw, 0, hi, "targets[%d].ids[%d]", i, k - 1);
                  if (k > LENS_RESULTS_MAX_TOKENS)
                    return lens_pull_fail (j, "targets[%d].ids has more than %d ids", i,
                                           LENS_RESULTS_MAX_TOKENS);
                  int32_t id = (int32_t) v;
                  g_array_append_val (ids, id);
                }
              if (j->failed)
                return FALSE;
            }
          else if (strcmp (key->str, "prob") == 0)
            {
              if (lens_pull_peek (j) != '[')
                return lens_pull_type_error (j, "an array with one array per layer",
                                             "targets[%d].prob", i);
              j->p++;
              int nr = 0;
              while (lens_pull_next (j, ']', &nr))
                {
                  int row = nr - 1;
                  if (!lens_pull_prob_array (j, T, row < R ? probs + (size_t) row * T : NULL, TRUE,
                                             "tokens", "targets[%d].prob[%d]", i, row))
                    return FALSE;
                }
              if (j->failed)
                return FALSE;
              if (nr != R)
                return lens_pull_fail (j, "targets[%d].prob has %d entries, layers has %d", i, nr,
                                       R);
              have_prob = TRUE;
            }
          else if (!lens_pull_skip (j, 1))
            return FALSE;
        }
      if (j->failed)
        return FALSE;
      if (text == NULL)
        return lens_pull_fail (j, "targets[%d] has no \"text\"", i);
      if (!have_prob)
        return lens_pull_fail (j, "targets[%d] has no \"prob\"", i);
      /* The same text twice tracks the same token: keep the first. */
      if (g_hash_table_contains (r->tracked[0], text))
        continue;
      for (int t = 0; t < T; t++)
        {
          float *traj = g_new (float, R);
          for (int row = 0; row < R; row++)
            traj[row] = probs[(size_t) row * T + t];
          g_hash_table_insert (r->tracked[t], g_strdup (text), traj);
        }
      g_ptr_array_add (list, lens_target_new (text, text, -1, (const int32_t *) (void *) ids->data,
                                              (int) ids->len, probs, R, T));
    }
  return !j->failed;
}

LensResult *
lens_import_own (LensJsonPull *j, const LensResultsMembers *m, GPtrArray *target_names)
{
  const char *fmt = "logit-lens-results";
  LensModelInfo info = {0};
  g_autofree char *prompt = NULL;
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) kinds = g_array_new (FALSE, FALSE, sizeof (LensRowKind));
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  LensTopBuilder b = {0};
  OwnVocab v = {0};
  float *entropy = NULL, *log_z = NULL;
  OwnMetrics mx = {0};
  LensResult *r = NULL;
  int R = 0, T = 0;

  if (m->version != NULL)
    {
      j->p = m->version;
      long ver;
      double raw = 0;
      LensPullStatus st = lens_pull_int (j, 0, G_MAXINT, &ver, &raw);
      if (st != LENS_PULL_OK)
        {
          lens_pull_int_error (j, st, raw, 0, G_MAXINT, "version");
          goto out;
        }
      if (ver != LENS_RESULTS_FORMAT_VERSION)
        {
          lens_pull_fail (j,
                          "version %ld of the logit-lens-results format is not supported (this "
                          "program reads version %d)",
                          ver, LENS_RESULTS_FORMAT_VERSION);
          goto out;
        }
    }
  if (!lens_import_require (j, m->tokens, "tokens", fmt)
      || !lens_import_require (j, m->layers, "layers", fmt)
      || !lens_import_require (j, m->cells, "cells", fmt))
    goto out;
  if (m->model != NULL && !parse_own_model (j, m->model, &info))
    goto out;
  if (m->prompt != NULL)
    {
      j->p = m->prompt;
      if (!lens_pull_opt_string (j, &prompt, "prompt"))
        goto out;
    }
  if (!parse_own_tokens (j, m->tokens, ids, texts, info.vocab_size)
      || !lens_import_layers (j, m->layers, rows, kinds))
    goto out;
  R = (int) rows->len;
  T = (int) texts->len;
  if (!lens_import_check_cells (j, R, T))
    goto out;
  /* a range of a longer prompt (--positions): the prompt's number of its first token */
  long first_pos = 0;
  if (m->first_pos != NULL)
    {
      j->p = m->first_pos;
      double raw = 0;
      LensPullStatus st = lens_pull_int (j, 0, G_MAXINT - T, &first_pos, &raw);
      if (st != LENS_PULL_OK)
        {
          lens_pull_int_error (j, st, raw, 0, G_MAXINT - T, "first_position");
          goto out;
        }
    }

  v.vocab_size = info.vocab_size;
  if (v.vocab_size > 0)
    v.by_id = g_new0 (char *, v.vocab_size);
  else
    lens_import_vocab_init (&v.local);
  lens_import_top_init (&b, R, T);
  entropy = g_new (float, ((size_t) R * T));
  log_z = g_new (float, ((size_t) R * T));
  for (size_t c = 0; c < (size_t) R * T; c++)
    entropy[c] = log_z[c] = NAN;
  mx.kl_final = g_new (float, ((size_t) R * T));
  mx.next_logprob = g_new (float, ((size_t) R * T));
  mx.next_rank = g_new0 (int32_t, ((size_t) R * T));
  for (size_t c = 0; c < (size_t) R * T; c++)
    mx.kl_final[c] = mx.next_logprob[c] = NAN;
  mx.token_ids = (const int32_t *) ids->data;
  mx.n_tokens = T;
  mx.vocab_size = info.vocab_size;

  /* cells[layer][token] */
  LensPullGrid g;
  if (!lens_pull_grid_begin (j, &g, &lens_import_cells_own_grid, R, T, m->cells))
    goto out;
  while (lens_pull_grid_next (j, &g))
    {
      size_t c = (size_t) g.outer * T + g.inner;
      if (!parse_own_cell (j, &b, &v, g.outer, g.inner, entropy + c, log_z + c, &mx))
        goto out;
    }
  if (j->failed)
    goto out;

  r = lens_import_top_finish (&b, j);
  if (r == NULL)
    goto out;
  lens_import_fill_rows_and_tokens (r, rows, kinds, texts);
  r->first_pos = (int) first_pos;
  memcpy (r->token_ids, ids->data, (size_t) T * sizeof (int32_t));
  memcpy (r->entropy, entropy, (size_t) R * T * sizeof (float));
  memcpy (r->log_z, log_z, (size_t) R * T * sizeof (float));
  if (mx.any)
    {
      r->kl_final = g_steal_pointer (&mx.kl_final);
      r->next_logprob = g_steal_pointer (&mx.next_logprob);
      r->next_rank = g_steal_pointer (&mx.next_rank);
    }
  r->model_info = info;
  memset (&info, 0, sizeof info);
  r->tracked = g_new0 (GHashTable *, T);
  for (int t = 0; t < T; t++)
    r->tracked[t] = lens_import_tracked_new ();
  if (m->targets != NULL && !parse_own_targets (j, m->targets, r, target_names))
    {
      g_clear_pointer (&r, lens_result_unref);
      goto out;
    }
  if (v.vocab_size > 0)
    {
      r->vocab_texts = g_steal_pointer (&v.by_id);
      r->n_vocab_texts = v.vocab_size;
    }
  else
    lens_import_vocab_move_to (&v.local, r);
  r->prompt = g_steal_pointer (&prompt);
  if (r->model_info.name == NULL && r->model_info.path != NULL)
    r->model_info.name = g_path_get_basename (r->model_info.path);

out:
  g_free (info.name);
  g_free (info.path);
  g_free (info.architecture);
  g_free (info.dtype);
  if (v.by_id != NULL)
    {
      for (int i = 0; i < v.vocab_size; i++)
        g_free (v.by_id[i]);
      g_free (v.by_id);
    }
  lens_import_vocab_clear (&v.local);
  lens_import_top_clear (&b);
  g_free (entropy);
  g_free (log_z);
  g_free (mx.kl_final);
  g_free (mx.next_logprob);
  g_free (mx.next_rank);
  return r;
}
