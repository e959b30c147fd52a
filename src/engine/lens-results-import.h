/* lens-results-import.h: what the readers of results files share (engine-internal): the
 * top-level members the validating first pass located, and the pieces every format builds an
 * imported LensResult from. The formats' readers are lens-results-own.c and
 * lens-results-logitlenskit.c; lens-results-io.c detects the format and holds the shared parts. */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "lens-json-pull.h"
#include "lens-result.h"

G_BEGIN_DECLS

/* Top-level members we know, located by the validating first pass. */
typedef struct
{
  const char *format, *version, *model, *prompt, *tokens, *layers, *cells, *targets;
  const char *first_pos; /* "first_position" */
  const char *meta, *input, *tracked, *topk, *entropy;
} LensResultsMembers;

/* Token strings -> ids of a table local to the result (logitlenskit files have no ids). */
typedef struct
{
  GHashTable *index; /* text (owned by texts) -> GINT_TO_POINTER (id) */
  GPtrArray *texts;  /* id -> text */
} LensImportVocab;

/* Top-k entries gathered cell by cell before K (the longest list) is known. */
typedef struct
{
  int R, T;
  size_t *start; /* (R, T) first entry of the cell */
  int *count;    /* (R, T) */
  GArray *ids;   /* int32_t */
  GArray *probs; /* float */
} LensTopBuilder;

void lens_import_vocab_init (LensImportVocab *v);
void lens_import_vocab_clear (LensImportVocab *v);
int32_t lens_import_vocab_intern (LensImportVocab *v, const char *s);
/* Hands the table's texts to r->vocab_texts. */
void lens_import_vocab_move_to (LensImportVocab *v, LensResult *r);

void lens_import_top_init (LensTopBuilder *b, int R, int T);
void lens_import_top_clear (LensTopBuilder *b);
void lens_import_top_begin_cell (LensTopBuilder *b, int row, int pos);
void lens_import_top_add (LensTopBuilder *b, int row, int pos, int32_t id, float prob);
/* Allocates the result with K = the longest top-k list and copies the entries in. */
LensResult *lens_import_top_finish (LensTopBuilder *b, LensJsonPull *j);

/* token text -> float[R] trajectory, both owned */
GHashTable *lens_import_tracked_new (void);
void lens_import_tracked_free (GHashTable **tracked, int T);

/* "layers": block indices; "embed" (ours) or -1 (logitlenskit export) is the embedding row;
 * "L.attn" (ours, when `kinds` is not NULL: it receives each row's LensRowKind) is the residual
 * after block L's attention sub-layer. */
gboolean lens_import_layers (LensJsonPull *j, const char *at, GArray *rows, GArray *kinds);
/* Token strings ("input" of v2, "tokens" of v1). */
gboolean lens_import_token_strings (LensJsonPull *j, const char *at, const char *key,
                                    GPtrArray *texts);
gboolean lens_import_check_cells (LensJsonPull *j, int R, int T);
/* Fills the parts every format shares. Takes the strings of `texts`. kinds: NULL when every row
 * is a block's output. */
void lens_import_fill_rows_and_tokens (LensResult *r, const GArray *rows, const GArray *kinds,
                                       GPtrArray *texts);
/* "there is no KEY (required in FORMAT)" when `at` is NULL. */
gboolean lens_import_require (LensJsonPull *j, const char *at, const char *key, const char *format);

/* The [outer][inner] tables of the formats, as their messages name them (lens-results-io.c). */
extern const LensPullGridShape lens_import_topk_v2_grid;    /* topk[layer][position] */
extern const LensPullGridShape lens_import_entropy_v2_grid; /* entropy[layer][position] */
extern const LensPullGridShape lens_import_cells_v1_grid;   /* cells[position][layer] */
extern const LensPullGridShape lens_import_cells_own_grid;  /* cells[layer][position] */

/* The formats. NULL with j's error set on failure. */
LensResult *lens_import_own (LensJsonPull *j, const LensResultsMembers *m, GPtrArray *targets);
LensResult *lens_import_logitlenskit_v1 (LensJsonPull *j, const LensResultsMembers *m);
LensResult *lens_import_logitlenskit_v2 (LensJsonPull *j, const LensResultsMembers *m);

G_END_DECLS
