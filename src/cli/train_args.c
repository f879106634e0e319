// train_args.c: parsing, defaults and resume merging for `mtp train`.
#include "cli/train_args.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "libmtp.h"

static const char *help =
    "usage: mtp train --data DATA_DIR --out RUN_DIR [flags]\n"
    "       mtp train --resume RUN_DIR|CHECKPOINT [--steps TOTAL] [flags]\n"
    "\n"
    "Trains an n-future-token prediction model: a trunk of L-n blocks, n parallel\n"
    "head blocks (head k predicts token t+k), one shared final norm and unembedding.\n"
    "The loss is the sum of the n heads' cross-entropies. Checkpoints go to\n"
    "RUN_DIR/step_NNNNNNNN/ (Hugging Face Llama safetensors + optimizer state).\n"
    "\n"
    "data and run:\n"
    "  --data DIR          token shards (train_*.bin, val_*.bin) and tokenizer.json\n"
    "  --out DIR           run directory for checkpoints (created if missing)\n"
    "  --resume PATH       continue a run (a run directory = its latest checkpoint);\n"
    "                      flags not given are taken from the checkpoint\n"
    "  --log FILE          JSON lines: one per step and one per eval\n"
    "model:\n"
    "  --vocab-size V      default: the data's tokenizer (needed for bare llm.c shards)\n"
    "  --n-layer L         total blocks, trunk + heads (default 6)\n"
    "  --n-future n        heads / future tokens predicted, 1 <= n < L (default 2)\n"
    "  --dim d             width (default 256)\n"
    "  --n-head H          attention heads (default 8)\n"
    "  --n-kv-head Hkv     key/value heads for GQA, divides H (default H)\n"
    "  --ffn-dim f         MLP width (default 8d/3 rounded up to a multiple of 64)\n"
    "  --seq-len T         training context (default 256)\n"
    "  --max-context N     longest context the model supports (default T)\n"
    "optimization:\n"
    "  --batch B           rows per micro-batch (default 8)\n"
    "  --grad-accum K      micro-batches per step (default 1)\n"
    "  --steps S           total optimizer steps, also on --resume (default 1000)\n"
    "  --lr LR             peak learning rate (default 1e-3)\n"
    "  --warmup W          linear warmup steps (default S/20, at most 1000)\n"
    "  --min-lr-ratio R    cosine decays to LR*R (default 0.1)\n"
    "  --weight-decay WD   AdamW decoupled decay on matrices (default 0.1)\n"
    "  --grad-clip C       global gradient-norm clip, 0 = off (default 1.0)\n"
    "  --schedule S        sequential (default: one head's logits alive at a time)\n"
    "                      or naive (all heads' logits, one backward)\n"
    "  --seed N            initialization and data order (default 1337)\n"
    "  --threads N         CPU threads (default: all cores)\n"
    "evaluation and checkpoints:\n"
    "  --eval-every N      validation every N steps, 0 = off (default 100)\n"
    "  --eval-batches N    validation batches per eval (default 10)\n"
    "  --save-every N      checkpoint every N steps, 0 = only the final (default 500)\n"
    "  --keep-last N       keep the newest N checkpoints, 0 = all (default 3)\n"
    "\n"
    "--steps 0 writes the initialized model. Ctrl-C saves a checkpoint and stops.\n";

static void defaults(train_args *a) {
    memset(a, 0, sizeof *a);
    a->n_layer = 6;
    a->n_future = 2;
    a->dim = 256;
    a->n_head = 8;
    a->seq_len = 256;
    a->batch = 8;
    a->grad_accum = 1;
    a->steps = 1000;
    // the optimizer's own defaults, except a peak LR suited to the small models a CPU trains
    optim_config o;
    optim_config_defaults(&o);
    a->lr = 1e-3;
    a->warmup = -1;  // derived from --steps unless given
    a->min_lr_ratio = o.min_lr_ratio;
    a->weight_decay = o.weight_decay;
    a->grad_clip = o.grad_clip;
    a->seed = 1337;
    a->threads = omp_get_max_threads();
    a->eval_every = 100;
    a->eval_batches = 10;
    a->save_every = 500;
    a->keep_last = 3;
    a->schedule = SCHEDULE_SEQUENTIAL;
}

#define INT_FLAG(name, field, lo, hi)                                                                 \
    if (!strcmp(f, name)) {                                                                           \
        if (!(v = args_value("train", argc, argv, &i)) || args_int("train", f, v, lo, hi, &a->field)) \
            return 2;                                                                                 \
        a->set.field = 1;                                                                             \
        continue;                                                                                     \
    }
