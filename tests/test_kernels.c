// test_kernels.c: every CPU kernel of ops/ops.h against an independent
// float64 reference written here from the math (plain loops, no shared code).
//   - forwards: float32 kernel vs float64 reference, relative error ~1e-5;
//   - backwards: the gradient of L = sum(out * R) (R a fixed random tensor)
//     with respect to every input, by central finite differences of the
//     float64 reference forward, vs the kernel's backward (<= 1e-4), with the
//     accumulate (+=) / overwrite contract of each gradient buffer checked by
//     pre-filling it (known values for +=, NaN for overwritten);
//   - AdamW vs a float64 transcription of PyTorch's formula for 3 steps;
//     sum of squares vs a double loop; rope backward undoes rope forward;
//   - 1 and 2 OpenMP threads give bitwise-identical results for the kernels
//     documented as deterministic.
// Shapes are small and odd so the whole run takes milliseconds.
#include <float.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "ops/cpu/vecn.h"
#include "ops/cpu/work_steal.h"
#include "ops/ops.h"

#define FWD_TOL 1e-5
#define BWD_TOL 1e-4
#define FD_STEP 1e-6

enum { FWD, BWD };

// ---- bookkeeping: checks passed/failed and the worst error seen per op ----

static int n_passed, n_failed;

typedef struct {
    const char *op;
    double worst[2], worst_elem[2];  // [FWD], [BWD]: norm-relative and worst element error
} op_stats;
static op_stats stats[24];
static int n_stats;

static void record(const char *op, int kind, double err, double elem) {
    op_stats *s = NULL;
    for (int i = 0; i < n_stats; i++)
        if (strcmp(stats[i].op, op) == 0) s = &stats[i];
    if (!s) {
        if (n_stats == (int)(sizeof stats / sizeof stats[0])) return;
        s = &stats[n_stats++];
        s->op = op;
        s->worst[FWD] = s->worst[BWD] = s->worst_elem[FWD] = s->worst_elem[BWD] = -1.0;
    }
    if (isnan(err) || err > s->worst[kind]) s->worst[kind] = isnan(err) ? INFINITY : err;
    if (isnan(elem) || elem > s->worst_elem[kind]) s->worst_elem[kind] = isnan(elem) ? INFINITY : elem;
}

// One boolean check; on failure prints "FAIL op: message".
static void check(int ok, const char *op, const char *fmt, ...) {
    if (ok) {
        n_passed++;
        return;
    }
    n_failed++;
    printf("FAIL %s: ", op);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

// Two measures of got - base against want (base may be NULL: taken as 0; got
// and base are the kernel's float32 buffers, want the float64 reference):
//   norm:    ||(got - base) - want|| / ||want||, the headline number;
//   element: max_i |(got - base)_i - want_i| / (|want_i| + FLOOR * rms(want)),
//            so that one wrong element of small magnitude cannot hide in the
//            norm of the others (FLOOR keeps exact zeros of want from
//            demanding exact zeros of the kernel).
// norm must be <= tol and element <= ELEM_FACTOR * tol (single float32
// elements near a cancellation are legitimately less accurate than the norm).
#define ELEM_FLOOR 1e-2
#define ELEM_FACTOR 10.0

static void check_rel(const char *op, int kind, const char *what, const float *got, const float *base,
                      const double *want, size_t n, double tol) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - (base ? (double)base[i] : 0.0) - want[i];
        num += d * d;
        den += want[i] * want[i];
    }
    double err = den > 0.0 ? sqrt(num / den) : sqrt(num);
    double floor_abs = ELEM_FLOOR * (n ? sqrt(den / (double)n) : 0.0), elem = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - (base ? (double)base[i] : 0.0) - want[i];
        double denom = fabs(want[i]) + floor_abs;
        double e = isnan(d) ? INFINITY : denom > 0.0 ? fabs(d) / denom : fabs(d);
        if (e > elem) elem = e, at = i;
    }
    if (isnan(err)) err = INFINITY;
    record(op, kind, err, elem);
    double g_at = n ? (double)got[at] - (base ? (double)base[at] : 0.0) : 0.0;
    check(err <= tol && elem <= ELEM_FACTOR * tol, op,
          "%s: relative error %.3e (tolerance %.0e), worst element %.3e (tolerance %.0e) "
          "at [%zu]: kernel %.9g, ref %.9g; ||ref|| = %.4g",
          what, err, tol, elem, ELEM_FACTOR * tol, at, g_at, n ? want[at] : 0.0, sqrt(den));
}

// ---- buffers: every allocation of a test is released at its end ----

static void *pool[128];
static int n_pool;

static void *alloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p || n_pool == (int)(sizeof pool / sizeof pool[0])) {
        printf("FAIL out of memory (or test pool full)\n");
        exit(1);
    }
    pool[n_pool++] = p;
    return p;
}

static void release_all(void) {
    while (n_pool > 0) free(pool[--n_pool]);
}

static mtp_rng rng;

static float *fnew(size_t n) {
    return alloc(sizeof(float) * n);
}
static double *dnew(size_t n) {
    return alloc(sizeof(double) * n);
}

static float *ffill(size_t n, float value) {
    float *x = fnew(n);
    for (size_t i = 0; i < n; i++) x[i] = value;
    return x;
}

static float *frandn(size_t n, double scale) {
    float *x = fnew(n);
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * mtp_rng_normal(&rng));
    return x;
}

static float *fcopy(const float *src, size_t n) {
    float *x = fnew(n);
    memcpy(x, src, sizeof(float) * n);
    return x;
}

static double *to_double(const float *src, size_t n) {
    double *x = dnew(n);
    for (size_t i = 0; i < n; i++) x[i] = (double)src[i];
    return x;
}

static double dotd(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

// ---- central finite differences of a float64 scalar loss ----

typedef double (*loss_fn)(void *ctx);

// grad[i] = dL/dx[i], perturbing x (one of the arrays the loss reads) in place.
static void fd_grad(double *x, size_t n, loss_fn loss, void *ctx, double *grad) {
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i], xp = x0 + FD_STEP, xm = x0 - FD_STEP;
        x[i] = xp;
        double lp = loss(ctx);
        x[i] = xm;
        double lm = loss(ctx);
        x[i] = x0;
        grad[i] = (lp - lm) / (xp - xm);
    }
}

// ======================= matmul =======================

// out[n][o] = sum_i inp[n][i] * w[o][i]
static void ref_matmul(double *out, const double *inp, const double *w, int N, int I, int O) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double s = 0.0;
            for (int i = 0; i < I; i++) s += inp[n * I + i] * w[o * I + i];
            out[n * O + o] = s;
        }
}

typedef struct {
    int N, I, O;
    double *inp, *w, *R, *out;
} matmul_ctx;

static double matmul_loss(void *p) {
    matmul_ctx *c = p;
    ref_matmul(c->out, c->inp, c->w, c->N, c->I, c->O);
    return dotd(c->out, c->R, (size_t)c->N * c->O);
}

static void test_matmul(void) {
    const char *op = "matmul";
    const int N = 7, I = 12, O = 9;
    const size_t nx = (size_t)N * I, nw = (size_t)O * I, no = (size_t)N * O;
    float *inp = frandn(nx, 1.0), *w = frandn(nw, 1.0), *R = frandn(no, 1.0);
    matmul_ctx c = {N, I, O, to_double(inp, nx), to_double(w, nw), to_double(R, no), dnew(no)};

    float *out = ffill(no, NAN);  // out is written, never read
    op_matmul_forward(out, inp, w, N, I, O);
    ref_matmul(c.out, c.inp, c.w, N, I, O);
    check_rel(op, FWD, "forward out", out, NULL, c.out, no, FWD_TOL);

    double *g_inp = dnew(nx), *g_w = dnew(nw);
    fd_grad(c.inp, nx, matmul_loss, &c, g_inp);
    fd_grad(c.w, nw, matmul_loss, &c, g_w);

    // accumulate_dinp = 0: dinp overwritten (its NaNs must vanish); dw +=.
    float *dw0 = frandn(nw, 1.0), *dinp0 = frandn(nx, 1.0);
    float *dinp = ffill(nx, NAN), *dw = fcopy(dw0, nw);
    op_matmul_backward(dinp, dw, R, inp, w, N, I, O, 0);
    check_rel(op, BWD, "dinp, accumulate_dinp=0 (overwrite)", dinp, NULL, g_inp, nx, BWD_TOL);
    check_rel(op, BWD, "dw += (accumulate_dinp=0)", dw, dw0, g_w, nw, BWD_TOL);

    // accumulate_dinp = 1: both +=.
    dinp = fcopy(dinp0, nx);
    dw = fcopy(dw0, nw);
    op_matmul_backward(dinp, dw, R, inp, w, N, I, O, 1);
    check_rel(op, BWD, "dinp += (accumulate_dinp=1)", dinp, dinp0, g_inp, nx, BWD_TOL);
    check_rel(op, BWD, "dw += (accumulate_dinp=1)", dw, dw0, g_w, nw, BWD_TOL);

    // Either output may be NULL.
    dinp = ffill(nx, NAN);
    op_matmul_backward(dinp, NULL, R, inp, w, N, I, O, 0);
    check_rel(op, BWD, "dinp with dw = NULL", dinp, NULL, g_inp, nx, BWD_TOL);
    dw = fcopy(dw0, nw);
    op_matmul_backward(NULL, dw, R, inp, w, N, I, O, 1);
    check_rel(op, BWD, "dw += with dinp = NULL", dw, dw0, g_w, nw, BWD_TOL);
    release_all();
}

