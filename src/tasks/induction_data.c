// induction_data.c: `mtp task induction`, the data of the induction
// experiment (tasks/induction.h).
//
// Steps: split the corpus into stories (eval/induction.h drops the cut-off
// tail); find each story's character names (the heuristic in induction.h);
// shuffle the stories that have names (seeded) and take them in that order:
// each of a story's names gets a new random name (first + second piece of the
// tokenizer's vocabulary, two tokens after a space and alone, not a word of
// the corpus in any case, not used twice in the story), and the renamed story
// is kept only if every mention is exactly two tokens in it (else new names
// are drawn, up to RENAME_TRIES times, then the story is passed over). The
// training text is every other story, less exact copies of a held-out one
// (TinyStories repeats some stories), so train and test share no story.
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "tasks/induction.h"

#define MAX_CORPUS_BYTES ((size_t)4 << 30)
#define RENAME_TRIES 20     // name draws per story before it is passed over
#define NAME_DRAWS 1000000  // piece pairs tried for one name before giving up

// Each token's text (NULL for special tokens), for the name pieces.
static char **vocab_texts(const tokenizer *tok, int V) {
    char **texts = mtp_calloc((size_t)V, sizeof *texts, "vocabulary texts");
    char piece[TOKENIZER_MAX_TOKEN_BYTES + 1];
    if (!texts) return NULL;
    char *special = mtp_calloc((size_t)V, 1, "special ids");
    if (!special) {
        free(texts);
        return NULL;
    }
    for (int i = 0; i < tokenizer_special_count(tok); i++) {
        int32_t id;
        tokenizer_special(tok, i, &id);
        if (id >= 0 && id < V) special[id] = 1;
    }
    for (int id = 0; id < V; id++) {
        if (special[id]) continue;
        int n = tokenizer_decode_token(tok, id, piece, sizeof piece - 1);
        if (n < 0) continue;  // too long to be a name piece
        piece[n] = '\0';
        if ((size_t)n != strlen(piece)) continue;  // holds a NUL byte
        if (!(texts[id] = strdup(piece))) break;
    }
    free(special);
    return texts;
}

// One held-out story after renaming.
typedef struct {
    int story;
    char *text;
    size_t len;
    induction_names from, to;
    induction_occurrence *occ;
    int n_occ;
} renamed_story;

static void renamed_free(renamed_story *r) {
    free(r->text);
    free(r->occ);
    induction_names_free(&r->from);
    induction_names_free(&r->to);
}

// Renames story `index`: 1 if done, 0 if no draw made every mention two
// tokens (the story is passed over), -1 on error.
static int rename_story(const char *src, const induction_range *range, int index, const induction_pool *pool,
                        const induction_words *words, tokenizer *tok, mtp_rng *rng, induction_tokens *toks,
                        renamed_story *r) {
    memset(r, 0, sizeof *r);
    r->story = index;
    if (induction_find_names(src + range->start, range->len, &r->from)) return -1;
    for (int attempt = 0; attempt < RENAME_TRIES; attempt++) {
        induction_names_free(&r->to);
        for (int k = 0; k < r->from.count; k++) {
            char name[INDUCTION_NAME_MAX];
            if (induction_pick_name(pool, rng, induction_tokenize, tok, words, &r->to, NAME_DRAWS, name))
                return -1;
            if (induction_names_add(&r->to, name)) return -1;
        }
        free(r->text);
        free(r->occ);
        r->text = NULL;
        r->occ = NULL;
        if (induction_rename(src + range->start, range->len, &r->from, &r->to, &r->text, &r->len, &r->occ,
                             &r->n_occ) ||
            induction_tokenize(tok, r->text, r->len, toks))
            return -1;
        int ok = 1;
        for (int k = 0; k < r->n_occ && ok; k++)
            ok = induction_two_tokens(toks, r->occ[k].start, r->occ[k].end) >= 0;
        if (ok) return 1;
    }
    return 0;
}

static int cmp_story(const void *a, const void *b) {
    const renamed_story *x = a, *y = b;
    return (x->story > y->story) - (x->story < y->story);
}

// Writes len bytes of buf to a new temporary file for `path` (fs_out): the
// caller commits or aborts it.
static int stage_file(fs_out *out, const char *path, const char *buf, size_t len) {
    if (fs_out_open(out, path) != 0) return -1;
    if (len && fwrite(buf, 1, len, out->f) != len) {
        fs_out_abort(out);
        return mtp_errorf("cannot write '%s': is the disk full?", path);
    }
    return fs_out_sync(out);
}

