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
// Trunk blocks L - n.
static inline int config_trunk_layers(const mtp_config *c) {
    return c->n_layer - c->n_future;
}

#endif
