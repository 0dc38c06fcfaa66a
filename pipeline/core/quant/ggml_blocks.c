/* ggml_blocks.c - what the ggml block formats (ggml_q8_0.c, ggml_q4.c,
 * ggml_kquants.c) do the same way: rows of blocks in one buffer, the fallback
 * for rows that do not fit, fp16 scales that must stay finite.
 */
#include "quant/ggml_blocks.h"

#include <math.h>
#include <string.h>

#include "quant/quant_common.h"
#include "util/log.h"

extern const sq_ggml_block_kind sq_ggml_kind_q8_0, sq_ggml_kind_q4_0, sq_ggml_kind_q4_1, sq_ggml_kind_q4_k,
    sq_ggml_kind_q6_k;

static const sq_ggml_block_kind *const kinds[] = {
    &sq_ggml_kind_q8_0, &sq_ggml_kind_q4_0, &sq_ggml_kind_q4_1, &sq_ggml_kind_q4_k, &sq_ggml_kind_q6_k, NULL,
};

const sq_ggml_block_kind *sq_ggml_block_kind_of_format(const char *format)
{
    for (int i = 0; kinds[i]; i++)
        if (strcmp(kinds[i]->format, format) == 0)
            return kinds[i];
    return NULL;
}

const sq_ggml_block_kind *sq_ggml_block_kind_of_type(int ggml_type)
{
    for (int i = 0; kinds[i]; i++)
        if (kinds[i]->ggml_type == ggml_type)
            return kinds[i];
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

sq_status sq_ggml_quantize(const sq_ggml_block_kind *kind, const char *tensor_name, const float *values,
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
    if (st != SQ_OK)
        sq_qtensor_free(out);
    return st;
}

sq_status sq_ggml_dequantize(const sq_ggml_block_kind *kind, const sq_qtensor *qt, float *out)
{
    sq_status st;
    int64_t rows, cols;
    const sq_qbuffer *blocks;
    if ((st = sq_quant_matrix_dims(qt, "blocks", &rows, &cols)) != SQ_OK)
        return st;
    if (cols % kind->block_values != 0)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' (format %s): rows of %lld values are not whole blocks of %d",
                       qt->name, qt->format, (long long)cols, kind->block_values);
    int64_t row_bytes = cols / kind->block_values * kind->block_bytes;
    if ((st = sq_quant_require_buffer(qt, "blocks", SQ_DTYPE_U8, rows * row_bytes, &blocks)) != SQ_OK)
        return st;
    for (int64_t r = 0; r < rows; r++)
        kind->dequantize_row((const uint8_t *)blocks->data + r * row_bytes, out + r * cols, cols);
    return SQ_OK;
}
