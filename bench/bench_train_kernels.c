// bench_train_kernels.c: where a training step's time goes, op by op. Times
// every op of one block's forward and backward, the unembedding and
// cross-entropy of one head, and AdamW over the model, at a config's shapes,
// each with its achieved GFLOP/s, and the matrix-product ceiling of the same
// thread count. The block ops times the blocks, plus the n heads' unembedding
// and AdamW, add up to an estimate of a step (flash-attention recomputation
// counted as it runs). Repeats are interleaved across ops and the median kept.
//   build/bench/bench_train_kernels [--dim d] [--n-head H] [--ffn-dim f] [--seq-len T]
//                                   [--batch B] [--vocab-size V] [--n-layer L] [--n-future n]
//                                   [--threads N] [--repeats R] [--only WORD]
// Defaults: the small config (d 256, H 8, T 256, B 8, V 256, L 6, n 1).
// --only WORD times only the ops whose name contains WORD (no step estimate).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "ops/ops.h"

typedef struct {
    int d, H, f, T, B, V, L, n, threads, repeats;
} shape;

typedef struct {
    int N, hd, qd;
    float *x, *ln, *q, *k, *v, *att, *dq, *dk, *dv, *dout, *dx, *gate, *up, *act, *dgate, *dup, *rstd;
    // the attention's own inputs and outputs, which no other op overwrites: fed
    // what the projections leave in q, k, v its softmax overflows, and the
    // backward ran 15x slower on a Xeon (subnormal arithmetic)
    float *aq, *ak, *av, *aout, *alse;
    float *wq, *wo, *wg, *wd, *dwq, *dwo, *dwg, *dwd, *norm_w, *dnorm_w, *cos_t, *sin_t, *scratch;
    float *emb, *demb, *logits, *losses, *adam_p, *adam_g, *adam_m, *adam_v;
    int32_t *targets;
    size_t n_params;
    int chunk;
} buffers;

enum {
    OP_RMSNORM_F,
    OP_QKV_F,
    OP_ROPE_F,
    OP_ATTN_F,
    OP_WO_F,
    OP_GATE_UP_F,
    OP_SWIGLU_F,
    OP_DOWN_F,
    OP_ADDS_F,
    OP_DOWN_B,
    OP_SWIGLU_B,
    OP_GATE_UP_B,
    OP_RMSNORM_B,
    OP_WO_B,
    OP_ATTN_B,
    OP_ROPE_B,
    OP_QKV_B,
    OP_UNEMBED,
    OP_ADAMW,
    N_OPS
};
static const char *op_names[N_OPS] = {"rmsnorm x2 (fwd)",
                                      "q, k, v projections (fwd)",
                                      "rope q, k (fwd)",
                                      "attention (fwd)",
                                      "output projection (fwd)",
                                      "gate, up (fwd)",
                                      "swiglu (fwd)",
                                      "down (fwd)",
                                      "residual adds (fwd)",
                                      "down (bwd)",
                                      "swiglu (bwd)",
                                      "gate, up (bwd)",
                                      "rmsnorm x2 (bwd)",
                                      "output projection (bwd)",
                                      "attention (bwd)",
                                      "rope q, k (bwd)",
                                      "q, k, v projections (bwd)",
                                      "unembedding + xent, one head",
                                      "adamw, whole model"};

