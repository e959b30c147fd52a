#!/usr/bin/env python3
"""Checks of the bundled demo model through logit-lens-cli.

  check_demo.py perplexity CLI MODEL_DIR HELDOUT.txt EXPECTED.json
      The engine's mean loss on the held-out excerpt matches the training script's own figure
      (computed in torch from the exported weights) to 3 significant digits.

  check_demo.py card CLI MODEL_DIR README.md
      Every ```console block of the model card that starts with `$ logit-lens-cli ...` is run
      again (with --model MODEL_DIR added) and must print the same text: the same tokens and
      labels, numbers equal within one unit of their last printed digit. So the card cannot go
      stale.
"""
import json
import re
import shlex
import subprocess
import sys


def run_cli(cli, args):
    proc = subprocess.run([cli] + args, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"FAIL: {shlex.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def significant(x, digits=3):
    return float(f"{x:.{digits}g}")


def check_perplexity(cli, model, heldout, expected_path):
    expected = json.load(open(expected_path))
    got = json.loads(run_cli(cli, ["--model", model, "--perplexity", heldout]))
    print(f"engine: {got['tokens']} tokens, mean loss {got['mean_loss_nats']:.6f} nats, "
          f"perplexity {got['perplexity']:.4f}")
    print(f"torch:  {expected['tokens']} tokens, mean loss {expected['mean_loss_nats']:.6f} nats, "
          f"perplexity {expected['perplexity']:.4f}")
    failures = 0
    if got["tokens"] != expected["tokens"]:
        print(f"FAIL: token count {got['tokens']} != {expected['tokens']}")
        failures += 1
    for key in ("mean_loss_nats", "perplexity"):
        if significant(got[key]) != significant(expected[key]):
            print(f"FAIL: {key} {got[key]} and {expected[key]} differ in the first 3 significant digits")
            failures += 1
    return failures


NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def last_place(number):
    """The value of one unit in the last printed digit: 0.1 for "89.2", 1e-08 for "5.28e-06"."""
    mantissa, _, exponent = number.partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def same_output(want, got):
    """Same text, numbers equal within one unit of their last printed digit: the float32 sums of
    the forward pass are not fixed to the last bit (how the GEMMs are split over threads changes
    their order), so a value near a rounding boundary may print one digit apart, while an edited
    number stands out."""
    want_lines, got_lines = want.rstrip("\n").split("\n"), got.rstrip("\n").split("\n")
    if len(want_lines) != len(got_lines):
        return f"{len(got_lines)} lines printed, the card shows {len(want_lines)}"
    for i, (w, g) in enumerate(zip(want_lines, got_lines)):
        if NUMBER.sub("#", w) != NUMBER.sub("#", g):
            return f"line {i + 1} differs:\n  card: {w}\n  now:  {g}"
        for a, b in zip(NUMBER.findall(w), NUMBER.findall(g)):
            if abs(float(a) - float(b)) > last_place(a) * 1.001:
                return f"line {i + 1}: {a} in the card, {b} now"
    return None


def check_card(cli, model, card_path):
    text = open(card_path, encoding="utf-8").read()
    blocks = re.findall(r"```console\n(.*?)```", text, flags=re.S)
    examples = [b for b in blocks if b.startswith("$ logit-lens-cli ")]
    if len(examples) < 3:
        print(f"FAIL: the card has {len(examples)} CLI examples; it should show at least 3")
        return 1
    failures = 0
    for block in examples:
        command, _, shown = block.partition("\n")
        args = shlex.split(command)[2:]  # drop "$ logit-lens-cli"
        got = run_cli(cli, ["--model", model] + args)
        problem = same_output(shown, got)
        status = "ok  " if problem is None else "FAIL"
        print(f"{status} {command}")
        if problem is not None:
            print("     " + problem)
            failures += 1
    return failures


def main():
    mode = sys.argv[1]
    if mode == "perplexity":
        failures = check_perplexity(*sys.argv[2:6])
    elif mode == "card":
        failures = check_card(*sys.argv[2:5])
    else:
        raise SystemExit(f"unknown mode {mode}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
