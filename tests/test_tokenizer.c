// test_tokenizer.c: the byte tokenizer (every byte and invalid UTF-8 round
// trip, special tokens are not parsed from text), its tokenizer.json (GPT-2's
// byte-to-unicode alphabet, save -> load -> same encoding), and refusal of
// malformed or foreign tokenizer.json files with a clear message and no
// crash (each prefix of a valid file, single-byte mutations, crafted cases).
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "data/tokenizer.h"
#include "test_util.h"

// Encodes text with t and decodes the ids back; checks ids == bytes and the
// decoded text equals the input.
static void check_round_trip(const tokenizer *t, const char *text, size_t len, const char *what) {
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    CHECK(tokenizer_encode(t, text, len, &ids, &n, &cap) == 0, "%s: encode: %s", what, mtp_last_error());
    CHECK(n == len, "%s: %zu ids for %zu bytes", what, n, len);
    char *back = malloc(len + 1);
    size_t m = 0;
    for (size_t i = 0; i < n && i < len; i++) {
        CHECK(ids[i] == (int32_t)(unsigned char)text[i], "%s: id %d for byte %d", what, ids[i],
              (unsigned char)text[i]);
        char buf[64];
        int k = tokenizer_decode_token(t, ids[i], buf, sizeof buf);
        CHECK(k == 1, "%s: decode of %d gave %d bytes", what, ids[i], k);
        if (k == 1) back[m++] = buf[0];
    }
    CHECK(m == len && memcmp(back, text, len) == 0, "%s: decoded text differs", what);
    free(back);
    free(ids);
}