// The blocked products at shapes past every block size of ops/cpu/gemm.c
// (k blocks of 256, column blocks of 2048, row blocks, 64-column panels, the
// kernel's row groups and vector tails, A read transposed for dw), against
// float64 products (the loss is linear: dinp = R w, dw = R^T inp exactly);
// and, on 1 and 2 threads, bit-identical.
static void test_matmul_blocked(int N, int I, int O) {
    const char *op = "matmul";
    const size_t nx = (size_t)N * I, nw = (size_t)O * I, no = (size_t)N * O;
    float *inp = frandn(nx, 1.0), *w = frandn(nw, 1.0), *R = frandn(no, 1.0);
    double *ref = dnew(no), *g_inp = dnew(nx), *g_w = dnew(nw);
    memset(g_inp, 0, sizeof(double) * nx);
    memset(g_w, 0, sizeof(double) * nw);
    ref_matmul(ref, to_double(inp, nx), to_double(w, nw), N, I, O);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            const double r = R[(size_t)n * O + o];
            for (int i = 0; i < I; i++) {
                g_inp[(size_t)n * I + i] += r * w[(size_t)o * I + i];
                g_w[(size_t)o * I + i] += r * inp[(size_t)n * I + i];
            }
        }
    float *out[2], *dinp[2], *dw[2], *dw0 = frandn(nw, 1.0);
    const int threads = op_get_threads();
    for (int t = 0; t < 2; t++) {
        op_set_threads(t + 1);
        out[t] = ffill(no, NAN), dinp[t] = ffill(nx, NAN), dw[t] = fcopy(dw0, nw);
        op_matmul_forward(out[t], inp, w, N, I, O);
        op_matmul_backward(dinp[t], dw[t], R, inp, w, N, I, O, 0);
    }
    op_set_threads(threads);
    char what[96];
    // sums of hundreds to thousands of float32 products: rounding alone puts
    // the worst element near FWD_TOL's element bound, so the backward's is used
    snprintf(what, sizeof what, "blocked forward out, N=%d I=%d O=%d", N, I, O);
    check_rel(op, FWD, what, out[1], NULL, ref, no, BWD_TOL);
    snprintf(what, sizeof what, "blocked dinp, N=%d I=%d O=%d", N, I, O);
    check_rel(op, BWD, what, dinp[1], NULL, g_inp, nx, BWD_TOL);
    snprintf(what, sizeof what, "blocked dw +=, N=%d I=%d O=%d", N, I, O);
    check_rel(op, BWD, what, dw[1], dw0, g_w, nw, BWD_TOL);
    check(memcmp(out[0], out[1], sizeof(float) * no) == 0 &&
              memcmp(dinp[0], dinp[1], sizeof(float) * nx) == 0 &&
              memcmp(dw[0], dw[1], sizeof(float) * nw) == 0,
          op, "blocked products, N=%d I=%d O=%d: 1 and 2 threads differ", N, I, O);
    release_all();
}

// ======================= embedding =======================

static void ref_embedding(double *out, const int32_t *tok, const double *table, int N, int d) {
    for (int i = 0; i < N; i++)
        for (int c = 0; c < d; c++) out[i * d + c] = table[tok[i] * d + c];
}

typedef struct {
    int N, d;
    const int32_t *tok;
    double *table, *R, *out;
} embedding_ctx;

static double embedding_loss(void *p) {
    embedding_ctx *c = p;
    ref_embedding(c->out, c->tok, c->table, c->N, c->d);
    return dotd(c->out, c->R, (size_t)c->N * c->d);
}

static void test_embedding(void) {
    const char *op = "embedding";
    enum { N = 9, V = 11, d = 12 };
    const size_t nt = (size_t)V * d, no = (size_t)N * d;
    int32_t tok[N];
    for (int i = 0; i < N; i++) tok[i] = (int32_t)mtp_rng_below(&rng, V - 1);  // row V-1 never used
    tok[4] = tok[1];  // repeated tokens: their gradients must add up
    tok[7] = tok[1];
    tok[8] = tok[2];
    float *table = frandn(nt, 1.0), *R = frandn(no, 1.0);
    embedding_ctx c = {N, d, tok, to_double(table, nt), to_double(R, no), dnew(no)};

    float *out = ffill(no, NAN);
    op_embedding_forward(out, tok, table, N, d);
    ref_embedding(c.out, tok, c.table, N, d);
    check_rel(op, FWD, "forward out", out, NULL, c.out, no, FWD_TOL);
    int exact = 1;
    for (size_t i = 0; i < no; i++) exact &= (double)out[i] == c.out[i];
    check(exact, op, "forward out is not an exact copy of the table rows");

    double *g_table = dnew(nt);
    fd_grad(c.table, nt, embedding_loss, &c, g_table);
    float *dt0 = frandn(nt, 1.0), *dt = fcopy(dt0, nt);
    op_embedding_backward(dt, R, tok, N, V, d);
    check_rel(op, BWD, "dtable += (repeated tokens)", dt, dt0, g_table, nt, BWD_TOL);
    check(memcmp(dt + (size_t)(V - 1) * d, dt0 + (size_t)(V - 1) * d, sizeof(float) * d) == 0, op,
          "dtable row of an unused token changed");
    release_all();
}

// ======================= RMSNorm =======================

// out = x / sqrt(mean(x^2) + eps) * w, per row.
static void ref_rmsnorm(double *out, double *rstd, const double *x, const double *w, int N, int d,
                        double eps) {
    for (int i = 0; i < N; i++) {
        double ms = 0.0;
        for (int j = 0; j < d; j++) ms += x[i * d + j] * x[i * d + j];
        ms /= d;
        double r = 1.0 / sqrt(ms + eps);
        if (rstd) rstd[i] = r;
        for (int j = 0; j < d; j++) out[i * d + j] = x[i * d + j] * r * w[j];
    }
}

typedef struct {
    int N, d;
    double eps;
    double *x, *w, *R, *out;
} rmsnorm_ctx;

static double rmsnorm_loss(void *p) {
    rmsnorm_ctx *c = p;
    ref_rmsnorm(c->out, NULL, c->x, c->w, c->N, c->d, c->eps);
    return dotd(c->out, c->R, (size_t)c->N * c->d);
}

static void test_rmsnorm(float eps) {
    const char *op = "rmsnorm";
    const int N = 7, d = 12;
    const size_t n = (size_t)N * d;
    float *x = frandn(n, 1.0), *w = frandn(d, 0.5), *R = frandn(n, 1.0);
    for (int j = 0; j < d; j++) w[j] += 1.0f;
    rmsnorm_ctx c = {N, d, (double)eps, to_double(x, n), to_double(w, d), to_double(R, n), dnew(n)};

    float *out = ffill(n, NAN), *rstd = ffill(N, NAN);
    double *ref_rstd = dnew(N);
    op_rmsnorm_forward(out, rstd, x, w, N, d, eps);
    ref_rmsnorm(c.out, ref_rstd, c.x, c.w, N, d, c.eps);
    char what[96];
    snprintf(what, sizeof what, "forward out (eps %g)", eps);
    check_rel(op, FWD, what, out, NULL, c.out, n, FWD_TOL);
    snprintf(what, sizeof what, "forward rstd (eps %g)", eps);
    check_rel(op, FWD, what, rstd, NULL, ref_rstd, N, FWD_TOL);

    double *g_x = dnew(n), *g_w = dnew(d);
    fd_grad(c.x, n, rmsnorm_loss, &c, g_x);
    fd_grad(c.w, d, rmsnorm_loss, &c, g_w);
    float *dx0 = frandn(n, 1.0), *dw0 = frandn(d, 1.0);
    float *dx = fcopy(dx0, n), *dw = fcopy(dw0, d);
    op_rmsnorm_backward(dx, dw, R, x, w, rstd, N, d);
    snprintf(what, sizeof what, "dx += (eps %g)", eps);
    check_rel(op, BWD, what, dx, dx0, g_x, n, BWD_TOL);
    snprintf(what, sizeof what, "dw += (eps %g)", eps);
    check_rel(op, BWD, what, dw, dw0, g_w, d, BWD_TOL);
    release_all();
}

// ======================= RoPE =======================

// Hugging Face form: out = x * cos(emb) + rotate_half(x) * sin(emb), with
// emb = cat(freqs, freqs), freqs_i = pos * theta^(-2i/hd), and
// rotate_half(x) = cat(-x[half:], x[:half]).
static void ref_rope(double *out, const double *x, int B, int T, int nh, int hd, int pos0, double theta) {
    int half = hd / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < nh; h++) {
                const double *xv = x + (((size_t)b * T + t) * nh + h) * hd;
                double *ov = out + (((size_t)b * T + t) * nh + h) * hd;
                for (int j = 0; j < hd; j++) {
                    double freq = pow(theta, -2.0 * (j % half) / hd);
                    double ang = (double)(pos0 + t) * freq;
                    double rot = j < half ? -xv[j + half] : xv[j - half];
                    ov[j] = xv[j] * cos(ang) + rot * sin(ang);
                }
            }
}

typedef struct {
    int B, T, nh, hd, pos0;
    double theta;
    double *x, *R, *out;
} rope_ctx;

static double rope_loss(void *p) {
    rope_ctx *c = p;
    ref_rope(c->out, c->x, c->B, c->T, c->nh, c->hd, c->pos0, c->theta);
    return dotd(c->out, c->R, (size_t)c->B * c->T * c->nh * c->hd);
}

