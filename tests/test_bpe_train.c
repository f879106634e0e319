// test_bpe_train.c: the BPE trainer: merge sequences worked out by hand
// (counting rule, ties, left-to-right replacement, early stop, the token
// length cap), merges never crossing pre-tokenizer chunks or special tokens,
// equal results for any thread count, piece size and input form (files or
// memory), the tokenizer.json round trip of a trained vocabulary, progress
// reports, and clear errors for bad options and unreadable files.
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "data/bpe.h"
#include "data/bpe_train.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "test_util.h"

static const char *const eot_only[] = {"<|endoftext|>"};

static bpe_train_options options(int vocab_size, int threads) {
    return (bpe_train_options){
        .vocab_size = vocab_size, .specials = eot_only, .nspecials = 1, .threads = threads};
}

static tokenizer *train_strings(const bpe_train_options *o, const char *const *texts, int n) {
    tokenizer *t = bpe_train_texts(o, texts, NULL, n, NULL, NULL);
    CHECK(t, "training failed: %s", mtp_last_error());
    return t;
}

// The bytes of token id as a NUL-terminated string (test tokens hold no NUL).
static const char *token_text(const tokenizer *t, int32_t id) {
    static char buf[BPE_MAX_TOKEN_BYTES + 1];
    int n = tokenizer_decode_token(t, id, buf, sizeof buf - 1);
    if (n < 0) return "<invalid id>";
    buf[n] = '\0';
    return buf;
}

// Checks that t learned exactly the merges whose results are want[0..n),
// in order (merge i is id 256 + i), followed by nspecials special tokens.
static void check_merges(const tokenizer *t, const char *const *want, int n, int nspecials,
                         const char *what) {
    if (!t) return;
    CHECK(tokenizer_vocab_size(t) == 256 + n + nspecials, "%s: vocab %d, want %d", what,
          tokenizer_vocab_size(t), 256 + n + nspecials);
    for (int i = 0; i < n && 256 + i < tokenizer_vocab_size(t); i++) {
        const char *got = token_text(t, 256 + i);
        CHECK(!strcmp(got, want[i]), "%s: merge %d is '%s', want '%s'", what, i, got, want[i]);
    }
}

