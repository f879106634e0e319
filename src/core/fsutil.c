// fsutil.c: POSIX implementations of fsutil.h.
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "core/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

int fs_mkdir_p(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return mtp_errorf("invalid directory path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return mtp_errorf("cannot create directory '%s': %s", buf, strerror(errno));
            if (!fs_is_dir(buf)) return mtp_errorf("'%s' exists and is not a directory", buf);
            buf[i] = saved;
        }
    }
    return 0;
}

int fs_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int fs_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *fs_read_all(const char *path, size_t max_bytes, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        mtp_errorf("cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        mtp_errorf("'%s' is not a regular file", path);
        return NULL;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        mtp_errorf("'%s' is too large (%lld bytes, limit %zu)", path, (long long)st.st_size, max_bytes);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    char *buf = mtp_malloc(size + 1, path);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    if (size && fread(buf, 1, size, f) != size) {
        free(buf);
        fclose(f);
        mtp_errorf("cannot read '%s': short read", path);
        return NULL;
    }
    fclose(f);
    buf[size] = '\0';
    if (len) *len = size;
    return buf;
}

char *fs_read_stream(FILE *f, const char *label, size_t max_bytes, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = mtp_malloc(cap + 1, label);
    while (buf) {
        if (n == cap) {
            if (cap >= max_bytes) {
                free(buf);
                mtp_errorf("%s is larger than %zu bytes", label, max_bytes);
                return NULL;
            }
            char *grown = realloc(buf, 2 * cap + 1);
            if (!grown) {
                free(buf);
                mtp_errorf("out of memory reading %s", label);
                return NULL;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                free(buf);
                mtp_errorf("cannot read %s", label);
                return NULL;
            }
            buf[n] = '\0';
            if (len) *len = n;
            return buf;
        }
    }
    return NULL;
}

int fs_write_all(const char *path, const void *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return mtp_errorf("cannot create '%s': %s", path, strerror(errno));
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return mtp_errorf("cannot write '%s': %s", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return mtp_errorf("cannot sync '%s': %s", path, strerror(e));
    }
    if (close(fd) != 0) return mtp_errorf("cannot close '%s': %s", path, strerror(errno));
    return 0;
}

// ---- atomic output files ----------------------------------------------------

// dir gets the directory part of path ("." when there is none).
static int dir_of(const char *path, char *dir, size_t cap) {
    const char *slash = strrchr(path, '/');
    int n = !slash          ? snprintf(dir, cap, ".")
            : slash == path ? snprintf(dir, cap, "/")
                            : snprintf(dir, cap, "%.*s", (int)(slash - path), path);
    if (n < 0 || (size_t)n >= cap) return mtp_errorf("path too long: '%s'", path);
    return 0;
}

// The file that writing `path` changes: path itself, or the end of its chain
// of symbolic links (which need not exist yet).
static int resolve_output(const char *path, char *out, size_t cap) {
    if (snprintf(out, cap, "%s", path) >= (int)cap) return mtp_errorf("path too long: '%s'", path);
    for (int hops = 0;; hops++) {
        struct stat st;
        if (lstat(out, &st) != 0 || !S_ISLNK(st.st_mode)) return 0;
        if (hops == 40) return mtp_errorf("'%s': too many levels of symbolic links", path);
        char target[4096], dir[4096];
        ssize_t n = readlink(out, target, sizeof target - 1);
        if (n < 0) return mtp_errorf("cannot read the link '%s': %s", out, strerror(errno));
        if ((size_t)n >= sizeof target - 1) return mtp_errorf("the link '%s' is too long", out);
        target[n] = '\0';
        // a relative target is relative to the link's directory
        if (target[0] == '/' || !strchr(out, '/')) {
            if (snprintf(out, cap, "%s", target) >= (int)cap)
                return mtp_errorf("path too long: '%s'", target);
        } else if (dir_of(out, dir, sizeof dir) != 0 || fs_join(out, cap, dir, target) != 0) {
            return -1;
        }
    }
}

static const char *kind_of(mode_t m) {
    return S_ISDIR(m)                 ? "a directory"
           : S_ISCHR(m) || S_ISBLK(m) ? "a device"
           : S_ISFIFO(m)              ? "a FIFO"
           : S_ISSOCK(m)              ? "a socket"
                                      : "not a regular file";
}

// Resolves path into final and refuses an existing non-regular file there.
// *st gets final's stat; *exists whether there is one.
static int check_target(const char *path, char *final, size_t cap, struct stat *st, int *exists) {
    if (!path || !*path) return mtp_errorf("an empty path (''): give the path of a file to write");
    if (resolve_output(path, final, cap) != 0) return -1;
    *exists = stat(final, st) == 0;
    if (*exists && !S_ISREG(st->st_mode)) {
        char via[4200] = "";
        if (strcmp(path, final) != 0) snprintf(via, sizeof via, " (where the link '%s' points)", path);
        return mtp_errorf("'%s'%s is %s, not a regular file: give the path of a file to write", final, via,
                          kind_of(st->st_mode));
    }
    return 0;
}

int fs_check_output(const char *path) {
    char final[4096], dir[4096];
    struct stat st;
    int exists;
    if (check_target(path, final, sizeof final, &st, &exists) != 0) return -1;
    if (!exists && (dir_of(final, dir, sizeof dir) != 0 || !fs_is_dir(dir)))
        return mtp_errorf("cannot write '%s': the directory '%s' does not exist (create it first)", final,
                          dir);
    return 0;
}

int fs_out_open(fs_out *o, const char *path) {
    static _Atomic unsigned counter;
    memset(o, 0, sizeof *o);
    struct stat st;
    int exists;
    char dir[4096], name[320];
    if (check_target(path, o->final, sizeof o->final, &st, &exists) != 0 ||
        dir_of(o->final, dir, sizeof dir) != 0)
        return -1;
    const char *slash = strrchr(o->final, '/'), *base = slash ? slash + 1 : o->final;
    int fd = -1;
    // O_EXCL: the name is new, so no file of the user's is ever touched
    for (int tries = 0; fd < 0 && tries < 1000; tries++) {
        snprintf(name, sizeof name, ".%.200s.%ld-%u.tmp", base, (long)getpid(), counter++);
        if (fs_join(o->tmp, sizeof o->tmp, dir, name) != 0) return -1;
        fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, exists ? 0600 : 0666);
        if (fd < 0 && errno != EEXIST) {
            int e = errno;
            o->tmp[0] = '\0';
            return mtp_errorf("cannot write '%s': cannot create a file in '%s': %s", o->final, dir,
                              strerror(e));
        }
    }
    if (fd < 0) {
        o->tmp[0] = '\0';
        return mtp_errorf("cannot write '%s': no free temporary name in '%s'", o->final, dir);
    }
    if (exists) (void)fchmod(fd, st.st_mode & 07777);  // the replaced file's permissions
    if (!(o->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(o->tmp);
        o->tmp[0] = '\0';
        return mtp_errorf("cannot write '%s': %s", o->final, strerror(e));
    }
    return 0;
}

void fs_out_abort(fs_out *o) {
    if (o->f) fclose(o->f);
    if (o->tmp[0]) unlink(o->tmp);
    o->f = NULL;
    o->tmp[0] = '\0';
}

int fs_out_sync(fs_out *o) {
    if (!o->f) return mtp_errorf("cannot write '%s': not open", o->final);
    errno = 0;
    int bad = fflush(o->f) != 0 || ferror(o->f);
    int e = errno ? errno : EIO;
    if (!bad && fsync(fileno(o->f)) != 0) bad = 1, e = errno;
    if (bad) {
        fs_out_abort(o);
        return mtp_errorf("cannot write '%s': %s (is the disk full?)", o->final, strerror(e));
    }
    return 0;
}

int fs_out_commit(fs_out *o) {
    if (fs_out_sync(o) != 0) return -1;
    FILE *f = o->f;
    o->f = NULL;
    if (fclose(f) != 0) {
        int e = errno;
        fs_out_abort(o);
        return mtp_errorf("cannot write '%s': %s (is the disk full?)", o->final, strerror(e));
    }
    if (rename(o->tmp, o->final) != 0) {
        int e = errno;
        fs_out_abort(o);
        return mtp_errorf("cannot replace '%s': %s", o->final, strerror(e));
    }
    o->tmp[0] = '\0';
    char dir[4096];
    return dir_of(o->final, dir, sizeof dir) != 0 ? -1 : fs_sync_dir(dir);
}

int fs_write_atomic(const char *path, const void *data, size_t len) {
    fs_out o;
    if (fs_out_open(&o, path) != 0) return -1;
    if (len && fwrite(data, 1, len, o.f) != len) {
        int e = errno ? errno : EIO;
        fs_out_abort(&o);
        return mtp_errorf("cannot write '%s': %s (is the disk full?)", o.final, strerror(e));
    }
    return fs_out_commit(&o);
}

int fs_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int fs_sync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return mtp_errorf("cannot open directory '%s': %s", path, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc != 0 && errno != EINVAL)
        return mtp_errorf("cannot sync directory '%s': %s", path, strerror(errno));
    return 0;
}

