// hf_llama.c: a Hugging Face Llama checkpoint directory (config.json, one
// or several safetensors files, F32/F16/BF16) to an mtp checkpoint. The
// names are already mtp's (design.md section 3 takes them from there) and
// q/k rows are already in rotate-half order; only dtypes widen, shards
// merge, and a tied unembedding becomes its own tensor.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonl.h"
#include "core/safetensors.h"
#include "model/params.h"
#include "store/checkpoint.h"

#define PATH_CAP 4096

typedef struct {
    st_file *files;
    int nfiles;
    mtp_config cfg;
    int tied;  // tie_word_embeddings: lm_head is the embedding
} hf_source;

static const st_tensor *find(const hf_source *s, const char *name, const st_file **in) {
    for (int i = 0; i < s->nfiles; i++) {
        const st_tensor *t = st_find(&s->files[i], name);
        if (t) {
            *in = &s->files[i];
            return t;
        }
    }
    return NULL;
}

// The tensor that holds checkpoint tensor `index` (lm_head may be the embedding).
static const st_tensor *source_of(const hf_source *s, int index, const st_file **in, named_tensor *t) {
    params_named(NULL, &s->cfg, index, t);
    const st_tensor *x = find(s, t->name, in);
    if (!x && t->kind == P_LM_HEAD && s->tied) x = find(s, "model.embed_tokens.weight", in);
    return x;
}

static int fill(void *ctx, int index, float *dst) {
    const hf_source *s = ctx;
    const st_file *f = NULL;
    named_tensor t;
    const st_tensor *x = source_of(s, index, &f, &t);
    // present and shaped right: checked before writing (the read releases the file's pages)
    return st_read_widened(f, x, dst);
}

static int check_tensors(const hf_source *s) {
    int count = params_tensor_count(&s->cfg);
    for (int i = 0; i < count; i++) {
        const st_file *f = NULL;
        named_tensor t;
        const st_tensor *x = source_of(s, i, &f, &t);
        if (!x)
            return mtp_errorf(
                "%s: no tensor '%s' in the checkpoint's safetensors files (config.json describes a "
                "model that needs it)",
                s->files[0].path, t.name);
        int same =
            x->ndim == t.ndim && x->shape[0] == t.shape[0] && (t.ndim == 1 || x->shape[1] == t.shape[1]);
        if (!same)
            return mtp_errorf("%s: tensor '%s' has shape [%lld%s%lld], config.json gives [%lld%s%lld]",
                              f->path, x->name, (long long)x->shape[0], x->ndim > 1 ? ", " : "",
                              x->ndim > 1 ? (long long)x->shape[1] : 0LL, (long long)t.shape[0],
                              t.ndim > 1 ? ", " : "", t.ndim > 1 ? (long long)t.shape[1] : 0LL);
        if (x->dtype == ST_I8)
            return mtp_errorf("%s: tensor '%s' is int8; import a float checkpoint (F32, BF16 or F16)",
                              f->path, x->name);
    }
    // Anything else means an architecture this model does not have (biases,
    // other layers); old exports' rotary tables are the one exception.
    for (int k = 0; k < s->nfiles; k++)
        for (int i = 0; i < s->files[k].count; i++) {
            const char *name = s->files[k].tensors[i].name;
            int known = strstr(name, "rotary_emb.inv_freq") != NULL;
            for (int j = 0; j < count && !known; j++) {
                named_tensor t;
                params_named(NULL, &s->cfg, j, &t);
                known = !strcmp(t.name, name);
            }
            if (!known)
                return mtp_errorf("%s: tensor '%s' is not part of a Llama model as config.json describes it",
                                  s->files[k].path, name);
        }
    return 0;
}

// --in must be a Hugging Face model's directory: said before any file in it is opened.
static int check_in_dir(const char *dir) {
    char path[PATH_CAP], ckpt[PATH_CAP];
    if (fs_is_file(dir))
        return mtp_errorf("--in %s is a file: give the model's directory (config.json, *.safetensors)", dir);
    if (!fs_is_dir(dir))
        return mtp_errorf(
            "--in %s: no such directory (give the model's directory: config.json, *.safetensors)", dir);
    if (fs_join(path, sizeof path, dir, "config.json") != 0) return -1;
    if (fs_is_file(path)) return 0;
    if (fs_newest_checkpoint_dir(dir, ckpt, sizeof ckpt))
        return mtp_errorf(
            "--in %s is a training run, not a model directory: give one of its checkpoints (%s)", dir, ckpt);
    int meta = fs_join(path, sizeof path, dir, "params.json") == 0 && fs_is_file(path);
    return mtp_errorf("--in %s has no config.json: not a Hugging Face model directory%s", dir,
                      meta ? " (its params.json is Meta's format: convert it with --from meta)" : "");
}

