/* quant_common.c - checks and bookkeeping shared by the storage formats. */
#include "quant/quant_common.h"

#include <math.h>

sq_status sq_quant_check_finite(const char *tensor_name, const float *values, int64_t rows, int64_t cols)
{
    int64_t n = rows * cols;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(values[i]))
            return sq_fail(SQ_ERR_INPUT,
                           "tensor '%s': element %lld (row %lld, column %lld) is %s; a weight must be finite to be "
                           "quantized: check the checkpoint (inspect lists its tensors)",
                           tensor_name, (long long)i, (long long)(i / cols), (long long)(i % cols),
                           isnan(values[i]) ? "NaN" : "Inf");
    }
    return SQ_OK;
}

void sq_quant_begin(sq_qtensor *out, const char *tensor_name, const char *format, int64_t rows, int64_t cols)
{
    int64_t shape[2] = {rows, cols};
    sq_qtensor_init(out, tensor_name, format, SQ_DTYPE_F32, 2, shape);
}

sq_status sq_quant_end(sq_qtensor *out, sq_status st)
{
    if (st != SQ_OK)
        sq_qtensor_free(out);
    return st;
}

sq_status sq_quant_matrix_dims(const sq_qtensor *qt, const char *buffer_name, int64_t *rows, int64_t *cols)
{
    const sq_qbuffer *b = sq_qtensor_buffer(qt, buffer_name);
    int64_t numel = sq_qtensor_numel(qt);
    if (b == NULL || b->ndim < 1 || b->shape[0] <= 0 || numel <= 0 || numel % b->shape[0] != 0)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' (format %s): buffer '%s' is missing or does not match %lld "
                       "elements; the model file is damaged", qt->name, qt->format, buffer_name, (long long)numel);
    *rows = b->shape[0];
    *cols = numel / b->shape[0];
    return SQ_OK;
}