static void test_rope(void) {
    const char *op = "rope";
    const int B = 2, T = 5, nh = 3, hd = 6, pos0 = 3, Tmax = pos0 + T, half = hd / 2;
    const float theta = 500.0f;
    const size_t n = (size_t)B * T * nh * hd, nt = (size_t)Tmax * half;

    float *cos_t = ffill(nt, NAN), *sin_t = ffill(nt, NAN);
    op_rope_tables(cos_t, sin_t, Tmax, hd, theta);
    double *ref_cos = dnew(nt), *ref_sin = dnew(nt);
    for (int t = 0; t < Tmax; t++)
        for (int i = 0; i < half; i++) {
            double ang = t / pow((double)theta, 2.0 * i / hd);
            ref_cos[t * half + i] = cos(ang);
            ref_sin[t * half + i] = sin(ang);
        }
    check_rel(op, FWD, "cos table", cos_t, NULL, ref_cos, nt, FWD_TOL);
    check_rel(op, FWD, "sin table", sin_t, NULL, ref_sin, nt, FWD_TOL);

    float *x = frandn(n, 1.0), *R = frandn(n, 1.0);
    rope_ctx c = {B, T, nh, hd, pos0, (double)theta, to_double(x, n), to_double(R, n), dnew(n)};
    float *y = fcopy(x, n);
    op_rope_forward(y, cos_t, sin_t, B, T, nh, hd, pos0);
    ref_rope(c.out, c.x, B, T, nh, hd, pos0, c.theta);
    check_rel(op, FWD, "forward (pos0 = 3)", y, NULL, c.out, n, FWD_TOL);

    double *g_x = dnew(n);
    fd_grad(c.x, n, rope_loss, &c, g_x);
    float *dx = fcopy(R, n);  // in place: dout in, dx out
    op_rope_backward(dx, cos_t, sin_t, B, T, nh, hd, pos0);
    check_rel(op, BWD, "backward dx (pos0 = 3)", dx, NULL, g_x, n, BWD_TOL);

    // backward(forward(x)) == x (up to float rounding of the rotation).
    op_rope_backward(y, cos_t, sin_t, B, T, nh, hd, pos0);
    check_rel(op, FWD, "backward(forward(x)) == x", y, NULL, c.x, n, 1e-6);
    release_all();
}

// ======================= attention =======================

// q (B, Tq, H, hd); k, v rows of (Hkv, hd) at b * kvs + j * Hkv * hd; query i
// is at position Tk - Tq + i and attends to keys 0..Tk-Tq+i; query head h
// reads kv head h / (H / Hkv). out (B, Tq, H, hd); lse (B, H, Tq) (may be NULL)
// gets log(sum_j exp(score_j)) of the scaled scores.
static void ref_attention(double *out, double *lse, const double *q, const double *k, const double *v, int B,
                          int Tq, int Tk, int H, int Hkv, int hd, size_t kvs) {
    int rep = H / Hkv;
    double *s = malloc(sizeof(double) * (size_t)Tk), *p = malloc(sizeof(double) * (size_t)Tk);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Tq; i++) {
                int g = h / rep, pos = Tk - Tq + i;
                const double *qi = q + (((size_t)b * Tq + i) * H + h) * hd;
                double mx = -INFINITY, z = 0.0;
                for (int j = 0; j <= pos; j++) {
                    const double *kj = k + b * kvs + ((size_t)j * Hkv + g) * hd;
                    double dot = 0.0;
                    for (int e = 0; e < hd; e++) dot += qi[e] * kj[e];
                    s[j] = dot / sqrt((double)hd);
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j <= pos; j++) z += exp(s[j] - mx);
                for (int j = 0; j <= pos; j++) p[j] = exp(s[j] - mx) / z;
                double *oi = out + (((size_t)b * Tq + i) * H + h) * hd;
                for (int e = 0; e < hd; e++) {
                    double acc = 0.0;
                    for (int j = 0; j <= pos; j++) acc += p[j] * v[b * kvs + ((size_t)j * Hkv + g) * hd + e];
                    oi[e] = acc;
                }
                if (lse) lse[((size_t)b * H + h) * Tq + i] = mx + log(z);
            }
    free(s);
    free(p);
}

typedef struct {
    int B, T, H, Hkv, hd;
    double *q, *k, *v, *R, *out;
} attention_ctx;

static double attention_loss(void *p) {
    attention_ctx *c = p;
    ref_attention(c->out, NULL, c->q, c->k, c->v, c->B, c->T, c->T, c->H, c->Hkv, c->hd,
                  (size_t)c->T * c->Hkv * c->hd);
    return dotd(c->out, c->R, (size_t)c->B * c->T * c->H * c->hd);
}

// Scratch for the tiled kernels, for the current thread count, full of NaN:
// a tile entry read before the tile has written it shows in the results.
static float *attention_scratch(int hd) {
    return ffill((size_t)omp_get_max_threads() * op_attention_scratch_floats(hd), NAN);
}

// Forward tolerance: head dims of 32 and more sum hd-long dot products and
// then up to ~150 probability-weighted values in float32; the worst of
// thousands of outputs lands at 1e-4 of the outputs' scale (any summation
// order, BLAS's included), the element bound of FWD_TOL, so those use
// BWD_TOL (injected kernel bugs give errors of 0.3-1).
static double attention_fwd_tol(int hd) {
    return hd > 8 ? BWD_TOL : FWD_TOL;
}

// x (B sequences at stride bstride of (Tk, Hkv, hd)) rearranged as a KV
// cache keeps it: per sequence (Hkv, Tcap, hd), at stride Hkv * Tcap * hd + 7;
// the positions from Tk on and the gaps NaN, so reading them would show.
static float *kv_as_heads(const float *x, int B, size_t bstride, int Tk, int Tcap, int Hkv, int hd,
                          op_kv_layout *kv) {
    *kv = op_kv_heads(Tcap, hd);
    kv->batch = (size_t)Hkv * Tcap * hd + 7;
    float *y = ffill((size_t)B * kv->batch, NAN);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < Tk; j++)
            for (int g = 0; g < Hkv; g++)
                memcpy(y + b * kv->batch + g * kv->head + (size_t)j * kv->position,
                       x + b * bstride + ((size_t)j * Hkv + g) * hd, sizeof(float) * hd);
    return y;
}

// Forward with Tq < Tk from a KV cache: keys and values as (position, head)
// with a batch stride larger than packed, and as the cache keeps them (each
// head's positions together, op_kv_heads), the unused tail of each NaN so
// reading it would show; the two layouts give the same bits. With T above the
// tile size (64) several query and key tiles meet, and the inputs are scaled
// so the softmax is peaked and the online rescaling matters.
static void test_attention_forward_cache(int H, int Hkv, int hd, int Tq, int Tk, double amp) {
    const char *op = "attention";
    const int B = 2, Tcap = Tk + 3;
    const size_t kvs = (size_t)Tcap * Hkv * hd + 5, nq = (size_t)B * Tq * H * hd, nkv = (size_t)B * kvs;
    const size_t nlse = (size_t)B * H * Tq;
    float *q = frandn(nq, amp), *k = frandn(nkv, amp), *v = frandn(nkv, 1.0);
    for (int b = 0; b < B; b++)
        for (size_t e = (size_t)Tk * Hkv * hd; e < kvs; e++) k[b * kvs + e] = v[b * kvs + e] = NAN;
    op_kv_layout rows = op_kv_rows(Tcap, Hkv, hd), heads;
    rows.batch = kvs;
    const float *kh = kv_as_heads(k, B, kvs, Tk, Tcap, Hkv, hd, &heads),
                *vh = kv_as_heads(v, B, kvs, Tk, Tcap, Hkv, hd, &heads);
    float *out = ffill(nq, NAN), *lse = ffill(nlse, NAN), *out_h = ffill(nq, NAN), *lse_h = ffill(nlse, NAN);
    op_attention_forward(out, lse, q, k, v, B, Tq, Tk, H, Hkv, hd, rows, attention_scratch(hd),
                         omp_get_max_threads());
    op_attention_forward(out_h, lse_h, q, kh, vh, B, Tq, Tk, H, Hkv, hd, heads, attention_scratch(hd),
                         omp_get_max_threads());
    double *ref_out = dnew(nq), *ref_lse = dnew(nlse);
    ref_attention(ref_out, ref_lse, to_double(q, nq), to_double(k, nkv), to_double(v, nkv), B, Tq, Tk, H, Hkv,
                  hd, kvs);
    char what[128];
    snprintf(what, sizeof what, "forward out, H=%d Hkv=%d hd=%d Tq=%d Tk=%d kv stride %zu", H, Hkv, hd, Tq,
             Tk, kvs);
    check_rel(op, FWD, what, out, NULL, ref_out, nq, attention_fwd_tol(hd));
    snprintf(what, sizeof what, "forward lse, H=%d Hkv=%d hd=%d Tq=%d Tk=%d kv stride %zu", H, Hkv, hd, Tq,
             Tk, kvs);
    check_rel(op, FWD, what, lse, NULL, ref_lse, nlse, attention_fwd_tol(hd));
    check(memcmp(out, out_h, sizeof(float) * nq) == 0 && memcmp(lse, lse_h, sizeof(float) * nlse) == 0, op,
          "%s: keys and values kept per head give other bits than per position", what);
    release_all();
}

// Training shape Tq == Tk == T, packed: forward, then dq/dk/dv (overwritten,
// so they start as NaN) against finite differences: every element for small
// T, a random sample of `samples` elements per tensor for long T.
static void test_attention_backward(int H, int Hkv, int hd, int T, double amp, int samples) {
    const char *op = "attention";
    const int B = 2;
    const size_t nq = (size_t)B * T * H * hd, nkv = (size_t)B * T * Hkv * hd, nlse = (size_t)B * H * T;
    float *q = frandn(nq, amp), *k = frandn(nkv, amp), *v = frandn(nkv, 1.0), *R = frandn(nq, 1.0);
    attention_ctx c = {
        B, T, H, Hkv, hd, to_double(q, nq), to_double(k, nkv), to_double(v, nkv), to_double(R, nq), dnew(nq)};
    float *out = ffill(nq, NAN), *lse = ffill(nlse, NAN), *scratch = attention_scratch(hd);
    int threads = omp_get_max_threads();
    op_attention_forward(out, lse, q, k, v, B, T, T, H, Hkv, hd, op_kv_rows(T, Hkv, hd), scratch, threads);
    double *ref_lse = dnew(nlse);
    ref_attention(c.out, ref_lse, c.q, c.k, c.v, B, T, T, H, Hkv, hd, (size_t)T * Hkv * hd);
    char what[128];
    snprintf(what, sizeof what, "forward out, H=%d Hkv=%d hd=%d T=%d packed", H, Hkv, hd, T);
    check_rel(op, FWD, what, out, NULL, c.out, nq, attention_fwd_tol(hd));
    snprintf(what, sizeof what, "forward lse, H=%d Hkv=%d hd=%d T=%d packed", H, Hkv, hd, T);
    check_rel(op, FWD, what, lse, NULL, ref_lse, nlse, attention_fwd_tol(hd));

    float *dq = ffill(nq, NAN), *dk = ffill(nkv, NAN), *dv = ffill(nkv, NAN);
    op_attention_backward(dq, dk, dv, R, out, lse, q, k, v, B, T, H, Hkv, hd, scratch, threads);
    double *inputs[3] = {c.q, c.k, c.v};
    const float *grads[3] = {dq, dk, dv};
    const size_t sizes[3] = {nq, nkv, nkv};
    const char *names[3] = {"dq", "dk", "dv"};
    for (int t = 0; t < 3; t++) {
        size_t n = samples > 0 && (size_t)samples < sizes[t] ? (size_t)samples : sizes[t];
        double *want = dnew(n);
        float *got = fnew(n);
        for (size_t e = 0; e < n; e++) {
            size_t at = n == sizes[t] ? e : (size_t)mtp_rng_below(&rng, sizes[t]);
            fd_grad(inputs[t] + at, 1, attention_loss, &c, want + e);
            got[e] = grads[t][at];
        }
        snprintf(what, sizeof what, "%s (overwrite), H=%d Hkv=%d hd=%d T=%d, %zu of %zu elements", names[t],
                 H, Hkv, hd, T, n, sizes[t]);
        check_rel(op, BWD, what, got, NULL, want, n, BWD_TOL);
    }
    release_all();
}

