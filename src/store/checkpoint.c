// checkpoint.c: saving and loading checkpoint directories.
#define _POSIX_C_SOURCE 200809L
#include "store/checkpoint.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/finite.h"
#include "core/fsutil.h"
#include "core/jsonl.h"
#include "core/safetensors.h"
#include "ops/ops.h"

#define PATH_CAP 4096

// The double of the fewest significant digits (6 to 9) that rounds back to x.
static double shortest_decimal(float x) {
    char num[32];
    for (int digits = 6; digits < 9; digits++) {
        snprintf(num, sizeof num, "%.*g", digits, (double)x);
        if ((float)strtod(num, NULL) == x) return strtod(num, NULL);
    }
    snprintf(num, sizeof num, "%.9g", (double)x);
    return strtod(num, NULL);
}

char *checkpoint_config_json(const mtp_config *c) {
    cJSON *j = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(j, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("LlamaForCausalLM"));
    cJSON_AddStringToObject(j, "model_type", "llama");
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(j, "hidden_size", c->dim);
    cJSON_AddNumberToObject(j, "intermediate_size", c->ffn_dim);
    // the blocks a Llama loader sees as model.layers.*: trunk + head 1, or every block with linear heads
    cJSON_AddNumberToObject(j, "num_hidden_layers",
                            c->head_type == MTP_HEAD_LINEAR ? c->n_layer : c->n_layer - c->n_future + 1);
    cJSON_AddNumberToObject(j, "num_attention_heads", c->n_head);
    cJSON_AddNumberToObject(j, "num_key_value_heads", c->n_kv_head);
    cJSON_AddNumberToObject(j, "max_position_embeddings", c->max_seq_len);
    // float fields printed via their shortest decimal form that reads back as the same float,
    // so 1e-5 reads "1e-05" (7 digits were too few for half of all floats: bits changed on save)
    cJSON_AddNumberToObject(j, "rms_norm_eps", shortest_decimal(c->norm_eps));
    cJSON_AddNumberToObject(j, "rope_theta", shortest_decimal(c->rope_theta));
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    cJSON_AddFalseToObject(j, "tie_word_embeddings");
    cJSON_AddFalseToObject(j, "attention_bias");
    cJSON_AddStringToObject(j, "torch_dtype", "float32");
    cJSON_AddNumberToObject(j, "n_future_tokens", c->n_future);
    cJSON_AddStringToObject(j, "head_type", config_head_type_name(c->head_type));
    cJSON_AddStringToObject(j, "head_order", config_head_order_name(c->head_order));
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}

int checkpoint_write_tensors(const char *path, const param_set *const *sets, const char *const *prefixes,
                             int nsets, const mtp_config *cfg) {
    int count = params_tensor_count(cfg), total = count * nsets;
    st_entry *e = mtp_calloc((size_t)total, sizeof *e, "safetensors entries");
    char(*names)[128] = mtp_calloc((size_t)total, sizeof *names, "tensor names");
    if (!e || !names) {
        free(e);
        free(names);
        return -1;
    }
    for (int s = 0; s < nsets; s++)
        for (int i = 0; i < count; i++) {
            named_tensor t;
            params_named(sets[s], cfg, i, &t);
            int k = s * count + i;
            snprintf(names[k], sizeof names[k], "%s%s", prefixes[s], t.name);
            e[k].name = names[k];
            e[k].ndim = t.ndim;
            e[k].shape[0] = t.shape[0];
            e[k].shape[1] = t.shape[1];
            e[k].data = t.data;
        }
    const char *meta[] = {"format", "pt"};  // what Hugging Face transformers expects
    int rc = st_write(path, e, total, meta, 1);
    free(e);
    free(names);
    return rc;
}

// The int8 model's tensors: the embedding and norms in F32; each matrix as
// I8 under its usual name plus its scales, F32 (O, I / 32), under the name
// with "_scale" appended; the metadata key QUANT_KEY says which format. The
// matrices are unpacked into row-major order one at a time as they are
// written (memory holds them in the product's layout).
typedef struct {
    const mtp_model *m;
    named_tensor *t;  // per entry: the parameter it comes from
    int *is_scale;    // per entry: 1 for a matrix's scales
} q8_writer;

