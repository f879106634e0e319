// trainer.c: see trainer.h.
#define _DEFAULT_SOURCE  // realpath, with POSIX 2008
#include "train/trainer.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/meminfo.h"
#include "core/timer.h"
#include "data/tokenizer.h"
#include "ops/ops.h"
#include "store/checkpoint.h"
#include "store/loader.h"

static void note(const trainer *t, const char *fmt, ...) {
    if (!t->obs.on_note) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    t->obs.on_note(t->obs.user, msg);
}

long train_warmup(const train_options *o) {
    if (o->warmup >= 0) return o->warmup;
    return o->steps / 20 < 1000 ? o->steps / 20 : 1000;
}

// path made absolute (malloc'd; a copy of path where that fails): a run resumed
// from another directory finds its data and its log where they were
static char *absolute_path(const char *path) {
    char *abs = realpath(path, NULL);
    if (abs || path[0] == '/') return abs ? abs : strdup(path);
    char cwd[4096];
    size_t need = strlen(path) + sizeof cwd + 2;
    if (!getcwd(cwd, sizeof cwd) || !(abs = malloc(need))) return strdup(path);
    snprintf(abs, need, "%s/%s", cwd, path);
    return abs;
}

cJSON *train_options_to_json(const train_options *o) {
    cJSON *j = cJSON_CreateObject();
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    char *data = o->data ? absolute_path(o->data) : NULL, *log = o->log ? absolute_path(o->log) : NULL;
    cJSON_AddStringToObject(j, "data", data ? data : o->data ? o->data : "");
    char *out = o->out ? absolute_path(o->out) : NULL;  // where a lone copy of a checkpoint resumes
    cJSON_AddStringToObject(j, "out", out ? out : o->out ? o->out : "");
    free(out);
    if (o->log) cJSON_AddStringToObject(j, "log", log ? log : o->log);
    free(data);
    free(log);
    cJSON_AddNumberToObject(j, "seq_len", o->seq_len);
    cJSON_AddNumberToObject(j, "batch", o->batch);
    cJSON_AddNumberToObject(j, "grad_accum", o->grad_accum);
    cJSON_AddNumberToObject(j, "steps", (double)o->steps);
    // the default warmup as worked out from --steps, fixed for the run; not from --steps 0 (a
    // run that only initialized its weights), which would fix it at 0 for the run's real steps
    if (o->warmup >= 0 || o->steps > 0) cJSON_AddNumberToObject(j, "warmup", (double)train_warmup(o));
    cJSON_AddNumberToObject(j, "lr", o->lr);
    cJSON_AddNumberToObject(j, "min_lr_ratio", o->min_lr_ratio);
    cJSON_AddNumberToObject(j, "weight_decay", o->weight_decay);
    cJSON_AddNumberToObject(j, "grad_clip", o->grad_clip);
    cJSON_AddStringToObject(j, "seed", seed);
    cJSON_AddStringToObject(j, "schedule", o->schedule == SCHEDULE_NAIVE ? "naive" : "sequential");
    cJSON_AddNumberToObject(j, "eval_every", o->eval_every);
    cJSON_AddNumberToObject(j, "eval_batches", o->eval_batches);
    cJSON_AddNumberToObject(j, "save_every", o->save_every);
    cJSON_AddNumberToObject(j, "keep_last", o->keep_last);
    if (o->freeze_trunk) cJSON_AddTrueToObject(j, "freeze_trunk");
    if (o->train_unembedding) cJSON_AddTrueToObject(j, "train_unembedding");
    if (o->init_from)
        cJSON_AddStringToObject(j, "initialized_from", o->init_from);  // not a flag: resume keeps the weights
    return j;
}

static char *trainer_state_json(const trainer *t) {
    cJSON *j = cJSON_CreateObject();
    uint64_t epoch, index;
    loader_get_position(&t->train, &epoch, &index);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)t->o.seed);
    cJSON_AddNumberToObject(j, "step", (double)t->step);
    cJSON_AddNumberToObject(j, "epoch", (double)epoch);
    cJSON_AddNumberToObject(j, "index", (double)index);
    cJSON_AddStringToObject(j, "data_seed", seed);
    cJSON_AddNumberToObject(j, "tokens_seen", t->tokens_seen);
    cJSON_AddNumberToObject(j, "processes", dist_size());  // a step took processes x grad_accum micro-batches
    cJSON_AddItemToObject(j, "args", train_options_to_json(&t->o));
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}

static int json_number_in(const cJSON *v, double lo, double hi) {
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= lo && v->valuedouble <= hi &&
           v->valuedouble == floor(v->valuedouble);
}

