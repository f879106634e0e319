// strbuf.h: a growing string. The first allocation failure latches in
// `failed` (later appends do nothing), so a builder checks once at the end.
#ifndef MTP_CORE_STRBUF_H
#define MTP_CORE_STRBUF_H

#include <stddef.h>

typedef struct {
    char *s;  // NUL-terminated once anything was added
    size_t len, cap;
    int failed;
} strbuf;

// Appends n bytes; 0, or -1 with an error when out of memory.
int strbuf_add(strbuf *b, const char *bytes, size_t n);
// Appends a NUL-terminated string.
int strbuf_adds(strbuf *b, const char *s);
// The string (malloc'd, "" when empty; the caller frees it) and its length,
// or NULL with an error if an append failed. b is emptied either way.
char *strbuf_take(strbuf *b, size_t *len);
void strbuf_free(strbuf *b);

#endif
