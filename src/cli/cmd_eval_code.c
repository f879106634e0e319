// cmd_eval_code.c: `mtp eval-code`, functional correctness of generated code
// (HumanEval, MBPP) as pass@k: completions from a samples file or sampled
// from a model, each run with its tests in the sandbox, scored with the
// unbiased estimator. See docs/eval-code.md.
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <omp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/checkpoint_open.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "eval/code_tasks.h"
#include "eval/passk.h"
#include "eval/sandbox.h"
#include "libmtp.h"

static const char *help =
    "usage: mtp eval-code --benchmark humaneval|mbpp --data FILE\n"
    "                     (--model RUN_DIR [sampling flags] | --samples SAMPLES.jsonl) [flags]\n"
    "\n"
    "Runs each completion with its task's tests in a sandbox (python3, a separate\n"
    "limited process) and reports pass@k with the unbiased estimator of Chen et al. 2021.\n"
    "  --benchmark B         humaneval or mbpp\n"
    "  --data FILE           HumanEval.jsonl (gunzip -k HumanEval.jsonl.gz first),\n"
    "                        mbpp.jsonl or sanitized-mbpp.json\n"
    "  --samples FILE        completions, one {\"task_id\": ..., \"completion\": ...} per line\n"
    "  --model RUN_DIR       or sample completions from this checkpoint:\n"
    "    --samples-per-task N  completions per task (default 1)\n"
    "    --temperature T       default 0.8 (0 = greedy)\n"
    "    --top-p P             default 0.95\n"
    "    --max-new N           tokens per completion at most (default 512)\n"
    "    --seed S              default 1; sample j of a task is the same whatever --max-tasks\n"
    "    --speculative K       drafting heads (default: all, n-1): greedy output is the same,\n"
    "                          sampled output has the same distribution\n"
    "    --shots 0|3           MBPP prompt's worked examples, tasks 2-4 (default 3)\n"
    "    --threads N           CPU threads for the model (default: all cores)\n"
    "  --split S             MBPP: test (tasks 11-510, default), validation, train, prompt, all\n"
    "  --max-tasks N         the first N tasks of the split (default: all)\n"
    "  --k LIST              comma-separated k of pass@k (default 1,10,100; a k above the\n"
    "                        samples of some task is left out)\n"
    "  --timeout SEC         wall-clock limit per program (default 10)\n"
    "  --memory-mb MB        address-space limit per program (default 1024)\n"
    "  --jobs J              programs run at once (default 2); results do not depend on it\n"
    "  --python PATH         interpreter (default: the first python3 on PATH the sandbox can run)\n"
    "  --sandbox-uid UID     when run as root, job j runs as uid/gid UID+j (default 60000)\n"
    "  --results FILE        one JSON line per completion: task_id, completion, passed, result\n"
    "                        (itself a valid --samples file)\n"
    "  --json                print one JSON object: {\"pass@1\": ..., \"tasks\": n, \"samples\": m, ...}\n"
    "Python is needed by this command only. The sandbox isolates what the kernel allows\n"
    "(see docs/eval-code.md) and says so on stderr; it is not a security boundary for\n"
    "adversarial code.\n";

#define MAX_KS 32

typedef struct {
    const char *benchmark, *data, *model, *samples, *split, *python, *results, *k_list;
    int samples_per_task, max_new, speculative, shots, shots_given, threads, jobs, json, k_given;
    long max_tasks, memory_mb, uid;
    double temperature, top_p, timeout;
    uint64_t seed;
    int sampling_flag;  // a flag that only --model uses was given
    long ks[MAX_KS];
    int n_ks;
} options;

