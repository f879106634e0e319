// model.c: forward and backward of the trunk, the heads and the shared
// output layer, and the order in which heads are run (the head schedule).
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"

// ---- one transformer block ----------------------------------------------

// Matrix product of a forward with block `layer`'s matrix of `kind` (layer
// 0 for lm_head): out (N, O) = inp (N, I) @ w^T. Int8 weights: the rows
// quantized, integer products; the decode layout: its kernel (few rows exact,
// many through BLAS); row-major: BLAS, or in exact-rows mode the kernel whose
// rows do not depend on how many rows there are (decoding).
static void project(const model_work *w, int exact_rows, float *out, const float *inp, param_kind kind,
                    int layer, int N, int in_dim, int out_dim) {
    const mtp_model *m = w->model;
    if (m->q8) {
        const int8_t *q;
        const float *scales;
        model_q8_matrix(m, kind, layer, &q, &scales);
        op_quantize_rows_q8(w->q8_x, w->q8_xs, w->q8_xaux, inp, N, in_dim);
        op_matmul_q8(out, w->q8_x, w->q8_xs, w->q8_xaux, q, scales, N, in_dim, out_dim);
        return;
    }
    const float *weight = model_matrix(m, kind, layer);
    if (m->decode_layout)
        op_matmul_packed(out, inp, weight, N, in_dim, out_dim, w->panel_scratch);
    else if (exact_rows)
        op_matmul_rows_forward(out, inp, weight, N, in_dim, out_dim);
    else
        op_matmul_forward(out, inp, weight, N, in_dim, out_dim);
}

// out = h + MLP(RMSNorm(h)), h = x + Attn(RMSNorm(x)); x (N, d) with N = B*T.
// With a cache (B = 1), the T tokens sit at positions cache->len .. len+T-1:
// their keys and values go into the cache's rows for this block (each head's
// positions together, op_kv_heads) and attention reads every cached position;
// without one, positions are 0..T-1 and keys/values stay in the activations
// for the backward. exact_rows (with a cache only) makes every row's result
// independent of T.
static void block_forward(model_work *w, int layer, block_acts *a, const float *x, int B, int T,
                          const kv_cache *cache, int exact_rows) {
    const mtp_config *c = &w->cfg;
    int N = B * T, d = c->dim, f = c->ffn_dim, hd = config_head_dim(c);
    int qd = c->n_head * hd, kvd = c->n_kv_head * hd;
    int pos0 = cache ? cache->len : 0;
    const mtp_model *m = w->model;
    block_params p = params_block(&m->params, c, layer);  // its norms (project finds the matrices)
    op_rmsnorm_forward(a->ln1, a->rstd1, x, p.attn_norm, N, d, c->norm_eps);
    project(w, exact_rows, a->q, a->ln1, P_WQ, layer, N, d, qd);
    project(w, exact_rows, a->k, a->ln1, P_WK, layer, N, d, kvd);
    project(w, exact_rows, a->v, a->ln1, P_WV, layer, N, d, kvd);
    op_rope_forward(a->q, w->model->rope_cos, w->model->rope_sin, B, T, c->n_head, hd, pos0);
    op_rope_forward(a->k, w->model->rope_cos, w->model->rope_sin, B, T, c->n_kv_head, hd, pos0);
    const float *keys = a->k, *values = a->v;
    op_kv_layout kv = op_kv_rows(T, c->n_kv_head, hd);
    if (cache) {  // the new (T, Hkv, hd) rows into each head's run of positions
        const size_t block = (size_t)layer * cache->capacity * kvd;
        kv = op_kv_heads(cache->capacity, hd);
        for (int g = 0; g < c->n_kv_head; g++) {
            const size_t at = block + g * kv.head + (size_t)pos0 * hd;
            op_copy_rows(cache->k + at, sizeof(float) * hd, a->k + (size_t)g * hd, sizeof(float) * kvd,
                         sizeof(float) * hd, (size_t)T);
            op_copy_rows(cache->v + at, sizeof(float) * hd, a->v + (size_t)g * hd, sizeof(float) * kvd,
                         sizeof(float) * hd, (size_t)T);
        }
        keys = cache->k + block;
        values = cache->v + block;
    }
    if (exact_rows)
        op_attention_rows_forward(a->atty, a->q, keys, values, T, pos0 + T, c->n_head, c->n_kv_head, hd, kv);
    else
        op_attention_forward(a->atty, a->lse, a->q, keys, values, B, T, pos0 + T, c->n_head, c->n_kv_head, hd,
                             kv, w->attn_scratch, w->attn_threads);
    project(w, exact_rows, a->h, a->atty, P_WO, layer, N, qd, d);
    op_add_inplace(a->h, x, (size_t)N * d);
    op_rmsnorm_forward(a->ln2, a->rstd2, a->h, p.ffn_norm, N, d, c->norm_eps);
    project(w, exact_rows, a->gate, a->ln2, P_WGATE, layer, N, d, f);
    project(w, exact_rows, a->up, a->ln2, P_WUP, layer, N, d, f);
    op_swiglu_forward(a->act, a->gate, a->up, (size_t)N * f);
    project(w, exact_rows, a->out, a->act, P_WDOWN, layer, N, f, d);
    op_add_inplace(a->out, a->h, (size_t)N * d);
}

