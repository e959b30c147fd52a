"""What the command-line test scripts (tests/unit/check_*.py) share: counting failures and
running logit-lens-cli. Meson puts tests/common on PYTHONPATH for them."""
import os
import subprocess
import sys

failures = 0


def fail(message):
    """Records a failure and goes on, so one run reports every problem."""
    global failures
    failures += 1
    print("FAIL:", message)


def run(cli, args, cwd=None, stdin=subprocess.DEVNULL, must_succeed=False, timeout=300):
    """Runs the CLI with text output captured. must_succeed: a non-zero exit ends the script,
    for runs whose output the checks after it need."""
    env = None
    if "--export" in args:
        # Under the sanitizers' CI stage: fontconfig (through pango) keeps its caches for the
        # life of the process, which LeakSanitizer reports. Memory errors are still checked; our
        # own leaks are by the other CLI runs and the reference suites.
        env = dict(os.environ, LSAN_OPTIONS="detect_leaks=0")
    proc = subprocess.run([cli] + args, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          stdin=stdin, env=env)
    if must_succeed and proc.returncode != 0:
        raise SystemExit(f"FAIL: {args} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc


def finish():
    """Prints the count and exits with the status meson reads."""
    print(f"{failures} failures")
    sys.exit(1 if failures else 0)
