// meta.c: Meta's consolidated checkpoints (Llama format, with the
// multi-token models' extra_heads) to mtp checkpoints. Key names and the
// block layout are in ../shared/paper-digest.md: layers.{0..L-n} are the
// trunk and head 1, extra_heads.{0..n-2} heads 2..n.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonl.h"
#include "core/pth.h"
#include "model/params.h"

#define PATH_CAP 4096
#define DEFAULT_CONTEXT 4096

int convert_meta_ffn_dim(int dim, int multiple_of, double ffn_dim_multiplier) {
    // As Meta's llama/model.py: int() truncates at each step.
    long hidden = (long)(2.0 * (4L * dim) / 3.0);
    if (ffn_dim_multiplier > 0) hidden = (long)(ffn_dim_multiplier * (double)hidden);
    if (multiple_of < 1) multiple_of = 1;
    return (int)(multiple_of * ((hidden + multiple_of - 1) / multiple_of));
}

typedef struct {
    pth_file *shards;
    int nshards;
    mtp_config cfg;
    float *tmp;  // one shard's part of a tensor, or one head's rows
    size_t tmp_cap;
} meta_source;

// Where tensor t of the mtp checkpoint comes from: Meta's key, the axis
// model-parallel shards split it along (-1: replicated), and for wq/wk the
// number of heads whose rows need the RoPE permutation (0 otherwise).
typedef struct {
    char key[96];
    int axis, rope_heads;
} meta_origin;

static meta_origin origin_of(const mtp_config *c, const named_tensor *t) {
    meta_origin o = {.axis = -1};
    static const char *const block_keys[P_KINDS] = {
        [P_ATTN_NORM] = "attention_norm.weight", [P_WQ] = "attention.wq.weight",
        [P_WK] = "attention.wk.weight",          [P_WV] = "attention.wv.weight",
        [P_WO] = "attention.wo.weight",          [P_FFN_NORM] = "ffn_norm.weight",
        [P_WGATE] = "feed_forward.w1.weight",    [P_WUP] = "feed_forward.w3.weight",
        [P_WDOWN] = "feed_forward.w2.weight",
    };
    static const int block_axis[P_KINDS] = {
        [P_ATTN_NORM] = -1, [P_WQ] = 0,    [P_WK] = 0,  [P_WV] = 0,   [P_WO] = 1,
        [P_FFN_NORM] = -1,  [P_WGATE] = 0, [P_WUP] = 0, [P_WDOWN] = 1};
    int in_layers = c->n_layer - c->n_future + 1;
    switch (t->kind) {
        case P_EMBED:
            snprintf(o.key, sizeof o.key, "tok_embeddings.weight"), o.axis = 1;
            break;
        case P_LM_HEAD:
            snprintf(o.key, sizeof o.key, "output.weight"), o.axis = 0;
            break;
        case P_NORM:
            snprintf(o.key, sizeof o.key, "norm.weight");
            break;
        default:
            if (t->layer < in_layers)
                snprintf(o.key, sizeof o.key, "layers.%d.%s", t->layer, block_keys[t->kind]);
            else
                snprintf(o.key, sizeof o.key, "extra_heads.%d.%s", t->layer - in_layers, block_keys[t->kind]);
            o.axis = block_axis[t->kind];
            o.rope_heads = t->kind == P_WQ ? c->n_head : t->kind == P_WK ? c->n_kv_head : 0;
    }
    return o;
}

// Checks every shard's part of tensor t: present, 2-D or 1-D as expected,
// and the parts adding up to t's shape along the split axis.
static int check_tensor(const meta_source *s, const named_tensor *t, const meta_origin *o) {
    int64_t along = 0;
    for (int k = 0; k < s->nshards; k++) {
        const pth_file *f = &s->shards[k];
        const pickle_tensor *p = pth_find(f, o->key);
        if (!p) return mtp_errorf("%s: no tensor '%s' (the model's params.json needs it)", f->path, o->key);
        if (p->ndim != t->ndim)
            return mtp_errorf("%s: tensor '%s' has %d dimensions, expected %d", f->path, o->key, p->ndim,
                              t->ndim);
        for (int d = 0; d < t->ndim; d++)
            if (d != o->axis && p->shape[d] != t->shape[d])
                return mtp_errorf("%s: tensor '%s' has %lld in dimension %d where params.json gives %lld",
                                  f->path, o->key, (long long)p->shape[d], d, (long long)t->shape[d]);
        if (o->axis >= 0) along += p->shape[o->axis];
        if (o->axis < 0 && k > 0) break;  // replicated: shard 0's copy is used
    }
    if (o->axis >= 0 && along != t->shape[o->axis])
        return mtp_errorf(
            "%s: tensor '%s' has %lld in dimension %d (over %d shard%s), but params.json gives %lld",
            s->shards[0].path, o->key, (long long)along, o->axis, s->nshards, s->nshards > 1 ? "s" : "",
            (long long)t->shape[o->axis]);
    return 0;
}

