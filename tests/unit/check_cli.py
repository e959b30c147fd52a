#!/usr/bin/env python3
"""logit-lens-cli's command line as a user meets it, on the bundled demo model.

  check_cli.py CLI MODEL_DIR README.md

- Every command of the README's "Command line" block runs (in a scratch folder holding the files
  it names), so the examples cannot go stale.
- Option mistakes are refused before the model runs, with a message that says what is wrong:
  an empty --layers, a reversed range, a range beyond the model, --view without --export.
- --positions restricts the summary, --json (positions keep the prompt's numbers: first_position)
  and --export to a range, with --layers' messages; a heatmap of more than 64 positions is
  exported as its last 64 with a warning that names them and --positions.
- --export writes the figure and prints nothing else (--json adds the document); --scale
  reaches the figure.
- Probabilities in the text summary are written as the app writes them: percentages from 0.1%,
  scientific notation below, so a tiny probability never reads as zero.
- A model that produces NaN (a corrupt bias) is reported with the first layer and position, and
  its --json document opens again; a logitlenskit file with Python's NaN opens, NaN as unknown.
"""
import json
import os
import shutil
import struct
import re
import shlex
import subprocess
import sys
import tempfile

from cli_check import fail, run
import cli_check

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
        (["--positions", ""], "--positions is empty"),
        (["--positions", "5-2"], '--positions: "5-2" is a reversed range (did you mean 2-5?)'),
        (["--positions", "3-"], '--positions: "3-" has no end after \'-\''),
        (["--positions", "1,4"], '--positions: unexpected ",4" in "1,4"'),
        (["--positions", "x"], '--positions: "x" is not a number or range'),
        (["--positions", "40"], '--positions: "40" is outside 0-10 (the prompt has 11 tokens)'),
        (["--positions", "-1-3"], '--positions: "-1-3" is outside 0-10'),
        (["--view", "line"], "--view chooses the figure --export writes"),
        (["--view", "pie", "--export", "x.svg"], '"pie" is not one of'),
        (["--scale", "log"], "--scale sets the probability scale of the figure --export writes"),
        (["--scale", "ln", "--export", "x.svg"], '--scale: "ln" is not one of auto, linear, log'),
        (["--color-by", "rank"], "--color-by sets what colours the heatmap --export writes"),
        (["--color-by", "ranks", "--export", "x.svg"], '--color-by: "ranks" is not one of'),
        (["--line-metric", "kl"], "--line-metric sets what the line plot --export writes"),
        (["--line-metric", "kl", "--export", "x.svg"],
         "--line-metric sets what the line plot --export writes"),
        (["--line-metric", "kls", "--view", "line", "--export", "x.svg"],
         '--line-metric: "kls" is not one of top, next, rank, kl, entropy'),
        (["--line-targets-only", "--view", "line", "--export", "x.svg"],
         "--view line --line-targets-only needs at least one --target"),
        (["--compare-prompt", "The Colosseum"],
         "--compare-prompt compares two results in the figure --view diff writes"),
        (["--view", "diff", "--export", "x.svg"],
         "--view diff compares with one pinned result: give either --compare-prompt"),
        (["--view", "diff", "--export", "x.svg", "--compare-prompt", "a", "--diff", "kls"],
         '--diff: "kls" is not one of target, kl'),
        (["--view", "diff", "--export", "x.svg", "--compare-prompt", "a", "--diff", "target"],
         "--view diff needs at least one --target"),
        (["--view", "diff", "--export", "x.svg", "--compare-prompt", "a", "--layers", "0-2"]
         + ["--compare-open", "x.json"],
         "--view diff compares with one pinned result"),
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
        # the scale reaches the figure: " Paris" lies between 1e-6 and 1e-3 here, so auto is log
        svgs = {}
        for scale in ["auto", "linear", "log"]:
            path = os.path.join(scratch, f"line-{scale}.svg")
            proc = run(cli, base + ["--view", "line", "--scale", scale, "--export", path])
            if proc.returncode != 0:
                fail(f"--scale {scale}: exit {proc.returncode}: {proc.stderr.strip()}")
                return
            svgs[scale] = open(path, "rb").read()
        if svgs["linear"] == svgs["log"] or svgs["auto"] != svgs["log"]:
            fail("--scale: linear and log figures should differ, auto should be log here")
        # the line plot tracks the top-1 tokens unless told not to, and plots any metric
        # (computing the metrics it needs); each choice is a different figure
        lines = {}
        for extra in [[], ["--line-targets-only"], ["--line-metric", "kl"],
                      ["--line-metric", "rank"], ["--line-metric", "entropy"]]:
            path = os.path.join(scratch, "line.svg")
            proc = run(cli, base + ["--view", "line", "--export", path] + extra)
            if proc.returncode != 0:
                fail(f"--view line {extra}: exit {proc.returncode}: {proc.stderr.strip()}")
                return
            lines[" ".join(extra)] = open(path, "rb").read()
        if len(set(lines.values())) != len(lines):
            fail("--view line: the top-1 tracking and metric choices should give different figures")
        if b"KL to the final layer" not in lines["--line-metric kl"]:
            fail("--line-metric kl: the figure does not say it plots KL")
        # two prompts compared: the target's difference (the default with a target) and KL,
        # against a second prompt run here or a saved result; KL needs both run here
        pinned_json = os.path.join(scratch, "pinned.json")
        proc = run(cli, ["--model", model, "--prompt", "The Colosseum is in the city of",
                         "--target", " Paris", "--json"])
        with open(pinned_json, "w", encoding="utf-8") as f:
            f.write(proc.stdout)
        diffs = {}
        for extra in [["--compare-prompt", "The Colosseum is in the city of"],
                      ["--compare-prompt", "The Colosseum is in the city of", "--diff", "kl"],
                      ["--compare-open", pinned_json]]:
            path = os.path.join(scratch, "diff.svg")
            proc = run(cli, base + ["--view", "diff", "--export", path] + extra)
            if proc.returncode != 0:
                fail(f"--view diff {extra}: exit {proc.returncode}: {proc.stderr.strip()}")
                return
            diffs[" ".join(extra)] = open(path, "rb").read()
        if len(set(diffs.values())) != 2:
            fail("--view diff: the saved and the re-run pinned prompt should give the same target "
                 "difference, and KL another figure")
        proc = run(cli, base + ["--view", "diff", "--export", os.path.join(scratch, "d.svg"),
                                "--compare-open", pinned_json, "--diff", "kl"])
        if proc.returncode == 0 or "--diff kl needs both results computed here" not in proc.stderr:
            fail(f"--compare-open --diff kl: expected a refusal, got {proc.returncode} "
                 f"{proc.stderr.strip()!r}")


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
    # KL is in nats, not a probability: never a percentage
    metrics = run(cli, ["--model", model, "--prompt", "The Eiffel Tower is in the city of",
                        "--metrics"]).stdout
    kl_lines = [line for line in metrics.split("\n") if "KL from final" in line]
    if len(kl_lines) != 6 or not all(re.search(r"KL from final +\d+\.\d{3} nats$", line)
                                      for line in kl_lines):
        fail(f"--metrics summary: KL lines {kl_lines}")


