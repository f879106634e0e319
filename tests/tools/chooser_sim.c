// chooser_sim: every case of tests/chooser_sim.h over many seeds, to measure
// a change to --speculative auto's chooser (src/infer/k_choice.c): per case,
// the mean and least of its rate over the best fixed K's and over plain
// decoding's, the seeds on which it failed the case, and its mean picks of
// K = 0..3. Exit 1 if any seed failed any case.
//   chooser_sim [--seeds N]       (default 48)
//   chooser_sim --trace CASE SEED (the K of every step of one run, catch-ups'
//                                  head-rows in brackets)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../chooser_sim.h"

int main(int argc, char **argv) {
    int seeds = 48;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf(
                "usage: chooser_sim [--seeds N]      every case of tests/chooser_sim.h over seeds 1..N (48)\n"
                "       chooser_sim --trace CASE SEED the K of every step of one run (CASE 0..%d)\n",
                CHOOSER_TESTS - 1);
            return 0;
        }
        if (strcmp(argv[i], "--seeds") == 0) {
            if (!(i + 1 < argc && atoi(argv[i + 1]) > 0)) {
                fprintf(stderr, "chooser_sim: --seeds N: N must be a whole number >= 1, got '%s'\n",
                        i + 1 < argc ? argv[i + 1] : "");
                return 2;
            }
            seeds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--trace") == 0) {
            if (!(i + 2 < argc && atoi(argv[i + 1]) >= 0 && atoi(argv[i + 1]) < CHOOSER_TESTS &&
                  atoi(argv[i + 2]) > 0)) {
                fprintf(stderr,
                        "chooser_sim: --trace CASE SEED: CASE must be 0..%d and SEED >= 1, got '%s' '%s'\n",
                        CHOOSER_TESTS - 1, i + 1 < argc ? argv[i + 1] : "", i + 2 < argc ? argv[i + 2] : "");
                return 2;
            }
            long picks[MTP_MAX_FUTURE];
            double got = simulate_chooser(&chooser_tests[atoi(argv[i + 1])].sc, 3,
                                          (uint64_t)atoi(argv[i + 2]), picks, stdout);
            printf("%.3f tokens per unit\n", got);
            return 0;
        } else {
            fprintf(stderr,
                    "chooser_sim: unknown argument '%s' (usage: chooser_sim [--seeds N] | --trace CASE SEED; "
                    "N, SEED >= 1, CASE 0..%d)\n",
                    argv[i], CHOOSER_TESTS - 1);
            return 2;
        }
    }
    printf(
        "| case | accept | K = 1 cost | catch-up | prompt every | busy | of best: mean / least | of plain: "
        "mean / least | seeds failed | picks K = 0 / 1 / 2 / 3 "
        "|\n|---|---:|---:|---|---:|---:|---|---|---:|---|\n");
    int failed_any = 0;
    for (int i = 0; i < CHOOSER_TESTS; i++) {
        const chooser_case *sc = &chooser_tests[i].sc;
        double sum_best = 0.0, sum_plain = 0.0, min_best = 1e9, min_plain = 1e9,
               picks_sum[MTP_MAX_FUTURE] = {0};
        int failed = 0;
        for (int s = 1; s <= seeds; s++) {
            long picks[MTP_MAX_FUTURE];
            double got, best, plain;
            char why[256];
            failed += !chooser_test_run(&chooser_tests[i], (uint64_t)s, &got, &best, &plain, picks, why,
                                        sizeof why);
            sum_best += got / best;
            sum_plain += got / plain;
            if (got / best < min_best) min_best = got / best;
            if (got / plain < min_plain) min_plain = got / plain;
            for (int k = 0; k <= 3; k++) picks_sum[k] += (double)picks[k];
        }
        failed_any |= failed > 0;
        printf(
            "| %d | %.2f | %.2f | %.2f + %.3f/row | %d | %.2f | %.3f / %.3f | %.3f / %.3f | %d | %.0f / %.0f "
            "/ %.0f / "
            "%.0f |\n",
            i, sc->accept, sc->cost[1], sc->catch_fixed, sc->catch_row, sc->prompt_every, sc->busy,
            sum_best / seeds, min_best, sum_plain / seeds, min_plain, failed, picks_sum[0] / seeds,
            picks_sum[1] / seeds, picks_sum[2] / seeds, picks_sum[3] / seeds);
    }
    return failed_any;
}
