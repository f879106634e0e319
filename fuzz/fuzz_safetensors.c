// fuzz_safetensors.c: st_open_memory on arbitrary bytes. Besides the
// sanitizers' checks, a file that is accepted must keep the reader's promise
// that every tensor can be used without further checks.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/safetensors.h"

// Tensors larger than this are checked but not copied, to keep runs fast.
#define MAX_COPY_BYTES (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file f;
    mtp_clear_error();
    if (st_open_memory(data, size, "fuzz.safetensors", &f) != 0) {
        if (mtp_last_error()[0] == '\0') abort();  // every refusal must say why
        if (f.tensors || f.path) abort();          // and leave nothing open
        return 0;
    }
    if (size < 8 || f.data < data + 8 || f.data + f.data_size != data + size) abort();
    size_t covered = 0;
    for (int i = 0; i < f.count; i++) {
        const st_tensor *t = &f.tensors[i];
        if (t->ndim < 0 || t->ndim > ST_MAX_DIMS) abort();
        uint64_t elements = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0) abort();
            elements *= (uint64_t)t->shape[d];  // cannot overflow if the reader is right
        }
        if (t->nbytes != elements * st_dtype_size(t->dtype)) abort();
        if (t->offset > f.data_size || t->nbytes > f.data_size - t->offset) abort();
        covered += t->nbytes;
        const st_tensor *found = st_find(&f, t->name);
        if (!found || strcmp(found->name, t->name) != 0) abort();
        if (t->nbytes <= MAX_COPY_BYTES && t->dtype == ST_F32) {
            float *dst = malloc(t->nbytes ? t->nbytes : 1);
            if (!dst) abort();
            if (st_read_f32(&f, t->name, t->shape, t->ndim, dst) != 0) abort();
            if (t->nbytes && memcmp(dst, st_tensor_data(&f, t), t->nbytes) != 0) abort();
            free(dst);
        }
        if (t->dtype == ST_F32) {  // the view: the tensor's own bytes where aligned, else NULL
            const float *view = (const float *)1;
            if (st_view_f32(&f, t->name, t->shape, t->ndim, &view) != 0) abort();
            const uint8_t *at = st_tensor_data(&f, t);
            if (view ? (const uint8_t *)view != at : (uintptr_t)at % sizeof(float) == 0) abort();
        }
        if (t->nbytes <= MAX_COPY_BYTES && (t->dtype == ST_BF16 || t->dtype == ST_F16)) {
            float *dst = malloc(elements * sizeof(float) + 1);
            if (!dst || st_read_widened(&f, t, dst) != 0) abort();
            free(dst);
        }
        // A wrong rank must be refused, never copied.
        int64_t wrong[ST_MAX_DIMS + 1] = {0};
        memcpy(wrong, t->shape, sizeof t->shape);
        int wrong_ndim = t->ndim < ST_MAX_DIMS ? t->ndim + 1 : t->ndim - 1;
        if (st_read_f32(&f, t->name, wrong, wrong_ndim, NULL) == 0) abort();
        const float *no_view = NULL;
        if (st_view_f32(&f, t->name, wrong, wrong_ndim, &no_view) == 0) abort();
    }
    // Tensors tile the data section exactly.
    if (covered != f.data_size) abort();
    st_close(&f);
    return 0;
}
