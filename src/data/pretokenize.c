// pretokenize.c: the GPT-2 pattern through PCRE2 (8-bit code units, UTF
// mode with PCRE2_MATCH_INVALID_UTF so arbitrary bytes are safe to scan).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "data/pretokenize.h"

#include <pcre2.h>
#include <stdlib.h>

#include "core/error.h"

// Unicode White_Space: what Rust's regex (tiktoken) and Hugging Face mean by \s.
#define WS                 \
    "\\t\\n\\x{0B}\\f\\r " \
    "\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

static const char gpt2_pattern[] =
    "'(?:s|t|re|ve|m|ll|d)"
    "| ?\\p{L}+"
    "| ?\\p{N}+"
    "| ?[^" WS
    "\\p{L}\\p{N}]+"
    "|[" WS "]+(?![^" WS
    "])"
    "|[" WS "]+";

struct pretokenizer {
    pcre2_code *code;
    int jit;  // 1 when JIT compiled: scans use pcre2_jit_match
};

pretokenizer *pretokenizer_gpt2(void) {
    int err;
    PCRE2_SIZE at;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)gpt2_pattern, PCRE2_ZERO_TERMINATED,
                      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NO_UTF_CHECK, &err, &at, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        mtp_errorf("cannot compile the GPT-2 pre-tokenizer pattern at offset %zu: %s", (size_t)at,
                   (const char *)msg);
        return NULL;
    }
    pretokenizer *p = mtp_calloc(1, sizeof *p, "pre-tokenizer");
    if (!p) {
        pcre2_code_free(code);
        return NULL;
    }
    p->code = code;
    // JIT is an optimization only: without it (an unsupported CPU, or memory
    // that may not be executable) the interpreter gives the same matches.
    p->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    return p;
}

void pretokenizer_free(pretokenizer *p) {
    if (!p) return;
    pcre2_code_free(p->code);
    free(p);
}

int pretokenize(const pretokenizer *p, const char *text, size_t len, size_t begin, size_t end,
                pretokenize_fn fn, void *user) {
    if (begin >= end) return 0;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) return mtp_errorf("out of memory for a pre-tokenizer match");
    PCRE2_SPTR s = (PCRE2_SPTR)text;
    size_t pos = begin;
    int rc = 0;
    while (pos < end && rc == 0) {
        int m = p->jit ? pcre2_jit_match(p->code, s, len, pos, 0, md, NULL)
                       : pcre2_match(p->code, s, len, pos, 0, md, NULL);
        size_t ms = end, me = end;
        if (m >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            ms = ov[0];
            me = ov[1];
        } else if (m != PCRE2_ERROR_NOMATCH) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(m, msg, sizeof msg);
            rc = mtp_errorf("pre-tokenizer failed at byte %zu: %s", pos, (const char *)msg);
            break;
        }
        // Bytes skipped before the match are invalid UTF-8: one chunk.
        if (ms > pos) rc = fn(text, pos, (ms < end ? ms : end) - pos, user);
        if (rc != 0 || ms >= end) break;
        rc = fn(text, ms, me - ms, user);
        pos = me;
    }
    pcre2_match_data_free(md);
    return rc;
}

static int is_visible_ascii(unsigned char c) {
    return c > ' ' && c < 0x7f;
}

static int is_ascii_letter(unsigned char c) {
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

// Why these are boundaries of every scan:
// - "x\ny" (x, y visible): only the whitespace alternatives take '\n', and
//   with non-blanks on both sides the match holding it is exactly "\n".
// - "a b" (a, b letters): the match holding 'a' is ` ?\p{L}+`, which stops
//   at the space, or a contraction ('s, 're, ...), which ends at a letter and
//   cannot continue into the space; the scan then restarts at the space.
size_t pretokenize_safe_cut(const char *text, size_t len, size_t target) {
    const unsigned char *u = (const unsigned char *)text;
    if (target == 0 || target >= len) return 0;
    for (size_t i = target; i > target / 2 && i >= 2; i--) {
        if (i + 1 < len && u[i] == ' ' && is_ascii_letter(u[i - 1]) && is_ascii_letter(u[i + 1])) return i;
        if (u[i - 1] == '\n' && is_visible_ascii(u[i - 2]) && is_visible_ascii(u[i])) return i;
    }
    return 0;
}
