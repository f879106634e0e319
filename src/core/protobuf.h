// protobuf.h: reading the Protocol Buffers wire format (varints, 32/64-bit
// fixed fields, length-delimited fields), enough to walk a message field by
// field without generated code. Every length is checked against the buffer.
#ifndef MTP_CORE_PROTOBUF_H
#define MTP_CORE_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *p, *end;
} pb_reader;

enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_BYTES = 2, PB_FIXED32 = 5 };

typedef struct {
    uint32_t number;       // the field number
    int wire;              // PB_*
    uint64_t varint;       // PB_VARINT; PB_FIXED32/PB_FIXED64: the raw bits
    const uint8_t *bytes;  // PB_BYTES: the payload (a string or a nested message)
    size_t len;
} pb_field;

static inline pb_reader pb_reader_of(const uint8_t *p, size_t len) {
    pb_reader r = {p, p + len};
    return r;
}
// Reads the next field into *f. Returns 1 for a field, 0 at the end of the
// message, -1 (with an error naming `label`) for malformed input: a varint
// past 10 bytes, a length past the end, a group (wire types 3 and 4) or an
// unknown wire type.
int pb_next(pb_reader *r, pb_field *f, const char *label);
// A PB_FIXED32 field's bits as a float.
float pb_float(const pb_field *f);

#endif
