#!/usr/bin/python3
"""The Llama benchmark's report: the engine against an independent float32 torch implementation
(bench_torch_llama.py) on a random Llama-3.2-1B-shaped BF16 checkpoint, whole process and compute,
at T = 16 and the same thread count, and against these targets:

  - whole process, start to finished output: torch / ours >= 2
      ours:  logit-lens-cli --model DIR --prompt-file prompt-16.txt --json --embeddings --top-k 10
             (16 tokens with <|begin_of_text|>; all 17 rows, every position, top-10, entropy)
      torch: bench_torch_llama.py --whole-process (import torch, read + widen the weights to
             float32, the same lens on the same 16 ids, the same cells as JSON)
  - our peak RSS <= 1.3 x the checkpoint's safetensors bytes (torch's is printed, no target: it
    holds the weights in float32, 2x the BF16 file, by construction).

Also, for information: compute only (bench-lens through the engine API on token ids, so it does
not need the engine's tokenizer.json support, vs the torch peer's lens time, best of R), model load
times, the GEMM work, OpenBLAS's openblas_get_config() and core in both processes, and
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE as found in the environment (recorded, never changed). torch
is given the best kernels for the CPU (benchenv.py): the OpenBLAS core our engine chose when it
chose one, and the faster ATen capability (the compute is timed under each, the whole process
runs under the faster).

  /usr/bin/python3 report_llama.py --build BUILD_DIR --model MODEL_DIR [--out FILE] [--reps R]
                                   [--runs N] [--one-off-8b]

Whole-process figures are best and median of N runs (default 3) after one warm-up run, page cache
warm; the first engine run reads the checkpoint from disk (it is dropped from the page cache first,
as report.py does) and is reported separately.

--one-off-8b: for the Llama-3.1-8B-shaped checkpoint (16 GB BF16, 4 shards): only our CLI's whole
process at T = 16 and its peak RSS against the machine's RAM, cold then warm; torch is not run (its
float32 copy of the weights alone would be 32 GB).

Until the engine supports model_type llama (or tokenizer.json), our rows say why they are missing
(the engine's own error message) instead of stopping the report; the torch rows are still measured.
"""

import argparse
import ctypes
import datetime
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import benchenv  # noqa: E402

T = 16
TOP_K = 10


class Failed(Exception):
    """A benchmarked program failed; the message is the last line of its stderr."""


def last_error_line(stderr):
    lines = [ln for ln in stderr.splitlines()
             if ln.strip() and not ln.startswith(("\t", "Command exited with"))]
    return lines[-1] if lines else "(no message)"


