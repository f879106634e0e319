// cmd_pending.c: a placeholder for `mtp eval-code` until its command file
// lands; the real cmd_eval_code() in cmd_eval_code.c overrides this weak one.
#include <stdio.h>

#include "cli/commands.h"

__attribute__((weak)) int cmd_eval_code(int argc, char **argv) {
    (void)argc, (void)argv;
    fprintf(stderr, "mtp eval-code: not available in this build\n");
    return 2;
}
