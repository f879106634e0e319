// fuzz_pth.c: pth_open_memory (zip reader + restricted unpickler) on
// arbitrary bytes. A refusal must say why and leave nothing open; an
// accepted file must keep the reader's promise that every tensor's view lies
// inside its storage, so reading any float tensor touches only the buffer.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/pth.h"

#define MAX_READ_ELEMENTS (1u << 18)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // a private copy of exactly `size` bytes, so an overread is caught
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) abort();
    memcpy(copy, data, size);
    pth_file f;
    mtp_clear_error();
    if (pth_open_memory(copy, size, "fuzz.pth", &f) != 0) {
        if (mtp_last_error()[0] == '\0') abort();
        if (f.tensors || f.path || f.zip.entries) abort();
        free(copy);
        return 0;
    }
    for (int i = 0; i < f.count; i++) {
        const pickle_tensor *t = &f.tensors[i];
        if (!t->name || !t->storage_key || t->ndim < 0 || t->ndim > PICKLE_MAX_DIMS) abort();
        if (pth_find(&f, t->name) == NULL) abort();
        size_t n = pth_numel(t);
        if (n > MAX_READ_ELEMENTS) continue;
        float *dst = malloc(n * sizeof *dst + 1);
        if (!dst) abort();
        int rc = pth_read_f32(&f, t, dst);
        int is_float = t->dtype == PT_F32 || t->dtype == PT_F16 || t->dtype == PT_BF16 || t->dtype == PT_F64;
        if ((rc == 0) != is_float) abort();
        free(dst);
    }
    pth_close(&f);
    free(copy);
    return 0;
}
