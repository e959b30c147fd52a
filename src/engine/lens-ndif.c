/* lens-ndif.c: the "Run on NDIF" script.
 *
 * The script is written against logitlenskit 0.2.0 as of commit e1bdd2810f69 (2026-01-02, "Add
 * age-based color scheme to dataflow visualization"): python/src/logitlenskit/collect.py
 * (collect_logit_lens, on an nnterp StandardizedTransformer: layers_output, ln_final, lm_head,
 * num_layers) and display.py (to_js_format, which returns widget JSON version 2: meta {version,
 * model}, input, layers, topk, tracked). collect_logit_lens cannot track extra tokens, and
 * Logit Lens's targets must be in "tracked" to be shown, so the script carries that function
 * with one change (the targets join each position's tracked set) rather than running the model
 * twice on NDIF; the file itself is written by logitlenskit's own to_js_format. Its docs
 * (PYTHON_API.md, DATA_FORMAT.md) still describe the older collect_logit_lens_topk_efficient /
 * format_data_for_widget, which that commit's package no longer has.
 *
 * Everything the user typed goes in as a Python literal built here, never as code: the prompt
 * is a double-quoted string where only printable ASCII other than the double quote and the
 * backslash stands for itself. */
#include "config.h"

#include <string.h>

#include "lens-error.h"
#include "lens-json-write.h"
#include "lens-ndif.h"

#define LOGITLENSKIT_COMMIT "e1bdd2810f6957d377f44825186674aa90781b22"
#define ID_PART_MAX 96

/* One side of the '/', whose characters lens_ndif_check_model_id has checked. */
static gboolean
id_part_ok (const char *part, size_t len, const char *model_id, const char *which, GError **error)
{
  if (len == 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "The model id has no %s: write it as owner/name, e.g. "
                   "meta-llama/Llama-3.1-70B",
                   which);
      return FALSE;
    }
  if (len > ID_PART_MAX)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "The %s of the model id is %zu characters long; Hugging Face allows at most %d",
                   which, len, ID_PART_MAX);
      return FALSE;
    }
  if (!g_ascii_isalnum (part[0]) || !g_ascii_isalnum (part[len - 1]))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "The %s of the model id \"%s\" must start and end with a letter or digit", which,
                   model_id);
      return FALSE;
    }
  if (g_strstr_len (part, (gssize) len, "--") != NULL
      || g_strstr_len (part, (gssize) len, "..") != NULL)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "The model id \"%s\" has \"--\" or \"..\", which Hugging Face ids cannot have",
                   model_id);
      return FALSE;
    }
  return TRUE;
}

gboolean
lens_ndif_check_model_id (const char *model_id, GError **error)
{
  if (model_id == NULL || model_id[0] == '\0')
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "No model id: give the Hugging Face id of a model NDIF hosts, e.g. "
                   "meta-llama/Llama-3.1-70B");
      return FALSE;
    }
  /* Characters first, so that the messages below only ever show a harmless id. */
  for (const char *p = model_id; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.' && *p != '/')
      {
        g_autofree char *shown = g_strescape (model_id, NULL);
        g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                     "The model id \"%s\" has a character a Hugging Face id cannot have: only "
                     "letters, digits, '-', '_' and '.' around one '/' (e.g. "
                     "meta-llama/Llama-3.1-70B)",
                     shown);
        return FALSE;
      }
  const char *slash = strchr (model_id, '/');
  if (slash == NULL)
    {
      if (!id_part_ok (model_id, strlen (model_id), model_id, "name", error))
        return FALSE;
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "The model id \"%s\" has no owner: NDIF models are named owner/name, e.g. "
                   "openai-community/gpt2",
                   model_id);
      return FALSE;
    }
  if (strchr (slash + 1, '/') != NULL)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                   "The model id \"%s\" has more than one '/': write it as owner/name", model_id);
      return FALSE;
    }
  return id_part_ok (model_id, (size_t) (slash - model_id), model_id, "owner", error)
         && id_part_ok (slash + 1, strlen (slash + 1), model_id, "name", error);
}

char *
lens_ndif_default_output (const char *model_id)
{
  /* "--" cannot occur in an id, so the name maps back to one id (as in the Hugging Face cache). */
  g_auto (GStrv) parts = g_strsplit (model_id, "/", 2);
  g_autofree char *joined = g_strjoinv ("--", parts);
  return g_strdup_printf ("logit-lens-%s.json", joined);
}