// Backward of block_forward: adds d(loss)/dx into dx (N, d) given dout (N, d),
// and the block's parameter gradients into w->grads.
static void block_backward(model_work *w, int layer, const block_acts *a, const float *x, const float *dout,
                           float *dx, int B, int T) {
    const mtp_config *c = &w->cfg;
    int N = B * T, d = c->dim, f = c->ffn_dim, hd = config_head_dim(c);
    int qd = c->n_head * hd, kvd = c->n_kv_head * hd;
    block_params p = params_block(&w->model->params, c, layer), g = params_block(&w->grads, c, layer);
    // out = h + act @ wdown^T
    op_copy(w->dh, dout, sizeof(float) * N * d);
    op_matmul_backward(w->dact, g.wdown, dout, a->act, p.wdown, N, f, d, 0);
    // act = silu(gate) * up; gate = ln2 @ wgate^T; up = ln2 @ wup^T
    op_swiglu_backward(w->dgate, w->dup, w->dact, a->gate, a->up, (size_t)N * f);
    op_matmul_backward(w->dln, g.wgate, w->dgate, a->ln2, p.wgate, N, d, f, 0);
    op_matmul_backward(w->dln, g.wup, w->dup, a->ln2, p.wup, N, d, f, 1);
    // ln2 = RMSNorm(h)
    op_rmsnorm_backward(w->dh, g.ffn_norm, w->dln, a->h, p.ffn_norm, a->rstd2, N, d);
    // h = x + atty @ wo^T
    op_matmul_backward(w->datty, g.wo, w->dh, a->atty, p.wo, N, qd, d, 0);
    op_attention_backward(w->dq, w->dk, w->dv, w->datty, a->atty, a->lse, a->q, a->k, a->v, B, T, c->n_head,
                          c->n_kv_head, hd, w->attn_scratch, w->attn_threads);
    op_rope_backward(w->dq, w->model->rope_cos, w->model->rope_sin, B, T, c->n_head, hd, 0);
    op_rope_backward(w->dk, w->model->rope_cos, w->model->rope_sin, B, T, c->n_kv_head, hd, 0);
    // q, k, v = ln1 @ w^T; ln1 = RMSNorm(x)
    op_matmul_backward(w->dln, g.wq, w->dq, a->ln1, p.wq, N, d, qd, 0);
    op_matmul_backward(w->dln, g.wk, w->dk, a->ln1, p.wk, N, d, kvd, 1);
    op_matmul_backward(w->dln, g.wv, w->dv, a->ln1, p.wv, N, d, kvd, 1);
    op_add_inplace(dx, w->dh, (size_t)N * d);
    op_rmsnorm_backward(dx, g.attn_norm, w->dln, x, p.attn_norm, a->rstd1, N, d);
}

// ---- trunk, heads and the shared output layer ---------------------------

// Block index of head k (1-based); transformer heads only.
static int head_layer(const mtp_config *c, int k) {
    return config_trunk_layers(c) + k - 1;
}

// The gradient part (model_work.grads_ready) holding head k's parameters.
static int head_part(const mtp_config *c, int k) {
    return c->head_type == MTP_HEAD_LINEAR ? c->n_layer + k - 1 : head_layer(c, k);
}

