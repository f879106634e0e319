// inflate.c: see inflate.h. The decoder follows RFC 1951 section 3.2 and
// the structure of Mark Adler's puff.c: canonical Huffman codes as counts per
// length and symbols in code order, decoded a bit at a time (plenty for the
// small files mtp reads this way).
#include "core/inflate.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"

#define MAX_BITS 15  // longest Huffman code
#define MAX_LCODES 286
#define MAX_DCODES 30
#define FIXED_LCODES 288

typedef struct {
    const uint8_t *in;
    size_t n, pos;  // input and bytes consumed
    uint32_t bitbuf;
    int bitcnt;
    uint8_t *out;
    size_t cap, len;
    int err;  // 0, -1 corrupt or truncated, -2 out of room
} inflater;

// `need` (<= 16) bits, least significant first; sets err past the end.
static int bits(inflater *s, int need) {
    uint32_t val = s->bitbuf;
    while (s->bitcnt < need) {
        if (s->pos >= s->n) {
            s->err = -1;
            return 0;
        }
        val |= (uint32_t)s->in[s->pos++] << s->bitcnt;
        s->bitcnt += 8;
    }
    s->bitbuf = val >> need;
    s->bitcnt -= need;
    return (int)(val & ((1u << need) - 1));
}

// A canonical Huffman code: how many codes of each length, and the symbols
// ordered by code.
typedef struct {
    short count[MAX_BITS + 1];
    short symbol[FIXED_LCODES];
} huffman;

// Builds h from the code lengths of n symbols. Returns 0 for a complete
// code, > 0 for an incomplete one, < 0 for an over-subscribed one.
static int construct(huffman *h, const short *length, int n) {
    memset(h->count, 0, sizeof h->count);
    for (int s = 0; s < n; s++) h->count[length[s]]++;
    if (h->count[0] == n) return 0;  // no codes: complete, and decoding will fail
    int left = 1;
    for (int len = 1; len <= MAX_BITS; len++) {
        left <<= 1;
        left -= h->count[len];
        if (left < 0) return left;
    }
    short offs[MAX_BITS + 1];
    offs[1] = 0;
    for (int len = 1; len < MAX_BITS; len++) offs[len + 1] = (short)(offs[len] + h->count[len]);
    for (int s = 0; s < n; s++)
        if (length[s]) h->symbol[offs[length[s]]++] = (short)s;
    return left;
}

