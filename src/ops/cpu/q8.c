// q8.c: int8 weights with one scale per 32 values, and their products.
//
// A weight row w (I values, I a multiple of 32) is quantized as I int8 q and
// I/32 float scales s, w[i] ~ q[i] * s[i / 32], s = max |w| / 127 over the
// block (q in [-127, 127]). An activation row x is quantized as a whole:
// x[i] ~ xq[i] * xs, xs = max |x| / 127. Then
//   x . w ~ xs * sum_b s[b] * (sum_{i in b} xq[i] q[i]),
// the inner sums exact in int32: the integer dot-product instructions do them.
//
// For the product the weights are packed (op_q8_pack) so that one vector holds
// the same 4 inputs of 16 outputs: the 4 bytes of an activation row are
// broadcast and one dot-product instruction adds 4 products to each of 16
// outputs' sums. One float conversion and one fused multiply-add per block of
// 32 inputs and 16 outputs then fold a block into the float sums; the row-wise
// layout needed that for every block of every output, plus a sum across the
// lanes per output, and was arithmetic-bound with several rows.
// Packed layout, per panel of 64 outputs (OP_Q8_PANEL; the last one padded
// with zero rows) and per block b of 32 inputs, 2048 bytes:
//   [group g of 16 outputs][j = 0..7][lane = output g*16 + lane][k = 0..3]
//   = q[output][32 b + 4 j + k],
// panels one after the other, blocks in order within a panel (one stream),
// and the scales likewise, 64 floats per (panel, block): scale of output
// g*16 + lane at g*16 + lane.
// AVX-512 VNNI's vpdpbusd takes unsigned x signed bytes: the weights are
// stored as unsigned, q + 128, and each block's int32 sum starts from -128 x
// the sum of the row's 32 xq of the block (the row's side data, made when it
// is quantized), so it ends at the exact sum of xq[i] q[i]. AVX2 keeps the
// weights signed. One row: vpmaddubsw + vpmaddwd, x's sign moved onto q
// (|xq|, |q| <= 127 keep the 16-bit pair sums exact), |xq| in the side data.
// Several rows: the weights widened to 16 bits once for all rows and
// multiplied by xq as int16 (also in the side data) with vpmaddwd, pairs of
// products summed into int32, exact.
// Every output's float sum runs over the blocks in order in one chain,
// f = fma(float(int sum), s[b], f), then times xs: the same operations
// whatever the instruction set and however many rows are computed at once, so
// a row's bits do not depend on the row count (speculative verification stays
// exact against plain steps).
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "ops/cpu/parallel.h"
#include "ops/cpu/work_steal.h"
#include "ops/ops.h"

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define ZMM_VNNI 1
#define STORED_FLIP 0x80  // packed bytes are q + 128 (as unsigned), q ^ 0x80
#else
#define STORED_FLIP 0x00
#endif

