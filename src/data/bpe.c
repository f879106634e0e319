// bpe.c: vocabulary, merge table and chunk merging (see bpe.h).
#include "data/bpe.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/tokenizer.h"

_Static_assert(BPE_MAX_TOKEN_BYTES <= TOKENIZER_MAX_TOKEN_BYTES, "a BPE token must fit a decode buffer");

// Chunks up to this many bytes are merged by rescanning (cheap for the
// short words of real text); longer ones through the heap.
#define SCAN_MAX 64

struct bpe {
    char label[256];  // the source, for messages
    int32_t vocab;
    // Token bytes: id's bytes are blob[off[id] .. off[id] + len[id]).
    uint64_t *off;
    uint32_t *len;  // 0 = not set yet
    uint8_t *blob;
    size_t blob_size, blob_cap;
    int32_t byte_id[256];
    // bytes -> id: open addressing over ids (-1 empty), tcap a power of two.
    int32_t *tslot;
    size_t tcap;
    // Merges in rank order, and (left, right) -> rank: open addressing.
    int32_t (*merges)[2];
    int32_t nmerges, merges_cap;
    uint64_t *mkey;  // (left << 32 | right), MKEY_EMPTY for a free slot
    int32_t *mrank, *mresult;
    size_t mcap;
};

#define MKEY_EMPTY UINT64_MAX

