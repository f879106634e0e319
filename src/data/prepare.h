// prepare.h: text files -> a data directory of token shards (the library
// half of `mtp prepare`; the command line lives in cli/cmd_prepare.c).
//
// Documents: each input file is one document (see corpus.h for how inputs
// are walked), or, with a document separator (TinyStories' "<|endoftext|>"),
// the text between separators with surrounding blanks trimmed (empty ones
// dropped; the separators themselves are not encoded). Every document is
// followed by the end-of-text token.
// Train/val split:
// - With two or more documents, document i goes to val when
//   hash(seed, i) < val_fraction (hash uniform in [0, 1)); if val_fraction > 0
//   and that picks none (or all), the document with the smallest (largest)
//   hash moves to val (train), so both splits are non-empty.
// - A single file with val_fraction > 0 is cut in two: val is its last
//   val_fraction of bytes, starting just after a separator (with one) or at a
//   line start where possible; each part ends with end-of-text.
// Output: DIR/train_000000.bin, ... and DIR/val_000000.bin, ... (each at most
// shard_tokens tokens; uint16 when the vocab fits, else uint32; a split with
// no document gets no shard) and DIR/tokenizer.json. Files are encoded in
// parallel; the output depends only on the inputs and options, never on the
// thread count.
#ifndef MTP_DATA_PREPARE_H
#define MTP_DATA_PREPARE_H

#include <stdint.h>

typedef struct {
    const char *tokenizer;      // "bytes" or the path of a tokenizer.json (or a directory holding one)
    const char *out_dir;        // created if missing
    const char *const *inputs;  // files and directories
    int num_inputs;
    const char *glob;           // NULL: every file in the directories
    const char *doc_separator;  // NULL: each file is one document
    double val_fraction;        // [0, 1)
    uint64_t shard_tokens;      // tokens per shard, [1, SHARD_MAX_TOKENS]
    uint64_t seed;              // for the train/val assignment
    int force;                  // replace train_*.bin / val_*.bin already in out_dir
} prepare_options;

// Defaults used by `mtp prepare` (documented in its --help).
#define PREPARE_DEFAULT_VAL_FRACTION 0.05
#define PREPARE_DEFAULT_SHARD_TOKENS 100000000ull

typedef struct {
    uint64_t files, bytes;              // documents read and their total size
    uint64_t train_docs, val_docs;      // documents per split (a cut document counts in both)
    uint64_t train_tokens, val_tokens;  // including the end-of-text tokens
    int train_shards, val_shards;
    int elem_bytes;  // 2 (uint16) or 4 (uint32)
    int vocab_size;
    int split_single;        // 1 if one document was cut into train and val
    uint64_t removed_stale;  // old shards removed (with force)
} prepare_summary;

// Called from the calling thread as bytes are encoded and written.
typedef void (*prepare_progress_fn)(uint64_t done_bytes, uint64_t total_bytes, void *user);

// Runs the whole preparation. Errors (no inputs, a missing input, no files
// matched, an unwritable out_dir, an existing data directory without force,
// a tokenizer that cannot be loaded, I/O failures) name the path or flag and
// leave no partial shard behind.
// Removes the staging directories (OUT/.prepare-<pid>.tmp) that prepare runs
// into out_dir left when interrupted, if their process has ended, calling
// removed(path, pid, user) for each (may be NULL). prepare_run does this too.
int prepare_sweep_stale(const char *out_dir, void (*removed)(const char *path, long pid, void *user),
                        void *user);
int prepare_run(const prepare_options *opt, prepare_progress_fn progress, void *user,
                prepare_summary *summary);

#endif
