// gemm.c: the model's matrix products (training, and the prefill's panels),
// blocked for the caches around the register-blocked kernel of
// tile_product.c. OpenBLAS's generic path reaches 70-85% of a Zen 4 core on
// the model's shapes (an inner dimension of 256-768, a few thousand rows):
// each call packs both operands whole and scales C by beta in a pass of its
// own. Here B is packed into panels of 64 columns shared by all threads where
// it must be; A is read in place where its rows are contiguous and packed in
// micro-panels of the kernel's rows where it is read transposed (weight
// gradients); C is written by the kernel directly; and each element of C is
// summed over k in one order by one thread, whatever the thread count.
//
// Blocking: a B panel (KC x 64) is 64 KB, in L2 while a row block sweeps it;
// a row block is up to MC_MAX rows (an A block of up to 128 KB); columns go
// NC at a time so packed B stays within 2 MB whatever N (the unembedding's
// 50k columns). Sizes chosen by measurement (docs/benchmarks.md): KC 384 and
// 512 helped the largest products and hurt the model's small ones; KC 128
// (a panel in L1) was slower on a Xeon too; but with 2 MB of L2 a core, k goes
// in blocks of up to 768 where B is packed and A read in place (a 192 KB
// panel), and of up to 512 where A is packed, so C is read back and added to
// fewer times (once at d = 768). B is packed where it is read
// transposed (the forward's weights), and where its rows are contiguous if
// many rows of A share the copy or its row stride is a multiple of 4 KB: read
// in place, a panel's rows lie a row stride apart, and at the model's
// power-of-two strides (2048 floats) they fall in the same cache sets and
// evict each other (0.59 of OpenBLAS's speed on a Xeon, 0.85 packed).
#define _POSIX_C_SOURCE 200809L  // sysconf
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/cpu/cpu_ops.h"

enum { NR = 64, KC = 256, NC = 2048, MC_MAX = 128 };
// With long_k_blocks(): k blocks of up to KC_WHOLE where B is packed and A read
// in place, of up to KC_PACKED_A where A is packed; packed B blocks of up to
// B_BLOCK_FLOATS (1.5 MB) where k blocks are longer than KC.
enum { KC_WHOLE = 768, KC_PACKED_A = 512, B_BLOCK_FLOATS = 3 << 17 };
// the most a k block of B may span, read in place by a weight gradient (512 KB)
enum { B_SPAN_FLOATS = 1 << 17 };

// The packing memory of the calling thread: B's block and one A block per
// thread. Kept between calls (the products of a step come in hundreds); each
// thread that calls has its own, freed when the thread exits (a server that
// runs each request on a thread of its own would otherwise leak one a thread).
static _Thread_local float *pack_memory;
static _Thread_local size_t pack_floats;
static pthread_key_t pack_key;
static pthread_once_t pack_key_once = PTHREAD_ONCE_INIT;
static int pack_key_made;

static void make_pack_key(void) {
    pack_key_made = pthread_key_create(&pack_key, free) == 0;
}

static float *pack_buffer(size_t floats) {
    if (floats > pack_floats) {
        pthread_once(&pack_key_once, make_pack_key);
        free(pack_memory);
        pack_memory = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
        pack_floats = pack_memory ? floats : 0;
        // the key's value is what the thread's exit frees
        if (pack_key_made) pthread_setspecific(pack_key, pack_memory);
    }
    return pack_memory;
}

// One product's operands and blocking, as cpu_gemm received them.
typedef struct {
    float *C;
    int ldc;
    const float *A;
    ptrdiff_t a_row_stride, a_k_stride;
    const float *B;
    ptrdiff_t b_k_stride, b_col_stride;
    int M, N, K, accumulate;
    int mc;           // rows of a row block (a multiple of the kernel's rows)
    const float *Bp;  // B's packed block (kcb x ncb), or NULL: B read in place
    int kcb, ncb;     // k and column block sizes
} gemm_args;

// Bp's panel p (kc, NR) = B (k0.., j0 + p * NR..), columns past nc left unset (never read).
static void pack_b_panel(float *dst, const gemm_args *g, int j0, int k0, int nc, int kc, int p) {
    const int cols = nc - p * NR < NR ? nc - p * NR : NR;
    const ptrdiff_t bk = g->b_k_stride, bc = g->b_col_stride;
    const float *src = g->B + (size_t)k0 * bk + (size_t)(j0 + p * NR) * bc;
    // k outer: each 64-float row of the panel is written whole (when B is read
    // transposed, its 64 source rows are 64 streams the prefetchers follow)
    if (bc == 1 && cols == NR)  // a fixed size: inline vector moves, no libc call
        for (int kk = 0; kk < kc; kk++)
            memcpy(dst + (size_t)kk * NR, src + (size_t)kk * bk, sizeof(float) * NR);
    else if (bc == 1)
        for (int kk = 0; kk < kc; kk++)
            memcpy(dst + (size_t)kk * NR, src + (size_t)kk * bk, sizeof(float) * cols);
    else if (bk == 1)  // B's columns contiguous in k: a transposing copy
        cpu_transpose(dst, NR, src, (size_t)bc, cols, kc);
    else
        for (int kk = 0; kk < kc; kk++)
            for (int j = 0; j < cols; j++) dst[(size_t)kk * NR + j] = src[(size_t)kk * bk + (size_t)j * bc];
}

