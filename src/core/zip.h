// zip.h: reading the entries of a zip archive held in memory (a mapped
// file), as PyTorch's torch.save writes them: stored (uncompressed) entries,
// zip64 records for archives or entries past 4 GB.
//
// The reader trusts nothing: zip_open checks the end-of-central-directory
// record, every central directory entry, every local header and every data
// range against the buffer before it returns 0, so a caller may use any
// entry's bytes without further checks. Compressed entries are listed but
// their data is refused (zip_entry_data) with a message naming the entry.
#ifndef MTP_CORE_ZIP_H
#define MTP_CORE_ZIP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;           // NUL-terminated copy of the entry's name
    int method;           // 0 stored; anything else is compressed
    const uint8_t *data;  // the entry's bytes (stored entries), inside the buffer
    uint64_t size;        // uncompressed size
    uint64_t csize;       // size in the archive
} zip_entry;

typedef struct {
    zip_entry *entries;  // in central directory order
    int count;
    char *label;  // the file's name in messages
} zip_archive;

// Parses the archive in buf[0..len) (which must outlive z). On failure
// nothing stays allocated and *z is zeroed.
int zip_open(const uint8_t *buf, size_t len, const char *label, zip_archive *z);
// The entry called `name`, or NULL.
const zip_entry *zip_find(const zip_archive *z, const char *name);
// The first entry whose name ends with `suffix` (e.g. "/data.pkl"), or NULL.
const zip_entry *zip_find_suffix(const zip_archive *z, const char *suffix);
// The entry's bytes, or NULL with an error if it is compressed.
const uint8_t *zip_entry_data(const zip_archive *z, const zip_entry *e);
void zip_close(zip_archive *z);

#endif
