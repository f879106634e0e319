// nccl_emu.cpp: the emulated NCCL of the CUDA=emu build (see nccl.h): a group
// is MPI_COMM_WORLD, whose processes each emulate one GPU; reduce and
// broadcast are MPI's on the (host) memory, with NCCL's argument rules.
#include <stdio.h>
#include <string.h>

#include "nccl.h"
#ifdef MTP_MPI
#define OMPI_SKIP_MPICXX 1  // the C interface only
#include <mpi.h>
#endif

struct emu_nccl_comm {
    int rank, size;
};

static const char ID[] = "mtp emulated NCCL group";
static const size_t MAX_MESSAGE = (size_t)1 << 28;  // floats per MPI call (counts are ints)

const char *ncclGetErrorString(ncclResult_t r) {
    switch (r) {
        case ncclSuccess:
            return "no error";
        case ncclSystemError:
            return "unhandled system error (the emulation needs a build with MPI)";
        case ncclInvalidArgument:
            return "invalid argument";
        case ncclInvalidUsage:
            return "invalid usage";
    }
    return "unknown NCCL result";
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    memset(id, 0, sizeof *id);
    memcpy(id->internal, ID, sizeof ID);
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    delete comm;
    return ncclSuccess;
}

#ifdef MTP_MPI
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int size, ncclUniqueId id, int rank) {
    int started = 0, world_size = 0, world_rank = 0;
    MPI_Initialized(&started);
    if (!started) return ncclInvalidUsage;
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    if (size != world_size || rank != world_rank || memcmp(id.internal, ID, sizeof ID) != 0)
        return ncclInvalidArgument;
    *comm = new emu_nccl_comm{rank, size};
    return ncclSuccess;
}

ncclResult_t ncclReduce(const void *send, void *recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                        int root, ncclComm_t comm, cudaStream_t) {
    if (!comm || type != ncclFloat32 || op != ncclSum || root < 0 || root >= comm->size)
        return ncclInvalidArgument;
    for (size_t a = 0; a < count; a += MAX_MESSAGE) {
        const int n = (int)(count - a < MAX_MESSAGE ? count - a : MAX_MESSAGE);
        const float *s = (const float *)send + a;
        float *r = (float *)recv + a;
        if (MPI_Reduce(comm->rank == root && s == r ? MPI_IN_PLACE : s, r, n, MPI_FLOAT, MPI_SUM, root,
                       MPI_COMM_WORLD) != MPI_SUCCESS)
            return ncclSystemError;
    }
    return ncclSuccess;
}

ncclResult_t ncclBroadcast(const void *send, void *recv, size_t count, ncclDataType_t type, int root,
                           ncclComm_t comm, cudaStream_t) {
    if (!comm || type != ncclFloat32 || root < 0 || root >= comm->size) return ncclInvalidArgument;
    if (comm->rank == root && send != recv) memmove(recv, send, count * sizeof(float));
    for (size_t a = 0; a < count; a += MAX_MESSAGE) {
        const int n = (int)(count - a < MAX_MESSAGE ? count - a : MAX_MESSAGE);
        if (MPI_Bcast((float *)recv + a, n, MPI_FLOAT, root, MPI_COMM_WORLD) != MPI_SUCCESS)
            return ncclSystemError;
    }
    return ncclSuccess;
}
#else
ncclResult_t ncclCommInitRank(ncclComm_t *, int, ncclUniqueId, int) {
    return ncclSystemError;
}
ncclResult_t ncclReduce(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, int, ncclComm_t,
                        cudaStream_t) {
    return ncclSystemError;
}
ncclResult_t ncclBroadcast(const void *, void *, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t) {
    return ncclSystemError;
}
#endif
