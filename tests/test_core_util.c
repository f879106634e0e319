// test_core_util.c: the small shared pieces of core/: the growing string,
// the hash set (against a brute-force list), UTF-8 encoding and validation
// (every code point, against the standard's byte patterns written out
// independently here), JSON lines, and the aligned allocators (alignment,
// zeroing, size overflow).
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hashset.h"
#include "core/jsonl.h"
#include "core/rng.h"
#include "core/strbuf.h"
#include "core/utf8.h"
#include "test_util.h"

static void test_strbuf(void) {
    strbuf b = {0};
    char want[20000];
    size_t n = 0;
    for (int i = 0; i < 2000; i++) {
        char piece[16];
        int k = snprintf(piece, sizeof piece, "%d,", i);
        CHECK(strbuf_add(&b, piece, (size_t)k) == 0, "add");
        memcpy(want + n, piece, (size_t)k);
        n += (size_t)k;
    }
    CHECK(b.len == n && memcmp(b.s, want, n) == 0 && b.s[n] == '\0', "contents after 2000 appends");
    size_t len = 0;
    char *s = strbuf_take(&b, &len);
    CHECK(s && len == n && b.s == NULL && b.len == 0, "take");
    free(s);
    strbuf e = {0};
    s = strbuf_take(&e, &len);
    CHECK(s && len == 0 && s[0] == '\0', "an empty buffer gives \"\"");
    free(s);
    strbuf f = {.failed = 1};
    CHECK(strbuf_adds(&f, "x") == -1 && strbuf_take(&f, NULL) == NULL, "a failed buffer stays failed");
}

static void test_hashset(void) {
    hash_set s = {0};
    uint64_t seen[4000];
    int n = 0;
    mtp_rng rng;
    mtp_rng_seed(&rng, 4);
    for (int i = 0; i < 6000; i++) {
        uint64_t h = 1 + mtp_rng_below(&rng, 4000);  // many repeats
        int was = 0;
        for (int k = 0; k < n; k++) was |= seen[k] == h;
        int rc = hash_set_add(&s, h);
        CHECK(rc == !was, "add %llu: %d, seen before %d", (unsigned long long)h, rc, was);
        if (!was) seen[n++] = h;
    }
    for (uint64_t h = 1; h <= 4000; h++) {
        int was = 0;
        for (int k = 0; k < n; k++) was |= seen[k] == h;
        CHECK(hash_set_has(&s, h) == was, "has %llu", (unsigned long long)h);
    }
    CHECK(s.count == (size_t)n, "count %zu vs %d", s.count, n);
    CHECK(hash_text("Hello", 5, 1) == hash_text("hELLO", 5, 1) &&
              hash_text("Hello", 5, 0) != hash_text("hello", 5, 0),
          "case folding");
    CHECK(hash_text("", 0, 0) != 0, "a hash is never 0 (the empty slot)");
    hash_set_free(&s);
}

// The UTF-8 of cp by the table of RFC 3629 section 3, bit fields spelled out.
static int rfc_utf8(uint32_t cp, unsigned char *o) {
    if (cp <= 0x7F) return o[0] = (unsigned char)cp, 1;
    if (cp <= 0x7FF) return o[0] = 0xC0 | (cp >> 6), o[1] = 0x80 | (cp & 63), 2;
    if (cp <= 0xFFFF)
        return o[0] = 0xE0 | (cp >> 12), o[1] = 0x80 | ((cp >> 6) & 63), o[2] = 0x80 | (cp & 63), 3;
    o[0] = 0xF0 | (cp >> 18), o[1] = 0x80 | ((cp >> 12) & 63), o[2] = 0x80 | ((cp >> 6) & 63),
    o[3] = 0x80 | (cp & 63);
    return 4;
}

