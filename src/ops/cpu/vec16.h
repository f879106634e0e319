// vec16.h: 16-float vectors for the decoding kernels (GCC/Clang vector
// extensions: one AVX-512 register, or two AVX2 ones), and the fixed-order
// reductions that make a row's result independent of how rows are grouped.
#ifndef MTP_OPS_CPU_VEC16_H
#define MTP_OPS_CPU_VEC16_H

// Without AVX-512, compilers warn that passing 64-byte vectors by value has no
// settled ABI; they never cross a call boundary here (every helper is static).
#pragma GCC diagnostic ignored "-Wpsabi"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "ops/cpu/fast_exp.h"
#include "ops/cpu/vecn.h"

typedef float f32x16 __attribute__((vector_size(64)));
enum { LANES = 16 };

// Compilers fold a vector load into each FMA that uses it, reloading it C
// times; an empty asm that claims to change the register makes them load it once.
#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
#define KEEP_IN_REGISTER(v) __asm__("" : "+v"(v))
#else
#define KEEP_IN_REGISTER(v) ((void)0)
#endif

static inline f32x16 load16(const float *p) {
    f32x16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

// x in every lane. (On AVX2, compilers build a 16-lane splat through 16 stores
// to memory; two 8-lane broadcasts stay in registers.)
static inline f32x16 splat16(float x) {
#if defined(__AVX2__) && !defined(__AVX512F__)
    __m256 h[2] = {_mm256_set1_ps(x), _mm256_set1_ps(x)};
    f32x16 v;
    memcpy(&v, h, sizeof v);
    return v;
#else
    return (f32x16){0} + x;
#endif
}

// The last n < 16 values of a row, zero-padded: 0 * 0 leaves the lanes as they were.
static inline f32x16 load_tail(const float *p, int n) {
    float buf[LANES] = {0};
    memcpy(buf, p, sizeof(float) * (size_t)n);
    return load16(buf);
}

// Sums of the lanes of 16 accumulators at once. Each level halves the lanes
// still holding one accumulator's partial sums, pairing lane i with lane
// i + half as a scalar pairwise sum would (l[i] += l[i + 8], then + 4, + 2,
// + 1): every accumulator's sum is that same tree whatever the others hold, so
// unused accumulators may be zero. Accumulator k's sum ends in lane
// bitrev4(k).
#if defined(__AVX2__) && !defined(__AVX512F__)
// AVX2: a vector is two 8-float registers, and compilers turn the generic
// 16-lane shuffles into scalar moves through memory. The same sums of the
// same pairs, lane for lane, with in-register shuffles.
typedef struct {
    __m256 lo, hi;  // lanes 0..7, 8..15
} halves;
static inline halves split16(const f32x16 *p) {
    halves h;
    memcpy(&h, p, sizeof h);
    return h;
}
static inline f32x16 join16(__m256 lo, __m256 hi) {
    halves h = {lo, hi};
    f32x16 v;
    memcpy(&v, &h, sizeof v);
    return v;
}
static inline f32x16 halve8(const f32x16 *pa, const f32x16 *pb) {
    halves a = split16(pa), b = split16(pb);  // (a0..7 + a8..15, b0..7 + b8..15)
    return join16(_mm256_add_ps(a.lo, a.hi), _mm256_add_ps(b.lo, b.hi));
}
static inline __m256 halve4_8(__m256 a, __m256 b) {  // (a0..3 + a4..7, b0..3 + b4..7)
    return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}
static inline f32x16 halve4(const f32x16 *pa, const f32x16 *pb) {
    halves a = split16(pa), b = split16(pb);
    return join16(halve4_8(a.lo, b.lo), halve4_8(a.hi, b.hi));
}
static inline __m256 halve2_8(__m256 a, __m256 b) {  // per 128 bits: (a0+a2, a1+a3, b0+b2, b1+b3)
    return _mm256_add_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
}
static inline f32x16 halve2(const f32x16 *pa, const f32x16 *pb) {
    halves a = split16(pa), b = split16(pb);
    return join16(halve2_8(a.lo, b.lo), halve2_8(a.hi, b.hi));
}
static inline __m256 halve1_8(__m256 a, __m256 b) {  // per 128 bits: (a0+a1, b0+b1, a2+a3, b2+b3)
    __m256 t = _mm256_add_ps(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm256_permute_ps(t, _MM_SHUFFLE(3, 1, 2, 0));
}
static inline f32x16 halve1(const f32x16 *pa, const f32x16 *pb) {
    halves a = split16(pa), b = split16(pb);
    return join16(halve1_8(a.lo, b.lo), halve1_8(a.hi, b.hi));
}
#else
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
static inline f32x16 halve8(const f32x16 *pa, const f32x16 *pb) {
    f32x16 a = *pa, b = *pb;  // 16-lane groups -> 8
    return SHUF(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
           SHUF(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
}
static inline f32x16 halve4(const f32x16 *pa, const f32x16 *pb) {
    f32x16 a = *pa, b = *pb;  // 8-lane groups -> 4
    return SHUF(a, b, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27) +
           SHUF(a, b, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
}
static inline f32x16 halve2(const f32x16 *pa, const f32x16 *pb) {
    f32x16 a = *pa, b = *pb;  // 4-lane groups -> 2
    return SHUF(a, b, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29) +
           SHUF(a, b, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
}
static inline f32x16 halve1(const f32x16 *pa, const f32x16 *pb) {
    f32x16 a = *pa, b = *pb;  // 2-lane groups -> 1
    return SHUF(a, b, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) +
           SHUF(a, b, 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
}
#undef SHUF
#endif

static inline f32x16 sum16(const f32x16 acc[LANES]) {
    f32x16 l8[8], l4[4], l2[2];
    for (int p = 0; p < 8; p++) l8[p] = halve8(&acc[2 * p], &acc[2 * p + 1]);
    for (int p = 0; p < 4; p++) l4[p] = halve4(&l8[2 * p], &l8[2 * p + 1]);
    for (int p = 0; p < 2; p++) l2[p] = halve2(&l4[2 * p], &l4[2 * p + 1]);
    return halve1(&l2[0], &l2[1]);
}

static const unsigned char bitrev4[LANES] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};

typedef int32_t i32x16 __attribute__((vector_size(64)));

// fast_expf's method for 16 lanes (the scalar one does not vectorize), done
// as vecn.h's expn_or_zero on native vectors (on AVX2, 16-lane integer
// conversions compile to scalar code): 0 below -87.
static inline f32x16 exp16_or_zero(const f32x16 *px) {
    float lanes[LANES];
    memcpy(lanes, px, sizeof lanes);
    for (int h = 0; h < LANES; h += VN) storen(lanes + h, expn_or_zero(loadn(lanes + h)));
    f32x16 out;
    memcpy(&out, lanes, sizeof out);
    return out;
}

#endif
