// cmd_train.c: `mtp train`, from scratch or --resume (train/trainer.h),
// with a progress line per step, evaluations and saves on stderr.
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "libmtp.h"
#include "train/trainer.h"

typedef struct {
    const char *data, *out, *resume, *log, *init_from;
    int freeze_trunk, train_unembedding;
    shape_flags shape;
    model_flags m;
    int grad_accum, eval_every, eval_batches, save_every, keep_last;
    long steps, warmup;
    double lr, min_lr_ratio, weight_decay, grad_clip;
    uint64_t seed;
} train_args;

#define OFF(field) offsetof(train_args, field)

static const flag RUN_FLAGS[] = {
    {"--data", FLAG_STRING, OFF(data), "DIR", "token shards (train_*.bin, val_*.bin) and tokenizer.json"},
    {"--out", FLAG_STRING, OFF(out), "DIR",
     "run directory for checkpoints (created if missing); on --resume,\n"
     "the resumed run directory"},
    {"--resume", FLAG_STRING, OFF(resume), "PATH",
     "continue a run (a run directory = its latest checkpoint);\n"
     "flags not given are taken from the checkpoint. A checkpoint\n"
     "without a run (mtp convert's) starts a new run in --out from its\n"
     "weights: fine-tuning, from step 0 with fresh optimizer state"},
    {"--log", FLAG_STRING, OFF(log), "FILE",
     "JSON lines: one per step and one per eval ('': none; --resume appends to the run's unless given)"},
    {0},
};

static const flag FINETUNE_FLAGS[] = {
    {"--init-from", FLAG_STRING, OFF(init_from), "PATH",
     "a new run starting from this checkpoint's weights; --n-future may\n"
     "differ: n -> 1 keeps head 1 (next-token fine-tuning), 1 -> n adds\n"
     "heads (copies of head 1 to start), the same n continues on new data.\n"
     "--n-future defaults to the checkpoint's, --seq-len to at most its\n"
     "context"},
    {"--freeze-trunk", FLAG_BOOL, OFF(freeze_trunk), NULL,
     "train only the heads past head 1: the embedding, trunk, head 1 and\n"
     "(unless --train-unembedding) the final norm and lm_head stay as they\n"
     "are, with no optimizer state and no gradients computed (their buffers\n"
     "are still allocated), so the model's own next-token predictions do not\n"
     "change. One process (not under mpirun); parallel or causal heads"},
    {"--train-unembedding", FLAG_BOOL, OFF(train_unembedding), NULL,
     "with --freeze-trunk: the final norm and lm_head train too"},
    {0},
};

static const flag OPTIM_FLAGS[] = {
    {"--grad-accum", FLAG_INT, OFF(grad_accum), "K", "micro-batches per step", 1, 256},
    {"--steps", FLAG_LONG, OFF(steps), "S", "total optimizer steps, also on --resume", 0, MTP_MAX_STEPS},
    {"--lr", FLAG_DOUBLE, OFF(lr), "LR", "peak learning rate", 0, 10},
    {"--warmup", FLAG_LONG, OFF(warmup), "W", "linear warmup steps", 0, MTP_MAX_STEPS,
     .unset = "S/20, at most 1000"},
    {"--min-lr-ratio", FLAG_DOUBLE, OFF(min_lr_ratio), "R", "cosine decays to LR*R", 0, 1},
    {"--weight-decay", FLAG_DOUBLE, OFF(weight_decay), "WD", "AdamW decoupled decay on matrices", 0, 10},
    {"--grad-clip", FLAG_DOUBLE, OFF(grad_clip), "C", "global gradient-norm clip, 0 = off", 0, 1e9},
    {"--seed", FLAG_U64, OFF(seed), "N", "initialization and data order"},
    {0},
};

static const flag EVAL_FLAGS[] = {
    {"--eval-every", FLAG_INT, OFF(eval_every), "N", "validation every N steps, 0 = off", 0, 1 << 30},
    {"--eval-batches", FLAG_INT, OFF(eval_batches), "N", "validation batches per eval", 1, 1 << 20},
    {"--save-every", FLAG_INT, OFF(save_every), "N", "checkpoint every N steps, 0 = only the final", 0,
     1 << 30},
    {"--keep-last", FLAG_INT, OFF(keep_last), "N", "keep the newest N checkpoints, 0 = all", 0, 1 << 20},
    {0},
};

// ---- progress on stderr --------------------------------------------------------

