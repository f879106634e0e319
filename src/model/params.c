// params.c: parameter layout, names and initialization.
#include "model/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "ops/ops.h"

// Elements per block of each stacked kind (or of the whole tensor).
static void kind_sizes(const mtp_config *c, size_t per_block[P_KINDS], size_t total[P_KINDS]) {
    size_t d = (size_t)c->dim, hd = (size_t)config_head_dim(c), f = (size_t)c->ffn_dim,
           L = (size_t)c->n_layer;
    size_t qd = (size_t)c->n_head * hd, kvd = (size_t)c->n_kv_head * hd, V = (size_t)c->vocab_size;
    size_t pb[P_KINDS] = {0, d, qd * d, kvd * d, kvd * d, d * qd, d, f * d, f * d, d * f, 0, 0, d * d};
    for (int k = 0; k < P_KINDS; k++) {
        per_block[k] = pb[k];
        total[k] = pb[k] * L;
    }
    total[P_EMBED] = V * d;
    total[P_NORM] = d;
    total[P_LM_HEAD] = V * d;
    total[P_HEAD_PROJ] = d * d * (size_t)config_linear_heads(c);
}

void params_kind_counts(const mtp_config *cfg, size_t count[P_KINDS]) {
    size_t pb[P_KINDS];
    kind_sizes(cfg, pb, count);
}

size_t params_count(const mtp_config *cfg) {
    size_t pb[P_KINDS], tot[P_KINDS], n = 0;
    kind_sizes(cfg, pb, tot);
    for (int k = 0; k < P_KINDS; k++) n += tot[k];
    return n;
}

static int alloc_set(param_set *p, const mtp_config *cfg, int on_device) {
    memset(p, 0, sizeof *p);
    size_t pb[P_KINDS];
    kind_sizes(cfg, pb, p->count);
    // Each kind starts on a 16-float (64-byte) boundary.
    size_t total = 0;
    for (int k = 0; k < P_KINDS; k++) total += (p->count[k] + 15) / 16 * 16;
    p->on_device = on_device ? (int)op_current_device() : 0;  // which device: freed there whatever is current
    p->memory = op_alloc_on(p->on_device, total * sizeof(float), "model parameters");
    if (!p->memory) return -1;
    p->total = total;
    size_t off = 0;
    for (int k = 0; k < P_KINDS; k++) {
        p->t[k] = p->memory + off;
        off += (p->count[k] + 15) / 16 * 16;
    }
    return 0;
}

int params_alloc(param_set *p, const mtp_config *cfg) {
    return alloc_set(p, cfg, 0);
}

int params_alloc_on_device(param_set *p, const mtp_config *cfg) {
    return alloc_set(p, cfg, 1);
}

void params_free(param_set *p) {
    op_free_on(p->on_device, p->memory);
    memset(p, 0, sizeof *p);
}

// Start of layer l's slice of kind k, or NULL where the set holds no such
// tensor (a quantized model keeps its matrices elsewhere).
static float *slice(const param_set *p, param_kind k, size_t offset) {
    return p->t[k] ? p->t[k] + offset : NULL;
}

block_params params_block(const param_set *p, const mtp_config *cfg, int layer) {
    size_t pb[P_KINDS], tot[P_KINDS];
    kind_sizes(cfg, pb, tot);
    size_t l = (size_t)layer;
    block_params b = {
        slice(p, P_ATTN_NORM, l * pb[P_ATTN_NORM]),
        slice(p, P_WQ, l * pb[P_WQ]),
        slice(p, P_WK, l * pb[P_WK]),
        slice(p, P_WV, l * pb[P_WV]),
        slice(p, P_WO, l * pb[P_WO]),
        slice(p, P_FFN_NORM, l * pb[P_FFN_NORM]),
        slice(p, P_WGATE, l * pb[P_WGATE]),
        slice(p, P_WUP, l * pb[P_WUP]),
        slice(p, P_WDOWN, l * pb[P_WDOWN]),
    };
    return b;
}

int params_tensor_count(const mtp_config *cfg) {
    return 3 + 9 * cfg->n_layer + config_linear_heads(cfg);
}

int params_kind_layers(const mtp_config *cfg, param_kind kind) {
    switch (kind) {
        case P_EMBED:
        case P_NORM:
        case P_LM_HEAD:
            return 1;
        case P_HEAD_PROJ:
            return config_linear_heads(cfg);
        default:
            return cfg->n_layer;
    }
}

