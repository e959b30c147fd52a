/* lens-results-logitlenskit.c: reading logitlenskit's widget JSON, version 2 ("meta", "layers",
 * "input", "tracked", "topk", optional "entropy") and the legacy version 1 ("layers", "tokens",
 * "cells"[position][layer]). See lens-results-io.h for the formats. */
#include <math.h>
#include <string.h>

#include "lens-json-pull.h"
#include "lens-results-import.h"
#include "lens-results-io.h"

/* "meta" of logitlenskit v2: version (must be 2), timestamp (string), model (string). */
static gboolean
parse_meta (LensJsonPull *j, const char *at, int want_version, char **model)
{
  j->p = at;
  if (lens_pull_peek (j) != '{')
    return lens_pull_type_error (j, "an object", "meta");
  j->p++;
  gboolean have_version = FALSE;
  int n = 0;
  while (lens_pull_next (j, '}', &n))
    {
      if (!lens_pull_key (j, j->scratch))
        return FALSE;
      if (strcmp (j->scratch->str, "version") == 0)
        {
          long v;
          double raw = 0;
          if (lens_pull_peek (j) != '-' && !g_ascii_isdigit (lens_pull_peek (j)))
            return lens_pull_type_error (j, "a version number", "meta.version");
          LensPullStatus st = lens_pull_int (j, 0, 1000000, &v, &raw);
          if (st == LENS_PULL_SYNTAX)
            return FALSE;
          if (st != LENS_PULL_OK || v != want_version)
            {
              char num[G_ASCII_DTOSTR_BUF_SIZE];
              g_ascii_formatd (num, sizeof num, "%.17g", raw);
              return lens_pull_fail (j,
                                     "meta.version is %s, expected %d (logitlenskit widget JSON "
                                     "versions 1 and 2 can be read)",
                                     num, want_version);
            }
          have_version = TRUE;
        }
      else if (strcmp (j->scratch->str, "timestamp") == 0)
        {
          g_autofree char *ts = NULL;
          if (!lens_pull_opt_string (j, &ts, "meta.timestamp"))
            return FALSE;
        }
      else if (strcmp (j->scratch->str, "model") == 0)
        {
          g_clear_pointer (model, g_free);
          if (!lens_pull_opt_string (j, model, "meta.model"))
            return FALSE;
        }
      else if (!lens_pull_skip (j, 1))
        return FALSE;
    }
  if (j->failed)
    return FALSE;
  if (!have_version)
    return lens_pull_fail (j, "meta has no \"version\"");
  return TRUE;
}

/* "tracked" of v2: one object per position, token string -> R probabilities. */
static gboolean
parse_tracked_v2 (LensJsonPull *j, const char *at, int R, int T, GHashTable **tracked)
{
  j->p = at;
  if (lens_pull_peek (j) != '[')
    return lens_pull_type_error (j, "an array with one object per input token", "tracked");
  j->p++;
  int n = 0;
  g_autoptr (GString) key = g_string_new (NULL);
  while (lens_pull_next (j, ']', &n))
    {
      int t = n - 1;
      if (t >= T)
        {
          /* Count the rest for the message. */
          if (!lens_pull_skip (j, 1))
            return FALSE;
          continue;
        }
      if (lens_pull_peek (j) != '{')
        return lens_pull_type_error (j, "an object of token -> probabilities", "tracked[%d]", t);
      j->p++;
      GHashTable *table = lens_import_tracked_new ();
      tracked[t] = table;
      int m = 0;
      while (lens_pull_next (j, '}', &m))
        {
          const char *key_at = j->p;
          if (!lens_pull_key (j, key))
            return FALSE;
          if (g_hash_table_contains (table, key->str))
            return lens_pull_syntax_at (j, key_at, "a duplicate key in an object");
          float *probs = g_new (float, R);
          g_hash_table_insert (table, g_strdup (key->str), probs);
          if (!lens_pull_prob_array (j, R, probs, FALSE, "layers", "tracked[%d][%s]", t,
                                     lens_pull_describe_tmp (j, key->str)))
            return FALSE;
        }
      if (j->failed)
        return FALSE;
    }
  if (j->failed)
    return FALSE;
  if (n != T)
    return lens_pull_fail (j, "tracked has %d entries, input has %d tokens", n, T);
  return TRUE;
}

