// bpe_train.c: the byte-level BPE trainer (see bpe_train.h), in two phases.
//
// count: each document is split at special tokens into segments, each
// segment into pieces of about 1 MB at safe cuts; the pieces are scanned in
// parallel, each thread adding the chunks it sees to its own word table
// (bytes -> frequency); the tables are summed at the end. Only distinct
// words are kept, never the chunks themselves.
//
// merge: each word becomes an array of token ids. The trainer keeps, for
// every pair, its count and the list of words that held it when it gained
// count, and a max-heap of (count, left, right) with lazy deletion: counts
// only ever drop after a pair's first step (a pair gains count only in the
// step that makes the newer of its two tokens), so a popped entry whose
// count is stale is pushed back with the current one, and an entry whose
// count is current is the best pair. A merge visits only the words in its
// pair's list and updates the counts of the pairs next to each occurrence.
#define _GNU_SOURCE  // memmem
#include "data/bpe_train.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/timer.h"
#include "data/bpe.h"
#include "data/pretokenize.h"

#define PIECE_BYTES ((size_t)1 << 20)
// Files mapped at once while counting: enough work for every thread, few
// enough maps for any limit.
#define BATCH_BYTES ((uint64_t)256 << 20)
#define BATCH_FILES 1024
#define MAX_VOCAB (1 << 30)
#define PROGRESS_SECONDS 0.1
#define LABEL "trained BPE"

// ---- small helpers ---------------------------------------------------------
// Makes room for `need` elements of `elem` bytes in *(void **)pp (capacity
// *cap, doubled as needed).
static int grow(void *pp, size_t *cap, size_t need, size_t elem, const char *what) {
    if (need <= *cap) return 0;
    size_t want = *cap ? *cap : 64;
    while (want < need) {
        if (want > SIZE_MAX / 2 / elem) return mtp_errorf("%s: size overflow (%zu elements)", what, need);
        want *= 2;
    }
    void *grown = realloc(*(void **)pp, want * elem);
    if (!grown) return mtp_errorf("out of memory for %s (%zu bytes)", what, want * elem);
    *(void **)pp = grown;
    *cap = want;
    return 0;
}

static uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

// 8 bytes at a time: words are hashed once per chunk of the corpus.
static uint64_t hash_bytes(const uint8_t *s, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        h = (h ^ v) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    if (i < n) {
        uint64_t v = 0;
        memcpy(&v, s + i, n - i);
        h = (h ^ v) * 0x100000001b3ULL;
    }
    return mix64(h);
}

typedef struct {
    bpe_train_progress_fn fn;
    void *user;
    double last;  // time of the last call
} reporter;

static void report(reporter *r, const char *phase, uint64_t done, uint64_t total, int force) {
    if (!r->fn) return;
    double now = mtp_now();
    if (!force && now - r->last < PROGRESS_SECONDS) return;
    r->last = now;
    r->fn(phase, done, total, r->user);
}

// ---- word tables: byte string -> frequency -----------------------------------
typedef struct {
    uint64_t hash;
    uint64_t off;   // the bytes are bytes[off .. off + len)
    uint64_t freq;  // occurrences (the token tables keep the id here)
    uint32_t len;
} word_entry;

// Open addressing over entry indices, grown at half load; the entries and
// their bytes are dense arrays, so tables are summed by walking them.
typedef struct {
    uint8_t *bytes;
    size_t nbytes, bytes_cap;
    word_entry *e;
    size_t count, cap;
    uint32_t *slot;  // (nslot) entry index + 1, 0 = free; nslot a power of two
    size_t nslot;
} word_map;

static void word_map_free(word_map *m) {
    free(m->bytes);
    free(m->e);
    free(m->slot);
    memset(m, 0, sizeof *m);
}

static int word_map_rehash(word_map *m, size_t nslot) {
    uint32_t *slot = calloc(nslot, sizeof *slot);
    if (!slot) return mtp_errorf("out of memory for a word table of %zu slots", nslot);
    for (size_t i = 0; i < m->count; i++) {
        size_t j = m->e[i].hash & (nslot - 1);
        while (slot[j]) j = (j + 1) & (nslot - 1);
        slot[j] = (uint32_t)(i + 1);
    }
    free(m->slot);
    m->slot = slot;
    m->nslot = nslot;
    return 0;
}

