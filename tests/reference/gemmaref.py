"""Reference pieces for the Gemma-family tests (model_type gemma, gemma2, gemma3_text, and gemma3,
whose config.json nests a gemma3_text config under `text_config`).

- how Hugging Face `transformers` reads each family's config.json (its defaults, layer types,
  per-layer-type RoPE, soft-caps), as one normalised dict;
- the forward pass and the logit lens in float64 torch, written from the semantics of
  transformers' modeling_gemma.py, modeling_gemma2.py, modeling_gemma3.py (and their
  configuration_*.py / modular_*.py), masking_utils.py and modeling_rope_utils.py (eval mode, no
  cache, one sequence, positions 0..T-1);
- random checkpoints of those families in Hugging Face layout (llamaref's writer).

What transformers does, as read in its source (see the report / README of the suite):
- embeddings: multiplied by sqrt(hidden_size). Gemma/Gemma2 build the factor as
  `torch.tensor(hidden_size**0.5, dtype=hidden_states.dtype)`, Gemma3's
  Gemma3TextScaledWordEmbedding keeps `embed_scale` as a float32 buffer cast to the weights'
  dtype: a bfloat16 *run* rounds it (sqrt(3072) = 55.4256 -> 55.5, as the source's comment says).
  This reference is transformers run in float32/float64: the factor is not rounded (the spec
  says float32); `embed_scale_dtype` lets the selfcheck measure what a rounded factor would do.
- Gemma RMSNorm: x * rsqrt(mean(x^2) + eps) computed in float32, times (1 + w) (weight stored
  around 0), then cast back; here in float64.
- MLP: down(act(gate(x)) * up(x)) with act = ACT2FN[hidden_activation]; only
  "gelu_pytorch_tanh" is modelled (0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))). Gemma (1)
  ignores `hidden_act` and falls back to gelu_pytorch_tanh when hidden_activation is null;
  Gemma2/3 default hidden_activation to gelu_pytorch_tanh.
- gemma: input_layernorm -> attention -> residual; post_attention_layernorm -> MLP -> residual.
  Attention scale head_dim^-0.5, no soft-caps, no sliding window.
- gemma2, gemma3_text: input_layernorm -> attention -> post_attention_layernorm -> residual add;
  pre_feedforward_layernorm -> MLP -> post_feedforward_layernorm -> residual add. Attention scale
  query_pre_attn_scalar^-0.5 (default 256).
- gemma2: scores = cap * tanh(scores / cap) (attn_logit_softcapping, default 50.0, null = off)
  before the mask; logits = cap * tanh(logits / cap) (final_logit_softcapping, default 30.0).
  Layer types: `layer_types` when config.json has it, else layer i slides when (i + 1) % 2,
  i.e. layers 0, 2, 4, ... slide (the older modeling code: `sliding_window if not
  bool(layer_idx % 2)`). Window: sliding_window (default 4096).
- gemma3_text: q_norm and k_norm (Gemma RMSNorm over head_dim, per head) before RoPE. Layer
  types: `layer_types`, else layer i slides when (i + 1) % sliding_window_pattern (default 6):
  layers 5, 11, ... are global. RoPE per layer type: sliding layers use rope_local_base_freq
  (default 10000) with default RoPE; full layers use rope_theta (default 1e6) with rope_scaling
  (e.g. linear). The newer spelling rope_parameters = {"sliding_attention": {...},
  "full_attention": {...}} is read too (rope_scaling, when present, updates full_attention).
  final_logit_softcapping (default None) is applied as in Gemma2. attn_logit_softcapping is
  NOT applied: Gemma3Attention.forward passes no `softcap` to the attention function, so a
  value in config.json has no effect in transformers.
- a "sliding_attention" layer with sliding_window null: transformers' sliding-window mask
  refuses to build (ValueError) -> a config error here.
- head_dim defaults to 256 in all three configs (not hidden_size / heads); tie_word_embeddings
  defaults to True in all three.
- gemma3 (the multimodal wrapper): tensors `language_model.model.*` (and
  `language_model.lm_head.weight` when untied) as on the Hub; the classes' loading map
  `^language_model.model -> model.language_model` shows those are the stored names. Vision
  tensors (vision_tower.*, multi_modal_projector.*) are to be ignored.
"""

import copy
import math

import numpy as np
import torch

import llamaref

FAMILIES = ("gemma", "gemma2", "gemma3_text", "gemma3")

ARCHITECTURES = {"gemma": "GemmaForCausalLM", "gemma2": "Gemma2ForCausalLM",
                 "gemma3_text": "Gemma3ForCausalLM", "gemma3": "Gemma3ForConditionalGeneration"}

