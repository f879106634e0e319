// quant.c: a model whose matrices are int8 with one scale per 32 values
// (ops.h, q8.c): a quarter of the bytes to read per decoded token. The
// embedding and the norms stay float32 (the embedding is read one row per
// token). Forwards only, like the decode layout.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/model.h"
#include "ops/ops.h"

int model_matrix_rows_fit_q8(const mtp_config *c, char *why, size_t cap) {
    int d = c->dim, hd = config_head_dim(c), in[3] = {d, c->n_head * hd, c->ffn_dim};
    const char *names[3] = {"dim", "n_head x head_dim", "ffn_dim"};
    for (int i = 0; i < 3; i++)
        if (in[i] % OP_Q8_BLOCK != 0) {
            snprintf(why, cap, "%s = %d is not a multiple of %d", names[i], in[i], OP_Q8_BLOCK);
            return 0;
        }
    return 1;
}

// A parameter arena holding only the kinds that stay float32 (zeroed); the
// matrices' slots are NULL.
static int alloc_float_rest(param_set *p, const mtp_config *c) {
    memset(p, 0, sizeof *p);
    params_kind_counts(c, p->count);
    size_t floats = 0;
    for (int k = 0; k < P_KINDS; k++)
        if (!model_kind_is_matrix((param_kind)k)) floats += (p->count[k] + 15) / 16 * 16;
    p->memory = mtp_alloc_aligned(floats * sizeof(float), "model norms and embedding");
    if (!p->memory) return -1;
    p->total = floats;
    size_t off = 0;
    for (int k = 0; k < P_KINDS; k++) {
        if (model_kind_is_matrix((param_kind)k)) continue;
        p->t[k] = p->memory + off;
        off += (p->count[k] + 15) / 16 * 16;
    }
    return 0;
}

// One matrix's int8 storage in the product's packed layout (ops.h): whole
// panels of OP_Q8_PANEL rows, so every matrix starts 64-byte aligned.
static size_t q8_bytes(int out, int in) {
    return op_q8_packed_rows(out) * (size_t)in;
}

static size_t q8_scales(int out, int in) {
    return op_q8_packed_rows(out) * (size_t)in / OP_Q8_BLOCK;
}

// The int8 storage of every matrix (zeroed): m->q8_w / q8_s point into it.
static int alloc_q8_storage(mtp_model *m) {
    const mtp_config *c = &m->cfg;
    size_t bytes = 0, scales = 0;
    for (int k = 0; k < P_KINDS; k++)
        if (model_kind_is_matrix((param_kind)k)) {
            int out, in;
            model_matrix_shape(c, (param_kind)k, &out, &in);
            size_t layers = (size_t)params_kind_layers(c, (param_kind)k);
            bytes += layers * q8_bytes(out, in);
            scales += layers * q8_scales(out, in);
        }
    m->q8_weights = mtp_alloc_streamed(bytes, 1, "int8 weights");
    m->q8_scales = m->q8_weights ? mtp_alloc_streamed(scales * sizeof(float), 1, "int8 weight scales") : NULL;
    if (!m->q8_scales) {
        free(m->q8_weights);
        m->q8_weights = NULL;
        return -1;
    }
    size_t at = 0, sat = 0;
    for (int k = 0; k < P_KINDS; k++) {
        m->q8_w[k] = NULL, m->q8_s[k] = NULL;
        if (!model_kind_is_matrix((param_kind)k)) continue;
        int out, in;
        model_matrix_shape(c, (param_kind)k, &out, &in);
        size_t layers = (size_t)params_kind_layers(c, (param_kind)k);
        m->q8_w[k] = m->q8_weights + at;
        m->q8_s[k] = m->q8_scales + sat;
        at += layers * q8_bytes(out, in);
        sat += layers * q8_scales(out, in);
    }
    return 0;
}

static void free_q8_storage(mtp_model *m) {
    free(m->q8_weights);
    free(m->q8_scales);
    m->q8_weights = NULL, m->q8_scales = NULL;
}

