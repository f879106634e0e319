// test_cuda_ops.c: every op of the CUDA backend against the CPU backend
// (ops/cpu/, itself checked against float64 references by test_kernels),
// on the same random inputs: forward and backward, GQA attention, the
// training and decoding paths, AdamW over steps, the deterministic reductions
// run twice, and the decoding kernels' rows bit-identical whatever the row
// count. Prints one table row per op (max |cuda - cpu| over max |cpu|).
// Exits 77 (skip) in a build without CUDA (CUDA=1; or CUDA=emu, the host
// emulation of a GPU: tests/cuda_emu/) or on a machine without a GPU.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/ops.h"
#ifdef MTP_CUDA
#include "ops/cuda/cuda_ops.h"
#endif

static int n_failed, n_passed;

static float *host(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        printf("out of memory\n");
        exit(1);
    }
    return p;
}

static float *randn(mtp_rng *r, size_t n, float scale) {
    float *p = host(n);
    for (size_t i = 0; i < n; i++) p[i] = scale * (float)mtp_rng_normal(r);
    return p;
}

static float *clone(const float *x, size_t n) {
    float *p = host(n);
    memcpy(p, x, n * sizeof(float));
    return p;
}

// device copy of host x (n floats)
static float *dev(const float *x, size_t n) {
    float *d = op_alloc(n * sizeof(float), "test tensor");
    if (!d) {
        printf("device allocation failed: %s\n", mtp_last_error());
        exit(1);
    }
    op_upload(d, x, n * sizeof(float));
    return d;
}

// host copy of device d; frees d
static float *back(float *d, size_t n) {
    float *h = host(n);
    op_download(h, d, n * sizeof(float));
    op_free(d);
    return h;
}

// Compares got (from the GPU) with want (CPU): max |got - want| / max |want|.
static void compare(const char *op, const char *shape, const float *got, const float *want, size_t n,
                    double tol) {
    double worst = 0.0, scale = 0.0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) bad = 1;
        double e = fabs((double)got[i] - (double)want[i]);
        worst = e > worst ? e : worst;
        scale = fabs((double)want[i]) > scale ? fabs((double)want[i]) : scale;
    }
    double rel = bad ? INFINITY : worst / (scale > 0.0 ? scale : 1.0);
    int ok = rel <= tol && op_sync() == 0;
    ok ? n_passed++ : n_failed++;
    printf("| %s | %s | %.2e | %.0e | %s |\n", op, shape, rel, tol, ok ? "pass" : "FAIL");
}

static void identical(const char *what, const float *a, const float *b, size_t n) {
    int same = memcmp(a, b, n * sizeof(float)) == 0;
    same ? n_passed++ : n_failed++;
    printf("| %s | bit-identical | %s | 0 | %s |\n", what, same ? "yes" : "no", same ? "pass" : "FAIL");
}