int fs_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : mtp_errorf("cannot stat '%s': %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0) return mtp_errorf("cannot remove '%s': %s", path, strerror(errno));
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) return mtp_errorf("cannot open directory '%s': %s", path, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char child[4096];
        if (fs_join(child, sizeof child, path, e->d_name) != 0 || fs_remove_tree(child) != 0) {
            rc = -1;
            break;
        }
    }
    closedir(d);
    if (rc == 0 && rmdir(path) != 0)
        return mtp_errorf("cannot remove directory '%s': %s", path, strerror(errno));
    return rc;
}

int fs_sweep_stale(const char *dir, const char *prefix, const char *suffix,
                   void (*removed)(const char *path, long pid, void *user), void *user) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t lp = strlen(prefix), ls = strlen(suffix);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        size_t n = strlen(name);
        if (n <= lp + ls || strncmp(name, prefix, lp) != 0 || strcmp(name + n - ls, suffix) != 0) continue;
        if (name[lp] < '0' || name[lp] > '9') continue;
        char *end;
        errno = 0;
        long pid = strtol(name + lp, &end, 10);
        if (end != name + n - ls || errno || pid <= 0 || pid > INT_MAX || pid == (long)getpid()) continue;
        if (!(kill((pid_t)pid, 0) == -1 && errno == ESRCH)) continue;  // alive (or not ours to judge)
        char path[4096];
        struct stat st;
        if (fs_join(path, sizeof path, dir, name) != 0 || lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (fs_remove_tree(path) == 0) {
            count++;
            if (removed) removed(path, pid, user);
        }
    }
    closedir(d);
    mtp_clear_error();  // best effort: a failure above leaves no error behind
    return count;
}

