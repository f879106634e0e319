// emu_runtime.cpp: the host emulation's kernel launches (see cuda_runtime.h):
// blocks, barriers, warp shuffles and votes, shared memory, launch checks, and
// the failure record tests read (emu_take_failure).
//
// A block's threads are fibers on the launching thread, each on its own stack, run in order of their index
// until they finish or wait: at a barrier a thread waits until every thread it names has arrived, so a kernel
// that reads what another thread wrote without a barrier between reads it
// before it is written, and fails its test. Threads that wait at barriers no
// other thread reaches are reported (a deadlock on a GPU). A kernel whose first
// block meets no barrier, shuffle or vote runs its later blocks' threads as
// plain calls, one after another (the same results: its threads never wait);
// should it meet one in a later block, that is reported as a failure.
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#include <map>
#include <mutex>
#include <vector>

#include "ops/cuda/cuda_common.h"

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ASAN 1
#endif
#endif
#ifdef EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

// ---- switching stacks: a few instructions on x86-64 (ucontext elsewhere, which
// also saves the signal mask: a system call per switch) ----
#if defined(__x86_64__)
struct context {
    void *sp;
};
// Saves the callee-saved registers on the current stack and its pointer in
// *from, then continues on the stack `to`, as saved by an earlier call or made
// by start_context.
extern "C" void emu_jump(void **from, void *to);
asm(".text\n"
    ".globl emu_jump\n"
    ".type emu_jump, @function\n"
    "emu_jump:\n"
    "    pushq %rbp\n    pushq %rbx\n    pushq %r12\n    pushq %r13\n    pushq %r14\n    pushq %r15\n"
    "    movq %rsp, (%rdi)\n"
    "    movq %rsi, %rsp\n"
    "    popq %r15\n    popq %r14\n    popq %r13\n    popq %r12\n    popq %rbx\n    popq %rbp\n"
    "    ret\n"
    ".size emu_jump, .-emu_jump\n");
static void jump(context &from, context &to) {
    emu_jump(&from.sp, to.sp);
}
// c enters fn (which must never return) on the stack [stack, stack + size).
static void start_context(context &c, unsigned char *stack, size_t size, void (*fn)()) {
    void **top = (void **)(((uintptr_t)(stack + size)) & ~(uintptr_t)15);
    *--top = nullptr;     // fn's return address, never used: fn sees the stack as after a call
    *--top = (void *)fn;  // where emu_jump's ret goes
    for (int r = 0; r < 6; r++) *--top = nullptr;  // rbp, rbx, r12-r15
    c.sp = top;
}
#else
struct context {
    ucontext_t uc;
};
static void jump(context &from, context &to) {
    swapcontext(&from.uc, &to.uc);
}
static void start_context(context &c, unsigned char *stack, size_t size, void (*fn)()) {
    getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = stack;
    c.uc.uc_stack.ss_size = size;
    c.uc.uc_link = nullptr;
    makecontext(&c.uc, fn, 0);
}
#endif

thread_local uint3 threadIdx, blockIdx;
thread_local uint3 blockDim, gridDim;