// The slot holding s[0..len) (hash h), or the free slot where it would go.
static size_t word_map_slot(const word_map *m, const uint8_t *s, size_t len, uint64_t h) {
    size_t j = h & (m->nslot - 1);
    for (; m->slot[j]; j = (j + 1) & (m->nslot - 1)) {
        const word_entry *e = &m->e[m->slot[j] - 1];
        if (e->hash == h && e->len == len && memcmp(m->bytes + e->off, s, len) == 0) break;
    }
    return j;
}

// The entry index of s[0..len), or -1.
static int64_t word_map_find(const word_map *m, const uint8_t *s, size_t len, uint64_t h) {
    if (m->nslot == 0) return -1;
    size_t j = word_map_slot(m, s, len, h);
    return m->slot[j] ? (int64_t)m->slot[j] - 1 : -1;
}

// Adds freq to s[0..len) (hash h), inserting it if new; returns its entry
// index, or -1.
static int64_t word_map_add(word_map *m, const uint8_t *s, size_t len, uint64_t h, uint64_t freq) {
    if (2 * (m->count + 1) > m->nslot && word_map_rehash(m, m->nslot ? 2 * m->nslot : 1024) != 0) return -1;
    size_t j = word_map_slot(m, s, len, h);
    if (m->slot[j]) {
        m->e[m->slot[j] - 1].freq += freq;
        return (int64_t)m->slot[j] - 1;
    }
    if (len > UINT32_MAX)
        return mtp_errorf("a pre-tokenized chunk of %zu bytes: at most %u bytes (4 GB) per chunk", len,
                          UINT32_MAX);
    if (m->count >= INT32_MAX)
        return mtp_errorf("more than %d distinct words: train on a smaller corpus", INT32_MAX);
    if (grow(&m->e, &m->cap, m->count + 1, sizeof *m->e, "the word table") != 0 ||
        grow(&m->bytes, &m->bytes_cap, m->nbytes + len, 1, "the word table's text") != 0)
        return -1;
    memcpy(m->bytes + m->nbytes, s, len);
    m->e[m->count] = (word_entry){.hash = h, .off = m->nbytes, .freq = freq, .len = (uint32_t)len};
    m->nbytes += len;
    m->slot[j] = (uint32_t)(m->count + 1);
    return (int64_t)m->count++;
}

// ---- options -------------------------------------------------------------------
// Checks o and sets *nmerges, the number of merges asked for.
static int check_options(const bpe_train_options *o, int *nmerges) {
    if (o->nspecials < 1 || !o->specials)
        return mtp_errorf("no special tokens: at least the end-of-text token (e.g. <|endoftext|>) is needed");
    for (int i = 0; i < o->nspecials; i++) {
        const char *s = o->specials[i];
        if (!s || !*s)
            return mtp_errorf("special token %d is empty: give each special token a text, e.g. <|endoftext|>",
                              i + 1);
        if (!s[1])
            return mtp_errorf(
                "special token '%s' is a single byte, which is already token %d: special tokens "
                "need at least 2 bytes",
                s, (unsigned char)s[0]);
        for (int j = 0; j < i; j++)
            if (!strcmp(o->specials[j], s))
                return mtp_errorf("special token '%s' is given twice: give each one once", s);
    }
    int64_t min = 256 + (int64_t)o->nspecials + 1;
    if (o->vocab_size < min)
        return mtp_errorf(
            "--vocab-size %d is too small: 256 byte tokens + %d special token(s) + at least one "
            "merge need --vocab-size >= %lld",
            o->vocab_size, o->nspecials, (long long)min);
    if (o->vocab_size > MAX_VOCAB)
        return mtp_errorf("--vocab-size %d is too large: at most %d", o->vocab_size, MAX_VOCAB);
    *nmerges = o->vocab_size - 256 - o->nspecials;
    return 0;
}

