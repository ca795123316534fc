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

#endif