enum { GROUP = 16, GROUPS = OP_Q8_PANEL / GROUP, J = OP_Q8_BLOCK / 4 };
// Loops whose every iteration must be laid out, so that arrays of vectors
// indexed by them (the int32 sums of each row and group) stay in registers.
// Clang 14 left the 8-step loop rolled under "GCC unroll", its sums in
// memory: 4 rows 80 ns a 2 KB block in L2 (one thread) where GCC's take 33.
// Clang also hoisted all of a block's 32 weight loads to its top and spilled
// the sums they displaced: a compiler barrier after each step keeps each
// step's loads in it (4-row products in the model, clang: 126 / 322 / 321 us
// for d x d, f x d, d x f without it, 113 / 286 / 288 with; GCC's 106 / 271 / 270).
#ifdef __clang__
#define UNROLL_ALL _Pragma("unroll")
#define STEP_BARRIER __asm__ volatile("" ::: "memory")
#else
#define UNROLL_ALL _Pragma("GCC unroll 8")
#define STEP_BARRIER (void)0
#endif
// Packed bytes of one (panel, block).
enum { CHUNK = OP_Q8_PANEL * OP_Q8_BLOCK };
// Each thread prefetches its weights into L2 ahead of the first pass over a
// panel (the one reading from DRAM), PREFETCH_AHEAD bytes ahead; the hardware
// prefetchers alone let DRAM idle between a core's requests. 16 KB rather
// than 4: several rows compute in bursts (lm_head-shaped int8 products from
// DRAM on an Intel Xeon, 2 threads: 4 rows 4.34-4.40 ms vs 4.71-4.92, 1 row
// unchanged; 32 KB no better, nor 8 or 32 KB with the prefetches spread through
// each block, prefetch_lines). Later passes over the panel (more rows than
// one pass takes: a prompt) find it in L2; for them the prefetches go on into
// the next panel, up to PREFETCH_LIMIT bytes ahead (within L2 on both machine
// kinds), so that DRAM does not idle meanwhile.
// A second prefetch, L1_AHEAD bytes ahead into L1 (the next block but one
// of the panel), keeps several rows' bursts of arithmetic fed: 16 blocks of
// d = 1536 from DRAM, old and new alternating on an Intel Xeon, 2 threads:
// VNNI 2 rows 4.5-5% and 4 rows 5-7% faster, 1 row 1% slower (so not
// there); AVX2 1 row 4-5%, 2 rows 7-8%, 4 rows 8-12% faster. 1 KB and 4 KB
// ahead were no better.
enum { PREFETCH_AHEAD = 16384, PREFETCH_LIMIT = 65536, L1_AHEAD = 2048 };
#ifdef ZMM_VNNI
#define L1_PREFETCH(R) ((R) > 1)
#else
#define L1_PREFETCH(R) 1
#endif
// Rows multiplied per pass over a panel. AVX-512: up to 4 rows take a block
// of its 4 groups at once (16 int32 accumulators and 4 weight vectors in
// registers of 32); 5 to 8 rows take each block twice, 4 rows and then the
// rest, the block then in L1 (panel_rows); the float sums sit in a small
// array the compiler keeps in registers where it can (one multiply-add per
// block and output, next to 8 dot products). AVX2: 8 outputs at a time, R
// accumulators. Measured in L2 on an Intel Xeon (2 threads, 512 x 1536): 1 to
// 4 rows 76-79 GB/s of weights, 5 to 8 rows 30-54; before, 4 rows as 3 + 1
// passes 32 GB/s. From DRAM (`bash bench/kernel_ab.sh q8`, 16 blocks of
// d = 1536, Intel Xeon model 167): 7 and 8 rows 11-16% faster taking each
// block twice than sweeping the panel twice (2 groups at a time, the second
// sweep from L2, when DRAM idled); 4 rows as 2 + 2 a block no faster.
#define PASS_ROWS 8

// The scale s of values whose largest magnitude is amax (finite), and inv,
// what they are multiplied by before rounding: 127 / amax, at most 2^126 (and
// s = 2^-126 then) so that it stays finite for the tiniest amax (below
// 127 / FLT_MAX, 3.7e-37, 127 / amax overflows: every value, zeros too, would
// become NaN and then -128); such values then use fewer than 8 bits.
static inline void q8_scale(float amax, float *s, float *inv) {
    if (!(amax > 0.0f)) {
        *s = *inv = 0.0f;
    } else if (amax < 127.0f * 0x1p-126f) {
        *s = 0x1p-126f;
        *inv = 0x1p126f;
    } else {
        *s = amax / 127.0f;
        *inv = 127.0f / amax;
    }
}

