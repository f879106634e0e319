// dispatch.c: each op of ops.h that every backend has, routed to the current
// device's implementation (ops/cpu/cpu_ops.h, ops/cuda/cuda_ops.h). The CPU
// kernels get the host view of each pointer (the same pointer, except on the
// cpu-check device).
#include "ops/cpu/cpu_ops.h"
#include "ops/ops.h"
#ifdef MTP_CUDA
#include "ops/cuda/cuda_ops.h"
#define ROUTE(op, cpu_args, cuda_args) \
    (op_current_device() == OP_DEVICE_CUDA ? cuda_##op cuda_args : cpu_##op cpu_args)
#else
#define ROUTE(op, cpu_args, cuda_args) cpu_##op cpu_args
#endif
// p as the CPU kernels need it, of p's own type
#define H(p) ((__typeof__(p))op_host_view(p))

void op_matmul_forward(float *out, const float *inp, const float *w, int N, int in_dim, int out_dim) {
    ROUTE(matmul_forward, (H(out), H(inp), H(w), N, in_dim, out_dim), (out, inp, w, N, in_dim, out_dim));
}

void op_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int N,
                        int in_dim, int out_dim, int accumulate_dinp) {
    ROUTE(matmul_backward, (H(dinp), H(dw), H(dout), H(inp), H(w), N, in_dim, out_dim, accumulate_dinp),
          (dinp, dw, dout, inp, w, N, in_dim, out_dim, accumulate_dinp));
}

void op_embedding_forward(float *out, const int32_t *tokens, const float *table, int N, int d) {
    ROUTE(embedding_forward, (H(out), H(tokens), H(table), N, d), (out, tokens, table, N, d));
}

void op_embedding_backward(float *dtable, const float *dout, const int32_t *tokens, int N, int V, int d) {
    ROUTE(embedding_backward, (H(dtable), H(dout), H(tokens), N, V, d), (dtable, dout, tokens, N, V, d));
}

void op_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int d, float eps) {
    ROUTE(rmsnorm_forward, (H(out), H(rstd), H(x), H(w), N, d, eps), (out, rstd, x, w, N, d, eps));
}

void op_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                         const float *rstd, int N, int d) {
    ROUTE(rmsnorm_backward, (H(dx), H(dw), H(dout), H(x), H(w), H(rstd), N, d),
          (dx, dw, dout, x, w, rstd, N, d));
}

void op_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd,
                     int pos0) {
    ROUTE(rope_forward, (H(x), H(cos_t), H(sin_t), B, T, nh, hd, pos0),
          (x, cos_t, sin_t, B, T, nh, hd, pos0));
}

void op_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd,
                      int pos0) {
    ROUTE(rope_backward, (H(dx), H(cos_t), H(sin_t), B, T, nh, hd, pos0),
          (dx, cos_t, sin_t, B, T, nh, hd, pos0));
}

void op_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                          int Tq, int Tk, int H, int Hkv, int hd, op_kv_layout kv, float *scratch,
                          int scratch_threads) {
    ROUTE(attention_forward,
          (H(out), H(lse), H(q), H(k), H(v), B, Tq, Tk, H, Hkv, hd, kv, H(scratch), scratch_threads),
          (out, lse, q, k, v, B, Tq, Tk, H, Hkv, hd, kv, scratch, scratch_threads));
}

void op_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                           const float *lse, const float *q, const float *k, const float *v, int B, int T,
                           int H, int Hkv, int hd, float *scratch, int scratch_threads) {
    ROUTE(attention_backward,
          (H(dq), H(dk), H(dv), H(dout), H(out), H(lse), H(q), H(k), H(v), B, T, H, Hkv, hd, H(scratch),
           scratch_threads),
          (dq, dk, dv, dout, out, lse, q, k, v, B, T, H, Hkv, hd, scratch, scratch_threads));
}

void op_matmul_rows_forward(float *out, const float *inp, const float *w, int M, int in_dim, int out_dim) {
    ROUTE(matmul_rows_forward, (H(out), H(inp), H(w), M, in_dim, out_dim), (out, inp, w, M, in_dim, out_dim));
}

void op_attention_rows_forward(float *out, const float *q, const float *k, const float *v, int Tq, int Tk,
                               int H, int Hkv, int hd, op_kv_layout kv) {
    ROUTE(attention_rows_forward, (H(out), H(q), H(k), H(v), Tq, Tk, H, Hkv, hd, kv),
          (out, q, k, v, Tq, Tk, H, Hkv, hd, kv));
}

void op_swiglu_forward(float *out, const float *gate, const float *up, size_t n) {
    ROUTE(swiglu_forward, (H(out), H(gate), H(up), n), (out, gate, up, n));
}

void op_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                        size_t n) {
    ROUTE(swiglu_backward, (H(dgate), H(dup), H(dout), H(gate), H(up), n), (dgate, dup, dout, gate, up, n));
}

void op_softmax_xent(float *logits, float *losses, const int32_t *targets, int N, int V, float grad_scale) {
    ROUTE(softmax_xent, (H(logits), H(losses), H(targets), N, V, grad_scale),
          (logits, losses, targets, N, V, grad_scale));
}

double op_sum_squares(const float *x, size_t n) {
    return ROUTE(sum_squares, (H(x), n), (x, n));
}

void op_adamw(float *p, const float *g, float *m, float *v, size_t n, float grad_scale, double lr,
              double beta1, double beta2, double eps, double weight_decay, long step) {
    ROUTE(adamw, (H(p), H(g), H(m), H(v), n, grad_scale, lr, beta1, beta2, eps, weight_decay, step),
          (p, g, m, v, n, grad_scale, lr, beta1, beta2, eps, weight_decay, step));
}

void op_add_inplace(float *y, const float *x, size_t n) {
    ROUTE(add_inplace, (H(y), H(x), n), (y, x, n));
}
