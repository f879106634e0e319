// jsonl.h: JSON lines, the format of mtp's logs, results and samples files:
// one JSON object per line; and reading a JSON file (config.json, params.json).
#ifndef MTP_CORE_JSONL_H
#define MTP_CORE_JSONL_H

#include <stdio.h>

struct cJSON;

// Writes obj on one line of f and deletes it (also on failure). Returns 0, or
// -1 with an error for out of memory or a failed write.
int jsonl_put(FILE *f, struct cJSON *obj);
// A JSON number, or null for inf and NaN (which JSON cannot hold).
struct cJSON *json_number_or_null(double x);
// The one JSON value that text[0..len) holds (blanks around it allowed),
// parsed; NULL where it is not valid JSON or more follows the value (a line
// holding two objects, or one and some junk: cJSON stops at the first value's
// end, which let a second item on a line go unseen).
struct cJSON *json_parse_all(const char *text, size_t len);
// Rewrites each \u0000 escape in JSON text s[0..n) as the escape of ASCII
// character c (1..127), in place, and returns how many there were. A parsed
// string is a C string, which a NUL would cut short: the caller learns that
// one was there, or turns it into another character.
size_t json_rewrite_nul_escapes(char *s, size_t n, char c);
// The first key of object o that appears again later in it, or NULL. (A
// repeated key lets a second value hide behind the first one cJSON finds;
// Python's json, and so Hugging Face, keeps the last.)
const char *json_repeated_key(const struct cJSON *o);
// The JSON object in file dir/name (at most max_bytes), parsed; NULL with
// an error naming the file when it is missing, too large or not an object.
struct cJSON *json_read_object_file(const char *dir, const char *name, size_t max_bytes);

#endif