def png_size(path):
    data = open(path, "rb").read(24)
    return struct.unpack(">II", data[16:24])


def check_positions(cli, model):
    base = ["--model", model, "--prompt", "The Eiffel Tower is in the city of", "--target",
            " Paris", "--metrics"]
    whole = json.loads(run(cli, base + ["--json"]).stdout)
    proc = run(cli, base + ["--json", "--positions", "2-5"])
    if proc.returncode != 0:
        fail(f"--positions 2-5 --json: {proc.stderr.strip()}")
        return
    part = json.loads(proc.stdout)
    if whole["first_position"] != 0 or part["first_position"] != 2:
        fail(f"first_position: whole {whole['first_position']}, range {part['first_position']}")
    if part["tokens"] != whole["tokens"][2:6] or part["layers"] != whole["layers"]:
        fail(f"--positions 2-5: tokens {part['tokens']} are not the prompt's 2-5")
    for row, (cells, want) in enumerate(zip(part["cells"], whole["cells"])):
        for t, cell in enumerate(cells):
            expect = dict(want[2 + t])
            if t == 3:
                # the document's last position: its next token is not in the document
                if cell["next"] is not None:
                    fail("--positions: the range's last position has a next token in --json")
                cell = {key: value for key, value in cell.items() if key != "next"}
                expect.pop("next")
            if cell != expect:
                fail(f"--positions 2-5: cell [{row}][{t}] differs from the whole's [{row}][{2 + t}]")
        if part["targets"][0]["prob"][row] != whole["targets"][0]["prob"][row][2:6]:
            fail(f"--positions 2-5: target probabilities of row {row} are not the whole's")

    # --view diff compares cells by index: the pinned side is cut to the same range
    with tempfile.TemporaryDirectory() as scratch:
        diff_args = ["--model", model, "--prompt", "The Eiffel Tower is in the city of",
                     "--view", "diff", "--diff", "kl", "--export", os.path.join(scratch, "d.svg")]
        diff_proc = run(cli, diff_args + ["--compare-prompt", "The Eiffel Tower is in the city of",
                                     "--positions", "3-6"])
        if diff_proc.returncode != 0:
            fail(f"--view diff --positions: {diff_proc.stderr.strip()!r}")
        diff_proc = run(cli, diff_args + ["--compare-prompt", "The Eiffel", "--positions", "8-9"])
        if diff_proc.returncode == 0 or "starts outside the pinned result's positions" not in diff_proc.stderr:
            fail(f"--view diff --positions past the pinned prompt: {diff_proc.stderr.strip()!r}")

    summary = run(cli, base + ["--positions", "7"]).stdout
    if "Tokens (1, positions 7-7):" not in summary or "at position 7, the last of the range" \
            not in summary:
        fail(f"--positions 7: the summary does not name the range: {summary[:400]!r}")

    with tempfile.TemporaryDirectory() as scratch:
        saved = os.path.join(scratch, "range.json")
        open(saved, "w", encoding="utf-8").write(proc.stdout)
        again = run(cli, ["--open", saved, "--json"])
        if again.returncode != 0 or json.loads(again.stdout)["first_position"] != 2:
            fail(f"--open of a range: {again.returncode} {again.stderr.strip()!r}")
        inner = run(cli, ["--open", saved, "--positions", "4-5", "--json"])
        if inner.returncode != 0 or json.loads(inner.stdout)["tokens"] != whole["tokens"][4:6]:
            fail(f"--open of a range --positions 4-5: {inner.stderr.strip()!r}")
        outside = run(cli, ["--open", saved, "--positions", "0-3"])
        if outside.returncode == 0 or '"0-3" is outside 2-5' not in outside.stderr:
            fail(f"--open of a range --positions 0-3: {outside.stderr.strip()!r}")

        # a long prompt: the heatmap export keeps its last 64 positions and says so
        long_prompt = ["--model", model, "--prompt", "The Eiffel Tower is in the city of Paris. "
                       * 10]
        n = len(json.loads(run(cli, long_prompt + ["--json", "--top-k", "1"]).stdout)["tokens"])
        if n <= 64:
            fail(f"the long prompt has only {n} tokens")
            return
        cut = os.path.join(scratch, "cut.png")
        proc = run(cli, long_prompt + ["--export", cut])
        warning = (f"cut.png shows positions {n - 64}-{n - 1} of 0-{n - 1} (a figure holds at "
                   "most 64 positions); choose others with --positions A-B")
        if proc.returncode != 0 or warning not in proc.stderr:
            fail(f"export of {n} positions: expected the warning {warning!r}, got "
                 f"{proc.stderr.strip()!r}")
        chosen = os.path.join(scratch, "chosen.png")
        proc = run(cli, long_prompt + ["--export", chosen, "--positions", f"{n - 64}-{n - 1}"])
        if proc.returncode != 0 or proc.stderr:
            fail(f"--positions {n - 64}-{n - 1} --export: {proc.stderr.strip()!r}")
        elif open(cut, "rb").read() != open(chosen, "rb").read():
            fail("the cut export is not the figure of the positions it names")
        first = os.path.join(scratch, "first.png")
        run(cli, long_prompt + ["--export", first, "--positions", "0-9"])
        (cut_w, cut_h), (first_w, _) = png_size(cut), png_size(first)
        # 64 columns of 48 to 96 px and the margins; 10 columns fewer than half of that
        if not 64 * 48 < cut_w < 64 * 96 + 400 or not first_w < cut_w / 4 or cut_h > 1000:
            fail(f"exported sizes: cut {cut_w} x {cut_h}, positions 0-9 {first_w} wide")


