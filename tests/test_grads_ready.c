// test_grads_ready.c: the contract data-parallel training relies on to
// reduce gradients while the backward runs (model_work.grads_ready,
// train/dist.c): during model_forward_backward every part is reported once,
// heads first (as the head-by-head backward finishes them), then the shared
// norm and lm_head, then the trunk blocks from the top down, then the
// embedding; and a part's gradients are final when reported: a copy taken at
// the report equals the gradients at the end of the call, bit for bit.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "libmtp.h"

typedef struct {
    model_work *w;
    int order[64], count;
    float *snapshot;  // the gradient arena as each part was reported (that part's ranges only)
} recorder;

// Copies the part's tensors as they are now.
static void on_part(void *user, int part) {
    recorder *r = user;
    const mtp_config *c = &r->w->cfg;
    int first, last;
    model_grads_part_tensors(c, part, &first, &last);
    for (int i = first; i <= last; i++) {
        named_tensor t;
        params_named(&r->w->grads, c, i, &t);
        size_t off = (size_t)(t.data - r->w->grads.memory);
        size_t n = (size_t)t.shape[0] * (size_t)(t.ndim == 2 ? t.shape[1] : 1);
        memcpy(r->snapshot + off, t.data, n * sizeof(float));
    }
    if (r->count < 64) r->order[r->count++] = part;
}

static void check_schedule(head_schedule schedule, int head_type, int head_order, const char *name) {
    mtp_config c;
    memset(&c, 0, sizeof c);
    config_set_defaults(&c);
    c.vocab_size = 23, c.dim = 32, c.n_head = 4, c.n_kv_head = 4, c.ffn_dim = 64;
    c.n_layer = 6, c.n_future = 3, c.max_seq_len = 16;
    c.head_type = head_type, c.head_order = head_order;
    mtp_model m;
    model_work w;
    CHECK(model_create(&m, &c) == 0 && model_work_alloc(&w, &m, 2, 10, schedule, 1) == 0, "%s: alloc: %s",
          name, mtp_last_error());
    params_init(&m.params, &c, 3);
    recorder r = {.w = &w, .snapshot = calloc(w.grads.total, sizeof(float))};
    w.grads_ready = on_part;
    w.grads_user = &r;
    int32_t rows[2 * 13];
    for (int i = 0; i < 26; i++) rows[i] = (int32_t)((i * 5 + 1) % 23);
    double losses[MTP_MAX_FUTURE];
    model_zero_grads(&w);
    CHECK(model_forward_backward(&w, rows, 2, 10, 1.0f, losses) == 0, "%s: %s", name, mtp_last_error());
    // heads 1..n (their blocks are layers L-n..L-1; linear head k is part L+k-1), in the order
    // their backward runs (chains: the head farthest from the trunk first), output, trunk
    // top-down, embedding
    int want[64], k = 0, trunk = config_trunk_layers(&c), n = c.n_future;
    int first_part = head_type == MTP_HEAD_LINEAR ? c.n_layer : trunk;
    for (int h = 0; h < n; h++)
        want[k++] = first_part + (head_order == MTP_HEAD_CAUSAL ? n - 1 - h : h);  // anticausal: 1 first
    want[k++] = MODEL_GRADS_OUTPUT;
    for (int l = trunk - 1; l >= 0; l--) want[k++] = l;
    want[k++] = MODEL_GRADS_EMBED;
    CHECK(r.count == k && memcmp(r.order, want, sizeof(int) * (size_t)k) == 0,
          "%s: %d parts reported in another order", name, r.count);
    CHECK(memcmp(r.snapshot, w.grads.memory, sizeof(float) * w.grads.total) == 0,
          "%s: a part's gradients changed after it was reported final", name);
    free(r.snapshot);
    model_work_free(&w);
    model_free(&m);
}

int main(void) {
    check_schedule(SCHEDULE_SEQUENTIAL, MTP_HEAD_TRANSFORMER, MTP_HEAD_PARALLEL, "sequential");
    check_schedule(SCHEDULE_NAIVE, MTP_HEAD_TRANSFORMER, MTP_HEAD_PARALLEL, "naive");
    check_schedule(SCHEDULE_SEQUENTIAL, MTP_HEAD_LINEAR, MTP_HEAD_PARALLEL, "sequential linear");
    check_schedule(SCHEDULE_NAIVE, MTP_HEAD_LINEAR, MTP_HEAD_PARALLEL, "naive linear");
    check_schedule(SCHEDULE_SEQUENTIAL, MTP_HEAD_TRANSFORMER, MTP_HEAD_CAUSAL, "sequential causal");
    check_schedule(SCHEDULE_NAIVE, MTP_HEAD_TRANSFORMER, MTP_HEAD_CAUSAL, "naive causal");
    check_schedule(SCHEDULE_SEQUENTIAL, MTP_HEAD_TRANSFORMER, MTP_HEAD_ANTICAUSAL, "sequential anticausal");
    check_schedule(SCHEDULE_NAIVE, MTP_HEAD_TRANSFORMER, MTP_HEAD_ANTICAUSAL, "naive anticausal");
    return test_finish("grads_ready");
}
