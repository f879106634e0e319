// cmd_bench_train.c: `mtp bench-train`, the speed of training steps on
// random tokens (tasks/bench_train.h).
#include <stdio.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "libmtp.h"
#include "tasks/bench_train.h"

typedef struct {
    shape_flags shape;
    model_flags m;
    int steps, json;
} bench_args;

static const flag BENCH_FLAGS[] = {
    {"--steps", FLAG_INT, offsetof(bench_args, steps), "S", "timed steps after one warm-up step", 1, 100000},
    {"--json", FLAG_BOOL, offsetof(bench_args, json), NULL, "one JSON object instead of text"},
    {0},
};

static int run_bench_train(command_line *cl) {
    bench_args *a = cl->args;
    if (model_flags_ready(&a->m) != 0) return 1;
    const shape_flags *s = &a->shape;
    mtp_config c = {0};
    config_set_defaults(&c);
    c.vocab_size = s->vocab_size, c.n_layer = s->n_layer, c.n_future = s->n_future, c.dim = s->dim;
    c.n_head = s->n_head, c.n_kv_head = s->n_kv_head ? s->n_kv_head : s->n_head;
    c.ffn_dim = s->ffn_dim ? s->ffn_dim : config_default_ffn_dim(s->dim);
    c.max_seq_len = s->seq_len;
    c.head_type = s->head_type, c.head_order = s->head_order;
    const char *schedule = s->schedule == SCHEDULE_NAIVE ? "naive" : "sequential";
    bench_train_result r;
    if (bench_train_run(&c, s->batch, s->seq_len, (head_schedule)s->schedule, a->steps, &r) != 0) return 1;
    const step_flops *fl = &r.flops;
    if (a->json) {
        printf(
            "{\"vocab_size\": %d, \"dim\": %d, \"n_layer\": %d, \"n_future\": %d, \"head_type\": \"%s\", "
            "\"head_order\": \"%s\", \"seq_len\": %d, \"batch\": %d, "
            "\"schedule\": \"%s\", \"threads\": %d, \"ms_per_step\": %.3f, \"tokens_per_sec\": %.1f, "
            "\"gflop_per_step\": %.3f, \"gflops\": %.2f, \"ceiling_gflops\": %.2f, \"mfu\": %.4f, "
            "\"peak_rss_mb\": %.1f, \"peak_device_mb\": %.1f, \"device\": \"%s\", \"precision\": \"%s\", "
            "\"blas\": \"%s\", \"kernels\": \"%s\"}\n",
            c.vocab_size, c.dim, c.n_layer, c.n_future, config_head_type_name(c.head_type),
            config_head_order_name(c.head_order), s->seq_len, s->batch, schedule, op_get_threads(),
            r.median_ms, r.tokens_per_sec, fl->total / 1e9, r.gflops, r.ceiling_gflops,
            r.gflops / r.ceiling_gflops, r.peak_mb, r.peak_device_mb, op_device_name(op_current_device()),
            op_precision_name((op_precision)a->m.precision), op_blas_info(), op_cpu_kernels());
        return 0;
    }
    printf("config: V=%d d=%d H=%d Hkv=%d f=%d L=%d n=%d (%s %s heads) T=%d B=%d, %s schedule, %d threads\n",
           c.vocab_size, c.dim, c.n_head, c.n_kv_head, c.ffn_dim, c.n_layer, c.n_future,
           config_head_order_name(c.head_order), config_head_type_name(c.head_type), s->seq_len, s->batch,
           schedule, op_get_threads());
    if (op_current_device() == OP_DEVICE_CPU)
        printf("kernels: %s; BLAS: %s; matmul ceiling (2048^3, ours or BLAS): %.1f GFLOP/s\n",
               op_cpu_kernels(), op_blas_info(), r.ceiling_gflops);
    else
        printf("device: %s; %s products, their ceiling (2048^3): %.1f GFLOP/s\n", op_device_info(),
               op_precision_name((op_precision)a->m.precision), r.ceiling_gflops);
    printf("step: median %.1f ms over %d steps (min %.1f, max %.1f), %.0f tokens/s\n", r.median_ms, a->steps,
           r.min_ms, r.max_ms, r.tokens_per_sec);
    printf(
        "work: %.1f GFLOP/step (blocks %.0f%%, attention %.0f%%, unembedding %.0f%%), AdamW moves %.0f MB\n",
        fl->total / 1e9, 100 * fl->blocks / fl->total, 100 * fl->attention / fl->total,
        100 * fl->unembed / fl->total, fl->optimizer_bytes / 1e6);
    printf("achieved: %.1f GFLOP/s = %.1f%% of the matmul ceiling (MFU)\n", r.gflops,
           100 * r.gflops / r.ceiling_gflops);
    printf("peak memory: %.0f MB\n", r.peak_mb);
    if (r.peak_device_mb > 0)
        printf("peak GPU memory: %.0f MB (the model's allocations)\n", r.peak_device_mb);
    return 0;
}

static const bench_args BENCH_TRAIN_DEFAULTS = {
    .shape =
        {.vocab_size = 256, .n_layer = 6, .n_future = 1, .dim = 256, .n_head = 8, .seq_len = 256, .batch = 8},
    .steps = 5};

const command_spec CMD_BENCH_TRAIN = {
    .name = "bench-train",
    .summary = "time training steps: ms/step, tokens/s, GFLOP/s, MFU, memory",
    .usage = "usage: mtp bench-train [flags]",
    .about =
        "Times training steps of a randomly initialized model on random tokens (no data\n"
        "needed) and reports median ms/step, tokens/s, GFLOP/s, the fraction of this\n"
        "machine's measured single-precision matrix-product ceiling (MFU, same thread\n"
        "count), and peak memory. The defaults are the small byte-level config.",
    .groups = {{NULL, SHAPE_FLAGS, offsetof(bench_args, shape),
                "--vocab-size --n-layer --n-future --dim --n-head --n-kv-head --ffn-dim --seq-len "
                "--batch --schedule --head-type --head-order"},
               {NULL, BENCH_FLAGS, 0},
               {NULL, MODEL_FLAGS, offsetof(bench_args, m), "--threads --device --precision"}},
    COMMAND_RUN(run_bench_train, BENCH_TRAIN_DEFAULTS),
};
