#!/bin/sh
# usage: run-worker-test.sh TEST_WORKER SOURCE_ROOT
set -eu
test_exe=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$src/tests/gui/prepare-test-model.sh"
status=0
"$test_exe" "$model" || status=$?
exit $status
