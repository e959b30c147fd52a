#!/bin/sh
# Runs every libFuzzer harness of a -Dfuzzing=true build for a bounded time, starting from the
# committed seed corpora, and fails if any of them finds a crash, leak, timeout or sanitizer report.
#
#   tests/fuzz/run-fuzz.sh BUILD_DIR SECONDS      (SECONDS per harness; LENS_FUZZ_SECONDS overrides)
#
# New inputs found during the run go to a scratch directory, not into the committed corpus. Crash
# reproducers are kept in BUILD_DIR/fuzz-artifacts/<target>/.
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build=$1
secs=${LENS_FUZZ_SECONDS:-$2}
here=$(cd "$(dirname "$0")" && pwd)
# Every harness the build made (tests/fuzz/meson.build's fuzz_targets); each seeds from
# corpus/<target>/ and uses dict/<target>.dict when they exist.
targets=$(cd "$build/tests/fuzz" 2>/dev/null && for f in fuzz-*; do
  [ -f "$f" ] && [ -x "$f" ] && echo "${f#fuzz-}"; done)
if [ -z "$targets" ]; then
  echo "FAIL: no harnesses in $build/tests/fuzz (configure with -Dfuzzing=true and build)" >&2
  exit 1
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT INT TERM

status=0
for t in $targets; do
  exe="$build/tests/fuzz/fuzz-$t"
  if [ ! -x "$exe" ]; then
    echo "FAIL $t: $exe not built (configure with -Dfuzzing=true)" >&2
    status=1
    continue
  fi
  mkdir -p "$scratch/$t" "$build/fuzz-artifacts/$t"
  seeds=""
  [ -d "$here/corpus/$t" ] && seeds="$here/corpus/$t"
  log="$build/fuzz-artifacts/$t/last-run.log"
  dict=""
  [ -f "$here/dict/$t.dict" ] && dict="-dict=$here/dict/$t.dict"
  # -timeout: one input taking >10 s is a hang; -rss_limit_mb: the loaders must stay bounded.
  ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=1:abort_on_error=1" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:print_stacktrace=1:halt_on_error=1" \
    "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 $dict -artifact_prefix="$build/fuzz-artifacts/$t/" \
      "$scratch/$t" $seeds >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  if [ $rc -ne 0 ]; then
    echo "FAIL $t (exit $rc) after ${runs:-?} runs; log: $log" >&2
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 20 >&2
    status=1
  else
    echo "ok   $t: ${runs:-?} runs in ${secs} s, ${cov:-cov: ?}"
  fi
done
exit $status
