// rouge.c: rouge-score's tokenizer, nltk's Porter stemmer, ROUGE-N and
// ROUGE-L of a pair, and the mean and bootstrap interval over a dataset.
#include "eval/rouge.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"

// ---- Porter stemmer: a line-by-line transcription of nltk/stem/porter.py
// (nltk 3.8) in NLTK_EXTENSIONS mode, the mode rouge-score gets from
// `porter.PorterStemmer()`. Where nltk departs from Porter's paper (first
// matching suffix decides, not the longest; the "ies"/"ied" and "alli" rules;
// the irregular forms) this follows nltk, because rouge-score does.

// Whether letter c at position k is a consonant, given whether the letter
// before it is: not a vowel, and 'y' only at the start or after a vowel.
static int consonant_after(char c, size_t k, int prev_cons) {
    if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') return 0;
    if (c == 'y') return k == 0 ? 1 : !prev_cons;
    return 1;
}

// w[i] is a consonant (nltk's recursive _is_consonant, as a loop).
static int is_consonant(const char *w, size_t i) {
    int cons = 1;
    for (size_t k = 0; k <= i; k++) cons = consonant_after(w[k], k, cons);
    return cons;
}

// m in [C](VC){m}[V]: the number of vowel-to-consonant changes in w[0..n).
static int measure(const char *w, size_t n) {
    int m = 0, cons = 1;
    for (size_t k = 0; k < n; k++) {
        int next = consonant_after(w[k], k, cons);
        if (k > 0 && !cons && next) m++;
        cons = next;
    }
    return m;
}

static int has_vowel(const char *w, size_t n) {
    int cons = 1;
    for (size_t k = 0; k < n; k++)
        if (!(cons = consonant_after(w[k], k, cons))) return 1;
    return 0;
}

// *d: ends with a double consonant.
static int ends_double_consonant(const char *w, size_t n) {
    return n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1);
}

// *o: ends consonant-vowel-consonant, the last not w, x or y; nltk also
// counts a two-letter vowel-consonant word.
static int ends_cvc(const char *w, size_t n) {
    if (n >= 3 && is_consonant(w, n - 3) && !is_consonant(w, n - 2) && is_consonant(w, n - 1) &&
        w[n - 1] != 'w' && w[n - 1] != 'x' && w[n - 1] != 'y')
        return 1;
    return n == 2 && !is_consonant(w, 0) && is_consonant(w, 1);
}

static int ends_with(const char *w, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && memcmp(w + n - k, suffix, k) == 0;
}

// Replaces the last `drop` letters of w[0..n) by `with`; returns the new length.
static size_t replace_end(char *w, size_t n, size_t drop, const char *with) {
    size_t k = strlen(with);
    memcpy(w + n - drop, with, k);
    return n - drop + k;
}

enum { COND_NONE, COND_M0, COND_M1, COND_ION, COND_LOGI };

typedef struct {
    const char *suffix, *with;
    int cond;
} rule;

// nltk's _apply_rule_list: the first rule whose suffix matches decides; if its
// condition fails the word is left as it is.
static size_t apply_rules(char *w, size_t n, const rule *rules, int count) {
    for (int r = 0; r < count; r++) {
        if (!ends_with(w, n, rules[r].suffix)) continue;
        size_t stem = n - strlen(rules[r].suffix);
        int ok = 1;
        switch (rules[r].cond) {
            case COND_M0:
                ok = measure(w, stem) > 0;
                break;
            case COND_M1:
                ok = measure(w, stem) > 1;
                break;
            case COND_ION:
                ok = measure(w, stem) > 1 && (w[stem - 1] == 's' || w[stem - 1] == 't');
                break;
            // nltk keeps the 'l' of "logi" with the stem: m(word[:-3]) > 0
            case COND_LOGI:
                ok = measure(w, n - 3) > 0;
                break;
            default:
                break;
        }
        return ok ? replace_end(w, n, n - stem, rules[r].with) : n;
    }
    return n;
}

static size_t step1a(char *w, size_t n) {
    if (n == 4 && ends_with(w, n, "ies")) return replace_end(w, n, 3, "ie");  // dies -> die
    static const rule rules[] = {
        {"sses", "ss", COND_NONE}, {"ies", "i", COND_NONE}, {"ss", "ss", COND_NONE}, {"s", "", COND_NONE}};
    return apply_rules(w, n, rules, 4);
}

