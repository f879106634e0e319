// bench_train.h: the speed of training steps of a randomly initialized
// model on random tokens (mtp bench-train): median ms/step, tokens/s,
// achieved GFLOP/s against this machine's measured single-precision
// matrix-product ceiling (MFU, same thread count), and peak memory.
#ifndef MTP_TASKS_BENCH_TRAIN_H
#define MTP_TASKS_BENCH_TRAIN_H

#include "model/config.h"
#include "model/flops.h"
#include "model/model.h"

typedef struct {
    double median_ms, min_ms, max_ms;
    double tokens_per_sec, gflops;
    double ceiling_gflops;  // best 2048^3 product (the CPU's own or its BLAS library's)
    double peak_mb;         // peak resident memory of the process
    double peak_device_mb;  // on a GPU: the most memory its buffers held at once (op_device_peak_bytes)
    step_flops flops;
} bench_train_result;

// The fastest 2048^3 single-precision product on the current device, after
// warm-up: on the CPU the better of its own (ops/cpu/gemm.c) and the BLAS
// library's, 7 tries each, alternating; on a GPU 7 tries. The ceiling a
// training step could reach if it were all large matrix products.
double bench_matmul_ceiling_gflops(void);
// Times `steps` steps after one warm-up step.
int bench_train_run(const mtp_config *c, int B, int T, head_schedule schedule, int steps,
                    bench_train_result *r);

#endif
