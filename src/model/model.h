// model.h: the multi-token prediction network (design.md section 1): a
// trunk of L-n blocks, n parallel head blocks reading the trunk's raw
// output z, one shared final RMSNorm and one shared unembedding. Forward,
// backward and the two head schedules live here; the model knows shapes,
// not files, flags or devices. Training, evaluation and sampling all run
// through these functions.
#ifndef MTP_MODEL_MODEL_H
#define MTP_MODEL_MODEL_H

#include <stdint.h>

#include "model/config.h"
#include "model/params.h"

typedef enum {
    SCHEDULE_SEQUENTIAL,  // the paper's Figure 2: one head's forward+backward at a time
    SCHEDULE_NAIVE,       // every head's activations and logits alive, then one backward
} head_schedule;

// Activations one block keeps for its backward; N = B*T rows.
typedef struct {
    float *ln1, *rstd1;  // (N, d), (N): RMSNorm before attention
    float *q, *k, *v;    // (N, H*hd), (N, Hkv*hd) x2, after RoPE
    float *lse;          // (B, H, T) log-sum-exp of each query's attention scores
    float *atty;         // (N, H*hd) attention output before o_proj
    float *h;            // (N, d) residual after attention
    float *ln2, *rstd2;  // (N, d), (N): RMSNorm before the MLP
    float *gate, *up;    // (N, f) x2
    float *act;          // (N, f) silu(gate) * up
    float *out;          // (N, d) block output
} block_acts;

// Keys and values of every block (trunk and heads) for one sequence, so a
// decoder runs only the new tokens: k, v (L, Hkv, capacity, hd), after RoPE:
// each head's positions together (op_kv_heads). len positions are filled;
// lowering len forgets (rolls back) the rest. capacity <= the model's context:
// a short generation on a long-context model holds (and clears) only what it
// can reach.
typedef struct {
    float *k, *v;
    int len;
    int capacity;   // positions each head's run holds
    int on_device;  // k, v are the ops' device memory
} kv_cache;

// The weights of a model: its shape, its parameters and the RoPE tables
// derived from the shape. Read-only once loaded, so any number of decoders,
// scorers and trainers may share one (a trainer's optimizer is the one
// writer, between steps). Work state lives apart, in model_work.
typedef struct {
    mtp_config cfg;
    param_set params;
    float *rope_cos, *rope_sin;  // (Tmax, hd/2)
    // The matrices (q, k, v, o, gate, up, down, lm_head) in the decode layout
    // of ops.h instead of row-major: forwards only (model/layout.c).
    int decode_layout;
    // Or int8, one scale per 32 values (model/quant.c): params then holds the
    // norms and the embedding only; forwards only.
    int q8;
    // arenas; per kind, layers stacked, each in op_q8_pack's layout (ops.h)
    int8_t *q8_weights, *q8_w[P_KINDS];
    float *q8_scales, *q8_s[P_KINDS];
} mtp_model;

// One consumer's working memory for a model: activations, gradients (for a
// trainer) and scratch, for batches of up to max_B x max_T. Each decoder,
// scorer or trainer owns one; the weights are only read through `model`.
enum { MODEL_GRADS_OUTPUT = -1, MODEL_GRADS_EMBED = -2 };
// The tensors (params_named indices first..last) of a gradient part that
// model_work.grads_ready reports.
void model_grads_part_tensors(const mtp_config *c, int part, int *first, int *last);

typedef struct {
    const mtp_model *model;
    mtp_config cfg;   // the model's shape, copied for brevity
    param_set grads;  // with_grads only: same layout as the parameters
    int max_B, max_T, head_slots, with_grads;
    head_schedule schedule;
    // Told, during model_forward_backward, each time a part of the gradients
    // is final for this batch (NULL: nobody listens): 0 <= part < L is block
    // `part`'s nine tensors, L + k - 1 linear head k's matrix,
    // MODEL_GRADS_OUTPUT the final norm and lm_head, MODEL_GRADS_EMBED the
    // embedding (model_grads_part_tensors). The parts come in the same order on
    // every call, so processes can start reducing them while the backward
    // goes on (train/dist.c).
    void (*grads_ready)(void *user, int part);
    void *grads_user;
    // Frozen parameters get no gradients, and what only they need is not
    // computed (fine-tuning new heads on a fixed model): freeze_trunk = the
    // embedding, the trunk blocks and head 1's block (head 1's loss is still
    // measured, its backward skipped, and nothing flows into the trunk);
    // freeze_output = the final norm and lm_head.
    int freeze_trunk, freeze_output;
    float *work;        // one arena for everything below
    float *x0;          // (N, d) embedding output
    block_acts *trunk;  // [L-n]
    block_acts *heads;  // [head_slots] (model_head_slots); a linear head has only `out`
    float *head_norm;   // [head_slots] x (N, d): final-norm output
    float *head_rstd;   // [head_slots] x (N)
    float *head_last;   // (n, d): heads' final-norm outputs at one row, unembedded together
    // inference only: every head's final-norm output at each of up to verify_rows
    // rows (n, verify_rows, d), and the rows gathered for one unembedding pass
    // (verify_rows + n, d); see model_forward_verify
    float *head_rows, *head_gather;
    int verify_rows;
    float *logits;      // sequential: (chunk, V); naive: (n, N, V)
    float *row_losses;  // (n, N): head k's in row k-1
    int32_t *inputs;    // (N)
    // with a model on a device (model_to_device), every buffer above is the
    // device's memory; these host copies receive what the host reads
    int on_device;
    float *host_row_losses;  // (n, N)
    int32_t *host_tokens;    // (n, N): inputs, or every head's targets, gathered for one upload
    float *host_logits;      // (chunk, V), made when top-1 accuracy is asked
    int32_t *targets;        // (n, N): head k's in row k-1
    int logit_chunk;         // rows of logits computed at once
    // backward scratch, shared by all blocks since blocks go backward one by one
    float *head1_rows;  // inference, causal heads: head 1's output (N, d) (model_catch_up_rows)
    float *dchain;      // chained heads: (N, d) d(output) of the head before the one going backward
    float *dz, *dres, *dh, *datty, *dq, *dk, *dv, *dln, *dact, *dgate, *dup, *dnorm_out;
    float *attn_scratch;  // attn_threads x op_attention_scratch_floats(hd)
    int attn_threads;
    float *panel_scratch;  // decode layout: op_packed_scratch_floats(N, max in_dim)
    int8_t *q8_x;          // int8 model: a product's input rows quantized (N, max in_dim)
    float *q8_xs;          // ... and their scales (N)
    int32_t *q8_xaux;      // ... and their side data (N, op_q8_side_ints(max in_dim); ops.h)
} model_work;

