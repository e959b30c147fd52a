/* lens-results-io.c: results files (our JSON, logitlenskit v1/v2) in: the pieces the format
 * readers share, format detection and the entry points; and the atomic file write.
 *
 * Reading is done by the strict pull reader of lens-json-pull.h. A first pass validates the whole
 * document and notes where each top-level member starts; the members are then read in dependency
 * order (layers and tokens before the tables whose lengths they fix), since writers emit keys in
 * any order (logitlenskit puts "topk" before "tracked", whose probabilities it needs). The
 * readers of each format are lens-results-own.c and lens-results-logitlenskit.c; the writers are
 * lens-results-write.c. */
#include <stddef.h>
#include <string.h>

#include "lens-error.h"
#include "lens-file.h"
#include "lens-json-pull.h"
#include "lens-results-import.h"
#include "lens-results-io.h"

/* ------------------------------------------------------------------------------------------ */
/* Building an imported result                                                                 */

/* Where the first pass records each top-level member it knows. */
static const struct
{
  const char *key;
  size_t offset;
} member_table[] = {
    {"format", offsetof (LensResultsMembers, format)},
    {"version", offsetof (LensResultsMembers, version)},
    {"model", offsetof (LensResultsMembers, model)},
    {"prompt", offsetof (LensResultsMembers, prompt)},
    {"tokens", offsetof (LensResultsMembers, tokens)},
    {"layers", offsetof (LensResultsMembers, layers)},
    {"cells", offsetof (LensResultsMembers, cells)},
    {"targets", offsetof (LensResultsMembers, targets)},
    {"meta", offsetof (LensResultsMembers, meta)},
    {"input", offsetof (LensResultsMembers, input)},
    {"tracked", offsetof (LensResultsMembers, tracked)},
    {"topk", offsetof (LensResultsMembers, topk)},
    {"entropy", offsetof (LensResultsMembers, entropy)},
    {"first_position", offsetof (LensResultsMembers, first_pos)},
};

/* The grids of the formats side by side, so that their messages stay alike. Entropy rows past
 * the layers are still read (every value checked); the caller ignores them. */
const LensPullGridShape lens_import_topk_v2_grid = {
    .name = "topk",
    .outer_kind = "an array with one array per layer",
    .inner_kind = "an array with one list per input token",
    .inner_noun = "entries",
    .inner_of = "input",
    .inner_unit = " tokens",
    .outer_of = "layers",
    .skip_extra = TRUE,
};
const LensPullGridShape lens_import_entropy_v2_grid = {
    .name = "entropy",
    .outer_kind = "an array with one array per layer",
    .inner_kind = "an array with one number per input token",
    .inner_noun = "values",
    .inner_of = "input",
    .inner_unit = " tokens",
    .outer_of = "layers",
    .skip_extra = FALSE,
};
const LensPullGridShape lens_import_cells_v1_grid = {
    .name = "cells",
    .outer_kind = "an array with one array per input token",
    .inner_kind = "an array with one cell per layer",
    .inner_noun = "entries",
    .inner_of = "layers",
    .inner_unit = "",
    .outer_of = "tokens",
    .skip_extra = TRUE,
};
const LensPullGridShape lens_import_cells_own_grid = {
    .name = "cells",
    .outer_kind = "an array with one array per layer",
    .inner_kind = "an array with one cell per token",
    .inner_noun = "entries",
    .inner_of = "tokens",
    .inner_unit = "",
    .outer_of = "layers",
    .skip_extra = TRUE,
};

void
lens_import_vocab_init (LensImportVocab *v)
{
  v->index = g_hash_table_new (g_str_hash, g_str_equal);
  v->texts = g_ptr_array_new_with_free_func (g_free);
}

void
lens_import_vocab_clear (LensImportVocab *v)
{
  g_clear_pointer (&v->index, g_hash_table_unref);
  g_clear_pointer (&v->texts, g_ptr_array_unref);
}

int32_t
lens_import_vocab_intern (LensImportVocab *v, const char *s)
{
  gpointer id;
  if (g_hash_table_lookup_extended (v->index, s, NULL, &id))
    return GPOINTER_TO_INT (id);
  char *copy = g_strdup (s);
  int32_t n = (int32_t) v->texts->len;
  g_ptr_array_add (v->texts, copy);
  g_hash_table_insert (v->index, copy, GINT_TO_POINTER (n));
  return n;
}

void
lens_import_vocab_move_to (LensImportVocab *v, LensResult *r)
{
  gsize n = 0;
  r->vocab_texts = (char **) g_ptr_array_steal (v->texts, &n);
  r->n_vocab_texts = (int) n;
}

