/* tiles.c - activations quantized into tiles of 8 tokens, the layout the AVX-512 VNNI kernels
 * read (kernels_internal.h: sq_quantize_tiles_avx512).
 *
 * A VNNI kernel broadcasts each token's activation bytes 4 at a time into vpdpbusd, token
 * after token of its register block of 8, so they are stored where one base pointer and
 * constant offsets reach them all: per tile and group of 4 inputs, the 8 tokens' 4 bytes side by
 * side (32 bytes), and per tile and block the 8 tokens' scales side by side (work->scale),
 * with what the form adds beside them (d x sum in work->aux; integer sums in work->sum).  The
 * last tile's tokens past the window repeat its last token; their results are never stored.
 * The bytes are those of the scalar quantizers (qgemm.c's quantize_acts_ref, ggml_dot.c's
 * quantize_q8_0): the same absmax, division, reciprocal, rounding half to even and fp16
 * rounding. */
#include "kernels/kernels_internal.h"

#if SQ_KERNELS_X86
#include <immintrin.h>

#include "tensor/tensor.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/* Lane i: the largest of the 16 lanes of m[i], the 8 vectors folded side by side (halves,
 * then quarters, then within 128 bits) instead of one horizontal reduction each. */
AVX512 static inline __m256 max_lanes_of_8(const __m512 m[SQ_TILE])
{
    __m512 half[4], quarter[2];
    for (int i = 0; i < 4; i++) /* 128-bit lanes 0-1: m[2i] folded to 8 floats, 2-3: m[2i + 1] */
        half[i] = _mm512_max_ps(_mm512_shuffle_f32x4(m[2 * i], m[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                                _mm512_shuffle_f32x4(m[2 * i], m[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int i = 0; i < 2; i++) /* 128-bit lane j: m[4i + j] folded to 4 floats */
        quarter[i] = _mm512_max_ps(_mm512_shuffle_f32x4(half[2 * i], half[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_f32x4(half[2 * i], half[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    /* lane j: m[j] in floats 0-1, m[4 + j] in 2-3; then each pair's larger in both */
    __m512 pairs = _mm512_max_ps(_mm512_shuffle_ps(quarter[0], quarter[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm512_shuffle_ps(quarter[0], quarter[1], _MM_SHUFFLE(3, 2, 3, 2)));
    pairs = _mm512_max_ps(pairs, _mm512_permute_ps(pairs, _MM_SHUFFLE(2, 3, 0, 1)));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castps512_ps256(_mm512_permutexvar_ps(order, pairs));
}

AVX512 void sq_quantize_tiles_avx512(const float *x, int T, int cols, int block, sq_tile_form form,
                                     sq_kernel_work *work)
{
    const int nb = cols / block;
    const bool ggml = form != SQ_TILES_Q8;
    if (sq_acts_held(work, x, T, cols, block, (sq_acts_kind)form))
        return;
    const __m512i ones = _mm512_set1_epi8(1);
    /* 64-bit lanes of two packed vectors (tokens 0-3, 4-7) making groups 0-1 and 2-3 */
    const __m512i groups01 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    const __m512i groups23 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    for (int t = 0; t < T; t += SQ_TILE) {
        int row[SQ_TILE];
        const float *xr[SQ_TILE];
        sq_block_rows(t, T, SQ_TILE, row);
        for (int i = 0; i < SQ_TILE; i++)
            xr[i] = x + (size_t)row[i] * cols;
        uint8_t *tile = (uint8_t *)work->q + (size_t)t * cols;
        for (int b = 0; b < nb; b++) {
            const int k0 = b * block;
            __m512 m[SQ_TILE];
            _Pragma("GCC unroll 8") for (int i = 0; i < SQ_TILE; i++) {
                m[i] = _mm512_abs_ps(_mm512_loadu_ps(xr[i] + k0));
                for (int j = 16; j < block; j += 16)
                    m[i] = _mm512_max_ps(m[i], _mm512_abs_ps(_mm512_loadu_ps(xr[i] + k0 + j)));
            }
            const __m256 amax = max_lanes_of_8(m), d = _mm256_div_ps(amax, _mm256_set1_ps(127.0f));
            /* qgemm.c: 1 / d where d is not 0; ggml's Q8_0: 127 / amax where amax is not 0 */
            const __m256 id = ggml ? _mm256_maskz_div_ps(_mm256_cmp_ps_mask(amax, _mm256_setzero_ps(), _CMP_NEQ_UQ),
                                                         _mm256_set1_ps(127.0f), amax)
                                   : _mm256_maskz_div_ps(_mm256_cmp_ps_mask(d, _mm256_setzero_ps(), _CMP_NEQ_UQ),
                                                         _mm256_set1_ps(1.0f), d);
            float inverse[SQ_TILE];
            _mm256_storeu_ps(inverse, id);
            __m512i sums = _mm512_setzero_si512();
            for (int j = 0; j < block; j += 16) {
                __m512i q[SQ_TILE];
                _Pragma("GCC unroll 8") for (int i = 0; i < SQ_TILE; i++)
                    q[i] = _mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xr[i] + k0 + j),
                                                                  _mm512_set1_ps(inverse[i])),
                                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                /* packs work per 128 bits: 128-bit lane l of each holds group l of 4 tokens */
                const __m512i low = _mm512_packs_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(q[2], q[3]));
                const __m512i high = _mm512_packs_epi16(_mm512_packs_epi32(q[4], q[5]), _mm512_packs_epi32(q[6], q[7]));
                const __m512i g01 = _mm512_permutex2var_epi64(low, groups01, high);
                const __m512i g23 = _mm512_permutex2var_epi64(low, groups23, high);
                uint8_t *at = tile + (size_t)(k0 + j) / 4 * (4 * SQ_TILE);
                _mm512_storeu_si512(at, g01);
                _mm512_storeu_si512(at + 64, g23);
                /* 4 bytes summed per 32-bit lane: lane 8g + i is token i's group g */
                sums = _mm512_dpbusd_epi32(sums, ones, g01);
                sums = _mm512_dpbusd_epi32(sums, ones, g23);
            }
            const size_t side = sq_tile_side(t, nb, b);
            const __m256i sum = _mm256_add_epi32(_mm512_castsi512_si256(sums), _mm512_extracti64x4_epi64(sums, 1));
            if (!ggml) {
                _mm256_storeu_ps(work->scale + side, d);
                _mm256_storeu_si256((__m256i *)(work->sum + side), sum);
                _mm256_storeu_ps(work->aux + side, _mm256_mul_ps(d, _mm256_cvtepi32_ps(sum)));
                continue;
            }
            /* ggml's Q8_0: d rounded to fp16, the integer sums; Q8_1: s = fp16(d x sum) */
            float dv[SQ_TILE];
            int32_t sv[SQ_TILE];
            _mm256_storeu_ps(dv, d);
            _mm256_storeu_si256((__m256i *)sv, sum);
            for (int i = 0; i < SQ_TILE; i++) {
                work->scale[side + (size_t)i] = sq_f16_to_f32(sq_f32_to_f16(dv[i]));
                work->sum[side + (size_t)i] = sv[i];
                if (form == SQ_TILES_GGML_Q8_1)
                    work->aux[side + (size_t)i] = sq_f16_to_f32(sq_f32_to_f16(dv[i] * (float)sv[i]));
            }
        }
    }
}
#endif
