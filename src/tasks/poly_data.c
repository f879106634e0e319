// poly_data.c: `mtp task poly`, the data of the polynomial arithmetic
// experiment (tasks/poly_data.h). Test questions never occur in the training
// text: the test set is drawn first, the 64-bit hashes of its questions go
// into a set, and a training draw whose question hashes into the set is
// redrawn (same m). Equal texts have equal hashes, so the guarantee is exact;
// a hash collision only redraws a question that was not in the test set.
#include "tasks/poly_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/hashset.h"
#include "core/rng.h"
#include "eval/poly.h"

#define MAX_REDRAWS 100000  // consecutive redraws before giving up (never reached in practice)
#define STREAM_TRAIN 0
#define STREAM_TEST 1000  // + m: each m's test items have their own stream

// An independent generator per purpose: the seed and the stream id hashed
// into a starting state, so streams do not overlap in practice.
static void stream_seed(mtp_rng *rng, uint64_t seed, uint64_t stream) {
    mtp_rng h;
    mtp_rng_seed(&h, seed ^ (stream * 0xd1b54a32d192ed03ULL));
    mtp_rng_seed(rng, mtp_rng_u64(&h));
}

// Opens DIR/name for an atomic write (core/fsutil.h fs_out); poly_data_make
// moves the three files into place once all are written.
static FILE *start_file(const char *dir, const char *name, fs_out *out) {
    char path[4096];
    if (fs_join(path, sizeof path, dir, name) != 0 || fs_out_open(out, path) != 0) {
        mtp_error_context("--out %s", dir);
        return NULL;
    }
    return out->f;
}

// One example whose question is new to `seen` (test: distinct items) or
// absent from it (train: not a test question); *redraws counts the rest.
static int draw_example(int m, int pause, mtp_rng *rng, hash_set *seen, int add, char *question, char *prompt,
                        size_t pcap, char *answer, long *redraws) {
    for (int tries = 0; tries < MAX_REDRAWS; tries++) {
        if (poly_example(m, pause, rng, question, POLY_TEXT_MAX, prompt, pcap, answer, 8) != 0) return -1;
        uint64_t h = hash_text(question, strlen(question), 0);
        int fresh = add ? hash_set_add(seen, h) : !hash_set_has(seen, h);
        if (fresh < 0) return -1;
        if (fresh) return 0;
        (*redraws)++;
    }
    return mtp_errorf("m = %d: %d draws in a row were already taken; ask for fewer examples", m, MAX_REDRAWS);
}

static int write_test(const poly_data_options *a, fs_out *out, hash_set *seen, char *prompt, size_t pcap,
                      long *redraws) {
    char question[POLY_TEXT_MAX], answer[8];
    FILE *f = start_file(a->out, "test.jsonl", out);
    if (!f) return -1;
    for (int m = a->m_eval[0]; m <= a->m_eval[1]; m++) {
        mtp_rng rng;
        stream_seed(&rng, a->seed, STREAM_TEST + (uint64_t)m);
        for (long i = 0; i < a->test_per_m; i++) {
            if (draw_example(m, a->pause, &rng, seen, 1, question, prompt, pcap, answer, redraws) != 0) {
                return -1;
            }
            // the task's alphabet (digits, "-+*@().=") needs no JSON escaping
            fprintf(f, "{\"prompt\": \"%s\", \"answer\": \"%s\", \"group\": \"m=%d\", \"m\": %d}\n", prompt,
                    answer, m, m);
        }
    }
    return 0;
}

static int write_train(const poly_data_options *a, fs_out *out, hash_set *test, char *prompt, size_t pcap,
                       long *redraws) {
    char question[POLY_TEXT_MAX], answer[8];
    FILE *f = start_file(a->out, "train.txt", out);
    if (!f) return -1;
    mtp_rng rng;
    stream_seed(&rng, a->seed, STREAM_TRAIN);
    int span = a->m_train[1] - a->m_train[0] + 1;
    for (long i = 0; i < a->train_examples; i++) {
        int m = a->m_train[0] + (int)mtp_rng_below(&rng, (uint64_t)span);
        if (draw_example(m, a->pause, &rng, test, 0, question, prompt, pcap, answer, redraws) != 0) {
            return -1;
        }
        fprintf(f, "%s%s\n", prompt, answer);
    }
    return 0;
}