# Defaults of transformers' GemmaConfig / Gemma2Config / Gemma3TextConfig for the keys that
# matter here.
DEFAULTS = {
    "gemma": dict(num_attention_heads=16, num_key_value_heads=16, head_dim=256,
                  rms_norm_eps=1e-6, tie_word_embeddings=True, rope_theta=10000.0),
    "gemma2": dict(num_attention_heads=8, num_key_value_heads=4, head_dim=256, rms_norm_eps=1e-6,
                   tie_word_embeddings=True, rope_theta=10000.0, query_pre_attn_scalar=256,
                   sliding_window=4096, final_logit_softcapping=30.0,
                   attn_logit_softcapping=50.0),
    "gemma3_text": dict(num_attention_heads=8, num_key_value_heads=4, head_dim=256,
                        rms_norm_eps=1e-6, tie_word_embeddings=True, rope_theta=1_000_000.0,
                        rope_local_base_freq=10_000.0, query_pre_attn_scalar=256,
                        sliding_window=4096, sliding_window_pattern=6,
                        final_logit_softcapping=None, attn_logit_softcapping=None),
}

LAYER_TYPES = ("sliding_attention", "full_attention")

ConfigError = llamaref.ConfigError


def _get(c, mt, key):
    return c[key] if key in c else DEFAULTS[mt][key]


def _positive(c, mt, key):
    v = _get(c, mt, key)
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
        raise ConfigError(f"{key} {v!r}")
    return v


