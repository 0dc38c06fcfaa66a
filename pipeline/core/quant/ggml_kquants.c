/* ggml_kquants.c - ggml's k-quants Q4_K and Q6_K: super-blocks of 256 values.
 *
 * Mirrors ggml-quants.c line by line (quantize_row_q4_K_ref, quantize_row_q6_K_ref
 * and their helpers make_qkx2_quants, make_qx_quants, get_scale_min_k4: the
 * path llama.cpp's quantizer takes without an importance matrix), so that the
 * bytes are ggml's: every float operation is done in float, in ggml's order
 * (sums accumulate left to right), and rounding goes through nearest_int.
 * The file is compiled without FP contraction (CMakeLists.txt) so that no
 * multiply-add is fused where ggml's reference rounds twice.
 *
 * Q4_K: 8 sub-blocks of 32; each gets a scale and a min from make_qkx2_quants
 * (weighted least squares over 21 candidate scales, weights av_x + |x|); the
 * scales and mins are quantized to 6 bits against the super-block's largest
 * (d = max_scale / 63, dmin = max_min / 63), then the 4-bit codes are
 * recomputed from the 6-bit values.  x = d * sc * q - dmin * m.
 * Q6_K: 16 sub-blocks of 16; each scale from make_qx_quants (nmax 32,
 * weights x^2, 19 candidate scales), quantized to int8 against the largest
 * (d = max_scale / -128), codes recomputed in [-32, 31].  x = d * sc * (q - 32).
 * Storage: ggml_blocks.h.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "quant/ggml_blocks.h"

#define GROUP_MAX_EPS 1e-15f

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

/* make_qx_quants(n, nmax, x, L, rmse_type, qw = NULL) for rmse_type 1 (weights x^2), as Q6_K uses it. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) { amax = ax; max = x[i]; }
    }
    if (amax < GROUP_MAX_EPS) { /* all zero */
        for (int i = 0; i < n; i++)
            L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = sq_ggml_nearest_int(iscale * x[i]);
        l = imax(-nmax, imin(nmax - 1, l));
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = sq_ggml_nearest_int(iscale * x[i]);
            l = imax(-nmax, imin(nmax - 1, l));
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = sq_ggml_nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + imax(-nmax, imin(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* make_qkx2_quants with use_mad = false: scale and (negated) min of one
 * sub-block by weighted least squares over nstep + 1 candidate scales. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                              uint8_t *Laux, float rmin, float rdelta, int nstep)
{
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0)
        min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++)
            L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = sq_ggml_nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)imax(0, imin(nmax, l));
        float diff = scale * L[i] + min - x[i];
        diff = diff * diff;
        float w = weights[i];
        best_error += w * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = sq_ggml_nearest_int(iscale * (x[i] - min));
            l = imax(0, imin(nmax, l));
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = diff * diff;
                float w = weights[i];
                cur_error += w * diff;
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