static int produce_q8(void *ctx, int i, void *buf) {
    const q8_writer *q = ctx;
    if (q->is_scale[i])
        model_get_q8_matrix(q->m, q->t[i].kind, q->t[i].layer, NULL, buf);
    else
        model_get_q8_matrix(q->m, q->t[i].kind, q->t[i].layer, buf, NULL);
    return 0;
}

static int write_q8_tensors(const char *path, const mtp_model *m) {
    const mtp_config *cfg = &m->cfg;
    int count = params_tensor_count(cfg), total = 0;
    st_entry *e = mtp_calloc((size_t)count * 2, sizeof *e, "safetensors entries");
    char(*names)[128] = mtp_calloc((size_t)count * 2, sizeof *names, "tensor names");
    q8_writer q = {.m = m,
                   .t = mtp_calloc((size_t)count * 2, sizeof *q.t, "tensors"),
                   .is_scale = mtp_calloc((size_t)count * 2, sizeof *q.is_scale, "tensor kinds")};
    int rc = e && names && q.t && q.is_scale ? 0 : -1;
    for (int i = 0; i < count && rc == 0; i++) {
        named_tensor t;
        params_named(&m->params, cfg, i, &t);
        st_entry *x = &e[total];
        q.t[total] = t;
        snprintf(names[total], sizeof names[total], "%s", t.name);
        x->name = names[total++];
        x->ndim = t.ndim;
        x->shape[0] = t.shape[0];
        x->shape[1] = t.shape[1];
        x->data = t.data;
        if (!model_kind_is_matrix(t.kind)) continue;
        x->data = NULL;  // made by produce_q8
        x->dtype = ST_I8;
        st_entry *sc = &e[total];
        q.t[total] = t;
        q.is_scale[total] = 1;
        snprintf(names[total], sizeof names[total], "%s_scale", t.name);
        sc->name = names[total++];
        sc->ndim = 2;
        sc->shape[0] = t.shape[0];
        sc->shape[1] = t.shape[1] / OP_Q8_BLOCK;
    }
    const char *meta[] = {"format", "pt", QUANT_KEY, QUANT_Q8};
    if (rc == 0) rc = st_write_streamed(path, e, total, meta, 2, produce_q8, &q);
    free(e);
    free(names);
    free(q.t);
    free(q.is_scale);
    return rc;
}

// optimizer.safetensors holding only the trainable tensors' moments.
static int write_packed_moments(const char *path, const checkpoint_moments *mo, const mtp_config *cfg) {
    int count = params_tensor_count(cfg), n = 0;
    st_entry *e = mtp_calloc((size_t)count * 2, sizeof *e, "safetensors entries");
    char(*names)[128] = mtp_calloc((size_t)count * 2, sizeof *names, "tensor names");
    if (!e || !names) {
        free(e);
        free(names);
        return -1;
    }
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < count; i++) {
            if (mo->moff[i] == (size_t)-1) continue;
            named_tensor t;
            params_named(NULL, cfg, i, &t);
            snprintf(names[n], sizeof names[n], "%s%s", s ? "exp_avg_sq." : "exp_avg.", t.name);
            e[n] = (st_entry){.name = names[n],
                              .ndim = t.ndim,
                              .shape = {t.shape[0], t.shape[1]},
                              .data = (s ? mo->packed_v : mo->packed_m) + mo->moff[i]};
            n++;
        }
    const char *meta[] = {"format", "pt"};
    int rc = st_write(path, e, n, meta, 1);
    free(e);
    free(names);
    return rc;
}

static int write_text(const char *dir, const char *name, const char *text) {
    char path[PATH_CAP];
    if (fs_join(path, sizeof path, dir, name) != 0) return -1;
    return fs_write_all(path, text, strlen(text));
}

