// mtp.h: the public interface of libmtp, multi-token prediction language
// models (Gloeckle et al. 2024) in C: a shared trunk feeds n parallel head
// blocks, head k predicts token t+k through one shared final norm and
// unembedding, and the extra heads draft tokens that head 1 verifies
// (self-speculative decoding).
//
// Build with -I<mtp>/include and link -L<mtp>/build -lmtp -lopenblas -lcjson
// -lpcre2-8 $(pkg-config --libs ompi-c) -lm -fopenmp (OpenMPI's libraries
// only for a library built with it, the default; make MPI=0 builds without).
// This header is all a program needs: the library's internals stay in src/.
//
// Conventions: every function that can fail returns -1 (or NULL) and leaves
// a one-line message naming the file, flag or value in mtp_last_error().
// Objects are opaque and freed by their own *_free or mtp_close function;
// strings and arrays a function returns are malloc'd and freed with free().
// One loaded model may be shared by any number of generators, each with its
// own working memory.
#ifndef MTP_H
#define MTP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MTP_VERSION "0.2.0"

// Most future-token heads a model may have.
#define MTP_MAX_FUTURE 64

// What a head is (the paper's appendix B, Table S4): a transformer block, or
// one d x d matrix on its input ("linear probing" of the residual stream).
// Linear heads have no block, so all L blocks are the trunk.
typedef enum { MTP_HEAD_TRANSFORMER = 0, MTP_HEAD_LINEAR = 1 } mtp_head_type;
// What each head reads: parallel heads all read the trunk's output z; causal
// head k reads head k-1's output (head 1 reads z); anticausal head k reads
// head k+1's (head n reads z), so the farthest token is predicted first.
typedef enum { MTP_HEAD_PARALLEL = 0, MTP_HEAD_CAUSAL = 1, MTP_HEAD_ANTICAUSAL = 2 } mtp_head_order;

// The shape of a model (design.md section 1).
typedef struct {
    int vocab_size;    // V
    int dim;           // d
    int n_head;        // H
    int n_kv_head;     // Hkv, divides H
    int ffn_dim;       // f
    int n_layer;       // L: trunk blocks (L - n) + head blocks (n); linear heads: L trunk blocks
    int n_future;      // n: head k predicts token t + k
    int max_seq_len;   // Tmax: longest context
    float norm_eps;    // RMSNorm epsilon (1e-5)
    float rope_theta;  // RoPE base (10000)
    int head_type;     // mtp_head_type (0: transformer blocks)
    int head_order;    // mtp_head_order (0: parallel)
} mtp_config;

// The message of the last failure on this thread ("" if none).
const char *mtp_last_error(void);
// "0.2.0"
const char *mtp_version(void);
// CPU threads for everything that follows (default: all cores).
void mtp_set_threads(int threads);
// Where the models loaded and trained afterwards run: "cpu" (the default),
// "cuda" (an NVIDIA GPU, in a build with make CUDA=1) or "cpu-check" (the CPU
// kernels behind the device interface, for tests; see docs/gpu.md). 0, or -1
// with the error set (an unknown name, no CUDA in this build, no usable GPU).
int mtp_set_device(const char *name);

// ---- data ----------------------------------------------------------------------

// Turns text files into a data directory of token shards (train_*.bin,
// val_*.bin, tokenizer.json), as `mtp prepare` does.
typedef struct {
    const char *const *inputs;  // files or directories (walked in name order)
    int num_inputs;
    const char *out_dir;        // created if missing
    const char *tokenizer;      // "bytes" (default when NULL), or a tokenizer.json / directory
    const char *doc_separator;  // NULL: each file is one document
    double val_fraction;        // share held out for validation, [0, 0.9]
    uint64_t seed;              // of the train/val assignment
} mtp_prepare_options;
void mtp_prepare_options_default(mtp_prepare_options *o);
int mtp_prepare(const mtp_prepare_options *o);

// ---- training ---------------------------------------------------------------------

