#!/usr/bin/python3
"""The torch peer of the Llama benchmark: the same full logit lens as the engine, in float32 torch,
written independently of the engine.

  /usr/bin/python3 bench_torch_llama.py MODEL_DIR --threads N [--tokens 16] [--reps R]
                                        [--whole-process]

Reads config.json and the safetensors itself (model.safetensors, or the shards named by
model.safetensors.index.json): each tensor is read from the file into a buffer and widened to
float32 with `.float()`, as a user loading BF16 weights for float32 CPU inference does, one tensor
at a time (peak memory: the float32 weights plus one tensor's BF16 bytes). Then runs the Llama
forward pass keeping the embedding output and every decoder layer's output, and the lens on all of
them at every position: final RMSNorm, unembedding (lm_head.weight, or the embedding when tied),
softmax, top-10 and entropy.

The math follows transformers' modeling_llama.py and modeling_rope_utils.py (eager attention, batch
of one, no cache):
  - LlamaRMSNorm: x * rsqrt(mean(x^2) + eps) * weight, in float32;
  - RoPE: inv_freq = 1 / theta^(2i/head_dim), then _compute_llama3_parameters for rope_type llama3
    (wavelengths above original_max_position_embeddings / low_freq_factor divided by factor, below
    original / high_freq_factor kept, a smooth blend in between); cos/sin of
    cat(pos * inv_freq, pos * inv_freq); q*cos + rotate_half(q)*sin, rotate_half(x) =
    cat(-x2, x1) over the two halves of head_dim;
  - attention: q/k/v/o_proj without bias, repeat_kv (query head h uses kv head h // (H / KV)),
    scores scaled by head_dim^-0.5, causal mask, softmax in float32;
  - MLP: down_proj(silu(gate_proj(x)) * up_proj(x));
  - decoder layer: x + attn(input_layernorm(x)), then x + mlp(post_attention_layernorm(x)).

Threads: torch.set_num_threads(N) for ATen's OpenMP pool, and OpenBLAS's own thread count set to N
through openblas_set_num_threads (torch calls sgemm from one thread and OpenBLAS splits it).
torch's BLAS is whatever libblas.so.3 resolves to; the script prints that path and OpenBLAS's
openblas_get_config() so the report shows torch used the optimized OpenBLAS, not reference BLAS.
The other GEMM this torch build has is oneDNN's (torch._C._nn.mkldnn_linear on to_mkldnn weights).
One measurement, on a busy machine, found it faster on the unembedding (1.14 s against 1.51 s for
272 x 2048 x 128,256) but 20x slower on the 16-row projections, so F.linear (OpenBLAS) is used
everywhere.

Output: `key value` lines for report_llama.py.
  default          load_s, then per T `torch T=... best_s ... compute_s_first ...` (best of R)
  --whole-process  one lens run at the first T on the benchmark prompt's ids (prompt-T.ids.json,
                   random ids if absent) and its result as JSON (top-10 ids and probabilities and
                   entropy per cell, as the CLI's --json gives), for timing the process from start
                   to finished output under /usr/bin/time; prints import_s, load_s and compute_s
                   on stderr so stdout stays the JSON.
Both print peak_rss_bytes (getrusage) and the entropy range over all cells (a check that the
random model's activations are finite and the lens is not uniform).
"""

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import ctypes  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

T_IMPORTED = time.perf_counter()

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
TOP_K = 10


# ----------------------------------------------------------------------------------------------
# Loading