// Allocates zeroed parameters and the RoPE tables for cfg (validated).
int model_create(mtp_model *m, const mtp_config *cfg);
void model_free(mtp_model *m);
// Moves a created (loaded, initialized) model's parameters and RoPE tables to
// the ops' current device (op_use_device), freeing their host memory; nothing
// to do on the CPU. Work state allocated for it afterwards (model_work_alloc,
// kv_cache_alloc, optimizer moments) lives there too, and what the host reads
// comes back through op_download. A model in the decode layout or int8 stays
// on the CPU: -1 with the error set.
int model_to_device(mtp_model *m);
// A host copy of the parameters, wherever they are (for checkpoints):
// allocates host (params_alloc) and fills it.
int model_params_to_host(const mtp_model *m, param_set *host);

// Rearranges the matrices of a loaded model into the decode layout, for
// decoding at the memory's speed (model/layout.c). Every forward keeps
// working (a prompt through BLAS on unpacked panels); training, gradients and
// saving need the row-major layout and refuse such a model. Needs the
// matrices' size again while it copies. A model whose widths (d, H*hd, f)
// are not multiples of 16 stays row-major (decode_layout stays 0).
int model_use_decode_layout(mtp_model *m);
// 1 when cfg's widths allow the decode layout (multiples of 16).
int model_decode_layout_fits(const mtp_config *cfg);
// A zeroed parameter arena with the matrices in the decode layout.
int model_alloc_decode_params(param_set *p, const mtp_config *cfg);
// A model created straight in the decode layout where cfg allows it (else
// row-major, like model_create), for a loader that packs each matrix as it
// reads it (model_pack_matrix: w row-major (out, in)); no row-major copy of
// the whole model ever exists.
int model_create_decoding(mtp_model *m, const mtp_config *cfg);
void model_pack_matrix(mtp_model *m, param_kind kind, int layer, const float *w);
// Block `layer`'s matrix of `kind` (layer 0 for P_LM_HEAD), in the model's layout.
const float *model_matrix(const mtp_model *m, param_kind kind, int layer);
// 1 for the kinds that are matrices multiplied by activations (not the embedding).
int model_kind_is_matrix(param_kind kind);
// (out, in) of one block's matrix of `kind`, or of lm_head.
void model_matrix_shape(const mtp_config *c, param_kind kind, int *out, int *in);
// Values (out x in) of the largest such matrix: the scratch a loader or a
// converter needs to go through the matrices one at a time.
size_t model_largest_matrix(const mtp_config *c);

// Int8 matrices (model/quant.c). model_use_q8 gives a loaded model int8
// storage for its matrices, quantizing the float32 ones (quantize = 1) or
// leaving them for a loader to fill (0), and drops the float32 matrices.
// Every input width must be a multiple of 32: model_matrix_rows_fit_q8 says
// (and why not, into why).
int model_matrix_rows_fit_q8(const mtp_config *c, char *why, size_t cap);
int model_use_q8(mtp_model *m, int quantize);
// For a loader: m (its config set, no parameters yet) gets the float32 kinds
// that stay float32 and zeroed int8 storage, without ever holding float32
// matrices (model_create_q8).
int model_alloc_q8_params(mtp_model *m);
int model_create_q8(mtp_model *m, const mtp_config *cfg);
// Block `layer`'s int8 matrix of `kind` as op_matmul_q8 reads it (packed).
void model_q8_matrix(const mtp_model *m, param_kind kind, int layer, const int8_t **q, const float **scales);
// The same from / into row-major q (O, I) and scales (O, I / 32), as files
// hold them.
void model_set_q8_matrix(mtp_model *m, param_kind kind, int layer, const int8_t *q, const float *scales);
void model_get_q8_matrix(const mtp_model *m, param_kind kind, int layer, int8_t *q, float *scales);