static void check_matmul(mtp_rng *r, int N, int I, int O) {
    char shape[64];
    snprintf(shape, sizeof shape, "N=%d I=%d O=%d", N, I, O);
    float *x = randn(r, (size_t)N * I, 1.0f), *w = randn(r, (size_t)O * I, 0.1f),
          *dout = randn(r, (size_t)N * O, 1.0f);
    float *dx0 = randn(r, (size_t)N * I, 1.0f), *dw0 = randn(r, (size_t)O * I, 1.0f);
    float *y = host((size_t)N * O), *dx = clone(dx0, (size_t)N * I), *dw = clone(dw0, (size_t)O * I);
    cpu_matmul_forward(y, x, w, N, I, O);
    cpu_matmul_backward(dx, dw, dout, x, w, N, I, O, 1);
    float *dX = dev(x, (size_t)N * I), *dW = dev(w, (size_t)O * I), *dY = dev(y, (size_t)N * O),
          *dD = dev(dout, (size_t)N * O), *dDX = dev(dx0, (size_t)N * I), *dDW = dev(dw0, (size_t)O * I);
    op_matmul_forward(dY, dX, dW, N, I, O);
    op_matmul_backward(dDX, dDW, dD, dX, dW, N, I, O, 1);
    float *gy = back(dY, (size_t)N * O), *gdx = back(dDX, (size_t)N * I), *gdw = back(dDW, (size_t)O * I);
    compare("matmul forward", shape, gy, y, (size_t)N * O, 1e-5);
    compare("matmul backward dinp (+=)", shape, gdx, dx, (size_t)N * I, 1e-5);
    compare("matmul backward dw (+=)", shape, gdw, dw, (size_t)O * I, 1e-5);
    // overwrite mode of dinp
    float *dx1 = host((size_t)N * I);
    cpu_matmul_backward(dx1, NULL, dout, x, w, N, I, O, 0);
    float *dDX1 = dev(dx0, (size_t)N * I);
    op_matmul_backward(dDX1, NULL, dD, dX, dW, N, I, O, 0);
    float *gdx1 = back(dDX1, (size_t)N * I);
    compare("matmul backward dinp (=)", shape, gdx1, dx1, (size_t)N * I, 1e-5);
    // the decoding product: against the CPU, and each row alone gives the same bits
    float *yr = host((size_t)N * O);
    cpu_matmul_rows_forward(yr, x, w, N, I, O);
    float *dYR = dev(yr, (size_t)N * O);
    op_matmul_rows_forward(dYR, dX, dW, N, I, O);
    float *gyr = back(dYR, (size_t)N * O);
    compare("matmul rows (decoding)", shape, gyr, yr, (size_t)N * O, 1e-5);
    float *one = host((size_t)N * O);
    for (int i = 0; i < N; i++) {
        float *d1 = dev(x + (size_t)i * I, (size_t)I), *o1 = dev(one, (size_t)O);
        op_matmul_rows_forward(o1, d1, dW, 1, I, O);
        op_download(one + (size_t)i * O, o1, sizeof(float) * O);
        op_free(d1);
        op_free(o1);
    }
    identical("matmul rows: N rows = N single rows", one, gyr, (size_t)N * O);
    op_free(dX), op_free(dW), op_free(dD);
    free(x), free(w), free(dout), free(dx0), free(dw0), free(y), free(dx), free(dw), free(gy), free(gdx),
        free(gdw);
    free(dx1), free(gdx1), free(yr), free(gyr), free(one);
}

static void check_norm_rope(mtp_rng *r) {
    const int N = 37, d = 200, B = 2, T = 9, nh = 3, hd = 16;
    float *x = randn(r, (size_t)N * d, 2.0f), *w = randn(r, (size_t)d, 1.0f),
          *dout = randn(r, (size_t)N * d, 1.0f);
    float *dx0 = randn(r, (size_t)N * d, 1.0f), *dw0 = randn(r, (size_t)d, 1.0f);
    float *y = host((size_t)N * d), *rstd = host((size_t)N), *dx = clone(dx0, (size_t)N * d),
          *dw = clone(dw0, d);
    cpu_rmsnorm_forward(y, rstd, x, w, N, d, 1e-5f);
    cpu_rmsnorm_backward(dx, dw, dout, x, w, rstd, N, d);
    float *dX = dev(x, (size_t)N * d), *dWt = dev(w, d), *dY = dev(y, (size_t)N * d), *dR = dev(rstd, N),
          *dD = dev(dout, (size_t)N * d), *dDX = dev(dx0, (size_t)N * d), *dDW = dev(dw0, d);
    op_rmsnorm_forward(dY, dR, dX, dWt, N, d, 1e-5f);
    op_rmsnorm_backward(dDX, dDW, dD, dX, dWt, dR, N, d);
    float *gy = back(dY, (size_t)N * d), *gr = back(dR, N), *gdx = back(dDX, (size_t)N * d),
          *gdw = back(dDW, d);
    compare("rmsnorm forward", "N=37 d=200", gy, y, (size_t)N * d, 1e-5);
    compare("rmsnorm forward rstd", "N=37 d=200", gr, rstd, N, 1e-5);
    compare("rmsnorm backward dx (+=)", "N=37 d=200", gdx, dx, (size_t)N * d, 1e-5);
    compare("rmsnorm backward dw (+=)", "N=37 d=200", gdw, dw, d, 1e-5);
    op_free(dX), op_free(dWt), op_free(dD);
    // rope: forward then backward, from position 5
    const int Tmax = 32, half = hd / 2;
    float *ct = host((size_t)Tmax * half), *st = host((size_t)Tmax * half);
    op_rope_tables(ct, st, Tmax, hd, 10000.0f);
    size_t n = (size_t)B * T * nh * hd;
    float *q = randn(r, n, 1.0f), *qc = clone(q, n);
    float *dQ = dev(q, n), *dC = dev(ct, (size_t)Tmax * half), *dS = dev(st, (size_t)Tmax * half);
    cpu_rope_forward(qc, ct, st, B, T, nh, hd, 5);
    op_rope_forward(dQ, dC, dS, B, T, nh, hd, 5);
    float *gq = host(n);
    op_download(gq, dQ, n * sizeof(float));
    compare("rope forward", "B=2 T=9 nh=3 hd=16 pos0=5", gq, qc, n, 1e-6);
    cpu_rope_backward(qc, ct, st, B, T, nh, hd, 5);
    op_rope_backward(dQ, dC, dS, B, T, nh, hd, 5);
    float *gq2 = back(dQ, n);
    compare("rope backward", "B=2 T=9 nh=3 hd=16 pos0=5", gq2, qc, n, 1e-6);
    op_free(dC), op_free(dS);
    free(x), free(w), free(dout), free(dx0), free(dw0), free(y), free(rstd), free(dx), free(dw);
    free(gy), free(gr), free(gdx), free(gdw), free(ct), free(st), free(q), free(qc), free(gq), free(gq2);
}

