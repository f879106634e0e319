// config.h: the shape of a model (design.md section 1) and its checks.
#ifndef MTP_MODEL_CONFIG_H
#define MTP_MODEL_CONFIG_H

// Most future-token heads a model may have (per-head arrays are sized by it).
#define MTP_MAX_FUTURE 64

typedef struct {
    int vocab_size;    // V
    int dim;           // d
    int n_head;        // H
    int n_kv_head;     // Hkv, divides H
    int ffn_dim;       // f
    int n_layer;       // L: trunk blocks (L - n) + head blocks (n)
    int n_future;      // n: head k predicts token t + k
    int max_seq_len;   // Tmax: longest context the RoPE tables cover
    float norm_eps;    // RMSNorm epsilon (1e-5)
    float rope_theta;  // RoPE base (10000)
} mtp_config;

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
