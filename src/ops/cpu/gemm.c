// gemm.c: the model's matrix products (training, and the prefill's panels),
// blocked for the caches around the register-blocked kernel of
// tile_product.c. OpenBLAS's generic path reaches 70-85% of a Zen 4 core on
// the model's shapes (an inner dimension of 256-768, a few thousand rows):
// each call packs both operands whole and scales C by beta in a pass of its
// own. Here B is packed into panels of 64 columns shared by all threads; A is
// read in place where its rows are contiguous and packed in micro-panels of
// the kernel's rows where it is read transposed (weight gradients); C is
// written by the kernel directly; and each element of C is summed over k in
// one order by one thread, whatever the thread count.
//
// Blocking: a B panel (KC x 64) is 64 KB, in L2 while a row block sweeps it;
// a row block is up to MC_MAX rows (an A block of up to 128 KB); columns go
// NC at a time so packed B stays within 2 MB whatever N (the unembedding's
// 50k columns). Sizes chosen by measurement (docs/benchmarks.md): KC 384 and
// 512 helped the largest products and hurt the model's small ones; KC 128
// (a panel in L1) was slower on a Xeon too. B is packed even where its rows
// are contiguous: read in place, a panel's rows lie a row stride apart, and
// at the model's power-of-two strides (2048 floats) they fall in the same
// cache sets and evict each other (0.59 of OpenBLAS's speed on a Xeon, 0.85
// packed); only where few rows of A share the copy is B read in place.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "ops/cpu/cpu_ops.h"

enum { NR = 64, KC = 256, NC = 2048, MC_MAX = 128 };
// a row block is at most MC_MAX rows rounded up to the kernel's rows
enum { A_BLOCK_FLOATS = (MC_MAX + CPU_TILE_ROWS) * KC };

// The packing memory of the calling thread: B's block (KC x NC) and one A
// block (MC_MAX x KC) per thread. Kept between calls (the products of a step
// come in hundreds); each thread that calls has its own.
static _Thread_local float *pack_memory;
static _Thread_local size_t pack_floats;

static float *pack_buffer(size_t floats) {
    if (floats > pack_floats) {
        free(pack_memory);
        pack_memory = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
        pack_floats = pack_memory ? floats : 0;
    }
    return pack_memory;
}