static size_t step1b(char *w, size_t n) {
    if (ends_with(w, n, "ied")) return replace_end(w, n, 3, n == 4 ? "ie" : "i");  // died, spied
    if (ends_with(w, n, "eed")) return measure(w, n - 3) > 0 ? n - 1 : n;          // agreed, feed
    size_t stem;
    if (ends_with(w, n, "ed") && has_vowel(w, n - 2))
        stem = n - 2;
    else if (ends_with(w, n, "ing") && has_vowel(w, n - 3))
        stem = n - 3;
    else
        return n;
    // Tidying after -ed/-ing: conflat -> conflate, hopp -> hop, fil -> file.
    if (ends_with(w, stem, "at") || ends_with(w, stem, "bl") || ends_with(w, stem, "iz"))
        return replace_end(w, stem, 0, "e");
    if (ends_double_consonant(w, stem)) {
        char last = w[stem - 1];
        return last == 'l' || last == 's' || last == 'z' ? stem : stem - 1;
    }
    if (measure(w, stem) == 1 && ends_cvc(w, stem)) return replace_end(w, stem, 0, "e");
    return stem;
}

// nltk: y -> i after a consonant that is not the word's first letter
// (happy -> happi, enjoy and by unchanged).
static size_t step1c(char *w, size_t n) {
    if (ends_with(w, n, "y") && n - 1 > 1 && is_consonant(w, n - 2)) w[n - 1] = 'i';
    return n;
}

static size_t step2(char *w, size_t n) {
    // nltk applies alli -> al first and, if it fires, runs step 2 again.
    if (ends_with(w, n, "alli") && measure(w, n - 4) > 0) return step2(w, replace_end(w, n, 4, "al"));
    static const rule rules[] = {
        {"ational", "ate", COND_M0}, {"tional", "tion", COND_M0}, {"enci", "ence", COND_M0},
        {"anci", "ance", COND_M0},   {"izer", "ize", COND_M0},    {"bli", "ble", COND_M0},
        {"alli", "al", COND_M0},     {"entli", "ent", COND_M0},   {"eli", "e", COND_M0},
        {"ousli", "ous", COND_M0},   {"ization", "ize", COND_M0}, {"ation", "ate", COND_M0},
        {"ator", "ate", COND_M0},    {"alism", "al", COND_M0},    {"iveness", "ive", COND_M0},
        {"fulness", "ful", COND_M0}, {"ousness", "ous", COND_M0}, {"aliti", "al", COND_M0},
        {"iviti", "ive", COND_M0},   {"biliti", "ble", COND_M0},  {"fulli", "ful", COND_M0},
        {"logi", "log", COND_LOGI}};
    return apply_rules(w, n, rules, (int)(sizeof rules / sizeof rules[0]));
}

static size_t step3(char *w, size_t n) {
    static const rule rules[] = {{"icate", "ic", COND_M0}, {"ative", "", COND_M0},  {"alize", "al", COND_M0},
                                 {"iciti", "ic", COND_M0}, {"ical", "ic", COND_M0}, {"ful", "", COND_M0},
                                 {"ness", "", COND_M0}};
    return apply_rules(w, n, rules, (int)(sizeof rules / sizeof rules[0]));
}

static size_t step4(char *w, size_t n) {
    static const rule rules[] = {
        {"al", "", COND_M1},    {"ance", "", COND_M1}, {"ence", "", COND_M1}, {"er", "", COND_M1},
        {"ic", "", COND_M1},    {"able", "", COND_M1}, {"ible", "", COND_M1}, {"ant", "", COND_M1},
        {"ement", "", COND_M1}, {"ment", "", COND_M1}, {"ent", "", COND_M1},  {"ion", "", COND_ION},
        {"ou", "", COND_M1},    {"ism", "", COND_M1},  {"ate", "", COND_M1},  {"iti", "", COND_M1},
        {"ous", "", COND_M1},   {"ive", "", COND_M1},  {"ize", "", COND_M1}};
    return apply_rules(w, n, rules, (int)(sizeof rules / sizeof rules[0]));
}

// Step 5a tries both e-rules (probate -> probat, cease -> ceas, rate stays).
static size_t step5a(char *w, size_t n) {
    if (!ends_with(w, n, "e")) return n;
    int m = measure(w, n - 1);
    return m > 1 || (m == 1 && !ends_cvc(w, n - 1)) ? n - 1 : n;
}

