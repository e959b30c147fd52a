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

G_END_DECLS
