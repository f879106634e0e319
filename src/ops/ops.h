// ops.h: the kernels the model is built from, one interface for every
// backend: ops/cpu/, and ops/cuda/ in a build with CUDA=1. Kernels know
// shapes, not layers. Tensors are row-major float32; shapes are given in
// comments as (rows, cols). Every backward *accumulates* (+=) into
// parameter gradients; whether it accumulates into or overwrites input
// gradients is stated per kernel.
//
// The device: every op runs on the current one (op_use_device), and its
// pointers are that device's memory (op_alloc). ops/dispatch.c routes each op
// to cpu_X or cuda_X. The decode layout, int8 weights, the bandwidth probe and
// the thread count are CPU-only: their pointers are host memory whatever the
// device.
#ifndef MTP_OPS_H
#define MTP_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "ops/kv_layout.h"

// ---- the device and its memory (ops/device.c) ----
// OP_DEVICE_CPU_CHECK runs the CPU kernels on memory the host cannot touch
// directly: its pointers are the host addresses with bit 62 flipped (not
// canonical on x86-64), which every op turns back before it runs. Code above
// ops/ that reads or writes such memory itself, instead of through
// op_upload / op_download / op_copy / op_zero, crashes at once: so on any
// machine the tests check that the model, trainer and decoders keep to this
// interface, as a GPU needs, with the CPU's exact results.
typedef enum { OP_DEVICE_CPU = 0, OP_DEVICE_CUDA = 1, OP_DEVICE_CPU_CHECK = 2 } op_device;
// "cpu", "cuda" or "cpu-check"; op_device_parse returns -1 (error set) for
// another name.
const char *op_device_name(op_device d);
int op_device_parse(const char *name, op_device *d);
// Makes d the device of every op and of op_alloc. CUDA: -1 with the error set
// (and the CPU kept) in a build without CUDA=1, or with no usable GPU.
int op_use_device(op_device d);
op_device op_current_device(void);
// GPUs this build can use: -1 in a build without CUDA, else how many are
// visible (0 without a driver or a device).
int op_cuda_devices(void);
// One line about the device for reports ("cpu" or the GPU's name, memory and
// compute capability).
const char *op_device_info(void);
// The host address behind a pointer of the current device where there is one
// (the CPU, cpu-check); NULL stays NULL. Only ops/ needs it.
void *op_host_view(const void *p);
// bytes of zeroed memory on the current device, aligned to 64 bytes; NULL
// with the error set when out of memory. op_free(NULL) does nothing.
void *op_alloc(size_t bytes, const char *what);
void op_free(void *p);
// The current device's memory when on_device, else host memory (64-byte
// aligned, zeroed): for buffers that remember where they were made. Their
// owner keeps on_device as the op_device they were made on (0: the host), so
// op_free_on frees them right even if the device has changed since.
void *op_alloc_on(int on_device, size_t bytes, const char *what);
void op_free_on(int on_device, void *p);
// The most bytes of op_alloc memory held at once so far on a GPU (0 on the
// CPU, whose peak is the process's resident size).
size_t op_device_peak_bytes(void);
// Copies: host to device, device to host, device to device (ranges must not
// overlap), zeroing. On the CPU plain memcpy/memset. Device work is
// asynchronous; op_upload returns once its source is read (it may be reused),
// op_download and op_sync wait for the device.
void op_upload(void *dst, const void *host_src, size_t bytes);
void op_download(void *host_dst, const void *src, size_t bytes);
void op_copy(void *dst, const void *src, size_t bytes);
// Device to device, `rows` rows of `width` bytes: row r from src + r *
// src_pitch to dst + r * dst_pitch (bytes; the rows must not overlap).
void op_copy_rows(void *dst, size_t dst_pitch, const void *src, size_t src_pitch, size_t width, size_t rows);
void op_zero(void *p, size_t bytes);
// op_zero on the current device's memory when on_device, else on host memory
// (as op_alloc_on); large host ranges are cleared by the kernel threads.
void op_zero_on(int on_device, void *p, size_t bytes);
// Waits for the device's work; -1 with the error set if any of it failed
// since the last call (a CUDA error is sticky: ops do not return errors).
int op_sync(void);

