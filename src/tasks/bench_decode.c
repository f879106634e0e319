// bench_decode.c: see bench_decode.h.
#include "tasks/bench_decode.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/timer.h"
#include "infer/decode.h"
#include "model/flops.h"
#include "ops/ops.h"

#define WARMUP_TOKENS 16  // untimed decode before each K: threads and caches warm
// The read probe's buffer: far beyond any cache, short enough to run per prompt.
#define PROBE_BYTES ((size_t)512 << 20)

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
static int read_prompts(const char *path, const tokenizer *tok, int max_prompts, bench_prompt **out,
                        int *count) {
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
                bench_prompt *grown = realloc(*out, sizeof **out * (size_t)cap);
                if (!grown) {
                    cJSON_Delete(json);
                    rc = mtp_errorf("out of memory reading %s", path);
                    break;
                }
                *out = grown;
            }
            bench_prompt *p = &(*out)[*count];
            memset(p, 0, sizeof *p);
            p->line = lineno;
            (*count)++;
            size_t n = 0, ncap = 0;
            int enc = tokenizer_encode_prompt(tok, text, strlen(text), &p->ids, &n, &ncap);
            if (enc == 0 && n == 0 && tokenizer_reserve(&p->ids, n, &ncap, 1) == 0)
                p->ids[n++] = tokenizer_doc_start(tok);
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

static void free_prompts(bench_prompt *p, int count) {
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
    double *tps, *tpf, *ratio, *cost, *spf, *roof, *roof_kv, *kv, *accept[MTP_MAX_FUTURE];
    int n_tps, n_tpf, n_ratio, n_cost, n_spf, n_roof, n_accept[MTP_MAX_FUTURE];  // roof_kv, kv: n_roof
} samples;

// One K's decoder (its own KV cache) and numbers.
typedef struct {
    decoder d;
    sampler smp;
    int ready;
    samples s;
    bench_decode_result r;
} k_run;

// drafts: K, or DECODE_AUTO.
static int k_run_init(k_run *kr, const mtp_model *m, int drafts, int P) {
    memset(kr, 0, sizeof *kr);
    if (decoder_init(&kr->d, m, drafts) != 0) return -1;
    const int K = kr->d.drafts;
    if (sampler_init(&kr->smp, m->cfg.vocab_size, 0.0f, 0, 1.0f, 1) != 0) {
        decoder_free(&kr->d);
        return -1;
    }
    kr->ready = 1;
    kr->s.tps = mtp_malloc(sizeof(double) * (size_t)P, "samples");
    kr->s.tpf = mtp_malloc(sizeof(double) * (size_t)P, "samples");
    kr->s.ratio = mtp_malloc(sizeof(double) * (size_t)P, "samples");
    kr->s.cost = mtp_malloc(sizeof(double) * (size_t)P, "samples");
    kr->s.spf = mtp_malloc(sizeof(double) * (size_t)P, "samples");
    kr->s.roof = mtp_malloc(sizeof(double) * (size_t)P, "samples");
    kr->s.roof_kv = mtp_malloc(sizeof(double) * (size_t)P, "samples");
    kr->s.kv = mtp_malloc(sizeof(double) * (size_t)P, "samples");
    if (!kr->s.tps || !kr->s.tpf || !kr->s.ratio || !kr->s.cost || !kr->s.spf || !kr->s.roof ||
        !kr->s.roof_kv || !kr->s.kv)
        return -1;
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
    free(kr->s.spf);
    free(kr->s.roof);
    free(kr->s.roof_kv);
    free(kr->s.kv);
    for (int k = 0; k < MTP_MAX_FUTURE; k++) free(kr->s.accept[k]);
    memset(kr, 0, sizeof *kr);
}

// Decodes prompt p with K drafting heads `repeats` times into out (max_new
// tokens); *seconds gets the median decode time, st the last run's stats.
static int decode_timed(k_run *kr, const bench_prompt *p, int max_new, int32_t eot, int repeats, int32_t *out,
                        int *got, double *seconds, decode_stats *st) {
    double t[BENCH_DECODE_MAX_REPEATS];
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
    bench_decode_result *r = &kr->r;
    r->tokens += st->generated;
    r->forwards += st->forwards;
    r->decode_seconds += sec;
    r->prefill_seconds += st->prefill_seconds;
    // the prefill made the first token; later ones each came from one of the forwards
    if (st->generated > 0) {
        s->tpf[s->n_tpf++] = (double)st->generated / (double)(st->forwards + 1);
        if (sec > 0.0) s->tps[s->n_tps++] = (double)st->generated / sec;
        if (sec > 0.0 && plain_sec > 0.0) s->ratio[s->n_ratio++] = plain_sec / sec;
        if (st->forwards > 0) s->spf[s->n_spf++] = sec / (double)st->forwards;
        if (st->forwards > 0 && plain_forwards > 0 && plain_sec > 0.0)
            s->cost[s->n_cost++] = (sec / (double)st->forwards) / (plain_sec / (double)plain_forwards);
    }
    for (int k = 0; k < K; k++)
        if (st->checked[k] > 0)
            s->accept[k][s->n_accept[k]++] = (double)st->accepted[k] / (double)st->checked[k];
}

