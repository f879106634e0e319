// cmd_eval_code.c: `mtp eval-code`, code generation pass@k (HumanEval, MBPP)
// in a sandbox (tasks/code_eval.h; docs/eval-code.md).
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/flag_groups.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "eval/passk.h"
#include "libmtp.h"
#include "tasks/code_eval.h"

#define MAX_KS 32

typedef struct {
    long v[MAX_KS];
    int n;
} k_list;

typedef struct {
    model_flags m;
    decode_flags d;
    int benchmark, samples_per_task, shots, jobs, json;
    const char *data, *samples, *split, *python, *results;
    long max_tasks, memory_mb, uid;
    double timeout;
    k_list ks;
} code_args;

// "1,10,100" -> up to MAX_KS distinct k in [1, 1e6].
static int parse_ks(const char *v, void *dest) {
    k_list *ks = dest;
    ks->n = 0;
    for (const char *s = v;;) {
        char *end;
        long k = strtol(s, &end, 10);
        if (!isdigit((unsigned char)*s) || end == s || k < 1 || k > 1000000 || (*end && *end != ',') ||
            ks->n == MAX_KS || (*end && !end[1]))
            return mtp_errorf("expected up to %d comma-separated integers >= 1", MAX_KS);
        int dup = 0;
        for (int i = 0; i < ks->n; i++) dup |= ks->v[i] == k;
        if (!dup) ks->v[ks->n++] = k;
        if (!*end) return 0;
        s = end + 1;
    }
}

static void show_ks(const void *dest, char *buf, size_t cap) {
    const k_list *ks = dest;
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < ks->n && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%ld", i ? "," : "", ks->v[i]);
}

static const char *const benchmarks[] = {"humaneval", "mbpp", NULL};
static const char *const shots[] = {"0", "3", NULL};

#define OFF(field) offsetof(code_args, field)

static const flag CODE_FLAGS[] = {
    {"--benchmark", FLAG_CHOICE, OFF(benchmark), "B", "humaneval or mbpp", .choices = benchmarks},
    {"--data", FLAG_STRING, OFF(data), "FILE",
     "HumanEval.jsonl (or HumanEval.jsonl.gz as distributed),\nmbpp.jsonl or sanitized-mbpp.json"},
    {"--samples", FLAG_STRING, OFF(samples), "FILE",
     "completions, one {\"task_id\": ..., \"completion\": ...} per line"},
    {0},
};

static const flag SAMPLING_FLAGS[] = {
    {"--samples-per-task", FLAG_INT, OFF(samples_per_task), "N", "completions per task", 1, 1000000},
    {"--shots", FLAG_CHOICE, OFF(shots), "0|3", "MBPP prompt's worked examples, tasks 2-4", .choices = shots},
    {0},
};

static const flag SCORING_FLAGS[] = {
    {"--split", FLAG_STRING, OFF(split), "S", "MBPP: test (tasks 11-510), validation, train, prompt, all"},
    {"--max-tasks", FLAG_LONG, OFF(max_tasks), "N", "the first N tasks of the split", 1, 1 << 30,
     .unset = "all"},
    {"--k", FLAG_PARSE, OFF(ks), "LIST",
     "comma-separated k of pass@k (a k above the samples of some\ntask is left out)", .parse = parse_ks,
     .show = show_ks},
    {"--timeout", FLAG_DOUBLE, OFF(timeout), "SEC", "wall-clock limit per program", 0.1, 3600},
    {"--memory-mb", FLAG_LONG, OFF(memory_mb), "MB", "address-space limit per program", 64, 1 << 20},
    {"--jobs", FLAG_INT, OFF(jobs), "J", "programs run at once; results do not depend on it", 1, 256},
    {"--python", FLAG_STRING, OFF(python), "PATH",
     "interpreter: a path, or a name looked up on PATH (the first the\nsandbox can run)"},
    {"--sandbox-uid", FLAG_LONG, OFF(uid), "UID", "when run as root, job j runs as uid/gid UID+j", 1,
     4000000000.0},
    {"--results", FLAG_STRING, OFF(results), "FILE",
     "one JSON line per completion: task_id, completion, passed, result\n(itself a valid --samples file; "
     "with --model written as soon as\nthe completions are sampled, then again with the outcomes)"},
    {"--json", FLAG_BOOL, OFF(json), NULL,
     "print one JSON object: {\"pass@1\": ..., \"tasks\": n, \"samples\": m, ...}"},
    {0},
};

