#!/usr/bin/python3
"""Reference tests: logit-lens-cli --json against a float64 torch Llama-family model (model_type
llama, mistral, qwen2, qwen3) on random checkpoints.

Writes random-weight checkpoints in Hugging Face layout (each family's own config.json keys;
F32/F16/BF16; tied and untied; single-file and sharded; GQA and MQA; head_dim set apart from
hidden_size / heads; llama's attention and MLP biases, qwen2's q/k/v biases, qwen3's q_norm/k_norm;
default, linear and llama3 RoPE in both the `rope_theta` + `rope_scaling` and the
`rope_parameters` spelling; sliding windows shorter than the prompt, per layer for qwen2/qwen3;
vocabularies padded past the tokenizer, as Qwen's are) with the synthetic byte-level BPE
tokenizers of run_reference.py (tokenizer.json), runs the CLI and compares every number it prints
with the lens computed here in float64 from the exact stored weights, on the token ids the CLI
printed. Then checks that hostile configs and checkpoints give a one-line error naming the file
or field, a non-zero status and no stdout, and that an extra tensor is ignored.

Usage: /usr/bin/python3 run_reference_llama.py [--cli PATH] [--part all|selfcheck|lens|errors|large]
                                                [--only SUBSTRING] [--keep] [--seed N]
`--part selfcheck` needs no CLI: it checks the reference against independent formulations (RoPE as
complex rotations, the window mask as a loop, GQA with explicit kv-head indexing, a per-position
loop forward pass), that the last lens row is the model's own output, that float32 stays far
inside the tolerances, and that every modelled feature moves the probabilities far more than the
tolerances (so an engine that gets one wrong fails).
`--part large` (not run by meson) writes one Llama-3.2-1B-shaped checkpoint (BF16, 16 layers,
2048 wide, 32 heads / 8 kv heads of 64, intermediate 8192, vocabulary 128256 padded past the
synthetic tokenizer, tied, llama3 RoPE with Llama 3.2's numbers) and checks one prompt of 64
tokens. 16 layers need about 2.5 GB of disk and well over 12 GB of memory (the reference holds
the weights in float64); `--large-layers 1` (about 8 GB, 1.5 minutes) keeps every other shape.
Prints one line per case; exits 1 if any case fails.
"""

import argparse
import cmath
import copy
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy as np
    import torch
    import gpt2ref
    import llamaref
    import run_reference as rr
except ImportError as e:  # a missing dependency is a failure, not a skip
    print(f"FAIL setup: {e} (needs Debian's python3-torch, python3-numpy, python3-regex)")
    sys.exit(1)

Failure = rr.Failure
check = rr.check

PROB_ATOL = rr.PROB_ATOL
PROB_RTOL = rr.PROB_RTOL
ENTROPY_ATOL = rr.ENTROPY_ATOL
TIE_EPS = rr.TIE_EPS

LLAMA3_SMALL = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 64}

