// commands.h: one entry point per command, each in its own cmd_*.c file:
// flags (a table) -> one library call -> print. Each returns the process
// exit status (0 success, 1 error, 2 usage error). argv[0] is the command's
// name ("eval-gen", "poly" for `mtp task poly`).
#ifndef MTP_CLI_COMMANDS_H
#define MTP_CLI_COMMANDS_H

int cmd_prepare(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_bench_train(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_bench_decode(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tokenizer_encode(int argc, char **argv);
int cmd_tokenizer_decode(int argc, char **argv);
int cmd_tokenizer_train(int argc, char **argv);
int cmd_tokenizer_bench(int argc, char **argv);
// Tasks and evaluations of the paper's experiments.
int cmd_task_poly(int argc, char **argv);
int cmd_task_induction(int argc, char **argv);
int cmd_eval_gen(int argc, char **argv);
int cmd_eval_induction(int argc, char **argv);
int cmd_eval_choice(int argc, char **argv);
int cmd_eval_code(int argc, char **argv);
int cmd_eval_rouge(int argc, char **argv);

#endif
