// safetensors.h: reading and writing Hugging Face safetensors files (dtypes
// F32, I8 for quantized weights, and BF16/F16 read from imported models).
//
// Format (https://github.com/huggingface/safetensors): 8-byte little-endian
// header length N, N bytes of UTF-8 JSON (an object, padded with spaces), then
// the data section. Each header entry is
//   "name": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}
// with offsets relative to the start of the data section; the optional key
// "__metadata__" maps strings to strings.
//
// The reader trusts nothing: st_open checks every length, offset, shape and
// name before it returns 0, so a caller may index any tensor's bytes without
// further checks. As in the reference implementation, the tensors must cover
// the data section exactly (no overlaps, no gaps, no trailing bytes).
#ifndef MTP_CORE_SAFETENSORS_H
#define MTP_CORE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/fsutil.h"

#define ST_MAX_DIMS 8
// Largest header accepted, as in the reference implementation.
#define ST_MAX_HEADER_BYTES 100000000u

typedef enum { ST_F32, ST_I8, ST_BF16, ST_F16 } st_dtype;  // 4, 1, 2, 2 bytes per element
size_t st_dtype_size(st_dtype d);
const char *st_dtype_name(st_dtype d);  // "F32"...

typedef struct {
    char *name;
    int ndim;  // 0 for a scalar (shape [])
    int64_t shape[ST_MAX_DIMS];
    st_dtype dtype;
    size_t offset;  // relative to the data section start
    size_t nbytes;  // product(shape) * the dtype's size
} st_tensor;

typedef struct {
    fs_map map;           // empty for st_open_memory
    const uint8_t *data;  // the data section
    size_t data_size;
    st_tensor *tensors;  // in header order
    int count;
    char *path;  // the path or label, used in messages
} st_file;

// Maps `path` and validates it; on failure nothing stays open and *f is zeroed.
int st_open(const char *path, st_file *f);
// The same validation on a caller-owned buffer, which must outlive *f (no
// copy). `label` names the buffer in error messages.
int st_open_memory(const uint8_t *buf, size_t len, const char *label, st_file *f);
// The tensor called `name`, or NULL.
const st_tensor *st_find(const st_file *f, const char *name);
// The tensor's bytes inside the file (little-endian float32; only 1-byte
// alignment is guaranteed for buffers given to st_open_memory).
const uint8_t *st_tensor_data(const st_file *f, const st_tensor *t);
// Copies tensor `name` into dst after checking that it exists and that its
// shape equals shape[0..ndim), e.g.
//   "model.safetensors: tensor 'lm_head.weight' has shape [257, 64], expected [320, 64]".
int st_read_f32(const st_file *f, const char *name, const int64_t *shape, int ndim, float *dst);
// The same for an I8 tensor (int8_t dst).
int st_read_i8(const st_file *f, const char *name, const int64_t *shape, int ndim, int8_t *dst);
// The same checks as st_read_f32, but no copy: *view points at the tensor's
// floats inside the file (valid until st_close), or is NULL where they are
// not 4-byte aligned there (the caller then copies with st_read_f32).
int st_view_f32(const st_file *f, const char *name, const int64_t *shape, int ndim, const float **view);
// The view's pages leave memory once it is no longer needed (it stays valid:
// a later read faults them in from the file again).
void st_view_done(const st_file *f, const void *view, size_t bytes);
// Copies a float tensor (F32, BF16 or F16) into dst as float32, widening the
// 16-bit ones exactly.
int st_read_widened(const st_file *f, const st_tensor *t, float *dst);
// Releases everything; safe on a zeroed or already closed st_file.
void st_close(st_file *f);

typedef struct {
    const char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;  // product(shape) elements of dtype; may be NULL if that is 0
    st_dtype dtype;    // ST_F32 unless set
} st_entry;

// Writes a safetensors file: header length, JSON header padded with spaces to
// a multiple of 8 (so the data section is 8-byte aligned), then the entries'
// data in the given order, contiguous, written straight from the callers'
// buffers and fsync'd. metadata_kv holds metadata_pairs key/value string pairs
// (k0, v0, k1, v1, ...) stored under "__metadata__"; it may be NULL. Hugging
// Face transformers expects {"format": "pt"} there. On failure the partial
// file is removed.
int st_write(const char *path, const st_entry *entries, int count, const char *const *metadata_kv,
             int metadata_pairs);
// Fills buf with the bytes of entry `index` (product(shape) elements of its
// dtype); returns 0, or -1 with an error.
typedef int (*st_produce_fn)(void *ctx, int index, void *buf);
// st_write for files larger than memory: the entries whose data is NULL are
// made one at a time by produce() into one buffer (the size of the largest),
// written, and the buffer reused.
int st_write_streamed(const char *path, const st_entry *entries, int count, const char *const *metadata_kv,
                      int metadata_pairs, st_produce_fn produce, void *ctx);

#endif