int model_alloc_q8_params(mtp_model *m) {
    char why[128];
    if (!model_matrix_rows_fit_q8(&m->cfg, why, sizeof why))
        return mtp_errorf("cannot hold int8 (q8) weights: %s (rows are quantized in blocks of %d)", why,
                          OP_Q8_BLOCK);
    if (alloc_float_rest(&m->params, &m->cfg) != 0) return -1;
    if (alloc_q8_storage(m) != 0) {
        params_free(&m->params);
        return -1;
    }
    m->q8 = 1;
    return 0;
}

// Every float32 matrix of m quantized into its int8 storage, through one
// row-major scratch matrix (the largest) packed from there.
static int quantize_all(mtp_model *m) {
    const mtp_config *c = &m->cfg;
    const size_t most = model_largest_matrix(c);
    int8_t *q = mtp_malloc(most, "one int8 matrix being packed");
    float *scales = q ? mtp_malloc(most / OP_Q8_BLOCK * sizeof(float), "its scales") : NULL;
    if (!scales) {
        free(q);
        return -1;
    }
    for (int k = 0; k < P_KINDS; k++) {
        if (!model_kind_is_matrix((param_kind)k)) continue;
        int out, in;
        model_matrix_shape(c, (param_kind)k, &out, &in);
        for (int l = 0; l < params_kind_layers(c, (param_kind)k); l++) {
            op_quantize_q8(q, scales, m->params.t[k] + (size_t)l * out * in, out, in);
            model_set_q8_matrix(m, (param_kind)k, l, q, scales);
        }
    }
    free(q);
    free(scales);
    return 0;
}

int model_use_q8(mtp_model *m, int quantize) {
    const mtp_config *c = &m->cfg;
    char why[128];
    if (m->q8 || m->decode_layout) return mtp_errorf("the model is already in a decoding layout");
    if (!model_matrix_rows_fit_q8(c, why, sizeof why))
        return mtp_errorf("cannot quantize to q8: %s (rows are quantized in blocks of %d)", why, OP_Q8_BLOCK);
    if (alloc_q8_storage(m) != 0) return -1;
    if (quantize && quantize_all(m) != 0) {
        free_q8_storage(m);
        return -1;
    }
    // the float32 matrices go: a new arena with only the kinds that stay float32
    param_set rest;
    if (alloc_float_rest(&rest, c) != 0) {
        free_q8_storage(m);
        return -1;
    }
    for (int k = 0; k < P_KINDS; k++)
        if (rest.t[k]) memcpy(rest.t[k], m->params.t[k], sizeof(float) * m->params.count[k]);
    params_free(&m->params);
    m->params = rest;
    m->q8 = 1;
    return 0;
}

void model_q8_matrix(const mtp_model *m, param_kind kind, int layer, const int8_t **q, const float **scales) {
    int out, in;
    model_matrix_shape(&m->cfg, kind, &out, &in);
    *q = m->q8_w[kind] + (size_t)layer * q8_bytes(out, in);
    *scales = m->q8_s[kind] + (size_t)layer * q8_scales(out, in);
}

void model_set_q8_matrix(mtp_model *m, param_kind kind, int layer, const int8_t *q, const float *scales) {
    int out, in;
    model_matrix_shape(&m->cfg, kind, &out, &in);
    op_q8_pack(m->q8_w[kind] + (size_t)layer * q8_bytes(out, in),
               m->q8_s[kind] + (size_t)layer * q8_scales(out, in), q, scales, out, in);
}

void model_get_q8_matrix(const mtp_model *m, param_kind kind, int layer, int8_t *q, float *scales) {
    const int8_t *qp;
    const float *sp;
    int out, in;
    model_matrix_shape(&m->cfg, kind, &out, &in);
    model_q8_matrix(m, kind, layer, &qp, &sp);
    op_q8_unpack(q, scales, qp, sp, out, in);
}
