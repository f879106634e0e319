// run_log.h: the training log (JSON lines) a run writes and a resumed run
// appends to. Every line goes out in one write, and a write cut short (a full
// disk) is taken back; a log that ends in part of a line (a crash or a full
// disk mid-write) is cut back to its last whole line when a resumed run opens
// it. So the log only ever holds whole lines: a resumed run never glues its
// first line onto a fragment.
#ifndef MTP_TRAIN_RUN_LOG_H
#define MTP_TRAIN_RUN_LOG_H

#include <stddef.h>

typedef struct {
    int fd;  // -1: closed
} run_log;

// Opens path for writing: emptied, or (append) kept and cut back to its last
// whole line, *cut getting the bytes removed. -1 with errno set on failure.
int run_log_open(run_log *l, const char *path, int append, long *cut);
// Appends line[0..n) (a whole line, '\n' included) or nothing: -1 with errno
// set if it could not all be written.
int run_log_write(run_log *l, const char *line, size_t n);
void run_log_close(run_log *l);

#endif