// The head that runs i-th (0-based): a chained head's input runs before it.
// Anticausal heads run n, n-1, .., 1; the others 1, 2, .., n.
static int head_at(const mtp_config *c, int i) {
    return c->head_order == MTP_HEAD_ANTICAUSAL ? c->n_future - i : i + 1;
}

// How many heads must run for heads 1..n_heads' outputs: anticausal head 1
// reads every other head, so all n; else n_heads (heads 1..n_heads).
static int heads_to_run(const mtp_config *c, int n_heads) {
    return c->head_order == MTP_HEAD_ANTICAUSAL ? c->n_future : n_heads;
}

// The trunk's output z (N, d): the raw residual stream, no norm.
static const float *trunk_output(const model_work *w) {
    int tl = config_trunk_layers(&w->cfg);
    return w->trunk[tl - 1].out;
}

// What the head running i-th reads: z, or in a chain the output of the head
// that ran before it, kept in slot prev_slot.
static const float *head_input(const model_work *w, int i, int prev_slot) {
    return i == 0 || !config_heads_chained(&w->cfg) ? trunk_output(w) : w->heads[prev_slot].out;
}

static void trunk_forward(model_work *w, int B, int T, const kv_cache *cache, int exact_rows) {
    const mtp_config *c = &w->cfg;
    op_embedding_forward(w->x0, w->inputs, w->model->params.t[P_EMBED], B * T, c->dim);
    const float *x = w->x0;
    for (int l = 0; l < config_trunk_layers(c); l++) {
        block_forward(w, l, &w->trunk[l], x, B, T, cache, exact_rows);
        x = w->trunk[l].out;
    }
}

// Head k on its input x (N, d) into slot s, then the shared final norm. A
// linear head is one product, out = x @ W_k^T; a transformer head is a block.
// x may be slot s's own output (a chain with one slot): a block reads its
// input before it writes its output.
static void head_forward(model_work *w, int k, int s, const float *x, int B, int T, const kv_cache *cache,
                         int exact_rows) {
    const mtp_config *c = &w->cfg;
    size_t N = (size_t)B * T;
    if (c->head_type == MTP_HEAD_LINEAR)
        project(w, exact_rows, w->heads[s].out, x, P_HEAD_PROJ, k - 1, (int)N, c->dim, c->dim);
    else
        block_forward(w, head_layer(c, k), &w->heads[s], x, B, T, cache, exact_rows);
    if (k == 1 && w->head1_rows)  // what a decoder's catch-up of causal heads reads later
        op_copy(w->head1_rows, w->heads[s].out, sizeof(float) * N * c->dim);
    op_rmsnorm_forward(w->head_norm + s * N * c->dim, w->head_rstd + s * N, w->heads[s].out,
                       w->model->params.t[P_NORM], (int)N, c->dim, c->norm_eps);
}

// Logits of head k for rows [r0, r0+rows) of slot s, into logits (rows, V);
// loss per row into head k's row of w->row_losses; with grad_scale != 0 the
// logits become d loss/d logits.
static void output_chunk_forward(model_work *w, int k, int s, size_t N, int r0, int rows, float *logits,
                                 float grad_scale) {
    const mtp_config *c = &w->cfg;
    const float *y = w->head_norm + (s * N + r0) * c->dim;
    const size_t at = (size_t)(k - 1) * N + r0;
    project(w, 0, logits, y, P_LM_HEAD, 0, rows, c->dim, c->vocab_size);
    op_softmax_xent(logits, w->row_losses + at, w->targets + at, rows, c->vocab_size, grad_scale);
}

// Backward of the chunk's unembedding: d lm_head += dlogits^T y; dy = dlogits @ lm_head.
static void output_chunk_backward(model_work *w, int s, size_t N, int r0, int rows, const float *dlogits) {
    const mtp_config *c = &w->cfg;
    const float *y = w->head_norm + (s * N + r0) * c->dim;
    op_matmul_backward(w->dnorm_out + (size_t)r0 * c->dim, w->freeze_output ? NULL : w->grads.t[P_LM_HEAD],
                       dlogits, y, w->model->params.t[P_LM_HEAD], rows, c->dim, c->vocab_size, 0);
}

