// jsonl.c: see jsonl.h.
#include "core/jsonl.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

#include "core/error.h"

int jsonl_put(FILE *f, cJSON *obj) {
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) return mtp_errorf("out of memory writing JSON");
    int rc =
        fputs(text, f) < 0 || fputc('\n', f) == EOF ? mtp_errorf("cannot write JSON: is the disk full?") : 0;
    free(text);
    return rc;
}

cJSON *json_number_or_null(double x) {
    return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull();
}
