// code_tasks.c: HumanEval and MBPP problems, prompts, test programs and
// samples files (see code_tasks.h).
#define _POSIX_C_SOURCE 200809L
#include "eval/code_tasks.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/inflate.h"
#include "core/jsonl.h"
#include "core/strbuf.h"

#define MAX_FILE_BYTES ((size_t)1 << 31)

// The finished string (malloc'd), or NULL with an error.
static char *sb_done(strbuf *b, size_t *len) {
    char *s = strbuf_take(b, len);
    if (!s) mtp_error_context("building a program or prompt");
    return s;
}

// ---- reading ----

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static const char *get_string(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

// Where a record came from, for messages: "FILE:LINE" or "FILE: element N";
// and a JSONL record's text (raw[0..raw_len); NULL for an array's element).
typedef struct {
    const char *path;
    long line;
    int array;
    const char *raw;
    size_t raw_len;
} where;

#define AT "%s%s%ld"
#define AT_ARGS(w) (w).path, (w).array ? ": element " : ":", (w).line

typedef int (*record_fn)(const cJSON *obj, where w, void *user);

// Calls fn for each non-blank line of JSONL text, parsed to an object.
static int jsonl_each(const char *path, char *text, size_t len, record_fn fn, void *user) {
    long line = 0;
    for (size_t pos = 0; pos < len;) {
        char *start = text + pos, *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        pos += n + 1;
        line++;
        size_t k = 0;
        while (k < n && (start[k] == ' ' || start[k] == '\t' || start[k] == '\r')) k++;
        if (k == n) continue;
        cJSON *o = json_parse_all(start, n);
        where w = {path, line, 0, start, n};
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            return mtp_errorf(AT ": not one JSON object (expected one object per line)", AT_ARGS(w));
        }
        int rc = fn(o, w, user);
        cJSON_Delete(o);
        if (rc) return rc;
    }
    return 0;
}

// Reads the file, gzip-compressed (as HumanEval is distributed) or not;
// *text is NUL-terminated.
static char *read_text(const char *path, size_t *len) {
    return gzip_read_file(path, MAX_FILE_BYTES, len);
}

static void task_free(code_task *t) {
    free(t->task_id);
    free(t->prompt);
    free(t->entry_point);
    free(t->test);
    free(t->asserts);
    free(t->solution);
}

static int add_task(code_tasks *ts, code_task *t, long *cap) {
    for (long i = 0; i < ts->count; i++)
        if (!strcmp(ts->tasks[i].task_id, t->task_id))
            return mtp_errorf("%s: task_id %s appears twice (lines %ld and %ld)", ts->path, t->task_id,
                              ts->tasks[i].line, t->line);
    if (ts->count == *cap) {
        long ncap = *cap ? *cap * 2 : 256;
        code_task *grown = realloc(ts->tasks, (size_t)ncap * sizeof *grown);
        if (!grown) return mtp_errorf("out of memory reading %s", ts->path);
        ts->tasks = grown;
        *cap = ncap;
    }
    ts->tasks[ts->count++] = *t;
    return 0;
}

typedef struct {
    code_tasks *ts;
    long cap;
} loader;