// From d(final norm output) of slot s (w->dnorm_out) back through the norm
// and head k, whose input was x. dout (N, d) holds what later heads of a
// chain sent to head k's output (zeros otherwise) and receives the norm's
// share; d(loss)/dx is added into dx.
static void head_backward(model_work *w, int k, int s, const float *x, float *dout, float *dx, int B, int T) {
    const mtp_config *c = &w->cfg;
    size_t N = (size_t)B * T, d = (size_t)c->dim;
    op_rmsnorm_backward(dout, w->freeze_output ? NULL : w->grads.t[P_NORM], w->dnorm_out, w->heads[s].out,
                        w->model->params.t[P_NORM], w->head_rstd + s * N, (int)N, c->dim);
    if (c->head_type == MTP_HEAD_LINEAR)
        op_matmul_backward(dx, w->grads.t[P_HEAD_PROJ] + (size_t)(k - 1) * d * d, dout, x,
                           w->model->params.t[P_HEAD_PROJ] + (size_t)(k - 1) * d * d, (int)N, c->dim, c->dim,
                           1);
    else
        block_backward(w, head_layer(c, k), &w->heads[s], x, dout, dx, B, T);
    if (w->grads_ready) w->grads_ready(w->grads_user, head_part(c, k));
}

static void trunk_backward(model_work *w, int B, int T) {
    const mtp_config *c = &w->cfg;
    size_t Nd = (size_t)B * T * c->dim;
    float *dout = w->dz, *dx = w->dres;
    for (int l = config_trunk_layers(c) - 1; l >= 0; l--) {
        op_zero(dx, sizeof(float) * Nd);
        block_backward(w, l, &w->trunk[l], l == 0 ? w->x0 : w->trunk[l - 1].out, dout, dx, B, T);
        if (w->grads_ready) w->grads_ready(w->grads_user, l);
        float *t = dout;
        dout = dx;
        dx = t;
    }
    op_embedding_backward(w->grads.t[P_EMBED], dout, w->inputs, B * T, c->vocab_size, c->dim);
    if (w->grads_ready) w->grads_ready(w->grads_user, MODEL_GRADS_EMBED);
}

// Splits rows (B, T+n) into inputs (B*T) and checks every id.
static int load_inputs(model_work *w, const int32_t *rows, int B, int T) {
    const mtp_config *c = &w->cfg;
    if (B > w->max_B || T > w->max_T)
        return mtp_errorf("batch %d x %d exceeds the allocated %d x %d", B, T, w->max_B, w->max_T);
    int row_len = T + c->n_future;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < row_len; t++) {
            int32_t id = rows[(size_t)b * row_len + t];
            if (id < 0 || id >= c->vocab_size)
                return mtp_errorf("token id %d at row %d position %d is outside the vocabulary (size %d)", id,
                                  b, t, c->vocab_size);
        }
    // gathered on the host, then one upload each: the inputs, then every head's targets
    const size_t N = (size_t)B * T;
    for (int b = 0; b < B; b++)
        memcpy(w->host_tokens + (size_t)b * T, rows + (size_t)b * row_len, sizeof(int32_t) * T);
    op_upload(w->inputs, w->host_tokens, sizeof(int32_t) * N);
    for (int k = 1; k <= c->n_future; k++)  // head k's targets rows[:, k:k+T], row k-1 of (n, N)
        for (int b = 0; b < B; b++)
            memcpy(w->host_tokens + (size_t)(k - 1) * N + (size_t)b * T, rows + (size_t)b * row_len + k,
                   sizeof(int32_t) * T);
    op_upload(w->targets, w->host_tokens, sizeof(int32_t) * c->n_future * N);
    return 0;
}

// Every head's mean row loss, read back from the device once the step's
// heads are done (one download, not one per head: each drains the GPU's queue).
static void read_head_losses(const model_work *w, size_t N, double *head_losses) {
    const int n = w->cfg.n_future;
    op_download(w->host_row_losses, w->row_losses, sizeof(float) * n * N);
    for (int k = 0; k < n; k++) {
        double s = 0.0;
        for (size_t i = 0; i < N; i++) s += w->host_row_losses[(size_t)k * N + i];
        head_losses[k] = s / (double)N;
    }
}

