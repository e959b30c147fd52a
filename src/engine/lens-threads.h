/* lens-threads.h: how many threads the engine computes with.
 *
 * The engine splits its work with OpenMP (OpenBLAS itself runs single-threaded inside those
 * threads). OpenMP keeps the thread count per calling thread, so a setting made here holds for
 * the thread that made it: the CLI sets it once in main, the app's worker at the start of every
 * job, and a run in progress never sees it change (its scratch buffers were sized for it). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The most threads that make sense to ask for. */
#define LENS_THREADS_MAX 1024

/* The default: every core, or OMP_NUM_THREADS when the user set it. */
int lens_threads_default (void);

/* The cores this process may run on. */
int lens_threads_available (void);

/* Runs the calling thread's engine work on `n` threads (1 .. LENS_THREADS_MAX); 0 means the
 * default. */
void lens_threads_set (int n);

/* What the calling thread's engine work runs on. */
int lens_threads_get (void);

G_END_DECLS
