/* lens-tokenizer.h: GPT-2 byte-level BPE.
 *
 * Loads either `vocab.json` + `merges.txt` (GPT-2's own files) or a `tokenizer.json` whose
 * model.type is BPE (merges as "a b" strings or as [a, b] pairs). Pre-tokenization is GPT-2's
 * regex, applied with a Unicode-aware engine (GRegex/PCRE2); `<|endoftext|>` and the other added
 * special tokens are recognised in text. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

G_BEGIN_DECLS

typedef struct LensTokenizer LensTokenizer;

/* Loads a tokenizer from a model folder: tokenizer.json if present and BPE, else vocab.json +
 * merges.txt. */
LensTokenizer *lens_tokenizer_load_dir (const char *dir, GError **error);
LensTokenizer *lens_tokenizer_new_from_gpt2_files (const char *vocab_json_path,
                                                   const char *merges_path, GError **error);
LensTokenizer *lens_tokenizer_new_from_tokenizer_json (const char *path, GError **error);
/* The same from memory (fuzz harnesses, tests). `*_name` only appear in error messages. */
LensTokenizer *lens_tokenizer_new_from_gpt2_data (const char *vocab_json, size_t vocab_len,
                                                  const char *merges, size_t merges_len,
                                                  GError **error);
LensTokenizer *lens_tokenizer_new_from_tokenizer_json_data (const char *json, size_t len,
                                                            GError **error);
void lens_tokenizer_free (LensTokenizer *tok);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LensTokenizer, lens_tokenizer_free)

/* Number of ids (highest id + 1, including added tokens). */
int lens_tokenizer_vocab_size (const LensTokenizer *tok);

/* Appends the ids of `text` (`len` bytes, or -1 for NUL-terminated) to `ids` (a GArray of
 * int32_t). Invalid UTF-8 is an error naming the byte offset. Any length of text is fine. */
gboolean lens_tokenizer_encode (const LensTokenizer *tok, const char *text, gssize len, GArray *ids,
                                GError **error);

/* The raw bytes a token stands for (after undoing the byte-to-unicode mapping); NULL for an id
 * out of range. Not NUL-terminated; `*len` receives the length. */
const uint8_t *lens_tokenizer_token_bytes (const LensTokenizer *tok, int32_t id, size_t *len);

/* A display string for one token: its bytes as UTF-8 when they are valid UTF-8 on their own
 * (leading space kept), otherwise valid parts as text and the rest as \xNN escapes. Never NULL
 * (an out-of-range id gives "<id N>"). Free with g_free. */
char *lens_tokenizer_token_display (const LensTokenizer *tok, int32_t id);

/* Decodes a sequence of ids to text (invalid UTF-8 replaced by U+FFFD). Free with g_free. */
char *lens_tokenizer_decode (const LensTokenizer *tok, const int32_t *ids, size_t n);

/* The id of a token given by its vocabulary string (byte-to-unicode form, e.g. "ĠParis"), or -1. */
int32_t lens_tokenizer_lookup (const LensTokenizer *tok, const char *vocab_string);

/* The id of `<|endoftext|>` (or the tokenizer's end-of-text special token), or -1. */
int32_t lens_tokenizer_eos_id (const LensTokenizer *tok);

G_END_DECLS
