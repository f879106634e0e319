// half.h: exact widening of 16-bit floats to float32 (every bfloat16 and
// IEEE half value, subnormals, infinities and NaNs included, is a float32).
#ifndef MTP_CORE_HALF_H
#define MTP_CORE_HALF_H

#include <stdint.h>
#include <string.h>

// bfloat16 is the top half of a float32.
static inline float half_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
static inline float half_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;  // inf, NaN (payload kept)
    } else if (exp != 0) {
        bits = sign | (exp + 112) << 23 | man << 13;  // 112 = 127 - 15
    } else if (man == 0) {
        bits = sign;  // +-0
    } else {
        // subnormal: shift the mantissa up until its leading one is implicit
        int e = 113;  // 127 - 14
        while (!(man & 0x400)) {
            man <<= 1;
            e--;
        }
        bits = sign | (uint32_t)e << 23 | (man & 0x3ff) << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

#endif
