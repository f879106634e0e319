// induction.c: see induction.h.
#include "eval/induction.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hashset.h"
#include "core/strbuf.h"

// Capitalized words that are not character names: family words, titles,
// holidays, days and unambiguous months, and words that start a clause
// inside a quotation without being a sentence start to the heuristic.
static const char *const stop_words[] = {
    "Mom",      "Mommy",       "Mum",         "Mummy",     "Mama",      "Momma",     "Ma",
    "Dad",      "Daddy",       "Papa",        "Pa",        "Grandma",   "Grandpa",   "Granny",
    "Grandad",  "Grandmother", "Grandfather", "Nana",      "Mr",        "Mrs",       "Ms",
    "Miss",     "Dr",          "Sir",         "Madam",     "Aunt",      "Auntie",    "Uncle",
    "God",      "Santa",       "Claus",       "Little",    "Big",       "The",       "And",
    "But",      "Then",        "So",          "Christmas", "Easter",    "Halloween", "Thanksgiving",
    "Monday",   "Tuesday",     "Wednesday",   "Thursday",  "Friday",    "Saturday",  "Sunday",
    "January",  "February",    "March",       "July",      "September", "October",   "November",
    "December", "English",     "Earth",       "Okay",      "Yes",       "No",        "Oh",
    "Hi",       "Hello",       "Bye",         "Goodbye",   "Please",    "Thank",     "Thanks",
    "Sorry",    "Wow",
};

static int is_upper(unsigned char c) {
    return c >= 'A' && c <= 'Z';
}
static int is_lower(unsigned char c) {
    return c >= 'a' && c <= 'z';
}
// The bytes of the word character at s[i] (0: not one). Word characters are
// ASCII letters and non-ASCII characters other than Latin-1 punctuation
// (U+0080-U+00BF) and general punctuation (U+2000-U+206F: curly quotes,
// dashes), so "Zoë" is one word (never a name) and "Lily’s" holds "Lily".
static size_t word_char(const char *s, size_t i, size_t len) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) return is_upper(c) || is_lower(c);
    if (c == 0xC2) return 0;
    if (c == 0xE2 && i + 1 < len && ((unsigned char)s[i + 1] == 0x80 || (unsigned char)s[i + 1] == 0x81))
        return 0;
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;  // a stray continuation byte: 1
    return i + n <= len ? n : len - i;
}