void model_grads_part_tensors(const mtp_config *c, int part, int *first, int *last) {
    int count = params_tensor_count(c);
    if (part >= c->n_layer)
        *first = *last = 1 + 9 * c->n_layer + (part - c->n_layer);  // a linear head's matrix
    else if (part >= 0)
        *first = 1 + 9 * part, *last = 9 + 9 * part;  // a block's nine tensors
    else if (part == MODEL_GRADS_OUTPUT)
        *first = count - 2, *last = count - 1;  // final norm, lm_head
    else
        *first = *last = 0;  // the embedding
}

// Head k's logits in row chunks, its row losses into w->row_losses and, unless
// skip_backward, the gradient d(loss)/d(final norm output) into w->dnorm_out
// and lm_head's share (sequential schedule: one chunk of logits at a time).
static void head_loss_chunks(model_work *w, int k, int s, int B, int T, float row_scale, int skip_backward) {
    size_t N = (size_t)B * T;
    int chunk = w->logit_chunk;
    for (int r0 = 0; r0 < (int)N; r0 += chunk) {
        int rows_here = (int)N - r0 < chunk ? (int)N - r0 : chunk;
        output_chunk_forward(w, k, s, N, r0, rows_here, w->logits, row_scale);
        if (!skip_backward) output_chunk_backward(w, s, N, r0, rows_here, w->logits);
    }
}

// Naive schedule: head k's logits kept whole in its slice of w->logits (n, N, V).
static float *naive_logits(const model_work *w, int k, size_t N) {
    return w->logits + (size_t)(k - 1) * N * w->cfg.vocab_size;
}

static void naive_loss(model_work *w, int k, int s, int B, int T, float row_scale) {
    size_t N = (size_t)B * T, V = (size_t)w->cfg.vocab_size;
    int chunk = w->logit_chunk;
    for (int r0 = 0; r0 < (int)N; r0 += chunk) {
        int rows_here = (int)N - r0 < chunk ? (int)N - r0 : chunk;
        output_chunk_forward(w, k, s, N, r0, rows_here, naive_logits(w, k, N) + (size_t)r0 * V, row_scale);
    }
}

static void naive_output_backward(model_work *w, int k, int s, size_t N) {
    size_t V = (size_t)w->cfg.vocab_size;
    for (int r0 = 0; r0 < (int)N; r0 += w->logit_chunk) {
        int rows_here = (int)N - r0 < w->logit_chunk ? (int)N - r0 : w->logit_chunk;
        output_chunk_backward(w, s, N, r0, rows_here, naive_logits(w, k, N) + (size_t)r0 * V);
    }
}

// Parallel heads, each reading z.
static void parallel_heads(model_work *w, int B, int T, float row_scale) {
    const mtp_config *c = &w->cfg;
    size_t Nd = (size_t)B * T * c->dim;
    int n = c->n_future;
    const float *z = trunk_output(w);
    if (w->schedule == SCHEDULE_SEQUENTIAL) {
        // Figure 2: head k forward, loss, backward down to dz; only one
        // chunk of one head's logits exists at any time.
        for (int k = 1; k <= n; k++) {
            int frozen = w->freeze_trunk && k == 1;  // its loss is measured, nothing learns from it
            head_forward(w, k, 0, z, B, T, NULL, 0);
            head_loss_chunks(w, k, 0, B, T, row_scale, frozen);
            if (frozen) continue;
            op_zero(w->dres, sizeof(float) * Nd);
            head_backward(w, k, 0, z, w->dres, w->dz, B, T);
        }
        return;
    }
    // Naive: every head forward with its logits (n, N, V) kept, then the
    // backward of every head. The operations and their order of
    // accumulation match the sequential schedule exactly.
    for (int k = 1; k <= n; k++) {
        head_forward(w, k, k - 1, z, B, T, NULL, 0);
        naive_loss(w, k, k - 1, B, T, row_scale);
    }
    for (int k = w->freeze_trunk ? 2 : 1; k <= n; k++) {
        naive_output_backward(w, k, k - 1, (size_t)B * T);
        op_zero(w->dres, sizeof(float) * Nd);
        head_backward(w, k, k - 1, z, w->dres, w->dz, B, T);
    }
}