static void check_pointwise(mtp_rng *r) {
    const size_t n = 10007;
    float *g = randn(r, n, 3.0f), *u = randn(r, n, 1.0f), *dout = randn(r, n, 1.0f);
    float *y = host(n), *dg = host(n), *du = host(n);
    cpu_swiglu_forward(y, g, u, n);
    cpu_swiglu_backward(dg, du, dout, g, u, n);
    float *dG = dev(g, n), *dU = dev(u, n), *dY = dev(y, n), *dD = dev(dout, n), *dDG = dev(dg, n),
          *dDU = dev(du, n);
    op_swiglu_forward(dY, dG, dU, n);
    op_swiglu_backward(dDG, dDU, dD, dG, dU, n);
    float *gy = back(dY, n), *gdg = back(dDG, n), *gdu = back(dDU, n);
    compare("swiglu forward", "n=10007", gy, y, n, 1e-6);
    compare("swiglu backward dgate", "n=10007", gdg, dg, n, 1e-6);
    compare("swiglu backward dup", "n=10007", gdu, du, n, 1e-6);
    float *acc = clone(g, n);
    cpu_add_inplace(acc, u, n);
    op_add_inplace(dG, dU, n);
    float *gadd = back(dG, n);
    compare("add in place", "n=10007", gadd, acc, n, 0.0);
    // embedding, with repeated tokens
    const int V = 50, N = 40, d = 72;
    int32_t tok[40];
    for (int i = 0; i < N; i++) tok[i] = (int32_t)(mtp_rng_below(r, 7) * 7);
    float *table = randn(r, (size_t)V * d, 1.0f), *e = host((size_t)N * d),
          *de = randn(r, (size_t)N * d, 1.0f);
    float *dtable = randn(r, (size_t)V * d, 1.0f), *dtable0 = clone(dtable, (size_t)V * d);
    cpu_embedding_forward(e, tok, table, N, d);
    cpu_embedding_backward(dtable, de, tok, N, V, d);
    int32_t *dTok = op_alloc(sizeof tok, "tokens");
    op_upload(dTok, tok, sizeof tok);
    float *dT = dev(table, (size_t)V * d), *dE = dev(e, (size_t)N * d), *dDE = dev(de, (size_t)N * d),
          *dDT = dev(dtable0, (size_t)V * d);
    op_embedding_forward(dE, dTok, dT, N, d);
    op_embedding_backward(dDT, dDE, dTok, N, V, d);
    float *ge = back(dE, (size_t)N * d), *gdt = back(dDT, (size_t)V * d);
    compare("embedding forward", "V=50 N=40 d=72", ge, e, (size_t)N * d, 0.0);
    compare("embedding backward (+=)", "V=50 N=40 d=72", gdt, dtable, (size_t)V * d, 0.0);
    op_free(dTok), op_free(dT), op_free(dDE), op_free(dU), op_free(dD);
    // AdamW, three steps
    const size_t m = 3001;
    float *p = randn(r, m, 1.0f), *mo = host(m), *vo = host(m), *gr = randn(r, m, 0.1f);
    float *dP = dev(p, m), *dM = dev(mo, m), *dV = dev(vo, m), *dGr = dev(gr, m);
    for (long step = 1; step <= 3; step++) {
        cpu_adamw(p, gr, mo, vo, m, 0.5f, 1e-3, 0.9, 0.95, 1e-8, 0.1, step);
        op_adamw(dP, dGr, dM, dV, m, 0.5f, 1e-3, 0.9, 0.95, 1e-8, 0.1, step);
    }
    float *gp = back(dP, m), *gm = back(dM, m), *gv = back(dV, m);
    compare("adamw params (3 steps)", "n=3001", gp, p, m, 1e-6);
    compare("adamw first moment", "n=3001", gm, mo, m, 1e-6);
    compare("adamw second moment", "n=3001", gv, vo, m, 1e-6);
    // sum of squares in double, twice for determinism
    const size_t big = 1000003;
    float *s = randn(r, big, 1.0f), *dS = dev(s, big);
    double want = cpu_sum_squares(s, big), got1 = op_sum_squares(dS, big), got2 = op_sum_squares(dS, big);
    float fw = (float)(want / 1e6), fg = (float)(got1 / 1e6);
    compare("sum of squares (double)", "n=1000003", &fg, &fw, 1, 1e-7);
    identical("sum of squares: two runs", (float[]){(float)got1}, (float[]){(float)got2}, 1);
    op_free(dS), op_free(dGr);
    free(g), free(u), free(dout), free(y), free(dg), free(du), free(gy), free(gdg), free(gdu), free(acc),
        free(gadd);
    free(table), free(e), free(de), free(dtable), free(dtable0), free(ge), free(gdt);
    free(p), free(mo), free(vo), free(gr), free(gp), free(gm), free(gv), free(s);
}