def nan_checkpoint(model, folder):
    """The demo model with one NaN in block 2's MLP output bias: every cell from layer 2 on."""
    shutil.copytree(model, folder)
    path = os.path.join(folder, "model.safetensors")
    data = bytearray(open(path, "rb").read())
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    name = next(k for k in header if k.endswith("h.2.mlp.c_proj.bias"))
    assert header[name]["dtype"] == "F16"
    offset = 8 + n + header[name]["data_offsets"][0]
    data[offset:offset + 2] = struct.pack("<H", 0x7E00)  # F16 quiet NaN
    open(path, "wb").write(data)


def check_nonfinite(cli, model):
    with tempfile.TemporaryDirectory() as scratch:
        broken = os.path.join(scratch, "nan-model")
        nan_checkpoint(model, broken)
        proc = run(cli, ["--model", broken, "--prompt", "The Eiffel Tower", "--target", " Paris",
                         "--json"])
        warning = "NaN or infinity at 24 of 36 cells, first at layer 2, position 0"
        if proc.returncode != 0 or warning not in proc.stderr:
            fail(f"NaN model: exit {proc.returncode}, expected a warning with {warning!r}, "
                 f"got {proc.stderr.strip()!r}")
            return
        saved = os.path.join(scratch, "nan.json")
        open(saved, "w", encoding="utf-8").write(proc.stdout)
        doc = json.loads(proc.stdout)
        if doc["cells"][2][0]["top"][0]["prob"] is not None:
            fail("NaN model: a non-finite cell is not null in --json")
        # the perplexity of such a model is not a number: null, valid JSON
        heldout = os.path.join(scratch, "held-out.txt")
        open(heldout, "w", encoding="utf-8").write("The Eiffel Tower is in Paris. " * 4)
        ppl = run(cli, ["--model", broken, "--perplexity", heldout])
        try:
            if json.loads(ppl.stdout)["perplexity"] is not None:
                fail("NaN model: --perplexity is not null")
        except ValueError:
            fail(f"NaN model: --perplexity printed no JSON: {ppl.stdout!r}")
        # a saved result without metrics cannot be coloured by them
        proc = run(cli, ["--open", saved, "--color-by", "rank", "--export",
                         os.path.join(scratch, "rank.svg")])
        if proc.returncode == 0 or "has no metrics" not in proc.stderr:
            fail(f"--open without metrics --color-by rank: {proc.returncode} {proc.stderr!r}")
        proc = run(cli, ["--open", saved, "--view", "line", "--line-metric", "kl", "--export",
                         os.path.join(scratch, "kl.svg")])
        if proc.returncode == 0 or "--line-metric kl needs them" not in proc.stderr:
            fail(f"--open without metrics --line-metric kl: {proc.returncode} {proc.stderr!r}")
        # with metrics: KL at a position whose final row is NaN is unknown (null), not 0
        proc = run(cli, ["--model", broken, "--prompt", "The Eiffel Tower", "--metrics", "--json"])
        kls = [row[0]["kl_final"] for row in json.loads(proc.stdout)["cells"]]
        if any(kl is not None for kl in kls):
            fail(f"NaN model with --metrics: kl_final at position 0 is {kls}, expected null")
        again = run(cli, ["--open", saved, "--json"])
        if again.returncode != 0:
            fail(f"NaN model: its own --json does not open again: {again.stderr.strip()}")
        elif json.loads(again.stdout)["cells"][2][0]["top"][0]["prob"] is not None:
            fail("NaN model: the reopened file lost the unknown cell")

        # logitlenskit files written by Python's json.dump carry NaN for such values
        v2 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "results",
                          "v2-small.json")
        text = open(v2, encoding="utf-8").read().replace('"\\n": [0.5, 0.2, 0.1]',
                                                         '"\\n": [NaN, 0.2, 0.1]', 1)
        assert "NaN" in text, "the sample changed: update this test"
        nan_v2 = os.path.join(scratch, "nan-v2.json")
        open(nan_v2, "w", encoding="utf-8").write(text)
        proc = run(cli, ["--open", nan_v2, "--json"])
        if proc.returncode != 0:
            fail(f"logitlenskit file with NaN: {proc.stderr.strip()}")
        for bad, message in [("[Infinity, 0.2, 0.1]", "are not JSON numbers"),
                             ("[NaNa, 0.2, 0.1]", "invalid JSON"),
                             ("[1.5, 0.2, 0.1]", "outside [0, 1]")]:
            path = os.path.join(scratch, "bad-v2.json")
            open(path, "w", encoding="utf-8").write(text.replace("[NaN, 0.2, 0.1]", bad))
            proc = run(cli, ["--open", path])
            if proc.returncode == 0 or message not in proc.stderr:
                fail(f"logitlenskit file with {bad}: expected a refusal, got {proc.returncode} "
                     f"{proc.stderr.strip()!r}")


