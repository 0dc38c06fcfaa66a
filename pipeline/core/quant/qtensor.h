/* qtensor.h - a tensor as it is stored in a compressed model: plain or quantized.
 *
 * A plain tensor (fp32, fp16, bf16) has one buffer "data".  A quantized tensor
 * has its packed codes and side arrays as named buffers, e.g. nf4: "packed"
 * (u8, two codes per byte, first element in the high nibble) and "absmax" (f32),
 * or with double quantization "absmax_q" (u8), "nested_absmax" (f32) and the
 * scalar attribute nested_offset.  The model file stores each buffer as an HDF5
 * dataset, so the file's bytes are the buffers' bytes (plus HDF5 overhead).
 */
#ifndef SQ_QUANT_QTENSOR_H
#define SQ_QUANT_QTENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/tensor.h"

#define SQ_QT_MAX_BUFFERS 8
#define SQ_QT_MAX_ATTRS 12

typedef struct {
    char name[32];        /* "data", "packed", "scales", "zeros", "absmax", ... */
    sq_dtype dtype;       /* storage dtype of the elements */
    int ndim;
    int64_t shape[SQ_MAX_DIMS];
    void *data;           /* owned */
} sq_qbuffer;

typedef struct {
    char name[32];        /* "block_size", "group_size", "bits", "nested_offset", ... */
    double value;
} sq_qattr;

typedef struct {
    char *name;                 /* tensor name in the model */
    char format[16];            /* "fp32", "fp16", "bf16", "int8", "nf4", "int4", "gptq" */
    sq_dtype original_dtype;
    int ndim;
    int64_t shape[SQ_MAX_DIMS]; /* original shape */
    char *alias_of;             /* tied tensor: stored once, under the other name */
    int buffer_count;
    sq_qbuffer buffers[SQ_QT_MAX_BUFFERS];
    int attr_count;
    sq_qattr attrs[SQ_QT_MAX_ATTRS];
} sq_qtensor;

void sq_qtensor_init(sq_qtensor *qt, const char *name, const char *format, sq_dtype original_dtype, int ndim,
                     const int64_t *shape);
void sq_qtensor_free(sq_qtensor *qt);
/* Allocates a zeroed buffer and returns its data pointer in *data. */
sq_status sq_qtensor_add_buffer(sq_qtensor *qt, const char *name, sq_dtype dtype, int ndim, const int64_t *shape,
                                void **data);
const sq_qbuffer *sq_qtensor_buffer(const sq_qtensor *qt, const char *name);
/* The named buffer with the expected dtype and element count, or SQ_ERR_INPUT
 * naming the tensor and buffer (a damaged or foreign model file). */
sq_status sq_qtensor_require_buffer(const sq_qtensor *qt, const char *buffer_name, sq_dtype dtype, int64_t count,
                                    const sq_qbuffer **buffer);
void sq_qtensor_set_attr(sq_qtensor *qt, const char *name, double value);
/* Returns fallback when the attribute is absent (for inspection and tests; a
 * format reads its own attributes with the typed accessors below). */
double sq_qtensor_attr(const sq_qtensor *qt, const char *name, double fallback);
/* Typed reads of a format's scalar attributes.  The attribute must be there and
 * of the type: absent, or not an integer / not 0 or 1, is SQ_ERR_INPUT naming
 * the tensor, its format and the attribute, so a misspelt name fails loudly
 * instead of falling back to a default.  Formats name their attributes once, as
 * constants shared by the writer and the reader. */
sq_status sq_qtensor_attr_int(const sq_qtensor *qt, const char *name, int *out);
sq_status sq_qtensor_attr_flag(const sq_qtensor *qt, const char *name, bool *out);
sq_status sq_qtensor_attr_real(const sq_qtensor *qt, const char *name, double *out);
int64_t sq_qtensor_numel(const sq_qtensor *qt);
/* Sum of the buffers' bytes: the tensor bytes of the compressed form. */
uint64_t sq_qtensor_bytes(const sq_qtensor *qt);

#endif
