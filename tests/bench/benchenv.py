"""What the benchmark reports share: the machine, the kernels each side runs, and the environment
torch is given so that it runs the best kernels for the CPU too.

torch gets two kinds of kernels:
  - BLAS (F.linear, matmul): Debian's torch calls sgemm_ from libblas.so.3, which is OpenBLAS
    here, and OpenBLAS picks its kernels when it loads. Our programs set OPENBLAS_CORETYPE and
    re-execute themselves when OpenBLAS falls back to generic kernels on a CPU it does not know
    (src/engine/lens-blas.c); torch has no such logic, so it is given the core type our engine
    chose. The choice is read from `logit-lens-cli --version` rather than recomputed here, so
    that both sides cannot disagree. A value already set in the environment is never changed.
  - ATen's own vectorised kernels (softmax, exp, layer norm, top-k): torch 1.13 runs its AVX2
    build by default even on AVX-512 CPUs; ATEN_CPU_CAPABILITY=avx512 selects the AVX-512 one.
    Which is faster depends on the CPU, so the reports time torch under both and keep the
    faster (unless ATEN_CPU_CAPABILITY is set already: then only that).
"""

import ctypes
import os
import re
import subprocess

PASSED_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                  "OMP_NUM_THREADS", "ATEN_CPU_CAPABILITY")


def fmt_env(name, env=None):
    env = os.environ if env is None else env
    v = env.get(name)
    return f"{name}={v}" if v is not None else f"{name} unset"


def machine():
    """One line: CPU model, the vector extensions that decide the kernels, cores."""
    model, flags = "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k.strip() == "model name" and model == "?":
                    model = v.strip()
                elif k.strip() == "flags" and not flags:
                    flags = set(v.split())
    except OSError:
        pass
    ext = [x for x in ("avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl",
                       "avx512_bf16") if x in flags]
    return f"{model}, {len(os.sched_getaffinity(0))} cores usable, {' '.join(ext) or 'no AVX2'}"


def cpu_has_avx512():
    """The same test as lens_cpu_features: AVX-512 F, BW, DQ and VL."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((set(line.split(":", 1)[1].split()) for line in f
                          if line.startswith("flags")), set())
    except OSError:
        return False
    return {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags


def engine_blas(cli):
    """(description, kernels, chosen) from `logit-lens-cli --version`: the OpenBLAS build, the
    kernels the engine runs and whether the engine chose them (set OPENBLAS_CORETYPE)."""
    p = subprocess.run([cli, "--version"], capture_output=True, text=True)
    line = next((ln for ln in p.stdout.splitlines() if "kernels:" in ln), None)
    if p.returncode != 0 or line is None:
        return f"unknown (`{cli} --version` failed: {p.stderr.strip()[-200:]})", None, False
    m = re.search(r"kernels: (\S+)", line)
    return line.strip(), m.group(1) if m else None, "chosen by Logit Lens" in line


def torch_env(cli):
    """(environment for the torch process, one line saying what it was given and why)."""
    env = dict(os.environ)
    _, kernels, chosen = engine_blas(cli)
    if "OPENBLAS_CORETYPE" in os.environ:
        why = (f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} as set in the environment "
               f"(left as it is)")
    elif chosen and kernels:
        env["OPENBLAS_CORETYPE"] = kernels
        why = (f"OPENBLAS_CORETYPE={kernels}, the kernels our engine chose (OpenBLAS does not "
               f"know this CPU)")
    else:
        why = (f"OPENBLAS_CORETYPE unset: OpenBLAS's own choice is already the best "
               f"({kernels or '?'}), as our engine found")
    return env, why


def aten_capabilities():
    """ATEN_CPU_CAPABILITY values to time torch under: [None] = torch's default only."""
    if "ATEN_CPU_CAPABILITY" in os.environ:
        return [None]
    return [None, "avx512"] if cpu_has_avx512() else [None]


def with_aten(env, cap):
    env = dict(env)
    if cap is not None:
        env["ATEN_CPU_CAPABILITY"] = cap
    return env


def loaded_openblas():
    """In a process that has run a BLAS call: (openblas_get_config(), openblas_get_corename(),
    the OpenBLAS and libblas files mapped), asked of the library actually loaded."""
    maps = []
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if ("libopenblas" in path or "libblas" in path) and path not in maps:
                maps.append(path)
    lib = None
    for path in [p for p in maps if "libopenblas" in p] + ["libopenblas.so.0"]:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            break
        except (OSError, AttributeError):
            lib = None
    if lib is None:
        return "not OpenBLAS (no openblas_get_config)", "?", " ".join(maps) or "none mapped", None
    return (lib.openblas_get_config().decode(), lib.openblas_get_corename().decode(),
            " ".join(os.path.realpath(p) for p in maps) or "none mapped", lib)


def torch_kernels():
    """`key value` lines on torch's kernels, for a torch process to print (torch imported and one
    matmul run first, so that its BLAS is loaded)."""
    import torch
    torch.ones(64, 64) @ torch.ones(64, 64)
    config, core, files, _ = loaded_openblas()
    show = torch.__config__.show()
    cap = re.search(r"CPU capability usage: (\S+)", show)
    blas = re.search(r"BLAS_INFO=([^,]+)", show)
    return [("torch_openblas_config", config),
            ("torch_openblas_core", core),
            ("torch_blas", f"{files} (torch BLAS_INFO={blas.group(1) if blas else '?'})"),
            ("torch_aten_capability", cap.group(1) if cap else "?"),
            ("torch_env", ", ".join(fmt_env(n) for n in PASSED_THROUGH))]
