// layout.c: the weights' layout in memory. Training keeps every matrix
// row-major, stacked per kind (params.h); a model that only decodes can have
// its matrices rearranged into the decode layout of ops.h, which a thread
// reads as one sequential stream, so few-row products run at the memory's
// speed. Embedding and norms stay row-major.
#include <string.h>

#include "core/error.h"
#include "model/model.h"
#include "ops/ops.h"

// The kinds that are matrices multiplied by activations (not the embedding,
// which is gathered row by row).
static const param_kind MATRICES[] = {P_WQ,  P_WK,    P_WV,      P_WO,       P_WGATE,
                                      P_WUP, P_WDOWN, P_LM_HEAD, P_HEAD_PROJ};
enum { N_MATRICES = sizeof MATRICES / sizeof MATRICES[0] };

int model_kind_is_matrix(param_kind kind) {
    for (int i = 0; i < N_MATRICES; i++)
        if (MATRICES[i] == kind) return 1;
    return 0;
}

size_t model_largest_matrix(const mtp_config *c) {
    size_t most = 0;
    for (int i = 0; i < N_MATRICES; i++) {
        int out, in;
        model_matrix_shape(c, MATRICES[i], &out, &in);
        if ((size_t)out * in > most) most = (size_t)out * in;
    }
    return most;
}

void model_matrix_shape(const mtp_config *c, param_kind kind, int *out, int *in) {
    int d = c->dim, f = c->ffn_dim, hd = config_head_dim(c), qd = c->n_head * hd, kvd = c->n_kv_head * hd;
    switch (kind) {
        case P_WQ:
            *out = qd, *in = d;
            break;
        case P_WK:
        case P_WV:
            *out = kvd, *in = d;
            break;
        case P_WO:
            *out = d, *in = qd;
            break;
        case P_WGATE:
        case P_WUP:
            *out = f, *in = d;
            break;
        case P_WDOWN:
            *out = d, *in = f;
            break;
        case P_HEAD_PROJ:
            *out = d, *in = d;
            break;
        default:  // P_LM_HEAD
            *out = c->vocab_size, *in = d;
            break;
    }
}

static size_t matrix_floats(const mtp_model *m, param_kind kind) {
    int out, in;
    model_matrix_shape(&m->cfg, kind, &out, &in);
    return m->decode_layout ? op_packed_floats(out, in) : (size_t)out * in;
}

const float *model_matrix(const mtp_model *m, param_kind kind, int layer) {
    return m->params.t[kind] + (size_t)layer * matrix_floats(m, kind);
}

int model_decode_layout_fits(const mtp_config *c) {
    // the layout needs input widths in whole 16-float slices; a model this
    // odd-sized is small, and decodes as well row-major
    const int widths[3] = {c->dim, c->n_head * config_head_dim(c), c->ffn_dim};
    for (int i = 0; i < 3; i++)
        if (widths[i] % OP_PACKED_IN_MULTIPLE != 0) return 0;
    return 1;
}

int model_alloc_decode_params(param_set *p, const mtp_config *c) {
    // the arena: the matrices packed, the rest row-major, each kind 64-byte aligned
    memset(p, 0, sizeof *p);
    params_kind_counts(c, p->count);
    size_t floats[P_KINDS], total = 0;
    for (int k = 0; k < P_KINDS; k++) floats[k] = (p->count[k] + 15) / 16 * 16;
    for (int i = 0; i < N_MATRICES; i++) {
        int out, in;
        model_matrix_shape(c, MATRICES[i], &out, &in);
        size_t layers = (size_t)params_kind_layers(c, MATRICES[i]);
        floats[MATRICES[i]] = layers * op_packed_floats(out, in);
    }
    for (int k = 0; k < P_KINDS; k++) total += floats[k];
    p->memory = mtp_alloc_streamed(total * sizeof(float), 1, "model parameters in the decode layout");
    if (!p->memory) return -1;
    p->total = total;
    size_t off = 0;
    for (int k = 0; k < P_KINDS; k++) {
        p->t[k] = p->memory + off;
        off += floats[k];
    }
    return 0;
}

void model_pack_matrix(mtp_model *m, param_kind kind, int layer, const float *w) {
    int out, in;
    model_matrix_shape(&m->cfg, kind, &out, &in);
    op_pack(m->params.t[kind] + (size_t)layer * op_packed_floats(out, in), w, out, in);
}

int model_use_decode_layout(mtp_model *m) {
    if (m->decode_layout) return 0;
    if (m->q8)
        return mtp_errorf("an int8 model has its own layout; the decode layout is for float32 weights");
    const mtp_config *c = &m->cfg;
    if (!model_decode_layout_fits(c)) return 0;
    param_set p;
    if (model_alloc_decode_params(&p, c) != 0) return -1;
    for (int k = 0; k < P_KINDS; k++) {
        if (!model_kind_is_matrix((param_kind)k)) {
            memcpy(p.t[k], m->params.t[k], sizeof(float) * m->params.count[k]);
            continue;
        }
        int out, in;
        model_matrix_shape(c, (param_kind)k, &out, &in);
        size_t layers = (size_t)params_kind_layers(c, (param_kind)k), packed = op_packed_floats(out, in);
        for (size_t l = 0; l < layers; l++)  // op_pack shares each matrix among the threads
            op_pack(p.t[k] + l * packed, m->params.t[k] + l * (size_t)out * in, out, in);
    }
    params_free(&m->params);
    m->params = p;
    m->decode_layout = 1;
    return 0;
}