// step, data position and tokens seen from a checkpoint's trainer_state.json.
static int read_position(trainer *t, const char *ckpt) {
    cJSON *state = checkpoint_read_trainer_state(ckpt);
    if (!state) return -1;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(state, "step"),
                *e = cJSON_GetObjectItemCaseSensitive(state, "epoch"),
                *i = cJSON_GetObjectItemCaseSensitive(state, "index"),
                *seen = cJSON_GetObjectItemCaseSensitive(state, "tokens_seen");
    const double exact = 9007199254740992.0;  // 2^53: beyond it doubles skip integers
    int rc = 0;
    if (!json_number_in(s, 0, MTP_MAX_STEPS) || !json_number_in(e, 0, exact) ||
        !json_number_in(i, 0, exact)) {
        rc = mtp_errorf(
            "%s/trainer_state.json: step, epoch and index must be non-negative integers (step <= %d)", ckpt,
            MTP_MAX_STEPS);
    } else {
        t->step = (long)s->valuedouble;
        loader_set_order(&t->train, t->o.seed, (uint64_t)e->valuedouble, (uint64_t)i->valuedouble);
        t->tokens_seen = cJSON_IsNumber(seen) && seen->valuedouble >= 0 ? seen->valuedouble : 0;
        const cJSON *procs = cJSON_GetObjectItemCaseSensitive(state, "processes"),
                    *args = cJSON_GetObjectItemCaseSensitive(state, "args"),
                    *accum = cJSON_GetObjectItemCaseSensitive(args, "grad_accum");
        int before = (json_number_in(procs, 1, 1 << 20) ? (int)procs->valuedouble : 1) *
                     (json_number_in(accum, 1, 1 << 20) ? (int)accum->valuedouble : 1);
        const cJSON *seed = cJSON_GetObjectItemCaseSensitive(state, "data_seed"),
                    *seq = cJSON_GetObjectItemCaseSensitive(args, "seq_len"),
                    *data = cJSON_GetObjectItemCaseSensitive(args, "data");
        char now[32];
        snprintf(now, sizeof now, "%llu", (unsigned long long)t->o.seed);
        if (cJSON_IsString(seed) && strcmp(seed->valuestring, now))
            note(t,
                 "note: --seed %s differs from the run's %s: the rest of this epoch follows the new seed's "
                 "order from the same position, so some windows repeat and others are skipped",
                 now, seed->valuestring);
        if (json_number_in(seq, 1, 1 << 30) && (int)seq->valuedouble != t->o.seq_len)
            note(t,
                 "note: --seq-len %d differs from the run's %d: the data is cut into other windows, and the "
                 "position in this epoch is kept as a window count",
                 t->o.seq_len, (int)seq->valuedouble);
        if (cJSON_IsString(data) && data->valuestring[0] && !fs_same_file(data->valuestring, t->o.data))
            note(t,
                 "note: --data %s is not the run's %s: the position in this epoch is kept as a window count",
                 t->o.data, data->valuestring);
        if (before != dist_size() * t->o.grad_accum)
            note(t,
                 "note: a step now takes %d micro-batches (%d process%s x --grad-accum %d); the checkpoint's "
                 "took %d",
                 dist_size() * t->o.grad_accum, dist_size(), dist_size() > 1 ? "es" : "", t->o.grad_accum,
                 before);
    }
    cJSON_Delete(state);
    return rc;
}

// A run directory holds one trajectory: a fresh run may not mix its
// checkpoints with another's, and a resumed run may not write behind newer
// checkpoints (they would shadow its own and be pruned in its place).
// Leftovers of an interrupted save (.tmp-*, .old-*) are removed.
static int check_run_dir(const char *out, long resumed_step, const char *resumed_ckpt) {
    fs_list list;
    if (fs_list_dir(out, "step_", "", &list) != 0) return -1;
    long newest = -1;
    for (int i = 0; i < list.count; i++) {  // checkpoints only (an empty step_* folder or a file is none)
        long s = fs_step_of_name(list.names[i]);
        char dir[4200];
        if (s > newest && fs_join(dir, sizeof dir, out, list.names[i]) == 0 && fs_is_checkpoint_dir(dir))
            newest = s;
    }
    fs_list_free(&list);
    // a resumed run writes into its own run directory, or into a new one: another run's
    // checkpoints would be mixed with its own and pruned in their place
    char ckpt_run[4200];  // the resumed checkpoint's run directory
    snprintf(ckpt_run, sizeof ckpt_run, "%s/..", resumed_ckpt);
    if (resumed_step >= 0 && newest >= 0 && !fs_same_file(out, ckpt_run))
        return mtp_errorf(
            "--out '%s' holds another run's checkpoints (newest step %ld), and %s is not one of them: "
            "choose a new --out, or leave --out out to continue the checkpoint's own run",
            out, newest, resumed_ckpt);
    if (resumed_step < 0 && newest >= 0)
        return mtp_errorf(
            "--out '%s' already holds checkpoints (newest step %ld): continue it with --resume %s, or choose "
            "a "
            "new --out",
            out, newest, out);
    if (resumed_step >= 0 && newest > resumed_step)
        return mtp_errorf(
            "--out '%s' holds a newer checkpoint (step %ld) than the one resumed (step %ld): choose a new "
            "--out, "
            "or resume the newest",
            out, newest, resumed_step);
    // stale partial saves: hidden entries, so fs_list_dir needs no prefix filter
    DIR *d = opendir(out);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, ".tmp-step_", 10) || !strncmp(e->d_name, ".old-step_", 10)) {
            char path[4200];
            if (fs_join(path, sizeof path, out, e->d_name) == 0) fs_remove_tree(path);
        }
    closedir(d);
    return 0;
}

