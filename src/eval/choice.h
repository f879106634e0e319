// choice.h: multiple-choice tasks scored by log-likelihood (mtp eval-choice).
// This layer reads the item files and turns each item into options, each a
// (context, continuation) pair of texts; the caller tokenizes them and scores
// each continuation after its context (eval/loglik.h), and the option with
// the highest score is the model's answer. Nothing here knows tokens.
//
// Formats (docs/eval-choice.md):
//   gauntlet   JSONL, one item per non-blank line, as in the Mosaic Eval
//              Gauntlet's local data. Two kinds, fixed by the first line:
//              multiple choice {"query": Q, "choices": [C0, C1, ...], "gold": g}:
//                  option i = (Q + delimiter, Ci);
//              schema (Winogrande) {"context_options": [X0, X1, ...],
//                  "continuation": C, "gold": g}: option i = (Xi + delimiter, C).
//              Completion and QA sets (LAMBADA's {context, continuation},
//              TriviaQA's and GSM8K's {context, answer}) are refused.
//   hellaswag  text, 6 lines per item: context, gold (0-3), four endings
//              (the klosax extraction of the validation set); option i =
//              (context + delimiter, ending i).
// The delimiter (default " ") is split as lm-evaluation-harness splits a
// context's trailing blanks: its trailing blanks start the continuation, the
// rest ends the context (so " choice" is one word to a BPE, not " " then
// "choice"); a delimiter made only of blanks is left out after a context that
// already ends in a blank or newline (PIQA's queries end in "\n").
#ifndef MTP_EVAL_CHOICE_H
#define MTP_EVAL_CHOICE_H

#include <stddef.h>

typedef enum { CHOICE_AUTO, CHOICE_GAUNTLET, CHOICE_HELLASWAG } choice_format;
typedef enum { CHOICE_MULTIPLE, CHOICE_SCHEMA } choice_kind;

typedef struct {
    char *context;        // text before the continuation
    char *continuation;   // text scored
    size_t choice_bytes;  // bytes of the choice's own text (no delimiter), >= 1: the
                          // length normalization divides by it
} choice_option;

typedef struct {
    choice_option *options;
    int n_options, gold;
    long line;  // 1-based line where the item starts
} choice_item;

typedef struct {
    choice_item *items;
    int n_items;
    choice_format format;  // GAUNTLET or HELLASWAG after loading
    choice_kind kind;
} choice_set;

// Reads the first max_items items (0 = all) of `path` in `format` (AUTO: a
// file whose first non-blank byte is '{' is gauntlet JSONL, any other text
// hellaswag; a bzip2 file is refused with the command that decompresses it).
// Every item is checked (fields, types, at least 2 options, gold in range,
// non-empty texts) before any is returned; errors read "FILE:LINE: ...". On
// success set->n_items >= 1; free with choice_free.
int choice_load(const char *path, choice_format format, const char *delimiter, int max_items,
                choice_set *set);
void choice_free(choice_set *set);

// "gauntlet" / "hellaswag", "multiple_choice" / "schema".
const char *choice_format_name(choice_format f);
const char *choice_kind_name(choice_kind k);

// The index of the highest score (the first among ties).
int choice_best(const double *scores, int n);

#endif