// controll -> control (m of the word less its last letter > 1), roll stays.
static size_t step5b(char *w, size_t n) {
    return ends_with(w, n, "ll") && measure(w, n - 1) > 1 ? n - 1 : n;
}

// nltk's table of irregular forms (NLTK_EXTENSIONS only).
static const char *const irregular[][2] = {
    {"sky", "sky"},        {"skies", "sky"},       {"dying", "die"},        {"lying", "lie"},
    {"tying", "tie"},      {"news", "news"},       {"innings", "inning"},   {"inning", "inning"},
    {"outings", "outing"}, {"outing", "outing"},   {"cannings", "canning"}, {"canning", "canning"},
    {"howe", "howe"},      {"proceed", "proceed"}, {"exceed", "exceed"},    {"succeed", "succeed"}};

size_t rouge_porter_stem(char *word, size_t len) {
    for (size_t i = 0; i < sizeof irregular / sizeof irregular[0]; i++)
        if (strlen(irregular[i][0]) == len && memcmp(word, irregular[i][0], len) == 0)
            return replace_end(word, len, len, irregular[i][1]);
    if (len <= 2) return len;
    size_t n = step1a(word, len);
    n = step1b(word, n);
    n = step1c(word, n);
    n = step2(word, n);
    n = step3(word, n);
    n = step4(word, n);
    n = step5a(word, n);
    return step5b(word, n);
}

// ---- Tokenizer

// Ends the token that starts at chars[start] and runs to chars[*at]: stems it
// (longer than 3 letters), terminates it and counts it; drops an empty one.
static void end_token(char *chars, size_t start, size_t *at, int stem, size_t *count) {
    size_t len = *at - start;
    if (len == 0) return;
    if (stem && len > 3) len = rouge_porter_stem(chars + start, len);
    if (len == 0) {  // rouge-score drops tokens that are empty after stemming
        *at = start;
        return;
    }
    chars[start + len] = '\0';
    *at = start + len + 1;
    (*count)++;
}

int rouge_tokenize(const char *text, size_t len, int stem, rouge_tokens *out) {
    memset(out, 0, sizeof *out);
    // Every token letter comes from at least one input byte and every
    // terminator from the separator after it, or from the end: len + 1 bytes.
    out->chars = mtp_malloc(len + 2, "ROUGE tokens");
    if (!out->chars) return -1;
    const unsigned char *s = (const unsigned char *)text;
    size_t at = 0, start = 0, count = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            out->chars[at++] = (char)c;
        } else if (c >= 'A' && c <= 'Z') {
            out->chars[at++] = (char)(c - 'A' + 'a');
        } else if (c == 0xE2 && i + 2 < len && s[i + 1] == 0x84 && s[i + 2] == 0xAA) {
            out->chars[at++] = 'k';  // U+212A KELVIN SIGN lowercases to ASCII "k"
            i += 2;
        } else if (c == 0xC4 && i + 1 < len && s[i + 1] == 0xB0) {
            // U+0130 lowercases to "i" + U+0307 COMBINING DOT ABOVE, a separator
            out->chars[at++] = 'i';
            i += 1;
            end_token(out->chars, start, &at, stem, &count);
            start = at;
        } else {
            end_token(out->chars, start, &at, stem, &count);
            start = at;
        }
    }
    end_token(out->chars, start, &at, stem, &count);
    if (count > (size_t)INT_MAX) {
        rouge_tokens_free(out);
        return mtp_errorf("ROUGE: a text of %zu tokens is more than this scorer handles", count);
    }
    out->tok = mtp_malloc((count ? count : 1) * sizeof *out->tok, "ROUGE tokens");
    if (!out->tok) {
        rouge_tokens_free(out);
        return -1;
    }
    char *p = out->chars;
    for (size_t k = 0; k < count; k++) {
        out->tok[k] = p;
        p += strlen(p) + 1;
    }
    out->n = (int)count;
    return 0;
}

void rouge_tokens_free(rouge_tokens *t) {
    free(t->chars);
    free(t->tok);
    memset(t, 0, sizeof *t);
}

// ---- Scores