// ---- merge sequences worked out by hand ---------------------------------------
static void test_hand_checked(void) {
    // One word "aaabdaaabac" (letters only: one pre-tokenizer chunk).
    // Tokens a a a b d a a a b a c; adjacent pairs: (a,a) 4 (two in each
    // "aaa"), (a,b) 2, (b,d) 1, (d,a) 1, (b,a) 1, (a,c) 1.
    // 1. (a,a) -> "aa" (256). Left to right without overlap, each "aaa" is
    //    [aa, a]: aa a b d aa a b a c. Pairs: (aa,a) 2, (a,b) 2, (b,d),
    //    (d,aa), (b,a), (a,c) 1.
    // 2. Tie at 2 between (aa,a) = (256,97) and (a,b) = (97,98): the smaller
    //    left id wins: (a,b) -> "ab" (257): aa ab d aa ab a c.
    //    (Had "aaa" become [a, aa], this would be a aa b ... instead.)
    // 3. (aa,ab) 2 -> "aaab" (258): aaab d aaab a c.
    // 4. All pairs 1: (258,d), (d,258), (258,a), (a,c); smallest left id is
    //    a = 97: (a,c) -> "ac" (259): aaab d aaab ac.
    // 5. (258,d), (d,258), (258,259), all 1: smallest left is d = 100:
    //    "daaab" (260): aaab daaab ac.
    // 6. (258,260) and (260,259): left 258 < 260: "aaabdaaab" (261).
    // 7. (261,259): the whole word (262). Then no pair is left: training
    //    stops early with 7 merges although 300 - 257 = 43 were asked for.
    {
        bpe_train_options o = options(300, 1);
        const char *texts[] = {"aaabdaaabac"};
        tokenizer *t = train_strings(&o, texts, 1);
        const char *want[] = {"aa", "ab", "aaab", "ac", "daaab", "aaabdaaab", "aaabdaaabac"};
        check_merges(t, want, 7, 1, "aaabdaaabac");
        if (t) {
            int32_t id = -1;
            const char *s = tokenizer_special(t, 0, &id);
            CHECK(tokenizer_special_count(t) == 1 && !strcmp(s, "<|endoftext|>") && id == 263 &&
                      tokenizer_eot(t) == 263,
                  "end of text follows the merges: '%s' id %d", s, (int)id);
        }
        tokenizer_free(t);
        printf("ok  hand-checked merges of aaabdaaabac (ties by id, early stop)\n");
    }
    // Counting rule: documents "aaa" x2 and "bc" x3. Adjacent positions:
    // (a,a) = 2 per "aaa" = 4 > (b,c) = 3, so "aa" comes first (counting
    // non-overlapping occurrences would give (a,a) 2 and "bc" first).
    // Then each "aaa" is [aa, a]: (aa,a) 2 < (b,c) 3: "bc"; then "aaa".
    {
        const char *texts[] = {"aaa", "bc", "aaa", "bc", "bc"};
        bpe_train_options o = options(300, 2);
        tokenizer *t = train_strings(&o, texts, 5);
        const char *want[] = {"aa", "bc", "aaa"};
        check_merges(t, want, 3, 1, "aaa aaa bc bc bc");
        tokenizer_free(t);
        // vocab 259 = 256 + 1 special + 2 merges: stops after "bc".
        o.vocab_size = 259;
        t = train_strings(&o, texts, 5);
        check_merges(t, want, 2, 1, "aaa aaa bc bc bc, vocab 259");
        tokenizer_free(t);
        printf("ok  pair counts are adjacent positions (aaa counts twice); vocab limit\n");
    }
    // Ties on the left id go to the smaller right id: (a,b) 2 and (a,c) 2
    // give "ab" before "ac".
    {
        const char *texts[] = {"ac", "ab", "ac", "ab"};
        bpe_train_options o = options(300, 1);
        tokenizer *t = train_strings(&o, texts, 4);
        const char *want[] = {"ab", "ac"};
        check_merges(t, want, 2, 1, "ac ab ac ab");
        tokenizer_free(t);
    }
    // A count that drops: "abc" x4, "ab" x2, "bc" x2, "xy" x5 give (a,b) 6,
    // (b,c) 6, (x,y) 5. 1. Tie, smaller left: "ab"; each "abc" is now
    // [ab, c], so (b,c) drops to 2 and (ab,c) is 4. 2. (x,y) 5: "xy".
    // 3. (ab,c) 4: "abc". 4. (b,c) 2: "bc". Then no pair is left.
    {
        const char *texts[] = {"bc",  "xy", "abc", "ab", "xy",  "abc", "xy",
                               "abc", "bc", "ab",  "xy", "abc", "xy"};
        bpe_train_options o = options(300, 2);
        tokenizer *t = train_strings(&o, texts, 13);
        const char *want[] = {"ab", "xy", "abc", "bc"};
        check_merges(t, want, 4, 1, "abc ab bc xy");
        tokenizer_free(t);
        printf("ok  ties on the right id; counts that drop after a merge\n");
    }
    // Nothing to learn from (no text, single bytes, special tokens only):
    // no merge at all, the 256 bytes and the end of text.
    {
        const char *texts[] = {"", "x.y\n", "<|endoftext|>"};
        bpe_train_options o = options(300, 2);
        tokenizer *t = train_strings(&o, texts, 3);
        CHECK(!t || tokenizer_vocab_size(t) == 257, "no pairs: vocab %d", t ? tokenizer_vocab_size(t) : -1);
        tokenizer_free(t);
        t = bpe_train_texts(&o, texts, NULL, 0, NULL, NULL);
        CHECK(t && tokenizer_vocab_size(t) == 257, "no texts: %s", t ? "wrong vocab" : mtp_last_error());
        tokenizer_free(t);
        printf("ok  no pairs at all: 257 tokens\n");
    }
    // Length cap: one word of 10000 'a'. The merges double: a2 (256), a4,
    // ..., a16 (259): 625 x a16; (a16,a16) 624 -> 312 a32 + a16; then a64
    // (156 + a16), a128 (78 + a16), a256 (39 + a16), a512 (19 + a256 +
    // a16), a1024 (9 + a512 + a256 + a16), a2048 (4 + a1024 + ...), a4096
    // (id 267, (a2048,a2048) 3): a4096 a4096 a1024 a512 a256 a16. All pairs
    // now count 1; (a4096,a4096) and (a4096,a1024) would exceed 4096 bytes
    // and are never merged; of the rest the smallest left id is a256 (263):
    // (a256,a16) -> a272; then (a512,a272) -> a784 (left 264 < 265); then
    // (a1024,a784) -> a1808; only too-long pairs remain: 15 merges.
    {
        char *text = malloc(10001);
        memset(text, 'a', 10000);
        text[10000] = '\0';
        const char *texts[] = {text};
        bpe_train_options o = options(1000, 2);
        tokenizer *t = train_strings(&o, texts, 1);
        int lens[] = {2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 272, 784, 1808};
        CHECK(!t || tokenizer_vocab_size(t) == 256 + 15 + 1, "10000 a: vocab %d, want 272",
              t ? tokenizer_vocab_size(t) : -1);
        for (int i = 0; t && i < 15 && 256 + i < tokenizer_vocab_size(t); i++) {
            const char *s = token_text(t, 256 + i);
            size_t n = strlen(s);
            CHECK((int)n == lens[i] && strspn(s, "a") == n, "10000 a: merge %d has %zu bytes, want %d", i, n,
                  lens[i]);
        }
        tokenizer_free(t);
        free(text);
        printf("ok  no token longer than %d bytes (hand-checked)\n", BPE_MAX_TOKEN_BYTES);
    }
}

