// check.h: the assertions of the C unit tests, with nothing of the library
// (test_public_api.c includes only this and mtp.h): a failure counter, CHECK()
// that reports a failed condition and counts it, and test_finish() for the
// end of main. Include once, from a test's main file; everything is static.
#ifndef MTP_TESTS_CHECK_H
#define MTP_TESTS_CHECK_H

#include <stdio.h>

static int failures = 0;

#define CHECK(cond, ...)                                \
    do {                                                \
        if (!(cond)) {                                  \
            failures++;                                 \
            printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__);                        \
            printf("\n");                               \
        }                                               \
    } while (0)

// The exit status of a test named `name`, after printing its verdict.
static inline int test_finish(const char *name) {
    if (failures) {
        printf("%s: %d failures\n", name, failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
