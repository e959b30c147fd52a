/* lens-config.h: a model's config.json, reduced to what the forward pass needs. */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef enum
{
  LENS_ARCH_GPT2,
} LensArch;

typedef struct
{
  LensArch arch;
  char model_type[32]; /* as written in config.json, e.g. "gpt2" */
  int n_layer;         /* L */
  int n_embd;          /* C */
  int n_head;          /* NH; C % NH == 0 */
  int n_positions;     /* maximum sequence length */
  int vocab_size;      /* V */
  int n_inner;         /* MLP width; 4*C when null in config.json */
  float layer_norm_epsilon;
  bool tie_word_embeddings; /* default true for GPT-2 */
} LensConfig;

/* Parses config.json text of `len` bytes. `path` only names the file in error messages. */
gboolean lens_config_parse (const char *json, size_t len, const char *path, LensConfig *out,
                            GError **error);
gboolean lens_config_load (const char *path, LensConfig *out, GError **error);

const char *lens_arch_name (LensArch arch);

G_END_DECLS