static int ensure_tmp(meta_source *s, size_t n) {
    if (n <= s->tmp_cap) return 0;
    free(s->tmp);
    s->tmp = mtp_malloc(n * sizeof *s->tmp, "tensor being converted");
    s->tmp_cap = s->tmp ? n : 0;
    return s->tmp ? 0 : -1;
}

// Meta rotates interleaved pairs (2i, 2i+1) of each head; mtp rotates halves
// (i, i + hd/2). Row 2i + p of a head moves to row p*hd/2 + i.
static int permute_rope_rows(meta_source *s, float *w, int heads, int64_t cols) {
    int hd = config_head_dim(&s->cfg);
    if (ensure_tmp(s, (size_t)hd * (size_t)cols) != 0) return -1;
    for (int h = 0; h < heads; h++) {
        float *head = w + (size_t)h * hd * cols;
        memcpy(s->tmp, head, (size_t)hd * cols * sizeof *head);
        for (int i = 0; i < hd / 2; i++)
            for (int p = 0; p < 2; p++)
                memcpy(head + (size_t)(p * hd / 2 + i) * cols, s->tmp + (size_t)(2 * i + p) * cols,
                       (size_t)cols * sizeof *head);
    }
    return 0;
}

static int fill(void *ctx, int index, float *dst) {
    meta_source *s = ctx;
    named_tensor t;
    params_named(NULL, &s->cfg, index, &t);
    meta_origin o = origin_of(&s->cfg, &t);
    int64_t cols = t.ndim == 2 ? t.shape[1] : 1, at = 0;
    for (int k = 0; k < (o.axis < 0 ? 1 : s->nshards); k++) {
        const pth_file *f = &s->shards[k];
        const pickle_tensor *p = pth_find(f, o.key);
        if (o.axis <= 0) {  // whole rows: straight into place
            if (pth_read_f32(f, p, dst + at * cols) != 0) return -1;
            pth_release(f, p);
            at += p->ndim ? p->shape[0] : 1;
            continue;
        }
        int64_t pc = p->shape[1];  // a column block of every row
        if (ensure_tmp(s, pth_numel(p)) != 0 || pth_read_f32(f, p, s->tmp) != 0) return -1;
        pth_release(f, p);
        for (int64_t r = 0; r < t.shape[0]; r++)
            memcpy(dst + r * cols + at, s->tmp + r * pc, (size_t)pc * sizeof *dst);
        at += pc;
    }
    return o.rope_heads ? permute_rope_rows(s, dst, o.rope_heads, cols) : 0;
}

// Every key of every shard must be one the model uses (rope.freqs, a table
// of the old Llama checkpoints, excepted): a key left over means the
// params.json does not describe these weights.
static int check_no_extra_keys(const meta_source *s) {
    int count = params_tensor_count(&s->cfg);
    for (int k = 0; k < s->nshards; k++)
        for (int i = 0; i < s->shards[k].count; i++) {
            const char *key = s->shards[k].tensors[i].name;
            int known = !strcmp(key, "rope.freqs");
            for (int j = 0; j < count && !known; j++) {
                named_tensor t;
                params_named(NULL, &s->cfg, j, &t);
                known = !strcmp(origin_of(&s->cfg, &t).key, key);
            }
            if (!known)
                return mtp_errorf(
                    "%s: tensor '%s' is not part of the model params.json describes (n_layers %d, "
                    "n_future_tokens %d): check params.json",
                    s->shards[k].path, key, s->cfg.n_layer, s->cfg.n_future);
        }
    return 0;
}

static int json_number(const cJSON *j, const char *key, const char *file, int required, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) return required ? mtp_errorf("%s: no \"%s\"", file, key) : 1;
    if (!cJSON_IsNumber(v)) return mtp_errorf("%s: \"%s\" is not a number", file, key);
    *out = v->valuedouble;
    return 0;
}

