// fuzz_bpe_encode.c: the byte-level BPE encoder (src/data/tokenizer_bpe.c,
// bpe.c) and GPT-2's pre-tokenizer (src/data/pretokenize.c) on arbitrary
// bytes taken as text (not NUL-terminated, so an overread past the end is
// caught by AddressSanitizer).
//
// The tokenizer is GPT-2's (encoder.json + vocab.bpe from $MTP_DATA/gpt2,
// ../shared/data/gpt2 or ../../shared/data/gpt2, relative to the current
// directory), else a small one built here from a few dozen merges; which one
// is printed at start. MTP_FUZZ_TOKENIZER=small forces the small one, and
// MTP_FUZZ_TOKENIZER=<path> loads any tokenizer.json or directory.
//
// The contract checked on every input:
// - pretokenize: the chunks of text[0..len) are non-empty, in order,
//   contiguous and cover every byte; scanning [0, b) and [b, len) for a chunk
//   boundary b gives the same chunks; pretokenize_safe_cut returns 0 or a
//   chunk boundary in (target / 2, target];
// - tokenizer_encode: every id in range, no more ids than bytes, and the ids
//   decode (concatenated) to exactly the input; encoding the two parts of the
//   input cut at pretokenize_safe_cut(len / 2) gives the same ids as the
//   whole; a text long enough for the encoder's chunk cache (several copies
//   of the input between safe cuts) gives the copies' ids (for one input in
//   8 of at most 2048 bytes, picked by a hash);
// - tokenizer_encode_special: ids in range that decode to the input, and the
//   same ids as tokenizer_encode when the input holds no special token;
// - bpe_encode_chunk_scan and bpe_encode_chunk_heap (bpe.h) give the same ids
//   for the whole input taken as one chunk, with the small BPE's merges
//   (whichever tokenizer the checks above use), and those ids spell the input.
#define _GNU_SOURCE  // memmem
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "data/bpe.h"
#include "data/pretokenize.h"
#include "data/tokenizer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tokenizer *tok;
static pretokenizer *pre;
static bpe *model;  // the small BPE's merges as a bare model (bpe.h)
static int vocab;

