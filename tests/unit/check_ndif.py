#!/usr/bin/env python3
"""logit-lens-cli --ndif-script: the Python it prints for NDIF.

  check_ndif.py CLI

- Prompts and targets with quotes, backslashes, newlines, ''' and \"\"\", emoji, control
  characters and would-be code come back from the script exactly: the script parses, is pure
  ASCII, and apart from the five constants (read back with ast.literal_eval) it is the same
  program whatever the text, so no text can add code.
- Hostile or malformed model ids, a bad --top-k and options that make no sense with a script
  are refused with a message and no script.
- The script's own functions run here without NDIF, nnsight or logitlenskit: target_ids() and
  finish() on a fake tokenizer, collect() on a tiny fake model (with torch, when this Python has
  it), save() with a stand-in for logitlenskit's to_js_format; the file it writes opens with
  `logit-lens-cli --open FILE --json`, with the top-k and target probabilities put in.
"""
import ast
import json
import math
import os
import subprocess
import sys
import tempfile

from cli_check import fail, run
import cli_check

CONSTANTS = ("MODEL_ID", "PROMPT", "TARGETS", "TOP_K", "OUTPUT")


def constants_and_shape(source):
    """The five constants' values, and the program's AST with their values blanked."""
    tree = ast.parse(source)
    values = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id in CONSTANTS):
            name = node.targets[0].id
            if name in values:
                fail("%s is assigned twice" % name)
            values[name] = ast.literal_eval(node.value)
            node.value = ast.Constant(value=None)
    return values, ast.dump(tree)


def script(cli, model, prompt, targets, top_k=None):
    args = ["--ndif-script", model, "--prompt", prompt]
    for t in targets:
        args += ["--target", t]
    if top_k is not None:
        args += ["--top-k", str(top_k)]
    r = run(cli, args)
    if r.returncode != 0:
        fail("--ndif-script %r %r %r: exit %d, %s" % (model, prompt, targets, r.returncode,
                                                       r.stderr.strip()))
        return None
    return r.stdout


def check_literals(cli):
    baseline = script(cli, "openai-community/gpt2", "The capital of France is", [" Paris"])
    if baseline is None:
        return
    _, shape = constants_and_shape(baseline)
    cases = [
        ("The capital of France is", [" Paris"], 10),
        ('He said "yes" and \'no\'', ['"', "'"], 5),
        ("back\\slash \\n \\x41 \\u0041 \\N{BULLET} ends with \\", ["\\"], 3),
        ("line one\nline two\r\nline three\ttab", [" line\n"], 1),
        ("'''\nprint('escaped')\n'''", ["'''"], 7),
        ('"""\nimport os; os.system("echo pwned")\n"""', ['"""', '")\nimport os\n("'], 7),
        ('"; import os; os.system("echo pwned"); x = "', [" x"], 4),
        ("emoji \U0001f389 \u00e9t\u00e9 \u4e2d\u6587 \u2028sep\u2029 \x7f \x01 \ufeff", [" \U0001f389"], 12),
        ("  leading and trailing spaces  ", ["  two", " Paris"], 50),
    ]
    for prompt, targets, k in cases:
        text = script(cli, "meta-llama/Llama-3.1-70B", prompt, targets, k)
        if text is None:
            continue
        if not text.isascii():
            fail("the script for %r is not pure ASCII" % prompt)
        try:
            values, got_shape = constants_and_shape(text)
        except SyntaxError as e:
            fail("the script for %r does not parse: %s" % (prompt, e))
            continue
        want = {"MODEL_ID": "meta-llama/Llama-3.1-70B", "PROMPT": prompt, "TARGETS": targets,
                "TOP_K": k, "OUTPUT": "logit-lens-meta-llama--Llama-3.1-70B.json"}
        if values != want:
            fail("constants of the script for %r: %r, expected %r" % (prompt, values, want))
        if got_shape != shape:
            fail("the script for %r is not the same program as for a plain prompt" % prompt)
        # The same through the interpreter, as the user will run it (compile, no execution of
        # main: the module is loaded under another name).
        compile(text, "ndif-script.py", "exec")

    # --prompt-file: the file's bytes, newlines included.
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "prompt.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("from a file\n\"quoted\"\n")
        r = run(cli, ["--ndif-script", "openai-community/gpt2", "--prompt-file", path])
        if r.returncode != 0:
            fail("--prompt-file: %s" % r.stderr.strip())
        else:
            try:
                values, _ = constants_and_shape(r.stdout)
            except SyntaxError as e:
                fail("--prompt-file: the script does not parse: %s" % e)
                values = {}
            if values.get("PROMPT") != "from a file\n\"quoted\"\n" or values.get("TARGETS") != []:
                fail("--prompt-file: constants %r" % values)
            if values.get("TOP_K") != 10:
                fail("--ndif-script's default top-k is %r, not the CLI's 10" % values.get("TOP_K"))


