// emu_runtime.cpp: the host emulation's runtime (see cuda_runtime.h): launches,
// barriers, shuffles, shared memory, and the error record the emulated .cu
// files report into.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <map>
#include <mutex>
#include <vector>

#include "ops/cuda/cuda_common.h"

thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;

cudaStream_t cuda_stream = nullptr;
cublasHandle_t cuda_blas = nullptr;

namespace {

// What an H100 accepts: 1024 threads a block, 48 KB of dynamic shared memory
// unless a kernel raises its limit, at most 227 KB.
const unsigned MAX_THREADS = 1024;
const int DEFAULT_SHARED = 48 * 1024, MAX_SHARED = 227 * 1024;

std::mutex failure_lock;
char failure[256];
int failed = 0;
cudaError_t last_error = cudaSuccess;
long blocks_run = 0;
std::map<const void *, int> shared_limit;

// One block in flight: its barriers, the warps' shuffle slots, its shared memory.
struct block_state {
    pthread_barrier_t block;
    std::vector<pthread_barrier_t> warp;
    std::vector<uint64_t> slots;  // one per thread
    unsigned char *shared;
};
block_state *current;

struct thread_start {
    const std::function<void()> *body;
    uint3 thread, block;
    dim3 block_dim, grid_dim;
};

void *run_thread(void *arg) {
    const thread_start *s = (const thread_start *)arg;
    threadIdx = s->thread;
    blockIdx = s->block;
    blockDim = s->block_dim;
    gridDim = s->grid_dim;
    (*s->body)();
    return nullptr;
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

void cuda_note(cudaError_t e, const char *what, const char *file, int line) {
    if (e == cudaSuccess) return;
    char text[256];
    snprintf(text, sizeof text, "%s:%d: %s failed (error %d)", file, line, what, e);
    emu_fail(text);
}

void cuda_note_blas(cublasStatus_t s, const char *what, const char *file, int line) {
    cuda_note(s == 0 ? cudaSuccess : cudaErrorInvalidValue, what, file, line);
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
    pthread_barrier_wait(&current->block);
}

void emu_syncwarp() {
    pthread_barrier_wait(&current->warp[threadIdx.x / 32]);
}

uint64_t emu_exchange(uint64_t bits, int from_lane) {
    const unsigned warp = threadIdx.x / 32;
    current->slots[threadIdx.x] = bits;
    emu_syncwarp();
    const unsigned from = warp * 32 + (unsigned)(from_lane & 31);
    const uint64_t got = from < blockDim.x ? current->slots[from] : 0;  // a lane past the block: undefined
    emu_syncwarp();  // every lane has read before any writes again
    return got;
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
    block_state st;
    pthread_barrier_init(&st.block, nullptr, threads);
    st.warp.resize((threads + 31) / 32);
    for (unsigned w = 0; w < st.warp.size(); w++)  // the last warp may be partial
        pthread_barrier_init(&st.warp[w], nullptr, threads - 32 * w < 32 ? threads - 32 * w : 32);
    st.slots.assign(threads, 0);
    // exactly the launch's size; each block finds it full of NaN bytes (garbage on a GPU)
    // 128-byte aligned, as CUDA_DYNAMIC_SHARED declares it
    st.shared = (unsigned char *)aligned_alloc(128, (shared_bytes + 127) / 128 * 128 + 128);
    current = &st;
    std::vector<pthread_t> ids(threads);
    std::vector<thread_start> starts(threads);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                memset(st.shared, 0xff, shared_bytes);
                for (unsigned t = 0; t < threads; t++) {
                    starts[t] = thread_start{&body, uint3{t, 0, 0}, uint3{x, y, z}, block, grid};
                    if (pthread_create(&ids[t], &attr, run_thread, &starts[t]) != 0) {
                        fprintf(stderr, "emulation: cannot start a thread\n");
                        abort();
                    }
                }
                for (unsigned t = 0; t < threads; t++) pthread_join(ids[t], nullptr);
                blocks_run++;
            }
    pthread_attr_destroy(&attr);
    current = nullptr;
    free(st.shared);
    for (pthread_barrier_t &w : st.warp) pthread_barrier_destroy(&w);
    pthread_barrier_destroy(&st.block);
}
