// pth.h: reading the tensors of a PyTorch checkpoint (`torch.save` of a dict
// of tensors: a zip archive holding data.pkl and one data/<key> entry per
// storage) without PyTorch and without running anything from the file
// (core/pickle.h), mapped rather than read, so a 13.5 GB file costs no
// memory beyond the pages a caller touches.
#ifndef MTP_CORE_PTH_H
#define MTP_CORE_PTH_H

#include <stddef.h>

#include "core/fsutil.h"
#include "core/pickle.h"
#include "core/zip.h"

typedef struct {
    fs_map map;
    int owns_map;  // map came from fs_map_file (pth_open), not a caller's buffer
    zip_archive zip;
    pickle_tensor *tensors;
    int count;
    const uint8_t **storage;  // per tensor: the first byte of its storage
    char *path;
} pth_file;

// Maps and validates `path`: every tensor's storage exists in the archive,
// is stored uncompressed, holds the elements the pickle says, and the view
// (offset, shape, strides) stays inside it. On failure *f is zeroed.
int pth_open(const char *path, pth_file *f);
// The same on a caller-owned buffer (the fuzz target's entry point).
int pth_open_memory(const uint8_t *buf, size_t len, const char *label, pth_file *f);
const pickle_tensor *pth_find(const pth_file *f, const char *name);
// Element count of a tensor (product of its shape).
size_t pth_numel(const pickle_tensor *t);
// Copies the tensor in row-major order into dst (pth_numel floats), widening
// bfloat16 and float16 exactly and rounding float64 to nearest; integer and
// bool tensors are refused.
int pth_read_f32(const pth_file *f, const pickle_tensor *t, float *dst);
// Drops the tensor's storage pages from memory once read (fs_map_release):
// converting a checkpoint larger than memory keeps only what it works on.
void pth_release(const pth_file *f, const pickle_tensor *t);
void pth_close(pth_file *f);

#endif