/* Optional "entropy" of v2 exports: [layer][position] in nats, null where unknown. */
static gboolean
parse_entropy_v2 (LensJsonPull *j, const char *at, int R, int T, float *entropy)
{
  /* rows past R are still read (every value checked), only not stored */
  LensPullGrid g;
  if (!lens_pull_grid_begin (j, &g, &lens_import_entropy_v2_grid, R, T, at))
    return FALSE;
  while (lens_pull_grid_next (j, &g))
    {
      int row = g.outer, t = g.inner;
      float v;
      double raw;
      LensPullStatus st = lens_pull_nats (j, TRUE, TRUE, INFINITY, &v, &raw);
      if (st != LENS_PULL_OK)
        return lens_pull_nats_error (j, st, raw, "entropy[%d][%d]", row, t);
      if (row < R && t < T && !isnan (v))
        entropy[(size_t) row * T + t] = v;
    }
  return !j->failed;
}

/* Gives r what both versions gathered: the rows, the position tokens, the vocabulary, and (taken)
 * the tracked trajectories and the model's name. */
static void
hand_over (LensResult *r, GArray *rows, GPtrArray *tokens, LensImportVocab *vocab,
           GHashTable ***tracked, char **model)
{
  lens_import_fill_rows_and_tokens (r, rows, NULL, tokens);
  lens_import_vocab_move_to (vocab, r);
  r->tracked = g_steal_pointer (tracked);
  r->model_info.name = g_steal_pointer (model);
}

/* What both versions free on the way out, with a result or without. */
static void
clear_gathered (GHashTable **tracked, int T, LensTopBuilder *b, LensImportVocab *vocab)
{
  lens_import_tracked_free (tracked, T);
  lens_import_top_clear (b);
  lens_import_vocab_clear (vocab);
}

LensResult *
lens_import_logitlenskit_v2 (LensJsonPull *j, const LensResultsMembers *m)
{
  const char *fmt = "logitlenskit JSON version 2";
  g_autofree char *model = NULL;
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GPtrArray) input = g_ptr_array_new_with_free_func (g_free);
  GHashTable **tracked = NULL;
  LensTopBuilder b = {0};
  LensImportVocab vocab = {0};
  LensResult *r = NULL;
  int R = 0, T = 0;

  if (!parse_meta (j, m->meta, 2, &model))
    goto out;
  if (!lens_import_require (j, m->layers, "layers", fmt)
      || !lens_import_require (j, m->input, "input", fmt)
      || !lens_import_require (j, m->tracked, "tracked", fmt)
      || !lens_import_require (j, m->topk, "topk", fmt))
    goto out;
  if (!lens_import_layers (j, m->layers, rows, NULL)
      || !lens_import_token_strings (j, m->input, "input", input))
    goto out;
  R = (int) rows->len;
  T = (int) input->len;
  if (!lens_import_check_cells (j, R, T))
    goto out;
  tracked = g_new0 (GHashTable *, T);
  if (!parse_tracked_v2 (j, m->tracked, R, T, tracked))
    goto out;

  /* topk[layer][position] -> token strings, best first; probabilities from tracked. */
  lens_import_top_init (&b, R, T);
  lens_import_vocab_init (&vocab);
  LensPullGrid g;
  if (!lens_pull_grid_begin (j, &g, &lens_import_topk_v2_grid, R, T, m->topk))
    goto out;
  while (lens_pull_grid_next (j, &g))
    {
      int row = g.outer, t = g.inner;
      if (lens_pull_peek (j) != '[')
        {
          lens_pull_type_error (j, "a list of token strings", "topk[%d][%d]", row, t);
          goto out;
        }
      j->p++;
      lens_import_top_begin_cell (&b, row, t);
      int nk = 0;
      while (lens_pull_next (j, ']', &nk))
        {
          if (lens_pull_peek (j) != '"')
            {
              lens_pull_type_error (j, "a token string", "topk[%d][%d][%d]", row, t, nk - 1);
              goto out;
            }
          if (!lens_pull_string (j, j->scratch))
            goto out;
          const float *traj = g_hash_table_lookup (tracked[t], j->scratch->str);
          if (traj == NULL)
            {
              g_autofree char *d = lens_pull_describe (j->scratch->str);
              lens_pull_fail (j, "topk[%d][%d][%d] is %s, which is not in tracked[%d]", row, t,
                              nk - 1, d, t);
              goto out;
            }
          lens_import_top_add (&b, row, t, lens_import_vocab_intern (&vocab, j->scratch->str),
                               traj[row]);
        }
      if (j->failed)
        goto out;
    }
  if (j->failed)
    goto out;

  r = lens_import_top_finish (&b, j);
  if (r == NULL)
    goto out;
  if (m->entropy != NULL && !parse_entropy_v2 (j, m->entropy, R, T, r->entropy))
    {
      g_clear_pointer (&r, lens_result_unref);
      goto out;
    }
  hand_over (r, rows, input, &vocab, &tracked, &model);

