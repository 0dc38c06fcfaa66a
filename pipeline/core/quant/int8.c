/* int8.c - per-output-channel symmetric int8 (the weight side of W8A8).
 *
 * For each row c: scale_c = absmax_c / 127, or the weight_percentile of |W_c|
 * / 127 when weight_percentile < 100 (values beyond it are clipped), and
 * q = clamp(round_half_even(w / scale_c), -127, 127) as
 * bitsandbytes' int8_vectorwise_quant does (torch.round, never -128).
 * Buffers: "q" i8 [rows, cols], "scales" f32 [rows]; w = q * scale_c.
 * When calibration measured the inputs, their per-column scales are kept next
 * to the weights as "act_scales" f32 [cols] = act_percentile (else act_absmax)
 * / 127, ready for W8A8 (SmoothQuant, Quamba's percentile clip).
 * Attrs: weight_percentile, act_scales_from_percentile (when act_scales).
 */
#include <math.h>
#include <stdlib.h>

#include "quant/format.h"
#include "quant/quant_common.h"

static int compare_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* numpy.percentile's default (linear interpolation between order statistics). */
static float row_percentile(float *abs_sorted, int64_t n, double percentile)
{
    qsort(abs_sorted, (size_t)n, sizeof *abs_sorted, compare_float);
    double position = percentile / 100.0 * (double)(n - 1);
    int64_t lower = (int64_t)floor(position);
    int64_t upper = lower + 1 < n ? lower + 1 : lower;
    double fraction = position - (double)lower;
    return (float)((double)abs_sorted[lower] + fraction * ((double)abs_sorted[upper] - (double)abs_sorted[lower]));
}

static sq_status int8_quantize(const char *tensor_name, const float *values, int64_t rows, int64_t cols,
                               const sq_quant_options *options, const sq_calib_stats *calib, sq_qtensor *out)
{
    sq_status st = SQ_OK;
    int64_t q_shape[2] = {rows, cols};
    int8_t *q = NULL;
    float *scales = NULL, *act_scales = NULL, *scratch = NULL;
    double percentile = options ? options->weight_percentile : 100.0;

    sq_quant_begin(out, tensor_name, "int8", rows, cols);
    if (!(percentile > 0.0 && percentile <= 100.0))
        SQ_FAIL(SQ_ERR_USAGE, "tensor '%s': int8 weight_percentile %g is outside (0, 100]; use 100 for absmax",
                tensor_name, percentile);
    SQ_TRY(sq_quant_check_finite(tensor_name, values, rows, cols));
    SQ_TRY(sq_qtensor_add_buffer(out, "q", SQ_DTYPE_I8, 2, q_shape, (void **)&q));
    SQ_TRY(sq_qtensor_add_buffer(out, "scales", SQ_DTYPE_F32, 1, &rows, (void **)&scales));
    if (percentile < 100.0)
        SQ_TRY(sq_alloc(&scratch, (size_t)cols, sizeof *scratch, tensor_name));

    for (int64_t r = 0; r < rows; r++) {
        const float *w = values + r * cols;
        float range = 0.0f;
        if (scratch) {
            for (int64_t c = 0; c < cols; c++)
                scratch[c] = fabsf(w[c]);
            range = row_percentile(scratch, cols, percentile);
        }
        if (range == 0.0f) { /* absmax, also when the percentile of a sparse row is 0 */
            for (int64_t c = 0; c < cols; c++)
                range = fmaxf(range, fabsf(w[c]));
        }
        float scale = range / 127.0f;
        scales[r] = scale;
        for (int64_t c = 0; c < cols; c++) {
            /* An all-zero row keeps scale 0 and codes 0: no division. */
            float code = scale > 0.0f ? nearbyintf(w[c] / scale) : 0.0f;
            q[r * cols + c] = (int8_t)fminf(127.0f, fmaxf(-127.0f, code));
        }
    }
    sq_qtensor_set_attr(out, "weight_percentile", percentile);

    if (calib && (calib->act_percentile || calib->act_absmax)) {
        const float *source = calib->act_percentile ? calib->act_percentile : calib->act_absmax;
        SQ_TRY(sq_qtensor_add_buffer(out, "act_scales", SQ_DTYPE_F32, 1, &cols, (void **)&act_scales));
        for (int64_t c = 0; c < cols; c++) {
            if (!isfinite(source[c]))
                SQ_FAIL(SQ_ERR_INPUT, "tensor '%s': calibrated activation range of input column %lld is not finite; "
                        "rerun calibrate", tensor_name, (long long)c);
            act_scales[c] = source[c] / 127.0f;
        }
        sq_qtensor_set_attr(out, "act_scales_from_percentile", calib->act_percentile ? 1.0 : 0.0);
    }
cleanup:
    free(scratch);
    return sq_quant_end(out, st);
}

static sq_status int8_dequantize(const sq_qtensor *qt, float *out)
{
    sq_status st;
    int64_t rows, cols;
    const sq_qbuffer *q, *scales;
    if ((st = sq_quant_matrix_dims(qt, "q", &rows, &cols)) != SQ_OK ||
        (st = sq_qtensor_require_buffer(qt, "q", SQ_DTYPE_I8, rows * cols, &q)) != SQ_OK ||
        (st = sq_qtensor_require_buffer(qt, "scales", SQ_DTYPE_F32, rows, &scales)) != SQ_OK)
        return st;
    const int8_t *codes = q->data;
    const float *scale = scales->data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            out[r * cols + c] = (float)codes[r * cols + c] * scale[r];
    return SQ_OK;
}

static const sq_format_option int8_options[] = {
    SQ_FORMAT_OPTION("weight_percentile", SQ_OPTION_NUMBER, weight_percentile, 100.0, 1e-9, 100.0,
                     "percentile of |w| per row that maps to 127 (100 = absmax)"),
    {.name = NULL},
};

const sq_quant_format sq_format_int8 = {
    .name = "int8",
    .description = "per-output-channel symmetric int8, scale = absmax/127 (8 bits + 32 per row)",
    .format_class = SQ_FORMAT_CLASS_INT8,
    .bits_per_weight = 8.0,
    .block_size = 0,
    .calibration = SQ_CALIB_OPTIONAL,
    .options = int8_options,
    .quantize = int8_quantize,
    .dequantize = int8_dequantize,
};
