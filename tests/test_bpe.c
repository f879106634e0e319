// test_bpe.c: the byte-level BPE tokenizer.
// - GPT-2 exactness: the ids OpenAI's tiktoken gives for the edge cases in
//   gpt2/testvectors/gpt2_cases.jsonl and for three whole files (Tiny
//   Shakespeare, the two TinyStories files), from $MTP_DATA (skipped with a
//   message when absent).
// - decode(encode(x)) == x for random bytes, invalid UTF-8 included.
// - The two merge strategies (rescan, heap) agree on a random model.
// - Pieces cut at pretokenize_safe_cut encode like the whole text.
// - Special tokens only with tokenizer_encode_special.
// - tokenizer.json save/load round trip, and malformed files refused.
#include <cjson/cJSON.h>
#include <stdint.h>
#include <string.h>

#include "core/rng.h"
#include "data/bpe.h"
#include "data/prepare.h"
#include "data/pretokenize.h"
#include "data/shard.h"
#include "data/tokenizer.h"
#include "test_util.h"

static char data_dir[2048];

static int encode(const tokenizer *t, const char *s, size_t n, int32_t **ids, size_t *len) {
    size_t cap = 0;
    *ids = NULL;
    *len = 0;
    return tokenizer_encode(t, s, n, ids, len, &cap);
}

// decode(ids) == s[0..n)?
static int decodes_to(const tokenizer *t, const int32_t *ids, size_t nids, const char *s, size_t n) {
    char buf[8192];
    size_t at = 0;
    for (size_t i = 0; i < nids; i++) {
        int k = tokenizer_decode_token(t, ids[i], buf, sizeof buf);
        if (k < 0 || at + (size_t)k > n || memcmp(s + at, buf, (size_t)k)) return 0;
        at += (size_t)k;
    }
    return at == n;
}

static void test_cases(const tokenizer *t) {
    char path[4096];
    snprintf(path, sizeof path, "%s/gpt2/testvectors/gpt2_cases.jsonl", data_dir);
    size_t len;
    char *text = fs_read_all(path, 1 << 24, &len);
    if (!text) {
        CHECK(0, "cannot read %s", path);
        return;
    }
    int cases = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *s = cJSON_GetObjectItem(o, "text"), *want = cJSON_GetObjectItem(o, "ids");
        if (!cJSON_IsString(s) || !cJSON_IsArray(want)) {
            CHECK(0, "bad test case line: %.80s", line);
            cJSON_Delete(o);
            continue;
        }
        int32_t *ids;
        size_t n;
        size_t slen = strlen(s->valuestring), cap = 0;
        // "allowed_special": "all" marks cases where special tokens count.
        int special = cJSON_IsString(cJSON_GetObjectItem(o, "allowed_special"));
        int rc = special
                     ? (ids = NULL, n = 0, tokenizer_encode_special(t, s->valuestring, slen, &ids, &n, &cap))
                     : encode(t, s->valuestring, slen, &ids, &n);
        int same = rc == 0 && (int)n == cJSON_GetArraySize(want);
        int i = 0;
        for (const cJSON *w = want->child; same && w; w = w->next, i++)
            same = ids[i] == (int32_t)w->valuedouble;
        CHECK(same, "gpt2 case %d (%.40s): ids differ from tiktoken's", cases, s->valuestring);
        CHECK(decodes_to(t, ids, n, s->valuestring, slen), "gpt2 case %d does not decode back", cases);
        free(ids);
        cJSON_Delete(o);
        cases++;
    }
    free(text);
    CHECK(cases >= 40, "only %d test cases read", cases);
    printf("ok  %d GPT-2 edge cases equal tiktoken's ids and decode back\n", cases);
}

