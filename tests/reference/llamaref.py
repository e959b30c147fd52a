"""Reference pieces for the Llama-family tests (model_type llama, mistral, qwen2, qwen3).

- how Hugging Face `transformers` reads each family's config.json (defaults, the two spellings of
  the RoPE settings, sliding-window rules), as one normalised dict;
- the forward pass and the logit lens in float64 torch, written from the semantics of
  transformers' modeling_llama.py, modeling_mistral.py, modeling_qwen2.py, modeling_qwen3.py,
  masking_utils.py and modeling_rope_utils.py (eval mode, no cache, one sequence, positions
  0..T-1);
- random checkpoints of those families in Hugging Face layout (config.json with each family's own
  key names + safetensors written by gpt2ref's writer, single-file or sharded).

Runs with Debian's /usr/bin/python3 (python3-torch, python3-numpy); nothing from PyPI and no
`transformers`. Everything is float64: Hugging Face computes RMSNorm and RoPE's cos/sin in float32
and the rest in the checkpoint's dtype; the tests' tolerances absorb the difference (the
selfcheck part measures it).
"""

import json
import math
import os
import random

import numpy as np
import torch

import gpt2ref

FAMILIES = ("llama", "mistral", "qwen2", "qwen3")

ARCHITECTURES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                 "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}


class ConfigError(ValueError):
    pass


# ----------------------------------------------------------------------------------------------
# config.json as transformers reads it

def rope_settings(c):
    """The RoPE settings of a raw config dict, as modeling_rope_utils' standardize_rope_params
    reads them: `rope_scaling` (older spelling) wins over `rope_parameters` (newer spelling, which
    also carries rope_theta); rope_theta comes from that dict, else the top-level key, else
    10000; the type is `rope_type`, else the legacy `type`, else "default"; llama3's
    original_max_position_embeddings falls back to max_position_embeddings."""
    params = dict(c.get("rope_scaling") or c.get("rope_parameters") or {})
    theta = params.get("rope_theta", c.get("rope_theta", 10000.0))
    rope_type = params.get("rope_type", params.get("type", "default"))
    out = {"type": rope_type, "theta": float(theta)}
    if rope_type == "default":
        pass
    elif rope_type == "linear":
        out["factor"] = float(params["factor"])
    elif rope_type == "llama3":
        out["factor"] = float(params["factor"])
        out["low_freq_factor"] = float(params["low_freq_factor"])
        out["high_freq_factor"] = float(params["high_freq_factor"])
        out["original_max_position_embeddings"] = int(
            params.get("original_max_position_embeddings", c["max_position_embeddings"]))
    else:
        raise ConfigError(f"rope type {rope_type!r} is not modelled here")
    return out


