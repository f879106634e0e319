// safetensors.c: validating reader and streaming writer for safetensors files.
#define _POSIX_C_SOURCE 200809L
#include "core/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/half.h"
#include "core/strbuf.h"

// Tensor bytes are copied straight between the file and float arrays.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host (the file format is little-endian)"
#endif

// cJSON keeps numbers as doubles, which hold every integer up to 2^53 exactly;
// larger values could have been rounded, so they are refused.
#define JSON_MAX_EXACT_INT 9007199254740992.0
// Largest element count whose byte size (x4) still fits in size_t and int64.
#define MAX_ELEMENTS_I64 ((uint64_t)(INT64_MAX / 4))
#define MAX_ELEMENTS_SIZE ((uint64_t)(SIZE_MAX / 4))
#define MAX_ELEMENTS (MAX_ELEMENTS_I64 < MAX_ELEMENTS_SIZE ? MAX_ELEMENTS_I64 : MAX_ELEMENTS_SIZE)
// The writer hands the kernel at most this much per write() call (Linux
// caps a single write near 2 GiB anyway).
#define WRITE_CHUNK ((size_t)1 << 30)

// Names in messages are cut short: a hostile header can hold 100 MB names.
#define NAME_FMT "'%.200s'"

static uint64_t read_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

// "[257, 64]" into out (cut short if it does not fit; 256 bytes always do).
static void format_shape(char *out, size_t cap, const int64_t *shape, int ndim) {
    int n = snprintf(out, cap, "[");
    size_t used = (size_t)n;
    for (int i = 0; i < ndim && used < cap; i++) {
        n = snprintf(out + used, cap - used, "%s%" PRId64, i ? ", " : "", shape[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
    if (used < cap) snprintf(out + used, cap - used, "]");
}

// ---------------------------------------------------------------- reading

// A JSON number that is an exact non-negative integer; -1 if it is not.
static int json_uint(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return -1;
    double d = item->valuedouble;
    if (!(d >= 0.0 && d <= JSON_MAX_EXACT_INT)) return -1;  // also refuses NaN
    uint64_t u = (uint64_t)d;
    if ((double)u != d) return -1;
    *out = u;
    return 0;
}

static int parse_shape(const char *label, const char *name, const cJSON *shape, st_tensor *t,
                       uint64_t *elements) {
    if (!shape) return mtp_errorf("%s: tensor " NAME_FMT " has no \"shape\"", label, name);
    if (!cJSON_IsArray(shape))
        return mtp_errorf("%s: tensor " NAME_FMT " has a \"shape\" that is not an array", label, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > ST_MAX_DIMS)
        return mtp_errorf("%s: tensor " NAME_FMT " has %d dimensions; at most %d are supported", label, name,
                          ndim, ST_MAX_DIMS);
    t->ndim = ndim;
    int has_zero = 0;
    int i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        uint64_t v;
        if (cJSON_IsNumber(d) && d->valuedouble < 0)
            return mtp_errorf("%s: tensor " NAME_FMT " has negative dimension %g in its shape", label, name,
                              d->valuedouble);
        if (json_uint(d, &v) != 0)
            return mtp_errorf("%s: tensor " NAME_FMT
                              " has shape entry %d that is not a non-negative integer below 2^53",
                              label, name, i);
        t->shape[i] = (int64_t)v;
        if (v == 0) has_zero = 1;
    }
    // A zero dimension makes the tensor empty whatever the others are; only
    // otherwise can the product overflow.
    uint64_t prod = 1;
    if (has_zero) {
        prod = 0;
    } else {
        for (i = 0; i < ndim; i++) {
            uint64_t v = (uint64_t)t->shape[i];
            if (prod > MAX_ELEMENTS / v) {
                char s[256];
                format_shape(s, sizeof s, t->shape, ndim);
                return mtp_errorf("%s: tensor " NAME_FMT " has shape %s whose element count overflows", label,
                                  name, s);
            }
            prod *= v;
        }
    }
    *elements = prod;
    return 0;
}

static int parse_tensor(const char *label, const cJSON *entry, size_t data_size, st_tensor *t) {
    const char *name = t->name;
    if (!cJSON_IsObject(entry))
        return mtp_errorf("%s: header entry " NAME_FMT " is not an object", label, name);
    // Looked up by walking the members so that a repeated key is caught
    // instead of silently taking the first.
    const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (const cJSON *m = entry->child; m; m = m->next) {
        const cJSON **slot = NULL;
        if (!strcmp(m->string, "dtype"))
            slot = &dtype;
        else if (!strcmp(m->string, "shape"))
            slot = &shape;
        else if (!strcmp(m->string, "data_offsets"))
            slot = &offsets;
        if (!slot) continue;  // unknown keys are allowed, as in the reference reader
        if (*slot) return mtp_errorf("%s: tensor " NAME_FMT " has key \"%s\" twice", label, name, m->string);
        *slot = m;
    }

    if (!dtype) return mtp_errorf("%s: tensor " NAME_FMT " has no \"dtype\"", label, name);
    if (!cJSON_IsString(dtype))
        return mtp_errorf("%s: tensor " NAME_FMT " has a \"dtype\" that is not a string", label, name);
    const char *dt = dtype->valuestring;
    if (!strcmp(dt, "F32"))
        t->dtype = ST_F32;
    else if (!strcmp(dt, "I8"))
        t->dtype = ST_I8;
    else if (!strcmp(dt, "BF16"))
        t->dtype = ST_BF16;
    else if (!strcmp(dt, "F16"))
        t->dtype = ST_F16;
    else
        return mtp_errorf("%s: tensor " NAME_FMT
                          " has dtype '%.32s', but only F32, BF16, F16 and I8 are supported",
                          label, name, dt);
    const uint64_t size = st_dtype_size(t->dtype);

    uint64_t elements = 0;
    if (parse_shape(label, name, shape, t, &elements) != 0) return -1;

    if (!offsets) return mtp_errorf("%s: tensor " NAME_FMT " has no \"data_offsets\"", label, name);
    uint64_t begin, end;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        json_uint(offsets->child, &begin) != 0 || json_uint(offsets->child->next, &end) != 0)
        return mtp_errorf("%s: tensor " NAME_FMT
                          " has \"data_offsets\" that are not two non-negative integers",
                          label, name);
    if (begin > end)
        return mtp_errorf("%s: tensor " NAME_FMT " has data_offsets [%" PRIu64 ", %" PRIu64 "] that decrease",
                          label, name, begin, end);
    if (end > data_size)
        return mtp_errorf("%s: tensor " NAME_FMT " has data_offsets [%" PRIu64 ", %" PRIu64
                          "] past the end of the data section (%zu bytes); the file is truncated or corrupt",
                          label, name, begin, end, data_size);
    if (end - begin != elements * size) {
        char s[256];
        format_shape(s, sizeof s, t->shape, t->ndim);
        return mtp_errorf("%s: tensor " NAME_FMT " has shape %s (%" PRIu64
                          " bytes as %s) but data_offsets [%" PRIu64 ", %" PRIu64 "] span %" PRIu64 " bytes",
                          label, name, s, elements * size, dt, begin, end, end - begin);
    }
    t->offset = (size_t)begin;
    t->nbytes = (size_t)(end - begin);
    return 0;
}

static int parse_metadata(const char *label, const cJSON *meta) {
    if (!cJSON_IsObject(meta)) return mtp_errorf("%s: \"__metadata__\" is not an object of strings", label);
    for (const cJSON *m = meta->child; m; m = m->next)
        if (!cJSON_IsString(m))
            return mtp_errorf("%s: \"__metadata__\" value for key " NAME_FMT " is not a string", label,
                              m->string);
    return 0;
}

static int compare_by_name(const void *a, const void *b) {
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

static int compare_by_offset(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return 0;
}

// Names must be unique, and the tensors must tile the data section exactly:
// sorted by offset, each starts where the previous ended and the last ends at
// data_size (the reference implementation refuses holes too, so that no bytes
// can hide in a file).
static int check_layout(const st_file *f) {
    if (f->count == 0) {
        if (f->data_size != 0)
            return mtp_errorf("%s: the file has no tensors but %zu bytes of data", f->path, f->data_size);
        return 0;
    }
    const st_tensor **order = mtp_malloc((size_t)f->count * sizeof *order, "safetensors tensor index");
    if (!order) return -1;
    for (int i = 0; i < f->count; i++) order[i] = &f->tensors[i];
    int rc = 0;

    qsort(order, (size_t)f->count, sizeof *order, compare_by_name);
    for (int i = 1; i < f->count && rc == 0; i++)
        if (!strcmp(order[i - 1]->name, order[i]->name))
            rc = mtp_errorf("%s: duplicate tensor name " NAME_FMT " in the header", f->path, order[i]->name);

    if (rc == 0) qsort(order, (size_t)f->count, sizeof *order, compare_by_offset);
    size_t pos = 0;
    for (int i = 0; i < f->count && rc == 0; i++) {
        const st_tensor *t = order[i];
        if (t->offset < pos) {
            const st_tensor *p = order[i - 1];
            rc = mtp_errorf("%s: tensor " NAME_FMT " (bytes %zu..%zu) overlaps tensor " NAME_FMT
                            " (bytes %zu..%zu)",
                            f->path, t->name, t->offset, t->offset + t->nbytes, p->name, p->offset,
                            p->offset + p->nbytes);
        } else if (t->offset > pos) {
            rc = mtp_errorf("%s: bytes %zu..%zu of the data section belong to no tensor (gap before " NAME_FMT
                            ")",
                            f->path, pos, t->offset, t->name);
        }
        pos = t->offset + t->nbytes;
    }
    if (rc == 0 && pos != f->data_size)
        rc = mtp_errorf("%s: %zu trailing bytes after the last tensor in the data section", f->path,
                        f->data_size - pos);
    free(order);
    return rc;
}

// Validates buf[0..len) into f, whose path is already set.
static int parse_file(st_file *f, const uint8_t *buf, size_t len) {
    const char *label = f->path;
    if (len < 8)
        return mtp_errorf(
            "%s: file is %zu bytes, shorter than the 8-byte header length; not a safetensors file", label,
            len);
    uint64_t n = read_le64(buf);
    if (n == 0) return mtp_errorf("%s: header length is 0; not a safetensors file", label);
    if (n > ST_MAX_HEADER_BYTES)
        return mtp_errorf("%s: header length %" PRIu64 " is over the 100 MB limit; not a safetensors file",
                          label, n);
    if (n > len - 8)
        return mtp_errorf("%s: header length %" PRIu64
                          " runs past the end of the file (%zu bytes); the file is "
                          "truncated or not safetensors",
                          label, n, len);
    size_t hlen = (size_t)n;
    const char *hsrc = (const char *)buf + 8;
    if (hsrc[0] != '{') return mtp_errorf("%s: header is not a JSON object (it must start with '{')", label);

    // cJSON wants a NUL-terminated string; a copy also keeps the parser
    // inside the header whatever it contains.
    char *hdr = mtp_malloc(hlen + 1, "safetensors header");
    if (!hdr) return -1;
    memcpy(hdr, hsrc, hlen);
    hdr[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(hdr, &end, 0);
    int rc = 0;
    if (!root) {
        size_t at = end ? (size_t)(end - hdr) : 0;
        rc = mtp_errorf("%s: header is not valid JSON (error near byte %zu of %zu)", label, at, hlen);
        goto done;
    }
    // Only padding may follow the object. An embedded NUL stops cJSON early
    // and lands here too.
    for (size_t i = (size_t)(end - hdr); i < hlen; i++) {
        char c = hdr[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            rc = mtp_errorf(
                "%s: header has unexpected byte 0x%02x at offset %zu after the JSON object (only space "
                "padding may follow it)",
                label, (unsigned)(unsigned char)c, i);
            goto done;
        }
    }
    if (!cJSON_IsObject(root)) {
        rc = mtp_errorf("%s: header is not a JSON object", label);
        goto done;
    }

    f->data = buf + 8 + hlen;
    f->data_size = len - 8 - hlen;

    int entries = 0;
    for (const cJSON *e = root->child; e; e = e->next) entries++;
    f->tensors = mtp_calloc(entries ? (size_t)entries : 1, sizeof *f->tensors, "safetensors tensor table");
    if (!f->tensors) {
        rc = -1;
        goto done;
    }
    int seen_metadata = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            if (seen_metadata++) {
                rc = mtp_errorf("%s: \"__metadata__\" appears twice in the header", label);
                goto done;
            }
            if ((rc = parse_metadata(label, e)) != 0) goto done;
            continue;
        }
        st_tensor *t = &f->tensors[f->count];
        t->name = strdup(e->string);
        if (!t->name) {
            rc = mtp_errorf("%s: out of memory copying tensor names", label);
            goto done;
        }
        f->count++;
        if ((rc = parse_tensor(label, e, f->data_size, t)) != 0) goto done;
    }
    rc = check_layout(f);
done:
    cJSON_Delete(root);
    free(hdr);
    return rc;
}

static int open_common(st_file *f, const char *label) {
    f->path = strdup(label ? label : "(buffer)");
    if (!f->path) return mtp_errorf("out of memory opening '%s'", label ? label : "(buffer)");
    return 0;
}

int st_open(const char *path, st_file *f) {
    memset(f, 0, sizeof *f);
    if (open_common(f, path) != 0) return -1;
    if (fs_map_file(path, &f->map) != 0 || parse_file(f, f->map.data, f->map.size) != 0) {
        st_close(f);
        return -1;
    }
    return 0;
}

int st_open_memory(const uint8_t *buf, size_t len, const char *label, st_file *f) {
    memset(f, 0, sizeof *f);
    if (open_common(f, label) != 0) return -1;
    if (!buf && len) {
        st_close(f);
        return mtp_errorf("%s: NULL buffer of %zu bytes", label ? label : "(buffer)", len);
    }
    if (parse_file(f, buf, len) != 0) {
        st_close(f);
        return -1;
    }
    return 0;
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const uint8_t *st_tensor_data(const st_file *f, const st_tensor *t) {
    return f->data + t->offset;
}

// Tensor `name` after checking that it has dtype `dtype` and shape
// shape[0..ndim), or NULL with the error set.
static const st_tensor *checked_tensor(const st_file *f, const char *name, st_dtype dtype,
                                       const int64_t *shape, int ndim) {
    const st_tensor *t = st_find(f, name);
    if (!t) {
        mtp_errorf("%s: no tensor named " NAME_FMT, f->path, name);
        return NULL;
    }
    if (ndim < 0 || ndim > ST_MAX_DIMS) {
        mtp_errorf("%s: expected rank %d for tensor " NAME_FMT " is out of range 0..%d", f->path, ndim, name,
                   ST_MAX_DIMS);
        return NULL;
    }
    if (t->dtype != dtype) {
        mtp_errorf("%s: tensor " NAME_FMT " has dtype %s, expected %s%s", f->path, name,
                   st_dtype_name(t->dtype), st_dtype_name(dtype),
                   t->dtype == ST_BF16 || t->dtype == ST_F16
                       ? " (a Hugging Face checkpoint: import it with mtp convert --from hf)"
                       : "");
        return NULL;
    }
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char have[256], want[256];
        format_shape(have, sizeof have, t->shape, t->ndim);
        format_shape(want, sizeof want, shape, ndim);
        mtp_errorf("%s: tensor " NAME_FMT " has shape %s, expected %s", f->path, name, have, want);
        return NULL;
    }
    return t;
}

// Copies tensor `name` of dtype `dtype` and shape shape[0..ndim) into dst.
static int read_tensor(const st_file *f, const char *name, st_dtype dtype, const int64_t *shape, int ndim,
                       void *dst) {
    const st_tensor *t = checked_tensor(f, name, dtype, shape, ndim);
    if (!t) return -1;
    if (t->nbytes) memcpy(dst, f->data + t->offset, t->nbytes);
    // a mapped file's pages, once copied, leave memory (a 600 MB int8 model otherwise held its
    // file's pages beside the copy until the file closed)
    fs_map_release(&f->map, f->data + t->offset, t->nbytes);
    return 0;
}

size_t st_dtype_size(st_dtype d) {
    return d == ST_F32 ? 4 : d == ST_I8 ? 1 : 2;
}

const char *st_dtype_name(st_dtype d) {
    return d == ST_F32 ? "F32" : d == ST_I8 ? "I8" : d == ST_BF16 ? "BF16" : "F16";
}

int st_read_widened(const st_file *f, const st_tensor *t, float *dst) {
    const uint8_t *p = f->data + t->offset;
    size_t n = t->nbytes / st_dtype_size(t->dtype);
    if (t->dtype == ST_I8)
        return mtp_errorf("%s: tensor " NAME_FMT " is I8, not a float tensor", f->path, t->name);
    if (t->dtype == ST_F32) {
        if (n) memcpy(dst, p, t->nbytes);
        fs_map_release(&f->map, p, t->nbytes);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
        dst[i] = t->dtype == ST_BF16 ? half_bf16_to_f32(h) : half_f16_to_f32(h);
    }
    fs_map_release(&f->map, p, t->nbytes);
    return 0;
}

int st_read_f32(const st_file *f, const char *name, const int64_t *shape, int ndim, float *dst) {
    return read_tensor(f, name, ST_F32, shape, ndim, dst);
}

int st_read_i8(const st_file *f, const char *name, const int64_t *shape, int ndim, int8_t *dst) {
    return read_tensor(f, name, ST_I8, shape, ndim, dst);
}

int st_view_f32(const st_file *f, const char *name, const int64_t *shape, int ndim, const float **view) {
    const st_tensor *t = checked_tensor(f, name, ST_F32, shape, ndim);
    if (!t) return -1;
    const uint8_t *p = f->data + t->offset;
    *view = (uintptr_t)p % _Alignof(float) == 0 ? (const float *)(const void *)p : NULL;
    return 0;
}

void st_view_done(const st_file *f, const void *view, size_t bytes) {
    fs_map_release(&f->map, view, bytes);
}

void st_close(st_file *f) {
    if (f->tensors)
        for (int i = 0; i < f->count; i++) free(f->tensors[i].name);
    free(f->tensors);
    free(f->path);
    fs_unmap(&f->map);
    memset(f, 0, sizeof *f);
}

// ---------------------------------------------------------------- writing

static void sb_printf(strbuf *b, const char *fmt, ...) MTP_PRINTF(2, 3);
static void sb_printf(strbuf *b, const char *fmt, ...) {
    char tmp[64];  // only used for numbers
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->failed = 1;
        return;
    }
    strbuf_add(b, tmp, (size_t)n);
}