static void test_stream(const tokenizer *t, const char *text_rel, const char *ids_rel) {
    char tp[4096], ip[4096];
    snprintf(tp, sizeof tp, "%s/%s", data_dir, text_rel);
    snprintf(ip, sizeof ip, "%s/gpt2/testvectors/%s", data_dir, ids_rel);
    size_t tlen, ilen;
    char *text = fs_read_all(tp, 1 << 26, &tlen);
    uint8_t *raw = (uint8_t *)fs_read_all(ip, 1 << 26, &ilen);
    if (!text || !raw) {
        CHECK(0, "cannot read %s or %s", tp, ip);
        free(text), free(raw);
        return;
    }
    int32_t *ids;
    size_t n;
    CHECK(encode(t, text, tlen, &ids, &n) == 0, "encode %s", tp);
    size_t want_n = ilen / 2, first_diff = SIZE_MAX;
    for (size_t i = 0; i < want_n && i < n && first_diff == SIZE_MAX; i++)
        if (ids[i] != (int32_t)(raw[2 * i] | raw[2 * i + 1] << 8)) first_diff = i;
    CHECK(n == want_n && first_diff == SIZE_MAX, "%s: %zu ids (tiktoken %zu), first difference at %zu",
          text_rel, n, want_n, first_diff);
    CHECK(decodes_to(t, ids, n, text, tlen), "%s does not decode back", text_rel);
    // Cut into pieces at safe points, each encoded alone, the ids are the same.
    size_t at = 0, m = 0, pieces = 0;
    int32_t *part = NULL;
    size_t pn = 0, pcap = 0;
    int same = 1;
    while (at < tlen && same) {
        size_t cut = tlen - at > 4000 ? pretokenize_safe_cut(text + at, tlen - at, 4000) : 0;
        size_t take = cut ? cut : tlen - at;
        pn = 0;
        same = tokenizer_encode(t, text + at, take, &part, &pn, &pcap) == 0 && m + pn <= n &&
               !memcmp(part, ids + m, pn * sizeof *part);
        m += pn;
        at += take;
        pieces++;
    }
    CHECK(same && m == n, "%s: encoding in %zu pieces cut at safe points differs", text_rel, pieces);
    free(part);
    printf("ok  %s: %zu ids equal tiktoken's; decodes back; same ids in %zu pieces\n", text_rel, n, pieces);
    free(ids), free(text), free(raw);
}

static void test_round_trip_bytes(const tokenizer *t) {
    mtp_rng r;
    mtp_rng_seed(&r, 7);
    char buf[600];
    int bad = 0;
    for (int trial = 0; trial < 2000; trial++) {
        size_t n = mtp_rng_u64(&r) % sizeof buf;
        int mode = trial % 3;
        for (size_t i = 0; i < n; i++) {
            uint64_t x = mtp_rng_u64(&r);
            // Raw bytes; text-like ASCII with spaces; UTF-8 fragments.
            static const char *const frags[] = {"é",    "世界", "\xF0\x9F\x98\x80", " ", "\n", "'s", "  ",
                                                "\xC3", "\x80"};
            if (mode == 0) {
                buf[i] = (char)(x & 0xFF);
            } else if (mode == 1) {
                buf[i] = " aZ0\n'.\t"[x % 8];
            } else {
                const char *f = frags[x % 9];
                size_t fl = strlen(f);
                if (i + fl > n) fl = n - i;
                memcpy(buf + i, f, fl);
                i += fl - 1;
            }
        }
        int32_t *ids;
        size_t m;
        if (encode(t, buf, n, &ids, &m) != 0 || !decodes_to(t, ids, m, buf, n) || m > n) bad++;
        free(ids);
    }
    CHECK(bad == 0, "%d of 2000 random byte strings do not round-trip", bad);
    printf("ok  decode(encode(x)) == x for 2000 random byte strings (invalid UTF-8 included)\n");
}

// A random model over a 4-letter alphabet with merges of random existing
// tokens: long strings exercise the heap path against the rescan.
static void test_scan_vs_heap(void) {
    mtp_rng r;
    mtp_rng_seed(&r, 11);
    int nm = 300;
    bpe *b = bpe_new(256 + nm, "random model");
    for (int c = 0; c < 256; c++) {
        uint8_t byte = (uint8_t)c;
        bpe_set_token(b, c, &byte, 1);
    }
    // Tokens are built from 'a'..'d' and earlier merges; a merge whose bytes
    // repeat an existing token is retried.
    int32_t left[300], right[300];
    int made = 0, tries = 0;
    uint8_t buf[2 * BPE_MAX_TOKEN_BYTES];
    int32_t pool[600];
    int npool = 4;
    for (int i = 0; i < 4; i++) pool[i] = 'a' + i;
    while (made < nm && tries++ < 100000) {
        int32_t l = pool[mtp_rng_u64(&r) % (uint64_t)npool], rt = pool[mtp_rng_u64(&r) % (uint64_t)npool];
        size_t ll, rl;
        const uint8_t *ls = bpe_token_bytes(b, l, &ll), *rs = bpe_token_bytes(b, rt, &rl);
        if (ll + rl > 12) continue;
        memcpy(buf, ls, ll);
        memcpy(buf + ll, rs, rl);
        int dup = 0;
        for (int k = 0; k < 256 + made && !dup; k++) {
            size_t kl;
            const uint8_t *ks = bpe_token_bytes(b, k, &kl);
            dup = kl == ll + rl && !memcmp(ks, buf, kl);
        }
        if (dup) continue;
        bpe_set_token(b, 256 + made, buf, ll + rl);
        left[made] = l, right[made] = rt;
        pool[npool++] = 256 + made;
        made++;
    }
    CHECK(made == nm, "could only make %d random merges", made);
    CHECK(bpe_index(b) == 0, "index: %s", mtp_last_error());
    for (int i = 0; i < made; i++)
        CHECK(bpe_add_merge(b, left[i], right[i]) == 0, "merge %d: %s", i, mtp_last_error());
    int differ = 0;
    uint8_t s[3000];
    int32_t a[3000], h[3000];
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + mtp_rng_u64(&r) % sizeof s;
        for (size_t i = 0; i < n; i++) s[i] = (uint8_t)('a' + mtp_rng_u64(&r) % (trial % 2 ? 2 : 4));
        size_t na = bpe_encode_chunk_scan(b, s, n, a);
        long nh = bpe_encode_chunk_heap(b, s, n, h);
        if (nh < 0 || (size_t)nh != na || memcmp(a, h, na * sizeof *a)) differ++;
    }
    CHECK(differ == 0, "rescan and heap merging differ on %d of 300 strings", differ);
    printf("ok  rescan and heap merging agree on 300 strings up to 3000 bytes (random 300-merge model)\n");
    bpe_free(b);
}