// "1,10,100" -> ks; each in [1, 1e6].
static int parse_ks(const char *v, options *o) {
    o->n_ks = 0;
    const char *s = v;
    while (*s) {
        char *end;
        long k = strtol(s, &end, 10);
        if (end == s || k < 1 || k > 1000000 || (*end && *end != ',') || o->n_ks == MAX_KS) {
            fprintf(stderr, "mtp eval-code: --k '%s': expected up to %d comma-separated integers >= 1\n", v,
                    MAX_KS);
            return -1;
        }
        int dup = 0;
        for (int i = 0; i < o->n_ks; i++) dup |= o->ks[i] == k;
        if (!dup) o->ks[o->n_ks++] = k;
        s = *end ? end + 1 : end;
        if (*end && !*s) {
            fprintf(stderr, "mtp eval-code: --k '%s': expected up to %d comma-separated integers >= 1\n", v,
                    MAX_KS);
            return -1;
        }
    }
    if (o->n_ks == 0) {
        fprintf(stderr, "mtp eval-code: --k '%s': expected up to %d comma-separated integers >= 1\n", v,
                MAX_KS);
        return -1;
    }
    return 0;
}

// Returns 0, 2 (usage error, printed) or -1 for --help (printed).
static int parse_args(int argc, char **argv, options *o) {
    const char *cmd = "eval-code", *v;
    memset(o, 0, sizeof *o);
    o->samples_per_task = 1;
    o->max_new = 512;
    o->speculative = -1;
    o->shots = 3;
    o->jobs = 2;
    o->memory_mb = 1024;
    o->uid = 60000;
    o->temperature = 0.8;
    o->top_p = 0.95;
    o->timeout = 10;
    o->seed = 1;
    o->split = "test";
    o->python = "python3";
    o->ks[0] = 1, o->ks[1] = 10, o->ks[2] = 100, o->n_ks = 3;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (args_is_help(f)) {
            fputs(help, stdout);
            return -1;
        }
        const char **str = !strcmp(f, "--benchmark") ? &o->benchmark
                           : !strcmp(f, "--data")    ? &o->data
                           : !strcmp(f, "--model")   ? &o->model
                           : !strcmp(f, "--samples") ? &o->samples
                           : !strcmp(f, "--split")   ? &o->split
                           : !strcmp(f, "--python")  ? &o->python
                           : !strcmp(f, "--results") ? &o->results
                                                     : NULL;
        int sampling = !strcmp(f, "--samples-per-task") || !strcmp(f, "--temperature") ||
                       !strcmp(f, "--top-p") || !strcmp(f, "--max-new") || !strcmp(f, "--seed") ||
                       !strcmp(f, "--speculative") || !strcmp(f, "--shots") || !strcmp(f, "--threads");
        if (!strcmp(f, "--json")) {
            o->json = 1;
            continue;
        }
        if (!str && !sampling && strcmp(f, "--k") && strcmp(f, "--max-tasks") && strcmp(f, "--timeout") &&
            strcmp(f, "--memory-mb") && strcmp(f, "--jobs") && strcmp(f, "--sandbox-uid")) {
            args_unknown(cmd, f);
            return 2;
        }
        if (!(v = args_value(cmd, argc, argv, &i))) return 2;
        if (str) {
            *str = v;
            continue;
        }
        if (sampling) o->sampling_flag = 1;
        if (!strcmp(f, "--shots")) o->shots_given = 1;
        int rc = 0;
        if (!strcmp(f, "--samples-per-task"))
            rc = args_int(cmd, f, v, 1, 1000000, &o->samples_per_task);
        else if (!strcmp(f, "--temperature"))
            rc = args_double(cmd, f, v, 0, 100, &o->temperature);
        else if (!strcmp(f, "--top-p"))
            rc = args_double(cmd, f, v, 0, 1, &o->top_p);
        else if (!strcmp(f, "--max-new"))
            rc = args_int(cmd, f, v, 1, 1 << 24, &o->max_new);
        else if (!strcmp(f, "--seed"))
            rc = args_u64(cmd, f, v, &o->seed);
        else if (!strcmp(f, "--speculative"))
            rc = args_int(cmd, f, v, 0, MTP_MAX_FUTURE, &o->speculative);
        else if (!strcmp(f, "--shots")) {
            rc = args_int(cmd, f, v, 0, 3, &o->shots);
            if (!rc && o->shots != 0 && o->shots != 3) {
                fprintf(stderr, "mtp eval-code: --shots '%s': expected 0 or 3\n", v);
                rc = -1;
            }
        } else if (!strcmp(f, "--threads"))
            rc = args_int(cmd, f, v, 1, 1024, &o->threads);
        else if (!strcmp(f, "--k"))
            rc = parse_ks(v, o), o->k_given = 1, o->k_list = v;
        else if (!strcmp(f, "--max-tasks"))
            rc = args_long(cmd, f, v, 1, 1L << 30, &o->max_tasks);
        else if (!strcmp(f, "--timeout"))
            rc = args_double(cmd, f, v, 0.1, 3600, &o->timeout);
        else if (!strcmp(f, "--memory-mb"))
            rc = args_long(cmd, f, v, 64, 1L << 20, &o->memory_mb);
        else if (!strcmp(f, "--jobs"))
            rc = args_int(cmd, f, v, 1, 256, &o->jobs);
        else if (!strcmp(f, "--sandbox-uid"))
            rc = args_long(cmd, f, v, 1, 4000000000L, &o->uid);
        if (rc) return 2;
    }
    const char *missing = !o->benchmark ? "--benchmark" : !o->data ? "--data" : NULL;
    if (missing) {
        fprintf(stderr, "mtp eval-code: %s is required (see mtp eval-code --help)\n", missing);
        return 2;
    }
    if (!!o->model == !!o->samples) {
        fprintf(stderr,
                "mtp eval-code: give --model (to sample completions) or --samples (a file of them), %s\n",
                o->model ? "not both" : "one of them");
        return 2;
    }
    if (o->samples && o->sampling_flag) {
        fprintf(stderr,
                "mtp eval-code: sampling flags (--samples-per-task, --temperature, ...) need --model, "
                "not --samples\n");
        return 2;
    }
    return 0;
}