static void finish(k_run *kr, int K, double plain_total) {
    bench_decode_result *r = &kr->r;
    samples *s = &kr->s;
    r->tokens_per_sec = median(s->tps, s->n_tps);
    r->tokens_per_forward = median(s->tpf, s->n_tpf);
    r->speedup = median(s->ratio, s->n_ratio);
    r->forward_cost = median(s->cost, s->n_cost);
    r->seconds_per_forward = median(s->spf, s->n_spf);
    r->roofline = K == 0 ? median(s->roof, s->n_roof) : NAN;
    r->roofline_kv = K == 0 ? median(s->roof_kv, s->n_roof) : NAN;
    r->kv_bytes = K == 0 ? median(s->kv, s->n_roof) : NAN;
    r->speedup_total = r->decode_seconds > 0.0 ? plain_total / r->decode_seconds : NAN;
    for (int k = 0; k < MTP_MAX_FUTURE; k++)
        r->accept[k] = k < K ? median(s->accept[k], s->n_accept[k]) : NAN;
}

enum { PAIRS = 9 };

// One-token forwards (what plain decoding runs) and (K+1)-row verifications
// alternately at the context decoder d has reached, its cache rolled back after
// each, the order swapped every pair; the median ratio of PAIRS pairs after one
// warm-up pair. NAN if the model's context is shorter than K+2.
static double paired_cost(decoder *d, int K, int32_t token) {
    model_work *w = &d->work;
    kv_cache *c = &d->cache;
    const int max = c->capacity, heads = d->all_heads ? d->model->cfg.n_future : K + 1;
    // a full cache is rolled back to leave room for K+1 rows (lowering len forgets)
    if (c->len + K + 1 > max) c->len = max - K - 1;
    const int base = c->len;
    if (K < 1 || base < 1) return NAN;
    int32_t tokens[MTP_MAX_FUTURE + 1];
    for (int i = 0; i <= K; i++) tokens[i] = token;
    double ratio[PAIRS];
    int n = 0;
    for (int p = 0; p <= PAIRS; p++) {
        double t[2];
        for (int j = 0; j < 2; j++) {
            int verify = (p + j) % 2;
            double t0 = mtp_now();
            int rc = verify ? model_forward_verify(w, c, tokens, K + 1, heads, 0, d->model_logits)
                            : model_forward_cached(w, c, tokens, 1, 1, 1, 1, d->model_logits);
            if (rc != 0 || op_sync() != 0) {
                c->len = base;
                return NAN;
            }
            t[verify] = mtp_now() - t0;
            c->len = base;
        }
        if (p > 0 && t[0] > 0.0) ratio[n++] = t[1] / t[0];
    }
    return median(ratio, n);
}

