// val_loss.h: each head's loss and top-1 accuracy on the validation windows
// of a data directory, the one evaluation both `mtp train --eval-every` and
// `mtp eval` run. Windows are read in order (window w = val tokens [w*T,
// w*T + T + n) of its shard); each window weighs the same: a batch's mean is
// weighted by its number of windows, and the last batch holds only the
// windows left. Head k's top-1 accuracy is the rate at which its argmax is
// token t+k: roughly the chance that its draft is accepted by speculative
// decoding.
#ifndef MTP_TRAIN_VAL_LOSS_H
#define MTP_TRAIN_VAL_LOSS_H

#include <stddef.h>

#include "core/progress.h"
#include "data/loader.h"
#include "model/model.h"

typedef struct {
    int n;           // heads
    size_t windows;  // scored
    size_t tokens;   // targets per head: windows * T
    double seconds;
    double loss[MTP_MAX_FUTURE], top1[MTP_MAX_FUTURE];
    double total;  // sum of the heads' losses
} val_result;

// Scores the first `windows` windows of L (opened for T and the model's n)
// in batches of up to B; w holds at least B x T.
int val_loss(model_work *w, const data_loader *L, size_t windows, int B, int T, const progress_sink *progress,
             val_result *r);
// The windows of `batches` batches of B, at most all of L's.
size_t val_windows(const data_loader *L, long batches, int B);

#endif
