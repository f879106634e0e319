// corpus.c: deterministic recursive walk of the input files and directories.
#define _POSIX_C_SOURCE 200809L
#include "data/corpus.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

// A set of (device, inode) pairs: open addressing, grown at half load.
typedef struct {
    uint64_t *keys;  // (cap, 2) dev, ino; a slot is empty while used[i] == 0
    uint8_t *used;
    size_t cap, count;
} id_set;

static uint64_t id_hash(uint64_t dev, uint64_t ino) {
    uint64_t h = dev * 0x9e3779b97f4a7c15ULL ^ ino;
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 29);
}

// Inserts (dev, ino); returns 1 if added, 0 if already present, -1 on error.
static int id_set_add(id_set *s, uint64_t dev, uint64_t ino) {
    if (2 * (s->count + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        uint64_t *keys = mtp_calloc(cap, 2 * sizeof *keys, "file set");
        uint8_t *used = mtp_calloc(cap, 1, "file set");
        if (!keys || !used) {
            free(keys);
            free(used);
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->used[i]) continue;
            size_t j = id_hash(s->keys[2 * i], s->keys[2 * i + 1]) & (cap - 1);
            while (used[j]) j = (j + 1) & (cap - 1);
            used[j] = 1;
            keys[2 * j] = s->keys[2 * i];
            keys[2 * j + 1] = s->keys[2 * i + 1];
        }
        free(s->keys);
        free(s->used);
        s->keys = keys;
        s->used = used;
        s->cap = cap;
    }
    size_t j = id_hash(dev, ino) & (s->cap - 1);
    while (s->used[j]) {
        if (s->keys[2 * j] == dev && s->keys[2 * j + 1] == ino) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->used[j] = 1;
    s->keys[2 * j] = dev;
    s->keys[2 * j + 1] = ino;
    s->count++;
    return 1;
}

static void id_set_free(id_set *s) {
    free(s->keys);
    free(s->used);
}

typedef struct {
    corpus *c;
    const char *glob;
    id_set dirs, files;
    size_t cap;
} walker;

static int add_file(walker *w, const char *path, const struct stat *st) {
    int added = id_set_add(&w->files, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
    if (added <= 0) return added;  // -1 error, 0 seen before
    corpus *c = w->c;
    if (c->count == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        char **paths = realloc(c->paths, cap * sizeof *paths);
        if (paths) c->paths = paths;
        uint64_t *sizes = paths ? realloc(c->sizes, cap * sizeof *sizes) : NULL;
        if (!sizes) return mtp_errorf("out of memory listing input files");
        c->sizes = sizes;
        w->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy) return mtp_errorf("out of memory listing input files");
    c->paths[c->count] = copy;
    c->sizes[c->count] = (uint64_t)st->st_size;
    c->count++;
    c->total_bytes += (uint64_t)st->st_size;
    return 0;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Walks directory `path` (already known to be a directory with stat `st`).
static int walk_dir(walker *w, const char *path, const struct stat *st) {
    int fresh = id_set_add(&w->dirs, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
    if (fresh <= 0) return fresh;  // a link back to a directory already walked
    DIR *d = opendir(path);
    if (!d) return mtp_errorf("cannot open directory '%s': %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;  // hidden, and "." / ".."
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(names, cap * sizeof *grown);
            if (!grown) {
                rc = mtp_errorf("out of memory listing '%s'", path);
                break;
            }
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = mtp_errorf("out of memory listing '%s'", path);
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 1) qsort(names, n, sizeof *names, compare_names);
    size_t plen = strlen(path);
    int slash = plen > 0 && path[plen - 1] != '/';
    for (size_t i = 0; i < n && rc == 0; i++) {
        // On the heap: deep trees would otherwise stack up 4 KB per level.
        size_t len = plen + (size_t)slash + strlen(names[i]) + 1;
        char *child = malloc(len);
        if (!child) {
            rc = mtp_errorf("out of memory walking '%s'", path);
            break;
        }
        snprintf(child, len, "%s%s%s", path, slash ? "/" : "", names[i]);
        struct stat cst;
        if (stat(child, &cst) != 0) {
            // A dangling link or an entry removed meanwhile: nothing to read.
            if (errno != ENOENT && errno != ELOOP)
                rc = mtp_errorf("cannot stat '%s': %s", child, strerror(errno));
        } else if (S_ISDIR(cst.st_mode)) {
            rc = walk_dir(w, child, &cst);
        } else if (S_ISREG(cst.st_mode)) {
            if (!w->glob || fnmatch(w->glob, names[i], 0) == 0) rc = add_file(w, child, &cst);
        }
        free(child);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int corpus_collect(corpus *c, const char *const *inputs, int num_inputs, const char *glob,
                   const char *exclude_dir) {
    memset(c, 0, sizeof *c);
    walker w = {.c = c, .glob = glob};
    int rc = 0;
    struct stat st;
    if (exclude_dir && stat(exclude_dir, &st) == 0 && S_ISDIR(st.st_mode))
        rc = id_set_add(&w.dirs, (uint64_t)st.st_dev, (uint64_t)st.st_ino) < 0 ? -1 : 0;
    for (int i = 0; i < num_inputs && rc == 0; i++) {
        const char *in = inputs[i];
        if (stat(in, &st) != 0) {
            rc = errno == ENOENT ? mtp_errorf("input '%s' does not exist", in)
                                 : mtp_errorf("cannot read input '%s': %s", in, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk_dir(&w, in, &st);
        } else if (S_ISREG(st.st_mode)) {
            rc = add_file(&w, in, &st);
        } else {
            rc = mtp_errorf("input '%s' is neither a regular file nor a directory", in);
        }
    }
    id_set_free(&w.dirs);
    id_set_free(&w.files);
    if (rc != 0) corpus_free(c);
    return rc < 0 ? -1 : 0;
}

void corpus_free(corpus *c) {
    for (size_t i = 0; i < c->count; i++) free(c->paths[i]);
    free(c->paths);
    free(c->sizes);
    memset(c, 0, sizeof *c);
}
