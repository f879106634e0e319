// utf8.h: text that must be valid UTF-8 (JSON output) from bytes a model
// wrote, which need not be.
#ifndef MTP_CORE_UTF8_H
#define MTP_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

// The length (1-4) of the valid UTF-8 sequence at s[0..n), or 0 if there is
// none: overlong forms, UTF-16 surrogates and code points past U+10FFFF are
// invalid.
size_t utf8_valid_at(const unsigned char *s, size_t n);
// 1 if all of s[0..n) is valid UTF-8 (utf8_valid_at's rules).
int utf8_is_valid(const char *s, size_t n);
// Writes code point cp (< 0x110000) as UTF-8 into out (4 bytes of room);
// returns the bytes written.
int utf8_encode(uint32_t cp, char *out);
// A copy of s[0..n) (malloc'd, NUL-terminated) with each byte that is not
// part of valid UTF-8 replaced by U+FFFD; NULL with an error when out of memory.
char *utf8_sanitize(const char *s, size_t n);

#endif