// One run at a time in a run directory: a second `mtp train` on it would
// remove the first's save in progress (check_run_dir) and interleave their
// checkpoints. A lock on OUT/.lock, held until trainer_close (the system
// drops it when the process ends, however it ends).
static int lock_run_dir(trainer *t) {
    char path[4200];
    if (fs_join(path, sizeof path, t->o.out, ".lock") != 0) return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return mtp_errorf("--out '%s': cannot create %s: %s", t->o.out, path, strerror(errno));
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_SETLK, &l) != 0) {
        int busy = errno == EACCES || errno == EAGAIN;
        struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        long pid = busy && fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK ? (long)who.l_pid : 0;
        close(fd);
        if (!busy) return mtp_errorf("--out '%s': cannot lock %s: %s", t->o.out, path, strerror(errno));
        if (pid > 0)
            return mtp_errorf(
                "--out '%s' is in use by another mtp train (process %ld): wait for it, or choose "
                "another --out",
                t->o.out, pid);
        return mtp_errorf("--out '%s' is in use by another mtp train: wait for it, or choose another --out",
                          t->o.out);
    }
    t->lock_fd = fd;
    return 0;
}

// The data's tokenizer.json (its text travels into every checkpoint) and,
// for a new run without a vocabulary size, the vocabulary it gives.
static int read_data_tokenizer(trainer *t, mtp_config *cfg, int resuming) {
    char path[4096];
    if (fs_join(path, sizeof path, t->o.data, "tokenizer.json") == 0 && fs_is_file(path)) {
        tokenizer *tok = tokenizer_load(path);
        if (!tok) return -1;
        if (!cfg->vocab_size && !resuming) cfg->vocab_size = tokenizer_vocab_size(tok);
        tokenizer_free(tok);
        return (t->tokenizer_json = fs_read_all(path, 64u << 20, NULL)) ? 0 : -1;
    }
    if (cfg->vocab_size || resuming) return 0;
    if (!fs_is_dir(t->o.data))
        return mtp_errorf("--data '%s' %s: give the directory mtp prepare made", t->o.data,
                          fs_is_file(t->o.data) ? "is a file, not a directory" : "does not exist");
    return mtp_errorf("--data '%s' has no tokenizer.json: pass --vocab-size V for llm.c shards", t->o.data);
}

// A run that continues or starts from a checkpoint (src_dir, given by `flag`)
// keeps its tokenizer: data prepared with another tokenizer.json is refused;
// data without one (llm.c shards) trains on, and the checkpoints carry the
// source's tokenizer.json.
static int match_source_tokenizer(trainer *t, const char *src_dir, const char *flag) {
    if (t->tokenizer_json)
        return checkpoint_tokenizer_matches(src_dir, t->o.data) ? mtp_error_context("--data (with %s)", flag)
                                                                : 0;
    char path[4200];
    if (fs_join(path, sizeof path, src_dir, "tokenizer.json") != 0 || !fs_is_file(path)) return 0;
    return (t->tokenizer_json = fs_read_all(path, 64u << 20, NULL)) ? 0 : -1;
}

// model_dir: the checkpoint whose vocabulary the run keeps (--resume,
// --init-from), or NULL for a new model, whose --vocab-size may still change.
static int open_data(trainer *t, const mtp_config *cfg, const char *model_dir) {
    const train_options *o = &t->o;
    if (loader_open(&t->train, o->data, "train", o->seq_len, cfg->n_future,
                    model_dir ? 0 : cfg->vocab_size) != 0)
        return -1;
    // the loader's message suggests a larger --vocab-size, which a trained model cannot take
    if (model_dir && loader_vocab_needed(&t->train) > cfg->vocab_size)
        return mtp_errorf(
            "--data '%s': the train shards hold token id %u but the model's vocabulary has %d tokens (ids "
            "0..%d): train on data made with the model's tokenizer (mtp prepare --tokenizer %s ...)",
            o->data, (unsigned)t->train.max_token, cfg->vocab_size, cfg->vocab_size - 1, model_dir);
    fs_list vals = {0};
    t->have_val = fs_list_dir(o->data, "val_", ".bin", &vals) == 0 && vals.count > 0;
    fs_list_free(&vals);
    if (t->have_val &&
        loader_open(&t->val, o->data, "val", o->seq_len, cfg->n_future, cfg->vocab_size) != 0) {
        note(t, "validation disabled: %s", mtp_last_error());
        t->have_val = 0;
    } else if (!t->have_val && o->eval_every > 0) {
        note(t, "%s has no val_*.bin shards: evaluation disabled", o->data);
    }
    return 0;
}

// Parameters, gradients and two moments, plus the work buffers, must fit.
static int check_memory(const trainer *t, const mtp_config *cfg) {
    const train_options *o = &t->o;
    double need = 4.0 * (double)params_count(cfg) * sizeof(float) +
                  (double)model_work_bytes(cfg, o->batch, o->seq_len, o->schedule, 1);
    double total = (double)mtp_total_memory(), avail = (double)mtp_available_memory();
    if (total > 0 && need > total)
        return mtp_errorf(
            "this run needs %.1f GB of memory but the machine has %.1f GB: reduce --batch, --seq-len or the "
            "model size%s",
            need / 1e9, total / 1e9, o->schedule == SCHEDULE_NAIVE ? ", or use --schedule sequential" : "");
    if (avail > 0 && need > avail)
        note(t, "warning: this run needs %.1f GB of memory and %.1f GB is free now", need / 1e9, avail / 1e9);
    return 0;
}

