// pretokenize.h: GPT-2's pre-tokenizer, which cuts text into the chunks
// that byte-level BPE merges within (never across):
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// matched leftmost-first, as OpenAI's tiktoken ("gpt2") and Hugging Face's
// ByteLevel pre-tokenizer do. \s is Unicode's White_Space property (25 code
// points, written out explicitly: PCRE2's own \s would also take U+180E);
// \p{L} and \p{N} come from PCRE2's Unicode tables (Unicode 14 in PCRE2
// 10.42). Bytes that are not valid UTF-8 match nothing; each run of them
// becomes a chunk of its own, so every byte of the text is in exactly one
// chunk and chunks are in text order.
#ifndef MTP_DATA_PRETOKENIZE_H
#define MTP_DATA_PRETOKENIZE_H

#include <stddef.h>

typedef struct pretokenizer pretokenizer;

// The compiled pattern (JIT where the CPU allows). Shared read-only by any
// number of threads; each scan brings its own match state.
pretokenizer *pretokenizer_gpt2(void);
void pretokenizer_free(pretokenizer *p);

// Called for each chunk text[start .. start+len); a non-zero return stops
// the scan and is returned by pretokenize.
typedef int (*pretokenize_fn)(const char *text, size_t start, size_t len, void *user);

// Scans text[begin..end) where text has `len` bytes in all (the look-ahead
// of \s+(?!\S) may look past `end`, so splitting a text at a chunk boundary
// and scanning the parts with the whole text gives the same chunks). `begin`
// must be a chunk boundary of the whole text (0 always is). Returns 0, -1 on
// error (out of memory), or the callback's non-zero value.
int pretokenize(const pretokenizer *p, const char *text, size_t len, size_t begin, size_t end,
                pretokenize_fn fn, void *user);

// A position near `target` (searching back to target / 2) where every
// GPT-2 pre-tokenization of text[0..len) has a chunk boundary, so the text
// can be cut there and its parts encoded separately (in parallel) with the
// same ids as the whole: just after a newline that has a visible ASCII
// character on each side, or at a space between two ASCII letters. Returns
// 0 when there is no such position in the range (0 < target < len).
size_t pretokenize_safe_cut(const char *text, size_t len, size_t target);

#endif
