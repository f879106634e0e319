// writer.c: the checkpoint directory a converter writes (convert.h).
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/convert.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/safetensors.h"
#include "data/tokenizer.h"
#include "model/params.h"
#include "store/checkpoint.h"

#define PATH_CAP 4096
#define MAX_TOKENIZER_BYTES ((size_t)1 << 30)

typedef struct {
    convert_fill_fn fill;
    void *ctx;
    const mtp_config *cfg;
    const progress_sink *progress;
    uint64_t done, total;
} write_state;

static int produce(void *ctx, int index, void *buf) {
    write_state *w = ctx;
    named_tensor t;
    params_named(NULL, w->cfg, index, &t);
    if (w->fill(w->ctx, index, buf) != 0) return -1;
    w->done += (uint64_t)t.shape[0] * (uint64_t)(t.ndim == 2 ? t.shape[1] : 1) * sizeof(float);
    progress_tell(w->progress, w->done, w->total);
    return 0;
}

static int write_files(const char *dir, const mtp_config *cfg, write_state *w, const char *const *tok_src,
                       const char *const *tok_name, int ntok) {
    char path[PATH_CAP];
    char *config = checkpoint_config_json(cfg);
    if (!config) return mtp_errorf("out of memory writing config.json");
    int rc = fs_join(path, sizeof path, dir, "config.json");
    if (rc == 0) rc = fs_write_all(path, config, strlen(config));
    free(config);
    for (int i = 0; i < ntok && rc == 0; i++) {
        size_t len = 0;
        char *text = fs_read_all(tok_src[i], MAX_TOKENIZER_BYTES, &len);
        rc = text ? fs_join(path, sizeof path, dir, tok_name[i]) : -1;
        if (rc == 0) rc = fs_write_all(path, text, len);
        free(text);
    }
    int count = params_tensor_count(cfg);
    st_entry *e = mtp_calloc((size_t)count, sizeof *e, "safetensors entries");
    named_tensor *t = mtp_calloc((size_t)count, sizeof *t, "tensor names");
    if (!e || !t) rc = -1;
    for (int i = 0; i < count && rc == 0; i++) {
        params_named(NULL, cfg, i, &t[i]);
        e[i] = (st_entry){.name = t[i].name, .ndim = t[i].ndim, .shape = {t[i].shape[0], t[i].shape[1]}};
        w->total += (uint64_t)t[i].shape[0] * (uint64_t)(t[i].ndim == 2 ? t[i].shape[1] : 1) * sizeof(float);
    }
    const char *meta[] = {"format", "pt"};
    if (rc == 0) rc = fs_join(path, sizeof path, dir, "model.safetensors");
    if (rc == 0) rc = st_write_streamed(path, e, count, meta, 1, produce, w);
    free(e);
    free(t);
    if (rc == 0) rc = fs_sync_dir(dir);
    return rc;
}

// Every tokenizer file must load and fit the model's vocabulary, or every
// command would refuse the checkpoint: checked before anything is written.
static int check_tokenizers(const mtp_config *cfg, const char *const *tok_src, int ntok) {
    for (int i = 0; i < ntok; i++) {
        tokenizer *t = tokenizer_load(tok_src[i]);
        if (!t) {
            char why[1024];
            snprintf(why, sizeof why, "%s", mtp_last_error());
            return mtp_errorf(
                "cannot use %s as the tokenizer: %s (give a tokenizer.json or tokenizer.model "
                "with --tokenizer FILE)",
                tok_src[i], why);
        }
        int n = tokenizer_vocab_size(t);
        tokenizer_free(t);
        if (n > cfg->vocab_size)
            return mtp_errorf(
                "tokenizer %s has %d tokens but the model's vocab_size is %d (give the model's "
                "own tokenizer, at most %d tokens, with --tokenizer FILE)",
                tok_src[i], n, cfg->vocab_size, cfg->vocab_size);
    }
    return 0;
}

const char *convert_tokenizer_file_name(const char *path) {
    FILE *f = fopen(path, "rb");
    int c = EOF;
    if (f) {
        do c = fgetc(f);
        while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
        fclose(f);
    }
    return c == '{' ? "tokenizer.json" : "tokenizer.model";
}

int convert_write(const char *out_dir, const mtp_config *cfg, convert_fill_fn fill, void *ctx,
                  const char *const *tok_src, const char *const *tok_name, int ntok,
                  const progress_sink *progress) {
    if (fs_is_dir(out_dir) || fs_is_file(out_dir))
        return mtp_errorf("--out %s already exists: choose a new directory (nothing is overwritten)",
                          out_dir);
    if (config_validate(cfg) != 0 || check_tokenizers(cfg, tok_src, ntok) != 0) return -1;
    // "new/" names the directory "new": without the slash, or the temporary
    // directory would be made inside it (and the rename would fail)
    char out[PATH_CAP], tmp[PATH_CAP], parent[PATH_CAP];
    if (snprintf(out, sizeof out, "%s", out_dir) >= (int)sizeof out)
        return mtp_errorf("--out %s: path too long", out_dir);
    for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--) out[n - 1] = '\0';
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid()) >= (int)sizeof tmp)
        return mtp_errorf("--out %s: path too long", out_dir);
    snprintf(parent, sizeof parent, "%s", out);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, "%s", slash ? "/" : ".");
    // what an interrupted convert to the same --out left (OUT.tmp-PID of a process that has ended)
    char stale[PATH_CAP];
    const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
    if (snprintf(stale, sizeof stale, "%s.tmp-", base) < (int)sizeof stale)
        fs_sweep_stale(parent, stale, "", NULL, NULL);
    fs_remove_tree(tmp);
    if (fs_mkdir_p(tmp) != 0) return -1;
    write_state w = {.fill = fill, .ctx = ctx, .cfg = cfg, .progress = progress};
    int rc = write_files(tmp, cfg, &w, tok_src, tok_name, ntok);
    if (rc == 0 && rename(tmp, out) != 0)
        rc = mtp_errorf("cannot rename '%s' to '%s': %s", tmp, out, strerror(errno));
    if (rc == 0) rc = fs_sync_dir(parent);
    if (rc != 0) {
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", mtp_last_error());
        fs_remove_tree(tmp);  // a half-written checkpoint must not look like one
        mtp_errorf("%s", saved);
    }
    return rc;
}
