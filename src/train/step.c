// step.c: zero grads, forward+backward each micro-batch, clip and update.
#include "train/step.h"

#include <string.h>

#include "core/error.h"

int train_step(mtp_model *m, adamw_state *opt, const optim_config *o, long step, const int32_t *const *micro,
               int K, int B, int T, step_result *out) {
    int n = m->cfg.n_future;
    if (n > MTP_MAX_FUTURE) return mtp_errorf("--n-future %d exceeds the supported %d", n, MTP_MAX_FUTURE);
    memset(out, 0, sizeof *out);
    model_zero_grads(m);
    double head[MTP_MAX_FUTURE];
    for (int k = 0; k < K; k++) {
        if (model_forward_backward(m, micro[k], B, T, 1.0f / (float)K, head) != 0) return -1;
        for (int h = 0; h < n; h++) out->head_losses[h] += head[h] / K;
    }
    for (int h = 0; h < n; h++) out->loss += out->head_losses[h];
    out->grad_norm = optim_grad_norm(m);
    out->lr = optim_lr_at(o, step);
    adamw_update(opt, m, o, step, out->lr, out->grad_norm);
    return 0;
}
