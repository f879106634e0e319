// common.h: what the kernel_ab drivers share: the clock, medians and
// quartiles of per-pair ratios, flag parsing, and filled buffers.
#ifndef MTP_BENCH_KERNEL_AB_COMMON_H
#define MTP_BENCH_KERNEL_AB_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

enum { AB_MAX_REPEATS = 1000 };

static inline double ab_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static inline int ab_by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Sorts v (n values) and returns its median; q1, q3 get the quartiles.
static inline double ab_median(double *v, int n, double *q1, double *q3) {
    qsort(v, (size_t)n, sizeof *v, ab_by_value);
    if (q1) *q1 = v[n / 4];
    if (q3) *q3 = v[3 * n / 4];
    return v[n / 2];
}

// An int flag's value, or exit 2 with a one-line error naming it.
static inline int ab_int(const char *prog, const char *flag, const char *value, int lo, int hi) {
    char *end = NULL;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || *end || v < lo || v > hi) {
        fprintf(stderr, "%s: %s %s: give a whole number from %d to %d\n", prog, flag,
                value ? value : "(none)", lo, hi);
        exit(2);
    }
    return (int)v;
}

// R pairs of calls run(ctx, side), side 0 the old kernel and 1 the new, the
// first of each pair alternating; their seconds into t[side][0..R).
static inline void ab_pairs(int R, double *t[2], void (*run)(void *ctx, int side), void *ctx) {
    for (int r = 0; r < R; r++)
        for (int turn = 0; turn < 2; turn++) {
            const int side = (r + turn) % 2;
            double t0 = ab_now();
            run(ctx, side);
            t[side][r] = ab_now() - t0;
        }
}

// The medians of the old and new times and of their per-pair ratios (old /
// new), with the ratios' quartiles. Sorts t.
typedef struct {
    double old_s, new_s, ratio, q1, q3;
} ab_summary;

static inline ab_summary ab_summarize(double *t[2], int R) {
    ab_summary m;
    double *ratio = malloc(sizeof(double) * (size_t)R);
    if (!ratio) exit(1);
    for (int r = 0; r < R; r++) ratio[r] = t[0][r] / t[1][r];
    m.ratio = ab_median(ratio, R, &m.q1, &m.q3);
    m.old_s = ab_median(t[0], R, NULL, NULL);
    m.new_s = ab_median(t[1], R, NULL, NULL);
    free(ratio);
    return m;
}

// A driver's flags: each --name takes a whole number into *value, within
// lo..hi; anything else prints the usage line and exits 2.
typedef struct {
    const char *name;
    int *value, lo, hi;
} ab_flag;

static inline void ab_parse(int argc, char **argv, const char *prog, const char *usage, const ab_flag *flags,
                            int n) {
    for (int i = 1; i < argc; i++) {
        int known = 0;
        for (int f = 0; f < n && !known; f++)
            if (!strcmp(argv[i], flags[f].name)) {
                *flags[f].value =
                    ab_int(prog, argv[i], i + 1 < argc ? argv[i + 1] : NULL, flags[f].lo, flags[f].hi);
                known = 1, i++;
            }
        if (!known) {
            fprintf(stderr, "usage: %s %s\n", prog, usage);
            exit(2);
        }
    }
}

// The model's kind of memory: 64-byte aligned, huge pages from 4 MB on where
// the kernel grants them (core/error.c).
static inline void *ab_alloc(size_t bytes) {
    void *p = mtp_alloc_streamed(bytes, 0, "kernel_ab buffer");
    if (!p) {
        fprintf(stderr, "kernel_ab: %s\n", mtp_last_error());
        exit(1);
    }
    return p;
}

// n floats of a fixed pseudo-random pattern in [-scale, scale].
static inline float *ab_filled(size_t n, unsigned seed, float scale) {
    float *p = ab_alloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        p[i] = scale * (float)((int)((i + seed) * 2654435761u % 2001) - 1000) / 1000.0f;
    return p;
}

#endif