// A sharp head (scores hundreds apart) with a small output gradient: its
// weights of far keys and their products with the gradient fall below float's
// normal range. Forward and backward must write no subnormal value (each one a
// microcode assist to make and to read: the backward ran 3x slower on such
// heads; the results are checked against float64 on ordinary heads above).
static void test_attention_sharp(void) {
    const char *op = "attention";
    const int B = 1, T = 70, H = 2, hd = 32;
    const size_t n = (size_t)B * T * H * hd, nlse = (size_t)B * H * T;
    float *q = frandn(n, 12.0), *k = frandn(n, 12.0), *v = frandn(n, 1.0), *dout = frandn(n, 1e-30);
    float *out = ffill(n, NAN), *lse = ffill(nlse, NAN), *scratch = attention_scratch(hd);
    float *dq = ffill(n, NAN), *dk = ffill(n, NAN), *dv = ffill(n, NAN);
    int threads = omp_get_max_threads();
    op_attention_forward(out, lse, q, k, v, B, T, T, H, H, hd, op_kv_rows(T, H, hd), scratch, threads);
    op_attention_backward(dq, dk, dv, dout, out, lse, q, k, v, B, T, H, H, hd, scratch, threads);
    int subnormal = 0;
    const float *all[] = {out, dq, dk, dv};
    for (int t = 0; t < 4; t++)
        for (size_t i = 0; i < n; i++) subnormal += all[t][i] != 0.0f && fabsf(all[t][i]) < FLT_MIN;
    check(subnormal == 0, op, "sharp head: %d subnormal values in out, dq, dk, dv", subnormal);
    release_all();
}

// ======================= few-row decode kernels =======================

// op_matmul_rows_forward: against the float64 reference, and each row's
// result bit-identical whether it is computed alone or with up to 8 others,
// on 1 or 2 threads. I and O cover vector tails (I % 16) and column tails
// (O % 8, O % 4); M up to 9 covers several 4-row groups.
static void test_matmul_rows(int I, int O) {
    const char *op = "matmul_rows";
    enum { MAXM = 9 };
    const size_t nx = (size_t)MAXM * I, nw = (size_t)O * I, no = (size_t)MAXM * O;
    float *inp = frandn(nx, 1.0), *w = frandn(nw, 1.0);
    double *ref = dnew(no);
    ref_matmul(ref, to_double(inp, nx), to_double(w, nw), MAXM, I, O);
    float *alone = ffill(no, NAN);  // each row by itself (M = 1)
    for (int r = 0; r < MAXM; r++)
        op_matmul_rows_forward(alone + (size_t)r * O, inp + (size_t)r * I, w, 1, I, O);
    char what[96];
    snprintf(what, sizeof what, "forward, M=1 row by row, I=%d O=%d", I, O);
    check_rel(op, FWD, what, alone, NULL, ref, no, FWD_TOL);
    const int saved = omp_get_max_threads();
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        for (int M = 1; M <= MAXM; M++) {
            float *out = ffill(no, NAN);
            op_matmul_rows_forward(out, inp, w, M, I, O);
            check(memcmp(out, alone, sizeof(float) * M * O) == 0, op,
                  "I=%d O=%d: rows computed %d at a time on %d threads differ from rows computed alone", I, O,
                  M, threads);
        }
    }
    omp_set_num_threads(saved);
    release_all();
}

// The decode layout (packed.c): packing and unpacking give back every value;
// the few-row product is bit-identical, row for row, to op_matmul_rows_forward
// for every M up to OP_PACKED_ROWS_MAX, on 1 and 2 threads; beyond that many
// rows (BLAS on unpacked panels, several panels when O > 1024) it matches the
// float64 reference. I and O cover a partial chunk
// (I % 512), a partial block (O % 16) and a partial last panel (I is a
// multiple of 16, as the layout requires).
static void test_matmul_packed(int I, int O, int big_n) {
    const char *op = "matmul_packed";
    const int MAXM = OP_PACKED_ROWS_MAX, N = big_n > MAXM ? big_n : MAXM;
    const size_t nx = (size_t)N * I, nw = (size_t)O * I, no = (size_t)N * O;
    float *inp = frandn(nx, 1.0), *w = frandn(nw, 1.0);
    float *packed = ffill(op_packed_floats(O, I), NAN), *back = ffill(nw, NAN);
    op_pack(packed, w, O, I);
    op_unpack(back, packed, O, I);
    check(memcmp(back, w, sizeof(float) * nw) == 0, op, "I=%d O=%d: unpack(pack(w)) differs from w", I, O);
    size_t pads = 0;  // padding is zeros (NaN would poison the sums), and is all there is besides w
    for (size_t i = 0; i < op_packed_floats(O, I); i++) pads += packed[i] == 0.0f;
    check(pads >= op_packed_floats(O, I) - nw, op, "I=%d O=%d: padding is not zero", I, O);
    float *want = ffill((size_t)MAXM * O, NAN);
    op_matmul_rows_forward(want, inp, w, MAXM, I, O);
    const int saved = omp_get_max_threads();
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        for (int M = 1; M <= MAXM; M++) {
            float *out = ffill((size_t)M * O, NAN);
            op_matmul_packed(out, inp, packed, M, I, O, NULL);
            check(memcmp(out, want, sizeof(float) * M * O) == 0, op,
                  "I=%d O=%d: %d rows on %d threads differ from the row-major few-row kernel", I, O, M,
                  threads);
        }
    }
    omp_set_num_threads(saved);
    if (big_n > MAXM) {
        float *scratch = ffill(op_packed_scratch_floats(big_n, I), NAN), *out = ffill(no, NAN);
        op_matmul_packed(out, inp, packed, big_n, I, O, scratch);
        double *ref = dnew(no);
        ref_matmul(ref, to_double(inp, nx), to_double(w, nw), big_n, I, O);
        char what[96];
        snprintf(what, sizeof what, "forward, N=%d through unpacked panels, I=%d O=%d", big_n, I, O);
        check_rel(op, FWD, what, out, NULL, ref, no, FWD_TOL);
    }
    release_all();
}

