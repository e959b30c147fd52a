/* lens-tokenizer-private.h: internals of lens-tokenizer.c exposed for its unit tests. */
#pragma once

#include "lens-tokenizer.h"

G_BEGIN_DECLS

/* Splits `text` (valid UTF-8, no special-token handling) with GPT-2's pre-tokenizer regex and
 * returns the pieces as a GPtrArray of newly allocated strings. */
GPtrArray *lens_tokenizer_pretokenize(const LensTokenizer *tok, const char *text, gssize len,
                                      GError **error);

G_END_DECLS