static int json_int_in(const cJSON *j, const char *key, const char *file, int required, int lo, int hi,
                       int *out) {
    double v = *out;
    int rc = json_number(j, key, file, required, &v);
    if (rc < 0) return -1;
    if (rc == 0 && (v != floor(v) || v < lo || v > hi))
        return mtp_errorf("%s: \"%s\" is %g; expected an integer in [%d, %d]", file, key, v, lo, hi);
    *out = (int)v;
    return 0;
}

// The model's shape from params.json; vocab_size and the FFN width are
// checked against the weights afterwards.
static int read_params(const char *dir, const convert_options *o, mtp_config *c, int *multiple_of,
                       double *ffn_mult) {
    char path[PATH_CAP];
    cJSON *j = json_read_object_file(dir, "params.json", (size_t)1 << 20);
    if (!j || fs_join(path, sizeof path, dir, "params.json") != 0) {
        cJSON_Delete(j);
        return -1;
    }
    memset(c, 0, sizeof *c);
    config_set_defaults(c);
    double eps = c->norm_eps, theta = c->rope_theta;
    int vocab = -1, ctx = 0;
    *multiple_of = 256;
    *ffn_mult = 0;
    c->n_future = 1;
    int rc = 0;
    if (json_int_in(j, "dim", path, 1, 1, 1 << 20, &c->dim) ||
        json_int_in(j, "n_layers", path, 1, 1, 4096, &c->n_layer) ||
        json_int_in(j, "n_heads", path, 1, 1, 4096, &c->n_head) ||
        json_int_in(j, "multiple_of", path, 0, 1, 1 << 20, multiple_of) ||
        json_int_in(j, "n_future_tokens", path, 0, 1, MTP_MAX_FUTURE, &c->n_future) ||
        json_int_in(j, "vocab_size", path, 0, -1, 1 << 30, &vocab) ||
        json_int_in(j, "max_seq_len", path, 0, 1, 1 << 20, &ctx) ||
        json_number(j, "norm_eps", path, 0, &eps) < 0 || json_number(j, "rope_theta", path, 0, &theta) < 0 ||
        json_number(j, "ffn_dim_multiplier", path, 0, ffn_mult) < 0)
        rc = -1;
    c->n_kv_head = c->n_head;
    if (rc == 0 && json_int_in(j, "n_kv_heads", path, 0, 1, 4096, &c->n_kv_head) != 0) rc = -1;
    const cJSON *scaled = cJSON_GetObjectItemCaseSensitive(j, "use_scaled_rope");
    if (rc == 0 && cJSON_IsTrue(scaled))
        rc = mtp_errorf("%s: \"use_scaled_rope\" (Llama 3.1's RoPE scaling) is not supported", path);
    cJSON_Delete(j);
    if (rc != 0) return -1;
    c->vocab_size = vocab;  // -1 (Llama 2's params.json): the weights say
    c->norm_eps = (float)eps;
    c->rope_theta = (float)theta;
    c->max_seq_len = o->max_seq_len ? o->max_seq_len : ctx ? ctx : DEFAULT_CONTEXT;
    if (c->n_future >= c->n_layer)
        return mtp_errorf("%s: n_future_tokens %d needs n_layers above it (got %d)", path, c->n_future,
                          c->n_layer);
    // Meta's models use 1.3 or so; a huge one would overflow the FFN width
    if (*ffn_mult != 0 && !(*ffn_mult > 0 && *ffn_mult <= 64))
        return mtp_errorf("%s: \"ffn_dim_multiplier\" is %g; expected a number in (0, 64]", path, *ffn_mult);
    return 0;
}

static int find_tokenizer(const convert_options *o, char *out, size_t cap) {
    if (o->tokenizer) {
        if (fs_is_dir(o->tokenizer))
            return mtp_errorf("--tokenizer %s is a directory: give the tokenizer file in it", o->tokenizer);
        if (!fs_is_file(o->tokenizer)) return mtp_errorf("--tokenizer %s: no such file", o->tokenizer);
        snprintf(out, cap, "%s", o->tokenizer);
        return 0;
    }
    const char *tries[2] = {"tokenizer.model", "../tokenizer.model"};
    for (int i = 0; i < 2; i++)
        if (fs_join(out, cap, o->in_dir, tries[i]) == 0 && fs_is_file(out)) return 0;
    return mtp_errorf("no tokenizer.model in %s or its parent directory: pass --tokenizer FILE", o->in_dir);
}

