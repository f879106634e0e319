// test_safetensors.c: round trip through st_write/st_open, one crafted file
// per class of malformed input (each must be refused with a message naming
// the problem), and an independent parse of a written file in Python.
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/safetensors.h"

// This file's wording for a scratch path that does not fit.
#define TEST_PATH_FAIL_PREFIX "FAIL path too long: "
#include "test_util.h"

// Writes [8-byte length][header bytes][data bytes] where the length field is
// `declared` (or the true header length when declared is UINT64_MAX).
static void write_raw(const char *path, uint64_t declared, const char *header, size_t hlen, const void *data,
                      size_t dlen) {
    size_t total = 8 + hlen + dlen;
    uint8_t *buf = malloc(total);
    if (!buf) exit(1);
    uint64_t n = declared == UINT64_MAX ? hlen : declared;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(n >> (8 * i));
    memcpy(buf + 8, header, hlen);
    if (dlen) memcpy(buf + 8 + hlen, data, dlen);
    if (fs_write_all(path, buf, total) != 0) {
        printf("FAIL cannot write %s: %s\n", path, mtp_last_error());
        exit(1);
    }
    free(buf);
}

// A file with the given header text and `dlen` zero bytes of data must be
// refused with a message containing `expect`.
static void expect_bad_header(const char *what, const char *header, size_t dlen, const char *expect) {
    char path[512];
    path_in_tmp(path, sizeof path, "bad.safetensors");
    uint8_t *zeros = calloc(dlen ? dlen : 1, 1);
    write_raw(path, UINT64_MAX, header, strlen(header), zeros, dlen);
    free(zeros);
    st_file f;
    mtp_clear_error();
    int rc = st_open(path, &f);
    CHECK(rc != 0, "%s: st_open accepted %s", what, header);
    if (rc == 0) {
        st_close(&f);
        return;
    }
    CHECK(strstr(mtp_last_error(), expect) != NULL, "%s: message '%s' does not mention '%s'", what,
          mtp_last_error(), expect);
    CHECK(strstr(mtp_last_error(), "bad.safetensors") != NULL, "%s: message '%s' does not name the file",
          what, mtp_last_error());
    CHECK(f.tensors == NULL && f.path == NULL && f.map.data == NULL, "%s: st_file not cleared after failure",
          what);
}

static void expect_bad_bytes(const char *what, const uint8_t *bytes, size_t len, const char *expect) {
    char path[512];
    path_in_tmp(path, sizeof path, "bad.safetensors");
    if (fs_write_all(path, bytes, len) != 0) exit(1);
    st_file f;
    mtp_clear_error();
    int rc = st_open(path, &f);
    CHECK(rc != 0, "%s: st_open accepted it", what);
    if (rc == 0) {
        st_close(&f);
        return;
    }
    CHECK(strstr(mtp_last_error(), expect) != NULL, "%s: message '%s' does not mention '%s'", what,
          mtp_last_error(), expect);
}

static void test_bad_lengths(void) {
    char path[512];
    path_in_tmp(path, sizeof path, "bad.safetensors");
    const uint8_t five[5] = {1, 0, 0, 0, 0};
    expect_bad_bytes("short file", five, sizeof five, "shorter than the 8-byte");
    expect_bad_bytes("empty file", five, 0, "shorter than the 8-byte");

    write_raw(path, 0, "{}", 2, NULL, 0);
    st_file f;
    CHECK(st_open(path, &f) != 0 && strstr(mtp_last_error(), "header length is 0"),
          "zero header length: '%s'", mtp_last_error());
    write_raw(path, 100000001ull, "{}", 2, NULL, 0);
    CHECK(st_open(path, &f) != 0 && strstr(mtp_last_error(), "100 MB"), "huge header length: '%s'",
          mtp_last_error());
    write_raw(path, UINT64_MAX - 1, "{}", 2, NULL, 0);
    CHECK(st_open(path, &f) != 0 && strstr(mtp_last_error(), "100 MB"), "2^64-2 header length: '%s'",
          mtp_last_error());
    write_raw(path, 64, "{}      ", 8, NULL, 0);
    CHECK(st_open(path, &f) != 0 && strstr(mtp_last_error(), "runs past the end"), "header past EOF: '%s'",
          mtp_last_error());

    // The same checks through the in-memory entry point the fuzzer uses.
    CHECK(st_open_memory(five, 5, "mem", &f) != 0 && strstr(mtp_last_error(), "mem: file is 5 bytes"),
          "memory short: '%s'", mtp_last_error());
    CHECK(st_open_memory(NULL, 0, "mem", &f) != 0, "memory NULL buffer accepted");

    char missing[512];
    path_in_tmp(missing, sizeof missing, "does-not-exist.safetensors");
    CHECK(st_open(missing, &f) != 0 && strstr(mtp_last_error(), "does-not-exist.safetensors"),
          "missing file: '%s'", mtp_last_error());
}