// C (rows r0.., columns j0 .. j0+nc) (+)= A (r0.., k0 .. k0+kc) B (k0.., j0..): one row block's
// share of one (k, column) block, its panels p0 .. p1-1 (of 64 columns). Ap: this thread's A block
// (packed A only).
static void row_block(const gemm_args *g, float *Ap, int rb, int j0, int k0, int nc, int kc, int p0, int p1) {
    const int r0 = rb * g->mc, rows = g->M - r0 < g->mc ? g->M - r0 : g->mc;
    const int add = g->accumulate || k0 > 0;
    const ptrdiff_t rs = g->a_row_stride, ks = g->a_k_stride;
    const float *a = g->A + (size_t)r0 * rs + (size_t)k0 * ks;
    const int ldb = g->Bp ? NR : (int)g->b_k_stride;
#define panel(p) \
    (g->Bp ? g->Bp + (size_t)(p)*g->kcb * NR : g->B + (size_t)k0 * g->b_k_stride + j0 + (size_t)(p)*NR)
    float *C = g->C + (size_t)r0 * g->ldc + j0;
    if (ks == 1) {
        for (int p = p0; p < p1; p++) {
            const int cols = nc - p * NR < NR ? nc - p * NR : NR;
            cpu_tile_product(C + p * NR, g->ldc, a, rs, 1, panel(p), ldb, rows, cols, kc, 1.0f, add);
        }
        return;
    }
    // A read transposed: packed in micro-panels of the kernel's rows, each (kc,
    // CPU_TILE_ROWS) with a k's rows side by side, so the kernel reads one contiguous run
    for (int q = 0; q < rows; q += CPU_TILE_ROWS) {
        const int gr = rows - q < CPU_TILE_ROWS ? rows - q : CPU_TILE_ROWS;
        float *dst = Ap + (size_t)q * kc;
        if (rs == 1 && gr == CPU_TILE_ROWS) {  // a weight gradient's dout^T: rows side by
            for (int kk = 0; kk < kc; kk++)    // side, one fixed-size copy per k
                memcpy(dst + (size_t)kk * CPU_TILE_ROWS, a + q + (size_t)kk * ks,
                       sizeof(float) * CPU_TILE_ROWS);
            continue;
        }
        for (int kk = 0; kk < kc; kk++)
            for (int r = 0; r < gr; r++) dst[(size_t)kk * gr + r] = a[(size_t)(q + r) * rs + (size_t)kk * ks];
    }
    for (int p = p0; p < p1; p++) {
        const int cols = nc - p * NR < NR ? nc - p * NR : NR;
        for (int q = 0; q < rows; q += CPU_TILE_ROWS) {
            const int gr = rows - q < CPU_TILE_ROWS ? rows - q : CPU_TILE_ROWS;
            cpu_tile_product(C + (size_t)q * g->ldc + p * NR, g->ldc, Ap + (size_t)q * kc, 1, gr, panel(p),
                             ldb, gr, cols, kc, 1.0f, add);
        }
    }
#undef panel
}

