/* lens-tok-private.h: the stages of the tokenizer pipeline (see lens-tokenizer.c), one file each,
 * as Hugging Face `tokenizers` arranges them: added tokens, normalizer, pre-tokenizer, BPE model,
 * post-processor, decoder. Internal to the engine. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Sequences nest; deeper than this is refused (a hostile file could otherwise recurse without
 * bound). Real files nest two levels at most. */
#define LENS_TOK_MAX_DEPTH 16
/* Every stage costs a pass over the text, so a pipeline may have at most this many of each kind
 * (real files have up to four). */
#define LENS_TOK_MAX_STAGES 64
/* Strings a stage inserts (Prepend, Replace content) are this long at most; real ones are one
 * character. */
#define LENS_TOK_MAX_INSERT 256
/* How much longer than its input a text may grow through normalizers and pre-tokenizers:
 * limit = LENS_TOK_GROWTH * input + 4096 bytes. Real pipelines grow it less than 4 times; hostile
 * ones (a Replace of "a" by "aa" repeated) would otherwise grow it exponentially. */
#define LENS_TOK_GROWTH 16
#define LENS_TOK_LIMIT(n) ((n) *LENS_TOK_GROWTH + 4096)

/* ---- shared helpers (lens-tok-json.c) ---- */

/* Sets a LENS_ERROR with the message "FILE: PATH ...". */
G_GNUC_PRINTF (5, 6)
void lens_tok_error (GError **error, int code, const char *file, const char *path, const char *fmt,
                     ...);
/* Looks up `key` of object `o`: a missing key or JSON null gives *out = NULL and TRUE; a value of
 * another type than `type` is an error naming PATH.KEY. */
gboolean lens_tok_get (json_object *o, const char *key, json_type type, json_object **out,
                       const char *file, const char *path, GError **error);
/* A boolean member (missing or null: `dflt`). */
gboolean lens_tok_get_bool (json_object *o, const char *key, gboolean dflt, gboolean *out,
                            const char *file, const char *path, GError **error);
/* The "type" member of a stage object at Sequence depth `depth`; an error naming PATH when
 * missing or not a string, or when Sequences nest deeper than LENS_TOK_MAX_DEPTH. */
const char *lens_tok_type (json_object *o, const char *file, const char *path, int depth,
                           GError **error);
/* The stages of a Sequence stage: its array member `key`; NULL with an error naming PATH when it
 * is missing or not an array. */
json_object *lens_tok_sequence (json_object *o, const char *key, const char *file, const char *path,
                                GError **error);
/* Refuses any member of `o` not listed in `known` (NULL-terminated): an unknown setting could
 * change results, so it is LENS_ERROR_UNSUPPORTED rather than ignored. */
gboolean lens_tok_only_keys (json_object *o, const char *const *known, const char *file,
                             const char *path, GError **error);
/* A pattern object {"String": s} or {"Regex": r}: *is_regex tells which. */
gboolean lens_tok_pattern (json_object *o, const char **s, size_t *len, gboolean *is_regex,
                           const char *file, const char *path, GError **error);
/* Compiles a regex written for Oniguruma (what `tokenizers` uses) with GRegex: \s, \S, \d, \D,
 * \w and \W are rewritten to their Oniguruma (Unicode) meaning, ^ and $ match at line breaks as
 * in Oniguruma's Ruby syntax. */
GRegex *lens_tok_regex (const char *pattern, size_t len, const char *file, const char *path,
                        GError **error);
/* Byte offsets of the non-overlapping matches of `re` in s[0..n) as (start, end) pairs appended
 * to `out` (a GArray of size_t); FALSE with an error if the engine fails. */
gboolean lens_tok_regex_matches (const GRegex *re, const char *s, size_t n, GArray *out,
                                 GError **error);

/* Unicode's White_Space, which Rust's char::is_whitespace and Oniguruma's \s follow. */
static inline gboolean
lens_tok_is_white_space (gunichar c)
{
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
         || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
         || c == 0x3000;
}

/* GPT-2's byte-to-unicode alphabet. */
extern guint32 lens_tok_byte_to_cp[256];
extern int16_t lens_tok_cp_to_byte[324];
void lens_tok_init_byte_map (void);

/* ---- pieces: what flows between the stages ---- */

typedef struct
{
  char *s; /* owned; not NUL-terminated */
  size_t len;
  size_t offset;       /* byte offset in the input, for error messages */
  gboolean at_start;   /* starts the input (Metaspace's prepend_scheme "first") */
  gboolean byte_level; /* `s` holds raw bytes that stand for ByteLevel alphabet characters */
} LensTokPiece;

void lens_tok_pieces_clear (GArray *pieces);
/* A piece holding the text (materialised: byte_level pieces become their alphabet string). */
void lens_tok_piece_materialise (LensTokPiece *p);

/* ---- normalizers (lens-tok-normalizer.c) ---- */

typedef struct LensTokNormalizer LensTokNormalizer;
LensTokNormalizer *lens_tok_normalizer_parse (json_object *o, const char *file, const char *path,
                                              int depth, GError **error);
