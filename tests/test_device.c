// test_device.c: the device interface of ops.h on the CPU: names, choosing a
// device (CUDA refused with a clear error where it cannot run), memory and
// copies, and ops routed to the CPU backend giving its exact results.
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/error.h"
#include "ops/cpu/cpu_ops.h"
#include "ops/ops.h"

// op_copy_rows on the current device: 3 rows of 5 floats from a source at a
// pitch of 7 into a destination at a pitch of 9 (a KV cache's head runs from
// a (T, Hkv, hd) projection); the gaps between the rows keep what they held.
static void check_copy_rows(const char *where) {
    float src[3 * 7], before[3 * 9], got[3 * 9];
    for (int i = 0; i < 3 * 7; i++) src[i] = (float)i + 0.5f;
    for (int i = 0; i < 3 * 9; i++) before[i] = -1.0f - (float)i;
    float *s = op_alloc(sizeof src, "test"), *d = op_alloc(sizeof before, "test");
    op_upload(s, src, sizeof src);
    op_upload(d, before, sizeof before);
    op_copy_rows(d + 1, 9 * sizeof(float), s + 2, 7 * sizeof(float), 5 * sizeof(float), 3);
    op_download(got, d, sizeof got);
    int right = 1;
    for (int i = 0; i < 3 * 9; i++) {
        const int r = i / 9, c = i % 9 - 1;  // destination row r, column c of the copied five
        right &= got[i] == (c >= 0 && c < 5 ? src[r * 7 + 2 + c] : before[i]);
    }
    CHECK(right, "%s: op_copy_rows puts each row at its pitch and leaves the gaps", where);
    op_copy_rows(d, 9 * sizeof(float), s, 7 * sizeof(float), 0, 3);  // nothing to copy
    op_copy_rows(d, 9 * sizeof(float), s, 7 * sizeof(float), 5 * sizeof(float), 0);
    op_download(got + 0, d, sizeof got);
    CHECK(got[0] == before[0], "%s: op_copy_rows of zero bytes or rows copies nothing", where);
    op_free(s);
    op_free(d);
}

int main(void) {
    op_device d = OP_DEVICE_CUDA;
    CHECK(op_device_parse("cpu", &d) == 0 && d == OP_DEVICE_CPU, "parse cpu");
    CHECK(op_device_parse("cuda", &d) == 0 && d == OP_DEVICE_CUDA, "parse cuda");
    CHECK(op_device_parse("gpu", &d) != 0 && strstr(mtp_last_error(), "'gpu'") &&
              strstr(mtp_last_error(), "cpu, cuda or cpu-check"),
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
    if (rc == 0) check_copy_rows("cuda");  // a GPU, or the host emulation of one
    CHECK(op_use_device(OP_DEVICE_CPU) == 0 && op_current_device() == OP_DEVICE_CPU, "back to the CPU");

    // precision: names; the CPU computes in float32 only
    op_precision pr = OP_PRECISION_FP32;
    CHECK(op_precision_parse("bf16", &pr) == 0 && pr == OP_PRECISION_BF16 &&
              op_precision_parse("tf32", &pr) == 0 && pr == OP_PRECISION_TF32 &&
              op_precision_parse("fp32", &pr) == 0 && pr == OP_PRECISION_FP32,
          "parse precisions");
    CHECK(op_precision_parse("fp16", &pr) != 0, "fp16 is not a precision of ours");
    CHECK(op_set_precision(OP_PRECISION_FP32) == 0, "fp32 on the CPU");
    CHECK(op_set_precision(OP_PRECISION_BF16) != 0 && strstr(mtp_last_error(), "run on a GPU"),
          "bf16 on the CPU is refused, saying where it runs: %s", mtp_last_error());

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
    check_copy_rows("cpu");
    // large ranges are cleared by the kernel threads, each a share of whole cache lines: an
    // odd size at an address off the lines, host memory (op_zero_on) and the device's
    {
        const size_t big = ((size_t)16 << 20) + 100, pad = 64;
        unsigned char *buf = malloc(big + 2 * pad + 4);
        CHECK(buf != NULL, "16 MB for op_zero_on");
        for (int pass = 0; buf && pass < 2; pass++) {
            memset(buf, 0xAB, big + 2 * pad + 4);
            unsigned char *at = buf + pad + 4;  // 4 bytes past a line
            if (pass == 0)
                op_zero_on(0, at, big);
            else
                op_zero(at, big);
            size_t nonzero = 0, outside = 0;
            for (size_t i = 0; i < big; i++) nonzero += at[i] != 0;
            for (size_t i = 0; i < pad + 4; i++) outside += buf[i] != 0xAB;
            for (size_t i = 0; i < pad; i++) outside += at[big + i] != 0xAB;
            CHECK(nonzero == 0 && outside == 0, "%s clears 16 MB + 100 bytes exactly (%zu left, %zu outside)",
                  pass == 0 ? "op_zero_on(host)" : "op_zero", nonzero, outside);
        }
        free(buf);
    }

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

    // cpu-check: the same kernels on memory the host cannot reach directly
    CHECK(op_device_parse("cpu-check", &d) == 0 && d == OP_DEVICE_CPU_CHECK, "parse cpu-check");
    CHECK(op_use_device(OP_DEVICE_CPU_CHECK) == 0 && op_current_device() == OP_DEVICE_CPU_CHECK,
          "use cpu-check");
    float *hx = op_alloc(sizeof src, "test"), *hw = op_alloc(sizeof w, "test"),
          *hy = op_alloc(sizeof y1, "test");
    CHECK(hx && hw && hy && (void *)hx != op_host_view(hx) && op_host_view(NULL) == NULL,
          "cpu-check pointers are not host addresses");
    op_upload(hx, src, sizeof src);
    op_upload(hw, w, sizeof w);
    op_matmul_forward(hy, hx, hw, 1, 37, 3);
    float y3[3];
    op_download(y3, hy, sizeof y3);
    CHECK(memcmp(y3, y2, sizeof y3) == 0, "an op on cpu-check memory gives the CPU's bits");
    check_copy_rows("cpu-check");
    CHECK(op_sum_squares(hx, 37) == cpu_sum_squares(src, 37), "op_sum_squares on cpu-check memory");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {  // the host reading device memory itself must crash (a signal, or a sanitizer report)
        volatile float v = hx[0];
        (void)v;
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(pid > 0 && (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)),
          "reading cpu-check memory from the host crashes (status %d)", status);
    op_free(hx);
    op_free(hy);
    op_free(hw);
    CHECK(op_use_device(OP_DEVICE_CPU) == 0, "back to the CPU");
    return test_finish("test_device");
}
