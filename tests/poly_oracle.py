#!/usr/bin/env python3
"""An independent check of `mtp task poly` output (docs/eval-poly.md).

Written from the mathematics, not from src/eval/poly.c: polynomials are
plain lists of integers; products and compositions are computed in full over
the integers (composition as sum_i p_i * q^i with untruncated powers) and only
then reduced mod X^5 and mod 7. The C code truncates as it goes (Horner), so
the two agree only if both are right.

usage: poly_oracle.py DIR [--pause K] [--m-train A-B] [--m-eval A-B] [--test-per-m N]

Checks every line of DIR/train.txt and DIR/test.jsonl: the question parses,
has the stated number of operations, the pause marks and '=' are in place and
the answer is the value. Also: test questions are distinct, none occurs in
train.txt, and each m in --m-eval has --test-per-m items. Prints a JSON
summary; exits 1 with the first problems on stderr.
"""
import json
import re
import sys

P = 7  # coefficients mod 7
N = 5  # the ring is mod X^5


def p_add(a, b):
    n = max(len(a), len(b))
    a, b = a + [0] * (n - len(a)), b + [0] * (n - len(b))
    return [x + y for x, y in zip(a, b)]


def p_mul(a, b):
    """The full product, no truncation."""
    out = [0] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return out


def p_compose(p, q):
    """p(q(X)) = sum_i p_i q^i over the integers, no truncation."""
    total, power = [0], [1]
    for coef in p:
        total = p_add(total, [coef * c for c in power])
        power = p_mul(power, q)
    return total


def reduce(a):
    """The canonical representative in F7[X]/(X^5): 5 coefficients in 0..6."""
    a = (a + [0] * N)[:N]
    return [c % P for c in a]


class Parser:
    """expr := poly | '-' expr | '(' expr op expr ')';  poly := 5 digits 0-6."""

    def __init__(self, text):
        self.s, self.i, self.ops = text, 0, 0

    def fail(self, what):
        raise ValueError(f"byte {self.i} of {self.s!r}: expected {what}")

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ""

    def expr(self):
        c = self.peek()
        if c == "-":
            self.i += 1
            self.ops += 1
            return reduce([-x for x in self.expr()])
        if c == "(":
            self.i += 1
            self.ops += 1
            left = self.expr()
            op = self.peek()
            if op not in ("+", "*", "@"):
                self.fail("an operator")
            self.i += 1
            right = self.expr()
            if self.peek() != ")":
                self.fail("')'")
            self.i += 1
            if op == "+":
                return reduce(p_add(left, right))
            if op == "*":
                return reduce(p_mul(left, right))
            return reduce(p_compose(left, right))
        digits = self.s[self.i:self.i + N]
        if len(digits) != N or any(d not in "0123456" for d in digits):
            self.fail("5 digits 0-6")
        self.i += N
        return [int(d) for d in digits]

    def parse(self):
        value = self.expr()
        if self.i != len(self.s):
            self.fail("the end")
        return value, self.ops


def evaluate(question):
    value, ops = Parser(question).parse()
    return "".join(str(c) for c in value), ops


def parse_range(text):
    a, _, b = text.partition("-")
    return int(a), int(b or a)


def main(argv):
    args = {"--pause": "0", "--m-train": None, "--m-eval": None, "--test-per-m": None}
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[4], file=sys.stderr)
        return 2
    d = argv[1]
    rest = argv[2:]
    for i in range(0, len(rest), 2):
        if rest[i] not in args or i + 1 >= len(rest):
            print(f"poly_oracle.py: bad flag {rest[i]}", file=sys.stderr)
            return 2
        args[rest[i]] = rest[i + 1]
    pause = int(args["--pause"])
    m_train = parse_range(args["--m-train"]) if args["--m-train"] else None
    m_eval = parse_range(args["--m-eval"]) if args["--m-eval"] else None
    problems = []

    def problem(msg):
        if len(problems) < 20:
            problems.append(msg)
        elif len(problems) == 20:
            problems.append(None)  # printed as "... (more)"

    line_re = re.compile(r"^([^.=]*)(\.*)=(.*)$")
    train_questions = set()
    train_per_m = {}
    n_train = 0
    with open(f"{d}/train.txt", encoding="ascii") as f:
        for no, line in enumerate(f, 1):
            n_train += 1
            if not line.endswith("\n"):
                problem(f"train.txt:{no}: no newline at the end")
            mt = line_re.match(line.rstrip("\n"))
            if not mt:
                problem(f"train.txt:{no}: not QUESTION=ANSWER: {line!r}")
                continue
            q, dots, ans = mt.groups()
            if len(dots) != pause:
                problem(f"train.txt:{no}: {len(dots)} pause marks, expected {pause}")
            try:
                want, ops = evaluate(q)
            except ValueError as e:
                problem(f"train.txt:{no}: {e}")
                continue
            if ans != want:
                problem(f"train.txt:{no}: {q} = {want}, the file says {ans}")
            if m_train and not m_train[0] <= ops <= m_train[1]:
                problem(f"train.txt:{no}: {ops} operations, outside {m_train}")
            train_per_m[ops] = train_per_m.get(ops, 0) + 1
            train_questions.add(q)

    test_questions = set()
    test_per_m = {}
    overlap = duplicates = 0
    with open(f"{d}/test.jsonl", encoding="ascii") as f:
        for no, line in enumerate(f, 1):
            item = json.loads(line)
            prompt, ans, m = item["prompt"], item["answer"], item["m"]
            if item["group"] != f"m={m}":
                problem(f"test.jsonl:{no}: group {item['group']!r} for m = {m}")
            suffix = "." * pause + "="
            if not prompt.endswith(suffix):
                problem(f"test.jsonl:{no}: prompt {prompt!r} does not end with {suffix!r}")
                continue
            q = prompt[: -len(suffix)]
            if "." in q or "=" in q:
                problem(f"test.jsonl:{no}: more pause marks than {pause} in {prompt!r}")
            try:
                want, ops = evaluate(q)
            except ValueError as e:
                problem(f"test.jsonl:{no}: {e}")
                continue
            if ans != want:
                problem(f"test.jsonl:{no}: {q} = {want}, the file says {ans}")
            if ops != m:
                problem(f"test.jsonl:{no}: {ops} operations, the item says m = {m}")
            if q in test_questions:
                duplicates += 1
                problem(f"test.jsonl:{no}: {q} occurs twice in the test set")
            if q in train_questions:
                overlap += 1
                problem(f"test.jsonl:{no}: {q} occurs in train.txt")
            test_questions.add(q)
            test_per_m[m] = test_per_m.get(m, 0) + 1
    if m_eval and args["--test-per-m"]:
        want_n = int(args["--test-per-m"])
        expected = {m: want_n for m in range(m_eval[0], m_eval[1] + 1)} if want_n else {}
        if test_per_m != expected:
            problem(f"test.jsonl: items per m {test_per_m}, expected {expected}")

    print(json.dumps({"train": n_train, "test": sum(test_per_m.values()),
                      "train_per_m": {str(k): v for k, v in sorted(train_per_m.items())},
                      "test_per_m": {str(k): v for k, v in sorted(test_per_m.items())},
                      "overlap": overlap, "duplicates": duplicates}))
    if problems:
        for p in problems:
            print(p if p else "... (more)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