static volatile sig_atomic_t stop_requested = 0, stop_signal = 0;
static void on_stop_signal(int sig) {
    // first Ctrl-C (or a SIGTERM: kill, timeout, a batch system's stop): finish the step,
    // save, exit; a second one stops at once
    stop_requested = 1;
    stop_signal = sig;
    signal(sig, SIG_DFL);
}

static void format_duration(double s, char *buf, size_t cap) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60)
        snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, cap, "%lds", t);
}

static void print_heads(const double *h, int n) {
    for (int k = 0; k < n; k++) fprintf(stderr, "%s%.4f", k ? " " : "", h[k]);
}

static void on_start(void *user, const trainer *t) {
    (void)user;
    const mtp_config *c = &t->model.cfg;
    const train_options *o = &t->o;
    if (t->ckpt[0]) fprintf(stderr, "resuming from %s at step %ld\n", t->ckpt, t->step);
    fprintf(stderr,
            "model: %zu parameters (L=%d: %d trunk + %d %s %s heads, d=%d, H=%d, Hkv=%d, f=%d, V=%d, T=%d)\n",
            params_count(c), c->n_layer, config_trunk_layers(c), c->n_future,
            config_head_order_name(c->head_order), config_head_type_name(c->head_type), c->dim, c->n_head,
            c->n_kv_head, c->ffn_dim, c->vocab_size, o->seq_len);
    double param_mb = (double)t->model.params.total * sizeof(float) / (1 << 20);
    size_t moments = t->opt.moff ? t->opt.packed : t->opt.hi - t->opt.lo;  // this process's, trainable
    fprintf(stderr,
            "memory: parameters %.1f MB, gradients %.1f MB, AdamW moments %.1f MB, activations %.1f MB\n",
            param_mb, param_mb, 2.0 * (double)moments * sizeof(float) / (1 << 20),
            (double)model_work_bytes(c, o->batch, o->seq_len, o->schedule, 1) / (1 << 20));
    const int threads = op_get_threads();
    if (t->step < o->steps)
        fprintf(stderr,
                "training steps %ld..%ld, batch %d x %d tokens x %d accum, %s schedule, %d thread%s\n",
                t->step + 1, o->steps, o->batch, o->seq_len, o->grad_accum,
                o->schedule == SCHEDULE_NAIVE ? "naive" : "sequential", threads, threads == 1 ? "" : "s");
    if (op_current_device() != OP_DEVICE_CPU) fprintf(stderr, "device: %s\n", op_device_info());
    if (dist_size() > 1)
        fprintf(stderr,
                "data parallel: %d processes (%d threads each), a step of %d x %d micro-batches; optimizer "
                "state sharded, %.1f MB of moments per process; gradients and weights cross through %s\n",
                dist_size(), op_get_threads(), dist_size(), o->grad_accum,
                2.0 * (double)(t->opt.hi - t->opt.lo) * sizeof(float) / (1 << 20),
                t->reducer ? dist_reducer_path(t->reducer) : "MPI");
}

static void on_step(void *user, const trainer *t, const step_result *r, double seconds, double eta_seconds) {
    (void)user;
    char eta[32];
    format_duration(eta_seconds, eta, sizeof eta);
    fprintf(stderr, "step %ld/%ld | loss %.4f | heads ", t->step, t->o.steps, r->loss);
    print_heads(r->head_losses, t->model.cfg.n_future);
    fprintf(stderr, " | lr %.2e | gnorm %.3f | %.0f tok/s | ETA %s\n", r->lr, r->grad_norm,
            (double)t->o.batch * t->o.seq_len * t->o.grad_accum * dist_size() / seconds, eta);
}

static void on_eval(void *user, const trainer *t, const val_result *r) {
    (void)user;
    fprintf(stderr, "eval step %ld | val loss %.4f | heads ", t->step, r->total);
    print_heads(r->loss, r->n);
    fprintf(stderr, " | %zu windows\n", r->windows);
}

static void on_save(void *user, const trainer *t, double seconds) {
    (void)user;
    fprintf(stderr, "saved %s/step_%08ld (%.1fs)\n", t->o.out, t->step, seconds);
}

static void on_note(void *user, const char *message) {
    (void)user;
    fprintf(stderr, "%s\n", message);
}

