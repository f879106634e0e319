// k_choice.c: see k_choice.h.
#include "infer/k_choice.h"

#include <string.h>

// Weight of the newest observation in the acceptance rates: recent text
// matters more (acceptance changes between prose, code and boilerplate).
#define NEWEST 0.1
// Now and then a step tries the runner-up K: at most one step in
// EXPLORE_MIN, at least one in EXPLORE_MAX, about EXPLORE_BUDGET of the time lost.
#define EXPLORE_BUDGET 0.01
#define EXPLORE_MIN 4
#define EXPLORE_MAX 4096
// The first step time of each K is often cold (caches, page faults: 2-4x
// its later ones), and one such sample can make a K look far worse, or the
// plain baseline far slower, than it is. It stands only until a second one
// replaces it: a K timed only cold is tried again if its rate, so measured,
// is at least WORTH_COLD of the best's. One warm time can be a busy moment's
// (1.5x: it made K = 3 look slower than K = 1, and with K = 3's heads falling
// further behind every step, it was never tried again): a K is settled once
// SETTLED warm times give an estimate, and until then tried again if its rate
// is at least WORTH_SETTLING of the best's. A K never timed, or timed long ago,
// is tried if its estimated rate is at least WORTH_SAMPLING of the best's.
// Those tries come every EXPLORE_MIN steps (a K timed only cold: the next
// step), when they need a catch-up of at most TRY_CATCH_STEPS steps of the
// best K (heads a whole prompt behind wait for the next prefill; on a small
// model a catch-up's fixed part alone is 1-1.5 steps).
#define WORTH_COLD 0.3
#define TRY_CATCH_STEPS 2.0
#define SETTLED 3
#define WORTH_SETTLING 0.75
#define WORTH_SAMPLING 0.5
// Steps of the opening (k_chooser_pick), before any choice.
#define OPENING 3
// A K not timed for STALE_STEPS steps (or longer where its try costs more
// than EXPLORE_BUDGET of that time) is timed again the same way, and any K
// timed after such a pause has its old times dropped: the machine's speed
// drifts (other work, clocks, the memory's mood), and a fresh estimate
// against a stale one picks the wrong K (a K = 2 timed now looked faster than
// a K = 1 timed 200 steps before, when the machine was slower).
#define STALE_STEPS 128
// Before any measurement: a draft is accepted half of the time, and each
// drafted row adds 15% to a step (a model far out of cache).
#define PRIOR_ACCEPT 0.5
// The prior counts as this many observations in an acceptance rate: a single
// rejection of a good head's first draft (one in ten at 90%) would otherwise
// set its rate to 0, and drafts that bring no tokens are never tried again.
#define PRIOR_WEIGHT 2
// Drafts are used only when their estimated tokens/s beat plain's by this much.
#define MARGIN 0.03
#define PRIOR_ROW_COST 0.15
// A choice that needs catching up is expected to hold for at least this many
// steps, or as long as the heads it needs were left out (a run of plain steps
// that long suggests choices last that long), over which its cost is spread.
#define HORIZON 16
// Tries need catch-ups of at most this many times the largest one measured
// (try_catch_ok).
#define CATCH_REACH 4.0

void k_chooser_init(k_chooser *c, int k_max) {
    memset(c, 0, sizeof *c);
    c->k_max = k_max < 0 ? 0 : k_max;
    c->current = c->k_max > 0 ? 1 : 0;
}

// Acceptance of draft j (0-based), measured or borrowed from the draft before.
// A rate not observed for STALE_STEPS steps while an earlier draft's was is
// borrowed from that one too: texts change, and a head's rate measured while
// the text was unpredictable kept K at 1 for good once it was predictable (a
// try of K = 2 needs a catch-up that grows as fast as the steps since).
static double accept_rate(const k_chooser *c, int j) {
    for (int i = j; i >= 0; i--)
        if (c->accept_seen[i] && (i == 0 || c->accept_last[i] + STALE_STEPS >= c->accept_last[i - 1]))
            return c->accept[i];
    return PRIOR_ACCEPT;
}

double k_chooser_tokens_per_step(const k_chooser *c, int K) {
    double tokens = 1.0, all = 1.0;
    for (int j = 0; j < K; j++) {
        all *= accept_rate(c, j);
        tokens += all;
    }
    return tokens;
}

// Whether K's step time may stand for others' (interpolated from it): a cold
// first time, 2-4x the later ones, would make every K beside it look slow.
static int timed_warm(const k_chooser *c, int K) {
    return c->seconds[K] > 0.0 && c->warm[K];
}