static void test_bytes(void) {
    tokenizer *t = tokenizer_bytes();
    CHECK(t && tokenizer_vocab_size(t) == 257 && tokenizer_eot(t) == 256, "vocab 257, eot 256");
    CHECK(!strcmp(tokenizer_name(t), "bytes"), "name");
    char all[256];
    for (int b = 0; b < 256; b++) all[b] = (char)b;
    check_round_trip(t, all, 256, "all 256 bytes");
    const char invalid[] = "\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc\xed\xa0\x80\xc0\xaf";
    check_round_trip(t, invalid, sizeof invalid - 1, "invalid UTF-8");
    const char utf8[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80";
    check_round_trip(t, utf8, sizeof utf8 - 1, "UTF-8");

    // Special tokens in text stay bytes.
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    const char *special = "a<|endoftext|>b";
    CHECK(tokenizer_encode(t, special, strlen(special), &ids, &n, &cap) == 0 && n == strlen(special),
          "<|endoftext|> in text is %zu ids", n);
    for (size_t i = 0; i < n; i++) CHECK(ids[i] != 256, "eot id from text at %zu", i);
    // Encoding appends.
    CHECK(tokenizer_encode(t, "xy", 2, &ids, &n, &cap) == 0 && n == strlen(special) + 2 && ids[n - 1] == 'y',
          "encode appends");
    CHECK(tokenizer_encode(t, "", 0, &ids, &n, &cap) == 0 && n == strlen(special) + 2,
          "empty text adds nothing");
    // Large input grows the buffer.
    size_t big = 3 << 20;
    char *text = malloc(big);
    for (size_t i = 0; i < big; i++) text[i] = (char)(i * 7);
    CHECK(tokenizer_encode(t, text, big, &ids, &n, &cap) == 0 && n == strlen(special) + 2 + big && cap >= n,
          "3 MB encode");
    CHECK(ids[n - 1] == (int32_t)(unsigned char)text[big - 1], "last id of big encode");
    free(text);
    free(ids);

    char buf[64];
    int k = tokenizer_decode_token(t, 256, buf, sizeof buf);
    CHECK(k == 13 && !memcmp(buf, "<|endoftext|>", 13), "eot decodes to its text (%d)", k);
    mtp_clear_error();
    CHECK(tokenizer_decode_token(t, 257, buf, sizeof buf) == -1 && strstr(mtp_last_error(), "257"),
          "257 invalid: %s", mtp_last_error());
    CHECK(tokenizer_decode_token(t, -1, buf, sizeof buf) == -1, "-1 invalid");
    CHECK(tokenizer_decode_token(t, 256, buf, 5) == -1, "eot into a 5-byte buffer fails");
    tokenizer_free(t);
    printf("ok  byte tokenizer\n");
}

static void test_alphabet(void) {
    // GPT-2's bytes_to_unicode: printable Latin-1 maps to itself, the rest
    // to U+0100 + rank; space is 'Ġ' (U+0120) and newline 'Ċ' (U+010A).
    CHECK(tokenizer_byte_to_unicode('A') == 'A' && tokenizer_byte_to_unicode(0) == 0x100, "A, NUL");
    CHECK(tokenizer_byte_to_unicode(' ') == 0x120 && tokenizer_byte_to_unicode('\n') == 0x10A,
          "space, newline");
    CHECK(tokenizer_byte_to_unicode(0xAD) == 0x143 && tokenizer_byte_to_unicode(0x7F) == 0x121, "0xAD, 0x7F");
    CHECK(tokenizer_byte_to_unicode(0xFF) == 0xFF && tokenizer_byte_to_unicode(0xA0) == 0x142, "0xFF, 0xA0");
    int seen[0x200] = {0}, ok = 1;
    for (int b = 0; b < 256; b++) {
        uint32_t cp = tokenizer_byte_to_unicode((uint8_t)b);
        ok &= cp < 0x200 && !seen[cp]++ && tokenizer_unicode_to_byte(cp) == b;
    }
    CHECK(ok, "bytes_to_unicode is a bijection with its inverse");
    CHECK(tokenizer_unicode_to_byte(' ') == -1 && tokenizer_unicode_to_byte(0x144) == -1,
          "unmapped code points");
}

static tokenizer *load_text(const char *json) {
    return tokenizer_load_json(json, strlen(json), "t.json");
}

// json must be refused with a message containing `expect` (and the label).
static void expect_bad(const char *what, const char *json, size_t len, const char *expect) {
    mtp_clear_error();
    tokenizer *t = tokenizer_load_json(json, len, "bad/tokenizer.json");
    CHECK(t == NULL, "%s: accepted", what);
    tokenizer_free(t);
    CHECK(strstr(mtp_last_error(), "bad/tokenizer.json") && strstr(mtp_last_error(), expect),
          "%s: expected '%s' in: %s", what, expect, mtp_last_error());
    if (t == NULL) printf("ok  %-30s %s\n", what, mtp_last_error());
}

// Copy of `base` with the first occurrence of `from` replaced by `to`.
static char *replace(const char *base, const char *from, const char *to) {
    const char *at = strstr(base, from);
    if (!at) {
        printf("FAIL test setup: '%s' not in the saved JSON\n", from);
        failures++;
        return strdup(base);
    }
    size_t n = strlen(base), lf = strlen(from), lt = strlen(to);
    char *out = malloc(n - lf + lt + 1);
    memcpy(out, base, (size_t)(at - base));
    memcpy(out + (at - base), to, lt);
    strcpy(out + (at - base) + lt, at + lf);
    return out;
}

static void expect_bad_variant(const char *what, const char *base, const char *from, const char *to,
                               const char *expect) {
    char *v = replace(base, from, to);
    expect_bad(what, v, strlen(v), expect);
    free(v);
}

static void test_save_load(void) {
    tokenizer *t = tokenizer_bytes();
    char path[512], dir_path[512];
    fs_join(path, sizeof path, tmpdir, "tokenizer.json");
    CHECK(tokenizer_save(t, path) == 0, "save: %s", mtp_last_error());
    size_t len;
    char *json = fs_read_all(path, 1 << 20, &len);
    CHECK(json != NULL, "read back");
    if (!json) return;
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(!fs_is_file(tmp), "no temporary file left");
    // The fields Hugging Face relies on, as cJSON prints them.
    const char *needles[] = {"\"type\":\t\"BPE\"",
                             "\"type\":\t\"ByteLevel\"",
                             "\"use_regex\":\tfalse",
                             "\"add_prefix_space\":\tfalse",
                             "\"content\":\t\"<|endoftext|>\"",
                             "\"id\":\t256",
                             "\"special\":\ttrue",
                             "\"merges\":\t[]",
                             "\"\xc4\xa0\":\t32",
                             "\"\xc4\x8a\":\t10",
                             "\"\\\"\":\t34",
                             "\"\\\\\":\t92",
                             "\"\xc3\xbf\":\t255",
                             "\"\xc4\x80\":\t0"};
    for (size_t i = 0; i < sizeof needles / sizeof *needles; i++)
        CHECK(strstr(json, needles[i]) != NULL, "saved JSON lacks %s", needles[i]);

    tokenizer *back = tokenizer_load(path);
    CHECK(back != NULL, "load: %s", mtp_last_error());
    tokenizer *from_dir = tokenizer_load(tmpdir);
    CHECK(from_dir != NULL, "load from the directory: %s", mtp_last_error());
    if (back && from_dir) {
        CHECK(tokenizer_vocab_size(back) == 257 && tokenizer_eot(back) == 256, "loaded vocab/eot");
        char all[512];
        for (int i = 0; i < 512; i++) all[i] = (char)(i * 37 + 11);
        int32_t *a = NULL, *b = NULL;
        size_t na = 0, nb = 0, ca = 0, cb = 0;
        tokenizer_encode(t, all, sizeof all, &a, &na, &ca);
        tokenizer_encode(back, all, sizeof all, &b, &nb, &cb);
        CHECK(na == nb && !memcmp(a, b, na * sizeof *a), "identical encoding after save/load");
        free(a);
        free(b);
        char *again = tokenizer_to_json(back);
        CHECK(again && !strcmp(again, json), "loaded tokenizer saves the same file");
        free(again);
    }
    tokenizer_free(back);
    tokenizer_free(from_dir);

    mtp_clear_error();
    fs_join(dir_path, sizeof dir_path, tmpdir, "missing.json");
    CHECK(tokenizer_load(dir_path) == NULL && strstr(mtp_last_error(), "missing.json"), "missing file: %s",
          mtp_last_error());
    fs_join(dir_path, sizeof dir_path, tmpdir, "emptydir");
    fs_mkdir_p(dir_path);
    CHECK(tokenizer_load(dir_path) == NULL && strstr(mtp_last_error(), "emptydir"),
          "dir without tokenizer.json: %s", mtp_last_error());

    // Crafted refusals.
    expect_bad("empty input", "", 0, "not valid JSON");
    expect_bad("not JSON", "hello", 5, "not valid JSON");
    expect_bad("top-level array", "[1, 2]", 6, "not a JSON object");
    expect_bad("no model", "{\"version\": \"1.0\"}", 18, "missing \"model\"");
    expect_bad("model not object", "{\"model\": 3}", 12, "missing \"model\"");
    expect_bad("model type missing", "{\"model\": {}}", 13, "model.type");
    expect_bad("NUL inside", "{\"model\"\0: {}}", 14, "NUL byte at offset 8");
    expect_bad("trailing text", "{\"model\": {}} x", 15, "unexpected text after the JSON value at byte 14");
    expect_bad_variant("WordPiece", json, "\"type\":\t\"BPE\"", "\"type\":\t\"WordPiece\"",
                       "model type 'WordPiece' is not supported");
    // With a merge the file is read as a byte-level BPE, which pre-splits words.
    expect_bad_variant("merges", json, "\"merges\":\t[]", "\"merges\":\t[\"\xc4\xa0 t\"]",
                       "pre_tokenizer.use_regex must be true");
    expect_bad_variant("merges not a list", json, "\"merges\":\t[]", "\"merges\":\t{}",
                       "model.merges must be a list");
    expect_bad_variant("version", json, "\"1.0\"", "\"2.0\"", "version is \"2.0\"");
    expect_bad_variant("unknown key", json, "\"padding\"", "\"paddingz\"", "unexpected key \"paddingz\"");
    expect_bad_variant("duplicate key", json, "\"padding\":\tnull", "\"truncation\":\tnull", "appears twice");
    expect_bad_variant("normalizer", json, "\"normalizer\":\tnull", "\"normalizer\":\t{\"type\": \"NFC\"}",
                       "normalizer must be null");
    expect_bad_variant("truncation", json, "\"truncation\":\tnull", "\"truncation\":\t{}",
                       "truncation must be null");
    // a pre-tokenizer that splits words makes the file a byte-level BPE, of no merges (what `mtp
    // tokenizer train` writes for an input too small to merge anything): the bytes' ids all the same
    char *split = replace(json, "\"use_regex\":\tfalse", "\"use_regex\":\ttrue");
    tokenizer *bpe0 = load_text(split), *bytes = tokenizer_bytes();
    int32_t *a = NULL, *b = NULL;
    const char *words = "two words, and\tmore";
    size_t na = 0, nb = 0, ca = 0, cb = 0;
    CHECK(bpe0 && tokenizer_encode(bpe0, words, strlen(words), &a, &na, &ca) == 0 &&
              tokenizer_encode(bytes, words, strlen(words), &b, &nb, &cb) == 0 && na == nb &&
              memcmp(a, b, sizeof(int32_t) * na) == 0,
          "a byte-level BPE of no merges: not the bytes' ids (%s)", mtp_last_error());
    free(a);
    free(b);
    tokenizer_free(bpe0);
    tokenizer_free(bytes);
    free(split);
    expect_bad_variant("add_prefix_space", json, "\"add_prefix_space\":\tfalse",
                       "\"add_prefix_space\":\ttrue", "pre_tokenizer.add_prefix_space must be false");
    expect_bad_variant("add_prefix_space default", json, "\"add_prefix_space\":\tfalse,", "",
                       "add_prefix_space and use_regex to false explicitly");
    expect_bad_variant("pre_tokenizer type", json, "\"ByteLevel\"", "\"Whitespace\"",
                       "expected \"ByteLevel\"");
    char *arr = replace(json, "\"pre_tokenizer\":\t{", "\"pre_tokenizer\":\t[{");
    expect_bad_variant("pre_tokenizer a list", arr, "},\n\t\"post_processor\"", "}],\n\t\"post_processor\"",
                       "pre_tokenizer must be an object");
    free(arr);
    expect_bad_variant("trim_offsets type", json, "\"trim_offsets\":\ttrue", "\"trim_offsets\":\t1",
                       "trim_offsets must be true or false");
    expect_bad_variant("eot content", json, "<|endoftext|>", "<|end|>", "content is \"<|end|>\"");
    expect_bad_variant("eot id", json, "\"id\":\t256", "\"id\":\t300", "added_tokens[0].id must be 256");
    expect_bad_variant("eot id fraction", json, "\"id\":\t256", "\"id\":\t256.5",
                       "added_tokens[0].id must be 256");
    expect_bad_variant("eot not special", json, "\"special\":\ttrue", "\"special\":\tfalse",
                       "special must be true");
    expect_bad_variant("eot lstrip", json, "\"lstrip\":\tfalse", "\"lstrip\":\ttrue", "lstrip must be false");
    expect_bad_variant("two added tokens", json, "\"added_tokens\":\t[", "\"added_tokens\":\t[{\"id\": 257},",
                       "exactly one token");
    expect_bad_variant("vocab id", json, "\"\xc4\xa0\":\t32", "\"\xc4\xa0\":\t33",
                       "ids must equal byte values");
    expect_bad_variant("vocab id range", json, "\"\xc4\xa0\":\t32", "\"\xc4\xa0\":\t256",
                       "integer in [0, 255]");
    expect_bad_variant("vocab id negative", json, "\"\xc4\xa0\":\t32", "\"\xc4\xa0\":\t-1",
                       "integer in [0, 255]");
    expect_bad_variant("vocab id string", json, "\"\xc4\xa0\":\t32", "\"\xc4\xa0\":\t\"32\"",
                       "integer in [0, 255]");
    expect_bad_variant("vocab key raw", json, "\"\xc4\xa0\":\t32", "\" \":\t32",
                       "ids must equal byte values");
    expect_bad_variant("vocab key long", json, "\"\xc4\xa0\":\t32", "\"\xc4\xa0\xc4\xa0\":\t32",
                       "byte values");
    expect_bad_variant("vocab key bad UTF-8", json, "\"\xc4\xa0\":\t32", "\"\xc4\":\t32", "");
    expect_bad_variant("vocab missing entry", json, "\"\xc4\xa0\":\t32,", "", "has 255 entries");
    expect_bad_variant("vocab duplicate", json, "\"\xc4\xa0\":\t32,", "\"\xc4\xa0\":\t32, \"\xc4\xa0\":\t32,",
                       "appears twice");
    expect_bad_variant("vocab extra", json, "\"\xc4\xa0\":\t32,",
                       "\"\xc4\xa0\":\t32, \"<|endoftext|>\":\t256,", "integer in [0, 255]");
    expect_bad_variant("dropout", json, "\"dropout\":\tnull", "\"dropout\":\t0.1",
                       "model.dropout must be null");
    expect_bad_variant("byte_fallback", json, "\"byte_fallback\":\tfalse", "\"byte_fallback\":\ttrue",
                       "byte_fallback must be false");
    expect_bad_variant("model unknown key", json, "\"fuse_unk\"", "\"fuse_unkk\"",
                       "unexpected key \"fuse_unkk\"");
    // Accepted variations: a ByteLevel post-processor, decoder flags, whitespace.
    char *v =
        replace(json, "\"post_processor\":\tnull",
                "\"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": "
                "false, \"use_regex\": true}");
    tokenizer *ok = load_text(v);
    CHECK(ok != NULL, "ByteLevel post_processor accepted: %s", mtp_last_error());
    tokenizer_free(ok);
    free(v);

    // Deep nesting and huge numbers: refused, no crash.
    size_t deep = 200000;
    char *d = malloc(deep + 1);
    memset(d, '[', deep);
    d[deep] = '\0';
    expect_bad("deep nesting", d, deep, "not valid JSON");
    free(d);

    // Every strict prefix of the valid file is refused; every single-byte
    // mutation is refused or accepted, never a crash (run under the sanitizers
    // by `make sanitize`). The buffer is exactly the prefix, so an overread
    // would be caught.
    int prefix_ok = 1;
    for (size_t k = 0; k + 1 < len; k++) {
        char *p = malloc(k ? k : 1);
        memcpy(p, json, k);
        tokenizer *x = tokenizer_load_json(p, k, "prefix");
        // The file ends with "}\n": only dropping the newline keeps it valid.
        if (x != NULL && k != len - 1) prefix_ok = 0;
        tokenizer_free(x);
        free(p);
    }
    CHECK(prefix_ok, "a strict prefix was accepted");
    static const char repl[] = {'0', '"', '{', '}', '[', ']', ',', ':', '\\', 't', 'x', '\0', (char)0xff};
    int accepted = 0, tried = 0;
    char *m = malloc(len);
    for (size_t k = 0; k < len; k += 3) {
        for (size_t r = 0; r < sizeof repl; r++) {
            memcpy(m, json, len);
            if (m[k] == repl[r]) continue;
            m[k] = repl[r];
            tokenizer *x = tokenizer_load_json(m, len, "mutant");
            tried++;
            if (x) {
                accepted++;
                char *same = tokenizer_to_json(x);
                CHECK(same && !strcmp(same, json), "an accepted mutant differs from the original");
                free(same);
            } else {
                CHECK(mtp_last_error()[0] != '\0', "a refusal without a message");
            }
            tokenizer_free(x);
        }
    }
    free(m);
    printf("ok  %d mutations: %d accepted (all equivalent to the original), the rest refused\n", tried,
           accepted);
    free(json);
    tokenizer_free(t);
}

int main(void) {
    if (make_tmpdir("tokenizer") != 0) return 1;
    test_bytes();
    test_alphabet();
    test_save_load();
    remove_tmpdir();
    printf("%s\n", failures ? "FAILED" : "all tokenizer tests passed");
    return failures ? 1 : 0;
}
