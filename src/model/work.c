// work.c: a model's weights (parameters, RoPE tables) and the separate
// working memory of each consumer (activations, gradients, KV caches).
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/model.h"
#include "ops/ops.h"

// Rows of logits computed at once: up to 128 MB of (rows, V) floats, so no
// (B*T, V) tensor exists in the sequential schedule, in as few chunks as that
// allows, of equal size. Each chunk reads the whole unembedding (154 MB at
// GPT-2's V = 50304, d = 768) in each of its three products, so the number
// of chunks is what costs: 1024 rows in 333 + 333 + 333 + 25 (a 64 MB budget)
// took 8.3-8.6 s a GPT-2-small n = 4 step, in 512 + 512 6.6-6.7 s, in one
// chunk 6.1-7.2 s (Intel Xeon, 2 threads, docs/benchmarks.md).

// The layouts a model can be created in (see model_create_decoding, _q8).
enum { ROW_MAJOR, DECODE_LAYOUT, INT8 };

static int create(mtp_model *m, const mtp_config *cfg, int layout) {
    memset(m, 0, sizeof *m);
    if (config_validate(cfg) != 0) return -1;
    m->cfg = *cfg;
    int rc = layout == DECODE_LAYOUT ? model_alloc_decode_params(&m->params, cfg)
             : layout == INT8        ? model_alloc_q8_params(m)
                                     : params_alloc(&m->params, cfg);
    if (rc != 0) return -1;
    m->decode_layout = layout == DECODE_LAYOUT;
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

int model_create(mtp_model *m, const mtp_config *cfg) {
    return create(m, cfg, ROW_MAJOR);
}

int model_create_decoding(mtp_model *m, const mtp_config *cfg) {
    return create(m, cfg, model_decode_layout_fits(cfg) ? DECODE_LAYOUT : ROW_MAJOR);
}

int model_create_q8(mtp_model *m, const mtp_config *cfg) {
    return create(m, cfg, INT8);
}

void model_free(mtp_model *m) {
    int dev = m->params.on_device;
    params_free(&m->params);
    free(m->q8_weights);
    free(m->q8_scales);
    op_free_on(dev, m->rope_cos);
    op_free_on(dev, m->rope_sin);
    memset(m, 0, sizeof *m);
}

// A device copy of n host floats, or NULL (error set).
static float *upload(const float *host, size_t n, const char *what) {
    float *p = op_alloc(n * sizeof(float), what);
    if (p) op_upload(p, host, n * sizeof(float));
    return p;
}

int model_to_device(mtp_model *m) {
    if (op_current_device() == OP_DEVICE_CPU || m->params.on_device) return 0;
    if (m->decode_layout || m->q8)
        return mtp_errorf("device %s: a model in the decode layout or int8 runs on the CPU only",
                          op_device_name(op_current_device()));
    if (config_head_dim(&m->cfg) > op_attention_max_head_dim())
        return mtp_errorf("device %s: attention heads of %d values; this device takes at most %d",
                          op_device_name(op_current_device()), config_head_dim(&m->cfg),
                          op_attention_max_head_dim());
    size_t tables = (size_t)m->cfg.max_seq_len * (config_head_dim(&m->cfg) / 2);
    param_set dev;
    if (params_alloc_on_device(&dev, &m->cfg) != 0) return -1;
    op_upload(dev.memory, m->params.memory, m->params.total * sizeof(float));
    float *cos_t = upload(m->rope_cos, tables, "RoPE tables"),
          *sin_t = upload(m->rope_sin, tables, "RoPE tables");
    if (!cos_t || !sin_t || op_sync() != 0) {
        params_free(&dev);
        op_free(cos_t);
        op_free(sin_t);
        return -1;
    }
    params_free(&m->params);
    free(m->rope_cos);
    free(m->rope_sin);
    m->params = dev;
    m->rope_cos = cos_t;
    m->rope_sin = sin_t;
    return 0;
}

int model_params_to_host(const mtp_model *m, param_set *host) {
    if (params_alloc(host, &m->cfg) != 0) return -1;
    if (m->params.on_device)
        op_download(host->memory, m->params.memory, m->params.total * sizeof(float));
    else
        memcpy(host->memory, m->params.memory, m->params.total * sizeof(float));
    return 0;
}

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

int model_logit_chunk_rows(const mtp_config *cfg, size_t N) {
    size_t most = MODEL_LOGIT_CHUNK_FLOATS / (size_t)cfg->vocab_size;
    if (most < 1) most = 1;
    if (N < 1) return 1;
    const size_t chunks = (N + most - 1) / most;
    return (int)((N + chunks - 1) / chunks);
}

int model_head_slots(const mtp_config *cfg, head_schedule schedule, int with_grads) {
    // the naive schedule keeps every head; a chain's backward needs every head's activations
    if (schedule == SCHEDULE_NAIVE || (with_grads && config_heads_chained(cfg))) return cfg->n_future;
    return 1;
}

// Lays out every work buffer of w in carver c (counting only if c->base is NULL).
static void carve_work(carver *c, model_work *w, const mtp_config *cfg, int B, int T, head_schedule schedule,
                       int with_grads, int decode_layout, int q8) {
    size_t N = (size_t)B * T, d = cfg->dim, f = cfg->ffn_dim, hd = config_head_dim(cfg);
    size_t qd = cfg->n_head * hd, kvd = cfg->n_kv_head * hd, V = cfg->vocab_size;
    int trunk_layers = config_trunk_layers(cfg);
    int slots = model_head_slots(cfg, schedule, with_grads);
    w->x0 = carve(c, N * d);
    // Without gradients no block's activations outlive its forward, so all trunk
    // blocks share one slot (a block reads its input before overwriting `out`).
    for (int l = 0; l < trunk_layers; l++) {
        if (with_grads || l == 0)
            carve_block(c, &w->trunk[l], cfg, B, T);
        else
            w->trunk[l] = w->trunk[0];
    }
    for (int s = 0; s < slots; s++) {
        if (cfg->head_type == MTP_HEAD_LINEAR)
            w->heads[s].out = carve(c, N * d);  // a linear head keeps only its output
        else
            carve_block(c, &w->heads[s], cfg, B, T);
    }
    w->head_norm = carve(c, slots * N * d);
    w->head_rstd = carve(c, slots * N);
    w->head_last = carve(c, (size_t)cfg->n_future * d);
    if (!with_grads && cfg->head_order == MTP_HEAD_CAUSAL && cfg->n_future > 1)
        w->head1_rows = carve(c, N * d);
    if (!with_grads) {
        w->verify_rows = N < MTP_MAX_FUTURE ? (int)N : MTP_MAX_FUTURE;
        w->head_rows = carve(c, (size_t)cfg->n_future * w->verify_rows * d);
        w->head_gather = carve(c, ((size_t)w->verify_rows + cfg->n_future) * d);
    }
    w->logit_chunk = model_logit_chunk_rows(cfg, N);
    w->logits = carve(c, schedule == SCHEDULE_NAIVE ? cfg->n_future * N * V : (size_t)w->logit_chunk * V);
    w->row_losses = carve(c, (size_t)cfg->n_future * N);  // (n, N): every head's, read back once per step
    // attention tiles for every thread the kernels may run on
    w->attn_threads = op_get_threads();
    w->attn_scratch = carve(c, (size_t)w->attn_threads * op_attention_scratch_floats(config_head_dim(cfg)));
    if (decode_layout) {  // unpacked weight panels for products of many rows
        size_t max_in = d > qd ? d : qd;
        if (f > max_in) max_in = f;
        w->panel_scratch = carve(c, op_packed_scratch_floats((int)N, (int)max_in));
    }
    if (q8) {  // each product's input rows, quantized
        size_t max_in = d > qd ? d : qd;
        if (f > max_in) max_in = f;
        w->q8_x = (int8_t *)carve(c, (N * max_in + 3) / 4);
        w->q8_xs = carve(c, N);
        w->q8_xaux = (int32_t *)carve(c, N * op_q8_side_ints((int)max_in));
    }
    w->inputs = (int32_t *)carve(c, N);
    w->targets = (int32_t *)carve(c, (size_t)cfg->n_future * N);
    if (with_grads) {
        w->dz = carve(c, N * d);
        w->dres = carve(c, N * d);
        if (config_heads_chained(cfg)) w->dchain = carve(c, N * d);
        w->dh = carve(c, N * d);
        w->datty = carve(c, N * qd);
        w->dq = carve(c, N * qd);
        w->dk = carve(c, N * kvd);
        w->dv = carve(c, N * kvd);
        w->dln = carve(c, N * d);
        w->dact = carve(c, N * f);
        w->dgate = carve(c, N * f);
        w->dup = carve(c, N * f);
        w->dnorm_out = carve(c, N * d);
    }
}

size_t model_work_bytes(const mtp_config *cfg, int B, int T, head_schedule schedule, int with_grads) {
    model_work tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.trunk = calloc((size_t)config_trunk_layers(cfg), sizeof *tmp.trunk);
    tmp.heads = calloc((size_t)cfg->n_future, sizeof *tmp.heads);
    carver c = {NULL, 0};
    if (tmp.trunk && tmp.heads) carve_work(&c, &tmp, cfg, B, T, schedule, with_grads, 0, 0);
    free(tmp.trunk);
    free(tmp.heads);
    return c.used * sizeof(float);
}

int model_work_alloc(model_work *w, const mtp_model *m, int B, int T, head_schedule schedule,
                     int with_grads) {
    const mtp_config *cfg = &m->cfg;
    memset(w, 0, sizeof *w);
    if (B < 1 || T < 1) return mtp_errorf("batch %d x seq-len %d must be positive", B, T);
    if (T > cfg->max_seq_len)
        return mtp_errorf("--seq-len %d exceeds the model's max context %d", T, cfg->max_seq_len);
    if (with_grads && (m->decode_layout || m->q8))
        return mtp_errorf(
            "a model in the decode layout or int8 runs forwards only: train a float32 checkpoint");
    // the ops run on the current device: a model's memory must be that device's
    if (m->params.on_device != (int)op_current_device())
        return mtp_errorf("this model was loaded for the %s, and the device is now %s: load it again",
                          op_device_name((op_device)m->params.on_device),
                          op_device_name(op_current_device()));
    w->model = m;
    w->cfg = *cfg;
    w->on_device = m->params.on_device;
    w->trunk = mtp_calloc((size_t)config_trunk_layers(cfg), sizeof *w->trunk, "trunk activations");
    w->heads = mtp_calloc((size_t)cfg->n_future, sizeof *w->heads, "head activations");
    w->host_row_losses = mtp_malloc(sizeof(float) * (size_t)cfg->n_future * B * T, "row losses");
    w->host_tokens = mtp_malloc(sizeof(int32_t) * (size_t)cfg->n_future * B * T, "token ids");
    if (!w->trunk || !w->heads || !w->host_row_losses || !w->host_tokens ||
        (with_grads && params_alloc_on_device(&w->grads, cfg) != 0)) {
        model_work_free(w);
        return -1;
    }
    carver c = {NULL, 0};
    carve_work(&c, w, cfg, B, T, schedule, with_grads, m->decode_layout, m->q8);
    w->work = op_alloc_on(w->on_device, c.used * sizeof(float), "activations");
    if (!w->work) {
        model_work_free(w);
        return -1;
    }
    c.base = w->work;
    c.used = 0;
    carve_work(&c, w, cfg, B, T, schedule, with_grads, m->decode_layout, m->q8);
    w->max_B = B;
    w->max_T = T;
    w->schedule = schedule;
    w->with_grads = with_grads;
    w->head_slots = model_head_slots(cfg, schedule, with_grads);
    return 0;
}

void model_work_free(model_work *w) {
    params_free(&w->grads);
    op_free_on(w->on_device, w->work);
    free(w->host_row_losses);
    free(w->host_tokens);
    free(w->host_logits);
    free(w->trunk);
    free(w->heads);
    memset(w, 0, sizeof *w);
}

void model_zero_grads(model_work *w) {
    if (!w->grads.memory) return;
    op_zero_on(w->grads.on_device, w->grads.memory, w->grads.total * sizeof(float));
}

int kv_cache_alloc(kv_cache *cache, const mtp_config *c, int capacity) {
    memset(cache, 0, sizeof *cache);
    if (capacity == 0) capacity = c->max_seq_len;
    if (capacity < 1 || capacity > c->max_seq_len)
        return mtp_errorf("a KV cache of %d positions: the model's context holds 1..%d", capacity,
                          c->max_seq_len);
    size_t n = (size_t)c->n_layer * capacity * c->n_kv_head * config_head_dim(c);
    cache->capacity = capacity;
    cache->on_device = (int)op_current_device();  // which device (0: the host)
    // on the host, memory decoding reads in full every token (huge pages where granted)
    cache->k = cache->on_device ? op_alloc(n * sizeof(float), "key cache")
                                : mtp_alloc_streamed(n * sizeof(float), 1, "key cache");
    cache->v = !cache->k          ? NULL
               : cache->on_device ? op_alloc(n * sizeof(float), "value cache")
                                  : mtp_alloc_streamed(n * sizeof(float), 1, "value cache");
    if (!cache->v) {
        kv_cache_free(cache);
        return -1;
    }
    return 0;
}

void kv_cache_free(kv_cache *cache) {
    op_free_on(cache->on_device, cache->k);
    op_free_on(cache->on_device, cache->v);
    memset(cache, 0, sizeof *cache);
}