// A JSON string literal; bytes >= 0x80 pass through (names are UTF-8).
static void sb_json_string(strbuf *b, const char *s) {
    strbuf_add(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"')
            strbuf_add(b, "\\\"", 2);
        else if (*c == '\\')
            strbuf_add(b, "\\\\", 2);
        else if (*c < 0x20)
            sb_printf(b, "\\u%04x", *c);
        else
            strbuf_add(b, (const char *)c, 1);
    }
    strbuf_add(b, "\"", 1);
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// Checks the entries and gives each one's byte size.
static int check_entries(const char *path, const st_entry *entries, int count, int produced, size_t *nbytes) {
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        const st_entry *e = &entries[i];
        if (!e->name || !e->name[0]) return mtp_errorf("%s: entry %d has no name", path, i);
        if (!strcmp(e->name, "__metadata__"))
            return mtp_errorf("%s: \"__metadata__\" is reserved and cannot name a tensor", path);
        if (e->ndim < 0 || e->ndim > ST_MAX_DIMS)
            return mtp_errorf("%s: tensor " NAME_FMT " has %d dimensions; 0..%d are supported", path, e->name,
                              e->ndim, ST_MAX_DIMS);
        uint64_t elements = 1;
        int has_zero = 0;
        for (int d = 0; d < e->ndim; d++) {
            if (e->shape[d] < 0)
                return mtp_errorf("%s: tensor " NAME_FMT " has negative dimension %" PRId64, path, e->name,
                                  e->shape[d]);
            if (e->shape[d] == 0) has_zero = 1;
        }
        for (int d = 0; d < e->ndim && !has_zero; d++) {
            uint64_t v = (uint64_t)e->shape[d];
            if (elements > MAX_ELEMENTS / v)
                return mtp_errorf("%s: tensor " NAME_FMT " has an element count that overflows", path,
                                  e->name);
            elements *= v;
        }
        if (has_zero) elements = 0;
        nbytes[i] = (size_t)(elements * st_dtype_size(e->dtype));
        if (nbytes[i] && !e->data && !produced)
            return mtp_errorf("%s: tensor " NAME_FMT " has no data", path, e->name);
        if (total > SIZE_MAX - nbytes[i]) return mtp_errorf("%s: total tensor size overflows", path);
        total += nbytes[i];
    }
    if (count == 0) return 0;
    const char **names = mtp_malloc((size_t)count * sizeof *names, "safetensors name check");
    if (!names) return -1;
    for (int i = 0; i < count; i++) names[i] = entries[i].name;
    qsort(names, (size_t)count, sizeof *names, compare_strings);
    int rc = 0;
    for (int i = 1; i < count && rc == 0; i++)
        if (!strcmp(names[i - 1], names[i]))
            rc = mtp_errorf("%s: tensor name " NAME_FMT " is given twice", path, names[i]);
    free(names);
    return rc;
}

