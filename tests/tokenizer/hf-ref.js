// hf-ref.js: the reference side of compare-hf.py. Encodes every line of a JSONL file (one JSON
// string per line) with @lenml/tokenizers (transformers.js's tokenizers, no dependencies) loaded
// from a model folder's tokenizer.json + tokenizer_config.json, and prints one JSON line per
// input: [ids without special tokens, ids with them] (encode(text, {add_special_tokens: false})
// and encode(text)).
//
//   node hf-ref.js NODE_DIR MODEL_DIR INPUT.jsonl > OUTPUT.jsonl
"use strict";
const fs = require("fs");
const path = require("path");

const [nodeDir, modelDir, input] = process.argv.slice(2);
const { TokenizerLoader } = require(path.join(nodeDir, "node_modules", "@lenml", "tokenizers"));
const read = (f) => JSON.parse(fs.readFileSync(path.join(modelDir, f), "utf8"));
const tok = TokenizerLoader.fromPreTrained({
  tokenizerJSON: read("tokenizer.json"),
  tokenizerConfig: read("tokenizer_config.json"),
});
const out = [];
for (const line of fs.readFileSync(input, "utf8").split("\n")) {
  if (line === "") continue;
  const text = JSON.parse(line);
  out.push(JSON.stringify([tok.encode(text, { add_special_tokens: false }), tok.encode(text)]));
}
fs.writeFileSync(1, out.join("\n") + "\n");
