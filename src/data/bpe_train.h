// bpe_train.h: learns a byte-level BPE vocabulary (GPT-2 style) from text.
//
// What is learned from:
// 1. Each document (a file of the corpus, or one text in memory) is split at
//    every occurrence of a special token's text (the earliest occurrence
//    first, the longest special where two start at the same byte, as
//    tokenizer_encode_special does); those occurrences are not learned from.
// 2. Each remaining segment is cut into chunks by GPT-2's pre-tokenizer
//    (pretokenize.h), the segment being the whole text of the scan. Merges
//    never cross a chunk boundary.
// 3. Each distinct chunk (its bytes) is a word, with its frequency: the
//    number of times it occurs. Counting runs in parallel over pieces of
//    about 1 MB cut at pretokenize_safe_cut positions, so the counts equal
//    those of a whole-document scan for any thread count and piece size.
//
// The merges:
// - Initially every word is the sequence of its bytes; ids 0..255 are the
//   bytes. Merge i makes id 256 + i; the special tokens follow the merges.
// - The count of a pair (left, right) is the sum over words of frequency *
//   the number of adjacent positions holding that pair: "aaa" counts twice
//   for (a, a), as in Hugging Face's trainer.
// - Each step merges the pair with the highest count; ties go to the
//   smallest left id, then the smallest right id. In each word the pair's
//   occurrences are replaced left to right without overlap ("aaa" becomes
//   [aa, a]).
// - A pair is never merged if the result would be longer than
//   BPE_MAX_TOKEN_BYTES or have the same bytes as an existing token (a
//   vocabulary has each byte string once); the next best pair is taken.
// - Training stops early, with fewer merges than asked for, when no pair is
//   left (every word is a single token). The vocabulary is then smaller:
//   callers report tokenizer_vocab_size of the result.
//
// The result depends only on the text, never on the thread count or the
// order of the files' pieces.
#ifndef MTP_DATA_BPE_TRAIN_H
#define MTP_DATA_BPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "data/corpus.h"
#include "data/tokenizer.h"

typedef struct {
    int vocab_size;               // total ids: 256 byte tokens + merges + special tokens
    const char *const *specials;  // special token texts; the first is the end of text
    int nspecials;                // >= 1
    int threads;                  // <= 0: OpenMP default
    // Bytes per counting piece; 0 = 1 MB. For tests: a small value forces
    // many cuts, which must not change the result.
    size_t piece_bytes;
} bpe_train_options;

// phase is "count" (bytes done / total) or "merge" (merges done / total).
// Called from the calling thread only: at most about 10 times per second,
// plus once when merging starts and once at the end of each phase.
typedef void (*bpe_train_progress_fn)(const char *phase, uint64_t done, uint64_t total, void *user);

// Learns merges from the files of corpus c and returns the tokenizer made by
// tokenizer_bpe_from_merges(merges, nmerges, specials, nspecials, label).
// NULL on error: vocab_size too small for one merge (or above 2^30), a
// special token that is empty, one byte long or given twice, an unreadable
// file (named), out of memory.
tokenizer *bpe_train(const bpe_train_options *o, const corpus *c, bpe_train_progress_fn progress, void *user);
// Same from texts in memory (for tests and small inputs): texts[i] has
// lens[i] bytes (lens NULL: NUL-terminated texts). Each text is a document.
tokenizer *bpe_train_texts(const bpe_train_options *o, const char *const *texts, const size_t *lens,
                           int ntexts, bpe_train_progress_fn progress, void *user);

#endif
