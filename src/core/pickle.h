// pickle.h: a restricted unpickler for the data.pkl that torch.save writes
// for a dict of tensors (a model's state_dict).
//
// It understands only what that pickle holds: the protocol 2-5 opcodes for
// dicts, lists, tuples, strings, numbers and the memo; the globals
// collections.OrderedDict, torch._utils._rebuild_tensor_v2 and
// _rebuild_parameter, and torch.<Type>Storage; persistent ids naming
// storages. Any other global, opcode or call is refused with an error naming
// it: loading a file never imports or runs anything it names. Every length,
// index and stack operation is checked against the buffer.
#ifndef MTP_CORE_PICKLE_H
#define MTP_CORE_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#define PICKLE_MAX_DIMS 8

typedef enum { PT_F32, PT_F16, PT_BF16, PT_F64, PT_I64, PT_I32, PT_I16, PT_I8, PT_U8, PT_BOOL } pt_dtype;

// One tensor of the state dict: a view (offset, shape, strides, in
// elements) into a storage named by its key (the archive's data/<key>).
typedef struct {
    char *name;  // the dict key; nested dicts are joined with '.'
    pt_dtype dtype;
    int ndim;
    int64_t shape[PICKLE_MAX_DIMS], stride[PICKLE_MAX_DIMS];
    int64_t offset;         // first element inside the storage
    char *storage_key;      // "0", "1", ...
    int64_t storage_numel;  // the storage's element count, as pickled
} pickle_tensor;

// Parses buf[0..len) (`label` names it in errors) and returns the tensors of
// the top-level dict in *out (count in *count; free with
// pickle_tensors_free). Values that are not tensors (numbers, strings) are
// skipped; dicts inside the dict are flattened with "outer.inner" names.
int pickle_read_tensors(const uint8_t *buf, size_t len, const char *label, pickle_tensor **out, int *count);
void pickle_tensors_free(pickle_tensor *t, int count);
// Bytes per element, and the dtype's name ("bfloat16").
size_t pickle_dtype_size(pt_dtype d);
const char *pickle_dtype_name(pt_dtype d);

#endif
