// vecn.h: float vectors of the machine's native width (16 lanes with
// AVX-512, 8 with AVX2, 4 otherwise; GCC/Clang vector extensions) for the
// training's element-wise kernels and register-blocked products. At this
// width every operation is one instruction; a 16-lane vector on AVX2 is
// split in two by the compiler, and comparisons, selects and conversions on
// it come out as scalar code (measured: SwiGLU and the attention's softmax
// ran 5-9x slower on 16-lane vectors in an AVX2 build).
#ifndef MTP_OPS_CPU_VECN_H
#define MTP_OPS_CPU_VECN_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "ops/cpu/fast_exp.h"

#if defined(__AVX512F__)
enum { VN = 16 };
#elif defined(__AVX2__)
enum { VN = 8 };
#else
enum { VN = 4 };
#endif
typedef float vfn __attribute__((vector_size(VN * sizeof(float))));
typedef int32_t vin __attribute__((vector_size(VN * sizeof(int32_t))));
typedef uint32_t vun __attribute__((vector_size(VN * sizeof(uint32_t))));

static inline vfn loadn(const float *p) {
    vfn v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void storen(float *p, vfn v) {
    memcpy(p, &v, sizeof v);
}

// x in every lane, one broadcast instruction ((vfn){0} + x would be an add:
// 0 + -0 is +0, so compilers may not drop it).
static inline vfn splatn(float x) {
#if defined(__AVX512F__)
    __m512 b = _mm512_set1_ps(x);
#elif defined(__AVX2__)
    __m256 b = _mm256_set1_ps(x);
#else
    __m128 b = _mm_set1_ps(x);
#endif
    vfn v;
    memcpy(&v, &b, sizeof v);
    return v;
}

// Square root lane by lane (correctly rounded, as sqrtf).
static inline vfn sqrtn(vfn x) {
#if defined(__AVX512F__)
    __m512 r;
    memcpy(&r, &x, sizeof x);
    r = _mm512_sqrt_ps(r);
#elif defined(__AVX2__)
    __m256 r;
    memcpy(&r, &x, sizeof x);
    r = _mm256_sqrt_ps(r);
#else
    __m128 r;
    memcpy(&r, &x, sizeof x);
    r = _mm_sqrt_ps(r);
#endif
    memcpy(&x, &r, sizeof x);
    return x;
}

// keep ? a : b lane by lane (keep: lanes of -1 or 0, as comparisons give).
static inline vfn selectn(vin keep, vfn a, vfn b) {
    vin ai, bi;
    memcpy(&ai, &a, sizeof a);
    memcpy(&bi, &b, sizeof b);
    ai = (ai & keep) | (bi & ~keep);
    memcpy(&a, &ai, sizeof a);
    return a;
}

// a > b ? a : b lane by lane (so b where either is NaN): the max instruction's
// own rule, one instruction where the select is a compare and a blend.
static inline vfn maxn(vfn a, vfn b) {
#if defined(__AVX512F__)
    __m512 x, y;
    memcpy(&x, &a, sizeof a);
    memcpy(&y, &b, sizeof b);
    x = _mm512_max_ps(x, y);
#elif defined(__AVX2__)
    __m256 x, y;
    memcpy(&x, &a, sizeof a);
    memcpy(&y, &b, sizeof b);
    x = _mm256_max_ps(x, y);
#else
    __m128 x, y;
    memcpy(&x, &a, sizeof a);
    memcpy(&y, &b, sizeof b);
    x = _mm_max_ps(x, y);
#endif
    memcpy(&a, &x, sizeof a);
    return a;
}

// c0, c0 + 1, ..., c0 + VN - 1.
static inline vin iotan(int c0) {
    static const int32_t iota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    vin v;
    memcpy(&v, iota, sizeof v);
    return v + c0;
}

// Each lane truncated to an integer by the conversion instruction: out of
// int32's range (or NaN) it gives INT32_MIN, where a C conversion would be
// undefined.
static inline vin truncn(vfn x) {
    vin r;
#if defined(__AVX512F__)
    __m512 v;
    memcpy(&v, &x, sizeof x);
    __m512i t = _mm512_cvttps_epi32(v);
#elif defined(__AVX2__)
    __m256 v;
    memcpy(&v, &x, sizeof x);
    __m256i t = _mm256_cvttps_epi32(v);
#else
    __m128 v;
    memcpy(&v, &x, sizeof x);
    __m128i t = _mm_cvttps_epi32(v);
#endif
    memcpy(&r, &t, sizeof r);
    return r;
}

// fast_expf's method lane by lane without its clamps: x split as n ln2 + r
// with n rounded to nearest, exp(r) from the degree-5 polynomial, times 2^n.
// Exact to the method on [-87, 88]; outside it the lanes hold anything (the
// callers below clamp first or select them away).
static inline vfn expn_unclamped(vfn x) {
    const vfn round = splatn(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
    vfn n = (x * FAST_EXP_LOG2E + round) - round;
    vfn r = FAST_EXP_REDUCE(x, n);
    vfn e = FAST_EXP_POLY(r);
    vun bits = (vun)(truncn(n) + 127) << 23;  // 2^n (unsigned: n may be far below -127)
    vfn scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}

// fast_expf's method lane by lane (as exp16_or_zero of vec16.h uses it): x
// clamped to [-87, 88], then expn_unclamped.
static inline vfn expn(vfn x) {
    x = selectn(x < splatn(FAST_EXP_MIN), splatn(FAST_EXP_MIN), x);
    x = selectn(x > splatn(FAST_EXP_MAX), splatn(FAST_EXP_MAX), x);
    return expn_unclamped(x);
}

// expn with inputs below its range giving 0, not exp(-87) (about 1.6e-38): a
// masked key, or one scoring that far below the maximum, must add nothing;
// and such weights times values below 1 are subnormal, each product a
// microcode assist on x86 (decode attention on scores that far apart ran 3-4x
// slower).
static inline vfn expn_or_zero(vfn x) {
    return selectn(x >= splatn(FAST_EXP_MIN), expn(x), splatn(0.0f));
}

// expn_or_zero for x <= FAST_EXP_MAX, as a softmax's scores less their
// maximum or log-sum-exp are (lanes beyond it, discarded by the caller, may
// hold anything): the same values without the two clamps, a sixth of the
// exponential's instructions.
static inline vfn expn_or_zero_upto_max(vfn x) {
    return selectn(x >= splatn(FAST_EXP_MIN), expn_unclamped(x), splatn(0.0f));
}

#endif
