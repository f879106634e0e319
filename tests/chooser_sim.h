// chooser_sim.h: --speculative auto's chooser (src/infer/k_choice.c) against
// simulated decoding, and the cases it must handle. tests/test_decode.c runs
// every case with one seed; tests/tools/chooser_sim runs them over many (what
// a change to the chooser must be measured with: one seed's luck is worth a
// few percent).
#ifndef MTP_TESTS_CHOOSER_SIM_H
#define MTP_TESTS_CHOOSER_SIM_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "libmtp.h"

// The chooser against simulated steps: a step with K drafts takes cost[K]
// time units (plus noise; on a busy machine, now and then 1.6x) and each
// draft is accepted with probability `accept` once the ones before it were.
// With prompt_every > 0 a new prompt of prompt_len positions starts every
// prompt_every steps, its prefill running the heads the chooser asks for
// (k_chooser_prefill_drafts) and leaving the others a whole prompt behind, as
// the decoder does (the prefill's own time is left out, as for fixed K).
// `seed` drives the acceptances and the noise; `trace`, if not NULL, gets
// the K of every step. Returns the tokens per time unit it achieved; picks[K]
// counts its choices.
typedef struct {
    double accept, cost[4], catch_fixed, catch_row;
    int prompt_every, prompt_len;
    double busy;          // the fraction of steps that take 1.6x
    int steps;            // steps simulated (0: 600)
    double of_best;       // the fraction of the best fixed K's rate it must reach (0: 0.9)
    double share;         // the least share of steps the wanted K must have (0: 2/3)
    int avoid;            // a K that must not take half the steps or more (0: none)
    double accept_later;  // the acceptance from step `later_from` on, when that is > 0: the text changed
    int later_from;
} chooser_case;

// The acceptance at `step`.
static double case_accept(const chooser_case *sc, int step) {
    return sc->later_from > 0 && step >= sc->later_from ? sc->accept_later : sc->accept;
}

static double simulate_chooser(const chooser_case *sc, int k_max, uint64_t seed, long picks[MTP_MAX_FUTURE],
                               FILE *trace) {
    k_chooser ch;
    k_chooser_init(&ch, k_max);
    mtp_rng rng;
    mtp_rng_seed(&rng, seed);
    memset(picks, 0, sizeof(long) * MTP_MAX_FUTURE);
    double tokens = 0.0, time = 0.0;
    // positions decoded, and how far each drafting head has run (as the decoder's head_len)
    long pos = 1, head_len[MTP_MAX_FUTURE] = {0}, catch_rows[MTP_MAX_FUTURE];
    int have = 0;
    const int steps = sc->steps > 0 ? sc->steps : 600;
    for (int step = 0; step < steps; step++) {
        if (sc->prompt_every > 0 && step % sc->prompt_every == 0) {
            have = k_chooser_prefill_drafts(&ch);
            pos = sc->prompt_len;
            for (int j = 1; j <= k_max; j++) head_len[j] = j <= have ? pos : 0;
        }
        for (int k = 0; k <= k_max; k++) {  // what a switch to k drafts would run first
            long from = pos - 1;
            for (int j = 1; j <= k; j++)
                if (head_len[j] < from) from = head_len[j];
            catch_rows[k] = k <= have ? 0 : (pos - from) * k;
        }
        int K = k_chooser_pick(&ch, catch_rows);
        picks[K]++;
        if (trace) {  // each step's K, a catch-up's head-rows in brackets before it
            if (catch_rows[K] > 0) fprintf(trace, "[%ld]", catch_rows[K]);
            fprintf(trace, "%d%s", K, step == steps - 1 ? "\n" : "");
        }
        if (catch_rows[K] > 0) {  // catching up: a fixed cost per call plus one per head-row
            double tc = sc->catch_fixed + sc->catch_row * (double)catch_rows[K];
            k_chooser_observe_switch(&ch, 0.01 * tc, catch_rows[K]);
            time += tc;
        }
        int a = 0;
        while (a < K && mtp_rng_uniform(&rng) < case_accept(sc, step)) a++;
        // the chooser sees it with up to 5% noise, and each K's first step cold (twice as long)
        double t = sc->cost[K] * (mtp_rng_uniform(&rng) < sc->busy ? 1.6 : 1.0),
               seen = t * (1.0 + 0.05 * mtp_rng_uniform(&rng)) * (picks[K] == 1 ? 2.0 : 1.0);
        k_chooser_observe(&ch, K, 0.01 * seen, K, a);
        tokens += 1 + a;
        time += t;
        pos += 1 + a;
        for (int j = 1; j <= K; j++) head_len[j] = pos;
        have = K;
    }
    return tokens / time;
}

