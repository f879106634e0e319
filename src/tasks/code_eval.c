// code_eval.c: see code_eval.h.
#define _POSIX_C_SOURCE 200809L
#include "tasks/code_eval.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <omp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonl.h"
#include "core/rng.h"
#include "core/utf8.h"
#include "eval/passk.h"

int code_eval_open(code_eval *e, const char *data, code_benchmark b, const char *split, long max_tasks) {
    memset(e, 0, sizeof *e);
    if (code_tasks_load(data, b, &e->tasks) != 0) return -1;
    if (code_tasks_select(&e->tasks, split) < 0) {
        code_eval_free(e);
        return -1;
    }
    if (!(e->eval = mtp_malloc(2 * (size_t)e->tasks.count * sizeof *e->eval, "task list"))) {
        code_eval_free(e);
        return -1;
    }
    e->pos_of = e->eval + e->tasks.count;
    for (long i = 0; i < e->tasks.count; i++) {
        e->pos_of[i] = -1;
        if (e->tasks.tasks[i].in_split && (!max_tasks || e->n_eval < max_tasks)) {
            e->pos_of[i] = e->n_eval;
            e->eval[e->n_eval++] = i;
        }
    }
    return 0;
}

void code_eval_free(code_eval *e) {
    for (long i = 0; e->c && i < e->n; i++) {
        free(e->c[i].text);
        free(e->c[i].result);
    }
    free(e->c);
    free(e->nper);
    free(e->eval);
    code_tasks_free(&e->tasks);
    memset(e, 0, sizeof *e);
}

// Slots for n completions and the per-task counts.
static int alloc_completions(code_eval *e, long n) {
    e->n = n;
    e->c = mtp_calloc((size_t)n + 1, sizeof *e->c, "completions");
    e->nper = mtp_calloc(2 * (size_t)e->n_eval + 1, sizeof *e->nper, "completions");
    e->cper = e->nper ? e->nper + e->n_eval : NULL;
    return e->c && e->nper ? 0 : -1;
}

int code_eval_read_samples(code_eval *e, const char *path) {
    code_sample *samples = NULL;
    long count = 0, n = 0;
    if (code_samples_read(path, &e->tasks, &samples, &count) != 0) return -1;
    int rc = 0;
    for (long i = 0; i < count; i++) n += e->pos_of[samples[i].task] >= 0;
    e->ignored = count - n;
    long *at = NULL;
    if (alloc_completions(e, n) != 0 ||
        !(at = mtp_calloc((size_t)e->n_eval + 1, sizeof *at, "completions"))) {
        rc = -1;
        goto done;
    }
    for (long i = 0; i < count; i++) {
        long p = e->pos_of[samples[i].task];
        if (p >= 0) e->nper[p]++;
    }
    for (long p = 0; p < e->n_eval; p++)
        if (e->nper[p] == 0) {
            const code_task *t = &e->tasks.tasks[e->eval[p]];
            rc = mtp_errorf(
                "%s has no completion for task %s (line %ld of %s): every evaluated task needs one (or limit "
                "the "
                "tasks with --max-tasks / --split)",
                path, t->task_id, t->line, e->tasks.path);
            goto done;
        }
    for (long p = 1; p < e->n_eval; p++) at[p] = at[p - 1] + e->nper[p - 1];
    for (long i = 0; i < count; i++) {
        long p = e->pos_of[samples[i].task];
        if (p < 0) continue;
        code_completion *c = &e->c[at[p]++];
        c->task = samples[i].task;
        c->text = samples[i].completion;
        c->nul = samples[i].nul;
        samples[i].completion = NULL;  // moved
    }
done:
    free(at);
    code_samples_free(samples, count);
    return rc;
}

// The sampler seed of sample j of the task at index `task` in the data file:
// independent of --max-tasks and of the other samples.
static uint64_t sample_seed(uint64_t seed, long task, long j) {
    mtp_rng r;
    mtp_rng_seed(&r, seed ^ ((uint64_t)(task + 1) * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)j << 40));
    return mtp_rng_u64(&r);
}

int code_eval_sample(code_eval *e, generator *g, long N, int max_new, int shots, uint64_t seed,
                     const progress_sink *progress) {
    if (alloc_completions(e, e->n_eval * N) != 0) return -1;
    const int context = g->dec.model->cfg.max_seq_len;
    int room = max_new < context / 2 ? max_new : context / 2;
    generate_options o = {.max_new = max_new,
                          .stops = code_tasks_stops(e->tasks.bench),
                          .fit = PROMPT_FIT_KEEP_END,
                          .keep = generate_keep_for_room(context, room)};
    generate_result r = {0};
    int rc = 0;
    e->truncated = 0;
    for (long p = 0; p < e->n_eval && rc == 0; p++) {
        e->nper[p] = N;
        char *prompt = code_tasks_prompt(&e->tasks, e->eval[p], shots);
        if (!prompt) {
            rc = -1;
            break;
        }
        for (long j = 0; j < N && rc == 0; j++) {
            long slot = p * N + j;
            e->c[slot].task = e->eval[p];
            mtp_rng_seed(&g->smp.rng, sample_seed(seed, e->eval[p], j));
            if ((rc = generate_text(g, prompt, strlen(prompt), &o, &r)) != 0) break;
            if (j == 0) e->truncated += r.prompt_cut > 0;
            if (!(e->c[slot].text = strdup(r.text.s))) rc = mtp_errorf("out of memory");
            e->c[slot].nul = memchr(r.text.s, '\0', r.text.len) != NULL;  // a byte-level model can write one
            progress_tell(progress, (uint64_t)(slot + 1), (uint64_t)e->n);
        }
        free(prompt);
    }
    generate_result_free(&r);
    return rc;
}

