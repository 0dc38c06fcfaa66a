/* ggml_blocks.c - the ggml block formats as one table, as ggml.c's type traits:
 * a row per format (its names, ggml type id, block size and bytes, fallback and
 * the row functions of ggml_q8_0.c, ggml_q4.c and ggml_kquants.c), and what the
 * formats do the same way: rows of blocks in one buffer, the fallback for rows
 * that do not fit, fp16 scales that must stay finite.
 */
#include "quant/ggml_blocks.h"

#include <math.h>
#include <string.h>

#include "quant/quant_common.h"
#include "util/log.h"

enum { Q8_0, Q4_0, Q4_1, Q4_K, Q6_K, KIND_COUNT };

/* format, ggml name, ggml type, block values, block bytes, fallback, quantize_row, dequantize_row */
static const sq_ggml_block_kind kinds[KIND_COUNT] = {
    [Q8_0] = {"q8_0", "Q8_0", 8, SQ_QK8_0, sizeof(sq_block_q8_0), "fp16", sq_ggml_quantize_row_q8_0,
              sq_ggml_dequantize_row_q8_0},
    [Q4_0] = {"q4_0", "Q4_0", 2, SQ_QK4_0, sizeof(sq_block_q4_0), "fp16", sq_ggml_quantize_row_q4_0,
              sq_ggml_dequantize_row_q4_0},
    [Q4_1] = {"q4_1", "Q4_1", 3, SQ_QK4_1, sizeof(sq_block_q4_1), "fp16", sq_ggml_quantize_row_q4_1,
              sq_ggml_dequantize_row_q4_1},
    [Q4_K] = {"q4_k", "Q4_K", 12, SQ_QK_K, sizeof(sq_block_q4_k), "q4_1", sq_ggml_quantize_row_q4_k,
              sq_ggml_dequantize_row_q4_k},
    [Q6_K] = {"q6_k", "Q6_K", 14, SQ_QK_K, sizeof(sq_block_q6_k), "q8_0", sq_ggml_quantize_row_q6_k,
              sq_ggml_dequantize_row_q6_k},
};

const sq_ggml_block_kind *sq_ggml_block_kind_of_format(const char *format)
{
    for (int i = 0; i < KIND_COUNT; i++)
        if (strcmp(kinds[i].format, format) == 0)
            return &kinds[i];
    return NULL;
}

const sq_ggml_block_kind *sq_ggml_block_kind_of_type(int ggml_type)
{
    for (int i = 0; i < KIND_COUNT; i++)
        if (kinds[i].ggml_type == ggml_type)
            return &kinds[i];
    return NULL;
}

/* The fp16 fields of every block must be finite: ggml would store Inf and
 * dequantize the block to Inf/NaN.  Checked after packing, per row. */
static sq_status check_row_scales(const sq_ggml_block_kind *kind, const char *tensor_name, int64_t row,
                                  const uint8_t *blocks, int64_t nblocks)
{
    for (int64_t b = 0; b < nblocks; b++) {
        const uint8_t *block = blocks + b * kind->block_bytes;
        float y[SQ_QK_K];
        kind->dequantize_row(block, y, kind->block_values);
        for (int j = 0; j < kind->block_values; j++)
            if (!isfinite(y[j]))
                return sq_fail(SQ_ERR_INPUT, "tensor '%s': row %lld, block %lld: the %s scale does not fit fp16 "
                               "(weights beyond +-65504 * 127); use fp32 or int8 for this tensor",
                               tensor_name, (long long)row, (long long)b, kind->ggml_name);
    }
    return SQ_OK;
}

static sq_status ggml_quantize(const sq_ggml_block_kind *kind, const char *tensor_name, const float *values,
                               int64_t rows, int64_t cols, const sq_quant_options *options, sq_qtensor *out)
{
    sq_status st = SQ_OK;
    uint8_t *blocks = NULL;

    if (cols % kind->block_values != 0) {
        const sq_quant_format *fallback = sq_quant_format_find(kind->fallback);
        if (fallback == NULL)
            return sq_fail(SQ_ERR_RUN, "format %s: fallback format %s is not registered", kind->format,
                           kind->fallback);
        sq_info("tensor '%s': rows of %lld values do not fit %s's blocks of %d; stored as %s (the stated fallback)",
                tensor_name, (long long)cols, kind->format, kind->block_values, kind->fallback);
        return fallback->quantize(tensor_name, values, rows, cols, options, NULL, out);
    }
    sq_quant_begin(out, tensor_name, kind->format, rows, cols);
    SQ_TRY(sq_quant_check_finite(tensor_name, values, rows, cols));
    int64_t nblocks = cols / kind->block_values, row_bytes = nblocks * kind->block_bytes;
    int64_t shape[2] = {rows, row_bytes};
    SQ_TRY(sq_qtensor_add_buffer(out, "blocks", SQ_DTYPE_U8, 2, shape, (void **)&blocks));
    for (int64_t r = 0; r < rows; r++) {
        kind->quantize_row(values + r * cols, blocks + r * row_bytes, cols);
        SQ_TRY(check_row_scales(kind, tensor_name, r, blocks + r * row_bytes, nblocks));
    }
cleanup:
    return sq_quant_end(out, st);
}

