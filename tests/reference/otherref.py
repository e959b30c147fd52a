"""Reference pieces for the GPT-NeoX (Pythia), Phi-3 and OLMo-2 tests (model_type gpt_neox, phi3,
olmo2).

- how Hugging Face `transformers` reads each family's config.json (defaults, the older and newer
  spellings of the RoPE settings), as one normalised dict;
- the forward pass and the logit lens in float64 torch, written from the semantics of
  transformers' modeling_gpt_neox.py, modeling_phi3.py, modeling_olmo2.py and
  modeling_rope_utils.py (eval mode, no cache, one sequence, positions 0..T-1);
- random checkpoints of those families in Hugging Face layout (config.json with each family's own
  key names, the fused tensors laid out as transformers reads them, safetensors written by
  gpt2ref's writer, single-file or sharded, optionally with the legacy buffers old GPT-NeoX
  conversions carry).

Conventions confirmed in the transformers source (see the docstrings below for each):
- GPT-NeoX `attention.query_key_value` (3*C, C): its output is viewed as (T, heads, 3*head_dim)
  and split into q, k, v along the last axis, i.e. rows [h*3*D, h*3*D + D) are head h's query,
  the next D its key, the next D its value (older _attn_projections_and_rope and the newer
  `view(hidden_shape).transpose(1, 2).chunk(3, dim=-1)` agree).
- GPT-NeoX rotary dims = int(head_dim * rotary_pct) (truncated, not rounded), applied to the
  first rotary dims of each head with rotate_half pairing (i, i + rot/2) inside them; the rest
  passes through.
- Phi-3 `self_attn.qkv_proj`: rows [q (H*D) | k (KV*D) | v (KV*D)]; `mlp.gate_up_proj`:
  `gate, up = gate_up.chunk(2, dim=-1)`, rows [gate (I) | up (I)], out = down(up * silu(gate)).
- Phi-3 longrope: inv_freq = 1 / (ext * theta^(2i/rot)), ext = long_factor when the sequence
  (max position id + 1) is longer than original_max_position_embeddings, else short_factor;
  cos and sin are both multiplied by attention_factor (default sqrt(1 + ln(f) / ln(orig)) with
  f = max_position_embeddings / original_max_position_embeddings, 1 when f <= 1), whichever
  factors are in use.
- OLMo-2: q_norm / k_norm are RMSNorms over the whole projection (H*D and KV*D values) before
  the heads are split and before RoPE; blocks are x + post_attention_layernorm(attn(x)), then
  x + post_feedforward_layernorm(mlp(x)) (no input norm).
"""

import math

import numpy as np
import torch

import gpt2ref
import llamaref

FAMILIES = ("gpt_neox", "phi3", "olmo2")

ARCHITECTURES = {"gpt_neox": "GPTNeoXForCausalLM", "phi3": "Phi3ForCausalLM",
                 "olmo2": "Olmo2ForCausalLM"}

ConfigError = llamaref.ConfigError


# ----------------------------------------------------------------------------------------------
# config.json as transformers reads it

def _rope_params(c):
    """`rope_scaling` (older spelling) wins over `rope_parameters` (newer); a copy."""
    return dict(c.get("rope_scaling") or c.get("rope_parameters") or {})


def neox_rope(c, head_dim):
    """GPT-NeoX's RoPE. configuration_gpt_neox.py:
    - 4.4x: `rotary_pct` (default 0.25) and `rotary_emb_base` (default 10000) are the only keys
      read (the attributes partial_rotary_factor / rope_theta are set *from* them, so a
      config.json written by those versions carries both spellings with equal values);
    - newer (rope_parameters): rope_parameters.setdefault("rope_theta", rotary_emb_base or 10000)
      and setdefault("partial_rotary_factor", rotary_pct or 0.25): a value inside
      rope_parameters wins. (One development version assigned rotary_pct-or-0.25 over it instead;
      the checkpoints here never make the two readings differ.)
    Only the default RoPE is modelled (4.4x's rope_scaling linear/dynamic are not)."""
    params = _rope_params(c)
    rope_type = params.get("rope_type", params.get("type", "default"))
    if rope_type != "default":
        raise ConfigError(f"rope type {rope_type!r} is not modelled for gpt_neox")
    theta = params.get("rope_theta", c.get("rotary_emb_base", c.get("rope_theta", 10000.0)))
    prf = params.get("partial_rotary_factor",
                     c.get("rotary_pct", c.get("partial_rotary_factor", 0.25)))
    return {"type": "default", "theta": float(theta), "partial_rotary_factor": float(prf),
            "rotary_dim": int(head_dim * prf)}


