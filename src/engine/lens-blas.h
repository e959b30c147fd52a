/* lens-blas.h: which OpenBLAS kernels run, and a better choice when OpenBLAS does not know the
 * CPU.
 *
 * OpenBLAS (DYNAMIC_ARCH builds, as distributions ship it) picks its kernels from the CPU model
 * when it loads. A release older than the CPU does not know its model and falls back to generic
 * SSE3 kernels ("Prescott"), three to four times slower than the AVX2 or AVX-512 ones the CPU can
 * run (measured on an AVX-512 Xeon with Debian 12's 0.3.21: sgemm peak 46-63 GFLOP/s against
 * 147-172 with SkylakeX kernels). OpenBLAS reads OPENBLAS_CORETYPE only when it loads, so the
 * programs re-execute themselves with it set, first thing in main. A value the user or the
 * system set is never changed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The name of the kernels OpenBLAS runs ("Haswell", "SkylakeX", "Prescott", ...). */
const char *lens_blas_core_name (void);

/* The CPU features that decide the kernels. */
typedef struct
{
  gboolean avx512; /* AVX-512 F, BW, DQ and VL, enabled by the OS */
  gboolean avx2_fma;
  gboolean amd;
} LensCpuFeatures;

LensCpuFeatures lens_cpu_features (void);

/* The OPENBLAS_CORETYPE that runs better than `current` on a CPU with `cpu`, or NULL when
 * `current` is not a generic fallback or the CPU can do no better. */
const char *lens_blas_better_core (const char *current, LensCpuFeatures cpu);

/* First thing in main: when OpenBLAS runs a generic fallback although the CPU can do better and
 * OPENBLAS_CORETYPE is not set, sets it and re-executes the program with the same arguments.
 * Returns when there is nothing to do, after one re-execution, or when exec fails (the program
 * then runs on the kernels it has), having released OpenBLAS's threads (below). */
void lens_blas_prefer_native_kernels (char **argv);

/* Makes OpenBLAS single-threaded and stops its own threads. The engine runs every BLAS call on
 * one thread inside its OpenMP team, so OpenBLAS's threads have nothing to do, but a pthread
 * build starts them when it loads and they spin (sched_yield) for about 2^28 cycles after each
 * call before they sleep: on a 2-core machine they took a core from the model load and the first
 * runs (measured: a one-token CLI run 0.14 s -> 0.07 s, T = 16 0.24 s -> 0.18 s once stopped).
 * lens_blas_prefer_native_kernels calls it when it returns; a later multi-threaded BLAS call
 * (the benchmark's sgemm peak) starts them again. Not while a BLAS call is running on another
 * thread: the engine calls it first thing in main and once before its first BLAS call. The
 * calling thread's OpenMP thread count is kept. */
void lens_blas_release_threads (void);

/* A one-line description for --version and the About window: the OpenBLAS build, the kernels,
 * and whether this program chose them. Free with g_free. */
char *lens_blas_describe (void);

G_END_DECLS