// ---- sampling completions with the model ----

typedef struct {
    const tokenizer *tok;
    const char *const *stops;
    char *text;
    size_t len, cap;
} collector;

// Appends the token's text; stops at the first stop sequence, cut before it.
static int collect_token(int32_t token, void *user) {
    collector *c = user;
    size_t before = c->len;
    if (tokenizer_decode_append(c->tok, token, &c->text, &c->len, &c->cap) < 0) return 1;
    for (int s = 0; c->stops[s]; s++) {
        size_t sl = strlen(c->stops[s]);
        // only where a match can end in the new bytes
        size_t from = before >= sl ? before - sl + 1 : 0;
        char *hit = strstr(c->text + from, c->stops[s]);
        if (hit) {
            c->len = (size_t)(hit - c->text);
            c->text[c->len] = '\0';
            return 1;
        }
    }
    return 0;
}

// The sampler seed of sample j of the task at index `task` in the data file:
// independent of --max-tasks and of the other samples.
static uint64_t sample_seed(uint64_t seed, long task, long j) {
    mtp_rng r;
    mtp_rng_seed(&r, seed ^ ((uint64_t)(task + 1) * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)j << 40));
    return mtp_rng_u64(&r);
}

// Fills completion[p * N + j] for the tasks eval[0..n_eval).
static int sample_completions(const options *o, const code_tasks *t, const long *eval, long n_eval,
                              char **completion, long *truncated) {
    char ckpt[4096];
    mtp_config cfg;
    mtp_model m;
    memset(&m, 0, sizeof m);
    decoder d;
    memset(&d, 0, sizeof d);
    sampler s;
    memset(&s, 0, sizeof s);
    tokenizer *tok = NULL;
    int32_t *ids = NULL;
    size_t cap = 0;
    int rc = -1;
    const long N = o->samples_per_task;
    if (o->threads) op_set_threads(o->threads);
    if (old_checkpoint_open(o->model, ckpt, sizeof ckpt, &cfg, &tok)) goto done;
    int drafts = o->speculative < 0 ? cfg.n_future - 1 : o->speculative;
    if (drafts > cfg.n_future - 1) {
        mtp_errorf("--speculative %d: the model in %s has %d heads, so at most %d drafting heads", drafts,
                   ckpt, cfg.n_future, cfg.n_future - 1);
        goto done;
    }
    if (model_create(&m, &cfg) || checkpoint_load_params(ckpt, &m) || decoder_init(&d, &m, drafts) ||
        sampler_init(&s, tokenizer_vocab_size(tok), (float)o->temperature, 0, (float)o->top_p, o->seed))
        goto done;
    // A prompt longer than the context keeps its last tokens, leaving room
    // for min(--max-new, half the context) new ones.
    int room = o->max_new < cfg.max_seq_len / 2 ? o->max_new : cfg.max_seq_len / 2;
    if (room < 1) room = 1;
    int keep = cfg.max_seq_len - room;
    progress pg;
    progress_start(&pg, "sampling", (uint64_t)(n_eval * N));
    *truncated = 0;
    for (long p = 0; p < n_eval; p++) {
        char *prompt = code_tasks_prompt(t, eval[p], o->shots);
        if (!prompt) goto done;
        size_t n = 0;
        int enc = tokenizer_encode(tok, prompt, strlen(prompt), &ids, &n, &cap);
        free(prompt);
        if (enc) goto done;
        const int32_t *start = ids;
        if (n > (size_t)keep) {
            start += n - (size_t)keep;
            n = (size_t)keep;
            (*truncated)++;
        }
        for (long j = 0; j < N; j++) {
            collector col = {tok, code_tasks_stops(t->bench), NULL, 0, 0};
            mtp_rng_seed(&s.rng, sample_seed(o->seed, eval[p], j));
            decode_stats st;
            if (decode_run(&d, start, (int)n, o->max_new, tokenizer_eot(tok), &s, collect_token, &col, &st)) {
                free(col.text);
                goto done;
            }
            completion[p * N + j] = col.text ? col.text : calloc(1, 1);
            if (!completion[p * N + j]) {
                mtp_errorf("out of memory");
                goto done;
            }
            progress_update(&pg, (uint64_t)(p * N + j + 1));
        }
    }
    progress_finish(&pg);
    rc = 0;
done:
    free(ids);
    sampler_free(&s);
    decoder_free(&d);
    tokenizer_free(tok);
    model_free(&m);
    return rc;
}

