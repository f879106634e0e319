// cmd_bench_decode.c: `mtp bench-decode`, plain greedy decoding against
// self-speculative decoding with K = 1..n-1 drafting heads on a file of
// prompts. Every prompt is decoded with K = 0, 1, ..., n-1 in turn (plain
// and speculative runs of a prompt close together in time, since a shared
// machine's speed drifts), --repeats times each. The report gives medians
// over prompts (tokens/s, tokens per forward, each drafting head's acceptance
// rate, the speedup: plain time / speculative time, decode only, prefill
// excluded, and the forward cost: time per forward / plain's) and the totals.
// It also checks that every speculative output is token for token the plain
// one, since greedy speculative decoding must be lossless.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/checkpoint_open.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "libmtp.h"

#define CMD "bench-decode"
#define WARMUP_TOKENS 16  // untimed decode before each K: threads and caches warm
#define MAX_REPEATS 99

static const char *help =
    "usage: mtp bench-decode --model RUN_DIR|CHECKPOINT --prompts FILE [flags]\n"
    "\n"
    "Decodes every prompt greedily, plain (K = 0) and self-speculatively with K = 1..n-1\n"
    "drafting heads, and reports per K the medians over prompts of tokens/s, tokens per\n"
    "forward, each drafting head's acceptance rate, the wall-clock speedup over plain\n"
    "decoding (decode time only, prefill excluded) and the forward cost (time per\n"
    "forward over plain decoding's; speedup = tokens/forward / forward cost), plus\n"
    "totals. Each prompt is decoded with every K in turn, so the per-prompt ratios\n"
    "compare runs made close together.\n"
    "Exits 1 if any speculative output differs from the plain one.\n"
    "  --model PATH        checkpoint directory, or run directory (its latest checkpoint)\n"
    "  --prompts FILE      one prompt per line, or JSONL lines {\"prompt\": \"...\"}\n"
    "                      (a line starting with '{' is JSON; empty lines are skipped)\n"
    "  --max-new N         tokens to generate per prompt (default 128)\n"
    "  --max-prompts P     use only the first P prompts (default: all)\n"
    "  --repeats R         decode each prompt R times per K and take the median time\n"
    "                      (default 1; more steadies the numbers on a busy machine)\n"
    "  --threads N         CPU threads (default: all cores)\n"
    "  --json              print the results as one JSON object\n";

typedef struct {
    int32_t *ids;
    int n;
    int line;  // in the prompts file, for messages
} prompt;

