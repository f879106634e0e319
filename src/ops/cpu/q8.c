// q8.c: int8 weights with one scale per 32 values, and their products.
//
// A weight row w (I values, I a multiple of 32) is stored as I int8 q and
// I/32 float scales s, w[i] ~ q[i] * s[i / 32], s = max |w| / 127 over the
// block (q in [-127, 127]). An activation row x is quantized as a whole:
// x[i] ~ xq[i] * xs, xs = max |x| / 127. Then
//   x . w ~ xs * sum_b s[b] * (sum_{i in b} xq[i] q[i]),
// the inner sums exact in int32: the integer dot-product instructions do them.
// Both take unsigned x signed bytes. AVX2's vpmaddubsw + vpmaddwd: x's sign
// moves onto q (|xq|, |q| <= 127 keep the 16-bit pair sums exact), two sign
// instructions per row and block. AVX-512 VNNI's vpdpbusd (no 16-bit step):
// the weights are read as unsigned, q + 128 (one xor per 64 weights, shared by
// every row), and each int32 lane starts from -128 x the sum of its 4 xq
// (xsum, made once per row when x is quantized), so a lane ends at the same
// exact sum of xq[i] q[i]; 64 weights (two blocks) per instruction.
// Each output's float sum runs over the blocks in order, block b in chain
// b % 4 (8 lanes), then a fixed tree: both paths give the same bits, and a
// row's result does not depend on how many rows there are.
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "ops/cpu/parallel.h"
#include "ops/ops.h"

void op_quantize_q8(int8_t *q, float *scales, const float *w, int rows, int cols) {
    const int blocks = cols / OP_Q8_BLOCK;
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= OP_PARALLEL_MIN_WORK)
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < blocks; b++) {
            const float *x = w + (size_t)r * cols + (size_t)b * OP_Q8_BLOCK;
            int8_t *o = q + (size_t)r * cols + (size_t)b * OP_Q8_BLOCK;
            float amax = 0.0f;
            for (int i = 0; i < OP_Q8_BLOCK; i++) amax = fmaxf(amax, fabsf(x[i]));
            float s = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
            scales[(size_t)r * blocks + b] = s;
            for (int i = 0; i < OP_Q8_BLOCK; i++) o[i] = (int8_t)lrintf(x[i] * inv);
        }
}

void op_dequantize_q8(float *w, const int8_t *q, const float *scales, int rows, int cols) {
    const int blocks = cols / OP_Q8_BLOCK;
    for (size_t i = 0; i < (size_t)rows * cols; i++) {
        size_t r = i / (size_t)cols, b = (i % (size_t)cols) / OP_Q8_BLOCK;
        w[i] = (float)q[i] * scales[r * blocks + b];
    }
}

void op_quantize_rows_q8(int8_t *xq, float *xs, int32_t *xsum, const float *x, int M, int in_dim) {
    for (int m = 0; m < M; m++) {
        const float *row = x + (size_t)m * in_dim;
        int8_t *qrow = xq + (size_t)m * in_dim;
        float amax = 0.0f;
        for (int i = 0; i < in_dim; i++) amax = fmaxf(amax, fabsf(row[i]));
        float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        xs[m] = amax / 127.0f;
        for (int i = 0; i < in_dim; i++) qrow[i] = (int8_t)lrintf(row[i] * inv);
        for (int l = 0; l < in_dim / 4; l++)
            xsum[(size_t)m * (in_dim / 4) + l] =
                -128 * (qrow[4 * l] + qrow[4 * l + 1] + qrow[4 * l + 2] + qrow[4 * l + 3]);
    }
}

// The 8 int32 lanes of one block's products: lane sums of xq[i] * q[i].
static inline __m256i block_dot(__m256i q, __m256i xq) {
    const __m256i ax = _mm256_sign_epi8(xq, xq), sq = _mm256_sign_epi8(q, xq);  // |x|, q * sign(x)
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sq);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sq), _mm256_set1_epi16(1));
#endif
}

// Lanes (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then 0+1: a fixed order.
static inline float lane_sum(__m256 v) {
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    a = _mm_add_ss(a, _mm_movehdup_ps(a));
    return _mm_cvtss_f32(a);
}

// Rows of x a weight row is multiplied into while it sits in registers:
// ROWS x CHAINS accumulators (AVX2 has 16 vector registers, AVX-512 32).
#ifdef __AVX512F__
#define ROWS 4
#else
#define ROWS 2
#endif
// Independent float sums per output, block b going to chain b % CHAINS, so
// the additions do not wait on each other; the chains are added in a fixed
// order at the end, the same for every ROWS.
#define CHAINS 4

// Weights read this many bytes ahead into L2: with several rows the product
// is arithmetic-bound, and the hardware prefetchers alone let DRAM idle.
enum { PREFETCH_AHEAD = 4096 };

#if defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX512DQ__)  // DQ: the 8-lane extracts
#define ZMM_VNNI 1
// acc (chains 0+1 in the low and high halves of acc[0], 2+3 of acc[1]) += the
// four blocks at q (64 bytes per register: two blocks), scales s[0..3], for
// one row: xq signed, its lane corrections xsum.
static inline __attribute__((always_inline)) void four_blocks(__m512 acc[2], __m512i qu0, __m512i qu1,
                                                              __m512 s01, __m512 s23, const int8_t *xq,
                                                              const int32_t *xsum) {
    __m512i d0 = _mm512_dpbusd_epi32(_mm512_loadu_si512(xsum), qu0, _mm512_loadu_si512(xq));
    __m512i d1 = _mm512_dpbusd_epi32(_mm512_loadu_si512(xsum + 16), qu1, _mm512_loadu_si512(xq + 64));
    acc[0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d0), s01, acc[0]);
    acc[1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d1), s23, acc[1]);
}
#endif