// Allocates w's buffers for batches of up to B x T of model m (which must
// outlive w). with_grads = 0 gives an inference/evaluation work state (no
// gradients, no backward scratch).
int model_work_alloc(model_work *w, const mtp_model *m, int B, int T, head_schedule schedule, int with_grads);
void model_work_free(model_work *w);
// Head activation slots: 1 (sequential), or n for the naive schedule and for
// training chained heads (causal, anticausal), whose backward needs them all.
int model_head_slots(const mtp_config *cfg, head_schedule schedule, int with_grads);
// Rows of logits computed at once for N rows (the unembedding's chunk): the
// fewest chunks of at most MODEL_LOGIT_CHUNK_FLOATS logits (one row at least),
// of equal size but the last.
#define MODEL_LOGIT_CHUNK_FLOATS ((size_t)32 << 20)
int model_logit_chunk_rows(const mtp_config *cfg, size_t N);
// Bytes of the buffers model_work_alloc would allocate (gradients excluded).
size_t model_work_bytes(const mtp_config *cfg, int B, int T, head_schedule schedule, int with_grads);
void model_zero_grads(model_work *w);

// One micro-batch of training: rows (B, T+n) tokens; inputs are rows[:, :T],
// head k's targets rows[:, k:k+T]. Accumulates into w->grads the gradient of
// grad_scale * sum_k loss_k. head_losses[k-1] = mean cross-entropy of head k.
int model_forward_backward(model_work *w, const int32_t *rows, int B, int T, float grad_scale,
                           double *head_losses);
// The same losses without gradients (evaluation); head_top1 (may be NULL)
// gets each head's top-1 accuracy (the rate at which its argmax is the target).
int model_forward_loss(model_work *w, const int32_t *rows, int B, int T, double *head_losses,
                       double *head_top1);
// Logits at the last of T positions for heads 1..n_heads of one sequence
// tokens (T): logits (n_heads, V). Used by sampling.
int model_forward_last_logits(model_work *w, const int32_t *tokens, int T, int n_heads, float *logits);

// capacity positions (1..max_seq_len; 0: max_seq_len), zeroed, on the ops' current device
int kv_cache_alloc(kv_cache *cache, const mtp_config *cfg, int capacity);
void kv_cache_free(kv_cache *cache);
// Runs tokens (T) at positions cache->len .. len+T-1 through the trunk and
// heads 1..n_heads, appends their keys and values and advances cache->len.
// Heads past n_heads get no cache entries: use one n_heads for a sequence.
// logits (n_heads, last_rows, V): the last last_rows positions (0 = all T).
// exact_rows uses kernels whose per-row results do not depend on T, so a
// forward of K+1 tokens reproduces K+1 forwards of one token bit for bit
// (speculative decoding relies on it); otherwise BLAS (prefill). The work
// buffers must hold B = 1 and T rows.
int model_forward_cached(model_work *w, kv_cache *cache, const int32_t *tokens, int T, int n_heads,
                         int last_rows, int exact_rows, float *logits);
// Speculative decoding's verification forward: tokens (T <= w->verify_rows) at
// positions cache->len.. through the trunk and heads 1..n_heads (n_heads >= 2),
// all with exact-rows kernels, every row's cache entries written (lower
// cache->len afterwards to drop rejected rows) and cache->len advanced.
// logits (T + n_heads - 1, V) from one pass over the unembedding: rows 0..T-1
// are head 1's at each row; row T + k - 2 is head k's at row draft_row. So the
// drafts for the next step come free when the verifier accepts up to
// draft_row; for another row call model_draft_logits.
int model_forward_verify(model_work *w, kv_cache *cache, const int32_t *tokens, int T, int n_heads,
                         int draft_row, float *logits);
// What heads 2.. read, at the last forward's T rows (T, d; valid until the
// next forward): the trunk's output z, or for causal heads head 1's output.
// A decoder keeps them to run heads later over positions they skipped.
const float *model_catch_up_rows(const model_work *w);
// Heads first..last over `rows` positions pos0.. (rows <= w->max_T), where
// head `first` reads z (rows, d): the trunk's output, or for causal heads
// head first-1's output (model_catch_up_rows for first = 2). Writes those
// heads' cache rows only, and their logits at the last row: logits
// (last-first+1, V), one unembedding pass. Catches up heads a decoder left
// out of some forwards; anticausal heads cannot (they all run every forward).
int model_forward_heads_from(model_work *w, const kv_cache *cache, const float *z, int pos0, int rows,
                             int first, int last, float *logits);
// After model_forward_verify: heads 2..n_heads' logits at row `row` of its T
// rows, logits (n_heads - 1, V), one pass over the unembedding.
int model_draft_logits(model_work *w, int n_heads, int T, int row, float *logits);

#endif
