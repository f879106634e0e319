// api.c: the public interface (include/mtp.h) over the library's layers.
#define _POSIX_C_SOURCE 200809L  // strdup
#include <stdlib.h>
#include <string.h>

#include "libmtp.h"
#include "train/trainer.h"

// A NULL argument: -1 with a message naming it (the public functions return an
// error for one, as mtp_load(NULL) does, rather than crash).
static int null_arg(const char *fn, const char *name) {
    return mtp_errorf("%s: %s is NULL", fn, name);
}

const char *mtp_version(void) {
    return MTP_VERSION;
}

void mtp_set_threads(int threads) {
    if (threads > 0) op_set_threads(threads);
}

int mtp_set_device(const char *name) {
    if (!name) return null_arg("mtp_set_device", "name");
    op_device d;
    if (op_device_parse(name, &d) != 0) return -1;
    return op_use_device(d);
}

// ---- data and training ---------------------------------------------------------

void mtp_prepare_options_default(mtp_prepare_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->tokenizer = "bytes";
    o->val_fraction = PREPARE_DEFAULT_VAL_FRACTION;
}

int mtp_prepare(const mtp_prepare_options *o) {
    if (!o) return mtp_errorf("mtp_prepare: no options");
    if (!(o->val_fraction >= 0 && o->val_fraction <= 0.9))  // as mtp.h and `mtp prepare --val-fraction` say
        return mtp_errorf("mtp_prepare: val_fraction %g: expected a number in [0, 0.9]", o->val_fraction);
    if (o->num_inputs > 0 && !o->inputs) return null_arg("mtp_prepare", "inputs");
    for (size_t i = 0; i < (size_t)(o->num_inputs > 0 ? o->num_inputs : 0); i++)
        if (!o->inputs[i]) return mtp_errorf("mtp_prepare: inputs[%zu] is NULL", i);
    prepare_options p = {.tokenizer = o->tokenizer ? o->tokenizer : "bytes",
                         .out_dir = o->out_dir,
                         .inputs = o->inputs,
                         .num_inputs = o->num_inputs,
                         .doc_separator = o->doc_separator,
                         .val_fraction = o->val_fraction,
                         .shard_tokens = PREPARE_DEFAULT_SHARD_TOKENS,
                         .seed = o->seed};
    prepare_summary s;
    return prepare_run(&p, NULL, NULL, &s);
}

void mtp_train_options_default(mtp_train_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    config_set_defaults(&o->model);
    o->model.n_layer = 6, o->model.n_future = 2, o->model.dim = 256, o->model.n_head = 8;
    o->seq_len = 256, o->batch = 8, o->grad_accum = 1, o->steps = 1000, o->warmup = -1;
    o->lr = 1e-3, o->min_lr_ratio = OPTIM_DEFAULT_MIN_LR_RATIO, o->weight_decay = OPTIM_DEFAULT_WEIGHT_DECAY;
    o->grad_clip = OPTIM_DEFAULT_GRAD_CLIP, o->seed = 1337;
    o->eval_every = 100, o->eval_batches = 10, o->save_every = 500, o->keep_last = 3;
}

static void report_step(void *user, const trainer *t, const step_result *r, double seconds, double eta) {
    (void)seconds, (void)eta;
    const mtp_train_options *o = user;
    o->on_step(o->user, t->step, r->loss);
}

int mtp_train(const mtp_train_options *o) {
    if (!o) return null_arg("mtp_train", "options");
    if (!o->data_dir || !o->out_dir)
        return mtp_errorf("mtp_train: give data_dir (made by mtp_prepare) and out_dir (the run directory)");
    train_options to = {
        o->data_dir, o->out_dir,          o->log,        o->seq_len,      o->batch,        o->grad_accum,
        o->steps,    o->warmup,           o->lr,         o->min_lr_ratio, o->weight_decay, o->grad_clip,
        o->seed,     SCHEDULE_SEQUENTIAL, o->eval_every, o->eval_batches, o->save_every,   o->keep_last};
    mtp_config cfg = o->model;
    if (!cfg.n_kv_head) cfg.n_kv_head = cfg.n_head;
    if (!cfg.ffn_dim) cfg.ffn_dim = config_default_ffn_dim(cfg.dim);
    if (!cfg.max_seq_len) cfg.max_seq_len = o->seq_len;
    train_observer obs = {.on_step = o->on_step ? report_step : NULL, .user = (void *)o};
    trainer *t = mtp_calloc(1, sizeof *t, "trainer");
    if (!t) return -1;
    int rc = trainer_open(t, &to, &cfg, o->resume, &obs) || trainer_run(t) ? -1 : 0;
    trainer_close(t);
    free(t);
    return rc;
}

// ---- a trained model -----------------------------------------------------------------

mtp_checkpoint *mtp_load(const char *path) {
    if (!path || !*path) {
        mtp_errorf("mtp_load: no path given");
        return NULL;
    }
    mtp_checkpoint *m = mtp_malloc(sizeof *m, "model");
    // the decode layout is the CPU's; on a device the row-major weights move there
    int layout = op_current_device() == OP_DEVICE_CPU ? CHECKPOINT_DECODING : 0;
    if (m && checkpoint_open(m, path, CHECKPOINT_TOKENIZER | CHECKPOINT_WEIGHTS | layout) != 0) {
        free(m);
        return NULL;
    }
    if (m && model_to_device(&m->model) != 0) {
        checkpoint_close(m);
        free(m);
        return NULL;
    }
    return m;
}