// out[m] (stride ldo) = x_m . w for R rows of x, one weight row (q, s).
static inline __attribute__((always_inline)) void row_product(float *out, size_t ldo, const int8_t *xq,
                                                              const float *xs, const int32_t *xsum,
                                                              const int8_t *q, const float *s, int in_dim,
                                                              const int R) {
    __m256 acc[ROWS][CHAINS];
    const int blocks = in_dim / OP_Q8_BLOCK;
    int b0 = 0;
#ifdef ZMM_VNNI
    {
        const __m512i flip = _mm512_set1_epi8((char)0x80);
        const __m512i lo = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
        const __m512i hi = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2);
        __m512 wide[ROWS][2];
        for (int m = 0; m < R; m++) wide[m][0] = wide[m][1] = _mm512_setzero_ps();
        for (; b0 + CHAINS <= blocks; b0 += CHAINS) {
            const size_t at = (size_t)b0 * OP_Q8_BLOCK;
            __builtin_prefetch(q + at + PREFETCH_AHEAD, 0, 2);
            __builtin_prefetch(q + at + PREFETCH_AHEAD + 64, 0, 2);
            const __m512i qu0 = _mm512_xor_si512(_mm512_loadu_si512(q + at), flip);
            const __m512i qu1 = _mm512_xor_si512(_mm512_loadu_si512(q + at + 64), flip);
            const __m512 s4 = _mm512_castps128_ps512(_mm_loadu_ps(s + b0));
            const __m512 s01 = _mm512_permutexvar_ps(lo, s4), s23 = _mm512_permutexvar_ps(hi, s4);
            for (int m = 0; m < R; m++)
                four_blocks(wide[m], qu0, qu1, s01, s23, xq + (size_t)m * in_dim + at,
                            xsum + (size_t)m * (in_dim / 4) + at / 4);
        }
        for (int m = 0; m < R; m++) {
            acc[m][0] = _mm512_castps512_ps256(wide[m][0]);
            acc[m][1] = _mm512_extractf32x8_ps(wide[m][0], 1);
            acc[m][2] = _mm512_castps512_ps256(wide[m][1]);
            acc[m][3] = _mm512_extractf32x8_ps(wide[m][1], 1);
        }
    }
#else
    for (int m = 0; m < R; m++)
        for (int c = 0; c < CHAINS; c++) acc[m][c] = _mm256_setzero_ps();
#endif
    for (; b0 < blocks; b0 += CHAINS) {
        const int n = blocks - b0 < CHAINS ? blocks - b0 : CHAINS;
        for (int c = 0; c < n; c++) {
            const size_t at = (size_t)(b0 + c) * OP_Q8_BLOCK;
            if (c == 0) __builtin_prefetch(q + at + PREFETCH_AHEAD, 0, 2);
            const __m256i qv = _mm256_loadu_si256((const __m256i *)(q + at));
            const __m256 sv = _mm256_set1_ps(s[b0 + c]);
            for (int m = 0; m < R; m++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + (size_t)m * in_dim + at));
                acc[m][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(block_dot(qv, xv)), sv, acc[m][c]);
            }
        }
    }
    (void)xsum;
    for (int m = 0; m < R; m++) {
        __m256 t = _mm256_add_ps(_mm256_add_ps(acc[m][0], acc[m][1]), _mm256_add_ps(acc[m][2], acc[m][3]));
        out[(size_t)m * ldo] = lane_sum(t) * xs[m];
    }
}

typedef void (*row_fn)(float *, size_t, const int8_t *, const float *, const int32_t *, const int8_t *,
                       const float *, int);
#define ROW_FN(R)                                                                                     \
    static void row_##R(float *o, size_t ldo, const int8_t *xq, const float *xs, const int32_t *xsum, \
                        const int8_t *q, const float *s, int in_dim) {                                \
        row_product(o, ldo, xq, xs, xsum, q, s, in_dim, R);                                           \
    }
ROW_FN(1)
ROW_FN(2)
#if ROWS >= 4
ROW_FN(3)
ROW_FN(4)
static const row_fn row_fns[ROWS] = {row_1, row_2, row_3, row_4};
#else
static const row_fn row_fns[ROWS] = {row_1, row_2};
#endif
#undef ROW_FN

void op_matmul_q8(float *out, const int8_t *xq, const float *xs, const int32_t *xsum, const int8_t *q,
                  const float *scales, int M, int in_dim, int out_dim) {
    // out (M, O) = x (M, I) @ w (O, I)^T; each thread one contiguous range of weight rows
    const int blocks = in_dim / OP_Q8_BLOCK;
#pragma omp parallel for schedule(static) if ((size_t)M * in_dim * out_dim >= OP_PARALLEL_MIN_WORK)
    for (int o = 0; o < out_dim; o++) {
        const int8_t *qo = q + (size_t)o * in_dim;
        const float *so = scales + (size_t)o * blocks;
        for (int m0 = 0; m0 < M; m0 += ROWS) {
            int R = M - m0 < ROWS ? M - m0 : ROWS;
            row_fns[R - 1](out + (size_t)m0 * out_dim + o, (size_t)out_dim, xq + (size_t)m0 * in_dim, xs + m0,
                           xsum + (size_t)m0 * (in_dim / 4), qo, so, in_dim);
        }
    }
}
