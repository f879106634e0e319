// bench_cuda_ops.c: the CUDA backend's ops at training shapes of a
// GPT-2-small-sized model (d = 768, 12 heads of 64, f = 3072, V = 50304,
// B x T = 4 x 1024): time per call (median of 7 after a warm-up, the stream
// synchronized around each) and, for the matrix products, TFLOP/s. A build
// without CUDA=1 or a machine without a GPU prints why and exits 77.
//   build/cuda/bench/bench_cuda_ops
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/timer.h"
#include "ops/ops.h"
#ifdef MTP_CUDA
#include "ops/cuda/cuda_ops.h"
#endif

enum { REPS = 7 };

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float *buffer(size_t n) {
    float *p = op_alloc(n * sizeof(float), "benchmark tensor");
    if (!p) {
        fprintf(stderr, "bench_cuda_ops: %s\n", mtp_last_error());
        exit(1);
    }
    return p;
}

// Times `call` (a statement) REPS times after one warm-up; prints a row.
#define TIME_OP(name, shape, flop, call)                                                          \
    do {                                                                                          \
        double t_[REPS];                                                                          \
        call;                                                                                     \
        op_sync();                                                                                \
        for (int r_ = 0; r_ < REPS; r_++) {                                                       \
            double t0_ = mtp_now();                                                               \
            call;                                                                                 \
            op_sync();                                                                            \
            t_[r_] = mtp_now() - t0_;                                                             \
        }                                                                                         \
        qsort(t_, REPS, sizeof(double), cmp_double);                                              \
        double med_ = t_[REPS / 2];                                                               \
        if ((flop) > 0)                                                                           \
            printf("| %s | %s | %.3f | %.1f |\n", name, shape, med_ * 1e3, (flop) / med_ / 1e12); \
        else                                                                                      \
            printf("| %s | %s | %.3f | - |\n", name, shape, med_ * 1e3);                          \
    } while (0)

