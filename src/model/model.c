// model.c: forward and backward of the trunk, the heads and the shared
// output layer, and the order in which heads are run (the head schedule).
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"

// Rows of logits computed at once: about 32 MB of (rows, V) floats, so no
// (B*T, V) tensor exists in the sequential schedule.
#define LOGIT_CHUNK_FLOATS (8u << 20)

// ---- work-buffer layout -------------------------------------------------

// Hands out consecutive 64-byte aligned slices of one arena. With base ==
// NULL it only counts, so the same code sizes and carves the arena.
typedef struct {
    float *base;
    size_t used;  // floats
} carver;

static float *carve(carver *c, size_t floats) {
    float *p = c->base ? c->base + c->used : NULL;
    c->used += (floats + 15) / 16 * 16;
    return p;
}

static void carve_block(carver *c, block_acts *a, const mtp_config *cfg, int B, int T) {
    size_t N = (size_t)B * T, d = cfg->dim, f = cfg->ffn_dim, hd = config_head_dim(cfg);
    size_t qd = cfg->n_head * hd, kvd = cfg->n_kv_head * hd;
    a->ln1 = carve(c, N * d);
    a->rstd1 = carve(c, N);
    a->q = carve(c, N * qd);
    a->k = carve(c, N * kvd);
    a->v = carve(c, N * kvd);
    a->lse = carve(c, (size_t)B * cfg->n_head * T);
    a->atty = carve(c, N * qd);
    a->h = carve(c, N * d);
    a->ln2 = carve(c, N * d);
    a->rstd2 = carve(c, N);
    a->gate = carve(c, N * f);
    a->up = carve(c, N * f);
    a->act = carve(c, N * f);
    a->out = carve(c, N * d);
}

static int logit_chunk_rows(const mtp_config *cfg, size_t N) {
    size_t rows = LOGIT_CHUNK_FLOATS / (size_t)cfg->vocab_size;
    if (rows < 1) rows = 1;
    if (rows > N) rows = N;
    return (int)rows;
}

// Lays out every work buffer of m in carver c (counting only if c->base is NULL).
static void carve_work(carver *c, mtp_model *m, const mtp_config *cfg, int B, int T, head_schedule schedule,
                       int with_grads) {
    size_t N = (size_t)B * T, d = cfg->dim, f = cfg->ffn_dim, hd = config_head_dim(cfg);
    size_t qd = cfg->n_head * hd, kvd = cfg->n_kv_head * hd, V = cfg->vocab_size;
    int trunk_layers = config_trunk_layers(cfg);
    int slots = schedule == SCHEDULE_NAIVE ? cfg->n_future : 1;
    m->x0 = carve(c, N * d);
    // Without gradients no block's activations outlive its forward, so all trunk
    // blocks share one slot (a block reads its input before overwriting `out`).
    for (int l = 0; l < trunk_layers; l++) {
        if (with_grads || l == 0)
            carve_block(c, &m->trunk[l], cfg, B, T);
        else
            m->trunk[l] = m->trunk[0];
    }
    for (int s = 0; s < slots; s++) carve_block(c, &m->heads[s], cfg, B, T);
    m->head_norm = carve(c, slots * N * d);
    m->head_rstd = carve(c, slots * N);
    m->head_last = carve(c, (size_t)cfg->n_future * d);
    m->logit_chunk = logit_chunk_rows(cfg, N);
    m->logits = carve(c, schedule == SCHEDULE_NAIVE ? cfg->n_future * N * V : (size_t)m->logit_chunk * V);
    m->row_losses = carve(c, N);
    // attention tiles for every thread the kernels may run on
    m->attn_threads = op_get_threads();
    m->attn_scratch = carve(c, (size_t)m->attn_threads * op_attention_scratch_floats(config_head_dim(cfg)));
    m->inputs = (int32_t *)carve(c, N);
    m->targets = (int32_t *)carve(c, N);
    if (with_grads) {
        m->dz = carve(c, N * d);
        m->dres = carve(c, N * d);
        m->dh = carve(c, N * d);
        m->datty = carve(c, N * qd);
        m->dq = carve(c, N * qd);
        m->dk = carve(c, N * kvd);
        m->dv = carve(c, N * kvd);
        m->dln = carve(c, N * d);
        m->dact = carve(c, N * f);
        m->dgate = carve(c, N * f);
        m->dup = carve(c, N * f);
        m->dnorm_out = carve(c, N * d);
    }
}

