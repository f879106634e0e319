// bandwidth.c: a streaming-read probe of the memory, the ceiling of decoding.
#include <omp.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/timer.h"
#include "ops/cpu/vecn.h"
#include "ops/ops.h"

// Sum of n floats (n a multiple of 64) with four independent accumulators,
// so the loads, not the additions, set the pace. Native-width vectors: with
// 16-lane ones an AVX2 build kept the accumulators in memory and the probe
// read 13 GB/s where the decoding kernels streamed 24-26 (Intel Xeon, 2
// threads; 27-31 GB/s in the AVX-512 build). A software prefetch PROBE_AHEAD
// floats ahead, as the decoding kernels have: without it the AVX2 build's
// probe (two loads per cache line) read 21-27 GB/s and its decode-layout
// kernel 111-116% of that; with it, 26-30 GB/s and 93-109% (the AVX-512
// build's probe unchanged within noise).
enum { PROBE_AHEAD = 1024 };
static float stream_sum(const float *p, size_t n) {
    vfn a = splatn(0.0f), b = a, c = a, d = a;
    for (size_t i = 0; i < n; i += 4 * VN) {
        for (int l = 0; l < 4 * VN; l += 16) __builtin_prefetch(p + i + PROBE_AHEAD + l, 0, 2);
        a += loadn(p + i);
        b += loadn(p + i + VN);
        c += loadn(p + i + 2 * VN);
        d += loadn(p + i + 3 * VN);
    }
    a += b + c + d;
    float s = 0.0f;
    for (int k = 0; k < VN; k++) s += a[k];
    return s;
}

double op_read_bandwidth_of(const float *buf, size_t n, int passes) {
    n = n / 4096 * 4096;
    int threads = op_get_threads();
    double best = 0.0;
    volatile float sink = 0.0f;
    for (int p = 0; p < passes && n > 0; p++) {
        double t0 = mtp_now();
        float total = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : total)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            size_t per = n / 64 / (size_t)nt * 64, lo = per * (size_t)t, hi = t == nt - 1 ? n : lo + per;
            total += stream_sum(buf + lo, hi - lo);
        }
        double s = mtp_now() - t0;
        sink = total;
        if (s > 0.0 && (double)(n * sizeof(float)) / s > best) best = (double)(n * sizeof(float)) / s;
    }
    (void)sink;
    return best;
}

float *op_read_bandwidth_buffer(size_t bytes, size_t *n) {
    *n = bytes / sizeof(float) / 4096 * 4096;
    float *buf = NULL;
    // the kind of pages the weights get (huge where granted: 16% faster reads on an Intel Xeon)
    if (*n == 0 || !(buf = mtp_alloc_streamed(*n * sizeof(float), 0, "read probe"))) return NULL;
        // first touch by the threads that will read: the pages land near them
#pragma omp parallel for num_threads(op_get_threads()) schedule(static)
    for (size_t i = 0; i < *n; i++) buf[i] = 1.0f;
    return buf;
}

double op_read_bandwidth(size_t bytes, int passes) {
    size_t n;
    float *buf = op_read_bandwidth_buffer(bytes, &n);
    if (!buf) return 0.0;
    double bw = op_read_bandwidth_of(buf, n, passes);
    free(buf);
    return bw;
}