static void print_done(const trainer *t, double seconds) {
    const train_options *o = &t->o;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char dur[32];
    format_duration(seconds, dur, sizeof dur);
    fprintf(stderr, "done: %ld steps in %s (%.1f ms/step, %.0f tok/s after warm-up), peak memory %ld MB\n",
            t->step - t->first_step, dur, t->timed_steps ? 1e3 * t->timed_seconds / t->timed_steps : 0.0,
            t->timed_seconds > 0 ? (double)o->batch * o->seq_len * o->grad_accum * dist_size() *
                                       t->timed_steps / t->timed_seconds
                                 : 0.0,
            ru.ru_maxrss / 1024);
    if (dist_size() > 1 && t->timed_seconds > 0)
        fprintf(stderr, "communication: %.1f%% of the step time waiting on other processes\n",
                100.0 * t->comm_seconds / t->timed_seconds);
}

// ---- resume: the flags not given come from the checkpoint ---------------------------------------

// A model flag given on --resume must equal the checkpoint's value.
static int check_same(const command_line *cl, const char *name, int value, int ckpt, const char *dir) {
    if (flags_given(cl, name) && value != ckpt)
        return mtp_errorf("%s %d does not match the checkpoint %s (%d): drop the flag or start a new run",
                          name, value, dir, ckpt);
    return 0;
}

// The run directory a resumed run continues in: the one named on the
// command line, or the one holding the step_* checkpoint named there, so a
// run that was moved or copied continues where it now is.
static const char *resumed_run_dir(const char *path, const char *ckpt, char *buf, size_t cap) {
    if (strcmp(path, ckpt) != 0) return path;  // a run directory: its newest checkpoint was taken
    snprintf(buf, cap, "%s", ckpt);
    char *base = basename(buf);
    if (strncmp(base, "step_", 5) != 0) return NULL;  // a lone checkpoint: no run directory
    snprintf(buf, cap, "%s", ckpt);
    return dirname(buf);
}

// --head-type / --head-order, where given, must be the checkpoint's.
static int check_same_heads(const command_line *cl, const shape_flags *s, const mtp_config *c,
                            const char *ckpt) {
    if (flags_given(cl, "--head-type") && s->head_type != c->head_type)
        return mtp_errorf("--head-type %s differs from %s's %s heads", config_head_type_name(s->head_type),
                          ckpt, config_head_type_name(c->head_type)),
               1;
    if (flags_given(cl, "--head-order") && s->head_order != c->head_order)
        return mtp_errorf("--head-order %s differs from %s's %s heads", config_head_order_name(s->head_order),
                          ckpt, config_head_order_name(c->head_order)),
               1;
    return 0;
}

static int merge_resume(command_line *cl, train_args *a, const mtp_config *c, const char *ckpt, cJSON **state,
                        char *out_buf, size_t cap) {
    const shape_flags *s = &a->shape;
    if (check_same(cl, "--vocab-size", s->vocab_size, c->vocab_size, ckpt) ||
        check_same(cl, "--n-layer", s->n_layer, c->n_layer, ckpt) ||
        check_same(cl, "--n-future", s->n_future, c->n_future, ckpt) ||
        check_same(cl, "--dim", s->dim, c->dim, ckpt) ||
        check_same(cl, "--n-head", s->n_head, c->n_head, ckpt) ||
        check_same(cl, "--n-kv-head", s->n_kv_head, c->n_kv_head, ckpt) ||
        check_same(cl, "--ffn-dim", s->ffn_dim, c->ffn_dim, ckpt) ||
        check_same(cl, "--max-context", s->max_context, c->max_seq_len, ckpt) ||
        check_same_heads(cl, s, c, ckpt))
        return 1;
    if (!checkpoint_has_trainer_state(ckpt)) {  // imported weights: a new run starts from them
        if (!a->out)
            return mtp_errorf(
                       "%s holds weights without a training run (an imported model): give --out for the "
                       "run that fine-tunes it",
                       ckpt),
                   1;
        if (!flags_given(cl, "--seq-len") && a->shape.seq_len > c->max_seq_len)
            a->shape.seq_len = c->max_seq_len;
        if (a->shape.seq_len > c->max_seq_len)
            return mtp_errorf("--seq-len %d exceeds the checkpoint's max context %d (%s)", a->shape.seq_len,
                              c->max_seq_len, ckpt),
                   1;
        return 0;
    }
    if (!(*state = checkpoint_read_trainer_state(ckpt))) return 1;
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(*state, "args");
    if (!cJSON_IsObject(args)) return mtp_errorf("%s/trainer_state.json: missing \"args\"", ckpt), 1;
    char label[4200];
    snprintf(label, sizeof label, "%s/trainer_state.json", ckpt);
    // what trains is fixed for a run: its optimizer state holds the moments of exactly those tensors
    int was_frozen = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(args, "freeze_trunk")),
        had_unembedding = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(args, "train_unembedding"));
    if ((flags_given(cl, "--freeze-trunk") && a->freeze_trunk != was_frozen) ||
        (flags_given(cl, "--train-unembedding") && a->train_unembedding != had_unembedding))
        return mtp_errorf(
                   "%s's run trained %s: --freeze-trunk and --train-unembedding cannot change on "
                   "--resume (start a new run from it: --init-from %s --freeze-trunk ...)",
                   ckpt,
                   was_frozen ? (had_unembedding ? "the heads past head 1 and the unembedding"
                                                 : "the heads past head 1")
                              : "every weight",
                   ckpt),
               1;
    if (flags_from_json(cl, args, label, "out") != FLAGS_OK) return 2;
    if (!a->out && !(a->out = resumed_run_dir(a->resume, ckpt, out_buf, cap))) {
        // a lone checkpoint (not a run's step_* folder): the run it came from, named absolutely
        // (a relative name, as older checkpoints stored it, would be taken from wherever this runs)
        const cJSON *out = cJSON_GetObjectItemCaseSensitive(args, "out");
        if (cJSON_IsString(out) && out->valuestring[0] == '/')
            a->out = out->valuestring;
        else
            return mtp_errorf(
                       "%s is a lone checkpoint (not a step_* folder of a run directory): give --out "
                       "DIR for the resumed run",
                       ckpt),
                   1;
    }
    if (a->shape.seq_len > c->max_seq_len)
        return mtp_errorf("--seq-len %d exceeds the checkpoint's max context %d (%s)", a->shape.seq_len,
                          c->max_seq_len, ckpt),
               1;
    return 0;
}