// Rows of V logits at an offset of `shift` floats into their allocation (1:
// not 16-byte aligned); targets random, or (targets_last) the row's last
// values, so that rows' targets sit at each of a 16-byte group's 4 places.
static void check_xent_at(mtp_rng *r, int N, int V, float grad_scale, int shift, int targets_last) {
    char shape[96];
    snprintf(shape, sizeof shape, "N=%d V=%d scale=%g%s%s", N, V, grad_scale, shift ? " misaligned" : "",
             targets_last ? " targets at the end" : "");
    float *lg = randn(r, (size_t)N * V, 3.0f), *loss = host(N);
    int32_t *t = malloc(sizeof(int32_t) * N);
    for (int i = 0; i < N; i++)
        t[i] = targets_last ? V - 1 - i % V : (int32_t)(mtp_rng_below(r, (uint64_t)V));
    float *dAll = op_alloc(sizeof(float) * ((size_t)N * V + (size_t)shift), "logits");
    float *dL = dAll + shift, *dLoss = dev(loss, N);
    op_upload(dL, lg, sizeof(float) * (size_t)N * V);
    int32_t *dTg = op_alloc(sizeof(int32_t) * N, "targets");
    op_upload(dTg, t, sizeof(int32_t) * N);
    cpu_softmax_xent(lg, loss, t, N, V, grad_scale);
    op_softmax_xent(dL, dLoss, dTg, N, V, grad_scale);
    float *gl = host((size_t)N * V), *gloss = back(dLoss, N);
    op_download(gl, dL, sizeof(float) * (size_t)N * V);
    compare("softmax xent losses", shape, gloss, loss, N, 1e-5);
    if (grad_scale != 0.0f) compare("softmax xent gradient (in place)", shape, gl, lg, (size_t)N * V, 1e-5);
    op_free(dTg), op_free(dAll);
    free(lg), free(loss), free(t), free(gl), free(gloss);
}