def phi3_rope(c, head_dim):
    """Phi-3's RoPE (configuration_phi3.py, modeling_rope_utils.py): types "default" and
    "longrope" ("su" and "yarn", older names, become "longrope"); anything else is refused.
    theta: rope_parameters' rope_theta, else top-level rope_theta, else 10000.
    partial_rotary_factor: top-level key (default 1.0) (also read from inside rope_parameters).
    longrope: original_max_position_embeddings is the *top-level* key (Phi3Config field, default
    4096; standardize_rope_params gives it priority over one inside rope_scaling); factor =
    rope_scaling's factor, else max_position_embeddings / original_max (4.45 always used the
    ratio: the checkpoints here never set factor); attention_factor = rope_scaling's, else
    sqrt(1 + ln(factor) / ln(original_max)) when factor > 1, else 1."""
    params = _rope_params(c)
    rope_type = params.get("rope_type", params.get("type", "default"))
    if rope_type in ("su", "yarn"):
        rope_type = "longrope"
    if rope_type not in ("default", "longrope"):
        raise ConfigError(f"rope type {rope_type!r}: Phi3Config accepts only default/longrope")
    theta = params.get("rope_theta", c.get("rope_theta", 10000.0))
    prf = params.get("partial_rotary_factor", c.get("partial_rotary_factor", 1.0))
    rot = int(head_dim * prf)
    out = {"type": rope_type, "theta": float(theta), "partial_rotary_factor": float(prf),
           "rotary_dim": rot}
    if rope_type == "longrope":
        orig = int(c.get("original_max_position_embeddings",
                         params.get("original_max_position_embeddings", 4096)))
        factor = params.get("factor")
        if factor is None:
            factor = c["max_position_embeddings"] / orig
        af = params.get("attention_factor")
        if af is None:
            af = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(orig))
        for key in ("short_factor", "long_factor"):
            if key not in params:
                raise ConfigError(f"longrope without {key}")
            if len(params[key]) != rot // 2:
                raise ConfigError(f"{key} has {len(params[key])} entries, want {rot // 2}")
        out.update(original_max_position_embeddings=orig, factor=float(factor),
                   attention_factor=float(af),
                   short_factor=[float(x) for x in params["short_factor"]],
                   long_factor=[float(x) for x in params["long_factor"]])
    return out


