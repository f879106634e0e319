// test_attention_products.c: the GPU backend's attention algorithm
// (src/ops/cuda/attention_products.h: chunks of query rows, batched products
// over key/value heads, causal masks, log-sum-exp) run on the host with plain
// loops for its executor, against the CPU backend's attention forward and
// backward (themselves checked against float64 references in test_kernels).
// This checks every index, stride and transpose of the algorithm without a GPU;
// the GPU's executor (cuBLAS and attention.cu's kernels) is checked by
// test_cuda_ops and gpu/check.sh where one is present.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ops/cuda/attention_products.h"
#include "ops/ops.h"

// ---- the host executor: column-major products and row kernels, in double ----

static int gemm_calls;

static void host_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, size_t sA,
                      size_t sA2, const float *B, int ldb, size_t sB, size_t sB2, float beta, float *C,
                      int ldc, size_t sC, size_t sC2, int count, int count2) {
    gemm_calls++;
    for (int c = 0; c < count * count2; c++) {
        const int g = c % count, seq = c / count;
        const float *a = A + g * sA + seq * sA2, *b = B + g * sB + seq * sB2;
        float *o = C + g * sC + seq * sC2;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double sum = 0.0;
                for (int l = 0; l < k; l++) {
                    double x = ta ? a[l + (size_t)i * lda] : a[i + (size_t)l * lda];
                    double y = tb ? b[j + (size_t)l * ldb] : b[l + (size_t)j * ldb];
                    sum += x * y;
                }
                float *dst = o + i + (size_t)j * ldc;
                *dst = (float)(alpha * sum + (beta != 0.0f ? beta * (double)*dst : 0.0));
            }
    }
}

static void host_probs(float *S, float *lse, size_t lse_g, size_t lse_b, int count, int count2, int rows,
                       int keys, int visible, int from_lse) {
    for (int b = 0; b < count2; b++)
        for (int g = 0; g < count; g++)
            for (int i = 0; i < rows; i++) {
                float *s = S + (((size_t)b * count + g) * rows + i) * keys;
                const size_t L = b * lse_b + g * lse_g + i;
                const int vis = visible + i;
                double m = -INFINITY, l = 0.0;
                if (from_lse)
                    m = lse[L];
                else {
                    for (int j = 0; j < vis; j++) m = s[j] > m ? s[j] : m;
                    for (int j = 0; j < vis; j++) l += exp(s[j] - m);
                    if (lse) lse[L] = (float)(m + log(l));
                }
                for (int j = 0; j < keys; j++)
                    s[j] = j >= vis ? 0.0f : (float)(from_lse ? exp(s[j] - m) : exp(s[j] - m) / l);
            }
}

static void host_dscores(float *dP, const float *P, const float *D, size_t D_g, size_t D_b, int count,
                         int count2, int rows, int keys, float scale) {
    for (int b = 0; b < count2; b++)
        for (int g = 0; g < count; g++)
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < keys; j++) {
                    size_t e = (((size_t)b * count + g) * rows + i) * keys + j;
                    dP[e] = P[e] * (dP[e] - D[b * D_b + g * D_g + i]) * scale;
                }
}

static void host_row_dots(float *D, const float *dout, const float *out, int B, int T, int H, int hd) {
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T; i++)
            for (int h = 0; h < H; h++) {
                const size_t row = (((size_t)b * T + i) * H + h) * hd;
                double sum = 0.0;
                for (int e = 0; e < hd; e++) sum += (double)dout[row + e] * out[row + e];
                D[((size_t)b * H + h) * T + i] = (float)sum;
            }
}

static void host_zero(float *p, size_t n) {
    memset(p, 0, sizeof(float) * n);
}

static const ap_exec host = {host_gemm, host_probs, host_dscores, host_row_dots, host_zero};

// ---- helpers ----

static float *randn(size_t n, unsigned *seed, float amp) {
    float *p = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = amp * ((float)(*seed >> 8) / 16777216.0f - 0.5f);
    }
    return p;
}

static double max_rel(const float *got, const float *want, size_t n) {
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / (scale > 0 ? scale : 1.0);
        worst = d > worst ? d : worst;
    }
    return worst;
}

