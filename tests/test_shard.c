// test_shard.c: llm.c shards: writer -> reader round trips for uint16 and
// uint32, the exact bytes of the header, the writer's range checks and
// atomicity, and one crafted file per kind of damage (each refused with a
// message naming the file and the problem).
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "data/shard.h"
#include "test_util.h"

static void put_i32(uint8_t *p, int32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)((uint32_t)v >> (8 * i));
}

// A shard image: header (magic, version, count) followed by `body` bytes of
// 0x01 (the body length is independent of count, to craft damage).
static uint8_t *make_image(int32_t magic, int32_t version, int32_t count, size_t body, size_t *len) {
    *len = SHARD_HEADER_BYTES + body;
    uint8_t *buf = calloc(1, *len);
    if (!buf) exit(1);
    put_i32(buf, magic);
    put_i32(buf + 4, version);
    put_i32(buf + 8, count);
    memset(buf + SHARD_HEADER_BYTES, 1, body);
    return buf;
}

// Writes the image to a file and checks shard_open refuses it with a message
// containing the path and `expect`; shard_open_memory must agree.
static void expect_bad(const char *what, const uint8_t *buf, size_t len, const char *expect) {
    char path[512];
    path_in_tmp(path, sizeof path, "train_000000.bin");
    if (fs_write_all(path, buf, len) != 0) {
        printf("FAIL %s\n", mtp_last_error());
        exit(1);
    }
    shard s;
    mtp_clear_error();
    int rc = shard_open(path, &s);
    CHECK(rc != 0, "%s: accepted", what);
    if (rc == 0) shard_close(&s);
    CHECK(strstr(mtp_last_error(), path) != NULL, "%s: message lacks the path: %s", what, mtp_last_error());
    CHECK(strstr(mtp_last_error(), expect) != NULL, "%s: expected '%s' in: %s", what, expect,
          mtp_last_error());
    mtp_clear_error();
    rc = shard_open_memory(buf, len, "mem.bin", &s);
    CHECK(rc != 0 && strstr(mtp_last_error(), "mem.bin") && strstr(mtp_last_error(), expect),
          "%s (memory): rc %d, message: %s", what, rc, mtp_last_error());
    printf("ok  %-28s %s\n", what, mtp_last_error());
}

static void test_round_trip(const char *name, int elem, uint32_t max_id, size_t n) {
    char path[512];
    path_in_tmp(path, sizeof path, name);
    int32_t *ids = malloc(n * sizeof *ids);
    if (!ids) exit(1);
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 2654435761u) % ((uint64_t)max_id + 1));
    ids[0] = 0;
    ids[n - 1] = (int32_t)max_id;
    shard_writer *w = shard_writer_open(path, elem);
    CHECK(w != NULL, "writer open: %s", mtp_last_error());
    if (!w) return;
    // Appended in uneven pieces, across the writer's staging buffer size.
    size_t done = 0, step = 1;
    while (done < n) {
        size_t m = n - done < step ? n - done : step;
        CHECK(shard_writer_append(w, ids + done, m) == 0, "append: %s", mtp_last_error());
        done += m;
        step = step * 3 + 1;
    }
    CHECK(shard_writer_count(w) == n, "count %llu", (unsigned long long)shard_writer_count(w));
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(!fs_is_file(path) && fs_is_file(tmp), "before close only the .tmp file exists");
    CHECK(shard_writer_close(w) == 0, "close: %s", mtp_last_error());
    CHECK(fs_is_file(path) && !fs_is_file(tmp), "after close only the shard exists");

    // The raw bytes: header fields and little-endian tokens.
    size_t len;
    uint8_t *raw = (uint8_t *)fs_read_all(path, (size_t)1 << 30, &len);
    CHECK(raw && len == SHARD_HEADER_BYTES + n * (size_t)elem, "file size %zu", len);
    if (raw) {
        int32_t h[3];
        for (int k = 0; k < 3; k++)
            h[k] = (int32_t)((uint32_t)raw[4 * k] | (uint32_t)raw[4 * k + 1] << 8 |
                             (uint32_t)raw[4 * k + 2] << 16 | (uint32_t)raw[4 * k + 3] << 24);
        CHECK(h[0] == (elem == 2 ? 20240520 : 20240801) && h[1] == (elem == 2 ? 1 : 7) && h[2] == (int32_t)n,
              "header %d %d %d", h[0], h[1], h[2]);
        int zero = 1;
        for (int k = 12; k < SHARD_HEADER_BYTES; k++) zero &= raw[k] == 0;
        CHECK(zero, "header padding is zero");
        const uint8_t *last = raw + SHARD_HEADER_BYTES + (n - 1) * (size_t)elem;
        uint32_t v = last[0] | (uint32_t)last[1] << 8;
        if (elem == 4) v |= (uint32_t)last[2] << 16 | (uint32_t)last[3] << 24;
        CHECK(v == max_id, "last token little-endian %u", v);
        free(raw);
    }

    shard s;
    CHECK(shard_open(path, &s) == 0, "open: %s", mtp_last_error());
    CHECK(s.count == n && s.elem_bytes == elem, "count %zu elem %d", s.count, s.elem_bytes);
    size_t bad = 0;
    for (size_t i = 0; i < n && i < s.count; i++) bad += shard_token(&s, i) != (uint32_t)ids[i];
    CHECK(bad == 0, "%zu tokens differ", bad);
    shard_close(&s);
    printf("ok  round trip uint%d, %zu tokens\n", 8 * elem, n);
    free(ids);
}

