#!/bin/sh
# Benchmark of the full logit lens on GPT-2-small shapes: the engine (bench-lens) and torch side
# by side at T = 1, 16, 64, 256 with the kernels of both, the CLI's start-to-JSON time and peak
# memory, one more token after 64 (the incremental path + JSON), and the --serve loop over 64
# growing prompts (skipped when the CLI has no --serve), each against its target (report.py).
# Not a test: run it by hand on a quiet machine; it prints the load average it ran under.
#
#   tests/bench/run-bench.sh BUILD_DIR [extra report.py options, e.g. --reps 5]
#
# Writes a GPT-2-small-shaped random checkpoint (~500 MB) to $BENCH_MODEL_DIR
# (default BUILD_DIR/bench-gpt2-small, reused when complete) and the report to
# BUILD_DIR/bench-report.txt. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE / ATEN_CPU_CAPABILITY are
# passed through as they are; unset, torch is given the kernels our engine runs (benchenv.py).
set -eu
if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [report.py options]" >&2
  exit 2
fi
build=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
model=${BENCH_MODEL_DIR:-$build/bench-gpt2-small}

ninja -C "$build" tests/bench/bench-lens src/cli/logit-lens-cli >/dev/null
/usr/bin/python3 "$here/make_bench_model.py" "$model"
exec /usr/bin/python3 "$here/report.py" --build "$build" --model "$model" \
  --out "$build/bench-report.txt" "$@"
