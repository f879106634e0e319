// attention.c (kernel_ab): the training attention (ops/cpu/attention.c) at a
// git revision against the working tree's, forward and backward, called
// alternately; 64 MB are written between calls so q, k, v come from beyond
// the caches as after a step's projections. Prints medians, the quartiles of
// the per-pair time ratios, and the largest difference of the outputs and
// gradients (0 where a change keeps every sum's order). Revisions from before
// op_kv_layout (the keys' strides) took a batch stride instead: not comparable.
//   attention [--hd D] [--heads H] [--batch B] [--seq T] [--repeats R]
#include <math.h>
#include <omp.h>

#include "common.h"
#include "ops/kv_layout.h"

size_t old_op_attention_scratch_floats(int hd);
size_t new_op_attention_scratch_floats(int hd);
#define KERNELS(p)                                                                                           \
    void p##_cpu_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,   \
                                   int B, int Tq, int Tk, int H, int Hkv, int hd, op_kv_layout kv,           \
                                   float *scratch, int scratch_threads);                                     \
    void p##_cpu_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,    \
                                    const float *lse, const float *q, const float *k, const float *v, int B, \
                                    int T, int H, int Hkv, int hd, float *scratch, int scratch_threads);
KERNELS(old)
KERNELS(new)

static double largest_difference(const float *a, const float *b, size_t n) {
    double d = 0.0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

int main(int argc, char **argv) {
    int hd = 32, H = 8, B = 8, T = 256, R = 21;
    const ab_flag flags[] = {{"--hd", &hd, 1, 256},
                             {"--heads", &H, 1, 64},
                             {"--batch", &B, 1, 64},
                             {"--seq", &T, 1, 4096},
                             {"--repeats", &R, 1, AB_MAX_REPEATS}};
    ab_parse(argc, argv, "attention", "[--hd D] [--heads H] [--batch B] [--seq T] [--repeats R]", flags, 5);
    const int threads = omp_get_max_threads();
    const size_t n = (size_t)B * T * H * hd, nlse = (size_t)B * H * T;
    float *q = ab_filled(n, 1, 0.5f), *k = ab_filled(n, 2, 0.5f), *v = ab_filled(n, 3, 1.0f);
    float *dout = ab_filled(n, 4, 1.0f);
    float *out[2], *lse[2], *dq[2], *dk[2], *dv[2], *scratch[2];
    for (int s = 0; s < 2; s++) {
        out[s] = ab_alloc(sizeof(float) * n), lse[s] = ab_alloc(sizeof(float) * nlse);
        dq[s] = ab_alloc(sizeof(float) * n), dk[s] = ab_alloc(sizeof(float) * n);
        dv[s] = ab_alloc(sizeof(float) * n);
        size_t per = s ? new_op_attention_scratch_floats(hd) : old_op_attention_scratch_floats(hd);
        scratch[s] = ab_alloc(sizeof(float) * per * (size_t)threads);
    }
    enum { EVICT = 64 << 20 };
    char *evict = ab_alloc(EVICT);
    double *t[2][2];  // [pass][side]
    for (int p = 0; p < 2; p++)
        for (int s = 0; s < 2; s++) t[p][s] = ab_alloc(sizeof(double) * R);
    for (int r = 0; r < R; r++)
        for (int turn = 0; turn < 2; turn++) {
            const int s = (r + turn) % 2;  // who goes first alternates
            memset(evict, r + turn, EVICT);
            double t0 = ab_now();
            (s ? new_cpu_attention_forward : old_cpu_attention_forward)(
                out[s], lse[s], q, k, v, B, T, T, H, H, hd, op_kv_rows(T, H, hd), scratch[s], threads);
            t[0][s][r] = ab_now() - t0;
            memset(evict, r + turn + 1, EVICT);
            t0 = ab_now();
            (s ? new_cpu_attention_backward : old_cpu_attention_backward)(
                dq[s], dk[s], dv[s], dout, out[s], lse[s], q, k, v, B, T, H, H, hd, scratch[s], threads);
            t[1][s][r] = ab_now() - t0;
        }
    printf("B %d, T %d, %d heads of %d, %d threads, %d alternating pairs; ratio = old time / new time\n\n", B,
           T, H, hd, threads, R);
    printf(
        "| pass | old ms | new ms | ratio (median) | quartiles | largest difference "
        "|\n|---|---:|---:|---:|---|---:|\n");
    const char *names[2] = {"forward", "backward"};
    for (int p = 0; p < 2; p++) {
        ab_summary m = ab_summarize(t[p], R);
        double diff =
            p == 0 ? fmax(largest_difference(out[0], out[1], n), largest_difference(lse[0], lse[1], nlse))
                   : fmax(largest_difference(dq[0], dq[1], n),
                          fmax(largest_difference(dk[0], dk[1], n), largest_difference(dv[0], dv[1], n)));
        printf("| %s | %.3f | %.3f | %.3f | %.3f-%.3f | %.2g |\n", names[p], m.old_s * 1e3, m.new_s * 1e3,
               m.ratio, m.q1, m.q3, diff);
    }
    return 0;
}