// What one K gave over all prompts.
typedef struct {
    double tokens_per_sec, tokens_per_forward, speedup;  // medians over prompts
    double forward_cost;                                 // median time per forward / plain's
    double speedup_total;                                // total plain time / total time
    double accept[MTP_MAX_FUTURE];                       // median per drafting head; NAN: never checked
    double decode_seconds, prefill_seconds;              // totals
    long tokens, forwards, mismatches;
} k_result;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Median of v[0..n) (sorted in place); NAN for n = 0.
static double median(double *v, int n) {
    if (n == 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The text of one prompts-file line: the line itself, or the "prompt" field
// of a JSON object when the line starts with '{'. *text points into line or
// into *json (free it with cJSON_Delete).
static int line_prompt(const char *path, int lineno, const char *line, cJSON **json, const char **text) {
    *json = NULL;
    *text = line;
    if (line[0] != '{') return 0;
    const char *end = NULL;
    *json = cJSON_ParseWithOpts(line, &end, 1);
    if (!*json)
        return mtp_errorf("%s:%d: not valid JSON near byte %ld: expected {\"prompt\": \"...\"}", path, lineno,
                          end ? (long)(end - line) : 0L);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(*json, "prompt");
    if (!cJSON_IsString(p) || !p->valuestring)
        return mtp_errorf("%s:%d: the JSON object has no \"prompt\" string field", path, lineno);
    *text = p->valuestring;
    return 0;
}

// Reads up to max_prompts prompts (0 = all) from path and encodes them; an
// empty prompt starts from end-of-text, as after a document.
static int read_prompts(const char *path, const tokenizer *tok, int max_prompts, prompt **out, int *count) {
    *out = NULL;
    *count = 0;
    if (!fs_is_file(path)) return mtp_errorf("--prompts %s: no such file", path);
    size_t len = 0;
    char *buf = fs_read_all(path, (size_t)1 << 30, &len);
    if (!buf) return -1;
    int cap = 0, rc = 0;
    char *line = buf;
    for (int lineno = 1; line < buf + len && (!max_prompts || *count < max_prompts); lineno++) {
        char *nl = memchr(line, '\n', (size_t)(buf + len - line));
        char *next = nl ? nl + 1 : buf + len;
        char *stop = nl ? nl : buf + len;
        if (stop > line && stop[-1] == '\r') stop--;
        *stop = '\0';
        if (stop > line) {
            cJSON *json;
            const char *text;
            if (line_prompt(path, lineno, line, &json, &text) != 0) {
                cJSON_Delete(json);
                rc = -1;
                break;
            }
            if (*count == cap) {
                cap = cap ? 2 * cap : 64;
                prompt *grown = realloc(*out, sizeof **out * (size_t)cap);
                if (!grown) {
                    cJSON_Delete(json);
                    rc = mtp_errorf("out of memory reading %s", path);
                    break;
                }
                *out = grown;
            }
            prompt *p = &(*out)[*count];
            memset(p, 0, sizeof *p);
            p->line = lineno;
            (*count)++;
            size_t n = 0, ncap = 0;
            int enc = tokenizer_encode(tok, text, strlen(text), &p->ids, &n, &ncap);
            if (enc == 0 && n == 0 && tokenizer_reserve(&p->ids, n, &ncap, 1) == 0)
                p->ids[n++] = tokenizer_eot(tok);
            cJSON_Delete(json);
            if (enc != 0 || n == 0) {
                rc = mtp_error_context("%s:%d", path, lineno);
                break;
            }
            if (n > (size_t)1 << 30) {
                rc = mtp_errorf("%s:%d: prompt of %zu tokens is too long", path, lineno, n);
                break;
            }
            p->n = (int)n;
        }
        line = next;
    }
    free(buf);
    if (rc == 0 && *count == 0)
        rc = mtp_errorf(
            "--prompts %s has no prompts: give one per line, or JSONL lines {\"prompt\": \"...\"}", path);
    return rc;
}

static void free_prompts(prompt *p, int count) {
    for (int i = 0; p && i < count; i++) free(p[i].ids);
    free(p);
}

// Collects the tokens a decode emits (up to cap; n counts them all).
typedef struct {
    int32_t *buf;
    int n, cap;
} collector;

static int collect(int32_t token, void *user) {
    collector *c = user;
    if (c->n < c->cap) c->buf[c->n] = token;
    c->n++;
    return 0;
}

// Per-prompt numbers of one K, medians taken at the end.
typedef struct {
    double *tps, *tpf, *ratio, *cost, *accept[MTP_MAX_FUTURE];
    int n_tps, n_tpf, n_ratio, n_cost, n_accept[MTP_MAX_FUTURE];
} samples;

// One K's decoder (its own KV cache) and numbers.
typedef struct {
    decoder d;
    sampler smp;
    int ready;
    samples s;
    k_result r;
} k_run;

static int k_run_init(k_run *kr, const mtp_model *m, int K, int P) {
    memset(kr, 0, sizeof *kr);
    if (decoder_init(&kr->d, m, K) != 0) return -1;
    if (sampler_init(&kr->smp, m->cfg.vocab_size, 0.0f, 0, 1.0f, 1) != 0) {
        decoder_free(&kr->d);
        return -1;
    }
    kr->ready = 1;
    kr->s.tps = mtp_malloc(sizeof(double) * (size_t)P, "samples");
    kr->s.tpf = mtp_malloc(sizeof(double) * (size_t)P, "samples");
    kr->s.ratio = mtp_malloc(sizeof(double) * (size_t)P, "samples");
    kr->s.cost = mtp_malloc(sizeof(double) * (size_t)P, "samples");
    if (!kr->s.tps || !kr->s.tpf || !kr->s.ratio || !kr->s.cost) return -1;
    for (int k = 0; k < K; k++)
        if (!(kr->s.accept[k] = mtp_malloc(sizeof(double) * (size_t)P, "samples"))) return -1;
    return 0;
}

static void k_run_free(k_run *kr) {
    if (kr->ready) {
        sampler_free(&kr->smp);
        decoder_free(&kr->d);
    }
    free(kr->s.tps);
    free(kr->s.tpf);
    free(kr->s.ratio);
    free(kr->s.cost);
    for (int k = 0; k < MTP_MAX_FUTURE; k++) free(kr->s.accept[k]);
    memset(kr, 0, sizeof *kr);
}

// Decodes prompt p with K drafting heads `repeats` times into out (max_new
// tokens); *seconds gets the median decode time, st the last run's stats.
static int decode_timed(k_run *kr, const prompt *p, int max_new, int32_t eot, int repeats, int32_t *out,
                        int *got, double *seconds, decode_stats *st) {
    double t[MAX_REPEATS];
    collector c = {out, 0, max_new};
    for (int rep = 0; rep < repeats; rep++) {
        c.n = 0;
        if (decode_run(&kr->d, p->ids, p->n, max_new, eot, &kr->smp, collect, &c, st) != 0)
            return mtp_error_context("prompt on line %d", p->line);
        t[rep] = st->decode_seconds;
    }
    *got = c.n < c.cap ? c.n : c.cap;
    *seconds = median(t, repeats);
    return 0;
}

// Adds prompt i's numbers with K drafting heads (plain_sec, plain_forwards:
// plain decoding's time and forwards on it).
static void record(k_run *kr, int K, const decode_stats *st, double sec, double plain_sec,
                   long plain_forwards) {
    samples *s = &kr->s;
    k_result *r = &kr->r;
    r->tokens += st->generated;
    r->forwards += st->forwards;
    r->decode_seconds += sec;
    r->prefill_seconds += st->prefill_seconds;
    // the prefill made the first token; later ones each came from one of the forwards
    if (st->generated > 0) {
        s->tpf[s->n_tpf++] = (double)st->generated / (double)(st->forwards + 1);
        if (sec > 0.0) s->tps[s->n_tps++] = (double)st->generated / sec;
        if (sec > 0.0 && plain_sec > 0.0) s->ratio[s->n_ratio++] = plain_sec / sec;
        if (st->forwards > 0 && plain_forwards > 0 && plain_sec > 0.0)
            s->cost[s->n_cost++] = (sec / (double)st->forwards) / (plain_sec / (double)plain_forwards);
    }
    for (int k = 0; k < K; k++)
        if (st->checked[k] > 0)
            s->accept[k][s->n_accept[k]++] = (double)st->accepted[k] / (double)st->checked[k];
}

static void finish(k_run *kr, int K, double plain_total) {
    k_result *r = &kr->r;
    samples *s = &kr->s;
    r->tokens_per_sec = median(s->tps, s->n_tps);
    r->tokens_per_forward = median(s->tpf, s->n_tpf);
    r->speedup = median(s->ratio, s->n_ratio);
    r->forward_cost = median(s->cost, s->n_cost);
    r->speedup_total = r->decode_seconds > 0.0 ? plain_total / r->decode_seconds : NAN;
    for (int k = 0; k < MTP_MAX_FUTURE; k++)
        r->accept[k] = k < K ? median(s->accept[k], s->n_accept[k]) : NAN;
}

// Every prompt with K = 0..n-1 in turn (so plain and speculative runs of a
// prompt are timed close together on a machine whose speed drifts), each K
// warmed up first; res[K] gets the results.
static int bench_all(const mtp_model *m, const prompt *prompts, int P, int max_new, int repeats, int32_t eot,
                     k_result *res) {
    const int n = m->cfg.n_future;
    k_run *runs = mtp_calloc((size_t)n, sizeof *runs, "decoders");
    int32_t *plain = mtp_malloc(sizeof(int32_t) * (size_t)max_new, "plain output");
    int32_t *spec = mtp_malloc(sizeof(int32_t) * (size_t)max_new, "speculative output");
    int rc = runs && plain && spec ? 0 : -1;
    for (int K = 0; K < n && rc == 0; K++) rc = k_run_init(&runs[K], m, K, P);
    for (int K = 0; K < n && rc == 0; K++) {  // untimed warm-up: threads and caches
        decode_stats st;
        collector c = {spec, 0, max_new};
        rc = decode_run(&runs[K].d, prompts[0].ids, prompts[0].n,
                        max_new < WARMUP_TOKENS ? max_new : WARMUP_TOKENS, eot, &runs[K].smp, collect, &c,
                        &st);
    }
    progress bar;
    if (rc == 0) progress_start(&bar, "prompts", (uint64_t)P);
    double plain_total = 0.0;
    for (int i = 0; i < P && rc == 0; i++) {
        decode_stats st;
        int plain_n = 0, got = 0;
        double plain_sec = 0.0, sec = 0.0;
        if ((rc = decode_timed(&runs[0], &prompts[i], max_new, eot, repeats, plain, &plain_n, &plain_sec,
                               &st)))
            break;
        plain_total += plain_sec;
        const long plain_forwards = st.forwards;
        record(&runs[0], 0, &st, plain_sec, plain_sec, plain_forwards);
        for (int K = 1; K < n && rc == 0; K++) {
            if ((rc = decode_timed(&runs[K], &prompts[i], max_new, eot, repeats, spec, &got, &sec, &st)))
                break;
            if (got != plain_n || memcmp(spec, plain, sizeof(int32_t) * (size_t)got) != 0)
                runs[K].r.mismatches++;
            record(&runs[K], K, &st, sec, plain_sec, plain_forwards);
        }
        if (i + 1 < P) progress_update(&bar, (uint64_t)(i + 1));  // the last is progress_finish's
    }
    if (rc == 0) {
        bar.done = (uint64_t)P;
        progress_finish(&bar);
        for (int K = 0; K < n; K++) {
            finish(&runs[K], K, plain_total);
            res[K] = runs[K].r;
        }
    }
    for (int K = 0; runs && K < n; K++) k_run_free(&runs[K]);
    free(runs);
    free(plain);
    free(spec);
    return rc;
}

static cJSON *number_or_null(double x) {
    return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull();
}

static int print_json(const char *ckpt, const mtp_config *cfg, int P, int max_new, const k_result *res,
                      long mismatches) {
    cJSON *root = cJSON_CreateObject(), *results = cJSON_CreateArray();
    if (!root || !results) {
        cJSON_Delete(root);
        cJSON_Delete(results);
        return mtp_errorf("out of memory building the JSON report");
    }
    cJSON_AddStringToObject(root, "model", ckpt);
    cJSON_AddNumberToObject(root, "heads", cfg->n_future);
    cJSON_AddNumberToObject(root, "prompts", P);
    cJSON_AddNumberToObject(root, "max_new", max_new);
    cJSON_AddNumberToObject(root, "mismatches", (double)mismatches);
    cJSON_AddItemToObject(root, "results", results);
    for (int K = 0; K < cfg->n_future; K++) {
        const k_result *r = &res[K];
        cJSON *o = cJSON_CreateObject(), *acc = cJSON_CreateArray();
        if (!o || !acc) {
            cJSON_Delete(o);
            cJSON_Delete(acc);
            cJSON_Delete(root);
            return mtp_errorf("out of memory building the JSON report");
        }
        cJSON_AddNumberToObject(o, "k", K);
        cJSON_AddItemToObject(o, "tokens_per_sec", number_or_null(r->tokens_per_sec));
        cJSON_AddItemToObject(o, "tokens_per_forward", number_or_null(r->tokens_per_forward));
        cJSON_AddItemToObject(o, "speedup", number_or_null(r->speedup));
        cJSON_AddItemToObject(o, "speedup_total", number_or_null(r->speedup_total));
        cJSON_AddItemToObject(o, "forward_cost", number_or_null(r->forward_cost));
        for (int k = 0; k < K; k++) cJSON_AddItemToArray(acc, number_or_null(r->accept[k]));
        cJSON_AddItemToObject(o, "accept_rate", acc);
        cJSON_AddNumberToObject(o, "decode_seconds", r->decode_seconds);
        cJSON_AddNumberToObject(o, "prefill_seconds", r->prefill_seconds);
        cJSON_AddNumberToObject(o, "tokens", (double)r->tokens);
        cJSON_AddNumberToObject(o, "forwards", (double)r->forwards);
        cJSON_AddNumberToObject(o, "mismatches", (double)r->mismatches);
        cJSON_AddItemToArray(results, o);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return mtp_errorf("out of memory printing the JSON report");
    puts(text);
    cJSON_free(text);
    return 0;
}

static void print_table(const char *ckpt, const mtp_config *cfg, int P, int max_new, const k_result *res) {
    printf(
        "bench-decode: %s (n = %d heads), %d prompt%s, --max-new %d; medians over prompts, time = decode "
        "(prefill excluded)\n\n",
        ckpt, cfg->n_future, P, P == 1 ? "" : "s", max_new);
    printf(
        "| K | tokens/s | tokens/forward | speedup | speedup (total) | forward cost | decode s (total) | "
        "acceptance per head |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---|\n");
    for (int K = 0; K < cfg->n_future; K++) {
        const k_result *r = &res[K];
        char acc[MTP_MAX_FUTURE * 24] = "-";
        size_t at = 0;
        for (int k = 0; k < K; k++) {
            char one[24];
            if (isfinite(r->accept[k]))
                snprintf(one, sizeof one, "%sh%d %.3f", k ? ", " : "", k + 2, r->accept[k]);
            else
                snprintf(one, sizeof one, "%sh%d -", k ? ", " : "", k + 2);
            size_t l = strlen(one);
            if (at + l < sizeof acc) {
                memcpy(acc + at, one, l + 1);
                at += l;
            }
        }
        printf("| %d%s | %.1f | %.2f | %.2fx | %.2fx | %.2fx | %.3f | %s |\n", K, K ? "" : " (plain)",
               r->tokens_per_sec, r->tokens_per_forward, r->speedup, r->speedup_total, r->forward_cost,
               r->decode_seconds, acc);
    }
}

int cmd_bench_decode(int argc, char **argv) {
    const char *model_path = NULL, *prompts_path = NULL, *v;
    int max_new = 128, max_prompts = 0, threads = 0, json = 0, repeats = 1;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (args_is_help(f)) {
            fputs(help, stdout);
            return 0;
        }
        if (!strcmp(f, "--model")) {
            if (!(model_path = args_value(CMD, argc, argv, &i))) return 2;
        } else if (!strcmp(f, "--prompts")) {
            if (!(prompts_path = args_value(CMD, argc, argv, &i))) return 2;
        } else if (!strcmp(f, "--max-new")) {
            if (!(v = args_value(CMD, argc, argv, &i)) || args_int(CMD, f, v, 1, 1 << 24, &max_new)) return 2;
        } else if (!strcmp(f, "--max-prompts")) {
            if (!(v = args_value(CMD, argc, argv, &i)) || args_int(CMD, f, v, 1, 1 << 30, &max_prompts))
                return 2;
        } else if (!strcmp(f, "--repeats")) {
            if (!(v = args_value(CMD, argc, argv, &i)) || args_int(CMD, f, v, 1, MAX_REPEATS, &repeats))
                return 2;
        } else if (!strcmp(f, "--threads")) {
            if (!(v = args_value(CMD, argc, argv, &i)) || args_int(CMD, f, v, 1, 1024, &threads)) return 2;
        } else if (!strcmp(f, "--json")) {
            json = 1;
        } else {
            args_unknown(CMD, f);
            return 2;
        }
    }
    if (!model_path || !prompts_path) {
        fprintf(stderr, "mtp " CMD ": --model and --prompts are required (see mtp " CMD " --help)\n");
        return 2;
    }
    if (threads) op_set_threads(threads);
    char ckpt[4096];
    mtp_config cfg;
    mtp_model m;
    memset(&m, 0, sizeof m);
    tokenizer *tok = NULL;
    prompt *prompts = NULL;
    int P = 0, rc = 1;
    k_result res[MTP_MAX_FUTURE];
    long mismatches = 0;
    int first_bad = 0, keep = 0, cut = 0;
    if (old_checkpoint_open(model_path, ckpt, sizeof ckpt, &cfg, &tok)) goto done;
    if (cfg.n_future < 2) {
        mtp_errorf(
            "%s has 1 head (n_future = 1): no drafting heads, so nothing to compare with plain decoding; "
            "train with --n-future 2 or more",
            ckpt);
        goto done;
    }
    if (max_new >= cfg.max_seq_len) {
        mtp_errorf(
            "--max-new %d leaves no room for a prompt in the model's context of %d tokens: use at most %d",
            max_new, cfg.max_seq_len, cfg.max_seq_len - 1);
        goto done;
    }
    if (read_prompts(prompts_path, tok, max_prompts, &prompts, &P) != 0) goto done;
    // prompts must leave room for max_new tokens in the context: keep their newest tokens
    keep = cfg.max_seq_len - max_new;
    for (int i = 0; i < P; i++) {
        if (prompts[i].n <= keep) continue;
        memmove(prompts[i].ids, prompts[i].ids + (prompts[i].n - keep), sizeof(int32_t) * (size_t)keep);
        prompts[i].n = keep;
        cut++;
    }
    if (cut)
        fprintf(stderr,
                "mtp " CMD
                ": %d of %d prompts are longer than the context (%d) minus --max-new (%d): keeping their "
                "last %d tokens\n",
                cut, P, cfg.max_seq_len, max_new, keep);
    if (model_create(&m, &cfg) || checkpoint_load_params(ckpt, &m)) goto done;
    if (bench_all(&m, prompts, P, max_new, repeats, tokenizer_eot(tok), res) != 0) goto done;
    for (int K = 0; K < cfg.n_future; K++) {
        if (res[K].mismatches && !first_bad) first_bad = K;
        mismatches += res[K].mismatches;
    }
    if (json) {
        if (print_json(ckpt, &cfg, P, max_new, res, mismatches) != 0) goto done;
    } else {
        print_table(ckpt, &cfg, P, max_new, res);
    }
    fflush(stdout);
    if (mismatches) {
        fprintf(stderr,
                "mtp " CMD
                ": warning: %ld speculative outputs differ from plain greedy decoding (first with K = %d); "
                "speculative decoding must be lossless\n",
                mismatches, first_bad);
        rc = 1;
        goto cleanup;
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "mtp " CMD ": %s\n", mtp_last_error());
cleanup:
    free_prompts(prompts, P);
    tokenizer_free(tok);
    model_free(&m);
    return rc;
}