// The header JSON, padded with spaces to a multiple of 8 bytes.
static char *build_header(const st_entry *entries, int count, const size_t *nbytes, const char *const *kv,
                          int pairs, size_t *len) {
    strbuf b = {0};
    strbuf_adds(&b, "{");
    int first = 1;
    if (pairs > 0) {
        strbuf_adds(&b, "\"__metadata__\":{");
        for (int i = 0; i < pairs; i++) {
            if (i) strbuf_adds(&b, ",");
            sb_json_string(&b, kv[2 * i]);
            strbuf_adds(&b, ":");
            sb_json_string(&b, kv[2 * i + 1]);
        }
        strbuf_adds(&b, "}");
        first = 0;
    }
    size_t offset = 0;
    for (int i = 0; i < count; i++) {
        const st_entry *e = &entries[i];
        if (!first) strbuf_adds(&b, ",");
        first = 0;
        sb_json_string(&b, e->name);
        sb_printf(&b, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(e->dtype));
        for (int d = 0; d < e->ndim; d++) sb_printf(&b, "%s%" PRId64, d ? "," : "", e->shape[d]);
        sb_printf(&b, "],\"data_offsets\":[%zu,", offset);
        offset += nbytes[i];
        sb_printf(&b, "%zu]}", offset);
    }
    strbuf_adds(&b, "}");
    while (!b.failed && b.len % 8 != 0) strbuf_adds(&b, " ");
    if (b.failed) {
        free(b.s);
        mtp_errorf("out of memory building a safetensors header");
        return NULL;
    }
    *len = b.len;
    return b.s;
}