// ---- the small fallback tokenizer ------------------------------------------
// Merges as (left, right) token texts; each makes the token left + right,
// which later merges may name. Enough to exercise ranks, contractions,
// multi-byte UTF-8 and (through the doubling chains) chunks longer than the
// 64 bytes the scan merger handles, which go through the heap merger.
static const char *const small_merges[][2] = {
    {"t", "h"},
    {"th", "e"},
    {" ", "t"},
    {" t", "h"},
    {" th", "e"},
    {"i", "n"},
    {"in", "g"},
    {" ", "a"},
    {"a", "n"},
    {"an", "d"},
    {" ", "an"},
    {" an", "d"},
    {"e", "r"},
    {"o", "n"},
    {"r", "e"},
    {"o", "u"},
    {"e", "d"},
    {" ", "s"},
    {" ", "w"},
    {"'", "s"},
    {"'", "t"},
    {"'", "re"},
    {"v", "e"},
    {"'", "ve"},
    {"1", "2"},
    {"0", "0"},
    {"00", "00"},
    {"\xc3", "\xa9"},      // é
    {" ", "\xc3\xa9"},     // " é"
    {"\xe4", "\xb8"},      // first two bytes of U+4E00..
    {"\xe4\xb8", "\x80"},  // 一
    {"\xf0", "\x9f"},      // emoji prefix
    {"\xf0\x9f", "\x98"},
    {"\xf0\x9f\x98", "\x80"},  // 😀
    {"\n", "\n"},
    {"\t", "\t"},
    {"<", "|"},
    {"|", ">"},
    {" ", " "},  // spaces: 2, 4, ..., 64
    {"  ", "  "},
    {"    ", "    "},
    {"        ", "        "},
    {"                ", "                "},
    {"                                ", "                                "},
    {"a", "a"},  // "a" x 2, 4, ..., 128
    {"aa", "aa"},
    {"aaaa", "aaaa"},
    {"aaaaaaaa", "aaaaaaaa"},
    {"aaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaa"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    {"a", "b"},  // "ab" then "aba": overlaps with the "aa" chain
    {"ab", "a"},
};
#define NSMALL ((int)(sizeof small_merges / sizeof small_merges[0]))

// texts[id] of the small BPE (ids 0..255 are the bytes, 256 + i is made by
// merge i) and its merges as ids; filled by small_merge_ids.
static char small_texts[256 + NSMALL][256];
static int32_t small_ids[NSMALL][2];

static void small_merge_ids(void) {
    for (int c = 0; c < 256; c++) small_texts[c][0] = (char)c, small_texts[c][1] = '\0';
    for (int i = 0; i < NSMALL; i++) {
        int32_t id[2] = {-1, -1};
        for (int k = 0; k < 2; k++) {
            const char *want = small_merges[i][k];
            if (strlen(want) == 1) {
                id[k] = (uint8_t)want[0];
                continue;
            }
            for (int j = 256; j < 256 + i; j++)
                if (!strcmp(small_texts[j], want)) id[k] = j;
        }
        char made[256];
        int dup = 0;
        if (id[0] >= 0 && id[1] >= 0 &&
            snprintf(made, sizeof made, "%s%s", small_merges[i][0], small_merges[i][1]) < (int)sizeof made)
            for (int j = 256; j < 256 + i; j++) dup |= !strcmp(small_texts[j], made);
        else
            dup = 1;
        if (dup) {  // a part not made yet, or a second way to make a token
            fprintf(stderr, "fuzz_bpe_encode: bad merge %d in small_merges\n", i);
            abort();
        }
        small_ids[i][0] = id[0];
        small_ids[i][1] = id[1];
        memcpy(small_texts[256 + i], made, sizeof made);
    }
}

static tokenizer *small_tokenizer(void) {
    const char *specials[] = {"<|endoftext|>", "<|pad|>"};
    return tokenizer_bpe_from_merges((const int32_t(*)[2])small_ids, NSMALL, specials, 2, "fuzz/small-bpe");
}

// The same merges as a bare model, for comparing its two merge strategies.
static bpe *small_model(void) {
    bpe *b = bpe_new(256 + NSMALL, "fuzz/small-bpe");
    int rc = b ? 0 : -1;
    for (int32_t id = 0; rc == 0 && id < 256 + NSMALL; id++)
        rc = bpe_set_token(b, id, (const uint8_t *)small_texts[id], id < 256 ? 1 : strlen(small_texts[id]));
    if (rc == 0) rc = bpe_index(b);
    for (int i = 0; rc == 0 && i < NSMALL; i++) rc = bpe_add_merge(b, small_ids[i][0], small_ids[i][1]);
    if (rc != 0) {
        fprintf(stderr, "fuzz_bpe_encode: cannot build the small BPE model: %s\n", mtp_last_error());
        abort();
    }
    return b;
}

// ---- initialization ----------------------------------------------------------
static tokenizer *try_gpt2(const char *dir) {
    char enc[4096];
    if (fs_join(enc, sizeof enc, dir, "encoder.json") != 0 || !fs_is_file(enc)) return NULL;
    tokenizer *t = tokenizer_load(dir);
    if (!t) {
        // GPT-2's files are there and fail to load: a bug worth stopping for.
        fprintf(stderr, "fuzz_bpe_encode: cannot load GPT-2's tokenizer from %s: %s\n", dir,
                mtp_last_error());
        abort();
    }
    fprintf(stderr, "fuzz_bpe_encode: GPT-2's tokenizer from %s (vocab %d)\n", dir, tokenizer_vocab_size(t));
    return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    pre = pretokenizer_gpt2();
    if (!pre) {
        fprintf(stderr, "fuzz_bpe_encode: %s\n", mtp_last_error());
        abort();
    }
    small_merge_ids();
    model = small_model();
    const char *choice = getenv("MTP_FUZZ_TOKENIZER");
    int forced_small = choice && !strcmp(choice, "small");
    if (choice && *choice && !forced_small) {
        tok = tokenizer_load(choice);
        if (!tok) {
            fprintf(stderr, "fuzz_bpe_encode: %s\n", mtp_last_error());
            abort();
        }
        fprintf(stderr, "fuzz_bpe_encode: tokenizer %s (%s, vocab %d)\n", choice, tokenizer_name(tok),
                tokenizer_vocab_size(tok));
    }
    if (!tok && !forced_small) {
        const char *data = getenv("MTP_DATA");
        char dir[4096];
        if (data && *data && fs_join(dir, sizeof dir, data, "gpt2") == 0) tok = try_gpt2(dir);
        if (!tok) tok = try_gpt2("../shared/data/gpt2");
        if (!tok) tok = try_gpt2("../../shared/data/gpt2");
    }
    if (!tok) {
        tok = small_tokenizer();
        if (!tok) {
            fprintf(stderr, "fuzz_bpe_encode: cannot build the small tokenizer: %s\n", mtp_last_error());
            abort();
        }
        fprintf(stderr, "fuzz_bpe_encode: %s: using a small BPE of %d merges (vocab %d)\n",
                forced_small
                    ? "MTP_FUZZ_TOKENIZER=small"
                    : "GPT-2's files not found ($MTP_DATA/gpt2, ../shared/data/gpt2, ../../shared/data/gpt2)",
                tokenizer_vocab_size(tok) - 256 - tokenizer_special_count(tok), tokenizer_vocab_size(tok));
    }
    vocab = tokenizer_vocab_size(tok);
    return 0;
}

// ---- pretokenize ---------------------------------------------------------------
// The chunks of a scan of text[begin..end): their starts, and the end of the last.
typedef struct {
    size_t *starts;
    size_t count, cap;
    size_t pos;  // where the next chunk must start
    size_t end;
} chunks;

static int record_chunk(const char *text, size_t start, size_t len, void *user) {
    (void)text;
    chunks *c = user;
    // In order, contiguous, non-empty, inside the scanned range.
    if (start != c->pos || len == 0 || len > c->end - start) abort();
    if (c->count == c->cap) abort();  // more chunks than bytes
    c->starts[c->count++] = start;
    c->pos = start + len;
    return 0;
}

// Scans text[begin..end) of the len-byte text; checks it covers the range.
static void scan(const char *text, size_t len, size_t begin, size_t end, chunks *c) {
    c->count = 0;
    c->pos = begin;
    c->end = end;
    if (pretokenize(pre, text, len, begin, end, record_chunk, c) != 0) abort();
    if (c->pos != (begin < end ? end : begin)) abort();  // every byte in a chunk
}

static int is_boundary(const chunks *c, size_t at) {
    size_t lo = 0, hi = c->count;  // starts are increasing: binary search
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->starts[mid] < at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->count && c->starts[lo] == at;
}

static void check_pretokenize(const char *text, size_t len) {
    size_t cap = len + 1;
    chunks all = {malloc(cap * sizeof(size_t)), 0, cap, 0, 0};
    chunks part = {malloc(cap * sizeof(size_t)), 0, cap, 0, 0};
    if (!all.starts || !part.starts) abort();
    scan(text, len, 0, len, &all);
    if (len > 0 && (all.count == 0 || all.starts[0] != 0)) abort();
    // Scans that start or end at a chunk boundary (the middle chunk's start)
    // give the same chunks as the whole scan.
    if (all.count > 1) {
        size_t mid = all.count / 2, b = all.starts[mid];
        scan(text, len, 0, b, &part);
        if (part.count != mid || memcmp(part.starts, all.starts, mid * sizeof(size_t)) != 0) abort();
        scan(text, len, b, len, &part);
        if (part.count != all.count - mid ||
            memcmp(part.starts, all.starts + mid, part.count * sizeof(size_t)) != 0)
            abort();
    }
    // A safe cut is a chunk boundary in (target / 2, target].
    if (len >= 2) {
        size_t target = len / 2, cut = pretokenize_safe_cut(text, len, target);
        if (cut && (cut > target || cut <= target / 2 || !is_boundary(&all, cut))) abort();
    }
    free(all.starts);
    free(part.starts);
}

// ---- encoding --------------------------------------------------------------------
// Aborts unless every id of ids[0..n) is in range and the ids decode,
// concatenated, to exactly want[0..len).
static void check_decodes_to(const int32_t *ids, size_t n, const char *want, size_t len) {
    static char buf[BPE_MAX_TOKEN_BYTES];
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= vocab) abort();
        int k = tokenizer_decode_token(tok, ids[i], buf, sizeof buf);
        if (k <= 0 || at + (size_t)k > len || memcmp(want + at, buf, (size_t)k) != 0) abort();
        at += (size_t)k;
    }
    if (at != len) abort();
}