// Whether K has warm-timed K on both sides (step_seconds interpolates it).
static int between_warm(const k_chooser *c, int K) {
    int lo = 0, hi = 0;
    for (int k = 0; k < K; k++) lo |= timed_warm(c, k);
    for (int k = K + 1; k <= c->k_max; k++) hi |= timed_warm(c, k);
    return lo && hi;
}

// Whether K's time rests on SETTLED warm times or more; plain steps never
// count (a step with drafts adds the drafting heads and the verification's
// fixed costs to plain's: a line through plain's time and K = 1's
// underestimated K = 3 by a third on a small model, 2.86 for 4.38 plain steps).
static int settled(const k_chooser *c, int K) {
    return K > 0 && c->seconds[K] > 0.0 && c->warm_seen[K] >= SETTLED;
}

// K's time on the line through settled Ks' times: between the nearest on
// either side, or extrapolated from the two nearest on one side (the slope
// at least 0); -1 where there are none such.
static double settled_line(const k_chooser *c, int K) {
    int lo[2] = {-1, -1}, hi[2] = {-1, -1};
    for (int k = K - 1; k >= 0 && lo[1] < 0; k--)
        if (settled(c, k)) lo[lo[0] < 0 ? 0 : 1] = k;
    for (int k = K + 1; k <= c->k_max && hi[1] < 0; k++)
        if (settled(c, k)) hi[hi[0] < 0 ? 0 : 1] = k;
    int a, b;  // the two Ks the line goes through
    if (lo[0] >= 0 && hi[0] >= 0)
        a = lo[0], b = hi[0];
    else if (lo[1] >= 0)
        a = lo[1], b = lo[0];
    else if (hi[1] >= 0)
        a = hi[0], b = hi[1];
    else
        return -1.0;
    double slope = (c->seconds[b] - c->seconds[a]) / (double)(b - a);
    if (slope < 0.0) slope = 0.0;
    return c->seconds[a] + slope * (K - a);
}

// Time of a step with K drafts: measured, or interpolated from the warm
// measured ones (linear in K), or the prior. A time measured fewer than
// SETTLED times warm counts for no more than the settled Ks' line says: one
// busy moment's step (1.6x) made K = 3 look slower than K = 2 on a big model,
// too slow to be tried again, and its heads' catch-up, growing every step,
// soon ruled it out for good (in the simulation of a text turning
// predictable: K = 2 for 400 steps where K = 3 was 18% faster).
static double step_seconds(const k_chooser *c, int K) {
    if (c->seconds[K] > 0.0) {
        const double line = K > 0 && c->warm_seen[K] < SETTLED ? settled_line(c, K) : -1.0;
        return line > 0.0 && line < c->seconds[K] ? line : c->seconds[K];
    }
    int lo = -1, hi = -1;
    for (int k = K - 1; k >= 0 && lo < 0; k--)
        if (timed_warm(c, k)) lo = k;
    for (int k = K + 1; k <= c->k_max && hi < 0; k++)
        if (timed_warm(c, k)) hi = k;
    if (lo >= 0 && hi >= 0)
        return c->seconds[lo] + (c->seconds[hi] - c->seconds[lo]) * (K - lo) / (double)(hi - lo);
    if (lo >= 0)  // extrapolate the slope of the two nearest measured below
        for (int k = lo - 1; k >= 0; k--)
            if (timed_warm(c, k)) {
                double slope = (c->seconds[lo] - c->seconds[k]) / (double)(lo - k);
                return c->seconds[lo] + (slope > 0.0 ? slope : 0.0) * (K - lo);
            }
    int m = lo >= 0 ? lo : hi;
    if (m < 0) return 1.0 + PRIOR_ROW_COST * K;
    // one measurement: scale it by the prior's per-row cost
    return c->seconds[m] * (1.0 + PRIOR_ROW_COST * K) / (1.0 + PRIOR_ROW_COST * m);
}

