// code_tasks.h: the code-generation benchmarks of `mtp eval-code`: reading
// HumanEval (Chen et al. 2021) and MBPP (Austin et al. 2021) problems, the
// prompt a model sees, the test program a completion is judged by, and
// samples files. Text only: sampling is the caller's (infer/), running the
// program the sandbox's (eval/sandbox.h).
//
// HumanEval: HumanEval.jsonl, one object per line with string fields
// task_id ("HumanEval/0"), prompt, canonical_solution, test, entry_point.
// The model continues the prompt (a signature and docstring); the program is
//   prompt + completion + "\n" + test + "\n" + "check(" + entry_point + ")\n".
//
// MBPP: mbpp.jsonl (one object per line: task_id, text, code, test_list,
// test_setup_code) or sanitized-mbpp.json (one array: task_id, prompt, code,
// test_list, test_imports). The prompt is Austin et al.'s:
//   "You are an expert Python programmer, and here is your task: {text} Your
//   code should pass these tests:\n\n{test_list, one per line}\n[BEGIN]\n"
// after, with shots = 3, the same block for tasks 2, 3 and 4 each followed by
// "{code}\n[DONE]\n" (the paper's three-shot prompt). The completion is the
// whole solution (up to "[DONE]"); the program is
//   completion + "\n" + (test_setup_code | test_imports, one per line) + "\n"
//   + test_list, one per line, + "\n".
// challenge_test_list is not used. Splits (the README of the dataset): test =
// task ids 11-510, validation 511-600, train 601-974, prompt 1-10.
#ifndef MTP_EVAL_CODE_TASKS_H
#define MTP_EVAL_CODE_TASKS_H

#include <stddef.h>

struct cJSON;

typedef enum { CODE_HUMANEVAL, CODE_MBPP } code_benchmark;

typedef struct {
    char *task_id;      // "HumanEval/0"; MBPP: its number as text ("11")
    long number;        // MBPP's task_id; HumanEval: the number after the '/' (-1 if none)
    char *prompt;       // HumanEval: the code the completion continues; MBPP: the problem text
    char *entry_point;  // HumanEval only
    char *test;         // what follows the completion in the program (see above)
    char *asserts;      // MBPP: test_list, one per line (shown in the prompt)
    char *solution;     // canonical_solution (HumanEval) / code (MBPP)
    long line;          // 1-based line (JSONL) or array index + 1 (JSON), for messages
    int in_split;       // set by code_tasks_select
} code_task;

typedef struct {
    code_benchmark bench;
    code_task *tasks;  // in file order
    long count;
    char *fewshot;  // MBPP: the three worked examples (tasks 2, 3, 4); NULL if the file lacks one
    char *path;     // the file, for messages
} code_tasks;

// "humaneval" or "mbpp"; -1 (with mtp_errorf) for anything else.
int code_benchmark_parse(const char *name, code_benchmark *b);
const char *code_benchmark_name(code_benchmark b);

// Reads and validates every task of `path` (gzip-compressed or not, so
// HumanEval.jsonl.gz reads as distributed); errors name FILE:LINE and the
// field. Free with code_tasks_free.
int code_tasks_load(const char *path, code_benchmark b, code_tasks *out);
void code_tasks_free(code_tasks *t);

// Marks the tasks of `split` (MBPP: "test", "validation", "train",
// "prompt", "all"; HumanEval: "test" or "all", the same 164 tasks). Returns
// how many, or -1 with mtp_errorf for an unknown split or an empty selection.
long code_tasks_select(code_tasks *t, const char *split);

// The index of the task a samples file names: HumanEval "HumanEval/N";
// MBPP the number, as a JSON number or a string "N" or "Mbpp/N". -1 if none.
long code_tasks_find(const code_tasks *t, const struct cJSON *task_id);

// The model's prompt for task i (malloc'd). shots: MBPP 0 or 3 (3 needs
// tasks 2, 3 and 4 in the file: else NULL with mtp_errorf); HumanEval
// ignores it.
char *code_tasks_prompt(const code_tasks *t, long i, int shots);

// The test program for task i and a completion (malloc'd, *len its length).
// With a done marker (NULL: none) the program's last line writes it to its
// stdout once the tests have run (sandbox_config.done_marker), spelled in hex
// so that the source does not hold it as written.
char *code_tasks_program(const code_tasks *t, long i, const char *completion, const char *done_marker,
                         size_t *len);

// Where generation stops (the completion ends before the first match): for
// HumanEval Codex's "\nclass", "\ndef", "\n#", "\nif", "\nprint"; for MBPP
// "[DONE]". NULL-terminated.
const char *const *code_tasks_stops(code_benchmark b);

// One completion from a samples file.
typedef struct {
    long task;  // index into code_tasks.tasks
    char *completion;
    long line;  // 1-based line in the samples file
    int nul;    // the completion held a NUL (a \u0000 escape): completion stops before it
} code_sample;

// Reads a samples file: one JSON object per non-blank line with "task_id"
// and a string "completion" (OpenAI's human-eval format; other fields are
// ignored, so a --results file is a samples file too). Errors (FILE:LINE)
// for bad JSON, a missing field, a task_id not in the tasks, no samples.
int code_samples_read(const char *path, const code_tasks *t, code_sample **out, long *count);
void code_samples_free(code_sample *s, long count);

#endif
