// swiglu.c: the gated activation of the Llama MLP, silu(gate) * up.
#include <math.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/parallel.h"
#include "ops/ops.h"

void cpu_swiglu_forward(float *out, const float *gate, const float *up, size_t n) {
#pragma omp parallel for if (n >= OP_PARALLEL_MIN_WORK) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void cpu_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                         size_t n) {
    // forward: out = g * sig(g) * u
    // dg = dout * u * sig(g) * (1 + g * (1 - sig(g))); du = dout * g * sig(g)
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], sg = 1.0f / (1.0f + expf(-g));
        float d = dout[i];
        dgate[i] = d * up[i] * sg * (1.0f + g * (1.0f - sg));
        dup[i] = d * g * sg;
    }
}
