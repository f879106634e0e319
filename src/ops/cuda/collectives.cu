// collectives.cu: sums and broadcasts of GPU memory between processes through
// NCCL, on the ops' stream. NCCL is loaded when first asked for (dlopen of
// libnccl.so.2), so mtp starts where it is not installed; training across
// processes then goes through host copies and MPI (train/dist.c). The host
// emulation (tests/cuda_emu/) links stand-ins that do the same over MPI.
//
// ncclCommInitRank waits for every process of the group: train/dist.c joins
// only after all processes have found NCCL, but a process that dies between
// that and joining leaves the others waiting (mpirun ends them when it sees
// the death).
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "ops/cuda/cuda_common.h"
#include "ops/cuda/cuda_ops.h"
extern "C" {
#include "core/error.h"
}

#ifdef MTP_CUDA_EMULATION
#include <nccl.h>  // the emulation's stand-ins, linked in
#else
// What this file uses of NCCL 2's interface (nccl.h: these types and values
// are its ABI), declared here so that a build needs no NCCL headers: the CUDA
// toolkit does not always bring them.
typedef int ncclResult_t;
enum { ncclSuccess = 0 };
typedef struct {
    char internal[128];
} ncclUniqueId;
typedef struct ncclComm *ncclComm_t;
typedef enum { ncclFloat32 = 7 } ncclDataType_t;
typedef enum { ncclSum = 0 } ncclRedOp_t;
#endif

// The NCCL calls this file makes, resolved once.
static struct {
    ncclResult_t (*get_unique_id)(ncclUniqueId *id);
    ncclResult_t (*comm_init_rank)(ncclComm_t *comm, int size, ncclUniqueId id, int rank);
    ncclResult_t (*comm_destroy)(ncclComm_t comm);
    ncclResult_t (*reduce)(const void *send, void *recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           int root, ncclComm_t comm, cudaStream_t stream);
    ncclResult_t (*broadcast)(const void *send, void *recv, size_t count, ncclDataType_t type, int root,
                              ncclComm_t comm, cudaStream_t stream);
    const char *(*error_string)(ncclResult_t r);
} nccl;
static int loaded = 0;  // 1 loaded, -1 not available
static char why_not[256];
static ncclComm_t comm = nullptr;

int cuda_collectives_load(void) {
    if (loaded == 0) {
#ifdef MTP_CUDA_EMULATION
        nccl.get_unique_id = ncclGetUniqueId;
        nccl.comm_init_rank = ncclCommInitRank;
        nccl.comm_destroy = ncclCommDestroy;
        nccl.reduce = ncclReduce;
        nccl.broadcast = ncclBroadcast;
        nccl.error_string = ncclGetErrorString;
        loaded = 1;
#else
        void *lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
        if (lib) {
            *(void **)&nccl.get_unique_id = dlsym(lib, "ncclGetUniqueId");
            *(void **)&nccl.comm_init_rank = dlsym(lib, "ncclCommInitRank");
            *(void **)&nccl.comm_destroy = dlsym(lib, "ncclCommDestroy");
            *(void **)&nccl.reduce = dlsym(lib, "ncclReduce");
            *(void **)&nccl.broadcast = dlsym(lib, "ncclBroadcast");
            *(void **)&nccl.error_string = dlsym(lib, "ncclGetErrorString");
        }
        const bool all = lib && nccl.get_unique_id && nccl.comm_init_rank && nccl.comm_destroy &&
                         nccl.reduce && nccl.broadcast && nccl.error_string;
        if (!all) snprintf(why_not, sizeof why_not, "%s", lib ? "libnccl.so.2 lacks a function" : dlerror());
        loaded = all ? 1 : -1;
#endif
    }
    return loaded > 0 ? 0 : mtp_errorf("NCCL is not available (%s)", why_not);
}

static int checked(ncclResult_t r, const char *what) {
    if (r == ncclSuccess) return 0;
    return mtp_errorf("NCCL: %s failed: %s", what, nccl.error_string(r));
}

int cuda_collectives_make_id(unsigned char *id) {
    if (cuda_collectives_load() != 0) return -1;
    ncclUniqueId u;
    if (checked(nccl.get_unique_id(&u), "ncclGetUniqueId") != 0) return -1;
    static_assert(sizeof u.internal == CUDA_COLLECTIVE_ID_BYTES, "NCCL's id size");
    memcpy(id, u.internal, sizeof u.internal);
    return 0;
}

int cuda_collectives_join(const unsigned char *id, int rank, int size) {
    if (cuda_collectives_load() != 0) return -1;
    cuda_collectives_leave();
    ncclUniqueId u;
    memcpy(u.internal, id, sizeof u.internal);
    return checked(nccl.comm_init_rank(&comm, size, u, rank), "ncclCommInitRank");
}

int cuda_reduce_sum_to(float *x, size_t n, int root) {
    if (!comm) return mtp_errorf("NCCL: no group joined");
    return checked(nccl.reduce(x, x, n, ncclFloat32, ncclSum, root, comm, cuda_stream), "ncclReduce");
}

int cuda_broadcast_from(float *x, size_t n, int root) {
    if (!comm) return mtp_errorf("NCCL: no group joined");
    return checked(nccl.broadcast(x, x, n, ncclFloat32, root, comm, cuda_stream), "ncclBroadcast");
}

void cuda_collectives_leave(void) {
    if (comm) nccl.comm_destroy(comm);
    comm = nullptr;
}