// Chained heads (causal, anticausal; appendix B of the paper, Figure S11):
// every head's block forward in running order (the activations of all n
// head blocks stay alive, slot i for the head running i-th), then the
// backward from the head farthest from the trunk: its logits, loss and
// backward, whose input gradient joins the previous head's output gradient
// before that head's own loss adds to it. The sequential schedule still holds
// one chunk of one head's logits at a time; the naive one keeps them all.
static void chained_heads(model_work *w, int B, int T, float row_scale) {
    const mtp_config *c = &w->cfg;
    size_t N = (size_t)B * T, Nd = N * c->dim;
    int n = c->n_future, naive = w->schedule == SCHEDULE_NAIVE;
    for (int i = 0; i < n; i++) {
        int k = head_at(c, i);
        head_forward(w, k, i, head_input(w, i, i - 1), B, T, NULL, 0);
        if (naive) naive_loss(w, k, i, B, T, row_scale);
    }
    float *dout = w->dres, *dprev = w->dchain;  // d(output) of the head running i-th, i-1-th
    op_zero(dout, sizeof(float) * Nd);
    for (int i = n - 1; i >= 0; i--) {
        int k = head_at(c, i);
        // frozen head 1 (causal only: it runs first): its loss is measured, nothing learns from it
        int frozen = w->freeze_trunk && k == 1;
        if (!naive)
            head_loss_chunks(w, k, i, B, T, row_scale, frozen);
        else if (!frozen)
            naive_output_backward(w, k, i, N);
        if (frozen) break;
        float *dx = i == 0 ? w->dz : dprev;
        if (i > 0) op_zero(dprev, sizeof(float) * Nd);
        head_backward(w, k, i, head_input(w, i, i - 1), dout, dx, B, T);
        dprev = dout;
        dout = dx;
    }
}

int model_forward_backward(model_work *w, const int32_t *rows, int B, int T, float grad_scale,
                           double *head_losses) {
    const mtp_config *c = &w->cfg;
    if (!w->with_grads) return mtp_errorf("model_forward_backward: model has no gradient buffers");
    if (w->freeze_trunk && c->head_order == MTP_HEAD_ANTICAUSAL && c->n_future > 1)
        return mtp_errorf("a frozen head 1 cannot keep its outputs when anticausal heads before it learn");
    if (load_inputs(w, rows, B, T) != 0) return -1;
    size_t N = (size_t)B * T;
    // each head's loss is a mean over N positions
    float row_scale = grad_scale / (float)N;
    trunk_forward(w, B, T, NULL, 0);
    op_zero(w->dz, sizeof(float) * N * c->dim);
    if (config_heads_chained(c))
        chained_heads(w, B, T, row_scale);
    else
        parallel_heads(w, B, T, row_scale);
    read_head_losses(w, N, head_losses);
    // every head has added into the shared norm and unembedding
    if (w->grads_ready) w->grads_ready(w->grads_user, MODEL_GRADS_OUTPUT);
    if (!w->freeze_trunk) trunk_backward(w, B, T);
    return 0;
}

// Rows of logits (rows, V) whose largest logit is the target's.
static long count_top1(const float *logits, const int32_t *targets, int rows, int V) {
    long hits = 0;
#pragma omp parallel for reduction(+ : hits) schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *x = logits + (size_t)r * V;
        int best = 0;
        for (int j = 1; j < V; j++)
            if (x[j] > x[best]) best = j;
        hits += best == targets[r];
    }
    return hits;
}

int model_forward_loss(model_work *w, const int32_t *rows, int B, int T, double *head_losses,
                       double *head_top1) {
    const mtp_config *c = &w->cfg;
    if (load_inputs(w, rows, B, T) != 0) return -1;
    size_t N = (size_t)B * T;
    int chunk = w->logit_chunk;
    if (head_top1 && w->on_device && !w->host_logits &&
        !(w->host_logits = mtp_malloc(sizeof(float) * (size_t)chunk * c->vocab_size, "logits read back")))
        return -1;
    trunk_forward(w, B, T, NULL, 0);
    for (int i = 0; i < c->n_future; i++) {  // one slot: a chained head reads the one before it there
        int k = head_at(c, i);
        head_forward(w, k, 0, head_input(w, i, 0), B, T, NULL, 0);
        long hits = 0;
        for (int r0 = 0; r0 < (int)N; r0 += chunk) {
            int rows_here = (int)N - r0 < chunk ? (int)N - r0 : chunk;
            output_chunk_forward(w, k, 0, N, r0, rows_here, w->logits,
                                 0.0f);  // grad_scale 0 keeps the logits
            if (head_top1) {  // the targets as load_inputs left them on the host; the logits read back
                const float *lg = w->logits;
                if (w->on_device) {
                    op_download(w->host_logits, w->logits, sizeof(float) * rows_here * c->vocab_size);
                    lg = w->host_logits;
                }
                hits += count_top1(lg, w->host_tokens + (size_t)(k - 1) * N + r0, rows_here, c->vocab_size);
            }
        }
        if (head_top1) head_top1[k - 1] = (double)hits / (double)N;
    }
    read_head_losses(w, N, head_losses);
    return 0;
}

