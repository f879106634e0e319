// shard.c: reading (mmap + validation) and streaming writing of llm.c shards.
#define _POSIX_C_SOURCE 200809L
#include "data/shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"

static int32_t read_i32le(const uint8_t *p) {
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static void write_i32le(uint8_t *p, int32_t v) {
    uint32_t u = (uint32_t)v;
    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 24);
}

int shard_elem_bytes_for_vocab(int vocab_size) {
    return vocab_size <= 65536 ? 2 : 4;
}

int shard_open_memory(const uint8_t *buf, size_t len, const char *label, shard *s) {
    memset(s, 0, sizeof *s);
    if (len < SHARD_HEADER_BYTES)
        return mtp_errorf("%s: %zu bytes, shorter than the %d-byte header: not an llm.c token shard", label,
                          len, SHARD_HEADER_BYTES);
    int32_t magic = read_i32le(buf), version = read_i32le(buf + 4), count = read_i32le(buf + 8);
    if (magic != SHARD_MAGIC_U16 && magic != SHARD_MAGIC_U32)
        return mtp_errorf("%s: bad magic %d (expected %d or %d): not an llm.c token shard", label, (int)magic,
                          SHARD_MAGIC_U16, SHARD_MAGIC_U32);
    int elem = magic == SHARD_MAGIC_U16 ? 2 : 4,
        want_version = elem == 2 ? SHARD_VERSION_U16 : SHARD_VERSION_U32;
    if (version != want_version)
        return mtp_errorf(
            "%s: version %d with magic %d (expected version %d for uint%d tokens): corrupt or unsupported "
            "shard",
            label, (int)version, (int)magic, want_version, 8 * elem);
    if (count < 0)
        return mtp_errorf("%s: negative token count %d in the header: corrupt shard", label, (int)count);
    size_t body = len - SHARD_HEADER_BYTES, want = (size_t)count * (size_t)elem;
    if (body < want)
        return mtp_errorf(
            "%s: header says %d tokens (%zu bytes) but only %zu bytes follow the header: truncated "
            "shard (re-run mtp prepare)",
            label, (int)count, want, body);
    if (body > want)
        return mtp_errorf(
            "%s: header says %d tokens (%zu bytes) but %zu bytes follow the header: %zu trailing "
            "byte%s, corrupt shard",
            label, (int)count, want, body, body - want, body - want == 1 ? "" : "s");
    s->tokens = buf + SHARD_HEADER_BYTES;
    s->count = (size_t)count;
    s->elem_bytes = elem;
    return 0;
}

int shard_open(const char *path, shard *s) {
    memset(s, 0, sizeof *s);
    fs_map map;
    if (fs_map_file(path, &map) != 0) return -1;
    if (shard_open_memory(map.data, map.size, path, s) != 0) {
        fs_unmap(&map);
        return -1;
    }
    s->map_data = map.data;
    s->map_size = map.size;
    return 0;
}

void shard_close(shard *s) {
    if (s->map_data) {
        fs_map map = {s->map_data, s->map_size};
        fs_unmap(&map);
    }
    memset(s, 0, sizeof *s);
}

// ---- writer -----------------------------------------------------------------
struct shard_writer {
    FILE *f;
    char *path, *tmp;
    int elem_bytes;
    uint64_t count;
    uint8_t buf[1 << 16];  // staging for little-endian conversion
};