void mtp_close(mtp_checkpoint *m) {
    if (!m) return;
    checkpoint_close(m);
    free(m);
}

const mtp_config *mtp_model_config(const mtp_checkpoint *m) {
    if (!m) return null_arg("mtp_model_config", "model"), NULL;
    return &m->cfg;
}

const char *mtp_model_dir(const mtp_checkpoint *m) {
    if (!m) return null_arg("mtp_model_dir", "model"), NULL;
    return m->dir;
}

int mtp_encode(const mtp_checkpoint *m, const char *text, size_t len, int32_t **ids, size_t *n) {
    size_t cap = 0;
    if (!m || !ids || !n || (!text && len))
        return null_arg("mtp_encode", !m ? "model" : !ids ? "ids" : !n ? "n" : "text");
    if (!text) text = "";
    *ids = NULL;
    *n = 0;
    return tokenizer_encode(m->tok, text, len, ids, n, &cap);
}

char *mtp_decode(const mtp_checkpoint *m, const int32_t *ids, size_t n, size_t *len) {
    if (!m || (!ids && n)) return null_arg("mtp_decode", !m ? "model" : "ids"), NULL;
    strbuf b = {0};
    for (size_t i = 0; i < n && !b.failed; i++)
        if (tokenizer_decode_append(m->tok, ids[i], &b) < 0) {
            strbuf_free(&b);
            return NULL;
        }
    return strbuf_take(&b, len);
}

int mtp_loss(const mtp_checkpoint *m, const int32_t *tokens, size_t n, double *head_losses) {
    if (!m || !tokens || !head_losses)
        return null_arg("mtp_loss", !m ? "model" : !tokens ? "tokens" : "head_losses");
    const mtp_config *c = &m->cfg;
    if (n <= (size_t)c->n_future || n - (size_t)c->n_future > (size_t)c->max_seq_len)
        return mtp_errorf("mtp_loss: %zu tokens; a model with %d heads and a context of %d needs %d to %d", n,
                          c->n_future, c->max_seq_len, c->n_future + 1, c->max_seq_len + c->n_future);
    int T = (int)n - c->n_future;
    model_work w;
    if (model_work_alloc(&w, &m->model, 1, T, SCHEDULE_SEQUENTIAL, 0) != 0) return -1;
    int rc = model_forward_loss(&w, tokens, 1, T, head_losses, NULL);
    model_work_free(&w);
    return rc;
}

// ---- generation ----------------------------------------------------------------------------

// the public names of the speculative modes are the decoder's own values
_Static_assert(MTP_SPECULATIVE_AUTO == DECODE_AUTO && MTP_SPECULATIVE_ALL == DECODE_ALL, "speculative modes");

struct mtp_generator {
    generator g;
    mtp_generate_options o;
    char *stop_copy;  // o.stop: the generator's own copy
};

void mtp_generate_options_default(mtp_generate_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->max_new = 256;
    o->speculative = MTP_SPECULATIVE_AUTO;
    o->top_p = 1.0f;
    o->seed = 1;
}

mtp_generator *mtp_generator_new(const mtp_checkpoint *m, const mtp_generate_options *o) {
    if (!m || !o) return null_arg("mtp_generator_new", !m ? "model" : "options"), NULL;
    mtp_generator *g = mtp_calloc(1, sizeof *g, "generator");
    generator_config gc = {o->speculative, o->temperature, o->top_k, o->top_p, o->seed};
    if (g && generator_init(&g->g, &m->model, m->tok, &gc) != 0) {
        free(g);
        return NULL;
    }
    if (g) g->o = *o;
    // the caller's string may not outlive the generator
    if (g && o->stop && !(g->o.stop = g->stop_copy = strdup(o->stop))) {
        generator_free(&g->g);
        free(g);
        mtp_errorf("out of memory copying the stop string");
        return NULL;
    }
    return g;
}

void mtp_generator_free(mtp_generator *g) {
    if (!g) return;
    generator_free(&g->g);
    free(g->stop_copy);
    free(g);
}

int mtp_generate(mtp_generator *g, const char *prompt, size_t len, mtp_generation *out) {
    if (!g || !out || (!prompt && len))
        return null_arg("mtp_generate", !g ? "generator" : !out ? "out" : "prompt");
    if (!prompt) prompt = "";  // none, of length 0
    const char *stops[2] = {g->o.stop, NULL};
    generate_options o = {.max_new = g->o.max_new, .stops = g->o.stop ? stops : NULL};
    generate_result r = {0};
    memset(out, 0, sizeof *out);
    if (generate_text(&g->g, prompt, len, &o, &r) != 0) {
        generate_result_free(&r);
        return -1;
    }
    const decode_stats *st = &r.stats;
    out->text = strbuf_take(&r.text, &out->len);
    out->tokens = st->generated;
    out->forwards = st->forwards;
    out->seconds = st->prefill_seconds + st->decode_seconds;
    for (int k = 0; k < g->g.dec.drafts; k++)
        out->accept[k] = st->checked[k] ? (double)st->accepted[k] / (double)st->checked[k] : 0.0;
    out->stop_reason = r.stop_reason;
    generate_result_free(&r);
    return out->text ? 0 : -1;
}
