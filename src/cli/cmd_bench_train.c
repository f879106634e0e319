// cmd_bench_train.c: `mtp bench-train`, the speed of one training step on
// random tokens: median ms/step, tokens/s, achieved GFLOP/s against the
// measured matrix-product ceiling of this machine (MFU), and peak memory.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "libmtp.h"

static const char *help =
    "usage: mtp bench-train [flags]\n"
    "\n"
    "Times training steps of a randomly initialized model on random tokens (no data\n"
    "needed) and reports median ms/step, tokens/s, GFLOP/s, the fraction of this\n"
    "machine's measured single-precision matrix-product ceiling (MFU, same thread\n"
    "count), and peak memory.\n"
    "  --vocab-size V --n-layer L --n-future n --dim d --n-head H --n-kv-head Hkv\n"
    "  --ffn-dim f --seq-len T --batch B    model and batch (defaults: 256 6 1 256 8 H\n"
    "                                        8d/3 256 8, the small byte-level config)\n"
    "  --schedule sequential|naive          head schedule (default sequential)\n"
    "  --steps S                            timed steps after one warm-up step (default 5)\n"
    "  --threads N                          CPU threads (default: all cores)\n"
    "  --json                               one JSON object instead of text\n";

// Best of seven 2048^3 single-precision products (after one warm-up): the ceiling a training step
// could reach if it were all large matrix products.
static double matmul_ceiling_gflops(void) {
    const int n = 2048;
    float *a = mtp_malloc(sizeof(float) * n * n, "ceiling matrix"),
          *b = mtp_malloc(sizeof(float) * n * n, "m");
    float *c = mtp_malloc(sizeof(float) * n * n, "ceiling matrix");
    double best = 0.0;
    if (a && b && c) {
        for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.01f;
        for (int r = 0; r < 8; r++) {
            double t0 = mtp_now();
            op_matmul_forward(c, a, b, n, n, n);
            double g = 2.0 * n * n * (double)n / (mtp_now() - t0) / 1e9;
            if (r > 0 && g > best) best = g;  // the first run warms up
        }
    }
    free(a);
    free(b);
    free(c);
    return best;
}

