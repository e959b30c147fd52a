/* lens-threads.c: the engine's thread count, per calling thread (see lens-threads.h). */
#include "lens-threads.h"

#include <omp.h>

int
lens_threads_default (void)
{
  /* Read before any thread changed its own count: OpenMP's initial value for threads it did not
   * start is the process default (all cores, or OMP_NUM_THREADS). */
  static gsize value = 0;
  if (g_once_init_enter (&value))
    g_once_init_leave (&value, (gsize) MAX (1, omp_get_max_threads ()));
  return (int) value;
}

int
lens_threads_available (void)
{
  return MAX (1, omp_get_num_procs ());
}

void
lens_threads_set (int n)
{
  int fallback = lens_threads_default ();
  omp_set_num_threads (n >= 1 ? MIN (n, LENS_THREADS_MAX) : fallback);
}

int
lens_threads_get (void)
{
  return MAX (1, omp_get_max_threads ());
}