static int32_t *encode(const char *text, size_t len, size_t *n) {
    int32_t *ids = NULL;
    size_t cap = 0;
    *n = 0;
    if (tokenizer_encode(tok, text, len, &ids, n, &cap) != 0) abort();
    if (*n > len) abort();  // never more ids than bytes
    return ids;
}

static int has_special(const char *text, size_t len) {
    for (int i = 0; i < tokenizer_special_count(tok); i++) {
        int32_t id;
        const char *s = tokenizer_special(tok, i, &id);
        if (memmem(text, len, s, strlen(s))) return 1;
    }
    return 0;
}

// The chunk cache of the encoder is used for texts of at least 4096 bytes:
// encode copies of "Q " + text + " Q\n" back to back (each "\n" between two
// copies, with visible characters on both sides, is a chunk boundary of any
// scan) and compare with the ids of one copy, repeated. Setting up the cache
// costs the encoder a few MB of fresh memory per call (7x slower runs under
// AddressSanitizer), so only one input in REPEAT_EVERY does this, picked by
// a hash of its bytes (the same input always does or does not).
#define CACHE_TEXT 4096
#define REPEAT_MAX_INPUT 2048
#define REPEAT_EVERY 8

static int picked_for_repeat(const uint8_t *data, size_t size) {
    uint32_t h = 2166136261u;  // FNV-1a
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 16777619u;
    return h % REPEAT_EVERY == 0;
}

