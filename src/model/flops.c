// flops.c: FLOP and byte counts of one training step.
#include "model/flops.h"

#include "model/params.h"

step_flops model_step_flops(const mtp_config *c, int B, int T) {
    double N = (double)B * T, d = c->dim, f = c->ffn_dim, hd = config_head_dim(c);
    double qd = c->n_head * hd, kvd = c->n_kv_head * hd, V = c->vocab_size, L = c->n_layer;
    step_flops s;
    // forward per token and block: q, k, v, o projections and gate, up, down
    double block_fwd = 2.0 * (d * qd + 2.0 * d * kvd + qd * d + 3.0 * d * f);
    // causal attention: query i meets i+1 keys, twice (scores, weighted sum)
    double attn_fwd = 2.0 * 2.0 * c->n_head * hd * (double)B * (double)T * (T + 1) / 2.0;
    s.blocks = 3.0 * N * L * block_fwd;
    s.attention = 3.0 * L * attn_fwd;
    s.unembed = 3.0 * N * c->n_future * 2.0 * d * V;
    s.total = s.blocks + s.attention + s.unembed;
    s.optimizer_bytes = 28.0 * (double)params_count(c);
    return s;
}

double model_decode_weight_bytes(const mtp_config *c, int q8) {
    double d = c->dim, f = c->ffn_dim, hd = config_head_dim(c);
    double qd = c->n_head * hd, kvd = c->n_kv_head * hd, V = c->vocab_size;
    double per = q8 ? 1.0 + 4.0 / 32.0 : 4.0;                         // bytes per matrix value
    double matrices = d * qd + 2.0 * d * kvd + qd * d + 3.0 * d * f;  // of one block
    double blocks = config_trunk_layers(c) + 1.0;                     // the trunk and head 1
    return per * (blocks * matrices + V * d) +
           4.0 * (blocks * 2.0 * d + d + d);  // + norms, one embedding row
}
