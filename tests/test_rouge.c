// test_rouge.c: ROUGE (eval/rouge.h) on examples counted by hand, the
// tokenizer's edge cases, the Porter stemmer on the examples of Porter's
// paper (with the stems nltk gives), and the bootstrap interval.
//
// `test_rouge --stem` instead reads words, one per line, from stdin and
// prints each one's stem: tests/test_eval_rouge.sh compares that with nltk.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "eval/rouge.h"
#include "test_util.h"

static int close_to(double a, double b) {
    return fabs(a - b) <= 1e-12;
}

// The tokens of text, space-joined, must be `want`.
static void check_tokens(const char *text, int stem, const char *want) {
    rouge_tokens t;
    if (rouge_tokenize(text, strlen(text), stem, &t)) {
        CHECK(0, "tokenize '%s': %s", text, mtp_last_error());
        return;
    }
    char got[1024] = "";
    for (int i = 0; i < t.n; i++) {
        if (i) strncat(got, " ", sizeof got - strlen(got) - 1);
        strncat(got, t.tok[i], sizeof got - strlen(got) - 1);
    }
    CHECK(!strcmp(got, want), "tokens of '%s' (stem %d): got '%s', want '%s'", text, stem, got, want);
    rouge_tokens_free(&t);
}

static void check_prf(const char *what, const rouge_prf *s, double p, double r, double f) {
    CHECK(close_to(s->precision, p) && close_to(s->recall, r) && close_to(s->f1, f),
          "%s: got P %.15g R %.15g F %.15g, want P %.15g R %.15g F %.15g", what, s->precision, s->recall,
          s->f1, p, r, f);
}

// Scores of (target, prediction) against P/R/F for ROUGE-1, -2 and -L.
static void check_pair(const char *target, const char *prediction, int stem, const double want[3][3]) {
    rouge_scores s;
    if (rouge_score(target, strlen(target), prediction, strlen(prediction), stem, &s)) {
        CHECK(0, "score: %s", mtp_last_error());
        return;
    }
    char what[512];
    snprintf(what, sizeof what, "rouge1 of '%s' vs '%s'", prediction, target);
    check_prf(what, &s.rouge1, want[0][0], want[0][1], want[0][2]);
    snprintf(what, sizeof what, "rouge2 of '%s' vs '%s'", prediction, target);
    check_prf(what, &s.rouge2, want[1][0], want[1][1], want[1][2]);
    snprintf(what, sizeof what, "rougeL of '%s' vs '%s'", prediction, target);
    check_prf(what, &s.rougeL, want[2][0], want[2][1], want[2][2]);
}

static double f(double p, double r) {
    return p + r > 0 ? 2 * p * r / (p + r) : 0;
}

static void test_tokenizer(void) {
    check_tokens("The CAT, sat!", 0, "the cat sat");
    // every character outside [a-z0-9] separates: apostrophes, dots, hyphens
    check_tokens("don't stop U.S. co-operate 3.14 x_y", 0, "don t stop u s co operate 3 14 x y");
    check_tokens("", 0, "");
    check_tokens("  ... !? -- ", 0, "");
    check_tokens("tab\tnew\nline\r\nend", 0, "tab new line end");
    // Non-ASCII letters are dropped (rouge-score keeps only [a-z0-9] after
    // Python's lower()), splitting words: café -> caf, naïve -> na ve.
    check_tokens(
        "caf\xC3\xA9 na\xC3\xAFve Stra\xC3\x9F"
        "e \xE6\x97\xA5\xE6\x9C\xAC",
        0, "caf na ve stra e");
    check_tokens("\xC3\x89T\xC3\x89", 0, "t");  // ÉTÉ: É lowercases to é, not ASCII
    // The two characters whose lowercase is ASCII: KELVIN SIGN -> "k";
    // İ -> "i" + U+0307 (a separator), so İstanbul -> "i stanbul".
    check_tokens(
        "5\xE2\x84\xAA"
        "g \xC4\xB0stanbul",
        0, "5kg i stanbul");
    // invalid UTF-8 bytes separate too
    check_tokens(
        "ab\xFF"
        "cd\xC4"
        "ef\xE2\x84",
        0, "ab cd ef");
    // stemming: only tokens longer than 3 letters (runs -> run, but "was" stays)
    check_tokens("Runs was running quickly ponies", 1, "run was run quickli poni");
}

