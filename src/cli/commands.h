// commands.h: the commands, one constant per cmd_*.c file (a group's
// commands share one): flags (tables) -> one library call -> print. Each is a
// command_spec whose run function main() reaches through flags_run().
#ifndef MTP_CLI_COMMANDS_H
#define MTP_CLI_COMMANDS_H

#include "cli/flags.h"

extern const command_spec CMD_TOKENIZER_ENCODE, CMD_TOKENIZER_DECODE, CMD_TOKENIZER_TRAIN,
    CMD_TOKENIZER_BENCH;
extern const command_spec CMD_PREPARE, CMD_TRAIN, CMD_SAMPLE, CMD_GENERATE, CMD_EVAL;
// the paper's tasks and their evaluations
extern const command_spec CMD_TASK_POLY, CMD_TASK_INDUCTION, CMD_EVAL_GEN, CMD_EVAL_INDUCTION,
    CMD_EVAL_CHOICE, CMD_EVAL_CODE, CMD_EVAL_ROUGE;
extern const command_spec CMD_QUANTIZE, CMD_CONVERT, CMD_BENCH_DECODE, CMD_BENCH_TRAIN;

#endif
