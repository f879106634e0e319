// packed.c: matrices in the decode layout, read as one sequential stream.
//
// Decoding reads every weight once per step, so its speed is the memory's:
// a thread must keep the prefetchers streaming. Reading a few weight rows at
// once from a row-major matrix makes as many streams, which some machines
// serve at half speed. In the decode layout a thread's whole share is one
// run of memory, in the order the kernel uses it:
//
//   blocks of PACK_BLOCK rows (the last padded with zero rows);
//   in a block, chunks of PACK_CHUNK columns (the input width must be a
//   multiple of 16: no slice straddles the end of a row);
//   in a chunk, groups of PACK_GROUP rows; in a group, the chunk's 16-float
//   slices, and for each slice the group's rows side by side.
//
// The product keeps, for every output, one 16-lane accumulator over the
// columns in increasing order, then the pairwise lane sum of vec16.h: the
// same arithmetic as decode_matmul.c's row-major kernel, so the two give the
// same bits, and a row's result never depends on how many rows there are.
#include <immintrin.h>
#include <omp.h>
#include <string.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/vec16.h"
#include "ops/cpu/work_steal.h"
#include "ops/ops.h"

// Rows of x a pass keeps in registers (ROWS x PACK_GROUP accumulators).
#ifdef __AVX512F__
#define ROWS 4
#else
#define ROWS 2
#endif
enum { SLICE = LANES, MAX_M = OP_PACKED_ROWS_MAX };

// Software prefetch, PREFETCH_AHEAD floats (16 KB) ahead in the thread's
// stream, into L2 (prefetcht1), whatever the number of rows. From 3 rows on
// the product is as much arithmetic as memory traffic, and with the core busy
// the hardware prefetchers alone let DRAM idle: measured by
// bench_decode_stream (6 blocks d=1536, 2 threads, AMD EPYC Zen 4), 4 rows
// went from 80-83% of the streaming-read probe to 93-96%, 8 rows from 35-52%
// to 90-97%. With 1 and 2 rows an AMD core streams at the probe's rate alone
// (93-98% with the prefetches, 95-99% without), but an Intel Xeon's does not:
// 78-83% (1 row) and 66-73% (2 rows) without, 98-105% and 98-102% with (three
// alternating runs, 2 threads). Prefetches never fault, so reading past the
// end is safe. A second prefetch, L1_AHEAD floats (2 KB) ahead into L1, helps
// the 4-row kernel keep issuing: as a fraction of the probe over 6 alternating
// runs, 4 rows 85-100% (before 74-92%), 8 rows 73-83% (before 48-70%).
enum { PREFETCH_AHEAD = 4096, L1_AHEAD = 512 };

size_t op_packed_rows(int out_dim) {
    return ((size_t)out_dim + PACK_BLOCK - 1) / PACK_BLOCK * PACK_BLOCK;
}

size_t op_packed_floats(int out_dim, int in_dim) {
    return op_packed_rows(out_dim) * (size_t)in_dim;
}

// Visits every 16-float slice of the layout: BODY sees its packed index k_,
// row r_ and first column s_. Padding rows have r_ >= out_dim. Blocks of
// PACK_BLOCK rows (each PACK_BLOCK x in_dim floats of the layout) are shared
// out among the threads, in memory order within each: their first touches of
// a fresh destination, which the kernel must zero, too (loading the 2.4 GB
// float32 model of bench/decode_big.sh spent half its time there on one
// thread).
// clang-format off
#define FOR_EACH_PACKED(out_dim, in_dim, BODY)                                                  \
    do {                                                                                        \
        const size_t rows_ = op_packed_rows(out_dim), cols_ = (size_t)(in_dim);                 \
        _Pragma("omp parallel for schedule(static) if (rows_ * cols_ >= OP_PARALLEL_MIN_WORK)") \
        for (size_t b_ = 0; b_ < rows_; b_ += PACK_BLOCK) {                                     \
            size_t k_ = b_ * cols_;                                                             \
            for (size_t c0_ = 0; c0_ < cols_; c0_ += PACK_CHUNK) {                              \
                size_t n_ = cols_ - c0_ < PACK_CHUNK ? cols_ - c0_ : PACK_CHUNK;                \
                for (size_t g_ = b_; g_ < b_ + PACK_BLOCK; g_ += PACK_GROUP)                    \
                    for (size_t s_ = c0_; s_ < c0_ + n_; s_ += SLICE)                           \
                        for (size_t r_ = g_; r_ < g_ + PACK_GROUP; r_++, k_ += SLICE) BODY;     \
            }                                                                                   \
        }                                                                                       \
    } while (0)