// Int8 weights (q8.c): quantizing puts every value within half a step of its
// block's grid, and a row of activations on its own grid (rounded to nearest,
// as lrintf); packing and unpacking give back the weights and scales; the
// product equals the float64 product of the dequantized operands (the integer
// sums are exact), is within the quantization error of the float32 product,
// and each row's bits do not depend on how many rows are computed at once, on
// 1 or 2 threads. An all-zero row gives zeros.
static void test_matmul_q8(int I, int O) {
    const char *op = "matmul_q8";
    enum { MAXM = 9 };
    const size_t nx = (size_t)MAXM * I, nw = (size_t)O * I, no = (size_t)MAXM * O, ns = nw / OP_Q8_BLOCK;
    float *inp = frandn(nx, 1.0), *w = frandn(nw, 0.05);
    for (int i = 0; i < I; i++) inp[(size_t)4 * I + i] = 0.0f;  // row 4: all zero
    int8_t *q = alloc(nw), *xq = alloc(nx);
    float *scales = ffill(ns, NAN), *xs = ffill(MAXM, NAN), *wd = ffill(nw, NAN), *xd = ffill(nx, NAN);
    op_quantize_q8(q, scales, w, O, I);
    op_dequantize_q8(wd, q, scales, O, I);
    size_t far = 0;
    for (size_t i = 0; i < nw; i++)
        far += fabsf(wd[i] - w[i]) > 0.5001f * scales[i / OP_Q8_BLOCK] || q[i] < -127;
    check(far == 0, op, "I=%d O=%d: %zu weights off their block's grid by more than half a step", I, O, far);
    const size_t prows = op_q8_packed_rows(O);
    check(prows % OP_Q8_PANEL == 0 && prows >= (size_t)O && prows < (size_t)O + OP_Q8_PANEL, op,
          "O=%d: %zu packed rows", O, prows);
    int8_t *qp = alloc(prows * I), *q2 = alloc(nw);
    float *sp = ffill(prows * I / OP_Q8_BLOCK, NAN), *s2 = ffill(ns, NAN);
    op_q8_pack(qp, sp, q, scales, O, I);
    op_q8_unpack(q2, s2, qp, sp, O, I);
    check(memcmp(q2, q, nw) == 0 && memcmp(s2, scales, sizeof(float) * ns) == 0, op,
          "I=%d O=%d: unpacking the packed weights does not give them back", I, O);
    const size_t ldaux = op_q8_side_ints(I);
    int32_t *xaux = alloc(sizeof(int32_t) * MAXM * ldaux);
    op_quantize_rows_q8(xq, xs, xaux, inp, MAXM, I);
    size_t off_grid = 0;
    for (int r = 0; r < MAXM; r++) {
        double amax = 0.0;
        for (int i = 0; i < I; i++) amax = fmax(amax, fabs(inp[(size_t)r * I + i]));
        check(xs[r] == (float)amax / 127.0f, op, "I=%d: row %d's scale %g, want max |x| / 127 = %g", I, r,
              xs[r], amax / 127.0);
        for (int i = 0; i < I && amax > 0.0; i++) {
            const float v = inp[(size_t)r * I + i] * (127.0f / (float)amax);
            off_grid += xq[(size_t)r * I + i] != (int8_t)lrintf(v);
        }
    }
    check(off_grid == 0, op, "I=%d: %zu activations not rounded to their nearest grid step", I, off_grid);
    for (size_t i = 0; i < nx; i++) xd[i] = (float)xq[i] * xs[i / I];
    float *alone = ffill(no, NAN);
    for (int r = 0; r < MAXM; r++)
        op_matmul_q8(alone + (size_t)r * O, xq + (size_t)r * I, xs + r, xaux + (size_t)r * ldaux, qp, sp, 1,
                     I, O);
    double *ref = dnew(no), *exact = dnew(no);
    ref_matmul(ref, to_double(xd, nx), to_double(wd, nw), MAXM, I, O);
    ref_matmul(exact, to_double(inp, nx), to_double(w, nw), MAXM, I, O);
    char what[96];
    snprintf(what, sizeof what, "dequantized operands, I=%d O=%d", I, O);
    check_rel(op, FWD, what, alone, NULL, ref, no, FWD_TOL);
    // against the unquantized product: the quantization error, about 1% (no per-element bound: sums near 0)
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < no; i++)
        num += (alone[i] - exact[i]) * (alone[i] - exact[i]), den += exact[i] * exact[i];
    check(sqrt(num / den) < 0.02, op,
          "I=%d O=%d: %.3e relative error against the float product (want < 2e-2)", I, O, sqrt(num / den));
    for (int o = 0; o < O; o++)
        check(alone[(size_t)4 * O + o] == 0.0f, op, "I=%d O=%d: an all-zero row gives %g", I, O,
              alone[4 * O + o]);
    const int saved = omp_get_max_threads();
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        for (int M = 1; M <= MAXM; M++) {
            float *out = ffill(no, NAN);
            op_matmul_q8(out, xq, xs, xaux, qp, sp, M, I, O);
            check(memcmp(out, alone, sizeof(float) * M * O) == 0, op,
                  "I=%d O=%d: %d rows on %d threads differ from rows computed alone", I, O, M, threads);
        }
    }
    omp_set_num_threads(saved);
    release_all();
}

// Int8 edge values: a row holding a NaN or an infinity gives NaN products
// (its bytes would otherwise saturate to -128 and give finite sums), whatever
// row it shares the call with; a row or weight block whose largest magnitude
// is below 127 / FLT_MAX (1e-38: 127 / max overflows) is quantized on a grid
// of step 2^-126, signs kept, its products those of the dequantized values.
static void test_q8_edge_values(void) {
    const char *op = "matmul_q8 edges";
    enum { I = 64, O = 16, M = 4 };
    float *w = frandn((size_t)O * I, 0.5), *x = frandn((size_t)M * I, 1.0);
    for (int i = 0; i < I; i++) w[i] = 0.0f;  // weight row 0: one tiny value, zeros
    w[5] = 1e-38f;
    x[3] = NAN;                                               // row 0: one NaN
    x[(size_t)1 * I + I - 1] = INFINITY;                      // row 1: an infinity
    for (int i = 0; i < I; i++) x[(size_t)2 * I + i] = 0.0f;  // row 2: one tiny value
    x[(size_t)2 * I + 7] = -1e-38f;                           // row 3: ordinary
    int8_t *q = alloc((size_t)O * I), *xq = alloc((size_t)M * I);
    float *scales = ffill((size_t)O * I / OP_Q8_BLOCK, NAN), *xs = ffill(M, NAN);
    op_quantize_q8(q, scales, w, O, I);
    check(q[5] > 0 && scales[0] == 0x1p-126f && fabsf((float)q[5] * scales[0] - w[5]) <= 0.5f * scales[0], op,
          "a tiny weight block: q %d, scale %g (want 2^-126), value %g for 1e-38", q[5], scales[0],
          (float)q[5] * scales[0]);
    const size_t prows = op_q8_packed_rows(O);
    int8_t *qp = alloc(prows * I);
    float *sp = ffill(prows * I / OP_Q8_BLOCK, NAN);
    op_q8_pack(qp, sp, q, scales, O, I);
    int32_t *xaux = alloc(sizeof(int32_t) * (size_t)M * op_q8_side_ints(I));
    op_quantize_rows_q8(xq, xs, xaux, x, M, I);
    check(xs[2] == 0x1p-126f && xq[(size_t)2 * I + 7] < 0, op,
          "a tiny activation row: scale %g (want 2^-126), its value's byte %d (want < 0)", xs[2],
          xq[(size_t)2 * I + 7]);
    float *out = ffill((size_t)M * O, 0.0f);
    op_matmul_q8(out, xq, xs, xaux, qp, sp, M, I, O);
    int finite0 = 0, finite1 = 0, bad2 = 0, bad3 = 0;
    for (int o = 0; o < O; o++) {
        finite0 += !isnan(out[o]);
        finite1 += !isnan(out[(size_t)O + o]);
        // row 2 against the product of its dequantized operands (its other values are zero):
        // one value of the row's grid (-1e-38 is 0.85 of its step) times the weight's
        const float wd = (float)q[(size_t)o * I + 7] * scales[(size_t)o * I / OP_Q8_BLOCK];
        const double want = (double)xq[(size_t)2 * I + 7] * xs[2] * wd;
        bad2 += !(fabs(out[(size_t)2 * O + o] - want) <= 1e-5 * fabs(want));
        bad3 += !isfinite(out[(size_t)3 * O + o]);
    }
    check(finite0 == 0 && finite1 == 0, op, "rows with a NaN / an infinity: %d and %d of %d products not NaN",
          finite0, finite1, O);
    check(bad2 == 0, op, "a tiny row: %d of %d products off its dequantized product", bad2, O);
    check(bad3 == 0, op, "an ordinary row beside them: %d of %d products not finite", bad3, O);
    release_all();
}

// work_steal.h: on 1 to 4 threads, every item taken exactly once; on 2, with
// thread 0 held back until thread 1's range is done, thread 1 starts at its
// range's front and goes on into thread 0's from the back (thread 0 takes
// fewer than its share: none at all if it wakes late, else from its front).
static void test_work_steal(void) {
    const char *op = "work_steal";
    enum { ITEMS = 997 };
    for (int T = 1; T <= 4; T++) {
        int taken[ITEMS] = {0}, first_seen[4] = {-1, -1, -1, -1}, count[4] = {0}, threads = 1;
        steal_range ranges[4];
#pragma omp parallel num_threads(T)
        {
            const int n = omp_get_num_threads(), t = omp_get_thread_num();
            steal_start(ranges, ITEMS);
            if (t == 0) threads = n;
            if (t == 0 && n == 2)  // held back: thread 1's range empty (front >= back)
                for (;;) {
                    const uint64_t r = atomic_load(&ranges[1].range);
                    if ((uint32_t)r >= (uint32_t)(r >> 32)) break;
                }
            int item, stolen;
            while ((item = steal_next(ranges, &stolen)) >= 0) {
#pragma omp atomic
                taken[item]++;
                if (first_seen[t] < 0) first_seen[t] = item;
                count[t]++;
            }
        }
        int once = 1;
        for (int i = 0; i < ITEMS; i++) once &= taken[i] == 1;
        check(once, op, "%d threads: an item taken never or twice", T);
        if (threads == 2)
            check(first_seen[1] == ITEMS / 2 && (first_seen[0] == 0 || count[0] == 0) &&
                      count[0] < ITEMS / 2 && count[0] + count[1] == ITEMS,
                  op, "2 threads, thread 0 held back: first items %d and %d, counts %d and %d", first_seen[0],
                  first_seen[1], count[0], count[1]);
    }
}

// The read-bandwidth probe: a positive rate, and none without memory for it.
static void test_read_bandwidth(void) {
    double bw = op_read_bandwidth((size_t)8 << 20, 2);
    check(bw > 1e8 && bw < 1e13, "read_bandwidth", "8 MB probe: %.3g bytes/s is not a plausible rate", bw);
    check(op_read_bandwidth(0, 1) == 0.0, "read_bandwidth", "an empty buffer must report 0");
}

