// rng.c: SplitMix64 and the distributions built on it.
#include "core/rng.h"

#include <math.h>

void mtp_rng_seed(mtp_rng *rng, uint64_t seed) {
    rng->state = seed ^ 0x6a09e667f3bcc909ULL;
}

uint64_t mtp_rng_u64(mtp_rng *rng) {
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double mtp_rng_uniform(mtp_rng *rng) {
    return (double)(mtp_rng_u64(rng) >> 11) * 0x1.0p-53;
}

uint64_t mtp_rng_below(mtp_rng *rng, uint64_t n) {
    // Rejection sampling: draw until the value falls in the largest multiple of n.
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = mtp_rng_u64(rng);
    } while (x >= limit);
    return x % n;
}

double mtp_rng_normal(mtp_rng *rng) {
    double u1 = mtp_rng_uniform(rng);
    double u2 = mtp_rng_uniform(rng);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