static void test_bad_headers(void) {
    // JSON structure.
    expect_bad_header("invalid JSON", "{\"a\": ", 0, "not valid JSON");
    expect_bad_header("array header", "[1, 2]", 0, "not a JSON object");
    expect_bad_header("string header", "\"x\"", 0, "not a JSON object");
    expect_bad_header("garbage after object", "{}  x", 0, "after the JSON object");
    expect_bad_header("second object", "{}{}", 0, "after the JSON object");
    {
        // A NUL inside the header must not end it early.
        char path[512];
        path_in_tmp(path, sizeof path, "bad.safetensors");
        write_raw(path, UINT64_MAX, "{}\0{\"x\"}", 8, NULL, 0);
        st_file f;
        CHECK(st_open(path, &f) != 0 && strstr(mtp_last_error(), "0x00"), "NUL in header: '%s'",
              mtp_last_error());
    }
    expect_bad_header("entry is a number", "{\"a\": 5}", 0, "'a' is not an object");
    expect_bad_header("entry is an array", "{\"a\": []}", 0, "'a' is not an object");

    // Missing or mistyped fields.
    expect_bad_header("no dtype", "{\"a\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4, "no \"dtype\"");
    expect_bad_header("no shape", "{\"a\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4,
                      "no \"shape\"");
    expect_bad_header("no offsets", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4,
                      "no \"data_offsets\"");
    expect_bad_header("dtype number", "{\"a\": {\"dtype\": 32, \"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
                      "\"dtype\" that is not a string");
    expect_bad_header("shape object",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": {}, \"data_offsets\": [0, 4]}}", 4,
                      "\"shape\" that is not an array");
    expect_bad_header("shape string entry",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [\"1\"], \"data_offsets\": [0, 4]}}", 4,
                      "not a non-negative integer");
    expect_bad_header("fractional dim",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", 4,
                      "not a non-negative integer");
    expect_bad_header("three offsets",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4, 8]}}", 8,
                      "not two non-negative integers");
    expect_bad_header("string offsets",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [\"0\", \"4\"]}}", 4,
                      "not two non-negative integers");
    expect_bad_header("negative offset",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}}", 4,
                      "not two non-negative integers");
    expect_bad_header(
        "repeated key",
        "{\"a\": {\"dtype\": \"F32\", \"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
        "\"dtype\" twice");

    // Data types.
    expect_bad_header("dtype I64", "{\"a\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [0, 8]}}",
                      8, "only F32, BF16, F16 and I8 are supported");
    // BF16 and F16 are two bytes per element
    expect_bad_header("BF16 size", "{\"a\": {\"dtype\": \"BF16\", \"shape\": [4], \"data_offsets\": [0, 4]}}",
                      4, "(8 bytes as BF16) but data_offsets [0, 4] span 4 bytes");
    // I8 is one byte per element: 4 elements in 16 bytes do not add up
    expect_bad_header("I8 size", "{\"a\": {\"dtype\": \"I8\", \"shape\": [4], \"data_offsets\": [0, 16]}}",
                      16, "(4 bytes as I8) but data_offsets [0, 16] span 16 bytes");

    // Shapes.
    expect_bad_header("negative dim",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [-1, 4], \"data_offsets\": [0, 4]}}", 4,
                      "negative dimension -1");
    expect_bad_header("overflowing dims",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4294967296], "
                      "\"data_offsets\": [0, 4]}}",
                      4, "overflows");
    expect_bad_header("dim past 2^53",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1e300], \"data_offsets\": [0, 4]}}", 4,
                      "not a non-negative integer");
    expect_bad_header(
        "nine dims",
        "{\"a\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}", 4,
        "at most 8");

    // Offsets and sizes.
    expect_bad_header("decreasing offsets",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}", 8,
                      "decrease");
    expect_bad_header("offsets past data",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 2,
                      "past the end of the data section");
    expect_bad_header("offset past data huge",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], "
                      "\"data_offsets\": [9007199254740988, 9007199254740992]}}",
                      4, "past the end of the data section");
    expect_bad_header("size mismatch",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 12]}}", 12,
                      "span 12 bytes");
    expect_bad_header("empty tensor with bytes",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [0, 5], \"data_offsets\": [0, 4]}}", 4,
                      "span 4 bytes");
    expect_bad_header("overlap",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                      " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
                      12, "overlaps");
    expect_bad_header("same bytes twice",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
                      " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
                      4, "overlaps");
    expect_bad_header("gap",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
                      " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}",
                      12, "belong to no tensor");
    expect_bad_header("trailing data",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 8,
                      "4 trailing bytes");
    expect_bad_header("data without tensors", "{}", 4, "no tensors but 4 bytes");

    // Names and metadata.
    expect_bad_header("duplicate names",
                      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
                      " \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
                      8, "duplicate tensor name 'a'");
    expect_bad_header("metadata array", "{\"__metadata__\": [\"pt\"]}", 0,
                      "\"__metadata__\" is not an object");
    expect_bad_header("metadata number value", "{\"__metadata__\": {\"format\": 1}}", 0,
                      "key 'format' is not a string");
    expect_bad_header("metadata twice", "{\"__metadata__\": {}, \"__metadata__\": {}}", 0, "twice");
}

