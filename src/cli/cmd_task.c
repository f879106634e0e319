// cmd_task.c: `mtp task poly` and `mtp task induction`, the data of the
// paper's small experiments (tasks/poly_data.h, tasks/induction.h).
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "eval/poly.h"
#include "libmtp.h"
#include "tasks/induction.h"
#include "tasks/poly_data.h"

// "A-B" or "A" into int[2] with 1 <= A <= B <= POLY_MAX_OPS.
static int parse_range(const char *v, void *dest) {
    int *r = dest;
    char *end;
    long a = strtol(v, &end, 10), b = a;
    if (end != v && *end == '-') {
        const char *s = end + 1;
        b = strtol(s, &end, 10);
        if (end == s || !isdigit((unsigned char)*s)) end = (char *)v;  // "3-", "3- 4" are not ranges
    }
    if (end == v || !isdigit((unsigned char)v[0]) || *end != '\0' || a < 1 || b < a || b > POLY_MAX_OPS)
        return mtp_errorf("expected a range A-B (or one number) with 1 <= A <= B <= %d", POLY_MAX_OPS);
    r[0] = (int)a;
    r[1] = (int)b;
    return 0;
}

static void show_range(const void *dest, char *buf, size_t cap) {
    const int *r = dest;
    snprintf(buf, cap, "%d-%d", r[0], r[1]);
}

static const flag POLY_FLAGS[] = {
    {"--out", FLAG_STRING, offsetof(poly_data_options, out), "DIR",
     "output directory (created if missing; files replaced)"},
    {"--m-train", FLAG_PARSE, offsetof(poly_data_options, m_train), "A-B", "operations per training example",
     .parse = parse_range, .show = show_range},
    {"--m-eval", FLAG_PARSE, offsetof(poly_data_options, m_eval), "A-B", "operations per test item",
     .parse = parse_range, .show = show_range},
    {"--train-examples", FLAG_LONG, offsetof(poly_data_options, train_examples), "N", "training lines", 0,
     1e9},
    {"--test-per-m", FLAG_LONG, offsetof(poly_data_options, test_per_m), "N", "test items per m", 0, 1e7},
    {"--pause", FLAG_INT, offsetof(poly_data_options, pause), "K",
     "K pause marks '.' between the question and '=' in both files\n(the paper's pause tokens)", 0, 4096},
    {"--seed", FLAG_U64, offsetof(poly_data_options, seed), "S",
     "seed; the test set depends on S and m only"},
    {0},
};

static int run_task_poly(command_line *cl) {
    poly_data_options *a = cl->args;
    poly_data_summary s;
    if (poly_data_make(a, &s) != 0) return 1;
    printf(
        "task poly: %s/train.txt %ld examples (m %d-%d), %s/test.jsonl %ld items (m %d-%d, %ld each), pause "
        "%d; "
        "%ld training draws equal to a test question redrawn\n",
        a->out, a->train_examples, a->m_train[0], a->m_train[1], a->out, s.test_items, a->m_eval[0],
        a->m_eval[1], a->test_per_m, a->pause, s.train_redraws);
    return 0;
}

static const poly_data_options TASK_POLY_DEFAULTS = {NULL, {1, 5}, {1, 10}, 0, 100000, 2000, 1};

const command_spec CMD_TASK_POLY = {
    .name = "task poly",
    .summary = "polynomial arithmetic in F7[X]/(X^5): training text and a test set",
    .usage = "usage: mtp task poly --out DIR [flags]",
    .about =
        "Polynomial arithmetic in F7[X]/(X^5) (Gloeckle et al. 2024, section 4.2): random\n"
        "expressions with exactly m operations (negation, addition, multiplication,\n"
        "composition; operators and coefficients uniform) and their values. Writes\n"
        "  DIR/train.txt    one example per line, QUESTION=ANSWER, e.g. (31024+02100)=33124,\n"
        "                   m uniform in --m-train (text for mtp prepare)\n"
        "  DIR/test.jsonl   --test-per-m distinct items per m in --m-eval, one per line:\n"
        "                   {\"prompt\": \"(31024+02100)=\", \"answer\": \"33124\", \"group\": \"m=1\", "
        "\"m\": 1}\n"
        "                   (for mtp eval-gen); no test question occurs in train.txt\n"
        "  DIR/README.txt   the formats and the command that made them\n"
        "A polynomial is its coefficients c0..c4 as 5 digits; '(A+B)', '(A*B)', '(A@B)' (A(B(X)))\n"
        "and '-A' build expressions. See docs/eval-poly.md.",
    .groups = {{NULL, POLY_FLAGS, 0}},
    .epilog = "Ranges are A-B or a single A, with 1 <= A <= B <= 64.",
    .required = "--out",
    COMMAND_RUN(run_task_poly, TASK_POLY_DEFAULTS),
};

