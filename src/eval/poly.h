// poly.h: the polynomial arithmetic task of Gloeckle et al. 2024 (section
// 4.2): expressions over the ring F7[X]/(X^5) with negation, addition,
// multiplication and composition, their values, and their text forms
// (docs/eval-poly.md).
//
// A polynomial is its 5 coefficients c0..c4 in [0, 7), c_i that of X^i.
// Composition p o q = p(q(X)) reduced mod X^5 and mod 7, computed on these
// degree-<5 representatives (with q(0) != 0 the result depends on the
// representative, so the representative is part of the definition).
//
// Text forms, over the alphabet "0123456-+*@()":
//   polynomial  5 digits c0 c1 c2 c3 c4, no separators: "31024" = 3 + X + 2X^3 + 4X^4
//   expression  expr := poly | '-' expr | '(' expr op expr ')',  op := '+' | '*' | '@'
//               '@' is composition: "(A@B)" = A(B(X)). Every binary operation is in
//               parentheses and negation prefixes exactly one operand, so the text
//               has one parse: "(-31024*(02100@10000))".
//   example     question [K pause marks '.'] '=' answer, e.g. "(31024+02100)=33124"
//               or with K = 3 "(31024+02100)...=33124"; the answer is the value's
//               polynomial text.
#ifndef MTP_EVAL_POLY_H
#define MTP_EVAL_POLY_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

#define POLY_DEGREE 5    // coefficients per polynomial: the ring is mod X^5
#define POLY_MOD 7       // coefficients mod 7
#define POLY_MAX_OPS 64  // operations per expression at most
#define POLY_PAUSE '.'   // the pause mark repeated between question and '='
#define POLY_EQUALS '='  // starts the answer
// Longest expression text: 5 bytes per leaf (m+1 leaves), 3 per binary
// operation, 1 per negation, plus the terminating NUL.
#define POLY_TEXT_MAX (8 * POLY_MAX_OPS + 8)

typedef struct {
    uint8_t c[POLY_DEGREE];  // c[i]: coefficient of X^i, in [0, POLY_MOD)
} poly;

typedef enum { POLY_LEAF, POLY_NEG, POLY_ADD, POLY_MUL, POLY_COMPOSE } poly_op;

// One node of an expression tree; children are indices into the same array.
typedef struct {
    uint8_t op;           // poly_op
    int16_t left, right;  // NEG uses left only; LEAF neither
    poly leaf;            // LEAF only
} poly_node;

// An expression tree in preorder: nodes[0] is the root.
typedef struct {
    poly_node nodes[2 * POLY_MAX_OPS + 1];
    int count;
} poly_expr;

// Ring operations; out may alias an input.
void poly_neg(poly *out, const poly *a);
void poly_add(poly *out, const poly *a, const poly *b);
void poly_mul(poly *out, const poly *a, const poly *b);
// p(q(X)) mod X^5, mod 7.
void poly_compose(poly *out, const poly *p, const poly *q);
int poly_equal(const poly *a, const poly *b);

// Five coefficients, each uniform in [0, 7) (c0 first).
void poly_random(poly *p, mtp_rng *rng);

// A random expression with exactly m operator nodes (0 <= m <= POLY_MAX_OPS;
// m = 0 is a single polynomial). Recursively: a node with m > 0 operations
// left draws its operator uniformly from (negation, addition, multiplication,
// composition); negation gives its child m-1; a binary operator gives k
// uniform in [0, m-1] to its left operand and m-1-k to its right (left
// subtree drawn first). A node with m = 0 is a leaf from poly_random. The
// result depends only on m and the generator's state. Returns 0, or -1 for
// m out of range.
int poly_expr_random(poly_expr *e, int m, mtp_rng *rng);
// The number of operator nodes (negations and binary operations).
int poly_expr_ops(const poly_expr *e);
// The expression's value.
void poly_expr_eval(const poly_expr *e, poly *out);

// The text forms above, NUL-terminated. Return the length, or -1 (with
// mtp_errorf) if cap is too small; POLY_TEXT_MAX always suffices for an
// expression, 6 bytes for a polynomial.
int poly_format(const poly *p, char *buf, size_t cap);
int poly_expr_format(const poly_expr *e, char *buf, size_t cap);
// Parses exactly text[0..len) as an expression (a bare polynomial is one
// with no operations). Returns 0, or -1 with mtp_errorf naming the byte
// offset and what was expected.
int poly_expr_parse(poly_expr *e, const char *text, size_t len);

// One example: a random expression with m operations, its question text,
// the prompt (question, `pause` marks, '=') and the answer text. Buffers
// of POLY_TEXT_MAX + pause bytes (prompt) and POLY_TEXT_MAX (question)
// suffice; answer needs 6. Returns 0, or -1 with mtp_errorf.
int poly_example(int m, int pause, mtp_rng *rng, char *question, size_t qcap, char *prompt, size_t pcap,
                 char *answer, size_t acap);

#endif