// clang-format on

void op_pack(float *dst, const float *w, int out_dim, int in_dim) {
    FOR_EACH_PACKED(out_dim, in_dim, {
        if ((int)r_ >= out_dim)
            memset(dst + k_, 0, sizeof(float) * SLICE);
        else
            memcpy(dst + k_, w + r_ * (size_t)in_dim + s_, sizeof(float) * SLICE);
    });
}

void op_unpack(float *w, const float *src, int out_dim, int in_dim) {
    FOR_EACH_PACKED(out_dim, in_dim, {
        if ((int)r_ < out_dim) memcpy(w + r_ * (size_t)in_dim + s_, src + k_, sizeof(float) * SLICE);
    });
}

// The first-pass prefetches of one slice step of a group: for each output c
// in mask, its slice PREFETCH_AHEAD floats ahead into L2 and L1_AHEAD ahead
// into L1.
static inline __attribute__((always_inline)) void prefetch_step(const float *g, const int mask) {
    for (int c = 0; c < PACK_GROUP; c++)
        if (mask >> c & 1) {
            __builtin_prefetch(g + PREFETCH_AHEAD + SLICE * c, 0, 2);
            __builtin_prefetch(g + L1_AHEAD + SLICE * c, 0, 3);
        }
}
enum { PF_GROUP = (1 << PACK_GROUP) - 1 };  // every output of the group
#if defined(__AVX2__) && !defined(__AVX512F__)
// AVX2: a 16-float vector is two 8-float registers, and compilers keep the
// generic 16-lane accumulators of the version below in memory (the kernel
// then ran at half the read probe's speed with one row). The same
// multiply-adds, lane for lane, on explicit halves, written as a product and
// a sum like the generic code so the compiler fuses both alike (it does under
// -ffp-contract=fast from -O2; at -O1 neither is fused): the two kernels, and
// the row-major one, keep giving the same bits.
static inline __attribute__((always_inline)) void group_pass(f32x16 *acc, const float *g, const float *x,
                                                             size_t ldx, int n, int first, const int R,
                                                             const int prefetch) {
    // acc is read and written as floats: vec16.h's split16/join16 (struct copies)
    // put these accumulators back on the stack (measured: 4 rows at 50% of the probe)
    __m256 a[ROWS][PACK_GROUP][2];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < PACK_GROUP; c++) {
            const float *p = (const float *)&acc[r * PACK_BLOCK + c];
            a[r][c][0] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(p);
            a[r][c][1] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(p + 8);
        }
    int s = 0;
    do {  // n >= SLICE (see the generic version)
        // both prefetches, as below: without the one into L1 an AVX2 build read 3-5% slower with
        // 1 row, 5-7% with 2 and 3% with 4 (Intel Xeon, 16 blocks from DRAM, alternating)
        if (prefetch) prefetch_step(g, PF_GROUP);
        __m256 w[PACK_GROUP][2];
        for (int c = 0; c < PACK_GROUP; c++) {
            w[c][0] = _mm256_loadu_ps(g + SLICE * c);
            w[c][1] = _mm256_loadu_ps(g + SLICE * c + 8);
        }
        for (int r = 0; r < R; r++) {
            const __m256 x0 = _mm256_loadu_ps(x + (size_t)r * ldx + s),
                         x1 = _mm256_loadu_ps(x + (size_t)r * ldx + s + 8);
            for (int c = 0; c < PACK_GROUP; c++) {
                a[r][c][0] = _mm256_add_ps(a[r][c][0], _mm256_mul_ps(x0, w[c][0]));
                a[r][c][1] = _mm256_add_ps(a[r][c][1], _mm256_mul_ps(x1, w[c][1]));
            }
        }
        g += SLICE * PACK_GROUP;
    } while ((s += SLICE) < n);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < PACK_GROUP; c++) {
            float *p = (float *)&acc[r * PACK_BLOCK + c];
            _mm256_storeu_ps(p, a[r][c][0]);
            _mm256_storeu_ps(p + 8, a[r][c][1]);
        }
}
// Four or more rows (2 and 3: half_pass below): the group's outputs one at a
// time, up to COL_ROWS rows each (acc[r][c] of output c alone: 8
// accumulators), so a weight is loaded once for 4 rows where two passes of 2
// rows over both outputs loaded it twice, and the group's weights come in
// with the first output's pass. The same multiply-adds, lane for lane, as
// group_pass. AVX2 build, 16 blocks of
// d = 1536 from DRAM, old and new alternating (`bash bench/kernel_ab.sh
// packed HEAD --isa avx2`), Intel Xeon model 167, 2 threads: 3 rows 1.05x, 4
// rows 1.09x, 7 rows 1.11x, 8 rows 1.12x; 2 rows (group_pass loaded each
// input twice) 1.05x; one row stays with group_pass (two outputs' chains of
// multiply-adds in flight: by column 0.95x).
enum { COL_ROWS = 4 };
// A column pass's prefetches: none, the whole group's, or its own output's.
// With more than COL_ROWS rows each output takes two passes, and the group's
// prefetches all in the first pass of the first output left DRAM idle through
// the other three: each output's first pass prefetching its own slices made
// 7 and 8 rows 1.04-1.07x faster on an AMD Zen 3 (`bash bench/kernel_ab.sh
// packed`, 15 pairs, two runs; the same bits); with 2-4 rows, whose columns
// take one pass each, it made them slower (4 rows 0.94x).
enum { PF_OWN = 2 };
static inline __attribute__((always_inline)) void column_pass(f32x16 *acc, const float *g, const float *x,
                                                              size_t ldx, int n, int first, const int R,
                                                              const int c, const int prefetch) {
    __m256 a[COL_ROWS][2];
    for (int r = 0; r < R; r++) {
        const float *p = (const float *)&acc[r * PACK_BLOCK + c];
        a[r][0] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(p);
        a[r][1] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(p + 8);
    }
    int s = 0;
    do {
        if (prefetch) prefetch_step(g, prefetch == PF_OWN ? 1 << c : PF_GROUP);
        const __m256 w0 = _mm256_loadu_ps(g + SLICE * c), w1 = _mm256_loadu_ps(g + SLICE * c + 8);
        for (int r = 0; r < R; r++) {
            a[r][0] = _mm256_add_ps(a[r][0], _mm256_mul_ps(_mm256_loadu_ps(x + (size_t)r * ldx + s), w0));
            a[r][1] = _mm256_add_ps(a[r][1], _mm256_mul_ps(_mm256_loadu_ps(x + (size_t)r * ldx + s + 8), w1));
        }
        g += SLICE * PACK_GROUP;
    } while ((s += SLICE) < n);
    for (int r = 0; r < R; r++) {
        float *p = (float *)&acc[r * PACK_BLOCK + c];
        _mm256_storeu_ps(p, a[r][0]);
        _mm256_storeu_ps(p + 8, a[r][1]);
    }
}
// A pass of R rows over one part k of a group (an output, or a half of the
// slices), without prefetches (the group in cache) or with them (_pf).
typedef void (*part_fn)(f32x16 *acc, const float *g, const float *x, size_t ldx, int n, int first, int k);
#define PART_FNS(NAME, PASS, R)                                                                            \
    static void NAME##_##R(f32x16 *acc, const float *g, const float *x, size_t ldx, int n, int first,      \
                           int k) {                                                                        \
        PASS(acc, g, x, ldx, n, first, R, k, 0);                                                           \
    }                                                                                                      \
    static void NAME##_##R##_pf(f32x16 *acc, const float *g, const float *x, size_t ldx, int n, int first, \
                                int k) {                                                                   \
        PASS(acc, g, x, ldx, n, first, R, k, 1);                                                           \
    }