// The tensors that train (params_named order): all, or with --freeze-trunk
// the heads past head 1 (and the final norm and lm_head with
// --train-unembedding). Returns the number of trainable tensors.
static int trainable_mask(const train_options *o, const mtp_config *c, unsigned char *mask) {
    int count = params_tensor_count(c), n = 0, head1 = config_trunk_layers(c);
    for (int i = 0; i < count; i++) {
        named_tensor t;
        params_named(NULL, c, i, &t);
        int train = 1;
        if (o->freeze_trunk) {
            if (t.kind == P_EMBED)
                train = 0;
            else if (t.kind == P_NORM || t.kind == P_LM_HEAD)
                train = o->train_unembedding;
            else if (t.kind == P_HEAD_PROJ)
                train = t.layer > 0;  // linear head k = layer + 1
            else
                train = t.layer > head1;
        }
        mask[i] = (unsigned char)train;
        n += train;
    }
    return n;
}

// The weights of a new run from checkpoint o->init_from (see trainer_open).
static int init_from_checkpoint(trainer *t, const mtp_config *cfg) {
    mtp_checkpoint src;
    if (checkpoint_open(&src, t->o.init_from, CHECKPOINT_WEIGHTS) != 0) return -1;
    const mtp_config *s = &src.cfg;
    int rc = 0;
    if (src.model.q8)
        rc = mtp_errorf("--init-from %s holds int8 weights: start from its float32 source", src.dir);
    else if (s->vocab_size != cfg->vocab_size || s->dim != cfg->dim || s->n_head != cfg->n_head ||
             s->n_kv_head != cfg->n_kv_head || s->ffn_dim != cfg->ffn_dim ||
             config_trunk_layers(s) != config_trunk_layers(cfg) || s->head_type != cfg->head_type ||
             (s->head_order != cfg->head_order && s->n_future > 1))
        rc = mtp_errorf("--init-from %s: its shape differs from the new model's (only --n-future may change)",
                        src.dir);
    int count = params_tensor_count(cfg), head1 = config_trunk_layers(cfg);
    for (int i = 0; i < count && rc == 0; i++) {
        named_tensor to, from;
        params_named(&t->model.params, cfg, i, &to);
        int j = i;  // the source tensor: the same, but for head blocks and the tensors after the blocks
        if (i == count - 2 || i == count - 1) {
            j = params_tensor_count(s) - (count - i);  // final norm, lm_head
        } else if (to.kind == P_HEAD_PROJ) {
            int k = to.layer + 1;  // linear head k: the source's head k, else its head 1
            j = 1 + 9 * s->n_layer + (k <= s->n_future ? k - 1 : 0);
        } else if (i > 0 && to.layer >= head1) {
            int k = to.layer - head1 + 1;  // head k of the new model: the source's head k, else its head 1
            j = 1 + 9 * (config_trunk_layers(s) + (k <= s->n_future ? k - 1 : 0)) + (i - 1) % 9;
        }
        params_named(&src.model.params, s, j, &from);
        memcpy(to.data, from.data,
               sizeof(float) * (size_t)to.shape[0] * (size_t)(to.ndim == 2 ? to.shape[1] : 1));
    }
    checkpoint_close(&src);
    return rc;
}

// The checkpoint's AdamW moments: all of them alone, this process's shard
// under data parallelism (read whole, then cut).
// On a device: read on the host, then uploaded.
static int load_moments_to_device(trainer *t, const mtp_config *cfg) {
    adamw_state *o = &t->opt;
    param_set pm = {0}, pv = {0};
    float *m = NULL, *v = NULL;
    int rc;
    if (o->moff) {  // packed: the trainable tensors' moments
        size_t n = o->packed ? o->packed : 1;
        m = mtp_malloc(sizeof(float) * n, "AdamW moments");
        v = mtp_malloc(sizeof(float) * n, "AdamW moments");
        rc = !m || !v ? -1 : checkpoint_load_moments_packed(t->ckpt, m, v, o->moff, cfg);
        if (rc == 0) {
            op_upload(o->ms, m, sizeof(float) * o->packed);
            op_upload(o->vs, v, sizeof(float) * o->packed);
        }
    } else {  // the whole arena read, its part lo..hi (all of it in one process) up
        rc = params_alloc(&pm, cfg) || params_alloc(&pv, cfg) ||
             checkpoint_load_moments(t->ckpt, &pm, &pv, cfg);
        if (rc == 0) {
            op_upload(o->ms, pm.memory + o->lo, sizeof(float) * (o->hi - o->lo));
            op_upload(o->vs, pv.memory + o->lo, sizeof(float) * (o->hi - o->lo));
        }
    }
    if (rc == 0) rc = op_sync();
    params_free(&pm);
    params_free(&pv);
    free(m);
    free(v);
    return rc ? -1 : 0;
}