// Tokens per step of a fixed K at acceptance `accept`.
static double fixed_tokens(double accept, int K) {
    double tokens = 0.0, all = 1.0;
    for (int j = 0; j <= K; j++, all *= accept) tokens += all;
    return tokens;
}

// Tokens per time unit of a fixed K in the simulation (noise aside; busy
// steps slow it as they slow the chooser; with a change of acceptance, its
// steps' share of each).
static double fixed_rate(const chooser_case *sc, int K) {
    const int steps = sc->steps > 0 ? sc->steps : 600;
    const double later = sc->later_from > 0 ? (double)(steps - sc->later_from) / steps : 0.0;
    const double tokens =
        (1.0 - later) * fixed_tokens(sc->accept, K) + later * fixed_tokens(sc->accept_later, K);
    return tokens / (sc->cost[K] * (1.0 + 0.6 * sc->busy));
}

// The cases: a step's cost with K = 0..3 drafts, in plain steps; catching up
// costs a fixed part per call and a part per head-row. `want`: the K the
// chooser must pick in `share` of the steps or more (-1: a close call, only
// the rate counts).
typedef struct {
    chooser_case sc;
    int want;
} chooser_test;

static const chooser_test chooser_tests[] = {
    {{0.0, {1, 1.1, 1.2, 1.3}, 0.0, 0.0, 0, 0, 0.0}, 0},      // drafts never accepted: plain
    {{0.9, {1, 1.05, 1.1, 1.15}, 0.0, 0.0, 0, 0, 0.0}, 3},    // big model, good heads: every draft
    {{0.6, {1, 1.5, 2.0, 2.5}, 0.0, 0.0, 0, 0, 0.0}, -1},     // small model: K=1 +7% over plain, K=2 -2%
    {{0.8, {1, 3, 5, 7}, 0.0, 0.0, 0, 0, 0.0}, 0},            // rows cost more than they bring: plain
    {{0.7, {1, 1.15, 1.3, 1.45}, 0.0, 0.0, 0, 0, 0.0}, -1},   // a big model, fair heads
    {{0.9, {1, 1.05, 1.1, 1.15}, 0.5, 0.05, 0, 0, 0.0}, 3},   // the same with catching up costing
    {{1.0, {1, 1.62, 2.92, 4.38}, 0.6, 0.15, 0, 0, 0.0}, 1},  // an older quick start: K=1 1.23x, K=3 0.91x
    {{0.6, {1, 1.5, 2.0, 2.5}, 0.6, 0.15, 0, 0, 0.0}, -1},    // small model, close call, costly catch-ups
    // today's quick start (K = 1, 2, 3: 1.16x, 1.25x, 1.28x plain), prompts of 60 tokens of
    // 96 new ones, on a busy machine: one slow step of K = 3 must not rule it out for good
    {{1.0, {1, 1.72, 2.4, 3.13}, 0.7, 0.05, 30, 60, 0.05}, -1},
    {{1.0, {1, 1.72, 2.4, 3.13}, 0.7, 0.05, 30, 60, 0.15}, -1},
    {{0.9, {1, 1.05, 1.1, 1.15}, 0.5, 0.05, 40, 200, 0.1}, 3},  // big model, prompts, busy
    // the quick start's model generating 60 tokens at a time from short prompts: a catch-up
    // costs more than a K = 1 step (1.2 of a plain step and 0.05 a head-row, as measured)
    {{1.0, {1, 1.34, 1.72, 2.14}, 1.2, 0.05, 30, 10, 0.05, 0, 0.0, 0.0, 0}, -1},
    // one such generation alone, 30 steps: the opening and the tries of each K (their first
    // steps cold) weigh more, but K = 2 and 3 must not be left untried (a first catch-up
    // counted per row ruled them out for good: K = 1 in 26 of 30 steps)
    {{1.0, {1, 1.34, 1.72, 2.14}, 1.2, 0.05, 30, 10, 0.0, 30, 0.75, 0.0, 1}, -1},
    // the big random-init model of bench/decode_big.sh in int8 (8 prompts of 441-680 tokens, 64
    // new ones): drafts match by chance 3% of the time, K = 1..3 cost 1.10 / 1.20 / 1.32 plain
    // steps, a catch-up 0.2 of a step (its unembedding pass for the drafts) plus 0.005 a head-row
    {{0.03, {1, 1.10, 1.20, 1.32}, 0.2, 0.005, 64, 450, 0.05, 600, 0.0, 0.0, 0}, 0},
    {{0.03, {1, 1.10, 1.20, 1.32}, 0.2, 0.005, 0, 0, 0.05, 300, 0.0, 0.0, 0}, 0},  // one generation
    // and a generation whose text turns predictable after 200 steps (95% of drafts accepted): the
    // chooser must notice, though by then the drafting heads lag 200 positions behind
    {{0.03, {1, 1.10, 1.20, 1.32}, 0.2, 0.005, 0, 0, 0.05, 600, 0.0, 0.0, 0, 0.95, 200}, -1},
};

