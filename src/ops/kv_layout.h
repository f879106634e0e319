// kv_layout.h: where an attention op finds its keys and values (C and the
// CUDA backend's C++ alike).
#ifndef MTP_OPS_KV_LAYOUT_H
#define MTP_OPS_KV_LAYOUT_H

#include <stddef.h>

// Key j of kv head g of sequence b at k + b * batch + g * head + j * position
// (floats), values likewise. A model's activations are (B, T, Hkv, hd),
// op_kv_rows; a KV cache keeps each head's positions together, (Hkv, Tmax,
// hd) per block, op_kv_heads, so that decoding reads every head's keys and
// values as sequential runs (its single sequence: batch 0).
typedef struct {
    size_t batch, head, position;
} op_kv_layout;

static inline op_kv_layout op_kv_rows(int T, int Hkv, int hd) {
    op_kv_layout kv;
    kv.batch = (size_t)T * Hkv * hd;
    kv.head = (size_t)hd;
    kv.position = (size_t)Hkv * hd;
    return kv;
}

static inline op_kv_layout op_kv_heads(int Tmax, int hd) {
    op_kv_layout kv;
    kv.batch = 0;
    kv.head = (size_t)Tmax * hd;
    kv.position = (size_t)hd;
    return kv;
}

#endif
