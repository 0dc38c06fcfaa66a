/* float_formats.c - plain storage: fp32, fp16 and bf16.
 *
 * One buffer "data" [rows, cols] holding f32, or f16 / bf16 as their u16 bit
 * patterns, converted with tensor.h's exact round-to-nearest-even functions
 * (the same results as torch.Tensor.half() / .bfloat16()).  A finite weight
 * that fp16 cannot hold (|w| >= 65520 rounds to Inf) is refused rather than
 * stored as Inf.
 */
#include <string.h>

#include "quant/format.h"
#include "quant/quant_common.h"

static sq_status float_store(const char *tensor_name, const float *values, int64_t rows, int64_t cols,
                             const char *format, sq_dtype dtype, sq_qtensor *out)
{
    sq_status st = SQ_OK;
    int64_t n = rows * cols;
    int64_t shape[2] = {rows, cols};
    void *data = NULL;
    sq_quant_begin(out, tensor_name, format, rows, cols);
    SQ_TRY(sq_quant_check_finite(tensor_name, values, rows, cols));
    SQ_TRY(sq_qtensor_add_buffer(out, "data", dtype, 2, shape, &data));
    if (dtype == SQ_DTYPE_F32) {
        memcpy(data, values, (size_t)n * sizeof(float));
    } else {
        uint16_t *bits = data;
        for (int64_t i = 0; i < n; i++) {
            bits[i] = dtype == SQ_DTYPE_F16 ? sq_f32_to_f16(values[i]) : sq_f32_to_bf16(values[i]);
            if ((bits[i] & 0x7fffu) == (dtype == SQ_DTYPE_F16 ? 0x7c00u : 0x7f80u))
                SQ_FAIL(SQ_ERR_INPUT,
                        "tensor '%s': element %lld (row %lld, column %lld) = %g overflows %s; store this tensor "
                        "as bf16 or fp32 in the precision map",
                        tensor_name, (long long)i, (long long)(i / cols), (long long)(i % cols), (double)values[i],
                        format);
        }
    }
cleanup:
    return sq_quant_end(out, st);
}

static sq_status float_load(const sq_qtensor *qt, sq_dtype dtype, float *out)
{
    sq_status st;
    const sq_qbuffer *data;
    int64_t n = sq_qtensor_numel(qt);
    st = sq_qtensor_require_buffer(qt, "data", dtype, n, &data);
    if (st != SQ_OK)
        return st;
    if (dtype == SQ_DTYPE_F32) {
        memcpy(out, data->data, (size_t)n * sizeof(float));
        return SQ_OK;
    }
    const uint16_t *bits = data->data;
    for (int64_t i = 0; i < n; i++)
        out[i] = dtype == SQ_DTYPE_F16 ? sq_f16_to_f32(bits[i]) : sq_bf16_to_f32(bits[i]);
    return SQ_OK;
}

static sq_status fp32_quantize(const char *tensor_name, const float *values, int64_t rows, int64_t cols,
                               const sq_quant_options *options, const sq_calib_stats *calib, sq_qtensor *out)
{
    (void)options; (void)calib; /* in the shared signature, unused here */
    return float_store(tensor_name, values, rows, cols, "fp32", SQ_DTYPE_F32, out);
}
static sq_status fp16_quantize(const char *tensor_name, const float *values, int64_t rows, int64_t cols,
                               const sq_quant_options *options, const sq_calib_stats *calib, sq_qtensor *out)
{
    (void)options; (void)calib; /* in the shared signature, unused here */
    return float_store(tensor_name, values, rows, cols, "fp16", SQ_DTYPE_F16, out);
}
static sq_status bf16_quantize(const char *tensor_name, const float *values, int64_t rows, int64_t cols,
                               const sq_quant_options *options, const sq_calib_stats *calib, sq_qtensor *out)
{
    (void)options; (void)calib; /* in the shared signature, unused here */
    return float_store(tensor_name, values, rows, cols, "bf16", SQ_DTYPE_BF16, out);
}
static sq_status fp32_dequantize(const sq_qtensor *qt, float *out) { return float_load(qt, SQ_DTYPE_F32, out); }
static sq_status fp16_dequantize(const sq_qtensor *qt, float *out) { return float_load(qt, SQ_DTYPE_F16, out); }
static sq_status bf16_dequantize(const sq_qtensor *qt, float *out) { return float_load(qt, SQ_DTYPE_BF16, out); }

const sq_quant_format sq_format_fp32 = {
    .name = "fp32", .description = "IEEE float32, unchanged (32 bits per weight)",
    .format_class = SQ_FORMAT_CLASS_FULL, .bits_per_weight = 32.0, .block_size = 1, .calibration = SQ_CALIB_NONE,
    .plain = true, .storage_dtype = SQ_DTYPE_F32, .options = sq_format_no_options,
    .quantize = fp32_quantize, .dequantize = fp32_dequantize,
};
const sq_quant_format sq_format_fp16 = {
    .name = "fp16", .description = "IEEE float16, round to nearest even (16 bits per weight)",
    .format_class = SQ_FORMAT_CLASS_HALF, .bits_per_weight = 16.0, .block_size = 1, .calibration = SQ_CALIB_NONE,
    .plain = true, .storage_dtype = SQ_DTYPE_F16, .options = sq_format_no_options,
    .quantize = fp16_quantize, .dequantize = fp16_dequantize,
};
const sq_quant_format sq_format_bf16 = {
    .name = "bf16", .description = "bfloat16, round to nearest even (16 bits per weight)",
    .format_class = SQ_FORMAT_CLASS_HALF, .bits_per_weight = 16.0, .block_size = 1, .calibration = SQ_CALIB_NONE,
    .plain = true, .storage_dtype = SQ_DTYPE_BF16, .options = sq_format_no_options,
    .quantize = bf16_quantize, .dequantize = bf16_dequantize,
};
