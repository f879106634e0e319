#define _POSIX_C_SOURCE 200809L
// dist.c: data-parallel training over MPI (dist.h). Everything MPI is inside
// #ifdef MTP_MPI; without it a process is rank 0 of 1.
#include "train/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/timer.h"
#include "model/params.h"
#include "ops/ops.h"

#ifdef MTP_MPI
#include <mpi.h>
#endif

#define SHARD_ALIGN 16                 // floats: shards start on 64-byte boundaries
#define MAX_MESSAGE ((size_t)1 << 28)  // floats per MPI call (counts are ints)

static int g_rank = 0, g_size = 1;
#ifdef MTP_MPI
static int g_started = 0;
#endif

int dist_launch_rank(void) {
    const char *names[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) return atoi(v);
    }
    return -1;
}

int dist_threads_per_process(void) {
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    long cores = sysconf(_SC_NPROCESSORS_ONLN), here = local ? atol(local) : 1;
    if (cores < 1) cores = 1;
    if (here < 1) here = 1;
    return cores / here > 1 ? (int)(cores / here) : 1;
}

int dist_start(void) {
    if (dist_launch_rank() < 0) return 0;
#ifdef MTP_MPI
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return mtp_errorf("MPI_Init failed");
    g_started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    return 0;
#else
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    if (size && atoi(size) > 1)
        return mtp_errorf(
            "this mtp was built without MPI: install libopenmpi-dev and rebuild (make MPI=1) to "
            "train with mpirun");
    return 0;
#endif
}

void dist_finish(int failed) {
#ifdef MTP_MPI
    if (!g_started) return;
    if (failed && g_size > 1) MPI_Abort(MPI_COMM_WORLD, 1);  // the others may wait in a collective
    MPI_Finalize();
    g_started = 0;
#else
    (void)failed;
#endif
}

int dist_rank(void) {
    return g_rank;
}
int dist_size(void) {
    return g_size;
}

size_t dist_shard_lo(size_t total, int rank) {
    if (rank <= 0) return 0;
    if (rank >= g_size) return total;
    size_t per = (total / (size_t)g_size + SHARD_ALIGN - 1) / SHARD_ALIGN * SHARD_ALIGN;
    size_t lo = per * (size_t)rank;
    return lo < total ? lo : total;
}

struct dist_reducer {
    model_work *w;
    size_t total;
    // gradients on a device: reduced after the backward, when a step's last
    // micro-batch is done (staged), in the device's memory where it has
    // collectives of its own (on_device: NCCL), else through this host copy
    float *host;
    int staged, on_device;
    char path[320];  // dist_reducer_path
#ifdef MTP_MPI
    MPI_Request *req;
    int nreq, capreq;
#endif
};

#ifdef MTP_MPI
static int push_request(dist_reducer *r, MPI_Request q) {
    if (r->nreq == r->capreq) {
        int cap = r->capreq ? 2 * r->capreq : 256;
        MPI_Request *g = realloc(r->req, (size_t)cap * sizeof *g);
        if (!g) return mtp_errorf("out of memory for MPI requests");
        r->req = g;
        r->capreq = cap;
    }
    r->req[r->nreq++] = q;
    return 0;
}

// Reduces grads[off, off + n) to the processes owning its pieces.
static void reduce_range(dist_reducer *r, float *grads, size_t off, size_t n) {
    for (int owner = 0; owner < g_size && n; owner++) {
        size_t lo = dist_shard_lo(r->total, owner), hi = dist_shard_lo(r->total, owner + 1);
        size_t a = off > lo ? off : lo, b = off + n < hi ? off + n : hi;
        for (; a < b; a += MAX_MESSAGE) {
            int count = (int)(b - a < MAX_MESSAGE ? b - a : MAX_MESSAGE);
            MPI_Request q;
            MPI_Ireduce(owner == g_rank ? MPI_IN_PLACE : grads + a, grads + a, count, MPI_FLOAT, MPI_SUM,
                        owner, MPI_COMM_WORLD, &q);
            if (push_request(r, q) != 0) MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
}
#endif

// model_work's grads_ready: start reducing the part's tensors.
static void on_part(void *user, int part) {
    dist_reducer *r = user;
#ifdef MTP_MPI
    const mtp_config *c = &r->w->cfg;
    int first, last;
    model_grads_part_tensors(c, part, &first, &last);
    for (int i = first; i <= last; i++) {
        named_tensor t;
        params_named(&r->w->grads, c, i, &t);
        size_t n = (size_t)t.shape[0] * (size_t)(t.ndim == 2 ? t.shape[1] : 1);
        reduce_range(r, r->w->grads.memory, (size_t)(t.data - r->w->grads.memory), n);
    }
    int done;  // let the library move the reductions on while the backward continues
    MPI_Testall(r->nreq, r->req, &done, MPI_STATUSES_IGNORE);
#else
    (void)r;
    (void)part;
#endif
}

#ifdef MTP_MPI
// Every process joins one group of the device's own collectives (rank 0 makes
// its id and broadcasts it): 1 if all did, 0 if any process's device has none
// (then every process goes through host copies; *why says why).
static int join_device_group(char *why, size_t cap) {
    int ok = op_collectives_available() == 0;
    if (!ok) snprintf(why, cap, "%s", mtp_last_error());
    unsigned char id[OP_COLLECTIVE_ID_BYTES] = {0};
    if (ok && g_rank == 0 && op_collectives_make_id(id) != 0) {
        snprintf(why, cap, "%s", mtp_last_error());
        ok = 0;
    }
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!ok) return 0;
    MPI_Bcast(id, OP_COLLECTIVE_ID_BYTES, MPI_BYTE, 0, MPI_COMM_WORLD);
    ok = op_collectives_join(id, g_rank, g_size) == 0;
    if (!ok) snprintf(why, cap, "%s", mtp_last_error());
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!ok) op_collectives_leave();
    return ok;
}
#endif

