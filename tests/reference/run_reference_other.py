#!/usr/bin/python3
"""Reference tests: logit-lens-cli --json against a float64 torch GPT-NeoX (Pythia), Phi-3 and
OLMo-2 (model_type gpt_neox, phi3, olmo2) on random checkpoints.

Writes random-weight checkpoints in Hugging Face layout with each family's twists switched on:
GPT-NeoX parallel and sequential residuals, partial rotary (rotary_pct 0.25, 0.5, 1.0, and 0.3
which truncates to 4 of 16 dims), the fused per-head query_key_value, LayerNorm with biases,
exact and tanh GELU, attention_bias false, untied embed_out and tied, the old (rotary_pct /
rotary_emb_base), 4.45 (both spellings) and v5 (rope_parameters) config keys, the legacy
attention.bias (BOOL) / masked_bias / rotary_emb.inv_freq buffers; Phi-3's fused qkv_proj and
gate_up_proj, GQA, partial_rotary_factor, longrope with original_max_position_embeddings 8 and
max_position_embeddings 32 on prompts both shorter and longer than 8 (short vs long factors,
attention factor), the legacy "su" type, an explicit attention_factor, a sliding window shorter
than the prompt; OLMo-2's post-norm blocks and whole-projection q/k norms, attention biases,
llama3 RoPE. F32/F16/BF16, single-file and sharded, padded vocabularies; the synthetic
byte-level BPE tokenizers of run_reference.py (tokenizer.json). Runs the CLI and compares every
number it prints with the lens computed here in float64 from the exact stored weights (the
comparison itself is run_reference_llama's). Then checks that hostile configs and checkpoints
give a one-line error naming the field or tensor.

Until the engine supports a family its lens cases fail with "model_type ... is not supported".

Usage: /usr/bin/python3 run_reference_other.py [--cli PATH] [--part all|selfcheck|lens|errors]
                                                [--only SUBSTRING] [--keep] [--seed N]
`--part selfcheck` needs no CLI: a loop-by-loop re-implementation (complex rotations on the
rotary dims, longrope factors one frequency at a time, the fused rows indexed by hand) agrees
with the vectorised reference; the fused layouts match separate projections; the last lens row is
the model's own output; float32 stays far inside the tolerances; every twist moves the
probabilities far more than the tolerances; the runner passes a float32 engine and catches
engines that get a twist wrong.
Prints one line per case; exits 1 if any case fails.
"""

import argparse
import cmath
import copy
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
    import otherref
    import run_reference as rr
    import run_reference_llama as rl
except ImportError as e:  # a missing dependency is a failure, not a skip
    print(f"FAIL setup: {e} (needs Debian's python3-torch, python3-numpy, python3-regex)")
    sys.exit(1)

Failure = rr.Failure
check = rr.check
PROB_ATOL = rr.PROB_ATOL