// Files that are unusual but valid must load.
static void test_valid_edge_cases(void) {
    char path[512];
    path_in_tmp(path, sizeof path, "edge.safetensors");
    const char *hdr =
        "{\"__metadata__\": {\"format\": \"pt\"}, \"e\": {\"dtype\": \"F32\", \"shape\": [3, 0], "
        "\"data_offsets\": [4, 4]}, \"s\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [0, 4],"
        " \"extra\": 1}}   ";
    float v = -2.25f;
    write_raw(path, UINT64_MAX, hdr, strlen(hdr), &v, 4);
    st_file f;
    CHECK(st_open(path, &f) == 0, "edge cases: %s", mtp_last_error());
    if (f.count != 2) {
        CHECK(0, "edge cases: expected 2 tensors, got %d", f.count);
        st_close(&f);
        return;
    }
    float got = 0;
    CHECK(st_read_f32(&f, "s", NULL, 0, &got) == 0 && got == v, "scalar read: %s", mtp_last_error());
    const int64_t e_shape[2] = {3, 0};
    CHECK(st_read_f32(&f, "e", e_shape, 2, NULL) == 0, "empty read: %s", mtp_last_error());
    st_close(&f);
    st_close(&f);  // closing twice is harmless

    // 16-bit floats widen exactly: bf16 0x3fc0 = 1.5, 0xc140 = -12; f16
    // 0x3c00 = 1, 0x0001 = 2^-24 (the smallest subnormal), 0xfc00 = -inf.
    const char *h16 =
        "{\"b\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [0, 4]}, "
        "\"h\": {\"dtype\": \"F16\", \"shape\": [3], \"data_offsets\": [4, 10]}}";
    const uint8_t bytes16[10] = {0xc0, 0x3f, 0x40, 0xc1, 0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc};
    write_raw(path, UINT64_MAX, h16, strlen(h16), bytes16, sizeof bytes16);
    CHECK(st_open(path, &f) == 0, "16-bit floats: %s", mtp_last_error());
    if (f.count == 2) {
        float b[2], h[3];
        CHECK(st_read_widened(&f, st_find(&f, "b"), b) == 0 && b[0] == 1.5f && b[1] == -12.0f,
              "bf16 widened to %g %g", b[0], b[1]);
        CHECK(st_read_widened(&f, st_find(&f, "h"), h) == 0 && h[0] == 1.0f && h[1] == 0x1p-24f &&
                  h[2] == -INFINITY,
              "f16 widened to %g %g %g", h[0], h[1], h[2]);
        const int64_t shape2[1] = {2};
        CHECK(st_read_f32(&f, "b", shape2, 1, b) != 0 && strstr(mtp_last_error(), "mtp convert --from hf"),
              "reading bf16 as a checkpoint's float32: %s", mtp_last_error());
    }
    st_close(&f);

    // An empty file: a header with no tensors.
    write_raw(path, UINT64_MAX, "{}      ", 8, NULL, 0);
    CHECK(st_open(path, &f) == 0 && f.count == 0, "empty header: %s", mtp_last_error());
    st_close(&f);
}

