/* lens-tokenizer-private.h: internals of lens-tokenizer.c exposed for its unit tests. */
#pragma once

#include "lens-tokenizer.h"

G_BEGIN_DECLS

/* Splits `text` (valid UTF-8, no added-token handling or normalization) with the tokenizer's
 * pre-tokenizer and returns the pieces as a GPtrArray of newly allocated strings (byte-level
 * pieces as their raw bytes, not in the byte-to-unicode alphabet). */
GPtrArray *lens_tokenizer_pretokenize (const LensTokenizer *tok, const char *text, gssize len,
                                       GError **error);

/* Loads vocab.json + merges.txt always through json-c (what lens_tokenizer_new_from_gpt2_data
 * falls back to), so that tests can compare the two ways of reading vocab.json. */
LensTokenizer *lens_tokenizer_new_from_gpt2_data_general (const char *vocab_json, size_t vocab_len,
                                                          const char *merges, size_t merges_len,
                                                          GError **error);

/* Whether the one-pass vocab.json reader takes this text (it declines anything unusual). */
gboolean lens_tokenizer_vocab_json_is_flat (const char *vocab_json, size_t len);

/* lens_tokenizer_new_from_tokenizer_json_data with a tokenizer_config.json as load_dir reads it. */
LensTokenizer *lens_tokenizer_new_from_tokenizer_json_data_with_config (
    const char *json, size_t len, const char *config, size_t config_len, GError **error);

/* Whether decode (encode (text)) gives every text back: no normalizer, nothing added, replaced or
 * removed by the pre-tokenizer, no unknown token, a ByteLevel decoder. */
gboolean lens_tokenizer_is_lossless (const LensTokenizer *tok);

/* Whether two tokenizers have the same ids, token bytes, vocabulary strings, merges and special
 * tokens. */
gboolean lens_tokenizer_equal (const LensTokenizer *a, const LensTokenizer *b);

G_END_DECLS