// Seconds of catching up `head_rows` rows: the fitted line (a fixed part per
// call, a part per head-row), or the prior's per-row cost before any.
static double catch_up_seconds(const k_chooser *c, long head_rows) {
    if (head_rows <= 0) return 0.0;
    double x = (double)head_rows;
    if (c->catch_w <= 0.0) return PRIOR_ROW_COST * step_seconds(c, 0) * x;
    double mx = c->catch_x / c->catch_w, my = c->catch_y / c->catch_w;
    double var = c->catch_xx / c->catch_w - mx * mx;
    // one size seen so far: no larger one costs less, and a catch-up is mostly its fixed part
    // (the quick start's model: 95-150 us for 6 to 18 head-rows), so larger ones are taken at
    // that cost until a second size gives the line (in proportion, a first catch-up of 6 rows
    // made a try of K = 2 a few positions later look dearer than it could pay: never tried);
    // smaller ones in proportion. How much larger a try's may be: try_catch_ok.
    if (var <= 1e-9 * mx * mx) return x >= mx ? my : my / mx * x;
    double b = (c->catch_xy / c->catch_w - mx * my) / var, a = my - b * mx;
    if (b < 0.0) b = 0.0;
    if (a < 0.0) a = 0.0;
    return a + b * x;
}

// Tokens/s of each K, a catch-up it needs (catch_s[K]) spread over the steps it
// is expected to hold. Returns the best K: drafts must beat plain by a margin,
// and bring tokens: a tie (drafts never accepted, a speculative step timed fast
// in the noise) would otherwise flip back and forth, and every switch to
// drafts costs a catch-up.
static int estimate_rates(const k_chooser *c, const long *catch_rows, double *rate, double *catch_s) {
    int best = 0;
    for (int K = 0; K <= c->k_max; K++) {
        long rows = catch_rows && K > 0 ? catch_rows[K] / K : 0;  // positions behind
        catch_s[K] = catch_rows ? catch_up_seconds(c, catch_rows[K]) : 0.0;
        rate[K] = k_chooser_tokens_per_step(c, K) /
                  (step_seconds(c, K) + catch_s[K] / (double)(rows > HORIZON ? rows : HORIZON));
        if (rate[K] > rate[best]) best = K;
    }
    if (best > 0 &&
        (rate[best] < (1.0 + MARGIN) * rate[0] || k_chooser_tokens_per_step(c, best) < 1.0 + MARGIN))
        best = 0;
    return best;
}

// K was timed only once, cold.
static int timed_cold(const k_chooser *c, int K) {
    return c->recent_n[K] > 0 && !c->warm[K];
}

// Whether K's time needs (more) samples, and may be worth them (see
// WORTH_COLD); drafts must be expected to bring tokens at all (after
// rejections, acceptance 0, no step time could make it win: timing it only
// costs).
static int worth_timing(const k_chooser *c, int K, int best, const double *rate, const double *catch_s) {
    if (K == best || (K > 0 && k_chooser_tokens_per_step(c, K) < 1.0 + MARGIN)) return 0;
    const double r = rate[K] / rate[best];
    // never timed: sampled, unless warm times on both sides give its time (the
    // interpolation stands: a try of K = 2 between them on the big int8 model,
    // its acceptance near 0, cost 1.7 steps of catch-up for what they said)
    if (c->recent_n[K] == 0) return r >= WORTH_SAMPLING && !between_warm(c, K);
    if (timed_cold(c, K)) return r >= WORTH_COLD;
    // stale times are renewed, but a K far behind no more often than a try
    // of it, which loses (1 - r) of its own step, fits EXPLORE_BUDGET
    const double loss = ((1.0 - r) * step_seconds(c, K) + catch_s[K]) / step_seconds(c, best);
    const long since = c->steps - c->last_seen[K];
    if (since > STALE_STEPS && (double)since * EXPLORE_BUDGET >= loss) return r >= WORTH_SAMPLING;
    return c->warm_seen[K] < SETTLED && r >= WORTH_SETTLING;
}

// Whether a try's catch-up of `rows` head-rows stays within TRY_CATCH_STEPS
// steps of the best K and within CATCH_REACH times the largest catch-up
// measured (any, before the first): a catch-up's cost per head-row is known
// only from sizes seen (on a small model 0.15 of a step; with one size seen,
// 9 head-rows, a try after 223 positions, costed at that size, took 34 steps).
static int try_catch_ok(const k_chooser *c, double seconds, long rows, int best) {
    return seconds <= TRY_CATCH_STEPS * step_seconds(c, best) &&
           (rows <= 0 || c->catch_rows_max == 0 || (double)rows <= CATCH_REACH * (double)c->catch_rows_max);
}