size_t model_work_bytes(const mtp_config *cfg, int B, int T, head_schedule schedule, int with_grads) {
    mtp_model tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.trunk = calloc((size_t)config_trunk_layers(cfg), sizeof *tmp.trunk);
    tmp.heads = calloc((size_t)cfg->n_future, sizeof *tmp.heads);
    carver c = {NULL, 0};
    if (tmp.trunk && tmp.heads) carve_work(&c, &tmp, cfg, B, T, schedule, with_grads);
    free(tmp.trunk);
    free(tmp.heads);
    return c.used * sizeof(float);
}

int model_create(mtp_model *m, const mtp_config *cfg) {
    memset(m, 0, sizeof *m);
    if (config_validate(cfg) != 0) return -1;
    m->cfg = *cfg;
    if (params_alloc(&m->params, cfg) != 0) return -1;
    int half = config_head_dim(cfg) / 2;
    m->rope_cos = mtp_malloc(sizeof(float) * (size_t)cfg->max_seq_len * half, "RoPE tables");
    m->rope_sin = mtp_malloc(sizeof(float) * (size_t)cfg->max_seq_len * half, "RoPE tables");
    if (!m->rope_cos || !m->rope_sin) {
        model_free(m);
        return -1;
    }
    op_rope_tables(m->rope_cos, m->rope_sin, cfg->max_seq_len, config_head_dim(cfg), cfg->rope_theta);
    return 0;
}

int model_alloc_work(mtp_model *m, int B, int T, head_schedule schedule, int with_grads) {
    const mtp_config *cfg = &m->cfg;
    if (B < 1 || T < 1) return mtp_errorf("batch %d x seq-len %d must be positive", B, T);
    if (T > cfg->max_seq_len)
        return mtp_errorf("--seq-len %d exceeds the model's max context %d", T, cfg->max_seq_len);
    free(m->work);
    free(m->trunk);
    free(m->heads);
    m->trunk = mtp_calloc((size_t)config_trunk_layers(cfg), sizeof *m->trunk, "trunk activations");
    m->heads = mtp_calloc((size_t)cfg->n_future, sizeof *m->heads, "head activations");
    if (!m->trunk || !m->heads) return -1;
    if (with_grads && !m->grads.memory && params_alloc(&m->grads, cfg) != 0) return -1;
    carver c = {NULL, 0};
    carve_work(&c, m, cfg, B, T, schedule, with_grads);
    m->work = mtp_alloc_aligned(c.used * sizeof(float), "activations");
    if (!m->work) return -1;
    c.base = m->work;
    c.used = 0;
    carve_work(&c, m, cfg, B, T, schedule, with_grads);
    m->max_B = B;
    m->max_T = T;
    m->schedule = schedule;
    m->with_grads = with_grads;
    m->head_slots = schedule == SCHEDULE_NAIVE ? cfg->n_future : 1;
    return 0;
}

void model_free(mtp_model *m) {
    params_free(&m->params);
    params_free(&m->grads);
    free(m->work);
    free(m->trunk);
    free(m->heads);
    free(m->rope_cos);
    free(m->rope_sin);
    memset(m, 0, sizeof *m);
}

void model_zero_grads(mtp_model *m) {
    if (m->grads.memory) memset(m->grads.memory, 0, m->grads.total * sizeof(float));
}

// ---- one transformer block ----------------------------------------------

