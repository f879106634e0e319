// cmd_train.c: `mtp train`, from scratch or --resume, with progress, eval,
// JSONL logs and atomic checkpoints.
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/train_args.h"
#include "libmtp.h"

static volatile sig_atomic_t stop_requested = 0;
static void on_sigint(int sig) {
    // first Ctrl-C: finish the step, save, exit; a second one stops at once
    stop_requested = 1;
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

static long peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

typedef struct {
    train_args a;
    mtp_model model;
    model_work work;
    adamw_state opt;
    optim_config optim;
    data_loader train, val;
    int have_val;
    char *tokenizer_json;
    FILE *log;
    long step;           // completed steps
    double tokens_seen;  // training tokens consumed so far (survives changes of --batch on resume)
} trainer;

static char *trainer_state_json(const trainer *t) {
    cJSON *j = cJSON_CreateObject();
    uint64_t epoch, index;
    loader_get_position(&t->train, &epoch, &index);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)t->a.seed);
    cJSON_AddNumberToObject(j, "step", (double)t->step);
    cJSON_AddNumberToObject(j, "epoch", (double)epoch);
    cJSON_AddNumberToObject(j, "index", (double)index);
    cJSON_AddStringToObject(j, "data_seed", seed);
    cJSON_AddNumberToObject(j, "tokens_seen", t->tokens_seen);
    cJSON_AddItemToObject(j, "args", train_args_to_json(&t->a));
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}

static int save(trainer *t) {
    char *state = trainer_state_json(t);
    if (!state) return mtp_errorf("out of memory writing trainer_state.json");
    double t0 = mtp_now();
    checkpoint_moments mo = {&t->opt.m, &t->opt.v};
    int rc = checkpoint_save(t->a.out, t->step, &t->model, &mo, state, t->tokenizer_json);
    free(state);
    if (rc == 0) rc = checkpoint_prune(t->a.out, t->a.keep_last);
    if (rc == 0) fprintf(stderr, "saved %s/step_%08ld (%.1fs)\n", t->a.out, t->step, mtp_now() - t0);
    return rc;
}

static void print_heads(FILE *f, const double *h, int n, const char *sep) {
    for (int k = 0; k < n; k++) fprintf(f, "%s%.4f", k ? sep : "", h[k]);
}

static int evaluate(trainer *t) {
    if (!t->have_val) return 0;
    int n = t->model.cfg.n_future, B = t->a.batch, T = t->a.seq_len;
    size_t windows = loader_num_windows(&t->val);
    int batches = t->a.eval_batches;
    if ((size_t)batches * B > windows) batches = (int)((windows + B - 1) / B);
    int32_t *rows = mtp_malloc(sizeof(int32_t) * B * (T + n), "eval rows");
    if (!rows) return -1;
    double sum[MTP_MAX_FUTURE] = {0}, head[MTP_MAX_FUTURE], total = 0;
    for (int b = 0; b < batches; b++) {
        loader_window_batch(&t->val, (size_t)b * B, B, rows);
        if (model_forward_loss(&t->work, rows, B, T, head, NULL) != 0) {
            free(rows);
            return -1;
        }
        for (int k = 0; k < n; k++) sum[k] += head[k] / batches;
    }
    free(rows);
    for (int k = 0; k < n; k++) total += sum[k];
    fprintf(stderr, "eval step %ld | val loss %.4f | heads ", t->step, total);
    print_heads(stderr, sum, n, " ");
    fprintf(stderr, " | %d batches\n", batches);
    if (t->log) {
        fprintf(t->log, "{\"step\": %ld, \"split\": \"val\", \"loss\": %.6f, \"head_losses\": [", t->step,
                total);
        print_heads(t->log, sum, n, ", ");
        fprintf(t->log, "]}\n");
        fflush(t->log);
    }
    return 0;
}

