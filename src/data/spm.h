// spm.h: SentencePiece BPE models (Llama 2's tokenizer.model), encoded and
// decoded exactly as the sentencepiece library does: identity normalization
// (spaces become U+2581, a dummy prefix, optionally extra whitespace
// removed), merges of the adjacent pair whose merged piece scores highest
// (leftmost on ties), unused pieces split back, and unknown pieces spelled
// as <0xXX> byte pieces when byte_fallback is on.
//
// The same engine runs a Hugging Face tokenizer.json of Llama type (BPE with
// byte_fallback): there the pair with the lowest merge rank merges first.
// Internal to the data layer: tokenizer_spm.c (the model file, encoding,
// decoding) and tokenizer_spm_json.c (tokenizer.json in and out).
#ifndef MTP_DATA_SPM_H
#define MTP_DATA_SPM_H

#include <stddef.h>
#include <stdint.h>

#include "data/tokenizer.h"

enum { SPM_NORMAL = 1, SPM_UNKNOWN = 2, SPM_CONTROL = 3, SPM_USER = 4, SPM_UNUSED = 5, SPM_BYTE = 6 };

typedef struct {
    char *s;  // the piece's bytes (U+2581 for spaces), NUL-terminated
    uint32_t len;
    float score;
    int type;  // SPM_*
} spm_piece;

typedef struct {
    uint32_t left, right;  // piece ids
    uint32_t merged;       // piece id
    uint32_t rank;
} spm_merge;

typedef struct {
    spm_piece *pieces;
    int n;
    int32_t *table;  // open addressing over piece ids by their text; -1 empty
    size_t table_cap;
    spm_merge *merges;  // Hugging Face mode: by (left, right), open addressing
    size_t merges_cap;
    int nmerges;
    int unk_id, bos_id, eos_id;
    int byte_fallback, add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
    int prefix_if_absent;  // Metaspace's prepend: the dummy prefix only where the text does not start with one
    int byte_ids[256];  // <0xXX> pieces, -1 where missing
    int *user;          // user-defined pieces, matched whole before anything else
    int nuser;
    char *unk_surface;  // what an unknown piece decodes to (" \u2047 ")
    int hf;             // merge ranks (tokenizer.json) instead of scores (tokenizer.model)
} spm_model;

// Builds the lookup tables once pieces, types and flags are set.
int spm_finish(spm_model *m, const char *label);
// The byte a "<0xHH>" byte piece stands for, or -1 for any other text.
int spm_byte_of_piece(const char *s, size_t len);
// The id of a piece's text (any type), or -1.
int spm_find(const spm_model *m, const char *s, size_t len);
void spm_free(spm_model *m);
// Wraps a finished model as a tokenizer (takes ownership).
tokenizer *spm_tokenizer(spm_model *m, const char *label);
// The Hugging Face tokenizer.json text for the model (tokenizer_spm_json.c).
char *spm_to_json(const spm_model *m);

#endif
