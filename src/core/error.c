// error.c: thread-local last-error message and reporting allocators.
#define _DEFAULT_SOURCE  // madvise
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

static void *alloc_rounded(size_t bytes, size_t align, int zeroed, const char *what) {
    if (bytes > (size_t)-1 - align) {
        mtp_errorf("size overflow allocating %zu bytes for %s", bytes, what);
        return NULL;
    }
    size_t rounded = (bytes + align - 1) / align * align;
    if (rounded == 0) rounded = align;
    void *p = aligned_alloc(align, rounded);
    if (!p) {
        mtp_errorf("out of memory allocating %zu bytes for %s", bytes, what);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    if (align > 64) (void)madvise(p, rounded, MADV_HUGEPAGE);  // advice only: a refusal changes nothing
#endif
    if (zeroed) memset(p, 0, rounded);
    return p;
}

void *mtp_alloc_aligned(size_t bytes, const char *what) {
    return alloc_rounded(bytes, 64, 1, what);
}

// Decoding reads its weights and KV cache in full every token. From huge
// pages it streams faster: the read probe 32.3-32.9 GB/s against 27.9-28.1
// with 4 KB pages (Intel Xeon model 167, 2 threads), and a KV cache, read hd
// floats every position (a new 4 KB page every 512 bytes at d = 1536), gains
// more: int8 decoding of the d = 1536 shape, old and new alternating, plain
// 4-8% and 4-row verification 10-14% faster. Only there: a huge page costs
// more to fault in on some virtual machines (this one: 0.4-1.6 GB/s where 4 KB
// pages take 2.2-2.7), which a training run's scratch memory would pay at
// every start without reading it the same way.
enum { HUGE_FROM = 4 << 20, HUGE_PAGE = 2 << 20 };

void *mtp_alloc_streamed(size_t bytes, int zeroed, const char *what) {
    if (bytes < HUGE_FROM) return alloc_rounded(bytes, 64, zeroed, what);
    char *p = alloc_rounded(bytes, HUGE_PAGE, 0, what);
    if (p && zeroed) {
        // faulting the pages in is most of the cost: on every thread, a huge page each (on this
        // machine 2x as fast as one thread, for 4 KB and huge pages alike)
        const size_t pages = (bytes + HUGE_PAGE - 1) / HUGE_PAGE;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < pages; i++) memset(p + i * HUGE_PAGE, 0, HUGE_PAGE);
    }
    return p;
}
