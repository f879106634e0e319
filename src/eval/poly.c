// poly.c: arithmetic in F7[X]/(X^5), random expressions, their text forms
// and a parser for them (see poly.h).
#include "eval/poly.h"

#include <string.h>

#include "core/error.h"

void poly_neg(poly *out, const poly *a) {
    for (int i = 0; i < POLY_DEGREE; i++) out->c[i] = (uint8_t)((POLY_MOD - a->c[i]) % POLY_MOD);
}

void poly_add(poly *out, const poly *a, const poly *b) {
    for (int i = 0; i < POLY_DEGREE; i++) out->c[i] = (uint8_t)((a->c[i] + b->c[i]) % POLY_MOD);
}

// Truncated product: c_k = sum_{i+j=k} a_i b_j for k < 5; terms of X^5 and
// above vanish in the quotient ring.
void poly_mul(poly *out, const poly *a, const poly *b) {
    int acc[POLY_DEGREE] = {0};
    for (int i = 0; i < POLY_DEGREE; i++)
        for (int j = 0; i + j < POLY_DEGREE; j++) acc[i + j] += a->c[i] * b->c[j];
    for (int k = 0; k < POLY_DEGREE; k++) out->c[k] = (uint8_t)(acc[k] % POLY_MOD);
}

// Horner: p(q) = (((p4 q + p3) q + p2) q + p1) q + p0, every product reduced
// mod X^5, which is evaluation of the fixed polynomial p at q in the ring.
void poly_compose(poly *out, const poly *p, const poly *q) {
    poly r = {{0}}, qq = *q;
    r.c[0] = p->c[POLY_DEGREE - 1];
    for (int i = POLY_DEGREE - 2; i >= 0; i--) {
        poly_mul(&r, &r, &qq);
        r.c[0] = (uint8_t)((r.c[0] + p->c[i]) % POLY_MOD);
    }
    *out = r;
}

int poly_equal(const poly *a, const poly *b) {
    return memcmp(a->c, b->c, POLY_DEGREE) == 0;
}

void poly_random(poly *p, mtp_rng *rng) {
    for (int i = 0; i < POLY_DEGREE; i++) p->c[i] = (uint8_t)mtp_rng_below(rng, POLY_MOD);
}

// Appends a subtree with m operations in preorder; returns its root index.
static int random_node(poly_expr *e, int m, mtp_rng *rng) {
    int at = e->count++;
    poly_node *n = &e->nodes[at];
    memset(n, 0, sizeof *n);
    n->left = n->right = -1;
    if (m == 0) {
        n->op = POLY_LEAF;
        poly_random(&n->leaf, rng);
        return at;
    }
    static const uint8_t ops[4] = {POLY_NEG, POLY_ADD, POLY_MUL, POLY_COMPOSE};
    uint8_t op = ops[mtp_rng_below(rng, 4)];
    if (op == POLY_NEG) {
        int child = random_node(e, m - 1, rng);
        e->nodes[at].op = op;
        e->nodes[at].left = (int16_t)child;
        return at;
    }
    int k = (int)mtp_rng_below(rng, (uint64_t)m);  // operations in the left operand
    int left = random_node(e, k, rng);
    int right = random_node(e, m - 1 - k, rng);
    e->nodes[at].op = op;
    e->nodes[at].left = (int16_t)left;
    e->nodes[at].right = (int16_t)right;
    return at;
}

int poly_expr_random(poly_expr *e, int m, mtp_rng *rng) {
    if (m < 0 || m > POLY_MAX_OPS)
        return mtp_errorf("%d operations: expressions have 0 to %d operations", m, POLY_MAX_OPS);
    e->count = 0;
    random_node(e, m, rng);
    return 0;
}

int poly_expr_ops(const poly_expr *e) {
    int ops = 0;
    for (int i = 0; i < e->count; i++) ops += e->nodes[i].op != POLY_LEAF;
    return ops;
}

static void eval_node(const poly_expr *e, int at, poly *out) {
    const poly_node *n = &e->nodes[at];
    poly a, b;
    switch (n->op) {
        case POLY_LEAF:
            *out = n->leaf;
            return;
        case POLY_NEG:
            eval_node(e, n->left, &a);
            poly_neg(out, &a);
            return;
        default:
            break;
    }
    eval_node(e, n->left, &a);
    eval_node(e, n->right, &b);
    if (n->op == POLY_ADD)
        poly_add(out, &a, &b);
    else if (n->op == POLY_MUL)
        poly_mul(out, &a, &b);
    else
        poly_compose(out, &a, &b);
}

void poly_expr_eval(const poly_expr *e, poly *out) {
    eval_node(e, 0, out);
}

int poly_format(const poly *p, char *buf, size_t cap) {
    if (cap < POLY_DEGREE + 1) return mtp_errorf("poly_format: buffer of %zu bytes, need 6", cap);
    for (int i = 0; i < POLY_DEGREE; i++) buf[i] = (char)('0' + p->c[i]);
    buf[POLY_DEGREE] = '\0';
    return POLY_DEGREE;
}

typedef struct {
    char *buf;
    size_t cap, len;
} text_out;