static void fill(float *p, size_t n, float base) {
    for (size_t i = 0; i < n; i++) p[i] = base + (float)i * 0.25f - (float)(i % 7) * 1e-3f;
}

static int run_python_check(const char *path) {
    const char *py = "/usr/bin/python3";
    if (access(py, X_OK) != 0) {
        printf("note: %s not found, skipping the Python check\n", py);
        return 0;
    }
    char script[512], cmd[1400];
    path_in_tmp(script, sizeof script, "check.py");
    // Parses the file with nothing but json and struct, exactly as the format
    // describes it; uses the safetensors package too when it is installed.
    const char *src =
        "import json, struct, sys\n"
        "raw = open(sys.argv[1], 'rb').read()\n"
        "(n,) = struct.unpack('<Q', raw[:8])\n"
        "assert n % 8 == 0, n\n"
        "text = raw[8:8 + n].decode('utf-8')\n"
        "assert text.startswith('{') and text.rstrip(' ').endswith('}'), 'padding'\n"
        "h = json.loads(text)\n"
        "assert h.pop('__metadata__') == {'format': 'pt', 'note': 'quote \" backslash \\\\ newline \\n'}, "
        "'metadata'\n"
        "data = raw[8 + n:]\n"
        "pos = 0\n"
        "for name, t in h.items():\n"
        "    assert t['dtype'] == 'F32', name\n"
        "    b, e = t['data_offsets']\n"
        "    assert b == pos, (name, b, pos)\n"
        "    count = 1\n"
        "    for d in t['shape']: count *= d\n"
        "    assert e - b == 4 * count, name\n"
        "    pos = e\n"
        "assert pos == len(data)\n"
        "assert list(h) == ['scalar', 'model.embed_tokens.weight', 'blocks.qkv', 'empty', 'w2'], list(h)\n"
        "assert h['blocks.qkv']['shape'] == [2, 3, 4]\n"
        "assert h['scalar']['shape'] == []\n"
        "b = h['scalar']['data_offsets'][0]\n"
        "assert struct.unpack('<f', data[b:b + 4])[0] == 3.5\n"
        "try:\n"
        "    from safetensors.numpy import load_file\n"
        "except ImportError:\n"
        "    load_file = None\n"
        "if load_file:\n"
        "    t = load_file(sys.argv[1])\n"
        "    assert t['blocks.qkv'].shape == (2, 3, 4) and float(t['scalar']) == 3.5\n"
        "print('python-ok')\n";
    if (fs_write_all(script, src, strlen(src)) != 0) return -1;
    snprintf(cmd, sizeof cmd, "%s '%s' '%s'", py, script, path);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[256] = "";
    char out[256] = "";
    while (fgets(line, sizeof line, p)) snprintf(out, sizeof out, "%s", line);
    int status = pclose(p);
    CHECK(status == 0 && strncmp(out, "python-ok", 9) == 0,
          "python could not parse the written file (status %d)", status);
    if (status == 0) printf("python parsed the written file\n");
    return 0;
}