// ---- scoring ----

// Length of the valid UTF-8 sequence at s (1-4), 0 if invalid.
static int utf8_len(const unsigned char *s) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    int n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!n) return 0;
    // the second byte's range excludes overlong forms, surrogates and > U+10FFFF
    unsigned char lo = c == 0xe0   ? 0xa0
                       : c == 0xf0 ? 0x90
                                   : 0x80,
                  hi = c == 0xed   ? 0x9f
                       : c == 0xf4 ? 0x8f
                                   : 0xbf;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

// A copy of s with each invalid UTF-8 byte replaced by U+FFFD, so that the
// --results file is valid JSON even when a model emits stray bytes.
static char *utf8_clean(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int k = utf8_len(p);
        if (k) {
            memcpy(o, p, (size_t)k);
            o += k, p += k;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3, p++;
        }
    }
    *o = '\0';
    return out;
}

// A short verdict for --results: "passed", "timed out", or the last line of
// the output (the exception) of a failed program.
static char *verdict(const sandbox_result *r) {
    char buf[320];
    if (r->outcome == SANDBOX_PASSED)
        snprintf(buf, sizeof buf, "passed");
    else if (r->outcome == SANDBOX_TIMEOUT)
        snprintf(buf, sizeof buf, "timed out");
    else {
        const char *out = r->output ? r->output : "";
        size_t end = r->output_len;
        while (end > 0 && (out[end - 1] == '\n' || out[end - 1] == '\r' || out[end - 1] == ' ')) end--;
        size_t start = end;
        while (start > 0 && out[start - 1] != '\n') start--;
        if (end > start)
            snprintf(buf, sizeof buf, "failed: %.*s", (int)(end - start > 200 ? 200 : end - start),
                     out + start);
        else if (r->signal)
            snprintf(buf, sizeof buf, "failed: killed by signal %d", r->signal);
        else
            snprintf(buf, sizeof buf, "failed: exit status %d", r->exit_code);
    }
    // Without the throwaway directory's name ("File \"/tmp/mtp-sandbox-x/program.py\""),
    // so that verdicts are the same from run to run.
    size_t dl = strlen(r->dir);
    char *hit;
    while (dl && (hit = strstr(buf, r->dir)) != NULL) {
        size_t skip = dl + (hit[dl] == '/');
        memmove(hit, hit + skip, strlen(hit + skip) + 1);
    }
    return utf8_clean(buf);
}

