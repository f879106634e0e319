// val_loss.c: see val_loss.h.
#include "train/val_loss.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timer.h"

size_t val_windows(const data_loader *L, long batches, int B) {
    size_t all = loader_num_windows(L);
    if (batches > 0 && (size_t)batches * (size_t)B < all) return (size_t)batches * (size_t)B;
    return all;
}

int val_loss(model_work *w, const data_loader *L, size_t windows, int B, int T, const progress_sink *progress,
             val_result *r) {
    int n = w->cfg.n_future, row_len = T + n;
    memset(r, 0, sizeof *r);
    if (windows == 0) return mtp_errorf("no validation windows to score");
    int32_t *rows = mtp_malloc(sizeof(int32_t) * (size_t)B * (size_t)row_len, "eval rows");
    if (!rows) return -1;
    double sum_loss[MTP_MAX_FUTURE] = {0}, sum_top1[MTP_MAX_FUTURE] = {0};
    double head_loss[MTP_MAX_FUTURE], head_top1[MTP_MAX_FUTURE];
    double t0 = mtp_now();
    for (size_t start = 0; start < windows; start += (size_t)B) {
        // the tail batch holds only the windows left: loader_window_batch
        // wraps around, which would count the first windows twice
        int b = windows - start < (size_t)B ? (int)(windows - start) : B;
        loader_window_batch(L, start, b, rows);
        if (model_forward_loss(w, rows, b, T, head_loss, head_top1) != 0) {
            free(rows);
            return -1;
        }
        for (int k = 0; k < n; k++) {
            sum_loss[k] += head_loss[k] * b;
            sum_top1[k] += head_top1[k] * b;
        }
        progress_tell(progress, (start + (size_t)b) * (size_t)T, windows * (size_t)T);
    }
    free(rows);
    r->n = n;
    r->windows = windows;
    r->tokens = windows * (size_t)T;
    r->seconds = mtp_now() - t0;
    for (int k = 0; k < n; k++) {
        r->loss[k] = sum_loss[k] / (double)windows;
        r->top1[k] = sum_top1[k] / (double)windows;
        r->total += r->loss[k];
    }
    return 0;
}
