// decode_attention.c (kernel_ab): decoding's attention of a few query rows
// against KV caches (ops/cpu/decode_attention.c) at a git revision against
// the working tree's, alternately: each call goes through `caches` caches of
// `context` positions x heads x hd, so from DRAM unless they fit L3. Per row
// count: time per cache, the median and quartiles of the per-pair ratios, and
// whether the outputs are the same bits. The caches are kept as a model keeps
// them, each head's positions together (op_kv_heads): revisions before that
// layout took no layout argument and cannot be compared with this driver.
//   decode_attention [--caches L] [--context C] [--heads H] [--hd D] [--repeats R]
#include "common.h"
#include "ops/kv_layout.h"

enum { MAX_ROWS = 4 };  // query rows at most; each cache has room for them

void old_cpu_attention_rows_forward(float *out, const float *q, const float *k, const float *v, int Tq,
                                    int Tk, int H, int Hkv, int hd, op_kv_layout kv);
void new_cpu_attention_rows_forward(float *out, const float *q, const float *k, const float *v, int Tq,
                                    int Tk, int H, int Hkv, int hd, op_kv_layout kv);

typedef struct {
    const float *K, *V, *q;
    float *out[2];
    size_t per;
    int L, C, H, hd, M;
} work;

// M new positions at the end of a context of C, in each cache.
static void run(void *ctx, int side) {
    const work *w = ctx;
    for (int l = 0; l < w->L; l++)
        (side ? new_cpu_attention_rows_forward : old_cpu_attention_rows_forward)(
            w->out[side], w->q, w->K + w->per * l, w->V + w->per * l, w->M, w->C + w->M, w->H, w->H, w->hd,
            op_kv_heads(w->C + MAX_ROWS, w->hd));
}

int main(int argc, char **argv) {
    int L = 40, C = 842, H = 12, hd = 128, R = 11;
    const ab_flag flags[] = {{"--caches", &L, 1, 1000},
                             {"--context", &C, 1, 1 << 20},
                             {"--heads", &H, 1, 128},
                             {"--hd", &hd, 1, 512},
                             {"--repeats", &R, 1, AB_MAX_REPEATS}};
    ab_parse(argc, argv, "decode_attention", "[--caches L] [--context C] [--heads H] [--hd D] [--repeats R]",
             flags, 5);
    const size_t per = (size_t)(C + MAX_ROWS) * H * hd, nq = (size_t)MAX_ROWS * H * hd;
    work w = {ab_filled(per * L, 1, 0.3f),
              ab_filled(per * L, 2, 0.5f),
              ab_filled(nq, 3, 0.4f),
              {ab_alloc(sizeof(float) * nq), ab_alloc(sizeof(float) * nq)},
              per,
              L,
              C,
              H,
              hd,
              1};
    double *t[2] = {ab_alloc(sizeof(double) * R), ab_alloc(sizeof(double) * R)};
    printf(
        "%d caches of %d positions x %d heads of %d (%.0f MB), %d alternating pairs; ratio = old / new\n\n",
        L, C, H, hd, 2.0 * per * L * sizeof(float) / 1e6, R);
    printf("| rows | old us per cache | new us per cache | ratio (median) | quartiles | same bits |\n");
    printf("|---:|---:|---:|---:|---|---|\n");
    const int rows[] = {1, 2, 4};
    for (int ri = 0; ri < 3; ri++) {
        w.M = rows[ri];
        ab_pairs(R, t, run, &w);
        ab_summary m = ab_summarize(t, R);
        printf("| %d | %.0f | %.0f | %.3f | %.3f-%.3f | %s |\n", w.M, m.old_s / L * 1e6, m.new_s / L * 1e6,
               m.ratio, m.q1, m.q3,
               memcmp(w.out[0], w.out[1], sizeof(float) * (size_t)w.M * H * hd) ? "no" : "yes");
    }
    return 0;
}
