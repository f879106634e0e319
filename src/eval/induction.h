// induction.h: the induction task of Gloeckle et al. 2024, section 4.1
// (paper-digest.md section 6a): children's stories whose character names
// are replaced by random names of exactly two tokens; a model shows
// induction when, at a later mention of a name, it predicts the name's
// second token from the first (it can only have learned the pair from the
// earlier mention in the same story). Building the task (mtp task induction)
// and scoring it (mtp eval-induction) share this module. It knows text and
// token ids; the caller tokenizes through induction_tokenize_fn (the CLI
// wraps data/tokenizer.h), so eval/ does not depend on data/.
//
// Names (the heuristic, docs/eval-induction.md): a "word" is a maximal run of
// ASCII letters and non-ASCII characters other than punctuation (U+0080-U+00BF,
// U+2000-U+206F: curly quotes and dashes end a word). A word is a character name of a story
// when it is capitalized ASCII ([A-Z][a-z]+), occurs at least twice in the
// story (exact case, whole word), at least once NOT at a sentence start
// (a sentence start: the previous character other than spaces/tabs is the
// story's start, a newline, . ! ? : ; a quote ' " or a non-ASCII byte such as
// a curly quote), and is not on a stop list of capitalized non-names (Mom,
// Dad, Mr, Mrs, Grandma, God, days, ...).
#ifndef MTP_EVAL_INDUCTION_H
#define MTP_EVAL_INDUCTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/hashset.h"
#include "core/rng.h"
#include "eval/loglik.h"

#define INDUCTION_NAME_MAX 32  // bytes of a name, with its NUL

// ---- stories ----------------------------------------------------------------

// A byte range of a corpus.
typedef struct {
    size_t start, len;
} induction_range;

// The stories of text: the pieces between occurrences of sep with blanks
// trimmed, empty pieces skipped, and the text after the last sep dropped (a
// corpus cut at a size limit ends mid-story). *stories is malloc'd (free()).
int induction_split(const char *text, size_t len, const char *sep, induction_range **stories, int *count);

// ---- names --------------------------------------------------------------------

typedef struct {
    char (*names)[INDUCTION_NAME_MAX];
    int count, cap;
} induction_names;

// The character names of story[0..len) in order of first appearance.
int induction_find_names(const char *story, size_t len, induction_names *out);
// Appends a copy of name (shorter than INDUCTION_NAME_MAX bytes).
int induction_names_add(induction_names *n, const char *name);
void induction_names_free(induction_names *n);

// The set of words (lowercased ASCII letter runs) of a corpus: replacement
// names must not be words of it, in any case.
typedef hash_set induction_words;
int induction_words_build(const char *text, size_t len, induction_words *w);
int induction_words_has(const induction_words *w, const char *word);
void induction_words_free(induction_words *w);

// ---- tokens ---------------------------------------------------------------------

// Token ids of a text and the byte offset where each token ends.
typedef struct {
    int32_t *ids;
    size_t *ends;
    size_t n, cap;
} induction_tokens;
// Fills out (replacing its contents) with the tokens of text[0..len).
typedef int (*induction_tokenize_fn)(void *user, const char *text, size_t len, induction_tokens *out);
void induction_tokens_free(induction_tokens *t);

// The index of the first of the two tokens that make up text[start, end) if
// exactly two tokens overlap that range and the second ends at `end` (the
// first may begin before `start`, e.g. with a leading space); else -1.
long induction_two_tokens(const induction_tokens *t, size_t start, size_t end);

// ---- replacement names ------------------------------------------------------------

// Name pieces from a vocabulary: first pieces (a capital and lowercase
// letters, a token's text with any leading space dropped) and second pieces
// (lowercase letters only), each of at most 5 letters so names look like
// names. Pieces of 2+ letters are used when each list has at least 26 of them
// (a BPE), else single letters too (the byte tokenizer: names like "Bu").
typedef struct {
    char (*first)[INDUCTION_NAME_MAX];
    char (*second)[INDUCTION_NAME_MAX];
    int n_first, n_second;
} induction_pool;
// piece[i] is token i's text (NUL-terminated; NULL for special tokens).
int induction_pool_build(const char *const *piece, int count, induction_pool *pool);
void induction_pool_free(induction_pool *pool);

// Draws first + second piece pairs until one is a new name: a vowel in it, not
// a word of `words` (any case), not among avoid[0..n_avoid), and exactly two
// tokens both after a space (" Name") and alone ("Name", as at a sentence
// start or after a quote). Fails after max_tries draws.
int induction_pick_name(const induction_pool *pool, mtp_rng *rng, induction_tokenize_fn tokenize, void *user,
                        const induction_words *words, const induction_names *avoid, long max_tries,
                        char out[INDUCTION_NAME_MAX]);

// ---- renaming ------------------------------------------------------------------------

// One mention of name `name` at bytes [start, end) of a story.
typedef struct {
    int name;
    size_t start, end;
} induction_occurrence;

// Replaces every whole-word, exact-case occurrence of from->names[i] in
// story[0..len) by to->names[i]. *text (NUL-terminated) and *occ (in text
// order, spans in the new text) are malloc'd.
int induction_rename(const char *story, size_t len, const induction_names *from, const induction_names *to,
                     char **text, size_t *text_len, induction_occurrence **occ, int *n_occ);

// ---- scoring -----------------------------------------------------------------------------

typedef struct {
    long stories;
    long occurrences;     // scored: mentions after a name's first whose name is two tokens
    long correct;         // ... whose second token is head 1's argmax (the induction score)
    long first_correct;   // ... whose first token is head 1's argmax (for contrast)
    long first_mentions;  // first mentions, not scored
    long not_two_tokens;  // later mentions skipped: not exactly two tokens here
    long truncated;       // stories longer than the scoring window (see loglik.h)
} induction_counts;

// Scores one story, teacher-forced: the sequence is [doc_start] + toks->ids
// (what a training document starts after: tokenizer_doc_start, the BOS id
// of a SentencePiece tokenizer, else end-of-text); for every mention of a
// name after its first (in text order), with the name's tokens at i, i+1,
// compares head 1's argmax after token i with token i+1 (second token) and
// after token i-1 with token i (first token). occ: n_occ mentions, names in
// [0, n_names). Adds to *c.
int induction_score_story(loglik_scorer *s, int32_t doc_start, const induction_tokens *toks,
                          const induction_occurrence *occ, int n_occ, int n_names, induction_counts *c);

#endif