static int run_train(command_line *cl) {
    train_args *a = cl->args;
    int rc;
    char ckpt[4096], out_buf[4096];
    mtp_config cfg = {0};
    cJSON *state = NULL;
    trainer *t = calloc(1, sizeof *t);
    rc = t ? 0 : 1;
    if (rc == 0 && model_flags_ready(&a->m) != 0) rc = 1;
    if (rc == 0 && dist_start() != 0) rc = 1;  // under mpirun: one of P processes (train/dist.h)
    // P processes on one machine share its cores unless --threads says otherwise
    if (rc == 0 && dist_size() > 1 && a->m.threads == 0) op_set_threads(dist_threads_per_process());
    if (rc == 0 && a->resume && a->init_from)
        rc = flags_usage_error(cl, "--resume continues a run, --init-from starts one: give one of them");
    if (rc == 0 && a->freeze_trunk && !a->resume && !a->init_from)
        rc = flags_usage_error(cl, "--freeze-trunk keeps trained weights: give --init-from CHECKPOINT");
    if (rc == 0 && a->resume) {  // the checkpoint's config and arguments, before the weights load
        mtp_checkpoint ck;
        rc = checkpoint_open(&ck, a->resume, 0) != 0;
        if (rc == 0) {
            snprintf(ckpt, sizeof ckpt, "%s", ck.dir);
            cfg = ck.cfg;
            checkpoint_close(&ck);
            rc = merge_resume(cl, a, &cfg, ckpt, &state, out_buf, sizeof out_buf);
        }
    }
    // (after a resumed run's own flags are in: its --freeze-trunk need not be given again)
    if (rc == 0 && a->train_unembedding && !a->freeze_trunk)
        rc = flags_usage_error(cl,
                               "--train-unembedding goes with --freeze-trunk (without it everything trains)");
    shape_flags *s = &a->shape;
    if (rc == 0 && a->resume && a->data && !flags_given(cl, "--data") && !fs_is_dir(a->data)) {
        mtp_errorf(
            "the run's data directory '%s' (from %s/trainer_state.json) does not exist: give --data DIR",
            a->data, ckpt);
        rc = 1;
    }
    if (rc == 0 && !a->data)
        rc = flags_usage_error(cl, "--data DIR is required (a directory made by mtp prepare)");
    if (rc == 0 && !a->out) rc = flags_usage_error(cl, "--out RUN_DIR is required");
    if (rc == 0 && !a->resume && !a->init_from && s->seq_len > (s->max_context ? s->max_context : s->seq_len))
        rc = flags_usage_error(cl, "--seq-len %d exceeds --max-context %d", s->seq_len, s->max_context);
    if (rc == 0 && a->init_from) {  // the source's shape, with the heads asked for
        mtp_checkpoint ck;
        rc = checkpoint_open(&ck, a->init_from, 0) != 0;
        if (rc == 0) {
            const mtp_config src = ck.cfg;
            int n = flags_given(cl, "--n-future") ? s->n_future : src.n_future;
            cfg = src;
            cfg.n_future = n;
            // a one-head model is every order's: new heads may be chained
            if (src.n_future == 1 && flags_given(cl, "--head-order")) cfg.head_order = s->head_order;
            cfg.n_layer = config_trunk_layers(&src) + (src.head_type == MTP_HEAD_LINEAR ? 0 : n);
            if (check_same(cl, "--vocab-size", s->vocab_size, src.vocab_size, ck.dir) ||
                check_same(cl, "--dim", s->dim, src.dim, ck.dir) ||
                check_same(cl, "--n-head", s->n_head, src.n_head, ck.dir) ||
                check_same(cl, "--n-kv-head", s->n_kv_head, src.n_kv_head, ck.dir) ||
                check_same(cl, "--ffn-dim", s->ffn_dim, src.ffn_dim, ck.dir) ||
                check_same(cl, "--max-context", s->max_context, src.max_seq_len, ck.dir) ||
                check_same_heads(cl, s, &cfg, ck.dir))
                rc = 1;
            else if (cfg.head_order == MTP_HEAD_ANTICAUSAL && n != src.n_future)
                rc = mtp_errorf(
                         "--n-future %d: anticausal head 1 reads every other head, so %s's %d heads "
                         "cannot change in number",
                         n, ck.dir, src.n_future) != 0;
            else if (flags_given(cl, "--n-layer") && s->n_layer != cfg.n_layer)
                rc =
                    mtp_errorf(
                        "--n-layer %d: with --init-from %s the model has its %d trunk blocks + %d heads = %d",
                        s->n_layer, ck.dir, config_trunk_layers(&src), n, cfg.n_layer) != 0;
            if (!flags_given(cl, "--seq-len") && s->seq_len > src.max_seq_len) s->seq_len = src.max_seq_len;
            if (rc == 0 && s->seq_len > src.max_seq_len)
                rc = mtp_errorf("--seq-len %d exceeds the checkpoint's max context %d (%s)", s->seq_len,
                                src.max_seq_len, ck.dir) != 0;
            checkpoint_close(&ck);
        }
    }
    if (rc == 0 && !a->resume && !a->init_from) {
        config_set_defaults(&cfg);
        cfg.vocab_size = s->vocab_size;
        cfg.dim = s->dim;
        cfg.n_head = s->n_head;
        cfg.n_kv_head = s->n_kv_head ? s->n_kv_head : s->n_head;
        cfg.ffn_dim = s->ffn_dim ? s->ffn_dim : config_default_ffn_dim(s->dim);
        cfg.n_layer = s->n_layer;
        cfg.n_future = s->n_future;
        cfg.max_seq_len = s->max_context ? s->max_context : s->seq_len;
        cfg.head_type = s->head_type;
        cfg.head_order = s->head_order;
        // the shape flags checked together now: a contradiction among them is a usage error (2),
        // as a bad value of one is (a vocabulary size of 0 comes from the data later)
        mtp_config shape = cfg;
        if (!shape.vocab_size) shape.vocab_size = 256;
        if (config_validate(&shape) != 0) rc = flags_usage_error(cl, "%s", mtp_last_error());
    }
    train_options o = {a->data,
                       a->out,
                       a->log && a->log[0] ? a->log : NULL,  // --log '': none (a resumed run's included)
                       s->seq_len,
                       s->batch,
                       a->grad_accum,
                       a->steps,
                       a->warmup,
                       a->lr,
                       a->min_lr_ratio,
                       a->weight_decay,
                       a->grad_clip,
                       a->seed,
                       (head_schedule)s->schedule,
                       a->eval_every,
                       a->eval_batches,
                       a->save_every,
                       a->keep_last,
                       a->init_from,
                       a->freeze_trunk,
                       a->train_unembedding};
    train_observer obs = {on_start, on_step, on_eval, on_save, on_note, NULL};
    if (rc == 0) {
        rc = trainer_open(t, &o, &cfg, a->resume ? ckpt : NULL, &obs) != 0;
    }
    // every process opened the run, or none goes on (one alone would wait forever)
    if (dist_size() > 1 && dist_any(rc) && rc == 0) {
        rc = 1;
        mtp_errorf("another process could not open the run");
    }
    if (rc == 0) {
        t->stop = &stop_requested;
        signal(SIGINT, on_stop_signal);
        signal(SIGTERM, on_stop_signal);
        double t0 = mtp_now();
        rc = trainer_run(t) != 0;
        if (rc == 0) print_done(t, mtp_now() - t0);
        // stopped before --steps: saved, but not done (`mtp train ... && next` must not go on);
        // the shell's status for the signal
        if (rc == 0 && stop_requested && t->step < t->o.steps)
            rc = 128 + (stop_signal ? stop_signal : SIGINT);
    }
    if (t) trainer_close(t);
    free(t);
    cJSON_Delete(state);
    // a stop by signal (128 + its number) saved the run and is no failure: no message, no abort
    const int failed = rc != 0 && rc < 128;
    if (failed && dist_size() > 1) {  // print now: ending the other processes ends this one too
        fprintf(stderr, "mtp train: %s\n", mtp_last_error());
        fflush(stderr);
    }
    dist_finish(failed);
    return rc;
}

