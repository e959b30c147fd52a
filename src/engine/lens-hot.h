/* lens-hot.h: LENS_HOT marks the element-wise loops that are compiled twice, for AVX2+FMA
 * (x86-64-v3) beside a baseline version, and picked at load time by the CPU. */
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)                                \
    && !defined(__SANITIZE_ADDRESS__)
#define LENS_HOT __attribute__ ((target_clones ("arch=x86-64-v3", "default")))
#else
#define LENS_HOT
#endif
