// embedding.c: token embedding lookup and its scatter-add backward.
#include <string.h>

#include "ops/cpu/cpu_ops.h"
#include "ops/cpu/parallel.h"
#include "ops/ops.h"

void cpu_embedding_forward(float *out, const int32_t *tokens, const float *table, int N, int d) {
#pragma omp parallel for if ((size_t)N * d >= OP_PARALLEL_MIN_WORK) schedule(static)
    for (int i = 0; i < N; i++) memcpy(out + (size_t)i * d, table + (size_t)tokens[i] * d, sizeof(float) * d);
}

void cpu_embedding_backward(float *dtable, const float *dout, const int32_t *tokens, int N, int V, int d) {
    (void)V;  // the table's rows: the CPU walks the tokens
    // forward: out[i] = table[tokens[i]]. Threads split the columns, and each
    // walks the rows in order, so the sum order never depends on the thread count.
    enum { COLS = 16 };
    int blocks = (d + COLS - 1) / COLS;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < blocks; b++) {
        int c0 = b * COLS, c1 = c0 + COLS < d ? c0 + COLS : d;
        for (int i = 0; i < N; i++) {
            float *dst = dtable + (size_t)tokens[i] * d;
            const float *src = dout + (size_t)i * d;
            for (int c = c0; c < c1; c++) dst[c] += src[c];
        }
    }
}