static int put_char(text_out *t, char c) {
    if (t->len + 1 >= t->cap) return -1;
    t->buf[t->len++] = c;
    return 0;
}

static int format_node(const poly_expr *e, int at, text_out *t) {
    const poly_node *n = &e->nodes[at];
    if (n->op == POLY_LEAF) {
        for (int i = 0; i < POLY_DEGREE; i++)
            if (put_char(t, (char)('0' + n->leaf.c[i]))) return -1;
        return 0;
    }
    if (n->op == POLY_NEG) return put_char(t, '-') || format_node(e, n->left, t);
    char op = n->op == POLY_ADD ? '+' : n->op == POLY_MUL ? '*' : '@';
    return put_char(t, '(') || format_node(e, n->left, t) || put_char(t, op) || format_node(e, n->right, t) ||
           put_char(t, ')');
}

int poly_expr_format(const poly_expr *e, char *buf, size_t cap) {
    text_out t = {buf, cap, 0};
    if (cap == 0 || format_node(e, 0, &t) != 0)
        return mtp_errorf("poly_expr_format: buffer of %zu bytes is too small", cap);
    buf[t.len] = '\0';
    return (int)t.len;
}

// Recursive descent over the grammar in poly.h; `ops` counts operations so
// the tree cannot outgrow poly_expr (and the recursion stays shallow).
typedef struct {
    const char *s;
    size_t len, at;
    poly_expr *e;
    int ops;
} parser;

static int parse_fail(const parser *p, const char *expected) {
    if (p->at >= p->len) return mtp_errorf("expression ends at byte %zu: expected %s", p->at, expected);
    return mtp_errorf("byte %zu '%c': expected %s", p->at, p->s[p->at], expected);
}

static int parse_node(parser *p) {
    if (p->e->count >= 2 * POLY_MAX_OPS + 1 || p->ops > POLY_MAX_OPS)
        return mtp_errorf("byte %zu: more than %d operations", p->at, POLY_MAX_OPS);
    int at = p->e->count++;
    poly_node *n = &p->e->nodes[at];
    memset(n, 0, sizeof *n);
    n->left = n->right = -1;
    char c = p->at < p->len ? p->s[p->at] : '\0';
    if (c >= '0' && c < '0' + POLY_MOD) {
        n->op = POLY_LEAF;
        for (int i = 0; i < POLY_DEGREE; i++) {
            c = p->at < p->len ? p->s[p->at] : '\0';
            if (!(c >= '0' && c < '0' + POLY_MOD)) return parse_fail(p, "a coefficient digit 0-6");
            n->leaf.c[i] = (uint8_t)(c - '0');
            p->at++;
        }
        return at;
    }
    if (c == '-') {
        p->at++;
        p->ops++;
        int child = parse_node(p);
        if (child < 0) return -1;
        p->e->nodes[at].op = POLY_NEG;
        p->e->nodes[at].left = (int16_t)child;
        return at;
    }
    if (c != '(') return parse_fail(p, "a polynomial (5 digits 0-6), '-' or '('");
    p->at++;
    p->ops++;
    int left = parse_node(p);
    if (left < 0) return -1;
    c = p->at < p->len ? p->s[p->at] : '\0';
    uint8_t op = c == '+' ? POLY_ADD : c == '*' ? POLY_MUL : c == '@' ? POLY_COMPOSE : POLY_LEAF;
    if (op == POLY_LEAF) return parse_fail(p, "an operator '+', '*' or '@'");
    p->at++;
    int right = parse_node(p);
    if (right < 0) return -1;
    if (p->at >= p->len || p->s[p->at] != ')') return parse_fail(p, "')'");
    p->at++;
    p->e->nodes[at].op = op;
    p->e->nodes[at].left = (int16_t)left;
    p->e->nodes[at].right = (int16_t)right;
    return at;
}

int poly_expr_parse(poly_expr *e, const char *text, size_t len) {
    parser p = {text, len, 0, e, 0};
    e->count = 0;
    if (parse_node(&p) < 0) return -1;
    if (p.at != len) return parse_fail(&p, "the end of the expression");
    return 0;
}

int poly_example(int m, int pause, mtp_rng *rng, char *question, size_t qcap, char *prompt, size_t pcap,
                 char *answer, size_t acap) {
    poly_expr e;
    poly value;
    if (pause < 0) return mtp_errorf("%d pause marks: expected 0 or more", pause);
    if (poly_expr_random(&e, m, rng) != 0) return -1;
    int qlen = poly_expr_format(&e, question, qcap);
    if (qlen < 0) return -1;
    if ((size_t)qlen + (size_t)pause + 2 > pcap)
        return mtp_errorf("poly_example: prompt buffer of %zu bytes, need %d", pcap, qlen + pause + 2);
    memcpy(prompt, question, (size_t)qlen);
    memset(prompt + qlen, POLY_PAUSE, (size_t)pause);
    prompt[qlen + pause] = POLY_EQUALS;
    prompt[qlen + pause + 1] = '\0';
    poly_expr_eval(&e, &value);
    return poly_format(&value, answer, acap) < 0 ? -1 : 0;
}
