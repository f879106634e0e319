// rouge_eval.h: ROUGE-1/2/L F1 (eval/rouge.h) of summaries that are given
// (predictions and references files) or that a model writes greedily for
// XSum documents (mtp eval-rouge; docs/eval-rouge.md).
//
// Files: JSONL objects with a "text" field (references may hold "summary"
// instead, so an XSum file serves as is), or plain text with one item per
// line (blank lines are empty items); a file whose first non-blank character
// is '{' is read as JSONL. XSum: one {"id": .., "document": .., "summary": ..}
// per line.
#ifndef MTP_TASKS_ROUGE_EVAL_H
#define MTP_TASKS_ROUGE_EVAL_H

#include <stdint.h>

#include "core/progress.h"
#include "eval/rouge.h"
#include "infer/generate.h"

// What follows the document in the prompt (the GPT-2 paper's summarization cue).
#define ROUGE_PROMPT_SUFFIX "\nTL;DR:"

typedef struct {
    char *id;         // NULL when the data has none
    char *text;       // prediction or, for XSum, the document (then the summary written for it)
    char *reference;  // XSum: the reference summary
} rouge_item;

typedef struct {
    rouge_item *v;
    long n, cap;
} rouge_items;

// Reads the items of path: xsum = XSum JSONL; else JSONL or plain lines, alt
// allowing "summary" for "text". Errors name `flag`, the file and the line.
int rouge_items_read(const char *flag, const char *path, int xsum, int alt, rouge_items *out);
// Keeps the first n items.
void rouge_items_truncate(rouge_items *l, long n);
void rouge_items_free(rouge_items *l);

// Replaces each item's document by g's greedy summary: the prompt is
// DOCUMENT + ROUGE_PROMPT_SUFFIX, cut from the left (in tokens) to leave
// max_new tokens of the context; the summary is what follows, from its first
// non-blank character up to a newline, end-of-text or max_new tokens,
// trimmed, with invalid UTF-8 replaced by U+FFFD. *truncated counts the
// prompts cut. Errors name `label` and the item.
int rouge_summarize(rouge_items *items, generator *g, int max_new, const char *label,
                    const progress_sink *progress, long *truncated);
// JSONL {"id": .., "text": ..} per item.
int rouge_write_predictions(const char *path, const rouge_items *items);

typedef struct {
    double mean[3];          // rouge1, rouge2, rougeL F1 means over items
    double low[3], high[3];  // 95% bootstrap intervals (when asked)
} rouge_report;

// Scores preds[i].text against refs[i].text (refs NULL: preds[i].reference);
// bootstrap > 0 resamples that many times with `seed`; per_item (may be NULL)
// gets each item's precision, recall and F1 as JSONL.
int rouge_evaluate(const rouge_items *preds, const rouge_items *refs, int stem, int bootstrap, uint64_t seed,
                   const char *per_item, rouge_report *out);
// A score as the shortest decimal that reads back as the same double (cJSON's
// own printing accepts 15 digits that are only close).
struct cJSON *rouge_exact_number(double x);

#endif
