/* tokenize-driver: prints the ids lens_tokenizer_encode gives, as JSON, for compare-gpt2.py.
 *
 *   tokenize-driver (--dir DIR | --vocab V --merges M | --tokenizer-json J) [options] [FILE|-]
 *
 *   default      the whole input is one text; prints one JSON array of ids
 *   --jsonl      every input line is a JSON string; prints one line per input: an array of ids,
 *                or {"error": "..."}
 *   --with-special  encodes with the post-processor's special tokens
 * (lens_tokenizer_encode_with_special)
 *   --roundtrip  also checks that decoding the ids gives the text back (exit status 1 if not)
 *   --time       prints the encoding time to stderr
 *   --display I,J,...  prints lens_tokenizer_token_display of these ids, one JSON string a line,
 *                and reads no input */
#include "lens-tokenizer.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
print_ids (GString *out, const GArray *ids)
{
  g_string_append_c (out, '[');
  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf (out, i ? ",%d" : "%d", g_array_index (ids, int32_t, i));
  g_string_append (out, "]\n");
}

static gboolean
check_roundtrip (const LensTokenizer *tok, const char *text, size_t len, const GArray *ids,
                 const char *what)
{
  g_autofree char *back = lens_tokenizer_decode (tok, (const int32_t *) ids->data, ids->len);
  /* decode gives U+FFFD for NUL bytes (they cannot be in a C string) */
  g_autoptr (GString) want = g_string_sized_new (len);
  for (size_t i = 0; i < len; i++)
    if (text[i] == '\0')
      g_string_append (want, "\xEF\xBF\xBD");
    else
      g_string_append_c (want, text[i]);
  if (strcmp (back, want->str) == 0 && strlen (want->str) == want->len)
    return TRUE;
  fprintf (stderr, "decode(encode(%s)) differs from the text\n", what);
  return FALSE;
}

static gboolean (*encode) (const LensTokenizer *, const char *, gssize, GArray *, GError **);