/* The dequantize of every ggml format: the stored tensor's format names its kind. */
static sq_status ggml_dequantize(const sq_qtensor *qt, float *out)
{
    const sq_ggml_block_kind *kind = sq_ggml_block_kind_of_format(qt->format);
    const sq_qbuffer *blocks;
    int64_t rows, cols;
    sq_status st = sq_quant_matrix_dims(qt, "blocks", &rows, &cols);
    if (st != SQ_OK)
        return st;
    if (kind == NULL) /* reached through a ggml format's row only: its own name */
        return sq_fail(SQ_ERR_RUN, "tensor '%s': format %s is not a ggml block format", qt->name, qt->format);
    if (cols % kind->block_values != 0)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' (format %s): rows of %lld values are not whole blocks of %d",
                       qt->name, qt->format, (long long)cols, kind->block_values);
    int64_t row_bytes = cols / kind->block_values * kind->block_bytes;
    if ((st = sq_qtensor_require_buffer(qt, "blocks", SQ_DTYPE_U8, rows * row_bytes, &blocks)) != SQ_OK)
        return st;
    for (int64_t r = 0; r < rows; r++)
        kind->dequantize_row((const uint8_t *)blocks->data + r * row_bytes, out + r * cols, cols);
    return SQ_OK;
}

/* Each format's entry point hands its row of the table to the shared quantizer (calibration,
 * in the formats' shared signature, is unused by every ggml format). */
#define GGML_ENTRY(entry, row)                                                                                      \
    static sq_status entry(const char *tensor_name, const float *values, int64_t rows, int64_t cols,               \
                           const sq_quant_options *options, const sq_calib_stats *calib, sq_qtensor *out)          \
    {                                                                                                               \
        (void)calib;                                                                                                \
        return ggml_quantize(&kinds[row], tensor_name, values, rows, cols, options, out);                           \
    }
GGML_ENTRY(quantize_q8_0, Q8_0)
GGML_ENTRY(quantize_q4_0, Q4_0)
GGML_ENTRY(quantize_q4_1, Q4_1)
GGML_ENTRY(quantize_q4_k, Q4_K)
GGML_ENTRY(quantize_q6_k, Q6_K)

/* The registry rows (format.c lists them).  A ggml format takes no options and
 * no calibration; its bits per weight are its block's bytes over its values. */
#define GGML_FORMAT(format_name, class, block_type, values, entry, text)                                            \
    {.name = (format_name), .description = (text), .format_class = (class),                                        \
     .bits_per_weight = 8.0 * sizeof(block_type) / (values), .block_size = (values), .calibration = SQ_CALIB_NONE,  \
     .options = sq_format_no_options, .quantize = (entry), .dequantize = ggml_dequantize}

const sq_quant_format sq_format_q8_0 = GGML_FORMAT("q8_0", SQ_FORMAT_CLASS_INT8, sq_block_q8_0, SQ_QK8_0, quantize_q8_0,
    "ggml Q8_0: blocks of 32, fp16 scale + int8 (8.5 bits/weight), byte-identical to ggml");
const sq_quant_format sq_format_q4_0 = GGML_FORMAT("q4_0", SQ_FORMAT_CLASS_LOWBIT, sq_block_q4_0, SQ_QK4_0,
    quantize_q4_0, "ggml Q4_0: blocks of 32, fp16 scale + 4-bit codes (4.5 bits/weight), byte-identical to ggml");
const sq_quant_format sq_format_q4_1 = GGML_FORMAT("q4_1", SQ_FORMAT_CLASS_LOWBIT, sq_block_q4_1, SQ_QK4_1,
    quantize_q4_1, "ggml Q4_1: blocks of 32, fp16 scale and min + 4-bit codes (5 bits/weight), byte-identical to ggml");
const sq_quant_format sq_format_q4_k = GGML_FORMAT("q4_k", SQ_FORMAT_CLASS_LOWBIT, sq_block_q4_k, SQ_QK_K, quantize_q4_k,
    "ggml Q4_K: super-blocks of 256, 6-bit scales and mins per 32, 4-bit codes (4.5 bits/weight), byte-identical to "
    "ggml; rows not a multiple of 256 fall back to q4_1");
const sq_quant_format sq_format_q6_k = GGML_FORMAT("q6_k", SQ_FORMAT_CLASS_LOWBIT, sq_block_q6_k, SQ_QK_K, quantize_q6_k,
    "ggml Q6_K: super-blocks of 256, int8 scales per 16, 6-bit codes (6.56 bits/weight), byte-identical to ggml; rows "
    "not a multiple of 256 fall back to q8_0");
