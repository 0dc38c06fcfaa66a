/* ggml_q8_0.c - ggml's Q8_0: blocks of 32 values, an fp16 scale and 32 int8.
 *
 * Mirrors ggml-quants.c::quantize_row_q8_0_ref (the reference that llama.cpp's
 * quantizer calls for Q8_0 without an importance matrix):
 *   amax = max |x|, d = amax / 127, id = d ? 1/d : 0, q = roundf(x * id)
 * (roundf: ties away from zero), d stored as fp16 (round to nearest even);
 * dequantize_row_q8_0: x = fp16(d) * q.  The code uses the fp32 d, not its
 * fp16 rounding, exactly as ggml does.  An all-zero block stores d = 0, q = 0.
 * Storage: ggml_blocks.h ("blocks", 34 bytes per 32 values).
 */
#include <math.h>

#include "quant/ggml_blocks.h"

void sq_ggml_quantize_row_q8_0(const float *x, void *out, int64_t n)
{
    sq_block_q8_0 *y = out;
    for (int64_t i = 0; i < n / SQ_QK8_0; i++) {
        float amax = 0.0f;
        for (int j = 0; j < SQ_QK8_0; j++)
            amax = fmaxf(amax, fabsf(x[i * SQ_QK8_0 + j]));  /* MAX(amax, fabsf(v)) */
        const float d = amax / 127;                          /* ((1 << 7) - 1) */
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = sq_f32_to_f16(d);
        for (int j = 0; j < SQ_QK8_0; j++)
            y[i].qs[j] = (int8_t)roundf(x[i * SQ_QK8_0 + j] * id);
    }
}

void sq_ggml_dequantize_row_q8_0(const void *in, float *y, int64_t n)
{
    const sq_block_q8_0 *x = in;
    for (int64_t i = 0; i < n / SQ_QK8_0; i++) {
        const float d = sq_f16_to_f32(x[i].d);
        for (int j = 0; j < SQ_QK8_0; j++)
            y[i * SQ_QK8_0 + j] = x[i].qs[j] * d;
    }
}