static uint64_t hash_bytes(const uint8_t *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

static uint64_t hash_pair(uint64_t key) {
    key *= 0x9e3779b97f4a7c15ULL;
    return key ^ (key >> 31);
}

bpe *bpe_new(int32_t vocab_size, const char *label) {
    if (vocab_size < 256 || vocab_size > (1 << 30)) {
        mtp_errorf("%s: vocabulary of %d tokens: a byte-level BPE has between 256 and 2^30", label,
                   (int)vocab_size);
        return NULL;
    }
    bpe *b = mtp_calloc(1, sizeof *b, "BPE model");
    if (!b) return NULL;
    snprintf(b->label, sizeof b->label, "%s", label);
    b->vocab = vocab_size;
    b->off = mtp_calloc((size_t)vocab_size, sizeof *b->off, "BPE token offsets");
    b->len = mtp_calloc((size_t)vocab_size, sizeof *b->len, "BPE token lengths");
    if (!b->off || !b->len) {
        bpe_free(b);
        return NULL;
    }
    return b;
}

void bpe_free(bpe *b) {
    if (!b) return;
    free(b->off);
    free(b->len);
    free(b->blob);
    free(b->tslot);
    free(b->merges);
    free(b->mkey);
    free(b->mrank);
    free(b->mresult);
    free(b);
}

int bpe_set_token(bpe *b, int32_t id, const uint8_t *bytes, size_t len) {
    if (id < 0 || id >= b->vocab)
        return mtp_errorf("%s: token id %d is outside the vocabulary [0, %d)", b->label, (int)id,
                          (int)b->vocab);
    if (len == 0) return mtp_errorf("%s: token %d is empty", b->label, (int)id);
    if (len > BPE_MAX_TOKEN_BYTES)
        return mtp_errorf("%s: token %d has %zu bytes (at most %d)", b->label, (int)id, len,
                          BPE_MAX_TOKEN_BYTES);
    if (b->len[id]) return mtp_errorf("%s: token id %d appears twice", b->label, (int)id);
    if (b->blob_size + len > b->blob_cap) {
        size_t want = b->blob_cap ? b->blob_cap * 2 : 1 << 16;
        while (want < b->blob_size + len) want *= 2;
        uint8_t *grown = realloc(b->blob, want);
        if (!grown) return mtp_errorf("%s: out of memory for token bytes", b->label);
        b->blob = grown;
        b->blob_cap = want;
    }
    memcpy(b->blob + b->blob_size, bytes, len);
    b->off[id] = b->blob_size;
    b->len[id] = (uint32_t)len;
    b->blob_size += len;
    return 0;
}

int32_t bpe_find(const bpe *b, const uint8_t *s, size_t len) {
    if (!b->tslot) return -1;
    size_t mask = b->tcap - 1;
    for (size_t i = hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        int32_t id = b->tslot[i];
        if (id < 0) return -1;
        if (b->len[id] == len && !memcmp(b->blob + b->off[id], s, len)) return id;
    }
}

int bpe_index(bpe *b) {
    for (int32_t id = 0; id < b->vocab; id++)
        if (!b->len[id])
            return mtp_errorf("%s: no token has id %d (ids must be 0..%d without gaps)", b->label, (int)id,
                              (int)b->vocab - 1);
    b->tcap = 1;
    while (b->tcap < 2 * (size_t)b->vocab) b->tcap *= 2;
    b->tslot = malloc(b->tcap * sizeof *b->tslot);
    if (!b->tslot) return mtp_errorf("%s: out of memory for the vocabulary index", b->label);
    memset(b->tslot, 0xff, b->tcap * sizeof *b->tslot);
    size_t mask = b->tcap - 1;
    for (int32_t id = 0; id < b->vocab; id++) {
        const uint8_t *s = b->blob + b->off[id];
        size_t i = hash_bytes(s, b->len[id]) & mask;
        for (; b->tslot[i] >= 0; i = (i + 1) & mask) {
            int32_t o = b->tslot[i];
            if (b->len[o] == b->len[id] && !memcmp(b->blob + b->off[o], s, b->len[id]))
                return mtp_errorf("%s: tokens %d and %d have the same bytes", b->label, (int)o, (int)id);
        }
        b->tslot[i] = id;
    }
    for (int c = 0; c < 256; c++) {
        uint8_t byte = (uint8_t)c;
        b->byte_id[c] = bpe_find(b, &byte, 1);
        if (b->byte_id[c] < 0)
            return mtp_errorf("%s: byte 0x%02X has no token: a byte-level vocabulary needs all 256 bytes",
                              b->label, c);
    }
    return 0;
}

static int merge_table_grow(bpe *b) {
    size_t cap = b->mcap ? b->mcap * 2 : 1024;
    uint64_t *key = malloc(cap * sizeof *key);
    int32_t *rank = malloc(cap * sizeof *rank), *result = malloc(cap * sizeof *result);
    if (!key || !rank || !result) {
        free(key), free(rank), free(result);
        return mtp_errorf("%s: out of memory for the merge table", b->label);
    }
    for (size_t i = 0; i < cap; i++) key[i] = MKEY_EMPTY;
    for (size_t j = 0; j < b->mcap; j++) {
        if (b->mkey[j] == MKEY_EMPTY) continue;
        size_t i = hash_pair(b->mkey[j]) & (cap - 1);
        while (key[i] != MKEY_EMPTY) i = (i + 1) & (cap - 1);
        key[i] = b->mkey[j], rank[i] = b->mrank[j], result[i] = b->mresult[j];
    }
    free(b->mkey), free(b->mrank), free(b->mresult);
    b->mkey = key, b->mrank = rank, b->mresult = result, b->mcap = cap;
    return 0;
}

int bpe_add_merge(bpe *b, int32_t left, int32_t right) {
    if (left < 0 || left >= b->vocab || right < 0 || right >= b->vocab)
        return mtp_errorf("merge %d (%d, %d) names an id outside the vocabulary", (int)b->nmerges, (int)left,
                          (int)right);
    size_t ll = b->len[left], rl = b->len[right];
    uint8_t buf[2 * BPE_MAX_TOKEN_BYTES];
    memcpy(buf, b->blob + b->off[left], ll);
    memcpy(buf + ll, b->blob + b->off[right], rl);
    int32_t result = bpe_find(b, buf, ll + rl);
    if (result < 0)
        return mtp_errorf("merge %d (%d, %d): the merged token is not in the vocabulary", (int)b->nmerges,
                          (int)left, (int)right);
    if (2 * ((size_t)b->nmerges + 1) > b->mcap && merge_table_grow(b) != 0) return -1;
    uint64_t key = (uint64_t)left << 32 | (uint32_t)right;
    size_t i = hash_pair(key) & (b->mcap - 1);
    for (; b->mkey[i] != MKEY_EMPTY; i = (i + 1) & (b->mcap - 1))
        if (b->mkey[i] == key)
            return mtp_errorf("merge %d (%d, %d) repeats merge %d", (int)b->nmerges, (int)left, (int)right,
                              (int)b->mrank[i]);
    if (b->nmerges == b->merges_cap) {
        int32_t cap = b->merges_cap ? b->merges_cap * 2 : 1024;
        int32_t(*grown)[2] = realloc(b->merges, (size_t)cap * sizeof *grown);
        if (!grown) return mtp_errorf("%s: out of memory for merges", b->label);
        b->merges = grown;
        b->merges_cap = cap;
    }
    b->mkey[i] = key, b->mrank[i] = b->nmerges, b->mresult[i] = result;
    b->merges[b->nmerges][0] = left;
    b->merges[b->nmerges][1] = right;
    b->nmerges++;
    return 0;
}

int32_t bpe_vocab_size(const bpe *b) {
    return b->vocab;
}
int32_t bpe_merge_count(const bpe *b) {
    return b->nmerges;
}
void bpe_merge_at(const bpe *b, int32_t rank, int32_t *left, int32_t *right) {
    *left = b->merges[rank][0];
    *right = b->merges[rank][1];
}
const uint8_t *bpe_token_bytes(const bpe *b, int32_t id, size_t *len) {
    *len = b->len[id];
    return b->blob + b->off[id];
}

// Rank of merging (left, right), INT32_MAX if there is none; *result the token made.
static inline int32_t pair_rank(const bpe *b, int32_t left, int32_t right, int32_t *result) {
    if (!b->mcap) return INT32_MAX;
    uint64_t key = (uint64_t)left << 32 | (uint32_t)right;
    size_t mask = b->mcap - 1;
    for (size_t i = hash_pair(key) & mask;; i = (i + 1) & mask) {
        if (b->mkey[i] == key) {
            *result = b->mresult[i];
            return b->mrank[i];
        }
        if (b->mkey[i] == MKEY_EMPTY) return INT32_MAX;
    }
}

size_t bpe_encode_chunk_scan(const bpe *b, const uint8_t *s, size_t len, int32_t *out) {
    // out holds the symbols; rank[i], made[i] describe the pair (out[i], out[i+1]).
    int32_t rank_small[SCAN_MAX], made_small[SCAN_MAX];
    int32_t *rank = rank_small, *made = made_small;
    if (len > SCAN_MAX) {
        rank = malloc(len * sizeof *rank);
        made = malloc(len * sizeof *made);
        if (!rank || !made) {
            // Nothing left to fall back on: bytes are a valid (unmerged) encoding.
            free(rank), free(made);
            for (size_t i = 0; i < len; i++) out[i] = b->byte_id[s[i]];
            return len;
        }
    }
    size_t m = len;
    for (size_t i = 0; i < len; i++) out[i] = b->byte_id[s[i]];
    for (size_t i = 0; i + 1 < m; i++) rank[i] = pair_rank(b, out[i], out[i + 1], &made[i]);
    while (m > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < m; i++)
            if (rank[i] < rank[best]) best = i;
        if (rank[best] == INT32_MAX) break;
        out[best] = made[best];
        // Drop symbol best+1 and the pair that started at it.
        memmove(out + best + 1, out + best + 2, (m - best - 2) * sizeof *out);
        if (best + 2 < m) {
            memmove(rank + best + 1, rank + best + 2, (m - best - 3) * sizeof *rank);
            memmove(made + best + 1, made + best + 2, (m - best - 3) * sizeof *made);
        }
        m--;
        if (best > 0) rank[best - 1] = pair_rank(b, out[best - 1], out[best], &made[best - 1]);
        if (best + 1 < m) rank[best] = pair_rank(b, out[best], out[best + 1], &made[best]);
    }
    if (rank != rank_small) free(rank), free(made);
    return m;
}