int checkpoint_write_dir(const char *run_dir, long step, checkpoint_writer write, void *ctx) {
    char name[64], tmp[PATH_CAP], final_dir[PATH_CAP], old[PATH_CAP];
    snprintf(name, sizeof name, "step_%08ld", step);
    const int had_run_dir = fs_is_dir(run_dir);
    if (fs_mkdir_p(run_dir) != 0) return -1;
    char tmp_name[96], old_name[96];
    snprintf(tmp_name, sizeof tmp_name, ".tmp-%s-%ld", name, (long)getpid());
    snprintf(old_name, sizeof old_name, ".old-%s-%ld", name, (long)getpid());
    if (fs_join(tmp, sizeof tmp, run_dir, tmp_name) || fs_join(final_dir, sizeof final_dir, run_dir, name) ||
        fs_join(old, sizeof old, run_dir, old_name))
        return -1;
    fs_remove_tree(tmp);
    if (fs_mkdir_p(tmp) != 0) return -1;
    int rc = write(tmp, ctx);
    if (rc == 0) rc = fs_sync_dir(tmp);
    if (rc == 0) {
        int replacing = fs_is_dir(final_dir);
        if (replacing && rename(final_dir, old) != 0)
            rc = mtp_errorf("cannot move aside '%s': %s", final_dir, strerror(errno));
        if (rc == 0 && rename(tmp, final_dir) != 0) {
            rc = mtp_errorf("cannot rename '%s' to '%s': %s", tmp, final_dir, strerror(errno));
            if (replacing) rename(old, final_dir);  // put the previous checkpoint back
        }
        if (rc == 0 && replacing) fs_remove_tree(old);
        if (rc == 0) rc = fs_sync_dir(run_dir);
    }
    if (rc != 0) {
        mtp_error_context("saving checkpoint %s failed", final_dir);
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", mtp_last_error());
        fs_remove_tree(tmp);               // may overwrite the message
        if (!had_run_dir) rmdir(run_dir);  // made for this checkpoint, and empty: not left behind
        mtp_errorf("%s", saved);
    }
    return rc;
}

int checkpoint_write_file(const char *dir, const checkpoint_file *f) {
    char path[PATH_CAP];
    if (!f || !f->data) return 0;
    if (fs_join(path, sizeof path, dir, f->name) != 0) return -1;
    return fs_write_all(path, f->data, f->len);
}

typedef struct {
    const mtp_model *m;
    const checkpoint_moments *moments;
    const char *trainer_state_json;
    const checkpoint_file *tokenizer;
} save_job;

static int write_checkpoint_files(const char *tmp, void *ctx) {
    const save_job *j = ctx;
    const mtp_model *m = j->m;
    const checkpoint_moments *moments = j->moments;
    char path[PATH_CAP];
    char *config = checkpoint_config_json(&m->cfg);
    int rc = config ? 0 : mtp_errorf("out of memory writing config.json");
    if (rc == 0) rc = write_text(tmp, "config.json", config);
    free(config);
    if (rc == 0) rc = fs_join(path, sizeof path, tmp, "model.safetensors");
    const param_set *weights[1] = {&m->params}, *moment_sets[2] = {moments ? moments->exp_avg : NULL,
                                                                   moments ? moments->exp_avg_sq : NULL};
    const char *no_prefix[1] = {""}, *moment_prefixes[2] = {"exp_avg.", "exp_avg_sq."};
    if (rc == 0)
        rc = m->q8 ? write_q8_tensors(path, m)
                   : checkpoint_write_tensors(path, weights, no_prefix, 1, &m->cfg);
    if (rc == 0 && moments) {
        rc = fs_join(path, sizeof path, tmp, "optimizer.safetensors");
        if (rc == 0)
            rc = moments->moff ? write_packed_moments(path, moments, &m->cfg)
                               : checkpoint_write_tensors(path, moment_sets, moment_prefixes, 2, &m->cfg);
    }
    if (rc == 0 && j->trainer_state_json) rc = write_text(tmp, "trainer_state.json", j->trainer_state_json);
    if (rc == 0) rc = checkpoint_write_file(tmp, j->tokenizer);
    return rc;
}

int checkpoint_save(const char *run_dir, long step, const mtp_model *m, const checkpoint_moments *moments,
                    const char *trainer_state_json, const checkpoint_file *tokenizer) {
    if (m->decode_layout) return mtp_errorf("cannot save a model in the decode layout: save it row-major");
    if (m->q8 && moments) return mtp_errorf("an int8 model has no optimizer state to save");
    save_job j = {m, moments, trainer_state_json, tokenizer};
    return checkpoint_write_dir(run_dir, step, write_checkpoint_files, &j);
}

