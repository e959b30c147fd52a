/* lens-result.h: the logit lens of one prompt, immutable once built.
 *
 * A plain struct (read the fields directly) with a reference count, so the worker thread can hand
 * it to the UI thread without copying. Cell (r, t) is row r (a kept layer) at position t.
 *
 * A result comes either from a live run (lens_run: `model` set, `norm_resid` kept, so the
 * probability and rank of any token can be asked later without running the model again) or from
 * a file (results-io: no model; top-k as token strings, targets only where the file tracked them).
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdbool.h>

#include "lens-model.h"

G_BEGIN_DECLS

#define LENS_ROW_EMBEDDINGS (-1)

typedef struct
{
  char *name;         /* display name, e.g. "gpt2" or "Llama-3.1-70B" */
  char *path;         /* folder it was loaded from, or NULL */
  char *architecture; /* "gpt2", or NULL when unknown (imported) */
  int n_layer;        /* 0 when unknown */
  int d_model;
  int n_head;
  int vocab_size;
  int n_kv_head;      /* key/value heads (< n_head with grouped-query attention); 0 when unknown */
  int context_length; /* positions the model takes (config's n_positions); 0 when unknown */
  int64_t n_params;   /* lens_model_n_params; 0 when unknown */
  char *dtype;        /* lens_model_dtype: "F32", "F16", "BF16" or "mixed"; NULL when unknown */
} LensModelInfo;

typedef struct LensResult
{
  gint ref_count;
  char *prompt; /* may be NULL for imported results that lack it */
  LensModelInfo model_info;

  int n_tokens;       /* T */
  int32_t *token_ids; /* (T) input ids; -1 where unknown (imported) */
  char **token_texts; /* (T) display text of each input token */

  int n_rows;        /* R */
  int *row_layers;   /* (R) block index, or LENS_ROW_EMBEDDINGS */
  char **row_labels; /* (R) "embed", "0", "1", ... (imported files may use their own) */

  int top_k;        /* K; a cell may have fewer valid entries (id -1, prob NAN) */
  int32_t *top_ids; /* (R, T, K) token ids, best first */
  float *top_probs; /* (R, T, K) */
  float *entropy;   /* (R, T) nats; NAN when unknown */
  float *log_z;     /* (R, T) log-sum-exp of the cell's logits; NAN when unknown */

  /* Live results only. */
  LensModel *model;  /* owned reference, or NULL */
  int d_model;       /* C */
  float *norm_resid; /* (R, T, C) final-norm output of each kept residual, or NULL */

  /* Imported results: ids in top_ids index this table of token strings. */
  int n_vocab_texts;
  char **vocab_texts;
  /* Imported tracked probabilities: tracked[t] maps token string -> float[R] (may be NULL). */
  GHashTable **tracked;

  /* Set on a result made by lens_result_with_top_k: every array except top_ids and top_probs
   * belongs to this result, of which it holds a reference. */
  struct LensResult *borrowed_from;
} LensResult;

typedef struct
{
  /* kept rows in order: block indices or LENS_ROW_EMBEDDINGS; NULL = all blocks */
  const int *layers;
  int n_layers;
  int top_k; /* 1..V; default 10 when 0 */
  LensCancelFunc cancel;
  LensProgressFunc progress;
  gpointer user_data;
} LensRunOptions;

/* Tokenizes `prompt` as Hugging Face's tokenizer(prompt) does (with the special tokens its
 * post-processor adds, e.g. Llama's BOS, which becomes the first position) and runs the lens on
 * it. */
LensResult *lens_run_prompt (LensModel *model, const char *prompt, const LensRunOptions *options,
                             GError **error);
/* Runs the lens on given ids; `prompt` (may be NULL) is only recorded. */
LensResult *lens_run_ids (LensModel *model, const int32_t *ids, int T, const char *prompt,
                          const LensRunOptions *options, GError **error);

/* What a lens run leaves for the next one on a prompt being edited (typing): the keys and values of
 * every position and the last result. Not thread-safe: one run at a time. */
typedef struct LensRunCache LensRunCache;
LensRunCache *lens_run_cache_new (void);
void lens_run_cache_free (LensRunCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LensRunCache, lens_run_cache_free)

/* lens_run_ids, computing only the positions after the longest prefix ids share with the cache's
 * last run (same model, layers and top-k): one more token costs one position, an edit in the
 * middle recomputes from the first changed token. The result equals lens_run_ids' within float
 * rounding; the cache then holds this run. */
LensResult *lens_run_ids_cached (LensModel *model, LensRunCache *cache, const int32_t *ids, int T,
                                 const char *prompt, const LensRunOptions *options, GError **error);
/* lens_run_prompt through the cache. */
LensResult *lens_run_prompt_cached (LensModel *model, LensRunCache *cache, const char *prompt,
                                    const LensRunOptions *options, GError **error);

/* How many cells of a computed result have no finite distribution (the model produced NaN or
 * infinity on the way there, e.g. from a corrupt weight); the first such cell in row-major order
 * goes to *row, *pos (either may be NULL). Imported results are not counted: a file may leave
 * cells unknown on purpose. */
size_t lens_result_count_nonfinite (const LensResult *r, int *row, int *pos);

/* "The model produced NaN or infinity at 12 of 66 cells, first at layer 0, position 3: the
 * checkpoint's weights may be corrupt", or NULL when there is nothing to say. Free with g_free. */
char *lens_result_describe_nonfinite (const LensResult *r);

LensResult *lens_result_ref (LensResult *result);
/* The same result keeping only the `top_k` best tokens of each cell: a new reference to `result`
 * itself when it has no more than that, otherwise a result that shares everything else with it
 * (so changing the top-k never needs the model again when fewer tokens are asked for). */
LensResult *lens_result_with_top_k (LensResult *result, int top_k);
void lens_result_unref (LensResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LensResult, lens_result_unref)

/* An empty result to be filled by an importer: all arrays allocated and NAN/-1 filled. */
LensResult *lens_result_new_empty (int n_rows, int n_tokens, int top_k);

static inline size_t
lens_result_cell_index (const LensResult *r, int row, int pos)
{
  return (size_t) row * (size_t) r->n_tokens + (size_t) pos;
}

/* Display text of a token id as used in top_ids (tokenizer display form, leading space kept). */
const char *lens_result_token_text (const LensResult *r, int32_t id);

/* Can target probabilities of arbitrary tokens be computed (live result with a model)? */
gboolean lens_result_has_model (const LensResult *r);

/* Probability of token `id` at every cell: probs (R, T). Live results only. */
gboolean lens_result_target_probs (const LensResult *r, int32_t id, float *probs, GError **error);
/* Probability and rank (1 = top) of `id` at one cell; computes that cell's full logits. */
gboolean lens_result_target_rank (const LensResult *r, int row, int pos, int32_t id, float *prob,
                                  int *rank, GError **error);

/* A target given as text: live results tokenize it (the first token is tracked; *n_ids tells
 * whether it was several); imported results look the string up in `tracked`.
 * probs (R, T), NAN where the file did not track it. */
gboolean lens_result_target_probs_for_text (const LensResult *r, const char *text, float *probs,
                                            int32_t *first_id, int *n_ids, GError **error);

G_END_DECLS
