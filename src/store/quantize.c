// quantize.c: checkpoint_quantize_q8 (checkpoint.h): a float32 checkpoint to
// its int8 copy, streamed. The file holds, in the parameters' order, each
// matrix as I8 plus its "<name>_scale" F32 (rows, cols / 32) and every other
// tensor as F32, as write_q8_tensors in checkpoint.c lays out an int8 model
// in memory (docs/formats.md).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/finite.h"
#include "core/fsutil.h"
#include "core/safetensors.h"
#include "model/model.h"
#include "ops/ops.h"
#include "store/checkpoint.h"

#define PATH_CAP 4096

typedef struct {
    const mtp_config *cfg;
    st_file src;
    named_tensor *t;  // per entry: the checkpoint tensor it comes from
    int *is_scale;    // per entry: 1 for a matrix's scales
    float *scales;    // the last quantized matrix's scales, written by the next entry
    float *scratch;   // a tensor whose floats are not 4-byte aligned in the file, copied (or NULL)
    size_t scratch_floats;
    const checkpoint_file *tokenizer;
    const progress_sink *progress;
    uint64_t done, total;
} quant_job;

static int produce(void *ctx, int i, void *buf) {
    quant_job *q = ctx;
    const named_tensor *t = &q->t[i];
    size_t rows = (size_t)t->shape[0], cols = t->ndim == 2 ? (size_t)t->shape[1] : 1;
    if (q->is_scale[i]) {
        memcpy(buf, q->scales, rows * cols / OP_Q8_BLOCK * sizeof(float));
        return 0;
    }
    const st_tensor *x = st_find(&q->src, t->name);  // present, F32, shaped: checked before writing
    const float *w = NULL;
    if (st_view_f32(&q->src, t->name, t->shape, t->ndim, &w) != 0) return -1;
    if (!w) {  // not 4-byte aligned in the file (a header of odd length): read through a copy
        if (q->scratch_floats < rows * cols) {
            free(q->scratch);
            q->scratch_floats = 0;
            if (!(q->scratch = mtp_malloc(rows * cols * sizeof(float), "a misaligned tensor's copy")))
                return -1;
            q->scratch_floats = rows * cols;
        }
        if (st_read_f32(&q->src, t->name, t->shape, t->ndim, q->scratch) != 0) return -1;
        w = q->scratch;
    }
    // int8 with a scale per block has no NaN or infinity (nor would the products' sums stay exact)
    const size_t k = first_nonfinite(w, rows * cols);
    if (k < rows * cols)
        return mtp_errorf(
            "%s: tensor '%s' holds %s at index %zu: a model with non-finite weights cannot be quantized "
            "(retrain or repair the checkpoint)",
            q->src.path, t->name, isnan(w[k]) ? "NaN" : "an infinity", k);
    if (model_kind_is_matrix(t->kind))
        op_quantize_q8(buf, q->scales, w, (int)rows, (int)cols);
    else
        memcpy(buf, w, rows * cols * sizeof(float));
    if (w != q->scratch) st_view_done(&q->src, w, x->nbytes);
    q->done += rows * cols * sizeof(float);
    progress_tell(q->progress, q->done, q->total);
    return 0;
}

static int write_files(const char *dir, void *ctx) {
    quant_job *q = ctx;
    const mtp_config *c = q->cfg;
    int count = params_tensor_count(c), n = 0, rc = 0;
    st_entry *e = mtp_calloc((size_t)count * 2, sizeof *e, "safetensors entries");
    char(*names)[128] = mtp_calloc((size_t)count * 2, sizeof *names, "tensor names");
    q->t = mtp_calloc((size_t)count * 2, sizeof *q->t, "tensors");
    q->is_scale = mtp_calloc((size_t)count * 2, sizeof *q->is_scale, "tensor kinds");
    size_t largest = 0;
    if (!e || !names || !q->t || !q->is_scale) rc = -1;
    for (int i = 0; i < count && rc == 0; i++) {
        named_tensor t;
        params_named(NULL, c, i, &t);
        const st_tensor *x = st_find(&q->src, t.name);
        if (!x || x->dtype != ST_F32)
            rc = mtp_errorf("%s: tensor '%s' is %s; quantize a float32 checkpoint", q->src.path, t.name,
                            x ? st_dtype_name(x->dtype) : "missing");
        else if (x->ndim != t.ndim || x->shape[0] != t.shape[0] || (t.ndim == 2 && x->shape[1] != t.shape[1]))
            rc = mtp_errorf("%s: tensor '%s' does not have the shape config.json gives", q->src.path, t.name);
        if (rc) break;
        size_t elems = (size_t)t.shape[0] * (t.ndim == 2 ? (size_t)t.shape[1] : 1);
        q->total += elems * sizeof(float);
        q->t[n] = t;
        snprintf(names[n], sizeof names[n], "%s", t.name);
        e[n] = (st_entry){.name = names[n],
                          .ndim = t.ndim,
                          .shape = {t.shape[0], t.shape[1]},
                          .dtype = model_kind_is_matrix(t.kind) ? ST_I8 : ST_F32};
        n++;
        if (!model_kind_is_matrix(t.kind)) continue;
        if (elems > largest) largest = elems;
        q->t[n] = t;
        q->is_scale[n] = 1;
        snprintf(names[n], sizeof names[n], "%s_scale", t.name);
        e[n] = (st_entry){.name = names[n], .ndim = 2, .shape = {t.shape[0], t.shape[1] / OP_Q8_BLOCK}};
        n++;
    }
    if (rc == 0 && !(q->scales = mtp_malloc(largest / OP_Q8_BLOCK * sizeof(float) + 1, "scales"))) rc = -1;
    char path[PATH_CAP], *config = rc ? NULL : checkpoint_config_json(c);
    if (rc == 0 && !config) rc = mtp_errorf("out of memory writing config.json");
    if (rc == 0) rc = fs_join(path, sizeof path, dir, "config.json");
    if (rc == 0) rc = fs_write_all(path, config, strlen(config));
    const char *meta[] = {"format", "pt", QUANT_KEY, QUANT_Q8};
    if (rc == 0) rc = fs_join(path, sizeof path, dir, "model.safetensors");
    if (rc == 0) rc = st_write_streamed(path, e, n, meta, 2, produce, q);
    if (rc == 0) rc = checkpoint_write_file(dir, q->tokenizer);
    free(config);
    free(e);
    free(names);
    return rc;
}

int checkpoint_quantize_q8(const char *src_dir, const mtp_config *cfg, const char *run_dir, long step,
                           const checkpoint_file *tokenizer, const progress_sink *progress) {
    char why[128], path[PATH_CAP];
    if (!model_matrix_rows_fit_q8(cfg, why, sizeof why))
        return mtp_errorf("%s: cannot quantize to q8: %s (rows are quantized in blocks of %d)", src_dir, why,
                          OP_Q8_BLOCK);
    quant_job q = {.cfg = cfg, .tokenizer = tokenizer, .progress = progress};
    if (fs_join(path, sizeof path, src_dir, "model.safetensors") != 0 || st_open(path, &q.src) != 0)
        return -1;
    const st_tensor *head = st_find(&q.src, "lm_head.weight");
    if (head && head->dtype == ST_I8) {
        st_close(&q.src);
        return mtp_errorf("%s is already int8 (q8): quantize its float32 source", src_dir);
    }
    int rc = checkpoint_write_dir(run_dir, step, write_files, &q);
    st_close(&q.src);
    free(q.t);
    free(q.is_scale);
    free(q.scales);
    free(q.scratch);
    return rc;
}
