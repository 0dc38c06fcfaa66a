/* quant_common.h - what every storage format does the same way: refuse
 * non-finite weights, start the stored tensor and free it on failure, find
 * rows and columns again when dequantizing (the buffers themselves:
 * sq_qtensor_require_buffer in qtensor.h).  Private to quant/.
 */
#ifndef SQ_QUANT_QUANT_COMMON_H
#define SQ_QUANT_QUANT_COMMON_H

#include <stdint.h>

#include "quant/qtensor.h"

/* SQ_ERR_INPUT naming the tensor, the flat element index and its row/column
 * when a value is NaN or Inf: quantizing one would poison its whole block. */
sq_status sq_quant_check_finite(const char *tensor_name, const float *values, int64_t rows, int64_t cols);

/* sq_qtensor_init with shape [rows, cols] and original dtype f32. */
void sq_quant_begin(sq_qtensor *out, const char *tensor_name, const char *format, int64_t rows, int64_t cols);
/* The end of every quantize: st, with *out freed when st is a failure (the
 * contract in format.h: a failed quantize leaves nothing to release). */
sq_status sq_quant_end(sq_qtensor *out, sq_status st);

/* Rows and columns of a stored matrix: rows = shape[0] of the named buffer,
 * cols = numel / rows.  SQ_ERR_INPUT when the buffer is missing or does not
 * fit the element count (a damaged or foreign model file). */
sq_status sq_quant_matrix_dims(const sq_qtensor *qt, const char *buffer_name, int64_t *rows, int64_t *cols);


#endif
