// optimizer.h: AdamW with PyTorch semantics, the learning-rate schedule
// (linear warmup, cosine decay to a floor) and global-norm clipping.
#ifndef MTP_TRAIN_OPTIMIZER_H
#define MTP_TRAIN_OPTIMIZER_H

#include "model/model.h"

typedef struct {
    double lr;            // peak learning rate
    double min_lr_ratio;  // cosine decays to lr * min_lr_ratio
    long warmup;          // linear warmup steps
    long total_steps;     // the cosine ends here
    double beta1, beta2, eps, weight_decay;
    double grad_clip;  // global-norm clip; 0 = off
} optim_config;

// PyTorch's AdamW betas and eps, GPT-style decay, clipping and floor.
#define OPTIM_DEFAULT_MIN_LR_RATIO 0.1
#define OPTIM_DEFAULT_WEIGHT_DECAY 0.1
#define OPTIM_DEFAULT_GRAD_CLIP 1.0
void optim_config_defaults(optim_config *o);

// AdamW moments (exp_avg, exp_avg_sq). A process updates the part [lo, hi)
// of the parameter arena: all of it alone, its shard under data-parallel
// training (ZeRO stage 1, train/dist.c), where it holds the moments of its
// shard only.
// With frozen tensors (fine-tuning some of a model) only the trainable
// tensors have moments, packed one after the other: moff[i] is tensor i's
// (params_named order) first moment element, or ADAMW_FROZEN.
typedef struct {
    param_set m, v;  // the parameters' layout (whole-arena state); empty when sharded or packed
    float *ms, *vs;  // the moments of arena elements lo..hi-1 (m.memory + lo when whole), or packed
    size_t lo, hi;
    size_t *moff;   // packed: per tensor; NULL otherwise
    size_t packed;  // packed: moment elements (the trainable parameters)
    int on_device;  // packed ms, vs are the ops' device memory (whole-arena: m.on_device)
} adamw_state;
#define ADAMW_FROZEN ((size_t)-1)

int adamw_alloc(adamw_state *s, const mtp_config *cfg);
// Moments for arena elements [lo, hi) only, zeroed.
int adamw_alloc_shard(adamw_state *s, const mtp_config *cfg, size_t lo, size_t hi);
// Moments for the tensors with trainable[i] != 0 only (params_named order),
// zeroed; the others are never updated. arena_total: the parameter arena's
// size (the range whose gradients make the norm).
int adamw_alloc_trainable(adamw_state *s, const mtp_config *cfg, const unsigned char *trainable,
                          size_t arena_total);
void adamw_free(adamw_state *s);

// LR for 0-based step s: warmup lr*(s+1)/W for s < W, then
// lr*(r + (1-r)*0.5*(1+cos(pi*(s-W)/max(1, S-W)))).
double optim_lr_at(const optim_config *o, long step);
// Global L2 norm of all gradients.
double optim_grad_norm(const param_set *grads);
// Sum of squares of the gradients in arena elements [lo, hi).
double optim_grad_sum_squares(const param_set *grads, size_t lo, size_t hi);
// Applies one update at 0-based step `step` with the given lr to the
// parameters in s's range [lo, hi): clips by o->grad_clip using grad_norm
// (of all gradients), decays 2-D matrices only. grads: the parameters'
// layout (a trainer's model_work).
void adamw_update(adamw_state *s, mtp_model *m, const param_set *grads, const optim_config *o, long step,
                  double lr, double grad_norm);

#endif