static void print_report(const code_args *a, const code_eval *e, const long *ks, const double *pk, int n_ks,
                         double t0) {
    if (a->json) {
        cJSON *j = cJSON_CreateObject();
        char key[32];
        for (int i = 0; i < n_ks; i++) {
            snprintf(key, sizeof key, "pass@%ld", ks[i]);
            cJSON_AddNumberToObject(j, key, pk[i]);
        }
        cJSON_AddNumberToObject(j, "tasks", (double)e->n_eval);
        cJSON_AddNumberToObject(j, "samples", (double)e->n);
        cJSON_AddNumberToObject(j, "passed", (double)e->passed);
        cJSON_AddNumberToObject(j, "timed_out", (double)e->timeouts);
        cJSON_AddStringToObject(j, "benchmark", code_benchmark_name(e->tasks.bench));
        jsonl_put(stdout, j);
        return;
    }
    long min_n = passk_min_samples(e->nper, e->n_eval), max_n = 0;
    for (long p = 0; p < e->n_eval; p++)
        if (e->nper[p] > max_n) max_n = e->nper[p];
    printf("benchmark  %s (%s, split %s)\n", code_benchmark_name(e->tasks.bench), a->data, a->split);
    printf("tasks      %ld\n", e->n_eval);
    if (min_n == max_n)
        printf("samples    %ld (%ld per task)\n", e->n, min_n);
    else
        printf("samples    %ld (%ld to %ld per task)\n", e->n, min_n, max_n);
    printf("passed     %ld (%ld timed out)\n", e->passed, e->timeouts);
    for (int i = 0; i < n_ks; i++) {
        char key[32];
        snprintf(key, sizeof key, "pass@%ld", ks[i]);
        printf("%-10s %.4f\n", key, pk[i]);
    }
    printf("time       %.1f s\n", mtp_now() - t0);
}

// The k every task supports (a note for each given one left out); 0 if none.
static int usable_ks(const command_line *cl, const code_args *a, long min_n, long *ks) {
    int n = 0;
    for (int i = 0; i < a->ks.n; i++)
        if (a->ks.v[i] <= min_n) ks[n++] = a->ks.v[i];
    for (int i = 0; i < a->ks.n && n > 0 && flags_given(cl, "--k"); i++)
        if (a->ks.v[i] > min_n)
            fprintf(stderr, "mtp eval-code: pass@%ld left out: some task has only %ld completion(s)\n",
                    a->ks.v[i], min_n);
    if (n == 0) {
        char list[256];
        show_ks(&a->ks, list, sizeof list);
        mtp_errorf(
            "--k %s: every k exceeds the %ld completion(s) of some task: give a smaller --k or more samples",
            list, min_n);
    }
    return n;
}

static int read_samples(const code_args *a, code_eval *e) {
    if (code_eval_read_samples(e, a->samples)) return -1;
    if (e->ignored)
        fprintf(stderr,
                "mtp eval-code: ignored %ld completion(s) of tasks outside the %ld evaluated (split %s%s)\n",
                e->ignored, e->n_eval, a->split, a->max_tasks ? ", --max-tasks" : "");
    return 0;
}

// The sandbox and the interpreter it runs.
typedef struct {
    sandbox_config c;
    char python[4096], version[64];
    int flags;  // SANDBOX_* in force
} sandbox_setup;

// Found after every check of the input and before the (long) sampling: as
// root, job j runs as uid + j, which must be nobody's account.
static int find_sandbox(const code_args *a, sandbox_setup *sb) {
    sandbox_config_default(&sb->c);
    sb->c.timeout = a->timeout;
    sb->c.memory_mb = a->memory_mb;
    sb->c.uid = (unsigned)a->uid;
    if (code_eval_check_uids(a->uid, a->jobs) ||
        sandbox_find_python(&sb->c, a->python, sb->python, sizeof sb->python, sb->version, sizeof sb->version,
                            &sb->flags))
        return -1;
    sb->c.python = sb->python;
    return 0;
}

