#!/usr/bin/python3
"""The torch side of the benchmark: the same full logit lens bench-lens times, in float32 torch.

  /usr/bin/python3 bench_torch.py MODEL_DIR --threads N [--tokens 1,16,64,256] [--reps R]

Loads the checkpoint's weights (one model.safetensors, any of F32/F16/BF16, widened to f32),
then per T runs GPT-2 (transformers' GPT2Model semantics, eager attention) keeping the
embeddings and every block output, and the lens on all of them at every position: ln_f,
unembedding, softmax, top-10 and entropy. Best-of-R wall time per T, printed as
`torch T=... best_s ...` lines for report.py, after the kernels torch runs (benchenv.py):
OpenBLAS's openblas_get_config() and core, ATen's CPU capability, and the OPENBLAS_* /
ATEN_CPU_CAPABILITY variables it was given. OpenBLAS gets the same thread count as torch's ATen
pool (torch calls sgemm from one thread and OpenBLAS splits it).
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import torch  # noqa: E402
import benchenv  # noqa: E402
import gpt2ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--tokens", default="1,16,64,256")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch_version {torch.__version__}")
    print(f"torch_threads {torch.get_num_threads()}")
    for k, v in benchenv.torch_kernels():
        print(f"{k} {v}")
    lib = benchenv.loaded_openblas()[3]
    if lib is not None:
        lib.openblas_set_num_threads(args.threads)
        print(f"torch_openblas_threads {lib.openblas_get_num_threads()}")

    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    t0 = time.perf_counter()
    w = gpt2ref.read_safetensors(os.path.join(args.model, "model.safetensors"))
    w = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in w.items()}
    w = {k: v for k, v in w.items() if not k.endswith((".attn.bias", ".attn.masked_bias"))}
    model = gpt2ref.TorchGPT2(cfg, w, torch.float32, fast=True)
    print(f"torch_load_s {time.perf_counter() - t0:.4f}")
    g = torch.Generator().manual_seed(42)
    for T in [int(x) for x in args.tokens.split(",")]:
        ids = torch.randint(0, cfg["vocab_size"], (T,), generator=g).tolist()
        best = 1e30
        for _ in range(args.reps):
            s = time.perf_counter()
            with torch.inference_mode():
                resid, _ = forward_no_head(model, ids)               # (L+1, T, C)
                logp = model.lens(resid)                             # (L+1, T, V)
                top_p, top_i = torch.topk(logp, 10, dim=-1)
                top_p = top_p.exp()
                entropy = -(logp.exp() * logp).sum(-1)               # (L+1, T)
            dt = time.perf_counter() - s
            best = min(best, dt)
        assert top_i.shape == (cfg["n_layer"] + 1, T, 10) and entropy.shape == (cfg["n_layer"] + 1, T)
        print(f"torch T={T} best_s {best:.6f}", flush=True)


def forward_no_head(model, ids):
    """The forward pass without the model's own head (the lens's last row is that head)."""
    saved = model.unembed
    try:
        # TorchGPT2.forward also computes logits; give it a 1-row unembedding so that extra work
        # is negligible and the comparison is the same work the engine does.
        model.unembed = saved[:1]
        return model.forward(ids)
    finally:
        model.unembed = saved


if __name__ == "__main__":
    main()