namespace {

// What an H100 accepts: 1024 threads a block, 48 KB of dynamic shared memory
// unless a kernel raises its limit, at most 227 KB.
const unsigned MAX_THREADS = 1024;
const int DEFAULT_SHARED = 48 * 1024, MAX_SHARED = 227 * 1024;
const size_t STACK = 512 * 1024, GUARD = 4096;  // per thread; a guard page below each stack

std::mutex failure_lock;
char failure[256];
int failed = 0;
cudaError_t last_error = cudaSuccess;
long blocks_run = 0;
std::map<const void *, int> shared_limit;
std::map<const void *, bool> waits;  // kernel -> its first block met a barrier, shuffle or vote

struct barrier {
    unsigned expected, arrived;
};

enum { RUNNABLE, WAITING, DONE };

struct fiber {
    context ctx;
    unsigned char *stack;  // STACK bytes above a guard page, kept for the process
    int state;
    barrier *waiting_on;
    void *fake_stack;  // AddressSanitizer's record of the fiber's stack while switched out
};

// One block in flight: its threads, barriers, the warps' exchange slots, its shared memory.
struct block_state {
    std::vector<fiber> *threads;
    barrier block;
    std::vector<barrier> warp;
    std::vector<uint64_t> slots;  // one per thread
    unsigned char *shared;
    bool fibers, waited;
    const std::function<void()> *body;
    uint3 index;
    dim3 block_dim, grid_dim;
};
block_state *current;
unsigned running;  // the fiber in control

context scheduler;
#ifdef EMU_ASAN
void *scheduler_fake_stack;
const void *scheduler_bottom;
size_t scheduler_size;
#endif

std::vector<fiber> &fiber_pool(unsigned threads) {
    static std::vector<fiber> pool;
    while (pool.size() < threads) {
        void *m = mmap(nullptr, STACK + GUARD, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            fprintf(stderr, "emulation: no memory for a thread's stack\n");
            abort();
        }
        mprotect(m, GUARD, PROT_NONE);
        fiber f{};
        f.stack = (unsigned char *)m + GUARD;
        pool.push_back(f);
    }
    return pool;
}

void set_indices(unsigned t) {
    threadIdx = uint3{t, 0, 0};
    blockIdx = current->index;
    blockDim = uint3{current->block_dim.x, current->block_dim.y, current->block_dim.z};
    gridDim = uint3{current->grid_dim.x, current->grid_dim.y, current->grid_dim.z};
}

void switch_into(unsigned t) {  // scheduler -> fiber t
    fiber &f = (*current->threads)[t];
    running = t;
    set_indices(t);
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(&scheduler_fake_stack, f.stack, STACK);
#endif
    jump(scheduler, f.ctx);
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(scheduler_fake_stack, nullptr, nullptr);
#endif
}

void back_to_scheduler() {  // the running fiber waits
    fiber &f = (*current->threads)[running];
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(&f.fake_stack, scheduler_bottom, scheduler_size);
#endif
    jump(f.ctx, scheduler);
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(f.fake_stack, &scheduler_bottom, &scheduler_size);
#endif
}

[[noreturn]] void fiber_main() {
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &scheduler_bottom, &scheduler_size);
#endif
    (*current->body)();
    fiber &f = (*current->threads)[running];
    f.state = DONE;
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(nullptr, scheduler_bottom, scheduler_size);  // this stack ends
#endif
    jump(f.ctx, scheduler);  // never resumed: a finished fiber is not run again
    abort();
}

// The running thread arrives at b; returns when every thread b counts has.
void arrive(barrier &b) {
    if (++b.arrived == b.expected) {
        b.arrived = 0;
        for (fiber &f : *current->threads)
            if (f.state == WAITING && f.waiting_on == &b) f.state = RUNNABLE;
        return;
    }
    fiber &f = (*current->threads)[running];
    f.state = WAITING;
    f.waiting_on = &b;
    back_to_scheduler();
}

// A barrier, shuffle or vote is about to happen: fine among fibers; a failure
// in a kernel running its threads as plain calls.
bool may_wait() {
    current->waited = true;
    if (current->fibers) return true;
    emu_fail("emulation: a kernel met a barrier in a later block but not in its first");
    return false;
}

barrier &warp_barrier() {
    return current->warp[threadIdx.x / 32];
}

void prepare(fiber &f) {
    start_context(f.ctx, f.stack, STACK, fiber_main);
    f.state = RUNNABLE;
    f.waiting_on = nullptr;
}

// Runs one block's threads as fibers until all are done, or none can go on.
// A warp runs as far as it can (through its shuffles, votes and warp
// barriers) before the next warp starts: every warp goes from one block
// barrier to the next alone, so a read of shared memory that another warp
// writes in the same stretch sees the write (the first warp in the order) or
// misses it (a later one) and fails its test, in one launch order or the
// other (launches alternate). Warps switching at every shuffle hid such races.
void run_fibers(unsigned threads, bool reverse) {
    std::vector<fiber> &pool = *current->threads;
    for (unsigned t = 0; t < threads; t++) prepare(pool[t]);
    const unsigned warps = (threads + 31) / 32;
    for (;;) {
        bool ran = false, all_done = true;
        for (unsigned wi = 0; wi < warps; wi++) {
            const unsigned w = reverse ? warps - 1 - wi : wi, first = w * 32,
                           last = first + 32 < threads ? first + 32 : threads;
            for (bool again = true; again;) {  // until none of the warp's lanes can go on
                again = false;
                for (unsigned i = first; i < last; i++) {
                    const unsigned t = reverse ? last - 1 - (i - first) : i;
                    if (pool[t].state == RUNNABLE) {
                        switch_into(t);
                        ran = again = true;
                    }
                }
            }
            for (unsigned t = first; t < last; t++) all_done = all_done && pool[t].state == DONE;
        }
        if (all_done) return;
        if (!ran) {
            emu_fail("emulation: threads wait at barriers the other threads of their block never reach");
            return;
        }
    }
}

}  // namespace

void emu_fail(const char *what) {
    std::lock_guard<std::mutex> hold(failure_lock);
    if (!failed) snprintf(failure, sizeof failure, "%s", what);
    failed = 1;
}