static void test_writer_errors(void) {
    char path[512];
    path_in_tmp(path, sizeof path, "range.bin");
    shard_writer *w = shard_writer_open(path, 2);
    int32_t good[2] = {1, 65535}, big[2] = {5, 65536}, neg[1] = {-1};
    CHECK(w && shard_writer_append(w, good, 2) == 0, "append in range");
    CHECK(shard_writer_append(w, big, 2) != 0 && strstr(mtp_last_error(), "65536"),
          "65536 rejected in uint16: %s", mtp_last_error());
    CHECK(shard_writer_count(w) == 2, "a rejected append writes nothing");
    shard_writer_abort(w);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(!fs_is_file(tmp) && !fs_is_file(path), "abort leaves no file");

    w = shard_writer_open(path, 4);
    CHECK(w && shard_writer_append(w, big, 2) == 0, "65536 fits uint32");
    CHECK(shard_writer_append(w, neg, 1) != 0, "negative id rejected");
    CHECK(shard_writer_close(w) == 0, "close");
    shard s;
    CHECK(shard_open(path, &s) == 0 && s.count == 2 && shard_token(&s, 1) == 65536,
          "uint32 shard reads back");
    shard_close(&s);

    CHECK(shard_writer_open(path, 3) == NULL, "element size 3 rejected");
    char nodir[600];
    path_in_tmp(nodir, sizeof nodir, "missing/dir/x.bin");
    mtp_clear_error();
    CHECK(shard_writer_open(nodir, 2) == NULL && strstr(mtp_last_error(), "missing/dir"),
          "unwritable path named: %s", mtp_last_error());

    // An empty shard is valid.
    w = shard_writer_open(path, 2);
    CHECK(w && shard_writer_close(w) == 0, "empty shard");
    CHECK(shard_open(path, &s) == 0 && s.count == 0, "empty shard opens");
    shard_close(&s);
    printf("ok  writer checks\n");
}

static void test_damage(void) {
    size_t len;
    uint8_t *b;
    b = make_image(20240520, 1, 10, 20, &len);
    expect_bad("shorter than header", b, 100, "shorter than the 1024-byte header");
    expect_bad("empty file", b, 0, "shorter than the 1024-byte header");
    free(b);
    b = make_image(12345, 1, 10, 20, &len);
    expect_bad("wrong magic", b, len,
               "bad magic 12345 (expected 20240520 or 20240801): not an llm.c token shard");
    free(b);
    b = make_image(20240520, 7, 10, 20, &len);
    expect_bad("uint16 magic, version 7", b, len, "version 7 with magic 20240520");
    free(b);
    b = make_image(20240801, 1, 10, 40, &len);
    expect_bad("uint32 magic, version 1", b, len, "version 1 with magic 20240801");
    free(b);
    b = make_image(20240520, 1, 10, 19, &len);
    expect_bad("truncated body", b, len, "truncated");
    free(b);
    b = make_image(20240801, 7, 10, 39, &len);
    expect_bad("truncated uint32 body", b, len, "truncated");
    free(b);
    b = make_image(20240520, 1, 10, 21, &len);
    expect_bad("trailing byte", b, len, "1 trailing byte,");
    free(b);
    b = make_image(20240520, 1, -5, 20, &len);
    expect_bad("negative count", b, len, "negative token count");
    free(b);
    b = make_image(20240801, 7, 0x7fffffff, 8, &len);
    expect_bad("huge count", b, len, "truncated");
    free(b);

    char dir[512];
    path_in_tmp(dir, sizeof dir, "adir.bin");
    fs_mkdir_p(dir);
    shard s;
    mtp_clear_error();
    CHECK(shard_open(dir, &s) != 0 && strstr(mtp_last_error(), dir), "a directory is refused: %s",
          mtp_last_error());
    path_in_tmp(dir, sizeof dir, "nope.bin");
    CHECK(shard_open(dir, &s) != 0 && strstr(mtp_last_error(), "nope.bin"), "missing file: %s",
          mtp_last_error());
}

int main(void) {
    if (make_tmpdir("shard") != 0) return 1;
    test_round_trip("rt16.bin", 2, 65535, 100003);
    test_round_trip("rt32.bin", 4, 70000, 50001);
    test_round_trip("rt32max.bin", 4, 0x7fffffff, 17);
    test_writer_errors();
    test_damage();
    remove_tmpdir();
    printf("%s\n", failures ? "FAILED" : "all shard tests passed");
    return failures ? 1 : 0;
}