static int write_test(fs_out *out, const char *path, const renamed_story *held, int n) {
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    int rc = buf ? 0 : mtp_errorf("out of memory writing %s", path);
    for (int i = 0; i < n && rc == 0; i++) {
        const renamed_story *r = &held[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "story", r->story);
        cJSON_AddStringToObject(j, "text", r->text);
        cJSON *names = cJSON_AddArrayToObject(j, "names");
        for (int k = 0; k < r->from.count; k++) {
            int mentions = 0;
            for (int o = 0; o < r->n_occ; o++) mentions += r->occ[o].name == k;
            cJSON *nm = cJSON_CreateObject();
            cJSON_AddStringToObject(nm, "name", r->to.names[k]);
            cJSON_AddStringToObject(nm, "original", r->from.names[k]);
            cJSON_AddNumberToObject(nm, "mentions", mentions);
            cJSON_AddItemToArray(names, nm);
        }
        cJSON *occ = cJSON_AddArrayToObject(j, "occurrences");
        for (int o = 0; o < r->n_occ; o++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "name", r->occ[o].name);
            cJSON_AddNumberToObject(x, "start", (double)r->occ[o].start);
            cJSON_AddNumberToObject(x, "end", (double)r->occ[o].end);
            cJSON_AddItemToArray(occ, x);
        }
        char *line = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!line) {
            rc = mtp_errorf("out of memory writing %s", path);
            break;
        }
        size_t n_line = strlen(line);
        if (len + n_line + 2 > cap) {
            while (len + n_line + 2 > cap) cap *= 2;
            char *grown = realloc(buf, cap);
            if (!grown)
                rc = mtp_errorf("out of memory writing %s", path);
            else
                buf = grown;
        }
        if (rc == 0) {
            memcpy(buf + len, line, n_line);
            len += n_line;
            buf[len++] = '\n';
        }
        free(line);
    }
    if (rc == 0) rc = stage_file(out, path, buf, len);
    free(buf);
    return rc;
}

// train.txt: the stories that are neither held out nor a copy of one.
// *dups gets the number of copies left out.
static int write_train(fs_out *out, const char *path, const char *src, const induction_range *stories,
                       int count, const renamed_story *held, int n_held, const char *sep, int *kept,
                       int *dups) {
    char *is_held = mtp_calloc((size_t)count, 1, "held-out flags");
    if (!is_held) return -1;
    for (int i = 0; i < n_held; i++) is_held[held[i].story] = 1;
    size_t cap = 1, len = 0, n_sep = strlen(sep);
    for (int i = 0; i < count; i++) cap += stories[i].len + n_sep + 2;
    char *buf = mtp_malloc(cap, "training text");
    if (!buf) {
        free(is_held);
        return -1;
    }
    *kept = *dups = 0;
    for (int i = 0; i < count; i++) {
        if (is_held[i]) continue;
        const induction_range *s = &stories[i];
        int copy = 0;
        for (int h = 0; h < n_held && !copy; h++) {
            const induction_range *o = &stories[held[h].story];
            copy = o->len == s->len && !memcmp(src + o->start, src + s->start, s->len);
        }
        if (copy) {
            (*dups)++;
            continue;
        }
        if (*kept) {
            buf[len++] = '\n';
            memcpy(buf + len, sep, n_sep);
            len += n_sep;
            buf[len++] = '\n';
        }
        memcpy(buf + len, src + s->start, s->len);
        len += s->len;
        (*kept)++;
    }
    buf[len++] = '\n';
    int rc = stage_file(out, path, buf, len);
    free(buf);
    free(is_held);
    return rc;
}

static int write_readme(fs_out *out, const char *path, const induction_data_options *a, const tokenizer *tok,
                        int n_stories, int kept, int dups, int n_held, long later, int n_names) {
    char text[8192];
    int n = snprintf(
        text, sizeof text,
        "The induction task (Gloeckle et al. 2024, section 4.1), made by\n"
        "  mtp task induction --stories %s --tokenizer %s --out %s --held-out %d --seed %llu\n"
        "\n"
        "%s holds %d stories (separator '%s'; the text after the last one is dropped as cut off).\n"
        "test.jsonl: %d held-out stories, one per line, %d character names renamed, %ld mentions after a\n"
        "  name's first (what mtp eval-induction scores). Fields: story (index of the story in the\n"
        "  file, from 0), text (the renamed story), names [{name, original, mentions}],\n"
        "  occurrences [{name (index into names), start, end}] in text order, byte offsets into the\n"
        "  UTF-8 text. Every mention of every new name is exactly two tokens under the tokenizer\n"
        "  (%s, %d ids).\n"
        "train.txt: the other %d stories, separated by '\\n%s\\n'; %d exact copies of held-out\n"
        "  stories are left out, so no test story is trained on. Make shards with\n"
        "  mtp prepare --tokenizer %s --doc-separator '%s' --out DATA %s/train.txt\n"
        "\n"
        "Names: capitalized words seen at least twice in a story, once not at a sentence start, less\n"
        "a stop list (Mom, Dad, Mr, Mrs, Grandma, God, days, ...). New names: a capitalized piece and\n"
        "a lowercase piece of the vocabulary, not a word of the corpus in any case, two tokens both\n"
        "after a space and alone. Evaluate with\n"
        "  mtp eval-induction --model RUN_DIR --data %s/test.jsonl\n",
        a->stories, a->tokenizer, a->out, a->held_out, (unsigned long long)a->seed, a->stories, n_stories,
        a->separator, n_held, n_names, later, tokenizer_name(tok), tokenizer_vocab_size(tok), kept,
        a->separator, dups, a->tokenizer, a->separator, a->out, a->out);
    if (n < 0 || (size_t)n >= sizeof text) return mtp_errorf("README text too long (paths too long?)");
    return stage_file(out, path, text, (size_t)n);
}