static int load_moments(trainer *t, const mtp_config *cfg) {
    if (t->model.params.on_device) return load_moments_to_device(t, cfg);
    if (t->opt.moff) return checkpoint_load_moments_packed(t->ckpt, t->opt.ms, t->opt.vs, t->opt.moff, cfg);
    if (dist_size() == 1) return checkpoint_load_moments(t->ckpt, &t->opt.m, &t->opt.v, cfg);
    param_set m = {0}, v = {0};
    int rc = params_alloc(&m, cfg) || params_alloc(&v, cfg) || checkpoint_load_moments(t->ckpt, &m, &v, cfg);
    if (rc == 0) {
        memcpy(t->opt.ms, m.memory + t->opt.lo, (t->opt.hi - t->opt.lo) * sizeof(float));
        memcpy(t->opt.vs, v.memory + t->opt.lo, (t->opt.hi - t->opt.lo) * sizeof(float));
    }
    params_free(&m);
    params_free(&v);
    return rc ? -1 : 0;
}

// The options' ranges, as the command line checks them (a library caller's
// zero-filled or out-of-range options are refused, not trained on).
static int check_options(const train_options *o) {
    if (!o->data || !o->out)
        return mtp_errorf("give the data directory (--data) and the run directory (--out)");
    if (o->seq_len < 1 || o->batch < 1 || o->grad_accum < 1 || o->grad_accum > 256)
        return mtp_errorf(
            "--seq-len %d, --batch %d, --grad-accum %d: give at least 1 (--grad-accum at most 256)",
            o->seq_len, o->batch, o->grad_accum);
    if (o->steps < 0 || o->steps > MTP_MAX_STEPS || o->warmup > MTP_MAX_STEPS)
        return mtp_errorf("--steps %ld, --warmup %ld: expected 0 .. %d", o->steps, o->warmup, MTP_MAX_STEPS);
    if (!(o->lr >= 0 && o->lr <= 10) || !(o->min_lr_ratio >= 0 && o->min_lr_ratio <= 1) ||
        !(o->weight_decay >= 0 && o->weight_decay <= 10) || !(o->grad_clip >= 0 && o->grad_clip <= 1e9))
        return mtp_errorf(
            "--lr %g, --min-lr-ratio %g, --weight-decay %g, --grad-clip %g: expected [0, 10], [0, 1], [0, "
            "10], "
            "[0, 1e9]",
            o->lr, o->min_lr_ratio, o->weight_decay, o->grad_clip);
    if (o->eval_every < 0 || o->eval_batches < 1 || o->save_every < 0 || o->keep_last < 0)
        return mtp_errorf(
            "--eval-every %d, --eval-batches %d, --save-every %d, --keep-last %d: expected >= 0 "
            "(--eval-batches >= 1)",
            o->eval_every, o->eval_batches, o->save_every, o->keep_last);
    return 0;
}