int fs_join(char *out, size_t cap, const char *a, const char *b) {
    size_t la = strlen(a);
    int slash = la > 0 && a[la - 1] != '/';
    int n = snprintf(out, cap, "%s%s%s", a, slash ? "/" : "", b);
    if (n < 0 || (size_t)n >= cap) return mtp_errorf("path too long: '%s/%s'", a, b);
    return 0;
}

int fs_map_file(const char *path, fs_map *map) {
    map->data = NULL;
    map->size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return mtp_errorf("cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return mtp_errorf("'%s' is not a regular file", path);
    }
    map->size = (size_t)st.st_size;
    if (map->size == 0) {
        close(fd);
        return 0;
    }
    void *p = mmap(NULL, map->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        map->size = 0;
        return mtp_errorf("cannot map '%s': %s", path, strerror(errno));
    }
    map->data = p;
    return 0;
}

void fs_map_release(const fs_map *map, const void *p, size_t len) {
    if (!map->data || !p || len == 0) return;
    const uint8_t *lo = p, *hi = lo + len, *start = map->data, *end = map->data + map->size;
    if (lo < start || hi > end) return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)lo + page - 1) / page * page, b = (uintptr_t)hi / page * page;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);  // advice only: failure changes nothing
}

void fs_unmap(fs_map *map) {
    if (map->data && map->size) munmap((void *)map->data, map->size);
    map->data = NULL;
    map->size = 0;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int fs_list_dir(const char *dir, const char *prefix, const char *suffix, fs_list *out) {
    out->names = NULL;
    out->count = 0;
    DIR *d = opendir(dir);
    if (!d) return mtp_errorf("cannot open directory '%s': %s", dir, strerror(errno));
    size_t lp = strlen(prefix), ls = strlen(suffix);
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t ln = strlen(e->d_name);
        if (e->d_name[0] == '.' || ln < lp + ls) continue;
        if (strncmp(e->d_name, prefix, lp) != 0 || strcmp(e->d_name + ln - ls, suffix) != 0) continue;
        if (out->count == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(out->names, (size_t)cap * sizeof *grown);
            if (!grown) {
                closedir(d);
                fs_list_free(out);
                return mtp_errorf("out of memory listing '%s'", dir);
            }
            out->names = grown;
        }
        out->names[out->count] = strdup(e->d_name);
        if (!out->names[out->count]) {
            closedir(d);
            fs_list_free(out);
            return mtp_errorf("out of memory listing '%s'", dir);
        }
        out->count++;
    }
    closedir(d);
    if (out->count > 1) qsort(out->names, (size_t)out->count, sizeof *out->names, compare_names);
    return 0;
}

void fs_list_free(fs_list *list) {
    for (int i = 0; i < list->count; i++) free(list->names[i]);
    free(list->names);
    list->names = NULL;
    list->count = 0;
}

long fs_step_of_name(const char *name) {
    if (strncmp(name, "step_", 5) != 0) return -1;
    const char *d = name + 5;
    size_t n = strspn(d, "0123456789");
    if (n < 8 || n > 18 || d[n] != '\0') return -1;
    return strtol(d, NULL, 10);
}

int fs_is_checkpoint_dir(const char *dir) {
    char a[4096], b[4096];
    return fs_join(a, sizeof a, dir, "config.json") == 0 &&
           fs_join(b, sizeof b, dir, "model.safetensors") == 0 && fs_is_file(a) && fs_is_file(b);
}

int fs_newest_checkpoint_dir(const char *run, char *out, size_t cap) {
    fs_list list;
    if (fs_list_dir(run, "step_", "", &list) != 0) {
        mtp_clear_error();
        return 0;
    }
    int found = 0;
    for (int i = list.count - 1; i >= 0 && !found; i--)  // names sort by step (zero-padded)
        found = fs_step_of_name(list.names[i]) >= 0 && fs_join(out, cap, run, list.names[i]) == 0 &&
                fs_is_checkpoint_dir(out);
    fs_list_free(&list);
    mtp_clear_error();  // a name too long to join is not a checkpoint
    return found;
}