static gboolean
check_text (const char *text, const char *what, GError **error)
{
  if (text == NULL || text[0] == '\0')
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "The %s is empty", what);
      return FALSE;
    }
  const char *bad;
  if (!g_utf8_validate (text, -1, &bad))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "The %s is not valid UTF-8 text (byte %ld)",
                   what, (long) (bad - text));
      return FALSE;
    }
  return TRUE;
}

/* The part of the script after the constants, the same for every request. */
static const char script_body[]
    = "\n"
      "\n"
      "def target_ids(tokenizer, targets):\n"
      "    \"\"\"The first token id of each target: Logit Lens tracks a target by its first "
      "token.\"\"\"\n"
      "    ids = []\n"
      "    for text in targets:\n"
      "        tokens = tokenizer.encode(text, add_special_tokens=False)\n"
      "        if not tokens:\n"
      "            raise SystemExit(\"target %r is no token at all for %s\" % (text, MODEL_ID))\n"
      "        if len(tokens) > 1:\n"
      "            print(\"note: target %r is %d tokens; its first, %r, is tracked\"\n"
      "                  % (text, len(tokens), tokenizer.decode(tokens[:1])), file=sys.stderr)\n"
      "        if tokens[0] not in ids:\n"
      "            ids.append(tokens[0])\n"
      "    return ids\n"
      "\n"
      "\n"
      "def collect(model, prompt, k, extra_ids, remote=True):\n"
      "    \"\"\"logitlenskit's collect_logit_lens(prompt, model, k), with extra_ids (the "
      "targets') added\n"
      "    to the tokens whose probability is kept at every layer of every position.\"\"\"\n"
      "    import torch\n"
      "\n"
      "    token_ids = model.tokenizer.encode(prompt)\n"
      "    n_pos = len(token_ids)\n"
      "    layers = list(range(model.num_layers))\n"
      "    n_layers = len(layers)\n"
      "\n"
      "    # This block runs on NDIF; only the saved result comes back.\n"
      "    with model.trace(token_ids, remote=remote):\n"
      "        all_probs = []\n"
      "        all_topk = []\n"
      "        for li in layers:\n"
      "            logits = model.lm_head(model.ln_final(model.layers_output[li]))\n"
      "            probs = torch.softmax(logits[0], dim=-1)\n"
      "            all_probs.append(probs)\n"
      "            all_topk.append(probs.topk(k, dim=-1).indices)\n"
      "        topk = torch.stack(all_topk).to(torch.int32)\n"
      "        tracked = []\n"
      "        probs_out = []\n"
      "        for pos in range(n_pos):\n"
      "            # int64 ids for indexing (older torch cannot index with int32), int32 to send\n"
      "            ids = topk[:, pos, :].flatten().long()\n"
      "            if extra_ids:\n"
      "                ids = torch.cat([ids, torch.tensor(extra_ids, dtype=ids.dtype, "
      "device=ids.device)])\n"
      "            unique = torch.unique(ids)\n"
      "            traj = torch.stack([all_probs[li][pos, unique] for li in range(n_layers)])\n"
      "            tracked.append(unique.to(torch.int32))\n"
      "            probs_out.append(traj)\n"
      "        result = {\"topk\": topk, \"tracked\": tracked, \"probs\": probs_out}.save()\n"
      "\n"
      "    return finish(MODEL_ID, model.tokenizer, token_ids, layers, result)\n"
      "\n"
      "\n"
      "def finish(model_name, tokenizer, token_ids, layers, result):\n"
      "    \"\"\"The client-side end of collect_logit_lens: its data dict, with the ids "
      "decoded.\"\"\"\n"
      "    all_ids = set(result[\"topk\"].flatten().tolist())\n"
      "    for t in result[\"tracked\"]:\n"
      "        all_ids.update(t.tolist())\n"
      "    vocab = {i: tokenizer.decode([i]) for i in all_ids}\n"
      "    return {\n"
      "        \"model\": model_name,\n"
      "        \"input\": [tokenizer.decode([t]) for t in token_ids],\n"
      "        \"layers\": layers,\n"
      "        \"topk\": result[\"topk\"],\n"
      "        \"tracked\": result[\"tracked\"],\n"
      "        \"probs\": result[\"probs\"],\n"
      "        \"vocab\": vocab,\n"
      "    }\n"
      "\n"
      "\n"
      "def save(data, to_js_format, path):\n"
      "    \"\"\"logitlenskit's to_js_format, a timestamp in meta, and an atomic write; returns "
      "the path.\"\"\"\n"
      "    js = to_js_format(data)\n"
      "    js[\"meta\"][\"timestamp\"] = datetime.datetime.now(datetime.timezone.utc).isoformat()\n"
      "    path = os.path.abspath(path)\n"
      "    part = path + \".part\"\n"
      "    with open(part, \"w\", encoding=\"ascii\") as f:\n"
      "        json.dump(js, f)  # ensure_ascii (the default) keeps the file ASCII whatever the "
      "tokens\n"
      "    os.replace(part, path)\n"
      "    return path\n"
      "\n"
      "\n"
      "def main():\n"
      "    from logitlenskit import to_js_format\n"
      "    from nnsight import CONFIG\n"
      "    from nnterp import StandardizedTransformer\n"
      "\n"
      "    key = os.environ.get(\"NDIF_API_KEY\")\n"
      "    if key:\n"
      "        CONFIG.API.APIKEY = key  # for this run only; nnsight's saved key otherwise\n"
      "    model = StandardizedTransformer(MODEL_ID, remote=True)\n"
      "    data = collect(model, PROMPT, TOP_K, target_ids(model.tokenizer, TARGETS))\n"
      "    print(save(data, to_js_format, OUTPUT))\n"
      "\n"
      "\n"
      "if __name__ == \"__main__\":\n"
      "    main()\n";