// ---- count: documents -> segments -> pieces -> word tables -----------------
typedef struct {
    const char *seg;  // the special-free segment: the whole text of the scan
    size_t seg_len;
    size_t begin, end;  // the piece: seg[begin..end), begin a chunk boundary
} piece;

typedef struct {
    const pretokenizer *pre;
    const bpe_train_options *o;
    size_t piece_bytes;
    size_t *slen;    // (nspecials) special token lengths
    size_t *next;    // (nspecials) scratch: next occurrence of each special
    word_map *maps;  // (threads) one per thread
    int threads;
    piece *pieces;  // the current batch
    size_t npieces, pieces_cap;
    uint64_t done, total;  // bytes of the finished batches, of the whole input
    reporter rep;
} counter;

static int counter_init(counter *k, const bpe_train_options *o, uint64_t total,
                        bpe_train_progress_fn progress, void *user) {
    memset(k, 0, sizeof *k);
    k->o = o;
    k->piece_bytes = o->piece_bytes ? o->piece_bytes : PIECE_BYTES;
    k->threads = o->threads > 0 ? o->threads : omp_get_max_threads();
    if (k->threads < 1) k->threads = 1;
    k->total = total;
    k->rep = (reporter){progress, user, mtp_now()};
    k->slen = mtp_calloc((size_t)o->nspecials, sizeof *k->slen, "special token lengths");
    k->next = mtp_calloc((size_t)o->nspecials, sizeof *k->next, "special token positions");
    k->maps = mtp_calloc((size_t)k->threads, sizeof *k->maps, "word tables");
    if (!k->slen || !k->next || !k->maps || !(k->pre = pretokenizer_gpt2())) return -1;
    for (int i = 0; i < o->nspecials; i++) k->slen[i] = strlen(o->specials[i]);
    return 0;
}

static void counter_free(counter *k) {
    for (int t = 0; k->maps && t < k->threads; t++) word_map_free(&k->maps[t]);
    free(k->maps);
    free(k->slen);
    free(k->next);
    free(k->pieces);
    pretokenizer_free((pretokenizer *)k->pre);
}

static int add_piece(counter *k, const char *seg, size_t seg_len, size_t begin, size_t end) {
    if (grow(&k->pieces, &k->pieces_cap, k->npieces + 1, sizeof *k->pieces, "the piece list") != 0) return -1;
    k->pieces[k->npieces++] = (piece){seg, seg_len, begin, end};
    return 0;
}

// Cuts seg[0..len) into pieces of about piece_bytes at safe cuts. Where the
// window [t/2, t] past the last cut has none, t doubles (so the search stays
// linear); with none at all the rest is one piece.
static int add_segment(counter *k, const char *seg, size_t len) {
    size_t pos = 0;
    while (len - pos > k->piece_bytes) {
        size_t rest = len - pos, cut = 0;
        for (size_t t = k->piece_bytes; t < rest && !cut; t = t <= rest / 2 ? 2 * t : rest)
            cut = pretokenize_safe_cut(seg + pos, rest, t);
        if (!cut) break;
        if (add_piece(k, seg, len, pos, pos + cut) != 0) return -1;
        pos += cut;
    }
    return len > pos ? add_piece(k, seg, len, pos, len) : 0;
}

// Splits doc[0..len) at the special tokens (the earliest first, the longest
// at one byte) and adds the pieces of each segment. k->next caches each
// special's next occurrence, so a rare special is not searched for again
// after every segment.
static int add_document(counter *k, const char *doc, size_t len) {
    int ns = k->o->nspecials;
    for (int i = 0; i < ns; i++) k->next[i] = SIZE_MAX;  // not searched yet
    size_t pos = 0;
    while (pos < len) {
        size_t at = len, slen = 0;
        for (int i = 0; i < ns; i++) {
            if (k->next[i] == SIZE_MAX || k->next[i] < pos) {
                const char *hit = memmem(doc + pos, len - pos, k->o->specials[i], k->slen[i]);
                k->next[i] = hit ? (size_t)(hit - doc) : len;
            }
            if (k->next[i] < at || (k->next[i] == at && at < len && k->slen[i] > slen))
                at = k->next[i], slen = k->slen[i];
        }
        if (at > pos && add_segment(k, doc + pos, at - pos) != 0) return -1;
        pos = at + slen;
    }
    return 0;
}

