// products.c (kernel_ab): decoding's few-row products on weights in DRAM, a
// kernel file at a git revision against the working tree's, alternately: the
// int8 product (ops/cpu/q8.c; PRODUCT_Q8) or the float32 decode layout's
// (ops/cpu/packed.c). The weights are a stack of `blocks` transformer blocks
// (q, k, v, o, gate, up, down) of width d and MLP width f, packed once by the
// library's current code (a change to the packed layout cannot be compared
// this way). Per row count: GB/s of weights, the median and quartiles of the
// per-pair ratios, and whether the outputs are the same bits.
//   products [--dim d] [--ffn f] [--blocks L] [--repeats R]
#include <stdint.h>

#include "common.h"
#include "ops/ops.h"

#ifdef PRODUCT_Q8
void old_op_q8_pack(int8_t *qp, float *sp, const int8_t *q, const float *scales, int out_dim, int in_dim);
void new_op_q8_pack(int8_t *qp, float *sp, const int8_t *q, const float *scales, int out_dim, int in_dim);
void old_op_quantize_rows_q8(int8_t *xq, float *xs, int32_t *xaux, const float *x, int M, int in_dim);
void new_op_quantize_rows_q8(int8_t *xq, float *xs, int32_t *xaux, const float *x, int M, int in_dim);
void old_op_matmul_q8(float *out, const int8_t *xq, const float *xs, const int32_t *xaux, const int8_t *qp,
                      const float *sp, int M, int in_dim, int out_dim);
void new_op_matmul_q8(float *out, const int8_t *xq, const float *xs, const int32_t *xaux, const int8_t *qp,
                      const float *sp, int M, int in_dim, int out_dim);
#define NAME "int8 (q8.c)"
#else
void old_op_matmul_packed_rows(float *out, const float *inp, const float *wp, int M, int in_dim, int out_dim);
void new_op_matmul_packed_rows(float *out, const float *inp, const float *wp, int M, int in_dim, int out_dim);
#define NAME "float32 decode layout (packed.c)"
#endif

enum { MATS = 7, MAX_M = 8 };

typedef struct {
    void **w, **w_old;  // (w_old: the old kernel's packing, where layouts differ)
    const float *x;
    float *out[2];
    int count, M, shape[MATS][2];  // shape: each matrix's in and out widths
#ifdef PRODUCT_Q8
    float **scales, *xs;
    int8_t *xq;
    int32_t *xaux;
#endif
} work;

// Every matrix of the stack times M rows, one after the other (int8: the rows
// quantized in each call, as the model does).
static void run(void *ctx, int side) {
    const work *k = ctx;
    for (int m = 0; m < k->count; m++) {
        const int in = k->shape[m % MATS][0], o = k->shape[m % MATS][1];
#ifdef PRODUCT_Q8
        // each side's own quantization: the side data's layout is the kernel's
        (side ? new_op_quantize_rows_q8 : old_op_quantize_rows_q8)(k->xq, k->xs, k->xaux, k->x, k->M, in);
        (side ? new_op_matmul_q8 : old_op_matmul_q8)(k->out[side], k->xq, k->xs, k->xaux,
                                                     side ? k->w[m] : k->w_old[m], k->scales[m], k->M, in, o);
#else
        (side ? new_op_matmul_packed_rows : old_op_matmul_packed_rows)(k->out[side], k->x, k->w[m], k->M, in,
                                                                       o);
#endif
    }
}