// Matrix product of a forward: BLAS, or in exact-rows mode the kernel whose
// rows do not depend on how many rows there are (decoding).
static void project(int exact_rows, float *out, const float *inp, const float *w, int N, int in_dim,
                    int out_dim) {
    if (exact_rows)
        op_matmul_rows_forward(out, inp, w, N, in_dim, out_dim);
    else
        op_matmul_forward(out, inp, w, N, in_dim, out_dim);
}

// out = h + MLP(RMSNorm(h)), h = x + Attn(RMSNorm(x)); x (N, d) with N = B*T.
// With a cache (B = 1), the T tokens sit at positions cache->len .. len+T-1:
// their keys and values are written into the cache's rows for this block and
// attention reads every cached position; without one, positions are 0..T-1
// and keys/values stay in the activations for the backward. exact_rows (with
// a cache only) makes every row's result independent of T.
static void block_forward(mtp_model *m, int layer, block_acts *a, const float *x, int B, int T,
                          const kv_cache *cache, int exact_rows) {
    const mtp_config *c = &m->cfg;
    int N = B * T, d = c->dim, f = c->ffn_dim, hd = config_head_dim(c);
    int qd = c->n_head * hd, kvd = c->n_kv_head * hd;
    int pos0 = cache ? cache->len : 0;
    size_t block_rows = (size_t)layer * c->max_seq_len * kvd;
    float *kbase = cache ? cache->k + block_rows : a->k, *vbase = cache ? cache->v + block_rows : a->v;
    float *knew = kbase + (size_t)pos0 * kvd, *vnew = vbase + (size_t)pos0 * kvd;
    block_params w = params_block(&m->params, c, layer);
    op_rmsnorm_forward(a->ln1, a->rstd1, x, w.attn_norm, N, d, c->norm_eps);
    project(exact_rows, a->q, a->ln1, w.wq, N, d, qd);
    project(exact_rows, knew, a->ln1, w.wk, N, d, kvd);
    project(exact_rows, vnew, a->ln1, w.wv, N, d, kvd);
    op_rope_forward(a->q, m->rope_cos, m->rope_sin, B, T, c->n_head, hd, pos0);
    op_rope_forward(knew, m->rope_cos, m->rope_sin, B, T, c->n_kv_head, hd, pos0);
    if (exact_rows)
        op_attention_rows_forward(a->atty, a->q, kbase, vbase, T, pos0 + T, c->n_head, c->n_kv_head, hd);
    else
        op_attention_forward(a->atty, a->lse, a->q, kbase, vbase, B, T, pos0 + T, c->n_head, c->n_kv_head, hd,
                             cache ? (size_t)c->max_seq_len * kvd : (size_t)T * kvd, m->attn_scratch,
                             m->attn_threads);
    project(exact_rows, a->h, a->atty, w.wo, N, qd, d);
    op_add_inplace(a->h, x, (size_t)N * d);
    op_rmsnorm_forward(a->ln2, a->rstd2, a->h, w.ffn_norm, N, d, c->norm_eps);
    project(exact_rows, a->gate, a->ln2, w.wgate, N, d, f);
    project(exact_rows, a->up, a->ln2, w.wup, N, d, f);
    op_swiglu_forward(a->act, a->gate, a->up, (size_t)N * f);
    project(exact_rows, a->out, a->act, w.wdown, N, f, d);
    op_add_inplace(a->out, a->h, (size_t)N * d);
}