static int count_chunk(const char *text, size_t start, size_t len, void *user) {
    const uint8_t *s = (const uint8_t *)text + start;
    return word_map_add(user, s, len, hash_bytes(s, len), 1) < 0 ? -1 : 0;
}

// Counts the batch's pieces in parallel; each thread adds to its own table.
// A worker's error message is thread-local: the first one is copied out and
// set again on the calling thread. batch_bytes counts toward progress.
static int count_pieces(counter *k, uint64_t batch_bytes) {
    int failed = 0;
    char error[1024] = "";
    uint64_t scanned = 0;
    const piece *pieces = k->pieces;
    size_t n = k->npieces;
#pragma omp parallel num_threads(k->threads)
    {
        word_map *m = &k->maps[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (size_t i = 0; i < n; i++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop) continue;
            const piece *p = &pieces[i];
            if (pretokenize(k->pre, p->seg, p->seg_len, p->begin, p->end, count_chunk, m) != 0) {
#pragma omp critical(bpe_train_error)
                {
                    if (!error[0]) snprintf(error, sizeof error, "%s", mtp_last_error());
#pragma omp atomic write
                    failed = 1;
                }
                continue;
            }
            uint64_t so_far;
#pragma omp atomic capture
            so_far = scanned += p->end - p->begin;
            // Only the calling thread (thread 0) reports.
            if (omp_get_thread_num() == 0) report(&k->rep, "count", k->done + so_far, k->total, 0);
        }
    }
    if (failed) return mtp_errorf("%s", error[0] ? error : "counting words failed");
    k->done += batch_bytes;
    if (k->done > k->total) k->total = k->done;  // a file grew since the walk
    report(&k->rep, "count", k->done, k->total, 0);
    return 0;
}

// Sums the per-thread tables into maps[0].
static int merge_maps(counter *k) {
    word_map *dst = &k->maps[0];
    for (int t = 1; t < k->threads; t++) {
        const word_map *m = &k->maps[t];
        for (size_t i = 0; i < m->count; i++) {
            const word_entry *e = &m->e[i];
            if (word_map_add(dst, m->bytes + e->off, e->len, e->hash, e->freq) < 0) return -1;
        }
        word_map_free(&k->maps[t]);
    }
    return 0;
}

// ---- merge -----------------------------------------------------------------------
typedef struct {
    int64_t count;  // sum over words of frequency * adjacent occurrences
    int32_t left, right;
    int32_t *where;  // (nwhere) words that held the pair when it gained count
    uint32_t nwhere, where_cap;
    int32_t stamp;   // the last merge step that added to count (-1: none)
    uint8_t banned;  // never to be merged (result too long, or its bytes taken)
} pair_info;

typedef struct {
    int64_t count;  // the pair's count when pushed: never below the current one
    int32_t left, right;
} heap_item;

#define PKEY_EMPTY UINT64_MAX

typedef struct {
    // Word w's current tokens are tok[woff[w] .. woff[w] + wlen[w]).
    int32_t *tok;
    uint64_t *woff;
    uint32_t *wlen;
    int64_t *wfreq;
    int32_t nwords;
    // Pairs: index left * 256 + right for two bytes (all 65536 made up
    // front), else found through the hash (left << 32 | right) -> index.
    pair_info *pairs;
    size_t npairs, pairs_cap;
    uint64_t *pkey;  // (pslots) PKEY_EMPTY = free; pslots a power of two
    int32_t *pidx;
    size_t pslots, pused;
    heap_item *heap;
    size_t nheap, heap_cap;
    int32_t *touched;  // pairs that gained count in this step
    size_t ntouched, touched_cap;
    word_map tokens;  // token bytes; entry i is token id i
    int32_t (*merges)[2];
    int nmerges;
} trainer;