def normalise_config(c):
    """A raw config.json dict -> the numbers the forward pass needs, with each family's own
    defaults (those of transformers' configuration_*.py for a key that is absent).

    Sliding windows (masking_utils.sliding_window_overlay: `kv_idx > q_idx - sliding_window` on
    top of causal `kv_idx <= q_idx`): a query at position i attends to the keys j with
    0 <= i - j < sliding_window, i.e. to itself and the sliding_window - 1 tokens before it.
    - llama: no sliding window at all.
    - mistral: every layer uses config.sliding_window (None, or absent from config.json: MistralConfig
      defaults it to 4096).
    - qwen2, qwen3: the window is `sliding_window if use_sliding_window else None`
      (use_sliding_window defaults to False); `layer_types`, when config.json has it, says per
      layer "sliding_attention" or "full_attention"; otherwise layer i slides when the window is
      set and i >= max_window_layers (default 28). A "sliding_attention" layer with no window is
      full attention.
    Biases: llama's attention_bias puts biases on q, k, v and o, mlp_bias on gate, up and down;
    qwen2 always has q, k, v biases and never o's; qwen3's attention_bias is on q, k, v and o;
    mistral has none.
    head_dim: `head_dim` when set and non-zero, else hidden_size // num_attention_heads (Qwen3Config
    defaults head_dim to 128 when it is absent)."""
    mt = c["model_type"]
    if mt not in FAMILIES:
        raise ConfigError(f"model_type {mt!r}")
    hidden = int(c["hidden_size"])
    n_head = int(c["num_attention_heads"])
    n_kv = c.get("num_key_value_heads")
    n_kv = n_head if n_kv is None else int(n_kv)
    if mt == "qwen3":
        head_dim = c.get("head_dim", 128)
    else:
        head_dim = c.get("head_dim")
    if not head_dim:
        if hidden % n_head:
            raise ConfigError("num_attention_heads does not divide hidden_size")
        head_dim = hidden // n_head
    if n_kv <= 0 or n_head % n_kv:
        raise ConfigError("num_key_value_heads does not divide num_attention_heads")
    L = int(c["num_hidden_layers"])

    if mt == "llama":
        windows = [None] * L
    elif mt == "mistral":
        windows = [c.get("sliding_window", 4096)] * L
    else:
        window = c.get("sliding_window", 4096) if c.get("use_sliding_window", False) else None
        types = c.get("layer_types")
        if types is None:
            mwl = c.get("max_window_layers", 28)
            types = ["sliding_attention" if window is not None and i >= mwl else "full_attention"
                     for i in range(L)]
        windows = [window if types[i] == "sliding_attention" else None for i in range(L)]

    attn_bias = bool(c.get("attention_bias", False))
    return {
        "model_type": mt,
        "hidden_size": hidden,
        "intermediate_size": int(c["intermediate_size"]),
        "n_layer": L,
        "n_head": n_head,
        "n_kv_head": n_kv,
        "head_dim": int(head_dim),
        "vocab_size": int(c["vocab_size"]),
        "eps": float(c.get("rms_norm_eps", 1e-6)),
        "tied": bool(c.get("tie_word_embeddings", False)),
        "qkv_bias": {"llama": attn_bias, "mistral": False, "qwen2": True, "qwen3": attn_bias}[mt],
        "o_bias": {"llama": attn_bias, "mistral": False, "qwen2": False, "qwen3": attn_bias}[mt],
        "mlp_bias": bool(c.get("mlp_bias", False)) if mt == "llama" else False,
        "qk_norm": mt == "qwen3",
        "windows": windows,
        "rope": rope_settings(c),
        "max_position_embeddings": int(c["max_position_embeddings"]),
    }


# ----------------------------------------------------------------------------------------------
# The pieces of the forward pass

def rope_inv_freq(rope, head_dim):
    """Inverse frequencies (head_dim / 2,) in float64: _compute_default_rope_parameters,
    _compute_linear_scaling_rope_parameters (inv_freq / factor, the same as dividing the
    positions), _compute_llama3_parameters (wavelengths shorter than
    original_max / high_freq_factor kept, longer than original_max / low_freq_factor divided by
    factor, those in between interpolated with a smooth factor). attention_scaling is 1 for all
    three."""
    inv_freq = 1.0 / (rope["theta"] ** (torch.arange(0, head_dim, 2, dtype=torch.float64)
                                        / head_dim))
    if rope["type"] == "linear":
        inv_freq = inv_freq / rope["factor"]
    elif rope["type"] == "llama3":
        factor = rope["factor"]
        low, high = rope["low_freq_factor"], rope["high_freq_factor"]
        old_len = rope["original_max_position_embeddings"]
        low_freq_wavelen = old_len / low
        high_freq_wavelen = old_len / high
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth = (old_len / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
        inv_freq = torch.where(medium, smoothed, scaled)
    return inv_freq


def rope_cos_sin(inv_freq, T):
    """cos, sin of shape (T, head_dim): the angles pos * inv_freq, the halves concatenated
    (emb = cat(freqs, freqs)) as LlamaRotaryEmbedding does."""
    pos = torch.arange(T, dtype=torch.float64)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x, cos, sin):
    """x: (heads, T, head_dim). Dimension i pairs with i + head_dim/2 (not with i + 1)."""
    return x * cos + rotate_half(x) * sin


