// corpus.h: the list of text files a corpus is made of, from the inputs a
// user names on the command line. Each file becomes one document.
//
// - A file input is taken as is (the glob does not apply to it).
// - A directory input is walked recursively; its entries are visited in
//   byte-wise name order, hidden entries (names starting with '.') are
//   skipped, symbolic links are followed but a directory is never entered
//   twice (so link loops end), and only regular files whose name matches
//   `glob` (fnmatch, on the file name alone; NULL = every file) are kept.
// - Inputs keep their command-line order; a file reached twice is kept once,
//   at its first place. The result is therefore deterministic.
#ifndef MTP_DATA_CORPUS_H
#define MTP_DATA_CORPUS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char **paths;     // (count) paths as reached from the inputs
    uint64_t *sizes;  // (count) sizes in bytes at the time of the walk
    size_t count;
    uint64_t total_bytes;
} corpus;

// Collects the files of inputs[0..num_inputs). `exclude_dir`, if not NULL
// and an existing directory, is never entered (the output directory, so a
// second run does not read its own shards). Fails, naming the path, for a
// missing input, an input that is neither a file nor a directory, or an
// unreadable directory. An empty result is not an error
// here (the caller says what was searched).
int corpus_collect(corpus *c, const char *const *inputs, int num_inputs, const char *glob,
                   const char *exclude_dir);
void corpus_free(corpus *c);

#endif
