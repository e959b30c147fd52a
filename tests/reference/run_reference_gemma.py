#!/usr/bin/python3
"""Reference tests: logit-lens-cli --json against a float64 torch Gemma-family model (model_type
gemma, gemma2, gemma3_text, and gemma3 = a gemma3_text config nested under text_config with
`language_model.model.*` tensors) on random checkpoints.

Writes random-weight checkpoints in Hugging Face layout with every Gemma twist switched on:
embeddings times sqrt(hidden_size), RMSNorm times (1 + w) with w around 0 +- 0.3, GeGLU (tanh)
MLP, head_dim apart from hidden_size / heads, Gemma 2/3's four norms per block, attention scale
query_pre_attn_scalar^-0.5, attention and final-logit soft-caps small enough to matter (5 and
3), sliding windows shorter than the prompt on the layers transformers makes slide (layer_types,
Gemma 2's alternation, Gemma 3's sliding_window_pattern), Gemma 3's q_norm/k_norm and its
local/global RoPE (rope_local_base_freq; rope_theta + linear rope_scaling; the newer per-layer-type
rope_parameters), defaults of absent keys (head_dim 256, 8 heads / 4 kv heads, soft-caps 50/30
for gemma2, query_pre_attn_scalar 256), F32/F16/BF16, tied and untied, single-file and sharded,
vocabularies padded past the tokenizer, and the vision tensors of a gemma3 checkpoint (ignored)
- with the synthetic byte-level BPE tokenizers of run_reference.py (tokenizer.json). Runs the CLI
and compares every number it prints with the lens computed here in float64 (the comparison is
run_reference_llama's). Then hostile configs and checkpoints must give a one-line error naming
the field or tensor at fault.

Until the engine supports these model types, the lens and error cases fail with "model_type ...
is not supported": expected.

Usage: /usr/bin/python3 run_reference_gemma.py [--cli PATH] [--part all|selfcheck|lens|errors]
                                                [--only SUBSTRING] [--keep] [--seed N]
`--part selfcheck` needs no CLI.
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
    import gemmaref
    import run_reference as rr
    import run_reference_llama as rl
except ImportError as e:  # a missing dependency is a failure, not a skip
    print(f"FAIL setup: {e} (needs Debian's python3-torch, python3-numpy, python3-regex)")
    sys.exit(1)

Failure = rr.Failure
check = rr.check
PROB_ATOL = rr.PROB_ATOL
# What a modelled feature must move some probability by (the llama suite asks 100x PROB_ATOL;
# a final soft-cap flattens the distributions, so 20x here; the fake-engine self-checks show
# the comparison catches such moves).
MOVE_MIN = 20 * PROB_ATOL
# ... or move some probability above 1e-4 by this fraction of itself (50x PROB_RTOL): a final
# cap of 3 keeps every probability small, so absolute moves are small too.
REL_MOVE_MIN = 50 * rr.PROB_RTOL

S, F = "sliding_attention", "full_attention"

# Checkpoint variants. tok: which synthetic tokenizer (always tokenizer.json). pad: vocab_size
# when larger than the tokenizer. keys: further config.json keys (None -> null); omit: keys left
# out (to test transformers' defaults). qk_scale: spread of q/k projections (scores past the
# attention soft-cap). final_gain: logits spread past a final soft-cap. vision: also write a
# gemma3 checkpoint's vision tensors.
CHECKPOINTS = [
    # hidden_activation absent (-> gelu_pytorch_tanh) and hidden_act "gelu" (ignored by Gemma).
    dict(name="gemma-l2-h32-f32-tied-mha-head_dim16-padded-hidden_act-ignored", family="gemma",
         tok=("A", "json-strings"), n_layer=2, hidden=32, intermediate=64, n_head=4, head_dim=16,
         max_pos=40, dtype="F32", tied=True, pad=1024, keys={"hidden_act": "gelu"},
         omit=("hidden_activation",)),
    dict(name="gemma-l3-h48-bf16-untied-gqa4x2-head_dim12-rope500-sharded", family="gemma",
         tok=("B", "json-pairs"), n_layer=3, hidden=48, intermediate=96, n_head=4, n_kv=2,
         head_dim=12, max_pos=48, dtype="BF16", tied=False, shards=2, order="random",
         keys={"rope_theta": 500.0, "hidden_activation": None}),
    # No layer_types: layers 0 and 2 slide (window 5), 1 and 3 are global.
    dict(name="gemma2-l4-h32-f32-tied-gqa4x2-window5-even-layers-attncap5-finalcap3-qpas4",
         family="gemma2", tok=("C", "json-strings"), n_layer=4, hidden=32, intermediate=64,
         n_head=4, n_kv=2, head_dim=16, max_pos=40, dtype="F32", tied=True, qk_scale=2.5,
         final_gain=3.0,
         keys={"query_pre_attn_scalar": 4, "sliding_window": 5, "attn_logit_softcapping": 5.0,
               "final_logit_softcapping": 3.0, "rope_theta": 10000.0}),
    # Soft-caps and query_pre_attn_scalar absent: 50 / 30 / 256 (scale 1/16, not head_dim's).
    dict(name="gemma2-l3-h48-f16-untied-mqa-layer_types-window6-defaults-caps50-30-qpas256-sharded",
         family="gemma2", tok=("A", "json-pairs"), n_layer=3, hidden=48, intermediate=96,
         n_head=2, n_kv=1, head_dim=24, max_pos=48, dtype="F16", tied=False, shards=3,
         order="sorted", emb_scale=5.0, qk_scale=4.0,
         keys={"layer_types": [F, S, S], "sliding_window": 6},
         omit=("attn_logit_softcapping", "final_logit_softcapping", "query_pre_attn_scalar")),
    dict(name="gemma2-l2-h32-bf16-tied-mqa-caps-null-window3-padded", family="gemma2",
         tok=("B", "json-strings"), n_layer=2, hidden=32, intermediate=48, n_head=2, n_kv=1,
         head_dim=16, max_pos=32, dtype="BF16", tied=True, pad=2304,
         keys={"query_pre_attn_scalar": 16, "sliding_window": 3, "attn_logit_softcapping": None,
               "final_logit_softcapping": None}),
    # sliding_window_pattern 3: layers 0, 1, 3 slide with local RoPE (theta 100), layer 2 is
    # global (theta 10000, linear factor 4).
    dict(name="gemma3_text-l4-h32-f32-tied-gqa4x2-qknorm-pattern3-window4-local100-global-linear4",
         family="gemma3_text", tok=("C", "json-pairs"), n_layer=4, hidden=32, intermediate=64,
         n_head=4, n_kv=2, head_dim=16, max_pos=48, dtype="F32", tied=True, pad=3400,
         keys={"query_pre_attn_scalar": 16, "sliding_window": 4, "sliding_window_pattern": 3,
               "rope_local_base_freq": 100.0, "rope_theta": 10000.0,
               "rope_scaling": {"rope_type": "linear", "factor": 4.0},
               "final_logit_softcapping": None, "attn_logit_softcapping": None}),
    # The newer per-layer-type rope_parameters spelling; final cap 6 applied; attention cap 2
    # set but NOT applied (transformers' Gemma3Attention passes no softcap).
    dict(name="gemma3_text-l3-h64-bf16-untied-mqa-layer_types-rope_parameters-finalcap6-"
              "attncap-ignored-sharded",
         family="gemma3_text", tok=("A", "json-strings"), n_layer=3, hidden=64,
         intermediate=128, n_head=4, n_kv=1, head_dim=16, max_pos=48, dtype="BF16", tied=False,
         shards=3, order="random", final_gain=3.0,
         keys={"query_pre_attn_scalar": 6, "sliding_window": 7, "layer_types": [S, F, S],
               "rope_parameters": {S: {"rope_type": "default", "rope_theta": 50.0},
                                   F: {"rope_type": "linear", "factor": 2.0,
                                       "rope_theta": 20000.0}},
               "final_logit_softcapping": 6.0, "attn_logit_softcapping": 2.0}),
    # A Gemma-3-4B-like sparse text_config: heads (8), kv heads (4), head_dim (256),
    # query_pre_attn_scalar (256), eps, rope_theta (1e6) and the caps come from the defaults.
    dict(name="gemma3-nested-l3-h32-bf16-tied-sparse-text_config-pattern2-window4-linear8-"
              "vision-tensors",
         family="gemma3", tok=("B", "json-pairs"), n_layer=3, hidden=32, intermediate=64,
         n_head=8, n_kv=4, head_dim=256, max_pos=40, dtype="BF16", tied=True, vision=True,
         keys={"sliding_window": 4, "sliding_window_pattern": 2,
               "rope_scaling": {"rope_type": "linear", "factor": 8.0}},
         omit=("num_attention_heads", "num_key_value_heads", "head_dim", "query_pre_attn_scalar",
               "rms_norm_eps", "hidden_activation", "rope_theta", "final_logit_softcapping",
               "attn_logit_softcapping", "tie_word_embeddings")),
    dict(name="gemma3-nested-l2-h48-f16-tied-gqa6x2-layer_types-rope_parameters-finalcap8-"
              "sharded-padded",
         family="gemma3", tok=("C", "json-strings"), n_layer=2, hidden=48, intermediate=96,
         n_head=6, n_kv=2, head_dim=8, max_pos=40, dtype="F16", tied=True, vision=True,
         shards=2, order="sorted", pad=3584, final_gain=3.5,
         keys={"query_pre_attn_scalar": 8, "sliding_window": 5, "layer_types": [S, F],
               "rope_parameters": {S: {"rope_type": "default", "rope_theta": 10000.0},
                                   F: {"rope_type": "linear", "factor": 8.0,
                                       "rope_theta": 1000000.0}},
               "final_logit_softcapping": 8.0, "attn_logit_softcapping": None}),
]

BY_FAMILY_BASE = {
    "gemma": CHECKPOINTS[0]["name"],
    "gemma2": CHECKPOINTS[2]["name"],
    "gemma3_text": CHECKPOINTS[5]["name"],
    "gemma3": CHECKPOINTS[7]["name"],
}


class Checkpoint:
    def __init__(self, spec, tok, root, rng):
        self.spec = spec
        self.tok = tok
        self.dir = os.path.join(root, spec["name"])
        self.n_text = len(tok.vocab)
        V = spec.get("pad", self.n_text)
        self.bos = tok.vocab[gpt2ref.EOT]
        self.config = gemmaref.make_config(
            spec["family"], spec["hidden"], spec["intermediate"], spec["n_layer"],
            spec["n_head"], V, spec["max_pos"], dtype=spec["dtype"], n_kv=spec.get("n_kv"),
            head_dim=spec.get("head_dim"), tied=spec["tied"], bos_token_id=self.bos,
            omit=spec.get("omit", ()), **spec.get("keys", {}))
        self.cfg = gemmaref.normalise_config(self.config)
        if self.cfg["model_type"] == "gemma3":
            self.cfg["accept_architectures"] = ("gemma3", "gemma3_text")
        nrng = np.random.default_rng(rng.randrange(1 << 30))
        weights = gemmaref.random_weights(self.cfg, nrng, emb_scale=spec.get("emb_scale", 2.5),
                                          padded_from=self.n_text if V > self.n_text else None,
                                          qk_scale=spec.get("qk_scale", 1.6),
                                          final_gain=spec.get("final_gain", 1.0))
        extra = gemmaref.vision_extras(nrng) if spec.get("vision") else None
        self.stored = gemmaref.write_checkpoint(
            self.dir, self.config, weights, dtype=spec["dtype"], shards=spec.get("shards", 1),
            rng=rng, tensor_order=spec.get("order", "natural"), extra_tensors=extra)
        tok.write_tokenizer_json(self.dir, merges_as_pairs=(spec["tok"][1] == "json-pairs"))
        self.model = gemmaref.TorchGemma(self.cfg, self.stored)
        self.cache = {}

    # the lens and the model's own output of ids, as the llama suite computes them
    reference = rl.Checkpoint.reference


# ----------------------------------------------------------------------------------------------
# Bad input

def error_cases(cli, cks, root, rng):
    gemma, gemma2, gemma3t, gemma3 = (cks[BY_FAMILY_BASE[f]] for f in
                                      ("gemma", "gemma2", "gemma3_text", "gemma3"))
    cases = []
    prompt = rr.fit_prompt(gemma.tok, 4, rng)

    def run_error(d, mentions):
        return rl.error_case(cli, ["--model", d, "--prompt", prompt, "--json"], mentions)

    def config_case(name, ck, edit, mentions, nested=False):
        def run():
            def e(c):
                edit(c["text_config"] if nested else c)
            return run_error(rl.edited_copy(ck, root, name, config_edit=e), mentions)
        cases.append((name, run))

    def drop_tensor_case(name, ck, tensor):
        def run():
            d = rl.edited_copy(ck, root, name)
            files = [f for f in os.listdir(d) if f.endswith(".safetensors")]
            check(len(files) == 1, "drop_tensor_case needs a single-file checkpoint")
            rr.rewrite_safetensors(os.path.join(d, files[0]),
                                   edit_tensors=lambda ts: [t for t in ts if t[0] != tensor])
            # A nested checkpoint's message may name the tensor without "language_model.".
            return run_error(d, [tensor, tensor.replace("language_model.", "", 1)])
        cases.append((name, run))

    def setter(**kv):
        def edit(c):
            for k, v in kv.items():
                if v is Ellipsis:
                    c.pop(k, None)
                else:
                    c[k] = v
        return edit

    config_case("gemma-hidden_activation-unsupported", gemma,
                setter(hidden_activation="frobnicated_gelu"),
                ["hidden_activation", "frobnicated_gelu"])
    config_case("gemma2-hidden_activation-unsupported", gemma2,
                setter(hidden_activation="frobnicated_gelu"),
                ["hidden_activation", "frobnicated_gelu"])
    # Absent, query_pre_attn_scalar is 256 (a lens case covers that); null or 0 have no meaning
    # (transformers raises on None ** -0.5 and 0 ** -0.5).
    config_case("gemma2-query_pre_attn_scalar-null", gemma2, setter(query_pre_attn_scalar=None),
                ["query_pre_attn_scalar"])
    config_case("gemma2-query_pre_attn_scalar-zero", gemma2, setter(query_pre_attn_scalar=0),
                ["query_pre_attn_scalar"])
    config_case("gemma3_text-query_pre_attn_scalar-negative", gemma3t,
                setter(query_pre_attn_scalar=-16), ["query_pre_attn_scalar"])
    # transformers' sliding-window mask refuses a sliding layer without a window.
    config_case("gemma2-sliding-layers-sliding_window-null", gemma2, setter(sliding_window=None),
                ["sliding_window"])
    config_case("gemma2-sliding_window-zero", gemma2, setter(sliding_window=0),
                ["sliding_window"])
    config_case("gemma3_text-sliding-layers-sliding_window-null", gemma3t,
                setter(sliding_window=None), ["sliding_window"])
    config_case("gemma3-nested-sliding-layers-sliding_window-null", gemma3,
                setter(sliding_window=None), ["sliding_window"], nested=True)
    config_case("gemma2-final_logit_softcapping-zero", gemma2, setter(final_logit_softcapping=0),
                ["final_logit_softcapping"])
    config_case("gemma2-attn_logit_softcapping-negative", gemma2,
                setter(attn_logit_softcapping=-5.0), ["attn_logit_softcapping"])
    config_case("gemma3_text-layer_types-too-short", gemma3t, setter(layer_types=[S, F]),
                ["layer_types"])
    config_case("gemma3_text-layer_types-unknown-type", gemma3t,
                setter(layer_types=[S, S, "frobnicated_attention", F]),
                ["layer_types", "frobnicated_attention"])
    config_case("gemma3_text-unknown-rope_type", gemma3t,
                setter(rope_scaling={"rope_type": "frobnicated", "factor": 2.0}),
                ["frobnicated"])
    config_case("gemma3-nested-text_config-without-hidden_size", gemma3,
                setter(hidden_size=Ellipsis), ["hidden_size", ".weight"], nested=True)
    config_case("gemma-head_dim-mismatch-q_proj", gemma, setter(head_dim=8),
                ["q_proj", "head_dim"])
    drop_tensor_case("gemma2-missing-post_feedforward_layernorm", gemma2,
                     "model.layers.1.post_feedforward_layernorm.weight")
    drop_tensor_case("gemma2-missing-pre_feedforward_layernorm", gemma2,
                     "model.layers.0.pre_feedforward_layernorm.weight")
    drop_tensor_case("gemma3_text-missing-k_norm", gemma3t, "model.layers.2.self_attn.k_norm.weight")
    drop_tensor_case("gemma3-nested-missing-final-norm", gemma3, "language_model.model.norm.weight")
    drop_tensor_case("gemma-missing-down_proj", gemma, "model.layers.1.mlp.down_proj.weight")

    def extra_tensors_ignored():
        def add(ts):
            return ts + [("model.layers.0.self_attn.rotary_emb.inv_freq", "F32", [4],
                          np.arange(4, dtype=np.float32).tobytes()),
                         ("model.totally_unknown.weight", "F32", [2, 3],
                          np.ones(6, dtype=np.float32).tobytes())]
        d = rl.edited_copy(gemma2, root, "extra-tensors", tensor_edit=add)
        return rl.lens_case(cli, gemma2, prompt, 5, [" x"], model_dir=d)
    cases.append(("gemma2-extra-tensors-are-ignored", extra_tensors_ignored))
    return cases


# ----------------------------------------------------------------------------------------------
# Self-checks of the reference (no CLI)

def naive_forward(cfg, w, ids):
    """A second, loop-by-loop forward pass in numpy float64: per position, per head, per key;
    RoPE as complex rotations of the pairs (i, i + head_dim/2) with each layer's own
    frequencies; the soft-caps as cap * tanh(x / cap); the window as `i - j < window`; the Gemma
    norm as x / rms * (1 + w); GeLU's tanh form spelt out. Returns (residuals (L+1, T, C),
    logits (T, V))."""
    T = len(ids)
    H, KV, D = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
    group = H // KV
    eps = cfg["eps"]
    P = cfg["prefix"]

    def norm(v, g):
        return v / math.sqrt(float((v * v).mean()) + eps) * (1.0 + g)

    def lin(v, name):
        y = w[name + ".weight"] @ v
        return y + w[name + ".bias"] if cfg["attn_bias"] and ".self_attn." in name else y

    def gelu(v):
        return np.array([0.5 * a * (1.0 + math.tanh(math.sqrt(2.0 / math.pi)
                                                    * (a + 0.044715 * a ** 3))) for a in v])

    def cap(s, c):
        return s if c is None else c * math.tanh(s / c)

    def rot(v, pos, freqs):
        out = v.copy()
        for k in range(D // 2):
            z = complex(v[k], v[k + D // 2]) * cmath.exp(1j * pos * freqs[k])
            out[k], out[k + D // 2] = z.real, z.imag
        return out

    x = [w[P + "embed_tokens.weight"][i] * math.sqrt(cfg["hidden_size"]) for i in ids]
    kept = [np.stack(x)]
    for l in range(cfg["n_layer"]):
        p = f"{P}layers.{l}."
        a = p + "self_attn."
        freqs = rl.naive_inv_freq(cfg["ropes"][l], D)
        qs, ks, vs = [], [], []
        for t in range(T):
            h = norm(x[t], w[p + "input_layernorm.weight"])
            q = lin(h, a + "q_proj").reshape(H, D)
            k = lin(h, a + "k_proj").reshape(KV, D)
            v = lin(h, a + "v_proj").reshape(KV, D)
            if cfg["qk_norm"]:
                q = np.stack([norm(qh, w[a + "q_norm.weight"]) for qh in q])
                k = np.stack([norm(kh, w[a + "k_norm.weight"]) for kh in k])
            qs.append([rot(qh, t, freqs) for qh in q])
            ks.append([rot(kh, t, freqs) for kh in k])
            vs.append(v)
        window = cfg["windows"][l]
        new_x = []
        for i in range(T):
            heads = []
            for hh in range(H):
                g = hh // group
                keys = [j for j in range(i + 1) if window is None or i - j < window]
                s = np.array([cap(float(qs[i][hh] @ ks[j][g]) * cfg["scale"], cfg["attn_softcap"])
                              for j in keys])
                e = np.exp(s - s.max())
                e /= e.sum()
                heads.append(sum(e[n] * vs[j][g] for n, j in enumerate(keys)))
            y = lin(np.concatenate(heads), a + "o_proj")
            if cfg["sandwich"]:
                r = x[i] + norm(y, w[p + "post_attention_layernorm.weight"])
                m = norm(r, w[p + "pre_feedforward_layernorm.weight"])
                m = lin(gelu(lin(m, p + "mlp.gate_proj")) * lin(m, p + "mlp.up_proj"),
                        p + "mlp.down_proj")
                new_x.append(r + norm(m, w[p + "post_feedforward_layernorm.weight"]))
            else:
                r = x[i] + y
                m = norm(r, w[p + "post_attention_layernorm.weight"])
                m = lin(gelu(lin(m, p + "mlp.gate_proj")) * lin(m, p + "mlp.up_proj"),
                        p + "mlp.down_proj")
                new_x.append(r + m)
        x = new_x
        kept.append(np.stack(x))
    unembed = w[P + "embed_tokens.weight"] if cfg["tied"] else w[cfg["lm_head"]]
    logits = np.stack([unembed @ norm(v, w[P + "norm.weight"]) for v in x])
    if cfg["final_softcap"] is not None:
        logits = cfg["final_softcap"] * np.tanh(logits / cfg["final_softcap"])
    return np.stack(kept), logits


lens_probs = rl.lens_probs


def selfcheck_cases(cks, rng):
    cases = []
    trng = torch.Generator().manual_seed(rng.randrange(1 << 30))

    def gelu_matches_torch():
        x = torch.randn(10000, generator=trng, dtype=torch.float64) * 4
        got = gemmaref.gelu_tanh(x)
        want = torch.nn.functional.gelu(x, approximate="tanh")
        d = (got - want).abs().max().item()
        check(d < 1e-12, f"gelu_tanh differs from torch's gelu(approximate='tanh') by {d}")
        d_exact = (got - torch.nn.functional.gelu(x)).abs().max().item()
        check(d_exact > 1e-4, "tanh GeLU indistinguishable from erf GeLU")
        return f"max diff {d:.2g} (vs erf GeLU {d_exact:.2g})"

    def config_conventions():
        mk = gemmaref.make_config
        norm = gemmaref.normalise_config
        out = []
        # Gemma 2: layers 0, 2, 4 slide without layer_types.
        c = norm(mk("gemma2", 32, 64, 5, 4, 100, 64, sliding_window=7))
        check(c["windows"] == [7, None, 7, None, 7], f"gemma2 alternation: {c['windows']}")
        c = norm(mk("gemma2", 32, 64, 3, 4, 100, 64, sliding_window=7, layer_types=[F, F, S]))
        check(c["windows"] == [None, None, 7], f"gemma2 layer_types: {c['windows']}")
        # Defaults of absent keys.
        c = norm(mk("gemma2", 32, 64, 2, 4, 100, 64, omit=(
            "attn_logit_softcapping", "final_logit_softcapping", "query_pre_attn_scalar",
            "sliding_window", "head_dim", "num_attention_heads", "num_key_value_heads",
            "tie_word_embeddings", "rms_norm_eps")))
        check((c["attn_softcap"], c["final_softcap"], c["scale"], c["windows"], c["head_dim"],
               c["n_head"], c["n_kv_head"], c["tied"], c["eps"])
              == (50.0, 30.0, 256 ** -0.5, [4096, None], 256, 8, 4, True, 1e-6),
              f"gemma2 defaults: {c}")
        out.append("gemma2 caps 50/30, qpas 256, head_dim 256, 8/4 heads, tied")
        c = norm(mk("gemma", 32, 64, 2, 4, 100, 64, hidden_activation=None,
                    omit=("head_dim", "num_attention_heads", "num_key_value_heads",
                          "tie_word_embeddings")))
        check((c["head_dim"], c["n_head"], c["n_kv_head"], c["tied"], c["scale"],
               c["attn_softcap"], c["final_softcap"], c["windows"])
              == (256, 16, 16, True, 256 ** -0.5, None, None, [None, None]),
              f"gemma defaults: {c}")
        try:
            norm(mk("gemma", 32, 64, 2, 4, 100, 64, hidden_activation="silu"))
            raise Failure("gemma hidden_activation silu accepted")
        except gemmaref.ConfigError:
            pass
        # Gemma 3: pattern 6 -> layers 5 and 11 global; local/global RoPE.
        c = norm(mk("gemma3_text", 32, 64, 12, 4, 100, 64, sliding_window=9,
                    omit=("rope_theta",)))
        check(c["windows"] == [9] * 5 + [None] + [9] * 5 + [None], f"pattern 6: {c['windows']}")
        check(c["final_softcap"] is None and c["attn_softcap"] is None, "gemma3 caps")
        check(c["ropes"][0] == {"type": "default", "theta": 10000.0}
              and c["ropes"][5] == {"type": "default", "theta": 1e6}, f"gemma3 ropes {c['ropes']}")
        c = norm(mk("gemma3_text", 32, 64, 4, 4, 100, 64, sliding_window=9,
                    sliding_window_pattern=2, rope_theta=5e5, rope_local_base_freq=123.0,
                    rope_scaling={"rope_type": "linear", "factor": 8.0},
                    attn_logit_softcapping=3.0, final_logit_softcapping=7.0))
        check(c["windows"] == [9, None, 9, None], f"pattern 2: {c['windows']}")
        check(c["ropes"][1] == {"type": "linear", "theta": 5e5, "factor": 8.0}
              and c["ropes"][0] == {"type": "default", "theta": 123.0},
              f"rope_scaling only on global layers: {c['ropes']}")
        check(c["attn_softcap"] is None and c["final_softcap"] == 7.0,
              "gemma3: attention cap ignored, final cap applied")
        c = norm(mk("gemma3_text", 32, 64, 2, 4, 100, 64, sliding_window=9, layer_types=[F, S],
                    rope_parameters={S: {"rope_type": "default", "rope_theta": 11.0},
                                     F: {"rope_type": "linear", "factor": 2.0,
                                         "rope_theta": 22.0}}))
        check(c["windows"] == [None, 9] and c["ropes"][0]["theta"] == 22.0
              and c["ropes"][1] == {"type": "default", "theta": 11.0},
              f"rope_parameters per layer type: {c['ropes']}")
        nested = mk("gemma3", 32, 64, 2, 8, 100, 64, n_kv=4, head_dim=256, sliding_window=3,
                    omit=("num_attention_heads", "num_key_value_heads", "head_dim"))
        c = norm(nested)
        check(c["prefix"] == "language_model.model." and c["n_head"] == 8 and c["head_dim"] == 256
              and c["windows"] == [3, 3], f"nested gemma3: {c}")
        for bad, raw in (("sliding without window",
                          mk("gemma2", 32, 64, 2, 4, 100, 64, sliding_window=None)),
                         ("qpas null", mk("gemma2", 32, 64, 2, 4, 100, 64,
                                          query_pre_attn_scalar=None, sliding_window=3)),
                         ("layer_types length", mk("gemma3_text", 32, 64, 2, 4, 100, 64,
                                                   layer_types=[S], sliding_window=3))):
            try:
                norm(raw)
                raise Failure(f"{bad} accepted")
            except gemmaref.ConfigError:
                pass
        out.append("gemma defaults 256/16/16; pattern 6 and 2; local/global rope; errors")
        return "; ".join(out)

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
            n_extra = len(got) - len(ck.stored)
            return f"{len(ck.stored)} tensors (+{n_extra} to ignore) in {len(files)} file(s) " \
                   f"({ck.spec['dtype']})"
        return run

    def naive_matches(ck):
        def run():
            ids = ck.tok.encode(rr.fit_prompt(ck.tok, min(ck.cfg["max_position_embeddings"], 20),
                                              rng))
            with torch.no_grad():
                resid, logits = ck.model.forward(ids)
                last = ck.model.lens(resid)[-1]
            naive, naive_logits = naive_forward(ck.cfg, ck.stored, ids)
            d = float(np.abs(resid.numpy() - naive).max())
            check(d < 1e-9, f"vectorised vs loop forward: residuals differ by {d}")
            dl = float(np.abs(logits.numpy() - naive_logits).max())
            check(dl < 1e-9, f"vectorised vs loop forward: logits differ by {dl}")
            d2 = (last - torch.log_softmax(logits, -1)).abs().max().item()
            check(d2 < 1e-12, f"last lens row vs the model's logits: {d2}")
            m32 = gemmaref.TorchGemma(ck.cfg, ck.stored, dtype=torch.float32)
            p64 = lens_probs(ck.model, ids)
            p32 = lens_probs(m32, ids).to(torch.float64)
            d3 = (p64 - p32).abs().max().item()
            check(d3 < PROB_ATOL / 10, f"float32 lens differs from float64 by {d3}")
            return f"T={len(ids)} loop-vs-vectorised {max(d, dl):.2g}, last-row-vs-logits " \
                   f"{d2:.2g}, float32 max|dp| {d3:.2g}"
        return run

    def sensitivity(ck):
        """Every twist the checkpoint has must move some probability far past the tolerance
        (MOVE_MIN); `need=False` entries are informational."""
        def run():
            cfg = ck.cfg
            ids = ck.tok.encode(rr.fit_prompt(ck.tok, cfg["max_position_embeddings"], rng))
            base = lens_probs(ck.model, ids)
            out = []

            big = base > 1e-4

            def moved(label, c, need=True):
                diff = (lens_probs(gemmaref.TorchGemma(c, ck.stored), ids) - base).abs()
                d = diff.max().item()
                rel = (diff[big] / base[big]).max().item()
                if need:
                    check(d > MOVE_MIN or rel > REL_MOVE_MIN,
                          f"{label}: probabilities move only {d:.2g} (relative {rel:.2g})")
                out.append(f"{label} {d:.2g}" + (f" (rel {rel:.2g})" if d <= MOVE_MIN else ""))
                return d

            v = gemmaref.variant
            L = cfg["n_layer"]
            moved("w-not-1+w", v(cfg, one_plus_w=False))
            moved("no-embed-scale", v(cfg, embed_scale=1.0))
            if cfg["family"] != "gemma":
                moved("scale-head_dim", v(cfg, scale=cfg["head_dim"] ** -0.5),
                      need=abs(cfg["scale"] - cfg["head_dim"] ** -0.5) > 1e-12)
            if cfg["final_softcap"] is not None:
                moved("no-final-softcap", v(cfg, final_softcap=None),
                      need=cfg["final_softcap"] < 10)
            if cfg["attn_softcap"] is not None:
                moved("no-attn-softcap", v(cfg, attn_softcap=None),
                      need=cfg["attn_softcap"] < 10)
            raw_cap = (ck.config.get("text_config") or ck.config).get("attn_logit_softcapping")
            if cfg["family"] == "gemma3_text" and raw_cap:
                moved(f"attn-cap-{raw_cap}-applied(transformers-does-not)",
                      v(cfg, attn_softcap=float(raw_cap)))
            if any(w is not None and w < len(ids) for w in cfg["windows"]):
                moved("no-window", v(cfg, windows=[None] * L))
                moved("window+1", v(cfg, windows=[None if w is None else w + 1
                                                  for w in cfg["windows"]]))
                if any(w is None for w in cfg["windows"]):
                    ws = [w for w in cfg["windows"] if w is not None][0]
                    moved("sliding-layers-swapped", v(cfg, windows=[
                        ws if w is None else None for w in cfg["windows"]]))
            if len({json.dumps(r, sort_keys=True) for r in cfg["ropes"]}) > 1:
                loc = next(r for r, t in zip(cfg["ropes"], cfg["layer_types"]) if t == S)
                glo = next(r for r, t in zip(cfg["ropes"], cfg["layer_types"]) if t == F)
                moved("global-rope-everywhere", v(cfg, ropes=[glo] * L))
                moved("local-rope-everywhere", v(cfg, ropes=[loc] * L))
            if cfg["qk_norm"]:
                moved("no-qk-norm", v(cfg, qk_norm=False))
            if not cfg["tied"]:
                moved("tied-instead", v(cfg, tied=True))
            # A bfloat16 run of transformers rounds sqrt(hidden_size) to bfloat16 (informational:
            # the spec computes it in float32).
            moved("embed-scale-rounded-to-bf16", v(cfg, embed_scale_dtype=torch.bfloat16),
                  need=False)
            return ", ".join(out)
        return run

    def runner_judges_fake_engines(ck):
        """A float32 'engine' passes the comparison; engines with one twist wrong fail."""
        def run():
            cfg = ck.cfg
            prompt = rr.fit_prompt(ck.tok, cfg["max_position_embeddings"], rng)
            L = cfg["n_layer"]
            layers = list(range(L))
            targets = [" Paris", " lens"]
            good = gemmaref.TorchGemma(cfg, ck.stored, dtype=torch.float32)
            out = rl.fake_json(ck, good, prompt, layers, 10, targets, True)
            if cfg["model_type"] == "gemma3":
                j = json.loads(out)
                j["model"]["architecture"] = "gemma3_text"
                out = json.dumps(j)
            worst, worst_h, T, padded, _ = rl.compare_json(ck, out, prompt, layers, 10, targets,
                                                           True)
            wrong = {"w-not-1+w": dict(one_plus_w=False),
                     "no-embed-scale": dict(embed_scale=1.0),
                     "no-final-softcap": dict(final_softcap=None),
                     "no-attn-softcap": dict(attn_softcap=None),
                     "no-window": dict(windows=[None] * L),
                     "window+1": dict(windows=[None if w is None else w + 1
                                               for w in cfg["windows"]]),
                     "no-qk-norm": dict(qk_norm=False),
                     "scale-head_dim": dict(scale=cfg["head_dim"] ** -0.5)}
            caught = []
            for label, change in wrong.items():
                c = gemmaref.variant(cfg, **change)
                if c == cfg:
                    continue
                bad = gemmaref.TorchGemma(c, ck.stored, dtype=torch.float32)
                try:
                    rl.compare_json(ck, rl.fake_json(ck, bad, prompt, layers, 10, targets, True),
                                    prompt, layers, 10, targets, True)
                except Failure:
                    caught.append(label)
                    continue
                raise Failure(f"an engine with {label} passes the comparison")
            return f"float32 passes (max|dp| {worst:.2g}, max|dH| {worst_h:.2g}, padded ids " \
                   f"in top {padded}); caught {', '.join(caught)}"
        return run

    cases.append(("gelu-tanh-matches-torch", gelu_matches_torch))
    cases.append(("config-conventions", config_conventions))
    for ck in cks:
        n = ck.spec["name"]
        cases.append((f"{n}/stored-values-round-trip", stored_values_round_trip(ck)))
        cases.append((f"{n}/loop-forward-last-row-float32", naive_matches(ck)))
        cases.append((f"{n}/features-move-probabilities", sensitivity(ck)))
    for ck in cks:
        if ck.spec["name"] in FAKE_ENGINE_CHECKPOINTS:
            cases.append((f"{ck.spec['name']}/runner-passes-float32-fails-wrong-engines",
                          runner_judges_fake_engines(ck)))
    return cases


FAKE_ENGINE_CHECKPOINTS = (CHECKPOINTS[2]["name"], CHECKPOINTS[5]["name"],
                           CHECKPOINTS[7]["name"])


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=None)
    ap.add_argument("--only", default=None, help="run only cases whose name contains this")
    ap.add_argument("--part", choices=["all", "selfcheck", "lens", "errors"], default="all")
    ap.add_argument("--keep", action="store_true", help="keep the temporary checkpoints")
    ap.add_argument("--seed", type=int, default=8642)
    args = ap.parse_args()
    if args.part != "selfcheck" and not args.cli:
        ap.error("--cli is needed for every part but selfcheck")
    torch.set_num_threads(1)
    cli = args.cli
    rng = random.Random(args.seed)
    t_start = time.monotonic()

    corpus = gpt2ref.make_corpus(random.Random(args.seed + 1), 20000)
    needed = {s["tok"][0] for s in CHECKPOINTS}
    toks = {k: gpt2ref.train_bpe(corpus, a, b, random.Random(args.seed + ord(k)), shuffle_ranks=s)
            for k, (a, b, s) in rr.TOKENIZERS.items() if k in needed}

    root = tempfile.mkdtemp(prefix="lens-reference-gemma-")
    if args.part == "errors":
        specs = [s for s in CHECKPOINTS if s["name"] in BY_FAMILY_BASE.values()]
    else:
        specs = CHECKPOINTS
    if args.only and args.part in ("lens", "selfcheck"):
        specs = [s for s in specs if args.only in s["name"]] or specs
    cks = [Checkpoint(spec, toks[spec["tok"][0]], root, rng) for spec in specs]
    by_name = {ck.spec["name"]: ck for ck in cks}

    cases = []
    if args.part in ("all", "selfcheck"):
        cases += [(f"selfcheck/{n}", fn) for n, fn in selfcheck_cases(cks, rng)]
    if args.part in ("all", "lens"):
        for ck in cks:
            cases += rl.lens_cases(cli, ck, rng, root)
    if args.part in ("all", "errors"):
        cases += [(f"error/{n}", fn) for n, fn in error_cases(cli, by_name, root, rng)]

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
