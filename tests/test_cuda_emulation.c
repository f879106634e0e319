// test_cuda_emulation.c: CUDA kernels run on the host, without a GPU, in the
// emulation of tests/cuda_emu/ (each block's threads as fibers with real
// barriers and shuffles; WMMA tiles computed whole; launch sizes, shared
// memory and WMMA operand alignment checked as an H100 would), against the CPU
// backend: the fused bf16 flash attention (forward, backward, grouped heads,
// partial tiles, a prefill over a strided KV cache, both head dimensions) and
// the cross-entropy. This checks the kernels' indexing, masking, tiling and
// synchronization; their speed, and what the emulation cannot model (the
// hardware's memory ordering, bank conflicts), is for test_cuda_ops and
// gpu/check.sh on a GPU.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/rng.h"
#include "cuda_emu/emu.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/cuda/cuda_ops.h"
#include "ops/ops.h"

static float *host(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        printf("out of memory\n");
        exit(1);
    }
    return p;
}

static float *randn(mtp_rng *r, size_t n) {
    float *p = host(n);
    for (size_t i = 0; i < n; i++) p[i] = (float)mtp_rng_normal(r);
    return p;
}

// max |got - want| over max |want|; infinite when got has a non-finite value
static double rel_error(const float *got, const float *want, size_t n) {
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) return INFINITY;
        double e = fabs((double)got[i] - (double)want[i]);
        worst = e > worst ? e : worst;
        scale = fabs((double)want[i]) > scale ? fabs((double)want[i]) : scale;
    }
    return worst / (scale > 0.0 ? scale : 1.0);
}

static void no_failure(const char *what) {
    const char *f = emu_take_failure();
    CHECK(f == NULL, "%s: %s", what, f ? f : "");
}

// bf16 operands and probabilities: about 3 significant digits per product,
// summed in float; the same tolerance as test_cuda_ops on a GPU.
static const double BF16_TOL = 3e-2;

// Forward of Tq query rows after Tk - Tq cached positions (keys and values at
// batch stride `cap` positions, cap >= Tk; kept as a KV cache keeps them, each
// head's positions together, where cap > Tk), against the CPU; then, for Tq =
// Tk, the backward.
static void check_flash(mtp_rng *r, int B, int Tq, int Tk, int cap, int H, int Hkv, int hd) {
    const size_t nq = (size_t)B * Tq * H * hd, nkv = (size_t)B * cap * Hkv * hd, nl = (size_t)B * H * Tq;
    op_kv_layout kv = cap > Tk ? op_kv_heads(cap, hd) : op_kv_rows(cap, Hkv, hd);
    kv.batch = (size_t)cap * Hkv * hd;
    float *q = randn(r, nq), *k = randn(r, nkv), *v = randn(r, nkv), *dout = randn(r, nq);
    float *out = host(nq), *lse = host(nl), *got = host(nq), *got_lse = host(nl);
    float *scratch = host(op_attention_scratch_floats(hd) * 2);
    cpu_attention_forward(out, lse, q, k, v, B, Tq, Tk, H, Hkv, hd, kv, scratch, 2);
    int rc = cuda_flash_attention_forward(got, got_lse, q, k, v, B, Tq, Tk, H, Hkv, hd, kv);
    no_failure("flash forward");
    double e_out = rel_error(got, out, nq), e_lse = rel_error(got_lse, lse, nl);
    CHECK(rc == 0 && e_out < BF16_TOL && e_lse < BF16_TOL,
          "flash forward B=%d Tq=%d Tk=%d H=%d Hkv=%d hd=%d: rc %d, out %.3g, lse %.3g", B, Tq, Tk, H, Hkv,
          hd, rc, e_out, e_lse);
    printf("flash forward  B=%d Tq=%3d Tk=%3d H=%d Hkv=%d hd=%3d: out %.2e lse %.2e\n", B, Tq, Tk, H, Hkv, hd,
           e_out, e_lse);
    if (Tq == Tk && cap == Tk) {
        const size_t nk = (size_t)B * Tk * Hkv * hd;
        float *dq = host(nq), *dk = host(nk), *dv = host(nk), *D = host(nl);
        float *gdq = host(nq), *gdk = host(nk), *gdv = host(nk);
        cpu_attention_backward(dq, dk, dv, dout, out, lse, q, k, v, B, Tq, H, Hkv, hd, scratch, 2);
        // D (B, H, T): each query row's dout . out, as attention.cu's row_dots_kernel makes it
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < Tq; i++) {
                    const float *o = out + (((size_t)b * Tq + i) * H + h) * hd,
                                *g = dout + (((size_t)b * Tq + i) * H + h) * hd;
                    double s = 0.0;
                    for (int e = 0; e < hd; e++) s += (double)o[e] * g[e];
                    D[((size_t)b * H + h) * Tq + i] = (float)s;
                }
        rc = cuda_flash_attention_backward(gdq, gdk, gdv, dout, lse, D, q, k, v, B, Tq, H, Hkv, hd);
        no_failure("flash backward");
        double e_dq = rel_error(gdq, dq, nq), e_dk = rel_error(gdk, dk, nk), e_dv = rel_error(gdv, dv, nk);
        CHECK(rc == 0 && e_dq < BF16_TOL && e_dk < BF16_TOL && e_dv < BF16_TOL,
              "flash backward B=%d T=%d H=%d Hkv=%d hd=%d: rc %d, dq %.3g, dk %.3g, dv %.3g", B, Tq, H, Hkv,
              hd, rc, e_dq, e_dk, e_dv);
        printf("flash backward B=%d T=%3d H=%d Hkv=%d hd=%3d: dq %.2e dk %.2e dv %.2e\n", B, Tq, H, Hkv, hd,
               e_dq, e_dk, e_dv);
        free(dq), free(dk), free(dv), free(D), free(gdq), free(gdk), free(gdv);
    }
    free(q), free(k), free(v), free(dout), free(out), free(lse), free(got), free(got_lse), free(scratch);
}