out:
  clear_gathered (tracked, T, &b, &vocab);
  return r;
}

/* Records the trajectory of `token` at position t (v1), or checks it equals the one recorded. */
static gboolean
v1_track (LensJsonPull *j, GHashTable *table, const char *token, const float *traj, int R, int t,
          int row, const char *where)
{
  const float *old = g_hash_table_lookup (table, token);
  if (old == NULL)
    {
      g_hash_table_insert (table, g_strdup (token), g_memdup2 (traj, (size_t) R * sizeof (float)));
      return TRUE;
    }
  if (memcmp (old, traj, (size_t) R * sizeof (float)) != 0)
    {
      g_autofree char *d = lens_pull_describe (token);
      return lens_pull_fail (j,
                             "cells[%d][%d]%s: the trajectory of %s differs from the one given "
                             "earlier for position %d",
                             t, row, where, d, t);
    }
  return TRUE;
}

/* One v1 top-k entry or cell: {"token", "prob", "trajectory", ...}. `topk` (cells only) is
 * read into `entries` as (token, prob, trajectory) triples. */
typedef struct
{
  char *token;
  float prob;
  gboolean has_traj;
  float *traj; /* (R) */
} V1Entry;

static void
v1_entry_clear (gpointer p)
{
  V1Entry *e = p;
  g_free (e->token);
  g_free (e->traj);
}

static gboolean
parse_v1_object (LensJsonPull *j, int R, V1Entry *e, GArray *entries, const char *path)
{
  if (lens_pull_peek (j) != '{')
    return lens_pull_type_error (j, "an object", "%s", path);
  j->p++;
  gboolean have_prob = FALSE;
  int n = 0;
  g_autoptr (GString) key = g_string_new (NULL);
  while (lens_pull_next (j, '}', &n))
    {
      if (!lens_pull_key (j, key))
        return FALSE;
      if (strcmp (key->str, "token") == 0)
        {
          if (!lens_pull_string_member (j, &e->token, "%s.token", path))
            return FALSE;
        }
      else if (strcmp (key->str, "prob") == 0)
        {
          double raw = 0;
          LensPullStatus st = lens_pull_prob (j, FALSE, &e->prob, &raw);
          if (st != LENS_PULL_OK)
            return lens_pull_prob_error (j, st, raw, "%s.prob", path);
          have_prob = TRUE;
        }
      else if (strcmp (key->str, "trajectory") == 0)
        {
          if (e->traj == NULL)
            e->traj = g_new (float, R);
          if (!lens_pull_prob_array (j, R, e->traj, FALSE, "layers", "%s.trajectory", path))
            return FALSE;
          e->has_traj = TRUE;
        }
      else if (entries != NULL && strcmp (key->str, "topk") == 0)
        {
          if (lens_pull_peek (j) != '[')
            return lens_pull_type_error (j, "an array", "%s.topk", path);
          j->p++;
          int k = 0;
          while (lens_pull_next (j, ']', &k))
            {
              V1Entry sub = {0};
              g_autofree char *sub_path = g_strdup_printf ("%s.topk[%d]", path, k - 1);
              gboolean ok = parse_v1_object (j, R, &sub, NULL, sub_path);
              g_array_append_val (entries, sub);
              if (!ok)
                return FALSE;
            }
          if (j->failed)
            return FALSE;
        }
      else if (!lens_pull_skip (j, 1))
        return FALSE;
    }
  if (j->failed)
    return FALSE;
  if (e->token == NULL)
    return lens_pull_fail (j, "%s has no \"token\"", path);
  if (!have_prob)
    return lens_pull_fail (j, "%s has no \"prob\"", path);
  return TRUE;
}

