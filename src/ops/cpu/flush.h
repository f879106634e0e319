// flush.h: subnormal numbers flushed to zero for the calling thread (MXCSR
// FTZ: subnormal results are 0; DAZ: subnormal inputs read as 0), around a
// kernel's work. On x86 every operation that makes or reads a subnormal is a
// microcode assist, a hundred cycles or more: a confident model's tiny
// softmax weights and gradients, or moments decaying towards 0, made kernels
// 3-170x slower. Values below float's normal range (1.2e-38) change no
// result that the kernels' tests can see.
#ifndef MTP_OPS_CPU_FLUSH_H
#define MTP_OPS_CPU_FLUSH_H

#include <xmmintrin.h>

enum { MXCSR_FTZ_DAZ = 0x8040 };

// Returns the thread's previous control word, for flush_subnormals_end.
static inline unsigned int flush_subnormals_begin(void) {
    const unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | MXCSR_FTZ_DAZ);
    return csr;
}

static inline void flush_subnormals_end(unsigned int csr) {
    _mm_setcsr(csr);
}

#endif