enum { CHOOSER_TESTS = (int)(sizeof chooser_tests / sizeof chooser_tests[0]) };

// Runs case t with k_max = 3 and `seed`; *got, *best and *plain get the
// chooser's rate, the best fixed K's and plain decoding's. Returns 1 if the
// chooser did what the case asks (at least of_best of the best fixed K and 97%
// of plain; the wanted K in `share` of the steps; the avoided K in under half),
// else 0 with the reason in why.
static int chooser_test_run(const chooser_test *t, uint64_t seed, double *got, double *best, double *plain,
                            long picks[MTP_MAX_FUTURE], char *why, size_t why_size) {
    const chooser_case *sc = &t->sc;
    *got = simulate_chooser(sc, 3, seed, picks, NULL);
    *best = 0.0;
    int most = 0;
    for (int k = 0; k <= 3; k++) {
        if (fixed_rate(sc, k) > *best) *best = fixed_rate(sc, k);
        if (picks[k] > picks[most]) most = k;
    }
    *plain = fixed_rate(sc, 0);
    const double of_best = sc->of_best > 0.0 ? sc->of_best : 0.9;
    const int steps = sc->steps > 0 ? sc->steps : 600;
    const double share = sc->share > 0.0 ? sc->share : 2.0 / 3.0;
    if (*got < of_best * *best || *got < 0.97 * *plain) {
        snprintf(why, why_size,
                 "%.3f tokens per unit, below %.0f%% of the best fixed K (%.3f) or 97%% of plain (%.3f)",
                 *got, 100.0 * of_best, *best, *plain);
        return 0;
    }
    if (t->want >= 0 && picks[t->want] < share * steps) {
        snprintf(why, why_size,
                 "picked K=%d %ld of %d times (most: K=%d), want it in %.0f%% of the steps or more", t->want,
                 picks[t->want], steps, most, 100.0 * share);
        return 0;
    }
    if (sc->avoid > 0 && 2 * picks[sc->avoid] >= steps) {
        snprintf(why, why_size, "picked K=%d %ld of %d times, where others pay more", sc->avoid,
                 picks[sc->avoid], steps);
        return 0;
    }
    return 1;
}

#endif