// Every prompt with K = 0, auto, 1..n-1 in turn (so plain and speculative
// runs of a prompt are timed close together on a machine whose speed
// drifts), each warmed up first; res[K] gets the results, res[n] auto's.
int bench_decode_run(const mtp_model *m, const bench_prompts *bp, int max_new, int repeats, int32_t eot,
                     const progress_sink *progress, bench_decode_result *res, double *read_bandwidth) {
    const bench_prompt *prompts = bp->v;
    const int P = bp->count;
    const int n = m->cfg.n_future;
    k_run *runs = mtp_calloc((size_t)n + 1, sizeof *runs, "decoders");  // K = 0..n-1, then auto
    int32_t *plain = mtp_malloc(sizeof(int32_t) * (size_t)max_new, "plain output");
    int32_t *spec = mtp_malloc(sizeof(int32_t) * (size_t)max_new, "speculative output");
    double *probes = mtp_malloc(sizeof(double) * (size_t)P, "bandwidth probes");
    size_t probe_n = 0;
    float *probe = op_read_bandwidth_buffer(PROBE_BYTES, &probe_n);  // one buffer: no faults between runs
    int n_probes = 0, rc = runs && plain && spec && probes && probe ? 0 : -1;
    for (int K = 0; K < n && rc == 0; K++) rc = k_run_init(&runs[K], m, K, P);
    if (rc == 0) rc = k_run_init(&runs[n], m, DECODE_AUTO, P);
    for (int K = 0; K <= n && rc == 0; K++) {  // untimed warm-up: threads and caches
        decode_stats st;
        collector c = {spec, 0, max_new};
        rc = decode_run(&runs[K].d, prompts[0].ids, prompts[0].n,
                        max_new < WARMUP_TOKENS ? max_new : WARMUP_TOKENS, eot, &runs[K].smp, collect, &c,
                        &st);
    }
    double plain_total = 0.0, weight_bytes = model_decode_weight_bytes(&m->cfg, m->q8);
    for (int i = 0; i < P && rc == 0; i++) {
        decode_stats st;
        int plain_n = 0, got = 0;
        // the probe right before plain decoding (the machine's bandwidth drifts); one after it
        // would stand between plain and auto and slow the latter: it rereads half a GB
        double plain_sec = 0.0, sec = 0.0, bw = op_read_bandwidth_of(probe, probe_n, 2);
        if ((rc = decode_timed(&runs[0], &prompts[i], max_new, eot, repeats, plain, &plain_n, &plain_sec,
                               &st)))
            break;
        if (bw > 0.0) probes[n_probes++] = bw;
        if (bw > 0.0 && st.forwards > 0 && plain_sec > 0.0) {
            // attention reads the prompt and the tokens made so far: on average half of those
            const double kv = model_decode_kv_bytes(&m->cfg, prompts[i].n + 0.5 * plain_n);
            samples *s = &runs[0].s;
            s->roof[s->n_roof] = weight_bytes / (plain_sec / (double)st.forwards) / bw;
            s->roof_kv[s->n_roof] = (weight_bytes + kv) / (plain_sec / (double)st.forwards) / bw;
            s->kv[s->n_roof++] = kv;
        }
        plain_total += plain_sec;
        const long plain_forwards = st.forwards;
        record(&runs[0], 0, &st, plain_sec, plain_sec, plain_forwards);
        // auto right after plain: the comparison that matters most is made closest in time
        for (int j = 0; j < n && rc == 0; j++) {
            const int K = j == 0 ? n : j;
            if ((rc = decode_timed(&runs[K], &prompts[i], max_new, eot, repeats, spec, &got, &sec, &st)))
                break;
            if (got != plain_n || memcmp(spec, plain, sizeof(int32_t) * (size_t)got) != 0)
                runs[K].r.mismatches++;
            record(&runs[K], runs[K].d.drafts, &st, sec, plain_sec, plain_forwards);
        }
        progress_tell(progress, (uint64_t)(i + 1), (uint64_t)P);
    }
    if (rc == 0) {
        *read_bandwidth = median(probes, n_probes);
        for (int K = 0; K <= n; K++) {
            finish(&runs[K], runs[K].d.drafts, plain_total);
            res[K] = runs[K].r;
            // at the context the last prompt's decoding reached with this K
            const bench_prompt *last = &prompts[P - 1];
            res[K].paired_cost =
                K >= 1 && K < n && P > 0 ? paired_cost(&runs[K].d, K, last->ids[last->n - 1]) : NAN;
        }
    }
    for (int K = 0; runs && K <= n; K++) k_run_free(&runs[K]);
    free(runs);
    free(plain);
    free(spec);
    free(probes);
    free(probe);
    return rc;
}

void bench_prompts_free(bench_prompts *p);

int bench_prompts_read(bench_prompts *p, const char *path, const tokenizer *tok, int max_prompts) {
    memset(p, 0, sizeof *p);
    if (read_prompts(path, tok, max_prompts, &p->v, &p->count) == 0) return 0;
    bench_prompts_free(p);
    return -1;
}

int bench_prompts_fit(bench_prompts *p, int keep) {
    int cut = 0;
    for (int i = 0; i < p->count; i++) {
        bench_prompt *q = &p->v[i];
        if (q->n <= keep) continue;
        memmove(q->ids, q->ids + (q->n - keep), sizeof(int32_t) * (size_t)keep);
        q->n = keep;
        cut++;
    }
    return cut;
}

void bench_prompts_free(bench_prompts *p) {
    free_prompts(p->v, p->count);
    memset(p, 0, sizeof *p);
}