static const train_args TRAIN_DEFAULTS = {
    .shape = {.n_layer = 6, .n_future = 2, .dim = 256, .n_head = 8, .seq_len = 256, .batch = 8},
    .grad_accum = 1,
    .steps = 1000,
    .warmup = -1,
    .lr = 1e-3,  // the optimizer's defaults, but a peak LR suited to the small models a CPU trains
    .min_lr_ratio = OPTIM_DEFAULT_MIN_LR_RATIO,
    .weight_decay = OPTIM_DEFAULT_WEIGHT_DECAY,
    .grad_clip = OPTIM_DEFAULT_GRAD_CLIP,
    .seed = 1337,
    .eval_every = 100,
    .eval_batches = 10,
    .save_every = 500,
    .keep_last = 3};

const command_spec CMD_TRAIN = {
    .name = "train",
    .summary = "train an n-future-token model from scratch, resume a run, or fine-tune imported weights",
    .usage =
        "usage: mtp train --data DATA_DIR --out RUN_DIR [flags]\n"
        "       mtp train --resume RUN_DIR|CHECKPOINT [--steps TOTAL] [flags]",
    .about =
        "Trains an n-future-token prediction model: a trunk of L-n blocks, n parallel\n"
        "head blocks (head k predicts token t+k), one shared final norm and unembedding.\n"
        "The loss is the sum of the n heads' cross-entropies. Checkpoints go to\n"
        "RUN_DIR/step_NNNNNNNN/ (Hugging Face Llama safetensors + optimizer state).\n"
        "Under mpirun (mpirun -np P mtp train ..., or a hostfile for several machines) the P\n"
        "processes train one model: --batch and --grad-accum are per process, a step takes\n"
        "P x grad-accum micro-batches in the order one process with that much accumulation\n"
        "would, the optimizer state is sharded across the processes, and process 0 writes\n"
        "the logs and checkpoints (the same files; resumable with another P).",
    .groups = {{"data and run:", RUN_FLAGS, 0},
               {"fine-tuning:", FINETUNE_FLAGS, 0},
               {"model:", SHAPE_FLAGS, offsetof(train_args, shape),
                "--vocab-size --n-layer --n-future --dim --n-head --n-kv-head --ffn-dim --seq-len "
                "--max-context --head-type --head-order"},
               {"optimization:", SHAPE_FLAGS, offsetof(train_args, shape), "--batch"},
               {NULL, OPTIM_FLAGS, 0},
               {NULL, SHAPE_FLAGS, offsetof(train_args, shape), "--schedule"},
               {NULL, MODEL_FLAGS, offsetof(train_args, m), "--threads --device --precision"},
               {"evaluation and checkpoints:", EVAL_FLAGS, 0}},
    .epilog =
        "--steps 0 writes the initialized model. Ctrl-C or SIGTERM saves a checkpoint and stops\n"
        "with status 130 or 143 (--resume finishes the run); under mpirun, Ctrl-C ends every\n"
        "process and the last checkpoint saved stays. One mtp train at a time may use a run\n"
        "directory (it holds RUN_DIR/.lock while it runs).",
    COMMAND_RUN(run_train, TRAIN_DEFAULTS),
};
