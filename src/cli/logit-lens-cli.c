/* logit-lens-cli: the logit lens from the command line. Same engine and painters as the app.
 *
 * Output is built completely before anything is printed, so a failure never leaves a partial
 * result on stdout; errors are one line on stderr and a non-zero exit status. This file has the
 * flags and chooses the mode; cli.h says where the rest is. */
#include "config.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>

#include "cli.h"
#include "lens-blas.h"
#include "lens-error.h"
#include "lens-threads.h"

int
main (int argc, char **argv)
{
  /* before anything touches OpenBLAS's kernels (they were chosen when it loaded) */
  lens_blas_prefer_native_kernels (argv);
  CliOptions o = {.top_k = 10, .threads = THREADS_NOT_GIVEN};
  GOptionEntry entries[] = {
      {"model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model_dir,
       "Model folder (config.json, model.safetensors, tokenizer files); default: GPT-2 from the "
       "Hugging Face cache, else the bundled demo model",
       "DIR"},
      /* FILENAME types keep the bytes as given: prompts are UTF-8 whatever the locale says. */
      {"prompt", 'p', 0, G_OPTION_ARG_FILENAME, &o.prompt, "Prompt text", "TEXT"},
      {"prompt-file", 'f', 0, G_OPTION_ARG_FILENAME, &o.prompt_file, "Read the prompt from a file",
       "FILE"},
      {"target", 't', 0, G_OPTION_ARG_FILENAME_ARRAY, &o.targets,
       "Track this token's probability (repeatable; first token if it is several)", "TEXT"},
      {"top-k", 'k', 0, G_OPTION_ARG_INT, &o.top_k, "Tokens kept per cell (default 10)", "K"},
      {"layers", 'l', 0, G_OPTION_ARG_STRING, &o.layers,
       "Blocks to show, e.g. 0,5,11 or 0-11:2 (the last is always kept)", "SPEC"},
      {"positions", 0, 0, G_OPTION_ARG_STRING, &o.positions,
       "Positions to show, print and export, e.g. 200-244 or 7 (numbered as in the prompt, from "
       "0)",
       "RANGE"},
      {"embeddings", 'e', 0, G_OPTION_ARG_NONE, &o.embeddings, "Add the embedding row", NULL},
      {"metrics", 0, 0, G_OPTION_ARG_NONE, &o.metrics,
       "Per cell: KL divergence from the model's own prediction (kl_final) and the probability, "
       "rank and cross-entropy of the token that actually follows (next)",
       NULL},
      {"sublayers", 0, 0, G_OPTION_ARG_NONE, &o.sublayers,
       "Before each block's row L, a row L.attn: the residual after its attention sub-layer", NULL},
      {"tokenize", 0, 0, G_OPTION_ARG_NONE, &o.tokenize,
       "Print the prompt's token ids as a JSON array and exit", NULL},
      {"json", 'j', 0, G_OPTION_ARG_NONE, &o.json, "Machine-readable output", NULL},
      {"export", 'o', 0, G_OPTION_ARG_FILENAME, &o.export_path,
       "Write a figure (.svg, .png or .pdf)", "FILE"},
      {"view", 0, 0, G_OPTION_ARG_STRING, &o.view,
       "Figure for --export: heatmap (default), target, line, topk or diff (see --compare-prompt)",
       "VIEW"},
      {"color-by", 0, 0, G_OPTION_ARG_STRING, &o.color_by,
       "What colours --view heatmap: top (the top-1 probability, default), next (the next "
       "token's probability), rank (its rank), kl (KL from the final layer) or entropy; the "
       "metrics are computed when needed",
       "VALUE"},
      {"line-metric", 0, 0, G_OPTION_ARG_STRING, &o.line_metric,
       "What --view line draws across layers at the last position (next and rank: the last one "
       "with a next token): top (the probability of the "
       "targets and of every token that is top-1 at some layer, default), next (the next token's "
       "probability), rank (its rank), kl (KL from the final layer) or entropy",
       "VALUE"},
      {"line-targets-only", 0, 0, G_OPTION_ARG_NONE, &o.line_targets_only,
       "--view line draws the targets alone, without the tokens that are top-1 at some layer",
       NULL},
      {"compare-prompt", 0, 0, G_OPTION_ARG_STRING, &o.compare_prompt,
       "--view diff: compare with this prompt's lens on the same model (the pinned side)", "TEXT"},
      {"compare-open", 0, 0, G_OPTION_ARG_FILENAME, &o.compare_open,
       "--view diff: compare with a saved results file (the pinned side)", "FILE"},
      {"diff", 0, 0, G_OPTION_ARG_STRING, &o.diff,
       "What --view diff shows per cell: target (the first target's probability, this prompt "
       "minus the pinned one; the default with a --target) or kl (KL from the pinned "
       "distribution, both run here on one model; the default without a target)",
       "KIND"},
      {"scale", 0, 0, G_OPTION_ARG_STRING, &o.scale,
       "Probability scale of --view target and line: auto (default: logarithmic when the values "
       "span more than three decades or all lie below 1%), linear or log",
       "SCALE"},
      {"perplexity", 0, 0, G_OPTION_ARG_FILENAME, &o.perplexity_file,
       "Mean next-token loss and perplexity of the model over a text file", "FILE"},
      {"open", 0, 0, G_OPTION_ARG_FILENAME, &o.open_path,
       "Show a saved results file (this app's JSON or logitlenskit's) instead of running a model",
       "FILE"},
      {"serve", 0, 0, G_OPTION_ARG_NONE, &o.serve,
       "Keep the model loaded and answer JSON requests, one per line of standard input, with "
       "one line each (see the README)",
       NULL},
      {"threads", 0, 0, G_OPTION_ARG_INT, &o.threads,
       "Threads to compute with (default: all cores, or OMP_NUM_THREADS)", "N"},
      {"version", 0, 0, G_OPTION_ARG_NONE, &o.version, "Print the version", NULL},
      {"ndif-script", 0, 0, G_OPTION_ARG_STRING, &o.ndif_model,
       "Print a Python script that runs this logit lens on NDIF for a Hugging Face model id "
       "(owner/name) and writes a results file for --open",
       "MODEL_ID"},
      {NULL},
  };

  setlocale (LC_ALL, "");
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- the logit lens of a language model");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_autofree char *line = lens_error_one_line (error->message);
      fprintf (stderr, "logit-lens-cli: %s\n", line);
      return 2;
    }
  if (o.version)
    {
      g_autofree char *blas = lens_blas_describe ();
      printf ("logit-lens-cli %s\n%s\n", PACKAGE_VERSION, blas);
      return 0;
    }
  if (argc > 1)
    {
      g_autofree char *arg = lens_error_one_line (argv[1]);
      fprintf (stderr, "logit-lens-cli: unexpected argument \"%s\" (see --help)\n", arg);
      return 2;
    }

  gboolean ok;
  g_autoptr (GString) out = g_string_new (NULL);
  if (o.threads != THREADS_NOT_GIVEN && (o.threads < 1 || o.threads > LENS_THREADS_MAX))
    ok = cli_fail (&error, "--threads must be between 1 and %d", LENS_THREADS_MAX);
  else
    {
      lens_threads_set (MAX (o.threads, 0));
      if (o.ndif_model != NULL)
        {
          if ((ok = cli_run_ndif_script (&o, out, &error)))
            fwrite (out->str, 1, out->len, stdout);
        }
      else if (o.serve)
        ok = cli_serve (&o, &error);
      else if ((ok = cli_run (&o, out, &error)))
        fwrite (out->str, 1, out->len, stdout);
    }
  if (!ok)
    {
      g_autofree char *line = lens_error_one_line (error->message);
      fprintf (stderr, "logit-lens-cli: %s\n", line);
    }

  g_free (o.model_dir);
  g_free (o.prompt);
  g_free (o.prompt_file);
  g_strfreev (o.targets);
  g_free (o.layers);
  g_free (o.positions);
  g_free (o.export_path);
  g_free (o.view);
  g_free (o.scale);
  g_free (o.color_by);
  g_free (o.line_metric);
  g_free (o.compare_prompt);
  g_free (o.compare_open);
  g_free (o.diff);
  g_free (o.perplexity_file);
  g_free (o.open_path);
  g_free (o.ndif_model);
  return ok ? 0 : 1;
}
