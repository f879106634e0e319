// gen_eval.h: exact-match accuracy of greedy generations on prompt/answer
// JSONL (mtp eval-gen; the paper's polynomial arithmetic, section 4.2, and
// any task of that shape). Every prompt is encoded and checked against the
// context before a model runs, so bad input fails at once; then each item is
// generated greedily until the stop string and compared with its answer
// (eval/exact_match.h has the rule), per group.
#ifndef MTP_TASKS_GEN_EVAL_H
#define MTP_TASKS_GEN_EVAL_H

#include "core/progress.h"
#include "eval/exact_match.h"
#include "infer/generate.h"

typedef struct {
    const char *path;
    exact_match_item *items;
    long count;
    int32_t **ids;  // [count] encoded prompts
    int *n_ids;
} gen_eval_set;

// Reads the first max_items (0 = all) of path and encodes their prompts with
// tok (an empty prompt starts from end-of-text); each must leave room to
// generate in `context` tokens.
int gen_eval_load(gen_eval_set *set, const char *path, long max_items, const tokenizer *tok, int context);
void gen_eval_free(gen_eval_set *set);
// Generates each item's answer with g (greedy unless g's sampler says
// otherwise) until `stop` ("" = none), end-of-text or max_new tokens, and
// counts the matches per group into tally (initialized by the caller).
int gen_eval_run(const gen_eval_set *set, generator *g, int max_new, const char *stop,
                 const progress_sink *progress, exact_match_tally *tally);

#endif