// The end of the word starting at s[i] (i itself if none does).
static size_t word_end(const char *s, size_t i, size_t len) {
    size_t n;
    while (i < len && (n = word_char(s, i, len)) > 0) i += n;
    return i;
}
static int is_blank(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// ---- stories ------------------------------------------------------------------

static const char *find(const char *hay, size_t n, const char *needle, size_t m) {
    for (size_t i = 0; i + m <= n; i++) {
        const char *p = memchr(hay + i, needle[0], n - m - i + 1);
        if (!p) return NULL;
        i = (size_t)(p - hay);
        if (!memcmp(p, needle, m)) return p;
    }
    return NULL;
}

int induction_split(const char *text, size_t len, const char *sep, induction_range **stories, int *count) {
    size_t m = strlen(sep);
    int cap = 0;
    *stories = NULL;
    *count = 0;
    if (m == 0) return mtp_errorf("the story separator is empty");
    for (size_t at = 0;;) {
        const char *hit = find(text + at, len - at, sep, m);
        if (!hit) break;  // what follows the last separator is cut off: dropped
        size_t a = at, b = (size_t)(hit - text);
        while (a < b && is_blank((unsigned char)text[a])) a++;
        while (b > a && is_blank((unsigned char)text[b - 1])) b--;
        if (b > a) {
            if (*count == cap) {
                cap = cap ? 2 * cap : 1024;
                induction_range *grown = realloc(*stories, sizeof *grown * (size_t)cap);
                if (!grown) {
                    free(*stories);
                    *stories = NULL;
                    return mtp_errorf("out of memory for %d stories", cap);
                }
                *stories = grown;
            }
            (*stories)[(*count)++] = (induction_range){a, b - a};
        }
        at = (size_t)(hit - text) + m;
    }
    return 0;
}

// ---- names ----------------------------------------------------------------------

static int names_push(induction_names *n, const char *s, size_t len) {
    if (len >= INDUCTION_NAME_MAX) return mtp_errorf("name '%.*s' is too long", (int)len, s);
    if (n->count == n->cap) {
        int cap = n->cap ? 2 * n->cap : 8;
        char(*grown)[INDUCTION_NAME_MAX] = realloc(n->names, sizeof *grown * (size_t)cap);
        if (!grown) return mtp_errorf("out of memory for %d names", cap);
        n->names = grown;
        n->cap = cap;
    }
    memcpy(n->names[n->count], s, len);
    n->names[n->count++][len] = '\0';
    return 0;
}

int induction_names_add(induction_names *n, const char *name) {
    return names_push(n, name, strlen(name));
}

void induction_names_free(induction_names *n) {
    free(n->names);
    memset(n, 0, sizeof *n);
}

static int names_index(const induction_names *n, const char *s, size_t len) {
    for (int i = 0; i < n->count; i++)
        if (strlen(n->names[i]) == len && !memcmp(n->names[i], s, len)) return i;
    return -1;
}

// Capitalized ASCII: [A-Z][a-z]+.
static int capitalized(const char *s, size_t len) {
    if (len < 2 || len >= INDUCTION_NAME_MAX || !is_upper((unsigned char)s[0])) return 0;
    for (size_t i = 1; i < len; i++)
        if (!is_lower((unsigned char)s[i])) return 0;
    return 1;
}

static int sentence_start(const char *story, size_t at) {
    while (at > 0 && (story[at - 1] == ' ' || story[at - 1] == '\t')) at--;
    if (at == 0) return 1;
    unsigned char c = (unsigned char)story[at - 1];
    return c >= 0x80 || strchr("\n\r.!?:;\"'", c) != NULL;
}

static int stop_word(const char *s, size_t len) {
    for (size_t i = 0; i < sizeof stop_words / sizeof *stop_words; i++)
        if (strlen(stop_words[i]) == len && !memcmp(stop_words[i], s, len)) return 1;
    return 0;
}

typedef struct {
    char name[INDUCTION_NAME_MAX];
    int count;   // whole-word, exact-case occurrences
    int inside;  // 1 if one of them is not at a sentence start
} candidate;

int induction_find_names(const char *story, size_t len, induction_names *out) {
    candidate *cand = NULL;
    int n = 0, cap = 0;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < len;) {
        size_t j = word_end(story, i, len);
        if (j == i) {
            i++;
            continue;
        }
        if (capitalized(story + i, j - i) && !stop_word(story + i, j - i)) {
            int k = 0;
            while (k < n && !(strlen(cand[k].name) == j - i && !memcmp(cand[k].name, story + i, j - i))) k++;
            if (k == n) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 16;
                    candidate *grown = realloc(cand, sizeof *grown * (size_t)cap);
                    if (!grown) {
                        free(cand);
                        return mtp_errorf("out of memory finding names");
                    }
                    cand = grown;
                }
                memcpy(cand[n].name, story + i, j - i);  // j - i < INDUCTION_NAME_MAX: capitalized()
                cand[n].name[j - i] = '\0';
                cand[n].count = cand[n].inside = 0;
                n++;
            }
            cand[k].count++;
            if (!sentence_start(story, i)) cand[k].inside = 1;
        }
        i = j;
    }
    int rc = 0;
    for (int k = 0; k < n && rc == 0; k++)
        if (cand[k].count >= 2 && cand[k].inside) rc = names_push(out, cand[k].name, strlen(cand[k].name));
    free(cand);
    if (rc) induction_names_free(out);
    return rc;
}

// ---- the corpus's words ----------------------------------------------------------

int induction_words_build(const char *text, size_t len, induction_words *w) {
    memset(w, 0, sizeof *w);
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        if (!is_upper(c) && !is_lower(c)) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && (is_upper((unsigned char)text[j]) || is_lower((unsigned char)text[j]))) j++;
        if (hash_set_add(w, hash_text(text + i, j - i, 1)) < 0) {
            induction_words_free(w);
            return -1;
        }
        i = j;
    }
    return 0;
}

int induction_words_has(const induction_words *w, const char *word) {
    return hash_set_has(w, hash_text(word, strlen(word), 1));
}

void induction_words_free(induction_words *w) {
    hash_set_free(w);
}

// ---- tokens ---------------------------------------------------------------------------

void induction_tokens_free(induction_tokens *t) {
    free(t->ids);
    free(t->ends);
    memset(t, 0, sizeof *t);
}

long induction_two_tokens(const induction_tokens *t, size_t start, size_t end) {
    // the first token ending after `start` (ends ascend)
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->ends[mid] > start)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo + 1 >= t->n || t->ends[lo] >= end || t->ends[lo + 1] != end) return -1;
    return (long)lo;
}

// ---- replacement names ------------------------------------------------------------------

#define PIECE_MAX 5  // letters of one piece: short pieces make name-like names

