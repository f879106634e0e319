// tokenizer_spm.c: SentencePiece BPE models (spm.h): the tokenizer.model
// protobuf, normalization, the merge loop and decoding, following the
// sentencepiece library's normalizer.cc, bpe_model.cc and
// sentencepiece_processor.cc (version 0.1.97, the one Debian ships).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/protobuf.h"
#include "core/strbuf.h"
#include "core/utf8.h"
#include "data/spm.h"

#define SPACE "\xe2\x96\x81"  // U+2581, what a space becomes
#define SPACE_LEN 3
#define MAX_PIECES (1 << 24)
#define MAX_MODEL_BYTES ((size_t)1 << 30)

// ---- lookup tables --------------------------------------------------------
static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

int spm_find(const spm_model *m, const char *s, size_t len) {
    if (!m->table_cap) return -1;
    size_t mask = m->table_cap - 1;
    for (size_t i = hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        int32_t id = m->table[i];
        if (id < 0) return -1;
        const spm_piece *p = &m->pieces[id];
        if (p->len == len && !memcmp(p->s, s, len)) return id;
    }
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
}

int spm_byte_of_piece(const char *s, size_t len) {
    // exactly "<0x" two hex digits ">" (sscanf's %X would also take a sign or a space)
    if (len != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static int byte_of_piece(const spm_piece *p) {
    return spm_byte_of_piece(p->s, p->len);
}

int spm_finish(spm_model *m, const char *label) {
    if (m->n < 1) return mtp_errorf("%s: the model has no pieces", label);
    size_t cap = 16;
    while (cap < 2 * (size_t)m->n) cap *= 2;
    m->table = mtp_malloc(cap * sizeof *m->table, "tokenizer table");
    if (!m->table) return -1;
    memset(m->table, 0xff, cap * sizeof *m->table);
    m->table_cap = cap;
    for (int b = 0; b < 256; b++) m->byte_ids[b] = -1;
    for (int id = 0; id < m->n; id++) {
        spm_piece *p = &m->pieces[id];
        if (p->len == 0) return mtp_errorf("%s: piece %d is empty", label, id);
        if (!utf8_is_valid(p->s, p->len)) return mtp_errorf("%s: piece %d is not valid UTF-8", label, id);
        if (spm_find(m, p->s, p->len) >= 0)
            return mtp_errorf("%s: piece %d ('%s') appears twice", label, id, p->s);
        size_t i = hash_bytes(p->s, p->len) & (cap - 1);
        while (m->table[i] >= 0) i = (i + 1) & (cap - 1);
        m->table[i] = id;
        if (p->type == SPM_BYTE) {
            int b = byte_of_piece(p);
            if (b < 0) return mtp_errorf("%s: byte piece %d is '%s', not <0xXX>", label, id, p->s);
            m->byte_ids[b] = id;
        }
        if (p->type == SPM_USER) {
            int *u = realloc(m->user, ((size_t)m->nuser + 1) * sizeof *u);
            if (!u) return mtp_errorf("out of memory loading %s", label);
            m->user = u;
            m->user[m->nuser++] = id;
        }
    }
    if (m->unk_id < 0 || m->unk_id >= m->n || m->pieces[m->unk_id].type != SPM_UNKNOWN)
        return mtp_errorf("%s: unk_id %d is not the model's unknown piece", label, m->unk_id);
    if (m->bos_id >= m->n) m->bos_id = -1;
    if (m->eos_id >= m->n) m->eos_id = -1;
    if (m->unk_surface && !utf8_is_valid(m->unk_surface, strlen(m->unk_surface)))
        return mtp_errorf("%s: unk_surface is not valid UTF-8", label);
    if (!m->unk_surface) {
        m->unk_surface = malloc(sizeof " \xe2\x81\x87 ");
        if (!m->unk_surface) return mtp_errorf("out of memory loading %s", label);
        strcpy(m->unk_surface, " \xe2\x81\x87 ");  // " ⁇ ", sentencepiece's default
    }
    return 0;
}

void spm_free(spm_model *m) {
    for (int i = 0; m->pieces && i < m->n; i++) free(m->pieces[i].s);
    free(m->pieces);
    free(m->table);
    free(m->merges);
    free(m->user);
    free(m->unk_surface);
    memset(m, 0, sizeof *m);
}

// ---- normalization (normalizer.cc, identity rules) -------------------------
// The longest user-defined piece at s[0..n), or 0.
static size_t user_match(const spm_model *m, const char *s, size_t n) {
    size_t best = 0;
    for (int i = 0; i < m->nuser; i++) {
        const spm_piece *p = &m->pieces[m->user[i]];
        if (p->len <= n && p->len > best && !memcmp(p->s, s, p->len)) best = p->len;
    }
    return best;
}

static void add_space(const spm_model *m, strbuf *out) {
    strbuf_add(out, m->escape_whitespaces ? SPACE : " ", m->escape_whitespaces ? SPACE_LEN : 1);
}

static int normalize(const spm_model *m, const char *in, size_t len, int dummy_prefix, strbuf *out) {
    size_t i = 0;
    if (m->remove_extra_whitespaces)
        while (i < len && in[i] == ' ') i++;
    if (i == len) return 0;
    const int starts_spaced = in[i] == ' ' || (len - i >= SPACE_LEN && !memcmp(in + i, SPACE, SPACE_LEN));
    if (m->add_dummy_prefix && dummy_prefix && !(m->prefix_if_absent && starts_spaced)) add_space(m, out);
    int prev_space = m->remove_extra_whitespaces;
    while (i < len) {
        const char *piece = in + i;
        size_t plen = user_match(m, piece, len - i), used = plen;
        if (!plen) {
            plen = used = utf8_valid_at((const unsigned char *)piece, len - i);
            if (!plen) {  // a malformed byte: U+FFFD in its place
                piece = "\xef\xbf\xbd";
                plen = 3;
                used = 1;
            }
        }
        while (prev_space && plen && piece[0] == ' ') piece++, plen--;
        if (plen) {
            for (size_t k = 0; k < plen; k++)
                if (piece[k] == ' ' && m->escape_whitespaces)
                    strbuf_add(out, SPACE, SPACE_LEN);
                else
                    strbuf_add(out, piece + k, 1);
            prev_space = piece[plen - 1] == ' ';
        }
        i += used;
        if (!m->remove_extra_whitespaces) prev_space = 0;
    }
    if (m->remove_extra_whitespaces) {
        const char *sp = m->escape_whitespaces ? SPACE : " ";
        size_t sl = m->escape_whitespaces ? SPACE_LEN : 1;
        while (out->len >= sl && !memcmp(out->s + out->len - sl, sp, sl)) out->len -= sl;
    }
    return out->failed ? mtp_errorf("out of memory normalizing text") : 0;
}

// ---- the merge loop (bpe_model.cc) ---------------------------------------
typedef struct {
    uint32_t start, len;
    int prev, next;
    int id;  // Hugging Face mode: the symbol's piece id (-1: not in the vocabulary)
    int freeze;
} symbol;

typedef struct {
    double prio;  // higher merges first: the merged piece's score, or -rank
    int left, right;
    uint32_t size;
    int merged;
} candidate;

typedef struct {
    symbol *sym;
    int nsym;
    candidate *heap;
    int nheap, capheap;
    struct rev {
        int id;
        uint32_t ls, ll, rs, rl;
    } * rev;  // how unused pieces were made, to split them again
    int nrev, caprev;
    const char *text;
    const spm_model *m;
} merge_state;

static int before(const candidate *a, const candidate *b) {
    return a->prio > b->prio || (a->prio == b->prio && a->left < b->left);
}

static int heap_push(merge_state *s, candidate c) {
    if (s->nheap == s->capheap) {
        int cap = s->capheap ? 2 * s->capheap : 64;
        candidate *h = realloc(s->heap, (size_t)cap * sizeof *h);
        if (!h) return mtp_errorf("out of memory encoding text");
        s->heap = h;
        s->capheap = cap;
    }
    int i = s->nheap++;
    while (i > 0 && before(&c, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = c;
    return 0;
}

static candidate heap_pop(merge_state *s) {
    candidate top = s->heap[0], last = s->heap[--s->nheap];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= s->nheap) break;
        if (c + 1 < s->nheap && before(&s->heap[c + 1], &s->heap[c])) c++;
        if (!before(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->nheap) s->heap[i] = last;
    return top;
}

static const spm_merge *find_merge(const spm_model *m, int left, int right) {
    if (!m->merges_cap || left < 0 || right < 0) return NULL;
    size_t mask = m->merges_cap - 1;
    for (size_t i =
             ((uint64_t)left * 0x9E3779B97F4A7C15ull ^ (uint64_t)right * 0xC2B2AE3D27D4EB4Full) >> 17 & mask;
         ; i = (i + 1) & mask) {
        const spm_merge *g = &m->merges[i];
        if (g->merged == UINT32_MAX) return NULL;
        if ((int)g->left == left && (int)g->right == right) return g;
    }
}

static int maybe_add(merge_state *s, int left, int right) {
    if (left < 0 || right < 0 || s->sym[left].freeze || s->sym[right].freeze) return 0;
    const spm_model *m = s->m;
    candidate c = {.left = left, .right = right, .size = s->sym[left].len + s->sym[right].len};
    if (m->hf) {
        const spm_merge *g = find_merge(m, s->sym[left].id, s->sym[right].id);
        if (!g) return 0;
        c.prio = -(double)g->rank;
        c.merged = (int)g->merged;
        return heap_push(s, c);
    }
    int id = spm_find(m, s->text + s->sym[left].start, c.size);
    if (id < 0) return 0;
    int type = m->pieces[id].type;
    if (type != SPM_NORMAL && type != SPM_USER && type != SPM_UNUSED) return 0;
    c.prio = m->pieces[id].score;
    c.merged = id;
    if (type == SPM_UNUSED) {
        if (s->nrev == s->caprev) {
            int cap = s->caprev ? 2 * s->caprev : 16;
            struct rev *r = realloc(s->rev, (size_t)cap * sizeof *r);
            if (!r) return mtp_errorf("out of memory encoding text");
            s->rev = r;
            s->caprev = cap;
        }
        s->rev[s->nrev++] =
            (struct rev){id, s->sym[left].start, s->sym[left].len, s->sym[right].start, s->sym[right].len};
    }
    return heap_push(s, c);
}

typedef struct {
    int32_t **ids;
    size_t *n, *cap;
    int prev_unk;
} id_out;

static int emit(const spm_model *m, id_out *o, int id, const char *piece, uint32_t len) {
    int unknown = id < 0 || m->pieces[id].type == SPM_UNKNOWN;
    if (unknown && m->byte_fallback) {
        if (tokenizer_reserve(o->ids, *o->n, o->cap, len) != 0) return -1;
        for (uint32_t k = 0; k < len; k++) {
            int b = m->byte_ids[(uint8_t)piece[k]];
            (*o->ids)[(*o->n)++] = b >= 0 ? b : m->unk_id;
        }
        return 0;
    }
    if (unknown && o->prev_unk) return 0;  // a run of unknown pieces is one <unk>
    o->prev_unk = unknown;
    if (tokenizer_reserve(o->ids, *o->n, o->cap, 1) != 0) return -1;
    (*o->ids)[(*o->n)++] = unknown ? m->unk_id : id;
    return 0;
}

// Splits an unused piece back into the pieces it was merged from.
static int resegment(merge_state *s, id_out *o, uint32_t start, uint32_t len, int depth) {
    const spm_model *m = s->m;
    int id = spm_find(m, s->text + start, len);
    if (id >= 0 && m->pieces[id].type == SPM_UNUSED && depth < 64)
        for (int r = s->nrev - 1; r >= 0; r--)
            if (s->rev[r].id == id)
                return resegment(s, o, s->rev[r].ls, s->rev[r].ll, depth + 1) ||
                       resegment(s, o, s->rev[r].rs, s->rev[r].rl, depth + 1);
    return emit(m, o, id, s->text + start, len);
}

static int encode_text(const spm_model *m, const char *text, size_t len, int dummy_prefix, int32_t **ids,
                       size_t *n, size_t *cap) {
    strbuf norm = {0};
    if (normalize(m, text, len, dummy_prefix, &norm) != 0) {
        free(norm.s);
        return -1;
    }
    merge_state s = {.text = norm.s, .m = m};
    int rc = 0;
    if (norm.len) s.sym = mtp_malloc(norm.len * sizeof *s.sym, "symbols");
    if (norm.len && !s.sym) rc = -1;
    for (size_t i = 0; rc == 0 && i < norm.len;) {
        static const uint8_t char_len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
        size_t k = user_match(m, norm.s + i, norm.len - i);
        int freeze = k > 0;
        if (!k) k = char_len[(uint8_t)norm.s[i] >> 4];
        if (k > norm.len - i) k = norm.len - i;
        symbol *y = &s.sym[s.nsym];
        *y = (symbol){(uint32_t)i, (uint32_t)k, s.nsym - 1, -1, -1, freeze};
        if (m->hf) y->id = spm_find(m, norm.s + i, k);
        s.nsym++;
        i += k;
    }
    if (s.nsym) s.sym[s.nsym - 1].next = -1;
    for (int i = 0; i + 1 < s.nsym; i++) s.sym[i].next = i + 1;
    for (int i = 1; rc == 0 && i < s.nsym; i++) rc = maybe_add(&s, i - 1, i);
    while (rc == 0 && s.nheap) {
        candidate top = heap_pop(&s);
        symbol *l = &s.sym[top.left], *r = &s.sym[top.right];
        if (!l->len || !r->len || l->len + r->len != top.size) continue;  // stale
        l->len += r->len;
        l->id = top.merged;
        l->next = r->next;
        if (r->next >= 0) s.sym[r->next].prev = top.left;
        r->len = 0;
        rc = maybe_add(&s, l->prev, top.left);
        if (rc == 0) rc = maybe_add(&s, top.left, l->next);
    }
    id_out o = {ids, n, cap, 0};
    for (int i = s.nsym ? 0 : -1; rc == 0 && i >= 0; i = s.sym[i].next) {
        const symbol *y = &s.sym[i];
        rc = m->hf ? emit(m, &o, y->id, norm.s + y->start, y->len) : resegment(&s, &o, y->start, y->len, 0);
    }
    free(s.sym);
    free(s.heap);
    free(s.rev);
    free(norm.s);
    return rc;
}

// ---- decoding -------------------------------------------------------------
// A piece's text with U+2581 turned back into spaces.
static size_t piece_text(const spm_model *m, const spm_piece *p, const char *from, char *buf, size_t cap) {
    size_t o = 0;
    for (const char *s = from; s < p->s + p->len;) {
        if (m->escape_whitespaces && (size_t)(p->s + p->len - s) >= SPACE_LEN &&
            !memcmp(s, SPACE, SPACE_LEN)) {
            if (o < cap) buf[o] = ' ';
            o++;
            s += SPACE_LEN;
        } else {
            if (o < cap) buf[o] = *s;
            o++;
            s++;
        }
    }
    return o;
}

static int spm_encode(const void *impl, const char *text, size_t len, int32_t **ids, size_t *n, size_t *cap) {
    return encode_text(impl, text, len, 1, ids, n, cap);
}

static int spm_encode_continued(const void *impl, const char *text, size_t len, int32_t **ids, size_t *n,
                                size_t *cap) {
    return encode_text(impl, text, len, 0, ids, n, cap);
}

static int spm_decode_token(const void *impl, int32_t id, char *buf, size_t cap) {
    const spm_model *m = impl;
    if (id < 0 || id >= m->n)
        return mtp_errorf("token id %d is outside the vocabulary (0..%d)", (int)id, m->n - 1);
    const spm_piece *p = &m->pieces[id];
    size_t n;
    if (p->type == SPM_CONTROL) return 0;
    if (p->type == SPM_UNKNOWN) {
        n = strlen(m->unk_surface);
        if (n > cap) return mtp_errorf("token %d needs %zu bytes", (int)id, n);
        memcpy(buf, m->unk_surface, n);
        return (int)n;
    }
    if (p->type == SPM_BYTE) {
        if (cap < 1) return mtp_errorf("token %d needs 1 byte", (int)id);
        buf[0] = (char)byte_of_piece(p);
        return 1;
    }
    n = piece_text(m, p, p->s, buf, cap);
    if (n > cap) return mtp_errorf("token %d needs %zu bytes", (int)id, n);
    return (int)n;
}

// A whole sequence as sentencepiece's DecodeIds: runs of byte pieces become
// UTF-8 (each byte that is not part of a valid character becomes U+FFFD),
// and the dummy prefix's space is dropped from the first piece of the text.
static int spm_decode_ids(const void *impl, const int32_t *ids, size_t n, strbuf *out) {
    const spm_model *m = impl;
    size_t start = out->len;
    strbuf bytes = {0};
    // as sentencepiece: the dummy prefix is the first piece's leading space (and, with extra
    // whitespace removed, every leading one) while nothing else has been written
    int bos_ws = 1, bos_ws_seen = 0;
    for (size_t i = 0; i <= n; i++) {
        int id = i < n ? ids[i] : -1;
        if (i < n && (id < 0 || id >= m->n)) {
            free(bytes.s);
            return mtp_errorf("token id %d is outside the vocabulary (0..%d)", id, m->n - 1);
        }
        if (i < n && m->pieces[id].type == SPM_BYTE) {
            char b = (char)byte_of_piece(&m->pieces[id]);
            strbuf_add(&bytes, &b, 1);
            continue;
        }
        for (size_t k = 0; k < bytes.len;) {
            size_t v = utf8_valid_at((const unsigned char *)bytes.s + k, bytes.len - k);
            strbuf_add(out, v ? bytes.s + k : "\xef\xbf\xbd", v ? v : 3);
            k += v ? v : 1;
        }
        bytes.len = 0;
        if (i == n) break;
        if (bos_ws_seen || out->len != start) bos_ws = 0;
        bos_ws_seen = 0;
        const spm_piece *p = &m->pieces[id];
        if (p->type == SPM_CONTROL) continue;
        if (p->type == SPM_UNKNOWN) {
            strbuf_adds(out, m->unk_surface);
            continue;
        }
        const char *from = p->s;
        if (bos_ws && (m->add_dummy_prefix || m->remove_extra_whitespaces) && p->len >= SPACE_LEN &&
            !memcmp(p->s, SPACE, SPACE_LEN)) {
            from += SPACE_LEN;
            bos_ws_seen = !m->remove_extra_whitespaces;
        }
        char buf[TOKENIZER_MAX_TOKEN_BYTES];
        size_t len = piece_text(m, p, from, buf, sizeof buf);
        strbuf_add(out, buf, len < sizeof buf ? len : sizeof buf);
    }
    free(bytes.s);
    return out->failed ? mtp_errorf("out of memory decoding") : 0;
}

static char *spm_json(const void *impl) {
    return spm_to_json(impl);
}

static void spm_destroy(void *impl) {
    spm_free(impl);
    free(impl);
}

static const tokenizer_ops spm_ops = {
    .name = "sentencepiece",
    .encode = spm_encode,
    .encode_continued = spm_encode_continued,
    .decode_token = spm_decode_token,
    .decode_ids = spm_decode_ids,
    .to_json = spm_json,
    .destroy = spm_destroy,
};

tokenizer *spm_tokenizer(spm_model *m, const char *label) {
    int eot = m->eos_id >= 0 ? m->eos_id : m->unk_id;
    tokenizer *t = tokenizer_create(&spm_ops, m, m->n, eot);
    if (!t) return NULL;
    for (int id = 0; id < m->n; id++)
        if ((m->pieces[id].type == SPM_CONTROL || m->pieces[id].type == SPM_UNKNOWN) &&
            tokenizer_add_special(t, m->pieces[id].s, id) != 0) {
            tokenizer_free(t);
            return NULL;
        }
    if (m->bos_id >= 0 && m->pieces[m->bos_id].type == SPM_CONTROL) tokenizer_set_bos(t, m->bos_id);
    (void)label;
    return t;
}

// ---- tokenizer.model (sentencepiece_model.proto) ----------------------------
static int read_piece(spm_model *m, const uint8_t *b, size_t len, const char *label) {
    pb_reader r = pb_reader_of(b, len);
    pb_field f;
    spm_piece p = {.type = SPM_NORMAL};
    int rc;
    while ((rc = pb_next(&r, &f, label)) == 1) {
        if (f.number == 1 && f.wire == PB_BYTES) {
            free(p.s);
            if (f.len > TOKENIZER_MAX_TOKEN_BYTES || memchr(f.bytes, 0, f.len)) {
                return mtp_errorf("%s: piece %d is longer than %d bytes or holds a NUL", label, m->n,
                                  TOKENIZER_MAX_TOKEN_BYTES);
            }
            if (!(p.s = malloc(f.len + 1))) return mtp_errorf("out of memory loading %s", label);
            memcpy(p.s, f.bytes, f.len);
            p.s[f.len] = '\0';
            p.len = (uint32_t)f.len;
        } else if (f.number == 2 && f.wire == PB_FIXED32) {
            p.score = pb_float(&f);
        } else if (f.number == 3 && f.wire == PB_VARINT) {
            if (f.varint < SPM_NORMAL || f.varint > SPM_BYTE) {
                free(p.s);
                return mtp_errorf("%s: piece %d has unknown type %llu", label, m->n,
                                  (unsigned long long)f.varint);
            }
            p.type = (int)f.varint;
        }
    }
    if (rc < 0 || !p.s) {
        free(p.s);
        return rc < 0 ? -1 : mtp_errorf("%s: piece %d has no text", label, m->n);
    }
    m->pieces[m->n++] = p;
    return 0;
}

static int read_trainer_spec(spm_model *m, const uint8_t *b, size_t len, const char *label, int *model_type,
                             int *suffix) {
    pb_reader r = pb_reader_of(b, len);
    pb_field f;
    int rc;
    while ((rc = pb_next(&r, &f, label)) == 1) {
        int64_t v = (int64_t)(int32_t)(uint32_t)f.varint;  // int32 fields; negatives are 10-byte varints
        if (f.wire == PB_VARINT) {
            if (f.number == 3) *model_type = (int)v;
            if (f.number == 24) *suffix = f.varint != 0;
            if (f.number == 35) m->byte_fallback = f.varint != 0;
            if (f.number == 40) m->unk_id = (int)v;
            if (f.number == 41) m->bos_id = (int)v;
            if (f.number == 42) m->eos_id = (int)v;
        } else if (f.wire == PB_BYTES && f.number == 44) {
            free(m->unk_surface);
            if (!(m->unk_surface = malloc(f.len + 1))) return mtp_errorf("out of memory loading %s", label);
            memcpy(m->unk_surface, f.bytes, f.len);
            m->unk_surface[f.len] = '\0';
        }
    }
    return rc;
}

static int read_normalizer_spec(spm_model *m, const uint8_t *b, size_t len, const char *label) {
    pb_reader r = pb_reader_of(b, len);
    pb_field f;
    int rc;
    char name[64] = "";
    size_t charsmap = 0;
    while ((rc = pb_next(&r, &f, label)) == 1) {
        if (f.number == 1 && f.wire == PB_BYTES)
            snprintf(name, sizeof name, "%.*s", (int)(f.len < 63 ? f.len : 63), (const char *)f.bytes);
        if (f.number == 2 && f.wire == PB_BYTES) charsmap = f.len;
        if (f.wire != PB_VARINT) continue;
        if (f.number == 3) m->add_dummy_prefix = f.varint != 0;
        if (f.number == 4) m->remove_extra_whitespaces = f.varint != 0;
        if (f.number == 5) m->escape_whitespaces = f.varint != 0;
    }
    if (rc < 0) return -1;
    if (charsmap && strcmp(name, "identity"))
        return mtp_errorf(
            "%s: normalization rule '%s' is not supported (only 'identity', as in Llama 2's "
            "tokenizer)",
            label, name[0] ? name : "custom");
    return 0;
}

tokenizer *tokenizer_load_spm_memory(const uint8_t *buf, size_t len, const char *label) {
    spm_model *m = calloc(1, sizeof *m);
    if (!m) {
        mtp_errorf("out of memory loading %s", label);
        return NULL;
    }
    // the proto's defaults
    m->unk_id = 0, m->bos_id = 1, m->eos_id = 2;
    m->add_dummy_prefix = m->remove_extra_whitespaces = m->escape_whitespaces = 1;
    int model_type = 1, suffix = 0, rc = 0, npieces = 0;
    pb_reader r = pb_reader_of(buf, len);
    pb_field f;
    while ((rc = pb_next(&r, &f, label)) == 1) npieces += f.number == 1 && f.wire == PB_BYTES;
    if (rc == 0 && (npieces < 1 || npieces > MAX_PIECES))
        rc = mtp_errorf("%s: %d pieces: not a SentencePiece tokenizer.model", label, npieces);
    if (rc == 0 && !(m->pieces = calloc((size_t)npieces, sizeof *m->pieces)))
        rc = mtp_errorf("out of memory loading %s", label);
    r = pb_reader_of(buf, len);
    while (rc == 0 && (rc = pb_next(&r, &f, label)) == 1) {
        rc = 0;
        if (f.wire != PB_BYTES) continue;
        if (f.number == 1) rc = read_piece(m, f.bytes, f.len, label);
        if (f.number == 2) rc = read_trainer_spec(m, f.bytes, f.len, label, &model_type, &suffix);
        if (f.number == 3) rc = read_normalizer_spec(m, f.bytes, f.len, label);
    }
    if (rc == 0 && model_type != 2)
        rc = mtp_errorf("%s: a SentencePiece %s model; only BPE models (Llama 2's kind) are supported", label,
                        model_type == 1 ? "unigram" : "word/char");
    if (rc == 0 && suffix) rc = mtp_errorf("%s: treat_whitespace_as_suffix is not supported", label);
    if (rc == 0 && !m->escape_whitespaces)
        rc = mtp_errorf(
            "%s: escape_whitespaces is off; only models that write spaces as U+2581 (as Llama's) are "
            "supported",
            label);
    if (rc == 0) rc = spm_finish(m, label);
    if (rc != 0) {
        spm_free(m);
        free(m);
        return NULL;
    }
    return spm_tokenizer(m, label);
}

tokenizer *tokenizer_load_spm(const char *path) {
    size_t len = 0;
    char *bytes = fs_read_all(path, MAX_MODEL_BYTES, &len);
    if (!bytes) return NULL;
    tokenizer *t = tokenizer_load_spm_memory((const uint8_t *)bytes, len, path);
    free(bytes);
    return t;
}
