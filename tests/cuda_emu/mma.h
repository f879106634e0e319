// mma.h stand-in for the host emulation (emu.h): WMMA fragments that hold
// the whole tile in every lane. The hardware spreads a fragment over the
// warp's lanes in an unspecified way; kernels that only load, store, fill and
// multiply fragments (never index their elements) see the same results. A
// store writes only the elements the storing lane holds on an sm_80 / sm_90
// tensor core (element (r, c) of an accumulator: lane 4 (r mod 8) + (c mod 8) / 2),
// so a lane that reads a stored tile before the others have stored their parts
// (a missing __syncwarp) reads garbage, as on the hardware. The
// operand rules the hardware has are checked: pointers 256-bit aligned, leading
// dimensions a multiple of 16 bytes.
#pragma once
#include <stdint.h>

#include <type_traits>

#include "cuda_bf16.h"
#include "cuda_runtime.h"

void emu_fail(const char *what);

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
    static constexpr int rows = std::is_same<Use, matrix_b>::value ? K : M;
    static constexpr int cols = std::is_same<Use, matrix_a>::value ? K : N;
    T x[rows * cols];  // element (r, c) at x[r * cols + c]; the emulation's own layout
};

static inline float emu_value(float v) {
    return v;
}
static inline float emu_value(__nv_bfloat16 v) {
    return __bfloat162float(v);
}

template <typename T>
static inline void emu_check_operand(const T *p, unsigned ldm) {
    if ((uintptr_t)p % 32 != 0) emu_fail("wmma: a matrix pointer not 256-bit aligned");
    if (ldm * sizeof(T) % 16 != 0) emu_fail("wmma: a leading dimension not a multiple of 16 bytes");
}

template <typename Use, int M, int N, int K, typename T, typename Layout, typename V>
void fill_fragment(fragment<Use, M, N, K, T, Layout> &f, V value) {
    for (T &e : f.x) e = value;
}

template <typename Use, int M, int N, int K, typename T, typename Layout>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout> &f, const T *p, unsigned ldm) {
    typedef fragment<Use, M, N, K, T, Layout> F;
    emu_check_operand(p, ldm);
    for (int r = 0; r < F::rows; r++)
        for (int c = 0; c < F::cols; c++)
            f.x[r * F::cols + c] =
                std::is_same<Layout, col_major>::value ? p[(size_t)c * ldm + r] : p[(size_t)r * ldm + c];
}

template <int M, int N, int K>
void store_matrix_sync(float *p, const fragment<accumulator, M, N, K, float> &f, unsigned ldm,
                       layout_t layout) {
    emu_check_operand(p, ldm);
    const unsigned lane = threadIdx.x & 31;
    for (int r = 0; r < M; r++)
        for (int c = 0; c < N; c++)
            if ((unsigned)(((r & 7) << 2) | ((c & 7) >> 1)) == lane)
                (layout == mem_row_major ? p[(size_t)r * ldm + c] : p[(size_t)c * ldm + r]) = f.x[r * N + c];
}

// d = a b + c, float sums (bf16 products are exact in float)
template <int M, int N, int K, typename T, typename LA, typename LB>
void mma_sync(fragment<accumulator, M, N, K, float> &d, const fragment<matrix_a, M, N, K, T, LA> &a,
              const fragment<matrix_b, M, N, K, T, LB> &b, const fragment<accumulator, M, N, K, float> &c) {
    float out[M * N];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = c.x[i * N + j];
            for (int k = 0; k < K; k++) s += emu_value(a.x[i * K + k]) * emu_value(b.x[k * N + j]);
            out[i * N + j] = s;
        }
    for (int e = 0; e < M * N; e++) d.x[e] = out[e];
}

}  // namespace wmma
}  // namespace nvcuda