// ---- boundaries: pre-tokenizer chunks and special tokens -------------------------
static void test_boundaries(void) {
    // Chunks of "a b a b a b" are "a", " b", " a", " b", " a", " b": only
    // " b" (3) and " a" (2) can be learned, never "a b" or "b a".
    {
        const char *texts[] = {"a b a b a b"};
        bpe_train_options o = options(1000, 2);
        tokenizer *t = train_strings(&o, texts, 1);
        const char *want[] = {" b", " a"};
        check_merges(t, want, 2, 1, "a b a b a b");
        tokenizer_free(t);
    }
    // A larger text: no learned token has a space after its first byte or
    // a letter right before a newline run, whatever the merges.
    {
        char text[4096];
        size_t n = 0;
        for (int i = 0; n + 16 < sizeof text; i++)
            n += (size_t)snprintf(text + n, sizeof text - n, "%s", i % 5 == 4 ? "ab\n" : "a b ba ");
        const char *texts[] = {text};
        bpe_train_options o = options(400, 2);
        tokenizer *t = train_strings(&o, texts, 1);
        int nmerges = t ? tokenizer_vocab_size(t) - 257 : 0;
        CHECK(nmerges >= 3, "a b ba: only %d merges", nmerges);
        for (int i = 0; i < nmerges; i++) {
            const char *s = token_text(t, 256 + i);
            CHECK(!strchr(s + 1, ' '), "token %d '%s' crosses a chunk boundary", 256 + i, s);
            CHECK(!(strchr(s, '\n') && strpbrk(s, "ab")), "token %d '%s' joins letters and a newline",
                  256 + i, s);
        }
        tokenizer_free(t);
    }
    printf("ok  merges stay inside pre-tokenizer chunks\n");

    // Special tokens are cut out before counting: only "xy" is ever a word.
    // Without the split, "<|", "|>", "endoftext" and "pad" would be learned.
    {
        const char *const specials[] = {"<|endoftext|>", "<|pad|>"};
        char text[2048] = "";
        for (int i = 0; i < 40; i++) strcat(text, i % 3 ? "xy<|endoftext|>" : "xy<|pad|>");
        strcat(text, "xy");
        const char *texts[] = {text, "<|pad|><|pad|>xy<|endoftext|>"};
        bpe_train_options o = {.vocab_size = 1000, .specials = specials, .nspecials = 2, .threads = 2};
        tokenizer *t = train_strings(&o, texts, 2);
        const char *want[] = {"xy"};
        check_merges(t, want, 1, 2, "xy<|endoftext|>xy<|pad|>");
        if (t) {
            int32_t id0 = -1, id1 = -1;
            const char *s0 = tokenizer_special(t, 0, &id0), *s1 = tokenizer_special(t, 1, &id1);
            CHECK(!strcmp(s0, "<|endoftext|>") && id0 == 257 && !strcmp(s1, "<|pad|>") && id1 == 258 &&
                      tokenizer_eot(t) == 257,
                  "specials '%s' %d, '%s' %d", s0, (int)id0, s1, (int)id1);
        }
        tokenizer_free(t);
    }
    // Where two specials start at one byte the longer is cut out: in
    // "qq<|e|>zzqq" the special "<|e|>zz" leaves only "qq" words; cutting
    // "<|e|>" would leave "zzqq" and more merges.
    {
        const char *const specials[] = {"<|e|>", "<|e|>zz"};
        const char *texts[] = {"qq<|e|>zzqq<|e|>zzqq"};
        bpe_train_options o = {.vocab_size = 1000, .specials = specials, .nspecials = 2, .threads = 1};
        tokenizer *t = train_strings(&o, texts, 1);
        const char *want[] = {"qq"};
        check_merges(t, want, 1, 2, "qq<|e|>zzqq");
        tokenizer_free(t);
    }
    printf("ok  special tokens are not learned from (longest at one byte)\n");
}