// ---- device memory across processes (ops/device.c; NCCL on cuda) ----
// Whether the current device sums and broadcasts its own memory between
// processes (on cuda where NCCL is installed); if not, -1 with the error
// saying why, and callers go through host copies instead.
enum { OP_COLLECTIVE_ID_BYTES = 128 };
int op_collectives_available(void);
// One process makes the group's id, the caller hands it to the others (over
// MPI), and every process joins with its rank: -1 with the error set on failure.
int op_collectives_make_id(unsigned char id[OP_COLLECTIVE_ID_BYTES]);
int op_collectives_join(const unsigned char id[OP_COLLECTIVE_ID_BYTES], int rank, int size);
// In place, in the device's order of work (every process calls them in the
// same order): x[0..n) summed over the group into root's x (the others' x
// unchanged); root's x copied into every process's x.
int op_reduce_sum_to(float *x, size_t n, int root);
int op_broadcast_from(float *x, size_t n, int root);
void op_collectives_leave(void);

// ---- precision of the training products (ops/device.c) ----
// fp32 (the default): float32 products, as on the CPU. On a GPU, tf32 and
// bf16 let the tensor cores round the inputs of op_matmul_forward/backward and
// of the attention's products in op_attention_forward/backward (to TF32, or to
// bfloat16) while weights, activations, sums, outputs and the optimizer stay
// float32 (the float32 weights are the master copy). The decoding kernels stay
// float32. The CPU computes in float32 only: -1 with the error set for another
// precision there.
typedef enum { OP_PRECISION_FP32 = 0, OP_PRECISION_TF32 = 1, OP_PRECISION_BF16 = 2 } op_precision;
const char *op_precision_name(op_precision p);
int op_precision_parse(const char *name, op_precision *p);
int op_set_precision(op_precision p);

// ---- matrix products (ops/cpu/matmul.c) ----
// out (N, O) = inp (N, I) @ w (O, I)^T. Weights are stored (out, in) like
// PyTorch's nn.Linear, so the product needs no copies.
void op_matmul_forward(float *out, const float *inp, const float *w, int N, int in_dim, int out_dim);
// Backward of the above: dw (O, I) += dout^T @ inp; dinp (N, I) = or +=
// dout (N, O) @ w (accumulate_dinp chooses). dinp or dw may be NULL.
void op_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int N,
                        int in_dim, int out_dim, int accumulate_dinp);

// ---- embedding (ops/cpu/embedding.c) ----
// out (N, d) = table[tokens[i]] for each of the N tokens.
void op_embedding_forward(float *out, const int32_t *tokens, const float *table, int N, int d);
// dtable (V, d) += scatter of dout (N, d) by token (every token < V). Each
// row adds its tokens in position order: deterministic, the same on every device.
void op_embedding_backward(float *dtable, const float *dout, const int32_t *tokens, int N, int V, int d);

// ---- RMSNorm (ops/cpu/rmsnorm.c) ----
// out = x / sqrt(mean(x^2) + eps) * w over each row of x (N, d); rstd (N)
// keeps 1/sqrt(mean(x^2) + eps) for the backward.
void op_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int d, float eps);
// dx (N, d) += d/dx; dw (d) += d/dw (dw may be NULL: not computed).
void op_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                         const float *rstd, int N, int d);

// ---- rotary position embedding (ops/cpu/rope.c) ----
// Tables cos/sin (Tmax, hd/2) for angle pos * theta^(-2i/hd), in host memory
// on every device (the model uploads them).
void op_rope_tables(float *cos_t, float *sin_t, int Tmax, int hd, float theta);
// In place on x (B, T, nh, hd), rotate-half convention, positions pos0..pos0+T-1.
void op_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd,
                     int pos0);
// In place on dx: the transpose (inverse) rotation.
void op_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd,
                      int pos0);

// ---- causal attention with grouped key/value heads (ops/cpu/attention.c) ----
// Flash-attention style: (TILE x TILE) score tiles with an online softmax; no
// (T, T) matrix is stored. q (B, Tq, H, hd); k, v (B, Tk, Hkv, hd) where kv
// (ops/kv_layout.h) says.
// Query i sits at position Tk - Tq + i and sees keys 0..Tk-Tq+i. Query head h
// uses kv head h / (H / Hkv). out (B, Tq, H, hd); lse (B, H, Tq) receives each
// query's log-sum-exp of scaled scores, all the backward needs.
// scratch: scratch_threads x op_attention_scratch_floats(hd) floats; the
// kernels run on at most scratch_threads threads.
#define OP_ATTENTION_TILE 64
size_t op_attention_scratch_floats(int hd);
// The largest head dimension the current device's attention takes (256 on a
// GPU; no limit on the CPU).
int op_attention_max_head_dim(void);
void op_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                          int Tq, int Tk, int H, int Hkv, int hd, op_kv_layout kv, float *scratch,
                          int scratch_threads);
