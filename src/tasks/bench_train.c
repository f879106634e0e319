// bench_train.c: see bench_train.h.
#include "tasks/bench_train.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/timer.h"
#include "ops/ops.h"
#include "train/step.h"

double bench_matmul_ceiling_gflops(void) {
    // on the ops' current device: the ceiling of the device the steps run on
    const int n = 2048;
    const size_t bytes = sizeof(float) * n * n;
    float *h = mtp_malloc(bytes, "ceiling matrix");
    float *a = op_alloc(bytes, "ceiling matrix"), *b = op_alloc(bytes, "ceiling matrix"),
          *c = op_alloc(bytes, "ceiling matrix");
    double best = 0.0;
    if (h && a && b && c) {
        for (size_t i = 0; i < (size_t)n * n; i++) h[i] = (float)(i % 7) * 0.01f;
        op_upload(a, h, bytes);
        op_upload(b, h, bytes);
        op_sync();
        // on the CPU, the better of its own products and the BLAS library's, alternating
        const int cpu = op_current_device() != OP_DEVICE_CUDA;
        for (int r = 0; r < (cpu ? 16 : 8); r++) {
            double t0 = mtp_now();
            if (cpu && r % 2)
                op_blas_matmul_forward(op_host_view(c), op_host_view(a), op_host_view(b), n, n, n);
            else
                op_matmul_forward(c, a, b, n, n, n);
            op_sync();
            double g = 2.0 * n * n * (double)n / (mtp_now() - t0) / 1e9;
            if (r > 1 && g > best) best = g;  // the first run of each warms up
        }
    }
    free(h);
    op_free(a);
    op_free(b);
    op_free(c);
    return best;
}

static int compare_doubles(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int bench_train_run(const mtp_config *c, int B, int T, head_schedule schedule, int steps,
                    bench_train_result *r) {
    memset(r, 0, sizeof *r);
    r->ceiling_gflops = bench_matmul_ceiling_gflops();
    mtp_model m = {0};
    model_work w = {0};
    adamw_state opt = {0};
    optim_config o;
    optim_config_defaults(&o);
    o.total_steps = steps + 1;
    int rc = -1, row_len = T + c->n_future;
    int32_t *rows = NULL;
    double *ms = mtp_calloc((size_t)steps, sizeof *ms, "timings");
    if (!ms || model_create(&m, c) != 0) goto done;
    params_init(&m.params, c, 1);
    if (model_to_device(&m) != 0) goto done;
    if (model_work_alloc(&w, &m, B, T, schedule, 1) != 0 || adamw_alloc(&opt, c) != 0) goto done;
    if (!(rows = mtp_malloc(sizeof(int32_t) * (size_t)B * row_len, "rows"))) goto done;
    mtp_rng rng;
    mtp_rng_seed(&rng, 1);
    for (size_t i = 0; i < (size_t)B * row_len; i++)
        rows[i] = (int32_t)mtp_rng_below(&rng, (uint64_t)c->vocab_size);
    const int32_t *micro[1] = {rows};
    step_result sr;
    for (int s = 0; s <= steps; s++) {
        double t0 = mtp_now();
        if (train_step(&m, &w, &opt, &o, s, micro, 1, B, T, NULL, &sr) != 0 || op_sync() != 0) goto done;
        if (s > 0) ms[s - 1] = 1e3 * (mtp_now() - t0);
    }
    qsort(ms, (size_t)steps, sizeof *ms, compare_doubles);
    r->median_ms = steps % 2 ? ms[steps / 2] : 0.5 * (ms[steps / 2 - 1] + ms[steps / 2]);
    r->min_ms = ms[0];
    r->max_ms = ms[steps - 1];
    r->flops = model_step_flops(c, B, T);
    r->gflops = r->flops.total / (r->median_ms * 1e-3) / 1e9;
    r->tokens_per_sec = (double)B * T / (r->median_ms * 1e-3);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->peak_mb = ru.ru_maxrss / 1024.0;
    r->peak_device_mb = (double)op_device_peak_bytes() / 1e6;
    rc = 0;
done:
    free(rows);
    free(ms);
    adamw_free(&opt);
    model_work_free(&w);
    model_free(&m);
    return rc;
}