def _cap(c, mt, key):
    v = _get(c, mt, key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
        raise ConfigError(f"{key} {v!r}")
    return float(v)


def gemma3_rope_per_type(c):
    """{layer type: llamaref rope settings} as Gemma3TextConfig.convert_rope_params_to_dict
    builds them."""
    rp = c.get("rope_parameters")
    if isinstance(rp, dict) and rp and all(k in LAYER_TYPES for k in rp):
        per = {t: dict(rp.get(t) or {"rope_type": "default"}) for t in LAYER_TYPES}
    else:
        per = {t: {"rope_type": "default"} for t in LAYER_TYPES}
    if c.get("rope_scaling"):
        per["full_attention"].update(c["rope_scaling"])
    per["full_attention"].setdefault("rope_theta", _get(c, "gemma3_text", "rope_theta"))
    per["sliding_attention"].setdefault("rope_theta",
                                        _get(c, "gemma3_text", "rope_local_base_freq"))
    mp = c.get("max_position_embeddings", 131072)
    return {t: llamaref.rope_settings({"rope_parameters": per[t], "max_position_embeddings": mp})
            for t in LAYER_TYPES}


def normalise_config(raw):
    """A raw config.json dict -> the numbers the forward pass needs (see the module docstring)."""
    mt = raw.get("model_type")
    if mt not in FAMILIES:
        raise ConfigError(f"model_type {mt!r}")
    nested = mt == "gemma3"
    c = (raw.get("text_config") or {}) if nested else raw
    fam = "gemma3_text" if nested else mt
    hidden = int(c["hidden_size"])
    n_head = int(_get(c, fam, "num_attention_heads"))
    n_kv = c.get("num_key_value_heads", DEFAULTS[fam]["num_key_value_heads"])
    n_kv = n_head if n_kv is None else int(n_kv)
    head_dim = c.get("head_dim", DEFAULTS[fam]["head_dim"]) or hidden // n_head
    if n_kv <= 0 or n_head % n_kv:
        raise ConfigError("num_key_value_heads does not divide num_attention_heads")
    L = int(c["num_hidden_layers"])
    act = c.get("hidden_activation", "gelu_pytorch_tanh")
    if act is None and fam == "gemma":
        act = "gelu_pytorch_tanh"      # GemmaMLP's fallback; hidden_act is ignored
    if act != "gelu_pytorch_tanh":
        raise ConfigError(f"hidden_activation {act!r} is not modelled")

    if fam == "gemma":
        types = ["full_attention"] * L
        scale = float(head_dim) ** -0.5
        attn_cap = final_cap = None
        window = None
        rope = llamaref.rope_settings(dict(c, rope_theta=_get(c, fam, "rope_theta")))
        ropes = [rope] * L
    else:
        scale = float(_positive(c, fam, "query_pre_attn_scalar")) ** -0.5
        final_cap = _cap(c, fam, "final_logit_softcapping")
        attn_cap = _cap(c, fam, "attn_logit_softcapping") if fam == "gemma2" else None
        types = c.get("layer_types")
        if types is None:
            pattern = 2 if fam == "gemma2" else int(_get(c, fam, "sliding_window_pattern"))
            types = ["sliding_attention" if (i + 1) % pattern else "full_attention"
                     for i in range(L)]
        if len(types) != L or any(t not in LAYER_TYPES for t in types):
            raise ConfigError(f"layer_types {types!r}")
        window = _get(c, fam, "sliding_window")
        if "sliding_attention" in types:
            if window is None or isinstance(window, bool) or int(window) < 1:
                raise ConfigError(f"sliding_window {window!r} with sliding layers")
        if fam == "gemma2":
            rope = llamaref.rope_settings(dict(c, rope_theta=_get(c, fam, "rope_theta")))
            ropes = [rope] * L
        else:
            per = gemma3_rope_per_type(c)
            ropes = [per[t] for t in types]
    windows = [int(window) if t == "sliding_attention" else None for t in types]
    tied = bool(raw.get("tie_word_embeddings", True)) if nested else \
        bool(_get(c, fam, "tie_word_embeddings"))
    bias = bool(c.get("attention_bias", False))
    return {
        "model_type": mt,
        "family": fam,
        "prefix": "language_model.model." if nested else "model.",
        "lm_head": "language_model.lm_head.weight" if nested else "lm_head.weight",
        "hidden_size": hidden,
        "intermediate_size": int(c["intermediate_size"]),
        "n_layer": L,
        "n_head": n_head,
        "n_kv_head": n_kv,
        "head_dim": int(head_dim),
        "vocab_size": int(c["vocab_size"]),
        "eps": float(_get(c, fam, "rms_norm_eps")),
        "tied": tied,
        "attn_bias": bias,
        "sandwich": fam != "gemma",          # the four norms per block
        "qk_norm": fam == "gemma3_text",
        "scale": scale,
        "attn_softcap": attn_cap,
        "final_softcap": final_cap,
        "layer_types": list(types),
        "windows": windows,
        "ropes": ropes,
        "embed_scale": math.sqrt(hidden),
        "embed_scale_dtype": None,           # e.g. torch.bfloat16: round the factor as a bf16 run
        "one_plus_w": True,                  # False: llama-style w (for the selfcheck only)
        "max_position_embeddings": int(c.get("max_position_embeddings",
                                             {"gemma": 8192, "gemma2": 8192,
                                              "gemma3_text": 131072}[fam])),
    }


# ----------------------------------------------------------------------------------------------
# The pieces of the forward pass

def gelu_tanh(x):
    """ACT2FN["gelu_pytorch_tanh"] (= torch.nn.functional.gelu(x, approximate="tanh"))."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def gemma_rms_norm(x, w, eps, one_plus_w=True):
    variance = x.pow(2).mean(-1, keepdim=True)
    return (x * torch.rsqrt(variance + eps)) * ((1.0 + w) if one_plus_w else w)


def softcap(x, cap):
    return x if cap is None else cap * torch.tanh(x / cap)


class TorchGemma:
    """Forward pass and lens on exactly the stored weights (float64 by default)."""

    def __init__(self, cfg, weights, dtype=torch.float64):
        self.cfg = cfg
        self.dtype = dtype
        self.w = {k: torch.from_numpy(np.ascontiguousarray(v)).to(dtype) for k, v in weights.items()}
        self.p = cfg["prefix"]
        self.unembed = self.w[self.p + "embed_tokens.weight"] if cfg["tied"] else \
            self.w[cfg["lm_head"]]
        self.cos_sin_cache = {}

    def norm(self, x, name):
        return gemma_rms_norm(x, self.w[name], self.cfg["eps"], self.cfg["one_plus_w"])

    def linear(self, x, name):
        y = x @ self.w[name + ".weight"].T
        if self.cfg["attn_bias"] and ".self_attn." in name:
            y = y + self.w[name + ".bias"]
        return y

    def cos_sin(self, rope, T):
        key = (tuple(sorted(rope.items())), T)
        if key not in self.cos_sin_cache:
            inv = llamaref.rope_inv_freq(rope, self.cfg["head_dim"])
            cos, sin = llamaref.rope_cos_sin(inv, T)
            self.cos_sin_cache[key] = (cos.to(self.dtype), sin.to(self.dtype))
        return self.cos_sin_cache[key]

    def attention(self, l, x):
        cfg = self.cfg
        p = f"{self.p}layers.{l}.self_attn."
        T = x.shape[0]
        H, KV, D = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
        q = self.linear(x, p + "q_proj").view(T, H, D)
        k = self.linear(x, p + "k_proj").view(T, KV, D)
        v = self.linear(x, p + "v_proj").view(T, KV, D)
        if cfg["qk_norm"]:
            q = self.norm(q, p + "q_norm.weight")
            k = self.norm(k, p + "k_norm.weight")
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        cos, sin = self.cos_sin(cfg["ropes"][l], T)
        q = llamaref.apply_rope(q, cos, sin)
        k = llamaref.apply_rope(k, cos, sin)
        k = llamaref.repeat_kv(k, H // KV)
        v = llamaref.repeat_kv(v, H // KV)
        scores = softcap((q @ k.transpose(-1, -2)) * cfg["scale"], cfg["attn_softcap"])
        allowed = llamaref.attention_allowed(T, cfg["windows"][l])
        scores = scores.masked_fill(~allowed, float("-inf"))
        att = torch.softmax(scores, dim=-1)
        y = (att @ v).transpose(0, 1).reshape(T, H * D)
        return self.linear(y, p + "o_proj")

    def mlp(self, l, x):
        p = f"{self.p}layers.{l}.mlp."
        return self.linear(gelu_tanh(self.linear(x, p + "gate_proj")) * self.linear(x, p + "up_proj"),
                           p + "down_proj")

    def embed(self, ids):
        cfg = self.cfg
        e = self.w[self.p + "embed_tokens.weight"][torch.tensor(ids, dtype=torch.long)]
        s = torch.tensor(cfg["embed_scale"], dtype=torch.float64)
        if cfg["embed_scale_dtype"] is not None:
            s = s.to(cfg["embed_scale_dtype"]).to(torch.float64)
        return e * s.to(self.dtype)

    def forward(self, ids):
        """Returns (residuals (L+1, T, C): the scaled embeddings then every decoder layer's
        output, logits (T, V) = softcap(lm_head(norm(last residual))))."""
        cfg = self.cfg
        x = self.embed(ids)
        kept = [x]
        self.mids = []  # the residual after each layer's attention sub-layer (--sublayers)
        for l in range(cfg["n_layer"]):
            p = f"{self.p}layers.{l}."
            a = self.attention(l, self.norm(x, p + "input_layernorm.weight"))
            if cfg["sandwich"]:
                a = self.norm(a, p + "post_attention_layernorm.weight")
                x = x + a
                self.mids.append(x)
                m = self.mlp(l, self.norm(x, p + "pre_feedforward_layernorm.weight"))
                x = x + self.norm(m, p + "post_feedforward_layernorm.weight")
            else:
                x = x + a
                self.mids.append(x)
                x = x + self.mlp(l, self.norm(x, p + "post_attention_layernorm.weight"))
            kept.append(x)
        return torch.stack(kept), self.head(x)

    def head(self, resid):
        h = self.norm(resid, self.p + "norm.weight")
        return softcap(h @ self.unembed.T, self.cfg["final_softcap"])

    def lens(self, resid):
        """(R, T, C) -> log-probabilities (R, T, V): the model's whole output head (final norm,
        lm_head, final soft-cap), log_softmax."""
        return torch.log_softmax(self.head(resid), dim=-1)


def variant(cfg, **changes):
    c = copy.deepcopy(cfg)
    c.update(changes)
    return c


# ----------------------------------------------------------------------------------------------
# Random checkpoints in Hugging Face layout

def make_config(family, hidden, intermediate, n_layer, n_head, vocab_size, max_pos, dtype="F32",
                n_kv=None, head_dim=None, tied=True, eps=1e-6, bos_token_id=None, omit=(),
                extra=None, **keys):
    """A config.json dict with the family's key names, the way save_pretrained writes them.
    family "gemma3" nests a gemma3_text config under text_config (plus a small vision_config).
    keys: further config keys (query_pre_attn_scalar, sliding_window, layer_types, caps, rope
    keys, ...), written as given (None -> null). omit: keys to leave out of the (text) config."""
    fam = "gemma3_text" if family == "gemma3" else family
    c = {
        "architectures": [ARCHITECTURES[fam]],
        "model_type": fam,
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": n_layer,
        "num_attention_heads": n_head,
        "num_key_value_heads": n_head if n_kv is None else n_kv,
        "head_dim": (hidden // n_head) if head_dim is None else head_dim,
        "max_position_embeddings": max_pos,
        "rms_norm_eps": eps,
        "initializer_range": 0.02,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "vocab_size": vocab_size,
        "tie_word_embeddings": tied,
        "use_cache": True,
        "pad_token_id": 0,
        "bos_token_id": bos_token_id,
        "eos_token_id": bos_token_id,
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
        "transformers_version": "4.53.0",
    }
    if family == "gemma":
        c["hidden_act"] = "gelu_pytorch_tanh"
    c.update(keys)
    for k in omit:
        c.pop(k, None)
    if extra:
        c.update(extra)
    if family != "gemma3":
        return c
    text = {k: v for k, v in c.items() if k not in ("architectures", "torch_dtype",
                                                      "transformers_version")}
    return {
        "architectures": [ARCHITECTURES["gemma3"]],
        "model_type": "gemma3",
        "text_config": text,
        "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 16,
                          "intermediate_size": 32, "num_hidden_layers": 1,
                          "num_attention_heads": 2, "image_size": 32, "patch_size": 8,
                          "vision_use_head": False},
        "mm_tokens_per_image": 4,
        "boi_token_index": 1, "eoi_token_index": 2, "image_token_index": 3,
        "initializer_range": 0.02,
        "tie_word_embeddings": tied,
        "torch_dtype": c["torch_dtype"],
        "transformers_version": c["transformers_version"],
    }


def random_weights(cfg, rng, emb_scale=2.5, padded_from=None, norm_spread=0.3, qk_scale=1.6,
                   final_gain=1.0):
    """float32 numpy weights under their full HF names. Norm weights w ~ N(0, norm_spread) (the
    norm multiplies by 1 + w). Embedding entries have std emb_scale / sqrt(hidden): times
    sqrt(hidden) in the forward pass they are O(emb_scale), and the tied logits have a spread of
    about emb_scale * final_gain (final_gain: 1 + the final norm's mean weight, which spreads
    the logits past a final soft-cap without letting the embeddings drown the blocks)."""
    C, I, L, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["n_layer"], cfg["vocab_size"]
    H, KV, D = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
    P = cfg["prefix"]

    def n(*shape, s=1.0):
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(s)

    def emb():
        e = n(V, C, s=emb_scale / math.sqrt(C))
        if padded_from is not None:
            e[padded_from:] *= np.float32(1.2)
        return e

    w = {P + "embed_tokens.weight": emb()}
    for l in range(L):
        p = f"{P}layers.{l}."
        w[p + "input_layernorm.weight"] = n(C, s=norm_spread)
        w[p + "post_attention_layernorm.weight"] = n(C, s=norm_spread)
        if cfg["sandwich"]:
            w[p + "pre_feedforward_layernorm.weight"] = n(C, s=norm_spread)
            w[p + "post_feedforward_layernorm.weight"] = n(C, s=norm_spread)
        w[p + "self_attn.q_proj.weight"] = n(H * D, C, s=qk_scale / math.sqrt(C))
        w[p + "self_attn.k_proj.weight"] = n(KV * D, C, s=qk_scale / math.sqrt(C))
        w[p + "self_attn.v_proj.weight"] = n(KV * D, C, s=1.0 / math.sqrt(C))
        w[p + "self_attn.o_proj.weight"] = n(C, H * D, s=1.0 / math.sqrt(H * D))
        if cfg["attn_bias"]:
            w[p + "self_attn.q_proj.bias"] = n(H * D, s=0.3)
            w[p + "self_attn.k_proj.bias"] = n(KV * D, s=0.3)
            w[p + "self_attn.v_proj.bias"] = n(KV * D, s=0.1)
            w[p + "self_attn.o_proj.bias"] = n(C, s=0.1)
        if cfg["qk_norm"]:
            w[p + "self_attn.q_norm.weight"] = n(D, s=0.5)
            w[p + "self_attn.k_norm.weight"] = n(D, s=0.5)
        w[p + "mlp.gate_proj.weight"] = n(I, C, s=1.5 / math.sqrt(C))
        w[p + "mlp.up_proj.weight"] = n(I, C, s=1.0 / math.sqrt(C))
        w[p + "mlp.down_proj.weight"] = n(C, I, s=1.5 / math.sqrt(I))
    w[P + "norm.weight"] = n(C, s=norm_spread) + np.float32(final_gain - 1.0)
    if not cfg["tied"]:
        w[cfg["lm_head"]] = emb()
    return w


def vision_extras(rng):
    """A few tensors of a Gemma3ForConditionalGeneration checkpoint's vision side (names as on
    the Hub), which a text-only reader must ignore."""
    def n(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    return [("vision_tower.vision_model.embeddings.patch_embedding.weight", n(16, 3, 8, 8)),
            ("vision_tower.vision_model.embeddings.position_embedding.weight", n(16, 16)),
            ("vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight", n(16, 16)),
            ("vision_tower.vision_model.post_layernorm.weight", n(16)),
            ("multi_modal_projector.mm_input_projection_weight", n(16, 32)),
            ("multi_modal_projector.mm_soft_emb_norm.weight", n(16))]


write_checkpoint = llamaref.write_checkpoint
