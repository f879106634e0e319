// finite.h: where a float array read from a file first holds a NaN or an
// infinity. One pass with no early exit (it vectorizes: x - x is NaN for
// NaN and the infinities alone), a second only when there is one to find.
#ifndef MTP_CORE_FINITE_H
#define MTP_CORE_FINITE_H

#include <stddef.h>

// The index of the first value of x[0..n) that is not finite, or n.
static inline size_t first_nonfinite(const float *x, size_t n) {
    int any = 0;
    for (size_t i = 0; i < n; i++) any |= !(x[i] - x[i] == 0.0f);
    if (!any) return n;
    size_t i = 0;
    while (x[i] - x[i] == 0.0f) i++;
    return i;
}

#endif