// One shape: the forward (Tq <= Tk, keys at a batch stride wider than they
// need, as a KV cache's) and, for Tq == Tk, the backward; `cap` floats of
// scores per chunk, small enough to force several chunks.
static void check_shape(int B, int Tq, int Tk, int H, int Hkv, int hd, size_t cap) {
    if (cap < ap_min_scratch(B, Tk, Hkv)) {
        CHECK(0, "test shape: cap %zu is below the minimum %zu", cap, ap_min_scratch(B, Tk, Hkv));
        return;
    }
    unsigned seed = (unsigned)(B * 7919 + Tq * 104729 + Tk * 31 + H * 17 + Hkv * 5 + hd);
    const size_t row = (size_t)H * hd, kvrow = (size_t)Hkv * hd, kvb = (size_t)(Tk + 3) * kvrow;
    const size_t nq = (size_t)B * Tq * row, nkv = (size_t)B * kvb, nstat = (size_t)B * H * Tq;
    float *q = randn(nq, &seed, 2.0f), *k = randn(nkv, &seed, 2.0f), *v = randn(nkv, &seed, 1.0f);
    float *out = calloc(nq, sizeof(float)), *lse = calloc(nstat, sizeof(float));
    float *ref = calloc(nq, sizeof(float)), *ref_lse = calloc(nstat, sizeof(float));
    float *scratch = malloc(sizeof(float) * 2 * cap);
    float *cpu_scratch = malloc(sizeof(float) * op_attention_scratch_floats(hd));
    // a prefill after cached positions reads the cache as it is kept, each head's positions together
    op_kv_layout kv = op_kv_rows(Tk + 3, Hkv, hd);
    if (Tq < Tk) kv = op_kv_heads(Tk + 3, hd);
    kv.batch = kvb;
    ap_forward(&host, out, lse, q, k, v, B, Tq, Tk, H, Hkv, hd, kv, scratch, cap);
    op_attention_forward(ref, ref_lse, q, k, v, B, Tq, Tk, H, Hkv, hd, kv, cpu_scratch, 1);
    double e_out = max_rel(out, ref, nq), e_lse = max_rel(lse, ref_lse, nstat);
    CHECK(e_out < 1e-5 && e_lse < 1e-5,
          "forward B=%d Tq=%d Tk=%d H=%d Hkv=%d hd=%d cap=%zu: out %.2g, lse %.2g", B, Tq, Tk, H, Hkv, hd,
          cap, e_out, e_lse);
    if (Tq == Tk) {
        // packed keys for the backward, and the forward's out and lse again on them
        const int T = Tq;
        float *kp = malloc(sizeof(float) * (size_t)B * T * kvrow),
              *vp = malloc(sizeof(float) * (size_t)B * T * kvrow);
        for (int b = 0; b < B; b++) {
            memcpy(kp + (size_t)b * T * kvrow, k + b * kvb, sizeof(float) * T * kvrow);
            memcpy(vp + (size_t)b * T * kvrow, v + b * kvb, sizeof(float) * T * kvrow);
        }
        op_attention_forward(ref, ref_lse, q, kp, vp, B, T, T, H, Hkv, hd, op_kv_rows(T, Hkv, hd),
                             cpu_scratch, 1);
        float *dout = randn(nq, &seed, 1.0f), *D = malloc(sizeof(float) * nstat);
        float *g[3], *want[3];
        const size_t n[3] = {nq, (size_t)B * T * kvrow, (size_t)B * T * kvrow};
        for (int i = 0; i < 3; i++) {
            g[i] = malloc(sizeof(float) * n[i]);
            want[i] = malloc(sizeof(float) * n[i]);
            for (size_t e = 0; e < n[i]; e++) g[i][e] = want[i][e] = NAN;  // both must overwrite
        }
        ap_backward(&host, g[0], g[1], g[2], dout, ref, ref_lse, q, kp, vp, B, T, H, Hkv, hd, scratch, cap,
                    D);
        op_attention_backward(want[0], want[1], want[2], dout, ref, ref_lse, q, kp, vp, B, T, H, Hkv, hd,
                              cpu_scratch, 1);
        const char *names[3] = {"dq", "dk", "dv"};
        for (int i = 0; i < 3; i++) {
            double e = max_rel(g[i], want[i], n[i]);
            CHECK(e < 1e-5, "backward %s B=%d T=%d H=%d Hkv=%d hd=%d cap=%zu: %.2g", names[i], B, T, H, Hkv,
                  hd, cap, e);
            free(g[i]);
            free(want[i]);
        }
        free(kp);
        free(vp);
        free(dout);
        free(D);
    }
    free(q);
    free(k);
    free(v);
    free(out);
    free(lse);
    free(ref);
    free(ref_lse);
    free(scratch);
    free(cpu_scratch);
}

int main(void) {
    op_set_threads(1);
    check_shape(2, 37, 37, 4, 2, 16, 2 * 2 * 37 * 5);  // 5 rows per chunk (the last 2), grouped heads
    check_shape(1, 64, 64, 3, 3, 32, 1 << 20);         // one chunk, no grouping
    check_shape(2, 20, 20, 6, 1, 8, 2 * 20);           // one row per chunk, 6 query heads on one kv head
    check_shape(1, 9, 50, 4, 2, 16, 2 * 50 * 4);       // prefill after 41 cached positions (Tq < Tk)
    check_shape(3, 1, 12, 2, 2, 24, 1 << 20);          // one query row
    check_shape(3, 30, 70, 2, 1, 8, 3 * 70 * 7);       // 3 sequences of a prefill, 7 rows per chunk
    CHECK(ap_chunk_rows(10, 1, 8, 100, 4) == 1 && ap_chunk_rows(4000, 1, 8, 100, 4) == 8 &&
              ap_chunk_rows(1200, 1, 8, 100, 4) == 3 && ap_chunk_rows(2400, 2, 8, 100, 4) == 3,
          "chunk rows: at least one, at most Tq, else what fits for B sequences");
    CHECK(gemm_calls > 0, "the executor's products ran");
    return test_finish("attention_products");
}
