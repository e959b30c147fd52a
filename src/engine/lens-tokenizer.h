/* lens-tokenizer.h: BPE tokenizers as Hugging Face `tokenizers` runs them.
 *
 * Loads a `tokenizer.json` whose model.type is BPE, with its added tokens, normalizer,
 * pre-tokenizer, post-processor and decoder (GPT-2, Llama 2 / Mistral with byte fallback,
 * Llama 3, Qwen2 / Qwen3), or GPT-2's own `vocab.json` + `merges.txt`. The ids are the ones
 * Hugging Face gives; a setting that is not implemented is refused (LENS_ERROR_UNSUPPORTED)
 * rather than approximated. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

G_BEGIN_DECLS

typedef struct LensTokenizer LensTokenizer;

/* Loads a tokenizer from a model folder: tokenizer.json (with tokenizer_config.json when
 * present, for eos_token and, for Llama and Gemma tokenizer classes, add_bos_token /
 * add_eos_token as transformers applies them) if present and supported, else vocab.json +
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
 * int32_t), as Hugging Face's encode(text, add_special_tokens=False): added tokens written in the
 * text are recognised, the post-processor's tokens are not added. Invalid UTF-8 is an error
 * naming the byte offset. Any length of text is fine. Nothing is appended on failure. */
gboolean lens_tokenizer_encode (const LensTokenizer *tok, const char *text, gssize len, GArray *ids,
                                GError **error);

/* The same with the special tokens the post-processor puts around a text (Llama's BOS, say), as
 * Hugging Face's encode(text); for prompts. */
gboolean lens_tokenizer_encode_with_special (const LensTokenizer *tok, const char *text, gssize len,
                                             GArray *ids, GError **error);

/* The raw bytes a token stands for: what the tokenizer's decoder makes of it alone (undoing the
 * byte-to-unicode mapping, "▁" as a space, <0xNN> as that byte), a leading space kept; an added
 * token's content. NULL for an id out of range. Not NUL-terminated; `*len` receives the
 * length. */
const uint8_t *lens_tokenizer_token_bytes (const LensTokenizer *tok, int32_t id, size_t *len);

/* A display string for one token: its bytes as UTF-8 when they are valid UTF-8 on their own
 * (leading space kept), otherwise valid parts as text and the rest as \xNN escapes. Never NULL
 * (an out-of-range id gives "<id N>"). Free with g_free. */
char *lens_tokenizer_token_display (const LensTokenizer *tok, int32_t id);

/* Decodes a sequence of ids to text: their token bytes one after the other (invalid UTF-8
 * replaced by U+FFFD), so unlike Hugging Face's decode the space a Llama 2-style tokenizer puts
 * before the first word is kept. Free with g_free. */
char *lens_tokenizer_decode (const LensTokenizer *tok, const int32_t *ids, size_t n);

/* The id of a token given by its vocabulary string (byte-to-unicode form, e.g. "ĠParis"), or -1. */
int32_t lens_tokenizer_lookup (const LensTokenizer *tok, const char *vocab_string);

/* The id of the end-of-text token: tokenizer_config.json's eos_token when loaded with it, else
 * the added token `<|endoftext|>`, `</s>` or `<|end_of_text|>`; -1 if none. */
int32_t lens_tokenizer_eos_id (const LensTokenizer *tok);

G_END_DECLS