static int write_full(int fd, const void *data, size_t len, const char *path) {
    const uint8_t *p = data;
    while (len > 0) {
        size_t chunk = len < WRITE_CHUNK ? len : WRITE_CHUNK;
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return mtp_errorf("cannot write '%s': %s", path, strerror(errno));
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int st_write(const char *path, const st_entry *entries, int count, const char *const *metadata_kv,
             int metadata_pairs) {
    return st_write_streamed(path, entries, count, metadata_kv, metadata_pairs, NULL, NULL);
}

int st_write_streamed(const char *path, const st_entry *entries, int count, const char *const *metadata_kv,
                      int metadata_pairs, st_produce_fn produce, void *ctx) {
    if (count < 0 || (count > 0 && !entries))
        return mtp_errorf("%s: invalid tensor list (count %d)", path, count);
    if (metadata_pairs < 0 || (metadata_pairs > 0 && !metadata_kv))
        return mtp_errorf("%s: invalid metadata list (%d pairs)", path, metadata_pairs);
    for (int i = 0; i < 2 * metadata_pairs; i++)
        if (!metadata_kv[i]) return mtp_errorf("%s: metadata entry %d is NULL", path, i);

    size_t *nbytes = mtp_malloc((size_t)(count ? count : 1) * sizeof *nbytes, "safetensors sizes");
    if (!nbytes) return -1;
    if (check_entries(path, entries, count, produce != NULL, nbytes) != 0) {
        free(nbytes);
        return -1;
    }
    size_t hlen;
    char *header = build_header(entries, count, nbytes, metadata_kv, metadata_pairs, &hlen);
    if (!header) {
        free(nbytes);
        return -1;
    }
    if (hlen > ST_MAX_HEADER_BYTES) {
        free(header);
        free(nbytes);
        return mtp_errorf("%s: header would be %zu bytes, over the 100 MB limit readers accept", path, hlen);
    }

    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        free(header);
        free(nbytes);
        return mtp_errorf("cannot create '%s': %s", path, strerror(errno));
    }
    uint8_t prefix[8];
    for (int i = 0; i < 8; i++) prefix[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    int rc = write_full(fd, prefix, 8, path);
    if (rc == 0) rc = write_full(fd, header, hlen, path);
    size_t largest = 0;  // the producer's buffer
    for (int i = 0; i < count; i++)
        if (!entries[i].data && nbytes[i] > largest) largest = nbytes[i];
    void *buf = largest ? mtp_malloc(largest, "tensor being written") : NULL;
    if (largest && !buf) rc = -1;
    for (int i = 0; i < count && rc == 0; i++) {
        if (!nbytes[i]) continue;
        const void *data = entries[i].data;
        if (!data) {
            rc = produce(ctx, i, buf);
            data = buf;
        }
        if (rc == 0) rc = write_full(fd, data, nbytes[i], path);
    }
    free(buf);
    if (rc == 0 && fsync(fd) != 0) rc = mtp_errorf("cannot sync '%s': %s", path, strerror(errno));
    if (close(fd) != 0 && rc == 0) rc = mtp_errorf("cannot close '%s': %s", path, strerror(errno));
    // A half-written file would only fail later, far from the cause.
    if (rc != 0) unlink(path);
    free(header);
    free(nbytes);
    return rc;
}