def check_refusals(cli):
    hostile = [
        "", "gpt2", "a/b/c", "../etc", "a/..", "owner/name\"", "owner/name\nimport os",
        "owner/na me", "owner/-name", "owner/name-", "own--er/name", "owner/na..me", "owner/",
        "/name", "owner/caf\u00e9", "owner/" + "n" * 97, "owner/name'", "owner\\name",
        "owner/name;rm", "owner/$(id)",
    ]
    for model in hostile:
        r = run(cli, ["--ndif-script", model, "--prompt", "hi"])
        if r.returncode != 1 or r.stdout != "" or "model id" not in r.stderr:
            fail("model id %r: exit %d, stdout %r, stderr %r" % (model, r.returncode,
                                                                  r.stdout[:80], r.stderr))
    good = ["openai-community/gpt2", "meta-llama/Llama-3.1-70B", "EleutherAI/gpt-j-6b",
            "allenai/OLMo-2-1124-7B", "a/b", "Qwen/Qwen2.5_7B.v1"]
    for model in good:
        r = run(cli, ["--ndif-script", model, "--prompt", "hi"])
        if r.returncode != 0:
            fail("model id %r refused: %s" % (model, r.stderr.strip()))

    for args, what in [
        (["--top-k", "0"], "Top-k"),
        (["--top-k", "1001"], "Top-k"),
        (["--target", ""], "target"),
        (["--json"], "--json"),
        (["--export", "x.svg"], "--export"),
        (["--serve"], "--serve"),
        (["--open", "x.json"], "--open"),
        (["--model", "."], "--model"),
        (["--layers", "0-3"], "--layers"),
        (["--metrics"], "--metrics"),
        (["--tokenize"], "--tokenize"),
    ]:
        r = run(cli, ["--ndif-script", "openai-community/gpt2", "--prompt", "hi"] + args)
        if r.returncode != 1 or r.stdout != "" or what not in r.stderr:
            fail("--ndif-script with %s: exit %d, stdout %r, stderr %r" % (
                " ".join(args), r.returncode, r.stdout[:80], r.stderr))
    r = run(cli, ["--ndif-script", "openai-community/gpt2"])
    if r.returncode != 1 or "no prompt" not in r.stderr:
        fail("--ndif-script without a prompt: exit %d, %r" % (r.returncode, r.stderr))
    r = run(cli, ["--ndif-script", "openai-community/gpt2", "--prompt", ""])
    if r.returncode != 1 or "empty" not in r.stderr:
        fail("--ndif-script with an empty prompt: exit %d, %r" % (r.returncode, r.stderr))


# -- The script's functions against fakes -----------------------------------------------------

# Token texts of the fake vocabulary: ids 0..V-1. Two ids decode to the same replacement
# character (byte-level tokenizers do that for partial UTF-8), others are awkward strings.
V = 40
TEXTS = ["<s>", " Paris", " France", " the", " is", "\ufffd", "\ufffd", "\"q\"", "a\\b",
         "\n", " \U0001f389", "\u00e9t\u00e9"] + ["tok%d" % i for i in range(12, V)]


class FakeTokenizer:
    def encode(self, text, add_special_tokens=True):
        ids = [0] if add_special_tokens else []
        for word in text.split(" "):
            if word:
                key = " " + word
                ids.append(TEXTS.index(key) if key in TEXTS else 12 + len(word) % (V - 12))
        return ids

    def decode(self, ids):
        return "".join(TEXTS[i] for i in ids)


def fake_to_js_format(data):
    """A stand-in for logitlenskit's to_js_format (python/src/logitlenskit/display.py at
    commit e1bdd2810f69, version 0.2.0), written from its documented output: meta {version 2,
    model}, input, layers, topk[layer][position] = token strings, tracked[position] = token
    string -> probabilities (rounded to 5 decimals) at every layer. Later ids win when two
    decode to the same string, as with its dict comprehension."""
    vocab = data["vocab"]
    n_layers, n_pos = len(data["layers"]), len(data["input"])
    topk = [[[vocab[int(i)] for i in data["topk"][li][pos].tolist()] for pos in range(n_pos)]
            for li in range(n_layers)]
    tracked = []
    for pos in range(n_pos):
        ids = data["tracked"][pos].tolist()
        rows = data["probs"][pos].tolist()  # [layer][tracked]
        tracked.append({vocab[i]: [round(rows[li][j], 5) for li in range(n_layers)]
                        for j, i in enumerate(ids)})
    return {"meta": {"version": 2, "model": data["model"]}, "input": data["input"],
            "layers": data["layers"], "topk": topk, "tracked": tracked}


