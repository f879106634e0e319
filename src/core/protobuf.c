// protobuf.c: the wire-format reader of protobuf.h.
#include "core/protobuf.h"

#include <string.h>

#include "core/error.h"

static int varint(pb_reader *r, uint64_t *out, const char *label) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end) return mtp_errorf("%s: truncated protobuf (a varint runs past the end)", label);
        uint8_t b = *r->p++;
        if (shift == 63 && b > 1)
            return mtp_errorf("%s: malformed protobuf (a varint overflows 64 bits)", label);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return mtp_errorf("%s: malformed protobuf (a varint longer than 10 bytes)", label);
}

int pb_next(pb_reader *r, pb_field *f, const char *label) {
    if (r->p >= r->end) return 0;
    uint64_t key = 0;
    if (varint(r, &key, label) != 0) return -1;
    memset(f, 0, sizeof *f);
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
        return mtp_errorf("%s: malformed protobuf (field number 0)", label);
    f->number = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    size_t left;
    switch (f->wire) {
        case PB_VARINT:
            return varint(r, &f->varint, label) == 0 ? 1 : -1;
        case PB_FIXED64:
        case PB_FIXED32: {
            size_t n = f->wire == PB_FIXED64 ? 8 : 4;
            if ((size_t)(r->end - r->p) < n)
                return mtp_errorf("%s: truncated protobuf (a fixed field)", label);
            for (size_t i = 0; i < n; i++) f->varint |= (uint64_t)r->p[i] << (8 * i);
            r->p += n;
            return 1;
        }
        case PB_BYTES:
            if (varint(r, &f->varint, label) != 0) return -1;
            left = (size_t)(r->end - r->p);
            if (f->varint > left)
                return mtp_errorf("%s: truncated protobuf (field %u claims %llu bytes, %zu remain)", label,
                                  f->number, (unsigned long long)f->varint, left);
            f->bytes = r->p;
            f->len = (size_t)f->varint;
            r->p += f->len;
            return 1;
        default:
            return mtp_errorf("%s: malformed protobuf (wire type %d in field %u)", label, f->wire, f->number);
    }
}

float pb_float(const pb_field *f) {
    uint32_t bits = (uint32_t)f->varint;
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}
