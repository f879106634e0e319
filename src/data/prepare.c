// prepare.c: encode a corpus into train/val shards.
//
// The corpus is cut into work items (a piece of one document, at most
// PIECE_BYTES), taken in batches of about BATCH_BYTES: each batch's items
// are encoded in parallel into their own buffers, then written in item
// order, so the shards do not depend on the thread count. Shards are staged
// in a hidden directory inside out_dir and moved into place only when all
// of them are complete, so a failed run leaves the old data as it was.
#define _GNU_SOURCE  // memmem
#include "data/prepare.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "data/corpus.h"
#include "data/pretokenize.h"
#include "data/shard.h"
#include "data/tokenizer.h"

#define PIECE_BYTES ((uint64_t)1 << 20)
#define BATCH_BYTES ((uint64_t)64 << 20)
#define BATCH_ITEMS 4096
#define MAX_SHARDS 999999
// The staging directory: out_dir/.prepare-<pid>.tmp.
#define STAGE_PREFIX ".prepare-"
#define STAGE_SUFFIX ".tmp"

enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1 };
static const char *const split_names[2] = {"train", "val"};

// ---- train/val assignment ---------------------------------------------------
// Uniform in [0, 1) from (seed, document index): the SplitMix64 finalizer.
static double doc_hash(uint64_t seed, uint64_t i) {
    uint64_t z = seed * 0x9e3779b97f4a7c15ULL + i + 0x632be59bd9b4e019ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

// split[i] for each of n >= 2 documents (see prepare.h).
static void assign_splits(uint8_t *split, size_t n, double fraction, uint64_t seed) {
    size_t nval = 0, lo = 0, hi = 0;
    double lo_h = 2.0, hi_h = -1.0;
    for (size_t i = 0; i < n; i++) {
        double h = doc_hash(seed, i);
        split[i] = h < fraction ? SPLIT_VAL : SPLIT_TRAIN;
        nval += split[i] == SPLIT_VAL;
        if (h < lo_h) lo_h = h, lo = i;
        if (h > hi_h) hi_h = h, hi = i;
    }
    if (fraction > 0 && nval == 0) split[lo] = SPLIT_VAL;
    if (nval == n) split[hi] = SPLIT_TRAIN;
}

// Where to end a piece of doc[0..len) near `target` (0 < target < len), so
// that tokenizers which pre-split text (GPT-2 style) see the same words as in
// the whole document: a cut every GPT-2 pre-tokenization agrees with, else
// (rare: no space between letters, no plain line break in target/2 bytes)
// after any newline, else at a UTF-8 character start, else at target.
static uint64_t cut_point(const uint8_t *doc, uint64_t len, uint64_t target) {
    uint64_t safe = pretokenize_safe_cut((const char *)doc, len, target);
    if (safe) return safe;
    uint64_t floor = target / 2;
    for (uint64_t i = target; i > floor; i--)
        if (doc[i - 1] == '\n') return i;
    for (uint64_t i = target; i > floor; i--)
        if ((doc[i] & 0xC0) != 0x80) return i;
    return target;
}

// Whether text[0..n) holds anything but blanks and separators `sep` (of sl
// bytes): a document.
static int holds_document(const uint8_t *text, uint64_t n, const char *sep, size_t sl) {
    for (uint64_t i = 0; i < n; i++) {
        if (i + sl <= n && memcmp(text + i, sep, sl) == 0)
            i += sl - 1;
        else if (!isspace(text[i]))
            return 1;
    }
    return 0;
}

// Start of the val part of a single file of len >= 2 bytes. With a document
// separator: just after the first separator that ends after len * (1 -
// fraction) and has a document after it, else after the last one before that
// point with a document after it (a file ending in a separator and a line
// break kept no val part: what followed its last separator was blanks). Otherwise (or with no
// such separator in the file): the first line start at or after that byte,
// else that byte (moved to a UTF-8 character start), moved to the start of a
// separator it falls inside. val is never empty.
static uint64_t val_start(const uint8_t *doc, uint64_t len, double fraction, const char *sep) {
    uint64_t cut = (uint64_t)((double)len * (1.0 - fraction));
    if (cut >= len) cut = len - 1;
    if (cut < 1) cut = 1;
    if (sep && *sep) {
        const size_t sl = strlen(sep);
        // the end of the last separator ending at or before the cut with a document after it
        uint64_t before = 0;
        for (const uint8_t *p = doc; (p = memmem(p, (size_t)(doc + len - p), sep, sl)); p += sl) {
            const uint64_t end = (uint64_t)(p - doc) + sl;
            if (!holds_document(doc + end, len - end, sep, sl)) break;  // nor after any later one
            if (end > cut) return end;  // (a separator across the cut ends after it: never cut in two)
            before = end;
        }
        if (before > 0) return before;
    }
    uint64_t at;
    for (at = cut; at < len; at++)
        if (doc[at - 1] == '\n') break;
    if (at == len)
        for (at = cut; at < len; at++)
            if ((doc[at] & 0xC0) != 0x80) break;
    if (at == len) at = cut;
    if (sep && *sep) {  // never inside a separator (its halves would be encoded as text): at its start
        const size_t sl = strlen(sep);
        const uint64_t from = at >= sl ? at - (sl - 1) : 0;
        const uint8_t *hit = memmem(doc + from, (size_t)(len - from), sep, sl);
        if (hit && (uint64_t)(hit - doc) < at && (uint64_t)(hit - doc) + sl > at && hit > doc)
            at = (uint64_t)(hit - doc);
    }
    return at;
}

// ---- output streams: one per split, rolling over to a new shard ----------
typedef struct {
    const char *dir;  // the staging directory
    int split, elem_bytes;
    uint64_t shard_tokens, tokens;
    int shards;
    shard_writer *w;
} stream;

static int stream_append(stream *s, const int32_t *ids, size_t n) {
    while (n > 0) {
        if (!s->w) {
            if (s->shards >= MAX_SHARDS)
                return mtp_errorf("more than %d %s shards: use a larger --shard-tokens", MAX_SHARDS,
                                  split_names[s->split]);
            char name[64], path[4096];
            snprintf(name, sizeof name, "%s_%06d.bin", split_names[s->split], s->shards);
            if (fs_join(path, sizeof path, s->dir, name) != 0) return -1;
            if (!(s->w = shard_writer_open(path, s->elem_bytes))) return -1;
        }
        uint64_t room = s->shard_tokens - shard_writer_count(s->w);
        size_t m = n < room ? n : (size_t)room;
        if (shard_writer_append(s->w, ids, m) != 0) return -1;
        s->tokens += m;
        ids += m;
        n -= m;
        if (shard_writer_count(s->w) == s->shard_tokens) {
            shard_writer *w = s->w;
            s->w = NULL;
            s->shards++;
            if (shard_writer_close(w) != 0) return -1;
        }
    }
    return 0;
}

static int stream_finish(stream *s) {
    if (!s->w) return 0;
    shard_writer *w = s->w;
    s->w = NULL;
    s->shards++;
    return shard_writer_close(w);
}

// ---- work items ----------------------------------------------------------
typedef struct {
    const uint8_t *text;
    uint64_t len;
    uint8_t split, doc_start, doc_end;
    int32_t *ids;
    size_t n, cap;
    char *error;  // set by a failed encode (the thread's message)
} item;

// Walks the corpus file by file, handing out pieces; holds the current file's map.
typedef struct {
    const corpus *c;
    const uint8_t *split;  // (files) per-file split, NULL for a single cut file
    double val_fraction;
    const char *sep;  // document separator, NULL: a file is one document
    size_t sep_len;
    size_t file;  // current file
    fs_map map;   // its mapping
    int mapped;
    uint64_t seg_start[2], seg_end[2];  // its segments: [train part, val part] or one segment
    int nseg, seg;
    uint8_t seg_split[2];
    uint64_t off;  // position in the current segment
    // The current document: [off, doc_end) of the segment; the next one is
    // searched from doc_next. seg_emitted: a document of this segment was given.
    uint64_t doc_end, doc_next;
    int in_doc, seg_emitted;
    int mid_doc;  // the next piece continues a document
    uint64_t bytes_read;
} cursor;

static int cursor_load_file(cursor *k) {
    if (fs_map_file(k->c->paths[k->file], &k->map) != 0) return -1;
    k->mapped = 1;
    uint64_t len = k->map.size;
    k->bytes_read += len;
    k->seg = 0;
    k->off = 0;
    k->seg_emitted = 0;
    if (!k->split && k->val_fraction > 0 && len >= 2) {
        uint64_t cut = val_start(k->map.data, len, k->val_fraction, k->sep);
        k->nseg = 2;
        k->seg_start[0] = 0, k->seg_end[0] = cut, k->seg_split[0] = SPLIT_TRAIN;
        k->seg_start[1] = cut, k->seg_end[1] = len, k->seg_split[1] = SPLIT_VAL;
    } else {
        k->nseg = 1;
        k->seg_start[0] = 0, k->seg_end[0] = len;
        k->seg_split[0] = k->split ? k->split[k->file] : SPLIT_TRAIN;
    }
    return 0;
}

static int is_blank(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Finds the next document at or after k->off in the current segment and
// sets k->off (its start), k->doc_end and k->doc_next. Without a separator
// the segment is one document (even when empty); with one, documents are
// the text between separators with blanks trimmed, and empty ones are
// skipped. Returns 0 when the segment has no more.
static int find_doc(cursor *k) {
    const uint8_t *seg = k->map.data ? k->map.data + k->seg_start[k->seg] : NULL;
    uint64_t seg_len = k->seg_end[k->seg] - k->seg_start[k->seg];
    if (!k->sep) {
        if (k->seg_emitted) return 0;
        k->doc_end = k->doc_next = seg_len;
        return 1;
    }
    while (k->off < seg_len) {
        uint64_t end = seg_len, next = seg_len;
        const uint8_t *hit = memmem(seg + k->off, seg_len - k->off, k->sep, k->sep_len);
        if (hit) end = (uint64_t)(hit - seg), next = end + k->sep_len;
        while (k->off < end && is_blank(seg[k->off])) k->off++;
        while (end > k->off && is_blank(seg[end - 1])) end--;
        if (end > k->off) {
            k->doc_end = end, k->doc_next = next;
            return 1;
        }
        k->off = next;
    }
    return 0;
}

// Moves to the next document of the current file, across its segments.
static int next_doc_in_file(cursor *k) {
    for (;;) {
        if (find_doc(k)) return 1;
        if (++k->seg >= k->nseg) return 0;
        k->off = 0;
        k->seg_emitted = 0;
    }
}

// Fills *it with the next piece; sets *file_done when it was the file's last
// (the caller then unmaps the file once the batch is written). Returns 1 if
// a piece was produced, 0 at the end of the corpus, -1 on error.
static int cursor_next(cursor *k, item *it, int *file_done) {
    *file_done = 0;
    while (!k->in_doc) {
        if (k->file >= k->c->count) return 0;
        if (cursor_load_file(k) != 0) return -1;
        if (next_doc_in_file(k)) {
            k->in_doc = 1;
        } else {
            // No document in this file (blank text between separators only):
            // nothing refers to its map.
            fs_unmap(&k->map);
            k->mapped = 0;
            k->file++;
        }
    }
    const uint8_t *seg = k->map.data ? k->map.data + k->seg_start[k->seg] : NULL;
    uint64_t left = k->doc_end - k->off, take = left;
    if (left > PIECE_BYTES) take = cut_point(seg + k->off, left, PIECE_BYTES);
    memset(it, 0, sizeof *it);
    it->text = seg ? seg + k->off : NULL;
    it->len = take;
    it->split = k->seg_split[k->seg];
    it->doc_start = !k->mid_doc;
    k->mid_doc = 1;
    k->off += take;
    if (k->off == k->doc_end) {
        it->doc_end = 1;
        k->mid_doc = 0;
        k->seg_emitted = 1;
        k->off = k->doc_next;
        if (!next_doc_in_file(k)) {
            *file_done = 1;
            k->in_doc = 0;
            k->mapped = 0;  // the caller unmaps k->map after the batch is written
            k->file++;
        }
    }
    return 1;
}

// ---- the run -------------------------------------------------------------
static int check_options(const prepare_options *o) {
    if (!o->out_dir || !*o->out_dir) return mtp_errorf("no output directory: give --out DIR");
    if (o->num_inputs <= 0) return mtp_errorf("no inputs: give the text files or directories to read");
    if (o->doc_separator && !*o->doc_separator)  // an empty separator would match everywhere
        return mtp_errorf("--doc-separator '': give a non-empty text such as '<|endoftext|>'");
    if (!(o->val_fraction >= 0 && o->val_fraction < 1))
        return mtp_errorf("--val-fraction %g: expected a number in [0, 1)", o->val_fraction);
    if (o->shard_tokens < 1 || o->shard_tokens > SHARD_MAX_TOKENS)
        return mtp_errorf("--shard-tokens %llu: expected an integer in [1, %u]",
                          (unsigned long long)o->shard_tokens, SHARD_MAX_TOKENS);
    return 0;
}

// Fails if dir already holds shards and force is off; with force, removes
// the shards (called once the new ones are staged).
static int existing_shards(const char *dir, int force, int remove_them, uint64_t *removed) {
    for (int s = 0; s < 2; s++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "%s_", split_names[s]);
        fs_list list;
        if (fs_list_dir(dir, prefix, ".bin", &list) != 0) return -1;
        if (list.count > 0 && !force) {
            int rc = mtp_errorf(
                "--out '%s' already holds %s shards (%s, ...): pass --force to replace them, or "
                "choose another --out",
                dir, split_names[s], list.names[0]);
            fs_list_free(&list);
            return rc;
        }
        for (int i = 0; remove_them && i < list.count; i++) {
            char path[4096];
            if (fs_join(path, sizeof path, dir, list.names[i]) != 0 || remove(path) != 0) {
                int rc =
                    mtp_errorf("cannot remove old shard '%s/%s': %s", dir, list.names[i], strerror(errno));
                fs_list_free(&list);
                return rc;
            }
            (*removed)++;
        }
        fs_list_free(&list);
    }
    return 0;
}

// Moves the staged shards of one split into dir.
static int move_shards(const char *stage, const char *dir, const stream *s) {
    for (int i = 0; i < s->shards; i++) {
        char name[64], from[4096], to[4096];
        snprintf(name, sizeof name, "%s_%06d.bin", split_names[s->split], i);
        if (fs_join(from, sizeof from, stage, name) != 0 || fs_join(to, sizeof to, dir, name) != 0) return -1;
        if (rename(from, to) != 0)
            return mtp_errorf("cannot move '%s' to '%s': %s", from, to, strerror(errno));
    }
    return 0;
}

// Encodes and writes the whole corpus into the two streams.
// text[s] gets split s's tokens of text (not counting end-of-text and BOS).
static int encode_corpus(const corpus *c, const uint8_t *split, const prepare_options *o,
                         const tokenizer *tok, stream *streams, prepare_summary *sum, uint64_t *text,
                         prepare_progress_fn progress, void *user) {
    uint64_t *docs = &sum->train_docs;  // docs[SPLIT_TRAIN], docs[SPLIT_VAL]
    sum->train_docs = sum->val_docs = 0;
    item *items = mtp_calloc(BATCH_ITEMS, sizeof *items, "work items");
    fs_map *done_maps = mtp_calloc(BATCH_ITEMS, sizeof *done_maps, "file maps");
    if (!items || !done_maps) {
        free(items);
        free(done_maps);
        return -1;
    }
    cursor k = {.c = c,
                .split = split,
                .val_fraction = o->val_fraction,
                .sep = o->doc_separator,
                .sep_len = o->doc_separator ? strlen(o->doc_separator) : 0};
    int32_t eot = tokenizer_eot(tok), bos = tokenizer_bos(tok);
    uint64_t done_bytes = 0;
    int rc = 0, more = 1;
    while (rc == 0 && more) {
        // Gather a batch.
        int nitems = 0, ndone = 0;
        uint64_t batch_bytes = 0;
        while (nitems < BATCH_ITEMS && batch_bytes < BATCH_BYTES) {
            int file_done;
            int got = cursor_next(&k, &items[nitems], &file_done);
            if (got < 0) rc = -1;
            if (got <= 0) {
                more = 0;
                break;
            }
            batch_bytes += items[nitems].len;
            nitems++;
            if (file_done) done_maps[ndone++] = k.map;
        }
        // Encode it in parallel; each item owns its buffer.
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < nitems; i++) {
            item *it = &items[i];
            // a document starts with BOS where the tokenizer has one (Llama's <s>); a
            // piece that continues a document is encoded as a continuation
            int rc_enc = 0;
            if (it->doc_start && bos >= 0 && tokenizer_reserve(&it->ids, 0, &it->cap, 1) == 0)
                it->ids[it->n++] = bos;
            rc_enc = it->doc_start ? tokenizer_encode(tok, (const char *)it->text, (size_t)it->len, &it->ids,
                                                      &it->n, &it->cap)
                                   : tokenizer_encode_continued(tok, (const char *)it->text, (size_t)it->len,
                                                                &it->ids, &it->n, &it->cap);
            if (rc_enc != 0) it->error = strdup(mtp_last_error());
        }
        // Write in order.
        for (int i = 0; i < nitems; i++) {
            item *it = &items[i];
            if (rc == 0 && it->error) rc = mtp_errorf("%s", it->error);
            if (rc == 0) rc = stream_append(&streams[it->split], it->ids, it->n);
            if (rc == 0) text[it->split] += it->n - (it->doc_start && bos >= 0 && it->n > 0);
            if (rc == 0 && it->doc_end) rc = stream_append(&streams[it->split], &eot, 1);
            if (rc == 0 && it->doc_end) docs[it->split]++;
            done_bytes += it->len;
            if (rc == 0 && progress) progress(done_bytes, c->total_bytes, user);
            free(it->ids);
            free(it->error);
        }
        for (int i = 0; i < ndone; i++) fs_unmap(&done_maps[i]);
    }
    if (k.mapped) fs_unmap(&k.map);
    sum->bytes = k.bytes_read;
    free(items);
    free(done_maps);
    return rc;
}