def normalise_config(c):
    """A raw config.json dict -> the numbers the forward pass needs, with each family's own
    defaults (those of transformers' configuration_*.py for a key that is absent).
    - gpt_neox: layer_norm_eps 1e-5, hidden_act "gelu" (exact erf; "gelu_new"/"gelu_fast"/
      "gelu_pytorch_tanh" are the tanh approximation), use_parallel_residual True,
      attention_bias True (q/k/v and dense biases; absent in old configs = biases present),
      tie_word_embeddings False (tied: embed_out is gpt_neox.embed_in), no GQA, head_dim =
      hidden_size / heads.
    - phi3: rms_norm_eps 1e-5, tie_word_embeddings False, num_key_value_heads = heads,
      sliding_window None (when set, every layer slides: create_sliding_window_causal_mask,
      key j visible from query i when 0 <= i - j < window), no biases.
    - olmo2: rms_norm_eps 1e-5, tie_word_embeddings False, attention_bias False (q, k, v, o),
      RoPE as llama's (default/linear/llama3, both spellings), no sliding window."""
    mt = c["model_type"]
    if mt not in FAMILIES:
        raise ConfigError(f"model_type {mt!r}")
    hidden = int(c["hidden_size"])
    n_head = int(c["num_attention_heads"])
    if hidden % n_head:
        raise ConfigError("num_attention_heads does not divide hidden_size")
    head_dim = hidden // n_head
    L = int(c["num_hidden_layers"])
    if mt == "gpt_neox":
        n_kv = n_head
    else:
        n_kv = c.get("num_key_value_heads")
        n_kv = n_head if n_kv is None else int(n_kv)
        if n_kv <= 0 or n_head % n_kv:
            raise ConfigError("num_key_value_heads does not divide num_attention_heads")
    cfg = {
        "model_type": mt,
        "hidden_size": hidden,
        "intermediate_size": int(c["intermediate_size"]),
        "n_layer": L,
        "n_head": n_head,
        "n_kv_head": n_kv,
        "head_dim": head_dim,
        "vocab_size": int(c["vocab_size"]),
        "tied": bool(c.get("tie_word_embeddings", False)),
        "max_position_embeddings": int(c["max_position_embeddings"]),
        "windows": [None] * L,
    }
    if mt == "gpt_neox":
        act = c.get("hidden_act", "gelu")
        if act not in ("gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh"):
            raise ConfigError(f"hidden_act {act!r} is not modelled")
        bias = bool(c.get("attention_bias", True))
        cfg.update(norm="layer", eps=float(c.get("layer_norm_eps", 1e-5)),
                   act="gelu" if act == "gelu" else "gelu_tanh",
                   block="parallel" if c.get("use_parallel_residual", True) else "sequential",
                   qkv_bias=bias, o_bias=bias, mlp_bias=True, qkv_layout="neox",
                   rope=neox_rope(c, head_dim), qk_norm=None)
        if cfg["rope"]["rotary_dim"] % 2:
            raise ConfigError(f"rotary dims {cfg['rope']['rotary_dim']} is odd")
    elif mt == "phi3":
        window = c.get("sliding_window")
        cfg.update(norm="rms", eps=float(c.get("rms_norm_eps", 1e-5)), act="silu", block="pre",
                   qkv_bias=False, o_bias=False, mlp_bias=False, qkv_layout="phi3",
                   rope=phi3_rope(c, head_dim), qk_norm=None, windows=[window] * L)
    else:
        rope = llamaref.rope_settings(c)
        rope.update(partial_rotary_factor=1.0, rotary_dim=head_dim)
        bias = bool(c.get("attention_bias", False))
        cfg.update(norm="rms", eps=float(c.get("rms_norm_eps", 1e-5)), act="silu", block="post",
                   qkv_bias=bias, o_bias=bias, mlp_bias=False, qkv_layout="separate",
                   rope=rope, qk_norm="whole")
    return cfg


# ----------------------------------------------------------------------------------------------
# The pieces of the forward pass

def rope_tables(rope, T):
    """(inv_freq (rot/2,), attention_scaling) used for a sequence of T tokens (positions
    0..T-1): longrope picks long_factor when T > original_max_position_embeddings."""
    rot = rope["rotary_dim"]
    shape = torch.arange(0, rot, 2, dtype=torch.float64) / rot
    if rope["type"] == "longrope":
        long = T > rope["original_max_position_embeddings"]
        ext = torch.tensor(rope["long_factor"] if long else rope["short_factor"],
                           dtype=torch.float64)
        return 1.0 / (ext * rope["theta"] ** shape), rope["attention_factor"]
    return llamaref.rope_inv_freq(rope, rot), 1.0


def rope_cos_sin(rope, T):
    inv_freq, scale = rope_tables(rope, T)
    cos, sin = llamaref.rope_cos_sin(inv_freq, T)
    return cos * scale, sin * scale


def apply_partial_rope(x, cos, sin):
    """x (..., T, D); cos/sin (T, rot): the first rot dims rotated with pairs (i, i + rot/2), the
    rest passed through."""
    rot = cos.shape[-1]
    if rot == 0:
        return x
    return torch.cat((llamaref.apply_rope(x[..., :rot], cos, sin), x[..., rot:]), dim=-1)