#define COLUMN_FNS(R)                                                                                       \
    PART_FNS(column, column_pass, R)                                                                        \
    static void column_##R##_own(f32x16 *acc, const float *g, const float *x, size_t ldx, int n, int first, \
                                 int k) {                                                                   \
        column_pass(acc, g, x, ldx, n, first, R, k, PF_OWN);                                                \
    }
COLUMN_FNS(1)
COLUMN_FNS(2)
COLUMN_FNS(3)
COLUMN_FNS(4)
#undef COLUMN_FNS
static const part_fn columns[3][COL_ROWS] = {{column_1, column_2, column_3, column_4},
                                             {column_1_pf, column_2_pf, column_3_pf, column_4_pf},
                                             {column_1_own, column_2_own, column_3_own, column_4_own}};
// Two or more rows, one half of the group's 16-float slices at a time: the
// 8 floats of half h of both outputs' slices for R rows (2R accumulators, the
// two outputs' weights, one input): per slice 2 weight and R input loads for
// 2R multiply-adds where column_pass loads 2 weights and 2R inputs for 2R. The
// same multiply-adds into each accumulator in the same order, so the same
// bits. The second half reads the group from L1.
static inline __attribute__((always_inline)) void half_pass(f32x16 *acc, const float *g, const float *x,
                                                            size_t ldx, int n, int first, const int R,
                                                            const int h, const int prefetch) {
    __m256 a[COL_ROWS][PACK_GROUP];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < PACK_GROUP; c++)
            a[r][c] = first ? _mm256_setzero_ps()
                            : _mm256_loadu_ps((const float *)&acc[r * PACK_BLOCK + c] + 8 * h);
    int s = 0;
    do {
        if (prefetch) prefetch_step(g, PF_GROUP);
        __m256 w[PACK_GROUP];
        for (int c = 0; c < PACK_GROUP; c++) w[c] = _mm256_loadu_ps(g + SLICE * c + 8 * h);
        for (int r = 0; r < R; r++) {
            const __m256 xv = _mm256_loadu_ps(x + (size_t)r * ldx + s + 8 * h);
            for (int c = 0; c < PACK_GROUP; c++) a[r][c] = _mm256_add_ps(a[r][c], _mm256_mul_ps(xv, w[c]));
        }
        g += SLICE * PACK_GROUP;
    } while ((s += SLICE) < n);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < PACK_GROUP; c++)
            _mm256_storeu_ps((float *)&acc[r * PACK_BLOCK + c] + 8 * h, a[r][c]);
}
PART_FNS(half, half_pass, 2)
PART_FNS(half, half_pass, 3)
#undef PART_FNS
// 2 and 3 rows go by halves; from 4 on column_pass was faster (`bash
// bench/kernel_ab.sh packed HEAD --isa avx2`, halves against columns: 2 rows
// 1.055x, 3 rows 1.07x, 4 rows 1.00x, 7 rows 0.98x, 8 rows 0.96x).
enum { HALF_ROWS_MAX = 3 };
static const part_fn half_passes[2][HALF_ROWS_MAX] = {{NULL, half_2, half_3}, {NULL, half_2_pf, half_3_pf}};
#define COL_FROM 2  // products of this many rows or more go by half_pass or column_pass
#else
// acc[r][o] (16 lanes) += x[r] . w over one group's slices of a chunk, for
// rows r0..r0+R-1. g: the group's n x PACK_GROUP slices; x rows at stride ldx
// starting at the chunk's first column. R and the loop bounds are constants
// at each call, so the accumulators stay in registers.
static inline __attribute__((always_inline)) void group_pass(f32x16 *acc, const float *g, const float *x,
                                                             size_t ldx, int n, int first, const int R,
                                                             const int prefetch) {
    f32x16 a[ROWS][PACK_GROUP];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < PACK_GROUP; c++) a[r][c] = first ? (f32x16){0} : acc[r * PACK_BLOCK + c];
    // n >= SLICE: a do-while, because for a loop that may run zero times GCC
    // copies the 16 accumulators through the stack on the way in and out (4
    // rows 5% and 8 rows 10% slower in L2, Intel Xeon)
    int s = 0;
    do {
        f32x16 wv[PACK_GROUP];
        prefetch_step(g, prefetch);
        for (int c = 0; c < PACK_GROUP; c++) {
            wv[c] = load16(g + SLICE * c);
            KEEP_IN_REGISTER(wv[c]);
        }
        for (int r = 0; r < R; r++) {
            f32x16 xv = load16(x + (size_t)r * ldx + s);
            KEEP_IN_REGISTER(xv);
            for (int c = 0; c < PACK_GROUP; c++) a[r][c] += xv * wv[c];
        }
        g += SLICE * PACK_GROUP;
    } while ((s += SLICE) < n);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < PACK_GROUP; c++) acc[r * PACK_BLOCK + c] = a[r][c];
}