static void trainer_free(trainer *t) {
    free(t->tok);
    free(t->woff);
    free(t->wlen);
    free(t->wfreq);
    for (size_t p = 0; t->pairs && p < t->npairs; p++) free(t->pairs[p].where);
    free(t->pairs);
    free(t->pkey);
    free(t->pidx);
    free(t->heap);
    free(t->touched);
    word_map_free(&t->tokens);
    free(t->merges);
}

static int pair_rehash(trainer *t, size_t nslot) {
    uint64_t *key = mtp_malloc(nslot * sizeof *key, "the pair table");
    int32_t *idx = mtp_malloc(nslot * sizeof *idx, "the pair table");
    if (!key || !idx) {
        free(key);
        free(idx);
        return -1;
    }
    memset(key, 0xff, nslot * sizeof *key);
    for (size_t i = 0; i < t->pslots; i++) {
        if (t->pkey[i] == PKEY_EMPTY) continue;
        size_t j = mix64(t->pkey[i]) & (nslot - 1);
        while (key[j] != PKEY_EMPTY) j = (j + 1) & (nslot - 1);
        key[j] = t->pkey[i];
        idx[j] = t->pidx[i];
    }
    free(t->pkey);
    free(t->pidx);
    t->pkey = key;
    t->pidx = idx;
    t->pslots = nslot;
    return 0;
}

// The index of pair (l, r); a missing pair is added when `create`, else
// -1. -2 on error.
static int32_t pair_find(trainer *t, int32_t l, int32_t r, int create) {
    if (l < 256 && r < 256) return l * 256 + r;
    if (create && 2 * (t->pused + 1) > t->pslots && pair_rehash(t, 2 * t->pslots) != 0) return -2;
    uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    size_t j = mix64(key) & (t->pslots - 1);
    for (; t->pkey[j] != PKEY_EMPTY; j = (j + 1) & (t->pslots - 1))
        if (t->pkey[j] == key) return t->pidx[j];
    if (!create) return -1;
    if (t->npairs >= INT32_MAX) {
        mtp_errorf("more than %d distinct token pairs: train on a smaller corpus", INT32_MAX);
        return -2;
    }
    if (grow(&t->pairs, &t->pairs_cap, t->npairs + 1, sizeof *t->pairs, "the pair list") != 0) return -2;
    int32_t p = (int32_t)t->npairs++;
    t->pairs[p] = (pair_info){.left = l, .right = r, .stamp = -1};
    t->pkey[j] = key;
    t->pidx[j] = p;
    t->pused++;
    return p;
}

static int where_push(pair_info *q, int32_t w) {
    if (q->nwhere == q->where_cap) {
        if (q->where_cap >= UINT32_MAX / 2) return mtp_errorf("a pair is in more than 2^31 words");
        uint32_t cap = q->where_cap ? 2 * q->where_cap : 4;
        int32_t *grown = realloc(q->where, cap * sizeof *grown);
        if (!grown) return mtp_errorf("out of memory for the word list of a pair (%u words)", cap);
        q->where = grown;
        q->where_cap = cap;
    }
    q->where[q->nwhere++] = w;
    return 0;
}

// Adds delta (a word's frequency, or minus it) to pair (l, r)'s count. A
// gain also lists word w under the pair (once: a word is handled whole
// before the next) and the pair as touched in this step.
static int pair_add(trainer *t, int32_t l, int32_t r, int64_t delta, int32_t w, int32_t step) {
    int32_t p = pair_find(t, l, r, delta > 0);
    if (p == -2) return -1;
    if (p < 0) return 0;  // a loss for a pair never counted: cannot happen
    pair_info *q = &t->pairs[p];
    q->count += delta;
    if (delta <= 0) return 0;
    if ((q->nwhere == 0 || q->where[q->nwhere - 1] != w) && where_push(q, w) != 0) return -1;
    if (q->stamp != step) {
        q->stamp = step;
        if (grow(&t->touched, &t->touched_cap, t->ntouched + 1, sizeof *t->touched, "the touched pairs") != 0)
            return -1;
        t->touched[t->ntouched++] = p;
    }
    return 0;
}