int main(int argc, char **argv) {
    int d = 1536, f = 4096, L = 16, R = 11;
    const ab_flag flags[] = {{"--dim", &d, 32, 16384},
                             {"--ffn", &f, 32, 65536},
                             {"--blocks", &L, 1, 256},
                             {"--repeats", &R, 1, AB_MAX_REPEATS}};
    ab_parse(argc, argv, "products", "[--dim d] [--ffn f] [--blocks L] [--repeats R]", flags, 4);
    if (d % 32 || f % 32) {
        fprintf(stderr, "products: --dim %d / --ffn %d: give multiples of 32\n", d, f);
        return 2;
    }
    const int shape[MATS][2] = {{d, d}, {d, d}, {d, d}, {d, d}, {d, f}, {d, f}, {f, d}};  // in, out
    const int count = L * MATS;
    void **w = ab_alloc(sizeof(void *) * count), **w_old = w;
#ifdef PRODUCT_Q8
    w_old = ab_alloc(sizeof(void *) * count);
    float **scales = ab_alloc(sizeof(float *) * count);
#endif
    double bytes = 0.0;
    for (int m = 0; m < count; m++) {
        const int in = shape[m % MATS][0], out = shape[m % MATS][1];
        float *dense = ab_filled((size_t)out * in, (unsigned)m, 0.1f);
#ifdef PRODUCT_Q8
        const size_t rows = op_q8_packed_rows(out), blocks = (size_t)in / OP_Q8_BLOCK;
        int8_t *q = ab_alloc((size_t)out * in);
        float *s = ab_alloc(sizeof(float) * (size_t)out * blocks);
        op_quantize_q8(q, s, dense, out, in);
        w[m] = ab_alloc(rows * in);
        scales[m] = ab_alloc(sizeof(float) * rows * blocks);
        w_old[m] = ab_alloc(rows * in);
        new_op_q8_pack(w[m], scales[m], q, s, out, in);
        old_op_q8_pack(w_old[m], scales[m], q, s, out, in);  // (the scales' layout is the same)
        bytes += (double)rows * in + sizeof(float) * (double)rows * blocks;
        free(q);
        free(s);
#else
        w[m] = ab_alloc(sizeof(float) * op_packed_floats(out, in));
        op_pack(w[m], dense, out, in);
        bytes += sizeof(float) * (double)op_packed_floats(out, in);
#endif
        free(dense);
    }
    const int width = f > d ? f : d;
    float *x = ab_filled((size_t)MAX_M * width, 7, 1.0f);
    float *out[2] = {ab_alloc(sizeof(float) * MAX_M * width), ab_alloc(sizeof(float) * MAX_M * width)};
#ifdef PRODUCT_Q8
    int8_t *xq = ab_alloc((size_t)MAX_M * width);
    float xs[MAX_M];
    int32_t *xaux = ab_alloc(sizeof(int32_t) * MAX_M * width);
#endif
    double *t[2] = {ab_alloc(sizeof(double) * R), ab_alloc(sizeof(double) * R)};
    printf("%s: %d blocks, d %d, f %d (%.0f MB of weights), %d alternating pairs; ratio = old / new\n\n",
           NAME, L, d, f, bytes / 1e6, R);
    printf("| rows | old GB/s | new GB/s | ratio (median) | quartiles | same bits |\n");
    printf("|---:|---:|---:|---:|---|---|\n");
    work wk = {.w = w, .w_old = w_old, .x = x, .out = {out[0], out[1]}, .count = count, .M = 1};
    memcpy(wk.shape, shape, sizeof shape);
#ifdef PRODUCT_Q8
    wk.scales = scales, wk.xq = xq, wk.xs = xs, wk.xaux = xaux;
#endif
    const int rows[] = {1, 2, 3, 4, 7, 8};
    for (int ri = 0; ri < 6; ri++) {
        wk.M = rows[ri];
        ab_pairs(R, t, run, &wk);
        ab_summary m = ab_summarize(t, R);
        printf("| %d | %.1f | %.1f | %.3f | %.3f-%.3f | %s |\n", wk.M, bytes / m.old_s / 1e9,
               bytes / m.new_s / 1e9, m.ratio, m.q1, m.q3,
               memcmp(out[0], out[1], sizeof(float) * (size_t)wk.M * d) ? "no" : "yes");
    }
    return 0;
}