void op_quantize_q8(int8_t *q, float *scales, const float *w, int rows, int cols) {
    const int blocks = cols / OP_Q8_BLOCK;
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= OP_PARALLEL_MIN_WORK)
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < blocks; b++) {
            const float *x = w + (size_t)r * cols + (size_t)b * OP_Q8_BLOCK;
            int8_t *o = q + (size_t)r * cols + (size_t)b * OP_Q8_BLOCK;
            float amax = 0.0f;
            for (int i = 0; i < OP_Q8_BLOCK; i++) amax = fmaxf(amax, fabsf(x[i]));
            float s, inv;
            q8_scale(amax, &s, &inv);
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

size_t op_q8_packed_rows(int out_dim) {
    return ((size_t)out_dim + OP_Q8_PANEL - 1) / OP_Q8_PANEL * OP_Q8_PANEL;
}

// Where weight (o, i) and scale (o, b) sit in the packed layout.
static size_t packed_byte(size_t o, size_t i, size_t blocks) {
    size_t p = o / OP_Q8_PANEL, g = o % OP_Q8_PANEL / GROUP, lane = o % GROUP, b = i / OP_Q8_BLOCK,
           j = i % OP_Q8_BLOCK / 4, k = i % 4;
    return (p * blocks + b) * CHUNK + g * GROUP * OP_Q8_BLOCK + j * GROUP * 4 + lane * 4 + k;
}

static size_t packed_scale(size_t o, size_t b, size_t blocks) {
    return (o / OP_Q8_PANEL * blocks + b) * OP_Q8_PANEL + o % OP_Q8_PANEL;
}

void op_q8_pack(int8_t *qp, float *sp, const int8_t *q, const float *s, int out_dim, int in_dim) {
    // in the layout's order, 4 bytes (one output's 4 inputs) at a time
    const size_t blocks = (size_t)in_dim / OP_Q8_BLOCK, panels = op_q8_packed_rows(out_dim) / OP_Q8_PANEL;
    const uint32_t flip = 0x01010101u * STORED_FLIP;
#pragma omp parallel for schedule(static) if (panels * OP_Q8_PANEL * in_dim >= OP_PARALLEL_MIN_WORK)
    for (size_t p = 0; p < panels; p++)
        for (size_t b = 0; b < blocks; b++) {
            int8_t *dst = qp + (p * blocks + b) * CHUNK;
            float *sdst = sp + (p * blocks + b) * OP_Q8_PANEL;
            for (size_t r = 0; r < OP_Q8_PANEL; r++) {  // row r of the panel: group r / 16, lane r % 16
                const size_t o = p * OP_Q8_PANEL + r;
                const int real = o < (size_t)out_dim;
                sdst[r] = real ? s[o * blocks + b] : 0.0f;
                int8_t *d = dst + r / GROUP * GROUP * OP_Q8_BLOCK + r % GROUP * 4;
                for (size_t j = 0; j < J; j++) {
                    uint32_t v = 0;
                    if (real) memcpy(&v, q + o * in_dim + b * OP_Q8_BLOCK + 4 * j, 4);
                    v ^= flip;
                    memcpy(d + j * GROUP * 4, &v, 4);
                }
            }
        }
}

void op_q8_unpack(int8_t *q, float *s, const int8_t *qp, const float *sp, int out_dim, int in_dim) {
    const size_t blocks = (size_t)in_dim / OP_Q8_BLOCK;
    for (size_t o = 0; o < (size_t)out_dim; o++) {
        if (q)
            for (size_t i = 0; i < (size_t)in_dim; i++)
                q[o * in_dim + i] = (int8_t)((uint8_t)qp[packed_byte(o, i, blocks)] ^ STORED_FLIP);
        if (s)
            for (size_t b = 0; b < blocks; b++) s[o * blocks + b] = sp[packed_scale(o, b, blocks)];
    }
}

// xq[0..32) = x * inv rounded to the nearest integer, ties to even (the
// conversion's default rounding, as lrintf's), |x * inv| <= 127. Returns the
// 32 values' sum.
static inline int32_t quantize_block(int8_t *xq, const float *x, __m256 inv) {
    __m256i v[4];
    for (int k = 0; k < 4; k++) v[k] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), inv));
    // packs interleave the 128-bit lanes: 0-3 8-11 16-19 24-27 | 4-7 12-15 ...; the permute undoes it
    __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)xq, bytes);
    __m256i t = _mm256_add_epi32(_mm256_add_epi32(v[0], v[1]), _mm256_add_epi32(v[2], v[3]));
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
    return _mm_cvtsi128_si32(h);
}

size_t op_q8_side_ints(int in_dim) {
#ifdef ZMM_VNNI
    return (size_t)in_dim / 4;  // -128 x each block's sum at [block] (the first I / 32 of them used)
#else
    return (size_t)in_dim / 4 * 3;  // |xq| as bytes, then xq as int16
#endif
}