void
lens_import_top_init (LensTopBuilder *b, int R, int T)
{
  size_t cells = (size_t) R * (size_t) T;
  b->R = R;
  b->T = T;
  b->start = g_new0 (size_t, cells);
  b->count = g_new0 (int, cells);
  b->ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  b->probs = g_array_new (FALSE, FALSE, sizeof (float));
}

void
lens_import_top_clear (LensTopBuilder *b)
{
  g_clear_pointer (&b->start, g_free);
  g_clear_pointer (&b->count, g_free);
  if (b->ids != NULL)
    g_array_unref (b->ids);
  if (b->probs != NULL)
    g_array_unref (b->probs);
  b->ids = b->probs = NULL;
}

void
lens_import_top_begin_cell (LensTopBuilder *b, int row, int pos)
{
  size_t cell = (size_t) row * b->T + pos;
  b->start[cell] = b->ids->len;
  b->count[cell] = 0;
}

void
lens_import_top_add (LensTopBuilder *b, int row, int pos, int32_t id, float prob)
{
  g_array_append_val (b->ids, id);
  g_array_append_val (b->probs, prob);
  b->count[(size_t) row * b->T + pos]++;
}

/* Allocates the result with K = the longest top-k list and copies the entries in. */
LensResult *
lens_import_top_finish (LensTopBuilder *b, LensJsonPull *j)
{
  size_t cells = (size_t) b->R * b->T;
  int K = 0;
  for (size_t c = 0; c < cells; c++)
    K = MAX (K, b->count[c]);
  if (K == 0)
    {
      lens_pull_fail (j, "no cell has any top-k tokens");
      return NULL;
    }
  if (cells * (size_t) K > LENS_RESULTS_MAX_ENTRIES)
    {
      lens_pull_fail (j, "%d layers x %d tokens x top-%d is more than the %zu entries supported",
                      b->R, b->T, K, (size_t) LENS_RESULTS_MAX_ENTRIES);
      return NULL;
    }
  LensResult *r = lens_result_new_empty (b->R, b->T, K);
  const int32_t *ids = (const int32_t *) b->ids->data;
  const float *probs = (const float *) b->probs->data;
  for (size_t c = 0; c < cells; c++)
    {
      memcpy (r->top_ids + c * K, ids + b->start[c], (size_t) b->count[c] * sizeof (int32_t));
      memcpy (r->top_probs + c * K, probs + b->start[c], (size_t) b->count[c] * sizeof (float));
    }
  return r;
}

