// rouge.h: ROUGE-1, ROUGE-2 and ROUGE-L as Google's `rouge-score` package
// (google-research/rouge, `rouge_scorer.RougeScorer`) computes them, the
// implementation most summarization papers report (docs/eval-rouge.md).
//
// Tokenization (rouge-score's DefaultTokenizer): lowercase (Python's
// str.lower()), every character outside [a-z0-9] becomes a separator, the
// tokens are the maximal runs of [a-z0-9]. Non-ASCII text is dropped except
// where Python's lowercasing yields ASCII: U+212A KELVIN SIGN -> "k" and
// U+0130 (I with dot above) -> "i" + a combining dot (a separator). Bytes that
// are not valid UTF-8 are separators. With stemming (use_stemmer=True), tokens
// longer than 3 characters go through nltk's PorterStemmer in its default
// NLTK_EXTENSIONS mode, the one rouge-score constructs.
//
// Scores of one (target, prediction) pair:
//   ROUGE-N  clipped n-gram overlap o = sum over n-grams g of
//            min(count_target(g), count_prediction(g));
//            P = o / max(#prediction n-grams, 1), R = o / max(#target n-grams, 1)
//   ROUGE-L  l = length of the longest common subsequence of the token
//            sequences (sentence-level "rougeL", not "rougeLsum");
//            P = l / len(prediction), R = l / len(target), all 0 if either is empty
//   F1 = 2PR / (P + R), 0 when P + R = 0.
#ifndef MTP_EVAL_ROUGE_H
#define MTP_EVAL_ROUGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double precision, recall, f1;
} rouge_prf;

typedef struct {
    rouge_prf rouge1, rouge2, rougeL;
} rouge_scores;

// The tokens of one text: tok[i] is a NUL-terminated string in `chars`.
typedef struct {
    char *chars;
    char **tok;
    int n;
} rouge_tokens;

// Tokenizes text[0..len) as rouge-score does (stem: 1 = use_stemmer=True).
// Free with rouge_tokens_free. Returns 0, or -1 (out of memory, or more than
// INT_MAX tokens) with mtp_errorf.
int rouge_tokenize(const char *text, size_t len, int stem, rouge_tokens *out);
void rouge_tokens_free(rouge_tokens *t);

// nltk's PorterStemmer().stem (NLTK_EXTENSIONS mode) of the lowercase ASCII
// word[0..len), in place; returns the stem's length (never more than len).
// word[result] is not written: the caller terminates it.
size_t rouge_porter_stem(char *word, size_t len);

// ROUGE-N (n >= 1) and ROUGE-L of token sequences. Return 0, or -1 when out
// of memory.
int rouge_ngram(const rouge_tokens *target, const rouge_tokens *prediction, int n, rouge_prf *out);
int rouge_lcs(const rouge_tokens *target, const rouge_tokens *prediction, rouge_prf *out);

// ROUGE-1, ROUGE-2 and ROUGE-L of two texts: rouge-score's
// RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=stem).score(target, prediction).
int rouge_score(const char *target, size_t target_len, const char *prediction, size_t prediction_len,
                int stem, rouge_scores *out);

// 2pr / (p + r), 0 when p + r = 0 (rouge-score's scoring.fmeasure).
double rouge_fmeasure(double p, double r);

// The mean of x[0..n) (0 for n = 0): what the CLI reports per metric.
double rouge_mean(const double *x, long n);

// A bootstrap percentile interval for the mean of x[0..n), n >= 1, as
// rouge-score's BootstrapAggregator computes low/high: `samples` resamples of
// n items drawn with replacement, and the (1 - confidence)/2 and
// 1 - (1 - confidence)/2 percentiles of their means (linear interpolation
// between order statistics, numpy.percentile's default). The indices come from
// mtp_rng seeded with `seed`, so the interval is reproducible, and the same
// seed resamples the same items for every metric. Returns 0, or -1 (bad
// arguments, out of memory) with mtp_errorf.
int rouge_bootstrap(const double *x, long n, int samples, double confidence, uint64_t seed, double *low,
                    double *high);

#endif