int model_forward_last_logits(model_work *w, const int32_t *tokens, int T, int n_heads, float *logits) {
    const mtp_config *c = &w->cfg;
    if (T < 1 || T > w->max_T)
        return mtp_errorf("sequence of %d tokens does not fit the context of %d", T, w->max_T);
    if (n_heads < 1 || n_heads > c->n_future)
        return mtp_errorf("asked for %d heads; the model has %d", n_heads, c->n_future);
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return mtp_errorf("token id %d is outside the vocabulary (size %d)", tokens[t], c->vocab_size);
    op_upload(w->inputs, tokens, sizeof(int32_t) * T);
    trunk_forward(w, 1, T, NULL, 0);
    for (int i = 0; i < heads_to_run(c, n_heads); i++) {
        int k = head_at(c, i);
        head_forward(w, k, 0, head_input(w, i, 0), 1, T, NULL, 0);
        if (k > n_heads) continue;
        const float *y_last = w->head_norm + (size_t)(T - 1) * c->dim;
        project(w, 0, logits + (size_t)(k - 1) * c->vocab_size, y_last, P_LM_HEAD, 0, 1, c->dim,
                c->vocab_size);
    }
    return 0;
}

static int cache_full(const mtp_config *c, const kv_cache *cache, int T) {
    if (cache->capacity < c->max_seq_len)
        return mtp_errorf(
            "KV cache full: %d + %d tokens exceed the %d positions it holds (the model's context: %d)",
            cache->len, T, cache->capacity, c->max_seq_len);
    return mtp_errorf("context full: %d + %d tokens exceed the model's max context %d", cache->len, T,
                      c->max_seq_len);
}

int model_forward_cached(model_work *w, kv_cache *cache, const int32_t *tokens, int T, int n_heads,
                         int last_rows, int exact_rows, float *logits) {
    const mtp_config *c = &w->cfg;
    if (T < 1 || T > w->max_T)
        return mtp_errorf("%d new tokens do not fit the work buffers (%d)", T, w->max_T);
    if (cache->len + T > cache->capacity) return cache_full(c, cache, T);
    if (n_heads < 1 || n_heads > c->n_future)
        return mtp_errorf("asked for %d heads; the model has %d", n_heads, c->n_future);
    if (last_rows < 1 || last_rows > T) last_rows = T;
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return mtp_errorf("token id %d is outside the vocabulary (size %d)", tokens[t], c->vocab_size);
    op_upload(w->inputs, tokens, sizeof(int32_t) * T);
    trunk_forward(w, 1, T, cache, exact_rows);
    for (int i = 0; i < heads_to_run(c, n_heads); i++) {
        int k = head_at(c, i);
        head_forward(w, k, 0, head_input(w, i, 0), 1, T, cache, exact_rows);
        if (k > n_heads) continue;
        project(w, exact_rows, logits + (size_t)(k - 1) * last_rows * c->vocab_size,
                w->head_norm + (size_t)(T - last_rows) * c->dim, P_LM_HEAD, 0, last_rows, c->dim,
                c->vocab_size);
    }
    cache->len += T;
    return 0;
}

