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
// Writes `len` bytes to `path` atomically (fs_out below): a failure leaves
// what was there before.
int fs_write_atomic(const char *path, const void *data, size_t len);
// fsync on a directory, so that renames inside it are durable.
int fs_sync_dir(const char *path);
// Removes a directory tree (files and subdirectories). Missing is not an error.
int fs_remove_tree(const char *path);
// Removes the directories DIR/PREFIX<pid>SUFFIX left by processes that have
// ended (kill(pid, 0) fails with ESRCH; a live or unknown process keeps its
// own), calling removed(path, pid, user) for each one removed (may be NULL).
// Best effort: a missing dir or a failed removal is not an error. Returns
// the number removed.
int fs_sweep_stale(const char *dir, const char *prefix, const char *suffix,
                   void (*removed)(const char *path, long pid, void *user), void *user);
// The step of a run directory's checkpoint name, step_ and at least 8 digits
// (step_00000300), or -1 for any other name (step_00000300_best, step_notes).
long fs_step_of_name(const char *name);
// 1 if DIR holds config.json and model.safetensors (a checkpoint's files).
int fs_is_checkpoint_dir(const char *dir);
// The newest checkpoint of a run directory: its step_N subdirectory (named as
// fs_step_of_name takes) of the largest N that fs_is_checkpoint_dir, written
// to out. 1: found; 0: none (or RUN cannot be listed), with no error set.
int fs_newest_checkpoint_dir(const char *run, char *out, size_t cap);
// Joins two path components into out (size cap). Fails if it does not fit.
int fs_join(char *out, size_t cap, const char *a, const char *b);

// An output file replaced atomically. fs_out_open creates a temporary file
// with a unique name (".NAME.PID-N.tmp", never a file of the user's) in the
// target's directory; fs_out_commit flushes and fsyncs it, renames it over
// the target and syncs the directory; fs_out_abort removes it. Whatever
// fails, the target holds its old bytes or the new ones, never part of them.
// A target that is a symbolic link is written through: the file it points
// to is replaced and the link stays. A target that exists and is not a
// regular file (a directory, a device, a FIFO) is refused. The replaced
// file keeps its permission bits; a new one gets 0666 less the umask.
typedef struct {
    FILE *f;           // where to write
    char tmp[4096];    // the temporary file
    char final[4096];  // the file to replace (a link resolved)
} fs_out;
int fs_out_open(fs_out *o, const char *path);
// Flushes and fsyncs the file, still under its temporary name (fs_out_abort
// on failure): files replaced together are all synced before any commit.
int fs_out_sync(fs_out *o);
int fs_out_commit(fs_out *o);
// Drops the temporary file; does nothing after a commit or a second time.
void fs_out_abort(fs_out *o);
// The checks of fs_out_open alone, for a command to run before long work:
// fails if `path` (a link resolved) exists and is not a regular file, or if
// its directory does not exist.
int fs_check_output(const char *path);
// 1 if a and b both exist and are the same file (same device and inode,
// links followed: a hard link or a symlink to it counts), else 0.
int fs_same_file(const char *a, const char *b);

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
