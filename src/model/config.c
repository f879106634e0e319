// config.c: defaults and validation of model shapes.
#include "model/config.h"

#include <string.h>

#include "core/error.h"

int config_default_ffn_dim(int dim) {
    long f = (8L * dim + 2) / 3;  // ceil(8d/3)
    return (int)((f + 63) / 64 * 64);
}

void config_set_defaults(mtp_config *c) {
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;
}

int config_validate(const mtp_config *c) {
    if (c->vocab_size < 2 || c->vocab_size > (1 << 30))
        return mtp_errorf("--vocab-size %d is out of range (2 .. 2^30)", c->vocab_size);
    if (c->dim < 2 || c->dim > 65536) return mtp_errorf("--dim %d is out of range (2 .. 65536)", c->dim);
    if (c->n_head < 1) return mtp_errorf("--n-head %d must be at least 1", c->n_head);
    if (c->dim % c->n_head != 0)
        return mtp_errorf("--dim %d is not divisible by --n-head %d: choose a dim that is a multiple of it",
                          c->dim, c->n_head);
    if ((c->dim / c->n_head) % 2 != 0)
        return mtp_errorf("head dim %d (--dim %d / --n-head %d) must be even for RoPE", c->dim / c->n_head,
                          c->dim, c->n_head);
    if (c->n_kv_head < 1 || c->n_kv_head > c->n_head || c->n_head % c->n_kv_head != 0)
        return mtp_errorf("--n-kv-head %d must divide --n-head %d", c->n_kv_head, c->n_head);
    if (c->ffn_dim < 1 || c->ffn_dim > (1 << 20))
        return mtp_errorf("--ffn-dim %d is out of range", c->ffn_dim);
    if (c->n_future < 1 || c->n_future > MTP_MAX_FUTURE)
        return mtp_errorf("--n-future %d is out of range (1 .. %d)", c->n_future, MTP_MAX_FUTURE);
    if (c->n_layer < 2 || c->n_layer > 4096)
        return mtp_errorf("--n-layer %d is out of range (2 .. 4096)", c->n_layer);
    if (c->head_type != MTP_HEAD_TRANSFORMER && c->head_type != MTP_HEAD_LINEAR)
        return mtp_errorf("head type %d is unknown (transformer or linear)", c->head_type);
    if (c->head_order < MTP_HEAD_PARALLEL || c->head_order > MTP_HEAD_ANTICAUSAL)
        return mtp_errorf("head order %d is unknown (parallel, causal or anticausal)", c->head_order);
    if (c->head_type == MTP_HEAD_LINEAR && c->head_order != MTP_HEAD_PARALLEL)
        return mtp_errorf("--head-order %s needs --head-type transformer: linear heads all read the trunk",
                          config_head_order_name(c->head_order));
    if (c->head_type == MTP_HEAD_TRANSFORMER && c->n_future >= c->n_layer)
        return mtp_errorf(
            "--n-future %d must be smaller than --n-layer %d (the trunk needs at least one block)",
            c->n_future, c->n_layer);
    if (c->max_seq_len < 1 || c->max_seq_len > (1 << 20))
        return mtp_errorf("max context %d is out of range (1 .. 2^20)", c->max_seq_len);
    if (!(c->norm_eps > 0.0f)) return mtp_errorf("rms_norm_eps %g must be positive", (double)c->norm_eps);
    if (!(c->rope_theta > 1.0f)) return mtp_errorf("rope_theta %g must be > 1", (double)c->rope_theta);
    return 0;
}

static const char *const HEAD_TYPES[] = {"transformer", "linear"};
static const char *const HEAD_ORDERS[] = {"parallel", "causal", "anticausal"};

const char *config_head_type_name(int head_type) {
    return head_type >= 0 && head_type < 2 ? HEAD_TYPES[head_type] : "?";
}

const char *config_head_order_name(int head_order) {
    return head_order >= 0 && head_order < 3 ? HEAD_ORDERS[head_order] : "?";
}

static int find_name(const char *const *names, int count, const char *name) {
    for (int i = 0; i < count && name; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

int config_parse_head_type(const char *name) {
    return find_name(HEAD_TYPES, 2, name);
}

int config_parse_head_order(const char *name) {
    return find_name(HEAD_ORDERS, 3, name);
}