char *
lens_ndif_script (const char *model_id, const char *prompt, char *const *targets, int top_k,
                  const char *output_path, GError **error)
{
  if (!lens_ndif_check_model_id (model_id, error) || !check_text (prompt, "prompt", error))
    return NULL;
  for (char *const *t = targets; t != NULL && *t != NULL; t++)
    if (!check_text (*t, "target", error))
      return NULL;
  if (top_k < 1 || top_k > LENS_NDIF_MAX_TOP_K)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT, "Top-k must be between 1 and %d, not %d",
                   LENS_NDIF_MAX_TOP_K, top_k);
      return NULL;
    }
  g_autofree char *default_output = NULL;
  if (output_path == NULL)
    output_path = default_output = lens_ndif_default_output (model_id);
  else if (!check_text (output_path, "output file name", error))
    return NULL;

  GString *s = g_string_new (NULL);
  g_string_append_printf (
      s,
      "#!/usr/bin/env python3\n"
      "# The logit lens of %s on NDIF (https://ndif.us), from Logit Lens %s.\n"
      "#\n"
      "# Save this as a file and run it with Python (nnsight reads the source of the traced\n"
      "# block, so it cannot come from standard input):\n"
      "#\n"
      "#     pip install \"nnterp>=1.3\" ipython \\\n"
      "#         \"logitlenskit @ "
      "git+https://github.com/davidbau/logitlenskit.git@" LOGITLENSKIT_COMMIT
      "#subdirectory=python\"\n"
      "#     NDIF_API_KEY=your-key python3 logit-lens-ndif.py\n"
      "#\n"
      "# NDIF API keys come from https://login.ndif.us; without NDIF_API_KEY, nnsight uses the "
      "key\n"
      "# saved with nnsight.CONFIG.set_default_api_key. Gated models (Llama...) also need a\n"
      "# Hugging Face token with access (HF_TOKEN) for the tokenizer and config.\n"
      "# It writes OUTPUT, logitlenskit widget JSON version 2, and prints its path: open it in\n"
      "# Logit Lens (Open Results) or with logit-lens-cli --open FILE.\n"
      "#\n"
      "# Written against logitlenskit 0.2.0, commit " LOGITLENSKIT_COMMIT " (2026-01-02):\n"
      "# collect() below is its collect_logit_lens() with the targets added to the tracked "
      "tokens,\n"
      "# and the file is written by its to_js_format(). nnterp 1.3 added remote=True to\n"
      "# StandardizedTransformer; ipython is listed because logitlenskit imports IPython.display.\n"
      "\n"
      "import datetime\n"
      "import json\n"
      "import os\n"
      "import sys\n"
      "\n"
      "MODEL_ID = ",
      model_id, PACKAGE_VERSION);
  lens_json_write_python_str (s, model_id);
  g_string_append (s, "\nPROMPT = ");
  lens_json_write_python_str (s, prompt);
  g_string_append (s, "\nTARGETS = [");
  for (char *const *t = targets; t != NULL && *t != NULL; t++)
    {
      if (t != targets)
        g_string_append (s, ", ");
      lens_json_write_python_str (s, *t);
    }
  g_string_append_printf (s, "]\nTOP_K = %d\nOUTPUT = ", top_k);
  lens_json_write_python_str (s, output_path);
  g_string_append_c (s, '\n');
  g_string_append (s, script_body);
  return g_string_free (s, FALSE);
}
