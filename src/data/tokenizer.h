// tokenizer.h: text <-> token ids behind one small interface, so the byte
// tokenizer and byte-level BPE tokenizers (GPT-2's, or one trained by
// `mtp tokenizer train`) are used the same way by prepare, train, sample and
// generate. A tokenizer is saved as a Hugging Face `tokenizers`
// tokenizer.json, so outside tools can load the same vocabulary.
#ifndef MTP_DATA_TOKENIZER_H
#define MTP_DATA_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

typedef struct tokenizer tokenizer;

// The byte tokenizer: ids 0..255 are the bytes (id = byte value) and 256 is
// "<|endoftext|>"; vocab 257. Never fails except for out of memory.
tokenizer *tokenizer_bytes(void);
// Loads a tokenizer file: a Hugging Face tokenizer.json (byte-level BPE as
// GPT-2's, or SentencePiece-style BPE with byte fallback as Llama's) or a
// SentencePiece tokenizer.model (told apart by their first byte); or, from a
// directory (a data directory or a checkpoint), its tokenizer.model, else its
// tokenizer.json, else GPT-2's encoder.json + vocab.bpe. Rejects anything
// else with an error naming the file and the field.
tokenizer *tokenizer_load(const char *path);
// A SentencePiece BPE model file (Llama 2's tokenizer.model; data/spm.h).
tokenizer *tokenizer_load_spm(const char *path);
// The same from memory; never reads outside buf[0..len).
tokenizer *tokenizer_load_spm_memory(const uint8_t *buf, size_t len, const char *label);
// "bytes" for the byte tokenizer, else tokenizer_load(spec).
tokenizer *tokenizer_open(const char *spec);
// Same from memory; `label` names the source in error messages. Never reads
// outside json[0..len) and never crashes on malformed input.
tokenizer *tokenizer_load_json(const char *json, size_t len, const char *label);
// Writes tokenizer.json to `path` atomically (a unique temporary name beside it, fsync, rename; see
// fs_write_atomic): a symlink is written through, a path that is not a regular file refused.
int tokenizer_save(const tokenizer *t, const char *path);
// The tokenizer.json text (malloc'd, NUL-terminated; free()), or NULL.
char *tokenizer_to_json(const tokenizer *t);

int tokenizer_vocab_size(const tokenizer *t);
// The end-of-text id, written after every document.
int tokenizer_eot(const tokenizer *t);
// A short name for messages ("bytes").
const char *tokenizer_name(const tokenizer *t);
// The id a sequence starts with for models trained with one (SentencePiece's
// <s>, which Llama models expect before a prompt), or -1.
int tokenizer_bos(const tokenizer *t);
void tokenizer_set_bos(tokenizer *t, int32_t id);
// What a document starts after: the BOS id where there is one, else the
// end-of-text id (a new document follows the previous one's end).
int32_t tokenizer_doc_start(const tokenizer *t);
// A prompt's ids: BOS (where the tokenizer has one) and the text's ids,
// appended as tokenizer_encode does. An empty text without BOS gives none.
int tokenizer_encode_prompt(const tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                            size_t *cap);

