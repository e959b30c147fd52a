/* lens-results-io.h: saving and opening logit lens results without the model.
 *
 * Three formats are read, detected from the content:
 *  - our own results JSON (what `logit-lens-cli --json` prints and the app saves): top-level
 *    "format": "logit-lens-results" (or, without it, a "model" object and "tokens" as objects);
 *  - logitlenskit widget JSON version 2: "meta" {"version": 2, "timestamp", "model"?}, "layers",
 *    "input", "tracked" (per position: token string -> one probability per layer), "topk"
 *    ([layer][position] -> token strings, best first), optionally "entropy" ([layer][position]);
 *  - logitlenskit legacy version 1: "layers", "tokens", "cells"[position][layer] =
 *    {"token", "prob", "trajectory", "topk": [{"token", "prob", "trajectory"}]}.
 *
 * The reader is a strict RFC 8259 pull parser over the (mapped) bytes: UTF-8 checked, no NaN,
 * no duplicate keys, one pass per top-level member without building a DOM, so a 60 MB file of
 * 1000 tokens x 80 layers is read in well under a second.
 *
 * An imported LensResult has no model: model == NULL, norm_resid == NULL, entropy/log_z NAN
 * where the file has none. Ids in top_ids index r->vocab_texts. When r->model_info.vocab_size is
 * > 0 (our own format with a known vocabulary) those ids are the model's real token ids;
 * otherwise (logitlenskit files) they are indices into a table local to the result.
 * Tracked trajectories (logitlenskit "tracked", our "targets") are in r->tracked. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

#include "lens-result.h"
#include "lens-target.h"

G_BEGIN_DECLS

#define LENS_RESULTS_FORMAT_NAME "logit-lens-results"
#define LENS_RESULTS_FORMAT_VERSION 1

/* Limits for untrusted files; real results are far below them. */
#define LENS_RESULTS_MAX_FILE_SIZE ((size_t) 1 << 30) /* bytes */
#define LENS_RESULTS_MAX_ROWS 65536
#define LENS_RESULTS_MAX_TOKENS (1 << 20)
#define LENS_RESULTS_MAX_ENTRIES ((size_t) 1 << 26) /* rows * tokens * top-k */
#define LENS_RESULTS_MAX_VOCAB (1 << 22)
#define LENS_RESULTS_MAX_PARAMS 1e15 /* model.n_params; exact in a double (< 2^53) */

/* The CLI's --json document (see the core engine issue) plus "format", "version", a "log_z" per
 * cell and "name" in "model". Unknown values (NAN, unknown ids, unknown model fields) are null.
 * Probabilities and entropies are printed with %.9g. Each target is written with its text, ids
 * and probabilities (computed on r). Free with g_free. */
char *lens_result_to_json (const LensResult *r, LensTarget *const *targets, int n_targets,
                           gboolean pretty);

/* logitlenskit widget JSON version 2, probabilities rounded to 5 decimals like
 * logitlenskit's format_data_for_widget. tracked[t] holds every token of position t's top-k
 * lists across all rows plus the targets, with their probability at every row: computed from the
 * model for live results, taken from r->tracked for imported ones (an error if a token was never
 * tracked there). The embedding row is written as layer -1. Metrics are not written (the format
 * has no place for them); a result with sub-layer rows is an error (it has none for those
 * either). Free with g_free. */
char *lens_result_to_logitlenskit_json (const LensResult *r, LensTarget *const *targets,
                                        int n_targets, GError **error);

/* Reads any of the three formats. `name` (e.g. the file's display name) starts error messages.
 * On success, if `targets` is not NULL it receives a new GPtrArray of LensTarget * (owning a
 * reference to each): the file's targets (our format's "targets") in order, with the ids the
 * file gives (n_ids 0 when none), id -1 and the file's probabilities, which are also in
 * r->tracked under their text; empty for logitlenskit files. */
LensResult *lens_results_parse_full (const char *data, size_t len, const char *name,
                                     GPtrArray **targets, GError **error);
LensResult *lens_results_parse (const char *data, size_t len, const char *name, GError **error);
/* Maps the file and parses it (blocking; call it from a worker thread in the GUI). */
LensResult *lens_results_load_full (const char *path, GPtrArray **targets, GError **error);
LensResult *lens_results_load (const char *path, GError **error);

/* Writes `contents` to `path` atomically (temporary file + rename). */
gboolean lens_results_write_file (const char *path, const char *contents, GError **error);

G_END_DECLS