static void test_round_trip(void) {
    char path[512];
    path_in_tmp(path, sizeof path, "model.safetensors");
    float scalar = 3.5f;
    float emb[5 * 4], qkv[2 * 3 * 4], w2[4 * 4];
    fill(emb, 20, -1.0f);
    fill(qkv, 24, 10.0f);
    fill(w2, 16, 0.5f);
    st_entry entries[5] = {
        {.name = "scalar", .ndim = 0, .data = &scalar},
        {.name = "model.embed_tokens.weight", .ndim = 2, .shape = {5, 4}, .data = emb},
        {.name = "blocks.qkv", .ndim = 3, .shape = {2, 3, 4}, .data = qkv},
        {.name = "empty", .ndim = 2, .shape = {0, 7}, .data = NULL},
        {.name = "w2", .ndim = 2, .shape = {4, 4}, .data = w2},
    };
    const char *meta[] = {"format", "pt", "note", "quote \" backslash \\ newline \n"};
    if (st_write(path, entries, 5, meta, 2) != 0) {
        CHECK(0, "st_write: %s", mtp_last_error());
        return;
    }
    st_file f;
    if (st_open(path, &f) != 0) {
        CHECK(0, "st_open of written file: %s", mtp_last_error());
        return;
    }
    CHECK(f.count == 5, "expected 5 tensors, got %d", f.count);
    CHECK(((uintptr_t)f.data & 7) == 0, "data section is not 8-byte aligned in the map");
    for (int i = 0; i < 5; i++) {
        const st_entry *e = &entries[i];
        const st_tensor *t = st_find(&f, e->name);
        if (!t) {
            CHECK(0, "tensor %s missing", e->name);
            continue;
        }
        CHECK(t->ndim == e->ndim, "%s: ndim %d, wrote %d", e->name, t->ndim, e->ndim);
        size_t n = 1;
        for (int d = 0; d < e->ndim; d++) {
            CHECK(t->shape[d] == e->shape[d], "%s: dim %d differs", e->name, d);
            n *= (size_t)e->shape[d];
        }
        CHECK(t->nbytes == 4 * n, "%s: nbytes %zu, expected %zu", e->name, t->nbytes, 4 * n);
        float *back = calloc(n ? n : 1, sizeof *back);
        CHECK(st_read_f32(&f, e->name, e->shape, e->ndim, back) == 0, "%s: %s", e->name, mtp_last_error());
        CHECK(n == 0 || memcmp(back, e->data, 4 * n) == 0, "%s: data differs after round trip", e->name);
        CHECK(n == 0 || memcmp(st_tensor_data(&f, t), e->data, 4 * n) == 0, "%s: st_tensor_data differs",
              e->name);
        free(back);
    }
    // Tensors are laid out in the order given.
    CHECK(f.tensors[0].offset == 0 && f.tensors[1].offset == 4 && f.tensors[2].offset == 84,
          "unexpected layout %zu %zu %zu", f.tensors[0].offset, f.tensors[1].offset, f.tensors[2].offset);

    // Read errors.
    float dst[64];
    const int64_t wrong[2] = {4, 5};
    CHECK(st_read_f32(&f, "model.embed_tokens.weight", wrong, 2, dst) != 0 &&
              strstr(mtp_last_error(),
                     "model.safetensors: tensor 'model.embed_tokens.weight' has shape [5, 4], "
                     "expected [4, 5]"),
          "shape mismatch message: '%s'", mtp_last_error());
    const int64_t flat[1] = {20};
    CHECK(st_read_f32(&f, "model.embed_tokens.weight", flat, 1, dst) != 0 &&
              strstr(mtp_last_error(), "has shape [5, 4], expected [20]"),
          "rank mismatch message: '%s'", mtp_last_error());
    CHECK(st_read_f32(&f, "lm_head.weight", flat, 1, dst) != 0 &&
              strstr(mtp_last_error(), "no tensor named 'lm_head.weight'"),
          "missing tensor message: '%s'", mtp_last_error());
    CHECK(st_find(&f, "nope") == NULL, "st_find found a missing tensor");
    int8_t i8dst[64];
    CHECK(st_read_i8(&f, "w2", (const int64_t[]){4, 4}, 2, i8dst) != 0 &&
              strstr(mtp_last_error(), "has dtype F32, expected I8"),
          "dtype mismatch message: '%s'", mtp_last_error());
    st_close(&f);

    // I8 next to F32: sizes, offsets and bytes survive the round trip
    {
        char p8[512];
        path_in_tmp(p8, sizeof p8, "q8.safetensors");
        int8_t q[3 * 32];
        for (int i = 0; i < 96; i++) q[i] = (int8_t)(i * 37 % 255 - 127);
        float sc[3] = {0.5f, 0.25f, 2.0f};
        st_entry q8[2] = {{.name = "w", .ndim = 2, .shape = {3, 32}, .data = q, .dtype = ST_I8},
                          {.name = "w_scale", .ndim = 2, .shape = {3, 1}, .data = sc}};
        CHECK(st_write(p8, q8, 2, NULL, 0) == 0, "st_write I8: %s", mtp_last_error());
        st_file g;
        if (st_open(p8, &g) == 0) {
            const st_tensor *t = st_find(&g, "w"), *u = st_find(&g, "w_scale");
            CHECK(t && t->dtype == ST_I8 && t->nbytes == 96 && u && u->dtype == ST_F32 && u->offset == 96,
                  "I8 layout: dtype %d, %zu bytes; scale at %zu", t ? (int)t->dtype : -1, t ? t->nbytes : 0,
                  u ? u->offset : 0);
            int8_t back[96];
            float sback[3];
            CHECK(st_read_i8(&g, "w", (const int64_t[]){3, 32}, 2, back) == 0 && memcmp(back, q, 96) == 0,
                  "I8 round trip: %s", mtp_last_error());
            CHECK(st_read_f32(&g, "w_scale", (const int64_t[]){3, 1}, 2, sback) == 0 &&
                      memcmp(sback, sc, 12) == 0,
                  "F32 after I8 round trip: %s", mtp_last_error());
            CHECK(st_read_f32(&g, "w", (const int64_t[]){3, 32}, 2, sback) != 0 &&
                      strstr(mtp_last_error(), "has dtype I8, expected F32"),
                  "I8 read as F32 must fail: '%s'", mtp_last_error());
            st_close(&g);
        } else {
            CHECK(0, "st_open I8 file: %s", mtp_last_error());
        }
    }

    // The same bytes through st_open_memory.
    size_t len;
    char *raw = fs_read_all(path, 1 << 20, &len);
    if (raw) {
        CHECK(st_open_memory((const uint8_t *)raw, len, "buffer", &f) == 0 && f.count == 5,
              "st_open_memory: %s", mtp_last_error());
        // the view: the floats where they lie, checked as st_read_f32 checks
        const float *view = NULL;
        mtp_clear_error();
        CHECK(st_view_f32(&f, "w2", (const int64_t[]){4, 4}, 2, &view) == 0 && view &&
                  (const uint8_t *)view == st_tensor_data(&f, st_find(&f, "w2")) &&
                  memcmp(view, w2, sizeof w2) == 0,
              "st_view_f32 of an aligned tensor: %s", mtp_last_error());
        CHECK(st_view_f32(&f, "w2", (const int64_t[]){2, 8}, 2, &view) != 0 &&
                  strstr(mtp_last_error(), "has shape [4, 4], expected [2, 8]"),
              "st_view_f32 must check the shape: '%s'", mtp_last_error());
        st_close(&f);
        // one byte further on, the floats are misaligned: no view, and st_read_f32 still reads them
        uint8_t *shifted = malloc(len + 1);
        if (shifted) {
            memcpy(shifted + 1, raw, len);
            float back[16];
            view = (const float *)w2;
            mtp_clear_error();
            CHECK(st_open_memory(shifted + 1, len, "shifted", &f) == 0 &&
                      st_view_f32(&f, "w2", (const int64_t[]){4, 4}, 2, &view) == 0 && view == NULL &&
                      st_read_f32(&f, "w2", (const int64_t[]){4, 4}, 2, back) == 0 &&
                      memcmp(back, w2, sizeof w2) == 0,
                  "st_view_f32 of a misaligned tensor must give NULL: %s", mtp_last_error());
            st_close(&f);
            free(shifted);
        }
        free(raw);
    }
    run_python_check(path);
}