// Backward of block_forward: adds d(loss)/dx into dx (N, d) given dout (N, d),
// and the block's parameter gradients into m->grads.
static void block_backward(mtp_model *m, int layer, const block_acts *a, const float *x, const float *dout,
                           float *dx, int B, int T) {
    const mtp_config *c = &m->cfg;
    int N = B * T, d = c->dim, f = c->ffn_dim, hd = config_head_dim(c);
    int qd = c->n_head * hd, kvd = c->n_kv_head * hd;
    block_params w = params_block(&m->params, c, layer), g = params_block(&m->grads, c, layer);
    // out = h + act @ wdown^T
    memcpy(m->dh, dout, sizeof(float) * N * d);
    op_matmul_backward(m->dact, g.wdown, dout, a->act, w.wdown, N, f, d, 0);
    // act = silu(gate) * up; gate = ln2 @ wgate^T; up = ln2 @ wup^T
    op_swiglu_backward(m->dgate, m->dup, m->dact, a->gate, a->up, (size_t)N * f);
    op_matmul_backward(m->dln, g.wgate, m->dgate, a->ln2, w.wgate, N, d, f, 0);
    op_matmul_backward(m->dln, g.wup, m->dup, a->ln2, w.wup, N, d, f, 1);
    // ln2 = RMSNorm(h)
    op_rmsnorm_backward(m->dh, g.ffn_norm, m->dln, a->h, w.ffn_norm, a->rstd2, N, d);
    // h = x + atty @ wo^T
    op_matmul_backward(m->datty, g.wo, m->dh, a->atty, w.wo, N, qd, d, 0);
    op_attention_backward(m->dq, m->dk, m->dv, m->datty, a->atty, a->lse, a->q, a->k, a->v, B, T, c->n_head,
                          c->n_kv_head, hd, m->attn_scratch, m->attn_threads);
    op_rope_backward(m->dq, m->rope_cos, m->rope_sin, B, T, c->n_head, hd, 0);
    op_rope_backward(m->dk, m->rope_cos, m->rope_sin, B, T, c->n_kv_head, hd, 0);
    // q, k, v = ln1 @ w^T; ln1 = RMSNorm(x)
    op_matmul_backward(m->dln, g.wq, m->dq, a->ln1, w.wq, N, d, qd, 0);
    op_matmul_backward(m->dln, g.wk, m->dk, a->ln1, w.wk, N, d, kvd, 1);
    op_matmul_backward(m->dln, g.wv, m->dv, a->ln1, w.wv, N, d, kvd, 1);
    op_add_inplace(dx, m->dh, (size_t)N * d);
    op_rmsnorm_backward(dx, g.attn_norm, m->dln, x, w.attn_norm, a->rstd1, N, d);
}

// ---- trunk, heads and the shared output layer ---------------------------

// Block index of head k (1-based).
static int head_layer(const mtp_config *c, int k) {
    return config_trunk_layers(c) + k - 1;
}

// The trunk's output z (N, d): the raw residual stream, no norm.
static const float *trunk_output(const mtp_model *m) {
    int tl = config_trunk_layers(&m->cfg);
    return m->trunk[tl - 1].out;
}

static void trunk_forward(mtp_model *m, int B, int T, const kv_cache *cache, int exact_rows) {
    const mtp_config *c = &m->cfg;
    op_embedding_forward(m->x0, m->inputs, m->params.t[P_EMBED], B * T, c->dim);
    const float *x = m->x0;
    for (int l = 0; l < config_trunk_layers(c); l++) {
        block_forward(m, l, &m->trunk[l], x, B, T, cache, exact_rows);
        x = m->trunk[l].out;
    }
}

// Head k's block and the shared final norm, into slot s.
static void head_forward(mtp_model *m, int k, int s, int B, int T, const kv_cache *cache, int exact_rows) {
    const mtp_config *c = &m->cfg;
    size_t N = (size_t)B * T;
    block_forward(m, head_layer(c, k), &m->heads[s], trunk_output(m), B, T, cache, exact_rows);
    op_rmsnorm_forward(m->head_norm + s * N * c->dim, m->head_rstd + s * N, m->heads[s].out,
                       m->params.t[P_NORM], (int)N, c->dim, c->norm_eps);
}

// Logits for rows [r0, r0+rows) of slot s, into logits (rows, V); loss per
// row into m->row_losses; with grad_scale != 0 the logits become d loss/d logits.
static void output_chunk_forward(mtp_model *m, int s, size_t N, int r0, int rows, float *logits,
                                 float grad_scale) {
    const mtp_config *c = &m->cfg;
    const float *y = m->head_norm + (s * N + r0) * c->dim;
    op_matmul_forward(logits, y, m->params.t[P_LM_HEAD], rows, c->dim, c->vocab_size);
    op_softmax_xent(logits, m->row_losses + r0, m->targets + r0, rows, c->vocab_size, grad_scale);
}