def check_perplexity_json(cli, model):
    """--perplexity prints JSON for any file or model folder name and in any locale (it printed
    octal escapes for a non-ASCII name, and would print a decimal comma under a German locale)."""
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "prüfung \"1\".txt")
        open(path, "w", encoding="utf-8").write("The Eiffel Tower is in the city of Paris. " * 4)
        for env in [None, dict(os.environ, LC_ALL="de_DE.UTF-8")]:
            proc = subprocess.run([cli, "--model", model, "--perplexity", path],
                                  capture_output=True, text=True, timeout=300, env=env)
            try:
                doc = json.loads(proc.stdout)
            except ValueError:
                fail(f"--perplexity printed no JSON ({env and env['LC_ALL']}): {proc.stdout!r} "
                     f"{proc.stderr.strip()!r}")
                continue
            if doc["file"] != path or not doc["perplexity"] > 1:
                fail(f"--perplexity: {doc}")

        # The model's name is its folder's: non-ASCII text, quotes and control characters come
        # back exactly; a name that is not UTF-8 (json-c copied its bytes, which no JSON reader
        # accepts) comes back with U+FFFD for the bad byte.
        for folder, want in [("Modell für \"Tests\"\t1".encode(), "Modell für \"Tests\"\t1"),
                             (b"bad\xffname", "bad\ufffdname")]:
            link = os.path.join(scratch.encode(), folder)
            os.symlink(os.path.abspath(model), link)
            proc = subprocess.run([cli, "--model", link, "--perplexity", path],
                                  capture_output=True, timeout=300)
            try:
                doc = json.loads(proc.stdout.decode("utf-8"))
            except ValueError:
                fail(f"--perplexity with the model folder {folder!r} printed no JSON: "
                     f"{proc.stdout!r} {proc.stderr.strip()!r}")
                continue
            if doc["model"] != want:
                fail(f"--perplexity with the model folder {folder!r}: model is {doc['model']!r}, "
                     f"expected {want!r}")


def main():
    cli, model, readme = (os.path.abspath(a) for a in sys.argv[1:4])
    check_readme(cli, model, readme)
    check_refusals(cli, model)
    check_export_output(cli, model)
    check_numbers(cli, model)
    check_positions(cli, model)
    check_nonfinite(cli, model)
    check_perplexity_json(cli, model)
    cli_check.finish()


if __name__ == "__main__":
    main()
