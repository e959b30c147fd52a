#!/bin/sh
# Every benchmark report in one command, on a quiet machine (each report prints the load average
# it ran under):
#
#   tests/bench/run-all.sh BUILD_DIR
#
# 1. run-bench.sh: GPT-2-small shapes, T = 1, 16, 64, 256 against torch, the CLI, one more token
#    after 64, the --serve loop -> BUILD_DIR/bench-report.txt (about 2 minutes on 2 quiet cores);
# 2. run-bench-llama.sh: the Llama-3.2-1B shape against torch -> BUILD_DIR/bench-llama-report.txt
#    (about 5 minutes).
# Checkpoints are written once and reused from $BENCH_MODELS_DIR (default BUILD_DIR):
# bench-gpt2-small (~500 MB, or $BENCH_MODEL_DIR) and llama-3.2-1b-bf16 (2.5 GB).
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$1
here=$(cd "$(dirname "$0")" && pwd)
models=${BENCH_MODELS_DIR:-$build}
BENCH_MODEL_DIR=${BENCH_MODEL_DIR:-$models/bench-gpt2-small} "$here/run-bench.sh" "$build"
echo
BENCH_MODELS_DIR=$models "$here/run-bench-llama.sh" "$build"
echo
echo "reports: $build/bench-report.txt $build/bench-llama-report.txt"