// The next symbol of code h, or -1 (err set) for input that is no code.
static int decode(inflater *s, const huffman *h) {
    int code = 0, first = 0, index = 0;
    for (int len = 1; len <= MAX_BITS; len++) {
        code |= bits(s, 1);
        if (s->err) return -1;
        int count = h->count[len];
        if (code - count < first) return h->symbol[index + (code - first)];
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    s->err = -1;
    return -1;
}

static int put_byte(inflater *s, uint8_t b) {
    if (s->len == s->cap) return s->err = -2;
    s->out[s->len++] = b;
    return 0;
}

// The literals and length/distance pairs of one block, up to end-of-block.
static int codes(inflater *s, const huffman *lencode, const huffman *distcode) {
    static const short lbase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                    31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    static const short lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                   2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    static const short dbase[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                    33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                    1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
    static const short dext[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                   6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
    for (;;) {
        int symbol = decode(s, lencode);
        if (symbol < 0) return -1;
        if (symbol < 256) {
            if (put_byte(s, (uint8_t)symbol)) return -1;
            continue;
        }
        if (symbol == 256) return 0;
        symbol -= 257;
        if (symbol >= 29) return s->err = -1;
        size_t len = (size_t)lbase[symbol] + (size_t)bits(s, lext[symbol]);
        int d = decode(s, distcode);
        if (d < 0 || d >= 30) return s->err = -1;
        size_t dist = (size_t)dbase[d] + (size_t)bits(s, dext[d]);
        if (s->err) return -1;
        if (dist > s->len) return s->err = -1;  // before the start of the output
        if (len > s->cap - s->len) return s->err = -2;
        for (; len; len--, s->len++) s->out[s->len] = s->out[s->len - dist];  // may overlap: byte by byte
    }
}

static int stored(inflater *s) {
    s->bitbuf = 0;  // the rest of the current byte is discarded
    s->bitcnt = 0;
    if (s->n - s->pos < 4) return s->err = -1;
    size_t len = s->in[s->pos] | (size_t)s->in[s->pos + 1] << 8;
    size_t nlen = s->in[s->pos + 2] | (size_t)s->in[s->pos + 3] << 8;
    s->pos += 4;
    if (len != (~nlen & 0xffff) || s->n - s->pos < len) return s->err = -1;
    if (len > s->cap - s->len) return s->err = -2;
    memcpy(s->out + s->len, s->in + s->pos, len);
    s->len += len;
    s->pos += len;
    return 0;
}

static int fixed(inflater *s) {
    static huffman lencode, distcode;  // built once; read-only afterwards
    static int built = 0;
#pragma omp critical(inflate_fixed_tables)
    if (!built) {
        short lengths[FIXED_LCODES];
        int sym = 0;
        for (; sym < 144; sym++) lengths[sym] = 8;
        for (; sym < 256; sym++) lengths[sym] = 9;
        for (; sym < 280; sym++) lengths[sym] = 7;
        for (; sym < FIXED_LCODES; sym++) lengths[sym] = 8;
        construct(&lencode, lengths, FIXED_LCODES);
        for (sym = 0; sym < MAX_DCODES; sym++) lengths[sym] = 5;
        construct(&distcode, lengths, MAX_DCODES);
        built = 1;
    }
    return codes(s, &lencode, &distcode);
}

static int dynamic(inflater *s) {
    static const short order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    short lengths[MAX_LCODES + MAX_DCODES];
    huffman lencode, distcode;
    int nlen = bits(s, 5) + 257, ndist = bits(s, 5) + 1, ncode = bits(s, 4) + 4;
    if (s->err || nlen > MAX_LCODES || ndist > MAX_DCODES) return s->err = -1;
    memset(lengths, 0, sizeof lengths);
    for (int i = 0; i < ncode; i++) lengths[order[i]] = (short)bits(s, 3);
    if (s->err || construct(&lencode, lengths, 19) != 0) return s->err = -1;  // must be complete
    for (int index = 0; index < nlen + ndist;) {
        int symbol = decode(s, &lencode);
        if (symbol < 0) return -1;
        if (symbol < 16) {
            lengths[index++] = (short)symbol;
            continue;
        }
        short len = 0;  // the length repeated: the previous one (16) or zero
        int rep;
        if (symbol == 16) {
            if (index == 0) return s->err = -1;
            len = lengths[index - 1];
            rep = 3 + bits(s, 2);
        } else {
            rep = symbol == 17 ? 3 + bits(s, 3) : 11 + bits(s, 7);
        }
        if (s->err || index + rep > nlen + ndist) return s->err = -1;
        while (rep--) lengths[index++] = len;
    }
    if (lengths[256] == 0) return s->err = -1;  // no end-of-block code
    // an incomplete code is allowed only as a single code of length 1
    int err = construct(&lencode, lengths, nlen);
    if (err && (err < 0 || nlen != lencode.count[0] + lencode.count[1])) return s->err = -1;
    err = construct(&distcode, lengths + nlen, ndist);
    if (err && (err < 0 || ndist != distcode.count[0] + distcode.count[1])) return s->err = -1;
    return codes(s, &lencode, &distcode);
}

int inflate_raw(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *used, size_t *written) {
    inflater s = {in, n, 0, 0, 0, out, cap, 0, 0};
    int last;
    do {
        last = bits(&s, 1);
        int type = bits(&s, 2);
        if (s.err) break;
        if (type == 0)
            stored(&s);
        else if (type == 1)
            fixed(&s);
        else if (type == 2)
            dynamic(&s);
        else
            s.err = -1;
    } while (!last && !s.err);
    *used = s.pos;
    *written = s.len;
    return s.err;
}

uint32_t crc32_update(uint32_t crc, const uint8_t *data, size_t n) {
    static uint32_t table[256];
    static int ready = 0;
#pragma omp critical(inflate_crc_table)
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

int gzip_is(const uint8_t *data, size_t n) {
    return n >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

static uint32_t le32(const uint8_t *p) {
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// The offset of a member's DEFLATE data after its header at in[0..n), or 0.
static size_t member_header(const uint8_t *in, size_t n) {
    if (n < 10 || !gzip_is(in, n) || in[2] != 8 || (in[3] & 0xe0)) return 0;
    int flags = in[3];
    size_t at = 10;
    if (flags & 4) {  // FEXTRA
        if (n - at < 2) return 0;
        size_t xlen = in[at] | (size_t)in[at + 1] << 8;
        if (n - at - 2 < xlen) return 0;
        at += 2 + xlen;
    }
    for (int f = 8; f <= 16; f <<= 1)  // FNAME, FCOMMENT: NUL-terminated
        if (flags & f) {
            const uint8_t *end = memchr(in + at, 0, n - at);
            if (!end) return 0;
            at = (size_t)(end - in) + 1;
        }
    if (flags & 2) at += 2;  // FHCRC
    return at <= n ? at : 0;
}

int gzip_decompress(const uint8_t *in, size_t n, size_t max_out, const char *label, uint8_t **out,
                    size_t *out_len) {
    size_t cap = 4 * n + 4096 < max_out ? 4 * n + 4096 : max_out, len = 0;
    uint8_t *buf = malloc(cap + 1);
    if (!buf) return mtp_errorf("%s: out of memory decompressing", label);
    int rc = 0;
    for (size_t at = 0; at < n && rc == 0;) {
        size_t body = member_header(in + at, n - at);
        if (!body) {
            rc = mtp_errorf("%s: %s at byte %zu: not a gzip member, or a truncated one", label,
                            at ? "trailing data" : "bad header", at);
            break;
        }
        size_t used, written;
        int err;
        // decode the member; on running out of room, grow and decode it again
        while ((err = inflate_raw(in + at + body, n - at - body, buf + len, cap - len, &used, &written)) ==
               -2) {
            if (cap >= max_out) {
                rc = mtp_errorf("%s: decompresses to more than %zu bytes: refused", label, max_out);
                break;
            }
            size_t grown = cap * 2 < max_out ? cap * 2 : max_out;
            uint8_t *bigger = realloc(buf, grown + 1);
            if (!bigger) {
                rc = mtp_errorf("%s: out of memory decompressing", label);
                break;
            }
            buf = bigger;
            cap = grown;
        }
        if (rc) break;
        size_t end = at + body + used;
        if (err || n - end < 8) {
            rc = mtp_errorf("%s: corrupt or truncated compressed data in the member at byte %zu", label, at);
        } else if (le32(in + end) != crc32_update(0, buf + len, written) ||
                   le32(in + end + 4) != (uint32_t)written) {
            rc = mtp_errorf("%s: the member at byte %zu fails its CRC-32 or size check: the file is damaged",
                            label, at);
        }
        len += written;
        at = end + 8;
    }
    if (rc) {
        free(buf);
        return -1;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

char *gzip_read_file(const char *path, size_t max_bytes, size_t *len) {
    size_t n = 0;
    char *raw = fs_read_all(path, max_bytes, &n);
    if (!raw || !gzip_is((const uint8_t *)raw, n)) {
        if (raw && len) *len = n;
        return raw;
    }
    uint8_t *text = NULL;
    size_t got = 0;
    int rc = gzip_decompress((const uint8_t *)raw, n, max_bytes, path, &text, &got);
    free(raw);
    if (rc) return NULL;
    if (len) *len = got;
    return (char *)text;
}
