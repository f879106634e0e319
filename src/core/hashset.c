// hashset.c: see hashset.h.
#include "core/hashset.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

uint64_t hash_text(const char *s, size_t n, int fold_case) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (fold_case && c >= 'A' && c <= 'Z') c += 32;
        h = (h ^ (uint64_t)c) * 0x100000001b3ULL;
    }
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h ? h : 1;
}

static size_t slot_of(const hash_set *s, uint64_t h) {
    size_t i = (size_t)h & (s->cap - 1);
    while (s->slots[i] && s->slots[i] != h) i = (i + 1) & (s->cap - 1);
    return i;
}

int hash_set_has(const hash_set *s, uint64_t h) {
    return s->cap && s->slots[slot_of(s, h)] == h;
}

int hash_set_add(hash_set *s, uint64_t h) {
    if (2 * (s->count + 1) > s->cap) {
        hash_set g = {NULL, s->cap ? 2 * s->cap : 1024, s->count};
        if (!(g.slots = mtp_calloc(g.cap, sizeof *g.slots, "hash set"))) return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i]) g.slots[slot_of(&g, s->slots[i])] = s->slots[i];
        free(s->slots);
        *s = g;
    }
    size_t i = slot_of(s, h);
    if (s->slots[i]) return 0;
    s->slots[i] = h;
    s->count++;
    return 1;
}

void hash_set_free(hash_set *s) {
    free(s->slots);
    memset(s, 0, sizeof *s);
}