static void check_xent(mtp_rng *r, int N, int V, float grad_scale) {
    check_xent_at(r, N, V, grad_scale, 0, 0);
}

// The embedding's backward over more tokens than one shared-memory tile
// (2048), a table whose rows are not a multiple of a block's 8 warps and a
// width not a multiple of 32: each row adds its tokens in position order, so
// the CPU's bits exactly.
static void check_embedding_tiles(mtp_rng *r) {
    const int V = 301, N = 5000, d = 40;
    int32_t *tok = malloc(sizeof(int32_t) * N);
    for (int i = 0; i < N; i++) tok[i] = (int32_t)mtp_rng_below(r, i % 3 ? 13 : (uint64_t)V);
    float *de = randn(r, (size_t)N * d, 1.0f), *dtable = randn(r, (size_t)V * d, 1.0f);
    float *dDT = dev(dtable, (size_t)V * d), *dDE = dev(de, (size_t)N * d);
    int32_t *dTok = op_alloc(sizeof(int32_t) * N, "tokens");
    op_upload(dTok, tok, sizeof(int32_t) * N);
    cpu_embedding_backward(dtable, de, tok, N, V, d);
    op_embedding_backward(dDT, dDE, dTok, N, V, d);
    float *got = back(dDT, (size_t)V * d);  // frees dDT
    compare("embedding backward (+=)", "V=301 N=5000 d=40", got, dtable, (size_t)V * d, 0.0);
    op_free(dTok), op_free(dDE);
    free(tok), free(de), free(dtable), free(got);
}

#ifdef MTP_CUDA
// The fused bf16 attention (flash_attention.cu) against the CPU's float32:
// its inputs are rounded to bf16 (8 bits of mantissa), so it is held to 3e-2
// of the largest value. T not a multiple of the 64-row tiles; Tq < Tk for the
// forward (a prefill after cached positions, keys kept as a KV cache keeps
// them: each head's positions together).
static void check_flash_attention(mtp_rng *r, int B, int T, int H, int Hkv, int hd, int cached) {
    char shape[96];
    snprintf(shape, sizeof shape, "bf16 fused, B=%d T=%d H=%d Hkv=%d hd=%d cached=%d", B, T, H, Hkv, hd,
             cached);
    const int Tk = T + cached;
    size_t nq = (size_t)B * T * H * hd, nkv = (size_t)B * Tk * Hkv * hd, nl = (size_t)B * H * T;
    float *q = randn(r, nq, 1.0f), *k = randn(r, nkv, 1.0f), *v = randn(r, nkv, 1.0f),
          *dout = randn(r, nq, 1.0f);
    float *out = host(nq), *lse = host(nl), *dq = host(nq), *dk = host(nkv), *dv = host(nkv);
    float *scratch = host(op_attention_scratch_floats(hd) * 2);
    op_kv_layout kv = cached ? op_kv_heads(Tk, hd) : op_kv_rows(Tk, Hkv, hd);
    kv.batch = (size_t)Tk * Hkv * hd;
    cpu_attention_forward(out, lse, q, k, v, B, T, Tk, H, Hkv, hd, kv, scratch, 2);
    float *dQ = dev(q, nq), *dK = dev(k, nkv), *dV = dev(v, nkv), *dO = dev(out, nq), *dL = dev(lse, nl);
    op_set_precision(OP_PRECISION_BF16);
    cuda_set_flash_attention(1);
    op_attention_forward(dO, dL, dQ, dK, dV, B, T, Tk, H, Hkv, hd, kv, NULL, 0);
    float *go = host(nq), *gl = host(nl);
    op_download(go, dO, nq * sizeof(float));
    op_download(gl, dL, nl * sizeof(float));
    compare("attention forward", shape, go, out, nq, 3e-2);
    compare("attention forward lse", shape, gl, lse, nl, 3e-2);
    if (!cached) {
        cpu_attention_backward(dq, dk, dv, dout, out, lse, q, k, v, B, T, H, Hkv, hd, scratch, 2);
        float *dDO = dev(dout, nq), *dDQ = dev(dq, nq), *dDK = dev(dk, nkv), *dDV = dev(dv, nkv);
        // the forward's own out and lse, as training passes them
        op_attention_backward(dDQ, dDK, dDV, dDO, dO, dL, dQ, dK, dV, B, T, H, Hkv, hd, NULL, 0);
        float *gdq = back(dDQ, nq), *gdk = back(dDK, nkv), *gdv = back(dDV, nkv);
        compare("attention backward dq", shape, gdq, dq, nq, 3e-2);
        compare("attention backward dk", shape, gdk, dk, nkv, 3e-2);
        compare("attention backward dv", shape, gdv, dv, nkv, 3e-2);
        op_free(dDO);
        free(gdq), free(gdk), free(gdv);
    }
    cuda_set_flash_attention(0);
    op_set_precision(OP_PRECISION_FP32);
    op_free(dQ), op_free(dK), op_free(dV), op_free(dO), op_free(dL);
    free(q), free(k), free(v), free(dout), free(out), free(lse), free(dq), free(dk), free(dv), free(scratch);
    free(go), free(gl);
}
#endif

