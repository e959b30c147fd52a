#!/usr/bin/python3
"""The serve-loop benchmark: `logit-lens-cli --model DIR --serve` answering a prompt that grows
by one word per request, as an editor sending each keystroke's text would.

  /usr/bin/python3 bench_serve.py --cli CLI --model DIR [--requests 64] [--embeddings]

The protocol (one JSON request per line on stdin, exactly one JSON line back per request, the
same document as --json or {"error": ...}; successive requests reuse the shared token prefix)
is driven through a pipe. One warm-up request on an unrelated prompt comes first (it absorbs
the model load, so the figure is the loop's, not the start's); then `--requests` prompts, the
first one word, each the previous plus one word (plain ASCII words, so the ids grow by about
one). Each request is timed from writing its line to having read the whole response line;
responses are parsed and checked only after the clock stops.

Prints `key value` lines for report.py: serve_startup_s (process start to the warm-up's answer),
serve_requests, serve_tokens (first and last prompt's token count), serve_mean_ms,
serve_median_ms, serve_max_ms, serve_last_ms, serve_response_bytes (last); or one
`serve_skip REASON` line (exit 0) when the binary has no --serve yet.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import gpt2ref  # noqa: E402


def prompts(n, seed=5):
    words = [w for w in gpt2ref.WORDS if w.isascii() and w.isalpha()]
    rng = random.Random(seed)
    text = "The"
    out = [text]
    while len(out) < n:
        text += " " + rng.choice(words)
        out.append(text)
    return out


def has_serve(cli):
    p = subprocess.run([cli, "--help"], capture_output=True, text=True)
    return "--serve" in p.stdout + p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--embeddings", action="store_true",
                    help="ask for the embedding row too (13 rows on GPT-2 small, like the rest "
                    "of the benchmark)")
    args = ap.parse_args()
    if not has_serve(args.cli):
        print(f"serve_skip {args.cli} has no --serve yet (not in its --help)")
        return

    def request(prompt):
        req = {"prompt": prompt}
        if args.embeddings:
            req["embeddings"] = True
        return (json.dumps(req) + "\n").encode()

    t_start = time.perf_counter()
    # Buffered pipes (bufsize=0 would make readline read the answer one byte per system call:
    # 300 ms for a 450 kB answer), flushed after every request.
    proc = subprocess.Popen([args.cli, "--model", args.model, "--serve"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1 << 20)

    def ask(line):
        proc.stdin.write(line)
        proc.stdin.flush()
        resp = proc.stdout.readline()
        if not resp:
            err = proc.stderr.read().decode(errors="replace").strip()
            sys.exit(f"bench_serve.py: --serve ended without answering (exit "
                     f"{proc.wait()}): {err[-1000:]}")
        return resp

    ask(request("Hello, world"))
    startup = time.perf_counter() - t_start
    times, answers = [], []
    for p in prompts(args.requests):
        line = request(p)
        t0 = time.perf_counter()
        resp = ask(line)
        times.append(time.perf_counter() - t0)
        answers.append(resp)
    proc.stdin.close()
    rc = proc.wait()
    if rc != 0:
        sys.exit(f"bench_serve.py: --serve exited {rc} at EOF: "
                 f"{proc.stderr.read().decode(errors='replace')[-1000:]}")

    n_tokens = []
    for i, resp in enumerate(answers):
        doc = json.loads(resp)
        if "error" in doc:
            sys.exit(f"bench_serve.py: request {i} answered {doc['error']!r}")
        n_tokens.append(len(doc["tokens"]))
        want_rows = 13 if args.embeddings else 12
        if doc["model"].get("n_layer") == 12 and len(doc["layers"]) != want_rows:
            sys.exit(f"bench_serve.py: request {i}: {len(doc['layers'])} rows, expected "
                     f"{want_rows}")
    if any(b < a for a, b in zip(n_tokens, n_tokens[1:])):
        sys.exit(f"bench_serve.py: token counts do not grow: {n_tokens}")
    ms = sorted(t * 1000 for t in times)
    print(f"serve_startup_s {startup:.4f}")
    print(f"serve_requests {len(times)}")
    print(f"serve_tokens {n_tokens[0]} {n_tokens[-1]}")
    print(f"serve_mean_ms {sum(ms) / len(ms):.2f}")
    print(f"serve_median_ms {statistics.median(ms):.2f}")
    print(f"serve_max_ms {ms[-1]:.2f}")
    print(f"serve_last_ms {times[-1] * 1000:.2f}")
    print(f"serve_response_bytes {len(answers[-1])}")


if __name__ == "__main__":
    main()
