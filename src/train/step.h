// step.h: one optimizer step over K micro-batches, the unit both `mtp
// train` and the test tools run, so they cannot drift apart.
#ifndef MTP_TRAIN_STEP_H
#define MTP_TRAIN_STEP_H

#include <stdint.h>

#include "model/model.h"
#include "train/dist.h"
#include "train/optimizer.h"

typedef struct {
    double loss;                         // sum of head losses, mean over micro-batches
    double head_losses[MTP_MAX_FUTURE];  // per head, mean over micro-batches
    double grad_norm;                    // before clipping
    double lr;
    double comm_seconds;  // waiting for other processes' gradients and weights (0 alone)
} step_result;

// w: m's work state with gradients. micro[k] (B, T+n) for k < K: this
// process's micro-batches. With P processes (train/dist.h; red is the
// reducer of w, NULL alone) each micro-batch's loss is scaled by 1/(K*P), so
// the gradient is the mean over the step's K*P micro-batches, as one process
// taking all of them would compute it; the losses and the gradient norm are
// over all of them too. step is 0-based.
int train_step(mtp_model *m, model_work *w, adamw_state *opt, const optim_config *o, long step,
               const int32_t *const *micro, int K, int B, int T, dist_reducer *red, step_result *out);

#endif