int
main (int argc, char **argv)
{
  g_autofree char *dir = NULL, *vocab = NULL, *merges = NULL, *tjson = NULL, *display = NULL;
  gboolean jsonl = FALSE, roundtrip = FALSE, timing = FALSE, with_special = FALSE;
  GOptionEntry entries[] = {
      {"dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "Model folder", "DIR"},
      {"vocab", 0, 0, G_OPTION_ARG_FILENAME, &vocab, "vocab.json", "FILE"},
      {"merges", 0, 0, G_OPTION_ARG_FILENAME, &merges, "merges.txt", "FILE"},
      {"tokenizer-json", 0, 0, G_OPTION_ARG_FILENAME, &tjson, "tokenizer.json", "FILE"},
      {"jsonl", 0, 0, G_OPTION_ARG_NONE, &jsonl, "One JSON string per input line", NULL},
      {"with-special", 0, 0, G_OPTION_ARG_NONE, &with_special, "Add the special tokens", NULL},
      {"roundtrip", 0, 0, G_OPTION_ARG_NONE, &roundtrip, "Check decode(encode(x)) == x", NULL},
      {"time", 0, 0, G_OPTION_ARG_NONE, &timing, "Print the encoding time", NULL},
      {"display", 0, 0, G_OPTION_ARG_STRING, &display, "Print the display text of these ids",
       "I,J,..."},
      {NULL},
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("[FILE|-]");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc > 2)
    {
      fprintf (stderr, "tokenize-driver: %s\n", error ? error->message : "too many arguments");
      return 2;
    }

  encode = with_special ? lens_tokenizer_encode_with_special : lens_tokenizer_encode;
  g_autoptr (LensTokenizer) tok = NULL;
  if (dir)
    tok = lens_tokenizer_load_dir (dir, &error);
  else if (tjson)
    tok = lens_tokenizer_new_from_tokenizer_json (tjson, &error);
  else if (vocab && merges)
    tok = lens_tokenizer_new_from_gpt2_files (vocab, merges, &error);
  else
    {
      fprintf (stderr, "tokenize-driver: give --dir, --tokenizer-json or --vocab and --merges\n");
      return 2;
    }
  if (tok == NULL)
    {
      fprintf (stderr, "tokenize-driver: %s\n", error->message);
      return 1;
    }

  if (display)
    {
      g_auto (GStrv) parts = g_strsplit (display, ",", -1);
      for (int i = 0; parts[i]; i++)
        {
          gint64 id = 0;
          if (!g_ascii_string_to_signed (parts[i], 10, INT32_MIN, INT32_MAX, &id, &error))
            {
              fprintf (stderr, "tokenize-driver: --display: %s\n", error->message);
              return 2;
            }
          g_autofree char *shown = lens_tokenizer_token_display (tok, (int32_t) id);
          json_object *j = json_object_new_string (shown);
          printf ("%s\n", json_object_to_json_string_ext (j, JSON_C_TO_STRING_PLAIN));
          json_object_put (j);
        }
      return 0;
    }

  g_autofree char *input = NULL;
  gsize len = 0;
  const char *path = argc == 2 ? argv[1] : "-";
  if (strcmp (path, "-") == 0)
    {
      GString *s = g_string_new (NULL);
      char buf[65536];
      size_t r;
      while ((r = fread (buf, 1, sizeof buf, stdin)) > 0)
        g_string_append_len (s, buf, (gssize) r);
      len = s->len;
      input = g_string_free (s, FALSE);
    }
  else if (!g_file_get_contents (path, &input, &len, &error))
    {
      fprintf (stderr, "tokenize-driver: %s\n", error->message);
      return 1;
    }

  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  gboolean ok = TRUE;
  gint64 t_encode = 0;
  size_t n_ids = 0;
  if (!jsonl)
    {
      gint64 t0 = g_get_monotonic_time ();
      if (!encode (tok, input, (gssize) len, ids, &error))
        {
          fprintf (stderr, "tokenize-driver: %s\n", error->message);
          return 1;
        }
      t_encode = g_get_monotonic_time () - t0;
      n_ids = ids->len;
      print_ids (out, ids);
      if (roundtrip)
        ok = check_roundtrip (tok, input, len, ids, "the input");
    }
  else
    {
      char *line = input, *end = input + len;
      size_t lineno = 0;
      while (line < end)
        {
          char *nl = memchr (line, '\n', (size_t) (end - line));
          if (nl)
            *nl = '\0';
          lineno++;
          json_object *j = json_tokener_parse (line);
          if (!json_object_is_type (j, json_type_string))
            {
              fprintf (stderr, "tokenize-driver: input line %zu is not a JSON string\n", lineno);
              return 2;
            }
          const char *text = json_object_get_string (j);
          size_t tl = (size_t) json_object_get_string_len (j);
          g_array_set_size (ids, 0);
          g_clear_error (&error);
          gint64 t0 = g_get_monotonic_time ();
          gboolean enc = encode (tok, text, (gssize) tl, ids, &error);
          t_encode += g_get_monotonic_time () - t0;
          if (enc)
            {
              n_ids += ids->len;
              print_ids (out, ids);
              g_autofree char *what = g_strdup_printf ("input line %zu", lineno);
              if (roundtrip && !check_roundtrip (tok, text, tl, ids, what))
                ok = FALSE;
            }
          else
            {
              json_object *e = json_object_new_object ();
              json_object_object_add (e, "error", json_object_new_string (error->message));
              g_string_append_printf (out, "%s\n",
                                      json_object_to_json_string_ext (e, JSON_C_TO_STRING_PLAIN));
              json_object_put (e);
            }
          json_object_put (j);
          line = nl ? nl + 1 : end;
        }
    }
  fwrite (out->str, 1, out->len, stdout);
  if (timing)
    fprintf (stderr, "encoded %zu bytes into %zu ids in %.3f s\n", (size_t) len, n_ids,
             (double) t_encode / 1e6);
  return ok ? 0 : 1;
}
