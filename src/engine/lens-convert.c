/* lens-convert.c: the number formats of checkpoints (F32, F16, BF16, little-endian) to f32. */
#include <string.h>

#include "lens-convert.h"
#include "lens-hot.h"

/* IEEE binary16 -> binary32, exact for every input: subnormals are renormalised, infinities and
 * NaNs keep their sign and payload. */
float
lens_f16_to_f32_ref (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f)
    bits = sign | 0x7f800000u | (mant << 13);
  else if (exp != 0)
    bits = sign | ((exp + (127 - 15)) << 23) | (mant << 13);
  else if (mant == 0)
    bits = sign;
  else
    {
      /* value = mant * 2^-24; shift the leading 1 up to the implicit-bit position (bit 10). */
      int shift = __builtin_clz (mant) - 21;
      mant = (mant << shift) & 0x3ffu;
      bits = sign | ((uint32_t) (127 - 15 + 1 - shift) << 23) | (mant << 13);
    }
  float f;
  memcpy (&f, &bits, 4);
  return f;
}

static inline float
bf16_bits_to_f32 (uint16_t h)
{
  uint32_t bits = (uint32_t) h << 16;
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

/* IEEE half to float without a table or F16C, written with selects so that it vectorises
 * (F. Giesen's half_to_float): normals rebias the exponent, Inf/NaN keep an all-ones exponent,
 * subnormals are renormalised by a float subtraction. */
static inline float
f16_bits_to_f32 (uint16_t h)
{
  const uint32_t shifted_exp = 0x7c00u << 13;
  uint32_t o = ((uint32_t) (h & 0x7fff)) << 13;
  uint32_t exp = shifted_exp & o;
  o += (uint32_t) (127 - 15) << 23;
  uint32_t inf_nan = o + ((uint32_t) (128 - 16) << 23);
  float sub;
  uint32_t sub_bits = o + (1u << 23);
  memcpy (&sub, &sub_bits, sizeof sub);
  sub -= 6.103515625e-05f; /* 2^-14, the magic of the renormalisation */
  memcpy (&sub_bits, &sub, sizeof sub);
  o = exp == shifted_exp ? inf_nan : (exp == 0 ? sub_bits : o);
  o |= ((uint32_t) (h & 0x8000)) << 16;
  float f;
  memcpy (&f, &o, sizeof f);
  return f;
}

/* The loops below read 2-byte elements through a uint16_t pointer when the data is aligned for it
 * (real checkpoints always are) so that GCC vectorises them; a hostile file's odd offsets take
 * the memcpy path. The engine is built with -fno-strict-aliasing, so writing the float bits
 * through a uint32_t pointer is fine. */
/* In blocks of 8 so that GCC's -O2 (which vectorises only straight-line code and loops it
 * need not version) turns each block into vector instructions. */
LENS_HOT static void
bf16_to_f32_aligned (float *restrict dst, const uint16_t *restrict src, size_t n)
{
  uint32_t *restrict d = (uint32_t *) dst;
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++)
      d[i + l] = (uint32_t) src[i + l] << 16;
  for (; i < n; i++)
    d[i] = (uint32_t) src[i] << 16;
}

LENS_HOT static void
f16_to_f32_aligned (float *restrict dst, const uint16_t *restrict src, size_t n)
{
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++)
      dst[i + l] = f16_bits_to_f32 (src[i + l]);
  for (; i < n; i++)
    dst[i] = f16_bits_to_f32 (src[i]);
}

void
lens_convert_to_f32 (float *dst, const void *src, LensDType dtype, size_t n)
{
  const uint8_t *p = src;
  gboolean aligned2 = G_BYTE_ORDER == G_LITTLE_ENDIAN && (uintptr_t) src % 2 == 0;
  switch (dtype)
    {
    case LENS_DTYPE_F32:
      memcpy (dst, src, n * sizeof (float));
#if G_BYTE_ORDER == G_BIG_ENDIAN
      for (size_t i = 0; i < n; i++)
        {
          uint32_t b;
          memcpy (&b, &dst[i], 4);
          b = GUINT32_FROM_LE (b);
          memcpy (&dst[i], &b, 4);
        }
#endif
      break;
    case LENS_DTYPE_BF16:
      if (aligned2)
        bf16_to_f32_aligned (dst, src, n);
      else
        for (size_t i = 0; i < n; i++)
          {
            uint16_t h;
            memcpy (&h, p + 2 * i, 2);
            dst[i] = bf16_bits_to_f32 (GUINT16_FROM_LE (h));
          }
      break;
    case LENS_DTYPE_F16:
      if (aligned2)
        f16_to_f32_aligned (dst, src, n);
      else
        for (size_t i = 0; i < n; i++)
          {
            uint16_t h;
            memcpy (&h, p + 2 * i, 2);
            dst[i] = f16_bits_to_f32 (GUINT16_FROM_LE (h));
          }
      break;
    default:
      /* the loader only builds LensMats of these three types */
      g_assert_not_reached ();
    }
}
