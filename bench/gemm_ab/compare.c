// compare.c: two versions of ops/cpu/gemm.c side by side (bench/gemm_ab.sh
// builds them as cpu_gemm_old and cpu_gemm_new), on the training's product
// shapes: each product's forward, input gradient and weight gradient, the
// two versions called alternately, the median of each, their ratio, and the
// largest difference between their results (0 where a change keeps every
// sum's order). A machine whose speed moves by 20% in a minute still shows a
// change of a few percent this way, where separate runs do not.
//   compare [--repeats R] [--shapes small|gpt2s|all]
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*gemm_fn)(float *C, int ldc, const float *A, ptrdiff_t a_row_stride, ptrdiff_t a_k_stride,
                       const float *B, ptrdiff_t b_k_stride, ptrdiff_t b_col_stride, int M, int N, int K,
                       int accumulate);
int cpu_gemm_old(float *, int, const float *, ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, ptrdiff_t, int,
                 int, int, int);
int cpu_gemm_new(float *, int, const float *, ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, ptrdiff_t, int,
                 int, int, int);

typedef enum { FORWARD, INPUT_GRAD, WEIGHT_GRAD } pass;
static const char *pass_names[] = {"forward", "input grad", "weight grad"};

// A linear layer out (N, O) = inp (N, I) @ w (O, I)^T: the rows N, in and out widths.
typedef struct {
    const char *set, *name;
    int N, I, O;
} shape;

static const shape shapes[] = {
    {"small", "q, k, v, output", 2048, 256, 256},
    {"small", "gate, up", 2048, 256, 704},
    {"small", "down", 2048, 704, 256},
    {"gpt2s", "q, k, v, output", 1024, 768, 768},
    {"gpt2s", "gate, up", 1024, 768, 2048},
    {"gpt2s", "down", 1024, 2048, 768},
    {"gpt2s", "unembedding chunk", 512, 768, 50304},
};

static float *filled(size_t n, unsigned seed) {
    float *p = malloc(sizeof(float) * n);
    if (!p) {
        fprintf(stderr, "compare: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = (float)((int)((i + seed) * 2654435761u % 2001) - 1000) / 1000.0f;
    return p;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// One call of the product as ops/cpu/matmul.c makes it; seconds.
static double timed(gemm_fn gemm, pass p, float *out, const float *inp, const float *w, const float *dout,
                    const shape *s) {
    const int N = s->N, I = s->I, O = s->O;
    double t = omp_get_wtime();
    int rc = p == FORWARD      ? gemm(out, O, inp, I, 1, w, 1, I, N, O, I, 0)
             : p == INPUT_GRAD ? gemm(out, I, dout, O, 1, w, I, 1, N, I, O, 0)
                               : gemm(out, I, dout, 1, O, inp, I, 1, O, I, N, 0);
    if (rc != 0) {
        fprintf(stderr, "compare: a product could not get its packing memory\n");
        exit(1);
    }
    return omp_get_wtime() - t;
}

int main(int argc, char **argv) {
    int repeats = 11;
    const char *set = "all";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeats") && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--shapes") && i + 1 < argc)
            set = argv[++i];
        else {
            fprintf(stderr, "usage: compare [--repeats R] [--shapes small|gpt2s|all]\n");
            return 2;
        }
    }
    if (repeats < 1 || repeats > 1000) {
        fprintf(stderr, "compare: --repeats %d: give 1 to 1000\n", repeats);
        return 2;
    }
    double *t_old = malloc(sizeof(double) * repeats), *t_new = malloc(sizeof(double) * repeats);
    if (!t_old || !t_new) return 1;
    printf("%d threads, median of %d alternating calls; ratio = old time / new time\n\n",
           omp_get_max_threads(), repeats);
    printf("| product | pass | N x I x O | old GFLOP/s | new GFLOP/s | new vs old | largest difference |\n");
    printf("|---|---|---|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        if (strcmp(set, "all") && strcmp(set, s->set)) continue;
        const size_t nx = (size_t)s->N * s->I, nw = (size_t)s->O * s->I, no = (size_t)s->N * s->O;
        float *inp = filled(nx, 1), *w = filled(nw, 2), *dout = filled(no, 3);
        for (int p = FORWARD; p <= WEIGHT_GRAD; p++) {
            const size_t nc = p == FORWARD ? no : p == INPUT_GRAD ? nx : nw;
            float *c_old = filled(nc, 4), *c_new = filled(nc, 4);
            timed(cpu_gemm_old, (pass)p, c_old, inp, w, dout, s);  // warm-up: packing memory, caches
            timed(cpu_gemm_new, (pass)p, c_new, inp, w, dout, s);
            double diff = 0.0;
            for (size_t j = 0; j < nc; j++) diff = fmax(diff, fabs((double)c_old[j] - c_new[j]));
            for (int r = 0; r < repeats; r++) {
                t_old[r] = timed(cpu_gemm_old, (pass)p, c_old, inp, w, dout, s);
                t_new[r] = timed(cpu_gemm_new, (pass)p, c_new, inp, w, dout, s);
            }
            qsort(t_old, repeats, sizeof(double), by_value);
            qsort(t_new, repeats, sizeof(double), by_value);
            const double gflop = 2.0 * s->N * s->I * s->O * 1e-9;
            const double m_old = t_old[repeats / 2], m_new = t_new[repeats / 2];
            printf("| %s | %s | %d x %d x %d | %.0f | %.0f | %.3f | %.2g |\n", s->name, pass_names[p], s->N,
                   s->I, s->O, gflop / m_old, gflop / m_new, m_old / m_new, diff);
            fflush(stdout);
            free(c_old);
            free(c_new);
        }
        free(inp);
        free(w);
        free(dout);
    }
    free(t_old);
    free(t_new);
    return 0;
}