double rouge_fmeasure(double p, double r) {
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

typedef struct {
    const char *s;
    int side, pos;  // side 0: target, 1: prediction
} token_ref;

static int cmp_token_ref(const void *a, const void *b) {
    return strcmp(((const token_ref *)a)->s, ((const token_ref *)b)->s);
}

// Numbers the distinct tokens of both sides so comparisons are integer ones:
// ids[0] gets the target's ids, ids[1] the prediction's (malloc'd; free both).
static int intern(const rouge_tokens *target, const rouge_tokens *prediction, int32_t *ids[2]) {
    size_t total = (size_t)target->n + (size_t)prediction->n;
    token_ref *refs = mtp_malloc((total ? total : 1) * sizeof *refs, "ROUGE token index");
    ids[0] = mtp_malloc((target->n ? (size_t)target->n : 1) * sizeof(int32_t), "ROUGE token ids");
    ids[1] = mtp_malloc((prediction->n ? (size_t)prediction->n : 1) * sizeof(int32_t), "ROUGE token ids");
    if (!refs || !ids[0] || !ids[1]) {
        free(refs);
        free(ids[0]);
        free(ids[1]);
        return -1;
    }
    size_t k = 0;
    for (int i = 0; i < target->n; i++) refs[k++] = (token_ref){target->tok[i], 0, i};
    for (int i = 0; i < prediction->n; i++) refs[k++] = (token_ref){prediction->tok[i], 1, i};
    qsort(refs, total, sizeof *refs, cmp_token_ref);
    int32_t id = -1;
    for (size_t i = 0; i < total; i++) {
        if (i == 0 || strcmp(refs[i].s, refs[i - 1].s) != 0) id++;
        ids[refs[i].side][refs[i].pos] = id;
    }
    free(refs);
    return 0;
}

typedef struct {
    const int32_t *ids;
    int n;
} ngram;

static int cmp_ngram(const void *a, const void *b) {
    const ngram *x = a, *y = b;
    for (int i = 0; i < x->n; i++)
        if (x->ids[i] != y->ids[i]) return x->ids[i] < y->ids[i] ? -1 : 1;
    return 0;
}

// The sorted n-grams of ids[0..len) (count = len - n + 1, or 0).
static ngram *ngrams_sorted(const int32_t *ids, int len, int n, long *count) {
    *count = len >= n ? (long)len - n + 1 : 0;
    ngram *g = mtp_malloc((*count ? (size_t)*count : 1) * sizeof *g, "ROUGE n-grams");
    if (!g) return NULL;
    for (long i = 0; i < *count; i++) g[i] = (ngram){ids + i, n};
    qsort(g, (size_t)*count, sizeof *g, cmp_ngram);
    return g;
}

// Clipped overlap of two sorted n-gram lists: per distinct n-gram, the
// smaller of its two counts.
static long clipped_overlap(const ngram *a, long na, const ngram *b, long nb) {
    long i = 0, j = 0, overlap = 0;
    while (i < na && j < nb) {
        int c = cmp_ngram(&a[i], &b[j]);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else {
            long ra = 0, rb = 0;
            const ngram key = a[i];
            while (i < na && cmp_ngram(&a[i], &key) == 0) i++, ra++;
            while (j < nb && cmp_ngram(&b[j], &key) == 0) j++, rb++;
            overlap += ra < rb ? ra : rb;
        }
    }
    return overlap;
}

static int ngram_ids(const int32_t *t, int tn, const int32_t *p, int pn, int n, rouge_prf *out) {
    long nt, np;
    ngram *gt = ngrams_sorted(t, tn, n, &nt);
    ngram *gp = gt ? ngrams_sorted(p, pn, n, &np) : NULL;
    if (!gp) {
        free(gt);
        return -1;
    }
    long overlap = clipped_overlap(gt, nt, gp, np);
    free(gt);
    free(gp);
    out->precision = (double)overlap / (double)(np > 1 ? np : 1);
    out->recall = (double)overlap / (double)(nt > 1 ? nt : 1);
    out->f1 = rouge_fmeasure(out->precision, out->recall);
    return 0;
}

// ROUGE-L's table is tn x pn: refused above this many cells (about 15 s at
// 1e9 a second) rather than running for hours on a pair of huge texts.
#define LCS_MAX_CELLS 1.6e10

static int lcs_ids(const int32_t *t, int tn, const int32_t *p, int pn, rouge_prf *out) {
    memset(out, 0, sizeof *out);
    if (tn == 0 || pn == 0) return 0;
    if ((double)tn * pn > LCS_MAX_CELLS)
        return mtp_errorf(
            "ROUGE-L of texts of %d and %d tokens takes %.2g steps (at most %.2g): split or "
            "shorten them",
            tn, pn, (double)tn * pn, LCS_MAX_CELLS);
    // Two rows of the (tn + 1, pn + 1) dynamic-programming table.
    int *prev = mtp_calloc((size_t)pn + 1, sizeof(int), "LCS table");
    int *cur = mtp_calloc((size_t)pn + 1, sizeof(int), "LCS table");
    if (!prev || !cur) {
        free(prev);
        free(cur);
        return -1;
    }
    for (int i = 1; i <= tn; i++) {
        for (int j = 1; j <= pn; j++)
            cur[j] = t[i - 1] == p[j - 1] ? prev[j - 1] + 1 : (prev[j] > cur[j - 1] ? prev[j] : cur[j - 1]);
        int *swap = prev;
        prev = cur;
        cur = swap;
    }
    int lcs = prev[pn];
    free(prev);
    free(cur);
    out->precision = (double)lcs / pn;
    out->recall = (double)lcs / tn;
    out->f1 = rouge_fmeasure(out->precision, out->recall);
    return 0;
}

int rouge_ngram(const rouge_tokens *target, const rouge_tokens *prediction, int n, rouge_prf *out) {
    if (n < 1) return mtp_errorf("ROUGE-N needs n >= 1, not %d", n);
    int32_t *ids[2];
    if (intern(target, prediction, ids)) return -1;
    int rc = ngram_ids(ids[0], target->n, ids[1], prediction->n, n, out);
    free(ids[0]);
    free(ids[1]);
    return rc;
}

int rouge_lcs(const rouge_tokens *target, const rouge_tokens *prediction, rouge_prf *out) {
    int32_t *ids[2];
    if (intern(target, prediction, ids)) return -1;
    int rc = lcs_ids(ids[0], target->n, ids[1], prediction->n, out);
    free(ids[0]);
    free(ids[1]);
    return rc;
}

int rouge_score(const char *target, size_t target_len, const char *prediction, size_t prediction_len,
                int stem, rouge_scores *out) {
    rouge_tokens t, p;
    if (rouge_tokenize(target, target_len, stem, &t)) return -1;
    if (rouge_tokenize(prediction, prediction_len, stem, &p)) {
        rouge_tokens_free(&t);
        return -1;
    }
    int32_t *ids[2];
    int rc = intern(&t, &p, ids);
    if (rc == 0) {
        rc = ngram_ids(ids[0], t.n, ids[1], p.n, 1, &out->rouge1);
        if (rc == 0) rc = ngram_ids(ids[0], t.n, ids[1], p.n, 2, &out->rouge2);
        if (rc == 0) rc = lcs_ids(ids[0], t.n, ids[1], p.n, &out->rougeL);
        free(ids[0]);
        free(ids[1]);
    }
    rouge_tokens_free(&t);
    rouge_tokens_free(&p);
    return rc;
}

// ---- Aggregation

double rouge_mean(const double *x, long n) {
    double sum = 0;
    for (long i = 0; i < n; i++) sum += x[i];
    return n > 0 ? sum / n : 0.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// numpy.percentile(sorted, q) with its default linear interpolation.
static double percentile(const double *sorted, int n, double q) {
    double pos = q / 100.0 * (n - 1);
    int lo = (int)floor(pos);
    if (lo >= n - 1) return sorted[n - 1];
    double frac = pos - lo;
    return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac;
}

int rouge_bootstrap(const double *x, long n, int samples, double confidence, uint64_t seed, double *low,
                    double *high) {
    if (n < 1 || samples < 1 || !(confidence >= 0 && confidence <= 1))
        return mtp_errorf("ROUGE bootstrap: needs items (%ld), samples (%d) >= 1 and confidence %g in [0, 1]",
                          n, samples, confidence);
    double *means = mtp_malloc((size_t)samples * sizeof *means, "bootstrap means");
    if (!means) return -1;
    mtp_rng rng;
    mtp_rng_seed(&rng, seed);
    for (int s = 0; s < samples; s++) {
        double sum = 0;
        for (long i = 0; i < n; i++) sum += x[mtp_rng_below(&rng, (uint64_t)n)];
        means[s] = sum / n;
    }
    qsort(means, (size_t)samples, sizeof *means, cmp_double);
    double delta = (1 - confidence) / 2;
    *low = percentile(means, samples, 100 * delta);
    *high = percentile(means, samples, 100 * (1 - delta));
    free(means);
    return 0;
}