static int open_shards(meta_source *s, const char *dir) {
    fs_list list;
    if (fs_list_dir(dir, "consolidated.", ".pth", &list) != 0) return -1;
    if (list.count == 0) {
        fs_list_free(&list);
        return mtp_errorf("%s: no consolidated.*.pth file: is this a directory of Meta's download?", dir);
    }
    s->shards = mtp_calloc((size_t)list.count, sizeof *s->shards, "checkpoint shards");
    int rc = s->shards ? 0 : -1;
    for (int i = 0; i < list.count && rc == 0; i++) {
        char path[PATH_CAP];
        rc = fs_join(path, sizeof path, dir, list.names[i]);
        if (rc == 0) rc = pth_open(path, &s->shards[i]);
        if (rc == 0) s->nshards++;
    }
    fs_list_free(&list);
    return rc;
}

// --in must be a directory of Meta's release: said before any file in it is opened.
static int check_in_dir(const char *dir) {
    char path[PATH_CAP];
    if (fs_is_file(dir))
        return mtp_errorf("--in %s is a file: give the model's directory (params.json, consolidated.*.pth)",
                          dir);
    if (!fs_is_dir(dir))
        return mtp_errorf(
            "--in %s: no such directory (give the model's directory: params.json, consolidated.*.pth)", dir);
    if (fs_join(path, sizeof path, dir, "params.json") != 0) return -1;
    return fs_is_file(path) ? 0
                            : mtp_errorf(
                                  "--in %s has no params.json: not a directory of Meta's release (a "
                                  "Hugging Face model converts with --from hf)",
                                  dir);
}

int convert_meta(const convert_options *o, mtp_config *cfg) {
    meta_source s = {0};
    int multiple_of;
    double ffn_mult;
    char tok[PATH_CAP];
    int rc = check_in_dir(o->in_dir);
    if (rc == 0) rc = read_params(o->in_dir, o, &s.cfg, &multiple_of, &ffn_mult);
    if (rc == 0) rc = find_tokenizer(o, tok, sizeof tok);
    if (rc == 0) rc = open_shards(&s, o->in_dir);
    if (rc == 0) {
        const pickle_tensor *emb = pth_find(&s.shards[0], "tok_embeddings.weight");
        if (!emb || emb->ndim != 2)
            rc = mtp_errorf("%s: no 2-D tensor 'tok_embeddings.weight'", s.shards[0].path);
        else if (s.cfg.vocab_size > 0 && s.cfg.vocab_size != emb->shape[0])
            rc = mtp_errorf("%s: params.json says vocab_size %d, tok_embeddings.weight has %lld rows",
                            s.shards[0].path, s.cfg.vocab_size, (long long)emb->shape[0]);
        else
            s.cfg.vocab_size = (int)emb->shape[0];
        s.cfg.ffn_dim = convert_meta_ffn_dim(s.cfg.dim, multiple_of, ffn_mult);
    }
    if (rc == 0 && (rc = config_validate(&s.cfg)) != 0)
        mtp_error_context("%s/params.json: invalid model config", o->in_dir);
    int count = params_tensor_count(&s.cfg);
    for (int i = 0; i < count && rc == 0; i++) {
        named_tensor t;
        params_named(NULL, &s.cfg, i, &t);
        meta_origin og = origin_of(&s.cfg, &t);
        rc = check_tensor(&s, &t, &og);
        if (rc != 0 && t.kind == P_WGATE)
            mtp_error_context(
                "the FFN width %d comes from params.json (dim %d, multiple_of %d, ffn_dim_multiplier %g)",
                s.cfg.ffn_dim, s.cfg.dim, multiple_of, ffn_mult);
    }
    if (rc == 0) rc = check_no_extra_keys(&s);
    const char *src[1] = {tok}, *name[1] = {convert_tokenizer_file_name(tok)};
    if (rc == 0) rc = convert_write(o->out_dir, &s.cfg, fill, &s, src, name, 1, &o->progress);
    if (rc == 0 && cfg) *cfg = s.cfg;
    for (int i = 0; i < s.nshards; i++) pth_close(&s.shards[i]);
    free(s.shards);
    free(s.tmp);
    return rc;
}
