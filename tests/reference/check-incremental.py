#!/usr/bin/python3
"""The run cache (typing: only the positions after the shared prefix are computed) on every
family, with the twists that touch positions switched on: RoPE offsets (llama3 scaling, partial
rotary, Gemma 3's local and global RoPE), learned positions (GPT-2), sliding windows shorter than
the prompt, soft-caps, parallel residual, and Phi-3's longrope, whose factors change when the
prompt grows past original_max_position_embeddings (the cache must not be reused across that).

Writes small random checkpoints with the reference writers (llamaref, gemmaref, otherref; the demo
model's GPT-2 tokenizer files), runs incremental-driver on each, and prints its lines.

Usage: /usr/bin/python3 check-incremental.py --driver PATH [--keep]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import gemmaref  # noqa: E402
import llamaref  # noqa: E402
import otherref  # noqa: E402

DEMO = os.path.join(HERE, "..", "..", "resources", "demo-model")
VOCAB = 8200  # the demo tokenizer has 8,192 tokens; the rest is padding


def checkpoints():
    """(name, module, config dict, dtype) for every family."""
    L = llamaref.make_config
    G = gemmaref.make_config
    O = otherref.make_config
    return [
        ("llama-llama3-rope", llamaref,
         L("llama", 32, 48, 2, 4, VOCAB, 64, dtype="BF16", n_kv=2,
           rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 16}), "BF16"),
        ("mistral-window-5", llamaref,
         L("mistral", 32, 48, 2, 4, VOCAB, 64, n_kv=2, sliding_window=5), "F32"),
        ("qwen3-qk-norm-window", llamaref,
         L("qwen3", 32, 48, 2, 4, VOCAB, 64, n_kv=2, head_dim=12, use_sliding_window=True,
           sliding_window=6, max_window_layers=1), "F16"),
        ("gemma2-caps-windows", gemmaref,
         G("gemma2", 32, 48, 2, 4, VOCAB, 64, n_kv=2, head_dim=8, query_pre_attn_scalar=8,
           sliding_window=5, attn_logit_softcapping=5.0, final_logit_softcapping=3.0), "F32"),
        ("gemma3-local-global", gemmaref,
         G("gemma3_text", 32, 48, 3, 4, VOCAB, 64, n_kv=2, head_dim=8, sliding_window=4,
           sliding_window_pattern=2, rope_local_base_freq=100.0,
           rope_scaling={"rope_type": "linear", "factor": 4.0}), "BF16"),
        ("gpt_neox-parallel-partial-rotary", otherref,
         O("gpt_neox", 32, 64, 2, 4, VOCAB, 64, rotary_pct=0.5, parallel=True), "F32"),
        # original context 12: the driver's runs of 20, 11 and 40 tokens cross it both ways
        ("phi3-longrope-both-ways", otherref,
         O("phi3", 32, 64, 2, 4, VOCAB, 40, n_kv=2, original_max=12, partial_rotary_factor=0.5,
           sliding_window=7,
           rope_scaling={"type": "longrope", "short_factor": [1.0, 1.5],
                         "long_factor": [3.0, 5.0]}), "F32"),
        ("olmo2-post-norm", otherref, O("olmo2", 32, 48, 2, 4, VOCAB, 64, n_kv=2), "BF16"),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="lens-incremental-")
    passed = failed = 0
    try:
        rng = np.random.default_rng(7)
        for name, mod, cfg_json, dtype in checkpoints():
            d = os.path.join(root, name)
            cfg = mod.normalise_config(cfg_json)
            weights = mod.random_weights(cfg, rng)
            if isinstance(weights, tuple):  # otherref also returns the unfused pieces
                weights = weights[0]
            mod.write_checkpoint(d, cfg_json, weights, dtype=dtype)
            for f in ("vocab.json", "merges.txt"):
                shutil.copy(os.path.join(DEMO, f), d)
            p = subprocess.run([args.driver, d], capture_output=True, text=True, timeout=240)
            for line in p.stdout.splitlines()[:-1]:
                print(f"{line.split(' ', 1)[0]:4} {name}: {line.split(' ', 1)[1].strip()}")
            ok = p.returncode == 0
            if not ok:
                print(f"FAIL {name}: exit {p.returncode} {p.stderr.strip()[-500:]}")
            passed += ok
            failed += not ok
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
