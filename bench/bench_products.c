// bench_products.c: the model's matrix products, mtp's own (ops/cpu/gemm.c,
// through op_matmul_forward/backward) against the BLAS library's sgemm on the
// same operands and transposes, timed alternately; prints the median of the
// per-pair speed ratios, which stays put on a shared machine where absolute
// GFLOP/s do not. One row per product of a block (forward, input gradient,
// weight gradient) at a config's shapes, and the unembedding's per chunk.
//
//   build/bench/bench_products [--dim d] [--ffn-dim f] [--rows N] [--vocab-size V]
//                              [--chunk-rows R] [--threads T] [--repeats K]
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "model/model.h"
#include "ops/ops.h"

typedef enum { FORWARD, INPUT_GRAD, WEIGHT_GRAD } product_kind;

static const char *kind_names[] = {"forward", "input grad", "weight grad"};

static float *filled(size_t n) {
    float *p = malloc(sizeof(float) * n);
    if (!p) {
        fprintf(stderr, "bench_products: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = (float)((int)(i * 2654435761u % 2001) - 1000) / 1000.0f;
    return p;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// One product of a linear layer out (N, out_dim) = inp (N, in_dim) @ w (out_dim, in_dim)^T, ours then BLAS,
// `repeats` times.
static void compare(const char *name, product_kind kind, int N, int in_dim, int out_dim, int repeats) {
    float *inp = filled((size_t)N * in_dim), *w = filled((size_t)out_dim * in_dim),
          *dout = filled((size_t)N * out_dim);
    float *out = filled((size_t)N * (in_dim > out_dim ? in_dim : out_dim)),
          *dw = filled((size_t)out_dim * in_dim);
    double *ratio = malloc(sizeof(double) * repeats), *ours = malloc(sizeof(double) * repeats);
    double *blas = malloc(sizeof(double) * repeats);
    if (!ratio || !ours || !blas) {
        fprintf(stderr, "bench_products: out of memory\n");
        exit(1);
    }
    const double flop = 2.0 * N * in_dim * out_dim;
    for (int r = 0; r < repeats; r++) {
        double t0 = mtp_now();
        if (kind == FORWARD)
            op_matmul_forward(out, inp, w, N, in_dim, out_dim);
        else if (kind == INPUT_GRAD)
            op_matmul_backward(out, NULL, dout, inp, w, N, in_dim, out_dim, 0);
        else
            op_matmul_backward(NULL, dw, dout, inp, w, N, in_dim, out_dim, 0);
        double t1 = mtp_now();
        if (kind == FORWARD)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out_dim, in_dim, 1.0f, inp, in_dim, w,
                        in_dim, 0.0f, out, out_dim);
        else if (kind == INPUT_GRAD)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in_dim, out_dim, 1.0f, dout, out_dim, w,
                        in_dim, 0.0f, out, in_dim);
        else
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_dim, in_dim, N, 1.0f, dout, out_dim, inp,
                        in_dim, 1.0f, dw, in_dim);
        double t2 = mtp_now();
        ours[r] = flop / (t1 - t0) / 1e9, blas[r] = flop / (t2 - t1) / 1e9;
        ratio[r] = (t2 - t1) / (t1 - t0);
    }
    qsort(ratio, repeats, sizeof(double), by_value);
    qsort(ours, repeats, sizeof(double), by_value);
    qsort(blas, repeats, sizeof(double), by_value);
    printf("| %s | %s | %d x %d x %d | %.0f | %.0f | %.2f |\n", name, kind_names[kind], N, in_dim, out_dim,
           ours[repeats / 2], blas[repeats / 2], ratio[repeats / 2]);
    free(inp), free(w), free(dout), free(out), free(dw), free(ratio), free(ours), free(blas);
}

static int arg_int(int argc, char **argv, int *i, const char *flag, int *value) {
    if (strcmp(argv[*i], flag) != 0) return 0;
    if (*i + 1 >= argc || (*value = atoi(argv[*i + 1])) <= 0) {
        fprintf(stderr, "bench_products: %s needs a positive integer\n", flag);
        exit(2);
    }
    (*i)++;
    return 1;
}

int main(int argc, char **argv) {
    // the small config of bench/bench_train.py: d 256, f 704, B x T = 8 x 256 rows
    int d = 256, f = 0, N = 2048, V = 0, chunk = 0, threads = 2, repeats = 9;
    for (int i = 1; i < argc; i++) {
        if (arg_int(argc, argv, &i, "--dim", &d) || arg_int(argc, argv, &i, "--ffn-dim", &f) ||
            arg_int(argc, argv, &i, "--rows", &N) || arg_int(argc, argv, &i, "--vocab-size", &V) ||
            arg_int(argc, argv, &i, "--chunk-rows", &chunk) ||
            arg_int(argc, argv, &i, "--threads", &threads) || arg_int(argc, argv, &i, "--repeats", &repeats))
            continue;
        fprintf(stderr,
                "usage: bench_products [--dim d] [--ffn-dim f] [--rows N] [--vocab-size V] [--chunk-rows R]\n"
                "       [--threads T] [--repeats K]\n"
                "mtp's matrix products against the BLAS library's at a model's shapes (default: the\n"
                "small config, d 256, N 2048 rows); with --vocab-size also the unembedding's, per chunk\n"
                "of R rows (default: as many as training computes at once)\n");
        return 2;
    }
    if (!f) f = (8 * d / 3 + 63) / 64 * 64;  // the model's default
    if (V && !chunk) {                       // as training chunks them
        mtp_config c = {.vocab_size = V};
        chunk = model_logit_chunk_rows(&c, (size_t)N);
    }
    op_set_threads(threads);
    printf("d %d, f %d, %d rows, %d threads, median of %d alternating pairs; ratio = BLAS time / ours\n\n", d,
           f, N, threads, repeats);
    printf("| product | pass | N x I x O | ours GFLOP/s | BLAS GFLOP/s | ours vs BLAS |\n");
    printf("|---|---|---|---:|---:|---:|\n");
    const struct {
        const char *name;
        int in, out, rows;
    } products[] = {
        {"q, k, v", d, 3 * d, N},
        {"output", d, d, N},
        {"gate, up", d, 2 * f, N},
        {"down", f, d, N},
        {"unembedding (a chunk)", d, V, chunk},
    };
    for (size_t p = 0; p < sizeof products / sizeof products[0]; p++) {
        if (!products[p].out || !products[p].rows) continue;
        for (int kind = FORWARD; kind <= WEIGHT_GRAD; kind++)
            compare(products[p].name, (product_kind)kind, products[p].rows, products[p].in, products[p].out,
                    repeats);
    }
    return 0;
}