def safetensors_files(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            return sorted(set(json.load(f)["weight_map"].values()))
    return ["model.safetensors"]


def load_weights(model_dir):
    """name -> float32 tensor, read tensor by tensor (never the whole file in memory)."""
    weights = {}
    for fname in safetensors_files(model_dir):
        with open(os.path.join(model_dir, fname), "rb", buffering=0) as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
            base = 8 + n
            header.pop("__metadata__", None)
            # In file order, so the reads are sequential.
            for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
                begin, end = info["data_offsets"]
                buf = bytearray(end - begin)
                f.seek(base + begin)
                got = f.readinto(buf)
                if got != len(buf):
                    sys.exit(f"bench_torch_llama.py: {fname}: {name} is truncated")
                t = torch.frombuffer(buf, dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
                weights[name] = t.float() if t.dtype != torch.float32 else t.clone()
                del t, buf
    return weights


class Llama:
    def __init__(self, cfg, w):
        self.cfg = cfg
        self.L = cfg["num_hidden_layers"]
        self.H = cfg["num_attention_heads"]
        self.KV = cfg.get("num_key_value_heads", self.H)
        self.hd = cfg.get("head_dim") or cfg["hidden_size"] // self.H
        self.eps = cfg["rms_norm_eps"]
        self.embed = w["model.embed_tokens.weight"]
        self.unembed = w.get("lm_head.weight", self.embed if cfg.get("tie_word_embeddings")
                             else None)
        if self.unembed is None:
            sys.exit("bench_torch_llama.py: no lm_head.weight and tie_word_embeddings is false")
        self.final_norm = w["model.norm.weight"]
        self.layers = []
        for i in range(self.L):
            p = f"model.layers.{i}."
            self.layers.append({k: w[p + k + ".weight"] for k in (
                "input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj",
                "mlp.down_proj")})
        self.inv_freq = rope_inv_freq(cfg, self.hd)

    def rms_norm(self, x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    def forward(self, ids):
        """(L + 1, T, C): the embeddings and every decoder layer's output."""
        T = len(ids)
        x = self.embed[torch.tensor(ids)]                               # (T, C)
        pos = torch.arange(T, dtype=torch.float32)
        freqs = pos[:, None] * self.inv_freq[None, :]                  # (T, hd / 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()                                # (T, hd)
        mask = torch.full((T, T), float("-inf")).triu(1)
        rep = self.H // self.KV
        rows = [x]
        for lw in self.layers:
            h = self.rms_norm(x, lw["input_layernorm"])
            q = F.linear(h, lw["self_attn.q_proj"]).view(T, self.H, self.hd).transpose(0, 1)
            k = F.linear(h, lw["self_attn.k_proj"]).view(T, self.KV, self.hd).transpose(0, 1)
            v = F.linear(h, lw["self_attn.v_proj"]).view(T, self.KV, self.hd).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(rep, dim=0)                        # repeat_kv
            v = v.repeat_interleave(rep, dim=0)
            att = torch.matmul(q, k.transpose(1, 2)) * (self.hd ** -0.5) + mask
            att = torch.softmax(att, dim=-1)
            a = torch.matmul(att, v).transpose(0, 1).reshape(T, self.H * self.hd)
            x = x + F.linear(a, lw["self_attn.o_proj"])
            h = self.rms_norm(x, lw["post_attention_layernorm"])
            g = F.silu(F.linear(h, lw["mlp.gate_proj"])) * F.linear(h, lw["mlp.up_proj"])
            x = x + F.linear(g, lw["mlp.down_proj"])
            rows.append(x)
        return torch.stack(rows)

    def lens(self, resid):
        """Top-10 (probabilities, ids) and entropy of every (row, position) cell."""
        logits = F.linear(self.rms_norm(resid, self.final_norm), self.unembed)  # (R, T, V)
        logp = torch.log_softmax(logits, dim=-1)
        top_lp, top_i = torch.topk(logp, TOP_K, dim=-1)
        entropy = -(logp.exp() * logp).sum(-1)
        return top_lp.exp(), top_i, entropy


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_inv_freq(cfg, hd):
    """modeling_rope_utils: _compute_default_rope_parameters, then _compute_llama3_parameters when
    rope_scaling says llama3 (attention_factor is 1.0 for both, so cos/sin are not rescaled)."""
    inv_freq = 1.0 / (cfg.get("rope_theta", 10000.0)
                      ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "default":
        return inv_freq
    if kind != "llama3":
        sys.exit(f"bench_torch_llama.py: rope_type {kind} is not implemented here")
    factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old_len = rs["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old_len / low, old_len / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled)


# ----------------------------------------------------------------------------------------------

def openblas_info(threads):
    """(openblas_get_config(), threads, libblas.so.3 path) of the OpenBLAS torch loaded."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_config.restype = ctypes.c_char_p
        lib.openblas_set_num_threads(threads)
        config = lib.openblas_get_config().decode()
        n = lib.openblas_get_num_threads()
    except (OSError, AttributeError) as e:
        config, n = f"unavailable ({e})", 0
    blas = sorted({line.split()[-1] for line in open("/proc/self/maps")
                   if "libblas" in line or "libopenblas" in line})
    return config, n, " ".join(os.path.realpath(p) for p in blas) or "none mapped"


def prompt_ids(model_dir, T, vocab):
    path = os.path.join(model_dir, f"prompt-{T}.ids.json")
    if os.path.exists(path):
        with open(path) as f:
            ids = json.load(f)
        if len(ids) == T:
            return ids, os.path.basename(path)
    g = torch.Generator().manual_seed(42)
    return torch.randint(0, vocab, (T,), generator=g).tolist(), "random ids"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--tokens", default="16")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--whole-process", action="store_true")
    args = ap.parse_args()
    Ts = [int(x) for x in args.tokens.split(",")]
    info = sys.stderr if args.whole_process else sys.stdout

    def say(key, value):
        print(f"{key} {value}", file=info, flush=True)

    torch.set_num_threads(args.threads)
    config, blas_threads, blas_path = openblas_info(args.threads)
    if not args.whole_process:
        # the kernels torch runs (asking costs a few ms: not in the timed whole process)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import benchenv
        for k, v in benchenv.torch_kernels():
            say(k, v)
    say("torch_version", torch.__version__)
    say("torch_threads", torch.get_num_threads())
    say("torch_blas", f"{blas_path} ({blas_threads} OpenBLAS threads)")
    say("torch_openblas_config", config)
    say("import_s", f"{T_IMPORTED - T_START:.4f}")

    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "llama":
        sys.exit(f"bench_torch_llama.py: model_type {cfg.get('model_type')}, expected llama")
    t0 = time.perf_counter()
    model = Llama(cfg, load_weights(args.model))
    say("load_s", f"{time.perf_counter() - t0:.4f}")
    say("model", f"L={model.L} C={cfg['hidden_size']} H={model.H} KV={model.KV} hd={model.hd} "
        f"I={cfg['intermediate_size']} V={cfg['vocab_size']} "
        f"tied={bool(cfg.get('tie_word_embeddings'))}")

    def run(ids):
        with torch.inference_mode():
            return model.lens(model.forward(ids))

    if args.whole_process:
        T = Ts[0]
        ids, src = prompt_ids(args.model, T, cfg["vocab_size"])
        t0 = time.perf_counter()
        probs, top_i, entropy = run(ids)
        say("compute_s", f"{time.perf_counter() - t0:.4f}")
        say("ids", src)
        t0 = time.perf_counter()
        # The same information as the CLI's --json: per row and position the top-10 and entropy.
        json.dump({"tokens": ids, "rows": [
            [{"top": list(zip(top_i[r, t].tolist(), [round(p, 6) for p in probs[r, t].tolist()])),
              "entropy": round(entropy[r, t].item(), 6)} for t in range(T)]
            for r in range(model.L + 1)]}, sys.stdout)
        sys.stdout.write("\n")
        sys.stdout.flush()
        say("output_s", f"{time.perf_counter() - t0:.4f}")
        entropies = [entropy]
    else:
        entropies = []
        for T in Ts:
            ids, _ = prompt_ids(args.model, T, cfg["vocab_size"])
            times = []
            for _ in range(args.reps):
                s = time.perf_counter()
                probs, top_i, entropy = run(ids)
                times.append(time.perf_counter() - s)
            assert top_i.shape == (model.L + 1, T, TOP_K) and entropy.shape == (model.L + 1, T)
            entropies.append(entropy)
            say(f"torch T={T}", f"best_s {min(times):.6f} first_s {times[0]:.6f}")
    e = torch.cat([x.flatten() for x in entropies])
    say("entropy_range", f"{e.min().item():.3f} {e.max().item():.3f} (max possible "
        f"{math.log(cfg['vocab_size']):.3f}); finite {bool(torch.isfinite(e).all())}")
    say("peak_rss_bytes", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


if __name__ == "__main__":
    main()
