// cpu_ops.h: the CPU backend of the ops of ops.h that every backend has
// (ops/dispatch.c routes op_X to cpu_X or cuda_X). Same arguments and
// semantics as the op_ declarations of ops.h, which document them; pointers
// are host memory.
#ifndef MTP_OPS_CPU_OPS_H
#define MTP_OPS_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "ops/kv_layout.h"

void cpu_matmul_forward(float *out, const float *inp, const float *w, int N, int in_dim, int out_dim);
void cpu_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int N,
                         int in_dim, int out_dim, int accumulate_dinp);
void cpu_embedding_forward(float *out, const int32_t *tokens, const float *table, int N, int d);
void cpu_embedding_backward(float *dtable, const float *dout, const int32_t *tokens, int N, int V, int d);
void cpu_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int d, float eps);
void cpu_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                          const float *rstd, int N, int d);
void cpu_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd,
                      int pos0);
void cpu_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd,
                       int pos0);
void cpu_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                           int Tq, int Tk, int H, int Hkv, int hd, op_kv_layout kv, float *scratch,
                           int scratch_threads);
void cpu_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                            const float *lse, const float *q, const float *k, const float *v, int B, int T,
                            int H, int Hkv, int hd, float *scratch, int scratch_threads);
void cpu_matmul_rows_forward(float *out, const float *inp, const float *w, int M, int in_dim, int out_dim);
void cpu_attention_rows_forward(float *out, const float *q, const float *k, const float *v, int Tq, int Tk,
                                int H, int Hkv, int hd, op_kv_layout kv);
void cpu_swiglu_forward(float *out, const float *gate, const float *up, size_t n);
void cpu_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                         size_t n);
void cpu_softmax_xent(float *logits, float *losses, const int32_t *targets, int N, int V, float grad_scale);
double cpu_sum_squares(const float *x, size_t n);
void cpu_adamw(float *p, const float *g, float *m, float *v, size_t n, float grad_scale, double lr,
               double beta1, double beta2, double eps, double weight_decay, long step);
void cpu_add_inplace(float *y, const float *x, size_t n);
void cpu_zero(void *p, size_t bytes);

// CPU-only helpers of the kernels above.
// Rows of C the register-blocked kernel of cpu_tile_product holds at once (so
// its row counts are best a multiple of it): 6 x 64 columns with AVX-512's 32
// registers, 6 x 16 with AVX2's 16.
#define CPU_TILE_ROWS 6
// dst (cols, rows; rows dst_stride floats apart) = src (rows, cols; src_stride
// apart) transposed, in vector blocks (ops/cpu/transpose.c).
void cpu_transpose(float *dst, size_t dst_stride, const float *src, size_t src_stride, int rows, int cols);
// C (M, N) = or += alpha * A B for small M, N, K (the attention's tiles), on
// the calling thread: A(r, kk) at A[r * a_row_stride + kk * a_k_stride] (so A
// may be read transposed), B (K, N) rows ldb apart, C rows ldc apart.
void cpu_tile_product(float *C, int ldc, const float *A, ptrdiff_t a_row_stride, ptrdiff_t a_k_stride,
                      const float *B, int ldb, int M, int N, int K, float alpha, int accumulate);
// C (M, N) = or += A B for the training's products (ops/cpu/gemm.c), on the
// kernel threads: A(r, kk) at A[r * a_row_stride + kk * a_k_stride], B(kk, j)
// at B[kk * b_k_stride + j * b_col_stride], C rows ldc apart. Called outside
// OpenMP regions. -1 (nothing written) when its packing memory cannot be had.
int cpu_gemm(float *C, int ldc, const float *A, ptrdiff_t a_row_stride, ptrdiff_t a_k_stride, const float *B,
             ptrdiff_t b_k_stride, ptrdiff_t b_col_stride, int M, int N, int K, int accumulate);

#endif