// op_attention_rows_forward on one sequence: against the float64 reference,
// and query i's output bit-identical to a call with query i alone at its
// position (Tq = 1, Tk = its position + 1). Tk above 256 spans several key
// blocks; amp > 1 makes the softmax peaked, so the rescaling between blocks
// matters; hd not a multiple of 16 uses the tails.
// With the keys and values as (position, head) and as a KV cache keeps them
// (each head's positions together, room for more, NaN): the same bits.
static void test_attention_rows(int H, int Hkv, int hd, int Tq, int Tk, double amp) {
    const char *op = "attention_rows";
    const size_t row = (size_t)H * hd, kvrow = (size_t)Hkv * hd, nq = (size_t)Tq * row,
                 nkv = (size_t)Tk * kvrow;
    float *q = frandn(nq, amp), *k = frandn(nkv, amp), *v = frandn(nkv, 1.0);
    // the last keys score highest, so a later key block raises the running max
    for (int j = Tk > 8 ? Tk - 8 : 0; j < Tk; j++)
        for (size_t e = 0; e < kvrow; e++) k[(size_t)j * kvrow + e] *= 1.5f;
    op_kv_layout heads;
    const float *kh = kv_as_heads(k, 1, nkv, Tk, Tk + 40, Hkv, hd, &heads),
                *vh = kv_as_heads(v, 1, nkv, Tk, Tk + 40, Hkv, hd, &heads);
    float *out = ffill(nq, NAN), *out_h = ffill(nq, NAN);
    op_attention_rows_forward(out, q, k, v, Tq, Tk, H, Hkv, hd, op_kv_rows(Tk, Hkv, hd));
    op_attention_rows_forward(out_h, q, kh, vh, Tq, Tk, H, Hkv, hd, heads);
    double *ref = dnew(nq);
    ref_attention(ref, NULL, to_double(q, nq), to_double(k, nkv), to_double(v, nkv), 1, Tq, Tk, H, Hkv, hd,
                  nkv);
    char what[96];
    snprintf(what, sizeof what, "forward, H=%d Hkv=%d hd=%d Tq=%d Tk=%d", H, Hkv, hd, Tq, Tk);
    check_rel(op, FWD, what, out, NULL, ref, nq, FWD_TOL);
    check(memcmp(out, out_h, sizeof(float) * nq) == 0, op,
          "%s: keys and values kept per head give other bits than per position", what);
    int same = 1;
    for (int i = 0; i < Tq; i++) {
        float *alone = ffill(row, NAN);
        op_attention_rows_forward(alone, q + (size_t)i * row, kh, vh, 1, Tk - Tq + i + 1, H, Hkv, hd, heads);
        same &= memcmp(alone, out + (size_t)i * row, sizeof(float) * row) == 0;
    }
    check(same, op, "%s: a query's output depends on the other queries in the call", what);
    release_all();
}

// Keys scoring far below the best (by more than the exponential's range,
// 87 after scaling) must weigh exactly nothing, as in the float64 reference:
// a floor of exp(-87) ~ 1.6e-38 would add 1.6e-38 x value per key (seen here
// through values of 1e33) and make subnormal products, each a microcode assist.
static void test_attention_rows_far_keys(void) {
    const char *op = "attention_rows";
    const int H = 1, hd = 16, Tk = 300, Tq = 2;  // two key blocks: the best key in each
    const size_t nq = (size_t)Tq * hd, nkv = (size_t)Tk * hd;
    float *q = ffill(nq, 10.0f), *k = frandn(nkv, 0.1), *v = ffill(nkv, 1e33f), *out = ffill(nq, NAN);
    for (int e = 0; e < hd; e++) {
        k[(size_t)5 * hd + e] = 10.0f;    // score 400 after the 1/4 scale: the others ~0
        k[(size_t)290 * hd + e] = 12.0f;  // a later block's best: the first block's sums rescale by exp(-80)
    }
    for (int e = 0; e < hd; e++) v[(size_t)5 * hd + e] = 1.0f, v[(size_t)290 * hd + e] = 2.0f;
    op_attention_rows_forward(out, q, k, v, Tq, Tk, H, H, hd, op_kv_rows(Tk, H, hd));
    double *ref = dnew(nq);
    ref_attention(ref, NULL, to_double(q, nq), to_double(k, nkv), to_double(v, nkv), 1, Tq, Tk, H, H, hd,
                  nkv);
    check_rel(op, FWD, "keys far below the best weigh nothing", out, NULL, ref, nq, FWD_TOL);
    release_all();
}

// ======================= SwiGLU =======================

static void ref_swiglu(double *out, const double *gate, const double *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double sigmoid = 1.0 / (1.0 + exp(-gate[i]));
        out[i] = gate[i] * sigmoid * up[i];
    }
}

typedef struct {
    size_t n;
    double *gate, *up, *R, *out;
} swiglu_ctx;

static double swiglu_loss(void *p) {
    swiglu_ctx *c = p;
    ref_swiglu(c->out, c->gate, c->up, c->n);
    return dotd(c->out, c->R, c->n);
}

static void test_swiglu(void) {
    const char *op = "swiglu";
    const size_t n = 37;
    float *gate = frandn(n, 2.5), *up = frandn(n, 1.0), *R = frandn(n, 1.0);
    gate[0] = 100.0f, gate[1] = -100.0f, gate[2] = 88.5f, gate[3] = -88.5f;  // beyond exp's float range
    swiglu_ctx c = {n, to_double(gate, n), to_double(up, n), to_double(R, n), dnew(n)};
    float *out = ffill(n, NAN);
    op_swiglu_forward(out, gate, up, n);
    ref_swiglu(c.out, c.gate, c.up, n);
    check_rel(op, FWD, "forward out", out, NULL, c.out, n, FWD_TOL);

    double *g_gate = dnew(n), *g_up = dnew(n);
    fd_grad(c.gate, n, swiglu_loss, &c, g_gate);
    fd_grad(c.up, n, swiglu_loss, &c, g_up);
    float *dgate = ffill(n, NAN), *dup = ffill(n, NAN);
    op_swiglu_backward(dgate, dup, R, gate, up, n);
    check_rel(op, BWD, "dgate (overwrite)", dgate, NULL, g_gate, n, BWD_TOL);
    check_rel(op, BWD, "dup (overwrite)", dup, NULL, g_up, n, BWD_TOL);
    release_all();
}

// ======================= softmax cross-entropy =======================

// losses[i] = log(sum_j exp(row_j)) - row[target], computed with the max shifted out.
static void ref_xent(double *losses, const double *logits, const int32_t *targets, int N, int V) {
    for (int i = 0; i < N; i++) {
        const double *row = logits + (size_t)i * V;
        double mx = row[0], z = 0.0;
        for (int j = 1; j < V; j++) mx = row[j] > mx ? row[j] : mx;
        for (int j = 0; j < V; j++) z += exp(row[j] - mx);
        losses[i] = mx + log(z) - row[targets[i]];
    }
}

typedef struct {
    int N, V;
    double grad_scale;
    const int32_t *targets;
    double *logits, *losses;
} xent_ctx;

// The in-place gradient is d(grad_scale * sum_i losses_i) / d logits.
static double xent_loss(void *p) {
    xent_ctx *c = p;
    ref_xent(c->losses, c->logits, c->targets, c->N, c->V);
    double s = 0.0;
    for (int i = 0; i < c->N; i++) s += c->losses[i];
    return c->grad_scale * s;
}

static void test_xent(void) {
    const char *op = "softmax_xent";
    enum { N = 7, V = 11 };
    const size_t n = (size_t)N * V;
    const float grad_scale = 0.37f;
    int32_t targets[N];
    for (int i = 0; i < N; i++) targets[i] = (int32_t)mtp_rng_below(&rng, V);
    float *logits = frandn(n, 2.0);
    for (int j = 0; j < V; j++) logits[3 * V + j] += 100.0f;  // exp(100) overflows float: needs the max shift
    xent_ctx c = {N, V, (double)grad_scale, targets, to_double(logits, n), dnew(N)};
    double *ref_losses = dnew(N);
    ref_xent(ref_losses, c.logits, targets, N, V);

    // grad_scale = 0: losses only, logits untouched.
    float *row = fcopy(logits, n), *losses = ffill(N, NAN);
    op_softmax_xent(row, losses, targets, N, V, 0.0f);
    check_rel(op, FWD, "losses (grad_scale 0)", losses, NULL, ref_losses, N, FWD_TOL);
    check(memcmp(row, logits, sizeof(float) * n) == 0, op, "logits changed with grad_scale = 0");

    double *g = dnew(n);
    fd_grad(c.logits, n, xent_loss, &c, g);
    losses = ffill(N, NAN);
    op_softmax_xent(row, losses, targets, N, V, grad_scale);
    check_rel(op, FWD, "losses (grad_scale 0.37)", losses, NULL, ref_losses, N, FWD_TOL);
    check_rel(op, BWD, "in-place gradient (grad_scale 0.37)", row, NULL, g, n, BWD_TOL);

    // A confident row: three candidates about 100 nats above the rest, whose
    // gradients (about 1e-46 at grad_scale 1/2048) are below float's normal range.
    // They must be 0, not subnormal (each product with a subnormal is a
    // microcode assist: the unembedding's backward ran 170x slower), and the
    // gradient still right.
    enum { VB = 300 };
    float *peaked = ffill(VB, 0.0f), *loss1 = ffill(1, NAN);
    int32_t target = 17;
    for (int j = 0; j < VB; j++) peaked[j] = (float)(j % 13) * 0.25f;
    peaked[target] = 100.0f, peaked[3] = 100.5f, peaked[5] = 99.0f;
    double *pd = to_double(peaked, VB), *want = dnew(VB), sum = 0.0;
    for (int j = 0; j < VB; j++) sum += exp(pd[j] - 100.0);
    for (int j = 0; j < VB; j++) want[j] = (exp(pd[j] - 100.0) / sum - (j == target)) / 2048.0;
    op_softmax_xent(peaked, loss1, &target, 1, VB, 1.0f / 2048);
    int subnormal = 0;
    for (int j = 0; j < VB; j++) subnormal += peaked[j] != 0.0f && fabsf(peaked[j]) < FLT_MIN;
    check(subnormal == 0, op, "confident row: %d subnormal gradients", subnormal);
    check_rel(op, BWD, "confident row's gradient", peaked, NULL, want, VB, BWD_TOL);

    // A row over GPT-2's vocabulary (50257: not a multiple of any vector width):
    // every probability (the gradient at grad_scale 1, the target's aside)
    // within 1e-5 relative of float64. The row's sum of
    // exponentials is over 50k terms; summed one by one in float its rounding
    // moved every probability by about 4e-5.
    enum { VG = 50257 };
    float *wide = frandn(VG, 4.0), *loss_w = ffill(1, NAN);
    int32_t target_w = 12345;
    double *wd = to_double(wide, VG), mx = -INFINITY, z = 0.0, worst = 0.0;
    for (int j = 0; j < VG; j++) mx = wd[j] > mx ? wd[j] : mx;
    for (int j = 0; j < VG; j++) z += exp(wd[j] - mx);
    op_softmax_xent(wide, loss_w, &target_w, 1, VG, 1.0f);
    for (int j = 0; j < VG; j++)  // the target's gradient is p - 1: its p is not kept to this precision
        if (j != target_w) worst = fmax(worst, fabs(wide[j] - exp(wd[j] - mx) / z) / (exp(wd[j] - mx) / z));
    check(worst <= 1e-5, op, "probabilities over %d words: worst relative error %.2e > 1e-5", VG, worst);
    const double want_loss = mx + log(z) - wd[target_w];
    check(fabs((double)loss_w[0] - want_loss) <= 1e-5 * want_loss, op, "loss over %d words: %.7g vs %.7g", VG,
          (double)loss_w[0], want_loss);
    release_all();
}