static void test_special(const tokenizer *t) {
    const char *s = "hello <|endoftext|>";
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    CHECK(tokenizer_encode_special(t, s, strlen(s), &ids, &n, &cap) == 0, "encode_special");
    int32_t want[] = {31373, 220, 50256};
    CHECK(n == 3 && !memcmp(ids, want, sizeof want), "encode_special(\"%s\") != [31373, 220, 50256]", s);
    CHECK(tokenizer_eot(t) == 50256, "GPT-2's end of text is %d, not 50256", tokenizer_eot(t));
    free(ids);
    printf("ok  special tokens: <|endoftext|> is 50256 only when allowed\n");
}

static void test_json_round_trip(const tokenizer *t) {
    char *json = tokenizer_to_json(t);
    CHECK(json != NULL, "to_json: %s", mtp_last_error());
    if (!json) return;
    tokenizer *u = tokenizer_load_json(json, strlen(json), "saved gpt2");
    CHECK(u != NULL, "reload: %s", mtp_last_error());
    if (u) {
        char *again = tokenizer_to_json(u);
        CHECK(again && !strcmp(again, json), "saving the reloaded tokenizer gives a different file");
        free(again);
        CHECK(tokenizer_vocab_size(u) == 50257 && tokenizer_eot(u) == 50256, "reloaded vocab/eot");
        const char *s = "The quick brown fox's  jumps\n\n over 1234 lazy dogs!? \xF0\x9F\x98\x80 \xFF";
        int32_t *a, *b;
        size_t na, nb;
        encode(t, s, strlen(s), &a, &na);
        encode(u, s, strlen(s), &b, &nb);
        CHECK(na == nb && !memcmp(a, b, na * sizeof *a), "reloaded tokenizer encodes differently");
        free(a), free(b);
        tokenizer_free(u);
    }
    free(json);
    printf("ok  tokenizer.json save/load round trip gives the same file and the same ids\n");
}

// Each variant of a valid small tokenizer.json must be refused naming `expect`.
static void expect_bad(const char *what, const char *json, const char *expect) {
    tokenizer *t = tokenizer_load_json(json, strlen(json), "bad.json");
    CHECK(!t, "%s: accepted", what);
    CHECK(!t && strstr(mtp_last_error(), expect) && strstr(mtp_last_error(), "bad.json"),
          "%s: message '%s' lacks '%s'", what, mtp_last_error(), expect);
    tokenizer_free(t);
}