// Losses and, with grad_scale, gradients in place, against the CPU.
static void check_xent(mtp_rng *r, int N, int V, float grad_scale) {
    const size_t n = (size_t)N * V;
    float *logits = randn(r, n), *got = host(n), *loss = host((size_t)N), *got_loss = host((size_t)N);
    int32_t *targets = malloc((size_t)N * sizeof *targets);
    for (size_t i = 0; i < n; i++) logits[i] *= 4.0f;
    for (int i = 0; i < N; i++) targets[i] = (int32_t)mtp_rng_below(r, (uint64_t)V);
    memcpy(got, logits, n * sizeof(float));
    cpu_softmax_xent(logits, loss, targets, N, V, grad_scale);
    cuda_softmax_xent(got, got_loss, targets, N, V, grad_scale);
    no_failure("xent");
    double e_loss = rel_error(got_loss, loss, (size_t)N),
           e_grad = grad_scale != 0.0f ? rel_error(got, logits, n) : 0.0;
    CHECK(e_loss < 1e-5 && e_grad < 1e-5, "xent N=%d V=%d scale=%g: loss %.3g, gradient %.3g", N, V,
          (double)grad_scale, e_loss, e_grad);
    printf("xent N=%d V=%4d scale=%g: loss %.2e gradient %.2e\n", N, V, (double)grad_scale, e_loss, e_grad);
    free(logits), free(got), free(loss), free(got_loss), free(targets);
}

int main(void) {
    mtp_rng r;
    mtp_rng_seed(&r, 17);
    long before = emu_blocks_run();
    check_flash(&r, 2, 150, 150, 150, 4, 2, 64);   // 3 tiles (64 + 64 + 22), two query heads per kv head
    check_flash(&r, 1, 100, 100, 100, 2, 1, 128);  // head dim 128, a partial second tile
    check_flash(&r, 2, 70, 115, 130, 2, 2, 64);    // a prefill after 45 cached positions, cache of 130
    check_flash(&r, 1, 1, 77, 80, 2, 1, 128);      // one query row over a cache
    CHECK(cuda_flash_attention_forward(NULL, NULL, NULL, NULL, NULL, 1, 8, 8, 1, 1, 32,
                                       op_kv_rows(8, 1, 32)) == -1,
          "head dim 32 is declined, for the batched-products path to take");
    check_xent(&r, 3, 300, 0.5f);   // fewer logits than threads
    check_xent(&r, 4, 1000, 0.0f);  // losses only
    check_xent(&r, 2, 5000, 1.0f);
    check_xent(&r, 2, 13000, 0.5f);  // above 48 KB of shared memory: asked for
    check_xent(&r, 2, 60000, 0.5f);  // above 227 KB: the row read twice
    CHECK(emu_blocks_run() > before, "the kernels ran");
    return test_finish("test_cuda_emulation");
}
