// error.h: one error message per thread, set where a failure is found and
// printed once by whoever gives up (the CLI). Functions that can fail return
// -1 (or NULL) after calling mtp_errorf; 0 means success.
#ifndef MTP_CORE_ERROR_H
#define MTP_CORE_ERROR_H

#include <stddef.h>

#if defined(__GNUC__)
#define MTP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MTP_PRINTF(a, b)
#endif

// Sets the current error message (printf-style) and returns -1.
int mtp_errorf(const char *fmt, ...) MTP_PRINTF(1, 2);
// Prefixes the current message with a formatted context: "<context>: <message>".
// Returns -1.
int mtp_error_context(const char *fmt, ...) MTP_PRINTF(1, 2);
// The last message set on this thread ("" if none).
const char *mtp_last_error(void);
// Forgets the last message.
void mtp_clear_error(void);

// Allocation that reports failure through mtp_errorf. `what` names the buffer.
void *mtp_malloc(size_t bytes, const char *what);
void *mtp_calloc(size_t count, size_t size, const char *what);
// 64-byte aligned, zeroed; free with mtp_free_aligned (== free).
void *mtp_alloc_aligned(size_t bytes, const char *what);
// Memory read through in full again and again (decoding's weights and KV
// cache): from 4 MB on 2 MB aligned and on transparent huge pages where the
// kernel grants them, else as mtp_alloc_aligned; zeroed if `zeroed`, else left
// for its first touch by the threads that will use it. Free with free.
void *mtp_alloc_streamed(size_t bytes, int zeroed, const char *what);

#endif