extern "C" const char *emu_take_failure(void) {
    static char taken[sizeof failure];
    std::lock_guard<std::mutex> hold(failure_lock);
    if (!failed) return nullptr;
    snprintf(taken, sizeof taken, "%s", failure);
    failed = 0;
    return taken;
}

extern "C" long emu_blocks_run(void) {
    return blocks_run;
}

cudaError_t cudaGetLastError() {
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

cudaError_t emu_set_max_shared(const void *kernel, int bytes) {
    if (bytes < 0 || bytes > MAX_SHARED) return cudaErrorInvalidValue;
    shared_limit[kernel] = bytes;
    return cudaSuccess;
}

void emu_syncthreads() {
    if (may_wait()) arrive(current->block);
}

void emu_syncwarp() {
    if (may_wait()) arrive(warp_barrier());
}

uint64_t emu_exchange(uint64_t bits, int from_lane) {
    if (!may_wait()) return bits;
    const unsigned from = threadIdx.x / 32 * 32 + (unsigned)(from_lane & 31);
    current->slots[threadIdx.x] = bits;
    arrive(warp_barrier());
    const uint64_t got = from < blockDim.x ? current->slots[from] : 0;  // a lane past the block: undefined
    arrive(warp_barrier());                                             // every lane has read
    return got;
}

unsigned emu_ballot(int predicate) {
    if (!may_wait()) return predicate ? 1u << (threadIdx.x & 31) : 0u;
    const unsigned warp = threadIdx.x / 32;
    current->slots[threadIdx.x] = predicate != 0;
    arrive(warp_barrier());
    unsigned bits = 0;
    for (unsigned l = 0; l < 32 && warp * 32 + l < blockDim.x; l++)
        if (current->slots[warp * 32 + l]) bits |= 1u << l;
    arrive(warp_barrier());
    return bits;
}

unsigned char *emu_dynamic_shared() {
    return current->shared;
}

void emu_launch(const void *kernel, dim3 grid, dim3 block, size_t shared_bytes,
                const std::function<void()> &body) {
    const unsigned threads = block.x * block.y * block.z;
    auto limit = shared_limit.find(kernel);
    const int allowed = limit == shared_limit.end() ? DEFAULT_SHARED : limit->second;
    if (threads == 0 || threads > MAX_THREADS || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        grid.y > 65535 || grid.z > 65535 || shared_bytes > (size_t)allowed) {
        last_error = cudaErrorInvalidConfiguration;
        return;
    }
    if (block.y != 1 || block.z != 1) {
        emu_fail("emulation: only one-dimensional blocks are emulated");
        return;
    }
    if (current) {
        emu_fail("emulation: a kernel launched from inside a kernel");
        return;
    }
    block_state st;
    st.threads = &fiber_pool(threads);
    st.block = barrier{threads, 0};
    for (unsigned w = 0; w * 32 < threads; w++)  // the last warp may be partial
        st.warp.push_back(barrier{threads - 32 * w < 32 ? threads - 32 * w : 32, 0});
    st.slots.assign(threads, 0);
    // 128-byte aligned, as CUDA_DYNAMIC_SHARED declares it
    st.shared = (unsigned char *)aligned_alloc(128, shared_bytes ? (shared_bytes + 127) / 128 * 128 : 128);
    st.body = &body;
    st.block_dim = block;
    st.grid_dim = grid;
    const uint3 caller_thread = threadIdx, caller_block = blockIdx;
    const uint3 caller_dim = blockDim, caller_grid = gridDim;
    current = &st;
    auto known = waits.find(kernel);
    static unsigned long launches = 0;
    const bool reverse = launches++ % 2 == 1;
    const unsigned long blocks = (unsigned long)grid.x * grid.y * grid.z;
    for (unsigned long i = 0; i < blocks; i++) {
        const unsigned long b = reverse ? blocks - 1 - i : i;
        memset(st.shared, 0xff, shared_bytes);  // each block finds NaN bytes (garbage on a GPU)
        st.index =
            uint3{(unsigned)(b % grid.x), (unsigned)(b / grid.x % grid.y), (unsigned)(b / grid.x / grid.y)};
        st.fibers = known == waits.end() || known->second;
        st.waited = false;
        if (st.fibers) {
            run_fibers(threads, reverse);
            if (known == waits.end()) known = waits.emplace(kernel, st.waited).first;
        } else {
            for (unsigned t = 0; t < threads; t++) {
                set_indices(reverse ? threads - 1 - t : t);
                body();
            }
        }
        blocks_run++;
    }
    current = nullptr;
    threadIdx = caller_thread, blockIdx = caller_block, blockDim = caller_dim, gridDim = caller_grid;
    free(st.shared);
}