// Backward of the chunk's unembedding: d lm_head += dlogits^T y; dy = dlogits @ lm_head.
static void output_chunk_backward(mtp_model *m, int s, size_t N, int r0, int rows, const float *dlogits) {
    const mtp_config *c = &m->cfg;
    const float *y = m->head_norm + (s * N + r0) * c->dim;
    op_matmul_backward(m->dnorm_out + (size_t)r0 * c->dim, m->grads.t[P_LM_HEAD], dlogits, y,
                       m->params.t[P_LM_HEAD], rows, c->dim, c->vocab_size, 0);
}

// From d(final norm output) of slot s back through the norm and head k's
// block, adding into dz.
static void head_backward(mtp_model *m, int k, int s, int B, int T) {
    const mtp_config *c = &m->cfg;
    size_t N = (size_t)B * T;
    memset(m->dres, 0, sizeof(float) * N * c->dim);
    op_rmsnorm_backward(m->dres, m->grads.t[P_NORM], m->dnorm_out, m->heads[s].out, m->params.t[P_NORM],
                        m->head_rstd + s * N, (int)N, c->dim);
    block_backward(m, head_layer(c, k), &m->heads[s], trunk_output(m), m->dres, m->dz, B, T);
}

static void trunk_backward(mtp_model *m, int B, int T) {
    const mtp_config *c = &m->cfg;
    size_t Nd = (size_t)B * T * c->dim;
    float *dout = m->dz, *dx = m->dres;
    for (int l = config_trunk_layers(c) - 1; l >= 0; l--) {
        memset(dx, 0, sizeof(float) * Nd);
        block_backward(m, l, &m->trunk[l], l == 0 ? m->x0 : m->trunk[l - 1].out, dout, dx, B, T);
        float *t = dout;
        dout = dx;
        dx = t;
    }
    op_embedding_backward(m->grads.t[P_EMBED], dout, m->inputs, B * T, c->dim);
}

// Splits rows (B, T+n) into inputs (B*T) and checks every id.
static int load_inputs(mtp_model *m, const int32_t *rows, int B, int T) {
    const mtp_config *c = &m->cfg;
    if (B > m->max_B || T > m->max_T)
        return mtp_errorf("batch %d x %d exceeds the allocated %d x %d", B, T, m->max_B, m->max_T);
    int row_len = T + c->n_future;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < row_len; t++) {
            int32_t id = rows[(size_t)b * row_len + t];
            if (id < 0 || id >= c->vocab_size)
                return mtp_errorf("token id %d at row %d position %d is outside the vocabulary (size %d)", id,
                                  b, t, c->vocab_size);
        }
    for (int b = 0; b < B; b++)
        memcpy(m->inputs + (size_t)b * T, rows + (size_t)b * row_len, sizeof(int32_t) * T);
    return 0;
}

static void load_targets(mtp_model *m, const int32_t *rows, int B, int T, int k) {
    int row_len = T + m->cfg.n_future;
    for (int b = 0; b < B; b++)
        memcpy(m->targets + (size_t)b * T, rows + (size_t)b * row_len + k, sizeof(int32_t) * T);
}

static double mean_row_loss(const mtp_model *m, size_t N) {
    double s = 0.0;
    for (size_t i = 0; i < N; i++) s += m->row_losses[i];
    return s / (double)N;
}