// ---- same result for any thread count, piece size and input form -------------------
static int same_tokens(const tokenizer *a, const tokenizer *b, const char *what) {
    if (!a || !b) return 0;
    int va = tokenizer_vocab_size(a), vb = tokenizer_vocab_size(b);
    CHECK(va == vb, "%s: vocab %d vs %d", what, va, vb);
    if (va != vb) return 0;
    static char ba[BPE_MAX_TOKEN_BYTES], bb[BPE_MAX_TOKEN_BYTES];
    for (int32_t id = 0; id < va; id++) {
        int na = tokenizer_decode_token(a, id, ba, sizeof ba),
            nb = tokenizer_decode_token(b, id, bb, sizeof bb);
        if (na != nb || na < 0 || memcmp(ba, bb, (size_t)na) != 0) {
            CHECK(0, "%s: token %d differs", what, (int)id);
            return 0;
        }
    }
    return 1;
}

// Trains on texts with threads and piece size (1 MB when 0).
static tokenizer *train_with(const char *const *texts, const size_t *lens, int n, int vocab, int threads,
                             size_t piece) {
    bpe_train_options o = options(vocab, threads);
    o.piece_bytes = piece;
    tokenizer *t = bpe_train_texts(&o, texts, lens, n, NULL, NULL);
    CHECK(t, "training (threads %d, pieces %zu): %s", threads, piece, mtp_last_error());
    return t;
}