def run_timed(cmd, env=None):
    """cmd under /usr/bin/time -v: (wall s by perf_counter, peak RSS bytes, stdout, stderr)."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise Failed(f"exit {p.returncode}: {last_error_line(p.stderr)}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) * 1024
    return wall, rss, p.stdout, p.stderr


def key_values(text):
    out = {}
    for line in text.splitlines():
        k, _, v = line.strip().partition(" ")
        if k == "torch" and v.startswith("T="):
            k, _, v = v.partition(" ")
        out[k] = v
    return out


def drop_from_page_cache(model):
    for name in sorted(os.listdir(model)):
        if name.endswith(".safetensors"):
            fd = os.open(os.path.join(model, name), os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)


def checkpoint_bytes(model):
    return sum(os.path.getsize(os.path.join(model, f)) for f in os.listdir(model)
               if f.endswith(".safetensors"))


def openblas_config():
    """openblas_get_config() of the libopenblas.so.0 this machine resolves (the one the engine
    links and torch's libblas.so.3 wraps; bench-lens and the torch peer print theirs too)."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_config.restype = ctypes.c_char_p
        return lib.openblas_get_config().decode()
    except (OSError, AttributeError) as e:
        return f"unavailable ({e})"


def gemm_gflop(cfg, t):
    """GEMM work of the full lens at t tokens: Q/K/V/O projections, causal scores and weighted
    sums over t(t+1)/2 pairs in every query head, gate/up/down, and the unembedding of (L+1) x t
    vectors. Norms, RoPE, softmax, top-k not counted."""
    C, I, V, L = (cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"],
                  cfg["num_hidden_layers"])
    H = cfg["num_attention_heads"]
    hd = cfg.get("head_dim") or C // H
    KV = cfg.get("num_key_value_heads", H)
    pairs = t * (t + 1) / 2
    per_layer = (2 * t * C * (H * hd + 2 * KV * hd) + 2 * 2 * pairs * H * hd
                 + 2 * t * H * hd * C + 3 * 2 * t * C * I)
    return (L * per_layer + 2 * (L + 1) * t * C * V) / 1e9


def check_cli_json(stdout, n_rows):
    try:
        j = json.loads(stdout)
        n_tokens, n_layers = len(j["tokens"]), len(j["layers"])
    except (ValueError, KeyError, TypeError) as e:
        raise Failed(f"CLI output is not the expected JSON ({e})")
    if n_tokens != T or n_layers != n_rows:
        raise Failed(f"CLI gave {n_tokens} tokens and {n_layers} rows, expected "
                     f"{T} and {n_rows}")


def repeated(cmd, runs, check=None, env=None):
    """One warm-up run, then `runs` timed ones: (best s, median s, max RSS, last stdout, stderr)."""
    walls, rsss = [], []
    for i in range(runs + 1):
        wall, rss, stdout, stderr = run_timed(cmd, env)
        if check:
            check(stdout)
        if i > 0:
            walls.append(wall)
            rsss.append(rss)
    walls.sort()
    return walls[0], walls[len(walls) // 2], max(rsss), stdout, stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", default=None)
    ap.add_argument("--reps", type=int, default=3, help="compute-only repetitions (best kept)")
    ap.add_argument("--runs", type=int, default=3, help="whole-process runs after a warm-up")
    ap.add_argument("--one-off-8b", action="store_true")
    args = ap.parse_args()
    threads = len(os.sched_getaffinity(0))
    bench = os.path.join(args.build, "tests", "bench", "bench-lens")
    cli = os.path.join(args.build, "src", "cli", "logit-lens-cli")
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    n_rows = cfg["num_hidden_layers"] + 1
    ck = checkpoint_bytes(args.model)
    prompt = os.path.join(args.model, f"prompt-{T}.txt")
    cli_cmd = [cli, "--model", args.model, "--prompt-file", prompt, "--json", "--embeddings",
               "--top-k", str(TOP_K)]
    lines = []

    def out(s=""):
        print(s, flush=True)
        lines.append(s)

    def fmt_env(name):
        v = os.environ.get(name)
        return f"{name}={v}" if v is not None else f"{name} unset"

    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    out(f"# logit-lens Llama benchmark, {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, "
        f"{threads} threads, {mem_total / 2**30:.1f} GiB RAM, load average "
        f"{os.getloadavg()[0]:.2f} at start")
    out(f"# machine: {benchenv.machine()}; engine: {benchenv.engine_blas(cli)[0]}")
    out(f"# OpenBLAS: {openblas_config()}; {fmt_env('OPENBLAS_CORETYPE')}, "
        f"{fmt_env('OPENBLAS_L2_SIZE')}, {fmt_env('OPENBLAS_NUM_THREADS')}, "
        f"{fmt_env('OMP_NUM_THREADS')}")
    files = sorted(f for f in os.listdir(args.model) if f.endswith(".safetensors"))
    out(f"# model: {args.model}: {cfg.get('num_hidden_layers')} layers, hidden "
        f"{cfg.get('hidden_size')}, {cfg.get('num_attention_heads')}/"
        f"{cfg.get('num_key_value_heads')} heads, intermediate {cfg.get('intermediate_size')}, "
        f"vocabulary {cfg.get('vocab_size')}, tied {cfg.get('tie_word_embeddings')}, "
        f"{cfg.get('torch_dtype')}; {ck / 1e9:.2f} GB in {len(files)} file(s)")
    with open(prompt, encoding="utf-8") as f:
        out(f"# prompt ({T} tokens with <|begin_of_text|>): {f.read()!r}; GEMM work of the full "
            f"lens at T={T}: {gemm_gflop(cfg, T):.1f} GFLOP")
    out()

    if args.one_off_8b:
        one_off_8b(out, cli_cmd, cli, args.model, ck, n_rows, mem_total)
    else:
        compare_1b(out, args, threads, bench, cli, cli_cmd, ck, n_rows)
    out(f"# load average {os.getloadavg()[0]:.2f} at end")
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"(written to {args.out})")


def engine_tokenizer_check(out, cli, model):
    """The CLI must see the same 16 ids as the torch peer (prompt-16.ids.json)."""
    with open(os.path.join(model, f"prompt-{T}.ids.json")) as f:
        want = json.load(f)
    p = subprocess.run([cli, "--model", model, "--prompt-file",
                        os.path.join(model, f"prompt-{T}.txt"), "--tokenize"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise Failed(f"--tokenize: {last_error_line(p.stderr)}")
    try:
        got = json.loads(p.stdout)
    except ValueError:
        raise Failed(f"--tokenize printed {p.stdout[:200]!r}")
    if got != want:
        out(f"# NOTE: the engine tokenizes the prompt as {got}, Llama 3.1's tokenizer as {want}")


def compare_1b(out, args, threads, bench, cli, cli_cmd, ck, n_rows):
    torch_cmd = ["/usr/bin/python3", os.path.join(HERE, "bench_torch_llama.py"), args.model,
                 "--threads", str(threads), "--tokens", str(T)]
    # torch gets the best kernels for the CPU (benchenv.py): the OpenBLAS core our engine runs,
    # and whichever ATen capability computes the lens faster (timed first, compute only).
    torch_env, torch_why = benchenv.torch_env(cli)
    # 1. Whole process. Ours first, so its first run is the cold one (the checkpoint is dropped
    # from the page cache after the tokenizer check, which may touch the weights too).
    ours = ours_err = ours_cold = None
    try:
        engine_tokenizer_check(out, cli, args.model)
    except Failed as e:
        out(f"# engine tokenizer check failed: {e}")
    drop_from_page_cache(args.model)
    out("# checkpoint dropped from the page cache first; our first CLI run reads it from disk")
    try:
        cold_wall, cold_rss, stdout, _ = run_timed(cli_cmd)
        check_cli_json(stdout, n_rows)
        ours_cold = (cold_wall, cold_rss)
        ours = repeated(cli_cmd, args.runs, lambda s: check_cli_json(s, n_rows))
    except Failed as e:
        ours_err = str(e)

    # 2. Compute only, best of R: the torch peer on the prompt's ids under each ATen capability
    # (the faster one runs the whole process below), bench-lens on random ids (engine API; the
    # ids do not change the work).
    tc_kv, tc_err, tc_best, per_cap = {}, None, None, {}
    for cap in benchenv.aten_capabilities():
        p = subprocess.run(torch_cmd + ["--reps", str(args.reps)], capture_output=True, text=True,
                           env=benchenv.with_aten(torch_env, cap))
        if p.returncode != 0:
            tc_err = f"exit {p.returncode}: {last_error_line(p.stderr)}"
            continue
        kv = key_values(p.stdout)
        name = kv.get("torch_aten_capability", cap or "default")
        tc = kv.get(f"T={T}")
        per_cap[name] = (float(tc.split()[1]) if tc else float("inf"), cap)
        if not tc_kv or per_cap[name][0] < tc_best:
            tc_kv, tc_best = kv, per_cap[name][0]
    best_cap = min(per_cap.values(), key=lambda v: v[0])[1] if per_cap else None
    torch_wp = torch_err = None
    try:
        torch_wp = repeated(torch_cmd + ["--whole-process"], args.runs,
                            env=benchenv.with_aten(torch_env, best_cap))
        tkv = key_values(torch_wp[4])
    except Failed as e:
        torch_err = str(e)
    bench_kv, bench_err = {}, None
    p = subprocess.run([bench, args.model, "--threads", str(threads), "--reps", str(args.reps),
                        "--tokens", str(T)], capture_output=True, text=True)
    bench_kv = key_values(p.stdout)
    if p.returncode != 0:
        bench_err = f"exit {p.returncode}: {last_error_line(p.stderr)}"

    out(f"# OpenBLAS as loaded: engine (bench-lens) {bench_kv.get('blas', '?')}; "
        f"torch {tc_kv.get('torch_openblas_config', '?')}, kernels "
        f"{tc_kv.get('torch_openblas_core', '?')}, via {tc_kv.get('torch_blas', '?')}")
    out(f"# torch given {torch_why}; ATen CPU capability timed (compute): "
        + ", ".join(f"{n} {v[0]:.3f} s" for n, v in per_cap.items())
        + f"; the whole process ran {benchenv.fmt_env('ATEN_CPU_CAPABILITY', benchenv.with_aten(torch_env, best_cap))}")
    out(f"# torch {tc_kv.get('torch_version', '?')}, {tc_kv.get('torch_threads', '?')} threads; "
        f"sgemm peak (bench-lens) {bench_kv.get('sgemm_peak_gflops', '?')} GFLOP/s; "
        f"lens entropy range (torch) {tc_kv.get('entropy_range', '?')}")
    out()
    out(f"Whole process, T={T}, start -> finished JSON, warm page cache, best / median of "
        f"{args.runs} after a warm-up:")
    if ours:
        out(f"  ours  (logit-lens-cli)       best {ours[0]:7.3f} s  median {ours[1]:7.3f} s  "
            f"peak RSS {ours[2] / 2**20:6.0f} MiB = {ours[2] / ck:.2f} x checkpoint")
        out(f"        first run, cold cache  {ours_cold[0]:7.3f} s  peak RSS "
            f"{ours_cold[1] / 2**20:6.0f} MiB")
    else:
        out(f"  ours  (logit-lens-cli)       not measured: {ours_err}")
    if torch_wp:
        out(f"  torch (bench_torch_llama.py) best {torch_wp[0]:7.3f} s  median "
            f"{torch_wp[1]:7.3f} s  peak RSS {torch_wp[2] / 2**20:6.0f} MiB = {torch_wp[2] / ck:.2f} x checkpoint")
        out(f"        of which import torch {float(tkv['import_s']):.3f} s, load + widen to f32 "
            f"{float(tkv['load_s']):.3f} s, lens {float(tkv['compute_s']):.3f} s, JSON "
            f"{float(tkv['output_s']):.3f} s (last run)")
    else:
        out(f"  torch (bench_torch_llama.py) not measured: {torch_err}")
    ratio = torch_wp[1] / ours[1] if ours and torch_wp else None
    if ratio:
        out(f"  torch / ours (medians)       {ratio:.2f}")
    out()

    gf = gemm_gflop(json.load(open(os.path.join(args.model, "config.json"))), T)
    out(f"Compute only, T={T}, the full lens ({gf:.1f} GFLOP of GEMM), best of {args.reps}:")
    m = re.search(rf"T={T} best_s (\S+)", bench_kv.get("lens", ""))
    ours_c = float(m.group(1)) if m else None
    if ours_c:
        out(f"  ours  (bench-lens, engine API) {ours_c:7.3f} s  ({gf / ours_c:.1f} GFLOP/s); "
            f"load {float(bench_kv.get('load_s', 'nan')):.3f} s")
    else:
        out(f"  ours  (bench-lens, engine API) not measured: {bench_err or 'no lens line'}")
    tc = tc_kv.get(f"T={T}")
    torch_c = float(tc.split()[1]) if tc else None
    if torch_c:
        out(f"  torch                          {torch_c:7.3f} s  ({gf / torch_c:.1f} GFLOP/s); "
            f"load {float(tc_kv['load_s']):.3f} s; first rep {float(tc.split()[3]):.3f} s")
    else:
        out(f"  torch                          not measured: {tc_err}")
    if ours_c and torch_c:
        out(f"  torch / ours                   {torch_c / ours_c:.2f}")
    out()
    out("Targets:")
    if ratio:
        out(f"  whole process torch/ours >= 2 ...... {'met' if ratio >= 2 else 'NOT met'} "
            f"({ratio:.2f}x)")
    else:
        out("  whole process torch/ours >= 2 ...... not measured (see above)")
    if ours:
        r = max(ours[2], ours_cold[1]) / ck
        out(f"  our peak RSS <= 1.3x checkpoint ..... {'met' if r <= 1.3 else 'NOT met'} "
            f"({r:.2f}x)")
    else:
        out("  our peak RSS <= 1.3x checkpoint ..... not measured (see above)")


def one_off_8b(out, cli_cmd, cli, model, ck, n_rows, mem_total):
    """Our CLI only: cold (checkpoint dropped from the page cache) then warm."""
    avail = int(re.search(r"MemAvailable:\s+(\d+)", open("/proc/meminfo").read()).group(1)) * 1024
    out(f"# MemAvailable {avail / 2**30:.1f} GiB before the runs; torch is not run on this shape "
        f"(float32 weights alone: {2 * ck / 2**30:.0f} GiB)")
    drop_from_page_cache(model)
    try:
        engine_tokenizer_check(out, cli, model)
    except Failed as e:
        out(f"# engine tokenizer check failed: {e}")
    drop_from_page_cache(model)
    try:
        for label in ("cold", "warm"):
            wall, rss, stdout, _ = run_timed(cli_cmd)
            check_cli_json(stdout, n_rows)
            out(f"ours (logit-lens-cli), T={T}, {label} page cache: start -> JSON {wall:.3f} s; "
                f"peak RSS {rss / 2**30:.2f} GiB = {rss / ck:.2f} x checkpoint "
                f"({ck / 2**30:.2f} GiB), {rss / mem_total:.0%} of RAM")
            out(f"  target: fits in RAM ..... {'met' if rss < mem_total else 'NOT met'}")
    except Failed as e:
        out(f"ours (logit-lens-cli), T={T}: not measured: {e}")


if __name__ == "__main__":
    main()
