// run_log.c: see run_log.h.
#define _POSIX_C_SOURCE 200809L
#include "train/run_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

// The length of the file's whole lines: up to and including its last '\n'.
static int whole_lines_end(int fd, off_t size, off_t *end) {
    char buf[4096];
    off_t at = size;
    while (at > 0) {
        size_t n = at < (off_t)sizeof buf ? (size_t)at : sizeof buf;
        ssize_t got = pread(fd, buf, n, at - (off_t)n);
        if (got != (ssize_t)n) {
            if (got >= 0) errno = EIO;
            return -1;
        }
        for (size_t i = n; i-- > 0;)
            if (buf[i] == '\n') {
                *end = at - (off_t)n + (off_t)i + 1;
                return 0;
            }
        at -= (off_t)n;
    }
    *end = 0;
    return 0;
}

int run_log_open(run_log *l, const char *path, int append, long *cut) {
    *cut = 0;
    l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | (append ? 0 : O_TRUNC) | O_CLOEXEC, 0644);
    if (l->fd < 0) return -1;
    if (!append) return 0;
    // pread needs a readable descriptor
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    off_t end = 0;
    int rc = rfd < 0 || fstat(rfd, &st) != 0 ? -1 : whole_lines_end(rfd, st.st_size, &end);
    if (rc == 0 && end < st.st_size) {
        rc = ftruncate(l->fd, end);
        if (rc == 0) *cut = (long)(st.st_size - end);
    }
    int err = errno;
    if (rfd >= 0) close(rfd);
    if (rc != 0) {
        run_log_close(l);
        errno = err;
    }
    return rc;
}

int run_log_write(run_log *l, const char *line, size_t n) {
    off_t before = lseek(l->fd, 0, SEEK_END);
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(l->fd, line + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int err = w == 0 ? EIO : errno;
            if (before >= 0 && ftruncate(l->fd, before) != 0) {
                // the part written stays; a resumed run's open cuts it back
            }
            errno = err;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

void run_log_close(run_log *l) {
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
}