static int compare_doubles(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int cmd_bench_train(int argc, char **argv) {
    mtp_config c;
    memset(&c, 0, sizeof c);
    config_set_defaults(&c);
    c.vocab_size = 256, c.n_layer = 6, c.n_future = 1, c.dim = 256, c.n_head = 8, c.n_kv_head = 0;
    int T = 256, B = 8, steps = 5, threads = 0, json = 0;
    head_schedule schedule = SCHEDULE_SEQUENTIAL;
    const char *cmd = "bench-train", *v;
    struct {
        const char *flag;
        int *dst, lo, hi;
    } ints[] = {{"--vocab-size", &c.vocab_size, 2, 1 << 30},
                {"--n-layer", &c.n_layer, 2, 4096},
                {"--n-future", &c.n_future, 1, MTP_MAX_FUTURE},
                {"--dim", &c.dim, 2, 65536},
                {"--n-head", &c.n_head, 1, 4096},
                {"--n-kv-head", &c.n_kv_head, 1, 4096},
                {"--ffn-dim", &c.ffn_dim, 1, 1 << 20},
                {"--seq-len", &T, 1, 1 << 20},
                {"--batch", &B, 1, 1 << 16},
                {"--steps", &steps, 1, 100000},
                {"--threads", &threads, 1, 1024}};
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (args_is_help(f)) {
            fputs(help, stdout);
            return 0;
        }
        if (!strcmp(f, "--json")) {
            json = 1;
            continue;
        }
        if (!strcmp(f, "--schedule")) {
            if (!(v = args_value(cmd, argc, argv, &i))) return 2;
            if (strcmp(v, "sequential") && strcmp(v, "naive")) {
                fprintf(stderr, "mtp bench-train: --schedule '%s': expected sequential or naive\n", v);
                return 2;
            }
            schedule = !strcmp(v, "naive") ? SCHEDULE_NAIVE : SCHEDULE_SEQUENTIAL;
            continue;
        }
        size_t k = 0;
        while (k < sizeof ints / sizeof *ints && strcmp(f, ints[k].flag)) k++;
        if (k == sizeof ints / sizeof *ints) {
            args_unknown(cmd, f);
            return 2;
        }
        if (!(v = args_value(cmd, argc, argv, &i)) ||
            args_int(cmd, f, v, ints[k].lo, ints[k].hi, ints[k].dst))
            return 2;
    }
    if (!c.n_kv_head) c.n_kv_head = c.n_head;
    if (!c.ffn_dim) c.ffn_dim = config_default_ffn_dim(c.dim);
    c.max_seq_len = T;
    if (threads) op_set_threads(threads);
    double ceiling = matmul_ceiling_gflops();

    mtp_model m;
    model_work w;
    memset(&w, 0, sizeof w);
    adamw_state opt;
    optim_config o;
    optim_config_defaults(&o);
    o.total_steps = steps + 1;
    int rc = 1, row_len = T + c.n_future;
    int32_t *rows = NULL;
    double *ms = calloc((size_t)steps, sizeof *ms);
    memset(&opt, 0, sizeof opt);
    if (model_create(&m, &c) != 0) goto done;
    params_init(&m.params, &c, 1);
    if (model_work_alloc(&w, &m, B, T, schedule, 1) != 0 || adamw_alloc(&opt, &c) != 0) goto done;
    rows = mtp_malloc(sizeof(int32_t) * (size_t)B * row_len, "rows");
    if (!rows || !ms) goto done;
    mtp_rng rng;
    mtp_rng_seed(&rng, 1);
    for (size_t i = 0; i < (size_t)B * row_len; i++)
        rows[i] = (int32_t)mtp_rng_below(&rng, (uint64_t)c.vocab_size);
    const int32_t *micro[1] = {rows};
    step_result r;
    for (int s = 0; s <= steps; s++) {
        double t0 = mtp_now();
        if (train_step(&m, &w, &opt, &o, s, micro, 1, B, T, &r) != 0) goto done;
        if (s > 0) ms[s - 1] = 1e3 * (mtp_now() - t0);
    }
    qsort(ms, (size_t)steps, sizeof *ms, compare_doubles);
    double med = steps % 2 ? ms[steps / 2] : 0.5 * (ms[steps / 2 - 1] + ms[steps / 2]);
    step_flops fl = model_step_flops(&c, B, T);
    double gflops = fl.total / (med * 1e-3) / 1e9, tok_s = (double)B * T / (med * 1e-3);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak_mb = ru.ru_maxrss / 1024.0;
    if (json) {
        printf(
            "{\"vocab_size\": %d, \"dim\": %d, \"n_layer\": %d, \"n_future\": %d, \"seq_len\": %d, "
            "\"batch\": %d, "
            "\"schedule\": \"%s\", \"threads\": %d, \"ms_per_step\": %.3f, \"tokens_per_sec\": %.1f, "
            "\"gflop_per_step\": %.3f, \"gflops\": %.2f, \"ceiling_gflops\": %.2f, \"mfu\": %.4f, "
            "\"peak_rss_mb\": %.1f, \"blas\": \"%s\"}\n",
            c.vocab_size, c.dim, c.n_layer, c.n_future, T, B,
            schedule == SCHEDULE_NAIVE ? "naive" : "sequential", op_get_threads(), med, tok_s, fl.total / 1e9,
            gflops, ceiling, gflops / ceiling, peak_mb, op_blas_info());
    } else {
        printf("config: V=%d d=%d H=%d Hkv=%d f=%d L=%d n=%d T=%d B=%d, %s schedule, %d threads\n",
               c.vocab_size, c.dim, c.n_head, c.n_kv_head, c.ffn_dim, c.n_layer, c.n_future, T, B,
               schedule == SCHEDULE_NAIVE ? "naive" : "sequential", op_get_threads());
        printf("BLAS: %s; matmul ceiling (2048^3): %.1f GFLOP/s\n", op_blas_info(), ceiling);
        printf("step: median %.1f ms over %d steps (min %.1f, max %.1f), %.0f tokens/s\n", med, steps, ms[0],
               ms[steps - 1], tok_s);
        printf(
            "work: %.1f GFLOP/step (blocks %.0f%%, attention %.0f%%, unembedding %.0f%%), AdamW moves %.0f "
            "MB\n",
            fl.total / 1e9, 100 * fl.blocks / fl.total, 100 * fl.attention / fl.total,
            100 * fl.unembed / fl.total, fl.optimizer_bytes / 1e6);
        printf("achieved: %.1f GFLOP/s = %.1f%% of the matmul ceiling (MFU)\n", gflops,
               100 * gflops / ceiling);
        printf("peak memory: %.0f MB\n", peak_mb);
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "mtp bench-train: %s\n", mtp_last_error());
    free(rows);
    free(ms);
    adamw_free(&opt);
    model_work_free(&w);
    model_free(&m);
    return rc;
}
