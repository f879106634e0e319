// loader.h: training rows from a data directory's shards, in a shuffled order
// that is a pure function of (seed, epoch, index), so a resumed run reads
// exactly the rows an uninterrupted run would have read.
//
// A row is row_len = T + n tokens: inputs are row[0:T], head k's targets are
// row[k:k+T]. Windows never cross a shard boundary: in a shard of `count`
// tokens, window j starts at token j*T for j = 0 .. floor((count - row_len) / T)
// (a shard shorter than row_len has none). Consecutive windows overlap by n
// tokens, so every token is a target. Global window ids run over the shards
// in name order.
//
// Training order: epoch e visits every window once, in the order of a
// Fisher-Yates shuffle of [0, N) seeded with mtp_rng_seed(seed + e):
//   perm[i] = i; for i = N-1 down to 1: j = mtp_rng_below(rng, i + 1); swap(perm[i], perm[j])
// and position (e, i) reads window perm[i].
#ifndef MTP_DATA_LOADER_H
#define MTP_DATA_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "data/shard.h"

typedef struct {
    int num_shards;
    shard *shards;         // (num_shards) sorted by file name
    size_t *window_start;  // (num_shards + 1) first global window of each shard; [num_shards] = N
    size_t num_windows;    // N
    uint64_t num_tokens;   // all tokens in the split's shards
    uint32_t max_token;    // largest id in the split
    int T, n, row_len;
    // training order
    uint64_t seed, epoch, index;
    uint32_t *perm;  // (N) order of epoch perm_epoch (valid if perm_ready)
    uint64_t perm_epoch;
    int perm_ready;
} data_loader;

// Opens all DIR/<split>_*.bin shards (sorted by name) for rows of T + n
// tokens and checks every token against vocab_size (in parallel). Fails with
// an error naming the directory and the fix if DIR is missing, has no
// <split>_*.bin, has no window at all, or holds a token >= vocab_size (shard,
// position, id and the --vocab-size that would fit). vocab_size 0 skips the
// check. The order starts at seed 0, epoch 0, index 0.
int loader_open(data_loader *L, const char *dir, const char *split, int T, int n, int vocab_size);
size_t loader_num_windows(const data_loader *L);
// Largest token id in the split + 1: the smallest vocab that fits the data.
int loader_vocab_needed(const data_loader *L);

// Moves to position (epoch, index) of the order seeded by `seed`; an index
// past the end of an epoch carries into the next ones.
void loader_set_order(data_loader *L, uint64_t seed, uint64_t epoch, uint64_t index);
// The position the next row will be read from (index < N).
void loader_get_position(const data_loader *L, uint64_t *epoch, uint64_t *index);
// Fills rows (B, row_len) with the next B windows in training order,
// reshuffling when it crosses into the next epoch.
void loader_next_batch(data_loader *L, int B, int32_t *rows);
// Sequential windows for evaluation: row i is window (start + i) % N, for i in [0, B).
void loader_window_batch(const data_loader *L, size_t start, int B, int32_t *rows);
// Copies window w (< N) into row (row_len).
void loader_window(const data_loader *L, size_t w, int32_t *row);
void loader_close(data_loader *L);

#endif