// step_* directories are complete by construction (renamed into place only
// when complete), but a user may have copied a partial one: fs_is_checkpoint_dir
// requires the files. The newest is core's rule (fs_newest_checkpoint_dir), so
// a tokenizer loaded from a run directory (data/, below this layer) is this one's.
int checkpoint_resolve(const char *path, char *out, size_t cap) {
    if (!fs_is_dir(path)) {
        struct stat st;
        if (stat(path, &st) != 0)
            return mtp_errorf("'%s' does not exist: pass a run or checkpoint directory", path);
        return mtp_errorf("'%s' is not a directory: pass a run or checkpoint directory", path);
    }
    char cfg[PATH_CAP];
    if (fs_join(cfg, sizeof cfg, path, "config.json") == 0 && fs_is_file(cfg)) {
        if (!fs_is_checkpoint_dir(path))
            return mtp_errorf("'%s' has config.json but no model.safetensors", path);
        if (snprintf(out, cap, "%s", path) >= (int)cap) return mtp_errorf("path too long: '%s'", path);
        return 0;
    }
    if (!fs_newest_checkpoint_dir(path, out, cap))
        return mtp_errorf(
            "'%s' is neither a checkpoint (no config.json) nor a run directory with step_* checkpoints",
            path);
    return 0;
}

static int json_int(const cJSON *j, const char *key, const char *file, int required, int fallback, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) {
        if (required) return mtp_errorf("%s: missing key \"%s\"", file, key);
        *out = fallback;
        return 0;
    }
    // range-checked before the cast: casting an out-of-range double is undefined
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= (1 << 30)) ||
        v->valuedouble != floor(v->valuedouble))
        return mtp_errorf("%s: \"%s\" must be an integer in [0, 2^30]", file, key);
    *out = (int)v->valuedouble;
    return 0;
}

// An optional string key naming one of a set (parse returns -1 for others).
static int json_name(const cJSON *j, const char *key, const char *file, int (*parse)(const char *),
                     const char *choices, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return 0;  // absent: the default already in *out
    int x = cJSON_IsString(v) ? parse(v->valuestring) : -1;
    if (x < 0) return mtp_errorf("%s: \"%s\" must be one of %s", file, key, choices);
    *out = x;
    return 0;
}

static int json_float(const cJSON *j, const char *key, const char *file, float fallback, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) {
        *out = fallback;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !isfinite((float)v->valuedouble) || v->valuedouble <= 0)
        return mtp_errorf("%s: \"%s\" must be a positive number that fits a float", file, key);
    *out = (float)v->valuedouble;
    return 0;
}

int checkpoint_read_config(const char *ckpt_dir, mtp_config *c) {
    char path[PATH_CAP];
    cJSON *j = json_read_object_file(ckpt_dir, "config.json", 1 << 20);
    if (!j || fs_join(path, sizeof path, ckpt_dir, "config.json") != 0) {
        cJSON_Delete(j);
        return -1;
    }
    memset(c, 0, sizeof *c);
    config_set_defaults(c);
    int layers = 0, rc = 0;
    rc |= json_int(j, "vocab_size", path, 1, 0, &c->vocab_size);
    rc |= rc ? 0 : json_int(j, "hidden_size", path, 1, 0, &c->dim);
    rc |= rc ? 0 : json_int(j, "intermediate_size", path, 1, 0, &c->ffn_dim);
    rc |= rc ? 0 : json_int(j, "num_hidden_layers", path, 1, 0, &layers);
    rc |= rc ? 0 : json_int(j, "num_attention_heads", path, 1, 0, &c->n_head);
    rc |= rc ? 0 : json_int(j, "num_key_value_heads", path, 0, c->n_head, &c->n_kv_head);
    rc |= rc ? 0 : json_int(j, "max_position_embeddings", path, 1, 0, &c->max_seq_len);
    rc |= rc ? 0 : json_int(j, "n_future_tokens", path, 0, 1, &c->n_future);
    rc |= rc ? 0 : json_float(j, "rms_norm_eps", path, 1e-5f, &c->norm_eps);
    rc |= rc ? 0 : json_float(j, "rope_theta", path, 10000.0f, &c->rope_theta);
    rc |= rc ? 0
             : json_name(j, "head_type", path, config_parse_head_type, "\"transformer\", \"linear\"",
                         &c->head_type);
    rc |= rc ? 0
             : json_name(j, "head_order", path, config_parse_head_order,
                         "\"parallel\", \"causal\", \"anticausal\"", &c->head_order);
    cJSON_Delete(j);
    if (rc) return -1;
    if (layers < 1 || layers > 4096 || c->n_future < 1 || c->n_future > MTP_MAX_FUTURE)
        return mtp_errorf("%s: num_hidden_layers %d and n_future_tokens %d must be in [1, 4096] and [1, %d]",
                          path, layers, c->n_future, MTP_MAX_FUTURE);
    c->n_layer = c->head_type == MTP_HEAD_LINEAR ? layers : layers + c->n_future - 1;
    if (config_validate(c) != 0) {
        return mtp_error_context("%s: invalid model config", path);
    }
    return 0;
}