// ======================= AdamW, sum of squares, add =======================

static void test_adamw(void) {
    const char *op = "adamw";
    const size_t n = 29;
    const float lr = 1e-2f, beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, wd = 0.1f, grad_scale = 0.5f;
    float *p = frandn(n, 1.0), *m = ffill(n, 0.0f), *v = ffill(n, 0.0f);
    double *rp = to_double(p, n), *rm = dnew(n), *rv = dnew(n), *p_prev = dnew(n), *delta = dnew(n);
    float *kdelta = fnew(n);
    for (size_t i = 0; i < n; i++) rm[i] = rv[i] = 0.0;
    for (long step = 1; step <= 3; step++) {
        float *g = frandn(n, 1.0);
        for (size_t i = 0; i < n; i++) p_prev[i] = p[i];
        op_adamw(p, g, m, v, n, grad_scale, lr, beta1, beta2, eps, wd, step);
        // torch.optim.AdamW (_single_tensor_adamw), in double:
        //   param.mul_(1 - lr * weight_decay)
        //   exp_avg.lerp_(grad, 1 - beta1)
        //   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        //   step_size = lr / (1 - beta1 ** step)
        //   denom = exp_avg_sq.sqrt() / sqrt(1 - beta2 ** step) + eps
        //   param.addcdiv_(exp_avg, denom, value=-step_size)
        const double dlr = lr, b1 = beta1, b2 = beta2, de = eps, dwd = wd;
        for (size_t i = 0; i < n; i++) {
            double gi = (double)g[i] * (double)grad_scale;
            rp[i] *= 1.0 - dlr * dwd;
            rm[i] += (gi - rm[i]) * (1.0 - b1);
            rv[i] = rv[i] * b2 + (1.0 - b2) * gi * gi;
            double step_size = dlr / (1.0 - pow(b1, (double)step));
            double denom = sqrt(rv[i]) / sqrt(1.0 - pow(b2, (double)step)) + de;
            rp[i] += -step_size * rm[i] / denom;
            delta[i] = rp[i] - p_prev[i];
            kdelta[i] = (float)((double)p[i] - p_prev[i]);
        }
        char what[64];
        snprintf(what, sizeof what, "param after step %ld", step);
        check_rel(op, FWD, what, p, NULL, rp, n, 1e-6);
        snprintf(what, sizeof what, "param update of step %ld", step);
        check_rel("adamw update", FWD, what, kdelta, NULL, delta, n, FWD_TOL * 10);
        snprintf(what, sizeof what, "exp_avg after step %ld", step);
        check_rel(op, FWD, what, m, NULL, rm, n, FWD_TOL);
        snprintf(what, sizeof what, "exp_avg_sq after step %ld", step);
        check_rel(op, FWD, what, v, NULL, rv, n, FWD_TOL);
    }
    // Gradients 0 from here on: the moments decay by beta1, beta2 a step and must
    // reach 0 without passing through subnormal values (each operation on one is
    // a microcode assist: AdamW over such moments ran 15x slower).
    float *zero = ffill(n, 0.0f);
    int subnormal = 0;
    for (long step = 4; step < 2500; step++) {
        op_adamw(p, zero, m, v, n, grad_scale, lr, beta1, beta2, eps, wd, step);
        for (size_t i = 0; i < n; i++)
            subnormal += (m[i] != 0.0f && fabsf(m[i]) < FLT_MIN) + (v[i] != 0.0f && fabsf(v[i]) < FLT_MIN);
    }
    int left = 0;
    for (size_t i = 0; i < n; i++) left += m[i] != 0.0f || v[i] != 0.0f;
    check(subnormal == 0 && left == 0, op,
          "zero gradients: %d subnormal moments on the way, %d moments not 0 after 2500 steps", subnormal,
          left);
    release_all();
}

static void test_sum_squares(void) {
    const char *op = "sum_squares";
    const size_t sizes[] = {0, 1, 37, 3 * 4096 + 17};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        float *x = frandn(n, 1.0);
        double want = 0.0;
        for (size_t i = 0; i < n; i++) want += (double)x[i] * (double)x[i];
        double got = op_sum_squares(x, n);
        double err = want != 0.0 ? fabs(got - want) / want : fabs(got);
        record(op, FWD, err, err);
        check(err <= 1e-12, op, "n = %zu: got %.17g, double loop %.17g (relative error %.3e)", n, got, want,
              err);
    }
    release_all();
}

static void test_add_inplace(void) {
    const char *op = "add_inplace";
    const size_t n = 37;
    float *x = frandn(n, 1.0), *y0 = frandn(n, 1.0), *y = fcopy(y0, n);
    double *want = dnew(n);
    for (size_t i = 0; i < n; i++) want[i] = (double)y0[i] + (double)x[i];
    op_add_inplace(y, x, n);
    check_rel(op, FWD, "y += x", y, NULL, want, n, FWD_TOL);
    release_all();
}

// ======================= determinism across thread counts =======================

static void test_determinism(void) {
    const char *op = "determinism";
    const int saved = omp_get_max_threads();
    enum { N = 37, d = 50, V = 13, NS = 5 * 4096 + 3 };  // several 16-column blocks, several 4096-chunks
    const size_t n = (size_t)N * d;
    float *x = frandn(n, 1.0), *w = frandn(d, 1.0), *dout = frandn(n, 1.0), *rstd = fnew(N), *out = fnew(n);
    float *big = frandn(NS, 1.0);
    int32_t tok[N];
    for (int i = 0; i < N; i++) tok[i] = (int32_t)mtp_rng_below(&rng, V);
    op_rmsnorm_forward(out, rstd, x, w, N, d, 1e-5f);
    // attention backward: one thread per (batch, kv head)
    enum { B = 3, T = 70, H = 4, Hkv = 2, hd = 6 };  // two tiles
    const size_t nq = (size_t)B * T * H * hd, nkv = (size_t)B * T * Hkv * hd, nlse = (size_t)B * H * T;
    float *q = frandn(nq, 1.0), *k = frandn(nkv, 1.0), *v = frandn(nkv, 1.0), *ado = frandn(nq, 1.0);
    float *aout = fnew(nq), *lse = fnew(nlse), *scratch = fnew(2 * op_attention_scratch_floats(hd));
    op_attention_forward(aout, lse, q, k, v, B, T, T, H, Hkv, hd, op_kv_rows(T, Hkv, hd), scratch, 1);

    float *dw[2], *dx[2], *dtable[2], *dq[2], *dk[2], *dv[2];
    double ss[2];
    for (int r = 0; r < 2; r++) {
        omp_set_num_threads(r + 1);
        dw[r] = ffill(d, 0.25f);
        dx[r] = ffill(n, 0.0f);
        op_rmsnorm_backward(dx[r], dw[r], dout, x, w, rstd, N, d);
        dtable[r] = ffill((size_t)V * d, 0.5f);
        op_embedding_backward(dtable[r], dout, tok, N, V, d);
        ss[r] = op_sum_squares(big, NS);
        dq[r] = fnew(nq), dk[r] = fnew(nkv), dv[r] = fnew(nkv);
        op_attention_backward(dq[r], dk[r], dv[r], ado, aout, lse, q, k, v, B, T, H, Hkv, hd, scratch, r + 1);
    }
    omp_set_num_threads(saved);
    check(memcmp(dw[0], dw[1], sizeof(float) * d) == 0, op,
          "rmsnorm backward dw differs between 1 and 2 threads");
    check(memcmp(dx[0], dx[1], sizeof(float) * n) == 0, op,
          "rmsnorm backward dx differs between 1 and 2 threads");
    check(memcmp(dtable[0], dtable[1], sizeof(float) * V * d) == 0, op,
          "embedding backward differs between 1 and 2 threads");
    check(memcmp(&ss[0], &ss[1], sizeof(double)) == 0, op,
          "sum_squares differs between 1 and 2 threads: %.17g vs %.17g", ss[0], ss[1]);
    check(memcmp(dq[0], dq[1], sizeof(float) * nq) == 0 && memcmp(dk[0], dk[1], sizeof(float) * nkv) == 0 &&
              memcmp(dv[0], dv[1], sizeof(float) * nkv) == 0,
          op, "attention backward differs between 1 and 2 threads");
    release_all();
}