void lens_tok_normalizer_free (LensTokNormalizer *n);
/* Normalizes `s` in place; FALSE if it grew beyond `limit` bytes or a Replace pattern hit the
 * regex engine's match limit (then `s` is unspecified). */
gboolean lens_tok_normalizer_apply (const LensTokNormalizer *n, GString *s, size_t limit);
guint lens_tok_normalizer_count (const LensTokNormalizer *n);

/* ---- pre-tokenizers (lens-tok-pretokenizer.c) ---- */

typedef struct LensTokPreTokenizer LensTokPreTokenizer;
LensTokPreTokenizer *lens_tok_pretokenizer_parse (json_object *o, const char *file,
                                                  const char *path, int depth, GError **error);
/* GPT-2's: ByteLevel with its regex and no prefix space. */
LensTokPreTokenizer *lens_tok_pretokenizer_new_gpt2 (GError **error);
void lens_tok_pretokenizer_free (LensTokPreTokenizer *p);
/* Splits every piece of `pieces` (LensTokPiece) further; empty pieces are dropped. An error if
 * the pieces grow beyond `limit` bytes in all. */
gboolean lens_tok_pretokenizer_apply (const LensTokPreTokenizer *p, GArray *pieces, size_t limit,
                                      GError **error);
guint lens_tok_pretokenizer_count (const LensTokPreTokenizer *p);
/* Whether decoding gives back exactly the text (no characters added, replaced or removed). */
gboolean lens_tok_pretokenizer_lossless (const LensTokPreTokenizer *p);

/* ---- added tokens (lens-tok-added.c) ---- */

typedef struct
{
  char *content;
  size_t len;
  int32_t id;
  gboolean special, lstrip, rstrip, single_word, normalized;
} LensTokAdded;

typedef struct
{
  size_t start, end;
  int32_t id; /* the added token, or -1 for text between them */
} LensTokSegment;

/* Splits s[0..n) at the added tokens whose `normalized` flag is `normalized` (Hugging Face's
 * AddedVocabulary: leftmost-longest non-overlapping matches, then single_word, lstrip and rstrip)
 * into segments appended to `out` (LensTokSegment), which tile the text. */
void lens_tok_added_split (const LensTokAdded *tokens, guint n_tokens, gboolean normalized,
                           const char *s, size_t n, GArray *out);

/* ---- BPE model (lens-tok-bpe.c) ---- */

typedef struct
{
  guint64 key; /* (left id + 1) << 32 | right id; 0 marks an empty slot */
  int32_t rank;
  int32_t merged;
} LensTokMerge;

typedef struct
{
  /* the model vocabulary: ids below n_vocab, looked up through `lookup` */
  int n_vocab;
  int32_t (*lookup) (const void *vocab, const char *s, size_t len);
  const void *vocab;
  LensTokMerge *merges;
  size_t merge_cap;         /* power of two */
  int32_t byte_id[256];     /* id of each ByteLevel alphabet character, -1 if absent */
  int32_t fallback_id[256]; /* id of <0xNN>, -1 if absent */
  int32_t unk_id;           /* -1: none */
  gboolean fuse_unk, byte_fallback, ignore_merges;
  char *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix; NULL if unset */
  GMutex cache_lock;
  GHashTable *cache;
} LensTokBpe;

void lens_tok_bpe_init (LensTokBpe *m);
void lens_tok_bpe_clear (LensTokBpe *m);
void lens_tok_bpe_alloc_merges (LensTokBpe *m, size_t n);
LensTokMerge *lens_tok_bpe_merge_find (const LensTokBpe *m, int32_t left, int32_t right);
/* Records the merge (left, right) -> merged; a repeated pair takes the later rank. */
void lens_tok_bpe_add_merge (LensTokBpe *m, int32_t left, int32_t right, int32_t merged,
                             int32_t rank);
/* Fills byte_id and fallback_id from the vocabulary. */
void lens_tok_bpe_index_bytes (LensTokBpe *m);
/* Appends the ids of one pre-token. */
gboolean lens_tok_bpe_encode (const LensTokBpe *m, const LensTokPiece *p, GArray *out,
                              GError **error);

/* ---- post-processors (lens-tok-postprocessor.c) ---- */

/* Reads a post_processor into the ids it puts before and after a single sequence (GArrays of
 * int32_t), each id checked below n_ids. */
gboolean lens_tok_postprocessor_parse (json_object *o, int n_ids, GArray *prefix, GArray *suffix,
                                       const char *file, const char *path, int depth,
                                       GError **error);

/* ---- decoders (lens-tok-decoder.c) ---- */

typedef struct LensTokDecoder LensTokDecoder;
LensTokDecoder *lens_tok_decoder_parse (json_object *o, const char *file, const char *path,
                                        int depth, GError **error);
LensTokDecoder *lens_tok_decoder_new_byte_level (void);
void lens_tok_decoder_free (LensTokDecoder *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LensTokDecoder, lens_tok_decoder_free)
/* The bytes one token stands for on its own (a leading space kept), appended to `out`. */
guint lens_tok_decoder_count (const LensTokDecoder *d);
void lens_tok_decoder_token (const LensTokDecoder *d, const char *s, size_t len, GByteArray *out);

G_END_DECLS