dist_reducer *dist_reducer_new(model_work *w) {
    dist_reducer *r = mtp_calloc(1, sizeof *r, "gradient reducer");
    if (!r) return NULL;
    r->w = w;
    r->total = w->grads.total;
    snprintf(r->path, sizeof r->path, "MPI");
#ifdef MTP_MPI
    char why[256] = "";
    if (w->on_device && g_size > 1) {
        r->on_device = join_device_group(why, sizeof why);
        if (r->on_device)
            snprintf(r->path, sizeof r->path, "device memory (NCCL)");
        else
            snprintf(r->path, sizeof r->path, "host copies and MPI%s%.256s%s", why[0] ? " (" : "", why,
                     why[0] ? ")" : "");
    }
#endif
    if (w->on_device && !r->on_device &&
        !(r->host = mtp_malloc(sizeof(float) * (r->total ? r->total : 1), "gradients (host copy)"))) {
        free(r);
        return NULL;
    }
    return r;
}

void dist_reducer_free(dist_reducer *r) {
    if (!r) return;
    if (r->on_device) op_collectives_leave();
#ifdef MTP_MPI
    free(r->req);
#endif
    free(r->host);
    free(r);
}

void dist_reducer_attach(dist_reducer *r, int on) {
    if (r->w->on_device) {  // device memory: nothing to reduce while the backward runs
        if (on && g_size > 1) r->staged = 1;
        return;
    }
    r->w->grads_ready = on && g_size > 1 ? on_part : NULL;
    r->w->grads_user = on && g_size > 1 ? r : NULL;
}

#ifdef MTP_MPI
// Device gradients: down to the host, reduced tensor by tensor (the same
// messages as the parts of on_part make, so the same sums), this process's
// shard back up.
static void reduce_staged(dist_reducer *r) {
    const mtp_config *c = &r->w->cfg;
    float *g = r->w->grads.memory;
    op_download(r->host, g, sizeof(float) * r->total);
    for (int i = 0; i < params_tensor_count(c); i++) {
        named_tensor t;
        params_named(&r->w->grads, c, i, &t);
        size_t n = (size_t)t.shape[0] * (size_t)(t.ndim == 2 ? t.shape[1] : 1);
        reduce_range(r, r->host, (size_t)(t.data - g), n);
    }
    if (r->nreq) MPI_Waitall(r->nreq, r->req, MPI_STATUSES_IGNORE);
    r->nreq = 0;
    size_t lo = dist_shard_lo(r->total, g_rank), hi = dist_shard_lo(r->total, g_rank + 1);
    op_upload(g + lo, r->host + lo, sizeof(float) * (hi - lo));
}

// The same sums in the device's memory: each owner's shard of the arena (the
// gradient tensors and the padding between them) in one reduce.
static int reduce_on_device(dist_reducer *r) {
    float *g = r->w->grads.memory;
    for (int owner = 0; owner < g_size; owner++) {
        size_t lo = dist_shard_lo(r->total, owner), hi = dist_shard_lo(r->total, owner + 1);
        if (hi > lo && op_reduce_sum_to(g + lo, hi - lo, owner) != 0) return -1;
    }
    return op_sync();
}
#endif

const char *dist_reducer_path(const dist_reducer *r) {
    return r->path;
}

