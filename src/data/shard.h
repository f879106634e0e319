// shard.h: token shards in the llm.c format, so data can move between mtp
// and that ecosystem.
//
//   header: 256 little-endian int32 (1024 bytes)
//     [0] magic  20240520 -> version 1, tokens are uint16 LE
//                20240801 -> version 7, tokens are uint32 LE (vocab > 65536)
//     [1] version
//     [2] token count (0 .. 2^31-1); the rest of the header is zero
//   body: count tokens, nothing after them
#ifndef MTP_DATA_SHARD_H
#define MTP_DATA_SHARD_H

#include <stddef.h>
#include <stdint.h>

#define SHARD_HEADER_INTS 256
#define SHARD_HEADER_BYTES 1024
#define SHARD_MAGIC_U16 20240520
#define SHARD_VERSION_U16 1
#define SHARD_MAGIC_U32 20240801
#define SHARD_VERSION_U32 7
#define SHARD_MAX_TOKENS 2147483647u

// A validated, read-only view of one shard (file mapping or caller memory).
typedef struct {
    const uint8_t *tokens;  // count * elem_bytes bytes of little-endian ids
    size_t count;
    int elem_bytes;  // 2 or 4
    // private: the mapping to release (NULL for shard_open_memory)
    const uint8_t *map_data;
    size_t map_size;
} shard;

// Maps and validates the shard at `path`: the header is complete, the magic
// is known, the version matches the magic and count * elem_bytes is exactly
// the body size. Errors name the path and what is wrong.
int shard_open(const char *path, shard *s);
// The same validation on buf[0..len), which must outlive s; `label` names it
// in error messages. Never reads outside the buffer.
int shard_open_memory(const uint8_t *buf, size_t len, const char *label, shard *s);
void shard_close(shard *s);

// Token i (i < s->count).
static inline uint32_t shard_token(const shard *s, size_t i) {
    if (s->elem_bytes == 2) {
        const uint8_t *p = s->tokens + 2 * i;
        return (uint32_t)p[0] | (uint32_t)p[1] << 8;
    }
    const uint8_t *p = s->tokens + 4 * i;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// Writes a shard of unknown length: tokens stream to `path.tmp`; close
// patches the count into the header, fsyncs, and renames to `path`, so a
// reader never sees a partial shard.
typedef struct shard_writer shard_writer;
// elem_bytes 2 (uint16, vocab <= 65536) or 4 (uint32).
shard_writer *shard_writer_open(const char *path, int elem_bytes);
// Appends ids; fails if one is negative or does not fit the element type, or
// if the shard would pass SHARD_MAX_TOKENS.
int shard_writer_append(shard_writer *w, const int32_t *ids, size_t n);
// Tokens appended so far.
uint64_t shard_writer_count(const shard_writer *w);
// Finishes the shard (see above) and frees w, also on failure (then the
// temporary file is removed and `path` is untouched).
int shard_writer_close(shard_writer *w);
// Gives up: removes the temporary file and frees w.
void shard_writer_abort(shard_writer *w);

// The elem_bytes needed for ids in [0, vocab_size): 2 or 4.
int shard_elem_bytes_for_vocab(int vocab_size);

#endif