int trainer_open(trainer *t, const train_options *o, const mtp_config *new_cfg, const char *resume,
                 const train_observer *obs) {
    memset(t, 0, sizeof *t);
    t->log.fd = -1;
    if (check_options(o) != 0) return -1;
    t->o = *o;
    if (obs) t->obs = *obs;
    mtp_config cfg = *new_cfg;
    mtp_checkpoint ck = {0};
    int fine_tune = 0;  // resume holds weights only (an imported model): a new run from them
    if (resume) {
        if (checkpoint_open(&ck, resume, 0) != 0) return -1;
        snprintf(t->ckpt, sizeof t->ckpt, "%s", ck.dir);
        cfg = ck.cfg;
        fine_tune = !checkpoint_has_trainer_state(ck.dir);
    }
    // the data and the memory first: they fail before a large model loads
    int rc = read_data_tokenizer(t, &cfg, resume != NULL);
    char source[4096];
    if (rc == 0 && resume) rc = match_source_tokenizer(t, t->ckpt, "--resume");
    if (rc == 0 && o->init_from)
        rc = checkpoint_resolve(o->init_from, source, sizeof source) ||
             match_source_tokenizer(t, source, "--init-from");
    // a new model's shape before anything is sized from it (the vocabulary may come from the data)
    if (rc == 0 && !resume && !o->init_from) rc = config_validate(&cfg);
    rc = rc || open_data(t, &cfg, resume ? t->ckpt : o->init_from ? source : NULL) || check_memory(t, &cfg);
    if (rc == 0 && resume && (rc = checkpoint_load_weights(&ck)) == 0 && ck.model.q8)
        rc = mtp_errorf(
            "%s holds int8 weights (mtp quantize), which cannot be trained: resume or fine-tune its "
            "float32 source",
            ck.dir);
    if (rc == 0 && resume) {
        t->model = ck.model;  // the trainer owns the loaded weights from here on
        memset(&ck.model, 0, sizeof ck.model);
    } else if (rc == 0 && !resume && (rc = model_create(&t->model, &cfg)) == 0) {
        params_init(&t->model.params, &cfg, o->seed);
        if (o->init_from) rc = init_from_checkpoint(t, &cfg);
    }
    checkpoint_close(&ck);
    int P = dist_size(), me = dist_rank();
    if (rc == 0) rc = model_to_device(&t->model);  // the weights move once they are whole
    if (rc || model_work_alloc(&t->work, &t->model, o->batch, o->seq_len, o->schedule, 1) != 0) return -1;
    size_t total = t->model.params.total;
    if (o->freeze_trunk) {  // frozen tensors: no gradients, no optimizer state
        if (P > 1) return mtp_errorf("--freeze-trunk trains in one process (not under mpirun)");
        if (config_heads_chained(&cfg) && cfg.head_order == MTP_HEAD_ANTICAUSAL)
            return mtp_errorf(
                "--freeze-trunk with anticausal heads: head 1 reads the heads that would learn, so the "
                "frozen model's outputs would change; use parallel or causal heads");
        unsigned char *mask = mtp_malloc((size_t)params_tensor_count(&cfg), "trainable tensors");
        int n = mask ? trainable_mask(o, &cfg, mask) : -1;
        rc = n < 0    ? -1
             : n == 0 ? mtp_errorf(
                            "--freeze-trunk leaves nothing to train: give --n-future 2 or more (new heads), "
                            "or --train-unembedding")
                      : adamw_alloc_trainable(&t->opt, &cfg, mask, total);
        free(mask);
        if (rc) return -1;
        t->work.freeze_trunk = 1;
        t->work.freeze_output = !o->train_unembedding;
    } else if (P == 1 ? adamw_alloc(&t->opt, &cfg) != 0
                      : adamw_alloc_shard(&t->opt, &cfg, dist_shard_lo(total, me),
                                          dist_shard_lo(total, me + 1)) != 0) {
        return -1;
    }
    if (P > 1) {  // one device for all: the reducer's collectives differ by device and would pair wrongly
        uint64_t dev = (uint64_t)op_current_device();
        int rank = 0, diff = dist_first_difference(&dev, 1, &rank);
        if (diff == -2) return -1;
        if (diff >= 0)
            return mtp_errorf(
                "process %d of %d runs on another device than process 0 (%s): give every "
                "process the same --device",
                rank, P, op_device_name(op_current_device()));
        if (!(t->reducer = dist_reducer_new(&t->work))) return -1;
    }
    optim_config_defaults(&t->optim);
    t->optim.lr = o->lr;
    t->optim.min_lr_ratio = o->min_lr_ratio;
    t->optim.warmup = train_warmup(o);
    t->optim.total_steps = o->steps;
    t->optim.weight_decay = o->weight_decay;
    t->optim.grad_clip = o->grad_clip;
    if (resume && !fine_tune) {
        if (load_moments(t, &cfg) != 0 || read_position(t, t->ckpt) != 0) return -1;
    } else {
        loader_set_order(&t->train, o->seed, 0, 0);
    }
    t->first_step = t->step;
    if (t->step > o->steps)
        return mtp_errorf("--steps %ld is below the checkpoint's step %ld: --steps counts total steps",
                          o->steps, t->step);
    if (fine_tune) t->ckpt[0] = '\0';  // nothing of a run to continue: a new run's first save is due
    if (me != 0) return 0;             // process 0 writes the run directory and the log
    // fail now, not after an hour of training, if the run directory is unwritable
    char probe[4096];
    if (fs_mkdir_p(o->out) != 0 || fs_join(probe, sizeof probe, o->out, ".write-test") != 0 ||
        fs_write_all(probe, "", 0) != 0)
        return mtp_error_context("--out '%s' is not writable", o->out);
    remove(probe);
    if (lock_run_dir(t) != 0) return -1;
    if (check_run_dir(o->out, resume && !fine_tune ? t->step : -1, t->ckpt) != 0) return -1;
    long cut = 0;
    if (o->log && run_log_open(&t->log, o->log, resume && !fine_tune, &cut) != 0)
        return mtp_errorf("--log '%s': cannot open for writing: %s%s", o->log, strerror(errno),
                          resume && !fine_tune ? " (a resumed run appends to its log: give --log FILE for "
                                                 "another, or --log '' for none)"
                                               : "");
    if (cut)
        note(t, "--log '%s' ended in %ld bytes of an unfinished line (a write cut short): removed", o->log,
             cut);
    return 0;
}

void trainer_close(trainer *t) {
    if (t->log.fd > 0) run_log_close(&t->log);  // (a trainer never opened is all zeros: not stdin)
    if (t->lock_fd > 0) close(t->lock_fd);
    dist_reducer_free(t->reducer);
    loader_close(&t->train);
    if (t->have_val) loader_close(&t->val);
    adamw_free(&t->opt);
    model_work_free(&t->work);
    model_free(&t->model);
    free(t->tokenizer_json);
    memset(t, 0, sizeof *t);
}

