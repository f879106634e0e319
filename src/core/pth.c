// pth.c: PyTorch checkpoint files (pth.h): zip archive + restricted pickle.
#include "core/pth.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"

#define MAX_NUMEL ((uint64_t)1 << 50)

static int check_view(const pth_file *f, const pickle_tensor *t, const zip_entry *e) {
    size_t es = pickle_dtype_size(t->dtype);
    if (t->storage_numel < 0 || (uint64_t)t->storage_numel > e->size / es)
        return mtp_errorf(
            "%s: tensor '%s': its storage '%s' should hold %lld %s values but has %llu bytes: the "
            "file is truncated or damaged",
            f->path, t->name, t->storage_key, (long long)t->storage_numel, pickle_dtype_name(t->dtype),
            (unsigned long long)e->size);
    if (t->offset < 0) return mtp_errorf("%s: tensor '%s' has a negative storage offset", f->path, t->name);
    uint64_t numel = 1, last = (uint64_t)t->offset;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0 || t->stride[d] < 0 || (uint64_t)t->shape[d] > MAX_NUMEL ||
            (uint64_t)t->stride[d] > MAX_NUMEL)
            return mtp_errorf("%s: tensor '%s' has shape or stride out of range in dimension %d", f->path,
                              t->name, d);
        numel = t->shape[d] == 0 ? 0 : numel;
        if (numel && (numel *= (uint64_t)t->shape[d]) > MAX_NUMEL)
            return mtp_errorf("%s: tensor '%s' is too large", f->path, t->name);
    }
    if (numel == 0) return 0;
    // the last element read, each step checked against the storage before it is added (a stride of
    // 2^50 times 16384 rows wrapped around 64 bits to 0, and the reads went far outside the file)
    const uint64_t size = (uint64_t)(t->storage_numel > 0 ? t->storage_numel : 0);
    for (int d = 0; d < t->ndim && last < size; d++) {
        const uint64_t steps = (uint64_t)(t->shape[d] - 1), stride = (uint64_t)t->stride[d];
        if (stride && steps > (size - 1 - last) / stride) {
            last = size;  // past the storage
            break;
        }
        last += steps * stride;
    }
    if (last >= size)
        return mtp_errorf("%s: tensor '%s' reads past the end of its storage of %lld values (shape and "
                          "stride): the file is damaged",
                          f->path, t->name, (long long)t->storage_numel);
    return 0;
}

static int open_archive(pth_file *f) {
    if (zip_open(f->map.data, f->map.size, f->path, &f->zip) != 0) return -1;
    const zip_entry *pkl = zip_find_suffix(&f->zip, "data.pkl");
    if (!pkl)
        return mtp_errorf(
            "%s: no data.pkl in the archive: not a file written by torch.save (version 1.6 or later)",
            f->path);
    size_t prefix = strlen(pkl->name) - strlen("data.pkl");
    char name[1024];
    if (prefix + 64 > sizeof name) return mtp_errorf("%s: archive entry names too long", f->path);
    memcpy(name, pkl->name, prefix);
    strcpy(name + prefix, "byteorder");
    const zip_entry *order = zip_find(&f->zip, name);
    const uint8_t *bytes = order ? zip_entry_data(&f->zip, order) : NULL;
    if (order && (!bytes || order->size != 6 || memcmp(bytes, "little", 6)))
        return mtp_errorf(
            "%s: the tensors are not stored little-endian; re-save the file on a little-endian machine",
            f->path);
    const uint8_t *p = zip_entry_data(&f->zip, pkl);
    if (!p || pickle_read_tensors(p, (size_t)pkl->size, f->path, &f->tensors, &f->count) != 0) return -1;
    f->storage = calloc((size_t)(f->count ? f->count : 1), sizeof *f->storage);
    if (!f->storage) return mtp_errorf("out of memory reading %s", f->path);
    for (int i = 0; i < f->count; i++) {
        const pickle_tensor *t = &f->tensors[i];
        if (strlen(t->storage_key) > 256) return mtp_errorf("%s: a storage key is too long", f->path);
        snprintf(name + prefix, sizeof name - prefix, "data/%s", t->storage_key);
        const zip_entry *e = zip_find(&f->zip, name);
        if (!e)
            return mtp_errorf("%s: tensor '%s' names storage '%s', which is not in the archive", f->path,
                              t->name, t->storage_key);
        if (!(f->storage[i] = zip_entry_data(&f->zip, e)) || check_view(f, t, e) != 0) return -1;
    }
    return 0;
}

int pth_open_memory(const uint8_t *buf, size_t len, const char *label, pth_file *f) {
    memset(f, 0, sizeof *f);
    f->path = malloc(strlen(label) + 1);
    if (!f->path) return mtp_errorf("out of memory");
    strcpy(f->path, label);
    f->map.data = buf;
    f->map.size = len;
    if (open_archive(f) != 0) {
        pth_close(f);
        return -1;
    }
    return 0;
}

int pth_open(const char *path, pth_file *f) {
    memset(f, 0, sizeof *f);
    f->path = malloc(strlen(path) + 1);
    if (!f->path) return mtp_errorf("out of memory");
    strcpy(f->path, path);
    if (fs_map_file(path, &f->map) != 0) {
        pth_close(f);
        return -1;
    }
    f->owns_map = 1;
    if (open_archive(f) != 0) {
        pth_close(f);
        return -1;
    }
    return 0;
}

const pickle_tensor *pth_find(const pth_file *f, const char *name) {
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

size_t pth_numel(const pickle_tensor *t) {
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

static float element(const uint8_t *p, pt_dtype d) {
    uint16_t h;
    float x;
    double y;
    switch (d) {
        case PT_BF16:
            memcpy(&h, p, 2);
            return half_bf16_to_f32(h);
        case PT_F16:
            memcpy(&h, p, 2);
            return half_f16_to_f32(h);
        case PT_F64:
            memcpy(&y, p, 8);
            return (float)y;
        default:
            memcpy(&x, p, 4);
            return x;
    }
}

int pth_read_f32(const pth_file *f, const pickle_tensor *t, float *dst) {
    if (t->dtype != PT_F32 && t->dtype != PT_BF16 && t->dtype != PT_F16 && t->dtype != PT_F64)
        return mtp_errorf("%s: tensor '%s' is %s; a floating-point tensor was expected", f->path, t->name,
                          pickle_dtype_name(t->dtype));
    size_t numel = pth_numel(t), es = pickle_dtype_size(t->dtype);
    if (numel == 0) return 0;
    const uint8_t *base = f->storage[(size_t)(t - f->tensors)] + (size_t)t->offset * es;
    // Walk the view in row-major order: idx is the multi-index, at the
    // element offset it gives.
    int64_t idx[PICKLE_MAX_DIMS] = {0};
    size_t at = 0;
    for (size_t i = 0; i < numel; i++) {
        dst[i] = element(base + at * es, t->dtype);
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) {
                at += (size_t)t->stride[d];
                break;
            }
            at -= (size_t)(t->shape[d] - 1) * (size_t)t->stride[d];
            idx[d] = 0;
        }
    }
    return 0;
}

void pth_release(const pth_file *f, const pickle_tensor *t) {
    const uint8_t *base = f->storage[(size_t)(t - f->tensors)];
    fs_map_release(&f->map, base, (size_t)t->storage_numel * pickle_dtype_size(t->dtype));
}

void pth_close(pth_file *f) {
    pickle_tensors_free(f->tensors, f->count);
    free(f->storage);
    zip_close(&f->zip);
    if (f->owns_map) fs_unmap(&f->map);
    free(f->path);
    memset(f, 0, sizeof *f);
}
