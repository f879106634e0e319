// transpose.c: a strided matrix transposed into another, VN x VN blocks at a
// time in registers. The forward product packs the unembedding's weights
// (50k rows) transposed for every chunk of logits' rows, and an element at a
// time that copy took a quarter of the product (a Xeon; OpenBLAS's own copy
// half as long); the attention transposes its query tiles with it too.
//
// A block of VN rows is loaded as VN vectors and transposed by swapping its
// off-diagonal half-blocks, then quarter-blocks, and so on down to single
// lanes (log2 VN stages of two-vector shuffles, one instruction each on
// AVX-512 and AVX2).
#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/vecn.h"

#if defined(__AVX512F__) || defined(__AVX2__)
// Rows i and i + h, h a power of two: lanes of row i with bit h set swap with
// lanes of row i + h without it (the off-diagonal h x h blocks of the pair).
#define SWAP_STAGE(a, b, LO, HI)                     \
    do {                                             \
        vfn lo_ = __builtin_shufflevector(a, b, LO); \
        vfn hi_ = __builtin_shufflevector(a, b, HI); \
        a = lo_, b = hi_;                            \
    } while (0)
#if defined(__AVX512F__)
#define LO8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define HI8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define LO4 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define HI4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define LO2 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define HI2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define LO1 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define HI1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31
#else
#define LO4 0, 1, 2, 3, 8, 9, 10, 11
#define HI4 4, 5, 6, 7, 12, 13, 14, 15
#define LO2 0, 1, 8, 9, 4, 5, 12, 13
#define HI2 2, 3, 10, 11, 6, 7, 14, 15
#define LO1 0, 8, 2, 10, 4, 12, 6, 14
#define HI1 1, 9, 3, 11, 5, 13, 7, 15
#endif

// v[r] (lane c) = the block's element (r, c); afterwards v[c] (lane r).
static inline void transpose_vectors(vfn v[VN]) {
#if defined(__AVX512F__)
    for (int i = 0; i < 16; i++)
        if (!(i & 8)) SWAP_STAGE(v[i], v[i + 8], LO8, HI8);
#endif
    for (int i = 0; i < VN; i++)
        if (!(i & 4)) SWAP_STAGE(v[i], v[i + 4], LO4, HI4);
    for (int i = 0; i < VN; i++)
        if (!(i & 2)) SWAP_STAGE(v[i], v[i + 2], LO2, HI2);
    for (int i = 0; i < VN; i++)
        if (!(i & 1)) SWAP_STAGE(v[i], v[i + 1], LO1, HI1);
}
#endif

void cpu_transpose(float *dst, size_t dst_stride, const float *src, size_t src_stride, int rows, int cols) {
    int r0 = 0;
#if defined(__AVX512F__) || defined(__AVX2__)
    for (; r0 + VN <= rows; r0 += VN) {
        int c0 = 0;
        for (; c0 + VN <= cols; c0 += VN) {
            vfn v[VN];
            for (int r = 0; r < VN; r++) v[r] = loadn(src + (size_t)(r0 + r) * src_stride + c0);
            transpose_vectors(v);
            for (int c = 0; c < VN; c++) storen(dst + (size_t)(c0 + c) * dst_stride + r0, v[c]);
        }
        for (int r = r0; r < r0 + VN; r++)  // the last cols % VN columns
            for (int c = c0; c < cols; c++) dst[(size_t)c * dst_stride + r] = src[(size_t)r * src_stride + c];
    }
#endif
    for (int r = r0; r < rows; r++)  // the last rows % VN rows
        for (int c = 0; c < cols; c++) dst[(size_t)c * dst_stride + r] = src[(size_t)r * src_stride + c];
}