static void test_write_errors(void) {
    char path[512];
    path_in_tmp(path, sizeof path, "w.safetensors");
    float x[4] = {0};
    st_entry dup[2] = {{.name = "a", .ndim = 1, .shape = {4}, .data = x},
                       {.name = "a", .ndim = 1, .shape = {1}, .data = x}};
    CHECK(st_write(path, dup, 2, NULL, 0) != 0 && strstr(mtp_last_error(), "'a' is given twice"),
          "duplicate write: '%s'", mtp_last_error());
    CHECK(!fs_is_file(path), "a refused write left a file behind");
    st_entry neg = {.name = "n", .ndim = 2, .shape = {2, -2}, .data = x};
    CHECK(st_write(path, &neg, 1, NULL, 0) != 0 && strstr(mtp_last_error(), "negative dimension"),
          "negative write: '%s'", mtp_last_error());
    st_entry reserved = {.name = "__metadata__", .ndim = 1, .shape = {1}, .data = x};
    CHECK(st_write(path, &reserved, 1, NULL, 0) != 0 && strstr(mtp_last_error(), "reserved"),
          "reserved write: '%s'", mtp_last_error());
    st_entry nodata = {.name = "z", .ndim = 1, .shape = {4}, .data = NULL};
    CHECK(st_write(path, &nodata, 1, NULL, 0) != 0 && strstr(mtp_last_error(), "no data"),
          "NULL data write: '%s'", mtp_last_error());
    st_entry big = {.name = "big", .ndim = 3, .shape = {1 << 30, 1 << 30, 1 << 30}, .data = x};
    CHECK(st_write(path, &big, 1, NULL, 0) != 0 && strstr(mtp_last_error(), "overflows"),
          "overflow write: '%s'", mtp_last_error());
    char bad_dir[600];
    snprintf(bad_dir, sizeof bad_dir, "%s/no/such/dir/x.safetensors", tmpdir);
    st_entry ok = {.name = "a", .ndim = 1, .shape = {4}, .data = x};
    CHECK(st_write(bad_dir, &ok, 1, NULL, 0) != 0 && strstr(mtp_last_error(), "cannot create"),
          "unwritable path: '%s'", mtp_last_error());
    // No tensors at all is a valid (empty) file.
    CHECK(st_write(path, NULL, 0, NULL, 0) == 0, "empty write: %s", mtp_last_error());
    st_file f;
    CHECK(st_open(path, &f) == 0 && f.count == 0, "empty read back: %s", mtp_last_error());
    st_close(&f);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/mtp-st-XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL cannot create a temporary directory\n");
        return 1;
    }
    test_bad_lengths();
    test_bad_headers();
    test_valid_edge_cases();
    test_round_trip();
    test_write_errors();
    remove_tmpdir();
    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all safetensors checks passed\n");
    return 0;
}