int prepare_sweep_stale(const char *out_dir, void (*removed)(const char *path, long pid, void *user),
                        void *user) {
    return fs_sweep_stale(out_dir, STAGE_PREFIX, STAGE_SUFFIX, removed, user);
}

int prepare_run(const prepare_options *o, prepare_progress_fn progress, void *user, prepare_summary *sum) {
    memset(sum, 0, sizeof *sum);
    if (check_options(o) != 0) return -1;

    // --out is never read (so a second run does not read its shards back): an input that is --out
    // would be skipped whole
    for (int i = 0; i < o->num_inputs; i++)
        if (fs_is_dir(o->inputs[i]) && fs_same_file(o->inputs[i], o->out_dir)) {
            int n = (int)strlen(o->inputs[i]);
            while (n > 1 && o->inputs[i][n - 1] == '/') n--;
            return mtp_errorf(
                "input '%s' is the output directory --out '%s', which prepare never reads: give another "
                "--out (e.g. --out %.*s.data)",
                o->inputs[i], o->out_dir, n, o->inputs[i]);
        }
    corpus c;
    if (corpus_collect(&c, o->inputs, o->num_inputs, o->glob, o->out_dir) != 0) return -1;
    char where[512];  // the inputs, for messages
    int off = 0;
    for (int i = 0; i < o->num_inputs && off < (int)sizeof where - 8; i++)
        off += snprintf(where + off, sizeof where - (size_t)off, "%s'%s'", i ? ", " : "", o->inputs[i]);
    if (c.count == 0) {
        if (o->glob)
            mtp_errorf("no files matching --glob '%s' in %s", o->glob, where);
        else
            mtp_errorf("no files found in %s (hidden files are skipped)", where);
        corpus_free(&c);
        return -1;
    }

    tokenizer *tok = tokenizer_open(o->tokenizer ? o->tokenizer : "bytes");
    uint8_t *split = NULL;
    char stage[4096] = "";
    int rc = tok ? 0 : -1, created = !fs_is_dir(o->out_dir);
    if (rc == 0 && fs_mkdir_p(o->out_dir) != 0) rc = mtp_error_context("--out '%s'", o->out_dir);
    // the staging directories of runs that were interrupted (their process has ended)
    if (rc == 0) prepare_sweep_stale(o->out_dir, NULL, NULL);
    if (rc == 0 && access(o->out_dir, W_OK) != 0)
        rc = mtp_errorf("--out '%s' is not writable: %s", o->out_dir, strerror(errno));
    if (rc == 0) rc = existing_shards(o->out_dir, o->force, 0, &sum->removed_stale);
    if (rc == 0) {
        char name[64];
        snprintf(name, sizeof name, STAGE_PREFIX "%ld" STAGE_SUFFIX, (long)getpid());
        rc = fs_join(stage, sizeof stage, o->out_dir, name);
        if (rc == 0 && (fs_remove_tree(stage) != 0 || fs_mkdir_p(stage) != 0)) rc = -1;
        if (rc != 0) stage[0] = '\0';
    }
    if (rc == 0 && c.count >= 2) {
        if (!(split = mtp_malloc(c.count, "document splits")))
            rc = -1;
        else
            assign_splits(split, c.count, o->val_fraction, o->seed);
    }

    stream streams[2];
    uint64_t text[2] = {0, 0};
    memset(streams, 0, sizeof streams);
    if (rc == 0) {
        sum->vocab_size = tokenizer_vocab_size(tok);
        sum->elem_bytes = shard_elem_bytes_for_vocab(sum->vocab_size);
        for (int s = 0; s < 2; s++) {
            streams[s].dir = stage;
            streams[s].split = s;
            streams[s].elem_bytes = sum->elem_bytes;
            streams[s].shard_tokens = o->shard_tokens;
        }
        rc = encode_corpus(&c, split, o, tok, streams, sum, text, progress, user);
        for (int s = 0; s < 2; s++) {
            if (rc == 0)
                rc = stream_finish(&streams[s]);
            else if (streams[s].w)
                shard_writer_abort(streams[s].w);
        }
        // shards of end-of-text tokens alone would only fail later, in mtp train
        if (rc == 0 && text[SPLIT_TRAIN] == 0)
            rc = text[SPLIT_VAL] == 0
                     ? mtp_errorf(
                           "%s hold%s no text for the train split (nothing but blanks%s%s%s): give "
                           "files with text",
                           where, o->num_inputs == 1 ? "s" : "",
                           o->doc_separator ? " and --doc-separator '" : "",
                           o->doc_separator ? o->doc_separator : "", o->doc_separator ? "'" : "")
                     : mtp_errorf(
                           "no text for the train split of %s (all %llu tokens of text went to val): "
                           "give more files with text, or a smaller --val-fraction",
                           where, (unsigned long long)text[SPLIT_VAL]);
    }
    if (rc == 0) {
        // Everything is staged: now replace the old data.
        char tok_path[4096];
        rc = existing_shards(o->out_dir, o->force, 1, &sum->removed_stale);
        for (int s = 0; s < 2 && rc == 0; s++) rc = move_shards(stage, o->out_dir, &streams[s]);
        if (rc == 0) rc = fs_join(tok_path, sizeof tok_path, o->out_dir, "tokenizer.json");
        if (rc == 0 && tokenizer_save(tok, tok_path) != 0) rc = mtp_error_context("--out '%s'", o->out_dir);
        if (rc == 0) rc = fs_sync_dir(o->out_dir);
    }
    if (stage[0]) {
        // Keep the first error's message if cleaning up fails too.
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", mtp_last_error());
        if (fs_remove_tree(stage) != 0 && rc == 0)
            rc = -1;
        else if (rc != 0)
            mtp_errorf("%s", saved);
    }
    if (rc != 0 && created) rmdir(o->out_dir);  // made for this run: leave no empty directory behind
    if (rc == 0) {
        sum->files = c.count;
        sum->split_single =
            !o->doc_separator && c.count == 1 && o->val_fraction > 0 && streams[SPLIT_VAL].tokens > 0;
        sum->train_tokens = streams[SPLIT_TRAIN].tokens;
        sum->val_tokens = streams[SPLIT_VAL].tokens;
        sum->train_shards = streams[SPLIT_TRAIN].shards;
        sum->val_shards = streams[SPLIT_VAL].shards;
    }
    free(split);
    tokenizer_free(tok);
    corpus_free(&c);
    return rc;
}
