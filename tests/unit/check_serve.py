#!/usr/bin/env python3
"""logit-lens-cli --serve against the one-shot CLI, on the bundled demo model.

  check_serve.py CLI MODEL_DIR

One server answers a session of requests, one line written, one line read each time: prompts that
grow, shrink and change in the middle (so the shared-prefix cache is used and invalidated),
requests that override the command line's defaults, and bad requests between them. Every answer
must be one line: for a good request the same document `--json` prints for the same options
(numbers within 2e-6 + 2e-6 relative: the cached run sums in another order; a request's members
replace the command line's flags), for a bad one {"error": "..."} with
the message the one-shot CLI gives where it has one; the server keeps going and exits 0 at EOF.
Also: --serve refuses options it cannot honour, and --threads is validated and does not change
the numbers.
"""
import json
import subprocess
import sys
import tempfile

from cli_check import fail, run
import cli_check

# absolute + relative: entropies and log-normalisers reach ~10, summed in float32
ABS_TOLERANCE, REL_TOLERANCE = 2e-6, 2e-6
def same(a, b, path="$"):
    """First difference between two JSON values (floats within TOLERANCE), or None."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return None if a == b else f"{path}: {a!r} != {b!r}"
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        ok = abs(a - b) <= ABS_TOLERANCE + REL_TOLERANCE * abs(b)
        return None if ok else f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            d = same(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = same(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


class Server:
    def __init__(self, cli, args):
        # stderr to a file: a pipe nobody reads could fill and block the server mid-answer
        self.errors = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        self.proc = subprocess.Popen([cli, "--serve"] + args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.errors, text=True,
                                     encoding="utf-8")

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply.endswith("\n"):
            self.errors.seek(0)
            raise SystemExit(f"FAIL: no reply line to {line!r} (server exited "
                             f"{self.proc.poll()}): {self.errors.read()}")
        return json.loads(reply)

    def close(self):
        self.proc.stdin.close()
        rest = self.proc.stdout.read()
        status = self.proc.wait(timeout=60)
        return status, rest


def main():
    cli, model = sys.argv[1], sys.argv[2]
    defaults = ["--model", model, "--top-k", "5", "--target", " Paris"]

    def fresh(prompt, flags):
        """--json of the prompt with these flags (None: the server's defaults)."""
        args = defaults if flags is None else ["--model", model] + flags
        proc = run(cli, args + ["--json", "--prompt", prompt], must_succeed=True)
        return json.loads(proc.stdout)

    base = "The Eiffel Tower is in the city of"
    good = [
        ({"prompt": "The"}, None),
        ({"prompt": "The Eiffel"}, None),
        ({"prompt": base}, None),
        ({"prompt": base + " Paris"}, None),                       # one more token
        ({"prompt": "The Louvre Tower is in the city of"}, None),  # an edit in the middle
        ({"prompt": base}, None),                                  # back again
        # metrics and sub-layer rows: not taken from the cache of a run without them; one more
        # token gives the previous last position its next token
        ({"prompt": base, "metrics": True, "sublayers": True},
         ["--top-k", "5", "--target", " Paris", "--metrics", "--sublayers"]),
        ({"prompt": base + " Paris", "metrics": True, "sublayers": True},
         ["--top-k", "5", "--target", " Paris", "--metrics", "--sublayers"]),
        ({"prompt": base, "top_k": 3, "targets": [" London", " Rome"]},
         ["--top-k", "3", "--target", " London", "--target", " Rome"]),
        ({"prompt": base, "layers": "0,2", "embeddings": True},
         ["--top-k", "5", "--target", " Paris", "--layers", "0,2", "--embeddings"]),
        ({"prompt": base + " and", "targets": []}, ["--top-k", "5"]),  # no targets at all
        ({"prompt": "caf\u00e9 \U0001F600 na\u00efve"}, None),
        # only some positions in the answer: the new last one while typing, or a range
        ({"prompt": base + " Paris", "positions": "11"},
         ["--top-k", "5", "--target", " Paris", "--positions", "11"]),
        ({"prompt": base, "metrics": True, "positions": "3-5"},
         ["--top-k", "5", "--target", " Paris", "--metrics", "--positions", "3-5"]),
    ]
    long_prompt = " the" * 5000
    too_long = run(cli, defaults + ["--json", "--prompt", long_prompt])
    bad = [
        ("not json", "request: invalid JSON"),
        ("", "request: the line is empty"),
        ("[1, 2]", "request: expected a JSON object, not an array"),
        ('{"prompt": "x", "colour": 1}', 'request: unknown member "colour"'),
        ('{"targets": [" Paris"]}', 'request: "prompt" is missing'),
        ('{"prompt": 7}', 'request: "prompt" must be a string'),
        ('{"prompt": "a\\u0000b"}', 'request: "prompt" contains a NUL character'),
        ('{"prompt": "x", "top_k": 0}', 'request: "top_k" must be at least 1'),
        ('{"prompt": "x", "top_k": 2.5}', 'request: "top_k" must be an integer'),
        ('{"prompt": "x", "embeddings": 1}', 'request: "embeddings" must be true or false'),
        ('{"prompt": "x", "metrics": "yes"}', 'request: "metrics" must be true or false'),
        ('{"prompt": "x", "targets": " Paris"}', 'request: "targets" must be an array'),
        ('{"prompt": "x", "layers": "0-9"}', 'layers: "0-9" is outside'),
        ('{"prompt": "x", "positions": "5-1"}', 'positions: "5-1" is a reversed range'),
        ('{"prompt": "The Eiffel", "positions": "7"}', 'positions: "7" is outside'),
        ('{"prompt": ""}', "prompt: the prompt is empty"),
        (json.dumps({"prompt": long_prompt}), too_long.stderr.strip().split(": ", 1)[1]),
    ]
    if too_long.returncode == 0:
        fail("a prompt longer than the context was accepted by the one-shot CLI")

    server = Server(cli, defaults)
    n = 0
    for (request, flags), (bad_line, message) in zip(good * 2, bad):
        # a bad request between two good ones: the server answers it and keeps its cache right
        reply = server.ask(bad_line)
        n += 1
        if set(reply) != {"error"} or message not in reply["error"]:
            fail(f"request {bad_line[:60]!r}: expected an error with {message!r}, got {reply}")
        reply = server.ask(json.dumps(request))
        n += 1
        expected = fresh(request["prompt"], flags)
        d = same(reply, expected)
        if d:
            fail(f"request {request}: differs from --json: {d}")
    status, rest = server.close()
    if status != 0 or rest:
        fail(f"at EOF the server exited {status} with output {rest[:200]!r}")
    print(f"{n} requests answered, one line each, equal to the one-shot --json")

    # options --serve cannot honour, and --threads
    for args, message in [(["--prompt", "x"], "takes no --prompt"),
                          (["--json"], "takes no --json")]:
        proc = run(cli, ["--model", model, "--serve"] + args)
        if proc.returncode == 0 or message not in proc.stderr:
            fail(f"--serve {args}: expected a refusal with {message!r}, got {proc.stderr!r}")
    for value in ["0", "-1", "-3", "100000"]:
        proc = run(cli, defaults + ["--threads", value, "--json", "--prompt", base])
        if proc.returncode == 0 or "--threads must be between 1 and" not in proc.stderr:
            fail(f"--threads {value}: expected a refusal, got {proc.returncode} {proc.stderr!r}")
    one = json.loads(run(cli, defaults + ["--threads", "1", "--json", "--prompt", base],
                         must_succeed=True).stdout)
    d = same(one, fresh(base, None))
    if d:
        fail(f"--threads 1 differs from the default: {d}")

    cli_check.finish()


if __name__ == "__main__":
    main()
