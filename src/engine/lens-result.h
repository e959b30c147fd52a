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

/* What a row of the lens reads: a block's output (or, for LENS_ROW_EMBEDDINGS, the embeddings),
 * or the residual after that block's attention sub-layer, before its MLP (for parallel-residual
 * models, the block's input plus the attention output alone). */
typedef enum
{
  LENS_ROW_OUTPUT = 0,
  LENS_ROW_ATTN = 1,
} LensRowKind;

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
  /* A range of a longer prompt (lens_result_slice) keeps the prompt's own numbering: position t
   * here is position first_pos + t of the prompt; 0 for a whole result. */
  int first_pos;
  /* The id of the token that follows the last position in the prompt (its `next` metrics are
   * about it), -1 when none: a range that ends before the prompt does still has one. */
  int32_t next_after_last;
  char **token_texts; /* (T) display text of each input token */

  int n_rows;             /* R */
  int *row_layers;        /* (R) block index, or LENS_ROW_EMBEDDINGS */
  char **row_labels;      /* (R) "embed", "0.attn", "0", ... (imported files may use their own) */
  LensRowKind *row_kinds; /* (R) never NULL; all LENS_ROW_OUTPUT unless sub-layer rows were asked */

  int top_k;        /* K; a cell may have fewer valid entries (id -1, prob NAN) */
  int32_t *top_ids; /* (R, T, K) token ids, best first */
  float *top_probs; /* (R, T, K) */
  float *entropy;   /* (R, T) nats; NAN when unknown */
  float *log_z;     /* (R, T) log-sum-exp of the cell's logits; NAN when unknown */

  /* Metrics (LensRunOptions.metrics, or a file that saved them); all three NULL when not
   * computed, NAN / 0 in a cell where unknown. The token that follows position t is
   * token_ids[t + 1]; the last position has none (NAN / 0). Use the accessors below. */
  float *kl_final;     /* (R, T) KL(P_final || P_cell) in nats, P_final = the last block's row
                        * at the same position (the model's own prediction) */
  float *next_logprob; /* (R, T) log P_cell(next token) */
  int32_t *next_rank;  /* (R, T) 1 + number of ids with a strictly higher logit; 0 = unknown */

  /* Live results only. */
  LensModel *model;  /* owned reference, or NULL */
  int d_model;       /* C */
  float *norm_resid; /* (R, T, C) final-norm output of each kept residual, or NULL */

  /* Imported results: ids in top_ids index this table of token strings. */
  int n_vocab_texts;
  char **vocab_texts;
  /* Imported tracked probabilities: tracked[t] maps token string -> float[R] (may be NULL). */
  GHashTable **tracked;

  /* Set on a result that shares arrays with another, of which it holds a reference (made by
   * lens_result_with_top_k, or a progressive run's partial snapshot): each array pointer equal to
   * the other's belongs to it, the others to this result. */
  struct LensResult *borrowed_from;

  /* A progressive run's partial result (see LensRunOptions.partial): ready (T) is nonzero where
   * the position's cells (every row) are computed; the other cells hold NAN and -1, as missing
   * ones do, and are still being computed. NULL for a complete result. */
  guint8 *ready;
  int n_ready; /* positions with ready[t] set (when ready is not NULL) */
} LensResult;

/* Gets a partial result (a new snapshot, which the callee may keep a reference of: it never
 * changes) on the thread that runs the lens. */
typedef void (*LensPartialFunc) (LensResult *partial, gpointer user_data);

typedef enum
{
  /* Progressive only when `partial` is set and the lens of the new cells is expected to take
   * long enough to be worth showing in parts (LENS_PROGRESSIVE_MIN_FLOPS). */
  LENS_PROGRESSIVE_AUTO = 0,
  LENS_PROGRESSIVE_NEVER,
  /* Whenever there are two positions or more to compute (tests, whatever the model's size). */
  LENS_PROGRESSIVE_ALWAYS,
} LensProgressive;