static void test_parallel_equals_serial(void) {
    const char *path = "../shared/data/tinyshakespeare/input.txt";
    const char *data = getenv("MTP_DATA");
    char buf[4096];
    if (data) {
        snprintf(buf, sizeof buf, "%s/tinyshakespeare/input.txt", data);
        path = buf;
    }
    size_t len = 0;
    char *text = fs_is_file(path) ? fs_read_all(path, (size_t)64 << 20, &len) : NULL;
    if (!text) {
        printf("skip parallel == serial on tinyshakespeare: '%s' is absent\n", path);
    } else {
        const char *texts[] = {text};
        int vocab = 256 + 1 + 600;
        tokenizer *serial = train_with(texts, &len, 1, vocab, 1, 0);
        tokenizer *par = train_with(texts, &len, 1, vocab, 2, 0);
        tokenizer *small = train_with(texts, &len, 1, vocab, 2, 64);
        CHECK(!serial || tokenizer_vocab_size(serial) == vocab, "tinyshakespeare: vocab %d",
              serial ? tokenizer_vocab_size(serial) : -1);
        int ok = same_tokens(serial, par, "tinyshakespeare, 2 threads") &&
                 same_tokens(serial, small, "tinyshakespeare, 2 threads, 64-byte pieces");
        tokenizer_free(par);
        tokenizer_free(small);

        // With special tokens inside the text: pieces are cut within the
        // segments between them.
        size_t cap = len + len / 500 * 16 + 16, n = 0;
        char *with = malloc(cap);
        for (size_t i = 0; i < len; i += 977) {
            size_t take = len - i < 977 ? len - i : 977;
            memcpy(with + n, text + i, take);
            n += take;
            memcpy(with + n, "<|endoftext|>", 13);
            n += 13;
        }
        const char *wt[] = {with};
        tokenizer *s2 = train_with(wt, &n, 1, vocab, 1, 0);
        tokenizer *p2 = train_with(wt, &n, 1, vocab, 2, 100);
        ok &= same_tokens(s2, p2, "tinyshakespeare with specials, 2 threads, 100-byte pieces");
        tokenizer_free(s2);
        tokenizer_free(p2);
        tokenizer_free(serial);
        free(with);
        free(text);
        if (ok) printf("ok  tinyshakespeare: 1 thread == 2 threads == small pieces (also with specials)\n");
    }

    // Text where safe cuts are rare: long runs of punctuation, digits and
    // non-ASCII letters between short stretches of words.
    size_t n = 0, cap = 1 << 18;
    char *mixed = malloc(cap);
    uint32_t r = 12345;
    while (n + 600 < cap) {
        r = r * 1103515245u + 12345u;
        int kind = (int)(r >> 16) % 5, run = 1 + (int)(r >> 8) % 300;
        static const char *const pieces[] = {"!=", "12", "\xc3\xa9t\xc3\xa9", "a b\nc d ", "\xff\xfe"};
        for (int k = 0; k < run && n + 8 < cap; k++) {
            size_t m = strlen(pieces[kind]);
            memcpy(mixed + n, pieces[kind], m);
            n += m;
        }
    }
    const char *mt[] = {mixed};
    tokenizer *a = train_with(mt, &n, 1, 256 + 1 + 300, 1, 0);
    tokenizer *b = train_with(mt, &n, 1, 256 + 1 + 300, 2, 64);
    tokenizer *c = train_with(mt, &n, 1, 256 + 1 + 300, 2, 1000);
    if (same_tokens(a, b, "rare cuts, 64-byte pieces") && same_tokens(a, c, "rare cuts, 1000-byte pieces"))
        printf("ok  text with rare safe cuts: same merges for any piece size\n");
    tokenizer_free(a);
    tokenizer_free(b);
    tokenizer_free(c);
    free(mixed);
}

