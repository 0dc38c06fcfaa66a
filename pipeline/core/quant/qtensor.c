/* qtensor.c - stored tensors: named buffers and scalar attributes. */
#include "quant/qtensor.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sq_qtensor_init(sq_qtensor *qt, const char *name, const char *format, sq_dtype original_dtype, int ndim,
                     const int64_t *shape)
{
    memset(qt, 0, sizeof *qt);
    qt->name = strdup(name);
    snprintf(qt->format, sizeof qt->format, "%s", format);
    qt->original_dtype = original_dtype;
    qt->ndim = ndim;
    for (int i = 0; i < ndim && i < SQ_MAX_DIMS; i++)
        qt->shape[i] = shape[i];
}

void sq_qtensor_free(sq_qtensor *qt)
{
    for (int i = 0; i < qt->buffer_count; i++)
        free(qt->buffers[i].data);
    free(qt->name);
    free(qt->alias_of);
    memset(qt, 0, sizeof *qt);
}

sq_status sq_qtensor_add_buffer(sq_qtensor *qt, const char *name, sq_dtype dtype, int ndim, const int64_t *shape,
                                void **data)
{
    sq_qbuffer *buffer;
    int64_t count = 1;
    if (qt->buffer_count == SQ_QT_MAX_BUFFERS)
        return sq_fail(SQ_ERR_RUN, "tensor '%s': too many buffers", qt->name);
    buffer = &qt->buffers[qt->buffer_count];
    memset(buffer, 0, sizeof *buffer);
    snprintf(buffer->name, sizeof buffer->name, "%s", name);
    buffer->dtype = dtype;
    buffer->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        buffer->shape[i] = shape[i];
        count *= shape[i];
    }
    sq_status st = sq_alloc(&buffer->data, (size_t)count, sq_dtype_size(dtype), qt->name);
    if (st != SQ_OK)
        return st;
    qt->buffer_count++;
    if (data)
        *data = buffer->data;
    return SQ_OK;
}

const sq_qbuffer *sq_qtensor_buffer(const sq_qtensor *qt, const char *name)
{
    for (int i = 0; i < qt->buffer_count; i++)
        if (strcmp(qt->buffers[i].name, name) == 0)
            return &qt->buffers[i];
    return NULL;
}

sq_status sq_qtensor_require_buffer(const sq_qtensor *qt, const char *buffer_name, sq_dtype dtype, int64_t count,
                                    const sq_qbuffer **buffer)
{
    const sq_qbuffer *b = sq_qtensor_buffer(qt, buffer_name);
    int64_t have = 1;
    if (b == NULL)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' (format %s) has no buffer '%s'; the model file is damaged or "
                       "was written by another version", qt->name, qt->format, buffer_name);
    for (int d = 0; d < b->ndim; d++)
        have *= b->shape[d];
    if (b->dtype != dtype || have != count)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' (format %s): buffer '%s' holds %lld %s values, expected %lld %s",
                       qt->name, qt->format, buffer_name, (long long)have, sq_dtype_name(b->dtype),
                       (long long)count, sq_dtype_name(dtype));
    *buffer = b;
    return SQ_OK;
}

/* The index of the attribute named name, or -1. */
static int attr_index(const sq_qtensor *qt, const char *name)
{
    for (int i = 0; i < qt->attr_count; i++)
        if (strcmp(qt->attrs[i].name, name) == 0)
            return i;
    return -1;
}

void sq_qtensor_set_attr(sq_qtensor *qt, const char *name, double value)
{
    int i = attr_index(qt, name);
    if (i < 0) {
        if (qt->attr_count == SQ_QT_MAX_ATTRS)
            return;
        i = qt->attr_count++;
        snprintf(qt->attrs[i].name, sizeof qt->attrs[i].name, "%s", name);
    }
    qt->attrs[i].value = value;
}

double sq_qtensor_attr(const sq_qtensor *qt, const char *name, double fallback)
{
    int i = attr_index(qt, name);
    return i < 0 ? fallback : qt->attrs[i].value;
}

sq_status sq_qtensor_attr_real(const sq_qtensor *qt, const char *name, double *out)
{
    int i = attr_index(qt, name);
    if (i < 0)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' (format %s) has no attribute '%s'", qt->name, qt->format, name);
    *out = qt->attrs[i].value;
    return SQ_OK;
}

/* The attribute as a whole number in [lo, hi]; `expected` names that range in the message. */
static sq_status attr_whole(const sq_qtensor *qt, const char *name, int lo, int hi, const char *expected, int *out)
{
    double value;
    sq_status st = sq_qtensor_attr_real(qt, name, &value);
    if (st != SQ_OK)
        return st;
    if (!(value >= lo && value <= hi) || value != (double)(int)value)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' (format %s): attribute %s = %g is not %s", qt->name, qt->format,
                       name, value, expected);
    *out = (int)value;
    return SQ_OK;
}

sq_status sq_qtensor_attr_int(const sq_qtensor *qt, const char *name, int *out)
{
    return attr_whole(qt, name, INT_MIN, INT_MAX, "an integer", out);
}

sq_status sq_qtensor_attr_flag(const sq_qtensor *qt, const char *name, bool *out)
{
    int value = 0;
    sq_status st = attr_whole(qt, name, 0, 1, "0 or 1", &value);
    if (st == SQ_OK)
        *out = value != 0;
    return st;
}

int64_t sq_qtensor_numel(const sq_qtensor *qt)
{
    int64_t n = 1;
    for (int i = 0; i < qt->ndim; i++)
        n *= qt->shape[i];
    return n;
}

uint64_t sq_qtensor_bytes(const sq_qtensor *qt)
{
    uint64_t bytes = 0;
    if (qt->alias_of)
        return 0; /* shared storage is counted once, under the tensor that owns it */
    for (int i = 0; i < qt->buffer_count; i++) {
        uint64_t count = 1;
        for (int d = 0; d < qt->buffers[i].ndim; d++)
            count *= (uint64_t)qt->buffers[i].shape[d];
        bytes += count * sq_dtype_size(qt->buffers[i].dtype);
    }
    return bytes;
}
