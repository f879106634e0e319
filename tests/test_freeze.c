// test_freeze.c: frozen parameters (model_work.freeze_trunk / freeze_output,
// the fine-tuning recipe that adds heads to a fixed model) get no gradients:
// after a forward-backward their gradients are exactly zero (never
// written), while every trainable tensor's gradient is bit for bit the one
// of the same step with nothing frozen (freezing removes work, it does not
// change what the heads learn from). With the output frozen too, the norm
// and lm_head stay zero; the heads' block gradients still match.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "libmtp.h"

static void run(const mtp_config *c, const mtp_model *m, int freeze_trunk, int freeze_output,
                const int32_t *rows, param_set *grads) {
    model_work w;
    CHECK(model_work_alloc(&w, m, 2, 12, SCHEDULE_SEQUENTIAL, 1) == 0, "work: %s", mtp_last_error());
    w.freeze_trunk = freeze_trunk;
    w.freeze_output = freeze_output;
    model_zero_grads(&w);
    double losses[MTP_MAX_FUTURE];
    CHECK(model_forward_backward(&w, rows, 2, 12, 0.5f, losses) == 0, "forward_backward: %s",
          mtp_last_error());
    params_alloc(grads, c);
    memcpy(grads->memory, w.grads.memory, sizeof(float) * w.grads.total);
    model_work_free(&w);
}

int main(void) {
    mtp_config c;
    memset(&c, 0, sizeof c);
    config_set_defaults(&c);
    c.vocab_size = 29, c.dim = 32, c.n_head = 4, c.n_kv_head = 2, c.ffn_dim = 64;
    c.n_layer = 5, c.n_future = 3, c.max_seq_len = 16;
    mtp_model m;
    CHECK(model_create(&m, &c) == 0, "model: %s", mtp_last_error());
    params_init(&m.params, &c, 7);
    int32_t rows[2 * 15];
    for (int i = 0; i < 30; i++) rows[i] = (int32_t)((i * 7 + 3) % 29);
    param_set all, frozen, frozen_out;
    run(&c, &m, 0, 0, rows, &all);
    run(&c, &m, 1, 0, rows, &frozen);
    run(&c, &m, 1, 1, rows, &frozen_out);
    int count = params_tensor_count(&c), head1 = config_trunk_layers(&c);
    int zeros = 0, equal = 0;
    for (int i = 0; i < count; i++) {
        named_tensor a, f, g;
        params_named(&all, &c, i, &a);
        params_named(&frozen, &c, i, &f);
        params_named(&frozen_out, &c, i, &g);
        size_t n = (size_t)a.shape[0] * (size_t)(a.ndim == 2 ? a.shape[1] : 1);
        int is_output = a.kind == P_NORM || a.kind == P_LM_HEAD;
        int is_frozen = a.kind == P_EMBED || (!is_output && a.layer <= head1);
        double any = 0;
        for (size_t k = 0; k < n; k++) any += fabs(a.data[k]);
        CHECK(any > 0, "%s: no gradient even unfrozen", a.name);
        if (is_frozen) {
            for (size_t k = 0; k < n; k++)
                if (f.data[k] != 0.0f || g.data[k] != 0.0f) {
                    CHECK(0, "%s is frozen but got a gradient", a.name);
                    break;
                }
            zeros++;
        } else if (is_output) {
            // the output learns from heads 2..n only when head 1 is frozen; frozen output: nothing
            for (size_t k = 0; k < n; k++)
                if (g.data[k] != 0.0f) {
                    CHECK(0, "%s is frozen (output) but got a gradient", a.name);
                    break;
                }
        } else {
            CHECK(memcmp(a.data, f.data, n * sizeof(float)) == 0 &&
                      memcmp(a.data, g.data, n * sizeof(float)) == 0,
                  "%s: a trainable head's gradient changed when others froze", a.name);
            equal++;
        }
    }
    CHECK(zeros == 1 + 9 * (head1 + 1) && equal == 9 * (c.n_future - 1),
          "%d frozen and %d trainable tensors checked", zeros, equal);
    params_free(&all);
    params_free(&frozen);
    params_free(&frozen_out);
    model_free(&m);
    printf("%d frozen tensors without gradients, %d trainable ones unchanged\n", zeros, equal);
    return test_finish("freeze");
}