// The keys of config.json beyond checkpoint_read_config's that decide
// whether the model is one mtp runs.
static int check_architecture(const char *dir, int *tied) {
    char path[PATH_CAP];
    cJSON *j = json_read_object_file(dir, "config.json", (size_t)1 << 20);
    if (!j || fs_join(path, sizeof path, dir, "config.json") != 0) {
        cJSON_Delete(j);
        return -1;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "model_type"),
                *act = cJSON_GetObjectItemCaseSensitive(j, "hidden_act"),
                *scaling = cJSON_GetObjectItemCaseSensitive(j, "rope_scaling");
    int rc = 0;
    if (cJSON_IsString(type) && strcmp(type->valuestring, "llama"))
        rc = mtp_errorf("%s: model_type is \"%s\"; only Llama-architecture models (\"llama\") convert", path,
                        type->valuestring);
    else if (cJSON_IsString(act) && strcmp(act->valuestring, "silu"))
        rc = mtp_errorf("%s: hidden_act \"%s\" is not supported (SwiGLU with silu only)", path,
                        act->valuestring);
    else if (scaling && !cJSON_IsNull(scaling))
        rc = mtp_errorf("%s: rope_scaling is set; RoPE scaling is not supported", path);
    else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "attention_bias")) ||
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "mlp_bias")))
        rc = mtp_errorf("%s: biases in attention or MLP are not supported", path);
    *tied = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "tie_word_embeddings"));
    cJSON_Delete(j);
    return rc;
}

// The weight files: model.safetensors, or those the index names.
static int open_files(hf_source *s, const char *dir) {
    char path[PATH_CAP];
    if (fs_join(path, sizeof path, dir, "model.safetensors.index.json") != 0) return -1;
    if (!fs_is_file(path)) {
        if (fs_join(path, sizeof path, dir, "model.safetensors") != 0) return -1;
        if (!fs_is_file(path))
            return mtp_errorf(
                "%s: no model.safetensors or model.safetensors.index.json (PyTorch .bin files are not "
                "read: save the model with safe_serialization)",
                dir);
        s->files = mtp_calloc(1, sizeof *s->files, "weight files");
        if (!s->files || st_open(path, &s->files[0]) != 0) return -1;
        s->nfiles = 1;
        return 0;
    }
    cJSON *j = json_read_object_file(dir, "model.safetensors.index.json", (size_t)64 << 20);
    if (!j) return -1;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(j, "weight_map");
    int rc = cJSON_IsObject(map) ? 0 : mtp_errorf("%s: no \"weight_map\" object", path);
    int n = rc ? 0 : cJSON_GetArraySize(map);
    const char **names = rc ? NULL : mtp_calloc((size_t)(n ? n : 1), sizeof *names, "weight file names");
    int nnames = 0;
    if (rc == 0 && !names) rc = -1;
    for (const cJSON *e = map ? map->child : NULL; rc == 0 && e; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || !strcmp(e->valuestring, "..")) {
            rc = mtp_errorf("%s: weight_map entry '%s' is not a file name in the directory", path, e->string);
            break;
        }
        int seen = 0;
        for (int i = 0; i < nnames && !seen; i++) seen = !strcmp(names[i], e->valuestring);
        if (!seen) names[nnames++] = e->valuestring;
    }
    if (rc == 0 && nnames == 0) rc = mtp_errorf("%s: the weight_map is empty", path);
    if (rc == 0 && !(s->files = mtp_calloc((size_t)nnames, sizeof *s->files, "weight files"))) rc = -1;
    for (int i = 0; i < nnames && rc == 0; i++) {
        rc = fs_join(path, sizeof path, dir, names[i]);
        if (rc == 0) rc = st_open(path, &s->files[i]);
        if (rc == 0) s->nfiles++;
    }
    free(names);
    cJSON_Delete(j);
    return rc;
}

int convert_hf_llama(const convert_options *o, mtp_config *cfg) {
    hf_source s = {0};
    int rc = check_in_dir(o->in_dir);
    if (rc == 0) rc = check_architecture(o->in_dir, &s.tied);
    if (rc == 0) rc = checkpoint_read_config(o->in_dir, &s.cfg);
    if (rc == 0 && o->max_seq_len) s.cfg.max_seq_len = o->max_seq_len;
    if (rc == 0) rc = open_files(&s, o->in_dir);
    if (rc == 0) rc = check_tensors(&s);
    // the tokenizer files that exist: tokenizer.model (SentencePiece) is
    // preferred by the loader; tokenizer.json is kept too
    char src[2][PATH_CAP];
    const char *srcs[2], *names[2];
    int ntok = 0;
    if (rc == 0 && o->tokenizer) {
        if (fs_is_dir(o->tokenizer))
            rc = mtp_errorf("--tokenizer %s is a directory: give the tokenizer file in it", o->tokenizer);
        else if (!fs_is_file(o->tokenizer))
            rc = mtp_errorf("--tokenizer %s: no such file", o->tokenizer);
        snprintf(src[0], sizeof src[0], "%s", o->tokenizer);
        srcs[0] = src[0];
        names[0] = convert_tokenizer_file_name(o->tokenizer);
        ntok = 1;
    } else if (rc == 0) {
        const char *cands[2] = {"tokenizer.model", "tokenizer.json"};
        for (int i = 0; i < 2; i++)
            if (fs_join(src[ntok], sizeof src[ntok], o->in_dir, cands[i]) == 0 && fs_is_file(src[ntok])) {
                srcs[ntok] = src[ntok];
                names[ntok++] = cands[i];
            }
        if (ntok == 0)
            rc = mtp_errorf("%s: no tokenizer.model or tokenizer.json: pass --tokenizer FILE", o->in_dir);
    }
    if (rc == 0) rc = convert_write(o->out_dir, &s.cfg, fill, &s, srcs, names, ntok, &o->progress);
    if (rc == 0 && cfg) *cfg = s.cfg;
    for (int i = 0; i < s.nfiles; i++) st_close(&s.files[i]);
    free(s.files);
    return rc;
}
