// jsonl.h: JSON lines, the format of mtp's logs, results and samples files:
// one JSON object per line.
#ifndef MTP_CORE_JSONL_H
#define MTP_CORE_JSONL_H

#include <stdio.h>

struct cJSON;

// Writes obj on one line of f and deletes it (also on failure). Returns 0, or
// -1 with an error for out of memory or a failed write.
int jsonl_put(FILE *f, struct cJSON *obj);
// A JSON number, or null for inf and NaN (which JSON cannot hold).
struct cJSON *json_number_or_null(double x);

#endif