int model_forward_backward(mtp_model *m, const int32_t *rows, int B, int T, float grad_scale,
                           double *head_losses) {
    const mtp_config *c = &m->cfg;
    if (!m->with_grads) return mtp_errorf("model_forward_backward: model has no gradient buffers");
    if (load_inputs(m, rows, B, T) != 0) return -1;
    size_t N = (size_t)B * T;
    int n = c->n_future, chunk = m->logit_chunk;
    // each head's loss is a mean over N positions
    float row_scale = grad_scale / (float)N;
    trunk_forward(m, B, T, NULL, 0);
    memset(m->dz, 0, sizeof(float) * N * c->dim);
    if (m->schedule == SCHEDULE_SEQUENTIAL) {
        // Figure 2: head k forward, loss, backward down to dz; only one
        // chunk of one head's logits exists at any time.
        for (int k = 1; k <= n; k++) {
            load_targets(m, rows, B, T, k);
            head_forward(m, k, 0, B, T, NULL, 0);
            for (int r0 = 0; r0 < (int)N; r0 += chunk) {
                int rows_here = (int)N - r0 < chunk ? (int)N - r0 : chunk;
                output_chunk_forward(m, 0, N, r0, rows_here, m->logits, row_scale);
                output_chunk_backward(m, 0, N, r0, rows_here, m->logits);
            }
            head_losses[k - 1] = mean_row_loss(m, N);
            head_backward(m, k, 0, B, T);
        }
    } else {
        // Naive: every head forward with its logits (n, N, V) kept, then the
        // backward of every head. The operations and their order of
        // accumulation match the sequential schedule exactly.
        for (int k = 1; k <= n; k++) {
            load_targets(m, rows, B, T, k);
            head_forward(m, k, k - 1, B, T, NULL, 0);
            float *logits = m->logits + (size_t)(k - 1) * N * c->vocab_size;
            for (int r0 = 0; r0 < (int)N; r0 += chunk) {
                int rows_here = (int)N - r0 < chunk ? (int)N - r0 : chunk;
                output_chunk_forward(m, k - 1, N, r0, rows_here, logits + (size_t)r0 * c->vocab_size,
                                     row_scale);
            }
            head_losses[k - 1] = mean_row_loss(m, N);
        }
        for (int k = 1; k <= n; k++) {
            float *dlogits = m->logits + (size_t)(k - 1) * N * c->vocab_size;
            for (int r0 = 0; r0 < (int)N; r0 += chunk) {
                int rows_here = (int)N - r0 < chunk ? (int)N - r0 : chunk;
                output_chunk_backward(m, k - 1, N, r0, rows_here, dlogits + (size_t)r0 * c->vocab_size);
            }
            head_backward(m, k, k - 1, B, T);
        }
    }
    trunk_backward(m, B, T);
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

int model_forward_loss(mtp_model *m, const int32_t *rows, int B, int T, double *head_losses,
                       double *head_top1) {
    const mtp_config *c = &m->cfg;
    if (load_inputs(m, rows, B, T) != 0) return -1;
    size_t N = (size_t)B * T;
    int chunk = m->logit_chunk;
    trunk_forward(m, B, T, NULL, 0);
    for (int k = 1; k <= c->n_future; k++) {
        load_targets(m, rows, B, T, k);
        head_forward(m, k, 0, B, T, NULL, 0);
        long hits = 0;
        for (int r0 = 0; r0 < (int)N; r0 += chunk) {
            int rows_here = (int)N - r0 < chunk ? (int)N - r0 : chunk;
            output_chunk_forward(m, 0, N, r0, rows_here, m->logits, 0.0f);  // grad_scale 0 keeps the logits
            if (head_top1) hits += count_top1(m->logits, m->targets + r0, rows_here, c->vocab_size);
        }
        head_losses[k - 1] = mean_row_loss(m, N);
        if (head_top1) head_top1[k - 1] = (double)hits / (double)N;
    }
    return 0;
}

int model_forward_last_logits(mtp_model *m, const int32_t *tokens, int T, int n_heads, float *logits) {
    const mtp_config *c = &m->cfg;
    if (T < 1 || T > m->max_T)
        return mtp_errorf("sequence of %d tokens does not fit the context of %d", T, m->max_T);
    if (n_heads < 1 || n_heads > c->n_future)
        return mtp_errorf("asked for %d heads; the model has %d", n_heads, c->n_future);
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return mtp_errorf("token id %d is outside the vocabulary (size %d)", tokens[t], c->vocab_size);
    memcpy(m->inputs, tokens, sizeof(int32_t) * T);
    trunk_forward(m, 1, T, NULL, 0);
    for (int k = 1; k <= n_heads; k++) {
        head_forward(m, k, 0, 1, T, NULL, 0);
        const float *y_last = m->head_norm + (size_t)(T - 1) * c->dim;
        op_matmul_forward(logits + (size_t)(k - 1) * c->vocab_size, y_last, m->params.t[P_LM_HEAD], 1, c->dim,
                          c->vocab_size);
    }
    return 0;
}

int kv_cache_alloc(kv_cache *cache, const mtp_config *c) {
    size_t n = (size_t)c->n_layer * c->max_seq_len * c->n_kv_head * config_head_dim(c);
    cache->len = 0;
    cache->k = mtp_alloc_aligned(n * sizeof(float), "key cache");
    cache->v = cache->k ? mtp_alloc_aligned(n * sizeof(float), "value cache") : NULL;
    if (!cache->v) {
        free(cache->k);
        cache->k = NULL;
        return -1;
    }
    return 0;
}

void kv_cache_free(kv_cache *cache) {
    free(cache->k);
    free(cache->v);
    memset(cache, 0, sizeof *cache);
}

int model_forward_cached(mtp_model *m, kv_cache *cache, const int32_t *tokens, int T, int n_heads,
                         int last_rows, int exact_rows, float *logits) {
    const mtp_config *c = &m->cfg;
    if (T < 1 || T > m->max_T)
        return mtp_errorf("%d new tokens do not fit the work buffers (%d)", T, m->max_T);
    if (cache->len + T > c->max_seq_len)
        return mtp_errorf("context full: %d + %d tokens exceed the model's max context %d", cache->len, T,
                          c->max_seq_len);
    if (n_heads < 1 || n_heads > c->n_future)
        return mtp_errorf("asked for %d heads; the model has %d", n_heads, c->n_future);
    if (last_rows < 1 || last_rows > T) last_rows = T;
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return mtp_errorf("token id %d is outside the vocabulary (size %d)", tokens[t], c->vocab_size);
    memcpy(m->inputs, tokens, sizeof(int32_t) * T);
    trunk_forward(m, 1, T, cache, exact_rows);
    for (int k = 1; k <= n_heads; k++) {
        head_forward(m, k, 0, 1, T, cache, exact_rows);
        project(exact_rows, logits + (size_t)(k - 1) * last_rows * c->vocab_size,
                m->head_norm + (size_t)(T - last_rows) * c->dim, m->params.t[P_LM_HEAD], last_rows, c->dim,
                c->vocab_size);
    }
    cache->len += T;
    return 0;
}

int model_forward_heads_cached(mtp_model *m, const kv_cache *cache, int pos0, int rows, int first, int last,
                               int exact_rows, float *logits) {
    const mtp_config *c = &m->cfg;
    if (first < 1 || last > c->n_future || first > last)
        return mtp_errorf("heads %d..%d: the model has heads 1..%d", first, last, c->n_future);
    if (rows < 1 || rows > m->max_T || pos0 < 0 || pos0 + rows > c->max_seq_len)
        return mtp_errorf("%d rows at position %d do not fit (work %d, context %d)", rows, pos0, m->max_T,
                          c->max_seq_len);
    kv_cache at = *cache;  // the heads' cache rows start where the trunk's did
    at.len = pos0;
    for (int k = first; k <= last; k++) {
        head_forward(m, k, 0, 1, rows, &at, exact_rows);
        memcpy(m->head_last + (size_t)(k - first) * c->dim, m->head_norm + (size_t)(rows - 1) * c->dim,
               sizeof(float) * c->dim);
    }
    // one pass over the shared unembedding for all these heads, so its weights are read once
    project(exact_rows, logits, m->head_last, m->params.t[P_LM_HEAD], last - first + 1, c->dim,
            c->vocab_size);
    return 0;
}
