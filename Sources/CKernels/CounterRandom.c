#include "CKernels.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

int distconv_cpu_has_avx512dq(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
    // The OS saves the vector registers it would have to: XMM, YMM, opmask and ZMM state.
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6) != 0xE6) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & bit_AVX512F) && (b & bit_AVX512DQ) ? 1 : 0;
}

__attribute__((target("avx512f,avx512dq")))
void distconv_centered_sums_of_three_avx512(uint64_t key, uint64_t first, float *out, long count) {
    const __m512i lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i golden = _mm512_set1_epi64((long long)0x9E3779B97F4A7C15ULL);
    const __m512i m1 = _mm512_set1_epi64((long long)0xBF58476D1CE4E5B9ULL);
    const __m512i m2 = _mm512_set1_epi64((long long)0x94D049BB133111EBULL);
    const __m512i low21 = _mm512_set1_epi64(0x1FFFFF);
    const __m512i k = _mm512_set1_epi64((long long)key);
    const __m256 scale = _mm256_set1_ps(0x1p-21f), centre = _mm256_set1_ps(1.5f);
    for (long i = 0; i < count; i += 8) {
        __m512i index = _mm512_add_epi64(_mm512_set1_epi64((long long)(first + (uint64_t)i)), lanes);
        __m512i z = _mm512_add_epi64(_mm512_xor_si512(k, index), golden);
        z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), m1);
        z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), m2);
        __m512i bits = _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
        __m512i sum = _mm512_add_epi64(
            _mm512_add_epi64(_mm512_srli_epi64(bits, 43), _mm512_and_si512(_mm512_srli_epi64(bits, 22), low21)),
            _mm512_and_si512(_mm512_srli_epi64(bits, 1), low21));
        // The sum is below 2^24, so the conversion is exact, and so are the scale by a
        // power of two and the subtraction (a multiple of 2^-21 below 2 in magnitude).
        __m256 v = _mm256_sub_ps(_mm256_mul_ps(_mm512_cvtepi64_ps(sum), scale), centre);
        if (count - i >= 8) {
            _mm256_storeu_ps(out + i, v);
        } else {
            float tail[8];
            _mm256_storeu_ps(tail, v);
            memcpy(out + i, tail, (size_t)(count - i) * sizeof(float));
        }
    }
}

#else

int distconv_cpu_has_avx512dq(void) { return 0; }

void distconv_centered_sums_of_three_avx512(uint64_t key, uint64_t first, float *out, long count) {
    (void)key; (void)first; (void)out; (void)count;
}

#endif
