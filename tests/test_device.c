// test_device.c: the device interface of ops.h on the CPU: names, choosing a
// device (CUDA refused with a clear error where it cannot run), memory and
// copies, and ops routed to the CPU backend giving its exact results.
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/ops.h"

int main(void) {
    op_device d = OP_DEVICE_CUDA;
    CHECK(op_device_parse("cpu", &d) == 0 && d == OP_DEVICE_CPU, "parse cpu");
    CHECK(op_device_parse("cuda", &d) == 0 && d == OP_DEVICE_CUDA, "parse cuda");
    CHECK(op_device_parse("gpu", &d) != 0 && strstr(mtp_last_error(), "'gpu'") &&
              strstr(mtp_last_error(), "cpu or cuda"),
          "an unknown device is named in the error: %s", mtp_last_error());
    CHECK(strcmp(op_device_name(OP_DEVICE_CUDA), "cuda") == 0 &&
              strcmp(op_device_name(OP_DEVICE_CPU), "cpu") == 0,
          "names");
    CHECK(op_current_device() == OP_DEVICE_CPU && strcmp(op_device_info(), "cpu") == 0, "the CPU by default");
    int rc = op_use_device(OP_DEVICE_CUDA);
#ifdef MTP_CUDA
    if (rc != 0)
        CHECK(strstr(mtp_last_error(), "no usable GPU") != NULL, "no GPU is said so: %s", mtp_last_error());
#else
    CHECK(rc != 0 && strstr(mtp_last_error(), "make CUDA=1") != NULL,
          "a build without CUDA says how to get it: %s", mtp_last_error());
#endif
    if (rc != 0) CHECK(op_current_device() == OP_DEVICE_CPU, "a refused device keeps the CPU");
    CHECK(op_use_device(OP_DEVICE_CPU) == 0 && op_current_device() == OP_DEVICE_CPU, "back to the CPU");

    // memory: zeroed, aligned; copies in every direction
    float src[37], got[37];
    for (int i = 0; i < 37; i++) src[i] = (float)i - 18.5f;
    float *a = op_alloc(sizeof src, "test"), *b = op_alloc(sizeof src, "test");
    CHECK(a && b && ((uintptr_t)a % 64) == 0, "allocated, 64-byte aligned");
    int zero = 1;
    for (int i = 0; a && i < 37; i++) zero &= a[i] == 0.0f;
    CHECK(zero, "op_alloc zeroes");
    op_upload(a, src, sizeof src);
    op_copy(b, a, sizeof src);
    op_download(got, b, sizeof src);
    CHECK(memcmp(got, src, sizeof src) == 0, "upload, copy, download round trip");
    op_zero(b + 5, 10 * sizeof(float));
    op_download(got, b, sizeof src);
    CHECK(got[4] == src[4] && got[5] == 0.0f && got[14] == 0.0f && got[15] == src[15],
          "op_zero clears its range");
    CHECK(op_sync() == 0, "sync on the CPU");

    // routed ops are the CPU backend's, bit for bit
    float w[37 * 3], y1[3 * 3], y2[3 * 3];
    for (int i = 0; i < 37 * 3; i++) w[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    op_matmul_forward(y1, src, w, 1, 37, 3);
    cpu_matmul_forward(y2, src, w, 1, 37, 3);
    CHECK(memcmp(y1, y2, sizeof(float) * 3) == 0, "op_matmul_forward is cpu_matmul_forward");
    CHECK(op_sum_squares(src, 37) == cpu_sum_squares(src, 37), "op_sum_squares is cpu_sum_squares");
    op_free(a);
    op_free(b);
    op_free(NULL);
    return test_finish("test_device");
}
