// fsutil.c: POSIX implementations of fsutil.h.
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "core/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
