// work_steal.h: a loop's items shared out among a team's threads, each a
// contiguous range taken from its front, and a thread whose range is done
// taking the others' items from their back ends. A static split leaves one
// core idle while the other finishes when their speeds differ (memory-bound
// decoding products on two cores of an Intel Xeon: summed over a 22-24 ms
// int8 step, one core waited 1.2-1.7 ms for the other; 0.6-0.7 ms with
// stealing); stealing from the back keeps each thread's reads one stream for
// as long as it lasts.
#ifndef MTP_OPS_CPU_WORK_STEAL_H
#define MTP_OPS_CPU_WORK_STEAL_H

#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>

// One thread's items [front, back), in one word so that the owner and a
// thief agree on who takes the last one. A cache line each; an array of
// omp_get_max_threads() of them serves a team.
typedef struct {
    _Alignas(64) _Atomic uint64_t range;  // front | back << 32
} steal_range;

// Called by every thread of the team, inside the parallel region: thread t
// of T owns items [count * t / T, count * (t + 1) / T); returns once every
// thread's range is set (a barrier), so that none steals from an unset one.
static inline void steal_start(steal_range *r, int count) {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    const uint64_t front = (uint64_t)((int64_t)count * t / T),
                   back = (uint64_t)((int64_t)count * (t + 1) / T);
    atomic_store(&r[t].range, front | back << 32);
#pragma omp barrier
}

// The item at the front (from_back = 0) or the back of r, or -1 if r is empty.
static inline int steal_take(steal_range *r, int from_back) {
    uint64_t old = atomic_load(&r->range), next;
    int item;
    do {
        const uint32_t front = (uint32_t)old, back = (uint32_t)(old >> 32);
        if (front >= back) return -1;
        item = (int)(from_back ? back - 1 : front);
        next = from_back ? (uint64_t)front | (uint64_t)(back - 1) << 32 : old + 1;
    } while (!atomic_compare_exchange_weak(&r->range, &old, next));
    return item;
}

// The calling thread's next item of the team's ranges r (steal_start): its
// own front, else another's back (*stolen = 1); -1 when every range is done.
static inline int steal_next(steal_range *r, int *stolen) {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    *stolen = 0;
    if (T == 1) {  // alone (a product too small to share out): no atomic read-modify-write
        const uint64_t range = atomic_load_explicit(&r->range, memory_order_relaxed);
        if ((uint32_t)range >= (uint32_t)(range >> 32)) return -1;
        atomic_store_explicit(&r->range, range + 1, memory_order_relaxed);
        return (int)(uint32_t)range;
    }
    int item = steal_take(&r[t], 0);
    for (int d = 1; item < 0 && d < T; d++) {
        item = steal_take(&r[(t + d) % T], 1);
        *stolen = 1;
    }
    return item;
}

#endif
