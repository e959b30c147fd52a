/* cli.h: what the command line's files share: the parsed flags (CliOptions), one lens run's
 * request (CliRequest) and the functions one file calls in another. */
#pragma once

#include <glib.h>

#include "lens-model.h"
#include "lens-paint.h"
#include "lens-result.h"

G_BEGIN_DECLS

/* no --threads on the command line (a value nobody can type as a count) */
#define THREADS_NOT_GIVEN G_MININT

typedef struct
{
  char *model_dir;
  char *prompt;
  char *prompt_file;
  char **targets;
  int top_k;
  char *layers;
  char *positions;
  gboolean embeddings;
  gboolean metrics;
  gboolean sublayers;
  gboolean tokenize;
  gboolean json;
  char *export_path;
  char *view;
  char *scale;
  char *color_by;
  char *line_metric;          /* --line-metric */
  gboolean line_targets_only; /* --line-targets-only */
  char *compare_prompt;       /* --compare-prompt: the pinned side of --view diff */
  char *compare_open;         /* --compare-open */
  char *diff;                 /* --diff */
  char *perplexity_file;
  char *open_path;
  gboolean serve;
  int threads; /* THREADS_NOT_GIVEN when not given */
  gboolean version;
  char *ndif_model; /* --ndif-script */
} CliOptions;

/* What one lens run asks for: the flags, or one --serve request line. `what_*` name the options
 * in error messages as the user wrote them ("--layers" or "layers"). */
typedef struct
{
  const char *prompt;
  const char *what_prompt;
  char **targets;
  int top_k;
  const char *layers;
  const char *what_layers;
  gboolean embeddings;
  gboolean metrics;      /* kl_final and next in every cell */
  gboolean sublayers;    /* "L.attn" rows */
  const char *positions; /* --serve: the positions the answer holds ("A-B" or "N"), or NULL */
} CliRequest;

/* cli-options.c */
gboolean cli_fail (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* "0,5,11", "0-11:2", "3-5,8": block indices, sorted and deduplicated; the last block is always
 * kept (it is the model's own output). */
GArray *cli_parse_layers (const char *spec, const char *what, int L, gboolean embeddings,
                          GError **error);

/* --positions "A-B" or "N" (or a --serve request's "positions", named `what` in messages): one
 * range of positions, in the prompt's numbering, with --layers' messages. Without `r` only the
 * form is checked (before the model runs); with it the range must lie inside r's positions, and
 * *first, *count index them. */
gboolean cli_parse_positions (const char *spec, const char *what, const LensResult *r, int *first,
                              int *count, GError **error);

char *cli_read_prompt (const CliOptions *o, GError **error);

gboolean cli_validate_utf8 (const char *text, const char *what, GError **error);

const char *cli_prompt_source (const CliOptions *o);

gboolean cli_parse_view (const char *name, LensView *view, GError **error);

/* Does colouring by (or plotting) this --color-by / --line-metric value need the metrics? */
gboolean cli_needs_metrics (const char *metric);

LensModel *cli_load_model (const CliOptions *o, GError **error);

/* cli-output.c */
/* The seed notebook's printout: model, tokens, top-1 and top-5 per layer at the last position,
 * each target's probability per layer. */
void cli_append_text_summary (GString *out, const LensResult *r, LensTarget *const *targets,
                              int n_targets);

/* Tracks each --target (LensTarget * appended to `targets`): probabilities at every cell (first
 * token when it is several). */
gboolean cli_compute_targets (const LensResult *r, char **texts, GPtrArray *targets,
                              GError **error);

gboolean cli_export_figure (const CliOptions *o, const LensResult *r, const LensResult *pinned,
                            GPtrArray *targets, GError **error);

/* The painters' export functions. The CLI does not link cairo and pango: it loads them with its
 * export module (cli-export-module.c) only to write a figure. */
typedef struct
{
  gboolean (*view) (const char *path, LensView view, const LensResult *r,
                    const LensPaintState *state, double scale, GError **error);
  gboolean (*positions) (LensView view, const LensResult *r, int *first, int *count);
  /* what the module was built against: a module of another build is refused */
  const char *version;
  size_t paint_state_size;
} CliExportFuncs;

/* The export module's functions: the module beside the program (a build tree), then
 * in EXPORT_MODULE_DIR under the prefix the program was installed with (a DESTDIR or a moved
 * prefix too), then in EXPORT_MODULE_DIR itself. NULL with an error when it cannot be loaded. */
const CliExportFuncs *cli_export_funcs (GError **error);

/* Says on stderr when the model produced NaN or infinity (the cells are null in --json). */
void cli_warn_nonfinite (const LensResult *r);

/* The --json document of a result and its targets, on one line when not `pretty`. */
char *cli_result_document (LensResult *r, GPtrArray *targets, gboolean pretty);

GPtrArray *cli_new_target_array (void);

/* cli-run.c */
/* Runs one request on `model`, through `cache` when there is one (--serve: a request sharing its
 * beginning with the previous one computes only the new positions). */
LensResult *cli_run_request (LensModel *model, LensRunCache *cache, const CliRequest *req,
                             GError **error);

/* One lens run from the flags (a model run or --open): its output is appended to `out`. */
gboolean cli_run (const CliOptions *o, GString *out, GError **error);

/* cli-serve.c */
gboolean cli_serve (const CliOptions *o, GError **error);

/* cli-tools.c */
gboolean cli_run_tokenize (const CliOptions *o, GString *out, GError **error);

/* Mean next-token loss over `path`, in consecutive windows of the model's context (at most
 * LENS_LOSS_MAX_WINDOW ids): each window predicts its ids[1:] from its own prefix. */
gboolean cli_run_perplexity (const CliOptions *o, GString *out, GError **error);

/* --ndif-script MODEL_ID: the Python that runs this lens on NDIF; no model runs here. */
gboolean cli_run_ndif_script (const CliOptions *o, GString *out, GError **error);

G_END_DECLS
