// cuda_ops.h: the CUDA backend (built with make CUDA=1). The ops mirror
// ops.h's op_X (same arguments and semantics; pointers are device memory)
// and run in order on one stream of the one GPU in use; the runtime
// functions back ops/device.c. C linkage: included from C and from the .cu
// files.
#ifndef MTP_OPS_CUDA_OPS_H
#define MTP_OPS_CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "ops/kv_layout.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- runtime (ops/cuda/runtime.cu) ----
// Number of usable GPUs (0 without a driver or a device).
int cuda_device_count(void);
// Selects the first visible GPU (under mpirun, the local rank's, modulo the
// GPUs), creates the stream and the cuBLAS handle; idempotent. -1 with the
// error set when no GPU is usable.
int cuda_init(void);
const char *cuda_device_info(void);
void *cuda_alloc(size_t bytes, const char *what);  // zeroed; NULL + error set
void cuda_free(void *p);
size_t cuda_peak_bytes(void);  // most bytes of cuda_alloc memory held at once
void cuda_upload(void *dst, const void *host_src, size_t bytes);
void cuda_download(void *host_dst, const void *src, size_t bytes);
void cuda_copy(void *dst, const void *src, size_t bytes);
void cuda_copy_rows(void *dst, size_t dst_pitch, const void *src, size_t src_pitch, size_t width,
                    size_t rows);
void cuda_zero(void *p, size_t bytes);
// Waits for the stream; -1 with the error set if a CUDA call or kernel has
// failed since the last call.
int cuda_sync(void);
// ---- collectives (ops/cuda/collectives.cu: NCCL, loaded when first asked for) ----
// 0 when NCCL is there, else -1 with the error set (saying why).
enum { CUDA_COLLECTIVE_ID_BYTES = 128 };
int cuda_collectives_load(void);
// One process makes the group's id; every process joins with it.
int cuda_collectives_make_id(unsigned char *id);
int cuda_collectives_join(const unsigned char *id, int rank, int size);
// In place on the stream: x[0..n) summed over the group into root's x; root's x copied to every x.
int cuda_reduce_sum_to(float *x, size_t n, int root);
int cuda_broadcast_from(float *x, size_t n, int root);
void cuda_collectives_leave(void);
// The fused bf16 attention (flash_attention.cu): used by the attention ops in
// bf16 mode, for head dimensions 64 and 128, when switched on (off by default
// until it has been checked on a GPU; MTP_FLASH_ATTENTION=1 in the
// environment turns it on). The kernels return -1 for shapes they do not take.
void cuda_set_flash_attention(int on);
int cuda_flash_attention_on(void);
int cuda_flash_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                                 int B, int Tq, int Tk, int H, int Hkv, int hd, op_kv_layout kv);
int cuda_flash_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *lse,
                                  const float *D, const float *q, const float *k, const float *v, int B,
                                  int T, int H, int Hkv, int hd);
int cuda_precision(void);  // what cuda_set_precision chose: 0, 1 or 2
// The training products' precision: 0 float32, 1 TF32, 2 bfloat16 inputs
// (op_precision), float32 sums and outputs in every case.
void cuda_set_precision(int precision);

// ---- the ops ----
void cuda_matmul_forward(float *out, const float *inp, const float *w, int N, int in_dim, int out_dim);
void cuda_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int N,
                          int in_dim, int out_dim, int accumulate_dinp);
void cuda_embedding_forward(float *out, const int32_t *tokens, const float *table, int N, int d);
void cuda_embedding_backward(float *dtable, const float *dout, const int32_t *tokens, int N, int V, int d);
void cuda_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int d, float eps);
void cuda_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                           const float *rstd, int N, int d);
void cuda_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd,
                       int pos0);
void cuda_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd,
                        int pos0);
void cuda_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                            int Tq, int Tk, int H, int Hkv, int hd, op_kv_layout kv, float *scratch,
                            int scratch_threads);
void cuda_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                             const float *lse, const float *q, const float *k, const float *v, int B, int T,
                             int H, int Hkv, int hd, float *scratch, int scratch_threads);
void cuda_matmul_rows_forward(float *out, const float *inp, const float *w, int M, int in_dim, int out_dim);
void cuda_attention_rows_forward(float *out, const float *q, const float *k, const float *v, int Tq, int Tk,
                                 int H, int Hkv, int hd, op_kv_layout kv);
void cuda_swiglu_forward(float *out, const float *gate, const float *up, size_t n);
void cuda_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                          size_t n);
void cuda_softmax_xent(float *logits, float *losses, const int32_t *targets, int N, int V, float grad_scale);
double cuda_sum_squares(const float *x, size_t n);
void cuda_adamw(float *p, const float *g, float *m, float *v, size_t n, float grad_scale, double lr,
                double beta1, double beta2, double eps, double weight_decay, long step);
void cuda_add_inplace(float *y, const float *x, size_t n);

#ifdef __cplusplus
}
#endif

#endif