// Backward for Tq == Tk == T (training), given the forward's out and lse:
// dq, dk, dv overwritten; k, v, dk, dv (B, T, Hkv, hd) (op_kv_rows).
void op_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                           const float *lse, const float *q, const float *k, const float *v, int B, int T,
                           int H, int Hkv, int hd, float *scratch, int scratch_threads);

// ---- few-row kernels for decoding (ops/cpu/decode_matmul.c, decode_attention.c) ----
// Each row's result is bit-identical whatever the number of rows M, so a
// speculative verification of K+1 tokens reproduces K+1 single-token steps.
// out (M, O) = inp (M, I) @ w (O, I)^T.
void op_matmul_rows_forward(float *out, const float *inp, const float *w, int M, int in_dim, int out_dim);
// Causal attention of one sequence: q (Tq, H, hd) against k, v (Tk keys of
// Hkv heads of hd, as kv says; its batch stride unused), query i at position
// Tk - Tq + i; out (Tq, H, hd).
void op_attention_rows_forward(float *out, const float *q, const float *k, const float *v, int Tq, int Tk,
                               int H, int Hkv, int hd, op_kv_layout kv);

// ---- the decode layout (ops/cpu/packed.c) ----
// A weight matrix w (O, I) rearranged so a thread's share of a product is
// one sequential run of memory: blocks of PACK_BLOCK rows (the last padded
// with zero rows), in each chunks of PACK_CHUNK columns, in each groups of
// PACK_GROUP rows whose 16-float slices sit side by side. I must be a
// multiple of 16 (OP_PACKED_IN_MULTIPLE). op_packed_floats(O, I) floats.
#define OP_PACKED_IN_MULTIPLE 16
#define PACK_BLOCK 16
#define PACK_CHUNK 512
#ifdef __AVX512F__
#define PACK_GROUP 4  // 4 weight + 16 accumulator + 1 input registers of 32
#else
#define PACK_GROUP 2  // AVX2: a 16-float vector is 2 of the 16 registers
#endif
size_t op_packed_rows(int out_dim);  // O rounded up to PACK_BLOCK
size_t op_packed_floats(int out_dim, int in_dim);
// dst (op_packed_floats) = w (O, I) in the decode layout; op_unpack inverts it.
void op_pack(float *dst, const float *w, int out_dim, int in_dim);
void op_unpack(float *w, const float *src, int out_dim, int in_dim);
// out (M, O) = inp (M, I) @ w^T with w packed. Bit-identical to
// op_matmul_rows_forward row for row, whatever M.
void op_matmul_packed_rows(float *out, const float *inp, const float *wp, int M, int in_dim, int out_dim);
// Any N: op_matmul_packed_rows up to OP_PACKED_ROWS_MAX rows (decoding's
// steps and verifications); beyond, panels of w unpacked into scratch and
// multiplied by BLAS (a prompt is compute-bound). scratch: at least
// op_packed_scratch_floats(N, in_dim) floats (0 for N <= OP_PACKED_ROWS_MAX).
#define OP_PACKED_ROWS_MAX 16
size_t op_packed_scratch_floats(int N, int max_in_dim);
void op_matmul_packed(float *out, const float *inp, const float *wp, int N, int in_dim, int out_dim,
                      float *scratch);

