// tile_product.c: small matrix products held in registers, for the
// attention's (64 x 64) tiles. Through BLAS each tile product paid a call's
// fixed costs (packing both operands, scaling C by beta, a pass to check the
// arguments) on 64 x 64 x hd multiply-adds, and ran at a fifth of the
// machine; here a block of 4 rows x CV vectors of C stays in registers while
// the shared dimension streams past: per step one vector load per column
// vector, one broadcast per row, 4 x CV multiply-adds.
//
// Register budget: AVX-512 (32 registers of 16 floats) takes CV = 4: 16
// accumulators, 4 loads and a broadcast; AVX2 (16 registers of 8) CV = 2:
// 8 accumulators, 2 loads, a broadcast. Narrower column tails use 2 and 1
// vectors (a head dimension of 32 is 2 vectors of AVX-512), then scalars.
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "ops/cpu/cpu_ops.h"

#if defined(__AVX512F__)
enum { VW = 16, CV = 4 };
#elif defined(__AVX2__)
enum { VW = 8, CV = 2 };
#else
enum { VW = 4, CV = 2 };
#endif
enum { ROWS = 4 };
typedef float vf __attribute__((vector_size(VW * sizeof(float))));

static inline vf load_vf(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

// x in every lane, one broadcast instruction ((vf){0} + x would be an add:
// 0 + -0 is +0, so compilers may not drop it).
static inline vf splat_vf(float x) {
#if defined(__AVX512F__)
    __m512 b = _mm512_set1_ps(x);
#elif defined(__AVX2__)
    __m256 b = _mm256_set1_ps(x);
#else
    __m128 b = _mm_set1_ps(x);
#endif
    vf v;
    memcpy(&v, &b, sizeof v);
    return v;
}

// C (R, NV * VW) = or += alpha * sum over kk of A(r, kk) B(kk, :). R and NV
// are constants at every call, so the accumulators are registers.
static inline __attribute__((always_inline)) void block(float *C, int ldc, const float *A, ptrdiff_t rs,
                                                        ptrdiff_t ks, const float *B, int ldb, int K,
                                                        float alpha, int accumulate, const int R,
                                                        const int NV) {
    vf acc[ROWS][CV];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = (vf){0};
    for (int kk = 0; kk < K; kk++) {
        const float *b = B + (size_t)kk * ldb;
        vf bv[CV];
        for (int v = 0; v < NV; v++) {
            bv[v] = load_vf(b + v * VW);
            // compilers would fold the load into each of the R multiply-adds,
            // loading it R times; claiming to change the register keeps one load
#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
            __asm__("" : "+v"(bv[v]));
#elif defined(__GNUC__) || defined(__clang__)
            __asm__("" : "+x"(bv[v]));
#endif
        }
        for (int r = 0; r < R; r++) {
            const vf a = splat_vf(A[r * rs + kk * ks]);
            for (int v = 0; v < NV; v++) acc[r][v] += a * bv[v];
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) {
            float *c = C + (size_t)r * ldc + v * VW;
            vf out = acc[r][v] * alpha;
            if (accumulate) out += load_vf(c);
            memcpy(c, &out, sizeof out);
        }
}

// block() with R and NV as constants: R = 1..4 rows, NV = CV, 2 or 1 vectors.
static void dispatch(float *C, int ldc, const float *A, ptrdiff_t rs, ptrdiff_t ks, const float *B, int ldb,
                     int K, float alpha, int accumulate, int R, int NV) {
#define BLOCK(r, nv) block(C, ldc, A, rs, ks, B, ldb, K, alpha, accumulate, r, nv)
    if (NV == CV) {
        switch (R) {
            case 4:
                BLOCK(4, CV);
                break;
            case 3:
                BLOCK(3, CV);
                break;
            case 2:
                BLOCK(2, CV);
                break;
            default:
                BLOCK(1, CV);
                break;
        }
    } else if (NV == 2) {
        switch (R) {
            case 4:
                BLOCK(4, 2);
                break;
            case 3:
                BLOCK(3, 2);
                break;
            case 2:
                BLOCK(2, 2);
                break;
            default:
                BLOCK(1, 2);
                break;
        }
    } else {
        switch (R) {
            case 4:
                BLOCK(4, 1);
                break;
            case 3:
                BLOCK(3, 1);
                break;
            case 2:
                BLOCK(2, 1);
                break;
            default:
                BLOCK(1, 1);
                break;
        }
    }
#undef BLOCK
}

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
