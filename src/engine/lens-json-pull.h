/* lens-json-pull.h: the strict JSON pull reader (RFC 8259) that results files are read with
 * (engine-internal).
 *
 * json-c builds one heap object per number (about 800 MB and 6 s for a 60 MB logitlenskit file of
 * 1000 tokens x 80 layers), so untrusted results files are read in place instead: the caller
 * moves a cursor over the (mapped) bytes and asks for the value it expects next. UTF-8 is
 * checked, NaN is accepted only where Python writes it for an unknown value, duplicate keys are
 * found by lens_pull_skip (the validating first pass). The first error wins and becomes one
 * LENS_ERROR_FORMAT message "NAME: ..." naming the place (a JSON path like "cells[3][1].prob", or
 * line and column for syntax errors); later calls then do nothing and return FALSE.
 *
 * The other JSON reader, lens-json.h, validates small files (configs, tokenizers, safetensors
 * headers) for json-c's object model; the two share its escape and UTF-8 helpers. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct
{
  const char *base; /* start of the document, for line/column in messages */
  const char *p;    /* the cursor */
  const char *end;
  const char *name; /* prefix of every message */
  GError **error;
  gboolean failed;  /* the first error wins */
  GString *scratch; /* required: strings whose value the caller does not keep */
  char *desc;       /* see lens_pull_describe_tmp; the caller frees it */
} LensJsonPull;