// Process 0 writes the checkpoint; under data parallelism the moments'
// shards are gathered to it first (every process takes part).
static int save(trainer *t) {
    double t0 = mtp_now();
    int P = dist_size(), rc = 0, dev = t->model.params.on_device;
    const mtp_config *cfg = &t->model.cfg;
    const adamw_state *o = &t->opt;
    param_set m = {0}, v = {0}, hp = {0};  // whole moments and weights gathered or copied on the host
    mtp_model host = t->model;             // the model as checkpoint_save reads it: host memory
    float *hm = NULL, *hv = NULL;          // on a device: this process's moments, on the host
    if (dev) {
        size_t n = o->moff ? o->packed : o->hi - o->lo;
        hm = mtp_malloc(sizeof(float) * (n ? n : 1), "AdamW moments");
        hv = mtp_malloc(sizeof(float) * (n ? n : 1), "AdamW moments");
        if (!hm || !hv || model_params_to_host(&t->model, &hp) != 0) rc = -1;
        if (rc == 0) {
            op_download(hm, o->ms, sizeof(float) * n);
            op_download(hv, o->vs, sizeof(float) * n);
            host.params = hp;
        }
    }
    const float *ms = hm ? hm : o->ms, *vs = hv ? hv : o->vs;
    int whole = !o->moff && (P > 1 || dev);  // moments to assemble into m, v
    if (whole && dist_rank() == 0 && (params_alloc(&m, cfg) != 0 || params_alloc(&v, cfg) != 0)) rc = -1;
    if (P > 1) {
        if (dist_any(rc != 0)) {
            rc = rc ? -1 : mtp_errorf("process 0 could not gather the optimizer state");
            goto done;
        }
        dist_gather(ms, m.memory, t->model.params.total);
        dist_gather(vs, v.memory, t->model.params.total);
    } else if (whole && rc == 0) {
        memcpy(m.memory, ms, sizeof(float) * m.total);
        memcpy(v.memory, vs, sizeof(float) * v.total);
    }
    if (rc == 0 && dist_rank() == 0) {
        char *state = trainer_state_json(t);
        checkpoint_moments mo = {whole ? &m : &t->opt.m, whole ? &v : &t->opt.v, (float *)ms, (float *)vs,
                                 o->moff};
        checkpoint_file tok = {"tokenizer.json", t->tokenizer_json,
                               t->tokenizer_json ? strlen(t->tokenizer_json) : 0};
        rc = state ? checkpoint_save(t->o.out, t->step, &host, &mo, state, &tok)
                   : mtp_errorf("out of memory writing trainer_state.json");
        free(state);
        if (rc == 0) rc = checkpoint_prune(t->o.out, t->o.keep_last);
    }
    if (P > 1 && dist_any(rc != 0) && rc == 0) rc = mtp_errorf("process 0 could not save the checkpoint");
done:
    params_free(&hp);
    free(hm);
    free(hv);
    params_free(&m);
    params_free(&v);
    if (rc == 0 && t->obs.on_save) t->obs.on_save(t->obs.user, t, mtp_now() - t0);
    return rc;
}

// Writes one line of the log (a full disk, a closed device: the run stops,
// saving where it is, rather than go on with its log cut short). 1 if the
// line could not be written.
static int log_line(trainer *t, const char *line, int len) {
    if (len > 0 && run_log_write(&t->log, line, (size_t)len) == 0) return 0;
    mtp_errorf("--log '%s': cannot write: %s (the run stopped; resume it once the log can be written)",
               t->o.log, len > 0 ? strerror(errno) : "line too long");
    return 1;
}

// Appends a head-loss list "h1, h2, ..." to line[*len..cap).
static void add_heads(char *line, int *len, int cap, const double *h, int n) {
    for (int k = 0; k < n && *len >= 0 && *len < cap; k++) {
        int w = snprintf(line + *len, (size_t)(cap - *len), "%s%.6f", k ? ", " : "", h[k]);
        *len = w < 0 ? -1 : *len + w;
    }
}

