// params.h: the parameters of a model, laid out the llm.c way: one arena,
// one layer-stacked tensor per kind (all L blocks' wq together, trunk blocks
// first, then head 1..n), so gradients and optimizer moments are the same
// layout and the optimizer is one loop. Block l (0-based) of L:
//   l <  L-n   trunk block l
//   l >= L-n   head k = l - (L-n) + 1
// File names follow Hugging Face Llama (design.md section 3): blocks
// 0..L-n are model.layers.{l}, heads 2..n are model.extra_heads.{l-(L-n+1)}.
#ifndef MTP_MODEL_PARAMS_H
#define MTP_MODEL_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "model/config.h"

typedef enum {
    P_EMBED,      // (V, d)
    P_ATTN_NORM,  // (L, d)
    P_WQ,         // (L, H*hd, d)
    P_WK,         // (L, Hkv*hd, d)
    P_WV,         // (L, Hkv*hd, d)
    P_WO,         // (L, d, H*hd)
    P_FFN_NORM,   // (L, d)
    P_WGATE,      // (L, f, d)
    P_WUP,        // (L, f, d)
    P_WDOWN,      // (L, d, f)
    P_NORM,       // (d)     shared final norm
    P_LM_HEAD,    // (V, d)  shared unembedding
    P_HEAD_PROJ,  // (n, d, d) linear heads (none for transformer heads)
    P_KINDS
} param_kind;

typedef struct {
    float *t[P_KINDS];      // start of each kind's (stacked) tensor
    size_t count[P_KINDS];  // elements of each kind (all blocks)
    float *memory;          // the arena
    size_t total;           // elements in the arena
    int on_device;          // the arena is the ops' device memory (op_alloc), not host memory
} param_set;

// One block's slices of a param_set (weights or their gradients alike).
typedef struct {
    float *attn_norm, *wq, *wk, *wv, *wo, *ffn_norm, *wgate, *wup, *wdown;
} block_params;

// Allocates a zeroed arena shaped for cfg in host memory, or (_on_device) in
// the ops' current device's (op_alloc; the host arena where that is the CPU).
int params_alloc(param_set *p, const mtp_config *cfg);
int params_alloc_on_device(param_set *p, const mtp_config *cfg);
void params_free(param_set *p);
block_params params_block(const param_set *p, const mtp_config *cfg, int layer);

// The named tensors of a checkpoint, in a fixed order: the embedding, the
// L blocks' nine tensors each, the linear heads' matrices (linear heads
// only: model.linear_heads.{k-1}.weight for head k), the final norm, lm_head. p may be NULL: the
// names and shapes alone (data NULL).
typedef struct {
    char name[96];
    float *data;  // NULL where the set does not hold it (a quantized model's matrices)
    param_kind kind;
    int layer;  // block index for per-block kinds, head k-1 for P_HEAD_PROJ, else 0
    int ndim;
    int64_t shape[2];
    int is_matrix;        // 2-D: gets weight decay
    int is_residual_out;  // o_proj / down_proj: init scaled by 1/sqrt(2L)
} named_tensor;
int params_tensor_count(const mtp_config *cfg);
void params_named(const param_set *p, const mtp_config *cfg, int index, named_tensor *out);

// Normal(0, 0.02) for matrices (residual output projections 0.02/sqrt(2L)),
// ones for norm weights; the stream depends only on the seed.
void params_init(param_set *p, const mtp_config *cfg, uint64_t seed);
// How many matrices of `kind` are stacked: L for block kinds, the linear
// heads for P_HEAD_PROJ, 1 for the others.
int params_kind_layers(const mtp_config *cfg, param_kind kind);
// Number of parameters, and per kind (every layer's together).
size_t params_count(const mtp_config *cfg);
void params_kind_counts(const mtp_config *cfg, size_t count[P_KINDS]);

#endif
