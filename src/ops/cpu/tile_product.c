// tile_product.c: small matrix products held in registers, the kernel of
// the attention's (64 x 64) tiles and of the blocked products of gemm.c.
// Through BLAS each attention tile paid a call's fixed costs (packing both
// operands, scaling C by beta, checking the arguments) on 64 x 64 x hd
// multiply-adds, and ran at a fifth of the machine; here a block of
// CPU_TILE_ROWS rows x CV vectors of C stays in registers while the shared
// dimension streams past: per step one vector load per column vector, one
// broadcast per row, rows x CV multiply-adds.
//
// Register budget: AVX-512 (32 registers of 16 floats) takes 6 rows x CV = 4
// vectors: 24 accumulators, 4 loads and a broadcast; AVX2 (16 registers of 8)
// 6 rows x 2 vectors: 12 accumulators, 2 loads, a broadcast. Six rows rather
// than four on AVX-512: the column vectors come from L2 in a large product (a
// 64 KB panel), and on Intel cores, which retire two 512-bit multiply-adds a
// cycle, 4 rows asked 32 bytes a cycle of L2, more than it sustains beside the
// other traffic; 6 rows ask 21 (docs/benchmarks.md, "Products on Intel"). Narrower column
// tails use 2 and 1 vectors (a head dimension of 32 is 2 vectors of
// AVX-512), then scalars. Each element of C is one accumulator summed over k
// in order, whichever block it falls in.
#include <stddef.h>
#include <string.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/vecn.h"

#if defined(__AVX512F__)
enum { CV = 4 };  // 6 rows: 24 accumulators + 4 B vectors + a broadcast of 32 registers
#else
enum { CV = 2 };  // 6 rows: 12 accumulators + 2 B vectors + a broadcast of 16
#endif
enum { VW = VN, ROWS = CPU_TILE_ROWS };
typedef vfn vf;

// C (R, NV * VW) = or += alpha * sum over kk of A(r, kk) B(kk, :). R and NV
// are constants at every call, so the accumulators are registers.
static inline __attribute__((always_inline)) void block(float *C, int ldc, const float *A, ptrdiff_t rs,
                                                        ptrdiff_t ks, const float *B, int ldb, int K,
                                                        float alpha, int accumulate, const int R,
                                                        const int NV) {
    vf acc[ROWS][CV];  // R <= ROWS
    // C's rows are fetched while the sum runs: in a large product they were
    // last touched many tiles ago, and waiting for them at the end cost 5-8%
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) __builtin_prefetch(C + (size_t)r * ldc + v * VW, 1);
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = (vf){0};
    for (int kk = 0; kk < K; kk++) {
        const float *b = B + (size_t)kk * ldb;
        vf bv[CV];
        for (int v = 0; v < NV; v++) {
            bv[v] = loadn(b + v * VW);
            // compilers would fold the load into each of the R multiply-adds,
            // loading it R times; claiming to change the register keeps one load
#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
            __asm__("" : "+v"(bv[v]));
#elif defined(__GNUC__) || defined(__clang__)
            __asm__("" : "+x"(bv[v]));
#endif
        }
        for (int r = 0; r < R; r++) {
            const vf a = splatn(A[r * rs + kk * ks]);
            for (int v = 0; v < NV; v++) acc[r][v] += a * bv[v];
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) {
            float *c = C + (size_t)r * ldc + v * VW;
            vf out = acc[r][v] * alpha;
            if (accumulate) out += loadn(c);
            memcpy(c, &out, sizeof out);
        }
}

// block() with R and NV as constants: R = 1..ROWS rows, NV = CV, 2 or 1 vectors.
#define BLOCK(r, nv) block(C, ldc, A, rs, ks, B, ldb, K, alpha, accumulate, r, nv)
#define ROW_CASES(nv)     \
    switch (R) {          \
        case 6:           \
            BLOCK(6, nv); \
            break;        \
        case 5:           \
            BLOCK(5, nv); \
            break;        \
        case 4:           \
            BLOCK(4, nv); \
            break;        \
        case 3:           \
            BLOCK(3, nv); \
            break;        \
        case 2:           \
            BLOCK(2, nv); \
            break;        \
        default:          \
            BLOCK(1, nv); \
            break;        \
    }
static void dispatch(float *C, int ldc, const float *A, ptrdiff_t rs, ptrdiff_t ks, const float *B, int ldb,
                     int K, float alpha, int accumulate, int R, int NV) {
    if (NV == CV)
        ROW_CASES(CV)
    else if (NV == 2)
        ROW_CASES(2)
    else
        ROW_CASES(1)
}
#undef ROW_CASES
#undef BLOCK

void cpu_tile_product(float *C, int ldc, const float *A, ptrdiff_t a_row_stride, ptrdiff_t a_k_stride,
                      const float *B, int ldb, int M, int N, int K, float alpha, int accumulate) {
    const ptrdiff_t rs = a_row_stride, ks = a_k_stride;
    for (int r0 = 0; r0 < M; r0 += ROWS) {
        const int R = M - r0 < ROWS ? M - r0 : ROWS;
        const float *Ar = A + r0 * rs;
        float *Cr = C + (size_t)r0 * ldc;
        int col = 0;
        for (; col + CV * VW <= N; col += CV * VW)
            dispatch(Cr + col, ldc, Ar, rs, ks, B + col, ldb, K, alpha, accumulate, R, CV);
        for (; col + 2 * VW <= N; col += 2 * VW)
            dispatch(Cr + col, ldc, Ar, rs, ks, B + col, ldb, K, alpha, accumulate, R, 2);
        for (; col + VW <= N; col += VW)
            dispatch(Cr + col, ldc, Ar, rs, ks, B + col, ldb, K, alpha, accumulate, R, 1);
        for (; col < N; col++)  // the last N % VW columns
            for (int r = 0; r < R; r++) {
                float s = 0.0f;
                for (int kk = 0; kk < K; kk++) s += Ar[r * rs + kk * ks] * B[(size_t)kk * ldb + col];
                float *c = Cr + (size_t)r * ldc + col;
                *c = accumulate ? *c + alpha * s : alpha * s;
            }
    }
}
