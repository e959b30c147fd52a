/* lens-format.h: numbers shown to people, the same in the CLI and the app. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* A parameter count the way model cards write it: "124.4M", "1.24B", "70.6B"; counts below a
 * thousand as they are ("512"). Three significant digits at least (two decimals below 10 of a
 * unit, one above), trailing zeros dropped ("1B", "2.5K"). Not localised: K/M/B/T with a decimal
 * point is the notation model names use ("Qwen3-0.6B"). Free with g_free. */
char *lens_format_param_count (uint64_t n);

/* A probability, one way everywhere (tooltips, bars, the CLI's text): a percentage with three
 * significant digits or more from 0.1% on ("41.3%", "1.86%", "0.108%", "100%"), scientific
 * notation with three below it ("9.69e-05", "4.70e-10"), "0%" for zero and "—" for NAN (not
 * computed). Free with g_free. */
char *lens_format_prob (double p);

G_END_DECLS