// A short verdict for --results: "passed", "timed out", or the last line of
// the output (the exception) of a failed program.
// "mtp-tests-done-" and 32 random hex digits (out: at least 48 bytes); -1 with
// an error if the system gives no random bytes.
static int done_marker(char *out, size_t cap) {
    unsigned char r[16];
    if (cap < 48 || getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return mtp_errorf("eval-code: no random bytes for a test program's marker: %s", strerror(errno));
    int w = snprintf(out, cap, "mtp-tests-done-");
    for (size_t i = 0; i < sizeof r; i++) w += snprintf(out + w, cap - (size_t)w, "%02x", r[i]);
    return 0;
}

static char *verdict(const sandbox_result *r) {
    char buf[320];
    if (r->outcome == SANDBOX_PASSED)
        snprintf(buf, sizeof buf, "passed");
    else if (r->outcome == SANDBOX_TIMEOUT)
        snprintf(buf, sizeof buf, "timed out");
    else if (r->exit_code == 0 && !r->marker_seen)
        snprintf(buf, sizeof buf, "failed: exited with status 0 before its tests had run");
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
    return utf8_sanitize(buf, strlen(buf));
}

int code_eval_score(code_eval *e, const sandbox_config *base, int jobs, const progress_sink *progress) {
    const long n = e->n;
    long done = 0;
    int failed = 0;
    char err[1024] = "";
#pragma omp parallel for schedule(dynamic, 1) num_threads(jobs)
    for (long i = 0; i < n; i++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop) continue;
        // One uid per job: concurrent programs share no files and no
        // process count (see sandbox.h).
        sandbox_config c = *base;
        c.uid = base->uid + (unsigned)omp_get_thread_num();
        sandbox_result r;
        int rc = 0;
        if (e->c[i].nul) {  // python refuses source holding a NUL byte, wherever it is: not run
            memset(&r, 0, sizeof r);
            r.outcome = SANDBOX_FAILED;
        } else {
            // a marker the completion cannot know: written after the tests, it tells a run of the
            // tests from an exit before them (sys.exit(0) in a completion once passed)
            char marker[64];
            size_t len;
            char *program = (rc = done_marker(marker, sizeof marker)) != 0
                                ? NULL
                                : code_tasks_program(&e->tasks, e->c[i].task, e->c[i].text, marker, &len);
            c.done_marker = marker;
            rc = program ? sandbox_run(&c, program, len, &r) : -1;
            free(program);
        }
#pragma omp critical(code_eval_score)
        {
            if (rc) {
                if (!failed) snprintf(err, sizeof err, "%s", mtp_last_error());
#pragma omp atomic write
                failed = 1;
            } else {
                e->c[i].outcome = r.outcome;
                e->c[i].result = e->c[i].nul
                                     ? strdup("failed: the completion holds a NUL byte (Python refuses it)")
                                     : verdict(&r);
                progress_tell(progress, (uint64_t)++done, (uint64_t)n);
            }
        }
        if (!rc) sandbox_result_free(&r);
    }
    if (failed) return mtp_errorf("%s", err);
    e->passed = e->timeouts = 0;
    memset(e->cper, 0, sizeof *e->cper * (size_t)e->n_eval);
    for (long i = 0; i < n; i++) {
        if (e->c[i].outcome == SANDBOX_PASSED) e->cper[e->pos_of[e->c[i].task]]++, e->passed++;
        e->timeouts += e->c[i].outcome == SANDBOX_TIMEOUT;
    }
    return 0;
}

int code_eval_passk(const code_eval *e, long k, double *out) {
    return passk_mean(e->nper, e->cper, e->n_eval, k, out);
}

int code_eval_write_results(const code_eval *e, const char *path, int scored) {
    fs_out out;  // written atomically: a failure leaves the old file
    if (fs_out_open(&out, path) != 0) return mtp_error_context("--results %s", path);
    FILE *f = out.f;
    for (long i = 0; i < e->n; i++) {
        const code_completion *c = &e->c[i];
        const code_task *k = &e->tasks.tasks[c->task];
        cJSON *j = cJSON_CreateObject();
        if (e->tasks.bench == CODE_MBPP)
            cJSON_AddNumberToObject(j, "task_id", (double)k->number);
        else
            cJSON_AddStringToObject(j, "task_id", k->task_id);
        char *clean = utf8_sanitize(c->text, strlen(c->text));
        cJSON_AddStringToObject(j, "completion", clean ? clean : "");
        free(clean);
        if (scored) {
            cJSON_AddBoolToObject(j, "passed", c->outcome == SANDBOX_PASSED);
            cJSON_AddStringToObject(j, "result", c->result ? c->result : "");
        }
        if (jsonl_put(f, j) != 0) {
            fs_out_abort(&out);
            return mtp_error_context("--results %s", path);
        }
    }
    return fs_out_commit(&out) != 0 ? mtp_error_context("--results %s", path) : 0;
}

int code_eval_check_uids(long uid, int jobs) {
    for (int j = 0; geteuid() == 0 && j < jobs; j++) {
        struct passwd *pw = getpwuid((uid_t)(uid + j));
        if (pw)
            return mtp_errorf(
                "--sandbox-uid %ld: uid %ld is the account '%s'; the sandbox needs %d uid(s) that own "
                "nothing: give "
                "another --sandbox-uid",
                uid, uid + j, pw->pw_name, jobs);
    }
    return 0;
}
