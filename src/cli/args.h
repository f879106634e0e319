// args.h: small helpers for parsing command-line flags. Each command walks
// its argv itself; these turn a flag's value into a checked number and print
// one clear line on bad input ("mtp train: --batch 'x': expected an integer
// in [1, 65536]"). They return 0 on success, -1 after printing.
#ifndef MTP_CLI_ARGS_H
#define MTP_CLI_ARGS_H

#include <stdint.h>

// The value following flag argv[*i]; advances *i. Prints an error and returns
// NULL if the flag is last.
const char *args_value(const char *cmd, int argc, char **argv, int *i);
int args_long(const char *cmd, const char *flag, const char *value, long min, long max, long *out);
int args_int(const char *cmd, const char *flag, const char *value, int min, int max, int *out);
int args_u64(const char *cmd, const char *flag, const char *value, uint64_t *out);
int args_double(const char *cmd, const char *flag, const char *value, double min, double max, double *out);
// Prints "mtp CMD: unknown flag 'X' (see mtp CMD --help)" and returns -1.
int args_unknown(const char *cmd, const char *flag);
// 1 if argv[i] is -h or --help.
int args_is_help(const char *arg);

#endif
