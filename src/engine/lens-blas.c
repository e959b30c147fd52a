/* lens-blas.c: OpenBLAS kernels (see lens-blas.h). */
#include <omp.h>
#include <string.h>
#include <unistd.h>

#include "lens-blas.h"
#include "lens-gemm-small.h"

/* OpenBLAS's extensions (declared in its cblas.h; repeated so that another cblas.h does not
 * hide them). */
char *openblas_get_config (void);
char *openblas_get_corename (void);
void openblas_set_num_threads (int num_threads);
/* The pthread builds' own way to stop their threads (OpenBLAS calls it before a fork and starts
 * the threads again on the next call that wants them). Weak: other builds may not have it. */
int blas_thread_shutdown_ (void) __attribute__ ((weak));

/* Set in the environment of the re-executed program: it says that the kernels were chosen here
 * and keeps a second re-execution from happening. */
#define REEXEC_MARK "LOGIT_LENS_OPENBLAS_CORETYPE_CHOSEN"

const char *
lens_blas_core_name (void)
{
  const char *name = openblas_get_corename ();
  return name != NULL ? name : "unknown";
}

LensCpuFeatures
lens_cpu_features (void)
{
  LensCpuFeatures f = {FALSE, FALSE, FALSE};
#if defined(__x86_64__) && defined(__GNUC__)
  /* GCC's and clang's cpu model checks the OS's XSAVE support for the AVX state too */
  __builtin_cpu_init ();
  f.avx512 = __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
             && __builtin_cpu_supports ("avx512dq") && __builtin_cpu_supports ("avx512vl");
  f.avx2_fma = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
  f.amd = __builtin_cpu_is ("amd");
#endif
  return f;
}

const char *
lens_blas_better_core (const char *current, LensCpuFeatures cpu)
{
  /* OpenBLAS's x86-64 cores without AVX2 kernels: what it falls back to on a CPU it does not
   * know (Prescott for Intel, the older AMD cores for AMD) */
  static const char *const generic[]
      = {"Prescott",    "Core2",     "Penryn",     "Dunnington",    "Nehalem",   "Atom",
         "Nano",        "Athlon",    "Opteron",    "Opteron(SSE3)", "Barcelona", "Bobcat",
         "Sandybridge", "Bulldozer", "Piledriver", "Steamroller",   "Excavator", "Katmai",
         "Coppermine",  "Northwood", "Banias"};
  gboolean is_generic = FALSE;
  for (guint i = 0; current != NULL && i < G_N_ELEMENTS (generic); i++)
    is_generic |= g_ascii_strcasecmp (current, generic[i]) == 0;
  if (!is_generic)
    return NULL;
  if (cpu.avx512)
    return "SkylakeX";
  if (cpu.avx2_fma)
    return cpu.amd ? "Zen" : "Haswell";
  return NULL;
}

/* Re-executes with better kernels when OpenBLAS runs a generic fallback the CPU can beat and
 * nothing is set; returns when there is nothing to do or exec failed. */
static void
reexec_with_native_kernels (char **argv)
{
  if (g_getenv (REEXEC_MARK) != NULL || g_getenv ("OPENBLAS_CORETYPE") != NULL)
    return;
  /* The tests pose as a CPU that OpenBLAS does not know: it picks Prescott there. */
  const char *current = g_getenv ("LOGIT_LENS_TEST_OPENBLAS_CORE");
  const char *better = lens_blas_better_core (current != NULL ? current : lens_blas_core_name (),
                                              lens_cpu_features ());
  if (better == NULL)
    return;
  g_setenv ("OPENBLAS_CORETYPE", better, TRUE);
  g_setenv (REEXEC_MARK, better, TRUE);
  execv ("/proc/self/exe", argv);
  /* exec failed: carry on with the kernels there are, and say nothing was chosen */
  g_unsetenv ("OPENBLAS_CORETYPE");
  g_unsetenv (REEXEC_MARK);
}

void
lens_blas_prefer_native_kernels (char **argv)
{
  reexec_with_native_kernels (argv);
  lens_blas_release_threads ();
}

void
lens_blas_release_threads (void)
{
  /* An OpenMP build of OpenBLAS sets the calling thread's OpenMP count with its own; the
   * engine's default ("every core") is read from that count, so it is put back. */
  int omp_threads = omp_get_max_threads ();
  openblas_set_num_threads (1);
  if (omp_get_max_threads () != omp_threads)
    omp_set_num_threads (omp_threads);
  if (blas_thread_shutdown_ != NULL)
    blas_thread_shutdown_ ();
}

char *
lens_blas_describe (void)
{
  const char *config = openblas_get_config ();
  const char *chosen = g_getenv (REEXEC_MARK);
  const char *set = g_getenv ("OPENBLAS_CORETYPE");
  const char *how = chosen != NULL ? " (chosen by Logit Lens: OpenBLAS did not know this CPU)"
                    : set != NULL  ? " (OPENBLAS_CORETYPE set in the environment)"
                                   : "";
  /* the engine's own GEMM for prompts of a few tokens (lens-gemm-small.h) */
  LensGemmIsa few = lens_gemm_small_isa ();
  return g_strdup_printf ("%s; kernels: %s%s; few-row GEMM: %s",
                          config != NULL ? config : "OpenBLAS", lens_blas_core_name (), how,
                          few != LENS_GEMM_ISA_NONE ? lens_gemm_isa_name (few) : "OpenBLAS");
}
