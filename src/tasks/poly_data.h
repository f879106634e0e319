// poly_data.h: the data of the polynomial arithmetic experiment
// (Gloeckle et al. 2024, section 4.2; eval/poly.h has the algebra): a
// training text of QUESTION=ANSWER lines, a fixed test set (JSONL for mtp
// eval-gen) that no training question repeats, and a README.
#ifndef MTP_TASKS_POLY_DATA_H
#define MTP_TASKS_POLY_DATA_H

#include <stdint.h>

typedef struct {
    const char *out;  // output directory (created; files replaced)
    int m_train[2];   // operations per training example, a range
    int m_eval[2];    // operations per test item, a range
    int pause;        // pause marks '.' between the question and '='
    long train_examples, test_per_m;
    uint64_t seed;  // the test set depends on the seed and m only
} poly_data_options;

typedef struct {
    long test_items, train_redraws, test_redraws;
} poly_data_summary;

// Writes OUT/test.jsonl, OUT/train.txt and OUT/README.txt (each atomically).
int poly_data_make(const poly_data_options *o, poly_data_summary *sum);

#endif
