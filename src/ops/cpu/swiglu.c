// swiglu.c: the gated activation of the Llama MLP, silu(gate) * up, on
// 16-lane vectors with the polynomial exp of vec16.h (libm's expf is a call
// per element, most of this kernel's time). Every element, the last partial
// vector's included, goes through the same vector arithmetic, so a value does
// not depend on where the threads split the array (decoding's rows stay
// bit-identical whatever their number).
#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/vec16.h"
#include "ops/ops.h"

// 1 / (1 + exp(-g)) lane by lane (exp16 clamps: for g < -88 the sigmoid is
// 1 / (1 + e^88), below 1e-38, and for g > 87 exactly 1).
static inline f32x16 sigmoid16(f32x16 g) {
    f32x16 e = -g;
    e = exp16(&e);
    return splat16(1.0f) / (splat16(1.0f) + e);
}

static inline f32x16 swiglu16(f32x16 g, f32x16 u) {
    return g * sigmoid16(g) * u;
}

void cpu_swiglu_forward(float *out, const float *gate, const float *up, size_t n) {
    const long full = (long)(n / LANES);
#pragma omp parallel for if (n >= OP_PARALLEL_MIN_WORK) schedule(static)
    for (long i = 0; i < full; i++) {
        const f32x16 o = swiglu16(load16(gate + i * LANES), load16(up + i * LANES));
        memcpy(out + i * LANES, &o, sizeof o);
    }
    const size_t at = (size_t)full * LANES;
    if (at < n) {  // the last n % 16 values, zero-padded
        const f32x16 o = swiglu16(load_tail(gate + at, (int)(n - at)), load_tail(up + at, (int)(n - at)));
        memcpy(out + at, &o, sizeof(float) * (n - at));
    }
}

// dg = dout * u * sig(g) * (1 + g * (1 - sig(g))); du = dout * g * sig(g)
static inline void swiglu_grad16(f32x16 *dg, f32x16 *du, f32x16 d, f32x16 g, f32x16 u) {
    const f32x16 sg = sigmoid16(g);
    *dg = d * u * sg * (splat16(1.0f) + g * (splat16(1.0f) - sg));
    *du = d * g * sg;
}

void cpu_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                         size_t n) {
    // forward: out = g * sig(g) * u
    const long full = (long)(n / LANES);
#pragma omp parallel for if (n >= OP_PARALLEL_MIN_WORK) schedule(static)
    for (long i = 0; i < full; i++) {
        f32x16 dg, du;
        swiglu_grad16(&dg, &du, load16(dout + i * LANES), load16(gate + i * LANES), load16(up + i * LANES));
        memcpy(dgate + i * LANES, &dg, sizeof dg);
        memcpy(dup + i * LANES, &du, sizeof du);
    }
    const size_t at = (size_t)full * LANES;
    if (at < n) {
        const int rest = (int)(n - at);
        f32x16 dg, du;
        swiglu_grad16(&dg, &du, load_tail(dout + at, rest), load_tail(gate + at, rest),
                      load_tail(up + at, rest));
        memcpy(dgate + at, &dg, sizeof(float) * rest);
        memcpy(dup + at, &du, sizeof(float) * rest);
    }
}
