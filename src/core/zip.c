// zip.c: the zip reader of zip.h (PKWARE APPNOTE 6.3: end of central
// directory, zip64 locator and record, central directory entries with their
// zip64 extra field, local headers).
#include "core/zip.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_LOCAL 0x04034b50u
#define EOCD_BYTES 22
#define EOCD64_BYTES 56
#define LOCATOR64_BYTES 20
#define CENTRAL_BYTES 46
#define LOCAL_BYTES 30
#define MAX_ENTRIES (1 << 24)

static uint32_t u16(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static uint32_t u32(const uint8_t *p) {
    return u16(p) | u16(p + 2) << 16;
}
static uint64_t u64(const uint8_t *p) {
    return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32;
}

// Is [off, off + n) inside a buffer of len bytes?
static int in_range(uint64_t off, uint64_t n, size_t len) {
    return off <= len && n <= len - off;
}

// Where the central directory is and how many entries it holds.
typedef struct {
    uint64_t offset, size, count;
} central_dir;

static int find_central_dir(const uint8_t *buf, size_t len, const char *label, central_dir *cd) {
    if (len < EOCD_BYTES) return mtp_errorf("%s: %zu bytes is too short to be a zip archive", label, len);
    // The record sits at the end, followed only by a comment of up to 64 KiB.
    size_t lowest = len - EOCD_BYTES > 0xffff ? len - EOCD_BYTES - 0xffff : 0;
    size_t at = len - EOCD_BYTES + 1;
    const uint8_t *e = NULL;
    while (at-- > lowest) {
        const uint8_t *p = buf + at;
        if (u32(p) == SIG_EOCD && at + EOCD_BYTES + u16(p + 20) == len) {
            e = p;
            break;
        }
    }
    if (!e)
        return mtp_errorf(
            "%s: no zip end-of-central-directory record (not a zip archive, or truncated): "
            "re-download or re-save the file",
            label);
    if (u16(e + 4) != 0 || u16(e + 6) != 0)
        return mtp_errorf("%s: multi-part zip archives are not supported", label);
    cd->count = u16(e + 10);
    cd->size = u32(e + 12);
    cd->offset = u32(e + 16);
    size_t eocd_at = (size_t)(e - buf);
    // A zip64 locator right before the record points at the zip64 record,
    // whose fields replace the 16- and 32-bit ones.
    if (eocd_at >= LOCATOR64_BYTES && u32(buf + eocd_at - LOCATOR64_BYTES) == SIG_LOCATOR64) {
        uint64_t rec = u64(buf + eocd_at - LOCATOR64_BYTES + 8);
        if (!in_range(rec, EOCD64_BYTES, eocd_at) || u32(buf + rec) != SIG_EOCD64)
            return mtp_errorf(
                "%s: the zip64 end-of-central-directory locator points outside the file "
                "(offset %llu): the archive is damaged",
                label, (unsigned long long)rec);
        cd->count = u64(buf + rec + 32);
        cd->size = u64(buf + rec + 40);
        cd->offset = u64(buf + rec + 48);
    }
    if (!in_range(cd->offset, cd->size, len))
        return mtp_errorf(
            "%s: the zip central directory (offset %llu, %llu bytes) lies outside the %zu-byte "
            "file: the archive is truncated or damaged",
            label, (unsigned long long)cd->offset, (unsigned long long)cd->size, len);
    if (cd->count > MAX_ENTRIES || cd->count * CENTRAL_BYTES > cd->size)
        return mtp_errorf("%s: the zip central directory claims %llu entries in %llu bytes", label,
                          (unsigned long long)cd->count, (unsigned long long)cd->size);
    return 0;
}

// Reads the zip64 extra field (id 1) of a central entry: each 64-bit value is
// present only where the 32-bit field holds its 0xffffffff marker.
static int read_zip64_extra(const uint8_t *x, size_t n, uint64_t *usize, uint64_t *csize, uint64_t *offset,
                            const char *label, const char *name) {
    uint64_t *want[3] = {*usize == 0xffffffffu ? usize : NULL, *csize == 0xffffffffu ? csize : NULL,
                         *offset == 0xffffffffu ? offset : NULL};
    while (n >= 4) {
        uint32_t id = u16(x), sz = u16(x + 2);
        if (sz > n - 4) break;
        if (id == 1) {
            size_t at = 4;
            for (int i = 0; i < 3; i++) {
                if (!want[i]) continue;
                if (at + 8 > 4 + (size_t)sz)
                    return mtp_errorf("%s: entry '%s': zip64 extra field too short", label, name);
                *want[i] = u64(x + at);
                want[i] = NULL;
                at += 8;
            }
        }
        x += 4 + sz;
        n -= 4 + sz;
    }
    for (int i = 0; i < 3; i++)
        if (want[i])
            return mtp_errorf("%s: entry '%s' needs a zip64 extra field it does not have", label, name);
    return 0;
}

static int read_entry(const uint8_t *buf, size_t len, const uint8_t *c, size_t room, const char *label,
                      zip_entry *out, size_t *used) {
    if (room < CENTRAL_BYTES || u32(c) != SIG_CENTRAL)
        return mtp_errorf("%s: damaged zip central directory entry", label);
    size_t nlen = u16(c + 28), xlen = u16(c + 30), clen = u16(c + 32);
    if (CENTRAL_BYTES + nlen + xlen + clen > room)
        return mtp_errorf("%s: a zip central directory entry runs past the directory", label);
    out->name = mtp_malloc(nlen + 1, "zip entry name");
    if (!out->name) return -1;
    memcpy(out->name, c + CENTRAL_BYTES, nlen);
    out->name[nlen] = '\0';
    if (memchr(out->name, '\0', nlen)) return mtp_errorf("%s: a zip entry name holds a NUL byte", label);
    uint32_t flags = u16(c + 8);
    out->method = (int)u16(c + 10);
    uint64_t csize = u32(c + 20), usize = u32(c + 24), local = u32(c + 42);
    if (read_zip64_extra(c + CENTRAL_BYTES + nlen, xlen, &usize, &csize, &local, label, out->name) != 0)
        return -1;
    if (flags & 1) out->method = -1;  // encrypted: listed, never read
    if (!in_range(local, LOCAL_BYTES, len) || u32(buf + local) != SIG_LOCAL)
        return mtp_errorf("%s: entry '%s': its local header (offset %llu) is missing: the archive is damaged",
                          label, out->name, (unsigned long long)local);
    uint64_t data = local + LOCAL_BYTES + u16(buf + local + 26) + u16(buf + local + 28);
    if (!in_range(data, csize, len))
        return mtp_errorf(
            "%s: entry '%s' (%llu bytes at offset %llu) runs past the end of the %zu-byte file: "
            "the archive is truncated",
            label, out->name, (unsigned long long)csize, (unsigned long long)data, len);
    if (out->method == 0 && csize != usize)
        return mtp_errorf("%s: stored entry '%s' has size %llu but %llu bytes in the archive", label,
                          out->name, (unsigned long long)usize, (unsigned long long)csize);
    out->data = buf + data;
    out->size = usize;
    out->csize = csize;
    *used = CENTRAL_BYTES + nlen + xlen + clen;
    return 0;
}

int zip_open(const uint8_t *buf, size_t len, const char *label, zip_archive *z) {
    memset(z, 0, sizeof *z);
    central_dir cd = {0};
    if (!buf && len) return mtp_errorf("%s: no data", label);
    if (find_central_dir(buf, len, label, &cd) != 0) return -1;
    z->label = mtp_malloc(strlen(label) + 1, "zip label");
    z->entries = mtp_calloc(cd.count ? cd.count : 1, sizeof *z->entries, "zip entries");
    if (!z->label || !z->entries) {
        zip_close(z);
        return -1;
    }
    strcpy(z->label, label);
    const uint8_t *c = buf + cd.offset;
    size_t room = cd.size;
    for (uint64_t i = 0; i < cd.count; i++) {
        size_t used = 0;
        z->count++;
        if (read_entry(buf, len, c, room, label, &z->entries[i], &used) != 0) {
            zip_close(z);
            return -1;
        }
        c += used;
        room -= used;
    }
    return 0;
}

const zip_entry *zip_find(const zip_archive *z, const char *name) {
    for (int i = 0; i < z->count; i++)
        if (!strcmp(z->entries[i].name, name)) return &z->entries[i];
    return NULL;
}

const zip_entry *zip_find_suffix(const zip_archive *z, const char *suffix) {
    size_t ns = strlen(suffix);
    for (int i = 0; i < z->count; i++) {
        size_t n = strlen(z->entries[i].name);
        if (n >= ns && !strcmp(z->entries[i].name + n - ns, suffix)) return &z->entries[i];
    }
    return NULL;
}

const uint8_t *zip_entry_data(const zip_archive *z, const zip_entry *e) {
    if (e->method != 0) {
        mtp_errorf("%s: entry '%s' is %s; only stored entries are read (torch.save writes them uncompressed)",
                   z->label, e->name, e->method < 0 ? "encrypted" : "compressed");
        return NULL;
    }
    return e->data;
}

void zip_close(zip_archive *z) {
    for (int i = 0; i < z->count; i++) free(z->entries[i].name);
    free(z->entries);
    free(z->label);
    memset(z, 0, sizeof *z);
}