static int humaneval_record(const cJSON *o, where w, void *user) {
    loader *ld = user;
    static const char *const keys[] = {"task_id", "prompt", "canonical_solution", "test", "entry_point"};
    for (int k = 0; k < 5; k++)
        if (!get_string(o, keys[k]))
            return mtp_errorf(
                AT ": no string field \"%s\" (--benchmark humaneval expects OpenAI's HumanEval.jsonl)",
                AT_ARGS(w), keys[k]);
    code_task t;
    memset(&t, 0, sizeof t);
    t.line = w.line;
    const char *id = get_string(o, "task_id"), *slash = strrchr(id, '/');
    char *end;
    t.number = slash ? strtol(slash + 1, &end, 10) : -1;
    if (!slash || !slash[1] || *end) t.number = -1;
    t.task_id = dup_str(id);
    t.prompt = dup_str(get_string(o, "prompt"));
    t.solution = dup_str(get_string(o, "canonical_solution"));
    t.test = dup_str(get_string(o, "test"));
    t.entry_point = dup_str(get_string(o, "entry_point"));
    if (!t.task_id || !t.prompt || !t.solution || !t.test || !t.entry_point) {
        task_free(&t);
        return mtp_errorf("out of memory reading %s", w.path);
    }
    if (!t.entry_point[0]) {
        task_free(&t);
        return mtp_errorf(AT ": empty \"entry_point\"", AT_ARGS(w));
    }
    if (add_task(ld->ts, &t, &ld->cap)) {
        task_free(&t);
        return -1;
    }
    return 0;
}

// Joins a JSON array of strings with newlines into b; -1 if not such an array.
static int join_strings(const cJSON *arr, strbuf *b) {
    if (!cJSON_IsArray(arr)) return -1;
    int first = 1;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (!cJSON_IsString(e)) return -1;
        if (!first) strbuf_adds(b, "\n");
        strbuf_adds(b, e->valuestring);
        first = 0;
    }
    return 0;
}

static int mbpp_record(const cJSON *o, where w, void *user) {
    loader *ld = user;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "task_id");
    if (!cJSON_IsNumber(id) || id->valuedouble != floor(id->valuedouble) || id->valuedouble < 0 ||
        id->valuedouble > 1e9)
        return mtp_errorf(
            AT ": no integer field \"task_id\" (--benchmark mbpp expects mbpp.jsonl or sanitized-mbpp.json)",
            AT_ARGS(w));
    const char *text = get_string(o, "text");
    if (!text) text = get_string(o, "prompt");  // sanitized-mbpp.json
    if (!text) return mtp_errorf(AT ": no string field \"text\" (or \"prompt\")", AT_ARGS(w));
    const char *code = get_string(o, "code");
    if (!code) return mtp_errorf(AT ": no string field \"code\"", AT_ARGS(w));
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(o, "test_list");
    if (!cJSON_IsArray(tests) || cJSON_GetArraySize(tests) == 0)
        return mtp_errorf(AT ": \"test_list\" must be a non-empty array of strings", AT_ARGS(w));
    strbuf asserts = {0}, test = {0};
    if (join_strings(tests, &asserts)) {
        free(asserts.s);
        return mtp_errorf(AT ": \"test_list\" must be a non-empty array of strings", AT_ARGS(w));
    }
    // Setup the tests need, after the completion (mbpp.jsonl's refers to
    // classes the solution defines): test_setup_code or test_imports.
    const cJSON *setup = cJSON_GetObjectItemCaseSensitive(o, "test_setup_code");
    const cJSON *imports = cJSON_GetObjectItemCaseSensitive(o, "test_imports");
    if (setup && !cJSON_IsString(setup)) {
        free(asserts.s);
        return mtp_errorf(AT ": \"test_setup_code\" must be a string", AT_ARGS(w));
    }
    if (setup) strbuf_adds(&test, setup->valuestring);
    if (setup && imports) strbuf_adds(&test, "\n");
    if (imports && join_strings(imports, &test)) {
        free(asserts.s);
        free(test.s);
        return mtp_errorf(AT ": \"test_imports\" must be an array of strings", AT_ARGS(w));
    }
    strbuf_adds(&test, "\n");
    strbuf_adds(&test, asserts.s ? asserts.s : "");
    strbuf_adds(&test, "\n");
    code_task t;
    memset(&t, 0, sizeof t);
    t.line = w.line;
    t.number = (long)id->valuedouble;
    char num[32];
    snprintf(num, sizeof num, "%ld", t.number);
    t.task_id = dup_str(num);
    t.prompt = dup_str(text);
    t.solution = dup_str(code);
    t.asserts = sb_done(&asserts, NULL);
    t.test = sb_done(&test, NULL);
    if (!t.task_id || !t.prompt || !t.solution || !t.asserts || !t.test) {
        task_free(&t);
        return mtp_errorf("out of memory reading %s", w.path);
    }
    if (add_task(ld->ts, &t, &ld->cap)) {
        task_free(&t);
        return -1;
    }
    return 0;
}

