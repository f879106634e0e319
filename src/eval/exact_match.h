// exact_match.h: the bookkeeping of exact-match evaluation (mtp eval-gen):
// prompt/answer items read from JSONL, the matching rule, and accuracy per
// group. Decoding is the caller's (infer/decode.h); this layer knows text only.
//
// Items file: one JSON object per non-blank line,
//   {"prompt": "(31024+02100)=", "answer": "33124", "group": "m=1"}
// "prompt" and "answer" are required strings, "group" an optional string;
// other fields are ignored.
//
// Matching rule: the generated text (the caller cuts it before the stop
// string) and the answer, each with blanks (space, tab, CR, LF) trimmed at
// both ends, must be byte for byte equal.
#ifndef MTP_EVAL_EXACT_MATCH_H
#define MTP_EVAL_EXACT_MATCH_H

#include <stddef.h>

typedef struct {
    char *prompt, *answer;
    char *group;  // NULL: the item counts in the overall accuracy only
    long line;    // 1-based line in the file, for messages
} exact_match_item;

// Reads the items of a JSONL file, the first max_items (0 = all). Errors
// ("FILE:LINE: ...") for a missing file, a line that is not a JSON object,
// a missing or non-string field and a file without items. On success
// *items (free with exact_match_items_free) holds *count >= 1 items.
int exact_match_read(const char *path, long max_items, exact_match_item **items, long *count);
void exact_match_items_free(exact_match_item *items, long count);

// 1 if text[0..len) and answer are equal after trimming blanks, else 0.
int exact_match_compare(const char *text, size_t len, const char *answer);

typedef struct {
    char *name;
    long n, correct;
} exact_match_group;

// Counts per group, in the order groups first appear, and overall.
typedef struct {
    exact_match_group *groups;
    int n_groups, cap;
    long n, correct;
} exact_match_tally;

void exact_match_tally_init(exact_match_tally *t);
// Counts one item (correct: 0 or 1) in group (NULL: overall only).
int exact_match_tally_add(exact_match_tally *t, const char *group, int correct);
void exact_match_tally_free(exact_match_tally *t);
// correct / n, 0 when n = 0.
double exact_match_accuracy(long correct, long n);
// The report as one line of JSON (malloc'd; free()):
// {"accuracy": a, "correct": c, "items": n, "groups": {"m=1": {"accuracy": a, "correct": c, "n": n}, ...}}
char *exact_match_tally_json(const exact_match_tally *t);

#endif