/* Fails with "NAME: message" unless an error is already set; returns FALSE. */
gboolean lens_pull_fail (LensJsonPull *j, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
/* "invalid JSON at line L, column C: what", or a truncation message when `at` is the end. */
gboolean lens_pull_syntax_at (LensJsonPull *j, const char *at, const char *what);
gboolean lens_pull_syntax (LensJsonPull *j, const char *what);

/* Skips whitespace; the next byte, or -1 at the end. Inline: it runs before every value. */
static inline int
lens_pull_peek (LensJsonPull *j)
{
  const char *p = j->p, *end = j->end;
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  j->p = p;
  return p < end ? (unsigned char) *p : -1;
}

/* Container iteration: `while (lens_pull_next (j, ']', &n)) { element n - 1 }`, then check
 * j->failed. The opening bracket must already be consumed. */
static inline gboolean
lens_pull_next (LensJsonPull *j, char close, int *count)
{
  int c = lens_pull_peek (j);
  if (c == close)
    {
      j->p++;
      return FALSE;
    }
  if (*count > 0)
    {
      if (c != ',')
        return lens_pull_syntax (j, close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
      j->p++;
      if (lens_pull_peek (j) == close)
        return lens_pull_syntax (j, "a trailing comma");
    }
  (*count)++;
  return TRUE;
}

/* What kind of value starts at the cursor, for "X is a string, not a number" messages. */
const char *lens_pull_kind (LensJsonPull *j);
/* Reads a string into `out` (decoded, valid UTF-8; NULL only validates). */
gboolean lens_pull_string (LensJsonPull *j, GString *out);
/* Reads a number; `is_int` (may be NULL) says it had no fraction or exponent. */
gboolean lens_pull_number (LensJsonPull *j, double *out, gboolean *is_int);
gboolean lens_pull_literal (LensJsonPull *j, const char *word);
/* Consume null / Python's NaN if it is next. */
gboolean lens_pull_is_null (LensJsonPull *j);
gboolean lens_pull_is_nan (LensJsonPull *j);
gboolean lens_pull_expect (LensJsonPull *j, char c, const char *what);
/* Reads an object key and the colon after it. */
gboolean lens_pull_key (LensJsonPull *j, GString *key);
/* Validates and skips one value of any kind (duplicate keys are an error). */
gboolean lens_pull_skip (LensJsonPull *j, int depth);

/* `s` quoted and escaped for a message, cut after 40 characters. Free with g_free. */
char *lens_pull_describe (const char *s);
/* lens_pull_describe valid until the next call, for arguments of messages that are usually not
 * made. */
const char *lens_pull_describe_tmp (LensJsonPull *j, const char *s);

/* "PATH is KIND, expected EXPECTED"; the path is formatted only on failure. */
gboolean lens_pull_type_error (LensJsonPull *j, const char *expected, const char *path_fmt, ...)
    G_GNUC_PRINTF (3, 4);

/* Reading a number: callers format the path for the message only on failure. */
typedef enum
{
  LENS_PULL_OK,
  LENS_PULL_TYPE,   /* not a number (or null when not allowed) */
  LENS_PULL_RANGE,  /* outside the allowed range */
  LENS_PULL_SYNTAX, /* j->failed is set */
} LensPullStatus;

/* A probability in [0, 1] (a float rounding hair above 1 is stored as 1); null gives NAN when
 * allowed, and NaN (Python's spelling of a value that could not be computed) always does. */
LensPullStatus lens_pull_prob (LensJsonPull *j, gboolean allow_null, float *out, double *raw);
gboolean lens_pull_prob_error (LensJsonPull *j, LensPullStatus st, double raw, const char *path_fmt,
                               ...) G_GNUC_PRINTF (4, 5);
/* A number of nats (entropy, log Z, KL, cross-entropy), or null giving NAN; NaN (Python's spelling
 * of a value that could not be computed) gives NAN too when `allow_nan`, else it is LENS_PULL_TYPE.
 * With `non_negative`, below -1e-6 is LENS_PULL_RANGE (raw < 0) and a rounding hair below 0 is
 * stored as 0; a value whose float is above `max` (INFINITY: no bound) is LENS_PULL_RANGE too. */
LensPullStatus lens_pull_nats (LensJsonPull *j, gboolean allow_nan, gboolean non_negative,
                               float max, float *out, double *raw);
/* "PATH is KIND, expected a number", "PATH is negative" or "PATH is too large". */
gboolean lens_pull_nats_error (LensJsonPull *j, LensPullStatus st, double raw, const char *path_fmt,
                               ...) G_GNUC_PRINTF (4, 5);
/* An integer in [lo, hi]. */
LensPullStatus lens_pull_int (LensJsonPull *j, long lo, long hi, long *out, double *raw);
gboolean lens_pull_int_error (LensJsonPull *j, LensPullStatus st, double raw, long lo, long hi,
                              const char *path_fmt, ...) G_GNUC_PRINTF (6, 7);
/* Reads a string into *out, freeing what was there (a key given twice keeps the last); another
 * kind is "PATH is KIND, expected a string", the path formatted only then. */
gboolean lens_pull_string_member (LensJsonPull *j, char **out, const char *path_fmt, ...)
    G_GNUC_PRINTF (3, 4);
/* Reads a string or null (NULL); other kinds are an error naming `path`. */
gboolean lens_pull_opt_string (LensJsonPull *j, char **out, const char *path);
/* Reads an array of `n` probabilities into `out` (NULL: validate only). A wrong count is
 * reported as "PATH has N values, N_WHAT has n". */
gboolean lens_pull_prob_array (LensJsonPull *j, int n, float *out, gboolean allow_null,
                               const char *n_what, const char *path_fmt, ...) G_GNUC_PRINTF (6, 7);

/* A 2-D grid of cells, an array of n_outer arrays of n_inner values (results files store
 * [layer][position] or [position][layer]). Every results reader walks its grids with this, so the
 * walk, the shape checks and their messages are written once. The shape names the grid in them:
 *   "NAME is KIND, expected OUTER_KIND", "NAME[i] is KIND, expected INNER_KIND",
 *   "NAME[i] has m INNER_NOUN, INNER_OF has n_inner INNER_UNIT",
 *   "NAME has n entries, OUTER_OF has n_outer". */
typedef struct
{
  const char *name;       /* the member, e.g. "topk" */
  const char *outer_kind; /* "an array with one array per layer" */
  const char *inner_kind; /* "an array with one list per input token" */
  const char *inner_noun; /* "entries" or "values" */
  const char *inner_of;   /* what fixes n_inner: "input" */
  const char *inner_unit; /* after n_inner in the message: " tokens" or "" */
  const char *outer_of;   /* what fixes n_outer: "layers" */
  /* Elements past n_outer or n_inner are validated and skipped (only counted for the message)
   * instead of being handed to the caller, who must otherwise check the indices itself. */
  gboolean skip_extra;
} LensPullGridShape;

/* Usage:
 *   LensPullGrid g;
 *   if (!lens_pull_grid_begin (j, &g, &shape, n_outer, n_inner, at)) fail;
 *   while (lens_pull_grid_next (j, &g)) { read the cell at g.outer, g.inner; fail on error }
 *   if (j->failed) fail; */
typedef struct
{
  const LensPullGridShape *shape;
  int n_outer, n_inner;
  /* the cell the cursor is at, after lens_pull_grid_next returned TRUE */
  int outer, inner;
  /* private */
  int n_seen_outer, n_seen_inner;
  gboolean in_inner;
} LensPullGrid;

/* Moves to `at`, the grid's value, and opens it. */
gboolean lens_pull_grid_begin (LensJsonPull *j, LensPullGrid *g, const LensPullGridShape *shape,
                               int n_outer, int n_inner, const char *at);
/* TRUE with the cursor at the next cell; FALSE at the end of the grid or on an error (then
 * j->failed is set). */
gboolean lens_pull_grid_next (LensJsonPull *j, LensPullGrid *g);

G_END_DECLS
