// induction.h: the induction experiment of Gloeckle et al. 2024, section
// 4.1 (eval/induction.h has the text and token logic): making its data
// (mtp task induction) and scoring a model on it (mtp eval-induction).
#ifndef MTP_TASKS_INDUCTION_H
#define MTP_TASKS_INDUCTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/progress.h"
#include "data/tokenizer.h"
#include "eval/induction.h"

// induction_tokenize_fn with user = a const tokenizer *: the ids of text and
// where each token's bytes end (its decoded lengths added up). Fails if the
// tokenizer does not give back the text's length.
int induction_tokenize(void *user, const char *text, size_t len, induction_tokens *out);

// ---- the data -------------------------------------------------------------

typedef struct {
    const char *stories;    // corpus file, stories separated by `separator`
    const char *tokenizer;  // 'bytes', a tokenizer.json or a directory
    const char *out;        // output directory
    const char *separator;
    int held_out;  // test stories
    uint64_t seed;
} induction_data_options;

typedef struct {
    int stories, held, kept, dups, names;
    long later;  // mentions after a name's first: what eval-induction scores
} induction_data_summary;

// Writes OUT/test.jsonl (renamed held-out stories, one JSON object per line:
// story, text, names [{name, original, mentions}], occurrences [{name, start,
// end}]), OUT/train.txt (every other story, less copies of held-out ones) and
// OUT/README.txt. The same inputs give the same files.
int induction_data_make(const induction_data_options *o, induction_data_summary *sum);

// ---- scoring ----------------------------------------------------------------

// One story of test.jsonl.
typedef struct {
    char *text;
    size_t len;
    induction_occurrence *occ;
    int n_occ, n_names;
    long line;
} induction_story;

// Reads the first max (0 = all) stories of a test.jsonl, checking that every
// mention lies in the text and spells its name.
int induction_stories_read(const char *path, int max, induction_story **out, int *count);
void induction_stories_free(induction_story *s, int n);
// Scores every story (induction_score_story after tokenizing with tok).
int induction_evaluate(loglik_scorer *s, const tokenizer *tok, const induction_story *st, int n,
                       const progress_sink *progress, induction_counts *c, double *seconds);

#endif
