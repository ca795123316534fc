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

#else

void distconv_maxpool_backward_blocked16_disjoint_avx512(
    const float *dy, const int32_t *argmax, float *dx, long planes, long inPlane, long inCols,
    long outRows, const int32_t *rowLo, const int32_t *rowHi,
    long outCols, const int32_t *colLo, const int32_t *colHi) {
    (void)dy; (void)argmax; (void)dx; (void)planes; (void)inPlane; (void)inCols;
    (void)outRows; (void)rowLo; (void)rowHi; (void)outCols; (void)colLo; (void)colHi;
}

#endif