// Max-heap order: higher count, then smaller left id, then smaller right id.
static int heap_above(const heap_item *a, const heap_item *b) {
    if (a->count != b->count) return a->count > b->count;
    if (a->left != b->left) return a->left < b->left;
    return a->right < b->right;
}

static int heap_push(trainer *t, heap_item it) {
    if (grow(&t->heap, &t->heap_cap, t->nheap + 1, sizeof *t->heap, "the pair queue") != 0) return -1;
    size_t i = t->nheap++;
    while (i > 0 && heap_above(&it, &t->heap[(i - 1) / 2])) {
        t->heap[i] = t->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    t->heap[i] = it;
    return 0;
}

static heap_item heap_pop(trainer *t) {
    heap_item top = t->heap[0], last = t->heap[--t->nheap];
    size_t i = 0, n = t->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_above(&t->heap[c + 1], &t->heap[c])) c++;
        if (!heap_above(&t->heap[c], &last)) break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (n > 0) t->heap[i] = last;
    return top;
}

static const uint8_t *token_bytes(const trainer *t, int32_t id, size_t *len) {
    const word_entry *e = &t->tokens.e[id];
    *len = e->len;
    return t->tokens.bytes + e->off;
}

// Words from the summed table; single-byte words hold no pair and are
// dropped. tok holds one id per byte of the remaining words.
static int load_words(trainer *t, const word_map *m) {
    size_t n = 0, nbytes = 0;
    for (size_t i = 0; i < m->count; i++)
        if (m->e[i].len >= 2) n++, nbytes += m->e[i].len;
    t->tok = mtp_malloc((nbytes ? nbytes : 1) * sizeof *t->tok, "the words' tokens");
    t->woff = mtp_malloc((n ? n : 1) * sizeof *t->woff, "the word list");
    t->wlen = mtp_malloc((n ? n : 1) * sizeof *t->wlen, "the word list");
    t->wfreq = mtp_malloc((n ? n : 1) * sizeof *t->wfreq, "the word list");
    if (!t->tok || !t->woff || !t->wlen || !t->wfreq) return -1;
    size_t off = 0, w = 0;
    for (size_t i = 0; i < m->count; i++) {
        const word_entry *e = &m->e[i];
        if (e->len < 2) continue;
        const uint8_t *s = m->bytes + e->off;
        for (uint32_t b = 0; b < e->len; b++) t->tok[off + b] = s[b];
        t->woff[w] = off;
        t->wlen[w] = e->len;
        t->wfreq[w] = (int64_t)e->freq;
        off += e->len;
        w++;
    }
    t->nwords = (int32_t)n;
    return 0;
}

// The byte tokens, the 65536 byte pairs with their counts and word lists,
// and the queue of the pairs that occur.
static int trainer_init(trainer *t, int nmerges) {
    t->merges = mtp_malloc((size_t)nmerges * sizeof *t->merges, "the merge list");
    if (!t->merges) return -1;
    for (int b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        if (word_map_add(&t->tokens, &byte, 1, hash_bytes(&byte, 1), (uint64_t)b) < 0) return -1;
    }
    if (grow(&t->pairs, &t->pairs_cap, 65536, sizeof *t->pairs, "the pair list") != 0 ||
        pair_rehash(t, 1 << 16) != 0)
        return -1;
    for (int32_t p = 0; p < 65536; p++)
        t->pairs[p] = (pair_info){.left = p >> 8, .right = p & 255, .stamp = -1};
    t->npairs = 65536;
    for (int32_t w = 0; w < t->nwords; w++) {
        const int32_t *s = t->tok + t->woff[w];
        for (uint32_t j = 0; j + 1 < t->wlen[w]; j++)
            if (pair_add(t, s[j], s[j + 1], t->wfreq[w], w, -1) != 0) return -1;
    }
    for (int32_t p = 0; p < 65536; p++)
        if (t->pairs[p].count > 0 && heap_push(t, (heap_item){t->pairs[p].count, p >> 8, p & 255}) != 0)
            return -1;
    return 0;
}

