#!/bin/sh
# usage: run-window-test.sh TEST_WINDOW SOURCE_ROOT ARTIFACT_DIR
# Runs the window test under Xvfb with a private GSettings schema dir, memory settings backend
# and (if the demo model is not built yet) a small random GPT-2 with GPT-2's tokenizer.
set -eu
test_exe=$1
src=$2
artifacts=$3

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/schemas"
glib-compile-schemas --strict --targetdir="$tmp/schemas" "$src/resources"

. "$src/tests/gui/prepare-test-model.sh"

export GSETTINGS_SCHEMA_DIR="$tmp/schemas"
export GSETTINGS_BACKEND=memory
export GSK_RENDERER=cairo
export GDK_BACKEND=x11
export GTK_A11Y=none
export NO_AT_BRIDGE=1
# A fake Hugging Face cache (so a developer's own cache does not change what the menu lists)
# holding the test model as openai-community/gpt2.
export HF_HUB_CACHE="$tmp/hf-hub"
entry="$HF_HUB_CACHE/models--openai-community--gpt2"
mkdir -p "$entry/refs" "$entry/snapshots/0123abcd"
printf '0123abcd' > "$entry/refs/main"
for f in "$model"/*; do ln -s "$f" "$entry/snapshots/0123abcd/"; done
mkdir -p "$artifacts"

run="$test_exe --model $model --artifacts $artifacts"
if command -v dbus-run-session >/dev/null 2>&1; then
  run="dbus-run-session -- $run"
fi
status=0
xvfb-run -a -s "-screen 0 1400x900x24" $run || status=$?
exit $status