#define DBL_FLAG(name, field, lo, hi)                                                                    \
    if (!strcmp(f, name)) {                                                                              \
        if (!(v = args_value("train", argc, argv, &i)) || args_double("train", f, v, lo, hi, &a->field)) \
            return 2;                                                                                    \
        a->set.field = 1;                                                                                \
        continue;                                                                                        \
    }

int train_args_parse(train_args *a, int argc, char **argv) {
    defaults(a);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = NULL;
        if (args_is_help(f)) {
            fputs(help, stdout);
            return -1;
        }
        if (!strcmp(f, "--data")) {
            if (!(a->data = args_value("train", argc, argv, &i))) return 2;
            continue;
        }
        if (!strcmp(f, "--out")) {
            if (!(a->out = args_value("train", argc, argv, &i))) return 2;
            continue;
        }
        if (!strcmp(f, "--resume")) {
            if (!(a->resume = args_value("train", argc, argv, &i))) return 2;
            continue;
        }
        if (!strcmp(f, "--log")) {
            if (!(a->log = args_value("train", argc, argv, &i))) return 2;
            a->set.log = 1;
            continue;
        }
        INT_FLAG("--vocab-size", vocab_size, 2, 1 << 30)
        INT_FLAG("--n-layer", n_layer, 1, 4096)
        INT_FLAG("--n-future", n_future, 1, 64)
        INT_FLAG("--dim", dim, 1, 65536)
        INT_FLAG("--n-head", n_head, 1, 4096)
        INT_FLAG("--n-kv-head", n_kv_head, 1, 4096)
        INT_FLAG("--ffn-dim", ffn_dim, 1, 1 << 20)
        INT_FLAG("--seq-len", seq_len, 1, 1 << 20)
        INT_FLAG("--max-context", max_context, 1, 1 << 20)
        INT_FLAG("--batch", batch, 1, 1 << 16)
        INT_FLAG("--grad-accum", grad_accum, 1, 256)
        INT_FLAG("--eval-every", eval_every, 0, 1 << 30)
        INT_FLAG("--eval-batches", eval_batches, 1, 1 << 20)
        INT_FLAG("--save-every", save_every, 0, 1 << 30)
        INT_FLAG("--keep-last", keep_last, 0, 1 << 20)
        DBL_FLAG("--lr", lr, 0.0, 10.0)
        DBL_FLAG("--min-lr-ratio", min_lr_ratio, 0.0, 1.0)
        DBL_FLAG("--weight-decay", weight_decay, 0.0, 10.0)
        DBL_FLAG("--grad-clip", grad_clip, 0.0, 1e9)
        if (!strcmp(f, "--threads")) {
            if (!(v = args_value("train", argc, argv, &i)) || args_int("train", f, v, 1, 1024, &a->threads))
                return 2;
            continue;
        }
        if (!strcmp(f, "--steps") || !strcmp(f, "--warmup")) {
            long *dst = !strcmp(f, "--steps") ? &a->steps : &a->warmup;
            if (!(v = args_value("train", argc, argv, &i)) || args_long("train", f, v, 0, MTP_MAX_STEPS, dst))
                return 2;
            if (dst == &a->warmup)
                a->set.warmup = 1;
            else
                a->set.steps = 1;
            continue;
        }
        if (!strcmp(f, "--seed")) {
            if (!(v = args_value("train", argc, argv, &i)) || args_u64("train", f, v, &a->seed)) return 2;
            a->set.seed = 1;
            continue;
        }
        if (!strcmp(f, "--schedule")) {
            if (!(v = args_value("train", argc, argv, &i))) return 2;
            if (!strcmp(v, "sequential"))
                a->schedule = SCHEDULE_SEQUENTIAL;
            else if (!strcmp(v, "naive"))
                a->schedule = SCHEDULE_NAIVE;
            else {
                fprintf(stderr, "mtp train: --schedule '%s': expected sequential or naive\n", v);
                return 2;
            }
            a->set.schedule = 1;
            continue;
        }
        args_unknown("train", f);
        return 2;
    }
    if (!a->set.n_kv_head) a->n_kv_head = a->n_head;
    if (!a->set.max_context) a->max_context = a->seq_len;
    if (!a->set.warmup) a->warmup = a->steps / 20 < 1000 ? a->steps / 20 : 1000;
    if (a->seq_len > a->max_context) {
        fprintf(stderr, "mtp train: --seq-len %d exceeds --max-context %d\n", a->seq_len, a->max_context);
        return 2;
    }
    return 0;
}