int model_forward_verify(model_work *w, kv_cache *cache, const int32_t *tokens, int T, int n_heads,
                         int draft_row, float *logits) {
    const mtp_config *c = &w->cfg;
    const size_t d = (size_t)c->dim, R = (size_t)w->verify_rows;
    if (T < 1 || T > w->verify_rows)
        return mtp_errorf("verification of %d tokens: at most %d rows", T, w->verify_rows);
    if (n_heads < 2 || n_heads > c->n_future)
        return mtp_errorf("verification with %d heads: needs 2..%d", n_heads, c->n_future);
    if (draft_row < 0 || draft_row >= T) return mtp_errorf("draft row %d outside 0..%d", draft_row, T - 1);
    if (cache->len + T > cache->capacity) return cache_full(c, cache, T);
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return mtp_errorf("token id %d is outside the vocabulary (size %d)", tokens[t], c->vocab_size);
    op_upload(w->inputs, tokens, sizeof(int32_t) * T);
    trunk_forward(w, 1, T, cache, 1);
    // every head over every row: each head block's weights are read once whichever rows stay
    for (int i = 0; i < heads_to_run(c, n_heads); i++) {
        int k = head_at(c, i);
        head_forward(w, k, 0, head_input(w, i, 0), 1, T, cache, 1);
        if (k > n_heads) continue;
        op_copy(w->head_rows + (size_t)(k - 1) * R * d, w->head_norm, sizeof(float) * T * d);
    }
    // one unembedding pass: head 1 at every row, then the drafting heads at draft_row
    op_copy(w->head_gather, w->head_rows, sizeof(float) * T * d);
    for (int k = 2; k <= n_heads; k++)
        op_copy(w->head_gather + (size_t)(T + k - 2) * d,
                w->head_rows + ((size_t)(k - 1) * R + draft_row) * d, sizeof(float) * d);
    project(w, 1, logits, w->head_gather, P_LM_HEAD, 0, T + n_heads - 1, c->dim, c->vocab_size);
    cache->len += T;
    return 0;
}

int model_draft_logits(model_work *w, int n_heads, int T, int row, float *logits) {
    const mtp_config *c = &w->cfg;
    const size_t d = (size_t)c->dim, R = (size_t)w->verify_rows;
    if (n_heads < 2 || n_heads > c->n_future || T < 1 || T > w->verify_rows || row < 0 || row >= T)
        return mtp_errorf("draft logits of heads 2..%d at row %d of %d: out of range", n_heads, row, T);
    for (int k = 2; k <= n_heads; k++)
        op_copy(w->head_gather + (size_t)(k - 2) * d, w->head_rows + ((size_t)(k - 1) * R + row) * d,
                sizeof(float) * d);
    project(w, 1, logits, w->head_gather, P_LM_HEAD, 0, n_heads - 1, c->dim, c->vocab_size);
    return 0;
}

const float *model_catch_up_rows(const model_work *w) {
    return w->head1_rows ? w->head1_rows : trunk_output(w);
}

int model_forward_heads_from(model_work *w, const kv_cache *cache, const float *z, int pos0, int rows,
                             int first, int last, float *logits) {
    const mtp_config *c = &w->cfg;
    const size_t d = (size_t)c->dim;
    if (first < 1 || last > c->n_future || first > last)
        return mtp_errorf("heads %d..%d: the model has heads 1..%d", first, last, c->n_future);
    if (c->head_order == MTP_HEAD_ANTICAUSAL && c->n_future > 1)
        return mtp_errorf("anticausal heads read the heads after them: run them all in every forward");
    if (rows < 1 || rows > w->max_T || pos0 < 0 || pos0 + rows > cache->capacity)
        return mtp_errorf("%d rows at position %d do not fit (work %d, KV cache %d)", rows, pos0, w->max_T,
                          cache->capacity);
    // head `first` reads z from where a forward leaves the trunk's output; a causal head the output of
    // the one before it, in the same slot
    op_copy(w->trunk[config_trunk_layers(c) - 1].out, z, sizeof(float) * rows * d);
    kv_cache at = *cache;
    at.len = pos0;
    int exact = rows <= OP_PACKED_ROWS_MAX;
    const float *x = trunk_output(w);
    for (int k = first; k <= last; k++) {
        head_forward(w, k, 0, x, 1, rows, &at, exact);
        if (c->head_order == MTP_HEAD_CAUSAL) x = w->heads[0].out;
        op_copy(w->head_last + (size_t)(k - first) * d, w->head_norm + (size_t)(rows - 1) * d,
                sizeof(float) * d);
    }
    project(w, 1, logits, w->head_last, P_LM_HEAD, 0, last - first + 1, c->dim, c->vocab_size);
    return 0;
}
