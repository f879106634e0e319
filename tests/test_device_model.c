// test_device_model.c: a training step of the model on a device against the
// same step on the CPU: every head's loss and every gradient tensor, for
// n = 1, 2 and 4 heads, grouped-query attention, both head schedules, linear
// and causal heads. Run on the cpu-check device (the CPU kernels behind the
// device interface) the two must agree bit for bit, which checks the model's
// use of the interface on any machine; run on CUDA, where a GPU is (build with
// make CUDA=1), within 1e-4 of the largest value of each tensor (float32
// products in a different order).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/error.h"
#include "core/rng.h"
#include "model/config.h"
#include "model/model.h"
#include "ops/ops.h"

typedef struct {
    const char *name;
    int n_future, n_head, n_kv_head, head_type, head_order;
    head_schedule schedule;
} variant;

// One step's head losses and gradients (host) of cfg on device `dev`,
// weights from seed, on the given token rows.
static int step_on(op_device dev, const mtp_config *cfg, head_schedule schedule, const int32_t *rows, int B,
                   int T, double *losses, param_set *grads) {
    if (op_use_device(dev) != 0) return -1;
    mtp_model m;
    model_work w;
    memset(&w, 0, sizeof w);
    int rc = model_create(&m, cfg);
    if (rc == 0) {
        params_init(&m.params, cfg, 11);
        rc = model_to_device(&m) || model_work_alloc(&w, &m, B, T, schedule, 1);
    }
    if (rc == 0) {
        model_zero_grads(&w);
        rc = model_forward_backward(&w, rows, B, T, 1.0f, losses) || params_alloc(grads, cfg);
    }
    if (rc == 0) {
        if (w.grads.on_device)
            op_download(grads->memory, w.grads.memory, sizeof(float) * w.grads.total);
        else
            memcpy(grads->memory, w.grads.memory, sizeof(float) * w.grads.total);
        rc = op_sync();
    }
    model_work_free(&w);
    model_free(&m);
    op_use_device(OP_DEVICE_CPU);
    return rc;
}

static void compare(const char *variant_name, const mtp_config *cfg, const double *l0, const double *l1,
                    const param_set *g0, const param_set *g1, double tol) {
    double worst_loss = 0.0, worst_grad = 0.0;
    for (int k = 0; k < cfg->n_future; k++) {
        double e = fabs(l1[k] - l0[k]) / fabs(l0[k]);
        worst_loss = e > worst_loss ? e : worst_loss;
    }
    char worst_name[sizeof(((named_tensor *)0)->name)] = "";  // a copy: the name lives in its named_tensor
    int zero = 0;  // a tensor whose CPU gradient is all zeros would compare vacuously
    for (int i = 0; i < params_tensor_count(cfg); i++) {
        named_tensor a, b;
        params_named(g0, cfg, i, &a);
        params_named(g1, cfg, i, &b);
        size_t n = (size_t)a.shape[0] * (size_t)(a.ndim == 2 ? a.shape[1] : 1);
        double diff = 0.0, scale = 0.0;
        for (size_t j = 0; j < n; j++) {
            double d = fabs((double)a.data[j] - (double)b.data[j]);
            diff = isnan(d) || d > diff ? (isnan(d) ? INFINITY : d) : diff;
            scale = fabs((double)a.data[j]) > scale ? fabs((double)a.data[j]) : scale;
        }
        zero += scale == 0.0;
        double e = scale > 0.0 ? diff / scale : diff;
        if (e > worst_grad || isinf(e)) {
            worst_grad = e;
            snprintf(worst_name, sizeof worst_name, "%s", a.name);
        }
    }
    CHECK(zero == 0 && l0[0] > 0.0, "%s: %d gradient tensors are all zeros on the CPU", variant_name, zero);
    printf("| %s | %.2e | %.2e %s | %.0e |\n", variant_name, worst_loss, worst_grad, worst_name, tol);
    CHECK(worst_loss <= tol && worst_grad <= tol, "%s: loss error %.3g, gradient error %.3g (%s) above %.0e",
          variant_name, worst_loss, worst_grad, worst_name, tol);
}

static void run_device(op_device dev, double tol) {
    static const variant variants[] = {
        {"n=1", 1, 4, 4, MTP_HEAD_TRANSFORMER, MTP_HEAD_PARALLEL, SCHEDULE_SEQUENTIAL},
        {"n=2", 2, 4, 4, MTP_HEAD_TRANSFORMER, MTP_HEAD_PARALLEL, SCHEDULE_SEQUENTIAL},
        {"n=4, GQA (4 query heads, 2 kv)", 4, 4, 2, MTP_HEAD_TRANSFORMER, MTP_HEAD_PARALLEL,
         SCHEDULE_SEQUENTIAL},
        {"n=4, GQA, naive schedule", 4, 4, 2, MTP_HEAD_TRANSFORMER, MTP_HEAD_PARALLEL, SCHEDULE_NAIVE},
        {"n=3, linear heads", 3, 4, 4, MTP_HEAD_LINEAR, MTP_HEAD_PARALLEL, SCHEDULE_SEQUENTIAL},
        {"n=3, causal heads", 3, 4, 4, MTP_HEAD_TRANSFORMER, MTP_HEAD_CAUSAL, SCHEDULE_SEQUENTIAL},
    };
    printf(
        "device: %s\n\n| variant | max loss error | max gradient error (tensor) | tolerance "
        "|\n|---|---:|---|---:|\n",
        op_device_name(dev));
    const int B = 3, T = 24;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        const variant *x = &variants[v];
        mtp_config c;
        config_set_defaults(&c);
        c.vocab_size = 97, c.dim = 64, c.n_head = x->n_head, c.n_kv_head = x->n_kv_head, c.ffn_dim = 160;
        c.n_layer = 6, c.n_future = x->n_future, c.max_seq_len = 32;
        c.head_type = x->head_type, c.head_order = x->head_order;
        int row_len = T + c.n_future;
        int32_t *rows = malloc(sizeof(int32_t) * (size_t)B * row_len);
        mtp_rng r;
        mtp_rng_seed(&r, 3 + v);
        for (int i = 0; rows && i < B * row_len; i++)
            rows[i] = (int32_t)mtp_rng_below(&r, (uint64_t)c.vocab_size);
        double l0[MTP_MAX_FUTURE], l1[MTP_MAX_FUTURE];
        param_set g0 = {0}, g1 = {0};
        int rc = !rows || step_on(OP_DEVICE_CPU, &c, x->schedule, rows, B, T, l0, &g0) ||
                 step_on(dev, &c, x->schedule, rows, B, T, l1, &g1);
        CHECK(rc == 0, "%s on %s: %s", x->name, op_device_name(dev), mtp_last_error());
        if (rc == 0) compare(x->name, &c, l0, l1, &g0, &g1, tol);
        params_free(&g0);
        params_free(&g1);
        free(rows);
    }
    printf("\n");
}

int main(void) {
    op_set_threads(2);
    run_device(OP_DEVICE_CPU_CHECK, 0.0);  // the same kernels: the same bits
#ifdef MTP_CUDA
    if (op_use_device(OP_DEVICE_CUDA) == 0) {
        op_use_device(OP_DEVICE_CPU);
        run_device(OP_DEVICE_CUDA, 1e-4);
    } else {
        printf("no GPU here (%s): the CUDA comparison is left to a machine with one\n", mtp_last_error());
    }
#endif
    return test_finish("test_device_model");
}