// Reads every named tensor of p from file f, names prefixed by `prefix`.
static int read_params(const st_file *f, param_set *p, const mtp_config *cfg, const char *prefix) {
    int count = params_tensor_count(cfg);
    for (int i = 0; i < count; i++) {
        named_tensor t;
        params_named(p, cfg, i, &t);
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, t.name);
        if (st_read_f32(f, name, t.shape, t.ndim, t.data) != 0) return -1;
    }
    return 0;
}

// Float32 tensors into a model in the decode layout: each matrix packed
// straight from the mapped file where its floats are aligned there (else
// copied into one scratch matrix, the largest, first). The copy was an eighth
// of loading the 2.4 GB model of bench/decode_big.sh.
static int read_params_packed(const st_file *f, mtp_model *m) {
    float *scratch = NULL;
    int count = params_tensor_count(&m->cfg), rc = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        named_tensor t;
        params_named(&m->params, &m->cfg, i, &t);
        if (!model_kind_is_matrix(t.kind)) {  // row-major in both layouts
            rc = st_read_f32(f, t.name, t.shape, t.ndim, t.data);
            continue;
        }
        const float *w = NULL;
        if ((rc = st_view_f32(f, t.name, t.shape, t.ndim, &w)) != 0) break;
        if (!w) {
            if (!scratch && !(scratch = mtp_malloc(model_largest_matrix(&m->cfg) * sizeof(float),
                                                   "one matrix being packed")))
                rc = -1;
            if (rc == 0) rc = st_read_f32(f, t.name, t.shape, t.ndim, scratch);
            w = scratch;
        }
        if (rc == 0) model_pack_matrix(m, t.kind, t.layer, w);
        // the file's pages, once packed, leave memory (a 2.4 GB model held them beside the packed copy)
        if (rc == 0 && w != scratch)
            st_view_done(f, w, sizeof(float) * (size_t)t.shape[0] * (size_t)(t.ndim > 1 ? t.shape[1] : 1));
    }
    free(scratch);
    return rc;
}

