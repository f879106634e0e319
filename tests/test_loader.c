// test_loader.c: the training loader's contract (loader.h): window counts per
// shard, window contents against an independent generator, the documented
// Fisher-Yates order (recomputed here from mtp_rng), determinism, resume
// from a saved position, epoch wrap, and the refusals (token >= vocab,
// missing or empty directory, too little data, corrupt shard).
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/rng.h"
#include "data/loader.h"
#include "data/shard.h"
#include "test_util.h"

enum { T = 16, NF = 3, ROW = T + NF, VOCAB = 257 };

// Token at position i of shard s: a fixed pseudo-random function.
static int32_t gen_token(int s, size_t i) {
    uint64_t z = (uint64_t)s * 0x9e3779b97f4a7c15ULL + i * 0xbf58476d1ce4e5b9ULL;
    z ^= z >> 29;
    return (int32_t)(z % VOCAB);
}

static void write_shard(const char *dir, const char *name, int s, size_t count, int elem, int32_t poison_at) {
    char path[512];
    fs_join(path, sizeof path, dir, name);
    int32_t *ids = malloc((count ? count : 1) * sizeof *ids);
    for (size_t i = 0; i < count; i++) ids[i] = gen_token(s, i);
    if (poison_at >= 0) ids[poison_at] = 300;
    shard_writer *w = shard_writer_open(path, elem);
    if (!w || shard_writer_append(w, ids, count) != 0 || shard_writer_close(w) != 0) {
        printf("FAIL writing %s: %s\n", path, mtp_last_error());
        exit(1);
    }
    free(ids);
}

static void make_dir(char *out, size_t cap, const char *name) {
    fs_join(out, cap, tmpdir, name);
    if (fs_mkdir_p(out) != 0) {
        printf("FAIL %s\n", mtp_last_error());
        exit(1);
    }
}

// The shards of the main test directory, in name order.
static const size_t counts[] = {
    ROW + 5 * T + 7,  // 6 windows
    ROW - 1,          // none
    ROW,              // 1
    ROW + T - 1,      // 1
    ROW + T,          // 2
    1000,             // (1000 - 19) / 16 + 1 = 62
};
#define NSHARDS (int)(sizeof counts / sizeof *counts)

// Expected window list: (shard, start) for each global window.
static size_t expected_windows(int *ws, size_t *wstart) {
    size_t n = 0;
    for (int s = 0; s < NSHARDS; s++)
        for (size_t j = 0; counts[s] >= ROW && j <= (counts[s] - ROW) / T; j++) {
            if (ws) ws[n] = s, wstart[n] = j * T;
            n++;
        }
    return n;
}

static int row_is_window(const int32_t *row, int s, size_t start) {
    for (int k = 0; k < ROW; k++)
        if (row[k] != gen_token(s, start + (size_t)k)) return 0;
    return 1;
}