// Appends the ids of text[0..len) to *ids, growing it with realloc (*n is the
// number of ids, *cap the allocated count; both updated). Special tokens are
// NOT recognized in text: "<|endoftext|>" in a file encodes as its bytes.
int tokenizer_encode(const tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n, size_t *cap);
// Same for text that continues a document already partly encoded (a
// long document cut into pieces): SentencePiece adds no dummy-prefix space
// before it; other tokenizers encode it as tokenizer_encode does.
int tokenizer_encode_continued(const tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                               size_t *cap);
// Same, but the special tokens' texts ("<|endoftext|>") become their ids
// (the longest special token wins where two start at the same byte).
int tokenizer_encode_special(const tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                             size_t *cap);
// Special tokens: their number, and the i-th one's text and id.
int tokenizer_special_count(const tokenizer *t);
const char *tokenizer_special(const tokenizer *t, int i, int32_t *id);
// The most bytes one token decodes to, for any tokenizer mtp loads (BPE
// tokens and special tokens are capped there): the buffer size for
// tokenizer_decode_token.
#define TOKENIZER_MAX_TOKEN_BYTES 4096
// Writes the bytes of token `id` into buf[0..cap) and returns their count, or
// -1 (with an error) for an invalid id or a too small buffer. Special tokens
// decode to their text.
int tokenizer_decode_token(const tokenizer *t, int32_t id, char *buf, size_t cap);
// Appends the bytes of token `id` to a growing text. Returns the bytes
// appended, or -1 with an error (invalid id, out of memory).
int tokenizer_decode_append(const tokenizer *t, int32_t id, strbuf *text);
// The text of a whole sequence, appended to *text. For most tokenizers the
// concatenation of the tokens' bytes; SentencePiece's drops the space its
// dummy prefix put before the first piece and turns byte pieces that do not
// form valid UTF-8 into U+FFFD, as its DecodeIds does.
int tokenizer_decode_ids(const tokenizer *t, const int32_t *ids, size_t n, strbuf *text);
void tokenizer_free(tokenizer *t);

// ---- For tokenizer implementations (tokenizer_bytes.c, later bpe) --------
// Each kind of tokenizer fills in these operations; `impl` is its private
// state, handed back to every call.
typedef struct {
    const char *name;
    int (*encode)(const void *impl, const char *text, size_t len, int32_t **ids, size_t *n, size_t *cap);
    // Text that continues a document (optional: NULL uses encode).
    int (*encode_continued)(const void *impl, const char *text, size_t len, int32_t **ids, size_t *n,
                            size_t *cap);
    int (*decode_token)(const void *impl, int32_t id, char *buf, size_t cap);
    // A whole sequence (optional: NULL concatenates decode_token's bytes).
    int (*decode_ids)(const void *impl, const int32_t *ids, size_t n, strbuf *text);
    // The whole tokenizer.json text, malloc'd.
    char *(*to_json)(const void *impl);
    void (*destroy)(void *impl);
} tokenizer_ops;

// Wraps an implementation; takes ownership of impl (destroyed on failure).
tokenizer *tokenizer_create(const tokenizer_ops *ops, void *impl, int vocab_size, int eot);
// Declares a special token (its text is copied). The end-of-text token must
// be one of them.
int tokenizer_add_special(tokenizer *t, const char *content, int32_t id);
// Makes room for `extra` more ids in an encode output buffer.
int tokenizer_reserve(int32_t **ids, size_t n, size_t *cap, size_t extra);

// GPT-2's bytes_to_unicode: the printable character (a Unicode code point)
// that stands for byte b in byte-level vocabularies, and its inverse (-1 for
// a code point that stands for no byte).
uint32_t tokenizer_byte_to_unicode(uint8_t b);
int tokenizer_unicode_to_byte(uint32_t cp);

// The parsed tokenizer.json of a byte tokenizer (internal to the data layer:
// tokenizer.c parses the JSON and hands the validated document over).
struct cJSON;
tokenizer *tokenizer_bytes_from_json(const struct cJSON *root, const char *label);
// A Llama-type tokenizer.json: BPE with byte_fallback (tokenizer_spm_json.c).
tokenizer *tokenizer_spm_from_json(const struct cJSON *root, const char *label);
// A byte-level BPE tokenizer.json (tokenizer_bpe.c).
tokenizer *tokenizer_bpe_from_json(const struct cJSON *root, const char *label);
// GPT-2's encoder.json + vocab.bpe in directory `dir` (tokenizer_bpe.c).
tokenizer *tokenizer_load_gpt2(const char *dir);
// A byte-level BPE whose ids 0..255 are the bytes, whose merge i (in rank
// order) makes id 256 + i from merges[i][0] and merges[i][1], and whose
// special tokens follow (ids 256 + nmerges + j); the first special token is
// the end of text. The BPE trainer's output (tokenizer_bpe.c).
tokenizer *tokenizer_bpe_from_merges(const int32_t (*merges)[2], int nmerges, const char *const *specials,
                                     int nspecials, const char *label);

#endif
