// parallel.h: when a CPU kernel is worth spreading over threads.
#ifndef MTP_OPS_CPU_PARALLEL_H
#define MTP_OPS_CPU_PARALLEL_H

// Floats (or multiply-adds) of work below which a kernel runs on the calling
// thread: waking the team and joining it costs a few microseconds, as long
// as one thread takes for some 10^5 multiply-adds. Measured on a d=128
// model's decoding (bench-decode, 2 threads): 9.8k tokens/s with 16384,
// 13.8k with 262144, the same as one thread.
#ifndef OP_PARALLEL_MIN_WORK  // a build may tune it: make OPT="-O3 -march=native -DOP_PARALLEL_MIN_WORK=N"
#define OP_PARALLEL_MIN_WORK 262144
#endif

#endif
