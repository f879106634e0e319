// loader.c: windows over a split's shards and their per-epoch shuffle.
#include "data/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/rng.h"

// Number of windows of a shard of `count` tokens (see loader.h).
static size_t shard_windows(size_t count, int T, int row_len) {
    return count < (size_t)row_len ? 0 : (count - (size_t)row_len) / (size_t)T + 1;
}

// Largest token of s, and the first position holding a token >= vocab_size
// (SIZE_MAX if none; vocab_size 0 checks nothing).
static void scan_shard(const shard *s, int vocab_size, uint32_t *max_token, size_t *first_bad) {
    uint32_t mx = 0;
    size_t bad = SIZE_MAX;
    uint32_t limit = vocab_size > 0 ? (uint32_t)vocab_size : UINT32_MAX;
    size_t count = s->count;
#pragma omp parallel for reduction(max : mx) reduction(min : bad) schedule(static)
    for (size_t i = 0; i < count; i++) {
        uint32_t t = shard_token(s, i);
        if (t > mx) mx = t;
        if (t >= limit && i < bad) bad = i;
    }
    *max_token = mx;
    *first_bad = bad;
}

static int open_shards(data_loader *L, const char *dir, const char *split, int vocab_size) {
    char prefix[256];
    if (snprintf(prefix, sizeof prefix, "%s_", split) >= (int)sizeof prefix)
        return mtp_errorf("split name too long: '%s'", split);
    fs_list list;
    if (fs_list_dir(dir, prefix, ".bin", &list) != 0) return -1;
    if (list.count == 0) {
        fs_list_free(&list);
        return mtp_errorf(
            "%s: no %s_*.bin shards (a data directory made by mtp prepare holds train_*.bin, "
            "val_*.bin and tokenizer.json)",
            dir, split);
    }
    L->shards = mtp_calloc((size_t)list.count, sizeof *L->shards, "shard list");
    L->window_start = mtp_calloc((size_t)list.count + 1, sizeof *L->window_start, "shard windows");
    if (!L->shards || !L->window_start) {
        fs_list_free(&list);
        return -1;
    }
    int rc = 0;
    const char *bad_name = NULL;
    size_t bad_pos = 0;
    uint32_t bad_id = 0;
    char path[4096];
    for (int i = 0; i < list.count && rc == 0; i++) {
        rc = fs_join(path, sizeof path, dir, list.names[i]);
        if (rc == 0) rc = shard_open(path, &L->shards[i]);
        if (rc != 0) break;
        L->num_shards = i + 1;
        uint32_t mx;
        size_t first_bad;
        scan_shard(&L->shards[i], vocab_size, &mx, &first_bad);
        if (mx > L->max_token) L->max_token = mx;
        if (first_bad != SIZE_MAX && !bad_name) {
            bad_name = list.names[i];
            bad_pos = first_bad;
            bad_id = shard_token(&L->shards[i], first_bad);
        }
        L->num_tokens += L->shards[i].count;
        L->window_start[i + 1] = L->window_start[i] + shard_windows(L->shards[i].count, L->T, L->row_len);
    }
    if (rc == 0 && bad_name) {
        // All shards were scanned first, so the suggested vocab fits them all.
        fs_join(path, sizeof path, dir, bad_name);
        rc = mtp_errorf(
            "%s: token %u at position %zu is >= the vocab size %d; the data needs --vocab-size %llu or "
            "more (or re-run mtp prepare with the model's tokenizer)",
            path, (unsigned)bad_id, bad_pos, vocab_size, (unsigned long long)L->max_token + 1);
    }
    fs_list_free(&list);
    return rc;
}