void op_quantize_rows_q8(int8_t *xq, float *xs, int32_t *xaux, const float *x, int M, int in_dim) {
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    for (int m = 0; m < M; m++) {
        const float *row = x + (size_t)m * in_dim;
        int8_t *qrow = xq + (size_t)m * in_dim;
        int32_t *aux = xaux + (size_t)m * op_q8_side_ints(in_dim);
        // the largest magnitude, and whether any value is NaN (max drops a NaN met later)
        __m256 vmax = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
        for (int i = 0; i < in_dim; i += 8) {
            const __m256 v = _mm256_loadu_ps(row + i);
            vmax = _mm256_max_ps(vmax, _mm256_and_ps(v, magnitude));
            nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        }
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        const float amax = _mm_cvtss_f32(h);
        float inv;
        q8_scale(amax, &xs[m], &inv);
        if (!isfinite(amax) || _mm256_movemask_ps(nan)) {
            // a NaN or infinity in the row: its products are NaN, through xs (the conversions would
            // saturate such values to -128 and overflow the side data's sums); its bytes are zeros
            xs[m] = NAN;
            memset(qrow, 0, (size_t)in_dim);
            memset(aux, 0, sizeof(int32_t) * op_q8_side_ints(in_dim));
            continue;
        }
        for (int b = 0; b < in_dim / OP_Q8_BLOCK; b++) {
            const int32_t sum =
                quantize_block(qrow + b * OP_Q8_BLOCK, row + b * OP_Q8_BLOCK, _mm256_set1_ps(inv));
#ifdef ZMM_VNNI
            aux[b] = -128 * sum;
#else
            (void)sum;
            const __m256i q = _mm256_loadu_si256((const __m256i *)(qrow + b * OP_Q8_BLOCK));
            _mm256_storeu_si256((__m256i *)((uint8_t *)aux + b * OP_Q8_BLOCK), _mm256_abs_epi8(q));
            int16_t *wide = (int16_t *)((uint8_t *)aux + in_dim) + b * OP_Q8_BLOCK;
            _mm256_storeu_si256((__m256i *)wide, _mm256_cvtepi8_epi16(_mm256_castsi256_si128(q)));
            _mm256_storeu_si256((__m256i *)(wide + 16), _mm256_cvtepi8_epi16(_mm256_extracti128_si256(q, 1)));
#endif
        }
    }
}

// Prefetches for a pass over a panel. The first pass (reading from DRAM)
// prefetches each block's CHUNK bytes PREFETCH_AHEAD past it (and, with
// L1_PREFETCH, L1_AHEAD past it into L1) a few lines at a time through the
// block's arithmetic (prefetch_lines, called once per step of it): all 32
// lines at the block's start left DRAM idle through the arithmetic of
// several rows (16 blocks of d = 1536, old and new alternating, Intel Xeon
// model 167, 2 threads: AVX-512 4 to 8 rows 5-7% faster, 1 to 3 rows the
// same; AVX2 1 row 4%, 2 to 4 rows 5-6%, 7 and 8 rows 13-19%).
// `lines` lines from line `first` of the block at qp.
static inline __attribute__((always_inline)) void prefetch_lines(const int8_t *qp, int first, int lines,
                                                                 const int into_l1) {
    for (int l = first; l < first + lines; l++) {
        __builtin_prefetch(qp + PREFETCH_AHEAD + l * 64, 0, 2);
        if (into_l1) __builtin_prefetch(qp + L1_AHEAD + l * 64, 0, 3);
    }
}

// Later passes (the panel in L2): one block's worth (CHUNK bytes) from the
// cursor *ahead on, kept between PREFETCH_AHEAD and PREFETCH_LIMIT bytes past
// the frontier (the panel's end). (A cursor for the first pass too, clamped
// the same way, cost 5-10% of one row's rate.)
static inline void prefetch_ahead(const int8_t **ahead, const int8_t *frontier) {
    const int8_t *at = *ahead, *lo = frontier + PREFETCH_AHEAD, *hi = frontier + PREFETCH_LIMIT;
    if (at < lo) at = lo;
    for (int l = 0; l < CHUNK / 64 && at < hi; l++, at += 64) __builtin_prefetch(at, 0, 2);
    *ahead = at;
}