static const flag INDUCTION_FLAGS[] = {
    {"--stories", FLAG_STRING, offsetof(induction_data_options, stories), "FILE",
     "stories separated by --separator (e.g. TinyStories-train.txt); the\n"
     "text after the last separator is dropped as cut off"},
    {"--tokenizer", FLAG_STRING, offsetof(induction_data_options, tokenizer), "T",
     "the model's tokenizer: 'bytes', a tokenizer.json or a directory\n"
     "(a data, checkpoint or run directory)"},
    {"--out", FLAG_STRING, offsetof(induction_data_options, out), "DIR",
     "output directory (created if missing; files replaced)"},
    {"--held-out", FLAG_INT, offsetof(induction_data_options, held_out), "N",
     "test stories (the paper's: 100)", 1, 1 << 24},
    {"--seed", FLAG_U64, offsetof(induction_data_options, seed), "S",
     "which stories and names; same inputs, same files"},
    {"--separator", FLAG_STRING, offsetof(induction_data_options, separator), "S", "story separator"},
    {0},
};

static int run_task_induction(command_line *cl) {
    induction_data_options *a = cl->args;
    if (!a->separator[0]) return flags_usage_error(cl, "--separator '': give a non-empty story separator");
    // the files written must not be an input (they would replace it)
    static const char *const outputs[] = {"train.txt", "test.jsonl", "README.txt"};
    for (int i = 0; i < 3; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", a->out, outputs[i]);
        const char *in = fs_same_file(path, a->stories)     ? "--stories"
                         : fs_same_file(path, a->tokenizer) ? "--tokenizer"
                                                            : NULL;
        if (in)
            return flags_usage_error(cl, "--out %s would replace %s with %s: give another --out", a->out, in,
                                     path);
    }
    induction_data_summary s;
    if (induction_data_make(a, &s) != 0) return 1;
    printf("%s: %d stories; %d held out in %s/test.jsonl (%d names, %ld later mentions), %d in %s/train.txt",
           a->stories, s.stories, s.held, a->out, s.names, s.later, s.kept, a->out);
    if (s.dups) printf(" (%d copies of held-out stories left out)", s.dups);
    printf("\n");
    return 0;
}

static const induction_data_options TASK_INDUCTION_DEFAULTS = {
    .separator = "<|endoftext|>", .held_out = 100, .seed = 1};

const command_spec CMD_TASK_INDUCTION = {
    .name = "task induction",
    .summary = "the induction task: stories with renamed characters",
    .usage = "usage: mtp task induction --stories FILE --tokenizer T --out DIR [flags]",
    .about =
        "The induction task (Gloeckle et al. 2024, section 4.1): in held-out stories every\n"
        "character name is replaced, consistently, by a random name of exactly two tokens under\n"
        "T; a model shows induction when it predicts a name's second token at later mentions.\n"
        "Writes\n"
        "  DIR/train.txt    every other story, '<|endoftext|>'-separated: train on it with\n"
        "                   mtp prepare --tokenizer T --doc-separator '<|endoftext|>' DIR/train.txt\n"
        "  DIR/test.jsonl   one renamed story per line: {\"story\": index, \"text\": ..., \"names\":\n"
        "                   [{\"name\", \"original\", \"mentions\"}], \"occurrences\": [{\"name\": i,\n"
        "                   \"start\": byte, \"end\": byte}]} (for mtp eval-induction)\n"
        "  DIR/README.txt   how the files were made",
    .groups = {{NULL, INDUCTION_FLAGS, 0}},
    .epilog =
        "Character names: capitalized words seen at least twice, once not at a sentence start,\n"
        "less a stop list (Mom, Dad, Mr, ...). See docs/eval-induction.md.",
    .required = "--stories --tokenizer --out",
    COMMAND_RUN(run_task_induction, TASK_INDUCTION_DEFAULTS),
};
