// args.c: checked conversions of flag values.
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *args_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "mtp %s: %s needs a value (see mtp %s --help)\n", cmd, argv[*i], cmd);
        return NULL;
    }
    *i += 1;
    return argv[*i];
}

int args_long(const char *cmd, const char *flag, const char *value, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "mtp %s: %s '%s': expected an integer in [%ld, %ld]\n", cmd, flag, value, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int args_int(const char *cmd, const char *flag, const char *value, int min, int max, int *out) {
    long v;
    if (args_long(cmd, flag, value, min, max, &v) != 0) return -1;
    *out = (int)v;
    return 0;
}

int args_u64(const char *cmd, const char *flag, const char *value, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || end == value || *end != '\0' || value[0] == '-') {
        fprintf(stderr, "mtp %s: %s '%s': expected a non-negative integer\n", cmd, flag, value);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int args_double(const char *cmd, const char *flag, const char *value, double min, double max, double *out) {
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (errno || end == value || *end != '\0' || !isfinite(v) || v < min || v > max) {
        fprintf(stderr, "mtp %s: %s '%s': expected a number in [%g, %g]\n", cmd, flag, value, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int args_unknown(const char *cmd, const char *flag) {
    fprintf(stderr, "mtp %s: unknown flag '%s' (see mtp %s --help)\n", cmd, flag, cmd);
    return -1;
}

int args_is_help(const char *arg) {
    return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}