GHashTable *
lens_import_tracked_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* "layers": block indices; "embed" (ours) or -1 (logitlenskit export) is the embedding row;
 * "L.attn" (ours, when `kinds` is not NULL: it receives each row's LensRowKind) is the residual
 * after block L's attention sub-layer. */
gboolean
lens_import_layers (LensJsonPull *j, const char *at, GArray *rows, GArray *kinds)
{
  j->p = at;
  if (lens_pull_peek (j) != '[')
    return lens_pull_type_error (j, "an array of layer indices", "layers");
  j->p++;
  int n = 0;
  while (lens_pull_next (j, ']', &n))
    {
      int layer;
      LensRowKind kind = LENS_ROW_OUTPUT;
      if (lens_pull_peek (j) == '"')
        {
          if (!lens_pull_string (j, j->scratch))
            return FALSE;
          const char *str = j->scratch->str;
          char *end = NULL;
          gint64 attn = -1;
          if (kinds != NULL && g_ascii_isdigit (str[0]))
            attn = g_ascii_strtoll (str, &end, 10);
          if (attn >= 0 && attn <= 1000000 && end != NULL && strcmp (end, ".attn") == 0)
            {
              layer = (int) attn;
              kind = LENS_ROW_ATTN;
            }
          else if (strcmp (str, "embed") == 0)
            layer = LENS_ROW_EMBEDDINGS;
          else
            {
              g_autofree char *d = lens_pull_describe (str);
              return lens_pull_fail (j, "layers[%d] is %s, expected a layer index%s or \"embed\"",
                                     n - 1, d, kinds != NULL ? ", \"L.attn\"" : "");
            }
        }
      else
        {
          long v;
          double raw = 0;
          LensPullStatus st = lens_pull_int (j, -1, 1000000, &v, &raw);
          if (st != LENS_PULL_OK)
            return lens_pull_int_error (j, st, raw, -1, 1000000, "layers[%d]", n - 1);
          layer = (int) v;
        }
      if (n > LENS_RESULTS_MAX_ROWS)
        return lens_pull_fail (j, "layers has more than %d entries", LENS_RESULTS_MAX_ROWS);
      g_array_append_val (rows, layer);
      if (kinds != NULL)
        g_array_append_val (kinds, kind);
    }
  if (j->failed)
    return FALSE;
  if (n == 0)
    return lens_pull_fail (j, "layers is empty");
  return TRUE;
}

/* Token strings ("input" of v2, "tokens" of v1). */
gboolean
lens_import_token_strings (LensJsonPull *j, const char *at, const char *key, GPtrArray *texts)
{
  j->p = at;
  if (lens_pull_peek (j) != '[')
    return lens_pull_type_error (j, "an array of token strings", "%s", key);
  j->p++;
  int n = 0;
  while (lens_pull_next (j, ']', &n))
    {
      if (lens_pull_peek (j) != '"')
        return lens_pull_type_error (j, "a string", "%s[%d]", key, n - 1);
      if (!lens_pull_string (j, j->scratch))
        return FALSE;
      if (n > LENS_RESULTS_MAX_TOKENS)
        return lens_pull_fail (j, "%s has more than %d tokens", key, LENS_RESULTS_MAX_TOKENS);
      g_ptr_array_add (texts, g_strdup (j->scratch->str));
    }
  if (j->failed)
    return FALSE;
  if (n == 0)
    return lens_pull_fail (j, "%s is empty", key);
  return TRUE;
}

gboolean
lens_import_check_cells (LensJsonPull *j, int R, int T)
{
  if ((size_t) R * (size_t) T > LENS_RESULTS_MAX_ENTRIES)
    return lens_pull_fail (j, "%d layers x %d tokens is more than the %zu cells supported", R, T,
                           (size_t) LENS_RESULTS_MAX_ENTRIES);
  return TRUE;
}

/* Fills the parts every format shares. Takes the strings of `texts`. kinds: NULL when every row
 * is a block's output. */
void
lens_import_fill_rows_and_tokens (LensResult *r, const GArray *rows, const GArray *kinds,
                                  GPtrArray *texts)
{
  for (int i = 0; i < r->n_rows; i++)
    {
      int layer = g_array_index (rows, int, i);
      r->row_layers[i] = layer;
      r->row_kinds[i] = kinds != NULL ? g_array_index (kinds, LensRowKind, i) : LENS_ROW_OUTPUT;
      g_free (r->row_labels[i]);
      r->row_labels[i] = lens_row_label (layer, r->row_kinds[i]);
    }
  for (int t = 0; t < r->n_tokens; t++)
    {
      g_free (r->token_texts[t]);
      r->token_texts[t] = g_ptr_array_index (texts, t);
      texts->pdata[t] = NULL;
    }
}

gboolean
lens_import_require (LensJsonPull *j, const char *at, const char *key, const char *format)
{
  if (at == NULL)
    return lens_pull_fail (j, "there is no \"%s\" (required in %s)", key, format);
  return TRUE;
}

void
lens_import_tracked_free (GHashTable **tracked, int T)
{
  if (tracked == NULL)
    return;
  for (int t = 0; t < T; t++)
    g_clear_pointer (&tracked[t], g_hash_table_unref);
  g_free (tracked);
}

/* ------------------------------------------------------------------------------------------ */
/* Entry points                                                                                */

LensResult *
lens_results_parse_full (const char *data, size_t len, const char *name, GPtrArray **targets,
                         GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (targets != NULL)
    *targets = NULL;
  if (name == NULL)
    name = "results";

  if (len == 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: the file is empty", name);
      return NULL;
    }
  if (len > LENS_RESULTS_MAX_FILE_SIZE)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: %zu bytes is larger than the %zu bytes supported for a results file", name,
                   len, LENS_RESULTS_MAX_FILE_SIZE);
      return NULL;
    }

  g_autoptr (GString) scratch = g_string_sized_new (64);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_target_unref);
  LensJsonPull j = {
      .base = data, .p = data, .end = data + len, .name = name, .error = error, .scratch = scratch};
  LensResultsMembers m = {0};

  /* A UTF-8 byte order mark is tolerated (RFC 8259 lets parsers ignore it). */
  if (len >= 3 && memcmp (data, "\xEF\xBB\xBF", 3) == 0)
    j.p += 3;

  /* Pass 1: validate everything, locate the top-level members. */
  if (lens_pull_peek (&j) != '{')
    {
      if (lens_pull_peek (&j) == -1)
        lens_pull_fail (&j, "the file contains no JSON value");
      else if (*j.p == '[' || *j.p == '"' || *j.p == '-' || g_ascii_isdigit (*j.p) || *j.p == 't'
               || *j.p == 'f' || *j.p == 'n')
        lens_pull_fail (&j, "the JSON is %s, expected an object (a results file)",
                        lens_pull_kind (&j));
      else
        lens_pull_syntax (&j, "this is not JSON");
      return NULL;
    }
  j.p++;
  g_autoptr (GHashTable) keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  int n = 0;
  while (lens_pull_next (&j, '}', &n))
    {
      const char *key_at = j.p;
      if (!lens_pull_key (&j, scratch))
        return NULL;
      if (!g_hash_table_add (keys, g_strdup (scratch->str)))
        {
          lens_pull_syntax_at (&j, key_at, "a duplicate key in an object");
          return NULL;
        }
      const char *value_at = (lens_pull_peek (&j), j.p);
      for (size_t i = 0; i < G_N_ELEMENTS (member_table); i++)
        if (strcmp (scratch->str, member_table[i].key) == 0)
          *(const char **) ((char *) &m + member_table[i].offset) = value_at;
      if (!lens_pull_skip (&j, 1))
        return NULL;
    }
  if (j.failed)
    return NULL;
  if (lens_pull_peek (&j) != -1)
    {
      lens_pull_syntax (&j, "unexpected data after the JSON object");
      return NULL;
    }

  /* Pass 2: detect the format and read it. */
  LensResult *r = NULL;
  gboolean own = FALSE;
  if (m.format != NULL)
    {
      j.p = m.format;
      if (lens_pull_peek (&j) != '"')
        {
          lens_pull_type_error (&j, "a string", "format");
          return NULL;
        }
      if (!lens_pull_string (&j, scratch))
        return NULL;
      if (strcmp (scratch->str, LENS_RESULTS_FORMAT_NAME) != 0)
        {
          g_autofree char *d = lens_pull_describe (scratch->str);
          lens_pull_fail (&j, "format is %s, expected \"%s\"", d, LENS_RESULTS_FORMAT_NAME);
          return NULL;
        }
      own = TRUE;
    }
  else if (m.meta == NULL && m.cells != NULL && m.tokens != NULL)
    {
      /* Without "format": ours has token objects, logitlenskit v1 has token strings. */
      j.p = m.tokens;
      if (lens_pull_peek (&j) == '[')
        {
          j.p++;
          own = lens_pull_peek (&j) == '{';
        }
      own |= m.model != NULL && m.targets != NULL;
    }

  if (own)
    r = lens_import_own (&j, &m, names);
  else if (m.cells != NULL && m.tracked == NULL && m.topk == NULL)
    r = lens_import_logitlenskit_v1 (&j, &m);
  else if (m.meta != NULL)
    r = lens_import_logitlenskit_v2 (&j, &m);
  else if (m.tracked != NULL || m.topk != NULL)
    lens_pull_fail (&j, "there is no \"meta\" (required in logitlenskit JSON version 2)");
  else
    lens_pull_fail (&j,
                    "not a logit lens results file: expected \"format\": \"%s\", or "
                    "logitlenskit widget JSON (\"meta\", \"tracked\", \"topk\" or \"cells\")",
                    LENS_RESULTS_FORMAT_NAME);

  g_free (j.desc);
  if (r != NULL && targets != NULL)
    *targets = g_steal_pointer (&names);
  return r;
}

LensResult *
lens_results_parse (const char *data, size_t len, const char *name, GError **error)
{
  return lens_results_parse_full (data, len, name, NULL, error);
}

LensResult *
lens_results_load_full (const char *path, GPtrArray **targets, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autofree char *display = g_filename_display_name (path);
  g_autoptr (GMappedFile) file = lens_file_map (path, LENS_RESULTS_MAX_FILE_SIZE, error);
  if (file == NULL)
    return NULL;
  return lens_results_parse_full (g_mapped_file_get_contents (file),
                                  g_mapped_file_get_length (file), display, targets, error);
}

LensResult *
lens_results_load (const char *path, GError **error)
{
  return lens_results_load_full (path, NULL, error);
}

gboolean
lens_results_write_file (const char *path, const char *contents, GError **error)
{
  g_return_val_if_fail (path != NULL && contents != NULL, FALSE);
  g_autoptr (GError) local = NULL;
  if (!g_file_set_contents_full (path, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &local))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "%s", local->message);
      return FALSE;
    }
  return TRUE;
}
