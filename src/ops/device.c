// device.c: the current device of the ops and its memory (see ops.h).
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"
#ifdef MTP_CUDA
#include "ops/cuda/cuda_ops.h"
#endif

static op_device current = OP_DEVICE_CPU;

const char *op_device_name(op_device d) {
    return d == OP_DEVICE_CUDA ? "cuda" : "cpu";
}

int op_device_parse(const char *name, op_device *d) {
    if (name && strcmp(name, "cpu") == 0)
        *d = OP_DEVICE_CPU;
    else if (name && strcmp(name, "cuda") == 0)
        *d = OP_DEVICE_CUDA;
    else
        return mtp_errorf("device '%s': expected cpu or cuda", name ? name : "");
    return 0;
}

int op_use_device(op_device d) {
    if (d == OP_DEVICE_CPU) {
        current = d;
        return 0;
    }
#ifdef MTP_CUDA
    if (cuda_init() != 0) return -1;
    current = d;
    return 0;
#else
    return mtp_errorf("device cuda: this mtp was built without CUDA; rebuild with make CUDA=1");
#endif
}

op_device op_current_device(void) {
    return current;
}

const char *op_device_info(void) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) return cuda_device_info();
#endif
    return "cpu";
}

void *op_alloc(size_t bytes, const char *what) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) return cuda_alloc(bytes, what);
#endif
    return mtp_alloc_aligned(bytes, what);
}

void op_free(void *p) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) {
        cuda_free(p);
        return;
    }
#endif
    free(p);
}

void op_upload(void *dst, const void *host_src, size_t bytes) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) {
        cuda_upload(dst, host_src, bytes);
        return;
    }
#endif
    if (bytes) memcpy(dst, host_src, bytes);
}

void op_download(void *host_dst, const void *src, size_t bytes) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) {
        cuda_download(host_dst, src, bytes);
        return;
    }
#endif
    if (bytes) memcpy(host_dst, src, bytes);
}

void op_copy(void *dst, const void *src, size_t bytes) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) {
        cuda_copy(dst, src, bytes);
        return;
    }
#endif
    if (bytes) memmove(dst, src, bytes);
}

void op_zero(void *p, size_t bytes) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) {
        cuda_zero(p, bytes);
        return;
    }
#endif
    if (bytes) memset(p, 0, bytes);
}

int op_sync(void) {
#ifdef MTP_CUDA
    if (current == OP_DEVICE_CUDA) return cuda_sync();
#endif
    return 0;
}
