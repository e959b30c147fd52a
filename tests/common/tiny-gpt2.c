/* tiny-gpt2.c: the small random GPT-2 checkpoint the engine, results and painting tests share:
 * 3 layers, width 32, 4 heads, context 24, vocabulary 300 (F32, tied), byte-level BPE with the
 * merges "t h", "Ġ t", "th e" and <|endoftext|> = 259. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "tiny-gpt2.h"

enum
{
  L = TINY_GPT2_N_LAYER,
  C = TINY_GPT2_N_EMBD,
  NH = TINY_GPT2_N_HEAD,
  P = TINY_GPT2_N_POSITIONS,
  V = TINY_GPT2_VOCAB
};

static void
append_tensor (GString *header, GByteArray *data, GRand *rng, const char *name, int n_dims,
               const int64_t *shape, double scale)
{
  size_t n = 1;
  for (int i = 0; i < n_dims; i++)
    n *= (size_t) shape[i];
  size_t begin = data->len;
  for (size_t i = 0; i < n; i++)
    {
      float v = (float) (g_rand_double_range (rng, -1.0, 1.0) * scale);
      g_byte_array_append (data, (const guint8 *) &v, sizeof v);
    }
  g_string_append_printf (header, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[",
                          header->len > 1 ? "," : "", name);
  for (int i = 0; i < n_dims; i++)
    g_string_append_printf (header, "%s%" G_GINT64_FORMAT, i ? "," : "", shape[i]);
  g_string_append_printf (header, "],\"data_offsets\":[%zu,%u]}", begin, data->len);
}

/* Writes config.json, model.safetensors (F32, tied) and a byte-level vocab.json/merges.txt
 * (256 bytes + a few merges + <|endoftext|>) into `dir`. */
void
write_tiny_gpt2 (const char *dir)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (42);
  g_autoptr (GString) header = g_string_new ("{");
  g_autoptr (GByteArray) data = g_byte_array_new ();
  char name[64];

#define T(nm, scale, ...)                                                                          \
  G_STMT_START                                                                                     \
  {                                                                                                \
    const int64_t s_[] = {__VA_ARGS__};                                                            \
    append_tensor (header, data, rng, nm, G_N_ELEMENTS (s_), s_, scale);                           \
  }                                                                                                \
  G_STMT_END

  T ("wte.weight", 0.5, V, C);
  T ("wpe.weight", 0.2, P, C);
  for (int l = 0; l < L; l++)
    {
#define B(suffix, scale, ...)                                                                      \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_snprintf (name, sizeof name, "h.%d.%s", l, suffix);                                          \
    T (name, scale, __VA_ARGS__);                                                                  \
  }                                                                                                \
  G_STMT_END
      B ("ln_1.weight", 1.0, C);
      B ("ln_1.bias", 0.1, C);
      B ("attn.c_attn.weight", 0.3, C, 3 * C);
      B ("attn.c_attn.bias", 0.1, 3 * C);
      B ("attn.c_proj.weight", 0.3, C, C);
      B ("attn.c_proj.bias", 0.1, C);
      B ("ln_2.weight", 1.0, C);
      B ("ln_2.bias", 0.1, C);
      B ("mlp.c_fc.weight", 0.3, C, 4 * C);
      B ("mlp.c_fc.bias", 0.1, 4 * C);
      B ("mlp.c_proj.weight", 0.3, 4 * C, C);
      B ("mlp.c_proj.bias", 0.1, C);
#undef B
    }
  T ("ln_f.weight", 1.0, C);
  T ("ln_f.bias", 0.1, C);
#undef T
  g_string_append_c (header, '}');
  while (header->len % 8 != 0)
    g_string_append_c (header, ' ');

  g_autoptr (GByteArray) file = g_byte_array_new ();
  guint64 hlen = GUINT64_TO_LE (header->len);
  g_byte_array_append (file, (const guint8 *) &hlen, 8);
  g_byte_array_append (file, (const guint8 *) header->str, header->len);
  g_byte_array_append (file, data->data, data->len);
  g_autofree char *st_path = g_build_filename (dir, "model.safetensors", NULL);
  g_assert_true (g_file_set_contents (st_path, (const char *) file->data, file->len, NULL));

  g_autofree char *config = g_strdup_printf (
      "{\"model_type\":\"gpt2\",\"n_layer\":%d,\"n_embd\":%d,\"n_head\":%d,\"n_positions\":%d,"
      "\"vocab_size\":%d,\"layer_norm_epsilon\":1e-5,\"n_inner\":null,"
      "\"activation_function\":\"gelu_new\"}",
      L, C, NH, P, V);
  g_autofree char *config_path = g_build_filename (dir, "config.json", NULL);
  g_assert_true (g_file_set_contents (config_path, config, -1, NULL));

  /* GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the rest to U+0100.. */
  g_autoptr (GString) vocab = g_string_new ("{");
  int extra = 0;
  for (int b = 0; b < 256; b++)
    {
      gunichar u = ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
                       ? (gunichar) b
                       : (gunichar) (256 + extra++);
      char utf8[8] = {0};
      g_unichar_to_utf8 (u, utf8);
      if (u == '"' || u == '\\')
        g_string_append_printf (vocab, "%s\"\\%s\":%d", b ? "," : "", utf8, b);
      else
        g_string_append_printf (vocab, "%s\"%s\":%d", b ? "," : "", utf8, b);
    }
  /* merges: "t h" -> "th", "Ġ t" -> "Ġt", "th e" -> "the" */
  g_string_append (vocab, ",\"th\":256,\"Ġt\":257,\"the\":258,\"<|endoftext|>\":259}");
  g_autofree char *vocab_path = g_build_filename (dir, "vocab.json", NULL);
  g_assert_true (g_file_set_contents (vocab_path, vocab->str, -1, NULL));
  g_autofree char *merges_path = g_build_filename (dir, "merges.txt", NULL);
  g_assert_true (g_file_set_contents (merges_path, "#version: 0.2\nt h\nĠ t\nth e\n", -1, NULL));
}

void
tiny_gpt2_remove (const char *dir)
{
  const char *files[] = {"model.safetensors", "config.json", "vocab.json", "merges.txt"};
  for (size_t i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (dir, files[i], NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
}
