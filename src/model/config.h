// config.h: the shape of a model (design.md section 1) and its checks.
#ifndef MTP_MODEL_CONFIG_H
#define MTP_MODEL_CONFIG_H

// MTP_MAX_FUTURE and mtp_config (the shape of a model) are part of the public
// interface, so they are defined there.
#include "mtp.h"

// The Llama rule for the FFN width: 8d/3 rounded up to a multiple of 64.
int config_default_ffn_dim(int dim);
// Fills the fields every model shares (eps, theta) with their defaults.
void config_set_defaults(mtp_config *c);
// Checks that the shape is possible; the error names the flag to change
// (e.g. "--dim 100 is not divisible by --n-head 3").
int config_validate(const mtp_config *c);
// Head dimension d / H.
static inline int config_head_dim(const mtp_config *c) {
    return c->dim / c->n_head;
}
// Trunk blocks: L - n, or all L when the heads are linear maps.
static inline int config_trunk_layers(const mtp_config *c) {
    return c->head_type == MTP_HEAD_LINEAR ? c->n_layer : c->n_layer - c->n_future;
}
// Linear heads: n matrices (d, d), one per head; none for transformer heads.
static inline int config_linear_heads(const mtp_config *c) {
    return c->head_type == MTP_HEAD_LINEAR ? c->n_future : 0;
}
// 1 when a head reads another head's output (causal, anticausal): then a
// head's activations live until the heads after it in the chain went backward.
static inline int config_heads_chained(const mtp_config *c) {
    return c->head_order != MTP_HEAD_PARALLEL && c->n_future > 1;
}
// The names of head types and orders (flags, config.json): "transformer",
// "linear"; "parallel", "causal", "anticausal". Parsing returns -1 for others.
const char *config_head_type_name(int head_type);
const char *config_head_order_name(int head_order);
int config_parse_head_type(const char *name);
int config_parse_head_order(const char *name);

#endif
