// step.c: zero grads, forward+backward each micro-batch, clip and update.
#include "train/step.h"

#include <math.h>
#include <string.h>

#include "core/error.h"

int train_step(mtp_model *m, model_work *w, adamw_state *opt, const optim_config *o, long step,
               const int32_t *const *micro, int K, int B, int T, step_result *out) {
    int n = m->cfg.n_future;
    memset(out, 0, sizeof *out);
    model_zero_grads(w);
    double head[MTP_MAX_FUTURE];
    for (int k = 0; k < K; k++) {
        if (model_forward_backward(w, micro[k], B, T, 1.0f / (float)K, head) != 0) return -1;
        for (int h = 0; h < n; h++) out->head_losses[h] += head[h] / K;
    }
    for (int h = 0; h < n; h++) out->loss += out->head_losses[h];
    out->grad_norm = optim_grad_norm(&w->grads);
    out->lr = optim_lr_at(o, step);
    // a diverged step must not reach the weights (or, through them, a checkpoint)
    if (!isfinite(out->loss) || !isfinite(out->grad_norm))
        return mtp_errorf(
            "step %ld diverged (loss %g, gradient norm %g): the update was not applied; lower --lr "
            "or --grad-clip and resume from the last checkpoint",
            step + 1, out->loss, out->grad_norm);
    adamw_update(opt, m, &w->grads, o, step, out->lr, out->grad_norm);
    return 0;
}
