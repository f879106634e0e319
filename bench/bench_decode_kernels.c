// bench_decode_kernels.c: speed of the decoding kernels for a few rows, the
// numbers behind "a verification forward over K+1 rows should cost about one
// single-row step". For each shape: the few-row product (ops/cpu/
// decode_matmul.c) against OpenBLAS sgemm for M = 1..8 rows, and the
// attention of M query rows against a KV cache. Weights stay in cache (the
// same matrix every call), so this measures arithmetic, not memory traffic.
// Repeats are interleaved across M and the median is reported.
//   build/bench/bench_decode_kernels [--threads N] [--repeats R]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "ops/ops.h"

enum { MAX_M = 8 };

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static float *filled(size_t n, float scale) {
    float *p = malloc(sizeof(float) * n);
    if (!p) {
        fprintf(stderr, "bench_decode_kernels: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = scale * (float)((int)(i * 2654435761u % 2001) - 1000) / 1000.0f;
    return p;
}

// One row per M: microseconds of our kernel and of sgemm, and our GFLOP/s.
static void bench_matmul(int I, int O, int repeats) {
    float *w = filled((size_t)I * O, 0.05f), *x = filled((size_t)MAX_M * I, 1.0f);
    float *out = filled((size_t)MAX_M * O, 0.0f);
    double *ours = malloc(sizeof(double) * MAX_M * repeats), *blas = malloc(sizeof(double) * MAX_M * repeats);
    for (int r = 0; r < repeats; r++)
        for (int M = 1; M <= MAX_M; M++) {
            double t0 = mtp_now();
            op_matmul_rows_forward(out, x, w, M, I, O);
            ours[(M - 1) * repeats + r] = mtp_now() - t0;
            t0 = mtp_now();
            op_matmul_forward(out, x, w, M, I, O);
            blas[(M - 1) * repeats + r] = mtp_now() - t0;
        }
    double one = median(ours, repeats);  // M = 1 is the first block
    for (int M = 1; M <= MAX_M; M++) {
        double a = median(ours + (M - 1) * repeats, repeats), b = median(blas + (M - 1) * repeats, repeats);
        printf("| %d x %d | %d | %.1f | %.2fx | %.1f | %.1f |\n", I, O, M, a * 1e6, a / one,
               2.0 * M * I * O / a * 1e-9, b * 1e6);
    }
    free(w), free(x), free(out), free(ours), free(blas);
}

static void bench_attention(int H, int hd, int keys, int repeats) {
    const size_t row = (size_t)H * hd;
    float *q = filled(MAX_M * row, 1.0f), *k = filled((size_t)keys * row, 1.0f),
          *v = filled((size_t)keys * row, 1.0f);
    float *out = filled(MAX_M * row, 0.0f);
    double *t = malloc(sizeof(double) * MAX_M * repeats);
    for (int r = 0; r < repeats; r++)
        for (int M = 1; M <= MAX_M; M++) {
            double t0 = mtp_now();
            op_attention_rows_forward(out, q, k, v, M, keys, H, H, hd, op_kv_heads(keys, hd));
            t[(M - 1) * repeats + r] = mtp_now() - t0;
        }
    double one = median(t, repeats);
    for (int M = 1; M <= MAX_M; M++) {
        double a = median(t + (M - 1) * repeats, repeats);
        printf("| H=%d hd=%d, %d keys | %d | %.1f | %.2fx |\n", H, hd, keys, M, a * 1e6, a / one);
    }
    free(q), free(k), free(v), free(out), free(t);
}

int main(int argc, char **argv) {
    int threads = 1, repeats = 51;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_decode_kernels [--threads N] [--repeats R]\n");
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (threads < 1 || repeats < 1) {
        fprintf(stderr, "bench_decode_kernels: --threads and --repeats must be positive\n");
        return 2;
    }
    op_set_threads(threads);
    printf("threads %d, median of %d interleaved repeats\n\n", threads, repeats);
    printf(
        "| shape (in x out) | rows M | ours us | vs M=1 | ours GFLOP/s | sgemm us "
        "|\n|---|---:|---:|---:|---:|---:|\n");
    int shapes[][2] = {{256, 256}, {256, 704}, {704, 256}, {256, 8192}, {512, 1408}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        bench_matmul(shapes[s][0], shapes[s][1], repeats);
    printf("\n| attention | query rows M | us | vs M=1 |\n|---|---:|---:|---:|\n");
    bench_attention(8, 32, 200, repeats);
    bench_attention(8, 64, 1000, repeats);
    return 0;
}