static int run(trainer *t) {
    train_args *a = &t->a;
    const mtp_config *cfg = &t->model.cfg;
    int n = cfg->n_future, B = a->batch, T = a->seq_len, K = a->grad_accum;
    int32_t *rows = mtp_malloc(sizeof(int32_t) * (size_t)K * B * (T + n), "training rows");
    if (!rows) return -1;
    int32_t **micro = mtp_malloc(sizeof *micro * (size_t)K, "micro-batch list");
    if (!micro) {
        free(rows);
        return -1;
    }
    for (int k = 0; k < K; k++) micro[k] = rows + (size_t)k * B * (T + n);
    fprintf(stderr,
            "model: %zu parameters (L=%d: %d trunk + %d heads, d=%d, H=%d, Hkv=%d, f=%d, V=%d, T=%d)\n",
            params_count(cfg), cfg->n_layer, config_trunk_layers(cfg), n, cfg->dim, cfg->n_head,
            cfg->n_kv_head, cfg->ffn_dim, cfg->vocab_size, T);
    double param_mb = (double)t->model.params.total * sizeof(float) / (1 << 20);
    fprintf(
        stderr, "memory: parameters %.1f MB, gradients %.1f MB, AdamW moments %.1f MB, activations %.1f MB\n",
        param_mb, param_mb, 2 * param_mb, (double)model_work_bytes(cfg, B, T, a->schedule, 1) / (1 << 20));
    fprintf(stderr, "training steps %ld..%ld, batch %d x %d tokens x %d accum, %s schedule, %d threads\n",
            t->step + 1, a->steps, B, T, K, a->schedule == SCHEDULE_NAIVE ? "naive" : "sequential",
            op_get_threads());
    double start = mtp_now(), timed = 0;
    long timed_steps = 0, first = t->step;
    int rc = 0, saved_now = 0;
    while (t->step < a->steps && !stop_requested) {
        for (int k = 0; k < K; k++) loader_next_batch(&t->train, B, micro[k]);
        double t0 = mtp_now();
        step_result r;
        if ((rc = train_step(&t->model, &t->work, &t->opt, &t->optim, t->step, (const int32_t *const *)micro,
                             K, B, T, &r)) != 0)
            break;
        double dt = mtp_now() - t0;
        t->step++;
        t->tokens_seen += (double)B * T * K;
        saved_now = 0;
        if (t->step > first + 1 || a->steps - first == 1) {  // the first step warms caches: not timed
            timed += dt;
            timed_steps++;
        }
        double tok_s = (double)B * T * K / dt;
        double avg = timed_steps ? timed / timed_steps : dt;
        char eta[32];
        format_duration(avg * (double)(a->steps - t->step), eta, sizeof eta);
        fprintf(stderr, "step %ld/%ld | loss %.4f | heads ", t->step, a->steps, r.loss);
        print_heads(stderr, r.head_losses, n, " ");
        fprintf(stderr, " | lr %.2e | gnorm %.3f | %.0f tok/s | ETA %s\n", r.lr, r.grad_norm, tok_s, eta);
        if (t->log) {
            fprintf(t->log, "{\"step\": %ld, \"loss\": %.6f, \"head_losses\": [", t->step, r.loss);
            print_heads(t->log, r.head_losses, n, ", ");
            fprintf(t->log, "], \"lr\": %.6e, \"grad_norm\": %.6f, \"tokens_per_sec\": %.1f, \"ms\": %.3f}\n",
                    r.lr, r.grad_norm, tok_s, dt * 1e3);
            fflush(t->log);
        }
        if (a->eval_every > 0 && t->step % a->eval_every == 0 && (rc = evaluate(t)) != 0) break;
        if (a->save_every > 0 && t->step % a->save_every == 0) {
            if ((rc = save(t)) != 0) break;
            saved_now = 1;
        }
    }
    free(rows);
    free(micro);
    if (rc != 0) return rc;
    if (stop_requested)
        fprintf(stderr, "interrupted: saving step %ld so the run can be resumed\n", t->step);
    else if (a->eval_every > 0 && t->step % a->eval_every != 0 && (rc = evaluate(t)) != 0)
        return rc;
    // a resumed run that made no step has nothing new to save (and must not
    // rewrite the checkpoint it was loaded from)
    int resumed_idle = a->resume && t->step == first;
    if (!saved_now && !resumed_idle && (rc = save(t)) != 0) return rc;
    if (resumed_idle)
        fprintf(stderr, "nothing to do: the checkpoint is at step %ld of --steps %ld\n", t->step, a->steps);
    double total = mtp_now() - start;
    char dur[32];
    format_duration(total, dur, sizeof dur);
    fprintf(stderr, "done: %ld steps in %s (%.1f ms/step, %.0f tok/s after warm-up), peak memory %ld MB\n",
            t->step - first, dur, timed_steps ? 1e3 * timed / timed_steps : 0.0,
            timed > 0 ? (double)B * T * K * timed_steps / timed : 0.0, peak_rss_mb());
    return 0;
}