int cpu_gemm(float *C, int ldc, const float *A, ptrdiff_t a_row_stride, ptrdiff_t a_k_stride, const float *B,
             ptrdiff_t b_k_stride, ptrdiff_t b_col_stride, int M, int N, int K, int accumulate) {
    if (M <= 0 || N <= 0) return 0;
    if (K <= 0) {  // an empty sum: C = 0, or C unchanged
        for (int r = 0; !accumulate && r < M; r++)
            for (int j = 0; j < N; j++) C[(size_t)r * ldc + j] = 0.0f;
        return 0;
    }
    const int threads = omp_get_max_threads();
    // row blocks: as few per thread as MC_MAX allows, of equal size (a multiple of the kernel's rows), so
    // each B panel fetched into the cache serves as many rows as it can
    const int per_thread = (M + threads * MC_MAX - 1) / (threads * MC_MAX);
    int mc = (M + threads * per_thread - 1) / (threads * per_thread);
    mc = (mc + CPU_TILE_ROWS - 1) / CPU_TILE_ROWS * CPU_TILE_ROWS;
    const int pack_a = a_k_stride != 1;  // a transposed A is packed so each row's k run is contiguous
    // B is packed where it is read transposed (the forward's weights), and where its rows are
    // contiguous if enough rows of A share the copy or its row stride is a multiple of 4 KB (the
    // rows would share cache sets). Unpacked: few rows of A against many of B, as the
    // unembedding's dinp in chunks of under 256 rows (166 rows against 50k: copying B cost a
    // third of the product's time)
    const int pack_b = b_col_stride != 1 || M >= 2 * MC_MAX || b_k_stride % 1024 == 0;
    float *Bp =
        pack_buffer((pack_b ? (size_t)KC * NC : 0) + (pack_a ? (size_t)threads * A_BLOCK_FLOATS : 0) + 1);
    if (!Bp) return -1;
    float *Ap_all = Bp + (pack_b ? (size_t)KC * NC : 0);
    const int row_blocks = (M + mc - 1) / mc;
    for (int j0 = 0; j0 < N; j0 += NC) {
        const int nc = N - j0 < NC ? N - j0 : NC, panels = (nc + NR - 1) / NR;
        for (int k0 = 0; k0 < K; k0 += KC) {
            const int kc = K - k0 < KC ? K - k0 : KC, add = accumulate || k0 > 0;
#pragma omp parallel num_threads(threads)
            {
                // Bp panel p (kc, NR) = B (k0.., j0 + p * NR..), columns past nc left unset (never read)
#pragma omp for schedule(static)
                for (int p = 0; p < (pack_b ? panels : 0); p++) {
                    float *dst = Bp + (size_t)p * KC * NR;
                    const int cols = nc - p * NR < NR ? nc - p * NR : NR;
                    const float *src = B + (size_t)k0 * b_k_stride + (size_t)(j0 + p * NR) * b_col_stride;
                    // k outer: each 64-float row of the panel is written whole (when B is read
                    // transposed, its 64 source rows are 64 streams the prefetchers follow)
                    if (b_col_stride == 1 && cols == NR)  // a fixed size: inline vector moves, no libc call
                        for (int kk = 0; kk < kc; kk++)
                            memcpy(dst + (size_t)kk * NR, src + (size_t)kk * b_k_stride, sizeof(float) * NR);
                    else if (b_col_stride == 1)
                        for (int kk = 0; kk < kc; kk++)
                            memcpy(dst + (size_t)kk * NR, src + (size_t)kk * b_k_stride,
                                   sizeof(float) * cols);
                    else if (b_k_stride == 1)  // B's columns contiguous in k: a transposing copy
                        cpu_transpose(dst, NR, src, (size_t)b_col_stride, cols, kc);
                    else
                        for (int kk = 0; kk < kc; kk++)
                            for (int j = 0; j < cols; j++)
                                dst[(size_t)kk * NR + j] =
                                    src[(size_t)kk * b_k_stride + (size_t)j * b_col_stride];
                }
                float *Ap = Ap_all + (size_t)omp_get_thread_num() * A_BLOCK_FLOATS;
                const int ldb = pack_b ? NR : (int)b_k_stride;
#define panel(p) (pack_b ? Bp + (size_t)(p)*KC * NR : B + (size_t)k0 * b_k_stride + j0 + (size_t)(p)*NR)
                // row blocks taken as threads come free: the cores of a shared machine do not run
                // at one speed, and waiting at the end of each k block was 7% of a GPT-2-small step
                // (one thread still computes each block whole, so the sums do not change)
#pragma omp for schedule(dynamic)
                for (int rb = 0; rb < row_blocks; rb++) {
                    const int r0 = rb * mc, rows = M - r0 < mc ? M - r0 : mc;
                    const float *a = A + (size_t)r0 * a_row_stride + (size_t)k0 * a_k_stride;
                    if (!pack_a) {
                        for (int p = 0; p < panels; p++) {
                            const int cols = nc - p * NR < NR ? nc - p * NR : NR;
                            cpu_tile_product(C + (size_t)r0 * ldc + j0 + p * NR, ldc, a, a_row_stride, 1,
                                             panel(p), ldb, rows, cols, kc, 1.0f, add);
                        }
                        continue;
                    }
                    // A read transposed: packed in micro-panels of the kernel's rows, each (kc,
                    // CPU_TILE_ROWS) with a k's rows side by side, so the kernel reads one contiguous run
                    for (int g = 0; g < rows; g += CPU_TILE_ROWS) {
                        const int gr = rows - g < CPU_TILE_ROWS ? rows - g : CPU_TILE_ROWS;
                        float *dst = Ap + (size_t)g * kc;
                        if (a_row_stride == 1 && gr == CPU_TILE_ROWS) {  // a weight gradient's dout^T: rows
                            for (int kk = 0; kk < kc; kk++)  // side by side, one fixed-size copy per k
                                memcpy(dst + (size_t)kk * CPU_TILE_ROWS, a + g + (size_t)kk * a_k_stride,
                                       sizeof(float) * CPU_TILE_ROWS);
                            continue;
                        }
                        for (int kk = 0; kk < kc; kk++)
                            for (int r = 0; r < gr; r++)
                                dst[(size_t)kk * gr + r] =
                                    a[(size_t)(g + r) * a_row_stride + (size_t)kk * a_k_stride];
                    }
                    for (int p = 0; p < panels; p++) {
                        const int cols = nc - p * NR < NR ? nc - p * NR : NR;
                        for (int g = 0; g < rows; g += CPU_TILE_ROWS) {
                            const int gr = rows - g < CPU_TILE_ROWS ? rows - g : CPU_TILE_ROWS;
                            cpu_tile_product(C + (size_t)(r0 + g) * ldc + j0 + p * NR, ldc,
                                             Ap + (size_t)g * kc, 1, gr, panel(p), ldb, gr, cols, kc, 1.0f,
                                             add);
                        }
                    }
                }
            }
        }
    }
#undef panel
    return 0;
}