def rms_norm(x, w, eps):
    """LlamaRMSNorm: x * rsqrt(mean(x^2) + eps), then times the weight."""
    variance = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def attention_allowed(T, window):
    """(T, T) bool, [i, j] = query i may attend to key j: j <= i, and i - j < window when the
    layer slides."""
    i = torch.arange(T).unsqueeze(1)
    j = torch.arange(T).unsqueeze(0)
    allowed = j <= i
    if window is not None:
        allowed = allowed & (j > i - window)
    return allowed


def repeat_kv(x, n_rep):
    """(n_kv, T, d) -> (n_kv * n_rep, T, d), query head h reading kv head h // n_rep (as
    transformers' repeat_kv: expand a new axis after the kv-head axis, then flatten)."""
    n_kv, T, d = x.shape
    return x[:, None].expand(n_kv, n_rep, T, d).reshape(n_kv * n_rep, T, d)


class TorchLlama:
    """The forward pass and the lens of the four families on exactly the stored weights.
    cfg: normalise_config output; weights: full HF names -> numpy arrays (stored values)."""

    def __init__(self, cfg, weights, dtype=torch.float64):
        self.cfg = cfg
        self.dtype = dtype
        self.w = {k: torch.from_numpy(np.ascontiguousarray(v)).to(dtype) for k, v in weights.items()}
        if cfg["tied"]:
            self.unembed = self.w["model.embed_tokens.weight"]
        else:
            self.unembed = self.w["lm_head.weight"]
        self.inv_freq = rope_inv_freq(cfg["rope"], cfg["head_dim"]).to(dtype)

    def linear(self, x, name, bias):
        y = x @ self.w[name + ".weight"].T
        if bias:
            y = y + self.w[name + ".bias"]
        return y

    def attention(self, l, x, cos, sin):
        cfg = self.cfg
        p = f"model.layers.{l}.self_attn."
        T = x.shape[0]
        H, KV, D = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
        q = self.linear(x, p + "q_proj", cfg["qkv_bias"]).view(T, H, D)
        k = self.linear(x, p + "k_proj", cfg["qkv_bias"]).view(T, KV, D)
        v = self.linear(x, p + "v_proj", cfg["qkv_bias"]).view(T, KV, D)
        if cfg["qk_norm"]:
            # Qwen3: RMSNorm over each head's head_dim values, before RoPE.
            q = rms_norm(q, self.w[p + "q_norm.weight"], cfg["eps"])
            k = rms_norm(k, self.w[p + "k_norm.weight"], cfg["eps"])
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # (heads, T, D)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        k = repeat_kv(k, H // KV)
        v = repeat_kv(v, H // KV)
        scores = (q @ k.transpose(-1, -2)) * D ** -0.5
        allowed = attention_allowed(T, cfg["windows"][l])
        scores = scores.masked_fill(~allowed, float("-inf"))
        att = torch.softmax(scores, dim=-1)
        y = (att @ v).transpose(0, 1).reshape(T, H * D)
        return self.linear(y, p + "o_proj", cfg["o_bias"])

    def mlp(self, l, x):
        p = f"model.layers.{l}.mlp."
        b = self.cfg["mlp_bias"]
        g = self.linear(x, p + "gate_proj", b)
        u = self.linear(x, p + "up_proj", b)
        return self.linear(torch.nn.functional.silu(g) * u, p + "down_proj", b)

    def forward(self, ids):
        """ids: list of ints. Returns (residuals (L+1, T, C): the embeddings then every decoder
        layer's output, logits (T, V) = lm_head(norm(last residual)))."""
        cfg = self.cfg
        T = len(ids)
        x = self.w["model.embed_tokens.weight"][torch.tensor(ids, dtype=torch.long)]
        kept = [x]
        self.mids = []  # the residual after each layer's attention sub-layer (--sublayers)
        cos, sin = rope_cos_sin(self.inv_freq.to(torch.float64), T)
        cos, sin = cos.to(self.dtype), sin.to(self.dtype)
        for l in range(cfg["n_layer"]):
            p = f"model.layers.{l}."
            h = rms_norm(x, self.w[p + "input_layernorm.weight"], cfg["eps"])
            x = x + self.attention(l, h, cos, sin)
            self.mids.append(x)
            h = rms_norm(x, self.w[p + "post_attention_layernorm.weight"], cfg["eps"])
            x = x + self.mlp(l, h)
            kept.append(x)
        h = rms_norm(x, self.w["model.norm.weight"], cfg["eps"])
        return torch.stack(kept), h @ self.unembed.T

    def lens(self, resid):
        """(R, T, C) -> log-probabilities (R, T, V): model.norm, lm_head, log_softmax."""
        h = rms_norm(resid, self.w["model.norm.weight"], self.cfg["eps"])
        return torch.log_softmax(h @ self.unembed.T, dim=-1)


# ----------------------------------------------------------------------------------------------
# Random checkpoints in Hugging Face layout

def make_config(family, hidden, intermediate, n_layer, n_head, vocab_size, max_pos, dtype="F32",
                n_kv=None, head_dim=None, tied=True, eps=1e-5, rope_theta=10000.0,
                rope_scaling=None, rope_parameters=None, attention_bias=None, mlp_bias=None,
                sliding_window=None, use_sliding_window=None, max_window_layers=None,
                layer_types=None, bos_token_id=None, omit=(), extra=None):
    """A config.json dict with the family's real key names, the way save_pretrained writes them.
    rope_parameters: the newer spelling (then no top-level rope_theta / rope_scaling).
    omit: keys to leave out (to test the defaults)."""
    c = {
        "architectures": [ARCHITECTURES[family]],
        "model_type": family,
        "hidden_act": "silu",
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": n_layer,
        "num_attention_heads": n_head,
        "num_key_value_heads": n_head if n_kv is None else n_kv,
        "max_position_embeddings": max_pos,
        "rms_norm_eps": eps,
        "initializer_range": 0.02,
        "attention_dropout": 0.0,
        "vocab_size": vocab_size,
        "tie_word_embeddings": tied,
        "use_cache": True,
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
        "transformers_version": "4.51.3",
        "bos_token_id": bos_token_id,
        "eos_token_id": bos_token_id,
    }
    if head_dim is not None:
        c["head_dim"] = head_dim
    if rope_parameters is not None:
        c["rope_parameters"] = rope_parameters
    else:
        c["rope_theta"] = rope_theta
        c["rope_scaling"] = rope_scaling
    if family == "llama":
        c["attention_bias"] = bool(attention_bias)
        c["mlp_bias"] = bool(mlp_bias)
        c["pretraining_tp"] = 1
    elif family == "mistral":
        c["sliding_window"] = sliding_window
    else:
        c["use_sliding_window"] = bool(use_sliding_window)
        c["sliding_window"] = sliding_window
        c["max_window_layers"] = n_layer if max_window_layers is None else max_window_layers
        if layer_types is not None:
            c["layer_types"] = layer_types
        if family == "qwen3":
            c["attention_bias"] = bool(attention_bias)
    for k in omit:
        c.pop(k, None)
    if extra:
        c.update(extra)
    return c


def random_weights(cfg, rng, emb_scale=2.5, padded_from=None):
    """float32 numpy weights under their full HF names. cfg: normalise_config output.
    emb_scale: the embedding (and lm_head) entries' std times sqrt(hidden_size), which sets the
    logits' spread (about emb_scale after the final norm): 2 to 3 gives lens distributions that
    are neither one-hot nor flat, so that errors show.
    RMSNorm weights around 1, biases small, q_norm/k_norm weights spread so that they matter.
    padded_from: the tokenizer's size; rows from there to vocab_size (ids with no text, as in
    Qwen's padded vocabularies) get larger norms so that some of them reach the top-k lists."""
    C, I, L, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["n_layer"], cfg["vocab_size"]
    H, KV, D = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]

    emb_std = emb_scale / math.sqrt(C)

    def n(*shape, s=1.0):
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(s)

    def norm_w(size, s=0.2):
        return np.float32(1.0) + n(size, s=s)

    def emb():
        e = n(V, C, s=emb_std)
        if padded_from is not None:
            e[padded_from:] *= np.float32(1.2)
        return e

    # Linear weights scaled by 1/sqrt(fan_in) so the residual stream stays O(1) while every
    # block still moves it.
    w = {"model.embed_tokens.weight": emb()}
    for l in range(L):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = norm_w(C)
        w[p + "post_attention_layernorm.weight"] = norm_w(C)
        w[p + "self_attn.q_proj.weight"] = n(H * D, C, s=1.6 / math.sqrt(C))
        w[p + "self_attn.k_proj.weight"] = n(KV * D, C, s=1.6 / math.sqrt(C))
        w[p + "self_attn.v_proj.weight"] = n(KV * D, C, s=1.0 / math.sqrt(C))
        w[p + "self_attn.o_proj.weight"] = n(C, H * D, s=1.0 / math.sqrt(H * D))
        if cfg["qkv_bias"]:
            w[p + "self_attn.q_proj.bias"] = n(H * D, s=0.3)
            w[p + "self_attn.k_proj.bias"] = n(KV * D, s=0.3)
            w[p + "self_attn.v_proj.bias"] = n(KV * D, s=0.1)
        if cfg["o_bias"]:
            w[p + "self_attn.o_proj.bias"] = n(C, s=0.1)
        if cfg["qk_norm"]:
            w[p + "self_attn.q_norm.weight"] = norm_w(D, s=0.5)
            w[p + "self_attn.k_norm.weight"] = norm_w(D, s=0.5)
        w[p + "mlp.gate_proj.weight"] = n(I, C, s=1.0 / math.sqrt(C))
        w[p + "mlp.up_proj.weight"] = n(I, C, s=1.0 / math.sqrt(C))
        w[p + "mlp.down_proj.weight"] = n(C, I, s=1.5 / math.sqrt(I))
        if cfg["mlp_bias"]:
            w[p + "mlp.gate_proj.bias"] = n(I, s=0.1)
            w[p + "mlp.up_proj.bias"] = n(I, s=0.1)
            w[p + "mlp.down_proj.bias"] = n(C, s=0.1)
    w["model.norm.weight"] = norm_w(C)
    if not cfg["tied"]:
        w["lm_head.weight"] = emb()
    return w