// MBPP's three-shot prompt shows tasks 2, 3 and 4 solved: scoring those tasks with it (splits
// prompt and all) shows the model its own answer. Said, not hidden: the split is the user's.
static void note_shots_in_split(const code_args *a, const code_eval *e) {
    if (e->tasks.bench != CODE_MBPP || 3 * a->shots != 3) return;  // shots: the index of "0" or "3"
    long seen = 0;
    for (long i = 0; i < e->n_eval; i++) {
        long number = e->tasks.tasks[e->eval[i]].number;
        seen += number >= 2 && number <= 4;
    }
    if (seen)
        fprintf(
            stderr,
            "mtp eval-code: %ld task%s of split %s (of 2, 3, 4) %s the three-shot prompt's worked "
            "examples: %s prompt shows %s own solution (--split test, or --shots 0, scores without that)\n",
            seen, seen == 1 ? "" : "s", a->split, seen == 1 ? "is one of" : "are",
            seen == 1 ? "its" : "their", seen == 1 ? "its" : "their");
}

static int sample(const code_args *a, code_eval *e) {
    note_shots_in_split(a, e);
    model_session ms = {0};
    generator_config gc = {a->d.speculative, (float)a->d.temperature, 0, (float)a->d.top_p, a->d.seed};
    progress bar;
    progress_sink sink = progress_bar(&bar, "sampling", (uint64_t)(e->n_eval * a->samples_per_task), NULL, 0);
    int rc = session_open(&ms, a->m.model) || session_generator(&ms, &gc) ||
             code_eval_sample(e, &ms.gen, a->samples_per_task, a->d.max_new, 3 * a->shots, a->d.seed, &sink);
    session_close(&ms);
    // the completions are kept before any program runs: a sandbox that fails late, or Ctrl-C,
    // must not lose hours of sampling (score() rewrites the file with the outcomes)
    if (rc == 0 && a->results) rc = code_eval_write_results(e, a->results, 0);
    if (rc == 0 && e->truncated)
        fprintf(stderr,
                "mtp eval-code: %ld of %ld prompts were longer than the model's context allows and kept only "
                "their "
                "last tokens\n",
                e->truncated, e->n_eval);
    return rc;
}

// Runs the programs and prints pass@k.
static int score(const code_args *a, code_eval *e, const sandbox_setup *sb, const long *ks, int n_ks,
                 double t0) {
    char desc[256];
    double pk[MAX_KS];
    // said once the model's errors are past, so that those are one line too
    fprintf(stderr, "mtp eval-code: python %s (%s); sandbox: %s\n", sb->python, sb->version,
            sandbox_describe(&sb->c, sb->flags, desc, sizeof desc));
    progress bar;
    progress_sink sink = progress_bar(&bar, "testing", (uint64_t)e->n, NULL, 0);
    if (code_eval_score(e, &sb->c, a->jobs, &sink)) {
        if (a->m.model && a->results) {
            char why[1024];
            snprintf(why, sizeof why, "%s", mtp_last_error());
            mtp_errorf("%s (the %ld completions are kept in %s: score them with --samples %s)", why, e->n,
                       a->results, a->results);
        }
        return -1;
    }
    for (int i = 0; i < n_ks; i++)
        if (code_eval_passk(e, ks[i], &pk[i])) return -1;
    if (a->results && code_eval_write_results(e, a->results, 1)) return -1;
    print_report(a, e, ks, pk, n_ks, t0);
    return 0;
}

// Before any work: --results must be a file that can be written and not an
// input (writing it would destroy that input).
static int check_results(const command_line *cl, const code_args *a) {
    if (!a->results) return FLAGS_OK;
    const char *in_flag[] = {"--data", "--samples"}, *in[] = {a->data, a->samples};
    for (int i = 0; i < 2; i++)
        if (in[i] && fs_same_file(a->results, in[i]))
            return flags_usage_error(
                cl,
                "--results %s is the same file as %s %s: writing it would destroy the input; give --results "
                "another path",
                a->results, in_flag[i], in[i]);
    if (fs_check_output(a->results) != 0) {
        mtp_error_context("--results %s", a->results);
        return 1;
    }
    return FLAGS_OK;
}

