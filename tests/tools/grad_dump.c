// grad_dump: runs optimizer steps of the library on given token rows and
// writes the first step's gradients, every step's losses and the final
// parameters, for the PyTorch parity test (tests/test_torch_parity.py).
//   grad_dump --model CKPT --tokens FILE --batch B --grad-accum K --steps S
//             --lr LR --warmup W --min-lr-ratio R --weight-decay WD
//             --grad-clip C --schedule sequential|naive --out DIR
// FILE: int32 little-endian, S*K*B rows of T+n tokens (T = max context).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/safetensors.h"
#include "store/checkpoint.h"
#include "store/loader.h"
#include "train/step.h"

static int fail(const char *what) {
    fprintf(stderr, "grad_dump: %s: %s\n", what, mtp_last_error());
    return 1;
}

static int save_set(const char *path, const param_set *p, const mtp_config *cfg) {
    const param_set *sets[1] = {p};
    const char *prefixes[1] = {""};
    return checkpoint_write_tensors(path, sets, prefixes, 1, cfg);
}

int main(int argc, char **argv) {
    const char *model_dir = NULL, *tokens_path = NULL, *out_dir = NULL, *schedule = "sequential";
    int B = 1, K = 1, S = 1;
    optim_config o;
    optim_config_defaults(&o);
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *f = argv[i], *v = argv[i + 1];
        if (!strcmp(f, "--model"))
            model_dir = v;
        else if (!strcmp(f, "--tokens"))
            tokens_path = v;
        else if (!strcmp(f, "--out"))
            out_dir = v;
        else if (!strcmp(f, "--schedule"))
            schedule = v;
        else if (!strcmp(f, "--batch"))
            B = atoi(v);
        else if (!strcmp(f, "--grad-accum"))
            K = atoi(v);
        else if (!strcmp(f, "--steps"))
            S = atoi(v);
        else if (!strcmp(f, "--lr"))
            o.lr = atof(v);
        else if (!strcmp(f, "--warmup"))
            o.warmup = atol(v);
        else if (!strcmp(f, "--min-lr-ratio"))
            o.min_lr_ratio = atof(v);
        else if (!strcmp(f, "--weight-decay"))
            o.weight_decay = atof(v);
        else if (!strcmp(f, "--grad-clip"))
            o.grad_clip = atof(v);
        else {
            fprintf(stderr, "grad_dump: unknown flag %s\n", f);
            return 2;
        }
    }
    if (!model_dir || !tokens_path || !out_dir || B < 1 || K < 1 || K > 64 || S < 1) {
        fprintf(stderr,
                "grad_dump: need --model, --tokens, --out and positive --batch/--grad-accum (at most "
                "64)/--steps\n");
        return 2;
    }
    o.total_steps = S;
    mtp_checkpoint ck;
    model_work w;
    adamw_state opt;
    if (checkpoint_open(&ck, model_dir, CHECKPOINT_WEIGHTS)) return fail(model_dir);
    mtp_model *m = &ck.model;  // the tool steps these weights
    const mtp_config cfg = ck.cfg;
    int T = cfg.max_seq_len, row_len = T + cfg.n_future;
    head_schedule hs = !strcmp(schedule, "naive") ? SCHEDULE_NAIVE : SCHEDULE_SEQUENTIAL;
    if (model_work_alloc(&w, m, B, T, hs, 1) || adamw_alloc(&opt, &cfg)) return fail("allocation");
    size_t len;
    char *raw = fs_read_all(tokens_path, (size_t)1 << 32, &len);
    if (!raw) return fail(tokens_path);
    size_t need = (size_t)S * K * B * row_len * sizeof(int32_t);
    if (len != need) {
        fprintf(stderr, "grad_dump: %s has %zu bytes, expected %zu\n", tokens_path, len, need);
        return 1;
    }
    const int32_t *rows = (const int32_t *)raw;
    if (fs_mkdir_p(out_dir)) return fail(out_dir);
    char path[4200];
    FILE *log = NULL;
    snprintf(path, sizeof path, "%s/losses.json", out_dir);
    log = fopen(path, "w");
    if (!log) return fail(path);
    fprintf(log, "{\"steps\": [");
    for (int s = 0; s < S; s++) {
        const int32_t *micro[64];
        for (int k = 0; k < K; k++) micro[k] = rows + ((size_t)s * K + k) * B * row_len;
        // step 1's gradients are saved before the update: run the step's
        // forward/backward, copy, then let train_step redo it identically
        step_result r;
        if (s == 0) {
            model_zero_grads(&w);
            double head[MTP_MAX_FUTURE];
            for (int k = 0; k < K; k++)
                if (model_forward_backward(&w, micro[k], B, T, 1.0f / (float)K, head)) return fail("forward");
            snprintf(path, sizeof path, "%s/grads.safetensors", out_dir);
            if (save_set(path, &w.grads, &cfg)) return fail(path);
        }
        if (train_step(m, &w, &opt, &o, s, micro, K, B, T, NULL, &r)) return fail("train_step");
        fprintf(log, "%s{\"loss\": %.17g, \"head_losses\": [", s ? ", " : "", r.loss);
        for (int h = 0; h < cfg.n_future; h++) fprintf(log, "%s%.17g", h ? ", " : "", r.head_losses[h]);
        fprintf(log, "], \"grad_norm\": %.17g, \"lr\": %.17g}", r.grad_norm, r.lr);
    }
    fprintf(log, "]}\n");
    fclose(log);
    snprintf(path, sizeof path, "%s/params.safetensors", out_dir);
    if (save_set(path, &m->params, &cfg)) return fail(path);
    free(raw);
    adamw_free(&opt);
    model_work_free(&w);
    checkpoint_close(&ck);
    return 0;
}
