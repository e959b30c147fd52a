/* lens-tok-load.h: what the tokenizer's files share: the LensTokenizer struct, the vocabulary
 * builder, and the helpers the loaders (lens-tok-vocab.c, lens-tok-load-gpt2.c,
 * lens-tok-load-json.c) and lens-tokenizer.c call across files. Internal to them. */
#pragma once

#include "lens-tokenizer.h"
#include "lens-file.h"

#include "lens-error.h"
#include "lens-json.h"
#include "lens-tok-private.h"
#include "lens-tokenizer-private.h"

#include <json-c/json.h>
#include <string.h>

/* Upper bounds that keep every size computation far from overflow; real vocabularies have a few
 * hundred thousand entries at most. */
#define MAX_IDS (1 << 24)
/* tokenizer.json of the largest public vocabularies is tens of MB; this bounds what a hostile
 * file can make us allocate */
#define MAX_FILE_SIZE ((gsize) 512 << 20)
/* tokenizer_config.json is a few kB */
#define MAX_CONFIG_SIZE ((gsize) 16 << 20)

/* The vocabulary as the files spell it (byte-to-unicode form, or added-token content), by id, and
 * an open-addressing index from string to id. All strings live in one allocation, so a vocabulary
 * of 50,000 tokens costs three allocations rather than 100,000. */
typedef struct
{
  GByteArray *chars; /* every string followed by a NUL, in the order they were read */
  size_t *off;       /* id -> offset of its string in chars, n_ids entries */
  size_t *len;       /* id -> length in bytes */
  int32_t *slots;    /* id + 1, 0 when empty; at most half full */
  size_t cap;        /* power of two */
} VocabStrings;

struct LensTokenizer
{
  int n_ids;
  /* display bytes: id -> blob[tok_off[id] .. tok_off[id] + tok_len[id]) */
  uint8_t *blob;
  size_t *tok_off;
  size_t *tok_len;
  VocabStrings strs;
  LensTokBpe bpe;
  LensTokAdded *added; /* sorted by id */
  guint n_added;
  gboolean any_normalized; /* some added token is matched after normalization */
  LensTokNormalizer *normalizer;
  LensTokPreTokenizer *pretok;
  GArray *prefix, *suffix; /* int32_t ids the post-processor puts around a text */
  int32_t eos_id;
  gboolean lossless; /* decode (encode (text)) == text for every text */
};

typedef struct
{
  const char *file; /* for error messages */
  int n_vocab;      /* entries of the model vocabulary (before added tokens beyond it) */
  int n_ids;
  VocabStrings strs; /* off/len have n_ids entries; no index yet */
} Builder;

typedef struct
{
  const char *prefix, *suffix;
  size_t n;
} MergeWhere;

/* ---- lens-tokenizer.c ---- */

/* A token or line quoted in an error message: in double quotes, on one line (control characters,
 * quotes and stray bytes escaped) and cut short when long. Free with g_free. */
char *lens_tok_quote (const char *s, size_t len);

/* "FILE: message" as a LENS_ERROR of `code`. */
void lens_tok_set_error (GError **error, int code, const char *file, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);

/* A checked JSON document (lens_json_parse, and no \\u0000 in a string), or NULL and an error
 * naming `file`. */
json_object *lens_tok_parse_json (const char *data, size_t len, const char *file, GError **error);

/* json-c's name of the value's type ("object", "string", ...; "null") for messages. */
const char *lens_tok_json_type_label (json_object *o);

/* ---- lens-tok-vocab.c ---- */

static inline const char *
lens_tok_vocab_text (const VocabStrings *vs, int32_t id)
{
  return (const char *) vs->chars->data + vs->off[id];
}

/* Empties the builder, its strings included. */
void lens_tok_builder_clear (Builder *b);

/* Sets the string of `id` (a copy of the `len` bytes at `s`). */
void lens_tok_builder_set (Builder *b, int32_t id, const char *s, size_t len);

/* An empty tokenizer whose BPE model looks strings up in its vocabulary. */
LensTokenizer *lens_tok_tokenizer_alloc (void);

/* The id of vocabulary string `s`, or -1. */
int32_t lens_tok_str_lookup (const LensTokenizer *tok, const char *s, size_t len);

/* A vocabulary object (string -> id) through json-c, with a precise message for anything wrong;
 * `where` names it ("vocab.json", "model.vocab"). */
gboolean lens_tok_read_vocab (Builder *b, json_object *vocab, const char *where, GError **error);

/* vocab.json is one flat object of string -> id with tens of thousands of entries. Building that
 * as json-c objects took most of a cold CLI start (one allocation per entry, and the first touch
 * of all that memory in a fresh process), so the usual shape is read here in one pass straight
 * into the builder. This accepts a subset of what lens_tok_read_vocab accepts and returns FALSE for
 * anything else, errors included, so that the general path with its precise messages runs
 * instead; the tokenizer fuzz harness checks that both give the same tokenizer. */
gboolean lens_tok_read_vocab_flat (Builder *b, const char *json, size_t len);

/* Turns the builder's strings into the tokenizer's string index. */
gboolean lens_tok_finish_vocab (LensTokenizer *tok, Builder *b, GError **error);

/* `added` is sorted by id (added_tokens are read in id order) */
const LensTokAdded *lens_tok_find_added (const LensTokenizer *tok, int32_t id);

/* Each token's display bytes: what the decoder makes of it alone. Added tokens go through the
 * decoder too, as in tokenizers' Tokenizer::decode (Gemma's added token "▁▁" decodes as two
 * spaces; ByteLevel keeps the UTF-8 of a token with a character outside its alphabet, so
 * "<|endoftext|>" or GPT-NeoX's added runs of spaces stay as they are). */
void lens_tok_finish_display (LensTokenizer *tok, const LensTokDecoder *decoder);

/* Whether added token `t` decodes to its own content, as it is written in a text. */
gboolean lens_tok_added_decodes_as_written (const LensTokenizer *tok, const LensTokAdded *t);

/* ---- lens-tok-load-gpt2.c ---- */

/* Where a merge is, for messages: "line 12" (merges.txt), "model.merges[3]". */
char *lens_tok_merge_where (const MergeWhere *w);

/* Adds one merge "left right" (as vocab strings, neither containing NUL). */
gboolean lens_tok_add_merge (LensTokenizer *tok, const char *file, const char *left, size_t llen,
                             const char *right, size_t rlen, int32_t rank, const MergeWhere *where,
                             GError **error);

/* One merge written as a line "left right" (merges.txt, and tokenizer.json's older form). */
gboolean lens_tok_parse_merge_line (LensTokenizer *tok, const char *file, const char *line,
                                    size_t len, int32_t rank, const MergeWhere *where,
                                    GError **error);

/* Appends added token `t` to the tokenizer's list. */
void lens_tok_add_added (LensTokenizer *tok, const LensTokAdded *t);

/* ---- lens-tok-load-json.c ---- */

/* tokenizer.json, with tokenizer_config.json's settings when config_json is not NULL. */
LensTokenizer *lens_tok_new_from_tokenizer_json (const char *json, size_t len,
                                                 const char *config_json, size_t config_len,
                                                 GError **error);
