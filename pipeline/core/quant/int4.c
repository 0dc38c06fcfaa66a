/* int4.c - group-wise 4-bit integers along each row, as ggml's Q4_0 and Q4_1.
 *
 * Each row is cut into groups of group_size values (option block_size, default
 * 32 as ggml's QK4_0; the row length must be a multiple of it).
 *  - symmetric (Q4_0, ggml-quants.c::quantize_row_q4_0_ref): max = the value
 *    of largest magnitude, d = max / -8, q = min(15, (int)(x/d + 8.5)),
 *    x = (q - 8) * d.
 *  - asymmetric (Q4_1, quantize_row_q4_1_ref): d = (max - min) / 15,
 *    q = min(15, (int)((x - min)/d + 0.5)), x = q * d + min.
 * As in ggml, d and min are stored as fp16 (buffers "scales" and "mins",
 * f16 [rows, cols/g]); the codes are computed with the fp32 d, as ggml does.
 * Nibbles follow ggml's block layout: in each group, byte j holds element j in
 * its low nibble and element j + g/2 in its high nibble ("packed" u8
 * [rows, cols/2]), so a group of 32 is byte-for-byte a ggml Q4_0/Q4_1 block
 * (the block's fp16 d and m kept in the side buffers).
 * An all-zero group has d = 0 and stores codes 8 (Q4_0) / 0 (Q4_1): zeros back.
 * Attrs: group_size, asymmetric.
 */
#include <math.h>
#include <stdio.h>

#include "quant/format.h"
#include "quant/ggml_blocks.h"
#include "quant/quant_common.h"

#define INT4_DEFAULT_GROUP 32

/* The attributes int4 stores, named once for the writer and the reader. */
static const char attr_group_size[] = "group_size";
static const char attr_asymmetric[] = "asymmetric";

/* The group size the options ask for: block_size, else ggml's 32. */
static int group_size_of(const sq_quant_options *options)
{
    return options && options->block_size ? options->block_size : INT4_DEFAULT_GROUP;
}

/* Whether rows of cols values are whole groups of g (a positive even size). */
static bool whole_groups(int g, int64_t cols) { return g >= 2 && g % 2 == 0 && cols % g == 0; }

static sq_status group_size_option(const char *tensor_name, int64_t cols, const sq_quant_options *options,
                                   int *group_size)
{
    int g = group_size_of(options);
    if (g < 2 || g % 2 != 0)
        return sq_fail(SQ_ERR_USAGE, "tensor '%s': int4 group size (block_size) %d must be a positive even number; "
                       "32 is ggml's", tensor_name, g);
    if (cols % g != 0) {
        int suggestion = 0;
        for (int s = g - 2; s >= 2; s -= 2)
            if (cols % s == 0) {
                suggestion = s;
                break;
            }
        if (suggestion)
            return sq_fail(SQ_ERR_USAGE, "tensor '%s': its rows have %lld values, not a multiple of the int4 group "
                           "size %d; set block_size: %d for this tensor in the precision map (or use nf4, which has "
                           "no row constraint)", tensor_name, (long long)cols, g, suggestion);
        return sq_fail(SQ_ERR_USAGE, "tensor '%s': its rows have %lld values, not a multiple of the int4 group size "
                       "%d, and no even group size divides it; use nf4 or int8 for this tensor in the precision map",
                       tensor_name, (long long)cols, g);
    }
    *group_size = g;
    return SQ_OK;
}

static sq_status store_half(const char *tensor_name, int64_t row, const char *what, float value, uint16_t *slot)
{
    *slot = sq_f32_to_f16(value);
    if (isinf(sq_f16_to_f32(*slot)))
        return sq_fail(SQ_ERR_INPUT, "tensor '%s': row %lld: the int4 %s %g does not fit fp16; use int8 or nf4 for "
                       "this tensor", tensor_name, (long long)row, what, (double)value);
    return SQ_OK;
}