// Porter's examples (Porter 1980, "An algorithm for suffix stripping") with
// the stems nltk's PorterStemmer() gives for them, plus nltk's own rules.
static void test_stemmer(void) {
    static const char *const cases[][2] = {
        {"caresses", "caress"},
        {"ponies", "poni"},
        {"ties", "tie"},
        {"cats", "cat"},
        {"feed", "feed"},
        {"agreed", "agre"},
        {"plastered", "plaster"},
        {"bled", "bled"},
        {"motoring", "motor"},
        {"sing", "sing"},
        {"conflated", "conflat"},
        {"troubled", "troubl"},
        {"sized", "size"},
        {"hopping", "hop"},
        {"tanned", "tan"},
        {"falling", "fall"},
        {"hissing", "hiss"},
        {"fizzed", "fizz"},
        {"failing", "fail"},
        {"filing", "file"},
        {"happy", "happi"},
        {"sky", "sky"},
        {"relational", "relat"},
        {"conditional", "condit"},
        {"rational", "ration"},
        {"valenci", "valenc"},
        {"hesitanci", "hesit"},
        {"digitizer", "digit"},
        {"conformabli", "conform"},
        {"radicalli", "radic"},
        {"differentli", "differ"},
        {"vileli", "vile"},
        {"analogousli", "analog"},
        {"vietnamization", "vietnam"},
        {"predication", "predic"},
        {"operator", "oper"},
        {"feudalism", "feudal"},
        {"decisiveness", "decis"},
        {"hopefulness", "hope"},
        {"callousness", "callous"},
        {"formaliti", "formal"},
        {"sensitiviti", "sensit"},
        {"sensibiliti", "sensibl"},
        {"triplicate", "triplic"},
        {"formative", "form"},
        {"formalize", "formal"},
        {"electriciti", "electr"},
        {"electrical", "electr"},
        {"hopeful", "hope"},
        {"goodness", "good"},
        {"revival", "reviv"},
        {"allowance", "allow"},
        {"inference", "infer"},
        {"airliner", "airlin"},
        {"gyroscopic", "gyroscop"},
        {"adjustable", "adjust"},
        {"defensible", "defens"},
        {"irritant", "irrit"},
        {"replacement", "replac"},
        {"adjustment", "adjust"},
        {"dependent", "depend"},
        {"adoption", "adopt"},
        {"homologou", "homolog"},
        {"communism", "commun"},
        {"activate", "activ"},
        {"angulariti", "angular"},
        {"homologous", "homolog"},
        {"effective", "effect"},
        {"bowdlerize", "bowdler"},
        {"probate", "probat"},
        {"rate", "rate"},
        {"cease", "ceas"},
        {"controll", "control"},
        {"roll", "roll"},
        // nltk's extensions: dies/died -> die, spied -> spi, irregular forms,
        // alli first, logi keeps its l, y -> i only after a consonant
        {"dies", "die"},
        {"died", "die"},
        {"spied", "spi"},
        {"flies", "fli"},
        {"skies", "sky"},
        {"dying", "die"},
        {"news", "news"},
        {"generalization", "gener"},
        {"generously", "gener"},
        {"archaeology", "archaeolog"},
        {"geology", "geolog"},
        {"enjoy", "enjoy"},
        {"spy", "spi"},
        {"is", "is"},
        {"a", "a"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char w[64];
        size_t n = strlen(cases[i][0]);
        memcpy(w, cases[i][0], n);
        n = rouge_porter_stem(w, n);
        w[n] = '\0';
        CHECK(!strcmp(w, cases[i][1]), "stem(%s) = %s, want %s", cases[i][0], w, cases[i][1]);
    }
    // A very long token stems in linear time per step (measure is one pass):
    // "baba...ba" + "ational" -> step 2 "...ate" -> step 4 drops "ate" (nltk
    // gives the same for 20 "ba"s).
    size_t n = 200000;
    char *w = malloc(n + 8);
    for (size_t i = 0; i < n; i++) w[i] = "ba"[i % 2];
    memcpy(w + n, "ational", 7);
    size_t got = rouge_porter_stem(w, n + 7);
    CHECK(got == n && w[n - 1] == 'a', "long word: stem length %zu", got);
    free(w);
}

static void test_scores(void) {
    // pred "the cat sat on the mat", target "the cat is on the mat":
    //   unigrams pred {the:2 cat sat on mat} (6), target {the:2 cat is on mat} (6);
    //   overlap the 2 + cat + on + mat = 5: P = R = 5/6.
    //   bigrams pred: the-cat cat-sat sat-on on-the the-mat (5), target: the-cat
    //   cat-is is-on on-the the-mat (5); overlap the-cat on-the the-mat = 3: 3/5.
    //   LCS "the cat on the mat" = 5: P = R = 5/6.
    const double a[3][3] = {{5. / 6, 5. / 6, 5. / 6}, {3. / 5, 3. / 5, 3. / 5}, {5. / 6, 5. / 6, 5. / 6}};
    check_pair("the cat is on the mat", "the cat sat on the mat", 0, a);

    // rouge-score's README example: target "The quick brown fox jumps over the
    // lazy dog" (9 tokens), prediction "The quick brown dog jumps on the log."
    // (8 tokens). Unigram overlap the:min(2,2) + quick + brown + dog + jumps
    // = 6: P = 6/8, R = 6/9. Bigrams: pred has 7, target 8, common the-quick
    // and quick-brown: P = 2/7, R = 2/8. LCS "the quick brown jumps the" = 5:
    // P = 5/8, R = 5/9 (README: rougeL P 0.625, R 0.5556, F 0.5882).
    const double b[3][3] = {{6. / 8, 6. / 9, f(6. / 8, 6. / 9)},
                            {2. / 7, 2. / 8, f(2. / 7, 2. / 8)},
                            {5. / 8, 5. / 9, f(5. / 8, 5. / 9)}};
    check_pair("The quick brown fox jumps over the lazy dog", "The quick brown dog jumps on the log.", 0, b);

    // Clipping: pred "the the the the" vs target "the cat": "the" counts
    // min(4, 1) = 1: P = 1/4, R = 1/2, F = 1/3. Bigrams the-the x3 vs the-cat:
    // 0. LCS "the" = 1: same as unigrams.
    const double c[3][3] = {{1. / 4, 1. / 2, 1. / 3}, {0, 0, 0}, {1. / 4, 1. / 2, 1. / 3}};
    check_pair("the cat", "the the the the", 0, c);

    // Order: pred "a b c d" vs target "d c b a": all 4 unigrams match (1), no
    // bigram does (ab bc cd vs dc cb ba), the LCS is one token: 1/4.
    const double d[3][3] = {{1, 1, 1}, {0, 0, 0}, {1. / 4, 1. / 4, 1. / 4}};
    check_pair("d c b a", "a b c d", 0, d);

    // LCS beyond common prefixes: target "a b c d e f", pred "a c e b d f":
    // "a c e f" (or "a b d f") has 4 tokens and no common subsequence has 5;
    // P = R = 4/6. Bigrams ac ce eb bd df vs ab bc cd de ef: none.
    const double e[3][3] = {{1, 1, 1}, {0, 0, 0}, {4. / 6, 4. / 6, 4. / 6}};
    check_pair("a b c d e f", "a c e b d f", 0, e);

    // Case and punctuation only: identical tokens, every score 1.
    const double same[3][3] = {{1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
    check_pair("the cat sat", "The CAT, sat!!", 0, same);

    // Empty sides: no tokens give 0 everywhere (rouge-score: 0 / max(0, 1),
    // and LCS 0 when either side is empty), also when both are empty.
    const double zero[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
    check_pair("a b", "", 0, zero);
    check_pair("", "a b", 0, zero);
    check_pair("", "", 0, zero);
    check_pair("!!!", "... \xE6\x97\xA5", 0, zero);  // only separators: no tokens

    // One token each: unigram 1, no bigrams on either side (0 / max(0, 1) = 0).
    const double one[3][3] = {{1, 1, 1}, {0, 0, 0}, {1, 1, 1}};
    check_pair("Cat", "cat.", 0, one);

    // Stemming: pred "The runners were running quickly" -> the runner were
    // run quickli (5), target "A runner runs quick" -> a runner run quick (4).
    // Unigram overlap runner + run = 2: P = 2/5, R = 2/4. No common bigram.
    // LCS "runner run" = 2. Without stemming nothing matches.
    const double st[3][3] = {
        {2. / 5, 2. / 4, f(2. / 5, 2. / 4)}, {0, 0, 0}, {2. / 5, 2. / 4, f(2. / 5, 2. / 4)}};
    check_pair("A runner runs quick", "The runners were running quickly", 1, st);
    check_pair("A runner runs quick", "The runners were running quickly", 0, zero);

    // ROUGE-3 and n longer than both texts.
    rouge_tokens t, p;
    rouge_prf s;
    rouge_tokenize("a b c d", 7, 0, &t);
    rouge_tokenize("a b c x b c d", 13, 0, &p);
    // trigrams target abc bcd (2); pred abc bcx cxb xbc bcd (5); common abc bcd
    CHECK(rouge_ngram(&t, &p, 3, &s) == 0, "rouge3");
    check_prf("rouge3", &s, 2. / 5, 2. / 2, f(2. / 5, 1));
    CHECK(rouge_ngram(&t, &p, 9, &s) == 0, "rouge9");
    check_prf("rouge9", &s, 0, 0, 0);
    CHECK(rouge_ngram(&t, &p, 0, &s) != 0, "rouge0 must fail");
    rouge_tokens_free(&t);
    rouge_tokens_free(&p);
}

static void test_aggregate(void) {
    const double x[4] = {0.5, 0.25, 1.0, 0.25};
    CHECK(close_to(rouge_mean(x, 4), 0.5), "mean %g", rouge_mean(x, 4));
    CHECK(rouge_mean(x, 0) == 0, "mean of nothing");
    double lo, hi, lo2, hi2;
    const double c[3] = {0.3, 0.3, 0.3};
    CHECK(rouge_bootstrap(c, 3, 200, 0.95, 1, &lo, &hi) == 0 && close_to(lo, 0.3) && close_to(hi, 0.3),
          "constant scores: interval [%g, %g]", lo, hi);
    // 0/1 scores: resample means lie in [0, 1] and straddle 0.5; the same
    // seed gives the same interval, another seed (almost surely) not.
    double b[100];
    for (int i = 0; i < 100; i++) b[i] = i % 2;
    CHECK(rouge_bootstrap(b, 100, 1000, 0.95, 7, &lo, &hi) == 0, "bootstrap");
    CHECK(lo >= 0 && lo < 0.5 && hi > 0.5 && hi <= 1, "interval [%g, %g] around 0.5", lo, hi);
    // the mean of 100 fair 0/1 scores has sd 0.05: the 95% interval is about +-0.1
    CHECK(hi - lo > 0.12 && hi - lo < 0.28, "interval width %g", hi - lo);
    CHECK(rouge_bootstrap(b, 100, 1000, 0.95, 7, &lo2, &hi2) == 0 && lo2 == lo && hi2 == hi, "reproducible");
    CHECK(rouge_bootstrap(b, 100, 1000, 0.95, 8, &lo2, &hi2) == 0 && (lo2 != lo || hi2 != hi),
          "another seed, another interval");
    // confidence 0: both bounds are the median of the resample means
    CHECK(rouge_bootstrap(b, 100, 1001, 0, 7, &lo, &hi) == 0 && lo == hi, "median");
    CHECK(rouge_bootstrap(b, 0, 10, 0.95, 1, &lo, &hi) != 0, "no items must fail");
    CHECK(rouge_bootstrap(b, 10, 10, 1.5, 1, &lo, &hi) != 0, "confidence 1.5 must fail");
}

// Prints the stem of each line of stdin (the nltk comparison's half).
static int stem_lines(void) {
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strcspn(line, "\r\n");
        n = rouge_porter_stem(line, n);
        line[n] = '\0';
        puts(line);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--stem")) return stem_lines();
    test_tokenizer();
    test_stemmer();
    test_scores();
    test_aggregate();
    if (failures) {
        printf("test_rouge: %d failures\n", failures);
        return 1;
    }
    printf("test_rouge: all checks passed\n");
    return 0;
}
