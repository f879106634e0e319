// bench_decode_stream.c: the few-row products when the weights come from
// DRAM, as in decoding a model far larger than the caches. A stack of blocks
// of the given shape (q, k, v, o, gate, up, down per block) is multiplied by
// M rows, one matrix after the other, row-major (ops/cpu/decode_matmul.c)
// and in the decode layout (ops/cpu/packed.c), and as int8 weights with a
// scale per 32 values (ops/cpu/q8.c, the rows quantized in each call, as the
// model does); each is reported as GB/s of weights read (int8: its bytes and
// scales) and as a fraction of the streaming-read probe measured in the same
// process. Medians of interleaved repeats.
// Then the attention of M query rows against one KV cache per block (context
// C tokens, heads of 128), as a verification step reads them, in GB/s of KV
// cache and time per block.
//   build/bench/bench_decode_stream [--threads N] [--dim D] [--ffn F] [--blocks L] [--repeats R] [--context
//   C]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timer.h"
#include "ops/ops.h"

enum { MATS = 7, MAX_M = 8, MAX_REPEATS = 99 };

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The model's kind of memory (huge pages from 4 MB on, where granted).
static void *pages(size_t bytes) {
    void *p = mtp_alloc_streamed(bytes, 0, "benchmark buffer");
    if (!p) {
        fprintf(stderr, "bench_decode_stream: %s\n", mtp_last_error());
        exit(1);
    }
    return p;
}

static float *filled(size_t n, float scale) {
    float *p = pages(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) p[i] = scale * (float)((int)(i * 2654435761u % 2001) - 1000) / 1000.0f;
    return p;
}

// Attention of M rows (the last M positions of the context) against each
// block's KV cache in turn: keys and values (H, context, hd) per block, each
// head's positions together as a model's cache keeps them.
static void bench_attention(int L, int d, int context, int repeats, double probe) {
    const int hd = 128, H = d / hd, Ms[] = {1, 2, 4};
    float *k[64], *v[64];
    for (int l = 0; l < L; l++) {
        k[l] = filled((size_t)context * d, 0.5f);
        v[l] = filled((size_t)context * d, 0.5f);
    }
    float *q = filled((size_t)4 * d, 0.5f), *o = malloc(sizeof(float) * 4 * d);
    double t[3][MAX_REPEATS], bytes = 8.0 * context * d * L;
    for (int rep = 0; rep < repeats; rep++)
        for (int mi = 0; mi < 3; mi++) {
            double t0 = mtp_now();
            for (int l = 0; l < L; l++)
                op_attention_rows_forward(o, q, k[l], v[l], Ms[mi], context, H, H, hd,
                                          op_kv_heads(context, hd));
            t[mi][rep] = mtp_now() - t0;
        }
    printf("\nattention against %d blocks' KV caches, %d tokens of context, %d heads of %d: %.0f MB\n\n", L,
           context, H, hd, bytes / 1e6);
    printf("| query rows | us per block | KV GB/s | of probe | vs 1 row |\n|---:|---:|---:|---:|---:|\n");
    double first = 0;
    for (int mi = 0; mi < 3; mi++) {
        qsort(t[mi], (size_t)repeats, sizeof(double), cmp_double);
        double med = t[mi][repeats / 2];
        if (mi == 0) first = med;
        printf("| %d | %.0f | %.1f | %.0f%% | %.2fx |\n", Ms[mi], 1e6 * med / L, bytes / med / 1e9,
               100 * bytes / med / probe, med / first);
    }
    for (int l = 0; l < L; l++) {
        free(k[l]);
        free(v[l]);
    }
    free(q);
    free(o);
}