// A run directory holds one trajectory: a fresh run may not mix its
// checkpoints with another's, and a resumed run may not write behind newer
// checkpoints (they would shadow its own and be pruned in its place).
// Leftovers of an interrupted save (.tmp-*, .old-*) are removed.
static int check_run_dir(const char *out, long resumed_step) {
    fs_list list;
    if (fs_list_dir(out, "step_", "", &list) != 0) return -1;
    long newest = -1;
    for (int i = 0; i < list.count; i++) {
        long s = strtol(list.names[i] + 5, NULL, 10);
        if (s > newest) newest = s;
    }
    fs_list_free(&list);
    if (resumed_step < 0 && newest >= 0)
        return mtp_errorf(
            "--out '%s' already holds checkpoints (newest step %ld): continue it with --resume %s, "
            "or choose a new --out",
            out, newest, out);
    if (resumed_step >= 0 && newest > resumed_step)
        return mtp_errorf(
            "--out '%s' holds a newer checkpoint (step %ld) than the one resumed (step %ld): "
            "choose a new --out, or resume the newest",
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

static int setup(trainer *t, int argc, char **argv) {
    train_args *a = &t->a;
    int prc = train_args_parse(a, argc, argv);
    if (prc != 0) return prc;
    mtp_config cfg;
    char ckpt[4096] = "";
    cJSON *state = NULL;
    if (a->resume) {
        if (checkpoint_resolve(a->resume, ckpt, sizeof ckpt) != 0 ||
            checkpoint_read_config(ckpt, &cfg) != 0 || !(state = checkpoint_read_trainer_state(ckpt)))
            return 1;
        if (train_args_merge_resume(a, state, &cfg, ckpt) != 0) {
            cJSON_Delete(state);
            return 1;
        }
    }
    if (!a->data) {
        cJSON_Delete(state);
        fprintf(stderr, "mtp train: --data DIR is required (a directory made by mtp prepare)\n");
        return 2;
    }
    if (!a->out) {
        cJSON_Delete(state);
        fprintf(stderr, "mtp train: --out RUN_DIR is required\n");
        return 2;
    }
    // the tokenizer the data was made with travels into every checkpoint
    char tok_path[4096];
    if (fs_join(tok_path, sizeof tok_path, a->data, "tokenizer.json") == 0 && fs_is_file(tok_path)) {
        tokenizer *tok = tokenizer_load(tok_path);
        if (!tok) {
            cJSON_Delete(state);
            return 1;
        }
        if (!a->set.vocab_size && !a->resume) a->vocab_size = tokenizer_vocab_size(tok);
        tokenizer_free(tok);
        t->tokenizer_json = fs_read_all(tok_path, 64u << 20, NULL);
        if (!t->tokenizer_json) {
            cJSON_Delete(state);
            return 1;
        }
    } else if (!a->set.vocab_size && !a->resume) {
        cJSON_Delete(state);
        if (!fs_is_dir(a->data))
            return mtp_errorf("--data '%s' does not exist: make it with mtp prepare", a->data), 1;
        return mtp_errorf("--data '%s' has no tokenizer.json: pass --vocab-size V for llm.c shards", a->data),
               1;
    }
    if (!a->resume) train_args_to_config(a, &cfg);
    if (model_create(&t->model, &cfg) != 0) {
        cJSON_Delete(state);
        return 1;
    }
    op_set_threads(a->threads);
    int n = cfg.n_future;
    if (loader_open(&t->train, a->data, "train", a->seq_len, n, cfg.vocab_size) != 0) {
        cJSON_Delete(state);
        return 1;
    }
    fs_list vals = {0};
    t->have_val = fs_list_dir(a->data, "val_", ".bin", &vals) == 0 && vals.count > 0;
    fs_list_free(&vals);
    if (t->have_val && loader_open(&t->val, a->data, "val", a->seq_len, n, cfg.vocab_size) != 0) {
        fprintf(stderr, "note: validation disabled: %s\n", mtp_last_error());
        t->have_val = 0;
    } else if (!t->have_val && a->eval_every > 0) {
        fprintf(stderr, "note: %s has no val_*.bin shards: evaluation disabled\n", a->data);
    }
    // parameters, gradients and two moments, plus the work buffers
    double need = 4.0 * (double)t->model.params.total * sizeof(float) +
                  (double)model_work_bytes(&cfg, a->batch, a->seq_len, a->schedule, 1);
    double total = (double)mtp_total_memory(), avail = (double)mtp_available_memory();
    if (total > 0 && need > total) {
        cJSON_Delete(state);
        return mtp_errorf(
                   "this run needs %.1f GB of memory but the machine has %.1f GB: reduce --batch, "
                   "--seq-len or the model size, or use --schedule sequential",
                   need / 1e9, total / 1e9),
               1;
    }
    if (avail > 0 && need > avail)
        fprintf(stderr, "warning: this run needs %.1f GB of memory and %.1f GB is free now\n", need / 1e9,
                avail / 1e9);
    if (model_work_alloc(&t->work, &t->model, a->batch, a->seq_len, a->schedule, 1) != 0 ||
        adamw_alloc(&t->opt, &cfg) != 0) {
        cJSON_Delete(state);
        return 1;
    }
    optim_config_defaults(&t->optim);
    t->optim.lr = a->lr;
    t->optim.min_lr_ratio = a->min_lr_ratio;
    t->optim.warmup = a->warmup;
    t->optim.total_steps = a->steps;
    t->optim.weight_decay = a->weight_decay;
    t->optim.grad_clip = a->grad_clip;
    if (a->resume) {
        if (checkpoint_load_params(ckpt, &t->model) != 0 ||
            checkpoint_load_moments(ckpt, &t->opt.m, &t->opt.v, &cfg) != 0) {
            cJSON_Delete(state);
            return 1;
        }
        uint64_t epoch = 0, index = 0;
        if (train_state_position(state, ckpt, &t->step, &epoch, &index) != 0) {
            cJSON_Delete(state);
            return 1;
        }
        loader_set_order(&t->train, a->seed, epoch, index);
        const cJSON *seen = cJSON_GetObjectItemCaseSensitive(state, "tokens_seen");
        t->tokens_seen = cJSON_IsNumber(seen) && seen->valuedouble >= 0 ? seen->valuedouble : 0;
    } else {
        params_init(&t->model.params, &cfg, a->seed);
        loader_set_order(&t->train, a->seed, 0, 0);
    }
    cJSON_Delete(state);
    if (t->step > a->steps)
        return mtp_errorf("--steps %ld is below the checkpoint's step %ld: --steps counts total steps",
                          a->steps, t->step),
               1;
    // fail now, not after an hour of training, if the run directory is unwritable
    char probe[4096];
    if (fs_mkdir_p(a->out) != 0 || fs_join(probe, sizeof probe, a->out, ".write-test") != 0 ||
        fs_write_all(probe, "", 0) != 0)
        return mtp_error_context("--out '%s' is not writable", a->out), 1;
    remove(probe);
    if (check_run_dir(a->out, a->resume ? t->step : -1) != 0) return 1;
    if (a->resume) fprintf(stderr, "resuming from %s at step %ld\n", ckpt, t->step);
    if (a->log) {
        t->log = fopen(a->log, a->resume ? "a" : "w");
        if (!t->log) return mtp_errorf("--log '%s': cannot open for writing", a->log), 1;
    }
    return 0;
}

int cmd_train(int argc, char **argv) {
    trainer *t = calloc(1, sizeof *t);
    if (!t) return 1;
    int rc = setup(t, argc, argv);
    if (rc == 0) {
        signal(SIGINT, on_sigint);
        rc = run(t) != 0 ? 1 : 0;
    }
    if (rc == 1 && mtp_last_error()[0]) fprintf(stderr, "mtp train: %s\n", mtp_last_error());
    if (rc == -1) rc = 0;  // --help
    if (t->log) fclose(t->log);
    loader_close(&t->train);
    if (t->have_val) loader_close(&t->val);
    adamw_free(&t->opt);
    model_work_free(&t->work);
    model_free(&t->model);
    free(t->tokenizer_json);
    free(t);
    return rc;
}