// An int8 model's tensors (see write_q8_tensors) into m, already given its
// int8 storage: each matrix read row-major into scratch (the largest) and
// packed from there.
static int read_q8_params(const st_file *f, mtp_model *m) {
    int count = params_tensor_count(&m->cfg), rc = 0;
    const size_t most = model_largest_matrix(&m->cfg);
    int8_t *q = mtp_malloc(most + 1, "one int8 matrix being packed");
    float *scales = q ? mtp_malloc(most / OP_Q8_BLOCK * sizeof(float) + 1, "its scales") : NULL;
    if (!scales) rc = -1;
    for (int i = 0; i < count && rc == 0; i++) {
        named_tensor t;
        params_named(&m->params, &m->cfg, i, &t);
        if (!model_kind_is_matrix(t.kind)) {
            rc = st_read_f32(f, t.name, t.shape, t.ndim, t.data);
            continue;
        }
        char name[160];
        int64_t shape[2] = {t.shape[0], t.shape[1] / OP_Q8_BLOCK};
        snprintf(name, sizeof name, "%s_scale", t.name);
        rc =
            st_read_i8(f, t.name, t.shape, 2, q) != 0 || st_read_f32(f, name, shape, 2, scales) != 0 ? -1 : 0;
        // -128 has no opposite in int8: the AVX2 products, which move signs onto the weights,
        // would get another sum than VNNI's (the format's values are symmetric, docs/formats.md)
        const size_t n = (size_t)t.shape[0] * (size_t)t.shape[1];
        int any = 0;
        for (size_t k = 0; k < n; k++) any |= q[k] == INT8_MIN;  // vectorized: no early exit
        // a scale that is not finite (a damaged file) makes its block's products NaN
        const size_t ns = n / OP_Q8_BLOCK, bad = rc == 0 ? first_nonfinite(scales, ns) : ns;
        if (bad < ns)
            rc = mtp_errorf("%s: tensor '%s' has scale %g at index %zu: the file is damaged", f->path, name,
                            (double)scales[bad], bad);
        for (size_t k = 0; any && rc == 0 && k < n; k++)
            if (q[k] == INT8_MIN)
                rc = mtp_errorf(
                    "%s: tensor '%s' holds -128 at index %zu; q8 weights lie in [-127, 127] "
                    "(quantize the float32 model again with `mtp quantize`)",
                    f->path, t.name, k);
        if (rc == 0) model_set_q8_matrix(m, t.kind, t.layer, q, scales);
    }
    free(q);
    free(scales);
    return rc;
}

// model.safetensors (f, at path) into m: every expected tensor present with
// its shape, and no other.
static int load_params(const st_file *f, const char *path, mtp_model *m) {
    int expected = params_tensor_count(&m->cfg), rc = 0;
    const st_tensor *head = st_find(f, "lm_head.weight");
    if (head && head->dtype == ST_I8) {  // int8 weights: a quantized checkpoint
        int matrices = 0;
        for (int i = 0; i < expected; i++) {
            named_tensor t;
            params_named(&m->params, &m->cfg, i, &t);
            matrices += model_kind_is_matrix(t.kind);
        }
        expected += matrices;  // their scales
        rc = (m->q8 || model_use_q8(m, 0) == 0) ? read_q8_params(f, m) : -1;
    } else if (m->q8) {
        rc = mtp_errorf("%s: float32 weights, but the model was set up for int8 ones", path);
    } else if (m->decode_layout) {
        rc = read_params_packed(f, m);
    } else {
        rc = read_params(f, &m->params, &m->cfg, "");
    }
    if (rc == 0 && f->count != expected)
        rc = mtp_errorf(
            "%s: has %d tensors, the config in config.json needs %d: the files do not belong together", path,
            f->count, expected);
    return rc;
}

// Every tensor config.json asks for is in the file with its shape, checked
// from the header alone before the model's memory is allocated (a vocab_size
// of 15 M beside a small file took 3.8 GB before the shapes were compared).
static int check_shapes(const st_file *f, const mtp_config *cfg, const char *path) {
    const int count = params_tensor_count(cfg);
    for (int i = 0; i < count; i++) {
        named_tensor t;
        params_named(NULL, cfg, i, &t);
        const st_tensor *x = st_find(f, t.name);
        if (!x) return mtp_errorf("%s: no tensor '%s', which config.json's model needs", path, t.name);
        int same = x->ndim == t.ndim;
        for (int d = 0; same && d < t.ndim; d++) same = x->shape[d] == t.shape[d];
        if (!same)
            return mtp_errorf(
                "%s: tensor '%s' has shape [%lld%s%lld], config.json's model needs [%lld%s%lld]", path,
                t.name, (long long)x->shape[0], x->ndim > 1 ? ", " : "",
                x->ndim > 1 ? (long long)x->shape[1] : 0LL, (long long)t.shape[0], t.ndim > 1 ? ", " : "",
                t.ndim > 1 ? (long long)t.shape[1] : 0LL);
    }
    return 0;
}

