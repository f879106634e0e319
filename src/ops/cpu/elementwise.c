// elementwise.c: small whole-tensor passes.
#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/parallel.h"
#include "ops/ops.h"

void cpu_add_inplace(float *y, const float *x, size_t n) {
#pragma omp parallel for if (n >= OP_PARALLEL_MIN_WORK) schedule(static)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}
