// bench_decode.h: plain greedy decoding against self-speculative decoding
// with K = 1..n-1 drafting heads, and with K chosen step by step (auto), on
// a file of prompts (mtp bench-decode).
// Every prompt is decoded with K = 0, 1, ..., n-1 in turn (plain and
// speculative runs of a prompt close together in time, since a shared
// machine's speed drifts), `repeats` times each. The results are medians over
// prompts (tokens/s, tokens per forward, each drafting head's acceptance
// rate, the speedup: plain time / speculative time, decode only, prefill
// excluded, and the forward cost: time per forward / plain's) and totals,
// plus a count of speculative outputs that differ from the plain one (greedy
// speculative decoding must be lossless: any is a bug).
#ifndef MTP_TASKS_BENCH_DECODE_H
#define MTP_TASKS_BENCH_DECODE_H

#include "core/progress.h"
#include "data/tokenizer.h"
#include "model/model.h"

#define BENCH_DECODE_MAX_REPEATS 99

typedef struct {
    int32_t *ids;
    int n;
    int line;  // in the prompts file, for messages
} bench_prompt;

typedef struct {
    bench_prompt *v;
    int count;
} bench_prompts;

// Reads up to max_prompts prompts (0 = all) from path: one per line, or JSONL
// lines {"prompt": "..."} (a line starting with '{' is JSON; empty lines are
// skipped), encoded with tok; an empty prompt starts from end-of-text.
int bench_prompts_read(bench_prompts *p, const char *path, const tokenizer *tok, int max_prompts);
// Keeps the newest `keep` tokens of longer prompts; returns how many were cut.
int bench_prompts_fit(bench_prompts *p, int keep);
void bench_prompts_free(bench_prompts *p);

// What one K gave over all prompts.
typedef struct {
    double tokens_per_sec, tokens_per_forward, speedup;  // medians over prompts
    double forward_cost;                                 // median time per forward / plain's
    // K >= 1: a (K+1)-row verification's time over a one-token forward's, the
    // two alternating at the same context (median of pairs): the cost without
    // the drift of the machine between whole runs. NAN for plain and auto.
    double paired_cost;
    double seconds_per_forward;  // median over prompts
    double roofline;             // plain only: weight bytes per forward / time per forward / read bandwidth
    // plain only: the same with the KV cache's reads added (kv_bytes: their
    // median per forward, at each prompt's mean context while decoding)
    double roofline_kv, kv_bytes;
    double speedup_total;                    // total plain time / total time
    double accept[MTP_MAX_FUTURE];           // median per drafting head; NAN: never checked
    double decode_seconds, prefill_seconds;  // totals
    long tokens, forwards, mismatches;
} bench_decode_result;

// Decodes every prompt with K = 0..n-1 and with --speculative auto, max_new
// tokens each (prompts must leave room for them), eot ends a generation;
// res[K] (MTP_MAX_FUTURE + 1 entries) gets K's results, res[n] auto's, and
// *read_bandwidth the median of streaming-read probes (bytes/s, ops.h) run
// before each prompt, in the same process, so the roofline compares
// numbers measured side by side.
int bench_decode_run(const mtp_model *m, const bench_prompts *p, int max_new, int repeats, int32_t eot,
                     const progress_sink *progress, bench_decode_result *res, double *read_bandwidth);

#endif