// The documented order, recomputed: Fisher-Yates seeded with seed + epoch.
static void reference_perm(uint32_t *perm, size_t N, uint64_t seed, uint64_t epoch) {
    mtp_rng rng;
    mtp_rng_seed(&rng, seed + epoch);
    for (size_t i = 0; i < N; i++) perm[i] = (uint32_t)i;
    for (size_t i = N - 1; i >= 1; i--) {
        size_t j = (size_t)mtp_rng_below(&rng, i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static void test_windows(const char *dir) {
    data_loader L;
    CHECK(loader_open(&L, dir, "train", T, NF, VOCAB) == 0, "open: %s", mtp_last_error());
    size_t N = expected_windows(NULL, NULL);
    CHECK(N == 6 + 0 + 1 + 1 + 2 + 62, "expected count");
    CHECK(loader_num_windows(&L) == N, "num_windows %zu, expected %zu", loader_num_windows(&L), N);
    int *ws = malloc(N * sizeof *ws);
    size_t *wstart = malloc(N * sizeof *wstart);
    expected_windows(ws, wstart);
    int32_t row[ROW];
    size_t bad = 0;
    for (size_t w = 0; w < N; w++) {
        loader_window_batch(&L, w, 1, row);
        bad += !row_is_window(row, ws[w], wstart[w]);
    }
    CHECK(bad == 0, "%zu windows differ from the shard content", bad);
    // Batched and wrapping sequential reads.
    int32_t *rows = malloc(5 * ROW * sizeof *rows);
    loader_window_batch(&L, N - 2, 5, rows);
    size_t expect_w[5] = {N - 2, N - 1, 0, 1, 2};
    for (int i = 0; i < 5; i++)
        CHECK(row_is_window(rows + i * ROW, ws[expect_w[i]], wstart[expect_w[i]]), "eval batch row %d", i);
    CHECK(loader_vocab_needed(&L) <= VOCAB && loader_vocab_needed(&L) > 200, "vocab needed %d",
          loader_vocab_needed(&L));
    CHECK(L.num_tokens == 1000 + ROW + 5 * T + 7 + ROW - 1 + ROW + ROW + T - 1 + ROW + T, "token total");

    // Training order: epoch e is the reference permutation; 3 epochs read
    // with a batch size that does not divide N, so batches straddle epochs.
    const uint64_t seed = 1234;
    loader_set_order(&L, seed, 0, 0);
    uint32_t *perm = malloc(N * sizeof *perm);
    int B = 7;
    size_t total = 3 * N;
    int32_t *batch = malloc((size_t)B * ROW * sizeof *batch);
    size_t read = 0;
    int order_ok = 1, visits_ok = 1;
    int *visits = calloc(N, sizeof *visits);
    while (read + (size_t)B <= total) {
        loader_next_batch(&L, B, batch);
        for (int b = 0; b < B; b++, read++) {
            uint64_t e = read / N, i = read % N;
            if (i == 0) {
                reference_perm(perm, N, seed, e);
                if (e > 0)
                    for (size_t w = 0; w < N; w++) visits_ok &= visits[w] == (int)e;
            }
            size_t w = perm[i];
            visits[w]++;
            order_ok &= row_is_window(batch + b * ROW, ws[w], wstart[w]);
        }
    }
    CHECK(order_ok, "training order differs from the documented Fisher-Yates order");
    CHECK(visits_ok, "an epoch did not visit every window exactly once");
    uint64_t e, i;
    loader_get_position(&L, &e, &i);
    CHECK(e == read / N && i == read % N, "position (%llu, %llu) after %zu rows", (unsigned long long)e,
          (unsigned long long)i, read);

    // Different seeds give different orders.
    data_loader L2;
    CHECK(loader_open(&L2, dir, "train", T, NF, VOCAB) == 0, "second open");
    loader_set_order(&L, 1, 0, 0);
    loader_set_order(&L2, 2, 0, 0);
    int32_t *a = malloc(N * ROW * sizeof *a), *c = malloc(N * ROW * sizeof *c);
    loader_next_batch(&L, (int)N, a);
    loader_next_batch(&L2, (int)N, c);
    CHECK(memcmp(a, c, N * ROW * sizeof *a) != 0, "seeds 1 and 2 give the same order");
    // Same seed, fresh loader: same rows.
    loader_set_order(&L, 2, 0, 0);
    loader_next_batch(&L, (int)N, a);
    CHECK(memcmp(a, c, N * ROW * sizeof *a) == 0, "same seed, different rows");
    loader_close(&L2);

    // Resume: run A reads 40 rows, saves its position, reads 200 more; run B
    // (a fresh loader) restores the position and must read the same 200.
    int32_t *ra = malloc(200 * ROW * sizeof *ra), *rb = malloc(200 * ROW * sizeof *rb);
    loader_set_order(&L, 99, 0, 0);
    for (int k = 0; k < 8; k++) loader_next_batch(&L, 5, batch);
    uint64_t se, si;
    loader_get_position(&L, &se, &si);
    CHECK(se == 0 && si == 40, "position after 40 rows: (%llu, %llu)", (unsigned long long)se,
          (unsigned long long)si);
    for (int k = 0; k < 40; k++) loader_next_batch(&L, 5, ra + k * 5 * ROW);
    data_loader R;
    CHECK(loader_open(&R, dir, "train", T, NF, VOCAB) == 0, "resume open");
    loader_set_order(&R, 99, se, si);
    for (int k = 0; k < 25; k++) loader_next_batch(&R, 8, rb + k * 8 * ROW);  // other batch size, same rows
    CHECK(memcmp(ra, rb, 200 * ROW * sizeof *ra) == 0, "resumed run reads different rows");
    // An index past the epoch carries: (0, 40 + N) == (1, 40).
    loader_set_order(&R, 99, 0, 40 + N);
    loader_get_position(&R, &se, &si);
    CHECK(se == 1 && si == 40, "carry: (%llu, %llu)", (unsigned long long)se, (unsigned long long)si);
    loader_set_order(&L, 99, 1, 40);
    loader_next_batch(&L, 50, ra);
    loader_next_batch(&R, 50, rb);
    CHECK(memcmp(ra, rb, 50 * ROW * sizeof *ra) == 0, "carried position reads the same rows");
    loader_close(&R);

    free(ra);
    free(rb);
    free(a);
    free(c);
    free(visits);
    free(batch);
    free(perm);
    free(rows);
    free(ws);
    free(wstart);
    loader_close(&L);
    printf("ok  windows, order, resume, wrap over %zu windows\n", N);
}

static void expect_open_fails(const char *what, const char *dir, const char *split, int t, int n, int vocab,
                              const char *expect1, const char *expect2) {
    data_loader L;
    mtp_clear_error();
    int rc = loader_open(&L, dir, split, t, n, vocab);
    CHECK(rc != 0, "%s: opened", what);
    if (rc == 0) loader_close(&L);
    CHECK(strstr(mtp_last_error(), expect1) && (!expect2 || strstr(mtp_last_error(), expect2)),
          "%s: expected '%s' / '%s' in: %s", what, expect1, expect2 ? expect2 : "", mtp_last_error());
    printf("ok  %-24s %s\n", what, mtp_last_error());
}

int main(void) {
    set_tmpdir("loader");  // make_dir creates it
    char dir[512], path[600];
    make_dir(dir, sizeof dir, "data");
    for (int s = 0; s < NSHARDS; s++) {
        char name[64];
        snprintf(name, sizeof name, "train_%06d.bin", s);
        // Mixed element types: the loader reads either.
        write_shard(dir, name, s, counts[s], s == 3 ? 4 : 2, -1);
    }
    write_shard(dir, "val_000000.bin", 100, 50, 2, -1);
    // Files the loader must ignore.
    write_shard(dir, "test_000000.bin", 101, 50, 2, -1);
    fs_join(path, sizeof path, dir, "tokenizer.json");
    fs_write_all(path, "{}", 2);
    test_windows(dir);

    data_loader V;
    CHECK(loader_open(&V, dir, "val", 8, 2, VOCAB) == 0 && loader_num_windows(&V) == (50 - 10) / 8 + 1,
          "val split: %s", mtp_last_error());
    loader_close(&V);

    // Refusals.
    expect_open_fails("token >= vocab", dir, "train", T, NF, 200, "train_000000.bin: token",
                      "--vocab-size 257");
    char bad[512];
    make_dir(bad, sizeof bad, "poison");
    write_shard(bad, "train_000000.bin", 0, 100, 2, -1);
    write_shard(bad, "train_000001.bin", 1, 100, 2, 77);
    expect_open_fails("poisoned token", bad, "train", T, NF, VOCAB,
                      "train_000001.bin: token 300 at position 77", "--vocab-size 301");
    data_loader P;
    CHECK(loader_open(&P, bad, "train", T, NF, 0) == 0 && loader_vocab_needed(&P) == 301,
          "vocab 0 skips the check");
    loader_close(&P);
    make_dir(bad, sizeof bad, "uint32big");
    write_shard(bad, "train_000000.bin", 0, 100, 4, 5);
    expect_open_fails("uint32 token >= vocab", bad, "train", T, NF, VOCAB, "token 300 at position 5", NULL);

    fs_join(path, sizeof path, tmpdir, "missing");
    expect_open_fails("missing dir", path, "train", T, NF, VOCAB, "missing' does not exist", "mtp prepare");
    fs_join(path, sizeof path, dir, "tokenizer.json");
    expect_open_fails("a file, not a dir", path, "train", T, NF, VOCAB, "is a file", NULL);
    make_dir(bad, sizeof bad, "empty");
    expect_open_fails("empty dir", bad, "train", T, NF, VOCAB, "empty: no train_*.bin shards", NULL);
    expect_open_fails("no such split", dir, "dev", T, NF, VOCAB, "no dev_*.bin shards", NULL);
    make_dir(bad, sizeof bad, "short");
    write_shard(bad, "train_000000.bin", 0, 100, 2, -1);
    expect_open_fails("one short shard", bad, "train", 256, 8, VOCAB,
                      "has 100 tokens, fewer than one row of 264 (seq-len 256 + n-future 8)", NULL);
    write_shard(bad, "train_000001.bin", 1, 200, 2, -1);
    expect_open_fails("all shards short", bad, "train", 256, 8, VOCAB,
                      "each of the 2 train shards is shorter", "largest has 200 tokens");
    make_dir(bad, sizeof bad, "corrupt");
    write_shard(bad, "train_000000.bin", 0, 100, 2, -1);
    fs_join(path, sizeof path, bad, "train_000001.bin");
    fs_write_all(path, "garbage", 7);
    expect_open_fails("corrupt shard", bad, "train", 8, 1, VOCAB, "train_000001.bin: 7 bytes, shorter than",
                      NULL);
    expect_open_fails("bad shape", dir, "train", 0, NF, VOCAB, "seq-len 0", NULL);

    remove_tmpdir();
    printf("%s\n", failures ? "FAILED" : "all loader tests passed");
    return failures ? 1 : 0;
}