#endif

// A row pass, R rows, prefetching the slices of the group's outputs in mask
// PF (0: none, the group then in L1; PF_GROUP: the whole group).
typedef void (*pass_fn)(f32x16 *acc, const float *g, const float *x, size_t ldx, int n, int first);
#define PASS_FN(R, PF, NAME)                                                                      \
    static void NAME(f32x16 *acc, const float *g, const float *x, size_t ldx, int n, int first) { \
        group_pass(acc, g, x, ldx, n, first, R, PF);                                              \
    }
// Prefetches of a pass: none (later row passes read the group from L1: memory
// sees one stream), all, and with more than ROWS rows (AVX-512), the slices of
// the group's first two outputs in the first pass and of the other two in the
// second, so DRAM is asked for more through the second pass too (`bash
// bench/kernel_ab.sh packed`, two runs: 7 rows 1.09x, 8 rows 1.07-1.09x; 1-4
// rows the same code).
enum { PF_NONE, PF_ALL, PF_FIRST_HALF, PF_SECOND_HALF, PF_KINDS };
#define PASSES(R)                       \
    PASS_FN(R, 0, pass_##R)             \
    PASS_FN(R, PF_GROUP, pass_##R##_pf) \
    PASS_FN(R, 0x3, pass_##R##_pfa)     \
    PASS_FN(R, 0xC, pass_##R##_pfb)
#define ROW(R) \
    { pass_##R, pass_##R##_pf, pass_##R##_pfa, pass_##R##_pfb }
PASSES(1)
PASSES(2)
#if ROWS >= 4
PASSES(3)
PASSES(4)
static const pass_fn passes[ROWS][PF_KINDS] = {ROW(1), ROW(2), ROW(3), ROW(4)};
#else
static const pass_fn passes[ROWS][PF_KINDS] = {ROW(1), ROW(2)};
#endif
#undef ROW
#undef PASSES
#undef PASS_FN

// One block of PACK_BLOCK outputs for all M rows: out[r][o0 .. o0+PACK_BLOCK).
static void block_product(float *out, size_t ldo, const float *x, size_t ldx, const float *blk, int M,
                          int cols, int valid) {
    // [row][output in block], the 16-lane sums: the first chunk's passes start them from zero in
    // registers (a memset of them was 1.2% of a 2-row verification step on a Zen 3)
    f32x16 acc[MAX_M * PACK_BLOCK];
    if (cols <= 0) memset(acc, 0, sizeof(f32x16) * (size_t)M * PACK_BLOCK);
    const float *g = blk;
    for (int c0 = 0; c0 < cols; c0 += PACK_CHUNK) {
        const int n = cols - c0 < PACK_CHUNK ? cols - c0 : PACK_CHUNK, first = c0 == 0;
#ifdef COL_FROM
        if (M >= COL_FROM) {
            for (int o = 0; o < PACK_BLOCK; o += PACK_GROUP, g += (size_t)n * PACK_GROUP)
                if (M <= HALF_ROWS_MAX)
                    for (int h = 0; h < 2; h++)
                        half_passes[h == 0][M - 1](acc + o, g, x + c0, ldx, n, first, h);
                else
                    for (int c = 0; c < PACK_GROUP; c++)
                        for (int r0 = 0; r0 < M; r0 += COL_ROWS) {
                            int R = M - r0 < COL_ROWS ? M - r0 : COL_ROWS;
                            const int pf = r0 > 0 ? 0 : M > COL_ROWS ? PF_OWN : c == 0;
                            columns[pf][R - 1](acc + (size_t)r0 * PACK_BLOCK + o, g,
                                               x + (size_t)r0 * ldx + c0, ldx, n, first, c);
                        }
            continue;
        }
#endif
        for (int o = 0; o < PACK_BLOCK; o += PACK_GROUP, g += (size_t)n * PACK_GROUP)
            for (int r0 = 0; r0 < M; r0 += ROWS) {
                int R = M - r0 < ROWS ? M - r0 : ROWS;
                int pf = r0 == 0 ? PF_ALL : PF_NONE;
                if (ROWS >= 4 && PACK_GROUP == 4 && M > ROWS && r0 < 2 * ROWS)
                    pf = r0 == 0 ? PF_FIRST_HALF : PF_SECOND_HALF;
                passes[R - 1][pf](acc + (size_t)r0 * PACK_BLOCK + o, g, x + (size_t)r0 * ldx + c0, ldx, n,
                                  first);
            }
    }
    for (int r = 0; r < M; r++) {
        f32x16 v = sum16(acc + (size_t)r * PACK_BLOCK);
        float sums[LANES];
        memcpy(sums, &v, sizeof sums);
        for (int o = 0; o < valid; o++) out[(size_t)r * ldo + o] = sums[bitrev4[o]];
    }
}

void op_matmul_packed_rows(float *out, const float *inp, const float *wp, int M, int in_dim, int out_dim) {
    // out (M, O) = inp (M, I) @ w (O, I)^T with w in the decode layout; I a multiple of 16, so
    // every slice of x lies inside its row
    const int blocks = (int)(op_packed_rows(out_dim) / PACK_BLOCK);
    const size_t ldx = (size_t)in_dim, per_block = (size_t)PACK_BLOCK * in_dim;
    for (int m0 = 0; m0 < M; m0 += MAX_M) {
        int m = M - m0 < MAX_M ? M - m0 : MAX_M;
        // a contiguous range of blocks per thread (each thread reads one stream), then the others'
        // from their back ends (work_steal.h)
        steal_range ranges[omp_get_max_threads()];
#pragma omp parallel if ((size_t)m * in_dim * out_dim >= OP_PARALLEL_MIN_WORK)
        {
            steal_start(ranges, blocks);
            int b, stolen;
            while ((b = steal_next(ranges, &stolen)) >= 0) {
                int o0 = b * PACK_BLOCK, valid = out_dim - o0 < PACK_BLOCK ? out_dim - o0 : PACK_BLOCK;
                block_product(out + (size_t)m0 * out_dim + o0, (size_t)out_dim, inp + (size_t)m0 * ldx, ldx,
                              wp + (size_t)b * per_block, m, in_dim, valid);
            }
        }
    }
}

// Many rows (a prompt) are compute-bound, and sgemm does that part best:
// panels of PANEL rows of w are unpacked into scratch and multiplied, so no
// row-major copy of the whole matrix exists.
enum { PANEL = 1024 };

size_t op_packed_scratch_floats(int N, int max_in_dim) {
    return N <= MAX_M ? 0 : (size_t)PANEL * (size_t)max_in_dim + (size_t)N * PANEL;
}

void op_matmul_packed(float *out, const float *inp, const float *wp, int N, int in_dim, int out_dim,
                      float *scratch) {
    if (N <= MAX_M) {
        op_matmul_packed_rows(out, inp, wp, N, in_dim, out_dim);
        return;
    }
    float *w = scratch, *o = scratch + (size_t)PANEL * in_dim;  // (PANEL, I) and (N, PANEL)
    for (int p0 = 0; p0 < out_dim; p0 += PANEL) {
        int rows = out_dim - p0 < PANEL ? out_dim - p0 : PANEL;
        // rows p0.. are whole blocks (PANEL is a multiple of PACK_BLOCK)
        op_unpack(w, wp + (size_t)p0 * in_dim, rows, in_dim);
        cpu_matmul_forward(o, inp, w, N, in_dim, rows);
        for (int r = 0; r < N; r++)
            memcpy(out + (size_t)r * out_dim + p0, o + (size_t)r * rows, sizeof(float) * rows);
    }
}
