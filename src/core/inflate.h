// inflate.h: reading gzip files (RFC 1952) as distributed, such as
// HumanEval.jsonl.gz, without another library: a DEFLATE decoder (RFC 1951;
// stored, fixed and dynamic Huffman blocks) in the manner of zlib's puff.c.
// Every length, distance and code is checked: corrupt or truncated input is
// an error, never a read or write outside the buffers, and the output is
// capped so a small file cannot expand without bound.
#ifndef MTP_CORE_INFLATE_H
#define MTP_CORE_INFLATE_H

#include <stddef.h>
#include <stdint.h>

// 1 if data starts with the gzip magic bytes 1f 8b.
int gzip_is(const uint8_t *data, size_t n);
// Decompresses every member of a gzip stream in[0..n) into *out (malloc'd,
// NUL-terminated; *out_len bytes), checking each member's CRC-32 and size.
// More than max_out bytes of output is an error. `label` names the input in
// errors. Returns 0, or -1 with mtp_errorf.
int gzip_decompress(const uint8_t *in, size_t n, size_t max_out, const char *label, uint8_t **out,
                    size_t *out_len);
// Reads a whole file (at most max_bytes, compressed or not) into a
// NUL-terminated malloc'd buffer, decompressing it if it is gzip.
char *gzip_read_file(const char *path, size_t max_bytes, size_t *len);
// Raw DEFLATE data in[0..n) into out[0..cap): *used gets the input bytes
// consumed, *written the output. Returns 0, -1 for corrupt or truncated
// input, -2 if cap is too small (errors not set: gzip_decompress says them).
int inflate_raw(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *used, size_t *written);
// CRC-32 (the gzip and zip polynomial) of data, continuing from crc (0 to start).
uint32_t crc32_update(uint32_t crc, const uint8_t *data, size_t n);

#endif
