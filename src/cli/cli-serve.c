/* cli-serve.c: --serve: the model stays loaded; each line of stdin is one JSON request, each gets
 * one line (the --json document of the run, or an error). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lens-error.h"
#include "lens-json-write.h"
#include "lens-json.h"

static const char *const request_keys[]
    = {"prompt", "targets", "top_k", "layers", "embeddings", "metrics", "sublayers", "positions"};

/* A string member without NUL characters (json-c keeps "\u0000" inside its strings). */
static gboolean
request_text (json_object *value, const char *key, const char **text, GError **error)
{
  if (!json_object_is_type (value, json_type_string))
    return cli_fail (error, "request: \"%s\" must be a string, not %s", key,
                     lens_json_type_name (value));
  *text = json_object_get_string (value);
  if (strlen (*text) != (size_t) json_object_get_string_len (value))
    return cli_fail (error, "request: \"%s\" contains a NUL character", key);
  return TRUE;
}

/* Fills `req` from one request line; its strings point into `*root` (which the caller frees) and
 * `*targets`. Members not given keep the values of the command line's flags. */
static gboolean
parse_request (const char *line, size_t len, CliRequest *req, json_object **root, GStrv *targets,
               GError **error)
{
  *root = lens_json_parse (line, len, "request", error);
  if (*root == NULL)
    return FALSE;
  if (!json_object_is_type (*root, json_type_object))
    return cli_fail (error, "request: expected a JSON object, not %s", lens_json_type_name (*root));

  json_object_object_foreach (*root, key, value)
  {
    gboolean known = FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS (request_keys) && !known; i++)
      known = g_str_equal (key, request_keys[i]);
    if (!known)
      {
        g_autofree char *shown = lens_json_describe (key, -1);
        return cli_fail (error,
                         "request: unknown member %s (known: prompt, targets, top_k, layers, "
                         "embeddings, metrics, sublayers, positions)",
                         shown);
      }
    if (g_str_equal (key, "prompt") && !request_text (value, key, &req->prompt, error))
      return FALSE;
    if (g_str_equal (key, "layers") && !request_text (value, key, &req->layers, error))
      return FALSE;
    if (g_str_equal (key, "positions")
        && (!request_text (value, key, &req->positions, error)
            || !cli_parse_positions (req->positions, "positions", NULL, NULL, NULL, error)))
      return FALSE;
    if (g_str_equal (key, "embeddings") || g_str_equal (key, "metrics")
        || g_str_equal (key, "sublayers"))
      {
        if (!json_object_is_type (value, json_type_boolean))
          return cli_fail (error, "request: \"%s\" must be true or false, not %s", key,
                           lens_json_type_name (value));
        gboolean *flag = g_str_equal (key, "embeddings") ? &req->embeddings
                         : g_str_equal (key, "metrics")  ? &req->metrics
                                                         : &req->sublayers;
        *flag = json_object_get_boolean (value);
      }
    if (g_str_equal (key, "top_k"))
      {
        if (!json_object_is_type (value, json_type_int))
          return cli_fail (error, "request: \"top_k\" must be an integer, not %s",
                           lens_json_type_name (value));
        int64_t k = json_object_get_int64 (value);
        if (k < 1 || k > G_MAXINT)
          return cli_fail (error, "request: \"top_k\" must be at least 1");
        req->top_k = (int) k;
      }
    if (g_str_equal (key, "targets"))
      {
        if (!json_object_is_type (value, json_type_array))
          return cli_fail (error, "request: \"targets\" must be an array of strings, not %s",
                           lens_json_type_name (value));
        g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
        for (size_t i = 0; i < json_object_array_length (value); i++)
          {
            const char *text;
            if (!request_text (json_object_array_get_idx (value, i), "targets", &text, error))
              return FALSE;
            g_strv_builder_add (b, text);
          }
        *targets = g_strv_builder_end (b);
        req->targets = *targets;
      }
  }
  if (req->prompt == NULL)
    return cli_fail (error, "request: \"prompt\" is missing");
  return TRUE;
}