static void mbpp_block(strbuf *b, const code_task *t) {
    strbuf_adds(b, "You are an expert Python programmer, and here is your task: ");
    strbuf_adds(b, t->prompt);
    strbuf_adds(b, " Your code should pass these tests:\n\n");
    strbuf_adds(b, t->asserts);
    strbuf_adds(b, "\n[BEGIN]\n");
}

static long find_number(const code_tasks *t, long number) {
    for (long i = 0; i < t->count; i++)
        if (t->tasks[i].number == number) return i;
    return -1;
}

// Austin et al.'s three worked examples: tasks 2, 3 and 4.
static char *mbpp_fewshot(const code_tasks *t) {
    strbuf b = {0};
    for (long number = 2; number <= 4; number++) {
        long i = find_number(t, number);
        if (i < 0) {
            free(b.s);
            return NULL;
        }
        mbpp_block(&b, &t->tasks[i]);
        strbuf_adds(&b, t->tasks[i].solution);
        strbuf_adds(&b, "\n[DONE]\n");
    }
    return sb_done(&b, NULL);
}

int code_benchmark_parse(const char *name, code_benchmark *b) {
    if (!strcmp(name, "humaneval"))
        *b = CODE_HUMANEVAL;
    else if (!strcmp(name, "mbpp"))
        *b = CODE_MBPP;
    else
        return mtp_errorf("--benchmark '%s': expected humaneval or mbpp", name);
    return 0;
}

const char *code_benchmark_name(code_benchmark b) {
    return b == CODE_HUMANEVAL ? "humaneval" : "mbpp";
}