typedef struct
{
  /* kept rows in order: block indices or LENS_ROW_EMBEDDINGS; NULL = all blocks */
  const int *layers;
  int n_layers;
  int top_k; /* 1..V; default 10 when 0 */
  /* kl_final, next_logprob and next_rank of every cell, in the same pass over the vocabulary */
  gboolean metrics;
  /* before each kept block's row, a LENS_ROW_ATTN row of the same block */
  gboolean sublayers;
  LensCancelFunc cancel;
  LensProgressFunc progress;
  /* Progressive runs: after the forward pass, the lens of the last position is computed first,
   * then the other new positions right to left in passes that double in size; `partial` gets a
   * snapshot of the whole prompt after each pass but the last (cached positions of an
   * incremental run are ready from the first one). The complete result is returned as usual and
   * equals a non-progressive run's. */
  LensPartialFunc partial;
  LensProgressive progressive;
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
 * last run (same model, rows, top-k and metrics): one more token costs one position (two with
 * metrics: the previous last position gains a next token), an edit in the middle recomputes from
 * the first changed token. The result equals lens_run_ids' within float
 * rounding; the cache then holds this run. */
LensResult *lens_run_ids_cached (LensModel *model, LensRunCache *cache, const int32_t *ids, int T,
                                 const char *prompt, const LensRunOptions *options, GError **error);
/* lens_run_prompt through the cache. */
LensResult *lens_run_prompt_cached (LensModel *model, LensRunCache *cache, const char *prompt,
                                    const LensRunOptions *options, GError **error);

/* How many cells of a computed result have no finite distribution (the model produced NaN or
 * infinity on the way there, e.g. from a corrupt weight); the first such cell in row-major order
 * goes to *row, *pos (either may be NULL). Imported results are not counted: a file may leave
 * cells unknown on purpose; nor are a partial result's pending cells. */
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

/* A new result holding rows first_row .. first_row + n_rows - 1 and positions
 * first_pos .. first_pos + n_pos - 1 of `r`: every per-cell array (top-k, entropy, log_z,
 * metrics, the normalised residuals that target queries need, a file's tracked tokens, a partial
 * result's ready mask), the tokens, row layers, labels and kinds. It keeps the model and the
 * prompt's numbering (first_pos, next_after_last), so a figure of it labels positions and target
 * queries on it give the same values as on `r`. A range outside `r` is an error. */
LensResult *lens_result_slice (const LensResult *r, int first_row, int n_rows, int first_pos,
                               int n_pos, GError **error);
/* Copies the cells of that range from an (R, T) array of `r` (e.g. a target's probabilities)
 * into `out` (n_rows, n_pos); the range must be inside `r`. */
void lens_result_slice_cells (const LensResult *r, int first_row, int n_rows, int first_pos,
                              int n_pos, const float *cells, float *out);

/* "A-B" or "N": one inclusive range of whole numbers, as the CLI's --positions and the window's
 * Range take positions and layers. `what` names the field in messages ("--positions"); the
 * range must lie inside lo..hi, which `of` explains ("the prompt has 11 tokens"; may be NULL);
 * with lo > hi only the form is checked (e.g. before a run says what the bounds are). */
gboolean lens_range_parse (const char *spec, const char *what, int lo, int hi, const char *of,
                           int *first, int *last, GError **error);

/* Whether the result has kl_final / next metrics. */
gboolean lens_result_has_metrics (const LensResult *r);
/* The token that follows position `pos` (the one its `next` metrics are about), or -1 where
 * unknown or none follows (the last position of the prompt; a range's last position has
 * next_after_last). */
int32_t lens_result_next_id (const LensResult *r, int pos);
/* Per-cell metrics, NAN (rank: 0) when the result has none or the cell has no next token. */
float lens_result_kl_final (const LensResult *r, int row, int pos);
float lens_result_next_prob (const LensResult *r, int row, int pos);
float lens_result_next_cross_entropy (const LensResult *r, int row, int pos); /* -log prob, nats */
int lens_result_next_rank (const LensResult *r, int row, int pos);
/* Allocates the metric arrays of r (NAN / 0 filled); for builders and importers. */
void lens_result_alloc_metrics (LensResult *r);

/* "embed", "3" or "3.attn": the label of a row (g_free it). */
char *lens_row_label (int layer, LensRowKind kind);

/* Is the result partial (a progressive run's snapshot), and is a position of it computed? */
static inline gboolean
lens_result_is_partial (const LensResult *r)
{
  return r->ready != NULL;
}

static inline gboolean
lens_result_pos_ready (const LensResult *r, int pos)
{
  return r->ready == NULL || r->ready[pos] != 0;
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

/* The distinct tokens that are top-1 at some row of position `pos`, in the order of the first row
 * where each is; ids (R entries) gets them, the count is returned (0 when no cell is known). */
int lens_result_top1_ids (const LensResult *r, int pos, int32_t *ids);

/* The probability of token `id` at every row of position `pos`: probs (R). Live results compute
 * it exactly from the kept residuals. Imported results take the file's tracked values for that
 * token's text at `pos` when it has them, else each cell's top-k: NAN where the token is not among
 * a cell's top-k (its probability there is unknown, only below the k-th). */
void lens_result_token_trajectory (const LensResult *r, int pos, int32_t id, float *probs);

/* A target given as text: live results tokenize it (the first token is tracked; *n_ids tells
 * whether it was several); imported results look the string up in `tracked`.
 * probs (R, T), NAN where the file did not track it. lens_target_compute (lens-target.c) with
 * the probabilities copied out. */
gboolean lens_result_target_probs_for_text (const LensResult *r, const char *text, float *probs,
                                            int32_t *first_id, int *n_ids, GError **error);

G_END_DECLS