int loader_open(data_loader *L, const char *dir, const char *split, int T, int n, int vocab_size) {
    memset(L, 0, sizeof *L);
    if (T < 1 || n < 1 || vocab_size < 0 || T > (1 << 24) || n > (1 << 16))
        return mtp_errorf("loader: invalid shape seq-len %d, n-future %d, vocab %d", T, n, vocab_size);
    if (!fs_is_dir(dir)) {
        if (fs_is_file(dir))
            return mtp_errorf(
                "data directory '%s' is a file (give the directory that mtp prepare --out wrote)", dir);
        return mtp_errorf("data directory '%s' does not exist (make one with: mtp prepare --out %s INPUT...)",
                          dir, dir);
    }
    L->T = T;
    L->n = n;
    L->row_len = T + n;
    if (open_shards(L, dir, split, vocab_size) != 0) {
        loader_close(L);
        return -1;
    }
    L->num_windows = L->window_start[L->num_shards];
    if (L->num_windows == 0) {
        size_t largest = 0;
        for (int i = 0; i < L->num_shards; i++)
            if (L->shards[i].count > largest) largest = L->shards[i].count;
        if (L->num_shards == 1 || L->num_tokens < (uint64_t)L->row_len)
            mtp_errorf(
                "%s: the %s split has %llu tokens, fewer than one row of %d (seq-len %d + n-future %d): "
                "use a smaller --seq-len or more data",
                dir, split, (unsigned long long)L->num_tokens, L->row_len, T, n);
        else
            mtp_errorf(
                "%s: each of the %d %s shards is shorter than one row of %d (seq-len %d + n-future %d); "
                "the largest has %zu tokens: use a smaller --seq-len or re-run mtp prepare with a larger "
                "--shard-tokens",
                dir, L->num_shards, split, L->row_len, T, n, largest);
        loader_close(L);
        return -1;
    }
    if (L->num_windows > UINT32_MAX) {
        mtp_errorf(
            "%s: %zu windows in the %s split, more than the %u the loader can shuffle: use a larger "
            "--seq-len",
            dir, L->num_windows, split, UINT32_MAX);
        loader_close(L);
        return -1;
    }
    L->perm = mtp_malloc(L->num_windows * sizeof *L->perm, "window order");
    if (!L->perm) {
        loader_close(L);
        return -1;
    }
    return 0;
}

size_t loader_num_windows(const data_loader *L) {
    return L->num_windows;
}

int loader_vocab_needed(const data_loader *L) {
    return L->max_token >= (uint32_t)INT32_MAX ? INT32_MAX : (int)L->max_token + 1;
}

void loader_window(const data_loader *L, size_t w, int32_t *row) {
    // The shard holding w: the last s with window_start[s] <= w (shards
    // without windows share their start with the next shard, so "last" skips them).
    size_t lo = 0, hi = (size_t)L->num_shards;  // answer in [lo, hi)
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (L->window_start[mid] <= w)
            lo = mid;
        else
            hi = mid;
    }
    const shard *s = &L->shards[lo];
    size_t first = (w - L->window_start[lo]) * (size_t)L->T;
    for (int k = 0; k < L->row_len; k++) row[k] = (int32_t)shard_token(s, first + (size_t)k);
}

static void shuffle_epoch(data_loader *L) {
    mtp_rng rng;
    mtp_rng_seed(&rng, L->seed + L->epoch);
    size_t N = L->num_windows;
    for (size_t i = 0; i < N; i++) L->perm[i] = (uint32_t)i;
    for (size_t i = N - 1; i >= 1; i--) {
        size_t j = (size_t)mtp_rng_below(&rng, (uint64_t)i + 1);
        uint32_t t = L->perm[i];
        L->perm[i] = L->perm[j];
        L->perm[j] = t;
    }
    L->perm_epoch = L->epoch;
    L->perm_ready = 1;
}

void loader_set_order(data_loader *L, uint64_t seed, uint64_t epoch, uint64_t index) {
    uint64_t N = L->num_windows;
    if (L->seed != seed) L->perm_ready = 0;
    L->seed = seed;
    L->epoch = epoch + index / N;
    L->index = index % N;
}

void loader_get_position(const data_loader *L, uint64_t *epoch, uint64_t *index) {
    *epoch = L->epoch;
    *index = L->index;
}

void loader_next_batch(data_loader *L, int B, int32_t *rows) {
    for (int b = 0; b < B; b++) {
        if (!L->perm_ready || L->perm_epoch != L->epoch) shuffle_epoch(L);
        loader_window(L, L->perm[L->index], rows + (size_t)b * (size_t)L->row_len);
        if (++L->index == L->num_windows) {
            L->index = 0;
            L->epoch++;
        }
    }
}

void loader_window_batch(const data_loader *L, size_t start, int B, int32_t *rows) {
    for (int b = 0; b < B; b++)
        loader_window(L, (start + (size_t)b) % L->num_windows, rows + (size_t)b * (size_t)L->row_len);
}

void loader_close(data_loader *L) {
    for (int i = 0; i < L->num_shards; i++) shard_close(&L->shards[i]);
    free(L->shards);
    free(L->window_start);
    free(L->perm);
    memset(L, 0, sizeof *L);
}