// bpe_train on files == bpe_train_texts on their texts; an unreadable file
// is named in the error.
static void test_corpus_files(void) {
    if (make_tmpdir("bpe_train") != 0) {
        failures++;
        return;
    }
    const char *texts[] = {"def f(x):\n    return x + 1\n\n\nclass A:\n    pass\n",
                           "import os\nprint(os.path.join('a', 'b'))<|endoftext|>def g(): return 2\n",
                           "for i in range(10):\n    print(i * i)\n"};
    char path[3][512];
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.py", i);
        path_in_tmp(path[i], sizeof path[i], name);
        if (fs_write_all(path[i], texts[i], strlen(texts[i])) != 0) ok = 0;
    }
    CHECK(ok, "writing the corpus: %s", mtp_last_error());
    corpus c;
    const char *inputs[] = {tmpdir};
    if (ok && corpus_collect(&c, inputs, 1, "*.py", NULL) == 0) {
        CHECK(c.count == 3, "corpus of %zu files", c.count);
        bpe_train_options o = options(300, 2);
        o.piece_bytes = 16;
        tokenizer *from_files = bpe_train(&o, &c, NULL, NULL);
        CHECK(from_files, "bpe_train: %s", mtp_last_error());
        tokenizer *from_texts = train_with(texts, NULL, 3, 300, 1, 0);
        if (same_tokens(from_files, from_texts, "files vs texts") && from_files)
            printf("ok  files == texts in memory (%d tokens)\n", tokenizer_vocab_size(from_files));
        tokenizer_free(from_files);
        tokenizer_free(from_texts);

        // A file that disappeared after the walk.
        char *kept = c.paths[1];
        char missing[600];
        snprintf(missing, sizeof missing, "%s/vanished.py", tmpdir);
        c.paths[1] = missing;
        mtp_clear_error();
        tokenizer *t = bpe_train(&o, &c, NULL, NULL);
        CHECK(!t && strstr(mtp_last_error(), missing), "missing file: %s", mtp_last_error());
        if (!t) printf("ok  unreadable file: %s\n", mtp_last_error());
        tokenizer_free(t);
        c.paths[1] = kept;
        corpus_free(&c);
    } else {
        CHECK(0, "corpus: %s", mtp_last_error());
    }
    remove_tmpdir();
}

// ---- the trained tokenizer: save, load, encode, decode -------------------------------
static void test_round_trip(void) {
    char text[8192];
    size_t n = 0;
    for (int i = 0; n + 64 < sizeof text; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "the cat %d sat on the mat; h\xc3\xa9llo \xe2\x82\xac!\n", i % 17);
    const char *texts[] = {text};
    tokenizer *t = train_with(texts, &n, 1, 256 + 1 + 120, 2, 0);
    if (!t) return;
    char *json = tokenizer_to_json(t);
    CHECK(json, "to_json: %s", mtp_last_error());
    tokenizer *u = json ? tokenizer_load_json(json, strlen(json), "trained tokenizer.json") : NULL;
    CHECK(u, "load_json: %s", mtp_last_error());
    same_tokens(t, u, "saved and loaded");

    const char sample[] =
        "the cat sat on the mat \xff\xfe\xc3\x28 h\xc3\xa9llo \xe2\x82\xac 42<|endoftext|>\xf0\x9f";
    size_t sn = sizeof sample - 1;
    int32_t *a = NULL, *b = NULL;
    size_t na = 0, ca = 0, nb = 0, cb = 0;
    CHECK(tokenizer_encode(t, sample, sn, &a, &na, &ca) == 0, "encode: %s", mtp_last_error());
    if (u) CHECK(tokenizer_encode(u, sample, sn, &b, &nb, &cb) == 0, "encode (loaded): %s", mtp_last_error());
    CHECK(u && na == nb && !memcmp(a, b, na * sizeof *a),
          "trained and loaded encode differently (%zu vs %zu ids)", na, nb);
    CHECK(na < sn * 2 / 3, "%zu ids for %zu bytes: the merges do not compress", na, sn);
    char back[512];
    size_t m = 0;
    for (size_t i = 0; i < na; i++) {
        int k = tokenizer_decode_token(t, a[i], back + m, sizeof back - m);
        CHECK(k > 0, "decode of %d: %s", (int)a[i], mtp_last_error());
        if (k > 0) m += (size_t)k;
    }
    CHECK(m == sn && !memcmp(back, sample, sn), "decode(encode(x)) != x (%zu vs %zu bytes)", m, sn);
    free(a);
    free(b);
    free(json);
    tokenizer_free(u);
    tokenizer_free(t);
    printf("ok  tokenizer.json round trip: same ids; decode(encode(x)) == x with invalid UTF-8\n");
}

