// code_eval.h: functional correctness of generated code (HumanEval, MBPP)
// as pass@k (mtp eval-code): completions from a samples file or sampled from
// a model, each run with its tests in the sandbox, scored with the unbiased
// estimator (eval/passk.h). Task files and prompts: eval/code_tasks.h; the
// sandbox: eval/sandbox.h. See docs/eval-code.md.
#ifndef MTP_TASKS_CODE_EVAL_H
#define MTP_TASKS_CODE_EVAL_H

#include <stdint.h>

#include "core/progress.h"
#include "eval/code_tasks.h"
#include "eval/sandbox.h"
#include "infer/generate.h"

// One completion of a task and, once scored, its outcome.
typedef struct {
    long task;     // index into code_tasks.tasks
    char *text;    // the code
    int nul;       // the code held a NUL byte where text stops: Python refuses such source
    int outcome;   // sandbox_outcome, after code_eval_score
    char *result;  // short verdict: "passed", "timed out", "failed: <last line>"
} code_completion;

typedef struct {
    code_tasks tasks;
    long *eval, n_eval;  // the evaluated tasks (indexes into tasks.tasks): the split's, the first max_tasks
    long *pos_of;        // [tasks.count]: position in eval, or -1 (shares eval's allocation)
    code_completion *c;  // [n] grouped by task in evaluation order
    long n;
    long *nper, *cper;  // [n_eval] completions per task, passing ones per task (one allocation)
    long ignored;       // samples file: completions of tasks not evaluated
    long truncated;     // sampling: prompts cut to fit the context
    long passed, timeouts;
} code_eval;

// Loads the tasks of `data`, selects `split`, keeps the first max_tasks (0 = all).
int code_eval_open(code_eval *e, const char *data, code_benchmark b, const char *split, long max_tasks);
void code_eval_free(code_eval *e);
// The completions of a samples file (one {"task_id", "completion"} per line);
// every evaluated task needs at least one.
int code_eval_read_samples(code_eval *e, const char *path);
// samples_per_task completions per task from g: sample j of the task at file
// index i uses a sampler seed derived from (seed, i, j) only, so it does not
// depend on max_tasks or the other samples. Generation stops at the
// benchmark's stop strings. A prompt longer than the context keeps its last
// tokens, leaving room for min(max_new, context / 2) new ones.
int code_eval_sample(code_eval *e, generator *g, long samples_per_task, int max_new, int shots, uint64_t seed,
                     const progress_sink *progress);
// Runs every completion with its tests, `jobs` programs at once (job j as
// uid base->uid + j when root); results do not depend on jobs.
int code_eval_score(code_eval *e, const sandbox_config *base, int jobs, const progress_sink *progress);
// The mean over evaluated tasks of pass@k.
int code_eval_passk(const code_eval *e, long k, double *out);
// One JSON line per completion: task_id, completion, and once scored passed,
// result (itself a valid samples file either way).
int code_eval_write_results(const code_eval *e, const char *path, int scored);
// Fails if a uid in [uid, uid + jobs) is somebody's account (as root, the
// sandbox runs programs as those uids, which must own nothing).
int code_eval_check_uids(long uid, int jobs);

#endif