static sq_status int4_quantize(const char *tensor_name, const float *values, int64_t rows, int64_t cols,
                               const sq_quant_options *options, const sq_calib_stats *calib, sq_qtensor *out)
{
    (void)calib; /* in the shared signature, unused here */
    sq_status st = SQ_OK;
    int g = INT4_DEFAULT_GROUP;
    bool asymmetric = options && options->asymmetric;
    uint8_t *packed = NULL;
    uint16_t *scales = NULL, *mins = NULL;

    sq_quant_begin(out, tensor_name, "int4", rows, cols);
    SQ_TRY(group_size_option(tensor_name, cols, options, &g));
    SQ_TRY(sq_quant_check_finite(tensor_name, values, rows, cols));
    int64_t groups = cols / g;
    int64_t packed_shape[2] = {rows, cols / 2}, side_shape[2] = {rows, groups};
    SQ_TRY(sq_qtensor_add_buffer(out, "packed", SQ_DTYPE_U8, 2, packed_shape, (void **)&packed));
    SQ_TRY(sq_qtensor_add_buffer(out, "scales", SQ_DTYPE_F16, 2, side_shape, (void **)&scales));
    if (asymmetric)
        SQ_TRY(sq_qtensor_add_buffer(out, "mins", SQ_DTYPE_F16, 2, side_shape, (void **)&mins));

    for (int64_t r = 0; r < rows; r++) {
        for (int64_t b = 0; b < groups; b++) {
            const float *x = values + r * cols + b * g;
            uint8_t *qs = packed + r * (cols / 2) + b * (g / 2);
            float d, min;
            if (asymmetric) { /* quantize_row_q4_1_ref's block */
                d = sq_q4_1_group(x, g, qs, &min);
                SQ_TRY(store_half(tensor_name, r, "min", min, &mins[r * groups + b]));
            } else { /* quantize_row_q4_0_ref's block */
                d = sq_q4_0_group(x, g, qs);
            }
            SQ_TRY(store_half(tensor_name, r, "scale", d, &scales[r * groups + b]));
        }
    }
    sq_qtensor_set_attr(out, attr_group_size, g);
    sq_qtensor_set_attr(out, attr_asymmetric, asymmetric ? 1.0 : 0.0);
cleanup:
    return sq_quant_end(out, st);
}

static sq_status int4_dequantize(const sq_qtensor *qt, float *out)
{
    sq_status st;
    int64_t rows, cols;
    int g = 0;
    bool asymmetric = false;
    const sq_qbuffer *packed, *scales, *mins = NULL;
    if ((st = sq_qtensor_attr_int(qt, attr_group_size, &g)) != SQ_OK ||
        (st = sq_qtensor_attr_flag(qt, attr_asymmetric, &asymmetric)) != SQ_OK ||
        (st = sq_quant_matrix_dims(qt, "packed", &rows, &cols)) != SQ_OK)
        return st;
    if (!whole_groups(g, cols))
        return sq_fail(SQ_ERR_INPUT, "tensor '%s': stored int4 group size %d does not divide its rows of %lld",
                       qt->name, g, (long long)cols);
    int64_t groups = cols / g;
    if ((st = sq_qtensor_require_buffer(qt, "packed", SQ_DTYPE_U8, rows * cols / 2, &packed)) != SQ_OK ||
        (st = sq_qtensor_require_buffer(qt, "scales", SQ_DTYPE_F16, rows * groups, &scales)) != SQ_OK ||
        (asymmetric && (st = sq_qtensor_require_buffer(qt, "mins", SQ_DTYPE_F16, rows * groups, &mins)) != SQ_OK))
        return st;
    const uint8_t *bytes = packed->data;
    const uint16_t *d16 = scales->data, *m16 = mins ? mins->data : NULL;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t b = 0; b < groups; b++) {
            const uint8_t *qs = bytes + r * (cols / 2) + b * (g / 2);
            float *y = out + r * cols + b * g;
            float d = sq_f16_to_f32(d16[r * groups + b]);
            if (asymmetric) /* dequantize_row_q4_1 */
                sq_q4_1_group_values(qs, g, d, sq_f16_to_f32(m16[r * groups + b]), y);
            else /* dequantize_row_q4_0 */
                sq_q4_0_group_values(qs, g, d, y);
        }
    }
    return SQ_OK;
}

static const sq_format_option int4_options[] = {
    SQ_FORMAT_OPTION("block_size", SQ_OPTION_INT, block_size, INT4_DEFAULT_GROUP, 1, 1 << 20,
                     "values per fp16 scale (group size), even"),
    SQ_FORMAT_OPTION("asymmetric", SQ_OPTION_BOOL, asymmetric, 0, 0, 1, "a min per group too (Q4_1-like)"),
    {.name = NULL},
};

/* A row must hold whole groups.  A tensor whose rows do not is stored as int8
 * (per-row scales: any row length) instead, the declared fallback. */
static bool int4_fits(int64_t rows, int64_t cols, const sq_quant_options *options, char *why, size_t why_size)
{
    int g = group_size_of(options);
    (void)rows;
    if (whole_groups(g, cols))
        return true;
    snprintf(why, why_size, "rows of %lld values are not a multiple of int4's block_size %d", (long long)cols, g);
    return false;
}

const sq_quant_format sq_format_int4 = {
    .name = "int4",
    .description = "ggml Q4_0-like group-wise 4-bit (fp16 scale per 32), or Q4_1-like with asymmetric",
    .format_class = SQ_FORMAT_CLASS_LOWBIT,
    .bits_per_weight = 4.5,
    .block_size = INT4_DEFAULT_GROUP,
    .calibration = SQ_CALIB_NONE,
    .options = int4_options,
    .quantize = int4_quantize,
    .dequantize = int4_dequantize,
    .fits = int4_fits,
    .fallback = "int8",
};
