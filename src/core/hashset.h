// hashset.h: a set of 64-bit hashes (open addressing, linear probing, load
// under 1/2), for "was this text seen?" over large corpora without storing
// the texts. A collision can only make an unseen text look seen.
#ifndef MTP_CORE_HASHSET_H
#define MTP_CORE_HASHSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *slots;  // 0 marks an empty slot
    size_t cap, count;
} hash_set;

// FNV-1a of the bytes (ASCII letters lowercased when fold_case), then
// SplitMix64's finalizer so the low bits mix well; never 0.
uint64_t hash_text(const char *s, size_t n, int fold_case);
// 1 if h was added, 0 if it was there, -1 when out of memory.
int hash_set_add(hash_set *s, uint64_t h);
int hash_set_has(const hash_set *s, uint64_t h);
void hash_set_free(hash_set *s);

#endif