// ---- progress --------------------------------------------------------------------------
typedef struct {
    pthread_t caller;
    int count_calls, merge_calls, other_thread, bad;
    uint64_t last_merge_done, merge_total, count_done, count_total;
} progress_log;

static void on_progress(const char *phase, uint64_t done, uint64_t total, void *user) {
    progress_log *p = user;
    if (!pthread_equal(pthread_self(), p->caller)) p->other_thread++;
    if (done > total) p->bad++;
    if (!strcmp(phase, "count")) {
        p->count_calls++;
        p->count_done = done;
        p->count_total = total;
    } else if (!strcmp(phase, "merge")) {
        p->merge_calls++;
        p->last_merge_done = done;
        p->merge_total = total;
    } else {
        p->bad++;
    }
}

static void test_progress(void) {
    const char *texts[] = {"aaabdaaabac", "aaa bc"};
    bpe_train_options o = options(300, 2);
    o.piece_bytes = 4;
    progress_log p = {.caller = pthread_self()};
    tokenizer *t = bpe_train_texts(&o, texts, NULL, 2, on_progress, &p);
    CHECK(t, "train: %s", mtp_last_error());
    CHECK(p.count_calls >= 1 && p.count_done == 17 && p.count_total == 17, "count: %d calls, last %llu/%llu",
          p.count_calls, (unsigned long long)p.count_done, (unsigned long long)p.count_total);
    CHECK(t && p.merge_calls >= 1 && p.merge_total == 43 &&
              p.last_merge_done == (uint64_t)tokenizer_vocab_size(t) - 257,
          "merge: %d calls, last %llu/%llu", p.merge_calls, (unsigned long long)p.last_merge_done,
          (unsigned long long)p.merge_total);
    CHECK(!p.other_thread && !p.bad, "%d calls from another thread, %d bad calls", p.other_thread, p.bad);
    tokenizer_free(t);
    printf("ok  progress: both phases, from the calling thread\n");
}

// ---- errors ------------------------------------------------------------------------------
static void expect_error(const bpe_train_options *o, const char *want1, const char *want2, const char *what) {
    const char *texts[] = {"hello world"};
    mtp_clear_error();
    tokenizer *t = bpe_train_texts(o, texts, NULL, 1, NULL, NULL);
    const char *e = mtp_last_error();
    CHECK(!t && strstr(e, want1) && (!want2 || strstr(e, want2)), "%s: got '%s'", what, e);
    if (!t) printf("ok  %s: %s\n", what, e);
    tokenizer_free(t);
}

static void test_errors(void) {
    bpe_train_options o = options(257, 1);
    expect_error(&o, "--vocab-size 257", "258", "vocab too small");
    const char *const two[] = {"<|endoftext|>", "<|pad|>"};
    o = (bpe_train_options){.vocab_size = 258, .specials = two, .nspecials = 2};
    expect_error(&o, "--vocab-size 258", "259", "vocab too small for two specials");
    const char *const empty[] = {"<|endoftext|>", ""};
    o = (bpe_train_options){.vocab_size = 1000, .specials = empty, .nspecials = 2};
    expect_error(&o, "special token 2 is empty", NULL, "empty special");
    o = (bpe_train_options){.vocab_size = 1000, .specials = eot_only, .nspecials = 0};
    expect_error(&o, "no special tokens", NULL, "no specials");
    const char *const twice[] = {"<|endoftext|>", "<|endoftext|>"};
    o = (bpe_train_options){.vocab_size = 1000, .specials = twice, .nspecials = 2};
    expect_error(&o, "given twice", NULL, "special given twice");
    const char *const one_byte[] = {"<|endoftext|>", "x"};
    o = (bpe_train_options){.vocab_size = 1000, .specials = one_byte, .nspecials = 2};
    expect_error(&o, "'x' is a single byte", NULL, "one-byte special");
}

int main(void) {
    test_hand_checked();
    test_boundaries();
    test_parallel_equals_serial();
    test_corpus_files();
    test_round_trip();
    test_progress();
    test_errors();
    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all bpe_train tests passed\n");
    return 0;
}
