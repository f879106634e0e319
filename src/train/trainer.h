// trainer.h: a training run, from scratch or resumed from a checkpoint:
// data loading in a resumable order, optimizer steps, validation, JSON-lines
// logs and atomic checkpoints in a run directory (design.md section 3). What
// the run reports (progress, evaluations, saves) goes to an observer, so the
// command line decides how it looks.
#ifndef MTP_TRAIN_TRAINER_H
#define MTP_TRAIN_TRAINER_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "data/loader.h"
#include "model/model.h"
#include "train/dist.h"
#include "train/optimizer.h"
#include "train/run_log.h"
#include "train/step.h"
#include "train/val_loss.h"

// Checkpoint directories are named step_%08ld and sorted by name.
#define MTP_MAX_STEPS 99999999

// The arguments of a run, recorded in every checkpoint's trainer_state.json
// ("args"), so a resumed run continues with the same ones.
typedef struct {
    const char *data;  // data directory: train_*.bin, val_*.bin, tokenizer.json
    const char *out;   // run directory
    const char *log;   // JSON lines, or NULL
    int seq_len, batch, grad_accum;
    long steps;   // total optimizer steps
    long warmup;  // < 0: steps / 20, at most 1000
    double lr, min_lr_ratio, weight_decay, grad_clip;
    uint64_t seed;
    head_schedule schedule;
    int eval_every, eval_batches, save_every, keep_last;
    // a new run whose weights come from this checkpoint, its heads remapped
    // to cfg->n_future (see trainer_open); NULL: initialized from seed
    const char *init_from;
    // train only the heads past head 1 (and the final norm and lm_head with
    // train_unembedding): the embedding, trunk and head 1 stay as they are
    int freeze_trunk, train_unembedding;
} train_options;

struct trainer;

// The run's reports, each optional.
typedef struct {
    void (*on_start)(void *user, const struct trainer *t);
    void (*on_step)(void *user, const struct trainer *t, const step_result *r, double seconds,
                    double eta_seconds);
    void (*on_eval)(void *user, const struct trainer *t, const val_result *r);
    void (*on_save)(void *user, const struct trainer *t, double seconds);
    void (*on_note)(void *user, const char *message);  // something the user should know
    void *user;
} train_observer;

typedef struct trainer {
    train_options o;
    char ckpt[4096];  // the checkpoint resumed from ("" for a new run)
    mtp_model model;
    model_work work;
    adamw_state opt;
    optim_config optim;
    data_loader train, val;
    int have_val;
    char *tokenizer_json;   // the data's tokenizer, copied into every checkpoint
    run_log log;            // --log (fd -1: none)
    int lock_fd;            // OUT/.lock, held while the run is open (0: none)
    long step, first_step;  // completed steps; the step the run started from
    double tokens_seen;     // training tokens consumed (survives changes of --batch on resume)
    double timed_seconds;   // step time after the first (warm-up) step
    long timed_steps;
    volatile sig_atomic_t *stop;  // set asynchronously (Ctrl-C): save and return after this step
    train_observer obs;
    dist_reducer *reducer;  // with several processes (train/dist.h); NULL alone
    double comm_seconds;    // time the timed steps spent waiting on other processes
} trainer;

// Under mpirun (train/dist.h) every process opens the same run: each step
// takes P x grad_accum micro-batches in the order one process with that
// much accumulation would, each process computing its own grad_accum of
// them; process 0 alone writes logs and checkpoints.
//
// Opens a run: with `resume` (a run or checkpoint directory, through the
// model loader) its weights, moments and data position; with o->init_from a
// model of shape cfg (the source's, with cfg->n_future heads) whose
// embedding, trunk, final norm and lm_head are the source's, head k is the
// source's head k, and heads past the source's count start as copies of its
// head 1; else a model of shape `cfg` (vocab_size 0 = the data's tokenizer)
// initialized from o->seed. Checks the data against
// the vocabulary, the memory the run needs, and that o->out is writable and
// holds no other trajectory, before any step. obs may be NULL.
int trainer_open(trainer *t, const train_options *o, const mtp_config *cfg, const char *resume,
                 const train_observer *obs);
// Steps until o.steps (or *t->stop), evaluating and saving as asked; the
// final checkpoint is written unless a resumed run made no step.
int trainer_run(trainer *t);
// Under mpirun: every process compares what it opened (the model's shape, the
// training flags, the starting step, the data, the weights) with process 0's
// and all fail with one message naming the first difference (agreement.c).
// trainer_run calls it before the first step; 0 in a single process.
int trainer_check_agreement(const trainer *t);
void trainer_close(trainer *t);

// The "args" object of trainer_state.json (cJSON, free with cJSON_Delete).
struct cJSON *train_options_to_json(const train_options *o);
// The warmup o->warmup stands for.
long train_warmup(const train_options *o);

#endif
