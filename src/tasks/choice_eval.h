// choice_eval.h: multiple-choice accuracy by log-likelihood (mtp
// eval-choice). Each option's continuation is scored after its context under
// head 1 (eval/loglik.h); the answer is the option with the highest sum of
// log-probabilities ("accuracy") and, separately, the highest sum per byte of
// the choice's text ("accuracy_norm", lm-evaluation-harness's acc_norm: byte
// counts do not depend on the tokenizer, so models with different
// vocabularies compare). Every context starts with the end-of-text token, as
// every document does in training. Item files: eval/choice.h.
#ifndef MTP_TASKS_CHOICE_EVAL_H
#define MTP_TASKS_CHOICE_EVAL_H

#include "core/progress.h"
#include "data/tokenizer.h"
#include "eval/choice.h"
#include "eval/loglik.h"

typedef struct {
    int items, correct, correct_norm, truncated, options;
    long tokens;  // continuation tokens scored
    double seconds;
} choice_result;

int choice_evaluate(loglik_scorer *s, const tokenizer *tok, const choice_set *set,
                    const progress_sink *progress, choice_result *r);

#endif
