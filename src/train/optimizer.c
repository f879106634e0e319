// optimizer.c: AdamW, schedule and clipping over the layer-stacked arenas.
#include "train/optimizer.h"

#include <math.h>
#include <string.h>

#include <stdlib.h>
#include "core/error.h"
#include "ops/ops.h"

void optim_config_defaults(optim_config *o) {
    memset(o, 0, sizeof *o);
    o->lr = 3e-4;
    o->min_lr_ratio = OPTIM_DEFAULT_MIN_LR_RATIO;
    o->warmup = 0;
    o->total_steps = 1;
    o->beta1 = 0.9;
    o->beta2 = 0.95;
    o->eps = 1e-8;
    o->weight_decay = OPTIM_DEFAULT_WEIGHT_DECAY;
    o->grad_clip = OPTIM_DEFAULT_GRAD_CLIP;
}

int adamw_alloc(adamw_state *s, const mtp_config *cfg) {
    memset(s, 0, sizeof *s);
    // on the ops' device, with the parameters and gradients (the CPU's memory there)
    if (params_alloc_on_device(&s->m, cfg) != 0) return -1;
    if (params_alloc_on_device(&s->v, cfg) != 0) {
        params_free(&s->m);
        return -1;
    }
    s->ms = s->m.memory;
    s->vs = s->v.memory;
    s->hi = s->m.total;
    return 0;
}

int adamw_alloc_shard(adamw_state *s, const mtp_config *cfg, size_t lo, size_t hi) {
    (void)cfg;
    memset(s, 0, sizeof *s);
    size_t n = hi > lo ? hi - lo : 0, bytes = (n ? n : 1) * sizeof(float);
    s->on_device = (int)op_current_device();  // which device (0: the host)
    s->ms = op_alloc_on(s->on_device, bytes, "AdamW moments (shard)");
    s->vs = s->ms ? op_alloc_on(s->on_device, bytes, "AdamW moments (shard)") : NULL;
    if (!s->vs) {
        adamw_free(s);
        return -1;
    }
    s->lo = lo;
    s->hi = hi;
    return 0;
}

int adamw_alloc_trainable(adamw_state *s, const mtp_config *cfg, const unsigned char *trainable,
                          size_t arena_total) {
    memset(s, 0, sizeof *s);
    s->hi = arena_total;  // frozen gradients stay zero: the norm may run over everything
    int count = params_tensor_count(cfg);
    s->moff = mtp_malloc((size_t)count * sizeof *s->moff, "AdamW moment offsets");
    if (!s->moff) return -1;
    for (int i = 0; i < count; i++) {
        named_tensor t;
        params_named(NULL, cfg, i, &t);
        s->moff[i] = trainable[i] ? s->packed : ADAMW_FROZEN;
        if (trainable[i]) s->packed += (size_t)t.shape[0] * (size_t)(t.ndim == 2 ? t.shape[1] : 1);
    }
    s->on_device = (int)op_current_device();  // which device (0: the host)
    size_t bytes = (s->packed ? s->packed : 1) * sizeof(float);
    s->ms = op_alloc_on(s->on_device, bytes, "AdamW moments (trainable)");
    s->vs = s->ms ? op_alloc_on(s->on_device, bytes, "AdamW moments (trainable)") : NULL;
    if (!s->vs) {
        adamw_free(s);
        return -1;
    }
    return 0;
}

void adamw_free(adamw_state *s) {
    free(s->moff);
    if (s->m.memory) {
        params_free(&s->m);
        params_free(&s->v);
    } else {
        op_free_on(s->on_device, s->ms);
        op_free_on(s->on_device, s->vs);
    }
    memset(s, 0, sizeof *s);
}

double optim_lr_at(const optim_config *o, long step) {
    if (step < o->warmup) return o->lr * (double)(step + 1) / (double)o->warmup;
    long span = o->total_steps - o->warmup;
    if (span < 1) span = 1;
    double progress = (double)(step - o->warmup) / (double)span;
    if (progress > 1.0) progress = 1.0;
    double r = o->min_lr_ratio;
    return o->lr * (r + (1.0 - r) * 0.5 * (1.0 + cos(3.14159265358979323846 * progress)));
}

double optim_grad_norm(const param_set *grads) {
    // the arena's padding is zero, so the whole arena can be reduced at once
    return sqrt(op_sum_squares(grads->memory, grads->total));
}

double optim_grad_sum_squares(const param_set *grads, size_t lo, size_t hi) {
    return hi > lo ? op_sum_squares(grads->memory + lo, hi - lo) : 0.0;
}

void adamw_update(adamw_state *s, mtp_model *m, const param_set *grads, const optim_config *o, long step,
                  double lr, double grad_norm) {
    float clip_scale = 1.0f;
    if (o->grad_clip > 0.0) {
        // torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6), applied if < 1
        double coef = o->grad_clip / (grad_norm + 1e-6);
        if (coef < 1.0) clip_scale = (float)coef;
    }
    int count = params_tensor_count(&m->cfg);
    for (int i = 0; i < count; i++) {
        named_tensor t;
        params_named(&m->params, &m->cfg, i, &t);
        size_t off = (size_t)(t.data - m->params.memory);
        size_t end = off + (size_t)t.shape[0] * (size_t)(t.ndim == 2 ? t.shape[1] : 1);
        if (s->moff) {  // packed moments of the trainable tensors
            if (s->moff[i] == ADAMW_FROZEN) continue;
            op_adamw(t.data, grads->memory + off, s->ms + s->moff[i], s->vs + s->moff[i], end - off,
                     clip_scale, lr, o->beta1, o->beta2, o->eps, t.is_matrix ? o->weight_decay : 0.0,
                     step + 1);
            continue;
        }
        // the part of the tensor inside this process's range
        size_t a = off > s->lo ? off : s->lo, b = end < s->hi ? end : s->hi;
        if (a >= b) continue;
        op_adamw(m->params.memory + a, grads->memory + a, s->ms + (a - s->lo), s->vs + (a - s->lo), b - a,
                 clip_scale, lr, o->beta1, o->beta2, o->eps, t.is_matrix ? o->weight_decay : 0.0, step + 1);
    }
}