def layer_norm(x, w, b, eps):
    """torch.nn.LayerNorm: biased variance over the last axis."""
    mu = x.mean(-1, keepdim=True)
    var = (x - mu).pow(2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu(x, kind):
    if kind == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def neox_fuse_qkv(q, k, v, H, D):
    """Separate (H*D, ...) q, k, v (weights or biases) -> GPT-NeoX's fused (3*H*D, ...) rows:
    per head h, its D query rows, then its D key rows, then its D value rows."""
    rest = q.shape[1:]
    parts = [a.reshape((H, D) + rest) for a in (q, k, v)]
    return np.stack(parts, axis=1).reshape((3 * H * D,) + rest)


def neox_split_qkv(y, H, D):
    """Fused projection output (T, 3*H*D) -> q, k, v (H, T, D), as modeling_gpt_neox does:
    view (T, H, 3*D), then [..., :D], [..., D:2D], [..., 2D:]."""
    T = y.shape[0]
    y = y.view(T, H, 3 * D).transpose(0, 1)
    return y[..., :D], y[..., D:2 * D], y[..., 2 * D:]


class Prefixes:
    def __init__(self, mt):
        if mt == "gpt_neox":
            self.embed = "gpt_neox.embed_in.weight"
            self.layer = "gpt_neox.layers.{}."
            self.final = "gpt_neox.final_layer_norm"
            self.unembed = "embed_out.weight"
        else:
            self.embed = "model.embed_tokens.weight"
            self.layer = "model.layers.{}."
            self.final = "model.norm"
            self.unembed = "lm_head.weight"


class TorchOther:
    """Forward pass and lens of the three families on exactly the stored weights.
    cfg: normalise_config output; weights: full HF names -> numpy arrays (stored values)."""

    def __init__(self, cfg, weights, dtype=torch.float64):
        self.cfg = cfg
        self.dtype = dtype
        self.n = Prefixes(cfg["model_type"])
        self.w = {k: torch.from_numpy(np.ascontiguousarray(v)).to(dtype) for k, v in weights.items()
                  if k.endswith(".weight") or k.endswith(".bias")}
        self.unembed = self.w[self.n.embed] if cfg["tied"] else self.w[self.n.unembed]

    def linear(self, x, name, bias):
        y = x @ self.w[name + ".weight"].T
        if bias:
            y = y + self.w[name + ".bias"]
        return y

    def norm(self, x, name):
        if self.cfg["norm"] == "layer":
            return layer_norm(x, self.w[name + ".weight"], self.w[name + ".bias"], self.cfg["eps"])
        return llamaref.rms_norm(x, self.w[name + ".weight"], self.cfg["eps"])

    def qkv(self, l, x):
        cfg = self.cfg
        T = x.shape[0]
        H, KV, D = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
        p = self.n.layer.format(l)
        if cfg["qkv_layout"] == "neox":
            return neox_split_qkv(self.linear(x, p + "attention.query_key_value", cfg["qkv_bias"]),
                                  H, D)
        if cfg["qkv_layout"] == "phi3":
            y = self.linear(x, p + "self_attn.qkv_proj", False)
            q, k, v = y[:, :H * D], y[:, H * D:(H + KV) * D], y[:, (H + KV) * D:]
        else:
            a = p + "self_attn."
            q = self.linear(x, a + "q_proj", cfg["qkv_bias"])
            k = self.linear(x, a + "k_proj", cfg["qkv_bias"])
            v = self.linear(x, a + "v_proj", cfg["qkv_bias"])
            if cfg["qk_norm"] == "whole":
                q = llamaref.rms_norm(q, self.w[a + "q_norm.weight"], cfg["eps"])
                k = llamaref.rms_norm(k, self.w[a + "k_norm.weight"], cfg["eps"])
        return (q.reshape(T, H, D).transpose(0, 1), k.reshape(T, KV, D).transpose(0, 1),
                v.reshape(T, KV, D).transpose(0, 1))

    def attention(self, l, x, cos, sin):
        cfg = self.cfg
        T = x.shape[0]
        H, KV, D = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
        q, k, v = self.qkv(l, x)
        q = apply_partial_rope(q, cos, sin)
        k = apply_partial_rope(k, cos, sin)
        k = llamaref.repeat_kv(k, H // KV)
        v = llamaref.repeat_kv(v, H // KV)
        scores = (q @ k.transpose(-1, -2)) * D ** -0.5
        allowed = llamaref.attention_allowed(T, cfg["windows"][l])
        scores = scores.masked_fill(~allowed, float("-inf"))
        y = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(T, H * D)
        p = self.n.layer.format(l)
        if cfg["model_type"] == "gpt_neox":
            return self.linear(y, p + "attention.dense", cfg["o_bias"])
        return self.linear(y, p + "self_attn.o_proj", cfg["o_bias"])

    def mlp(self, l, x):
        p = self.n.layer.format(l) + "mlp."
        if self.cfg["model_type"] == "gpt_neox":
            h = gelu(self.linear(x, p + "dense_h_to_4h", True), self.cfg["act"])
            return self.linear(h, p + "dense_4h_to_h", True)
        if self.cfg["model_type"] == "phi3":
            gu = self.linear(x, p + "gate_up_proj", False)
            gate, up = gu.chunk(2, dim=-1)
            return self.linear(up * torch.nn.functional.silu(gate), p + "down_proj", False)
        g = self.linear(x, p + "gate_proj", False)
        u = self.linear(x, p + "up_proj", False)
        return self.linear(torch.nn.functional.silu(g) * u, p + "down_proj", False)

    def forward(self, ids):
        """ids: list of ints. Returns (residuals (L+1, T, C), logits (T, V))."""
        cfg = self.cfg
        T = len(ids)
        x = self.w[self.n.embed][torch.tensor(ids, dtype=torch.long)]
        kept = [x]
        self.mids = []  # the residual after each layer's attention sub-layer (--sublayers)
        cos, sin = rope_cos_sin(cfg["rope"], T)
        cos, sin = cos.to(self.dtype), sin.to(self.dtype)
        for l in range(cfg["n_layer"]):
            p = self.n.layer.format(l)
            if cfg["block"] == "parallel":
                a = self.attention(l, self.norm(x, p + "input_layernorm"), cos, sin)
                m = self.mlp(l, self.norm(x, p + "post_attention_layernorm"))
                self.mids.append(x + a)  # the attention's contribution alone
                x = x + a + m
            elif cfg["block"] in ("sequential", "pre"):
                x = x + self.attention(l, self.norm(x, p + "input_layernorm"), cos, sin)
                self.mids.append(x)
                x = x + self.mlp(l, self.norm(x, p + "post_attention_layernorm"))
            elif cfg["block"] == "post":  # OLMo-2
                x = x + self.norm(self.attention(l, x, cos, sin), p + "post_attention_layernorm")
                self.mids.append(x)
                x = x + self.norm(self.mlp(l, x), p + "post_feedforward_layernorm")
            else:  # "post_residual": the classic post-LN, only as a wrong reading of OLMo-2
                x = self.norm(x + self.attention(l, x, cos, sin), p + "post_attention_layernorm")
                self.mids.append(x)
                x = self.norm(x + self.mlp(l, x), p + "post_feedforward_layernorm")
            kept.append(x)
        h = self.norm(x, self.n.final)
        return torch.stack(kept), h @ self.unembed.T

    def lens(self, resid):
        """(R, T, C) -> log-probabilities (R, T, V): final norm, unembedding, log_softmax."""
        h = self.norm(resid, self.n.final)
        return torch.log_softmax(h @ self.unembed.T, dim=-1)


# ----------------------------------------------------------------------------------------------
# Random checkpoints in Hugging Face layout

def make_config(family, hidden, intermediate, n_layer, n_head, vocab_size, max_pos, dtype="F32",
                n_kv=None, tied=None, eps=1e-5, bos_token_id=None, omit=(), extra=None,
                **kw):
    """A config.json dict with the family's real key names. Family keys in kw:
    gpt_neox: rotary_pct, rotary_emb_base, parallel, hidden_act, attention_bias, style
      ("old": rotary_pct + rotary_emb_base only, as Pythia's config.json; "4.45": those plus
      partial_rotary_factor + rope_theta with equal values, as save_pretrained of 4.45-4.5x
      writes; "v5": rope_parameters {rope_type, rope_theta, partial_rotary_factor} only).
    phi3: rope_theta, rope_scaling, original_max, partial_rotary_factor, sliding_window.
    olmo2: rope_theta, rope_scaling, rope_parameters, attention_bias.
    omit: keys to leave out (to test the defaults)."""
    c = {
        "architectures": [ARCHITECTURES[family]],
        "model_type": family,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": n_layer,
        "num_attention_heads": n_head,
        "max_position_embeddings": max_pos,
        "initializer_range": 0.02,
        "vocab_size": vocab_size,
        "use_cache": True,
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
        "transformers_version": "4.51.3",
        "bos_token_id": bos_token_id,
        "eos_token_id": bos_token_id,
    }
    if tied is not None:
        c["tie_word_embeddings"] = tied
    if family == "gpt_neox":
        style = kw.get("style", "old")
        c.update(hidden_act=kw.get("hidden_act", "gelu"), layer_norm_eps=eps,
                 use_parallel_residual=kw.get("parallel", True), hidden_dropout=0.0,
                 attention_dropout=0.0, classifier_dropout=0.1)
        pct, base = kw.get("rotary_pct", 0.25), kw.get("rotary_emb_base", 10000)
        if style in ("old", "4.45"):
            c.update(rotary_pct=pct, rotary_emb_base=base, rope_scaling=None)
            if style == "4.45":
                c.update(partial_rotary_factor=pct, rope_theta=base)
        else:
            c["rope_parameters"] = {"rope_type": "default", "rope_theta": base,
                                    "partial_rotary_factor": pct}
            c["transformers_version"] = "5.0.0"
        if "attention_bias" in kw:
            c["attention_bias"] = kw["attention_bias"]
    else:
        c.update(hidden_act="silu", rms_norm_eps=eps, attention_dropout=0.0,
                 num_key_value_heads=n_head if n_kv is None else n_kv)
        if kw.get("rope_parameters") is not None:
            c["rope_parameters"] = kw["rope_parameters"]
        else:
            c["rope_theta"] = kw.get("rope_theta", 10000.0)
            c["rope_scaling"] = kw.get("rope_scaling")
        if family == "phi3":
            c.update(resid_pdrop=0.0, embd_pdrop=0.0,
                     original_max_position_embeddings=kw.get("original_max", max_pos),
                     sliding_window=kw.get("sliding_window"))
            if "partial_rotary_factor" in kw:
                c["partial_rotary_factor"] = kw["partial_rotary_factor"]
        else:
            c["attention_bias"] = bool(kw.get("attention_bias", False))
    for k in omit:
        c.pop(k, None)
    if extra:
        c.update(extra)
    return c


def random_weights(cfg, rng, emb_scale=2.5, padded_from=None):
    """float32 numpy weights under their full HF names (fused tensors already fused).
    Also returns the separate q/k/v (and gate/up) pieces under "<layer>.separate.*" names for
    the layout self-checks (not written to the checkpoint)."""
    C, I, L, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["n_layer"], cfg["vocab_size"]
    H, KV, D = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
    mt = cfg["model_type"]
    names = Prefixes(mt)
    emb_std = emb_scale / math.sqrt(C)

    def n(*shape, s=1.0):
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(s)

    def norm_w(size, s=0.2, centre=1.0):
        return np.float32(centre) + n(size, s=s)

    def emb():
        e = n(V, C, s=emb_std)
        if padded_from is not None:
            e[padded_from:] *= np.float32(1.2)
        return e

    w = {names.embed: emb()}
    sep = {}
    for l in range(L):
        p = names.layer.format(l)
        q = n(H * D, C, s=1.6 / math.sqrt(C))
        k = n(KV * D, C, s=1.6 / math.sqrt(C))
        v = n(KV * D, C, s=1.0 / math.sqrt(C))
        sep[p + "separate.q"], sep[p + "separate.k"], sep[p + "separate.v"] = q, k, v
        if mt == "gpt_neox":
            w[p + "input_layernorm.weight"] = norm_w(C)
            w[p + "input_layernorm.bias"] = n(C, s=0.1)
            w[p + "post_attention_layernorm.weight"] = norm_w(C)
            w[p + "post_attention_layernorm.bias"] = n(C, s=0.1)
            w[p + "attention.query_key_value.weight"] = neox_fuse_qkv(q, k, v, H, D)
            if cfg["qkv_bias"]:
                bq, bk, bv = n(H * D, s=0.3), n(H * D, s=0.3), n(H * D, s=0.1)
                sep[p + "separate.bq"], sep[p + "separate.bk"], sep[p + "separate.bv"] = bq, bk, bv
                w[p + "attention.query_key_value.bias"] = neox_fuse_qkv(bq, bk, bv, H, D)
            w[p + "attention.dense.weight"] = n(C, H * D, s=1.0 / math.sqrt(H * D))
            if cfg["o_bias"]:
                w[p + "attention.dense.bias"] = n(C, s=0.1)
            # Pre-activations spread to |x| ~ 3, where exact and tanh GELU differ most (5e-4),
            # and a strong MLP, so that the GELU variant shows in the probabilities.
            w[p + "mlp.dense_h_to_4h.weight"] = n(I, C, s=2.5 / math.sqrt(C))
            w[p + "mlp.dense_h_to_4h.bias"] = n(I, s=0.5)
            w[p + "mlp.dense_4h_to_h.weight"] = n(C, I, s=4.0 / math.sqrt(I))
            w[p + "mlp.dense_4h_to_h.bias"] = n(C, s=0.1)
        elif mt == "phi3":
            w[p + "input_layernorm.weight"] = norm_w(C)
            w[p + "post_attention_layernorm.weight"] = norm_w(C)
            w[p + "self_attn.qkv_proj.weight"] = np.concatenate((q, k, v), axis=0)
            w[p + "self_attn.o_proj.weight"] = n(C, H * D, s=1.0 / math.sqrt(H * D))
            g, u = n(I, C, s=1.0 / math.sqrt(C)), n(I, C, s=1.0 / math.sqrt(C))
            sep[p + "separate.gate"], sep[p + "separate.up"] = g, u
            w[p + "mlp.gate_up_proj.weight"] = np.concatenate((g, u), axis=0)
            w[p + "mlp.down_proj.weight"] = n(C, I, s=1.5 / math.sqrt(I))
        else:
            a = p + "self_attn."
            w[a + "q_proj.weight"], w[a + "k_proj.weight"], w[a + "v_proj.weight"] = q, k, v
            w[a + "o_proj.weight"] = n(C, H * D, s=1.0 / math.sqrt(H * D))
            if cfg["qkv_bias"]:
                w[a + "q_proj.bias"] = n(H * D, s=0.3)
                w[a + "k_proj.bias"] = n(KV * D, s=0.3)
                w[a + "v_proj.bias"] = n(KV * D, s=0.1)
                w[a + "o_proj.bias"] = n(C, s=0.1)
            w[a + "q_norm.weight"] = norm_w(H * D, s=0.5)
            w[a + "k_norm.weight"] = norm_w(KV * D, s=0.5)
            # Post-norms well below 1 so that the embeddings still count after a few blocks.
            w[p + "post_attention_layernorm.weight"] = norm_w(C, s=0.1, centre=0.5)
            w[p + "post_feedforward_layernorm.weight"] = norm_w(C, s=0.1, centre=0.5)
            w[p + "mlp.gate_proj.weight"] = n(I, C, s=1.0 / math.sqrt(C))
            w[p + "mlp.up_proj.weight"] = n(I, C, s=1.0 / math.sqrt(C))
            w[p + "mlp.down_proj.weight"] = n(C, I, s=1.5 / math.sqrt(I))
    w[names.final + ".weight"] = norm_w(C)
    if cfg["norm"] == "layer":
        w[names.final + ".bias"] = n(C, s=0.1)
    if not cfg["tied"]:
        w[names.unembed] = emb()
    return w, sep


def neox_legacy_buffers(cfg, dtype_mask="BOOL"):
    """What old GPT-NeoX conversions (Pythia on the Hub) carry next to the weights, per layer:
    attention.bias (1, 1, P, P) causal mask (BOOL), attention.masked_bias (scalar F32, -1e9),
    attention.rotary_emb.inv_freq (rot/2,) F32. A reader must ignore them.
    Returns (name, dtype, float32 array) triples."""
    P = cfg["max_position_embeddings"]
    rot = cfg["rope"]["rotary_dim"]
    out = []
    mask = np.tril(np.ones((P, P), dtype=np.float32)).reshape(1, 1, P, P)
    inv = (1.0 / cfg["rope"]["theta"] ** (np.arange(0, rot, 2) / rot)).astype(np.float32)
    for l in range(cfg["n_layer"]):
        p = f"gpt_neox.layers.{l}.attention."
        out.append((p + "bias", dtype_mask, mask))
        out.append((p + "masked_bias", "F32", np.array(-1e9, dtype=np.float32)))
        out.append((p + "rotary_emb.inv_freq", "F32", inv))
    return out


def write_checkpoint(d, config, weights, dtype="F32", shards=1, rng=None, tensor_order="natural",
                     extra_tensors=None):
    """llamaref.write_checkpoint, with extra_tensors as (name, dtype, array) triples (BOOL and F32
    buffers) mixed among the weights when the order is random."""
    return llamaref.write_checkpoint(d, config, weights, dtype=dtype, shards=shards, rng=rng,
                                     tensor_order=tensor_order, extra_tensors=extra_tensors,
                                     shuffle_extras=True)
