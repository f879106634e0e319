// fsutil.h: the file-system primitives the rest of the code needs, each
// reporting failures through mtp_errorf with the path in the message.
#ifndef MTP_CORE_FSUTIL_H
#define MTP_CORE_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// Creates `path` and any missing parents (like mkdir -p).
int fs_mkdir_p(const char *path);
// 1 if `path` is a directory, 0 if not (or missing).
int fs_is_dir(const char *path);
// 1 if `path` exists as a regular file.
int fs_is_file(const char *path);
// Reads a whole file into a NUL-terminated malloc'd buffer; *len gets the size.
// Refuses files larger than max_bytes.
char *fs_read_all(const char *path, size_t max_bytes, size_t *len);
// Reads a stream to its end (stdin) the same way; `label` names it in errors.
char *fs_read_stream(FILE *f, const char *label, size_t max_bytes, size_t *len);
// Writes `len` bytes to `path` (created or truncated) and fsyncs it.
int fs_write_all(const char *path, const void *data, size_t len);
// fsync on a directory, so that renames inside it are durable.
int fs_sync_dir(const char *path);
// Removes a directory tree (files and subdirectories). Missing is not an error.
int fs_remove_tree(const char *path);
// Joins two path components into out (size cap). Fails if it does not fit.
int fs_join(char *out, size_t cap, const char *a, const char *b);

// A read-only memory map of a whole file.
typedef struct {
    const uint8_t *data;
    size_t size;
} fs_map;
int fs_map_file(const char *path, fs_map *map);
// Drops the whole pages of p[0..len) (inside the map) from the process's
// memory: a reader streaming through a file larger than memory releases
// what it has read. The bytes stay readable (the kernel reads them again).
void fs_map_release(const fs_map *map, const void *p, size_t len);
void fs_unmap(fs_map *map);

// Sorted list of the names in `dir` that start with `prefix` and end with
// `suffix` (either may be ""). Free with fs_list_free.
typedef struct {
    char **names;
    int count;
} fs_list;
int fs_list_dir(const char *dir, const char *prefix, const char *suffix, fs_list *out);
void fs_list_free(fs_list *list);

#endif