static float *filled(size_t n, float scale) {
    float *p = op_alloc(sizeof(float) * n, "bench buffer");
    if (!p) {
        fprintf(stderr, "bench_train_kernels: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = scale * (float)((int)(i * 2654435761u % 2001) - 1000) / 1000.0f;
    return p;
}

// FLOPs of each op as the model's FLOP count has them (backward = 2x forward
// for products; attention causal, its backward recomputing the scores).
static double op_flops(const shape *s, const buffers *b, int op) {
    double N = b->N, d = s->d, f = s->f, T = s->T, causal = (double)s->B * s->H * T * T * b->hd;
    switch (op) {
        case OP_QKV_F:
            return 2 * N * d * 3 * d;
        case OP_WO_F:
            return 2 * N * d * d;
        case OP_GATE_UP_F:
            return 2 * N * d * 2 * f;
        case OP_DOWN_F:
            return 2 * N * f * d;
        case OP_ATTN_F:
            return 2 * causal;  // two products over the causal half
        case OP_QKV_B:
            return 4 * N * d * 3 * d;
        case OP_WO_B:
            return 4 * N * d * d;
        case OP_GATE_UP_B:
            return 4 * N * d * 2 * f;
        case OP_DOWN_B:
            return 4 * N * f * d;
        case OP_ATTN_B:
            return 5 * causal;  // scores recomputed, dP, dv, dk, dq
        case OP_UNEMBED:
            return 6 * N * d * s->V;
        default:
            return 0;
    }
}

static void run_op(const shape *s, buffers *b, int op) {
    int N = b->N, d = s->d, f = s->f, hd = b->hd, H = s->H;
    switch (op) {
        case OP_RMSNORM_F:
            op_rmsnorm_forward(b->ln, b->rstd, b->x, b->norm_w, N, d, 1e-5f);
            op_rmsnorm_forward(b->ln, b->rstd, b->x, b->norm_w, N, d, 1e-5f);
            break;
        case OP_QKV_F:
            op_matmul_forward(b->q, b->ln, b->wq, N, d, d);
            op_matmul_forward(b->k, b->ln, b->wq, N, d, d);
            op_matmul_forward(b->v, b->ln, b->wq, N, d, d);
            break;
        case OP_ROPE_F:
            op_rope_forward(b->q, b->cos_t, b->sin_t, s->B, s->T, H, hd, 0);
            op_rope_forward(b->k, b->cos_t, b->sin_t, s->B, s->T, H, hd, 0);
            break;
        case OP_ATTN_F:
            op_attention_forward(b->aout, b->alse, b->aq, b->ak, b->av, s->B, s->T, s->T, H, H, hd,
                                 op_kv_rows(s->T, H, hd), b->scratch, s->threads);
            break;
        case OP_WO_F:
            op_matmul_forward(b->dx, b->att, b->wo, N, d, d);
            break;
        case OP_GATE_UP_F:
            op_matmul_forward(b->gate, b->ln, b->wg, N, d, f);
            op_matmul_forward(b->up, b->ln, b->wg, N, d, f);
            break;
        case OP_SWIGLU_F:
            op_swiglu_forward(b->act, b->gate, b->up, (size_t)N * f);
            break;
        case OP_DOWN_F:
            op_matmul_forward(b->dx, b->act, b->wd, N, f, d);
            break;
        case OP_ADDS_F:
            op_add_inplace(b->dx, b->x, (size_t)N * d);
            op_add_inplace(b->dx, b->x, (size_t)N * d);
            break;
        case OP_DOWN_B:
            op_matmul_backward(b->act, b->dwd, b->dout, b->act, b->wd, N, f, d, 0);
            break;
        case OP_SWIGLU_B:
            op_swiglu_backward(b->dgate, b->dup, b->act, b->gate, b->up, (size_t)N * f);
            break;
        case OP_GATE_UP_B:
            op_matmul_backward(b->ln, b->dwg, b->dgate, b->ln, b->wg, N, d, f, 0);
            op_matmul_backward(b->ln, b->dwg, b->dup, b->ln, b->wg, N, d, f, 1);
            break;
        case OP_RMSNORM_B:
            op_rmsnorm_backward(b->dx, b->dnorm_w, b->dout, b->x, b->norm_w, b->rstd, N, d);
            op_rmsnorm_backward(b->dx, b->dnorm_w, b->dout, b->x, b->norm_w, b->rstd, N, d);
            break;
        case OP_WO_B:
            op_matmul_backward(b->att, b->dwo, b->dout, b->att, b->wo, N, d, d, 0);
            break;
        case OP_ATTN_B:
            op_attention_backward(b->dq, b->dk, b->dv, b->dout, b->aout, b->alse, b->aq, b->ak, b->av, s->B,
                                  s->T, H, H, hd, b->scratch, s->threads);
            break;
        case OP_ROPE_B:
            op_rope_backward(b->dq, b->cos_t, b->sin_t, s->B, s->T, H, hd, 0);
            op_rope_backward(b->dk, b->cos_t, b->sin_t, s->B, s->T, H, hd, 0);
            break;
        case OP_QKV_B:
            op_matmul_backward(b->dx, b->dwq, b->dq, b->ln, b->wq, N, d, d, 0);
            op_matmul_backward(b->dx, b->dwq, b->dk, b->ln, b->wq, N, d, d, 1);
            op_matmul_backward(b->dx, b->dwq, b->dv, b->ln, b->wq, N, d, d, 1);
            break;
        case OP_UNEMBED:  // in row chunks, as the sequential schedule runs it
            for (int r0 = 0; r0 < N; r0 += b->chunk) {
                int rows = N - r0 < b->chunk ? N - r0 : b->chunk;
                op_matmul_forward(b->logits, b->ln + (size_t)r0 * d, b->emb, rows, d, s->V);
                op_softmax_xent(b->logits, b->losses, b->targets + r0, rows, s->V, 1.0f / N);
                op_matmul_backward(b->dx + (size_t)r0 * d, b->demb, b->logits, b->ln + (size_t)r0 * d, b->emb,
                                   rows, d, s->V, 0);
            }
            break;
        case OP_ADAMW:
            op_adamw(b->adam_p, b->adam_g, b->adam_m, b->adam_v, b->n_params, 1.0f, 1e-4, 0.9, 0.95, 1e-8,
                     0.1, 10);
            break;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int arg_int(int argc, char **argv, int *i, const char *name, int *out) {
    if (strcmp(argv[*i], name) != 0) return 0;
    if (*i + 1 >= argc || atoi(argv[*i + 1]) <= 0) {
        fprintf(stderr, "bench_train_kernels: %s needs a positive integer\n", name);
        exit(2);
    }
    *out = atoi(argv[++*i]);
    return 1;
}

int main(int argc, char **argv) {
    shape s = {
        .d = 256, .H = 8, .f = 0, .T = 256, .B = 8, .V = 256, .L = 6, .n = 1, .threads = 2, .repeats = 9};
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
            continue;
        }
        if (arg_int(argc, argv, &i, "--dim", &s.d) || arg_int(argc, argv, &i, "--n-head", &s.H) ||
            arg_int(argc, argv, &i, "--ffn-dim", &s.f) || arg_int(argc, argv, &i, "--seq-len", &s.T) ||
            arg_int(argc, argv, &i, "--batch", &s.B) || arg_int(argc, argv, &i, "--vocab-size", &s.V) ||
            arg_int(argc, argv, &i, "--n-layer", &s.L) || arg_int(argc, argv, &i, "--n-future", &s.n) ||
            arg_int(argc, argv, &i, "--threads", &s.threads) ||
            arg_int(argc, argv, &i, "--repeats", &s.repeats))
            continue;
        fprintf(stderr,
                "usage: bench_train_kernels [--dim d] [--n-head H] [--ffn-dim f] [--seq-len T] [--batch B]\n"
                "       [--vocab-size V] [--n-layer L] [--n-future n] [--threads N] [--repeats R] [--only "
                "WORD]\n");
        return 2;
    }
    if (!s.f) s.f = (8 * s.d / 3 + 63) / 64 * 64;  // the model's default
    if (s.d % s.H || (s.d / s.H) % 2) {
        fprintf(stderr, "bench_train_kernels: --dim must be a multiple of 2 x --n-head\n");
        return 2;
    }
    op_set_threads(s.threads);
    buffers b = {.N = s.B * s.T, .hd = s.d / s.H, .chunk = 1024};
    size_t Nd = (size_t)b.N * s.d, Nf = (size_t)b.N * s.f;
    b.x = filled(Nd, 1), b.ln = filled(Nd, 1), b.q = filled(Nd, 1), b.k = filled(Nd, 1), b.v = filled(Nd, 1);
    b.att = filled(Nd, 1), b.dq = filled(Nd, 1), b.dk = filled(Nd, 1), b.dv = filled(Nd, 1);
    b.dout = filled(Nd, 0.01f), b.dx = filled(Nd, 1);
    b.rstd = filled(b.N, 1);
    b.gate = filled(Nf, 1), b.up = filled(Nf, 1), b.act = filled(Nf, 1), b.dgate = filled(Nf, 1);
    b.dup = filled(Nf, 1);
    b.wq = filled((size_t)s.d * s.d, 0.05f), b.wo = filled((size_t)s.d * s.d, 0.05f);
    b.wg = filled((size_t)s.d * s.f, 0.05f), b.wd = filled((size_t)s.d * s.f, 0.05f);
    b.dwq = filled((size_t)s.d * s.d, 0), b.dwo = filled((size_t)s.d * s.d, 0);
    b.dwg = filled((size_t)s.d * s.f, 0), b.dwd = filled((size_t)s.d * s.f, 0);
    b.norm_w = filled(s.d, 1), b.dnorm_w = filled(s.d, 0);
    b.cos_t = malloc(sizeof(float) * s.T * b.hd / 2), b.sin_t = malloc(sizeof(float) * s.T * b.hd / 2);
    op_rope_tables(b.cos_t, b.sin_t, s.T, b.hd, 10000.0f);
    b.scratch = filled(op_attention_scratch_floats(b.hd) * s.threads, 0);
    b.emb = filled((size_t)s.V * s.d, 0.05f), b.demb = filled((size_t)s.V * s.d, 0);
    b.logits = filled((size_t)b.chunk * s.V, 0), b.losses = filled(b.chunk, 0);
    b.targets = malloc(sizeof(int32_t) * b.N);
    for (int i = 0; i < b.N; i++) b.targets[i] = (int32_t)((unsigned)i * 2654435761u % (unsigned)s.V);
    b.n_params = (size_t)s.L * (4 * (size_t)s.d * s.d + 3 * (size_t)s.d * s.f) + (size_t)s.V * s.d;
    b.adam_p = filled(b.n_params, 0.05f), b.adam_g = filled(b.n_params, 0.01f);
    b.adam_m = filled(b.n_params, 0), b.adam_v = filled(b.n_params, 0);
    b.aq = filled(Nd, 1), b.ak = filled(Nd, 1), b.av = filled(Nd, 1), b.aout = filled(Nd, 0);
    b.alse = filled((size_t)s.B * s.H * s.T, 0);
    // the backward reads the forward's output and log-sum-exps: run it once for real ones
    op_attention_forward(b.aout, b.alse, b.aq, b.ak, b.av, s.B, s.T, s.T, s.H, s.H, b.hd,
                         op_kv_rows(s.T, s.H, b.hd), b.scratch, s.threads);

    double *t = malloc(sizeof(double) * N_OPS * s.repeats);
    int timed[N_OPS];
    for (int op = 0; op < N_OPS; op++) timed[op] = !only || strstr(op_names[op], only);
    for (int op = 0; op < N_OPS; op++)
        if (timed[op]) run_op(&s, &b, op);  // warm-up
    for (int r = 0; r < s.repeats; r++)
        for (int op = 0; op < N_OPS; op++) {
            if (!timed[op]) continue;
            double t0 = mtp_now();
            run_op(&s, &b, op);
            t[op * s.repeats + r] = mtp_now() - t0;
        }
    // the ceiling: the best square product of 2048, ours or the BLAS library's, alternating
    const int M = 2048;
    float *A = filled((size_t)M * M, 1), *Bm = filled((size_t)M * M, 1), *C = filled((size_t)M * M, 0);
    double best_ours = 1e30, best_blas = 1e30;
    for (int r = 0; r < 6; r++) {
        double t0 = mtp_now();
        op_matmul_forward(C, A, Bm, M, M, M);
        double t1 = mtp_now();
        op_blas_matmul_forward(C, A, Bm, M, M, M);
        double t2 = mtp_now();
        best_ours = t1 - t0 < best_ours ? t1 - t0 : best_ours;
        best_blas = t2 - t1 < best_blas ? t2 - t1 : best_blas;
    }
    const double flop = 2.0 * M * M * M, ours_gflops = flop / best_ours * 1e-9,
                 blas_gflops = flop / best_blas * 1e-9;
    const double ceiling = ours_gflops > blas_gflops ? ours_gflops : blas_gflops;

    printf("shape: d %d, H %d (hd %d), f %d, T %d, B %d, V %d, L %d, n %d; %d threads; BLAS %s\n", s.d, s.H,
           b.hd, s.f, s.T, s.B, s.V, s.L, s.n, s.threads, op_blas_info());
    printf(
        "matrix-product ceiling (2048^3, the better of ours %.1f and BLAS %.1f): %.1f GFLOP/s; medians of %d "
        "interleaved repeats\n\n",
        ours_gflops, blas_gflops, ceiling, s.repeats);
    double ms[N_OPS], block = 0, flops_block = 0;
    for (int op = 0; op < N_OPS; op++) {
        ms[op] = 0;
        if (!timed[op]) continue;
        qsort(t + op * s.repeats, (size_t)s.repeats, sizeof(double), cmp_double);
        ms[op] = t[op * s.repeats + s.repeats / 2] * 1e3;
        if (op < OP_UNEMBED) block += ms[op], flops_block += op_flops(&s, &b, op);
    }
    double step = s.L * block + s.n * ms[OP_UNEMBED] + ms[OP_ADAMW];
    double step_flops = s.L * flops_block + s.n * op_flops(&s, &b, OP_UNEMBED);
    printf("| op | ms | GFLOP/s | of ceiling | share of the step |\n|---|---:|---:|---:|---:|\n");
    for (int op = 0; op < N_OPS; op++) {
        if (!timed[op]) continue;
        double fl = op_flops(&s, &b, op), times = op < OP_UNEMBED ? s.L : op == OP_UNEMBED ? s.n : 1;
        if (fl > 0)
            printf("| %s | %.3f | %.1f | %.0f%% | %.1f%% |\n", op_names[op], ms[op], fl / ms[op] * 1e-6,
                   100 * fl / ms[op] * 1e-6 / ceiling, only ? NAN : 100 * times * ms[op] / step);
        else
            printf("| %s | %.3f | - | - | %.1f%% |\n", op_names[op], ms[op],
                   only ? NAN : 100 * times * ms[op] / step);
    }
    if (only) return 0;  // the step estimate needs every op
    printf(
        "\none block: %.2f ms; estimated step (%d blocks + %d x unembedding + adamw): %.1f ms, "
        "%.1f GFLOP/s, %.0f%% of the ceiling\n",
        block, s.L, s.n, step, step_flops / step * 1e-6, 100 * step_flops / step * 1e-6 / ceiling);
    return 0;
}