// vecn.h's helpers against their definitions, bit for bit: maxn is a > b ? a
// : b (b where either is NaN, b for +0 against -0), and the softmax's
// exponential without clamps equals the clamped one wherever its inputs may
// be (x <= 88, and 0 below -87, for -inf and for NaN).
static void test_vector_helpers(void) {
    const char *op = "vecn";
    enum { N = 200000 };  // N + 16 values: a whole number of vectors
    float *x = fnew(N + 16), *got = fnew(N + 16), *want = fnew(N + 16);
    const float specials[] = {-INFINITY,
                              NAN,
                              -0.0f,
                              0.0f,
                              -87.0f,
                              nextafterf(-87.0f, 0.0f),
                              nextafterf(-87.0f, -INFINITY),
                              88.0f,
                              nextafterf(88.0f, 0.0f),
                              -100.0f,
                              -1e30f,
                              1e-30f,
                              -1e-30f,
                              0.5f,
                              -0.5f,
                              1.0f};
    const int ns = (int)(sizeof specials / sizeof specials[0]);
    for (int i = 0; i < N + 16; i++)
        x[i] = i < ns ? specials[i] : -100.0f + 188.0f * (float)(i - ns) / (float)(N + 16 - ns);
    for (int i = 0; i + VN <= N + 16; i += VN) {
        vfn a = loadn(x + i), e1 = expn_or_zero_upto_max(a), e2 = expn_or_zero(a);
        storen(got + i, e1);
        storen(want + i, e2);
    }
    int differ = 0, at = -1;
    for (int i = 0; i < N + 16; i++)
        if (memcmp(got + i, want + i, sizeof(float)) != 0) {
            if (at < 0) at = i;
            differ++;
        }
    check(differ == 0, op, "expn_or_zero_upto_max differs from expn_or_zero at %d inputs (first %g: %g, %g)",
          differ, at >= 0 ? x[at] : 0.0, at >= 0 ? got[at] : 0.0, at >= 0 ? want[at] : 0.0);
    // maxn on pairs of specials and of sweep values, both orders
    int bad = 0;
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < ns; j++) {
            float a[VN], b[VN], m[VN];
            for (int l = 0; l < VN; l++) a[l] = specials[i], b[l] = specials[(j + l) % ns];
            storen(m, maxn(loadn(a), loadn(b)));
            for (int l = 0; l < VN; l++) {
                float w = a[l] > b[l] ? a[l] : b[l];
                bad += memcmp(&m[l], &w, sizeof w) != 0;
            }
        }
    check(bad == 0, op, "maxn differs from a > b ? a : b in %d lanes", bad);
    release_all();
}

// Each thread that runs a product keeps its packing memory (gemm.c); a
// thread that exits must give it back. 48 short-lived threads each running a
// (64 x 256) @ (256 x 1024) product (about 1 MB of packing on each of its
// team's threads): the resident memory grew by that much a thread.
enum { LEAK_M = 64, LEAK_K = 256, LEAK_N = 1024 };
static float *leak_in, *leak_w, *leak_out;
static void *product_in_thread(void *unused) {
    (void)unused;
    op_matmul_forward(leak_out, leak_in, leak_w, LEAK_M, LEAK_K, LEAK_N);
    return NULL;
}

static long resident_kb(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void test_product_threads_free_packing(void) {
    leak_in = calloc((size_t)LEAK_M * LEAK_K, sizeof(float));
    leak_w = calloc((size_t)LEAK_N * LEAK_K, sizeof(float));
    leak_out = calloc((size_t)LEAK_M * LEAK_N, sizeof(float));
    long before = 0;
    for (int i = 0; i < 56; i++) {
        if (i == 8) before = resident_kb();  // after the allocator's arenas have settled
        pthread_t th;
        if (pthread_create(&th, NULL, product_in_thread, NULL) != 0) break;
        pthread_join(th, NULL);
    }
    long after = resident_kb();
    // (AddressSanitizer holds freed memory in its quarantine: there its leak check covers this)
#if defined(__SANITIZE_ADDRESS__)
    before = -1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    before = -1;
#endif
#endif
    if (before > 0 && after > 0)
        check(after - before < 16 * 1024, "gemm",
              "48 threads that ran a product left %ld KB resident behind them", after - before);
    free(leak_in), free(leak_w), free(leak_out);
}

int main(void) {
    mtp_rng_seed(&rng, 20240607);
    test_matmul();
    test_product_threads_free_packing();
    test_embedding();
    test_rmsnorm(1e-5f);
    test_rmsnorm(0.3f);  // eps large enough to matter in every row
    test_rope();
    test_attention_forward_cache(4, 2, 6, 3, 7, 1.0);
    test_attention_forward_cache(4, 1, 6, 3, 7, 1.0);
    test_attention_forward_cache(3, 3, 6, 3, 7, 1.0);
    test_attention_forward_cache(4, 2, 6, 70, 150, 3.0);  // 2 query tiles x 3 key tiles, peaked softmax
    test_attention_forward_cache(2, 1, 6, 1, 130, 3.0);   // one query (decoding) against 3 key tiles
    // head dims of whole vectors (32, 64: the register-blocked products' 2- and
    // 4-vector column blocks) and of vectors plus a scalar tail (40); scores
    // of standard deviation amp^2 = 2.25: at amp 3 a few outputs that cancel
    // to near 0 come out 3e-4 off in float32 whatever the summation order
    // (the same elements, to the bit, through BLAS)
    test_attention_forward_cache(4, 2, 32, 70, 150, 1.5);
    test_attention_forward_cache(2, 2, 64, 129, 129, 1.5);
    test_attention_forward_cache(2, 1, 40, 17, 81, 1.5);
    test_attention_backward(4, 2, 6, 5, 1.0, 0);
    test_attention_backward(4, 1, 6, 5, 1.0, 0);
    test_attention_backward(3, 3, 6, 5, 1.0, 0);
    test_attention_backward(4, 2, 6, 150, 3.0, 60);  // 3 tiles, sampled finite differences
    test_attention_backward(2, 1, 32, 150, 1.5, 40);
    test_attention_backward(2, 2, 64, 70, 1.5, 40);
    test_attention_backward(2, 1, 40, 67, 1.5, 40);
    test_attention_sharp();
    test_matmul_rows(48, 37);            // I a multiple of 16; O = 4 tiles of 8 + 5
    test_matmul_rows(37, 13);            // vector tail of 5; 1 tile of 8 + 5, 3 tiles of 4 + 1
    test_matmul_rows(5, 8);              // shorter than one vector
    test_matmul_packed(48, 37, 0);       // partial block of rows, one chunk
    test_matmul_packed(16, 13, 40);      // one slice; one partial block; BLAS path
    test_matmul_packed(1104, 1100, 20);  // 3 chunks (the last partial); 2 panels (the last partial)
    test_read_bandwidth();
    test_work_steal();
    test_matmul_q8(32, 64);     // 1 block per row, one whole panel
    test_matmul_q8(64, 37);     // 2 blocks per row, a padded panel
    test_matmul_q8(224, 19);    // 7 blocks, a panel of 19
    test_matmul_q8(1024, 300);  // 32 blocks, 5 panels; enough work for 2 threads
    test_q8_edge_values();
    test_attention_rows(4, 2, 32, 4, 600, 2.0);   // 3 key blocks, grouped heads
    test_attention_rows(2, 2, 40, 3, 300, 3.0);   // head dim 16 x 2 + 8
    test_attention_rows(3, 1, 6, 5, 20, 1.0);     // head dim below one vector
    test_attention_rows(1, 1, 80, 1, 1, 1.0);     // one key; 4 + 1 vectors
    test_attention_rows(2, 1, 32, 20, 300, 1.0);  // more query rows than one chunk of 16
    test_attention_rows(3, 3, 128, 4, 800, 1.0);  // a verification's 4 rows over 3 whole key blocks together
    test_attention_rows(2, 1, 48, 7, 520, 2.0);   // rows together in groups of 4 and 3; 3 slices of 16
    test_attention_rows(2, 2, 64, 2, 270, 1.0);   // head dim 64 (its own prefetch); a 14-key last block
    test_attention_rows(2, 1, 200, 3, 300, 1.0);  // values 128 + 64 + 8 at a time
    test_attention_rows(2, 1, 64, 20, 262, 1.0);  // the first 15 rows see none of the second key block
    test_attention_rows(2, 1, 128, 7, 300, 1.0);  // 7 rows at head dim 128, partial last 16 keys
    test_attention_rows(2, 2, 64, 5, 280, 1.0);   // 5 rows at head dim 64
    test_attention_rows(1, 1, 128, 3, 40, 1.0);   // 3 rows, 2 of them seeing all of the first 16 keys
    test_attention_rows(1, 1, 520, 9, 300, 1.0);  // 9 rows of 520: each row's values alone, 128 at a time
    test_attention_rows_far_keys();
    test_swiglu();
    test_xent();
    test_adamw();
    test_sum_squares();
    test_add_inplace();
    test_determinism();

    printf(
        "worst errors, ||kernel - ref|| / ||ref|| (and worst element), forward vs the float64 reference,\n"
        "backward vs float64 finite differences:\n");
    // last, so the tests above draw the same random inputs as before they existed
    test_matmul_blocked(70, 520, 2090);  // forward: 3 k blocks, 2 column blocks; dinp: 9 k blocks
    test_matmul_blocked(300, 20, 37);    // dw: 2 k blocks over 300 rows, 37 x 20 with row and column tails
    test_matmul_blocked(300, 2090, 37);  // dw with B in place: 2 column blocks, each over 2 k blocks
    test_matmul_blocked(20, 1600, 800);  // forward: 3 k blocks of 534 in each of 2 column blocks
    test_matmul_blocked(600, 20, 1100);  // dw with A and B packed: 2 k blocks of 300
    test_matmul_blocked(600, 20, 200);   // dw: B packed on 1 thread, in place on 2 (k blocks alike)
    // the attention's diagonal tiles, split at 32 query lanes: a tile of 40 rows (every element
    // checked), one of 33 (one key past the split) with grouped heads, and with a cache keys that
    // start 16 before the tile's queries (0 < n0 < cols) and a 36-row tile after them
    test_attention_backward(2, 1, 6, 40, 1.5, 0);
    test_attention_backward(4, 2, 32, 97, 1.5, 60);
    test_attention_forward_cache(4, 2, 32, 64, 112, 1.5);
    test_attention_forward_cache(4, 2, 32, 100, 148, 1.5);
    test_vector_helpers();
    for (int i = 0; i < n_stats; i++) {
        printf("  %-13s", stats[i].op);
        if (stats[i].worst[FWD] >= 0)
            printf("  forward %.2e (element %.2e)", stats[i].worst[FWD], stats[i].worst_elem[FWD]);
        if (stats[i].worst[BWD] >= 0)
            printf("  backward %.2e (element %.2e)", stats[i].worst[BWD], stats[i].worst_elem[BWD]);
        printf("\n");
    }
    if (n_failed) {
        printf("kernels: %d checks passed, %d FAILED\n", n_passed, n_failed);
        return 1;
    }
    printf("kernels: %d checks passed\n", n_passed);
    return 0;
}
