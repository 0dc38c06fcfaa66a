/* format.h - the registry of storage formats (one file per format in quant/).
 *
 * Each format turns an fp32 matrix (rows = output channels, cols = input
 * features; a 1-D tensor is one row) into an sq_qtensor and back.  Options
 * come from the precision map; calibration statistics are passed where the
 * format uses them (int8 activation scales, gptq's X^T X).
 */
#ifndef SQ_QUANT_FORMAT_H
#define SQ_QUANT_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include "quant/qtensor.h"

/* Options a precision-map rule can give; a format reads the ones it knows and
 * the map parser refuses options the format does not list. */
typedef struct {
    int block_size;          /* nf4: 64; int4: group size 32 */
    bool double_quant;       /* nf4 */
    bool asymmetric;         /* int4: Q4_1-like with a zero point */
    double weight_percentile;/* int8: 100 = absmax */
    int bits;                /* gptq: 4 (3 or 8) */
    int group_size;          /* gptq: -1 = per row */
    bool act_order;          /* gptq */
    double damp;             /* gptq: 0.01 */
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