// ---- int8 weights (ops/cpu/q8.c) ----
// A matrix (rows, cols), cols a multiple of OP_Q8_BLOCK: int8 q (rows, cols)
// and float scales (rows, cols / OP_Q8_BLOCK), w ~ q * scale of its block,
// scale = max |w| / 127 over the block.
#define OP_Q8_BLOCK 32
void op_quantize_q8(int8_t *q, float *scales, const float *w, int rows, int cols);
void op_dequantize_q8(float *w, const int8_t *q, const float *scales, int rows, int cols);
// The product's layout (q8.c): panels of OP_Q8_PANEL outputs (the last padded
// with zero rows), each block of 32 inputs of a panel's outputs interleaved
// so that one vector holds 4 inputs of 16 outputs. op_q8_packed_rows(O) x I
// bytes and op_q8_packed_rows(O) x I / 32 scales; op_q8_unpack inverts
// op_q8_pack (either output may be NULL).
#define OP_Q8_PANEL 64
size_t op_q8_packed_rows(int out_dim);
void op_q8_pack(int8_t *qp, float *sp, const int8_t *q, const float *scales, int out_dim, int in_dim);
void op_q8_unpack(int8_t *q, float *scales, const int8_t *qp, const float *sp, int out_dim, int in_dim);
// Activations, one scale per row: x (M, I) ~ xq * xs[row], xs = max |x| / 127;
// xaux (M, op_q8_side_ints(I)) int32 per row: the side data the product's
// instructions need (VNNI: -128 x the sum of each block's xq, I / 4; AVX2:
// |xq| as bytes, then xq as int16, 3 I / 4).
size_t op_q8_side_ints(int in_dim);
void op_quantize_rows_q8(int8_t *xq, float *xs, int32_t *xaux, const float *x, int M, int in_dim);
// out (M, O) = x @ w^T from quantized x (xq, xs, xaux) and packed w (qp, sp):
// integer dot products per block, float sums over blocks. A row's result does
// not depend on M (speculative verification stays exact against plain steps).
void op_matmul_q8(float *out, const int8_t *xq, const float *xs, const int32_t *xaux, const int8_t *qp,
                  const float *sp, int M, int in_dim, int out_dim);

// ---- memory read bandwidth (ops/cpu/bandwidth.c) ----
// Bytes per second the kernel threads reach reading a buffer of `bytes` (far
// larger than the caches), each thread one contiguous part, best of `passes`:
// the roofline of a decoding forward, which reads every weight once.
// 0 when the buffer cannot be allocated.
double op_read_bandwidth(size_t bytes, int passes);
// The same on a buffer made once by op_read_bandwidth_buffer (*n floats,
// touched; free() it): a benchmark probing between runs then does not
// allocate, fault in and release hundreds of MB each time, which slows the
// run that follows.
float *op_read_bandwidth_buffer(size_t bytes, size_t *n);
double op_read_bandwidth_of(const float *buf, size_t n, int passes);

// ---- SwiGLU (ops/cpu/swiglu.c) ----
// out = silu(gate) * up, elementwise over n values.
void op_swiglu_forward(float *out, const float *gate, const float *up, size_t n);
// dgate, dup overwritten.
void op_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                        size_t n);

// ---- softmax cross-entropy (ops/cpu/xent.c) ----
// For each of the N rows of logits (N, V): losses[i] = logsumexp(row) -
// row[targets[i]]. If grad_scale != 0 the row is replaced in place by its
// gradient (softmax(row) - onehot(target)) * grad_scale.
void op_softmax_xent(float *logits, float *losses, const int32_t *targets, int N, int V, float grad_scale);

// ---- optimizer and reductions (ops/cpu/adamw.c) ----
// Sum of squares of x (n), accumulated in double.
double op_sum_squares(const float *x, size_t n);
// One AdamW step with PyTorch semantics on n values. The gradient is used as
// g * grad_scale (clipping). step is 1-based (for bias correction).
// Hyperparameters are double, and derived constants (1 - beta, bias
// corrections, lr * wd) are formed in double before rounding to float, as
// PyTorch does with its Python-float hyperparameters.
void op_adamw(float *p, const float *g, float *m, float *v, size_t n, float grad_scale, double lr,
              double beta1, double beta2, double eps, double weight_decay, long step);

// ---- elementwise helpers (ops/cpu/elementwise.c) ----
// y += x over n values.
void op_add_inplace(float *y, const float *x, size_t n);

// ---- threads (ops/cpu/threads.c) ----
// Sets the thread count of the kernels and of the BLAS library.
void op_set_threads(int n);
int op_get_threads(void);
// A short name of the BLAS kernel in use (for benchmark reports).
const char *op_blas_info(void);
// The vector instructions the CPU kernels were built for: "avx512", "avx2" or
// "generic", and the L2 size a build assumes for its blocking where it fixes one
// (for benchmark reports: which build ran).
const char *op_cpu_kernels(void);
// op_matmul_forward through the BLAS library instead of the CPU backend's own
// products (CPU only, host memory): benchmarks hold both against each other,
// and the matrix-product ceiling is the better of the two.
void op_blas_matmul_forward(float *out, const float *inp, const float *w, int N, int in_dim, int out_dim);

#endif