int induction_data_make(const induction_data_options *a, induction_data_summary *sum) {
    int rc = 1, n_stories = 0, n_held = 0, V = 0;
    size_t len = 0;
    char *src = NULL, **texts = NULL;
    induction_range *stories = NULL;
    tokenizer *tok = NULL;
    induction_words words = {0};
    induction_pool pool = {0};
    induction_tokens toks = {0};
    renamed_story *held = NULL;
    int *order = NULL;
    fs_out out[3];  // test.jsonl, train.txt, README.txt
    memset(out, 0, sizeof out);
    if (!(src = fs_read_all(a->stories, MAX_CORPUS_BYTES, &len)) ||
        induction_split(src, len, a->separator, &stories, &n_stories))
        goto done;
    if (n_stories == 0) {
        mtp_errorf("%s has no stories ending in '%s': give the story separator with --separator", a->stories,
                   a->separator);
        goto done;
    }
    if (!(tok = tokenizer_open(a->tokenizer))) goto done;
    V = tokenizer_vocab_size(tok);
    if (!(texts = vocab_texts(tok, V)) || induction_pool_build((const char *const *)texts, V, &pool) ||
        induction_words_build(src, len, &words))
        goto done;
    // the stories with names, shuffled
    int n_named = 0;
    if (!(order = mtp_malloc(sizeof(int) * (size_t)n_stories, "story order"))) goto done;
    for (int i = 0; i < n_stories; i++) {
        induction_names names;
        if (induction_find_names(src + stories[i].start, stories[i].len, &names)) goto done;
        if (names.count) order[n_named++] = i;
        induction_names_free(&names);
    }
    mtp_rng rng;
    mtp_rng_seed(&rng, a->seed);
    for (int i = n_named - 1; i > 0; i--) {
        int j = (int)mtp_rng_below(&rng, (uint64_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    if (!(held = mtp_calloc((size_t)(n_named < a->held_out ? n_named : a->held_out) + 1, sizeof *held,
                            "held-out stories")))
        goto done;
    int passed_over = 0;
    for (int i = 0; i < n_named && n_held < a->held_out; i++) {
        int got =
            rename_story(src, &stories[order[i]], order[i], &pool, &words, tok, &rng, &toks, &held[n_held]);
        if (got < 0) {
            renamed_free(&held[n_held]);
            goto done;
        }
        if (got)
            n_held++;
        else {
            renamed_free(&held[n_held]);
            passed_over++;
        }
    }
    if (n_held < a->held_out) {
        mtp_errorf(
            "%s: only %d of its %d stories have character names that could be renamed (%d passed over): use "
            "--held-out %d or a larger file",
            a->stories, n_held, n_stories, passed_over, n_held);
        goto done;
    }
    qsort(held, (size_t)n_held, sizeof *held, cmp_story);
    long later = 0;
    int n_names = 0;
    for (int i = 0; i < n_held; i++) {
        later += held[i].n_occ - held[i].from.count;
        n_names += held[i].from.count;
    }
    char path[4200];
    int kept, dups, failed = 0;
    // the three files replace the old ones together, once all are written and
    // synced: a failure leaves the old set whole
    if (fs_mkdir_p(a->out) || fs_join(path, sizeof path, a->out, "test.jsonl") ||
        write_test(&out[0], path, held, n_held) || fs_join(path, sizeof path, a->out, "train.txt") ||
        write_train(&out[1], path, src, stories, n_stories, held, n_held, a->separator, &kept, &dups) ||
        fs_join(path, sizeof path, a->out, "README.txt") ||
        write_readme(&out[2], path, a, tok, n_stories, kept, dups, n_held, later, n_names))
        failed = 1;
    for (int i = 0; i < 3 && !failed; i++) failed = fs_out_commit(&out[i]) != 0;
    if (failed) {
        mtp_error_context("--out %s", a->out);
        goto done;
    }
    *sum = (induction_data_summary){n_stories, n_held, kept, dups, n_names, later};
    rc = 0;
done:
    for (int i = 0; i < 3; i++) fs_out_abort(&out[i]);
    for (int i = 0; i < n_held; i++) renamed_free(&held[i]);
    free(held);
    free(order);
    if (texts)
        for (int i = 0; i < V; i++) free(texts[i]);
    free(texts);
    induction_tokens_free(&toks);
    induction_pool_free(&pool);
    induction_words_free(&words);
    tokenizer_free(tok);
    free(stories);
    free(src);
    return rc;
}
