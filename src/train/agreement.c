// agreement.c: the processes of one run (mpirun) check that they are one run.
//
// Each process opens the run from its own command line and its own files.
// mpirun's MPMD form (`mpirun -np 1 mtp train --lr 1e-3 : -np 1 mtp train
// --lr 2e-3`) gives processes different flags, and machines of a cluster can
// hold different files under the same paths (another checkpoint as the
// newest, other data). Processes that disagree would wait forever in a
// collective or train apart without a word, so before the first step every
// process hashes what it must share and all compare: a difference stops every
// process with one message naming what differs.
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"
#include "train/dist.h"
#include "train/trainer.h"

enum { SHAPE, FLAGS, POSITION, DATA, WEIGHTS, N_PARTS };

static const char *const part_names[N_PARTS] = {
    "the model's shape (the shape flags, or the checkpoint's config.json)",
    "the training flags (--batch, --seq-len, --grad-accum, --steps, --lr, --seed, ...)",
    "the step they start from (--resume: each process found another checkpoint)",
    "the data (--data: other prepared files)",
    "the initial weights (other checkpoint files under the same name)",
};

// FNV-1a style mixing of 64-bit words, with a final avalanche so that
// nearby values give unrelated hashes.
static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v;
    h *= 0x100000001b3ULL;
    return h ^ (h >> 31);
}

static uint64_t mix_double(uint64_t h, double x) {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return mix(h, bits);
}

static uint64_t shape_hash(const mtp_config *c) {
    const int fields[] = {c->vocab_size, c->dim,      c->n_head,      c->n_kv_head, c->ffn_dim,
                          c->n_layer,    c->n_future, c->max_seq_len, c->head_type, c->head_order};
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) h = mix(h, (uint64_t)(int64_t)fields[i]);
    return mix_double(mix_double(h, c->norm_eps), c->rope_theta);
}

static uint64_t flags_hash(const train_options *o) {
    const int64_t ints[] = {o->seq_len,          o->batch,         o->grad_accum, o->steps,
                            o->warmup,           (int64_t)o->seed, o->schedule,   o->eval_every,
                            o->eval_batches,     o->save_every,    o->keep_last,  o->freeze_trunk,
                            o->train_unembedding};
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) h = mix(h, (uint64_t)ints[i]);
    const double reals[] = {o->lr, o->min_lr_ratio, o->weight_decay, o->grad_clip};
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) h = mix_double(h, reals[i]);
    return h;
}

static uint64_t data_hash(const data_loader *L, uint64_t h) {
    h = mix(mix(mix(h, L->num_tokens), L->num_windows), L->max_token);
    for (int s = 0; s < L->num_shards; s++) h = mix(h, L->window_start[s + 1] - L->window_start[s]);
    return h;
}

// The weights' bits, 2 floats a word, read through host chunks when they live
// on a device. Returns 0 with the error set when the host chunk cannot be had.
static int weights_hash(const param_set *p, uint64_t *out) {
    enum { CHUNK = 1 << 22 };  // floats: 16 MB a download
    uint64_t h = 0xcbf29ce484222325ULL;
    float *host = p->on_device ? mtp_malloc(sizeof(float) * CHUNK, "a chunk of the weights") : NULL;
    if (p->on_device && !host) return -1;
    for (size_t lo = 0; lo < p->total; lo += CHUNK) {
        size_t n = p->total - lo < CHUNK ? p->total - lo : CHUNK;
        const float *w = p->memory + lo;
        if (host) {
            op_download(host, w, sizeof(float) * n);
            w = host;
        }
        size_t i = 0;
        for (; i + 2 <= n; i += 2) {
            uint64_t word;
            memcpy(&word, w + i, sizeof word);
            h = mix(h, word);
        }
        if (i < n) {
            uint32_t last;
            memcpy(&last, w + i, sizeof last);
            h = mix(h, last);
        }
    }
    free(host);
    *out = h;
    return 0;
}

int trainer_check_agreement(const trainer *t) {
    if (dist_size() == 1) return 0;
    uint64_t parts[N_PARTS] = {
        shape_hash(&t->model.cfg),
        flags_hash(&t->o),
        mix_double(mix(mix(mix(0, (uint64_t)t->step), t->train.epoch), t->train.index), t->tokens_seen),
        t->have_val ? data_hash(&t->val, data_hash(&t->train, 1)) : data_hash(&t->train, 0),
        0,
    };
    int failed = weights_hash(&t->model.params, &parts[WEIGHTS]) != 0;
    if (dist_any(failed)) return failed ? -1 : mtp_errorf("another process could not read its weights");
    int rank = 0, part = dist_first_difference(parts, N_PARTS, &rank);
    if (part == -2) return -1;
    if (part >= 0)
        return mtp_errorf(
            "process %d of %d differs from process 0 in %s: start every process with the same flags, "
            "and give every machine the same files",
            rank, dist_size(), part_names[part]);
    return 0;
}