// Appends fmt's text to line[*len..cap); *len -1 (or >= cap) once it no longer fits.
static void add_text(char *line, int *len, int cap, const char *fmt, ...) {
    if (*len < 0 || *len >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(line + *len, (size_t)(cap - *len), fmt, ap);
    va_end(ap);
    *len = w < 0 ? -1 : *len + w;
}

enum { LOG_LINE = 256 + 16 * MTP_MAX_FUTURE };

static int evaluate(trainer *t) {
    if (!t->have_val || dist_rank() != 0) return 0;  // process 0 alone reports validation
    int n = t->model.cfg.n_future, B = t->o.batch;
    val_result r;
    if (val_loss(&t->work, &t->val, val_windows(&t->val, t->o.eval_batches, B), B, t->o.seq_len, NULL, &r) !=
        0)
        return -1;
    if (t->obs.on_eval) t->obs.on_eval(t->obs.user, t, &r);
    if (t->log.fd >= 0) {
        char line[LOG_LINE];
        int len = 0;
        add_text(line, &len, LOG_LINE,
                 "{\"step\": %ld, \"split\": \"val\", \"loss\": %.6f, \"head_losses\": [", t->step, r.total);
        add_heads(line, &len, LOG_LINE, r.loss, n);
        add_text(line, &len, LOG_LINE, "]}\n");
        return log_line(t, line, len < LOG_LINE ? len : -1);
    }
    return 0;
}

// The log failed, the step did not: keep the step; the message stays the log's.
static void save_keeping_error(trainer *t) {
    char why[1024];
    snprintf(why, sizeof why, "%s", mtp_last_error());
    if (save(t) == 0)
        mtp_errorf("%s", why);
    else
        mtp_error_context("%s; and then", why);
}

int trainer_run(trainer *t) {
    const train_options *o = &t->o;
    int n = t->model.cfg.n_future, B = o->batch, T = o->seq_len, K = o->grad_accum, P = dist_size();
    // a step's P x K micro-batches, in the order one process would take them;
    // this process computes micro-batches rank*K .. rank*K + K-1
    int32_t *rows = mtp_malloc(sizeof(int32_t) * (size_t)P * K * B * (T + n), "training rows");
    const int32_t **micro = mtp_malloc(sizeof *micro * (size_t)K, "micro-batch list");
    if (!rows || !micro) {
        free(rows);
        free(micro);
        return -1;
    }
    for (int k = 0; k < K; k++) micro[k] = rows + ((size_t)dist_rank() * K + k) * B * (T + n);
    if (trainer_check_agreement(t) != 0) {  // processes started apart would wait or train apart
        free(rows);
        free(micro);
        return -1;
    }
    if (t->obs.on_start) t->obs.on_start(t->obs.user, t);
    int rc = 0, saved_now = 0, stopping = 0, log_failed = 0;
    while (t->step < o->steps && !(stopping = dist_any(t->stop && *t->stop))) {
        for (int k = 0; k < P * K; k++) loader_next_batch(&t->train, B, rows + (size_t)k * B * (T + n));
        double t0 = mtp_now();
        step_result r;
        if ((rc = train_step(&t->model, &t->work, &t->opt, &t->optim, t->step, micro, K, B, T, t->reducer,
                             &r)) != 0)
            break;
        double dt = mtp_now() - t0;
        t->step++;
        t->tokens_seen += (double)B * T * K * P;
        saved_now = 0;
        if (t->step > t->first_step + 1 || o->steps - t->first_step == 1) {  // the first step warms caches
            t->timed_seconds += dt;
            t->comm_seconds += r.comm_seconds;
            t->timed_steps++;
        }
        double avg = t->timed_steps ? t->timed_seconds / t->timed_steps : dt;
        if (t->obs.on_step) t->obs.on_step(t->obs.user, t, &r, dt, avg * (double)(o->steps - t->step));
        if (t->log.fd >= 0) {
            char line[LOG_LINE];
            int len = 0;
            add_text(line, &len, LOG_LINE, "{\"step\": %ld, \"loss\": %.6f, \"head_losses\": [", t->step,
                     r.loss);
            add_heads(line, &len, LOG_LINE, r.head_losses, n);
            add_text(line, &len, LOG_LINE,
                     "], \"lr\": %.6e, \"grad_norm\": %.6f, \"tokens_per_sec\": %.1f, \"ms\": %.3f}\n", r.lr,
                     r.grad_norm, (double)B * T * K * P / dt, dt * 1e3);
            rc = log_line(t, line, len < LOG_LINE ? len : -1);  // 1: the log could not be written
        }
        // evaluate: 1 when its log line could not be written, as above; -1 when validation failed
        if (rc == 0 && o->eval_every > 0 && t->step % o->eval_every == 0) {
            int e = evaluate(t);
            rc = e == 1 ? 1 : e != 0 ? 2 : 0;
        }
        // process 0 alone writes the log and validates: every process stops with it (a save is
        // collective: process 0 saving alone waited forever for the others' optimizer shards)
        double failed[2] = {rc == 1, rc == 2};
        if (P > 1 && dist_sum(failed, 2) != 0) {
            rc = -1;
            break;
        }
        if (failed[0] > 0 || failed[1] > 0) {
            log_failed = failed[0] > 0;
            if (rc == 0)
                mtp_errorf("process 0 stopped the run: %s",
                           log_failed ? "its --log could not be written" : "its validation failed");
            rc = -1;
            break;
        }
        if (o->save_every > 0 && t->step % o->save_every == 0) {
            if ((rc = save(t)) != 0) break;
            saved_now = 1;
        }
    }
    free(rows);
    free(micro);
    if (rc != 0 && log_failed && !saved_now && t->step > t->first_step) save_keeping_error(t);
    if (rc != 0) return rc;
    if (stopping) {
        note(t, "interrupted: saving step %ld so the run can be resumed", t->step);
    } else if (o->eval_every > 0 && t->step % o->eval_every != 0) {
        // process 0 alone evaluates; every process learns how it went (none may wait in a save)
        int e = evaluate(t);
        double failed[2] = {e == 1, e != 0 && e != 1};
        if (P > 1 && dist_sum(failed, 2) != 0) return -1;
        if (failed[0] > 0 || failed[1] > 0) {
            if (e == 0)
                mtp_errorf("process 0 stopped the run: %s",
                           failed[0] > 0 ? "its --log could not be written" : "its validation failed");
            // the last evaluation's log line failed, the steps did not: keep them
            if (failed[0] > 0 && !saved_now && t->step > t->first_step) save_keeping_error(t);
            return -1;
        }
    }
    // a resumed run that made no step has nothing new to save (and must not
    // rewrite the checkpoint it was loaded from)
    int resumed_idle = t->ckpt[0] && t->step == t->first_step;
    if (!saved_now && !resumed_idle && (rc = save(t)) != 0) return rc;
    if (resumed_idle)
        note(t, "nothing to do: the checkpoint is at step %ld of --steps %ld", t->step, o->steps);
    return 0;
}
