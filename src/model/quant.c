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

// The row-major float arena cut down to the kinds that stay float32; the
// matrices' slots become NULL.
static int drop_float_matrices(mtp_model *m) {
    size_t floats = 0;
    for (int k = 0; k < P_KINDS; k++)
        if (!model_kind_is_matrix((param_kind)k)) floats += (m->params.count[k] + 15) / 16 * 16;
    float *arena = mtp_alloc_aligned(floats * sizeof(float), "model norms and embedding");
    if (!arena) return -1;
    param_set p = m->params;
    size_t off = 0;
    for (int k = 0; k < P_KINDS; k++) {
        if (model_kind_is_matrix((param_kind)k)) {
            p.t[k] = NULL;
            continue;
        }
        p.t[k] = arena + off;
        memcpy(p.t[k], m->params.t[k], sizeof(float) * m->params.count[k]);
        off += (m->params.count[k] + 15) / 16 * 16;
    }
    params_free(&m->params);
    p.memory = arena;
    p.total = floats;
    m->params = p;
    return 0;
}

int model_use_q8(mtp_model *m, int quantize) {
    const mtp_config *c = &m->cfg;
    char why[128];
    if (m->q8 || m->decode_layout) return mtp_errorf("the model is already in a decoding layout");
    if (!model_matrix_rows_fit_q8(c, why, sizeof why))
        return mtp_errorf("cannot quantize to q8: %s (rows are quantized in blocks of %d)", why, OP_Q8_BLOCK);
    size_t bytes = 0, scales = 0;
    for (int k = 0; k < P_KINDS; k++)
        if (model_kind_is_matrix((param_kind)k)) {
            int out, in;
            model_matrix_shape(c, (param_kind)k, &out, &in);
            size_t layers = k == P_LM_HEAD ? 1 : (size_t)c->n_layer, n = layers * out * in;
            bytes += (n + 63) / 64 * 64;
            scales += (n / OP_Q8_BLOCK + 15) / 16 * 16;
        }
    m->q8_weights = mtp_alloc_aligned(bytes, "int8 weights");
    m->q8_scales = m->q8_weights ? mtp_alloc_aligned(scales * sizeof(float), "int8 weight scales") : NULL;
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
        size_t layers = k == P_LM_HEAD ? 1 : (size_t)c->n_layer, n = layers * out * in;
        m->q8_w[k] = m->q8_weights + at;
        m->q8_s[k] = m->q8_scales + sat;
        at += (n + 63) / 64 * 64;
        sat += (n / OP_Q8_BLOCK + 15) / 16 * 16;
        if (quantize)
            for (size_t l = 0; l < layers; l++)
                op_quantize_q8(m->q8_w[k] + l * out * in, m->q8_s[k] + l * out * in / OP_Q8_BLOCK,
                               m->params.t[k] + l * out * in, out, in);
    }
    if (drop_float_matrices(m) != 0) {
        free(m->q8_weights);
        free(m->q8_scales);
        m->q8_weights = NULL, m->q8_scales = NULL;
        return -1;
    }
    m->q8 = 1;
    return 0;
}

void model_q8_matrix(const mtp_model *m, param_kind kind, int layer, const int8_t **q, const float **scales) {
    int out, in;
    model_matrix_shape(&m->cfg, kind, &out, &in);
    size_t n = (size_t)out * in;
    *q = m->q8_w[kind] + (size_t)layer * n;
    *scales = m->q8_s[kind] + (size_t)layer * n / OP_Q8_BLOCK;
}
