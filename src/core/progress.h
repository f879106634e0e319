// progress.h: how long library work reports how far it is, without knowing
// who listens (the command line draws a bar; a library user may ignore it).
#ifndef MTP_CORE_PROGRESS_H
#define MTP_CORE_PROGRESS_H

#include <stdint.h>

// `done` of `total` units (total 0: unknown). The last call has done == total.
typedef void (*progress_fn)(void *user, uint64_t done, uint64_t total);

typedef struct {
    progress_fn fn;  // NULL: nobody listens
    void *user;
} progress_sink;

static inline void progress_tell(const progress_sink *p, uint64_t done, uint64_t total) {
    if (p && p->fn) p->fn(p->user, done, total);
}

#endif
