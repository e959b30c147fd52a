/* lens-json-write.h: the one JSON writer (RFC 8259) behind every JSON document the program prints
 * or saves: results files (ours and logitlenskit's), the CLI's --json, --tokenize, --perplexity
 * and --serve replies.
 *
 * Values are appended to a GString; the caller writes the punctuation and layout, which differ
 * per document (pretty or one-line, logitlenskit's ", " separators) and which byte-for-byte
 * comparisons in the tests pin down. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* `s` as a JSON string, or null when `s` is NULL. '"', '\\' and every control character below
 * U+0020 are escaped (\b \f \n \r \t by name, the others as \u00XX); everything else, including
 * non-ASCII text, is copied as UTF-8. A byte that does not start a valid UTF-8 sequence (a file
 * name or an imported text could hold anything) becomes U+FFFD, so the output is always valid
 * JSON; '/' and DEL need no escape and get none. */
void lens_json_write_string (GString *out, const char *s);

/* A Python str literal for valid UTF-8 `s`, in pure ASCII: "..." with \\ \" \n \r \t, \uXXXX
 * and \UXXXXXXXX for every other control or non-ASCII character (for the NDIF script, which
 * lens-ndif.c writes; the escaper is the JSON writer's). */
void lens_json_write_python_str (GString *out, const char *s);

/* `key` as a string and the colon after it; a space follows the colon when `pretty`. */
void lens_json_write_key (GString *out, const char *key, gboolean pretty);

/* A float-precision value with %.9g, the shortest fixed precision that reads back as the same
 * float; NAN and infinities (JSON has no spelling for them) are null. */
void lens_json_write_float (GString *out, double v);

/* `v` with exactly `decimals` digits after the point (printf's %.Nf, whatever the locale), or null
 * when it is not finite. */
void lens_json_write_fixed (GString *out, double v, int decimals);

/* `v` rounded to 5 decimals as Python's round(v, 5) does, without trailing zeros (logitlenskit's
 * widget format); null when not finite. */
void lens_json_write_round5 (GString *out, double v);

/* `v` as an integer when `known`, else null. */
void lens_json_write_int_or_null (GString *out, int64_t v, gboolean known);

G_END_DECLS
