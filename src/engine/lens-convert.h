/* lens-convert.h: the number formats of checkpoints to f32, for the loader (small vectors) and the
 * kernels that convert weight tiles as they use them. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "lens-safetensors.h"

G_BEGIN_DECLS

/* dst (n) = f32 of n elements of an F32, F16 or BF16 array (any alignment, little-endian).
 * Vectorised; F16 subnormals, infinities and NaNs are exact. */
void lens_convert_to_f32 (float *dst, const void *src, LensDType dtype, size_t n);

/* IEEE binary16 -> binary32 written out case by case: the reference the vectorised conversion is
 * tested against. */
float lens_f16_to_f32_ref (uint16_t h);

G_END_DECLS
