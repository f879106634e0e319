// bench_mpi_collectives.c: what moving a model's gradients and weights costs
// between the processes of this machine (or of a hostfile): the time of
// MPI_Reduce (to each owner in turn, as train/dist.c reduce-scatters) and of
// MPI_Bcast (from each owner, its all-gather) of N floats, medians of R
// repeats, as seconds and GB/s of the N floats. docs/scaling.md fits its
// bandwidth and latency terms to these numbers.
//   mpirun -np P build/bench/bench_mpi_collectives [--floats N] [--repeats R]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"

#ifdef MTP_MPI
#include <mpi.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// reduce-scatter as dist.c does it (each owner receives the sums of its
// slice) or all-gather (each owner broadcasts its slice); returns seconds
static double run(float *buf, size_t n, int rank, int size, int gather) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = mtp_now();
    size_t per = (n + (size_t)size - 1) / (size_t)size;
    for (int owner = 0; owner < size; owner++) {
        size_t lo = per * (size_t)owner, hi = lo + per < n ? lo + per : n;
        if (lo >= hi) continue;
        if (gather)
            MPI_Bcast(buf + lo, (int)(hi - lo), MPI_FLOAT, owner, MPI_COMM_WORLD);
        else
            MPI_Reduce(owner == rank ? MPI_IN_PLACE : buf + lo, buf + lo, (int)(hi - lo), MPI_FLOAT, MPI_SUM, owner,
                       MPI_COMM_WORLD);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    return mtp_now() - t0;
}

int main(int argc, char **argv) {
    size_t n = 4u << 20;
    int repeats = 9;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--floats")) n = (size_t)strtoull(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
    }
    if (repeats < 1 || repeats > 99 || n < 1 || n > ((size_t)1 << 30)) {
        fprintf(stderr, "usage: bench_mpi_collectives [--floats N (<= 2^30)] [--repeats R (1..99)]\n");
        return 2;
    }
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    float *buf = malloc(n * sizeof *buf);
    if (!buf) MPI_Abort(MPI_COMM_WORLD, 1);
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i % 7);
    double t[2][99];
    for (int r = 0; r < repeats; r++)
        for (int g = 0; g < 2; g++) t[g][r] = run(buf, n, rank, size, g);
    if (rank == 0) {
        printf("%d processes, %zu floats (%.1f MB), medians of %d\n", size, n, n * 4.0 / 1e6, repeats);
        const char *name[2] = {"reduce-scatter (MPI_Reduce to each owner)", "all-gather (MPI_Bcast from each owner)"};
        for (int g = 0; g < 2; g++) {
            qsort(t[g], (size_t)repeats, sizeof(double), cmp_double);
            double s = t[g][repeats / 2];
            printf("%-44s %9.3f ms  %7.2f GB/s of the buffer\n", name[g], s * 1e3, n * 4.0 / s / 1e9);
        }
    }
    free(buf);
    MPI_Finalize();
    return 0;
}
#else
int main(void) {
    printf("bench_mpi_collectives: this build has no MPI (make MPI=1 with libopenmpi-dev)\n");
    return 0;
}
#endif
