// gpt2-ref.js: reference GPT-2 token ids from the npm package gpt-3-encoder (not written here).
//
//   node gpt2-ref.js [--gpt2-regex] (--file F | --jsonl) < input
//
//   --file F      the whole file is one text; prints one JSON array of ids
//   --jsonl       every stdin line is a JSON string; prints one array of ids per line
//   --gpt2-regex  pre-tokenize with GPT-2's own regex semantics (Python `regex`, Hugging Face:
//                 \s is Unicode White_Space), then encode every piece with gpt-3-encoder's bpe().
//                 JavaScript's \s differs from it in two code points (it includes U+FEFF and
//                 lacks U+0085); this mode is the reference for those.
//
// gpt-3-encoder's encode() is quadratic in the length of its input (it concatenates arrays in a
// loop) and knows no special tokens. So the text is split at <|endoftext|> (id 50256) here, and
// each part is fed in pieces of a few thousand characters, cut only where re-running the
// encoder's own regex on the piece gives exactly the matches it has in the whole part; the ids
// are then what encode() would give for the whole part.
'use strict';
const fs = require('fs');
const path = require('path');

const Module = require('module');
const encoderDir = path.dirname(require.resolve('gpt-3-encoder'));
const { encode } = require('gpt-3-encoder');

// Take the pattern from the encoder's source so the pieces are cut with exactly its regex.
const encoderFile = path.join(encoderDir, 'Encoder.js');
const src = fs.readFileSync(encoderFile, 'utf-8');
const m = src.match(/^const pat = \/(.*)\/gu$/m);
if (!m) {
  console.error('gpt2-ref.js: cannot find the pattern in gpt-3-encoder/Encoder.js');
  process.exit(2);
}
const encoderPat = new RegExp(m[1], 'gu');
const gpt2Pat = new RegExp(
  m[1].replace(/\\s/g, '\\p{White_Space}').replace(/\\S/g, '\\P{White_Space}'), 'gu');
if (gpt2Pat.source === encoderPat.source) {
  console.error('gpt2-ref.js: unexpected pattern in gpt-3-encoder');
  process.exit(2);
}

// The encoder's internals (its bpe(), byte mapping and vocabulary), from its unmodified source
// with one export line appended; --gpt2-regex feeds them GPT-2's pieces directly, exactly as
// encode() does for each of its own pieces.
let internals = null;
function loadInternals() {
  const mod = new Module(encoderFile, module);
  mod.filename = encoderFile;
  mod.paths = Module._nodeModulePaths(encoderDir);
  mod._compile(src + '\nmodule.exports.__internals = { bpe, encoder, byte_encoder, encodeStr };\n',
    encoderFile);
  return mod.exports.__internals;
}

const EOT = '<|endoftext|>';
const EOT_ID = 50256;
const PIECE = 4096;

function matches(re, s) {
  return Array.from(s.matchAll(re), (x) => [x.index, x.index + x[0].length]);
}

function samePieces(a, b, offset) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++)
    if (a[i][0] + offset !== b[i][0] || a[i][1] + offset !== b[i][1]) return false;
  return true;
}

// encode() on a text without <|endoftext|>, in verified pieces.
function encodePart(part, out) {
  const all = matches(encoderPat, part);
  let start = 0; // index into `all` of the first match of the current piece
  for (let i = 0; i < all.length; i++) {
    const from = all[start][0];
    const to = all[i][1];
    if (to - from < PIECE && i + 1 < all.length) continue;
    const piece = part.slice(from, to);
    if (i + 1 < all.length && !samePieces(matches(encoderPat, piece), all.slice(start, i + 1), from))
      continue; // not a safe cut, grow the piece
    for (const id of encode(piece)) out.push(id);
    start = i + 1;
  }
}

// GPT-2's regex semantics, then the body of encode()'s loop on every piece.
function encodePartGpt2(part, out) {
  if (internals === null) internals = loadInternals();
  const { bpe, encoder, byte_encoder, encodeStr } = internals;
  for (const [a, b] of matches(gpt2Pat, part)) {
    const token = encodeStr(part.slice(a, b)).map((x) => byte_encoder[x]).join('');
    for (const id of bpe(token).split(' ').map((x) => encoder[x])) out.push(id);
  }
}

function encodeText(text, gpt2) {
  const out = [];
  const parts = text.split(EOT);
  parts.forEach((part, i) => {
    if (i > 0) out.push(EOT_ID);
    if (part.length > 0) (gpt2 ? encodePartGpt2 : encodePart)(part, out);
  });
  for (const id of out)
    if (!Number.isInteger(id)) {
      console.error('gpt2-ref.js: gpt-3-encoder produced a non-id: ' + id);
      process.exit(2);
    }
  return out;
}

function main() {
  const args = process.argv.slice(2);
  const gpt2 = args.includes('--gpt2-regex');
  const fi = args.indexOf('--file');
  if (fi >= 0) {
    const text = fs.readFileSync(args[fi + 1], 'utf-8');
    process.stdout.write(JSON.stringify(encodeText(text, gpt2)) + '\n');
  } else if (args.includes('--jsonl')) {
    const lines = fs.readFileSync(0, 'utf-8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const outLines = lines.map((l) => JSON.stringify(encodeText(JSON.parse(l), gpt2)));
    process.stdout.write(outLines.join('\n') + (outLines.length ? '\n' : ''));
  } else {
    console.error('usage: node gpt2-ref.js [--gpt2-regex] (--file F | --jsonl)');
    process.exit(2);
  }
}

main();