// Whether this machine takes the longer k blocks (KC_WHOLE, KC_PACKED_A): they were measured on a
// Xeon with 2 MB of L2 a core, which holds a row block of A 768 deep (384 KB) beside its 192 KB B
// panel; a Zen 3 (512 KB) or Zen 4 (1 MB) does not, and there k blocks of 384-512 were slower than
// 256 on the small config's products. L2 unknown: the short blocks. A build may fix the L2 size it
// assumes (make OPT="... -DMTP_ASSUME_L2_BYTES=524288"): a Zen 3's blocking on another machine.
static int long_k_blocks(void) {
    static _Thread_local int known = -1;
    if (known < 0) {
#if defined(MTP_ASSUME_L2_BYTES)
        known = (long)(MTP_ASSUME_L2_BYTES) >= (2L << 20);
#elif defined(_SC_LEVEL2_CACHE_SIZE)
        known = sysconf(_SC_LEVEL2_CACHE_SIZE) >= (2L << 20);
#else
        known = 0;
#endif
    }
    return known;
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
    const int row_blocks = (M + mc - 1) / mc;
    // k blocks: KC where A and B are both read in place; else k in equal blocks of at most 768 (A read
    // in place: all of k at d = 768) or 512 (A packed: a weight gradient, the unembedding's over a
    // 512-row chunk), so C is read back and added to fewer times: forward products at d = 704-768
    // 5-10% faster, the unembedding's input gradient (k = 50304) 2-5%, its weight gradient 3-7% (C:
    // 154 MB); on machines with 2 MB of L2 a core (long_k_blocks). They do not depend on the thread
    // count, so neither do the sums (below, a weight gradient's B may be packed on one thread and not
    // on two).
    const int b_rows_contiguous = b_col_stride == 1 && b_k_stride % 1024 != 0;  // 4 KB strides: same sets
    int kcb = KC, ncb = NC;
    if (long_k_blocks() && (pack_a || !b_rows_contiguous || M >= 2 * MC_MAX)) {
        const int most = pack_a ? KC_PACKED_A : KC_WHOLE;
        const int k_blocks = (K + most - 1) / most;
        kcb = (K + k_blocks - 1) / k_blocks;
    }
    // B read in place (rows contiguous, at a stride that is not a multiple of 4 KB) where few rows of A
    // share a copy: the unembedding's dinp in chunks of under 256 rows (166 rows against 50k: copying
    // B cost a third of the product's time), and weight gradients of at most a row block a thread whose
    // k block of B spans at most 512 KB (their long k runs then wait for no packing, block by block: the
    // small config's 256 x 256 ones 2-20% faster; with more row blocks each streams B again, 6-8% slower
    // at 704 rows, and B's rows 2.75 KB apart, 352 pages a k block, were 7-12% slower in place)
    const int pack_b =
        !b_rows_contiguous ||
        (pack_a ? row_blocks > threads || (size_t)kcb * b_k_stride > B_SPAN_FLOATS : M >= 2 * MC_MAX);
    // column blocks keep a packed B of longer k blocks within 1.5 MB
    if (pack_b && kcb > KC) {
        ncb = (int)(B_BLOCK_FLOATS / kcb) / NR * NR;
        if (ncb > NC) ncb = NC;
    }
    // a thread's packed A block: a row block (mc rows, a multiple of the kernel's rows) by a k block,
    // rounded to 64 bytes so each thread's block starts a cache line of its own
    const size_t a_block = pack_a ? ((size_t)mc * kcb + 15) / 16 * 16 : 0;
    float *Bp = pack_buffer((pack_b ? (size_t)kcb * ncb : 0) + (size_t)threads * a_block + 1);
    if (!Bp) return -1;
    float *Ap_all = Bp + (pack_b ? (size_t)kcb * ncb : 0);
    gemm_args g = {C, ldc, A,          a_row_stride, a_k_stride,         B,   b_k_stride, b_col_stride, M,
                   N, K,   accumulate, mc,           pack_b ? Bp : NULL, kcb, ncb};
    if (!pack_b) {
        // nothing shared between row blocks: one region, each row block summed over all of k by one thread
        // in k order (row blocks taken as threads come free)
#pragma omp parallel num_threads(threads)
        {
            float *Ap = Ap_all + (size_t)omp_get_thread_num() * a_block;
#pragma omp for schedule(dynamic)
            for (int rb = 0; rb < row_blocks; rb++)
                for (int j0 = 0; j0 < N; j0 += NC) {
                    const int nc = N - j0 < NC ? N - j0 : NC;
                    for (int k0 = 0; k0 < K; k0 += kcb)
                        row_block(&g, Ap, rb, j0, k0, nc, K - k0 < kcb ? K - k0 : kcb, 0, (nc + NR - 1) / NR);
                }
        }
        return 0;
    }
    for (int j0 = 0; j0 < N; j0 += ncb) {
        const int nc = N - j0 < ncb ? N - j0 : ncb, panels = (nc + NR - 1) / NR;
        // work handed out as (row block, group of panels): with A read in place, few row blocks (the
        // unembedding's 512 rows make 4) are cut into at least 4 units a thread, so a thread that
        // falls behind leaves less for the other to wait on (the unembedding's input gradient 5-9%
        // faster); a packed A is packed once per row block, so its row blocks stay whole
        int groups = pack_a ? 1 : (4 * threads + row_blocks - 1) / row_blocks;
        if (groups > panels / 2) groups = panels / 2 > 0 ? panels / 2 : 1;
        for (int k0 = 0; k0 < K; k0 += kcb) {
            const int kc = K - k0 < kcb ? K - k0 : kcb;
#pragma omp parallel num_threads(threads)
            {
#pragma omp for schedule(static)
                for (int p = 0; p < panels; p++)
                    pack_b_panel(Bp + (size_t)p * kcb * NR, &g, j0, k0, nc, kc, p);
                float *Ap = Ap_all + (size_t)omp_get_thread_num() * a_block;
                // units taken as threads come free: the cores of a shared machine do not run at
                // one speed, and waiting at the end of each k block was 7% of a GPT-2-small step
                // (one thread still computes each element of C, so the sums do not change)
#pragma omp for schedule(dynamic)
                for (int u = 0; u < row_blocks * groups; u++) {
                    const int per = (panels + groups - 1) / groups, gi = u % groups;
                    const int p1 = (gi + 1) * per < panels ? (gi + 1) * per : panels;
                    if (gi * per < p1) row_block(&g, Ap, u / groups, j0, k0, nc, kc, gi * per, p1);
                }
            }
        }
    }
    return 0;
}