# Checkpoint variants. tok: which synthetic tokenizer (run_reference.TOKENIZERS; always written as
# tokenizer.json, merges as strings or as pairs). pad: vocab_size when larger than the tokenizer.
# The remaining keys go to llamaref.make_config.
CHECKPOINTS = [
    dict(name="llama-l2-h32-f32-tied-mha", family="llama", tok=("A", "json-strings"),
         n_layer=2, hidden=32, intermediate=64, n_head=4, max_pos=48, dtype="F32", tied=True),
    # head_dim 12: wavelengths 6.3 (kept), 29 (interpolated), 135 and up (divided by 8) against
    # original_max_position_embeddings 64 -> all three llama3 regimes at once.
    dict(name="llama-l3-h48-bf16-untied-gqa4x2-llama3-biases-sharded", family="llama",
         tok=("B", "json-pairs"), n_layer=3, hidden=48, intermediate=96, n_head=4, n_kv=2,
         max_pos=64, dtype="BF16", tied=False, attention_bias=True, mlp_bias=True,
         rope_scaling=LLAMA3_SMALL, shards=2, order="random"),
    # The legacy {"type": "linear"} spelling; tie_word_embeddings absent means untied for llama.
    dict(name="llama-l2-h64-f16-untied-mqa-linear-rope-tie-key-absent", family="llama",
         tok=("C", "json-strings"), n_layer=2, hidden=64, intermediate=128, n_head=4, n_kv=1,
         max_pos=64, dtype="F16", tied=False, rope_theta=500.0,
         rope_scaling={"type": "linear", "factor": 4.0}, omit=("tie_word_embeddings",)),
    # heads x head_dim = 64 != hidden_size 32 (o_proj maps 64 back to 32); num_key_value_heads
    # absent (= num_attention_heads); rope_parameters spelling, no top-level rope_theta.
    dict(name="llama-l1-h32-f32-tied-rope_parameters-llama3-head_dim16-padded-vocab",
         family="llama", tok=("A", "json-pairs"), n_layer=1, hidden=32, intermediate=80,
         n_head=4, head_dim=16, max_pos=80, dtype="F32", tied=True, pad=1024,
         rope_parameters={"rope_type": "llama3", "rope_theta": 2000.0, "factor": 4.0,
                          "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                          "original_max_position_embeddings": 128},
         omit=("num_key_value_heads",)),
    dict(name="mistral-l2-h32-bf16-untied-gqa4x2-window5", family="mistral",
         tok=("B", "json-strings"), n_layer=2, hidden=32, intermediate=64, n_head=4, n_kv=2,
         max_pos=48, dtype="BF16", tied=False, sliding_window=5, rope_theta=1000.0),
    # Old Llama/Mistral conversions carry rotary_emb.inv_freq buffers: extra tensors to ignore.
    dict(name="mistral-l3-h48-f32-tied-head_dim8-no-window-extra-tensors", family="mistral",
         tok=("A", "json-strings"), n_layer=3, hidden=48, intermediate=64, n_head=4, n_kv=4,
         head_dim=8, max_pos=40, dtype="F32", tied=True, sliding_window=None, extra=True),
    # use_sliding_window false: sliding_window (shorter than the prompt) must be ignored.
    dict(name="qwen2-l2-h32-f32-tied-padded-window-set-but-unused", family="qwen2",
         tok=("A", "json-strings"), n_layer=2, hidden=32, intermediate=64, n_head=4, n_kv=2,
         max_pos=48, dtype="F32", tied=True, pad=896, use_sliding_window=False,
         sliding_window=4, max_window_layers=0, rope_theta=10000.0),
    # Layers >= max_window_layers slide: layer 0 full, layers 1 and 2 a window of 6.
    dict(name="qwen2-l3-h48-f16-untied-gqa6x2-window6-from-layer1", family="qwen2",
         tok=("C", "json-pairs"), n_layer=3, hidden=48, intermediate=96, n_head=6, n_kv=2,
         max_pos=64, dtype="F16", tied=False, use_sliding_window=True, sliding_window=6,
         max_window_layers=1, rope_theta=1e6),
    # layer_types wins over max_window_layers (which alone would make no layer slide).
    dict(name="qwen2-l2-h32-bf16-tied-mqa-layer_types-window3", family="qwen2",
         tok=("B", "json-strings"), n_layer=2, hidden=32, intermediate=48, n_head=2, n_kv=1,
         max_pos=32, dtype="BF16", tied=True, use_sliding_window=True, sliding_window=3,
         max_window_layers=2, layer_types=["sliding_attention", "full_attention"]),
    dict(name="qwen3-l2-h32-f32-tied-qknorm-head_dim16-gqa4x2-padded", family="qwen3",
         tok=("B", "json-pairs"), n_layer=2, hidden=32, intermediate=64, n_head=4, n_kv=2,
         head_dim=16, max_pos=48, dtype="F32", tied=True, pad=2304, rope_theta=1e6),
    dict(name="qwen3-l3-h64-bf16-untied-mqa-attention_bias-rope_parameters-sharded",
         family="qwen3", tok=("C", "json-strings"), n_layer=3, hidden=64, intermediate=128,
         n_head=4, n_kv=1, head_dim=16, max_pos=64, dtype="BF16", tied=False,
         attention_bias=True, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
         shards=3, order="sorted"),
    dict(name="qwen3-l2-h32-f16-untied-window7-all-layers-linear-rope", family="qwen3",
         tok=("A", "json-pairs"), n_layer=2, hidden=32, intermediate=64, n_head=2, n_kv=2,
         head_dim=16, max_pos=40, dtype="F16", tied=False, use_sliding_window=True,
         sliding_window=7, max_window_layers=0, rope_theta=300.0,
         rope_scaling={"rope_type": "linear", "factor": 2.0}),
    # More than 6,000 ids (the engine tiles the unembedding by about 2,048 ids), padded past the
    # tokenizer; embeddings + 1 layer x 160 positions is more than one chunk of cells.
    dict(name="llama-l1-h32-f32-tied-gqa4x2-vocab-6k-padded", family="llama",
         tok=("D", "json-strings"), n_layer=1, hidden=32, intermediate=64, n_head=4, n_kv=2,
         max_pos=160, dtype="F32", tied=True, pad=6144, emb_scale=3.5),
]

# Llama-3.2-1B's shape (its config.json's numbers), random weights, synthetic tokenizer.
LARGE = dict(name="llama-3.2-1b-shape-bf16", family="llama", tok=("D", "json-strings"),
             n_layer=16, hidden=2048, intermediate=8192, n_head=32, n_kv=8, head_dim=64,
             max_pos=131072, dtype="BF16", tied=True, pad=128256, eps=1e-5, rope_theta=500000.0,
             rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                           "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
             attention_bias=False, mlp_bias=False)

CONFIG_KEYS = ("n_kv", "head_dim", "tied", "eps", "rope_theta", "rope_scaling", "rope_parameters",
               "attention_bias", "mlp_bias", "sliding_window", "use_sliding_window",
               "max_window_layers", "layer_types", "omit")


class Checkpoint:
    def __init__(self, spec, tok, root, rng):
        self.spec = spec
        self.tok = tok
        self.dir = os.path.join(root, spec["name"])
        self.n_text = len(tok.vocab)
        V = spec.get("pad", self.n_text)
        self.bos = tok.vocab[gpt2ref.EOT]
        kw = {k: spec[k] for k in CONFIG_KEYS if k in spec}
        self.config = llamaref.make_config(
            spec["family"], spec["hidden"], spec["intermediate"], spec["n_layer"], spec["n_head"],
            V, spec["max_pos"], dtype=spec["dtype"], bos_token_id=self.bos, **kw)
        self.cfg = llamaref.normalise_config(self.config)
        nrng = np.random.default_rng(rng.randrange(1 << 30))
        weights = llamaref.random_weights(self.cfg, nrng, emb_scale=spec.get("emb_scale", 2.5),
                                          padded_from=self.n_text if V > self.n_text else None)
        extra = None
        if spec.get("extra"):
            D = self.cfg["head_dim"]
            extra = [(f"model.layers.{l}.self_attn.rotary_emb.inv_freq",
                      nrng.standard_normal(D // 2).astype(np.float32))
                     for l in range(self.cfg["n_layer"])]
            extra.append(("model.some_future_buffer", np.ones((3, 5), dtype=np.float32)))
        self.stored = llamaref.write_checkpoint(
            self.dir, self.config, weights, dtype=spec["dtype"], shards=spec.get("shards", 1),
            rng=rng, tensor_order=spec.get("order", "natural"), extra_tensors=extra)
        tok.write_tokenizer_json(self.dir, merges_as_pairs=(spec["tok"][1] == "json-pairs"))
        self.model = llamaref.TorchLlama(self.cfg, self.stored)
        self.cache = {}

    def reference(self, ids):
        """(probs (L+1, T, V) with row 0 the embeddings, the model's own probs (T, V))."""
        key = tuple(ids)
        if key not in self.cache:
            with torch.no_grad():
                resid, logits = self.model.forward(ids)
                logp = self.model.lens(resid)
                model_logp = torch.log_softmax(logits, dim=-1)
                d = (logp[-1] - model_logp).abs().max().item()
                check(d < 1e-9, f"reference self-check: last lens row differs from model by {d}")
            self.cache = {key: (logp.exp().numpy(), model_logp.exp().numpy())}
        return self.cache[key]


def check_text(ck, i, text, where):
    if i < ck.n_text:
        rr.check_text(ck.tok, i, text, where)
    else:
        # An id of the padded vocabulary has no text in the tokenizer: any string will do.
        check(isinstance(text, str), f"{where}: id {i} (padding, no text) text {text!r}")


def compare_json(ck, out, prompt, layers, top_k, targets, with_embed):
    cfg = ck.cfg
    L = cfg["n_layer"]
    try:
        j = json.loads(out)
    except ValueError as e:
        raise Failure(f"stdout is not JSON: {e}: {out[:200]!r}")
    m = j.get("model", {})
    # A nested config (gemma3 around gemma3_text) may be reported as either model_type.
    archs = cfg.get("accept_architectures", (cfg["model_type"],))
    check(m.get("architecture") in archs,
          f"model.architecture {m.get('architecture')!r}, want {' or '.join(map(repr, archs))}")
    for key, want in (("n_layer", L), ("d_model", cfg["hidden_size"]), ("n_head", cfg["n_head"]),
                      ("vocab_size", cfg["vocab_size"])):
        check(m.get(key) == want, f"model.{key} = {m.get(key)!r}, want {want}")
    check(isinstance(m.get("path"), str), "model.path missing")
    check(j.get("prompt") == prompt, f"prompt {j.get('prompt')!r} != {prompt!r}")

    # The forward pass runs on the ids the CLI printed (tokenizer conformance is tested
    # elsewhere); they must still be my encoding, with at most a leading BOS.
    ids = [t["id"] for t in j["tokens"]]
    mine = ck.tok.encode(prompt)
    check(ids == mine or ids == [ck.bos] + mine,
          f"token ids differ:\n  cli  {ids}\n  mine {mine}")
    for t in j["tokens"]:
        check_text(ck, t["id"], t["text"], "token")

    want_layers = (["embed"] if with_embed else []) + layers
    check(j["layers"] == want_layers, f"layers {j['layers']} != {want_layers}")

    probs, model_probs = ck.reference(ids)
    rows = [0 if l == "embed" else l + 1 for l in want_layers]
    T = len(ids)
    V = cfg["vocab_size"]
    K = min(top_k, V)
    cells = j["cells"]
    check(len(cells) == len(rows), f"{len(cells)} rows of cells, want {len(rows)}")
    worst = 0.0
    worst_h = 0.0
    padded_seen = 0

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
            got_ids = [e["id"] for e in top]
            check(all(got_p[i] >= got_p[i + 1] for i in range(K - 1)),
                  f"{where}: top list not sorted: {got_p}")
            check(len(set(got_ids)) == K, f"{where}: duplicate ids in top list")
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
                check_text(ck, e["id"], e["text"], where)
                padded_seen += e["id"] >= ck.n_text
            for i in order[:K]:
                if p[i] > kth + TIE_EPS:
                    check(int(i) in got_ids, f"{where}: reference top id {int(i)} "
                          f"(p={p[i]:.6g}) missing from {got_ids}")
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
        tids = ck.tok.encode(text)
        check(jt["text"] == text, f"target text {jt['text']!r} != {text!r}")
        check(jt["ids"] == tids, f"target {text!r} ids {jt['ids']} != {tids}")
        check(len(jt["prob"]) == len(rows), f"target {text!r}: {len(jt['prob'])} rows")
        for ri, r in enumerate(rows):
            check(len(jt["prob"][ri]) == T, f"target {text!r} row {ri}: wrong length")
            for t in range(T):
                check_prob(jt["prob"][ri][t], probs[r, t, tids[0]],
                           f"target {text!r} layer {want_layers[ri]} pos {t}")
    bos = " (BOS added)" if ids[:1] == [ck.bos] and ids != mine else ""
    return worst, worst_h, T, padded_seen, bos


def lens_case(cli, ck, prompt, top_k, targets, layers_spec=None, with_embed=True, env=None,
              model_dir=None):
    L = ck.cfg["n_layer"]
    args = ["--model", model_dir or ck.dir, "--json", "--top-k", str(top_k), "--prompt", prompt]
    if with_embed:
        args.append("--embeddings")
    if layers_spec:
        args += ["--layers", layers_spec]
        layers = rr.parse_layers_spec(layers_spec, L)
    else:
        layers = list(range(L))
    for t in targets:
        args += ["--target", t]
    p, dt = rr.run_cli(cli, args, env=env)
    if p.returncode != 0:
        raise Failure(f"exit {p.returncode}: {p.stderr.decode(errors='replace').strip()[:300]}")
    worst, worst_h, T, padded, bos = compare_json(ck, p.stdout.decode("utf-8"), prompt, layers,
                                                  top_k, targets, with_embed)
    pad = f" padded-ids-in-top={padded}" if ck.cfg["vocab_size"] > ck.n_text else ""
    return f"T={T}{bos} K={top_k} rows={len(layers) + with_embed} max|dp|={worst:.2g} " \
           f"max|dH|={worst_h:.2g}{pad} {dt:.2f}s"


def metrics_case(cli, ck, prompt, top_k, **kw):
    """--metrics (and --sublayers unless sublayers=False) against the reference; for the
    checkpoints of every runner built on this one (ck.model: a torch model keeping .mids)."""
    import metricsref
    mine = ck.tok.encode(prompt)

    def ids_of(j):
        ids = [t["id"] for t in j["tokens"]]
        check(ids == mine or ids == [ck.bos] + mine,
              f"token ids differ:\n  cli  {ids}\n  mine {mine}")
        return ids

    return metricsref.metrics_case(
        cli, ck.model, ck.dir, prompt, ids_of, top_k=top_k, L=ck.cfg["n_layer"],
        text_ok=lambda i, text, where: check_text(ck, i, text, where), **kw)


def lens_cases(cli, ck, rng, root):
    cases = []
    L = ck.cfg["n_layer"]
    P = ck.cfg["max_position_embeddings"]
    V = ck.cfg["vocab_size"]
    n = ck.spec["name"]
    full = rr.fit_prompt(ck.tok, P, rng, with_eot=(L == 3))
    short = rr.fit_prompt(ck.tok, max(2, P // 3), rng)
    targets = [" Paris", " the logit lens", " 🙂"]
    spec_layers = {1: "0", 2: "0", 3: "0-2:2", 4: "1,2"}[L]
    cases.append((f"{n}/full-context-embed",
                  lambda: lens_case(cli, ck, full, 10, targets)))
    cases.append((f"{n}/short-no-embed-layers-{spec_layers}",
                  lambda: lens_case(cli, ck, short, 5, [" lens"], layers_spec=spec_layers,
                                    with_embed=False)))
    cases.append((f"{n}/embed-layers-last-only-topk1",
                  lambda: lens_case(cli, ck, short, 1, [], layers_spec=str(L - 1))))
    # --metrics --sublayers: every row (attention sub-layers included), kl_final, next
    cases.append((f"{n}/metrics-sublayers-embed", lambda: metrics_case(cli, ck, short, 5)))
    if L >= 3:
        cases.append((f"{n}/metrics-sublayers-layers-{spec_layers}",
                      lambda: metrics_case(cli, ck, short, 3, layers_spec=spec_layers,
                                           with_embed=False)))
    if V > 4096:
        # A top-k near a quarter of the vocabulary: every tile's partial list is full.
        K = V // 4 - 50
        cases.append((f"{n}/short-topk-{K}-of-{V}",
                      lambda: lens_case(cli, ck, short, K, [" lens"])))
        cases.append((f"{n}/full-context-openmp-team-smaller-than-asked",
                      lambda: lens_case(cli, ck, full, 10, targets,
                                        env={"OMP_NUM_THREADS": "4", "OMP_THREAD_LIMIT": "2"})))
    if V <= 1024:
        one = rr.fit_prompt(ck.tok, 1, rng)
        cases.append((f"{n}/one-token-topk-all-{V}",
                      lambda: lens_case(cli, ck, one, V, [" x"])))
    return cases


# ----------------------------------------------------------------------------------------------
# Bad input

def error_case(cli, args, mentions, max_seconds=None):
    """A non-zero exit, empty stdout, a one-line stderr naming one of `mentions` (the field or
    tensor at fault; naming only config.json would not tell a user which of its keys)."""
    t0 = time.monotonic()
    msg = rr.error_case(cli, args)
    dt = time.monotonic() - t0
    # Refusing the model_type (as an engine without these families does) proves nothing here.
    check("model_type" not in msg, f"message is about model_type: {msg!r}")
    check(any(m.lower() in msg.lower() for m in mentions),
          f"message names none of {mentions}: {msg!r}")
    if max_seconds is not None:
        check(dt <= max_seconds, f"took {dt:.1f}s (the sizes should be refused before use)")
    return msg


def edited_copy(ck, root, name, config_edit=None, tensor_edit=None):
    # A neutral folder name: the case names hold the very field names the messages must name.
    edited_copy.count += 1
    d = os.path.join(root, f"bad-{edited_copy.count}")
    shutil.copytree(ck.dir, d)
    if config_edit:
        path = os.path.join(d, "config.json")
        with open(path) as f:
            c = json.load(f)
        config_edit(c)
        with open(path, "w") as f:
            json.dump(c, f)
    if tensor_edit:
        rr.rewrite_safetensors(os.path.join(d, "model.safetensors"), edit_tensors=tensor_edit)
    return d


edited_copy.count = 0


def error_cases(cli, base, qwen2, qwen3, root, rng):
    """base: a single-file llama checkpoint with 4 heads of 8 over 32 wide and 4 kv heads;
    qwen2, qwen3: single-file checkpoints of those families."""
    cases = []
    prompt = rr.fit_prompt(base.tok, 4, rng)

    def config_case(name, edit, mentions, ck=base, max_seconds=None):
        def run():
            d = edited_copy(ck, root, name, config_edit=edit)
            return error_case(cli, ["--model", d, "--prompt", prompt, "--json"], mentions,
                              max_seconds)
        cases.append((name, run))

    def drop_tensor_case(name, tensor, ck=base):
        def run():
            d = edited_copy(ck, root, name,
                            tensor_edit=lambda ts: [t for t in ts if t[0] != tensor])
            return error_case(cli, ["--model", d, "--prompt", prompt, "--json"], [tensor])
        cases.append((name, run))

    def setter(**kv):
        def edit(c):
            for k, v in kv.items():
                if v is None:
                    c.pop(k, None)
                else:
                    c[k] = v
        return edit

    config_case("heads-do-not-divide-hidden_size-without-head_dim",
                setter(num_attention_heads=3, num_key_value_heads=3),
                ["num_attention_heads", "hidden_size"])
    config_case("kv-heads-do-not-divide-heads", setter(num_key_value_heads=3),
                ["num_key_value_heads"])
    config_case("kv-heads-zero", setter(num_key_value_heads=0),
                ["num_key_value_heads"])
    # 2 kv heads divide 4 heads, but the stored k_proj has 4 heads' rows.
    config_case("kv-heads-mismatch-k_proj-shape", setter(num_key_value_heads=2),
                ["k_proj", "v_proj", "num_key_value_heads"])
    config_case("head_dim-times-heads-mismatch-q_proj-shape", setter(head_dim=16),
                ["q_proj", "head_dim"])
    config_case("attention_bias-true-without-bias-tensors", setter(attention_bias=True),
                ["q_proj.bias", "k_proj.bias", "v_proj.bias", "o_proj.bias"])
    config_case("untied-without-lm_head", setter(tie_word_embeddings=False), ["lm_head"])
    config_case("vocab_size-mismatch-embed_tokens", setter(vocab_size=base.cfg["vocab_size"] + 1),
                ["embed_tokens", "vocab_size"])
    # LlamaConfig would default hidden_size to 4096: naming a tensor whose shape then
    # disagrees is as good.
    config_case("hidden_size-missing", setter(hidden_size=None), ["hidden_size", ".weight"])
    config_case("absurd-hidden_size-1e9", setter(hidden_size=10 ** 9),
                ["hidden_size", ".weight"], max_seconds=10)
    config_case("absurd-num_hidden_layers-1e9", setter(num_hidden_layers=10 ** 9),
                ["num_hidden_layers", "model.layers."], max_seconds=10)
    config_case("absurd-intermediate_size-1e12", setter(intermediate_size=10 ** 12),
                ["intermediate_size", "_proj.weight"], max_seconds=10)
    config_case("absurd-num_attention_heads-2e9", setter(num_attention_heads=2 * 10 ** 9,
                                                         num_key_value_heads=2 * 10 ** 9,
                                                         head_dim=1),
                ["num_attention_heads", "num_key_value_heads", "_proj.weight"],
                max_seconds=10)
    config_case("negative-num_hidden_layers", setter(num_hidden_layers=-2),
                ["num_hidden_layers"])
    config_case("unknown-rope_type-in-rope_scaling",
                setter(rope_scaling={"rope_type": "frobnicated", "factor": 2.0}),
                ["frobnicated"])
    config_case("unknown-rope_type-in-rope_parameters",
                setter(rope_scaling=None, rope_theta=None,
                       rope_parameters={"rope_type": "frobnicated", "rope_theta": 10000.0}),
                ["frobnicated"])
    config_case("llama3-rope-without-low_freq_factor",
                setter(rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                     "high_freq_factor": 4.0,
                                     "original_max_position_embeddings": 64}),
                ["low_freq_factor"])
    # HF would build an all-masked attention (NaN); an engine must refuse it instead.
    config_case("mistral-sliding_window-zero", setter(model_type="mistral", sliding_window=0,
                                                      architectures=["MistralForCausalLM"]),
                ["sliding_window"])
    drop_tensor_case("missing-down_proj", "model.layers.1.mlp.down_proj.weight")
    drop_tensor_case("missing-model.norm", "model.norm.weight")
    drop_tensor_case("qwen3-missing-q_norm", "model.layers.0.self_attn.q_norm.weight", ck=qwen3)
    drop_tensor_case("qwen2-missing-k_proj-bias", "model.layers.1.self_attn.k_proj.bias", ck=qwen2)

    def extra_tensors_ignored():
        # Buffers old conversions carry, and a tensor no version knows: not an error.
        def add(ts):
            return ts + [("model.layers.0.self_attn.rotary_emb.inv_freq", "F32", [4],
                          np.arange(4, dtype=np.float32).tobytes()),
                         ("model.totally_unknown.weight", "F32", [2, 3],
                          np.ones(6, dtype=np.float32).tobytes())]
        d = edited_copy(base, root, "extra-tensors", tensor_edit=add)
        return lens_case(cli, base, prompt, 5, [" x"], model_dir=d)
    cases.append(("extra-tensors-are-ignored", extra_tensors_ignored))
    return cases


# ----------------------------------------------------------------------------------------------
# Self-checks of the reference (no CLI)

def naive_forward(cfg, w, ids):
    """A second, loop-by-loop forward pass: per position, per head, per key; RoPE as complex
    rotations of the pairs (i, i + head_dim/2); the kv head of query head h indexed as
    h // (heads / kv heads); the window as `i - j < window`. Returns the residuals (L+1, T, C)."""
    T = len(ids)
    H, KV, D = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
    group = H // KV
    eps = cfg["eps"]
    inv_freq = naive_inv_freq(cfg["rope"], D)

    def rms(v, g):
        return g * v / math.sqrt(float((v * v).mean()) + eps)

    def lin(v, name, bias):
        y = w[name + ".weight"] @ v
        return y + w[name + ".bias"] if bias else y

    def rot(v, pos):
        out = v.copy()
        for k in range(D // 2):
            z = complex(v[k], v[k + D // 2]) * cmath.exp(1j * pos * inv_freq[k])
            out[k], out[k + D // 2] = z.real, z.imag
        return out

    x = [w["model.embed_tokens.weight"][i].copy() for i in ids]
    kept = [np.stack(x)]
    for l in range(cfg["n_layer"]):
        p = f"model.layers.{l}."
        a = p + "self_attn."
        hs = [rms(v, w[p + "input_layernorm.weight"]) for v in x]
        qs, ks, vs = [], [], []
        for t, h in enumerate(hs):
            q = lin(h, a + "q_proj", cfg["qkv_bias"]).reshape(H, D)
            k = lin(h, a + "k_proj", cfg["qkv_bias"]).reshape(KV, D)
            v = lin(h, a + "v_proj", cfg["qkv_bias"]).reshape(KV, D)
            if cfg["qk_norm"]:
                q = np.stack([rms(qh, w[a + "q_norm.weight"]) for qh in q])
                k = np.stack([rms(kh, w[a + "k_norm.weight"]) for kh in k])
            qs.append([rot(qh, t) for qh in q])
            ks.append([rot(kh, t) for kh in k])
            vs.append(v)
        window = cfg["windows"][l]
        new_x = []
        for i in range(T):
            heads = []
            for h in range(H):
                g = h // group
                keys = [j for j in range(T) if j <= i and (window is None or i - j < window)]
                s = np.array([qs[i][h] @ ks[j][g] / math.sqrt(D) for j in keys])
                e = np.exp(s - s.max())
                e /= e.sum()
                heads.append(sum(e[n] * vs[j][g] for n, j in enumerate(keys)))
            y = lin(np.concatenate(heads), a + "o_proj", cfg["o_bias"])
            r = x[i] + y
            m = rms(r, w[p + "post_attention_layernorm.weight"])
            gate = lin(m, p + "mlp.gate_proj", cfg["mlp_bias"])
            up = lin(m, p + "mlp.up_proj", cfg["mlp_bias"])
            act = gate / (1.0 + np.exp(-gate)) * up
            new_x.append(r + lin(act, p + "mlp.down_proj", cfg["mlp_bias"]))
        x = new_x
        kept.append(np.stack(x))
    return np.stack(kept)


def naive_inv_freq(rope, D):
    """The three RoPE variants one frequency at a time, with the llama3 cases spelt out."""
    out = []
    for k in range(D // 2):
        f = rope["theta"] ** (-2.0 * k / D)
        if rope["type"] == "linear":
            f /= rope["factor"]
        elif rope["type"] == "llama3":
            old = rope["original_max_position_embeddings"]
            lo, hi = rope["low_freq_factor"], rope["high_freq_factor"]
            wavelen = 2 * math.pi / f
            if wavelen < old / hi:
                pass
            elif wavelen > old / lo:
                f /= rope["factor"]
            else:
                s = (old / wavelen - lo) / (hi - lo)
                f = (1 - s) * f / rope["factor"] + s * f
        out.append(f)
    return out


def llama3_regimes(rope, D):
    """How many frequencies llama3 keeps, interpolates and divides."""
    old = rope["original_max_position_embeddings"]
    kept = interp = divided = 0
    for k in range(D // 2):
        wavelen = 2 * math.pi * rope["theta"] ** (2.0 * k / D)
        if wavelen < old / rope["high_freq_factor"]:
            kept += 1
        elif wavelen > old / rope["low_freq_factor"]:
            divided += 1
        else:
            interp += 1
    return kept, interp, divided


def lens_probs(model, ids):
    with torch.no_grad():
        resid, _ = model.forward(ids)
        return model.lens(resid).exp()


def selfcheck_cases(cks, rng):
    cases = []
    trng = torch.Generator().manual_seed(rng.randrange(1 << 30))

    def rope_vs_complex():
        worst = 0.0
        for rope in ({"type": "default", "theta": 10000.0},
                     {"type": "linear", "theta": 500.0, "factor": 4.0},
                     dict(llamaref.rope_settings({"rope_scaling": LLAMA3_SMALL,
                                                  "max_position_embeddings": 64}))):
            for D in (8, 12, 16):
                T = 20
                x = torch.randn(3, T, D, generator=trng, dtype=torch.float64)
                cos, sin = llamaref.rope_cos_sin(llamaref.rope_inv_freq(rope, D), T)
                got = llamaref.apply_rope(x, cos, sin)
                f = naive_inv_freq(rope, D)
                for h in range(3):
                    for t in range(T):
                        for k in range(D // 2):
                            z = complex(x[h, t, k], x[h, t, k + D // 2]) * cmath.exp(1j * t * f[k])
                            worst = max(worst, abs(got[h, t, k] - z.real),
                                        abs(got[h, t, k + D // 2] - z.imag))
        check(worst < 1e-12, f"RoPE differs from complex rotation by {worst}")
        return f"max diff {worst:.2g}"

    def linear_is_scaled_positions():
        D, T, factor = 16, 30, 4.0
        inv = llamaref.rope_inv_freq({"type": "default", "theta": 500.0}, D)
        lin = llamaref.rope_inv_freq({"type": "linear", "theta": 500.0, "factor": factor}, D)
        pos = torch.arange(T, dtype=torch.float64) / factor
        want = torch.cat((torch.outer(pos, inv),) * 2, dim=-1).cos()
        got, _ = llamaref.rope_cos_sin(lin, T)
        d = (got - want).abs().max().item()
        check(d < 1e-12, f"linear RoPE is not positions / factor: {d}")
        return f"max diff {d:.2g}"

    def llama3_regimes_present():
        out = []
        for ck in cks:
            rope = ck.cfg["rope"]
            if rope["type"] != "llama3":
                continue
            kept, interp, divided = llama3_regimes(rope, ck.cfg["head_dim"])
            check(kept and interp and divided,
                  f"{ck.spec['name']}: llama3 regimes kept/interpolated/divided = "
                  f"{kept}/{interp}/{divided}; the test needs all three")
            f = naive_inv_freq(rope, ck.cfg["head_dim"])
            d = max(abs(a - b) for a, b in zip(f, llamaref.rope_inv_freq(rope, ck.cfg["head_dim"])))
            check(d < 1e-15, f"llama3 frequencies differ from the scalar formula by {d}")
            out.append(f"{kept}/{interp}/{divided}")
        check(out, "no llama3 checkpoint")
        return "kept/interpolated/divided " + ", ".join(out)

    def mask_vs_loop():
        for T in (1, 5, 12):
            for window in (None, 1, 2, 3, 5, 12, 20):
                got = llamaref.attention_allowed(T, window)
                for i in range(T):
                    for j in range(T):
                        want = j <= i and (window is None or i - j < window)
                        check(bool(got[i, j]) == want, f"mask T={T} window={window} [{i},{j}]")
                    n = int(got[i].sum())
                    check(n == (i + 1 if window is None else min(i + 1, window)),
                          f"query {i} sees {n} keys with window {window}")
        return "windows None,1,2,3,5,12,20 at T=1,5,12"

    def gqa_vs_repeat_interleave():
        for KV, rep in ((1, 4), (2, 2), (2, 3), (4, 1)):
            x = torch.randn(KV, 7, 5, generator=trng, dtype=torch.float64)
            got = llamaref.repeat_kv(x, rep)
            check(torch.equal(got, torch.repeat_interleave(x, rep, dim=0)),
                  f"repeat_kv({KV} kv heads x {rep})")
            for h in range(KV * rep):
                check(torch.equal(got[h], x[h // rep]), f"head {h} does not read kv head {h // rep}")
        return "1x4, 2x2, 2x3, 4x1"

    def config_conventions():
        base = llamaref.make_config("qwen2", 32, 64, 4, 4, 100, 64, n_kv=2, sliding_window=3,
                                    use_sliding_window=False, max_window_layers=1)
        c = llamaref.normalise_config(base)
        check(c["windows"] == [None] * 4, f"use_sliding_window false: {c['windows']}")
        c = llamaref.normalise_config(dict(base, use_sliding_window=True))
        check(c["windows"] == [None, 3, 3, 3], f"max_window_layers 1: {c['windows']}")
        c = llamaref.normalise_config(dict(base, use_sliding_window=True, layer_types=[
            "full_attention", "sliding_attention", "full_attention", "sliding_attention"]))
        check(c["windows"] == [None, 3, None, 3], f"layer_types: {c['windows']}")
        c = llamaref.normalise_config(dict(base, layer_types=["sliding_attention"] * 4))
        check(c["windows"] == [None] * 4, "a sliding layer without use_sliding_window")
        m = llamaref.make_config("mistral", 32, 64, 2, 4, 100, 64, omit=("sliding_window",))
        check(llamaref.normalise_config(m)["windows"] == [4096, 4096], "mistral default window")
        check(llamaref.normalise_config(m)["tied"] is True, "explicit tie")
        m = llamaref.make_config("llama", 32, 64, 2, 4, 100, 64, omit=("tie_word_embeddings",
                                                                      "num_key_value_heads"))
        c = llamaref.normalise_config(m)
        check(c["tied"] is False and c["n_kv_head"] == 4, "llama defaults")
        r = llamaref.rope_settings({"rope_theta": 7.0, "rope_scaling": {"type": "linear",
                                                                        "factor": 2.0},
                                    "rope_parameters": {"rope_type": "default",
                                                        "rope_theta": 9.0},
                                    "max_position_embeddings": 8})
        check(r == {"type": "linear", "theta": 7.0, "factor": 2.0}, f"rope_scaling wins: {r}")
        r = llamaref.rope_settings({"rope_parameters": {"rope_type": "llama3", "rope_theta": 9.0,
                                                        "factor": 2.0, "low_freq_factor": 1.0,
                                                        "high_freq_factor": 4.0},
                                    "max_position_embeddings": 8})
        check(r["theta"] == 9.0 and r["original_max_position_embeddings"] == 8,
              f"rope_parameters: {r}")
        q3 = llamaref.make_config("qwen3", 32, 64, 2, 4, 100, 64)
        check(llamaref.normalise_config(q3)["head_dim"] == 128, "qwen3 head_dim default")
        return "windows, layer_types, defaults, rope spellings"

    def stored_values_round_trip(ck):
        def run():
            files = [f for f in os.listdir(ck.dir) if f.endswith(".safetensors")]
            got = {}
            for f in files:
                got.update(gpt2ref.read_safetensors(os.path.join(ck.dir, f)))
            for name, val in ck.stored.items():
                check(name in got, f"{name} not in the files")
                check(np.array_equal(got[name].astype(np.float64), val),
                      f"{name}: file values differ from the reference's")
            return f"{len(ck.stored)} tensors in {len(files)} file(s) ({ck.spec['dtype']})"
        return run

    def naive_matches(ck):
        def run():
            ids = rr.fit_prompt(ck.tok, min(ck.cfg["max_position_embeddings"], 24), rng)
            ids = ck.tok.encode(ids)
            with torch.no_grad():
                resid, logits = ck.model.forward(ids)
                last = ck.model.lens(resid)[-1]
            naive = naive_forward(ck.cfg, ck.stored, ids)
            d = float(np.abs(resid.numpy() - naive).max())
            check(d < 1e-9, f"vectorised vs loop forward: residuals differ by {d}")
            d2 = (last - torch.log_softmax(logits, -1)).abs().max().item()
            check(d2 < 1e-12, f"last lens row vs the model's logits: {d2}")
            # float32 (what an engine computes in) against float64: far inside PROB_ATOL.
            m32 = llamaref.TorchLlama(ck.cfg, ck.stored, dtype=torch.float32)
            p64 = lens_probs(ck.model, ids)
            p32 = lens_probs(m32, ids).to(torch.float64)
            d3 = (p64 - p32).abs().max().item()
            check(d3 < PROB_ATOL / 10, f"float32 lens differs from float64 by {d3}")
            return f"T={len(ids)} loop-vs-vectorised {d:.2g}, last-row-vs-logits {d2:.2g}, " \
                   f"float32 max|dp| {d3:.2g}"
        return run

    def sensitivity(ck):
        """Every feature the checkpoint has must move some probability by far more than the
        tolerance, else the lens cases could not catch an engine that gets it wrong."""
        def run():
            cfg = ck.cfg
            ids = ck.tok.encode(rr.fit_prompt(ck.tok, cfg["max_position_embeddings"], rng))
            base = lens_probs(ck.model, ids)
            out = []

            def moved(label, model):
                d = (lens_probs(model, ids) - base).abs().max().item()
                check(d > 100 * PROB_ATOL, f"{label}: probabilities move only {d:.2g}")
                out.append(f"{label} {d:.2g}")

            def variant(**changes):
                c = copy.deepcopy(cfg)
                c.update(changes)
                return llamaref.TorchLlama(c, ck.stored)

            if cfg["rope"]["type"] != "default":
                moved("no-rope-scaling", variant(rope=dict(cfg["rope"], type="default")))
            else:
                moved("theta-x2", variant(rope=dict(cfg["rope"], theta=cfg["rope"]["theta"] * 2)))
            if any(w is not None and w < len(ids) for w in cfg["windows"]):
                moved("no-window", variant(windows=[None] * cfg["n_layer"]))
                moved("window+1", variant(windows=[None if w is None else w + 1
                                                   for w in cfg["windows"]]))
            elif cfg["model_type"] in ("qwen2", "qwen3", "mistral"):
                moved("window-4-everywhere", variant(windows=[4] * cfg["n_layer"]))
            if cfg["qk_norm"]:
                moved("no-qk-norm", variant(qk_norm=False))
            if cfg["qkv_bias"]:
                moved("no-qkv-bias", variant(qkv_bias=False))
            if cfg["o_bias"]:
                moved("no-o-bias", variant(o_bias=False))
            if cfg["mlp_bias"]:
                moved("no-mlp-bias", variant(mlp_bias=False))
            if not cfg["tied"]:
                moved("tied-instead", variant(tied=True))
            moved("eps-1e-1", variant(eps=0.1))
            # RoPE pairing (i, i + 1) as in GPT-J / the Meta checkpoints, instead of
            # (i, i + D/2).
            m = variant()
            D = cfg["head_dim"]
            perm = torch.cat((torch.arange(0, D, 2), torch.arange(1, D, 2)))
            inv = torch.argsort(perm)
            orig = llamaref.apply_rope
            try:
                llamaref.apply_rope = lambda x, c, s: orig(x[..., perm], c, s)[..., inv]
                moved("interleaved-rope", m)
            finally:
                llamaref.apply_rope = orig
            H, KV = cfg["n_head"], cfg["n_kv_head"]
            if 1 < KV < H:
                orig_rep = llamaref.repeat_kv
                try:
                    # kv head h % KV instead of h // (H / KV).
                    llamaref.repeat_kv = lambda x, n: x.repeat(n, 1, 1)
                    moved("kv-heads-tiled", variant())
                finally:
                    llamaref.repeat_kv = orig_rep
            return ", ".join(out)
        return run

    def runner_judges_fake_engines(ck):
        """The comparison itself: a float32 'engine' (this reference in float32, probabilities
        printed with 7 significant digits, padded ids with empty text) passes; engines that get
        one feature wrong fail."""
        def run():
            cfg = ck.cfg
            prompt = rr.fit_prompt(ck.tok, cfg["max_position_embeddings"], rng)
            L = cfg["n_layer"]
            layers = list(range(L))
            targets = [" Paris", " lens"]
            good = llamaref.TorchLlama(cfg, ck.stored, dtype=torch.float32)
            out = fake_json(ck, good, prompt, layers, 10, targets, True)
            worst, worst_h, T, padded, _ = compare_json(ck, out, prompt, layers, 10, targets, True)
            wrong = {"window+1": dict(windows=[None if w is None else w + 1
                                               for w in cfg["windows"]]),
                     "no-window": dict(windows=[None] * L),
                     "no-rope-scaling": dict(rope=dict(cfg["rope"], type="default")),
                     "tied-instead": dict(tied=True),
                     "no-qk-norm": dict(qk_norm=False),
                     "eps-x10": dict(eps=cfg["eps"] * 10)}
            caught = []
            for label, change in wrong.items():
                c = dict(copy.deepcopy(cfg), **change)
                if c == cfg:
                    continue
                bad = llamaref.TorchLlama(c, ck.stored, dtype=torch.float32)
                try:
                    compare_json(ck, fake_json(ck, bad, prompt, layers, 10, targets, True),
                                 prompt, layers, 10, targets, True)
                except Failure:
                    caught.append(label)
                    continue
                raise Failure(f"an engine with {label} passes the comparison")
            return f"float32 passes (max|dp| {worst:.2g}, max|dH| {worst_h:.2g}, padded ids " \
                   f"in top {padded}); caught {', '.join(caught)}"
        return run

    cases.append(("rope-matches-complex-rotation", rope_vs_complex))
    cases.append(("linear-rope-is-scaled-positions", linear_is_scaled_positions))
    cases.append(("llama3-rope-changes-some-frequencies", llama3_regimes_present))
    cases.append(("sliding-window-mask-matches-loop", mask_vs_loop))
    cases.append(("gqa-matches-explicit-kv-indexing", gqa_vs_repeat_interleave))
    cases.append(("config-conventions", config_conventions))
    for ck in cks:
        n = ck.spec["name"]
        cases.append((f"{n}/stored-values-round-trip", stored_values_round_trip(ck)))
        if ck.cfg["vocab_size"] <= 4096:
            cases.append((f"{n}/loop-forward-last-row-float32", naive_matches(ck)))
        cases.append((f"{n}/features-move-probabilities", sensitivity(ck)))
    for ck in cks:
        if ck.spec["name"] in FAKE_ENGINE_CHECKPOINTS:
            cases.append((f"{ck.spec['name']}/runner-passes-float32-fails-wrong-engines",
                          runner_judges_fake_engines(ck)))
    return cases


# Padded vocabulary, sliding windows, llama3 RoPE, qk-norm, untied, multiple windows per layer.
FAKE_ENGINE_CHECKPOINTS = (
    "llama-l1-h32-f32-tied-rope_parameters-llama3-head_dim16-padded-vocab",
    "mistral-l2-h32-bf16-untied-gqa4x2-window5",
    "qwen2-l3-h48-f16-untied-gqa6x2-window6-from-layer1",
    "qwen3-l2-h32-f32-tied-qknorm-head_dim16-gqa4x2-padded",
)


def fake_json(ck, model, prompt, layers, top_k, targets, with_embed):
    """What a correct engine computing in `model`'s precision would print for --json."""
    ids = ck.tok.encode(prompt)
    probs = lens_probs(model, ids).to(torch.float64).numpy()
    rows = ([0] if with_embed else []) + [l + 1 for l in layers]

    def text(i):
        if i >= ck.n_text:
            return ""
        shown = ck.tok.display(i)
        return shown if shown is not None else "".join(f"\\x{b:02x}" for b in ck.tok.token_bytes(i))

    def num(x):
        return float(f"{x:.7g}")

    cells = []
    for r in rows:
        row = []
        for t in range(len(ids)):
            p = probs[r, t]
            order = np.argsort(-p, kind="stable")[:min(top_k, len(p))]
            ent = float(-(p * np.log(np.where(p > 0, p, 1.0))).sum())
            row.append({"top": [{"id": int(i), "text": text(int(i)), "prob": num(p[i])}
                                for i in order], "entropy": num(ent)})
        cells.append(row)
    tj = []
    for tt in targets:
        tids = ck.tok.encode(tt)
        tj.append({"text": tt, "ids": tids,
                   "prob": [[num(probs[r, t, tids[0]]) for t in range(len(ids))] for r in rows]})
    cfg = ck.cfg
    return json.dumps({
        "model": {"path": ck.dir, "architecture": cfg["model_type"], "n_layer": cfg["n_layer"],
                  "d_model": cfg["hidden_size"], "n_head": cfg["n_head"],
                  "vocab_size": cfg["vocab_size"]},
        "prompt": prompt,
        "tokens": [{"id": i, "text": text(i)} for i in ids],
        "layers": (["embed"] if with_embed else []) + layers,
        "cells": cells,
        "targets": tj}, ensure_ascii=False)


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=None)
    ap.add_argument("--only", default=None, help="run only cases whose name contains this")
    ap.add_argument("--part", choices=["all", "selfcheck", "lens", "errors", "large"],
                    default="all")
    ap.add_argument("--keep", action="store_true", help="keep the temporary checkpoints")
    ap.add_argument("--seed", type=int, default=4321)
    ap.add_argument("--large-layers", type=int, default=LARGE["n_layer"],
                    help="--part large: fewer layers for a quicker, smaller run")
    args = ap.parse_args()
    if args.part != "selfcheck" and not args.cli:
        ap.error("--cli is needed for every part but selfcheck")
    torch.set_num_threads(1)
    cli = args.cli
    rng = random.Random(args.seed)
    t_start = time.monotonic()

    corpus = gpt2ref.make_corpus(random.Random(args.seed + 1), 20000)
    toks = {k: gpt2ref.train_bpe(corpus, a, b, random.Random(args.seed + ord(k)), shuffle_ranks=s)
            for k, (a, b, s) in rr.TOKENIZERS.items()}

    root = tempfile.mkdtemp(prefix="lens-reference-llama-")
    cases = []
    if args.part == "large":
        specs = [dict(LARGE, n_layer=args.large_layers)]
    elif args.part == "errors":
        specs = [s for s in CHECKPOINTS if s["name"] in (
            CHECKPOINTS[0]["name"], "qwen2-l2-h32-f32-tied-padded-window-set-but-unused",
            "qwen3-l2-h32-f32-tied-qknorm-head_dim16-gqa4x2-padded")]
    else:
        specs = CHECKPOINTS
    if args.only and args.part in ("lens", "selfcheck"):
        specs = [s for s in specs if args.only in s["name"]] or specs
    cks = [Checkpoint(spec, toks[spec["tok"][0]], root, rng) for spec in specs]
    by_name = {ck.spec["name"]: ck for ck in cks}

    if args.part == "large":
        ck = cks[0]
        text = rr.fit_prompt(ck.tok, 64, rng, with_eot=True)
        cases.append((f"{ck.spec['name']}/T=64",
                      lambda: lens_case(cli, ck, text, 10, [" Paris", " lens"])))
    if args.part in ("all", "selfcheck"):
        cases += [(f"selfcheck/{n}", fn) for n, fn in selfcheck_cases(cks, rng)]
    if args.part in ("all", "lens"):
        for ck in cks:
            cases += lens_cases(cli, ck, rng, root)
    if args.part in ("all", "errors"):
        cases += [(f"error/{n}", fn) for n, fn in error_cases(
            cli, by_name[CHECKPOINTS[0]["name"]],
            by_name["qwen2-l2-h32-f32-tied-padded-window-set-but-unused"],
            by_name["qwen3-l2-h32-f32-tied-qknorm-head_dim16-gqa4x2-padded"], root, rng)]

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
            print(f"FAIL {name}: {' '.join(str(e).split())}", flush=True)
        except subprocess.TimeoutExpired:
            n_fail += 1
            print(f"FAIL {name}: timed out", flush=True)
    print(f"{n_run - n_fail}/{n_run} cases passed in {time.monotonic() - t_start:.1f}s"
          + (f"; checkpoints kept in {root}" if args.keep else ""))
    print(f"{n_run - n_fail} passed, {n_fail} failed")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if n_fail or n_run == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