def longrope(rot, rng_seed, orig=8, attention_factor=None, type_key="type", type_name="longrope"):
    r = random.Random(rng_seed)
    d = {type_key: type_name,
         "short_factor": [round(1.0 + r.random(), 4) for _ in range(rot // 2)],
         "long_factor": [round(2.0 + 14.0 * r.random() * (i + 1) / (rot // 2), 4)
                         for i in range(rot // 2)]}
    if attention_factor is not None:
        d["attention_factor"] = attention_factor
    return d


# tok: which synthetic tokenizer (run_reference.TOKENIZERS; always tokenizer.json). pad:
# vocab_size when larger than the tokenizer. The other keys go to otherref.make_config.
CHECKPOINTS = [
    # Pythia's shape in miniature: parallel residual, rotary_pct 0.25 (4 of 16 dims), the old
    # key names only, untied embed_out, padded vocabulary, the legacy buffers (BOOL mask).
    dict(name="neox-l2-h64-f32-parallel-rot0.25-old-keys-legacy-buffers-padded",
         family="gpt_neox", tok=("A", "json-strings"), n_layer=2, hidden=64, intermediate=128,
         n_head=4, max_pos=40, dtype="F32", rotary_pct=0.25, rotary_emb_base=10000, style="old",
         pad=1000, legacy="BOOL"),
    # Sequential residual, half rotary (6 of 12), tanh GELU, 4.45-style keys, sharded, BF16.
    dict(name="neox-l3-h48-bf16-sequential-rot0.5-gelu_new-4.45-keys-sharded",
         family="gpt_neox", tok=("B", "json-pairs"), n_layer=3, hidden=48, intermediate=96,
         n_head=4, max_pos=48, dtype="BF16", rotary_pct=0.5, rotary_emb_base=500, style="4.45",
         parallel=False, hidden_act="gelu_new", tied=False, shards=2, order="random",
         legacy="F32"),
    # Full rotary, attention_bias false (no q/k/v/dense biases), tied embed_out, F16.
    dict(name="neox-l2-h32-f16-parallel-rot1.0-no-attention-bias-tied", family="gpt_neox",
         tok=("C", "json-strings"), n_layer=2, hidden=32, intermediate=64, n_head=2, max_pos=32,
         dtype="F16", rotary_pct=1.0, rotary_emb_base=10000, style="4.45", attention_bias=False,
         tied=True),
    # v5 spelling (rope_parameters only); 16 * 0.3 = 4.8 truncates to 4 rotary dims.
    dict(name="neox-l1-h64-f32-rope_parameters-rot0.3-truncates", family="gpt_neox",
         tok=("A", "json-pairs"), n_layer=1, hidden=64, intermediate=96, n_head=4, max_pos=32,
         dtype="F32", rotary_pct=0.3, rotary_emb_base=1000.0, style="v5"),
    # longrope, original 8 / max 32: attention factor sqrt(1 + ln 4 / ln 8); prompts on both
    # sides of 8.
    dict(name="phi3-l2-h32-f32-longrope-orig8-max32-untied", family="phi3",
         tok=("A", "json-strings"), n_layer=2, hidden=32, intermediate=64, n_head=4, n_kv=4,
         max_pos=32, dtype="F32", tied=False, original_max=8, rope_scaling="longrope"),
    # GQA 4x2, partial_rotary_factor 0.5 (6 of 12), window 5, padded, sharded, BF16.
    dict(name="phi3-l2-h48-bf16-longrope-partial0.5-gqa4x2-window5-padded-sharded",
         family="phi3", tok=("B", "json-strings"), n_layer=2, hidden=48, intermediate=96,
         n_head=4, n_kv=2, max_pos=32, dtype="BF16", tied=False, original_max=8,
         rope_scaling="longrope", partial_rotary_factor=0.5, sliding_window=5, pad=2304,
         shards=3, order="sorted"),
    # The legacy "su" type name (read as longrope), tied, F16.
    dict(name="phi3-l2-h32-f16-su-type-tied", family="phi3", tok=("C", "json-pairs"),
         n_layer=2, hidden=32, intermediate=48, n_head=2, n_kv=2, max_pos=32, dtype="F16",
         tied=True, original_max=8, rope_scaling="su"),
    # An explicit attention_factor (used instead of the default from the ratio).
    dict(name="phi3-l1-h32-f32-longrope-attention_factor-1.5-mqa", family="phi3",
         tok=("A", "json-strings"), n_layer=1, hidden=32, intermediate=64, n_head=4, n_kv=1,
         max_pos=32, dtype="F32", tied=False, original_max=8, rope_scaling="longrope-af"),
    # Phi-3-mini-4k-like: no rope_scaling, tie key absent (untied), window longer than prompts.
    dict(name="phi3-l2-h32-f32-default-rope-tie-absent", family="phi3",
         tok=("B", "json-pairs"), n_layer=2, hidden=32, intermediate=64, n_head=4, max_pos=32,
         dtype="F32", original_max=32, rope_theta=500.0, sliding_window=64,
         omit=("tie_word_embeddings",)),
    dict(name="olmo2-l2-h32-f32-gqa4x2-untied", family="olmo2", tok=("A", "json-strings"),
         n_layer=2, hidden=32, intermediate=64, n_head=4, n_kv=2, max_pos=32, dtype="F32",
         tied=False, rope_theta=500000.0),
    dict(name="olmo2-l3-h48-bf16-attention_bias-llama3-padded-sharded", family="olmo2",
         tok=("C", "json-strings"), n_layer=3, hidden=48, intermediate=96, n_head=4, max_pos=48,
         dtype="BF16", tied=False, attention_bias=True, pad=3584, shards=2, order="random",
         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                       "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
    dict(name="olmo2-l2-h64-f16-tied-mqa-rope_parameters", family="olmo2",
         tok=("B", "json-pairs"), n_layer=2, hidden=64, intermediate=96, n_head=4, n_kv=1,
         max_pos=32, dtype="F16", tied=True,
         rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
]

CONFIG_KEYS = ("n_kv", "tied", "eps", "rotary_pct", "rotary_emb_base", "style", "parallel",
               "hidden_act", "attention_bias", "rope_theta", "rope_parameters", "original_max",
               "partial_rotary_factor", "sliding_window", "omit")


class Checkpoint:
    def __init__(self, spec, tok, root, rng):
        self.spec = spec
        self.tok = tok
        self.dir = os.path.join(root, spec["name"])
        self.n_text = len(tok.vocab)
        V = spec.get("pad", self.n_text)
        self.bos = tok.vocab[gpt2ref.EOT]
        kw = {k: spec[k] for k in CONFIG_KEYS if k in spec}
        rs = spec.get("rope_scaling")
        if isinstance(rs, str):
            hd = spec["hidden"] // spec["n_head"]
            rot = int(hd * spec.get("partial_rotary_factor", 1.0))
            seed = rng.randrange(1 << 30)
            rs = {"longrope": lambda: longrope(rot, seed),
                  "su": lambda: longrope(rot, seed, type_name="su"),
                  "longrope-af": lambda: longrope(rot, seed, type_key="rope_type",
                                                  attention_factor=1.5)}[rs]()
        if rs is not None:
            kw["rope_scaling"] = rs
        self.config = otherref.make_config(
            spec["family"], spec["hidden"], spec["intermediate"], spec["n_layer"],
            spec["n_head"], V, spec["max_pos"], dtype=spec["dtype"], bos_token_id=self.bos, **kw)
        self.cfg = otherref.normalise_config(self.config)
        nrng = np.random.default_rng(rng.randrange(1 << 30))
        weights, self.separate = otherref.random_weights(
            self.cfg, nrng, emb_scale=spec.get("emb_scale", 2.5),
            padded_from=self.n_text if V > self.n_text else None)
        extra = otherref.neox_legacy_buffers(self.cfg, spec["legacy"]) if spec.get("legacy") \
            else None
        self.stored = otherref.write_checkpoint(
            self.dir, self.config, weights, dtype=spec["dtype"], shards=spec.get("shards", 1),
            rng=rng, tensor_order=spec.get("order", "natural"), extra_tensors=extra)
        tok.write_tokenizer_json(self.dir, merges_as_pairs=(spec["tok"][1] == "json-pairs"))
        self.model = otherref.TorchOther(self.cfg, self.stored)
        self.cache = {}

    # the lens and the model's own output of ids, as the llama suite computes them
    reference = rl.Checkpoint.reference


def lens_case(cli, ck, prompt, top_k, targets, **kw):
    info = rl.lens_case(cli, ck, prompt, top_k, targets, **kw)
    rope = ck.cfg["rope"]
    if rope["type"] == "longrope":
        # Which factors the reference used depends on the T the CLI printed (a BOS counts).
        T = int(info.split()[0][2:])
        info += " (long factors)" if T > rope["original_max_position_embeddings"] \
            else " (short factors)"
    return info


def lens_cases(cli, ck, rng):
    cases = []
    L = ck.cfg["n_layer"]
    P = ck.cfg["max_position_embeddings"]
    V = ck.cfg["vocab_size"]
    n = ck.spec["name"]
    full = rr.fit_prompt(ck.tok, P, rng, with_eot=(L == 3))
    short = rr.fit_prompt(ck.tok, max(2, P // 3), rng)
    targets = [" Paris", " the logit lens", " 🙂"]
    spec_layers = {1: "0", 2: "0", 3: "0-2:2"}[L]
    cases.append((f"{n}/full-context-embed", lambda: lens_case(cli, ck, full, 10, targets)))
    cases.append((f"{n}/short-no-embed-layers-{spec_layers}",
                  lambda: lens_case(cli, ck, short, 5, [" lens"], layers_spec=spec_layers,
                                    with_embed=False)))
    rope = ck.cfg["rope"]
    if rope["type"] == "longrope":
        orig = rope["original_max_position_embeddings"]
        for T in (orig - 2, orig, orig + 1):
            text = rr.fit_prompt(ck.tok, T, rng)
            cases.append((f"{n}/prompt-{T}-tokens-original-max-{orig}",
                          lambda text=text: lens_case(cli, ck, text, 10, [" x"])))
    else:
        cases.append((f"{n}/embed-layers-last-only-topk1",
                      lambda: lens_case(cli, ck, short, 1, [], layers_spec=str(L - 1))))
    # --metrics --sublayers (parallel residual: the attention's sub-layer row is x + attn alone)
    cases.append((f"{n}/metrics-sublayers-embed", lambda: rl.metrics_case(cli, ck, short, 5)))
    if V <= 1024:
        one = rr.fit_prompt(ck.tok, 1, rng)
        cases.append((f"{n}/one-token-topk-all-{V}", lambda: lens_case(cli, ck, one, V, [" x"])))
    return cases


# ----------------------------------------------------------------------------------------------
# Bad input

def error_cases(cli, neox, phi3, olmo2, root, rng):
    """neox: single-file gpt_neox, 4 heads of 16, biases; phi3: single-file phi3 with longrope,
    4 heads of 8 / 4 kv heads; olmo2: single-file olmo2 4 heads / 2 kv heads."""
    cases = []

    def prompt(ck):
        return rr.fit_prompt(ck.tok, 4, rng)

    def config_case(name, ck, edit, mentions):
        def run():
            d = rl.edited_copy(ck, root, name, config_edit=edit)
            return rl.error_case(cli, ["--model", d, "--prompt", prompt(ck), "--json"], mentions)
        cases.append((name, run))

    def tensor_case(name, ck, edit, mentions):
        def run():
            d = rl.edited_copy(ck, root, name, tensor_edit=edit)
            return rl.error_case(cli, ["--model", d, "--prompt", prompt(ck), "--json"], mentions)
        cases.append((name, run))

    def drop(tensor):
        return lambda ts: [t for t in ts if t[0] != tensor]

    def reshape(tensor, shape):
        def edit(ts):
            out = []
            for nm, dt, shp, raw in ts:
                if nm == tensor:
                    shp = list(shape)
                    raw = bytes(gpt2ref.DTYPE_SIZE[dt] * int(np.prod(shape)))
                out.append((nm, dt, shp, raw))
            return out
        return edit

    def setter(**kv):
        def edit(c):
            for k, v in kv.items():
                if v is None:
                    c.pop(k, None)
                else:
                    c[k] = v
        return edit

    C = neox.cfg["hidden_size"]
    qkv = "gpt_neox.layers.0.attention.query_key_value"
    config_case("gpt_neox-unknown-rope-type", neox,
                setter(rope_scaling={"type": "frobnicated", "factor": 2.0}), ["frobnicated"])
    config_case("gpt_neox-odd-rotary-dims", neox, setter(rotary_pct=0.3125),
                ["rotary_pct", "rotary", "partial_rotary_factor"])
    config_case("gpt_neox-heads-do-not-divide-hidden_size", neox,
                setter(num_attention_heads=3), ["num_attention_heads", "hidden_size"])
    tensor_case("gpt_neox-missing-query_key_value", neox, drop(qkv + ".weight"),
                [qkv + ".weight"])
    tensor_case("gpt_neox-missing-query_key_value-bias", neox, drop(qkv + ".bias"),
                [qkv + ".bias"])
    tensor_case("gpt_neox-query_key_value-wrong-shape-2C", neox,
                reshape(qkv + ".weight", (2 * C, C)), ["query_key_value"])
    tensor_case("gpt_neox-missing-embed_out", neox, drop("embed_out.weight"), ["embed_out"])
    tensor_case("gpt_neox-missing-final_layer_norm-bias", neox,
                drop("gpt_neox.final_layer_norm.bias"), ["final_layer_norm"])
    config_case("phi3-unsupported-rope-type-dynamic", phi3,
                setter(rope_scaling={"rope_type": "dynamic", "factor": 2.0}), ["dynamic"])
    config_case("phi3-unknown-rope-type", phi3,
                setter(rope_scaling={"type": "frobnicated", "factor": 2.0}), ["frobnicated"])
    rs = dict(phi3.config["rope_scaling"])
    config_case("phi3-longrope-short_factor-wrong-length", phi3,
                setter(rope_scaling=dict(rs, short_factor=rs["short_factor"] + [1.0])),
                ["short_factor"])
    config_case("phi3-longrope-without-long_factor", phi3,
                setter(rope_scaling={k: v for k, v in rs.items() if k != "long_factor"}),
                ["long_factor"])
    # 2 kv heads divide 4 heads, but the stored qkv_proj has rows for 4 kv heads.
    config_case("phi3-kv-heads-mismatch-qkv_proj-shape", phi3, setter(num_key_value_heads=2),
                ["qkv_proj", "num_key_value_heads"])
    config_case("phi3-intermediate_size-mismatch-gate_up_proj", phi3,
                setter(intermediate_size=phi3.cfg["intermediate_size"] + 8),
                ["gate_up_proj", "intermediate_size", "down_proj"])
    tensor_case("phi3-missing-qkv_proj", phi3, drop("model.layers.1.self_attn.qkv_proj.weight"),
                ["model.layers.1.self_attn.qkv_proj.weight"])
    tensor_case("phi3-missing-gate_up_proj", phi3, drop("model.layers.0.mlp.gate_up_proj.weight"),
                ["model.layers.0.mlp.gate_up_proj.weight"])
    I, Cp = phi3.cfg["intermediate_size"], phi3.cfg["hidden_size"]
    tensor_case("phi3-gate_up_proj-wrong-shape-I", phi3,
                reshape("model.layers.0.mlp.gate_up_proj.weight", (I, Cp)), ["gate_up_proj"])
    tensor_case("olmo2-missing-k_norm", olmo2, drop("model.layers.0.self_attn.k_norm.weight"),
                ["model.layers.0.self_attn.k_norm.weight"])
    tensor_case("olmo2-missing-post_feedforward_layernorm", olmo2,
                drop("model.layers.1.post_feedforward_layernorm.weight"),
                ["post_feedforward_layernorm"])
    # A Qwen3-style per-head q_norm (head_dim values) where OLMo-2 has one over H * head_dim.
    tensor_case("olmo2-q_norm-per-head-shape", olmo2,
                reshape("model.layers.0.self_attn.q_norm.weight", (olmo2.cfg["head_dim"],)),
                ["q_norm"])

    def legacy_buffers_ignored():
        # The single-file neox checkpoint with its BOOL causal-mask buffers stored as U8, and
        # one more buffer no version knows.
        def edit(ts):
            out = [(nm, "U8" if nm.endswith("attention.bias") else dt, shp, raw)
                   for nm, dt, shp, raw in ts]
            check(sum(dt == "U8" for _, dt, _, _ in out) == neox.cfg["n_layer"],
                  "no attention.bias buffers to convert")
            return out + [("gpt_neox.layers.0.attention.some_future_buffer", "F32", [2, 3],
                           np.ones(6, dtype=np.float32).tobytes())]
        d = rl.edited_copy(neox, root, "u8-buffers", tensor_edit=edit)
        return rl.lens_case(cli, neox, prompt(neox), 5, [" x"], model_dir=d)
    cases.append(("gpt_neox-legacy-buffers-u8-ignored", legacy_buffers_ignored))
    return cases


# ----------------------------------------------------------------------------------------------
# Self-checks of the reference (no CLI)

def naive_inv_freq(rope, T):
    """One frequency at a time: default/linear/llama3 via the llama runner's scalar formula,
    longrope as 1 / (factor_i * theta^(2i/rot)) with the factors chosen by T."""
    rot = rope["rotary_dim"]
    if rope["type"] == "longrope":
        fac = rope["long_factor"] if T > rope["original_max_position_embeddings"] \
            else rope["short_factor"]
        return [1.0 / (fac[i] * rope["theta"] ** (2.0 * i / rot)) for i in range(rot // 2)], \
            rope["attention_factor"]
    return rl.naive_inv_freq(rope, rot), 1.0


def naive_forward(cfg, w, ids):
    """A second, loop-by-loop forward pass: per position, per head, per key; q/k/v taken from the
    fused tensors by explicit row indices; RoPE as complex rotations of the pairs
    (i, i + rot/2) of the first rot dims, times the attention factor; the kv head of query head h
    as h // (H / KV); the window as i - j < window. Returns the residuals (L+1, T, C)."""
    T = len(ids)
    H, KV, D = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
    C = cfg["hidden_size"]
    eps = cfg["eps"]
    mt = cfg["model_type"]
    rot = cfg["rope"]["rotary_dim"]
    inv_freq, scale = naive_inv_freq(cfg["rope"], T)
    names = otherref.Prefixes(mt)

    def norm(v, name):
        if cfg["norm"] == "layer":
            mu = v.mean()
            return (v - mu) / math.sqrt(float(((v - mu) ** 2).mean()) + eps) * w[name + ".weight"] \
                + w[name + ".bias"]
        return w[name + ".weight"] * v / math.sqrt(float((v * v).mean()) + eps)

    def lin(v, name, bias):
        y = w[name + ".weight"] @ v
        return y + w[name + ".bias"] if bias else y

    def rot_vec(v, pos):
        out = v.copy()
        for i in range(rot // 2):
            z = complex(v[i], v[i + rot // 2]) * cmath.exp(1j * pos * inv_freq[i]) * scale
            out[i], out[i + rot // 2] = z.real, z.imag
        return out

    def project(l, h):
        p = names.layer.format(l)
        if mt == "gpt_neox":
            y = lin(h, p + "attention.query_key_value", cfg["qkv_bias"])
            q = np.stack([y[hh * 3 * D:hh * 3 * D + D] for hh in range(H)])
            k = np.stack([y[hh * 3 * D + D:hh * 3 * D + 2 * D] for hh in range(H)])
            v = np.stack([y[hh * 3 * D + 2 * D:hh * 3 * D + 3 * D] for hh in range(H)])
            return q, k, v
        if mt == "phi3":
            y = lin(h, p + "self_attn.qkv_proj", False)
            q = np.stack([y[hh * D:(hh + 1) * D] for hh in range(H)])
            k = np.stack([y[H * D + g * D:H * D + (g + 1) * D] for g in range(KV)])
            v = np.stack([y[(H + KV) * D + g * D:(H + KV) * D + (g + 1) * D] for g in range(KV)])
            return q, k, v
        a = p + "self_attn."
        q = lin(h, a + "q_proj", cfg["qkv_bias"])
        k = lin(h, a + "k_proj", cfg["qkv_bias"])
        q = w[a + "q_norm.weight"] * q / math.sqrt(float((q * q).mean()) + eps)
        k = w[a + "k_norm.weight"] * k / math.sqrt(float((k * k).mean()) + eps)
        v = lin(h, a + "v_proj", cfg["qkv_bias"])
        return q.reshape(H, D), k.reshape(KV, D), v.reshape(KV, D)

    def attend(l, hs):
        p = names.layer.format(l)
        qs, ks, vs = [], [], []
        for t, h in enumerate(hs):
            q, k, v = project(l, h)
            qs.append([rot_vec(x, t) for x in q])
            ks.append([rot_vec(x, t) for x in k])
            vs.append(v)
        window = cfg["windows"][l]
        out = []
        for i in range(T):
            heads = []
            for hh in range(H):
                g = hh // (H // KV)
                keys = [j for j in range(T) if j <= i and (window is None or i - j < window)]
                s = np.array([qs[i][hh] @ ks[j][g] / math.sqrt(D) for j in keys])
                e = np.exp(s - s.max())
                e /= e.sum()
                heads.append(sum(e[m] * vs[j][g] for m, j in enumerate(keys)))
            o = p + ("attention.dense" if mt == "gpt_neox" else "self_attn.o_proj")
            out.append(lin(np.concatenate(heads), o, cfg["o_bias"]))
        return out

    def mlp(l, h):
        p = names.layer.format(l) + "mlp."
        if mt == "gpt_neox":
            u = lin(h, p + "dense_h_to_4h", True)
            if cfg["act"] == "gelu":
                a = np.array([0.5 * x * (1 + math.erf(x / math.sqrt(2))) for x in u])
            else:
                a = np.array([0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi)
                                                       * (x + 0.044715 * x ** 3))) for x in u])
            return lin(a, p + "dense_4h_to_h", True)
        I = cfg["intermediate_size"]
        if mt == "phi3":
            gu = lin(h, p + "gate_up_proj", False)
            g, u = gu[:I], gu[I:]
        else:
            g, u = lin(h, p + "gate_proj", False), lin(h, p + "up_proj", False)
        return lin(g / (1 + np.exp(-g)) * u, p + "down_proj", False)

    x = [w[names.embed][i].copy() for i in ids]
    kept = [np.stack(x)]
    for l in range(cfg["n_layer"]):
        p = names.layer.format(l)
        if cfg["block"] == "parallel":
            a = attend(l, [norm(v, p + "input_layernorm") for v in x])
            x = [x[i] + a[i] + mlp(l, norm(x[i], p + "post_attention_layernorm"))
                 for i in range(T)]
        elif cfg["block"] in ("sequential", "pre"):
            a = attend(l, [norm(v, p + "input_layernorm") for v in x])
            r = [x[i] + a[i] for i in range(T)]
            x = [v + mlp(l, norm(v, p + "post_attention_layernorm")) for v in r]
        else:
            a = attend(l, x)
            r = [x[i] + norm(a[i], p + "post_attention_layernorm") for i in range(T)]
            x = [v + norm(mlp(l, v), p + "post_feedforward_layernorm") for v in r]
        kept.append(np.stack(x))
        assert kept[-1].shape == (T, C)
    return np.stack(kept)


lens_probs = rl.lens_probs


def variant(ck, **changes):
    c = copy.deepcopy(ck.cfg)
    for k, v in changes.items():
        if k == "rope":
            c["rope"] = dict(c["rope"], **v)
        else:
            c[k] = v
    return otherref.TorchOther(c, ck.stored)


def twists(ck):
    """label -> a model that gets one of the checkpoint's twists wrong."""
    cfg = ck.cfg
    L = cfg["n_layer"]
    rope = cfg["rope"]
    out = {}
    D = cfg["head_dim"]
    if rope["rotary_dim"] < D:
        if rope["type"] == "longrope":
            k = D // rope["rotary_dim"]
            out["full-rotary"] = variant(ck, rope=dict(rotary_dim=D,
                                                       short_factor=rope["short_factor"] * k,
                                                       long_factor=rope["long_factor"] * k))
        else:
            out["full-rotary"] = variant(ck, rope=dict(rotary_dim=D))
        r2 = rope["rotary_dim"] + 2 if rope["type"] != "longrope" else None
        if r2 is not None and r2 <= D:
            out["rotary-dims+2"] = variant(ck, rope=dict(rotary_dim=r2))
    if rope["type"] == "longrope":
        out["short-long-swapped"] = variant(ck, rope=dict(short_factor=rope["long_factor"],
                                                          long_factor=rope["short_factor"]))
        out["no-attention-factor"] = variant(ck, rope=dict(attention_factor=1.0))
        out["no-longrope"] = variant(ck, rope=dict(type="default"))
    else:
        out["theta/10"] = variant(ck, rope=dict(theta=rope["theta"] / 10))
    if rope["type"] == "llama3":
        out["no-rope-scaling"] = variant(ck, rope=dict(type="default"))
    if cfg["block"] == "parallel":
        out["sequential-instead"] = variant(ck, block="sequential")
    elif cfg["block"] == "sequential":
        out["parallel-instead"] = variant(ck, block="parallel")
    elif cfg["block"] == "post":
        out["norm-on-residual-instead"] = variant(ck, block="post_residual")
    if cfg["model_type"] == "gpt_neox":
        out["other-gelu"] = variant(ck, act="gelu_tanh" if cfg["act"] == "gelu" else "gelu")
    if cfg["qk_norm"] == "whole":
        out["no-qk-norm"] = variant(ck, qk_norm=None)
    if cfg["qkv_bias"]:
        out["no-qkv-bias"] = variant(ck, qkv_bias=False)
    if cfg["o_bias"]:
        out["no-o-bias"] = variant(ck, o_bias=False)
    if any(w is not None and w < cfg["max_position_embeddings"] for w in cfg["windows"]):
        out["no-window"] = variant(ck, windows=[None] * L)
        out["window+1"] = variant(ck, windows=[None if w is None else w + 1
                                               for w in cfg["windows"]])
    elif cfg["model_type"] == "phi3":
        out["window-4-everywhere"] = variant(ck, windows=[4] * L)
    if not cfg["tied"]:
        out["tied-instead"] = variant(ck, tied=True)
    out["eps-x1e4"] = variant(ck, eps=max(cfg["eps"] * 1e4, 0.05))
    return out


def layout_twists(ck):
    """Models reading the fused tensors in a wrong layout (the stored weights re-permuted so that
    the right reader sees what a wrong reader would)."""
    cfg = ck.cfg
    H, KV, D, I = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"], cfg["intermediate_size"]
    out = {}
    names = otherref.Prefixes(cfg["model_type"])
    for label in ("fused-as-blocks",) if cfg["model_type"] == "gpt_neox" else \
            (("qkv-as-per-head", "gate-up-swapped") if cfg["model_type"] == "phi3" else ()):
        w = dict(ck.stored)
        for l in range(cfg["n_layer"]):
            p = names.layer.format(l)
            if label == "fused-as-blocks":
                # A reader taking the rows as [q | k | v] blocks.
                for suf in (".weight", ".bias"):
                    nm = p + "attention.query_key_value" + suf
                    if nm in w:
                        a = w[nm]
                        blocks = [a[i * H * D:(i + 1) * H * D] for i in range(3)]
                        w[nm] = otherref.neox_fuse_qkv(*blocks, H, D)
            elif label == "qkv-as-per-head":
                if H != KV:
                    break
                nm = p + "self_attn.qkv_proj.weight"
                a = w[nm]
                w[nm] = np.concatenate([a.reshape(H, 3, D, -1)[:, i].reshape(H * D, -1)
                                        for i in range(3)])
            else:
                nm = p + "mlp.gate_up_proj.weight"
                w[nm] = np.concatenate((w[nm][I:], w[nm][:I]))
        else:
            out[label] = otherref.TorchOther(cfg, w)
    return out


def selfcheck_cases(cks, rng):
    cases = []
    trng = torch.Generator().manual_seed(rng.randrange(1 << 30))

    def fused_layouts():
        """The fused rows a checkpoint stores, against the separate projections they came from
        (the separate q, k, v weights kept at random_weights time)."""
        out = []
        for ck in cks:
            cfg = ck.cfg
            mt = cfg["model_type"]
            if mt == "olmo2":
                continue
            H, KV, D, C = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"], cfg["hidden_size"]
            x = torch.randn(5, C, generator=trng, dtype=torch.float64)
            names = otherref.Prefixes(mt)
            p = names.layer.format(0)
            dt = ck.spec["dtype"]

            def stored_like(a):
                return torch.from_numpy(gpt2ref.quantize(a, dt)[1].reshape(a.shape))
            sq, sk, sv = (stored_like(ck.separate[p + "separate." + s]) for s in "qkv")
            with torch.no_grad():
                q, k, v = ck.model.qkv(0, x)
            if mt == "gpt_neox":
                if cfg["qkv_bias"]:
                    bq, bk, bv = (stored_like(ck.separate[p + "separate.b" + s]) for s in "qkv")
                else:
                    bq = bk = bv = torch.zeros(H * D, dtype=torch.float64)
                wq, wk, wv = (x @ sq.T + bq, x @ sk.T + bk, x @ sv.T + bv)
                # By hand: row h*3D + part*D + d of the fused weight.
                fused = torch.from_numpy(ck.stored[p + "attention.query_key_value.weight"])
                for h in range(H):
                    for part, sep in enumerate((sq, sk, sv)):
                        for d in range(D):
                            check(torch.equal(fused[h * 3 * D + part * D + d], sep[h * D + d]),
                                  f"{ck.spec['name']}: fused row {h},{part},{d}")
            else:
                wq, wk, wv = x @ sq.T, x @ sk.T, x @ sv.T
                gu = torch.from_numpy(ck.stored[p + "mlp.gate_up_proj.weight"])
                I = cfg["intermediate_size"]
                check(torch.equal(gu[:I], stored_like(ck.separate[p + "separate.gate"])) and
                      torch.equal(gu[I:], stored_like(ck.separate[p + "separate.up"])),
                      f"{ck.spec['name']}: gate_up_proj is not [gate | up]")
            for got, want, n_h in ((q, wq, H), (k, wk, KV), (v, wv, KV)):
                want = want.view(5, n_h, D).transpose(0, 1)
                d = (got - want).abs().max().item()
                check(d < 1e-12, f"{ck.spec['name']}: fused projection differs by {d}")
            out.append(mt)
        check("gpt_neox" in out and "phi3" in out, "no fused checkpoints")
        return f"{len(out)} checkpoints (gpt_neox per-head rows checked one by one, phi3 " \
               f"[q|k|v] and [gate|up])"

    def longrope_selection():
        out = []
        for ck in cks:
            rope = ck.cfg["rope"]
            if rope["type"] != "longrope":
                continue
            orig = rope["original_max_position_embeddings"]
            short, af = otherref.rope_tables(rope, orig)
            long, af2 = otherref.rope_tables(rope, orig + 1)
            rot = rope["rotary_dim"]
            base = rope["theta"] ** (torch.arange(0, rot, 2, dtype=torch.float64) / rot)
            check(torch.allclose(short, 1 / (torch.tensor(rope["short_factor"],
                                                          dtype=torch.float64) * base)),
                  "T = original max must use short_factor")
            check(torch.allclose(long, 1 / (torch.tensor(rope["long_factor"],
                                                         dtype=torch.float64) * base)),
                  "T = original max + 1 must use long_factor")
            check(af == af2, "attention factor must not depend on T")
            if "attention_factor" not in (ck.config["rope_scaling"] or {}):
                want = math.sqrt(1 + math.log(ck.cfg["max_position_embeddings"] / orig)
                                 / math.log(orig))
                check(abs(af - want) < 1e-15, f"default attention factor {af} != {want}")
            out.append(f"{ck.spec['name'].split('-')[1]} af={af:.4f}")
        check(out, "no longrope checkpoint")
        return ", ".join(out)

    def config_conventions():
        c = otherref.make_config("gpt_neox", 64, 128, 2, 4, 100, 32, style="old",
                                 omit=("rotary_pct", "rotary_emb_base", "layer_norm_eps",
                                       "use_parallel_residual", "hidden_act"))
        n = otherref.normalise_config(c)
        check(n["rope"]["rotary_dim"] == 4 and n["rope"]["theta"] == 10000.0 and
              n["block"] == "parallel" and n["qkv_bias"] and n["eps"] == 1e-5 and
              n["act"] == "gelu" and not n["tied"], f"gpt_neox defaults: {n}")
        c = otherref.make_config("gpt_neox", 64, 128, 2, 4, 100, 32, style="v5",
                                 rotary_pct=0.5, rotary_emb_base=77.0)
        n = otherref.normalise_config(dict(c, rotary_pct=0.25, rotary_emb_base=5.0))
        check(n["rope"]["rotary_dim"] == 8 and n["rope"]["theta"] == 77.0,
              f"rope_parameters wins over rotary_pct / rotary_emb_base: {n['rope']}")
        c = otherref.make_config("gpt_neox", 64, 128, 2, 4, 100, 32, style="4.45",
                                 rotary_pct=0.5, rotary_emb_base=77)
        n = otherref.normalise_config(dict(c, partial_rotary_factor=1.0, rope_theta=5.0))
        check(n["rope"]["rotary_dim"] == 8 and n["rope"]["theta"] == 77.0,
              "4.45: rotary_pct / rotary_emb_base win over the attributes derived from them")
        p = otherref.make_config("phi3", 32, 64, 2, 4, 100, 32, original_max=8,
                                 rope_scaling=longrope(8, 1, type_name="su"))
        n = otherref.normalise_config(p)
        check(n["rope"]["type"] == "longrope", "su is longrope")
        p2 = dict(p, rope_scaling=dict(p["rope_scaling"], original_max_position_embeddings=16))
        check(otherref.normalise_config(p2)["rope"]["original_max_position_embeddings"] == 8,
              "top-level original_max_position_embeddings wins")
        p3 = {k: v for k, v in p.items() if k != "original_max_position_embeddings"}
        check(otherref.normalise_config(p3)["rope"]["original_max_position_embeddings"] == 4096,
              "Phi3Config's original_max_position_embeddings defaults to 4096")
        try:
            otherref.normalise_config(dict(p, rope_scaling={"type": "linear", "factor": 2.0}))
            raise Failure("phi3 accepted a linear rope")
        except otherref.ConfigError:
            pass
        o = otherref.make_config("olmo2", 32, 64, 2, 4, 100, 32,
                                 omit=("tie_word_embeddings", "attention_bias", "rms_norm_eps",
                                       "num_key_value_heads"))
        n = otherref.normalise_config(o)
        check(not n["tied"] and not n["qkv_bias"] and n["eps"] == 1e-5 and n["n_kv_head"] == 4,
              f"olmo2 defaults {n}")
        return "gpt_neox defaults and both spellings, phi3 su/original_max/refusals, olmo2 defaults"

    def stored_values_round_trip(ck):
        def run():
            files = [f for f in os.listdir(ck.dir) if f.endswith(".safetensors")]
            got = {}
            for f in files:
                got.update(read_all(os.path.join(ck.dir, f)))
            for name, val in ck.stored.items():
                check(name in got, f"{name} not in the files")
                check(np.array_equal(got[name].astype(np.float64), val),
                      f"{name}: file values differ from the reference's")
            extra = sorted(set(got) - set(ck.stored))
            return f"{len(ck.stored)} tensors in {len(files)} file(s) ({ck.spec['dtype']})" + \
                (f" + {len(extra)} legacy buffers" if extra else "")
        return run

    def naive_matches(ck):
        def run():
            out = []
            rope = ck.cfg["rope"]
            lengths = [min(ck.cfg["max_position_embeddings"], 14)]
            if rope["type"] == "longrope":
                o = rope["original_max_position_embeddings"]
                lengths = [o, o + 1]
            for T in lengths:
                ids = ck.tok.encode(rr.fit_prompt(ck.tok, T, rng))
                with torch.no_grad():
                    resid, logits = ck.model.forward(ids)
                    last = ck.model.lens(resid)[-1]
                naive = naive_forward(ck.cfg, ck.stored, ids)
                d = float(np.abs(resid.numpy() - naive).max())
                check(d < 1e-9, f"T={T} vectorised vs loop forward: residuals differ by {d}")
                d2 = (last - torch.log_softmax(logits, -1)).abs().max().item()
                check(d2 < 1e-12, f"last lens row vs the model's logits: {d2}")
                out.append(f"T={T} loop-vs-vectorised {d:.2g}")
            m32 = otherref.TorchOther(ck.cfg, ck.stored, dtype=torch.float32)
            p64 = lens_probs(ck.model, ids)
            p32 = lens_probs(m32, ids).to(torch.float64)
            d3 = (p64 - p32).abs().max().item()
            check(d3 < PROB_ATOL / 10, f"float32 lens differs from float64 by {d3}")
            return ", ".join(out) + f", float32 max|dp| {d3:.2g}"
        return run

    def sensitivity(ck):
        def run():
            cfg = ck.cfg
            P = cfg["max_position_embeddings"]
            prompts = [ck.tok.encode(rr.fit_prompt(ck.tok, P, rng))]
            if cfg["rope"]["type"] == "longrope":
                prompts.append(ck.tok.encode(rr.fit_prompt(
                    ck.tok, cfg["rope"]["original_max_position_embeddings"], rng)))
            bases = [lens_probs(ck.model, ids) for ids in prompts]
            out = []
            for label, model in list(twists(ck).items()) + list(layout_twists(ck).items()):
                d = max((lens_probs(model, ids) - b).abs().max().item()
                        for ids, b in zip(prompts, bases))
                # Exact vs tanh GELU differ by at most 5e-4 anywhere: about the tolerance is all
                # it can move (the fake-engine cases show the comparison, with its relative
                # check, catches it).
                need = PROB_ATOL if label == "other-gelu" else 100 * PROB_ATOL
                check(d > need, f"{label}: probabilities move only {d:.2g}")
                out.append(f"{label} {d:.2g}")
            return ", ".join(out)
        return run

    def runner_judges_fake_engines(ck):
        def run():
            cfg = ck.cfg
            prompt = rr.fit_prompt(ck.tok, cfg["max_position_embeddings"], rng)
            layers = list(range(cfg["n_layer"]))
            targets = [" Paris", " lens"]
            good = otherref.TorchOther(cfg, ck.stored, dtype=torch.float32)
            out = rl.fake_json(ck, good, prompt, layers, 10, targets, True)
            worst, worst_h, T, padded, _ = rl.compare_json(ck, out, prompt, layers, 10, targets,
                                                           True)
            caught = []
            for label, bad in list(twists(ck).items()) + list(layout_twists(ck).items()):
                try:
                    rl.compare_json(ck, rl.fake_json(ck, bad, prompt, layers, 10, targets, True),
                                    prompt, layers, 10, targets, True)
                except Failure:
                    caught.append(label)
                    continue
                raise Failure(f"an engine with {label} passes the comparison")
            return f"float32 passes (max|dp| {worst:.2g}, max|dH| {worst_h:.2g}); caught " \
                   f"{', '.join(caught)}"
        return run

    cases.append(("fused-layouts-match-separate-projections", fused_layouts))
    cases.append(("longrope-factor-selection-and-attention-factor", longrope_selection))
    cases.append(("config-conventions", config_conventions))
    for ck in cks:
        n = ck.spec["name"]
        cases.append((f"{n}/stored-values-round-trip", stored_values_round_trip(ck)))
        cases.append((f"{n}/loop-forward-last-row-float32", naive_matches(ck)))
        cases.append((f"{n}/twists-move-probabilities", sensitivity(ck)))
    for ck in cks:
        if ck.spec["name"] in FAKE_ENGINE_CHECKPOINTS:
            cases.append((f"{ck.spec['name']}/runner-passes-float32-fails-wrong-engines",
                          runner_judges_fake_engines(ck)))
    return cases


FAKE_ENGINE_CHECKPOINTS = (
    CHECKPOINTS[0]["name"], CHECKPOINTS[1]["name"], CHECKPOINTS[5]["name"],
    CHECKPOINTS[10]["name"],
)


def read_all(path):
    """gpt2ref.read_safetensors plus the legacy buffer dtypes (BOOL, U8)."""
    import json as _json
    import struct
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = _json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[8 + n + b:8 + n + e]
        dt = info["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, dtype=np.float32)
        elif dt == "F16":
            a = np.frombuffer(raw, dtype=np.float16).astype(np.float32)
        elif dt == "BF16":
            a = gpt2ref.bf16_bits_to_f32(np.frombuffer(raw, dtype=np.uint16))
        else:
            a = np.frombuffer(raw, dtype=np.uint8).astype(np.float32)
        out[name] = a.reshape(info["shape"])
    return out


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=None)
    ap.add_argument("--only", default=None, help="run only cases whose name contains this")
    ap.add_argument("--part", choices=["all", "selfcheck", "lens", "errors"], default="all")
    ap.add_argument("--keep", action="store_true", help="keep the temporary checkpoints")
    ap.add_argument("--seed", type=int, default=8765)
    args = ap.parse_args()
    if args.part != "selfcheck" and not args.cli:
        ap.error("--cli is needed for every part but selfcheck")
    torch.set_num_threads(1)
    cli = args.cli
    rng = random.Random(args.seed)
    t_start = time.monotonic()

    corpus = gpt2ref.make_corpus(random.Random(args.seed + 1), 20000)
    needed = sorted({s["tok"][0] for s in CHECKPOINTS})
    toks = {k: gpt2ref.train_bpe(corpus, *rr.TOKENIZERS[k][:2], random.Random(args.seed + ord(k)),
                                 shuffle_ranks=rr.TOKENIZERS[k][2]) for k in needed}

    root = tempfile.mkdtemp(prefix="lens-reference-other-")
    error_names = (CHECKPOINTS[0]["name"], CHECKPOINTS[4]["name"], CHECKPOINTS[9]["name"])
    specs = CHECKPOINTS
    if args.part == "errors":
        specs = [s for s in CHECKPOINTS if s["name"] in error_names]
    if args.only and args.part in ("lens", "selfcheck"):
        specs = [s for s in specs if args.only in s["name"]] or specs
    cks = [Checkpoint(spec, toks[spec["tok"][0]], root, rng) for spec in specs]
    by_name = {ck.spec["name"]: ck for ck in cks}

    cases = []
    if args.part in ("all", "selfcheck"):
        cases += [(f"selfcheck/{n}", fn) for n, fn in selfcheck_cases(cks, rng)]
    if args.part in ("all", "lens"):
        for ck in cks:
            cases += lens_cases(cli, ck, rng)
    if args.part in ("all", "errors"):
        cases += [(f"error/{n}", fn) for n, fn in error_cases(
            cli, *(by_name[n] for n in error_names), root, rng)]

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