static void check_attention(mtp_rng *r, int B, int T, int H, int Hkv, int hd) {
    char shape[96];
    snprintf(shape, sizeof shape, "B=%d T=%d H=%d Hkv=%d hd=%d", B, T, H, Hkv, hd);
    size_t nq = (size_t)B * T * H * hd, nkv = (size_t)B * T * Hkv * hd, nl = (size_t)B * H * T;
    float *q = randn(r, nq, 1.0f), *k = randn(r, nkv, 1.0f), *v = randn(r, nkv, 1.0f),
          *dout = randn(r, nq, 1.0f);
    float *out = host(nq), *lse = host(nl), *dq = host(nq), *dk = host(nkv), *dv = host(nkv);
    size_t sf = op_attention_scratch_floats(hd) * 2;
    float *scratch = host(sf);
    cpu_attention_forward(out, lse, q, k, v, B, T, T, H, Hkv, hd, op_kv_rows(T, Hkv, hd), scratch, 2);
    cpu_attention_backward(dq, dk, dv, dout, out, lse, q, k, v, B, T, H, Hkv, hd, scratch, 2);
    float *dQ = dev(q, nq), *dK = dev(k, nkv), *dV = dev(v, nkv), *dO = dev(out, nq), *dL = dev(lse, nl),
          *dDO = dev(dout, nq), *dDQ = dev(dq, nq), *dDK = dev(dk, nkv), *dDV = dev(dv, nkv);
    op_attention_forward(dO, dL, dQ, dK, dV, B, T, T, H, Hkv, hd, op_kv_rows(T, Hkv, hd), NULL, 0);
    float *go = host(nq), *gl = host(nl);
    op_download(go, dO, nq * sizeof(float));
    op_download(gl, dL, nl * sizeof(float));
    compare("attention forward", shape, go, out, nq, 1e-5);
    compare("attention forward lse", shape, gl, lse, nl, 1e-5);
    op_attention_backward(dDQ, dDK, dDV, dDO, dO, dL, dQ, dK, dV, B, T, H, Hkv, hd, NULL, 0);
    float *gdq = back(dDQ, nq), *gdk = back(dDK, nkv), *gdv = back(dDV, nkv);
    compare("attention backward dq", shape, gdq, dq, nq, 1e-4);
    compare("attention backward dk", shape, gdk, dk, nkv, 1e-4);
    compare("attention backward dv", shape, gdv, dv, nkv, 1e-4);
    // decoding: the last R query rows of sequence 0 against its T keys (read as a KV cache keeps
    // them, each head's positions together), vs the CPU, and row by row
    const int R = T < 4 ? T : 4;
    const op_kv_layout cache = op_kv_heads(T, hd);
    const float *qlast = q + (size_t)(T - R) * H * hd;
    float *ro = host((size_t)R * H * hd), *one = host((size_t)R * H * hd);
    cpu_attention_rows_forward(ro, qlast, k, v, R, T, H, Hkv, hd, cache);
    float *dRQ = dev(qlast, (size_t)R * H * hd), *dRO = dev(ro, (size_t)R * H * hd);
    op_attention_rows_forward(dRO, dRQ, dK, dV, R, T, H, Hkv, hd, cache);
    float *gro = back(dRO, (size_t)R * H * hd);
    compare("attention rows (decoding)", shape, gro, ro, (size_t)R * H * hd, 1e-5);
    for (int i = 0; i < R; i++) {
        float *o1 = dev(one, (size_t)H * hd);
        op_attention_rows_forward(o1, dRQ + (size_t)i * H * hd, dK, dV, 1, T - R + i + 1, H, Hkv, hd, cache);
        op_download(one + (size_t)i * H * hd, o1, sizeof(float) * H * hd);
        op_free(o1);
    }
    identical("attention rows: R rows = R single rows", one, gro, (size_t)R * H * hd);
    op_free(dQ), op_free(dK), op_free(dV), op_free(dO), op_free(dL), op_free(dDO), op_free(dRQ);
    free(q), free(k), free(v), free(dout), free(out), free(lse), free(dq), free(dk), free(dv), free(scratch);
    free(go), free(gl), free(gdq), free(gdk), free(gdv), free(ro), free(one), free(gro);
}