static int run_eval_code(command_line *cl) {
    const code_args *a = cl->args;
    static const char *const sampling[] = {
        "--samples-per-task", "--temperature", "--top-p",   "--max-new", "--seed",
        "--speculative",      "--shots",       "--threads", "--device"};
    const char *sampling_given = NULL;
    for (size_t i = 0; i < sizeof sampling / sizeof *sampling && !sampling_given; i++)
        if (flags_given(cl, sampling[i])) sampling_given = sampling[i];
    if (!!a->m.model == !!a->samples)
        return flags_usage_error(cl, "give --model (to sample completions) or --samples (a file of them), %s",
                                 a->m.model ? "not both" : "one of them");
    if (a->samples && sampling_given)
        return flags_usage_error(cl,
                                 "%s: sampling flags (--samples-per-task, --temperature, ..., --threads, "
                                 "--device) need --model, not --samples",
                                 sampling_given);
    if (a->benchmark == CODE_HUMANEVAL && flags_given(cl, "--shots"))
        return flags_usage_error(cl, "--shots is for MBPP prompts; HumanEval's prompt is the task's own");
    int checked = check_results(cl, a);
    if (checked) return checked;
    double t0 = mtp_now();
    code_eval e = {0};
    sandbox_setup sb;
    long ks[MAX_KS];
    int n_ks = 0;
    int rc = code_eval_open(&e, a->data, (code_benchmark)a->benchmark, a->split, a->max_tasks) ||
             (a->samples && read_samples(a, &e)) ||
             !(n_ks = usable_ks(cl, a, a->samples ? passk_min_samples(e.nper, e.n_eval) : a->samples_per_task,
                                ks)) ||
             find_sandbox(a, &sb) || (a->m.model && sample(a, &e)) || score(a, &e, &sb, ks, n_ks, t0);
    code_eval_free(&e);
    return rc;
}

static const code_args EVAL_CODE_DEFAULTS = {
    .d = {.max_new = 512, .speculative = -2, .temperature = 0.8, .top_p = 0.95, .seed = 1},
    .benchmark = -1,
    .samples_per_task = 1,
    .shots = 1,
    .jobs = 2,
    .split = "test",
    .python = "python3",
    .memory_mb = 1024,
    .uid = 60000,
    .timeout = 10,
    .ks = {{1, 10, 100}, 3}};

const command_spec CMD_EVAL_CODE = {
    .name = "eval-code",
    .summary = "code generation pass@k in a sandbox (HumanEval, MBPP)",
    .usage =
        "usage: mtp eval-code --benchmark humaneval|mbpp --data FILE\n"
        "                     (--model RUN_DIR [sampling flags] | --samples SAMPLES.jsonl) [flags]",
    .about =
        "Runs each completion with its task's tests in a sandbox (python3, a separate\n"
        "limited process) and reports pass@k with the unbiased estimator of Chen et al. 2021.",
    .groups = {{NULL, CODE_FLAGS, 0},
               {"sampling completions from a model:", MODEL_FLAGS, offsetof(code_args, m), "--model"},
               {NULL, SAMPLING_FLAGS, 0, "--samples-per-task"},
               {NULL, DECODE_FLAGS, offsetof(code_args, d),
                "--temperature --top-p --max-new --seed --speculative"},
               {NULL, SAMPLING_FLAGS, 0, "--shots"},
               {NULL, MODEL_FLAGS, offsetof(code_args, m), "--threads --device"},
               {"scoring:", SCORING_FLAGS, 0}},
    .epilog =
        "Sample j of a task is the same whatever --max-tasks. Python is needed by this command\n"
        "only. The sandbox isolates what the kernel allows (see docs/eval-code.md) and says so on\n"
        "stderr; it is not a security boundary for adversarial code.",
    .required = "--benchmark --data",
    COMMAND_RUN(run_eval_code, EVAL_CODE_DEFAULTS),
};