int main(int argc, char **argv) {
    int threads = 2, d = 1536, f = 4096, L = 8, repeats = 5, context = 842;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--threads"))
            threads = v;
        else if (!strcmp(argv[i], "--dim"))
            d = v;
        else if (!strcmp(argv[i], "--ffn"))
            f = v;
        else if (!strcmp(argv[i], "--blocks"))
            L = v;
        else if (!strcmp(argv[i], "--repeats"))
            repeats = v;
        else if (!strcmp(argv[i], "--context"))
            context = v;
        else {
            fprintf(stderr,
                    "usage: bench_decode_stream [--threads N] [--dim D] [--ffn F] [--blocks L] [--repeats R] "
                    "[--context C]\n");
            return 2;
        }
    }
    if (repeats < 1 || repeats > MAX_REPEATS || L < 1 || L > 64 || d < 128 || d % 128 || f < 16 ||
        context < 8)
        return 2;
    op_set_threads(threads);
    const int in[MATS] = {d, d, d, d, d, d, f}, out[MATS] = {d, d, d, d, f, f, d};
    float *rm[64][MATS], *pk[64][MATS], *qs[64][MATS];
    int8_t *qw[64][MATS];
    double bytes = 0, qbytes = 0;
    for (int l = 0; l < L; l++)
        for (int m = 0; m < MATS; m++) {
            rm[l][m] = filled((size_t)in[m] * out[m], 0.05f);
            pk[l][m] = pages(sizeof(float) * op_packed_floats(out[m], in[m]));
            op_pack(pk[l][m], rm[l][m], out[m], in[m]);
            bytes += 4.0 * in[m] * out[m];
            int8_t *q = malloc((size_t)in[m] * out[m]);
            float *s = malloc(sizeof(float) * in[m] * out[m] / OP_Q8_BLOCK);
            op_quantize_q8(q, s, rm[l][m], out[m], in[m]);
            qw[l][m] = pages(op_q8_packed_rows(out[m]) * in[m]);
            qs[l][m] = pages(sizeof(float) * op_q8_packed_rows(out[m]) * in[m] / OP_Q8_BLOCK);
            op_q8_pack(qw[l][m], qs[l][m], q, s, out[m], in[m]);
            free(q);
            free(s);
            qbytes += (1.0 + 4.0 / OP_Q8_BLOCK) * in[m] * out[m];
        }
    float *x = filled((size_t)MAX_M * f, 1.0f), *y = malloc(sizeof(float) * MAX_M * f);
    int8_t *xq = malloc((size_t)MAX_M * f);
    float *xs = malloc(sizeof(float) * MAX_M);
    int32_t *xaux = malloc(sizeof(int32_t) * MAX_M * op_q8_side_ints(f));
    const int Ms[] = {1, 2, 4, 8};
    double t[3][4][MAX_REPEATS], probes[MAX_REPEATS];
    for (int rep = 0; rep < repeats; rep++) {
        probes[rep] = op_read_bandwidth((size_t)512 << 20, 1);
        for (int mi = 0; mi < 4; mi++)
            for (int kind = 0; kind < 3; kind++) {
                double t0 = mtp_now();
                for (int l = 0; l < L; l++)
                    for (int m = 0; m < MATS; m++) {
                        if (kind == 0)
                            op_matmul_rows_forward(y, x, rm[l][m], Ms[mi], in[m], out[m]);
                        else if (kind == 1)
                            op_matmul_packed_rows(y, x, pk[l][m], Ms[mi], in[m], out[m]);
                        else {
                            op_quantize_rows_q8(xq, xs, xaux, x, Ms[mi], in[m]);
                            op_matmul_q8(y, xq, xs, xaux, qw[l][m], qs[l][m], Ms[mi], in[m], out[m]);
                        }
                    }
                t[kind][mi][rep] = mtp_now() - t0;
            }
    }
    qsort(probes, (size_t)repeats, sizeof(double), cmp_double);
    double probe = probes[repeats / 2];
    printf(
        "read probe: %.1f GB/s (median of probes interleaved with the runs) (%d threads); %d blocks d=%d "
        "f=%d: %.0f MB of weights\n\n",
        probe / 1e9, threads, L, d, f, bytes / 1e6);
    printf(
        "| rows | row-major GB/s | of probe | decode layout GB/s | of probe | int8 GB/s | of probe |\n"
        "|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int mi = 0; mi < 4; mi++) {
        double med[3];
        for (int kind = 0; kind < 3; kind++) {
            qsort(t[kind][mi], (size_t)repeats, sizeof(double), cmp_double);
            med[kind] = t[kind][mi][repeats / 2];
        }
        printf("| %d | %.1f | %.0f%% | %.1f | %.0f%% | %.1f | %.0f%% |\n", Ms[mi], bytes / med[0] / 1e9,
               100 * bytes / med[0] / probe, bytes / med[1] / 1e9, 100 * bytes / med[1] / probe,
               qbytes / med[2] / 1e9, 100 * qbytes / med[2] / probe);
    }
    bench_attention(L, d, context, repeats, probe);
    return 0;
}