static inline int32_t load4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// out[m][g0*16 .. (g0+G)*16) (row stride ldo; only outputs below n, the
// rest being padding) for R rows of x and groups g0..g0+G-1 of one panel
// (qp, sp: the panel's first block).
#ifdef ZMM_VNNI
// Block b's int32 sums of rows m0..m0+R-1 (R <= 4) for groups g0..g0+G-1,
// folded into their float sums f: 8 dot products per row and group, then one
// conversion and one multiply-add.
static inline __attribute__((always_inline)) void block_rows(float (*f)[GROUPS][GROUP], const int8_t *xq,
                                                             const int32_t *xaux, const int8_t *qp,
                                                             const float *sp, int in_dim, int b, const int m0,
                                                             const int R, const int G, const int g0,
                                                             const int8_t *pf, const int into_l1,
                                                             const int pf_part, const int pf_parts) {
    // (pf: the block whose first-pass prefetches this call issues, or NULL)
    const size_t ldaux = op_q8_side_ints(in_dim);
    // acc[m][g] (and, for one row, odd[g] taking every other step: 8
    // chains in flight instead of 4; integer sums, so no change in bits)
    __m512i acc[4][GROUPS], odd[GROUPS];
    for (int m = 0; m < R; m++) {
        const __m512i start = _mm512_set1_epi32(xaux[(m0 + m) * ldaux + b]);
        for (int g = 0; g < G; g++) acc[m][g] = start;
    }
    if (R == 1)
        for (int g = 0; g < G; g++) odd[g] = _mm512_setzero_si512();
    const int8_t *xb = xq + (size_t)m0 * in_dim + (size_t)b * OP_Q8_BLOCK;
    UNROLL_ALL
    for (int j = 0; j < J; j++) {
        if (pf) {
            // pf_part: this call's share of the block's lines (the whole block, or half of it when a
            // second call takes the block's other rows)
            const int per = CHUNK / 64 / J / pf_parts;
            prefetch_lines(pf, pf_part * (CHUNK / 64 / pf_parts) + j * per, per, into_l1);
        }
        __m512i w[GROUPS];
        for (int g = 0; g < G; g++) w[g] = _mm512_loadu_si512(qp + (g0 + g) * GROUP * OP_Q8_BLOCK + j * 64);
        UNROLL_ALL
        for (int m = 0; m < R; m++) {
            const __m512i x4 = _mm512_set1_epi32(load4(xb + (size_t)m * in_dim + 4 * j));
            for (int g = 0; g < G; g++) {
                if (R == 1 && j % 2)
                    odd[g] = _mm512_dpbusd_epi32(odd[g], w[g], x4);
                else
                    acc[m][g] = _mm512_dpbusd_epi32(acc[m][g], w[g], x4);
            }
        }
        STEP_BARRIER;
    }
    if (R == 1)
        for (int g = 0; g < G; g++) acc[0][g] = _mm512_add_epi32(acc[0][g], odd[g]);
    for (int g = 0; g < G; g++) {
        const __m512 s = _mm512_loadu_ps(sp + (g0 + g) * GROUP);
        for (int m = 0; m < R; m++)
            _mm512_store_ps(f[m0 + m][g0 + g], _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m][g]), s,
                                                               _mm512_load_ps(f[m0 + m][g0 + g])));
    }
}

