// fast_exp.h: exp for float that compilers vectorize (libm's expf is a call
// per element). Cody-Waite range reduction by ln 2 and the Cephes degree-5
// polynomial: relative error below 2e-7 on [-87, 88], the range where float
// exp is finite and normal; inputs outside it are clamped to it.
#ifndef MTP_OPS_CPU_FAST_EXP_H
#define MTP_OPS_CPU_FAST_EXP_H

#include <math.h>
#include <stdint.h>
#include <string.h>

// The range: exp of these is float's smallest normal number (about) and largest.
#define FAST_EXP_MIN (-87.0f)
#define FAST_EXP_MAX 88.0f

// The pieces, shared with the vector version in ops/cpu/vec16.h (they take
// a float or a vector of floats): x = n ln2 + r with the ln2 split in two for
// exactness, and exp(r) for |r| <= ln2 / 2 as a degree-5 polynomial.
#define FAST_EXP_LOG2E 1.44269504088896341f
#define FAST_EXP_REDUCE(x, n) ((x) - (n)*0.693359375f + (n)*2.12194440e-4f)
#define FAST_EXP_POLY(r) (FAST_EXP_POLY_INNER(r) * (r) * (r) + (r) + 1.0f)
#define FAST_EXP_POLY_INNER(r)                                                                            \
    (((((1.9875691500e-4f * (r) + 1.3981999507e-3f) * (r) + 8.3334519073e-3f) * (r) + 4.1665795894e-2f) * \
          (r) +                                                                                           \
      1.6666665459e-1f) *                                                                                 \
         (r) +                                                                                            \
     5.0000001201e-1f)

static inline float fast_expf(float x) {
    x = x < FAST_EXP_MIN ? FAST_EXP_MIN : (x > FAST_EXP_MAX ? FAST_EXP_MAX : x);
    float n = floorf(x * FAST_EXP_LOG2E + 0.5f);  // x = n ln2 + r, |r| <= ln2 / 2
    float r = FAST_EXP_REDUCE(x, n);
    float e = FAST_EXP_POLY(r);
    int32_t bits = ((int32_t)n + 127) << 23;  // 2^n as a float
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}

// fast_expf, but 0 below its range rather than exp(FAST_EXP_MIN): what is
// left there would be subnormal once multiplied by anything below 1.
static inline float fast_expf_or_zero(float x) {
    return x >= FAST_EXP_MIN ? fast_expf(x) : 0.0f;
}

#endif