// The best pair that may be merged (its index), -1 when none is left, -2 on
// error. buf receives the merged token's bytes, *len their count.
static int32_t pick_pair(trainer *t, uint8_t *buf, size_t *len) {
    while (t->nheap > 0) {
        heap_item top = heap_pop(t);
        int32_t p = pair_find(t, top.left, top.right, 0);
        if (p < 0) continue;
        pair_info *q = &t->pairs[p];
        if (q->banned || q->count <= 0) continue;
        if (q->count != top.count) {
            // Stale: the count dropped since the push. Room is there: one was popped.
            if (heap_push(t, (heap_item){q->count, top.left, top.right}) != 0) return -2;
            continue;
        }
        size_t ll, rl;
        const uint8_t *ls = token_bytes(t, top.left, &ll), *rs = token_bytes(t, top.right, &rl);
        if (ll + rl > BPE_MAX_TOKEN_BYTES) {
            q->banned = 1;
            continue;
        }
        memcpy(buf, ls, ll);
        memcpy(buf + ll, rs, rl);
        *len = ll + rl;
        if (word_map_find(&t->tokens, buf, *len, hash_bytes(buf, *len)) >= 0) {
            q->banned = 1;
            continue;
        }
        return p;
    }
    return -1;
}

// Replaces (a, b) by c in word w, left to right without overlap, and moves
// the counts of the neighbouring pairs: at each occurrence x a b y becomes
// x c y, so (x, a) and (b, y) lose the word's frequency and (x, c) and
// (c, y) gain it. x is the token already written (c itself after an
// occurrence just before), y the next token not yet read.
static int merge_word(trainer *t, int32_t w, int32_t a, int32_t b, int32_t c, int32_t step) {
    int32_t *s = t->tok + t->woff[w];
    uint32_t n = t->wlen[w], i = 0, j = 0;
    int64_t f = t->wfreq[w];
    while (i < n) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            if (j > 0 &&
                (pair_add(t, s[j - 1], a, -f, w, step) != 0 || pair_add(t, s[j - 1], c, f, w, step) != 0))
                return -1;
            if (i + 2 < n &&
                (pair_add(t, b, s[i + 2], -f, w, step) != 0 || pair_add(t, c, s[i + 2], f, w, step) != 0))
                return -1;
            s[j++] = c;
            i += 2;
        } else {
            s[j++] = s[i++];
        }
    }
    t->wlen[w] = j;
    return 0;
}

// Merge step `step`: pair p becomes token 256 + step (bytes[0..len)).
static int apply_merge(trainer *t, int32_t p, int32_t step, const uint8_t *bytes, size_t len) {
    int32_t a = t->pairs[p].left, b = t->pairs[p].right, c = 256 + step;
    if (word_map_add(&t->tokens, bytes, len, hash_bytes(bytes, len), (uint64_t)c) < 0) return -1;
    t->merges[step][0] = a;
    t->merges[step][1] = b;
    t->nmerges = step + 1;
    // p's word list does not grow during the step (only pairs with c gain).
    for (uint32_t i = 0; i < t->pairs[p].nwhere; i++)
        if (merge_word(t, t->pairs[p].where[i], a, b, c, step) != 0) return -1;
    // No (a, b) is left adjacent, and none can form again.
    pair_info *q = &t->pairs[p];
    free(q->where);
    q->where = NULL;
    q->nwhere = q->where_cap = 0;
    q->count = 0;
    for (size_t i = 0; i < t->ntouched; i++) {
        const pair_info *g = &t->pairs[t->touched[i]];
        if (g->count > 0 && heap_push(t, (heap_item){g->count, g->left, g->right}) != 0) return -1;
    }
    t->ntouched = 0;
    return 0;
}

