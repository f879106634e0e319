// main.c: the `mtp` command; dispatches to one command (or to a command of a
// group: `mtp task poly`), and writes docs/cli.md from the commands' help.
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "libmtp.h"

// In the order `mtp --help` lists them.
static const command_spec *const commands[] = {
    &CMD_TOKENIZER_ENCODE, &CMD_TOKENIZER_DECODE, &CMD_TOKENIZER_TRAIN,
    &CMD_TOKENIZER_BENCH,  &CMD_PREPARE,          &CMD_TRAIN,
    &CMD_SAMPLE,           &CMD_GENERATE,         &CMD_EVAL,
    &CMD_TASK_POLY,        &CMD_TASK_INDUCTION,   &CMD_EVAL_GEN,
    &CMD_EVAL_INDUCTION,   &CMD_EVAL_CHOICE,      &CMD_EVAL_CODE,
    &CMD_EVAL_ROUGE,       &CMD_QUANTIZE,         &CMD_CONVERT,
    &CMD_BENCH_DECODE,     &CMD_BENCH_TRAIN,
};
#define N_COMMANDS (sizeof commands / sizeof *commands)

// Length of the group part of a command's name ("task" of "task poly"), 0 if none.
static size_t group_len(const command_spec *c) {
    const char *sp = strchr(c->name, ' ');
    return sp ? (size_t)(sp - c->name) : 0;
}

static int in_group(const command_spec *c, const char *group) {
    size_t g = group_len(c);
    return g && strlen(group) == g && !strncmp(c->name, group, g);
}

static void usage(FILE *out) {
    fprintf(out,
            "mtp: multi-token prediction language models\n\n"
            "usage: mtp COMMAND [FLAGS]   (mtp COMMAND --help for its flags; mtp --version)\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-18s %s\n", commands[i]->name, commands[i]->summary);
}

static void group_usage(FILE *out, const char *group) {
    fprintf(out,
            "usage: mtp %s SUBCOMMAND [FLAGS]   (mtp %s SUBCOMMAND --help for its flags)\n\nsubcommands:\n",
            group, group);
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (in_group(commands[i], group))
            fprintf(out, "  %-12s %s\n", commands[i]->name + group_len(commands[i]) + 1,
                    commands[i]->summary);
}

// docs/cli.md: every command's help text, in the order above.
static int print_markdown(void) {
    printf(
        "# Command line\n\n"
        "One binary, `mtp`, with one command per job (`mtp tokenizer` and `mtp task` group a few).\n"
        "Every command prints its flags with `--help`; the texts below are those help texts, written\n"
        "by `make docs` (`mtp help --markdown`). Errors are one line on stderr naming the flag or file,\n"
        "the value and the fix, with exit status 1 (bad input) or 2 (bad usage). A flag's value may\n"
        "also be given as `--flag=value`.\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        printf("\n## mtp %s\n\n```\n", commands[i]->name);
        fflush(stdout);
        char *argv[] = {(char *)commands[i]->name, "--help", NULL};
        flags_run(commands[i], 2, argv);
        fflush(stdout);
        printf("```\n");
    }
    return 0;
}

static int run_command(int argc, char **argv);

int main(int argc, char **argv) {
    int rc = run_command(argc, argv);
    // what went to stdout may have failed to reach it (a full disk, a closed file): the
    // command's work is lost then, so that is an error, not a success
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mtp: cannot write standard output: %s\n", errno ? strerror(errno) : "write error");
        return rc ? rc : 1;
    }
    return rc;
}

static int run_command(int argc, char **argv) {
    // Under mpirun every process runs this; process 0 alone speaks, so a bad
    // flag or a progress line is printed once, not once per process.
    if (dist_launch_rank() > 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) return 1;
    }
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        int gpus = op_cuda_devices();
        printf("mtp %s\nbuilt with: kernels for %s, %s, %s, CUDA %s", MTP_VERSION, op_cpu_kernels(),
               op_blas_info(),
#ifdef MTP_MPI
               "OpenMPI",
#else
               "no MPI (make MPI=0)",
#endif
               gpus < 0 ? "no (make CUDA=1)" : "yes");
        if (gpus >= 0) printf(" (%d GPU%s visible)", gpus, gpus == 1 ? "" : "s");
        printf("\n");
        return 0;
    }
    if (!strcmp(argv[1], "help")) {
        if (argc == 3 && !strcmp(argv[2], "--markdown")) return print_markdown();
        if (argc >= 3) {  // mtp help COMMAND [SUBCOMMAND]: that command's --help
            char *args[] = {argv[0], argv[2], argc >= 4 ? argv[3] : "--help", argc >= 4 ? "--help" : NULL,
                            NULL};
            return run_command(argc >= 4 ? 4 : 3, args);
        }
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const command_spec *c = commands[i];
        if (!strcmp(argv[1], c->name)) return flags_run(c, argc - 1, argv + 1);
        if (!in_group(c, argv[1])) continue;
        // a group: the next word names its command
        if (argc >= 3 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))) {
            group_usage(stdout, argv[1]);
            return 0;
        }
        for (size_t j = i; argc >= 3 && j < N_COMMANDS; j++)
            if (in_group(commands[j], argv[1]) &&
                !strcmp(argv[2], commands[j]->name + group_len(commands[j]) + 1))
                return flags_run(commands[j], argc - 2, argv + 2);
        if (argc < 3)
            fprintf(stderr, "mtp %s: name a subcommand: ", argv[1]);
        else
            fprintf(stderr, "mtp %s: unknown subcommand '%s': expected ", argv[1], argv[2]);
        for (size_t j = i, k = 0; j < N_COMMANDS; j++)
            if (in_group(commands[j], argv[1]))
                fprintf(stderr, "%s%s",
                        k++ ? (j + 1 < N_COMMANDS && in_group(commands[j + 1], argv[1]) ? ", " : " or ") : "",
                        commands[j]->name + group_len(commands[j]) + 1);
        fprintf(stderr, " (see mtp %s --help)\n", argv[1]);
        return 2;
    }
    fprintf(stderr, "mtp: unknown command '%s' (see mtp --help)\n", argv[1]);
    return 2;
}
