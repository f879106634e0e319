// fast_exp.h: exp for float that compilers vectorize (libm's expf is a call
// per element). Cody-Waite range reduction by ln 2 and the Cephes degree-5
// polynomial: relative error below 2e-7 on [-87, 88], the range where float
// exp is finite and normal; inputs outside it are clamped to it.
#ifndef MTP_OPS_CPU_FAST_EXP_H
#define MTP_OPS_CPU_FAST_EXP_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float fast_expf(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float n = floorf(x * 1.44269504088896341f + 0.5f);    // x = n ln2 + r, |r| <= ln2 / 2
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // ln2 split in two for exactness
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;  // 2^n as a float
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}

#endif