// Runs every program; outcome[i] and result[i] per completion i.
static int score(const options *o, const sandbox_config *base, const code_tasks *t, const long *task_of,
                 char *const *completion, long n, int *outcome, char **result) {
    progress pg;
    progress_start(&pg, "testing", (uint64_t)n);
    long done = 0;
    int failed = 0;
    char err[1024] = "";
#pragma omp parallel for schedule(dynamic, 1) num_threads(o->jobs)
    for (long i = 0; i < n; i++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop) continue;
        // One uid per job: concurrent programs share no files and no
        // process count (see sandbox.h).
        sandbox_config c = *base;
        c.uid = base->uid + (unsigned)omp_get_thread_num();
        size_t len;
        char *program = code_tasks_program(t, task_of[i], completion[i], &len);
        sandbox_result r;
        int rc = program ? sandbox_run(&c, program, len, &r) : -1;
        free(program);
#pragma omp critical(eval_code_score)
        {
            if (rc) {
                if (!failed) snprintf(err, sizeof err, "%s", mtp_last_error());
#pragma omp atomic write
                failed = 1;
            } else {
                outcome[i] = r.outcome;
                result[i] = verdict(&r);
                progress_update(&pg, (uint64_t)++done);
            }
        }
        if (!rc) sandbox_result_free(&r);
    }
    if (failed) return mtp_errorf("%s", err);
    progress_finish(&pg);
    return 0;
}

static int write_results(const char *path, const code_tasks *t, const long *task_of, char *const *completion,
                         const int *outcome, char *const *result, long n) {
    FILE *f = fopen(path, "w");
    if (!f) return mtp_errorf("cannot write --results %s: %s", path, strerror(errno));
    for (long i = 0; i < n; i++) {
        const code_task *k = &t->tasks[task_of[i]];
        cJSON *j = cJSON_CreateObject();
        if (t->bench == CODE_MBPP)
            cJSON_AddNumberToObject(j, "task_id", (double)k->number);
        else
            cJSON_AddStringToObject(j, "task_id", k->task_id);
        char *clean = utf8_clean(completion[i]);
        cJSON_AddStringToObject(j, "completion", clean ? clean : "");
        free(clean);
        cJSON_AddBoolToObject(j, "passed", outcome[i] == SANDBOX_PASSED);
        cJSON_AddStringToObject(j, "result", result[i] ? result[i] : "");
        char *line = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!line) {
            fclose(f);
            return mtp_errorf("out of memory writing %s", path);
        }
        fprintf(f, "%s\n", line);
        free(line);
    }
    if (fclose(f) != 0) return mtp_errorf("cannot write --results %s: %s", path, strerror(errno));
    return 0;
}

