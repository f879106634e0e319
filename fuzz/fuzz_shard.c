// fuzz_shard.c: shard_open_memory (llm.c token shards) on arbitrary bytes.
// An accepted shard must describe exactly the bytes it was given: a 1024-byte
// header, then count tokens of elem_bytes each, nothing after them.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    shard s;
    mtp_clear_error();
    if (shard_open_memory(data, size, "fuzz_000000.bin", &s) != 0) {
        if (mtp_last_error()[0] == '\0') abort();  // every refusal must say why
        return 0;
    }
    if (s.elem_bytes != 2 && s.elem_bytes != 4) abort();
    if (s.tokens != data + SHARD_HEADER_BYTES) abort();
    if (s.count > SHARD_MAX_TOKENS || SHARD_HEADER_BYTES + s.count * (size_t)s.elem_bytes != size) abort();
    // Touch every token, so an overread shows up under AddressSanitizer.
    volatile uint32_t sink = 0;
    for (size_t i = 0; i < s.count; i++) sink += shard_token(&s, i);
    (void)sink;
    shard_close(&s);
    return 0;
}