void train_args_to_config(const train_args *a, mtp_config *c) {
    memset(c, 0, sizeof *c);
    config_set_defaults(c);
    c->vocab_size = a->vocab_size;
    c->dim = a->dim;
    c->n_head = a->n_head;
    c->n_kv_head = a->n_kv_head;
    c->ffn_dim = a->set.ffn_dim ? a->ffn_dim : config_default_ffn_dim(a->dim);
    c->n_layer = a->n_layer;
    c->n_future = a->n_future;
    c->max_seq_len = a->max_context;
}

cJSON *train_args_to_json(const train_args *a) {
    cJSON *j = cJSON_CreateObject();
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)a->seed);
    cJSON_AddStringToObject(j, "data", a->data ? a->data : "");
    cJSON_AddStringToObject(j, "out", a->out ? a->out : "");
    if (a->log) cJSON_AddStringToObject(j, "log", a->log);
    cJSON_AddNumberToObject(j, "seq_len", a->seq_len);
    cJSON_AddNumberToObject(j, "batch", a->batch);
    cJSON_AddNumberToObject(j, "grad_accum", a->grad_accum);
    cJSON_AddNumberToObject(j, "steps", (double)a->steps);
    cJSON_AddNumberToObject(j, "warmup", (double)a->warmup);
    cJSON_AddNumberToObject(j, "lr", a->lr);
    cJSON_AddNumberToObject(j, "min_lr_ratio", a->min_lr_ratio);
    cJSON_AddNumberToObject(j, "weight_decay", a->weight_decay);
    cJSON_AddNumberToObject(j, "grad_clip", a->grad_clip);
    cJSON_AddStringToObject(j, "seed", seed);
    cJSON_AddStringToObject(j, "schedule", a->schedule == SCHEDULE_NAIVE ? "naive" : "sequential");
    cJSON_AddNumberToObject(j, "eval_every", a->eval_every);
    cJSON_AddNumberToObject(j, "eval_batches", a->eval_batches);
    cJSON_AddNumberToObject(j, "save_every", a->save_every);
    cJSON_AddNumberToObject(j, "keep_last", a->keep_last);
    return j;
}