void sq_ggml_quantize_row_q4_k(const float *x, void *out, int64_t k)
{
    sq_block_q4_k *y = out;
    uint8_t L[SQ_QK_K], Laux[32];
    float weights[32], mins[SQ_QK_K / 32], scales[SQ_QK_K / 32];

    for (int64_t i = 0; i < k / SQ_QK_K; i++) {
        float max_scale = 0, max_min = 0; /* the min is deducted: scales are positive */
        for (int j = 0; j < SQ_QK_K / 32; j++) {
            float sum_x2 = 0;
            for (int l = 0; l < 32; l++)
                sum_x2 += x[32 * j + l] * x[32 * j + l];
            float av_x = sqrtf(sum_x2 / 32);
            for (int l = 0; l < 32; l++)
                weights[l] = av_x + fabsf(x[32 * j + l]);
            scales[j] = make_qkx2_quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20);
            if (scales[j] > max_scale)
                max_scale = scales[j];
            if (mins[j] > max_min)
                max_min = mins[j];
        }
        float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
        float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
        for (int j = 0; j < SQ_QK_K / 32; j++) {
            uint8_t ls = (uint8_t)sq_ggml_nearest_int(inv_scale * scales[j]);
            uint8_t lm = (uint8_t)sq_ggml_nearest_int(inv_min * mins[j]);
            ls = ls < 63 ? ls : 63;
            lm = lm < 63 ? lm : 63;
            if (j < 4) {
                y[i].scales[j] = ls;
                y[i].scales[j + 4] = lm;
            } else {
                y[i].scales[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
                y[i].scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
                y[i].scales[j - 0] |= (uint8_t)((lm >> 4) << 6);
            }
        }
        y[i].d = sq_f32_to_f16(max_scale / 63.f);
        y[i].dmin = sq_f32_to_f16(max_min / 63.f);

        uint8_t sc, m;
        for (int j = 0; j < SQ_QK_K / 32; j++) {
            sq_ggml_scale_min_k4(j, y[i].scales, &sc, &m);
            const float d = sq_f16_to_f32(y[i].d) * sc;
            if (!d)
                continue;
            const float dm = sq_f16_to_f32(y[i].dmin) * m;
            for (int ii = 0; ii < 32; ii++) {
                int l = sq_ggml_nearest_int((x[32 * j + ii] + dm) / d);
                L[32 * j + ii] = (uint8_t)imax(0, imin(15, l));
            }
        }
        uint8_t *q = y[i].qs;
        for (int j = 0; j < SQ_QK_K; j += 64) {
            for (int l = 0; l < 32; l++)
                q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
            q += 32;
        }
        x += SQ_QK_K;
    }
}

void sq_ggml_dequantize_row_q4_k(const void *in, float *y, int64_t k)
{
    const sq_block_q4_k *x = in;
    for (int64_t i = 0; i < k / SQ_QK_K; i++) {
        const uint8_t *q = x[i].qs;
        const float d = sq_f16_to_f32(x[i].d), min = sq_f16_to_f32(x[i].dmin);
        int is = 0;
        uint8_t sc, m;
        for (int j = 0; j < SQ_QK_K; j += 64) {
            sq_ggml_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            sq_ggml_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (q[l] >> 4) - m2;
            q += 32;
            is += 2;
        }
    }
}

void sq_ggml_quantize_row_q6_k(const float *x, void *out, int64_t k)
{
    sq_block_q6_k *y = out;
    int8_t L[SQ_QK_K];
    float scales[SQ_QK_K / 16];

    for (int64_t i = 0; i < k / SQ_QK_K; i++) {
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < SQ_QK_K / 16; ib++) {
            const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            const float abs_scale = fabsf(scale);
            if (abs_scale > max_abs_scale) {
                max_abs_scale = abs_scale;
                max_scale = scale;
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            y[i].d = sq_f32_to_f16(0.f);
            x += SQ_QK_K;
            continue;
        }
        float iscale = -128.f / max_scale;
        y[i].d = sq_f32_to_f16(1 / iscale);
        for (int ib = 0; ib < SQ_QK_K / 16; ib++)
            y[i].scales[ib] = (int8_t)imin(127, sq_ggml_nearest_int(iscale * scales[ib]));
        for (int j = 0; j < SQ_QK_K / 16; j++) {
            float d = sq_f16_to_f32(y[i].d) * y[i].scales[j];
            if (!d)
                continue;
            for (int ii = 0; ii < 16; ii++) {
                int l = sq_ggml_nearest_int(x[16 * j + ii] / d);
                l = imax(-32, imin(31, l));
                L[16 * j + ii] = (int8_t)(l + 32);
            }
        }
        uint8_t *ql = y[i].ql, *qh = y[i].qh;
        for (int j = 0; j < SQ_QK_K; j += 128) {
            for (int l = 0; l < 32; l++) {
                const uint8_t q1 = L[j + l + 0] & 0xF, q2 = L[j + l + 32] & 0xF;
                const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l + 0] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                  ((L[j + l + 96] >> 4) << 6));
            }
            ql += 64;
            qh += 32;
        }
        x += SQ_QK_K;
    }
}

void sq_ggml_dequantize_row_q6_k(const void *in, float *y, int64_t k)
{
    const sq_block_q6_k *x = in;
    for (int64_t i = 0; i < k / SQ_QK_K; i++) {
        const float d = sq_f16_to_f32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < SQ_QK_K; n += 128) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}
