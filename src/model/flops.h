// flops.h: the arithmetic of one training step, so benchmarks can report
// achieved GFLOP/s and the fraction of the machine's matrix-product ceiling.
// Counts multiply-adds as 2 FLOPs; a backward costs twice its forward (the
// usual accounting: the flash-attention recomputation is not counted).
#ifndef MTP_MODEL_FLOPS_H
#define MTP_MODEL_FLOPS_H

#include "model/config.h"

typedef struct {
    double blocks;           // q/k/v/o projections and the MLP of all L blocks, linear heads
    double attention;        // causal scores and their weighted sums
    double unembed;          // n heads x the (d x V) unembedding
    double total;            // the three above, forward + backward
    double optimizer_bytes;  // AdamW reads p, g, m, v and writes p, m, v: 28 bytes per parameter
} step_flops;

// One optimizer step over B rows of T tokens (one micro-batch).
step_flops model_step_flops(const mtp_config *cfg, int B, int T);

// Bytes of weights one plain decoding step reads: the trunk's and head 1's
// matrices (of every head an anticausal head 1 reads; head 1's matrix
// for linear heads) and norms, the final norm and the unembedding, plus one
// embedding row; matrices in float32, or in int8 with a float32 scale per 32
// values (q8). The floor of its memory traffic: a model far larger than the
// caches decodes at best at read bandwidth / these bytes tokens/s.
double model_decode_weight_bytes(const mtp_config *cfg, int q8);
// The KV cache a plain decoding step reads at `context` positions (keys and
// values of every block it runs, float32 whatever the weights).
double model_decode_kv_bytes(const mtp_config *cfg, double context);

#endif