static const cJSON *get(const cJSON *obj, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

// Integers must be exact and within [lo, hi] before any cast (a cast of an
// out-of-range double is undefined).
static int json_number_in(const cJSON *v, double lo, double hi, int integral) {
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= lo && v->valuedouble <= hi &&
           (!integral || v->valuedouble == floor(v->valuedouble));
}

static int take_int(const cJSON *args, const char *key, int given, int lo, int hi, int *dst,
                    const char *dir) {
    const cJSON *v = get(args, key);
    if (given || !v) return 0;
    if (!json_number_in(v, lo, hi, 1))
        return mtp_errorf("%s/trainer_state.json: args.%s must be an integer in [%d, %d]", dir, key, lo, hi);
    *dst = (int)v->valuedouble;
    return 0;
}

static int take_double(const cJSON *args, const char *key, int given, double lo, double hi, double *dst,
                       const char *dir) {
    const cJSON *v = get(args, key);
    if (given || !v) return 0;
    if (!json_number_in(v, lo, hi, 0))
        return mtp_errorf("%s/trainer_state.json: args.%s must be a number in [%g, %g]", dir, key, lo, hi);
    *dst = v->valuedouble;
    return 0;
}

// A model flag given on --resume must equal the checkpoint's value.
static int check_same(const char *flag, int given, int value, int ckpt, const char *ckpt_dir) {
    if (given && value != ckpt)
        return mtp_errorf("%s %d does not match the checkpoint %s (%d): drop the flag or start a new run",
                          flag, value, ckpt_dir, ckpt);
    return 0;
}

int train_args_merge_resume(train_args *a, const cJSON *state, const mtp_config *c, const char *ckpt_dir) {
    if (check_same("--vocab-size", a->set.vocab_size, a->vocab_size, c->vocab_size, ckpt_dir) ||
        check_same("--n-layer", a->set.n_layer, a->n_layer, c->n_layer, ckpt_dir) ||
        check_same("--n-future", a->set.n_future, a->n_future, c->n_future, ckpt_dir) ||
        check_same("--dim", a->set.dim, a->dim, c->dim, ckpt_dir) ||
        check_same("--n-head", a->set.n_head, a->n_head, c->n_head, ckpt_dir) ||
        check_same("--n-kv-head", a->set.n_kv_head, a->n_kv_head, c->n_kv_head, ckpt_dir) ||
        check_same("--ffn-dim", a->set.ffn_dim, a->ffn_dim, c->ffn_dim, ckpt_dir) ||
        check_same("--max-context", a->set.max_context, a->max_context, c->max_seq_len, ckpt_dir))
        return -1;
    const cJSON *args = get(state, "args");
    if (!cJSON_IsObject(args)) return mtp_errorf("%s/trainer_state.json: missing \"args\"", ckpt_dir);
    const cJSON *v;
    // the state is freed after setup: keep copies of the paths taken from it
    const char *keys[3] = {"data", "out", "log"};
    const char **dst[3] = {&a->data, &a->out, &a->log};
    for (int k = 0; k < 3; k++)
        if (!*dst[k] && cJSON_IsString(v = get(args, keys[k])) && v->valuestring[0]) {
            snprintf(a->owned_paths[k], sizeof a->owned_paths[k], "%s", v->valuestring);
            *dst[k] = a->owned_paths[k];
        }
    int steps = (int)a->steps, warmup = (int)a->warmup;
    const char *d = ckpt_dir;
    if (take_int(args, "steps", a->set.steps, 0, MTP_MAX_STEPS, &steps, d) ||
        take_int(args, "warmup", a->set.warmup, 0, MTP_MAX_STEPS, &warmup, d) ||
        take_int(args, "seq_len", a->set.seq_len, 1, 1 << 20, &a->seq_len, d) ||
        take_int(args, "batch", a->set.batch, 1, 1 << 16, &a->batch, d) ||
        take_int(args, "grad_accum", a->set.grad_accum, 1, 256, &a->grad_accum, d) ||
        take_int(args, "eval_every", a->set.eval_every, 0, 1 << 30, &a->eval_every, d) ||
        take_int(args, "eval_batches", a->set.eval_batches, 1, 1 << 20, &a->eval_batches, d) ||
        take_int(args, "save_every", a->set.save_every, 0, 1 << 30, &a->save_every, d) ||
        take_int(args, "keep_last", a->set.keep_last, 0, 1 << 20, &a->keep_last, d) ||
        take_double(args, "lr", a->set.lr, 0.0, 10.0, &a->lr, d) ||
        take_double(args, "min_lr_ratio", a->set.min_lr_ratio, 0.0, 1.0, &a->min_lr_ratio, d) ||
        take_double(args, "weight_decay", a->set.weight_decay, 0.0, 10.0, &a->weight_decay, d) ||
        take_double(args, "grad_clip", a->set.grad_clip, 0.0, 1e9, &a->grad_clip, d))
        return -1;
    a->steps = steps;
    a->warmup = warmup;
    if (!a->set.seed && cJSON_IsString(v = get(args, "seed"))) a->seed = strtoull(v->valuestring, NULL, 10);
    if (!a->set.schedule && cJSON_IsString(v = get(args, "schedule")))
        a->schedule = !strcmp(v->valuestring, "naive") ? SCHEDULE_NAIVE : SCHEDULE_SEQUENTIAL;
    a->vocab_size = c->vocab_size;
    if (a->seq_len > c->max_seq_len)
        return mtp_errorf("--seq-len %d exceeds the checkpoint's max context %d (%s)", a->seq_len,
                          c->max_seq_len, ckpt_dir);
    return 0;
}

int train_state_position(const cJSON *state, const char *ckpt_dir, long *step, uint64_t *epoch,
                         uint64_t *index) {
    const cJSON *s = get(state, "step"), *e = get(state, "epoch"), *i = get(state, "index");
    const double exact = 9007199254740992.0;  // 2^53: beyond it doubles skip integers
    if (!json_number_in(s, 0, MTP_MAX_STEPS, 1) || !json_number_in(e, 0, exact, 1) ||
        !json_number_in(i, 0, exact, 1))
        return mtp_errorf(
            "%s/trainer_state.json: step, epoch and index must be non-negative integers (step <= %d)",
            ckpt_dir, MTP_MAX_STEPS);
    *step = (long)s->valuedouble;
    *epoch = (uint64_t)e->valuedouble;
    *index = (uint64_t)i->valuedouble;
    return 0;
}
