// fuzz_gzip.c: gzip_decompress (src/core/inflate.c) on arbitrary bytes. A
// refused input must say why; an accepted one must have produced at most the
// cap, NUL-terminated; every byte written is read back, so an overwrite or
// overread shows up under AddressSanitizer. The raw decoder also runs on the
// bytes with a tiny output buffer, which must never be overrun.
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/inflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const size_t cap = 1 << 20;
    uint8_t *out = NULL;
    size_t len = 0;
    mtp_clear_error();
    if (gzip_decompress(data, size, cap, "fuzz.gz", &out, &len) != 0) {
        if (mtp_last_error()[0] == '\0') abort();
    } else {
        if (len > cap || out[len] != '\0') abort();
        volatile uint32_t sink = crc32_update(0, out, len);
        (void)sink;
        free(out);
    }
    uint8_t small[64];
    size_t used, written;
    int rc = inflate_raw(data, size, small, sizeof small, &used, &written);
    if (rc < -2 || rc > 0 || used > size || written > sizeof small) abort();
    return 0;
}