// A training run, as `mtp train` runs it (checkpoints in out_dir/step_NNNNNNNN/).
typedef struct {
    const char *data_dir;  // made by mtp_prepare
    const char *out_dir;   // run directory
    const char *resume;    // NULL for a new run, else a run or checkpoint directory
    mtp_config model;      // a new run's shape; vocab_size 0 = the data's tokenizer; n_kv_head
                           // 0 = n_head; ffn_dim 0 = the Llama rule; max_seq_len 0 = seq_len
    int seq_len, batch, grad_accum;
    long steps;   // total optimizer steps
    long warmup;  // -1: steps / 20, at most 1000
    double lr, min_lr_ratio, weight_decay, grad_clip;
    uint64_t seed;
    int eval_every, eval_batches, save_every, keep_last;
    const char *log;  // JSON lines, or NULL
    // Called after each step with its number and loss (may be NULL).
    void (*on_step)(void *user, long step, double loss);
    void *user;
} mtp_train_options;
void mtp_train_options_default(mtp_train_options *o);
int mtp_train(const mtp_train_options *o);

// ---- a trained model -------------------------------------------------------------------

typedef struct mtp_checkpoint mtp_checkpoint;

// Loads a checkpoint directory, or a run directory's newest checkpoint:
// config, weights and tokenizer.
mtp_checkpoint *mtp_load(const char *path);
void mtp_close(mtp_checkpoint *m);
const mtp_config *mtp_model_config(const mtp_checkpoint *m);
// The checkpoint directory it was loaded from.
const char *mtp_model_dir(const mtp_checkpoint *m);

// The token ids of text (no special tokens read from it): *ids (free()) gets *n ids.
int mtp_encode(const mtp_checkpoint *m, const char *text, size_t len, int32_t **ids, size_t *n);
// The text of ids (free()), *len bytes (may hold bytes that are not UTF-8).
char *mtp_decode(const mtp_checkpoint *m, const int32_t *ids, size_t n, size_t *len);

// Each head's mean cross-entropy (nats) over the n - n_future predictions of
// tokens[0..n) it can make, head k predicting token t + k from tokens[0..t];
// n_future < n <= max_seq_len + n_future. head_losses gets n_future values.
int mtp_loss(const mtp_checkpoint *m, const int32_t *tokens, size_t n, double *head_losses);

// ---- generation ----------------------------------------------------------------------------

// Values of mtp_generate_options.speculative besides a count of drafting heads.
#define MTP_SPECULATIVE_AUTO (-1)  // chosen step by step from measured step times and acceptance
#define MTP_SPECULATIVE_ALL (-2)   // every drafting head (n_future - 1)

typedef struct {
    int max_new;        // tokens at most
    int speculative;    // drafting heads; 0 = plain, or MTP_SPECULATIVE_AUTO / _ALL; under auto,
                        // samples depend on timing, not only on the seed
    float temperature;  // 0 = greedy: speculative output is then exactly plain output
    int top_k;          // 0 = all tokens
    float top_p;        // the smallest set of tokens with probability >= top_p: 1 = all tokens, 0 = the
                        // most likely one only (as top_k = 1)
    uint64_t seed;
    const char *stop;  // generation ends before this text (NULL: none)
} mtp_generate_options;
void mtp_generate_options_default(mtp_generate_options *o);

typedef struct {
    char *text;  // what was generated (free())
    size_t len;
    long tokens, forwards;          // tokens generated; model forwards after the prompt's
    double seconds;                 // prefill + decoding
    double accept[MTP_MAX_FUTURE];  // each drafting head's acceptance rate
    const char *stop_reason;        // "max-new", "end-of-text", "stop", "context"
} mtp_generation;

typedef struct mtp_generator mtp_generator;

// A generator over m (which must outlive it) with its own KV cache.
mtp_generator *mtp_generator_new(const mtp_checkpoint *m, const mtp_generate_options *o);
void mtp_generator_free(mtp_generator *g);
// Continues prompt (an empty one starts from end-of-text); a prompt that
// leaves no room in the context is an error.
int mtp_generate(mtp_generator *g, const char *prompt, size_t len, mtp_generation *out);

#ifdef __cplusplus
}
#endif

#endif