static const struct {
    param_kind kind;
    const char *suffix;
} block_tensors[9] = {
    {P_ATTN_NORM, "input_layernorm.weight"}, {P_WQ, "self_attn.q_proj.weight"},
    {P_WK, "self_attn.k_proj.weight"},       {P_WV, "self_attn.v_proj.weight"},
    {P_WO, "self_attn.o_proj.weight"},       {P_FFN_NORM, "post_attention_layernorm.weight"},
    {P_WGATE, "mlp.gate_proj.weight"},       {P_WUP, "mlp.up_proj.weight"},
    {P_WDOWN, "mlp.down_proj.weight"},
};

void params_named(const param_set *p, const mtp_config *c, int index, named_tensor *out) {
    memset(out, 0, sizeof *out);
    int64_t d = c->dim, hd = config_head_dim(c), f = c->ffn_dim, V = c->vocab_size;
    int64_t qd = c->n_head * hd, kvd = c->n_kv_head * hd;
    int last = params_tensor_count(c) - 1;
    if (index == 0 || index == last) {
        snprintf(out->name, sizeof out->name, "%s",
                 index == 0 ? "model.embed_tokens.weight" : "lm_head.weight");
        out->kind = index == 0 ? P_EMBED : P_LM_HEAD;
        out->data = p ? p->t[out->kind] : NULL;
        out->ndim = 2;
        out->shape[0] = V;
        out->shape[1] = d;
        out->is_matrix = 1;
        return;
    }
    if (index == last - 1) {
        snprintf(out->name, sizeof out->name, "model.norm.weight");
        out->kind = P_NORM;
        out->data = p ? p->t[P_NORM] : NULL;
        out->ndim = 1;
        out->shape[0] = d;
        return;
    }
    if (index > 9 * c->n_layer) {  // linear head k = index - 9L
        int k = index - 9 * c->n_layer;
        snprintf(out->name, sizeof out->name, "model.linear_heads.%d.weight", k - 1);
        out->kind = P_HEAD_PROJ;
        out->layer = k - 1;
        out->data = p ? p->t[P_HEAD_PROJ] + (size_t)(k - 1) * d * d : NULL;
        out->ndim = 2;
        out->shape[0] = out->shape[1] = d;
        out->is_matrix = 1;
        return;
    }
    int layer = (index - 1) / 9, which = (index - 1) % 9;
    // trunk + head 1 = a plain Llama; linear heads: every block is the trunk's
    int in_layers = c->head_type == MTP_HEAD_LINEAR ? c->n_layer : c->n_layer - c->n_future + 1;
    if (layer < in_layers)
        snprintf(out->name, sizeof out->name, "model.layers.%d.%s", layer, block_tensors[which].suffix);
    else
        snprintf(out->name, sizeof out->name, "model.extra_heads.%d.%s", layer - in_layers,
                 block_tensors[which].suffix);
    block_params b = {0};
    if (p) b = params_block(p, c, layer);
    float *ptrs[9] = {b.attn_norm, b.wq, b.wk, b.wv, b.wo, b.ffn_norm, b.wgate, b.wup, b.wdown};
    int64_t shapes[9][2] = {{d, 0}, {qd, d}, {kvd, d}, {kvd, d}, {d, qd}, {d, 0}, {f, d}, {f, d}, {d, f}};
    out->data = ptrs[which];
    out->kind = block_tensors[which].kind;
    out->layer = layer;
    out->ndim = shapes[which][1] ? 2 : 1;
    out->shape[0] = shapes[which][0];
    out->shape[1] = shapes[which][1];
    out->is_matrix = out->ndim == 2;
    out->is_residual_out = block_tensors[which].kind == P_WO || block_tensors[which].kind == P_WDOWN;
}

void params_init(param_set *p, const mtp_config *cfg, uint64_t seed) {
    mtp_rng rng;
    mtp_rng_seed(&rng, seed);
    const double std = 0.02, residual_std = 0.02 / sqrt(2.0 * cfg->n_layer);
    int count = params_tensor_count(cfg);
    for (int i = 0; i < count; i++) {
        named_tensor t;
        params_named(p, cfg, i, &t);
        size_t n = (size_t)t.shape[0] * (size_t)(t.ndim == 2 ? t.shape[1] : 1);
        if (!t.is_matrix) {
            for (size_t j = 0; j < n; j++) t.data[j] = 1.0f;
            continue;
        }
        double s = t.is_residual_out ? residual_std : std;
        for (size_t j = 0; j < n; j++) t.data[j] = (float)(s * mtp_rng_normal(&rng));
    }
}