int code_tasks_load(const char *path, code_benchmark b, code_tasks *out) {
    memset(out, 0, sizeof *out);
    out->bench = b;
    if (!(out->path = dup_str(path))) return mtp_errorf("out of memory");
    size_t len;
    char *text = read_text(path, &len);
    if (!text) {
        code_tasks_free(out);
        return -1;
    }
    loader ld = {out, 0};
    record_fn fn = b == CODE_HUMANEVAL ? humaneval_record : mbpp_record;
    size_t k = 0;
    while (k < len && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r' || text[k] == '\n')) k++;
    int rc = 0;
    if (k < len && text[k] == '[') {
        // One JSON array (sanitized-mbpp.json).
        cJSON *root = json_parse_all(text, len);
        if (!cJSON_IsArray(root)) {
            rc = mtp_errorf("%s: not valid JSON (a file starting with '[' must be one JSON array)", path);
        } else {
            long index = 0;
            const cJSON *e;
            cJSON_ArrayForEach(e, root) {
                where w = {path, ++index, 1, NULL, 0};
                if (!cJSON_IsObject(e)) {
                    rc = mtp_errorf(AT ": not a JSON object", AT_ARGS(w));
                    break;
                }
                if ((rc = fn(e, w, &ld))) break;
            }
        }
        cJSON_Delete(root);
    } else {
        rc = jsonl_each(path, text, len, fn, &ld);
    }
    free(text);
    if (rc == 0 && out->count == 0) rc = mtp_errorf("%s: no tasks in the file", path);
    if (rc == 0 && b == CODE_MBPP) out->fewshot = mbpp_fewshot(out);  // NULL if tasks 2-4 are missing
    if (rc) code_tasks_free(out);
    return rc;
}

void code_tasks_free(code_tasks *t) {
    for (long i = 0; i < t->count; i++) task_free(&t->tasks[i]);
    free(t->tasks);
    free(t->fewshot);
    free(t->path);
    memset(t, 0, sizeof *t);
}

long code_tasks_select(code_tasks *t, const char *split) {
    long lo = LONG_MIN, hi = LONG_MAX;
    if (!strcmp(split, "all")) {
    } else if (t->bench == CODE_HUMANEVAL) {
        if (strcmp(split, "test"))
            return mtp_errorf("--split '%s': HumanEval has one split (test, all 164 tasks): give test or all",
                              split);
    } else if (!strcmp(split, "test")) {
        lo = 11, hi = 510;
    } else if (!strcmp(split, "validation")) {
        lo = 511, hi = 600;
    } else if (!strcmp(split, "train")) {
        lo = 601, hi = 974;
    } else if (!strcmp(split, "prompt")) {
        lo = 1, hi = 10;
    } else {
        return mtp_errorf(
            "--split '%s': expected test (tasks 11-510), validation (511-600), train (601-974), "
            "prompt (1-10) or all",
            split);
    }
    long n = 0;
    for (long i = 0; i < t->count; i++) {
        code_task *k = &t->tasks[i];
        k->in_split = t->bench == CODE_HUMANEVAL || (k->number >= lo && k->number <= hi);
        n += k->in_split;
    }
    if (n == 0)
        return mtp_errorf("%s: no task is in the split '%s' (task ids %ld-%ld)", t->path, split, lo, hi);
    return n;
}

long code_tasks_find(const code_tasks *t, const cJSON *id) {
    if (t->bench == CODE_HUMANEVAL) {
        if (!cJSON_IsString(id)) return -1;
        for (long i = 0; i < t->count; i++)
            if (!strcmp(t->tasks[i].task_id, id->valuestring)) return i;
        return -1;
    }
    long number;
    if (cJSON_IsNumber(id)) {
        if (id->valuedouble != floor(id->valuedouble) || fabs(id->valuedouble) > 1e9) return -1;
        number = (long)id->valuedouble;
    } else if (cJSON_IsString(id)) {
        const char *s = id->valuestring;
        if (!strncasecmp(s, "mbpp/", 5)) s += 5;
        char *end;
        if (*s < '0' || *s > '9') return -1;
        number = strtol(s, &end, 10);
        if (*end) return -1;
    } else {
        return -1;
    }
    return find_number(t, number);
}

char *code_tasks_prompt(const code_tasks *t, long i, int shots) {
    const code_task *k = &t->tasks[i];
    if (t->bench == CODE_HUMANEVAL) return dup_str(k->prompt);
    if (shots != 0 && shots != 3) {
        mtp_errorf("--shots %d: MBPP prompts have 0 or 3 worked examples", shots);
        return NULL;
    }
    if (shots == 3 && !t->fewshot) {
        mtp_errorf("%s lacks task 2, 3 or 4, the worked examples of the three-shot prompt: use --shots 0",
                   t->path);
        return NULL;
    }
    strbuf b = {0};
    if (shots) strbuf_adds(&b, t->fewshot);
    mbpp_block(&b, k);
    return sb_done(&b, NULL);
}

char *code_tasks_program(const code_tasks *t, long i, const char *completion, const char *done_marker,
                         size_t *len) {
    const code_task *k = &t->tasks[i];
    strbuf b = {0};
    if (t->bench == CODE_HUMANEVAL) {
        strbuf_adds(&b, k->prompt);
        strbuf_adds(&b, completion);
        strbuf_adds(&b, "\n");
        strbuf_adds(&b, k->test);
        strbuf_adds(&b, "\ncheck(");
        strbuf_adds(&b, k->entry_point);
        strbuf_adds(&b, ")\n");
    } else {
        strbuf_adds(&b, completion);
        strbuf_adds(&b, "\n");
        strbuf_adds(&b, k->test);
    }
    if (done_marker) {  // at the top level, after the tests; to fd 1 whatever sys.stdout became
        strbuf_adds(&b, "\nimport os as _mtp_os\n_mtp_os.write(1, bytes.fromhex(\"");
        for (const unsigned char *p = (const unsigned char *)done_marker; *p; p++) {
            char hex[3];
            snprintf(hex, sizeof hex, "%02x", *p);
            strbuf_adds(&b, hex);
        }
        strbuf_adds(&b, "0a\"))\n");
    }
    return sb_done(&b, len);
}

const char *const *code_tasks_stops(code_benchmark b) {
    static const char *const humaneval[] = {"\nclass", "\ndef", "\n#", "\nif", "\nprint", NULL};
    static const char *const mbpp[] = {"[DONE]", NULL};
    return b == CODE_HUMANEVAL ? humaneval : mbpp;
}

// ---- samples files ----

typedef struct {
    const code_tasks *t;
    code_sample *s;
    long n, cap;
} sample_reader;

// Whether the record raw[0..n), whose "completion" parsed as `completion`,
// held a NUL there (a \u0000 escape, where the C string stops): parsed again
// with each such escape as U+0001, its completion differs.
static int completion_has_nul(const char *raw, size_t n, const char *completion) {
    char *copy = malloc(n + 1);
    if (!copy) return 0;
    memcpy(copy, raw, n);
    int nul = 0;
    if (json_rewrite_nul_escapes(copy, n, 1) > 0) {
        cJSON *o = json_parse_all(copy, n);
        const char *other = get_string(o, "completion");
        nul = other && strcmp(other, completion) != 0;
        cJSON_Delete(o);
    }
    free(copy);
    return nul;
}

static int sample_record(const cJSON *o, where w, void *user) {
    sample_reader *sr = user;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "task_id");
    if (!id) return mtp_errorf(AT ": no \"task_id\"", AT_ARGS(w));
    const char *completion = get_string(o, "completion");
    if (!completion) return mtp_errorf(AT ": no string field \"completion\"", AT_ARGS(w));
    long task = code_tasks_find(sr->t, id);
    if (task < 0) {
        char *shown = cJSON_PrintUnformatted(id);
        mtp_errorf(AT ": task_id %.60s is not a task of %s (--benchmark %s)", AT_ARGS(w), shown ? shown : "?",
                   sr->t->path, code_benchmark_name(sr->t->bench));
        free(shown);
        return -1;
    }
    if (sr->n == sr->cap) {
        long ncap = sr->cap ? sr->cap * 2 : 1024;
        code_sample *grown = realloc(sr->s, (size_t)ncap * sizeof *grown);
        if (!grown) return mtp_errorf("out of memory reading %s", w.path);
        sr->s = grown;
        sr->cap = ncap;
    }
    code_sample *s = &sr->s[sr->n];
    s->task = task;
    s->line = w.line;
    s->nul = w.raw && completion_has_nul(w.raw, w.raw_len, completion);
    if (!(s->completion = dup_str(completion))) return mtp_errorf("out of memory reading %s", w.path);
    sr->n++;
    return 0;
}

int code_samples_read(const char *path, const code_tasks *t, code_sample **out, long *count) {
    *out = NULL;
    *count = 0;
    size_t len;
    char *text = read_text(path, &len);
    if (!text) return -1;
    sample_reader sr = {t, NULL, 0, 0};
    int rc = jsonl_each(path, text, len, sample_record, &sr);
    free(text);
    if (rc == 0 && sr.n == 0)
        rc = mtp_errorf("%s: no samples (expected one {\"task_id\": ..., \"completion\": ...} per line)",
                        path);
    if (rc) {
        code_samples_free(sr.s, sr.n);
        return -1;
    }
    *out = sr.s;
    *count = sr.n;
    return 0;
}

void code_samples_free(code_sample *s, long count) {
    for (long i = 0; i < count; i++) free(s[i].completion);
    free(s);
}
