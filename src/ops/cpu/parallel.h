// parallel.h: when a CPU kernel is worth spreading over threads.
#ifndef MTP_OPS_CPU_PARALLEL_H
#define MTP_OPS_CPU_PARALLEL_H

// Floats (or multiply-adds) of work below which a kernel runs on the calling
// thread: waking the team and joining it costs a few microseconds, more than
// one decoding step's norms, additions and small products take alone.
#ifndef OP_PARALLEL_MIN_WORK  // a build may tune it: make OPT="-O3 -march=native -DOP_PARALLEL_MIN_WORK=N"
#define OP_PARALLEL_MIN_WORK 16384
#endif

#endif