/* The response to one request line: the --json document on one line, or {"error": "..."}. */
static char *
serve_one (LensModel *model, LensRunCache *cache, const CliOptions *o, const char *line, size_t len)
{
  g_autoptr (GError) error = NULL;
  CliRequest req = {
      .what_prompt = "prompt",
      .targets = o->targets,
      .top_k = o->top_k,
      .layers = o->layers,
      .what_layers = "layers",
      .embeddings = o->embeddings,
      .metrics = o->metrics,
      .sublayers = o->sublayers,
  };
  json_object *root = NULL;
  g_auto (GStrv) targets = NULL;
  g_autoptr (LensResult) r = NULL;
  g_autoptr (GPtrArray) tracked = cli_new_target_array ();
  char *doc = NULL;
  if (len == 0)
    cli_fail (&error, "request: the line is empty; expected a JSON object");
  else if (parse_request (line, len, &req, &root, &targets, &error)
           && (r = cli_run_request (model, cache, &req, &error)) != NULL)
    {
      cli_warn_nonfinite (r);
      /* only the positions asked for, e.g. the new last one while typing: the document of one
       * column instead of the whole prompt's */
      int first, count;
      LensResult *range = NULL;
      if (req.positions != NULL
          && (!cli_parse_positions (req.positions, "positions", r, &first, &count, &error)
              || (range = lens_result_slice (r, 0, r->n_rows, first, count, &error)) == NULL))
        g_clear_pointer (&r, lens_result_unref);
      else if (range != NULL)
        {
          lens_result_unref (r);
          r = range;
        }
      if (r != NULL && cli_compute_targets (r, req.targets, tracked, &error))
        doc = cli_result_document (r, tracked, FALSE);
    }
  json_object_put (root);
  if (doc != NULL)
    return doc;

  /* the one-line form has no line breaks; the writer escapes the rest */
  g_autofree char *message = lens_error_one_line (error->message);
  GString *reply = g_string_new ("{");
  lens_json_write_key (reply, "error", FALSE);
  lens_json_write_string (reply, message);
  g_string_append_c (reply, '}');
  return g_string_free (reply, FALSE);
}

gboolean
cli_serve (const CliOptions *o, GError **error)
{
  if (o->prompt != NULL || o->prompt_file != NULL)
    return cli_fail (error, "--serve reads its prompts from standard input; it takes no --prompt");
  if (o->json || o->export_path != NULL || o->view != NULL || o->scale != NULL
      || o->color_by != NULL || o->line_metric != NULL || o->line_targets_only
      || o->compare_prompt != NULL || o->compare_open != NULL || o->diff != NULL || o->tokenize
      || o->perplexity_file != NULL || o->open_path != NULL || o->positions != NULL)
    return cli_fail (error, "--serve answers every request with its --json document; it takes no "
                            "--json, --export, --view, --scale, --color-by, --line-metric, "
                            "--line-targets-only, --compare-prompt, --compare-open, --diff, "
                            "--tokenize, --perplexity, --open or --positions");
  if (o->top_k < 1)
    return cli_fail (error, "--top-k must be at least 1");
  g_autoptr (LensModel) model = cli_load_model (o, error);
  if (model == NULL)
    return FALSE;
  g_autoptr (LensRunCache) cache = lens_run_cache_new ();

  char *line = NULL;
  size_t size = 0;
  ssize_t n;
  while ((n = getline (&line, &size, stdin)) >= 0)
    {
      size_t len = (size_t) n;
      while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
      g_autofree char *reply = serve_one (model, cache, o, line, len);
      fputs (reply, stdout);
      fputc ('\n', stdout);
      /* the client waits for this line before it sends the next request */
      fflush (stdout);
    }
  gboolean ok = !ferror (stdin);
  free (line);
  if (!ok)
    return cli_fail (error, "reading standard input: %s", g_strerror (errno));
  return TRUE;
}