int checkpoint_load_model(const char *ckpt_dir, const mtp_config *cfg, int decoding, mtp_model *m) {
    char path[PATH_CAP];
    memset(m, 0, sizeof *m);
    if (fs_join(path, sizeof path, ckpt_dir, "model.safetensors") != 0) return -1;
    st_file f;
    if (st_open(path, &f) != 0) return -1;
    const st_tensor *head = st_find(&f, "lm_head.weight");
    const int q8 = head && head->dtype == ST_I8;
    if (check_shapes(&f, cfg, path) != 0) {
        st_close(&f);
        return -1;
    }
    // int8 weights straight into int8 storage; float32 ones for decoding into the decode layout
    int rc = q8 ? model_create_q8(m, cfg) : decoding ? model_create_decoding(m, cfg) : model_create(m, cfg);
    if (rc != 0 && q8) {  // the config (config.json) does not fit the file's int8 layout: name the file
        char why[512];
        snprintf(why, sizeof why, "%s", mtp_last_error());
        rc = mtp_errorf("%s: int8 weights, but config.json does not fit them: %s", path, why);
    }
    if (rc == 0) rc = load_params(&f, path, m);
    st_close(&f);
    if (rc != 0) model_free(m);
    return rc;
}

int checkpoint_load_params(const char *ckpt_dir, mtp_model *m) {
    char path[PATH_CAP];
    if (fs_join(path, sizeof path, ckpt_dir, "model.safetensors") != 0) return -1;
    st_file f;
    if (st_open(path, &f) != 0) return -1;
    int rc = load_params(&f, path, m);
    st_close(&f);
    return rc;
}

// AdamW's moments as it leaves them: m finite, v finite and not negative (a
// negative v, from a damaged or hand-made file, loaded and made the next
// step's update NaN: a square root of it). 0, or -1 with the error naming the file.
static int check_moments(const char *path, const float *m, const float *v, size_t n) {
    size_t i = first_nonfinite(m, n), j = first_nonfinite(v, n);
    int negative = 0;  // (no early exit: the loop vectorizes)
    for (size_t k = 0; k < n; k++) negative |= v[k] < 0.0f;
    for (size_t k = 0; negative && k < j; k++)
        if (v[k] < 0.0f) j = k;
    if (j < i) i = j;
    if (i == n) return 0;
    return mtp_errorf(
        "%s: AdamW moments at value %zu are exp_avg %g, exp_avg_sq %g (a second moment is finite and not "
        "negative): the file is damaged",
        path, i, (double)m[i], (double)v[i]);
}

int checkpoint_load_moments(const char *ckpt_dir, param_set *exp_avg, param_set *exp_avg_sq,
                            const mtp_config *cfg) {
    char path[PATH_CAP];
    if (fs_join(path, sizeof path, ckpt_dir, "optimizer.safetensors") != 0) return -1;
    st_file f;
    if (st_open(path, &f) != 0) return -1;
    int rc = read_params(&f, exp_avg, cfg, "exp_avg.");
    if (rc == 0) rc = read_params(&f, exp_avg_sq, cfg, "exp_avg_sq.");
    if (rc == 0 && f.count != 2 * params_tensor_count(cfg))
        rc = mtp_errorf("%s: has %d tensors, expected %d", path, f.count, 2 * params_tensor_count(cfg));
    if (rc == 0) rc = check_moments(path, exp_avg->memory, exp_avg_sq->memory, exp_avg->total);
    st_close(&f);
    return rc;
}

