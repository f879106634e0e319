// tokenizer_json.h: checks of tokenizer.json fields shared by the loaders of
// each tokenizer kind. Each failing check sets an error naming the file
// (label), the field ("where.key") and the value expected, and returns -1.
#ifndef MTP_DATA_TOKENIZER_JSON_H
#define MTP_DATA_TOKENIZER_JSON_H

#include <cjson/cJSON.h>

// Fails unless every key of object o is in the NULL-terminated list `known`,
// or if a key appears twice. `where` is "" at the top level.
int tj_check_keys(const cJSON *o, const char *const *known, const char *label, const char *where);
// Optional field that must be null when present.
int tj_check_null(const cJSON *o, const char *key, const char *label, const char *where);
// Boolean field; want 0 or 1 requires that value, -1 takes either; a missing
// field is an error when `required`, else accepted.
int tj_check_bool(const cJSON *o, const char *key, int want, int required, const char *label,
                  const char *where);
// String field that must equal `want`.
int tj_check_string(const cJSON *o, const char *key, const char *want, const char *label, const char *where);
// v is an integer in [lo, hi] (no error set; the caller words it): 0 or -1.
int tj_int(const cJSON *v, int lo, int hi, int *out);
// The "model" object of a byte-level tokenizer.json (both kinds mtp writes):
// only known keys, type "BPE", dropout and unk_token null, fuse_unk,
// byte_fallback and ignore_merges false.
int tj_check_bpe_model(const cJSON *m, const char *label);

// The file text of `root` (when ok; malloc'd, the caller free()s it, with
// the final newline a file has), or NULL with an error naming `what`. Frees
// root either way.
char *tj_print_file(cJSON *root, int ok, const char *what);

#endif