// Whether a try of K may pay its catch-up now: a K timed only cold always
// (its heads lag a step at most), any K whose heads lag a position or two
// (little more than a catch-up's fixed part), and otherwise only as often as
// keeps the try's loss, catch-up included, within EXPLORE_BUDGET. On a big
// model a catch-up is mostly its rows (the int8 model of bench/decode_big.sh:
// 0.2 of a step per call, 0.005 a head-row): a try of K = 3 whose heads had
// fallen 100 positions behind (300 head-rows) cost 1.7 steps, for a K its
// acceptance had already ruled out.
static int catch_up_affordable(const k_chooser *c, int K, int best, const double *rate,
                               const double *catch_s) {
    if (catch_s[K] <= 0.0 || timed_cold(c, K) || catch_s[K] <= 2.0 * catch_up_seconds(c, K)) return 1;
    const double t_best = step_seconds(c, best);
    const double loss = ((1.0 - rate[K] / rate[best]) * step_seconds(c, K) + catch_s[K]) / t_best;
    return (double)(c->steps - c->last_seen[K]) * EXPLORE_BUDGET >= loss;
}

int k_chooser_pick(k_chooser *c, const long *catch_rows) {
    if (c->k_max == 0) return 0;
    // the opening times both ends: two plain steps (the very first step of
    // all is the coldest), then one with every draft (the prefill ran every
    // head, k_chooser_prefill_drafts, so they need two positions' catch-up),
    // timed again at once if it may be worth it (WORTH_COLD); the K between
    // are interpolated until tried
    if (c->steps < OPENING) return c->current = c->steps < 2 ? 0 : c->k_max;
    // the best, and the runner-up, whose estimate only stays honest if it is
    // tried now and then: often when it is close. The runner-up is the better
    // of the best's neighbours: with plain steps best, K = 1, the cheapest try
    // that tells whether drafts are accepted again (the second-best of all was
    // K = 2 there once K = 1 had been timed cold, and its catch-up, two
    // head-rows a position, outgrew the budget as fast as the steps since:
    // never tried, and a text that turned predictable never noticed)
    double rate[MTP_MAX_FUTURE] = {0}, catch_s[MTP_MAX_FUTURE] = {0};
    int best = estimate_rates(c, catch_rows, rate, catch_s), second = best > 0 ? best - 1 : -1;
    if (best < c->k_max && (second < 0 || rate[best + 1] > rate[second])) second = best + 1;
    // a K whose time needs samples, whose try needs no more catching up than
    // TRY_CATCH_STEPS steps (not heads that lag a whole prompt behind: the
    // next prefill runs them, k_chooser_prefill_drafts)
    int cold = -1;
    for (int K = 0; K <= c->k_max; K++)
        if (worth_timing(c, K, best, rate, catch_s) &&
            try_catch_ok(c, catch_s[K], catch_rows ? catch_rows[K] : 0, best) &&
            catch_up_affordable(c, K, best, rate, catch_s)) {
            if (timed_cold(c, K)) {  // a K timed only cold goes first
                cold = K;
                break;
            }
            if (cold < 0) cold = K;
        }
    if (cold >= 0) {
        // timed only cold: again right away, while its heads lag by a step at most
        if (c->steps % EXPLORE_MIN == 0 || timed_cold(c, cold)) best = cold;
    } else if (second >= 0 && try_catch_ok(c, catch_s[second], catch_rows ? catch_rows[second] : 0, best)) {
        // a try loses (1 - its rate / the best's) of its own time, in steps of
        // the best K, plus its catch-up now and the best's on the way back (a
        // try of fewer drafts leaves heads behind by a row): try it often
        // enough to follow a changing text, seldom enough to lose about
        // EXPLORE_BUDGET of the time. Counted from its last step: a catch-up
        // grows with the steps since, and so does `every`, so that a step
        // count tested as a multiple of it came at random moments (in the
        // simulation of tests/chooser_sim.h, once after its heads had fallen
        // 219 positions behind: a try of 30 steps' cost)
        double t_best = step_seconds(c, best);
        double loss =
            (1.0 - rate[second] / rate[best]) * step_seconds(c, second) / t_best + catch_s[second] / t_best;
        // (the way back reruns all `best` drafting heads over the positions the try advanced)
        if (second < best)
            loss += catch_up_seconds(c, (long)(k_chooser_tokens_per_step(c, second) * best + 0.5)) / t_best;
        long every = (long)(loss / EXPLORE_BUDGET);
        if (every < EXPLORE_MIN) every = EXPLORE_MIN;
        if (every > EXPLORE_MAX) every = EXPLORE_MAX;
        // and at the latest while its catch-up is still within reach of those measured (try_catch_ok):
        // with drafts rejected for a while, a text that turned predictable went unnoticed for good.
        // (Not before TRY_CATCH_STEPS too: on a small model with costly catch-ups that tried K = 1
        // every few steps.)
        const long rows = catch_rows ? catch_rows[second] : 0;
        const int last_chance = rows > 0 && c->catch_rows_max > 0 &&
                                (double)(rows + 2 * second) > CATCH_REACH * (double)c->catch_rows_max;
        if (c->steps - c->last_seen[second] >= every || last_chance) best = second;
    }
    return c->current = best;
}

