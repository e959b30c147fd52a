#!/usr/bin/python3
"""The kernels the programs choose for a CPU that OpenBLAS does not know, and that they compute
right.

OpenBLAS 0.3.21 falls back to its generic Prescott kernels on CPUs newer than itself; the
programs then re-execute themselves with OPENBLAS_CORETYPE set to kernels the CPU can run
(src/engine/lens-blas.c). This machine's CPU may be known to OpenBLAS, so the test poses as an
unknown one (LOGIT_LENS_TEST_OPENBLAS_CORE=Prescott) and checks:
  - `logit-lens-cli --version` reports the chosen kernels, or, when OPENBLAS_CORETYPE is already
    set (some machines need it for old OpenBLAS bugs), that value untouched;
  - the Llama-family reference cases pass on the chosen kernels (run_reference_llama.py with the
    same environment), so the kernels compute the same lens as torch.

Usage: /usr/bin/python3 check-blas-kernels.py --cli PATH
"""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    args = ap.parse_args()
    env = dict(os.environ, LOGIT_LENS_TEST_OPENBLAS_CORE="Prescott")
    failed = 0

    out = subprocess.run([args.cli, "--version"], env=env, capture_output=True, text=True)
    lines = out.stdout.splitlines()
    ok = out.returncode == 0 and len(lines) == 2 and "kernels: " in lines[1]
    preset = os.environ.get("OPENBLAS_CORETYPE")
    flags = open("/proc/cpuinfo").read()
    can_do_better = " avx2 " in flags and " fma " in flags
    if ok and preset:
        ok = f"kernels: {preset}".lower() in lines[1].lower() and "set in the environment" in lines[1]
        what = f"OPENBLAS_CORETYPE={preset} kept"
    elif ok and can_do_better:
        ok = "chosen by Logit Lens" in lines[1] and "Prescott" not in lines[1]
        what = "better kernels chosen"
    elif ok:
        ok = "chosen" not in lines[1]
        what = "no AVX2: nothing to choose"
    print(("ok  " if ok else "FAIL ") + f"version: {what}: {lines[1] if len(lines) > 1 else out.stderr.strip()}")
    failed += not ok

    ref = subprocess.run([sys.executable, os.path.join(HERE, "run_reference_llama.py"),
                          "--cli", args.cli, "--part", "lens"], env=env, capture_output=True,
                         text=True)
    last = (ref.stdout.strip().splitlines() or ["(no output)"])[-1]
    ok = ref.returncode == 0
    print(("ok  " if ok else "FAIL ") + f"llama reference on the chosen kernels: {last}")
    if not ok:
        print(ref.stdout[-3000:], ref.stderr[-2000:])
    failed += not ok
    print(f"{2 - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