static void test_bad_json(void) {
    // A valid base: bytes as ids 0..255 (ASCII printable stand for themselves),
    // one merge "a b" -> 256, eot 257. Built by text substitution per variant.
    char vocab[16384];
    size_t k = 0;
    k += (size_t)snprintf(vocab + k, sizeof vocab - k, "{");
    for (int c = 0; c < 256; c++) {
        uint32_t cp = tokenizer_byte_to_unicode((uint8_t)c);
        char ch[4] = {0};
        if (cp < 0x80)
            ch[0] = (char)cp;
        else
            ch[0] = (char)(0xC0 | (cp >> 6)), ch[1] = (char)(0x80 | (cp & 0x3F));
        if (c == '"' || c == '\\')
            k += (size_t)snprintf(vocab + k, sizeof vocab - k, "\"\\%s\": %d, ", ch, c);
        else
            k += (size_t)snprintf(vocab + k, sizeof vocab - k, "\"%s\": %d, ", ch, c);
    }
    snprintf(vocab + k, sizeof vocab - k, "\"ab\": 256, \"<|endoftext|>\": 257}");
    const char *fmt =
        "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": [{\"id\": 257, "
        "\"content\": \"<|endoftext|>\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, "
        "\"normalized\": false, \"special\": true}], \"normalizer\": null, \"pre_tokenizer\": {\"type\": "
        "\"ByteLevel\", \"add_prefix_space\": %s, \"trim_offsets\": true, \"use_regex\": true}, "
        "\"post_processor\": null, \"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", "
        "\"dropout\": null, \"unk_token\": null, \"vocab\": %s, \"merges\": [%s]}}";
    static char json[32768];
    snprintf(json, sizeof json, fmt, "false", vocab, "\"a b\"");
    tokenizer *t = tokenizer_load_json(json, strlen(json), "good.json");
    CHECK(t != NULL, "the valid small tokenizer.json is refused: %s", mtp_last_error());
    if (t) {
        int32_t *ids;
        size_t n;
        encode(t, "abab ab", 7, &ids, &n);
        CHECK(n == 4 && ids[0] == 256 && ids[1] == 256 && ids[2] == ' ' && ids[3] == 256,
              "small tokenizer: 'abab ab' did not give [256, 256, 32, 256]");
        free(ids);
        tokenizer_free(t);
    }
    snprintf(json, sizeof json, fmt, "true", vocab, "\"a b\"");
    expect_bad("add_prefix_space true", json, "add_prefix_space must be false");
    snprintf(json, sizeof json, fmt, "false", vocab, "\"a b\", \"a zz\"");
    expect_bad("merge of a missing token", json, "\"zz\" is not a token of the vocabulary");
    snprintf(json, sizeof json, fmt, "false", vocab, "\"a b\", \"a b\"");
    expect_bad("repeated merge", json, "repeats merge 0");
    snprintf(json, sizeof json, fmt, "false", vocab, "\"a\"");
    expect_bad("merge without a space", json, "expected two tokens");
    snprintf(json, sizeof json, fmt, "false", vocab, "\"a b\", \"b a\"");
    expect_bad("merge whose result is missing", json, "not in the vocabulary");
    snprintf(json, sizeof json, fmt, "false", vocab, "\"a b\", 7");
    expect_bad("merge of the wrong type", json, "model.merges[1]");
    char *gap = strstr(vocab, "\"ab\": 256");
    if (gap) {
        memcpy(gap, "\"ab\": 258", 9);
        snprintf(json, sizeof json, fmt, "false", vocab, "\"a b\"");
        expect_bad("gap in the ids", json, "no token has id 256");
        memcpy(gap, "\"ab\": 256", 9);
    }
    char *byte_a = strstr(vocab, "\"a\": 97");
    if (byte_a) {
        memcpy(byte_a, "\"a\": 98", 7);
        snprintf(json, sizeof json, fmt, "false", vocab, "\"a b\"");
        expect_bad("two tokens for one id", json, "appears twice");
        memcpy(byte_a, "\"a\": 97", 7);
    }
    // Huge ids in a tiny file are refused before anything is sized by them
    // (found by fuzz_tokenizer: 12 GB asked for).
    expect_bad(
        "huge vocab id",
        "{\"version\":\"1.0\",\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false},"
        "\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1073741823},"
        "\"merges\":[\"a a\"]}}",
        "without gaps");
    expect_bad(
        "huge added-token id",
        "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":351829122,\"content\":\"x\",\"special\":true}],"
        "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false},\"decoder\":{\"type\":"
        "\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[\"a a\"]}}",
        "without gaps");
    printf(
        "ok  a small BPE tokenizer.json loads and encodes; 10 malformed variants refused with the field "
        "named\n");
}

static void test_gpt2_dir_errors(void) {
    if (make_tmpdir("bpe") != 0) return;
    char enc[4096], bpe_file[4096];
    path_in_tmp(enc, sizeof enc, "encoder.json");
    path_in_tmp(bpe_file, sizeof bpe_file, "vocab.bpe");
    fs_write_all(enc, "{\"a\": 0}", 8);
    tokenizer *t = tokenizer_load(tmpdir);
    CHECK(!t && strstr(mtp_last_error(), "vocab.bpe"), "encoder.json without vocab.bpe: '%s'",
          mtp_last_error());
    fs_write_all(bpe_file, "#version: 0.2\na b\n", 18);
    t = tokenizer_load(tmpdir);
    CHECK(!t && strstr(mtp_last_error(), "endoftext"), "encoder.json without <|endoftext|>: '%s'",
          mtp_last_error());
    fs_write_all(enc, "{\"a\": 0, ", 9);
    t = tokenizer_load(tmpdir);
    CHECK(!t && strstr(mtp_last_error(), "not valid JSON"), "truncated encoder.json: '%s'", mtp_last_error());
    tokenizer_free(t);
    remove_tmpdir();
    printf("ok  GPT-2 directories with missing or broken files are refused\n");
}

// A vocabulary above 65536 ids: every byte pair merged (65536 merges, vocab
// 65793). prepare must then write uint32 shards holding ids above 65535.
static void test_prepare_uint32(void) {
    int32_t(*merges)[2] = malloc(65536 * sizeof *merges);
    for (int i = 0; i < 65536; i++) merges[i][0] = i >> 8, merges[i][1] = i & 255;
    const char *specials[] = {"<|endoftext|>"};
    tokenizer *t = tokenizer_bpe_from_merges(merges, 65536, specials, 1, "all pairs");
    free(merges);
    CHECK(t && tokenizer_vocab_size(t) == 65793, "65536-merge tokenizer: %s",
          t ? "wrong vocab" : mtp_last_error());
    if (!t || make_tmpdir("bpe32") != 0) {
        tokenizer_free(t);
        return;
    }
    char tok[4096], text[4096], out[4096], shard_path[4096];
    path_in_tmp(tok, sizeof tok, "tokenizer.json");
    path_in_tmp(text, sizeof text, "doc.txt");
    path_in_tmp(out, sizeof out, "data");
    CHECK(tokenizer_save(t, tok) == 0, "save: %s", mtp_last_error());
    fs_write_all(text,
                 "\xff\xff\xff\xff"
                 "ab",
                 6);
    const char *inputs[] = {text};
    prepare_options o = {
        .tokenizer = tok, .out_dir = out, .inputs = inputs, .num_inputs = 1, .shard_tokens = 1000};
    prepare_summary sum;
    CHECK(prepare_run(&o, NULL, NULL, &sum) == 0, "prepare: %s", mtp_last_error());
    CHECK(sum.elem_bytes == 4 && sum.vocab_size == 65793, "elem %d vocab %d", sum.elem_bytes, sum.vocab_size);
    path_in_tmp(shard_path, sizeof shard_path, "data/train_000000.bin");
    shard sh;
    if (shard_open(shard_path, &sh) == 0) {
        // "\xff\xff" "\xff\xff" "ab" are three chunks' worth of pair tokens:
        // 0xFFFF -> 256 + 65535; "ab" -> 256 + 97 * 256 + 98; then end of text.
        CHECK(sh.count == 4 && shard_token(&sh, 0) == 65791 && shard_token(&sh, 1) == 65791 &&
                  shard_token(&sh, 2) == 256 + 97 * 256 + 98 && shard_token(&sh, 3) == 65792,
              "uint32 shard holds the wrong ids");
        shard_close(&sh);
    } else {
        CHECK(0, "open %s: %s", shard_path, mtp_last_error());
    }
    tokenizer_free(t);
    remove_tmpdir();
    printf("ok  a 65793-id vocabulary gives uint32 shards with ids above 65535\n");
}

int main(void) {
    const char *env = getenv("MTP_DATA");
    snprintf(data_dir, sizeof data_dir, "%s", env && *env ? env : "../shared/data");
    test_scan_vs_heap();
    test_bad_json();
    test_gpt2_dir_errors();
    test_prepare_uint32();
    char gpt2[4096];
    snprintf(gpt2, sizeof gpt2, "%s/gpt2", data_dir);
    if (!fs_is_dir(gpt2)) {
        printf("skip GPT-2 exactness: %s is absent\n", gpt2);
    } else {
        tokenizer *t = tokenizer_load(gpt2);
        CHECK(t != NULL, "load %s: %s", gpt2, mtp_last_error());
        if (t) {
            CHECK(tokenizer_vocab_size(t) == 50257, "GPT-2 vocab %d", tokenizer_vocab_size(t));
            test_cases(t);
            test_stream(t, "tinyshakespeare/input.txt", "input.txt.gpt2.u16le");
            test_stream(t, "tinystories/TinyStories-train_first2MiB.txt",
                        "TinyStories-train_first2MiB.txt.gpt2.u16le");
            test_stream(t, "tinystories/tinystories_val_prefix.txt", "tinystories_val_prefix.txt.gpt2.u16le");
            test_round_trip_bytes(t);
            test_special(t);
            test_json_round_trip(t);
            tokenizer_free(t);
        }
    }
    if (failures) printf("%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
