// error.c: thread-local last-error message and reporting allocators.
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_error[1024];

int mtp_errorf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return -1;
}

int mtp_error_context(const char *fmt, ...) {
    char saved[sizeof last_error], context[512];
    snprintf(saved, sizeof saved, "%s", last_error);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);
    size_t n = strlen(context);
    if (n + 2 >= sizeof last_error) n = sizeof last_error - 3;
    memcpy(last_error, context, n);
    memcpy(last_error + n, ": ", 2);
    size_t room = sizeof last_error - n - 3, m = strlen(saved);
    if (m > room) m = room;
    memcpy(last_error + n + 2, saved, m);
    last_error[n + 2 + m] = '\0';
    return -1;
}

const char *mtp_last_error(void) {
    return last_error;
}

void mtp_clear_error(void) {
    last_error[0] = '\0';
}

void *mtp_malloc(size_t bytes, const char *what) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) mtp_errorf("out of memory allocating %zu bytes for %s", bytes, what);
    return p;
}

void *mtp_calloc(size_t count, size_t size, const char *what) {
    if (size && count > (size_t)-1 / size) {
        mtp_errorf("size overflow allocating %s (%zu x %zu)", what, count, size);
        return NULL;
    }
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) mtp_errorf("out of memory allocating %zu bytes for %s", count * size, what);
    return p;
}

void *mtp_alloc_aligned(size_t bytes, const char *what) {
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (!p) {
        mtp_errorf("out of memory allocating %zu bytes for %s", bytes, what);
        return NULL;
    }
    memset(p, 0, rounded);
    return p;
}
