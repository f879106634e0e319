// pth_dump.c: reads a torch.save file with mtp's own reader (core/pth.c)
// and writes every floating-point tensor as float32 into a safetensors file,
// so tests can compare it with what PyTorch itself loads.
//   pth_dump IN.pth OUT.safetensors
// Exit 0, or 1 with one error line on stderr.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pth.h"
#include "core/safetensors.h"
#include "libmtp.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: pth_dump IN.pth OUT.safetensors\n");
        return 2;
    }
    pth_file f;
    if (pth_open(argv[1], &f) != 0) {
        fprintf(stderr, "pth_dump: %s\n", mtp_last_error());
        return 1;
    }
    st_entry *e = calloc((size_t)f.count + 1, sizeof *e);
    int n = 0, rc = e ? 0 : 1;
    for (int i = 0; i < f.count && rc == 0; i++) {
        const pickle_tensor *t = &f.tensors[i];
        if (t->dtype != PT_F32 && t->dtype != PT_BF16 && t->dtype != PT_F16 && t->dtype != PT_F64) continue;
        float *x = malloc(pth_numel(t) * sizeof *x + 4);
        if (!x || pth_read_f32(&f, t, x) != 0) {
            free(x);
            rc = 1;
            break;
        }
        e[n] = (st_entry){.name = t->name, .ndim = t->ndim, .data = x};
        for (int d = 0; d < t->ndim; d++) e[n].shape[d] = t->shape[d];
        n++;
    }
    if (rc == 0 && st_write(argv[2], e, n, NULL, 0) != 0) rc = 1;
    if (rc) fprintf(stderr, "pth_dump: %s\n", mtp_last_error());
    for (int i = 0; i < n; i++) free((void *)e[i].data);
    free(e);
    pth_close(&f);
    return rc;
}