// All R rows (R <= 8) over one panel, one block at a time: the first 4 rows
// with the block read from memory, the rest with it in L1 (each block's int32
// sums are done before the next block starts, so rows may be split at any
// block). One sweep of the panel: memory sees one stream at a steady rate.
// (Two sweeps of 2 groups each for 5 to 8 rows, the second from L2, had DRAM
// idle during the second: 7 and 8 rows at 64% of the read probe where 4 rows
// reach 83%.) With 5 to 8 rows the block's first-pass prefetches are split
// between its two calls, so that DRAM is asked for more through the second
// too (`bash bench/kernel_ab.sh q8`, two runs: 7 rows 1.05x, 8 rows 1.03-1.04x;
// 1-4 rows unchanged).
static inline __attribute__((always_inline)) void panel_rows(float *out, size_t ldo, int n, const int8_t *xq,
                                                             const int32_t *xaux, const float *xs,
                                                             const int8_t *qp, const float *sp, int in_dim,
                                                             const int8_t **ahead, const int8_t *frontier,
                                                             const int R) {
    const int blocks = in_dim / OP_Q8_BLOCK;
    _Alignas(64) float f[PASS_ROWS][GROUPS][GROUP];
    memset(f, 0, sizeof f);
    // f stays in memory (one load and store a block and output vector): clang otherwise keeps it in
    // registers beside the int32 sums, more than there are, and spills both in the inner loop
    __asm__ volatile("" : : "r"(f) : "memory");
    for (int b = 0; b < blocks; b++, qp += CHUNK, sp += OP_Q8_PANEL) {
        if (frontier) prefetch_ahead(ahead, frontier);
        block_rows(f, xq, xaux, qp, sp, in_dim, b, 0, R < 4 ? R : 4, GROUPS, 0, frontier ? NULL : qp,
                   L1_PREFETCH(R), 0, R > 4 ? 2 : 1);
        if (R > 4) {
            // The compiler barrier keeps GCC from interleaving the two calls' unrolled loops,
            // which needs more than 32 registers: their int32 sums went to the stack and back
            // (7 and 8 rows in L2, one thread: 70 and 80 ns a block without it, 56 and 66 with;
            // a 441-token int8 prompt 1.2x faster).
            __asm__ volatile("" ::: "memory");
            block_rows(f, xq, xaux, qp, sp, in_dim, b, 4, R - 4, GROUPS, 0, frontier ? NULL : qp,
                       L1_PREFETCH(R), 1, 2);
        }
    }
    for (int m = 0; m < R; m++)
        for (int g = 0; g < GROUPS; g++) {
            const int left = n - g * GROUP;
            if (left <= 0) break;
            const __mmask16 keep = left >= GROUP ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
            _mm512_mask_storeu_ps(out + m * ldo + g * GROUP, keep,
                                  _mm512_mul_ps(_mm512_load_ps(f[m][g]), _mm512_set1_ps(xs[m])));
        }
}
#else
static inline int64_t load8(const void *p) {
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

// AVX2, several rows: block b's int32 sums of rows m0..m0+R-1 (R <= 4),
// folded into their float sums f, 8 outputs (half a group) at a time. Per 4
// inputs of the 8 outputs: the 32 weights widened to 16 bits (two vpmovsxbw,
// for all rows), then per row its 4 inputs as int16 broadcast and two
// vpmaddwd, which leave each output's sum in two adjacent int32 lanes, added
// pairwise at the block's end. On an AMD Zen 3 vpmaddwd, vpmaddubsw and
// vpsignb share two ports: one row's vpsignb + vpmaddubsw + vpmaddwd take 3 of
// their slots a row and 32 weights where this takes 2 (one row keeps them:
// the widening is then not shared).
static inline __attribute__((always_inline)) void block_rows(float (*f)[OP_Q8_PANEL], const int16_t *x16,
                                                             size_t ldx, const int8_t *qp, const float *sp,
                                                             int b, const int m0, const int R,
                                                             const int8_t *pf, const int into_l1,
                                                             const int pf_part, const int pf_parts) {
    // (pf: the block whose first-pass prefetches this call issues, or NULL)
    const int16_t *xb = x16 + (size_t)m0 * ldx + (size_t)b * OP_Q8_BLOCK;
    for (int h = 0; h < 2 * GROUPS; h++) {  // outputs 8h..8h+7: group h/2, half h%2
        const int8_t *wq = qp + (h / 2) * GROUP * OP_Q8_BLOCK + (h % 2) * 32;
        enum { LINES = CHUNK / 64 / (2 * GROUPS) };  // the first pass's prefetches, per half group
        if (pf)
            prefetch_lines(pf, pf_part * (CHUNK / 64 / pf_parts) + h * (LINES / pf_parts), LINES / pf_parts,
                           into_l1);
        // lo[m]: outputs 0-3 of the half, hi[m]: 4-7; each output's two lanes (inputs 0-1, 2-3)
        __m256i lo[4], hi[4];
        for (int m = 0; m < R; m++) lo[m] = hi[m] = _mm256_setzero_si256();
        // the inputs read anew for each half, as broadcasts from memory: GCC otherwise kept them
        // across the halves in general registers and on the stack, and a broadcast from a
        // general register takes two instructions on the vector ports
        const int16_t *xh = xb;
        __asm__("" : "+r"(xh));
        UNROLL_ALL
        for (int j = 0; j < J; j++) {
            const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wq + j * 64))),
                          w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wq + j * 64 + 16)));
            for (int m = 0; m < R; m++) {
                const __m256i xv = _mm256_set1_epi64x(load8(xh + (size_t)m * ldx + 4 * j));
                lo[m] = _mm256_add_epi32(lo[m], _mm256_madd_epi16(w0, xv));
                hi[m] = _mm256_add_epi32(hi[m], _mm256_madd_epi16(w1, xv));
                // each step's sums in registers: GCC otherwise summed all 8 steps' products as
                // a tree, spilling them
                __asm__("" : "+x"(lo[m]), "+x"(hi[m]));
            }
        }
        const __m256 s = _mm256_loadu_ps(sp + 8 * h);
        for (int m = 0; m < R; m++) {
            // hadd: outputs 0 1 4 5 | 2 3 6 7 (as 64-bit pairs 0 2 1 3), put in order
            const __m256i sums = _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo[m], hi[m]), 0xD8);
            float *fo = f[m0 + m] + 8 * h;
            _mm256_store_ps(fo, _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), s, _mm256_load_ps(fo)));
        }
    }
}