int cmd_eval_code(int argc, char **argv) {
    options o;
    int prc = parse_args(argc, argv, &o);
    if (prc) return prc < 0 ? 0 : prc;
    code_benchmark bench;
    if (code_benchmark_parse(o.benchmark, &bench)) {
        fprintf(stderr, "mtp eval-code: %s\n", mtp_last_error());
        return 2;
    }
    if (bench == CODE_HUMANEVAL && o.shots_given) {
        fprintf(stderr, "mtp eval-code: --shots is for MBPP prompts; HumanEval's prompt is the task's own\n");
        return 2;
    }
    double t0 = mtp_now();
    code_tasks tasks;
    memset(&tasks, 0, sizeof tasks);
    code_sample *samples = NULL;
    long n_samples_file = 0, n_eval = 0, n = 0, truncated = 0;
    long *eval = NULL, *pos_of = NULL, *task_of = NULL, *nper = NULL, *cper = NULL;
    char **completion = NULL, **result = NULL;
    int *outcome = NULL;
    int rc = 1;
    if (code_tasks_load(o.data, bench, &tasks)) goto done;
    long in_split = code_tasks_select(&tasks, o.split);
    if (in_split < 0) goto done;
    // The evaluated tasks: the split's, in file order, the first --max-tasks.
    eval = malloc((size_t)tasks.count * sizeof *eval);
    pos_of = malloc((size_t)tasks.count * sizeof *pos_of);
    if (!eval || !pos_of) {
        mtp_errorf("out of memory");
        goto done;
    }
    for (long i = 0; i < tasks.count; i++) {
        pos_of[i] = -1;
        if (tasks.tasks[i].in_split && (!o.max_tasks || n_eval < o.max_tasks)) {
            pos_of[i] = n_eval;
            eval[n_eval++] = i;
        }
    }

    // The completions, grouped by task in evaluation order.
    if (o.samples) {
        if (code_samples_read(o.samples, &tasks, &samples, &n_samples_file)) goto done;
        long ignored = 0;
        nper = calloc((size_t)n_eval, sizeof *nper);
        if (!nper) goto oom;
        for (long i = 0; i < n_samples_file; i++) {
            long p = pos_of[samples[i].task];
            if (p < 0)
                ignored++;
            else
                nper[p]++, n++;
        }
        for (long p = 0; p < n_eval; p++)
            if (nper[p] == 0) {
                mtp_errorf(
                    "%s has no completion for task %s (line %ld of %s): every evaluated task needs one "
                    "(or limit the tasks with --max-tasks / --split)",
                    o.samples, tasks.tasks[eval[p]].task_id, tasks.tasks[eval[p]].line, o.data);
                goto done;
            }
        if (ignored)
            fprintf(
                stderr,
                "mtp eval-code: ignored %ld completion(s) of tasks outside the %ld evaluated (split %s%s)\n",
                ignored, n_eval, o.split, o.max_tasks ? ", --max-tasks" : "");
        task_of = malloc((size_t)n * sizeof *task_of);
        completion = calloc((size_t)n, sizeof *completion);
        long *at = calloc((size_t)n_eval, sizeof *at);
        if (!task_of || !completion || !at) {
            free(at);
            goto oom;
        }
        for (long p = 1; p < n_eval; p++) at[p] = at[p - 1] + nper[p - 1];
        for (long i = 0; i < n_samples_file; i++) {
            long p = pos_of[samples[i].task];
            if (p < 0) continue;
            long slot = at[p]++;
            task_of[slot] = samples[i].task;
            completion[slot] = samples[i].completion;
            samples[i].completion = NULL;  // moved
        }
        free(at);
    } else {
        n = n_eval * o.samples_per_task;
        task_of = malloc((size_t)n * sizeof *task_of);
        completion = calloc((size_t)n, sizeof *completion);
        nper = malloc((size_t)n_eval * sizeof *nper);
        if (!task_of || !completion || !nper) goto oom;
        for (long p = 0; p < n_eval; p++) {
            nper[p] = o.samples_per_task;
            for (long j = 0; j < o.samples_per_task; j++) task_of[p * o.samples_per_task + j] = eval[p];
        }
    }

    // The k that every task supports.
    long min_n = passk_min_samples(nper, n_eval);
    long ks[MAX_KS];
    int n_ks = 0;
    for (int i = 0; i < o.n_ks; i++)
        if (o.ks[i] <= min_n) ks[n_ks++] = o.ks[i];
    for (int i = 0; i < o.n_ks && n_ks > 0 && o.k_given; i++)
        if (o.ks[i] > min_n)
            fprintf(stderr, "mtp eval-code: pass@%ld left out: some task has only %ld completion(s)\n",
                    o.ks[i], min_n);
    if (n_ks == 0) {
        mtp_errorf(
            "--k %s: every k exceeds the %ld completion(s) of some task: give a smaller --k or more samples",
            o.k_list ? o.k_list : "", min_n);
        goto done;
    }

    // The sandbox: after every check of the input, before the (long)
    // sampling. As root, job j runs as uid + j: none of them may be
    // somebody's account, whose files the program could then change.
    for (int j = 0; geteuid() == 0 && j < o.jobs; j++) {
        struct passwd *pw = getpwuid((uid_t)(o.uid + j));
        if (pw) {
            mtp_errorf(
                "--sandbox-uid %ld: uid %ld is the account '%s'; the sandbox needs %d uid(s) that own "
                "nothing: give another --sandbox-uid",
                o.uid, o.uid + j, pw->pw_name, o.jobs);
            goto done;
        }
    }
    sandbox_config sc;
    sandbox_config_default(&sc);
    sc.timeout = o.timeout;
    sc.memory_mb = o.memory_mb;
    sc.uid = (unsigned)o.uid;
    char python[4096], version[64], desc[256];
    int flags;
    if (sandbox_find_python(&sc, o.python, python, sizeof python, version, sizeof version, &flags)) goto done;
    sc.python = python;

    if (o.model) {
        if (sample_completions(&o, &tasks, eval, n_eval, completion, &truncated)) goto done;
        if (truncated)
            fprintf(stderr,
                    "mtp eval-code: %ld of %ld prompts were longer than the model's context allows and kept "
                    "only their last tokens\n",
                    truncated, n_eval);
    }

    // Said once the model's errors are past, so that those are one line too.
    fprintf(stderr, "mtp eval-code: python %s (%s); sandbox: %s\n", python, version,
            sandbox_describe(&sc, flags, desc, sizeof desc));
    outcome = calloc((size_t)n, sizeof *outcome);
    result = calloc((size_t)n, sizeof *result);
    cper = calloc((size_t)n_eval, sizeof *cper);
    if (!outcome || !result || !cper) goto oom;
    if (score(&o, &sc, &tasks, task_of, completion, n, outcome, result)) goto done;
    long passed = 0, timeouts = 0;
    for (long i = 0; i < n; i++) {
        if (outcome[i] == SANDBOX_PASSED) cper[pos_of[task_of[i]]]++, passed++;
        timeouts += outcome[i] == SANDBOX_TIMEOUT;
    }
    double pk[MAX_KS];
    for (int i = 0; i < n_ks; i++)
        if (passk_mean(nper, cper, n_eval, ks[i], &pk[i])) goto done;
    if (o.results && write_results(o.results, &tasks, task_of, completion, outcome, result, n)) goto done;

    if (o.json) {
        cJSON *j = cJSON_CreateObject();
        char key[32];
        for (int i = 0; i < n_ks; i++) {
            snprintf(key, sizeof key, "pass@%ld", ks[i]);
            cJSON_AddNumberToObject(j, key, pk[i]);
        }
        cJSON_AddNumberToObject(j, "tasks", (double)n_eval);
        cJSON_AddNumberToObject(j, "samples", (double)n);
        cJSON_AddNumberToObject(j, "passed", (double)passed);
        cJSON_AddNumberToObject(j, "timed_out", (double)timeouts);
        cJSON_AddStringToObject(j, "benchmark", code_benchmark_name(bench));
        char *text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (text) puts(text);
        free(text);
    } else {
        long max_n = 0;
        for (long p = 0; p < n_eval; p++)
            if (nper[p] > max_n) max_n = nper[p];
        printf("benchmark  %s (%s, split %s)\n", code_benchmark_name(bench), o.data, o.split);
        printf("tasks      %ld\n", n_eval);
        if (min_n == max_n)
            printf("samples    %ld (%ld per task)\n", n, min_n);
        else
            printf("samples    %ld (%ld to %ld per task)\n", n, min_n, max_n);
        printf("passed     %ld (%ld timed out)\n", passed, timeouts);
        for (int i = 0; i < n_ks; i++) {
            char key[32];
            snprintf(key, sizeof key, "pass@%ld", ks[i]);
            printf("%-10s %.4f\n", key, pk[i]);
        }
        printf("time       %.1f s\n", mtp_now() - t0);
    }
    rc = 0;
    goto done;
oom:
    mtp_errorf("out of memory");
done:
    if (rc) fprintf(stderr, "mtp eval-code: %s\n", mtp_last_error());
    if (completion)
        for (long i = 0; i < n; i++) free(completion[i]);
    if (result)
        for (long i = 0; i < n; i++) free(result[i]);
    free(completion);
    free(result);
    free(outcome);
    free(task_of);
    free(nper);
    free(cper);
    free(eval);
    free(pos_of);
    code_samples_free(samples, n_samples_file);
    code_tasks_free(&tasks);
    return rc;
}
