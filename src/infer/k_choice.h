// k_choice.h: how many drafts to check per step (--speculative auto).
// Speculation pays when the tokens a forward yields outgrow what the forward
// costs, and both depend on the model, the machine and the text: a small
// model is compute-bound, so each extra row costs; a big one is
// memory-bound, so rows are nearly free; a head's drafts are accepted often
// on code and rarely on random text. The chooser measures as it goes: the
// time of a step with K drafts (the second fastest of its last few) and the
// rate at which draft j is accepted once drafts 1..j-1 were. It picks the K that
// maximizes expected tokens per step / time per step, and now and then tries
// a neighbouring K so its estimates stay current.
#ifndef MTP_INFER_K_CHOICE_H
#define MTP_INFER_K_CHOICE_H

#include "mtp.h"

#define K_CHOICE_RECENT 5  // step times per K kept: a low one of them resists a busy machine's outliers

typedef struct {
    int k_max;
    int current;  // the K picked last
    long steps;   // steps observed
    // a step's time with K drafts: the second fastest of the last few; 0 = never measured
    double seconds[MTP_MAX_FUTURE];
    double recent[MTP_MAX_FUTURE][K_CHOICE_RECENT];  // those last few step times, newest at recent_n % R
    int recent_n[MTP_MAX_FUTURE];
    int warm[MTP_MAX_FUTURE];          // the first (cold) step time of K was replaced by a later one
    long warm_seen[MTP_MAX_FUTURE];    // step times of K since that first one
    long last_seen[MTP_MAX_FUTURE];    // the step at which K was last timed
    double accept[MTP_MAX_FUTURE];     // running rate of draft j+1 accepted given drafts 1..j were
    int accept_seen[MTP_MAX_FUTURE];   // observations behind accept[j]
    long accept_last[MTP_MAX_FUTURE];  // the step of the latest
    // catching up's time against its head-rows, a fixed part per call plus a part per head-row:
    // decaying sums of a least-squares line (weight, rows, seconds, rows^2, rows x seconds)
    double catch_w, catch_x, catch_y, catch_xx, catch_xy;
    long catch_seen;      // catch-ups observed (the first, cold one is dropped when a second comes)
    long catch_rows_max;  // the largest catch-up observed, in head-rows
} k_chooser;

void k_chooser_init(k_chooser *c, int k_max);
// The K (0..k_max) for the next step. catch_rows[K] (NULL: all 0) is the
// work a step with K drafts must do first, in head-rows: drafting heads that
// were left out of recent steps catch up on those positions before they can
// draft. A choice and a try of another K both count it.
int k_chooser_pick(k_chooser *c, const long *catch_rows);
// The drafts a prefill should prepare heads for: every one before the
// opening steps, then those of the K in use or best, and of any K with more drafts
// whose time needs samples (trying it later would first run its heads over
// the whole prompt). At least 1 where k_max is.
int k_chooser_prefill_drafts(const k_chooser *c);
// A step with K drafts took `seconds`; `accepted` of its `checked` drafts
// (checked <= K: fewer near the end of generation) were accepted, in order.
// `seconds` leaves out the one-off work of catching up (drafting heads
// running the positions they skipped), which is reported apart, with its
// size in head-rows: it is paid per switch, not per step.
void k_chooser_observe(k_chooser *c, int K, double seconds, int checked, int accepted);
void k_chooser_observe_switch(k_chooser *c, double seconds, long head_rows);
// Expected tokens per step with K drafts under the current acceptance estimates.
double k_chooser_tokens_per_step(const k_chooser *c, int K);

#endif