LensResult *
lens_import_logitlenskit_v1 (LensJsonPull *j, const LensResultsMembers *m)
{
  const char *fmt = "logitlenskit JSON version 1";
  g_autofree char *model = NULL;
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GPtrArray) tokens = g_ptr_array_new_with_free_func (g_free);
  GHashTable **tracked = NULL;
  LensTopBuilder b = {0};
  LensImportVocab vocab = {0};
  LensResult *r = NULL;
  int R = 0, T = 0;

  if (m->meta != NULL && !parse_meta (j, m->meta, 1, &model))
    goto out;
  if (!lens_import_require (j, m->layers, "layers", fmt)
      || !lens_import_require (j, m->tokens, "tokens", fmt)
      || !lens_import_require (j, m->cells, "cells", fmt))
    goto out;
  if (!lens_import_layers (j, m->layers, rows, NULL)
      || !lens_import_token_strings (j, m->tokens, "tokens", tokens))
    goto out;
  R = (int) rows->len;
  T = (int) tokens->len;
  if (!lens_import_check_cells (j, R, T))
    goto out;
  tracked = g_new0 (GHashTable *, T);
  lens_import_top_init (&b, R, T);
  lens_import_vocab_init (&vocab);

  /* cells[position][layer] */
  LensPullGrid g;
  if (!lens_pull_grid_begin (j, &g, &lens_import_cells_v1_grid, T, R, m->cells))
    goto out;
  while (lens_pull_grid_next (j, &g))
    {
      int t = g.outer, row = g.inner;
      if (tracked[t] == NULL)
        tracked[t] = lens_import_tracked_new ();
      g_autofree char *path = g_strdup_printf ("cells[%d][%d]", t, row);
      g_autoptr (GArray) entries = g_array_new (FALSE, TRUE, sizeof (V1Entry));
      g_array_set_clear_func (entries, v1_entry_clear);
      V1Entry cell = {0};
      gboolean ok = parse_v1_object (j, R, &cell, entries, path);
      if (ok && cell.has_traj)
        ok = v1_track (j, tracked[t], cell.token, cell.traj, R, t, row, "");
      lens_import_top_begin_cell (&b, row, t);
      if (ok && entries->len == 0)
        lens_import_top_add (&b, row, t, lens_import_vocab_intern (&vocab, cell.token), cell.prob);
      for (guint k = 0; ok && k < entries->len; k++)
        {
          V1Entry *e = &g_array_index (entries, V1Entry, k);
          if (e->has_traj)
            {
              g_autofree char *where = g_strdup_printf (".topk[%u]", k);
              ok = v1_track (j, tracked[t], e->token, e->traj, R, t, row, where);
            }
          if (ok)
            lens_import_top_add (&b, row, t, lens_import_vocab_intern (&vocab, e->token), e->prob);
        }
      v1_entry_clear (&cell);
      if (!ok)
        goto out;
    }
  if (j->failed)
    goto out;

  r = lens_import_top_finish (&b, j);
  if (r == NULL)
    goto out;
  hand_over (r, rows, tokens, &vocab, &tracked, &model);

out:
  clear_gathered (tracked, T, &b, &vocab);
  return r;
}
