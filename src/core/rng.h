// rng.h: a small, fully specified random generator whose state is one
// uint64, so runs are reproducible from a seed and the state can be saved in
// a checkpoint and restored exactly. SplitMix64 (Steele et al. 2014).
#ifndef MTP_CORE_RNG_H
#define MTP_CORE_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state;
} mtp_rng;

void mtp_rng_seed(mtp_rng *rng, uint64_t seed);
uint64_t mtp_rng_u64(mtp_rng *rng);
// Uniform in [0, 1) with 53 random bits.
double mtp_rng_uniform(mtp_rng *rng);
// Uniform integer in [0, n), n > 0, without modulo bias.
uint64_t mtp_rng_below(mtp_rng *rng, uint64_t n);
// Standard normal (Box-Muller; one value per call, the pair's twin dropped so
// the stream depends only on the number of calls).
double mtp_rng_normal(mtp_rng *rng);

#endif