// Learns up to nmerges merges from the words in m and makes the tokenizer.
// m is freed once its words are loaded (it is not needed while merging).
static tokenizer *train_words(const bpe_train_options *o, word_map *m, int nmerges, reporter *rep) {
    trainer t;
    memset(&t, 0, sizeof t);
    tokenizer *tok = NULL;
    int rc = load_words(&t, m);
    word_map_free(m);
    if (rc == 0) rc = trainer_init(&t, nmerges);
    if (rc == 0) report(rep, "merge", 0, (uint64_t)nmerges, 1);
    uint8_t buf[BPE_MAX_TOKEN_BYTES];
    for (int32_t step = 0; rc == 0 && step < nmerges; step++) {
        size_t len = 0;
        int32_t p = pick_pair(&t, buf, &len);
        if (p == -2) rc = -1;
        if (p < 0) break;  // no pair left: a smaller vocabulary
        rc = apply_merge(&t, p, step, buf, len);
        report(rep, "merge", (uint64_t)step + 1, (uint64_t)nmerges, 0);
    }
    if (rc == 0) {
        report(rep, "merge", (uint64_t)t.nmerges, (uint64_t)nmerges, 1);
        tok = tokenizer_bpe_from_merges((const int32_t(*)[2])t.merges, t.nmerges, o->specials, o->nspecials,
                                        LABEL);
    }
    trainer_free(&t);
    return tok;
}

// Sums the word tables and trains.
static tokenizer *finish(counter *k, int nmerges) {
    report(&k->rep, "count", k->done, k->total, 1);
    if (merge_maps(k) != 0) return NULL;
    return train_words(k->o, &k->maps[0], nmerges, &k->rep);
}

// ---- entry points ------------------------------------------------------------
tokenizer *bpe_train(const bpe_train_options *o, const corpus *c, bpe_train_progress_fn progress,
                     void *user) {
    int nmerges;
    if (check_options(o, &nmerges) != 0) return NULL;
    if (c->count == 0) {
        mtp_errorf("no files to learn the BPE merges from");
        return NULL;
    }
    counter k = {0};
    fs_map *maps = mtp_calloc(BATCH_FILES, sizeof *maps, "file maps");
    int rc = maps ? counter_init(&k, o, c->total_bytes, progress, user) : -1;
    size_t f = 0;
    while (rc == 0 && f < c->count) {
        // Map a batch of files, cut them into pieces, count.
        size_t nmaps = 0;
        uint64_t bytes = 0;
        k.npieces = 0;
        while (rc == 0 && f < c->count && nmaps < BATCH_FILES && bytes < BATCH_BYTES) {
            rc = fs_map_file(c->paths[f], &maps[nmaps]);
            if (rc != 0) break;
            bytes += maps[nmaps].size;
            rc = add_document(&k, (const char *)maps[nmaps].data, maps[nmaps].size);
            nmaps++;
            f++;
        }
        if (rc == 0) rc = count_pieces(&k, bytes);
        for (size_t i = 0; i < nmaps; i++) fs_unmap(&maps[i]);
    }
    free(maps);
    tokenizer *t = rc == 0 ? finish(&k, nmerges) : NULL;
    counter_free(&k);
    return t;
}

tokenizer *bpe_train_texts(const bpe_train_options *o, const char *const *texts, const size_t *lens,
                           int ntexts, bpe_train_progress_fn progress, void *user) {
    int nmerges;
    if (check_options(o, &nmerges) != 0) return NULL;
    if (ntexts < 0) {
        mtp_errorf("bpe_train_texts: %d texts: expected a count >= 0", ntexts);
        return NULL;
    }
    uint64_t total = 0;
    for (int i = 0; i < ntexts; i++) total += lens ? lens[i] : strlen(texts[i]);
    counter k;
    int rc = counter_init(&k, o, total, progress, user);
    for (int i = 0; rc == 0 && i < ntexts; i++)
        rc = add_document(&k, texts[i], lens ? lens[i] : strlen(texts[i]));
    if (rc == 0) rc = count_pieces(&k, total);
    tokenizer *t = rc == 0 ? finish(&k, nmerges) : NULL;
    counter_free(&k);
    return t;
}
