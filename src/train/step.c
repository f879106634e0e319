// step.c: zero grads, forward+backward each micro-batch, clip and update.
#include "train/step.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/timer.h"

int train_step(mtp_model *m, model_work *w, adamw_state *opt, const optim_config *o, long step,
               const int32_t *const *micro, int K, int B, int T, dist_reducer *red, step_result *out) {
    int n = m->cfg.n_future, KP = K * dist_size();
    memset(out, 0, sizeof *out);
    model_zero_grads(w);
    double head[MTP_MAX_FUTURE];
    for (int k = 0; k < K; k++) {
        // the last micro-batch's backward finishes the gradients: its parts are
        // reduced across processes as they come
        if (red) dist_reducer_attach(red, k == K - 1);
        int rc = model_forward_backward(w, micro[k], B, T, 1.0f / (float)KP, head);
        if (red) dist_reducer_attach(red, 0);
        if (rc != 0) return -1;
        for (int h = 0; h < n; h++) out->head_losses[h] += head[h] / KP;
    }
    if (red && dist_reducer_wait(red, &out->comm_seconds) != 0) return -1;
    double sums[MTP_MAX_FUTURE + 1];
    memcpy(sums, out->head_losses, sizeof(double) * n);
    sums[n] = optim_grad_sum_squares(&w->grads, opt->lo, opt->hi);  // this process's shard
    if (dist_sum(sums, n + 1) != 0) return -1;
    memcpy(out->head_losses, sums, sizeof(double) * n);
    for (int h = 0; h < n; h++) out->loss += out->head_losses[h];
    out->grad_norm = sqrt(sums[n]);
    out->lr = optim_lr_at(o, step);
    // a diverged step must not reach the weights (or, through them, a checkpoint)
    if (!isfinite(out->loss) || !isfinite(out->grad_norm))
        return mtp_errorf(
            "step %ld diverged (loss %g, gradient norm %g): the update was not applied; lower --lr "
            "or --grad-clip, then resume from the last checkpoint saved (or train again if none was)",
            step + 1, out->loss, out->grad_norm);
    adamw_update(opt, m, &w->grads, o, step, out->lr, out->grad_norm);
    if (dist_size() > 1) {  // every process's updated shard to every process
        double t0 = mtp_now();
        if ((m->params.on_device ? dist_allgather_staged(red, m->params.memory, m->params.total)
                                 : dist_allgather(m->params.memory, m->params.total)) != 0)
            return -1;
        out->comm_seconds += mtp_now() - t0;
    }
    return 0;
}