static int cmp_piece(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

// Sorts and dedupes list[0..*n); keeps pieces of >= min_len letters.
static void pieces_finish(char (*list)[INDUCTION_NAME_MAX], int *n, size_t min_len) {
    qsort(list, (size_t)*n, sizeof *list, cmp_piece);
    int k = 0;
    for (int i = 0; i < *n; i++)
        if (strlen(list[i]) >= min_len && (k == 0 || strcmp(list[k - 1], list[i])))
            memmove(list[k++], list[i], INDUCTION_NAME_MAX);
    *n = k;
}

static int count_min(char (*list)[INDUCTION_NAME_MAX], int n, size_t min_len) {
    int k = 0;
    for (int i = 0; i < n; i++) k += strlen(list[i]) >= min_len;
    return k;
}

int induction_pool_build(const char *const *piece, int count, induction_pool *pool) {
    memset(pool, 0, sizeof *pool);
    pool->first = mtp_calloc((size_t)count + 1, sizeof *pool->first, "name pieces");
    pool->second = mtp_calloc((size_t)count + 1, sizeof *pool->second, "name pieces");
    if (!pool->first || !pool->second) {
        induction_pool_free(pool);
        return -1;
    }
    for (int i = 0; i < count; i++) {
        const char *p = piece[i];
        if (!p) continue;
        size_t n = strlen(p);
        int lower = n > 0 && n <= PIECE_MAX, cap = p[0] == ' ' ? 1 : 0;
        for (size_t j = 0; j < n && lower; j++) lower = is_lower((unsigned char)p[j]);
        if (lower) memcpy(pool->second[pool->n_second++], p, n + 1);
        const char *q = p + cap;  // a first piece may carry a leading space
        size_t m = n - (size_t)cap;
        int first = m > 0 && m <= PIECE_MAX && is_upper((unsigned char)q[0]);
        for (size_t j = 1; j < m && first; j++) first = is_lower((unsigned char)q[j]);
        if (first) memcpy(pool->first[pool->n_first++], q, m + 1);
    }
    size_t min_len = 1;
    if (count_min(pool->first, pool->n_first, 2) >= 26 && count_min(pool->second, pool->n_second, 2) >= 26)
        min_len = 2;
    pieces_finish(pool->first, &pool->n_first, min_len);
    pieces_finish(pool->second, &pool->n_second, min_len);
    if (!pool->n_first || !pool->n_second) {
        induction_pool_free(pool);
        return mtp_errorf(
            "the vocabulary has no tokens of a capital letter (first piece) or of lowercase letters (second "
            "piece) to build two-token names from");
    }
    return 0;
}

void induction_pool_free(induction_pool *pool) {
    free(pool->first);
    free(pool->second);
    memset(pool, 0, sizeof *pool);
}

static int has_vowel(const char *s) {
    for (; *s; s++)
        if (strchr("aeiouyAEIOUY", *s)) return 1;
    return 0;
}

int induction_pick_name(const induction_pool *pool, mtp_rng *rng, induction_tokenize_fn tokenize, void *user,
                        const induction_words *words, const induction_names *avoid, long max_tries,
                        char out[INDUCTION_NAME_MAX]) {
    induction_tokens t = {0};
    char spaced[INDUCTION_NAME_MAX + 1];
    for (long tries = 0; tries < max_tries; tries++) {
        const char *a = pool->first[mtp_rng_below(rng, (uint64_t)pool->n_first)];
        const char *b = pool->second[mtp_rng_below(rng, (uint64_t)pool->n_second)];
        snprintf(out, INDUCTION_NAME_MAX, "%s%s", a, b);
        size_t n = strlen(out);
        if (!has_vowel(out) || induction_words_has(words, out) || names_index(avoid, out, n) >= 0) continue;
        snprintf(spaced, sizeof spaced, " %s", out);
        if (tokenize(user, spaced, n + 1, &t)) goto fail;
        if (induction_two_tokens(&t, 1, n + 1) < 0) continue;
        if (tokenize(user, out, n, &t)) goto fail;
        if (induction_two_tokens(&t, 0, n) < 0) continue;
        induction_tokens_free(&t);
        return 0;
    }
    mtp_errorf("no new two-token name in %ld draws from %d first and %d second name pieces", max_tries,
               pool->n_first, pool->n_second);
fail:
    induction_tokens_free(&t);
    return -1;
}

// ---- renaming ----------------------------------------------------------------------------

int induction_rename(const char *story, size_t len, const induction_names *from, const induction_names *to,
                     char **text, size_t *text_len, induction_occurrence **occ, int *n_occ) {
    strbuf b = {0};
    int cap = 0;
    *occ = NULL;
    *n_occ = 0;
    if (strbuf_add(&b, "", 0)) return -1;
    for (size_t i = 0; i < len;) {
        size_t j = word_end(story, i, len);
        if (j == i) {  // a byte between words
            if (strbuf_add(&b, story + i, 1)) goto fail;
            i++;
            continue;
        }
        int k = names_index(from, story + i, j - i);
        if (k < 0) {
            if (strbuf_add(&b, story + i, j - i)) goto fail;
        } else {
            if (*n_occ == cap) {
                cap = cap ? 2 * cap : 16;
                induction_occurrence *grown = realloc(*occ, sizeof *grown * (size_t)cap);
                if (!grown) {
                    mtp_errorf("out of memory renaming a story");
                    goto fail;
                }
                *occ = grown;
            }
            size_t start = b.len;
            if (strbuf_add(&b, to->names[k], strlen(to->names[k]))) goto fail;
            (*occ)[(*n_occ)++] = (induction_occurrence){k, start, b.len};
        }
        i = j;
    }
    *text = b.s;
    *text_len = b.len;
    return 0;
fail:
    free(b.s);
    free(*occ);
    *occ = NULL;
    *n_occ = 0;
    return -1;
}

// ---- scoring ------------------------------------------------------------------------------------

static int cmp_occurrence(const void *a, const void *b) {
    const induction_occurrence *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

typedef struct {
    int32_t *pred;  // (n + 1) head 1's argmax at the row predicting position p
    int V;
} argmax_rows;

static int store_argmax(void *user, int p, const float *logits) {
    argmax_rows *a = user;
    a->pred[p] = loglik_argmax(logits, a->V);
    return 0;
}

int induction_score_story(loglik_scorer *s, int32_t doc_start, const induction_tokens *toks,
                          const induction_occurrence *occ, int n_occ, int n_names, induction_counts *c) {
    size_t n = toks->n, text_len = n ? toks->ends[n - 1] : 0;
    if (n + 1 > (size_t)1 << 30) return mtp_errorf("a story of %zu tokens is too long to score", n);
    induction_occurrence *sorted = mtp_malloc(sizeof *sorted * ((size_t)n_occ + 1), "mentions");
    int32_t *seq = mtp_malloc(sizeof(int32_t) * (n + 1), "story tokens");
    int32_t *pred = mtp_malloc(sizeof(int32_t) * (n + 1), "predictions");
    long *at = mtp_malloc(sizeof(long) * ((size_t)n_occ + 1), "mention tokens");
    char *seen = mtp_calloc((size_t)n_names + 1, 1, "names seen");
    int rc = -1;
    if (!sorted || !seq || !pred || !at || !seen) goto done;
    memcpy(sorted, occ, sizeof *sorted * (size_t)n_occ);
    qsort(sorted, (size_t)n_occ, sizeof *sorted, cmp_occurrence);
    seq[0] = doc_start;
    memcpy(seq + 1, toks->ids, sizeof(int32_t) * n);
    int last = 0;  // the last sequence position whose prediction is needed
    for (int k = 0; k < n_occ; k++) {
        const induction_occurrence *o = &sorted[k];
        if (o->name < 0 || o->name >= n_names || o->start >= o->end || o->end > text_len) {
            mtp_errorf("mention %d (name %d, bytes %zu..%zu) is outside the story (%zu bytes, %d names)", k,
                       o->name, o->start, o->end, text_len, n_names);
            goto done;
        }
        at[k] = -1;
        if (!seen[o->name]) {
            seen[o->name] = 1;
            c->first_mentions++;
            continue;
        }
        at[k] = induction_two_tokens(toks, o->start, o->end);
        if (at[k] < 0) {
            c->not_two_tokens++;
            continue;
        }
        if ((int)at[k] + 2 > last) last = (int)at[k] + 2;  // seq position of the second token
    }
    c->stories++;
    if (last > 0) {
        argmax_rows rows = {pred, s->model->cfg.vocab_size};
        loglik_result info;
        if (loglik_each_row(s, seq, last + 1, 1, store_argmax, &rows, &info)) goto done;
        if (info.dropped > 0) c->truncated++;
        for (int k = 0; k < n_occ; k++) {
            if (at[k] < 0) continue;
            long i = at[k] + 1;  // seq position of the first token
            c->occurrences++;
            c->first_correct += pred[i] == seq[i];
            c->correct += pred[i + 1] == seq[i + 1];
        }
    }
    rc = 0;
done:
    free(sorted);
    free(seq);
    free(pred);
    free(at);
    free(seen);
    return rc;
}