static int write_readme(const poly_data_options *a, fs_out *out, long train_redraws) {
    FILE *f = start_file(a->out, "README.txt", out);
    if (!f) return -1;
    fprintf(f,
            "Polynomial arithmetic in F7[X]/(X^5) (Gloeckle et al. 2024, section 4.2), made by\n"
            "  mtp task poly --out %s --m-train %d-%d --m-eval %d-%d --train-examples %ld --test-per-m %ld "
            "--pause %d --seed %llu\n\n",
            a->out, a->m_train[0], a->m_train[1], a->m_eval[0], a->m_eval[1], a->train_examples,
            a->test_per_m, a->pause, (unsigned long long)a->seed);
    fprintf(f,
            "Text forms (alphabet 0123456-+*@().=):\n"
            "  polynomial  5 digits c0 c1 c2 c3 c4, the coefficients of X^0..X^4 mod 7:\n"
            "              31024 = 3 + X + 2X^3 + 4X^4\n"
            "  expression  a polynomial | -E (negation) | (E+E) | (E*E) | (E@E), where (P@Q) is the\n"
            "              composition P(Q(X)); products and compositions are reduced mod X^5 and 7,\n"
            "              composition on the degree < 5 representatives\n"
            "  example     QUESTION, %d pause marks '.', '=', ANSWER (the value as a polynomial)\n\n",
            a->pause);
    char marks[32];  // the pause marks as they appear, or a count when there are many
    if (a->pause <= 16) {
        memset(marks, POLY_PAUSE, (size_t)a->pause);
        marks[a->pause] = '\0';
    } else {
        snprintf(marks, sizeof marks, "<%d x '%c'>", a->pause, POLY_PAUSE);
    }
    fprintf(
        f,
        "train.txt   %ld lines QUESTION%s=ANSWER, m (operations) uniform in %d..%d. Tokenize it\n"
        "            with mtp prepare.\n"
        "test.jsonl  %ld items per m for m = %d..%d, one JSON object per line:\n"
        "            {\"prompt\": \"QUESTION%s=\", \"answer\": \"ANSWER\", \"group\": \"m=M\", \"m\": M}\n"
        "            Evaluate with: mtp eval-gen --model RUN --data test.jsonl\n\n",
        a->train_examples, marks, a->m_train[0], a->m_train[1], a->test_per_m, a->m_eval[0], a->m_eval[1],
        marks);
    fprintf(f,
            "Generation: an expression with m operations draws its operator uniformly; negation\n"
            "gives m-1 to its operand, a binary operator k uniform in 0..m-1 to its left operand\n"
            "and m-1-k to its right; leaves have 5 coefficients uniform in 0..6. The test items of\n"
            "each m come from their own stream of the seed (the same for any --m-eval range that\n"
            "includes m) and are distinct. No test question occurs in train.txt: training draws\n"
            "whose question is a test question are redrawn (%ld were).\n",
            train_redraws);
    return 0;
}

int poly_data_make(const poly_data_options *a, poly_data_summary *sum) {
    hash_set seen = {NULL, 0, 0};
    size_t pcap = POLY_TEXT_MAX + (size_t)a->pause + 2;
    char *prompt = mtp_malloc(pcap, "prompt buffer");
    long test_redraws = 0, train_redraws = 0;
    int rc = -1;
    // The three files replace the old ones together, once all are written and
    // synced: a failure leaves the old set whole.
    fs_out out[3];
    memset(out, 0, sizeof out);
    if (!prompt || fs_mkdir_p(a->out) != 0 ||
        write_test(a, &out[0], &seen, prompt, pcap, &test_redraws) != 0 ||
        write_train(a, &out[1], &seen, prompt, pcap, &train_redraws) != 0 ||
        write_readme(a, &out[2], train_redraws) != 0)
        goto done;
    for (int i = 0; i < 3; i++)
        if (fs_out_sync(&out[i]) != 0) goto failed;
    for (int i = 0; i < 3; i++)
        if (fs_out_commit(&out[i]) != 0) goto failed;
    *sum =
        (poly_data_summary){a->test_per_m * (a->m_eval[1] - a->m_eval[0] + 1), train_redraws, test_redraws};
    rc = 0;
    goto done;
failed:
    mtp_error_context("--out %s", a->out);
done:
    for (int i = 0; i < 3; i++) fs_out_abort(&out[i]);
    free(prompt);
    hash_set_free(&seen);
    return rc;
}