// AVX2, one row: block b's sums, 8 outputs at a time, by vpmaddubsw + vpmaddwd
// (x's sign moved onto the weights, |xq| from the side data).
static inline __attribute__((always_inline)) void block_row(float *f, const int8_t *xq, const uint8_t *xa,
                                                            const int8_t *qp, const float *sp, int b,
                                                            const int8_t *pf) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int h = 0; h < 2 * GROUPS; h++) {
        const int8_t *wq = qp + (h / 2) * GROUP * OP_Q8_BLOCK + (h % 2) * 32;
        enum { LINES = CHUNK / 64 / (2 * GROUPS) };
        if (pf) prefetch_lines(pf, h * LINES, LINES, L1_PREFETCH(1));
        __m256i acc = _mm256_setzero_si256();
        for (int j = 0; j < J; j++) {
            const __m256i w = _mm256_loadu_si256((const __m256i *)(wq + j * 64));
            const size_t at = (size_t)b * OP_Q8_BLOCK + 4 * j;
            const __m256i sx = _mm256_set1_epi32(load4(xq + at)), ax = _mm256_set1_epi32(load4(xa + at));
            const __m256i pairs = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w, sx));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
        }
        _mm256_store_ps(f + 8 * h, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(sp + 8 * h),
                                                   _mm256_load_ps(f + 8 * h)));
    }
}

// All R rows (R <= 8) over one panel, a block at a time: the first 4 rows
// with the block read from memory, the rest with it in L1 (as the VNNI
// version), the first-pass prefetches split between the two.
static inline __attribute__((always_inline)) void panel_rows(float *out, size_t ldo, int n, const int8_t *xq,
                                                             const int32_t *xaux, const float *xs,
                                                             const int8_t *qp, const float *sp, int in_dim,
                                                             const int8_t **ahead, const int8_t *frontier,
                                                             const int R) {
    const int blocks = in_dim / OP_Q8_BLOCK;
    const size_t ldaux = op_q8_side_ints(in_dim);
    const int16_t *x16 = (const int16_t *)((const uint8_t *)xaux + in_dim);  // row stride 2 ldaux int16
    _Alignas(32) float f[PASS_ROWS][OP_Q8_PANEL];
    memset(f, 0, sizeof f);
    // f stays in memory (one load and store a block, row and 8 outputs), as in the VNNI version
    __asm__ volatile("" : : "r"(f) : "memory");
    for (int b = 0; b < blocks; b++, qp += CHUNK, sp += OP_Q8_PANEL) {
        if (frontier) prefetch_ahead(ahead, frontier);
        if (R == 1) {
            block_row(f[0], xq, (const uint8_t *)xaux, qp, sp, b, frontier ? NULL : qp);
            continue;
        }
        block_rows(f, x16, 2 * ldaux, qp, sp, b, 0, R < 4 ? R : 4, frontier ? NULL : qp, L1_PREFETCH(R), 0,
                   R > 4 ? 2 : 1);
        if (R > 4) {
            __asm__ volatile("" ::: "memory");
            block_rows(f, x16, 2 * ldaux, qp, sp, b, 4, R - 4, frontier ? NULL : qp, L1_PREFETCH(R), 1, 2);
        }
    }
    const int end = n < OP_Q8_PANEL ? n : OP_Q8_PANEL;
    for (int m = 0; m < R; m++)
        for (int o = 0; o < end; o++) out[m * ldo + o] = f[m][o] * xs[m];
}
#endif