shard_writer *shard_writer_open(const char *path, int elem_bytes) {
    if (elem_bytes != 2 && elem_bytes != 4) {
        mtp_errorf("%s: shard element size %d (expected 2 or 4)", path, elem_bytes);
        return NULL;
    }
    shard_writer *w = mtp_calloc(1, sizeof *w, "shard writer");
    if (!w) return NULL;
    size_t n = strlen(path);
    w->path = mtp_malloc(n + 1, "shard path");
    w->tmp = mtp_malloc(n + 5, "shard path");
    if (!w->path || !w->tmp) goto fail;
    memcpy(w->path, path, n + 1);
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp", 5);
    w->elem_bytes = elem_bytes;
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        mtp_errorf("cannot create '%s': %s", w->tmp, strerror(errno));
        goto fail;
    }
    // The count stays 0 until close, so an interrupted write never passes
    // for a complete shard even if the .tmp file is renamed by hand.
    uint8_t header[SHARD_HEADER_BYTES] = {0};
    write_i32le(header, elem_bytes == 2 ? SHARD_MAGIC_U16 : SHARD_MAGIC_U32);
    write_i32le(header + 4, elem_bytes == 2 ? SHARD_VERSION_U16 : SHARD_VERSION_U32);
    if (fwrite(header, 1, sizeof header, w->f) != sizeof header) {
        mtp_errorf("cannot write '%s': %s", w->tmp, strerror(errno));
        shard_writer_abort(w);
        return NULL;
    }
    return w;
fail:
    free(w->path);
    free(w->tmp);
    free(w);
    return NULL;
}

uint64_t shard_writer_count(const shard_writer *w) {
    return w->count;
}

int shard_writer_append(shard_writer *w, const int32_t *ids, size_t n) {
    if (n > SHARD_MAX_TOKENS - w->count)
        return mtp_errorf("%s: more than %u tokens in one shard (use a smaller --shard-tokens)", w->path,
                          SHARD_MAX_TOKENS);
    uint32_t max = w->elem_bytes == 2 ? 65535u : 0x7fffffffu;
    // Check everything first, so a rejected call writes nothing.
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] > max)
            return mtp_errorf("%s: token id %d does not fit a uint%d shard (ids must be in [0, %u])", w->path,
                              (int)ids[i], 8 * w->elem_bytes, max);
    size_t per = sizeof w->buf / (size_t)w->elem_bytes;
    for (size_t start = 0; start < n; start += per) {
        size_t m = n - start < per ? n - start : per;
        uint8_t *p = w->buf;
        for (size_t i = 0; i < m; i++) {
            uint32_t u = (uint32_t)ids[start + i];
            p[0] = (uint8_t)u;
            p[1] = (uint8_t)(u >> 8);
            if (w->elem_bytes == 4) {
                p[2] = (uint8_t)(u >> 16);
                p[3] = (uint8_t)(u >> 24);
            }
            p += w->elem_bytes;
        }
        size_t bytes = (size_t)(p - w->buf);
        if (fwrite(w->buf, 1, bytes, w->f) != bytes)
            return mtp_errorf("cannot write '%s': %s", w->tmp, strerror(errno));
    }
    w->count += n;
    return 0;
}

static void writer_free(shard_writer *w) {
    free(w->path);
    free(w->tmp);
    free(w);
}

void shard_writer_abort(shard_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    remove(w->tmp);
    writer_free(w);
}

// fsync of the directory holding `path`, so the rename survives a crash.
static int sync_parent(const char *path) {
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return mtp_errorf("path too long: '%s'", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return fs_sync_dir(".");
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    return fs_sync_dir(dir);
}

int shard_writer_close(shard_writer *w) {
    uint8_t count[4];
    write_i32le(count, (int32_t)w->count);
    int ok = fflush(w->f) == 0 && fseek(w->f, 8, SEEK_SET) == 0 && fwrite(count, 1, 4, w->f) == 4 &&
             fflush(w->f) == 0 && fsync(fileno(w->f)) == 0;
    int e = errno;
    int closed = fclose(w->f) == 0;
    w->f = NULL;
    if (!ok || !closed) {
        mtp_errorf("cannot write '%s': %s", w->tmp, strerror(ok ? errno : e));
        shard_writer_abort(w);
        return -1;
    }
    if (rename(w->tmp, w->path) != 0) {
        mtp_errorf("cannot rename '%s' to '%s': %s", w->tmp, w->path, strerror(errno));
        shard_writer_abort(w);
        return -1;
    }
    int rc = sync_parent(w->path);
    writer_free(w);
    return rc;
}