int main(void) {
#ifndef MTP_CUDA
    printf(
        "built without CUDA: make CUDA=1 BUILD=build/cuda, then run on a machine with an NVIDIA GPU "
        "(or make CUDA=emu BUILD=build/emu test: in a host emulation of one)\n");
    return 77;
#endif
    if (op_use_device(OP_DEVICE_CUDA) != 0) {
        printf("no GPU here: %s\n", mtp_last_error());
        return 77;
    }
    op_set_threads(2);
    printf(
        "device: %s\n\n| op | shape | max error / max value | tolerance | result "
        "|\n|---|---|---:|---:|---|\n",
        op_device_info());
    mtp_rng r;
    mtp_rng_seed(&r, 2024);
    check_matmul(&r, 1, 64, 48);
    check_matmul(&r, 16, 96, 80);
    check_matmul(&r, 67, 130, 77);
    check_norm_rope(&r);
    check_pointwise(&r);
    check_xent(&r, 9, 1003, 1.0f / 9.0f);
    check_xent(&r, 5, 50304, 0.0f);
    check_xent(&r, 3, 200, 0.5f);  // fewer logits than threads: some threads see none
    // the row kept in shared memory: 16-byte groups (each target place), one value at a time
    // (misaligned rows), and rows too long for shared memory (240 KB) read twice from memory
    check_xent_at(&r, 4, 50304, 0.25f, 0, 1);
    check_xent_at(&r, 4, 1024, 0.25f, 1, 1);
    check_xent_at(&r, 3, 60000, 1.0f / 3.0f, 0, 0);
    check_embedding_tiles(&r);
    check_attention(&r, 2, 37, 4, 4, 32);
    check_attention(&r, 2, 70, 6, 2, 48);  // GQA, a head dim that is not a multiple of 32
    check_attention(&r, 1, 129, 2, 1, 128);
    // two chunks of query rows (256 + 44), the second past the diagonal
    check_attention(&r, 2, 300, 4, 2, 64);
#ifdef MTP_CUDA
    check_flash_attention(&r, 2, 150, 4, 2, 64, 0);   // 3 tiles (64 + 64 + 22), grouped heads
    check_flash_attention(&r, 1, 200, 2, 1, 128, 0);  // head dim 128, 2 query heads on 1 kv head
    check_flash_attention(&r, 2, 70, 4, 4, 64, 45);   // a prefill after 45 cached positions
#endif
    int sync = op_sync();
    if (sync != 0) printf("device error: %s\n", mtp_last_error());
    printf("\n%d passed, %d failed\n", n_passed, n_failed);
    return n_failed || sync ? 1 : 0;
}