def write_checkpoint(d, config, weights, dtype="F32", shards=1, rng=None, tensor_order="natural",
                     extra_tensors=None, shuffle_extras=False):
    """Writes config.json + model.safetensors (or model.safetensors.index.json + `shards`
    shards) into d. Returns the float64 weights exactly as stored, for the reference.
    extra_tensors: tensors written too, which a reader must ignore: (name, float32 array) pairs
    stored as F32, or (name, dtype, array) triples (BOOL, U8, F32 buffers of old conversions).
    shuffle_extras: with tensor_order "random", mix them among the weights too (else they come
    last). Empties `weights` as it goes, so that a large checkpoint is not held in float32 and
    float64 at once."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    stored = {}
    tensors = []
    names = list(weights.keys())
    if tensor_order == "sorted":
        names.sort()
    elif tensor_order == "random":
        (rng or random.Random(0)).shuffle(names)
    for name in names:
        arr = weights.pop(name)
        raw, val = gpt2ref.quantize(arr, dtype)
        stored[name] = val.reshape(arr.shape)
        tensors.append((name, dtype, arr.shape, raw))
        del arr, val
    for extra in extra_tensors or []:
        name, dt, arr = extra if len(extra) == 3 else (extra[0], "F32", extra[1])
        raw, _ = gpt2ref.quantize(arr, dt)
        tensors.append((name, dt, arr.shape, raw))
    if tensor_order == "random" and extra_tensors and shuffle_extras:
        (rng or random.Random(0)).shuffle(tensors)
    meta = {"format": "pt"}
    if shards == 1:
        gpt2ref.write_safetensors(os.path.join(d, "model.safetensors"), tensors, meta)
    else:
        per = (len(tensors) + shards - 1) // shards
        weight_map = {}
        total = 0
        for s in range(shards):
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = tensors[s * per:(s + 1) * per]
            gpt2ref.write_safetensors(os.path.join(d, fname), part, meta)
            for t in part:
                weight_map[t[0]] = fname
                total += len(t[3])
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    return stored
