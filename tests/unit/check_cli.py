#!/usr/bin/env python3
"""logit-lens-cli's command line as a user meets it, on the bundled demo model.

  check_cli.py CLI MODEL_DIR README.md

- Every command of the README's "Command line" block runs (in a scratch folder holding the files
  it names), so the examples cannot go stale.
- Option mistakes are refused before the model runs, with a message that says what is wrong:
  an empty --layers, a reversed range, a range beyond the model, --view without --export.
- --export writes the figure and prints nothing else (--json adds the document).
- Probabilities in the text summary are written as the app writes them: percentages from 0.1%,
  scientific notation below, so a tiny probability never reads as zero.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

failures = 0


def fail(message):
    global failures
    failures += 1
    print("FAIL:", message)


def run(cli, args, cwd=None, stdin=subprocess.DEVNULL):
    return subprocess.run([cli] + args, capture_output=True, text=True, timeout=300, cwd=cwd,
                          stdin=stdin)


def readme_commands(readme):
    text = open(readme, encoding="utf-8").read()
    section = text[text.index("## Command line"):]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S).group(1)
    commands = []
    for line in block.replace("\\\n", " ").split("\n"):
        if line.startswith("logit-lens-cli"):
            commands.append(line)
    return commands


def check_readme(cli, model, readme):
    commands = readme_commands(readme)
    if len(commands) < 8:
        fail(f"found only {len(commands)} commands in the README's Command line block")
    with tempfile.TemporaryDirectory() as scratch:
        for name in ["prompt.txt", "book.txt", "held-out.txt"]:
            with open(os.path.join(scratch, name), "w", encoding="utf-8") as f:
                f.write("The Eiffel Tower is in the city of Paris. It was built in 1889.\n" * 3)
        for command in commands:
            words, redirect = shlex.split(command.partition(">")[0]), command.partition(">")[2]
            args = words[1:]
            if "--model" in args:
                args[args.index("--model") + 1] = model
            elif "--open" not in args:
                args = ["--model", model] + args
            proc = run(cli, args, cwd=scratch)
            if proc.returncode != 0:
                fail(f"README: `{command}` exited {proc.returncode}: {proc.stderr.strip()}")
                continue
            if redirect.strip():
                with open(os.path.join(scratch, redirect.strip()), "w", encoding="utf-8") as f:
                    f.write(proc.stdout)
            for output in [a for a in args if a.endswith((".svg", ".png", ".pdf"))]:
                if os.path.getsize(os.path.join(scratch, output)) < 1000:
                    fail(f"README: `{command}` wrote no figure {output}")
    print(f"{len(commands)} README commands run")


def check_refusals(cli, model):
    base = ["--model", model, "--prompt", "The Eiffel Tower is in the city of"]
    cases = [
        (["--layers", ""], "--layers is empty"),
        (["--layers", " "], "--layers is empty"),
        (["--layers", "5-0"], 'reversed range (did you mean 0-5?)'),
        (["--layers", "0-11:2"], '"0-11:2" is outside 0-5 (the model has 6 blocks)'),
        (["--view", "line"], "--view chooses the figure --export writes"),
        (["--view", "pie", "--export", "x.svg"], '"pie" is not one of'),
    ]
    for args, message in cases:
        proc = run(cli, base + args)
        if proc.returncode == 0 or message not in proc.stderr or proc.stdout:
            fail(f"{args}: expected a refusal saying {message!r}, got exit {proc.returncode}, "
                 f"stderr {proc.stderr.strip()!r}, stdout {proc.stdout[:80]!r}")


def check_export_output(cli, model):
    base = ["--model", model, "--prompt", "The Eiffel Tower is in the city of", "--target", " Paris"]
    with tempfile.TemporaryDirectory() as scratch:
        figure = os.path.join(scratch, "lens.svg")
        proc = run(cli, base + ["--export", figure])
        if proc.returncode != 0 or proc.stdout or not os.path.exists(figure):
            fail(f"--export: exit {proc.returncode}, stdout {proc.stdout[:80]!r} (expected nothing)")
        proc = run(cli, base + ["--export", figure, "--json"])
        try:
            json.loads(proc.stdout)
        except ValueError:
            fail(f"--export --json: stdout is not the JSON document: {proc.stdout[:80]!r}")


def check_numbers(cli, model):
    # " Paris" after this prompt has probabilities around 1e-5 .. 1e-3 on the demo model
    proc = run(cli, ["--model", model, "--prompt", "The Eiffel Tower is in the city of",
                     "--target", " Paris", "--embeddings"])
    data = json.loads(run(cli, ["--model", model, "--prompt", "The Eiffel Tower is in the city of",
                                "--target", " Paris", "--embeddings", "--json"]).stdout)
    probs = [row[-1] for row in data["targets"][0]["prob"]]
    lines = proc.stdout.split("Target")[1].strip().split("\n")[1:]
    if len(lines) != len(probs):
        fail(f"target table has {len(lines)} rows for {len(probs)} layers")
        return
    for line, p in zip(lines, probs):
        shown = line.split()[-1]
        if p < 1e-3:
            ok = re.fullmatch(r"\d\.\d\de-\d\d", shown) and abs(float(shown) - p) <= 0.006 * p
        else:
            ok = shown.endswith("%") and abs(float(shown[:-1]) / 100 - p) <= 0.006 * p
        if not ok:
            fail(f"probability {p:.3g} printed as {shown!r}")
    if "0.000000" in proc.stdout:
        fail("the text summary prints a probability as 0.000000")


def main():
    cli, model, readme = (os.path.abspath(a) for a in sys.argv[1:4])
    check_readme(cli, model, readme)
    check_refusals(cli, model)
    check_export_output(cli, model)
    check_numbers(cli, model)
    print(f"{failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