// A pass of R rows over a panel, in one sweep (panel_rows).
typedef void (*pass_fn)(float *, size_t, int, const int8_t *, const int32_t *, const float *, const int8_t *,
                        const float *, int, const int8_t **, const int8_t *);
#define PASS_FN(R)                                                                           \
    static void pass_##R(float *o, size_t ldo, int n, const int8_t *xq, const int32_t *xaux, \
                         const float *xs, const int8_t *qp, const float *sp, int in_dim,     \
                         const int8_t **ahead, const int8_t *frontier) {                     \
        panel_rows(o, ldo, n, xq, xaux, xs, qp, sp, in_dim, ahead, frontier, R);             \
    }
PASS_FN(1)
PASS_FN(2)
PASS_FN(3)
PASS_FN(4)
PASS_FN(5)
PASS_FN(6)
PASS_FN(7)
PASS_FN(8)
static const pass_fn passes[PASS_ROWS] = {pass_1, pass_2, pass_3, pass_4, pass_5, pass_6, pass_7, pass_8};
#undef PASS_FN

void op_matmul_q8(float *out, const int8_t *xq, const float *xs, const int32_t *xaux, const int8_t *qp,
                  const float *sp, int M, int in_dim, int out_dim) {
    // out (M, O) = x (M, I) @ w (O, I)^T
    const int panels = (int)(op_q8_packed_rows(out_dim) / OP_Q8_PANEL), blocks = in_dim / OP_Q8_BLOCK;
    const size_t ldaux = op_q8_side_ints(in_dim);
    // as few passes as PASS_ROWS allows, their rows as even as can be
    const int npass = (M + PASS_ROWS - 1) / PASS_ROWS;
    // each thread a contiguous range of panels, then the others' from their back ends (work_steal.h)
    steal_range ranges[omp_get_max_threads()];
#pragma omp parallel if ((size_t)M * in_dim * out_dim >= OP_PARALLEL_MIN_WORK)
    {
        steal_start(ranges, panels);
        const int8_t *ahead = NULL;
        int p, stolen;
        while ((p = steal_next(ranges, &stolen)) >= 0) {
            const int8_t *q = qp + (size_t)p * blocks * CHUNK;
            if (!ahead || stolen) ahead = q;  // later passes' prefetch cursor: this stream's start
            const float *s = sp + (size_t)p * blocks * OP_Q8_PANEL;
            const int n = out_dim - p * OP_Q8_PANEL < OP_Q8_PANEL ? out_dim - p * OP_Q8_PANEL : OP_Q8_PANEL;
            for (int pass = 0, m0 = 0; pass < npass; pass++) {
                const int R = (M - m0) / (npass - pass) + ((M - m0) % (npass - pass) != 0);
                passes[R - 1](out + (size_t)m0 * out_dim + (size_t)p * OP_Q8_PANEL, (size_t)out_dim, n,
                              xq + (size_t)m0 * in_dim, xaux + (size_t)m0 * ldaux, xs + m0, q, s, in_dim,
                              &ahead, pass == 0 ? NULL : q + (size_t)blocks * CHUNK);
                m0 += R;
            }
        }
    }
}
