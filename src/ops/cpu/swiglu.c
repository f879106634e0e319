// swiglu.c: the gated activation of the Llama MLP, silu(gate) * up, on
// native vectors with the polynomial exp of vecn.h (libm's expf is a call per
// element, most of this kernel's time). Every element, the last partial
// vector's included, goes through the same vector arithmetic, so a value does
// not depend on where the threads split the array (decoding's rows stay
// bit-identical whatever their number).
#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/vecn.h"
#include "ops/ops.h"

// 1 / (1 + exp(-g)) lane by lane (expn clamps: for g < -88 the sigmoid is
// 1 / (1 + e^88), below 1e-38, and for g > 87 exactly 1).
static inline vfn sigmoidn(vfn g) {
    return splatn(1.0f) / (splatn(1.0f) + expn(-g));
}

// The last n < VN values of an array, zero-padded, and back.
static inline vfn load_rest(const float *p, int n) {
    float buf[VN] = {0};
    memcpy(buf, p, sizeof(float) * (size_t)n);
    return loadn(buf);
}
static inline void store_rest(float *p, vfn v, int n) {
    memcpy(p, &v, sizeof(float) * (size_t)n);
}

static inline vfn swiglun(vfn g, vfn u) {
    return g * sigmoidn(g) * u;
}

void cpu_swiglu_forward(float *out, const float *gate, const float *up, size_t n) {
    const long full = (long)(n / VN);
#pragma omp parallel for if (n >= OP_PARALLEL_MIN_WORK) schedule(static)
    for (long i = 0; i < full; i++) storen(out + i * VN, swiglun(loadn(gate + i * VN), loadn(up + i * VN)));
    const size_t at = (size_t)full * VN;
    const int rest = (int)(n - at);
    if (rest) store_rest(out + at, swiglun(load_rest(gate + at, rest), load_rest(up + at, rest)), rest);
}

// forward: out = g * sig(g) * u
// dg = dout * u * sig(g) * (1 + g * (1 - sig(g))); du = dout * g * sig(g)
static inline void swiglu_gradn(vfn *dg, vfn *du, vfn d, vfn g, vfn u) {
    const vfn sg = sigmoidn(g);
    *dg = d * u * sg * (splatn(1.0f) + g * (splatn(1.0f) - sg));
    *du = d * g * sg;
}

void cpu_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                         size_t n) {
    const long full = (long)(n / VN);
#pragma omp parallel for if (n >= OP_PARALLEL_MIN_WORK) schedule(static)
    for (long i = 0; i < full; i++) {
        vfn dg, du;
        swiglu_gradn(&dg, &du, loadn(dout + i * VN), loadn(gate + i * VN), loadn(up + i * VN));
        storen(dgate + i * VN, dg);
        storen(dup + i * VN, du);
    }
    const size_t at = (size_t)full * VN;
    const int rest = (int)(n - at);
    if (rest) {
        vfn dg, du;
        swiglu_gradn(&dg, &du, load_rest(dout + at, rest), load_rest(gate + at, rest),
                     load_rest(up + at, rest));
        store_rest(dgate + at, dg, rest);
        store_rest(dup + at, du, rest);
    }
}
