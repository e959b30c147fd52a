/* ll-session.h: the document a window shows. A session owns the current result (as given, and
 * the part of it inside the Range that the views show), the targets computed on it, the selected
 * cell, the Range, the mode (live runs of a model, or a results file) and the result pinned for
 * comparison. The window changes it
 * and follows its "changed" signal, so a new result and its targets reach the views in one go. */
#pragma once

#include <glib-object.h>

#include "lens-model.h"
#include "lens-result.h"

G_BEGIN_DECLS

typedef enum
{
  LL_SESSION_LIVE,     /* results of the prompt run on the loaded model */
  LL_SESSION_IMPORTED, /* a results file, shown without a model */
} LlSessionMode;

/* What a "changed" signal reports (flags). */
typedef enum
{
  LL_SESSION_CHANGED_RESULT = 1 << 0, /* a new result (and with it targets and selection) */
  LL_SESSION_CHANGED_TARGETS = 1 << 1,
  LL_SESSION_CHANGED_SELECTION = 1 << 2,
  LL_SESSION_CHANGED_MODE = 1 << 3,   /* live or imported (also for another file) */
  LL_SESSION_CHANGED_PINNED = 1 << 4, /* a result pinned for comparison, or none */
} LlSessionChange;

/* The Range: blocks and the prompt's positions, inclusive; has_* FALSE = all. */
typedef struct
{
  gboolean has_layers, has_positions;
  int layer_first, layer_last, pos_first, pos_last;
} LlSessionRange;

#define LL_TYPE_SESSION (ll_session_get_type ())
G_DECLARE_FINAL_TYPE (LlSession, ll_session, LL, SESSION, GObject)

LlSession *ll_session_new (void);

LlSessionMode ll_session_get_mode (LlSession *self);
gboolean ll_session_is_imported (LlSession *self);
/* Imported mode: the file at `path` and the targets it tracked (GPtrArray of LensTarget *, may
 * be NULL), whose ids the targets of its result keep. Emits "changed" (MODE). */
void ll_session_set_imported (LlSession *self, const char *path, GPtrArray *file_targets);
/* Live mode: the file and its targets go. Emits "changed" (MODE). */
void ll_session_set_live (LlSession *self);
const char *ll_session_get_imported_path (LlSession *self);
GPtrArray *ll_session_get_file_targets (LlSession *self);

const LlSessionRange *ll_session_get_range (LlSession *self);
/* A new Range applies to the next result given (ll_session_set_result). */
void ll_session_set_range (LlSession *self, const LlSessionRange *range);
/* The part of `r` inside the Range: the rows of its blocks (an "L.attn" row with its block; the
 * embeddings row only when the range starts at the first block) and its positions that r has;
 * all of r when no range is chosen or none of r is inside. A new reference, NULL for NULL. */
LensResult *ll_session_range_of (LlSession *self, LensResult *r);

/* A new result: `full` as given, `shown` the Range of it, `targets` (GPtrArray of LensTarget *,
 * computed on `shown` with the tokenizer of `targets_model`) taken by reference. The selection
 * survives a result of the same shape and is cleared otherwise. Emits "changed" (RESULT) once the
 * session holds all of it, before the previous targets are released. */
void ll_session_set_result (LlSession *self, LensResult *full, LensResult *shown,
                            GPtrArray *targets, LensModel *targets_model);
/* What the views show: the Range of the full result, or NULL. */
LensResult *ll_session_get_result (LlSession *self);
LensResult *ll_session_get_full_result (LlSession *self);

/* New targets for the shown result (emits "changed" with TARGETS). */
void ll_session_set_targets (LlSession *self, GPtrArray *targets, LensModel *targets_model);
/* The targets of the shown result (never NULL; may be empty). */
GPtrArray *ll_session_get_targets (LlSession *self);
/* The model whose tokenizer gave the targets' ids, or NULL. */
LensModel *ll_session_get_targets_model (LlSession *self);

/* Pins `full` (a complete result as given, before any Range) for comparison, or unpins with NULL.
 * Emits "changed" (PINNED). */
void ll_session_pin (LlSession *self, LensResult *full);
/* The pinned result as given, or NULL. */
LensResult *ll_session_get_pinned (LlSession *self);

/* The selected cell of the shown result, -1 -1 for none (the views show the last position). */
void ll_session_get_selection (LlSession *self, int *row, int *pos);
void ll_session_set_selection (LlSession *self, int row, int pos);

G_END_DECLS