// ---- heap merging for long chunks ------------------------------------------
// Symbols live in a doubly linked list over the original byte positions; a
// symbol keeps the position of its first byte. Heap entries name a pair by
// its left symbol's position and the two ids it had when pushed; an entry is
// stale (skipped) when either symbol has since changed. Ordered by rank,
// then position, which is "lowest rank, leftmost first".
typedef struct {
    int32_t rank;
    uint32_t pos;
    int32_t left, right;
} candidate;

static int cand_less(const candidate *a, const candidate *c) {
    return a->rank < c->rank || (a->rank == c->rank && a->pos < c->pos);
}

static void heap_push(candidate *h, size_t *n, candidate c) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&c, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static candidate heap_pop(candidate *h, size_t *n) {
    candidate top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const candidate *mc = &last;
        if (l < *n && cand_less(&h[l], mc)) m = l, mc = &h[l];
        if (r < *n && cand_less(&h[r], mc)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = last;
    return top;
}

long bpe_encode_chunk_heap(const bpe *b, const uint8_t *s, size_t len, int32_t *out) {
    if (len == 0) return 0;
    if (len > UINT32_MAX / 2) return -1;
    int32_t *sym = malloc(len * sizeof *sym);  // id at each live symbol's position
    uint32_t *next = malloc(len * sizeof *next), *prev = malloc(len * sizeof *prev);
    // Each merge pushes at most two entries: len initial + 2 * len.
    candidate *heap = malloc(3 * len * sizeof *heap);
    if (!sym || !next || !prev || !heap) {
        free(sym), free(next), free(prev), free(heap);
        return -1;
    }
    const uint32_t NONE = UINT32_MAX;
    size_t nheap = 0;
    for (size_t i = 0; i < len; i++) {
        sym[i] = b->byte_id[s[i]];
        next[i] = i + 1 < len ? (uint32_t)(i + 1) : NONE;
        prev[i] = i > 0 ? (uint32_t)(i - 1) : NONE;
    }
    for (size_t i = 0; i + 1 < len; i++) {
        int32_t made, r = pair_rank(b, sym[i], sym[i + 1], &made);
        if (r != INT32_MAX) heap_push(heap, &nheap, (candidate){r, (uint32_t)i, sym[i], sym[i + 1]});
    }
    while (nheap > 0) {
        candidate c = heap_pop(heap, &nheap);
        uint32_t p = c.pos, q = next[p];
        // sym[p] < 0 marks a symbol merged into its left neighbour.
        if (sym[p] != c.left || q == NONE || sym[q] != c.right) continue;
        int32_t made = c.left;  // always set: the pair was pushed with a merge
        pair_rank(b, c.left, c.right, &made);
        sym[p] = made;
        sym[q] = -1;
        next[p] = next[q];
        if (next[q] != NONE) prev[next[q]] = p;
        if (prev[p] != NONE) {
            uint32_t a = prev[p];
            int32_t m2, r = pair_rank(b, sym[a], sym[p], &m2);
            if (r != INT32_MAX) heap_push(heap, &nheap, (candidate){r, a, sym[a], sym[p]});
        }
        if (next[p] != NONE) {
            uint32_t z = next[p];
            int32_t m2, r = pair_rank(b, sym[p], sym[z], &m2);
            if (r != INT32_MAX) heap_push(heap, &nheap, (candidate){r, p, sym[p], sym[z]});
        }
    }
    size_t m = 0;
    for (uint32_t i = 0; i != NONE; i = next[i]) out[m++] = sym[i];
    free(sym), free(next), free(prev), free(heap);
    return (long)m;
}

size_t bpe_encode_chunk(const bpe *b, const uint8_t *s, size_t len, int32_t *out) {
    if (len <= SCAN_MAX) return bpe_encode_chunk_scan(b, s, len, out);
    long m = bpe_encode_chunk_heap(b, s, len, out);
    return m >= 0 ? (size_t)m : bpe_encode_chunk_scan(b, s, len, out);
}