int checkpoint_load_moments_packed(const char *ckpt_dir, float *m, float *v, const size_t *moff,
                                   const mtp_config *cfg) {
    char path[PATH_CAP], name[160];
    if (fs_join(path, sizeof path, ckpt_dir, "optimizer.safetensors") != 0) return -1;
    st_file f;
    if (st_open(path, &f) != 0) return -1;
    int count = params_tensor_count(cfg), want = 0, rc = 0;
    for (int s = 0; s < 2 && rc == 0; s++)
        for (int i = 0; i < count && rc == 0; i++) {
            if (moff[i] == (size_t)-1) continue;
            named_tensor t;
            params_named(NULL, cfg, i, &t);
            snprintf(name, sizeof name, "%s%s", s ? "exp_avg_sq." : "exp_avg.", t.name);
            rc = st_read_f32(&f, name, t.shape, t.ndim, (s ? v : m) + moff[i]);
            want++;
        }
    if (rc == 0 && f.count != want)
        rc = mtp_errorf("%s: has %d tensors, expected the moments of the %d trainable ones", path, f.count,
                        want / 2);
    for (int i = 0; i < count && rc == 0; i++) {
        if (moff[i] == (size_t)-1) continue;
        named_tensor t;
        params_named(NULL, cfg, i, &t);
        const size_t n = (size_t)t.shape[0] * (t.ndim == 2 ? (size_t)t.shape[1] : 1);
        rc = check_moments(path, m + moff[i], v + moff[i], n);
    }
    st_close(&f);
    return rc;
}

int checkpoint_has_trainer_state(const char *ckpt_dir) {
    char path[PATH_CAP];
    return fs_join(path, sizeof path, ckpt_dir, "trainer_state.json") == 0 && fs_is_file(path);
}

cJSON *checkpoint_read_trainer_state(const char *ckpt_dir) {
    return json_read_object_file(ckpt_dir, "trainer_state.json", 16 << 20);
}

int checkpoint_tokenizer_matches(const char *ckpt_dir, const char *data_dir) {
    char a[PATH_CAP], b[PATH_CAP];
    if (fs_join(a, sizeof a, ckpt_dir, "tokenizer.json") != 0 ||
        fs_join(b, sizeof b, data_dir, "tokenizer.json") != 0)
        return -1;
    if (!fs_is_file(a) || !fs_is_file(b)) return 0;  // an imported model's tokenizer.model, llm.c shards
    char *model = fs_read_all(a, 64u << 20, NULL), *data = model ? fs_read_all(b, 64u << 20, NULL) : NULL;
    int rc = !model || !data ? -1 : 0;
    if (rc == 0 && strcmp(model, data) != 0)
        rc = mtp_errorf(
            "'%s' was prepared with another tokenizer than the model %s (their tokenizer.json differ, and "
            "the "
            "model's ids are its tokenizer's): prepare the data with --tokenizer %s",
            data_dir, ckpt_dir, a);
    free(model);
    free(data);
    return rc;
}

int checkpoint_prune(const char *run_dir, int keep_last) {
    if (keep_last <= 0) return 0;
    fs_list list;
    if (fs_list_dir(run_dir, "step_", "", &list) != 0) return -1;
    // the run's checkpoints, oldest first (names sort by step: zero-padded)
    int rc = 0, count = 0;
    char dir[PATH_CAP];
    int *ckpts = malloc(sizeof(int) * (size_t)(list.count ? list.count : 1));
    if (!ckpts) rc = mtp_errorf("out of memory listing '%s'", run_dir);
    for (int i = 0; ckpts && i < list.count; i++)
        if (fs_step_of_name(list.names[i]) >= 0 && fs_join(dir, sizeof dir, run_dir, list.names[i]) == 0 &&
            fs_is_checkpoint_dir(dir))
            ckpts[count++] = i;
    // each moved aside first (one rename), then removed: a process killed while removing leaves
    // a hidden .old-* (swept by the next run), never a step_* folder missing some of its files
    for (int i = 0; i + keep_last < count; i++) {
        char aside_name[128], aside[PATH_CAP];
        snprintf(aside_name, sizeof aside_name, ".old-%s-%ld", list.names[ckpts[i]], (long)getpid());
        if (fs_join(dir, sizeof dir, run_dir, list.names[ckpts[i]]) != 0 ||
            fs_join(aside, sizeof aside, run_dir, aside_name) != 0) {
            rc = -1;
            continue;
        }
        if (rename(dir, aside) != 0) {
            rc = mtp_errorf("cannot move aside '%s' to remove it: %s", dir, strerror(errno));
            continue;
        }
        if (fs_remove_tree(aside) != 0) rc = -1;
    }
    free(ckpts);
    fs_list_free(&list);
    return rc;
}