int k_chooser_prefill_drafts(const k_chooser *c) {
    // before the opening's steps every head is to run: the prefill is where heads catch up cheapest
    if (c->steps < OPENING || c->k_max == 0) return c->k_max;
    int want = c->current > 1 ? c->current : 1;
    double rate[MTP_MAX_FUTURE] = {0}, catch_s[MTP_MAX_FUTURE] = {0};
    int best = estimate_rates(c, NULL, rate, catch_s);
    if (best > want) want = best;
    for (int K = want + 1; K <= c->k_max; K++)
        if (worth_timing(c, K, best, rate, catch_s)) want = K;
    return want;
}

void k_chooser_observe(k_chooser *c, int K, double seconds, int checked, int accepted) {
    if (K < 0 || K > c->k_max) return;
    c->steps++;
    if (c->recent_n[K] == 1 && !c->warm[K]) {  // the second replaces the cold first
        c->recent_n[K] = 0;
        c->warm[K] = 1;
    } else if (c->warm[K] && c->steps - c->last_seen[K] > STALE_STEPS) {  // stale times go
        // and the K is to settle again: its estimate rests on the new times alone (one busy
        // step after a pause set K = 3's time at 1.67x for good, counted as settled by the
        // times before the pause)
        c->recent_n[K] = 0;
        if (K > 0) c->warm_seen[K] = 0;  // (plain steps, the baseline, are not tried to settle)
    }
    c->last_seen[K] = c->steps;
    if (c->warm[K]) c->warm_seen[K]++;
    c->recent[K][c->recent_n[K]++ % K_CHOICE_RECENT] = seconds;
    int n = c->recent_n[K] < K_CHOICE_RECENT ? c->recent_n[K] : K_CHOICE_RECENT;
    double v[K_CHOICE_RECENT];
    memcpy(v, c->recent[K], sizeof(double) * (size_t)n);
    for (int i = 1; i < n; i++)  // insertion sort of at most 5
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    // the second fastest of the last few: a busy machine only ever slows a
    // step, and a median of 5 still moved when 3 of them came in a busy
    // moment (one in ten steps 1.6x slower made K = 3 look worse than K = 2
    // for 80 steps); one step that ran fast by chance does not decide either
    c->seconds[K] = v[n >= 3 ? 1 : 0];
    // drafts 1..accepted were accepted; draft accepted+1 (if checked) was not
    for (int j = 0; j < checked && j <= accepted; j++) {
        double hit = j < accepted ? 1.0 : 0.0;
        // the mean of the first observations and PRIOR_WEIGHT of the prior
        // (the draft before's rate, if measured), a running average after
        double w = 1.0 / (c->accept_seen[j] + 1 + PRIOR_WEIGHT);
        if (w < NEWEST) w = NEWEST;
        c->accept[j] = (1.0 - w) * accept_rate(c, j) + w * hit;
        c->accept_seen[j]++;
        c->accept_last[j] = c->steps;
    }
}

void k_chooser_observe_switch(k_chooser *c, double seconds, long head_rows) {
    if (head_rows < 1) return;
    if (head_rows > c->catch_rows_max) c->catch_rows_max = head_rows;
    // the first catch-up is cold like a first step (6 head-rows in 212 us, later 95-148): with
    // a second one beside it, it made the line's slope 7x the true one and ruled out a try
    if (c->catch_seen++ == 1) c->catch_w = c->catch_x = c->catch_y = c->catch_xx = c->catch_xy = 0.0;
    double x = (double)head_rows, keep = 1.0 - NEWEST;  // older catch-ups fade
    c->catch_w = keep * c->catch_w + 1.0;
    c->catch_x = keep * c->catch_x + x;
    c->catch_y = keep * c->catch_y + seconds;
    c->catch_xx = keep * c->catch_xx + x * x;
    c->catch_xy = keep * c->catch_xy + x * seconds;
}