class Listish:
    """Enough of a tensor for finish() and fake_to_js_format without torch."""

    def __init__(self, value):
        self.value = value

    def tolist(self):
        return self.value

    def flatten(self):
        flat = []

        def walk(v):
            if isinstance(v, list):
                for x in v:
                    walk(x)
            else:
                flat.append(v)
        walk(self.value)
        return Listish(flat)

    def __getitem__(self, i):
        return Listish(self.value[i])


def load_script_functions(text, strip_save=False):
    """Executes the script's top level (imports, constants, definitions) under a name that is
    not __main__, so main() does not run and nothing outside the standard library is
    imported."""
    if strip_save:
        # nnsight gives every object a .save() inside a trace; plain Python dicts have none.
        text = text.replace("}.save()", "}")
    ns = {"__name__": "ndif_script_under_test"}
    exec(compile(text, "ndif-script.py", "exec"), ns)
    return ns


def open_json(cli, path, targets):
    args = ["--open", path, "--json"]
    for t in targets:
        args += ["--target", t]
    r = run(cli, args)
    if r.returncode != 0:
        fail("--open %s: exit %d, %s" % (path, r.returncode, r.stderr.strip()))
        return None
    return json.loads(r.stdout)


def cell_tops(doc):
    return [[[(e["text"], e["prob"]) for e in cell["top"]] for cell in row]
            for row in doc["cells"]]


def check_saved_file(cli, doc, data, js, targets):
    """The opened document against what the script's data said."""
    if doc is None:
        return
    if [t["text"] for t in doc["tokens"]] != data["input"]:
        fail("tokens after --open: %r, expected %r" % ([t["text"] for t in doc["tokens"]],
                                                        data["input"]))
    if len(doc["cells"]) != len(data["layers"]):
        fail("%d rows after --open, expected %d" % (len(doc["cells"]), len(data["layers"])))
        return
    tops = cell_tops(doc)
    for li in range(len(data["layers"])):
        for pos in range(len(data["input"])):
            want = [(tok, js["tracked"][pos][tok][li]) for tok in js["topk"][li][pos]]
            got = tops[li][pos]
            if [t for t, _ in got] != [t for t, _ in want] or any(
                    not math.isclose(g, w, abs_tol=1e-6) for (_, g), (_, w) in zip(got, want)):
                fail("cell %d,%d after --open: %r, expected %r" % (li, pos, got, want))
                return
    by_text = {t["text"]: t for t in doc.get("targets", [])}
    for text in targets:
        t = by_text.get(text)
        if t is None:
            fail("target %r missing after --open: %r" % (text, list(by_text)))
            continue
        for li in range(len(data["layers"])):
            for pos in range(len(data["input"])):
                want = js["tracked"][pos][text][li]
                got = t["prob"][li][pos]
                if got is None or not math.isclose(got, want, abs_tol=1e-6):
                    fail("target %r at %d,%d: %r, expected %r" % (text, li, pos, got, want))
                    return


def check_post_processing(cli):
    targets = [" Paris", " \U0001f389"]
    prompt = "The capital of France is"
    text = script(cli, "meta-llama/Llama-3.1-70B", prompt, targets, 3)
    if text is None:
        return
    ns = load_script_functions(text)
    tok = FakeTokenizer()
    extra = ns["target_ids"](tok, ns["TARGETS"])
    if extra != [1, 10]:
        fail("target_ids: %r, expected [1, 10]" % extra)
    # A target of several tokens is tracked by its first, with a note; repeats are tracked once.
    import contextlib
    import io
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        several = ns["target_ids"](tok, [" France is", " Paris", " France"])
    if several != [2, 1] or "' France is' is 2 tokens; its first, ' France'" not in err.getvalue():
        fail("target_ids of several tokens: %r, %r" % (several, err.getvalue()))

    # finish() and save() on a hand-made result of 2 layers x 3 positions, top-2, with the
    # two ids that decode alike in one cell.
    token_ids = tok.encode("France is")
    probs = [  # position -> [layer][tracked]
        [[0.5, 0.25, 0.125, 0.0], [0.0625, 0.5, 0.25, 1e-9]],
        [[0.3, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]],
        [[0.9, 0.05, 0.01, 0.02], [0.01, 0.01, 0.97, 0.005]],
    ]
    tracked_ids = [[1, 5, 6, 10], [1, 7, 8, 10], [1, 9, 10, 11]]
    topk = [[[1, 5], [1, 7], [1, 9]], [[5, 6], [10, 8], [10, 9]]]
    result = {"topk": Listish(topk), "tracked": [Listish(t) for t in tracked_ids],
              "probs": [Listish(p) for p in probs]}
    data = ns["finish"]("meta-llama/Llama-3.1-70B", tok, token_ids, [0, 1], result)
    if data["input"] != ["<s>", " France", " is"]:
        fail("finish: input %r" % data["input"])
    with tempfile.TemporaryDirectory() as d:
        path = ns["save"](data, fake_to_js_format, os.path.join(d, "out.json"))
        if path != os.path.join(d, "out.json") or os.path.exists(path + ".part"):
            fail("save returned %r and left %r" % (path, os.listdir(d)))
        raw = open(path, "rb").read()
        if not raw.isascii():
            fail("the saved file is not ASCII")
        js = json.loads(raw)
        if js["meta"].get("version") != 2 or "timestamp" not in js["meta"]:
            fail("meta: %r" % js["meta"])
        doc = open_json(cli, path, targets)
        check_saved_file(cli, doc, data, js, targets)

    check_collect(cli, text, targets)


