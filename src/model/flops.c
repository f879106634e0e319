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
    // linear heads: one d x d product each
    s.blocks = 3.0 * N * (L * block_fwd + config_linear_heads(c) * 2.0 * d * d);
    s.attention = 3.0 * L * attn_fwd;
    s.unembed = 3.0 * N * c->n_future * 2.0 * d * V;
    s.total = s.blocks + s.attention + s.unembed;
    s.optimizer_bytes = 28.0 * (double)params_count(c);
    return s;
}

// The blocks a plain decoding step runs: the trunk and head 1's block (an
// anticausal head 1 reads every head: all n blocks); linear heads have none.
static double plain_step_blocks(const mtp_config *c) {
    double blocks = config_trunk_layers(c);
    if (c->head_type != MTP_HEAD_LINEAR) blocks += c->head_order == MTP_HEAD_ANTICAUSAL ? c->n_future : 1.0;
    return blocks;
}

double model_decode_weight_bytes(const mtp_config *c, int q8) {
    double d = c->dim, f = c->ffn_dim, hd = config_head_dim(c);
    double qd = c->n_head * hd, kvd = c->n_kv_head * hd, V = c->vocab_size;
    double per = q8 ? 1.0 + 4.0 / 32.0 : 4.0;                         // bytes per matrix value
    double matrices = d * qd + 2.0 * d * kvd + qd * d + 3.0 * d * f;  // of one block
    // head 1's matrix when heads are linear
    double blocks = plain_step_blocks(c), head_matrix = c->head_type == MTP_HEAD_LINEAR ? d * d : 0.0;
    return per * (blocks * matrices + head_matrix + V * d) +
           4.0 * (blocks * 2.0 * d + d + d);  // + norms, one embedding row
}

double model_decode_kv_bytes(const mtp_config *c, double context) {
    return plain_step_blocks(c) * context * 2.0 * c->n_kv_head * config_head_dim(c) * sizeof(float);
}
