// commands.h: one entry point per subcommand, each in its own cmd_*.c file.
// Each returns the process exit status (0 success, 1 error, 2 usage error).
#ifndef MTP_CLI_COMMANDS_H
#define MTP_CLI_COMMANDS_H

int cmd_prepare(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_bench_train(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_bench_decode(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tokenizer(int argc, char **argv);

#endif