static void test_utf8(void) {
    long bad = 0;
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        char got[4];
        unsigned char want[4];
        int n = utf8_encode(cp, got), m = rfc_utf8(cp, want);
        if (n != m || memcmp(got, want, (size_t)n) != 0) bad++;
        size_t v = utf8_valid_at(want, (size_t)m);
        int surrogate = cp >= 0xD800 && cp <= 0xDFFF;
        if (v != (surrogate ? 0 : (size_t)m)) bad++;
        if (m > 1 && utf8_valid_at(want, (size_t)m - 1) != 0) bad++;  // cut short
    }
    CHECK(bad == 0, "%ld code points encoded or validated wrongly", bad);
    const unsigned char overlong[] = {0xC0, 0xAF, 0xE0, 0x80, 0xAF, 0xF8, 0x88, 0x80, 0x80, 0x80};
    for (size_t i = 0; i < sizeof overlong; i++)
        CHECK(utf8_valid_at(overlong + i, sizeof overlong - i) == 0, "invalid byte %zu accepted", i);
    char *clean = utf8_sanitize(
        "a\xC3\xA9\xFF"
        "b\xE2\x82",
        7);
    CHECK(clean && !strcmp(clean,
                           "a\xC3\xA9\xEF\xBF\xBD"
                           "b\xEF\xBF\xBD\xEF\xBF\xBD"),
          "sanitize: %s", clean);
    free(clean);
}

static void test_jsonl(void) {
    char path[512];
    path_in_tmp(path, sizeof path, "lines.jsonl");
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 3 && f; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "i", i);
        cJSON_AddItemToObject(o, "x", json_number_or_null(i == 1 ? NAN : i == 2 ? INFINITY : 0.5));
        CHECK(jsonl_put(f, o) == 0, "put");
    }
    if (f) fclose(f);
    size_t len;
    char *text = fs_read_all(path, 1 << 20, &len);
    CHECK(text && !strcmp(text, "{\"i\":0,\"x\":0.5}\n{\"i\":1,\"x\":null}\n{\"i\":2,\"x\":null}\n"),
          "file: %s", text ? text : "");
    free(text);
    CHECK(jsonl_put(stdout, NULL) == -1, "NULL object accepted");
}

// mtp_alloc_aligned: 64-byte aligned and every byte asked for zeroed (the
// allocator's memory is dirtied first, so a missing clear shows);
// mtp_alloc_streamed the same below 4 MB and 2 MB aligned (huge-page
// candidates) from there on, zeroed only if asked; a size that cannot be
// rounded up fails with a message instead of wrapping around.
static void test_aligned_alloc(void) {
    const size_t sizes[] = {1, 100, 4096, ((size_t)4 << 20) - 1, (size_t)4 << 20, ((size_t)5 << 20) + 3};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        const size_t n = sizes[i], big = n >= ((size_t)4 << 20) ? (size_t)2 << 20 : 64;
        unsigned char *dirty = mtp_alloc_streamed(n, 0, "test buffer");
        CHECK(dirty && (uintptr_t)dirty % big == 0, "%zu bytes streamed: aligned to %zu", n, big);
        if (dirty) memset(dirty, 0xA5, n);
        free(dirty);
        for (int streamed = 0; streamed < 2; streamed++) {
            const size_t align = streamed ? big : 64;
            unsigned char *p =
                streamed ? mtp_alloc_streamed(n, 1, "test buffer") : mtp_alloc_aligned(n, "test buffer");
            CHECK(p && (uintptr_t)p % align == 0, "%zu bytes%s: aligned to %zu", n,
                  streamed ? " streamed" : "", align);
            size_t nonzero = 0;
            for (size_t k = 0; p && k < n; k++) nonzero += p[k] != 0;
            CHECK(nonzero == 0, "%zu bytes%s: %zu bytes not cleared", n, streamed ? " streamed" : "",
                  nonzero);
            free(p);
            if (!streamed && n > 4096) {  // dirty the allocator again for the streamed one
                unsigned char *d = mtp_alloc_streamed(n, 0, "test buffer");
                if (d) memset(d, 0xA5, n);
                free(d);
            }
        }
    }
    CHECK(mtp_alloc_aligned((size_t)-1 - 10, "huge test buffer") == NULL &&
              strstr(mtp_last_error(), "huge test buffer") != NULL,
          "a size that overflows the rounding fails, naming the buffer: '%s'", mtp_last_error());
    CHECK(mtp_alloc_streamed((size_t)-1 - 10, 1, "huge streamed buffer") == NULL &&
              strstr(mtp_last_error(), "huge streamed buffer") != NULL,
          "a streamed size that overflows the rounding fails, naming the buffer: '%s'", mtp_last_error());
}

int main(void) {
    if (make_tmpdir("core_util") != 0) return 1;
    test_strbuf();
    test_hashset();
    test_utf8();
    test_jsonl();
    test_aligned_alloc();
    remove_tmpdir();
    return test_finish("core util");
}