def check_collect(cli, text, targets):
    """collect() itself on a fake nnterp model: 4 layers, a 40-token vocabulary."""
    try:
        import torch
    except ImportError:
        # The system Python may have torch where this one has none.
        for exe in ("/usr/bin/python3", "/usr/local/bin/python3"):
            if (exe != sys.executable and os.access(exe, os.X_OK)
                    and subprocess.run([exe, "-c", "import torch"],
                                       capture_output=True).returncode == 0):
                r = subprocess.run([exe, __file__, cli, "--collect-only"], capture_output=True,
                                   text=True, timeout=300)
                print(r.stdout, end="")
                if r.returncode != 0:
                    fail("collect() under %s: %s" % (exe, r.stderr.strip()))
                return
        print("note: no torch in this Python; collect() is not run (finish/save/target_ids are)")
        return
    import contextlib
    ns = load_script_functions(text, strip_save=True)
    torch.manual_seed(0)
    d_model, n_layers = 8, 4

    class FakeModel:
        tokenizer = FakeTokenizer()
        num_layers = n_layers

        def __init__(self):
            self.hidden = None
            w = torch.randn(V, d_model)
            self.embed = torch.randn(V, d_model)
            self.blocks = [torch.randn(d_model, d_model) * 0.5 for _ in range(n_layers)]
            self.lm_head = lambda h: h @ w.T
            self.ln_final = lambda h: torch.nn.functional.layer_norm(h, (d_model,))
            self.layers_output = []

        @contextlib.contextmanager
        def trace(self, token_ids, remote):
            if remote is not True:
                fail("collect() traced with remote=%r" % remote)
            h = self.embed[torch.tensor(token_ids)][None]
            self.layers_output = []
            for b in self.blocks:
                h = h + torch.tanh(h @ b)
                self.layers_output.append(h)
            yield

    model = FakeModel()
    k = ns["TOP_K"]
    extra = ns["target_ids"](model.tokenizer, ns["TARGETS"])
    data = ns["collect"](model, ns["PROMPT"], k, extra)
    token_ids = model.tokenizer.encode(ns["PROMPT"])
    for li in range(n_layers):
        probs = torch.softmax(model.lm_head(model.ln_final(model.layers_output[li]))[0], -1)
        for pos in range(len(token_ids)):
            want = probs[pos].topk(k).indices.tolist()
            if data["topk"][li, pos].tolist() != want:
                fail("collect: top-k at %d,%d" % (li, pos))
            tracked = data["tracked"][pos].tolist()
            for tid in extra:
                if tid not in tracked:
                    fail("collect: target id %d not tracked at position %d" % (tid, pos))
                elif not math.isclose(data["probs"][pos][li, tracked.index(tid)].item(),
                                      probs[pos, tid].item(), rel_tol=1e-5):
                    fail("collect: target %d probability at %d,%d" % (tid, li, pos))
    with tempfile.TemporaryDirectory() as d:
        path = ns["save"](data, fake_to_js_format, os.path.join(d, "collected.json"))
        js = json.load(open(path))
        doc = open_json(cli, path, targets)
        check_saved_file(cli, doc, data, js, targets)


def main():
    cli = sys.argv[1]
    if sys.argv[2:] == ["--collect-only"]:
        text = script(cli, "meta-llama/Llama-3.1-70B", "The capital of France is",
                      [" Paris", " \U0001f389"], 3)
        if text is not None:
            check_collect(cli, text, [" Paris", " \U0001f389"])
        if cli_check.failures:
            sys.exit(1)
        print("collect() checked with torch")
        return
    check_literals(cli)
    check_refusals(cli)
    check_post_processing(cli)
    cli_check.finish()


if __name__ == "__main__":
    main()