int main(void) {
#ifndef MTP_CUDA
    printf("built without CUDA: make CUDA=1 BUILD=build/cuda bench\n");
    return 77;
#endif
    if (op_use_device(OP_DEVICE_CUDA) != 0) {
        printf("no GPU here: %s\n", mtp_last_error());
        return 77;
    }
    const int B = 4, T = 1024, d = 768, H = 12, hd = 64, f = 3072, V = 50304, N = B * T;
    float *x = buffer((size_t)N * f), *w = buffer((size_t)V * d), *y = buffer((size_t)N * V);
    float *q = buffer((size_t)N * d), *k = buffer((size_t)N * d), *v = buffer((size_t)N * d);
    float *o = buffer((size_t)N * d), *lse = buffer((size_t)B * H * T), *dq = buffer((size_t)N * d);
    float *dk = buffer((size_t)N * d), *dv = buffer((size_t)N * d), *losses = buffer((size_t)N);
    int32_t *tokens = op_alloc(sizeof(int32_t) * N, "targets"), *ids = malloc(sizeof(int32_t) * N);
    if (!tokens || !ids) return 1;
    for (int i = 0; i < N; i++)
        ids[i] = (int32_t)(((unsigned)i * 7919u) % (unsigned)V);  // distinct, spread over the table
    op_upload(tokens, ids, sizeof(int32_t) * N);
    free(ids);
    // small random-looking values: attention and the softmax see finite inputs
    float *h = malloc(sizeof(float) * (size_t)N * d);
    for (size_t i = 0; h && i < (size_t)N * d; i++) h[i] = (float)((i * 2654435761u) % 2001) / 2000.0f - 0.5f;
    if (!h) return 1;
    op_upload(q, h, sizeof(float) * (size_t)N * d);
    op_upload(k, h, sizeof(float) * (size_t)N * d);
    op_upload(v, h, sizeof(float) * (size_t)N * d);
    printf("device: %s\n\n| op | shape | ms | TFLOP/s |\n|---|---|---:|---:|\n", op_device_info());
    TIME_OP("matmul forward (fp32 sgemm)", "4096x768 @ 3072x768^T", 2.0 * N * d * f,
            op_matmul_forward(y, x, w, N, d, f));
    TIME_OP("matmul backward (dinp + dw)", "4096x768 @ 3072x768^T", 4.0 * N * d * f,
            op_matmul_backward(x, w, y, x, w, N, d, f, 0));
    TIME_OP("unembedding forward", "4096x768 @ 50304x768^T", 2.0 * N * d * V,
            op_matmul_forward(y, x, w, N, d, V));
    TIME_OP("softmax xent + gradient", "4096 x 50304", 0, op_softmax_xent(y, losses, tokens, N, V, 1.0f / N));
    TIME_OP("attention forward (causal)", "B=4 T=1024 H=12 hd=64", 2.0 * B * H * (double)T * T * hd,
            op_attention_forward(o, lse, q, k, v, B, T, T, H, H, hd, op_kv_rows(T, H, hd), NULL, 0));
    TIME_OP("attention backward", "B=4 T=1024 H=12 hd=64", 5.0 * B * H * (double)T * T * hd,
            op_attention_backward(dq, dk, dv, o, o, lse, q, k, v, B, T, H, H, hd, NULL, 0));
    TIME_OP("embedding backward", "4096 tokens into 50304 x 768", 0,
            op_embedding_backward(w, q, tokens, N, V, d));
    // the tensor-core modes: the products (attention's too) with rounded inputs
    for (int p = OP_PRECISION_TF32; p <= OP_PRECISION_BF16; p++) {
        if (op_set_precision((op_precision)p) != 0) break;
        const char *tag = p == OP_PRECISION_BF16 ? " (bf16)" : " (tf32)";
        char name[96];
        snprintf(name, sizeof name, "matmul forward%s", tag);
        TIME_OP(name, "4096x768 @ 3072x768^T", 2.0 * N * d * f, op_matmul_forward(y, x, w, N, d, f));
        snprintf(name, sizeof name, "attention forward%s", tag);
        TIME_OP(name, "B=4 T=1024 H=12 hd=64", 2.0 * B * H * (double)T * T * hd,
                op_attention_forward(o, lse, q, k, v, B, T, T, H, H, hd, op_kv_rows(T, H, hd), NULL, 0));
        snprintf(name, sizeof name, "attention backward%s", tag);
        TIME_OP(name, "B=4 T=1024 H=12 hd=64", 5.0 * B * H * (double)T * T * hd,
                op_attention_backward(dq, dk, dv, o, o, lse, q, k, v, B, T, H, H, hd, NULL, 0));
    }
    op_set_precision(OP_PRECISION_FP32);
    TIME_OP("rmsnorm forward", "4096 x 768", 0, op_rmsnorm_forward(o, lse, q, k, N, d, 1e-5f));
    TIME_OP("swiglu forward", "4096 x 3072", 0, op_swiglu_forward(x, x, x, (size_t)N * f));
    TIME_OP("adamw", "12.6M values", 0,
            op_adamw(y, y, x, x, (size_t)N * f, 1.0f, 1e-4, 0.9, 0.95, 1e-8, 0.1, 1));
#ifdef MTP_CUDA
    // the fused bf16 attention (flash_attention.cu), last: it has not run on a GPU yet, and a fault
    // there would stop the rows after it
    if (op_set_precision(OP_PRECISION_BF16) == 0) {
        cuda_set_flash_attention(1);
        TIME_OP("attention forward (bf16, fused)", "B=4 T=1024 H=12 hd=64", 2.0 * B * H * (double)T * T * hd,
                op_attention_forward(o, lse, q, k, v, B, T, T, H, H, hd, op_kv_rows(T, H, hd), NULL, 0));
        TIME_OP("attention backward (bf16, fused)", "B=4 T=1024 H=12 hd=64", 5.0 * B * H * (double)T * T * hd,
                op_attention_backward(dq, dk, dv, o, o, lse, q, k, v, B, T, H, H, hd, NULL, 0));
        cuda_set_flash_attention(0);
        op_set_precision(OP_PRECISION_FP32);
    }
#endif
    int rc = op_sync();
    if (rc) fprintf(stderr, "bench_cuda_ops: %s\n", mtp_last_error());
    free(h);
    return rc ? 1 : 0;
}
