// Loops of Kernels that need instructions Swift cannot ask for in one function: Swift
// compiles for the baseline x86-64 (SSE2), where a vector of 64-bit multiplies is
// emulated and slower than scalar code; C can build one function for AVX-512 and choose
// it at run time.
#ifndef DISTCONV_CKERNELS_H
#define DISTCONV_CKERNELS_H

#include <stdint.h>

/// 1 when the CPU and the OS support AVX-512 F and DQ (the 64-bit multiplies and
/// conversions below), else 0.
int distconv_cpu_has_avx512dq(void);

/// CounterRandom.centeredSumsOfThree on AVX-512 (call only when
/// distconv_cpu_has_avx512dq() is 1): for i in 0..<count, with b = SplitMix64's
/// finalizer of (key ^ (first + i)), out[i] = ((b >> 43) + ((b >> 22) & 0x1FFFFF) +
/// ((b >> 1) & 0x1FFFFF)) * 2^-21 - 1.5, exact in float. Eight values a step.
void distconv_centered_sums_of_three_avx512(uint64_t key, uint64_t first, float *out, long count);

/// maxpool2d_backward_blocked (nChw16c) on AVX-512 F for windows that do not overlap (call only
/// when distconv_cpu_has_avx512dq() is 1): per output pixel of each of `planes`
/// nChw16c block-planes, every input pixel of its window (local rows rowLo[r]..<rowHi[r],
/// columns colLo[c]..<colHi[c] of an input plane `inCols` wide, `inPlane` pixels) gets dy
/// in the lanes whose argmax names it and 0 in the others: one masked 64-byte store per
/// window pixel instead of 16 scalar adds. Pixels in no window are left alone.
void distconv_maxpool_backward_blocked16_disjoint_avx512(
    const float *dy, const int32_t *argmax, float *dx, long planes, long inPlane, long inCols,
    long outRows, const int32_t *rowLo, const int32_t *rowHi,
    long outCols, const int32_t *colLo, const int32_t *colHi);

/// 1 when the CPU supports AVX2, else 0.
int distconv_cpu_has_avx2(void);

/// Max pooling forward on nChw8c Float storage with AVX2 (call only when
/// distconv_cpu_has_avx2() is 1): per output pixel of each of `planes` block-planes, the
/// lane-wise maximum over its window (local rows rowLo[r]..<rowHi[r], columns
/// colLo[c]..<colHi[c] of an input plane `inCols` wide, `inPlane` pixels) into y, and the
/// winner's pixel offset (row * inCols + column) into argmax: the first maximum in
/// row-major window order wins, as maxpool2d_forward does.
void distconv_maxpool_forward_blocked8_avx2(
    const float *x, float *y, int32_t *argmax, long planes, long inPlane, long inCols,
    long outRows, const int32_t *rowLo, const int32_t *rowHi,
    long outCols, const int32_t *colLo, const int32_t *colHi);

#endif