static void check_repeated(const char *text, size_t len) {
    size_t plen = len + 5, copies = (CACHE_TEXT + plen - 1) / plen;
    char *rep = malloc(copies * plen);
    if (!rep) abort();
    for (size_t c = 0; c < copies; c++) {
        char *p = rep + c * plen;
        memcpy(p, "Q ", 2);
        if (len) memcpy(p + 2, text, len);
        memcpy(p + 2 + len, " Q\n", 3);
    }
    size_t n1, nr;
    int32_t *one = encode(rep, plen, &n1);
    int32_t *all = encode(rep, copies * plen, &nr);
    if (nr != copies * n1) abort();
    for (size_t c = 0; c < copies; c++)
        if (memcmp(all + c * n1, one, n1 * sizeof *one) != 0) abort();
    free(one);
    free(all);
    free(rep);
}

// bpe.c's two merge strategies (a rescan after each merge, and a heap of
// candidate merges) give the same ids on the whole input as one chunk, ids
// whose bytes are the input again.
#define MERGE_MAX_INPUT 4096

static void check_merge_strategies(const uint8_t *data, size_t size) {
    int32_t *scan_ids = malloc((size + 1) * sizeof *scan_ids),
            *heap_ids = malloc((size + 1) * sizeof *heap_ids);
    if (!scan_ids || !heap_ids) abort();
    size_t ns = bpe_encode_chunk_scan(model, data, size, scan_ids);
    long nh = bpe_encode_chunk_heap(model, data, size, heap_ids);
    if (ns > size || nh < 0 || (size_t)nh != ns ||
        (ns && memcmp(scan_ids, heap_ids, ns * sizeof *scan_ids) != 0))
        abort();
    size_t at = 0;
    for (size_t i = 0; i < ns; i++) {
        if (scan_ids[i] < 0 || scan_ids[i] >= bpe_vocab_size(model)) abort();
        size_t len;
        const uint8_t *bytes = bpe_token_bytes(model, scan_ids[i], &len);
        if (len == 0 || len > size - at || memcmp(bytes, data + at, len) != 0) abort();
        at += len;
    }
    if (at != size) abort();
    free(scan_ids);
    free(heap_ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    check_pretokenize(text, size);

    // The whole input.
    size_t n;
    int32_t *ids = encode(text, size, &n);
    check_decodes_to(ids, n, text, size);

    // Cut at a safe place, the two parts encode to the ids of the whole.
    size_t cut = size >= 2 ? pretokenize_safe_cut(text, size, size / 2) : 0;
    if (cut) {
        size_t na, nb;
        int32_t *a = encode(text, cut, &na);
        int32_t *b = encode(text + cut, size - cut, &nb);
        if (na + nb != n || (na && memcmp(a, ids, na * sizeof *ids) != 0) ||
            (nb && memcmp(b, ids + na, nb * sizeof *ids) != 0))
            abort();
        free(a);
        free(b);
    }

    // With special tokens recognized: the same text back, and the same ids
    // when there is none in the input.
    int32_t *sids = NULL;
    size_t ns = 0, scap = 0;
    if (tokenizer_encode_special(tok, text, size, &sids, &ns, &scap) != 0) abort();
    if (ns > size) abort();
    check_decodes_to(sids, ns, text, size);
    if (!has_special(text, size) && (ns != n || (n && memcmp(sids, ids, n * sizeof *ids) != 0))) abort();
    free(sids);
    free(ids);

    if (size <= MERGE_MAX_INPUT) check_merge_strategies(data, size);
    if (size <= REPEAT_MAX_INPUT && picked_for_repeat(data, size)) check_repeated(text, size);
    return 0;
}
