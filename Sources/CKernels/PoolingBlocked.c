#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f")))
void distconv_maxpool_backward_blocked16_disjoint_avx512(
    const float *dy, const int32_t *argmax, float *dx, long planes, long inPlane, long inCols,
    long outRows, const int32_t *rowLo, const int32_t *rowHi,
    long outCols, const int32_t *colLo, const int32_t *colHi) {
    const __m512 zero = _mm512_setzero_ps();
    for (long plane = 0; plane < planes; plane++) {
        float *dxb = dx + plane * inPlane * 16;
        for (long r = 0; r < outRows; r++) {
            for (long c = 0; c < outCols; c++) {
                long o = ((plane * outRows + r) * outCols + c) * 16;
                // + 0 turns -0 into +0, as the scatter's 0 + d does.
                __m512 d = _mm512_add_ps(_mm512_loadu_ps(dy + o), zero);
                __m512i winner = _mm512_loadu_si512((const void *)(argmax + o));
                for (long y = rowLo[r]; y < rowHi[r]; y++) {
                    for (long x = colLo[c]; x < colHi[c]; x++) {
                        long at = y * inCols + x;
                        __mmask16 mine = _mm512_cmpeq_epi32_mask(winner, _mm512_set1_epi32((int)at));
                        _mm512_storeu_ps(dxb + at * 16, _mm512_maskz_mov_ps(mine, d));
                    }
                }
            }
        }
    }
}

int distconv_cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}

__attribute__((target("avx2")))
void distconv_maxpool_forward_blocked8_avx2(
    const float *x, float *y, int32_t *argmax, long planes, long inPlane, long inCols,
    long outRows, const int32_t *rowLo, const int32_t *rowHi,
    long outCols, const int32_t *colLo, const int32_t *colHi) {
    for (long plane = 0; plane < planes; plane++) {
        const float *xb = x + plane * inPlane * 8;
        for (long r = 0; r < outRows; r++) {
            for (long c = 0; c < outCols; c++) {
                long at = rowLo[r] * inCols + colLo[c];
                __m256 best = _mm256_loadu_ps(xb + at * 8);
                __m256i winner = _mm256_set1_epi32((int)at);
                for (long yy = rowLo[r]; yy < rowHi[r]; yy++) {
                    for (long xx = colLo[c]; xx < colHi[c]; xx++) {
                        at = yy * inCols + xx;
                        __m256 v = _mm256_loadu_ps(xb + at * 8);
                        // Strictly greater: the first maximum in row-major order wins (NaN never).
                        __m256 better = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
                        best = _mm256_blendv_ps(best, v, better);
                        winner = _mm256_castps_si256(_mm256_blendv_ps(
                            _mm256_castsi256_ps(winner), _mm256_castsi256_ps(_mm256_set1_epi32((int)at)), better));
                    }
                }
                long o = ((plane * outRows + r) * outCols + c) * 8;
                _mm256_storeu_ps(y + o, best);
                _mm256_storeu_si256((__m256i *)(argmax + o), winner);
            }
        }
    }
}

#else

int distconv_cpu_has_avx2(void) { return 0; }

void distconv_maxpool_forward_blocked8_avx2(
    const float *x, float *y, int32_t *argmax, long planes, long inPlane, long inCols,
    long outRows, const int32_t *rowLo, const int32_t *rowHi,
    long outCols, const int32_t *colLo, const int32_t *colHi) {
    (void)x; (void)y; (void)argmax; (void)planes; (void)inPlane; (void)inCols;
    (void)outRows; (void)rowLo; (void)rowHi; (void)outCols; (void)colLo; (void)colHi;
}

void distconv_maxpool_backward_blocked16_disjoint_avx512(
    const float *dy, const int32_t *argmax, float *dx, long planes, long inPlane, long inCols,
    long outRows, const int32_t *rowLo, const int32_t *rowHi,
    long outCols, const int32_t *colLo, const int32_t *colHi) {
    (void)dy; (void)argmax; (void)dx; (void)planes; (void)inPlane; (void)inCols;
    (void)outRows; (void)rowLo; (void)rowHi; (void)outCols; (void)colLo; (void)colHi;
}

#endif
