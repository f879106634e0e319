// dist.h: data-parallel training over MPI processes (`mpirun -np P mtp
// train`), ZeRO stage 1: every process holds the whole model and computes
// the gradients of its own micro-batches; the gradients are reduce-scattered
// (each process receives the sums for its shard of the parameter arena, in
// buckets that start while the backward is still running), each process
// updates its shard with the AdamW moments of that shard only, and the new
// weights are all-gathered. Without MPI (a build with MPI=0, or a process
// not started by mpirun) this is one process of one, and every call below is
// the single-process case.
#ifndef MTP_TRAIN_DIST_H
#define MTP_TRAIN_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

// Starts MPI if this process was launched by mpirun (OpenMPI's or PMIx's
// rank variables are set), else nothing. Call once before anything else.
int dist_start(void);
// Ends MPI (after the last collective); on failure with other processes
// running, ends them all (MPI_Abort) so no process waits forever.
void dist_finish(int failed);
int dist_rank(void);
int dist_size(void);
// The rank in the launcher's environment, before dist_start (-1: not under
// mpirun): main() silences every process but rank 0.
int dist_launch_rank(void);
// The cores of this machine divided among the processes mpirun started on
// it (at least 1): the thread count when none is asked for.
int dist_threads_per_process(void);

// The shards of a parameter arena of `total` floats: process r owns
// [lo(r), lo(r + 1)), cut at multiples of 16 floats.
size_t dist_shard_lo(size_t total, int rank);

// One step's gradient reduction for a model's work state.
typedef struct dist_reducer dist_reducer;
dist_reducer *dist_reducer_new(model_work *w);
void dist_reducer_free(dist_reducer *r);
// Makes the work state report its gradient parts to the reducer (for the
// last micro-batch of a step) or stop reporting.
void dist_reducer_attach(dist_reducer *r, int on);
// Waits until every part has been reduced: this process's shard of
// w->grads holds the sums over all processes; *seconds: the time waited.
// -1 with the error set if a reduction failed.
int dist_reducer_wait(dist_reducer *r, double *seconds);
// How gradients and weights cross processes, for reports: "MPI", "device
// memory (NCCL)", or "host copies and MPI" with the reason the device's own
// collectives were not used.
const char *dist_reducer_path(const dist_reducer *r);
// Copies every process's shard of the parameter arena to all (all-gather).
int dist_allgather(float *arena, size_t total);
// The same for an arena on a device (the reducer's work state is there):
// through the reducer's host copy. A device's gradients are reduced the same
// way, down and up, when the backward is done: the same sums as on the CPU.
int dist_allgather_staged(dist_reducer *r, float *arena, size_t total);
// Gathers the shards (shard = this process's [lo, hi) part) into full[0..total)
// on rank 0 (full may be NULL elsewhere).
int dist_gather(const float *shard, float *full, size_t total);
// Sums x[0..n) over all processes (in place, on every process).
int dist_sum(double *x, int n);
// Compares values[0..n) of every process with process 0's: the index of the
// first value some process holds differently (*rank: the lowest such
// process), -1 when every process holds the same values, -2 with the error
// set if the exchange failed. Every process gets the same answer.
int dist_first_difference(const uint64_t *values, int n, int *rank);
// The largest of each process's flag.
int dist_any(int flag);
int dist_barrier(void);

#endif
