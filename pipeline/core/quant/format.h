/* format.h - the registry of storage formats (one file per format in quant/).
 *
 * Each format turns an fp32 matrix (rows = output channels, cols = input
 * features; a 1-D tensor is one row) into an sq_qtensor and back.  Options
 * come from the precision map; calibration statistics are passed where the
 * format uses them (int8 activation scales, gptq's X^T X).
 *
 * Contract of quantize: it initialises *out itself (sq_qtensor_init with the
 * tensor's name, the format name, original dtype f32 and shape [rows, cols]);
 * the caller may then set the original ndim/shape/dtype (same element count).
 * On failure *out is freed (nothing to release).  Every format refuses a NaN
 * or Inf weight (SQ_ERR_INPUT naming the tensor and the element index), and an
 * all-zero block or row quantizes without dividing by zero and comes back as
 * zeros.  dequantize writes numel floats and only reads the buffers and
 * attributes, so it works on a tensor read back from a model file.
 *
 * Storage of each format (buffers / attrs), documented in its own file:
 *   fp32|fp16|bf16  data [rows, cols]
 *   int8   q i8 [rows, cols], scales f32 [rows], act_scales f32 [cols] (when calibrated)
 *   nf4    packed u8 [ceil(n/2)], absmax f32 [blocks]  or  absmax_q u8 [blocks],
 *          nested_absmax f32 [ceil(blocks/256)] + attr nested_offset; attrs block_size, double_quant
 *   int4   packed u8 [rows, cols/2], scales f16 [rows, cols/g], mins f16 (asymmetric); attrs group_size, asymmetric
 *   gptq   qweight u8 [rows, ceil(cols/2)] (4/3 bits) or [rows, cols] (8 bits), scales f16 [rows, groups],
 *          zeros u8 [rows, groups], g_idx i32 [cols] (act-order); attrs bits, group_size, act_order, symmetric
 */
#ifndef SQ_QUANT_FORMAT_H
#define SQ_QUANT_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include "quant/qtensor.h"

/* Options a precision-map rule can give; a format reads the ones it knows and
 * the map parser refuses options the format does not list. */
typedef struct {
    int block_size;          /* nf4: 64 (32..4096, power of two); int4: group size 32; 0 = the format's default */
    bool double_quant;       /* nf4: quantize the absmax values too (bitsandbytes compress_statistics) */
    bool asymmetric;         /* int4: Q4_1-like with a min per group */
    double weight_percentile;/* int8: 100 = absmax */
    int bits;                /* gptq: 4 (3 or 8) */
    int group_size;          /* gptq: -1 = per row */
    bool act_order;          /* gptq */
    double damp;             /* gptq: 0.01 */
    bool symmetric;          /* gptq: false = GPTQ's default asymmetric min-max quantizer */
} sq_quant_options;

void sq_quant_options_default(sq_quant_options *options);

/* What calibration knows about this linear's input (NULL members when absent). */
typedef struct {
    const float *act_absmax;     /* [cols] */
    const float *act_percentile; /* [cols], the configured percentile of |x| */
    const float *act_mean_sq;    /* [cols], diag(X^T X)/N */
    const double *hessian;       /* [cols x cols], X^T X / N, or NULL */
    int64_t tokens;
} sq_calib_stats;

typedef struct {
    const char *name;            /* "nf4" */
    const char *description;
    const char *const *options;  /* option names this format accepts (NULL-terminated) */
    bool needs_hessian;
    sq_status (*quantize)(const char *tensor_name, const float *values, int64_t rows, int64_t cols,
                          const sq_quant_options *options, const sq_calib_stats *calib, sq_qtensor *out);
    /* out holds numel floats */
    sq_status (*dequantize)(const sq_qtensor *qt, float *out);
} sq_quant_format;

const sq_quant_format *sq_quant_format_find(const char *name);
const sq_quant_format *const *sq_quant_format_all(void);

#endif
