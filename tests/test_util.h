// test_util.h: the harness shared by the C unit tests (test_*.c): a failure
// counter, CHECK() that reports a failed condition and counts it, and a
// per-test scratch directory under /tmp (tmpdir) with helpers to name files
// in it, create it and remove it. Include once, from a test's main file only;
// everything here is static.
#ifndef MTP_TESTS_TEST_UTIL_H
#define MTP_TESTS_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/error.h"
#include "core/fsutil.h"

// What path_in_tmp prints before the error when a name does not fit; a test
// may define it before including this header.
#ifndef TEST_PATH_FAIL_PREFIX
#define TEST_PATH_FAIL_PREFIX "FAIL "
#endif

static char tmpdir[256];

// out = tmpdir/name; exits with status 1 if it does not fit.
static inline void path_in_tmp(char *out, size_t cap, const char *name) {
    if (fs_join(out, cap, tmpdir, name) != 0) {
        printf(TEST_PATH_FAIL_PREFIX "%s\n", mtp_last_error());
        exit(1);
    }
}

// Sets tmpdir to /tmp/mtp_test_<name>_<pid> without creating it.
static inline void set_tmpdir(const char *name) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mtp_test_%s_%ld", name, (long)getpid());
}

// Sets tmpdir as set_tmpdir does and creates it; on failure prints why and
// returns nonzero (main returns 1).
static inline int make_tmpdir(const char *name) {
    set_tmpdir(name);
    if (fs_mkdir_p(tmpdir) != 0) {
        printf("FAIL %s\n", mtp_last_error());
        return 1;
    }
    return 0;
}

static inline void remove_tmpdir(void) {
    fs_remove_tree(tmpdir);
}

#endif  // MTP_TESTS_TEST_UTIL_H
