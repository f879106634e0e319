// passk.c: the unbiased pass@k estimator (see passk.h).
#include "eval/passk.h"

#include "core/error.h"

double passk_estimate(long n, long c, long k) {
    if (k < 1 || k > n || c < 0 || c > n) return -1;
    if (n - c < k) return 1.0;
    // C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k/i): each factor is in
    // [0, 1), so the product only shrinks and never overflows.
    double fail = 1.0;
    for (long i = n - c + 1; i <= n; i++) fail *= 1.0 - (double)k / (double)i;
    return 1.0 - fail;
}

int passk_mean(const long *n, const long *c, long tasks, long k, double *out) {
    if (tasks < 1) return mtp_errorf("pass@%ld: no tasks", k);
    if (k < 1) return mtp_errorf("pass@%ld: k must be at least 1", k);
    double sum = 0;
    for (long t = 0; t < tasks; t++) {
        if (n[t] < k)
            return mtp_errorf(
                "pass@%ld: task %ld has only %ld samples; k must not exceed the samples per task", k, t,
                n[t]);
        double p = passk_estimate(n[t], c[t], k);
        if (p < 0) return mtp_errorf("pass@%ld: task %ld has %ld passing of %ld samples", k, t, c[t], n[t]);
        sum += p;
    }
    *out = sum / (double)tasks;
    return 0;
}

long passk_min_samples(const long *n, long tasks) {
    if (tasks < 1) return 0;
    long m = n[0];
    for (long t = 1; t < tasks; t++)
        if (n[t] < m) m = n[t];
    return m;
}