int dist_reducer_wait(dist_reducer *r, double *seconds) {
    double t0 = mtp_now();
    int rc = 0;
#ifdef MTP_MPI
    if (r->staged && r->on_device && reduce_on_device(r) != 0) {
        char cause[256];
        snprintf(cause, sizeof cause, "%s", mtp_last_error());
        rc = mtp_errorf("reducing the gradients across processes failed: %s", cause);
    }
    if (r->staged && !r->on_device) reduce_staged(r);
    r->staged = 0;
    if (r->nreq) MPI_Waitall(r->nreq, r->req, MPI_STATUSES_IGNORE);
    r->nreq = 0;
#else
    (void)r;
#endif
    *seconds = mtp_now() - t0;
    return rc;
}

int dist_allgather_staged(dist_reducer *r, float *arena, size_t total) {
    if (r && r->on_device && total <= r->total) {  // in device memory: each owner's shard broadcast
        for (int owner = 0; owner < g_size; owner++) {
            size_t lo = dist_shard_lo(total, owner), hi = dist_shard_lo(total, owner + 1);
            if (hi > lo && op_broadcast_from(arena + lo, hi - lo, owner) != 0) return -1;
        }
        return op_sync();
    }
    if (!r || !r->host || total > r->total)
        return mtp_errorf("dist_allgather_staged: no host copy of that size");
    size_t lo = dist_shard_lo(total, g_rank), hi = dist_shard_lo(total, g_rank + 1);
    op_download(r->host + lo, arena + lo, sizeof(float) * (hi - lo));
    if (dist_allgather(r->host, total) != 0) return -1;
    op_upload(arena, r->host, sizeof(float) * total);
    return 0;
}

int dist_allgather(float *arena, size_t total) {
#ifdef MTP_MPI
    if (g_size == 1) return 0;
    for (int owner = 0; owner < g_size; owner++) {
        size_t lo = dist_shard_lo(total, owner), hi = dist_shard_lo(total, owner + 1);
        for (size_t a = lo; a < hi; a += MAX_MESSAGE) {
            int count = (int)(hi - a < MAX_MESSAGE ? hi - a : MAX_MESSAGE);
            if (MPI_Bcast(arena + a, count, MPI_FLOAT, owner, MPI_COMM_WORLD) != MPI_SUCCESS)
                return mtp_errorf("MPI_Bcast of the weights failed");
        }
    }
#else
    (void)arena;
    (void)total;
#endif
    return 0;
}

int dist_gather(const float *shard, float *full, size_t total) {
    size_t lo = dist_shard_lo(total, g_rank), hi = dist_shard_lo(total, g_rank + 1);
    if (g_rank == 0 && full && hi > lo) memcpy(full, shard, (hi - lo) * sizeof *full);
#ifdef MTP_MPI
    for (int owner = 1; owner < g_size; owner++) {
        size_t olo = dist_shard_lo(total, owner), ohi = dist_shard_lo(total, owner + 1);
        for (size_t a = olo; a < ohi; a += MAX_MESSAGE) {
            int count = (int)(ohi - a < MAX_MESSAGE ? ohi - a : MAX_MESSAGE);
            if (g_rank == 0)
                MPI_Recv(full + a, count, MPI_FLOAT, owner, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            else if (g_rank == owner)
                MPI_Send(shard + (a - olo), count, MPI_FLOAT, 0, 7, MPI_COMM_WORLD);
        }
    }
#endif
    return 0;
}

int dist_sum(double *x, int n) {
#ifdef MTP_MPI
    if (g_size > 1 && MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        return mtp_errorf("MPI_Allreduce failed");
#else
    (void)x;
    (void)n;
#endif
    return 0;
}

int dist_first_difference(const uint64_t *values, int n, int *rank) {
    *rank = 0;
#ifdef MTP_MPI
    if (g_size == 1 || n <= 0) return -1;
    uint64_t *all = mtp_malloc(sizeof *all * (size_t)n * (size_t)g_size, "values of every process");
    // every process allocates or none goes on to the collective
    if (dist_any(all == NULL)) {
        free(all);
        mtp_errorf("out of memory comparing the processes' values");
        return -2;
    }
    if (MPI_Allgather(values, n, MPI_UINT64_T, all, n, MPI_UINT64_T, MPI_COMM_WORLD) != MPI_SUCCESS) {
        free(all);
        mtp_errorf("MPI_Allgather failed");
        return -2;
    }
    int first = -1;  // the same answer on every process: all of them saw the same table
    for (int i = 0; i < n && first < 0; i++)
        for (int r = 1; r < g_size; r++)
            if (all[(size_t)r * n + i] != all[i]) {
                first = i;
                *rank = r;
                break;
            }
    free(all);
    return first;
#else
    (void)values;
    (void)n;
    return -1;
#endif
}

int dist_any(int flag) {
#ifdef MTP_MPI
    if (g_size > 1) MPI_Allreduce(MPI_IN_PLACE, &flag, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
#endif
    return flag;
}

int dist_barrier(void) {
#ifdef MTP_MPI
    if (g_size > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
    return 0;
}
