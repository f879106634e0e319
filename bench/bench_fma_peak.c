// bench_fma_peak: the machine's multiply-add peak, without memory.
//
// Each thread runs 12 independent chains of vector multiply-adds (acc =
// acc * a + b) on registers only: 12 chains cover the latency of two FMA
// units (4-5 cycles each), so the loop runs at the units' throughput. The
// vector width is the build's (-march): 512-bit with AVX-512, 256-bit with
// AVX2. GFLOP/s counts a multiply-add as 2. This is the ceiling no kernel
// passes; `mtp bench-train` reports MFU against the best 2048^3 product,
// which sits below it (packing, loads, the cache hierarchy).
//
//   build/bench/bench_fma_peak [--threads N] [--repeats R] [--seconds S]
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"

#if defined(__AVX512F__)
#define VEC_BYTES 64
#define VEC_NAME "512-bit (AVX-512)"
#elif defined(__AVX__)
#define VEC_BYTES 32
#define VEC_NAME "256-bit (AVX/AVX2)"
#else
#define VEC_BYTES 16
#define VEC_NAME "128-bit (SSE)"
#endif
#define LANES (VEC_BYTES / 4)
#define CHAINS 12

typedef float vfloat __attribute__((vector_size(VEC_BYTES)));

// iters rounds of CHAINS multiply-adds; returns a sum so nothing is dropped
static float chains(long iters, float seed) {
    vfloat acc[CHAINS], a, b;
    for (int l = 0; l < LANES; l++) {
        a[l] = 0.999999f;
        b[l] = 1e-7f * seed;
    }
    for (int c = 0; c < CHAINS; c++)
        for (int l = 0; l < LANES; l++) acc[c][l] = seed + (float)c;
    for (long i = 0; i < iters; i++) {
        for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * a + b;
        __asm__ volatile("" : "+v"(a), "+v"(b));  // in registers, and the loop is not folded
    }
    float s = 0;
    for (int c = 0; c < CHAINS; c++)
        for (int l = 0; l < LANES; l++) s += acc[c][l];
    return s;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static int read_int(const char *flag, const char *v, int lo, int hi) {
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "bench_fma_peak: %s '%s': expected an integer in %d..%d\n", flag, v ? v : "", lo, hi);
        exit(2);
    }
    return (int)x;
}

int main(int argc, char **argv) {
    int threads = 2, repeats = 5;
    double seconds = 0.5;  // per repeat
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--threads")) {
            threads = read_int("--threads", v, 1, 1024);
            i++;
        } else if (!strcmp(argv[i], "--repeats")) {
            repeats = read_int("--repeats", v, 1, 1000);
            i++;
        } else if (!strcmp(argv[i], "--seconds")) {
            seconds = read_int("--seconds", v, 1, 60);
            i++;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf(
                "usage: bench_fma_peak [--threads N (2)] [--repeats R (5)] [--seconds S (about 0.5)]\n"
                "The multiply-add peak of N threads, registers only: GFLOP/s per repeat and the median.\n");
            return 0;
        } else {
            fprintf(stderr, "bench_fma_peak: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    omp_set_num_threads(threads);
    // size the rounds so a repeat lasts about `seconds`, from a short timed run
    long iters = 1 << 20;
    double t0 = mtp_now();
    volatile float sink = chains(iters, 1.0f);
    double dt = mtp_now() - t0;
    if (dt > 0) iters = (long)(iters * seconds / dt);
    double *gflops = calloc((size_t)repeats, sizeof *gflops);
    if (!gflops) return 1;
    printf("bench_fma_peak: %s vectors, %d chains, %d threads, %ld rounds a thread\n", VEC_NAME, CHAINS,
           threads, iters);
    for (int r = 0; r < repeats; r++) {
        double start = mtp_now();
        float total = 0;
#pragma omp parallel reduction(+ : total)
        total += chains(iters, 1.0f + (float)omp_get_thread_num());
        double elapsed = mtp_now() - start;
        sink = total;
        gflops[r] = 2.0 * LANES * CHAINS * (double)iters * threads / elapsed / 1e9;
        printf("  repeat %d: %.1f GFLOP/s\n", r + 1, gflops[r]);
    }
    (void)sink;
    qsort(gflops, (size_t)repeats, sizeof *gflops, cmp_double);
    printf("median: %.1f GFLOP/s (%.1f a thread)\n", gflops[repeats / 2], gflops[repeats / 2] / threads);
    free(gflops);
    return 0;
}
