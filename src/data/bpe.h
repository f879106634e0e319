// bpe.h: the byte-level BPE model: a vocabulary of byte strings and a ranked
// list of merges, and the merging of one pre-tokenized chunk into ids.
//
// Encoding a chunk (Hugging Face `tokenizers` semantics, which on GPT-2's
// files equal tiktoken's): start from one token per byte; repeatedly merge
// the adjacent pair with the lowest merge rank (leftmost first among equal
// ranks) into the pair's result token, until no adjacent pair has a merge.
//
// Built in three stages: bpe_new, bpe_set_token for every id, bpe_index;
// then bpe_add_merge in rank order. After that the model is read-only and
// may be shared by any number of threads.
#ifndef MTP_DATA_BPE_H
#define MTP_DATA_BPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct bpe bpe;

// An empty model for ids [0, vocab_size).
bpe *bpe_new(int32_t vocab_size, const char *label);
void bpe_free(bpe *b);

// Gives id its bytes (copied; at most BPE_MAX_TOKEN_BYTES). Each id once.
#define BPE_MAX_TOKEN_BYTES 4096
int bpe_set_token(bpe *b, int32_t id, const uint8_t *bytes, size_t len);
// Checks that every id has bytes, that no two ids have the same bytes and
// that every single byte is a token; builds the bytes -> id index.
int bpe_index(bpe *b);
// Appends the merge of rank bpe_merge_count(b): (left, right) -> the token
// whose bytes are left's then right's. Fails if that token does not exist,
// or if the pair already has a merge.
int bpe_add_merge(bpe *b, int32_t left, int32_t right);

int32_t bpe_vocab_size(const bpe *b);
int32_t bpe_merge_count(const bpe *b);
// Merge of rank r: its two parts.
void bpe_merge_at(const bpe *b, int32_t rank, int32_t *left, int32_t *right);
// The bytes of id (valid 0 <= id < vocab size); *len is their count.
const uint8_t *bpe_token_bytes(const bpe *b, int32_t id, size_t *len);
// The id whose bytes are s[0..len), or -1 (needs bpe_index).
int32_t bpe_find(const bpe *b, const uint8_t *s, size_t len);

// Writes the ids of chunk s[0..len) to out (room for len ids: a chunk never
// has more ids than bytes) and returns their count. Never fails: long chunks
// use a heap (O(len log len)) with scratch memory of their own, and on out
// of memory fall back to the quadratic scan.
size_t bpe_encode_chunk(const bpe *b, const uint8_t *s, size_t len, int32_t *out);
// The two strategies behind bpe_encode_chunk, exposed so tests can check
// that they agree: a rescan of all pairs after each merge, and a heap of
// candidate merges over a linked list of symbols (-1 on out of memory).
size_t bpe_encode_chunk_scan(const bpe *b, const uint8_t *s, size_t len, int32_t *out);
long bpe_encode_chunk_heap(const bpe *b, const uint8_t *s, size_t len, int32_t *out);

#endif
