// device.c: the current device of the ops and its memory (see ops.h).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/ops.h"
#ifdef MTP_CUDA
#include "ops/cuda/cuda_ops.h"
#endif

static op_device current = OP_DEVICE_CPU;

// cpu-check pointers: the host address with this bit flipped (see ops.h)
#define HIDDEN_BIT ((uintptr_t)1 << 62)

static void *hide(void *p) {
    return p ? (void *)((uintptr_t)p ^ HIDDEN_BIT) : NULL;
}

void *op_host_view(const void *p) {
    if (!p || current != OP_DEVICE_CPU_CHECK) return (void *)p;
    return (void *)((uintptr_t)p ^ HIDDEN_BIT);
}

const char *op_device_name(op_device d) {
    return d == OP_DEVICE_CUDA ? "cuda" : d == OP_DEVICE_CPU_CHECK ? "cpu-check" : "cpu";
}

int op_device_parse(const char *name, op_device *d) {
    if (name && strcmp(name, "cpu") == 0)
        *d = OP_DEVICE_CPU;
    else if (name && strcmp(name, "cuda") == 0)
        *d = OP_DEVICE_CUDA;
    else if (name && strcmp(name, "cpu-check") == 0)
        *d = OP_DEVICE_CPU_CHECK;
    else
        return mtp_errorf("device '%s': expected cpu, cuda or cpu-check", name ? name : "");
    return 0;
}

int op_use_device(op_device d) {
    if (d == OP_DEVICE_CPU || d == OP_DEVICE_CPU_CHECK) {
        current = d;
        return 0;
    }
#ifdef MTP_CUDA
    if (cuda_init() != 0) return -1;
    current = d;
    return 0;
#else
    return mtp_errorf("this mtp was built without CUDA: rebuild it with make CUDA=1 (BUILD=build/cuda)");
#endif
}

int op_collectives_available(void) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) return cuda_collectives_load();
#endif
    return mtp_errorf("device %s has no collectives of its own", op_device_name(current));
}

int op_collectives_make_id(unsigned char id[OP_COLLECTIVE_ID_BYTES]) {
#ifdef MTP_CUDA
    _Static_assert((int)OP_COLLECTIVE_ID_BYTES == (int)CUDA_COLLECTIVE_ID_BYTES, "the group id's size");
    if (current == OP_DEVICE_CUDA) return cuda_collectives_make_id(id);
#endif
    (void)id;
    return op_collectives_available();
}

int op_collectives_join(const unsigned char id[OP_COLLECTIVE_ID_BYTES], int rank, int size) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) return cuda_collectives_join(id, rank, size);
#endif
    (void)id, (void)rank, (void)size;
    return op_collectives_available();
}

int op_reduce_sum_to(float *x, size_t n, int root) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) return cuda_reduce_sum_to(x, n, root);
#endif
    (void)x, (void)n, (void)root;
    return op_collectives_available();
}

int op_broadcast_from(float *x, size_t n, int root) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) return cuda_broadcast_from(x, n, root);
#endif
    (void)x, (void)n, (void)root;
    return op_collectives_available();
}

void op_collectives_leave(void) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) cuda_collectives_leave();
#endif
}

op_device op_current_device(void) {
    return current;
}

int op_cuda_devices(void) {
#ifdef MTP_CUDA
    return cuda_device_count();
#else
    return -1;
#endif
}

const char *op_device_info(void) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) return cuda_device_info();
#endif
    return current == OP_DEVICE_CPU_CHECK ? "cpu-check (CPU kernels, device memory hidden from the host)"
                                          : "cpu";
}

void *op_alloc(size_t bytes, const char *what) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) return cuda_alloc(bytes, what);
#endif
    void *p = mtp_alloc_aligned(bytes, what);
    return current == OP_DEVICE_CPU_CHECK ? hide(p) : p;
}

int op_attention_max_head_dim(void) {
    return current == OP_DEVICE_CUDA ? 256 : 1 << 30;  // attention.cu: 8 values per lane of a warp
}

void *op_alloc_on(int on_device, size_t bytes, const char *what) {
    return on_device ? op_alloc(bytes, what) : mtp_alloc_aligned(bytes, what);
}

void op_free_on(int on_device, void *p) {
    if (!p) return;
    switch ((op_device)on_device) {
#ifdef MTP_CUDA
        case OP_DEVICE_CUDA:
            cuda_free(p);
            return;
#endif
        case OP_DEVICE_CPU_CHECK:
            free((void *)((uintptr_t)p ^ HIDDEN_BIT));
            return;
        default:
            free(p);
            return;
    }
}

size_t op_device_peak_bytes(void) {
#ifdef MTP_CUDA
    return cuda_peak_bytes();
#else
    return 0;
#endif
}

void op_free(void *p) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) {
        cuda_free(p);
        return;
    }
#endif
    free(op_host_view(p));
}

void op_upload(void *dst, const void *host_src, size_t bytes) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) {
        cuda_upload(dst, host_src, bytes);
        return;
    }
#endif
    if (bytes) memcpy(op_host_view(dst), host_src, bytes);
}

void op_download(void *host_dst, const void *src, size_t bytes) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) {
        cuda_download(host_dst, src, bytes);
        return;
    }
#endif
    if (bytes) memcpy(host_dst, op_host_view(src), bytes);
}

void op_copy(void *dst, const void *src, size_t bytes) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) {
        cuda_copy(dst, src, bytes);
        return;
    }
#endif
    if (bytes) memmove(op_host_view(dst), op_host_view(src), bytes);
}

void op_copy_rows(void *dst, size_t dst_pitch, const void *src, size_t src_pitch, size_t width, size_t rows) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) {
        cuda_copy_rows(dst, dst_pitch, src, src_pitch, width, rows);
        return;
    }
#endif
    if (!width) return;
    char *d = op_host_view(dst);
    const char *s = op_host_view(src);
    for (size_t r = 0; r < rows; r++) memcpy(d + r * dst_pitch, s + r * src_pitch, width);
}

void op_zero(void *p, size_t bytes) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) {
        cuda_zero(p, bytes);
        return;
    }
#endif
    if (bytes) cpu_zero(op_host_view(p), bytes);
}

void op_zero_on(int on_device, void *p, size_t bytes) {
    if (on_device)
        op_zero(p, bytes);
    else if (bytes)
        cpu_zero(p, bytes);
}

const char *op_precision_name(op_precision p) {
    return p == OP_PRECISION_BF16 ? "bf16" : p == OP_PRECISION_TF32 ? "tf32" : "fp32";
}

int op_precision_parse(const char *name, op_precision *p) {
    if (name && strcmp(name, "fp32") == 0)
        *p = OP_PRECISION_FP32;
    else if (name && strcmp(name, "tf32") == 0)
        *p = OP_PRECISION_TF32;
    else if (name && strcmp(name, "bf16") == 0)
        *p = OP_PRECISION_BF16;
    else
        return mtp_errorf("precision '%s': expected fp32, tf32 or bf16", name ? name : "");
    return 0;
}

int op_set_precision(op_precision p) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) {
        cuda_set_precision((int)p);
        return 0;
    }
#endif
    if (p != OP_PRECISION_FP32)
        return mtp_errorf("%s products run on a GPU; the %s computes in float32", op_precision_name(p),
                          op_device_name(current));
    return 0;
}

int op_sync(void) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) return cuda_sync();
#endif
    return 0;
}
