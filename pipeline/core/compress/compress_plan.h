/* compress_plan.h - every tensor of the input model with the format it gets.
 *
 * The plan joins three things: the model's tensors (names, shapes, original
 * dtypes and the bytes they occupy in the input, shared storage once), what
 * the family says about them (parameter group, must-stay-full-precision and
 * why), and the precision map's decision (precision/precision_map.h).  Nothing is
 * quantized here; compress.c runs the plan and accounting.c reports it.
 */
#ifndef SQ_COMPRESS_COMPRESS_PLAN_H
#define SQ_COMPRESS_COMPRESS_PLAN_H

#include <stdint.h>

#include "models/family.h"
#include "precision/precision_map.h"
#include "tensor/tensor.h"

typedef struct {
    const char *name;              /* points into the model's tensor set */
    const char *alias_of;          /* shared storage, or NULL */
    sq_param_group group;
    sq_dtype original_dtype;
    int ndim;
    int64_t shape[SQ_MAX_DIMS];
    uint64_t bytes_before;         /* in the input; 0 for an alias (its storage is counted once) */
    sq_map_decision decision;
    const sq_quant_format *format; /* what stores it (for an alias: its storage's format) */
    sq_quant_options options;
    char options_text[160];
    const char *keep_reason;       /* family's reason for full precision, or NULL */
    const char *fallback_from;     /* the format the map asked for, when the tensor did not fit it; else NULL */
} sq_plan_entry;

typedef struct {
    sq_plan_entry *entries;
    size_t count;
    sq_map_summary summary;
    size_t fallbacks;              /* tensors stored in their format's declared fallback */
} sq_compress_plan;

/* What the input says about one tensor (from the checkpoint reader or the
 * artifact's stored datasets). */
typedef struct {
    sq_dtype dtype;
    uint64_t bytes;  /* stored bytes (0 for an alias) */
} sq_input_tensor;

/* set: the model's tensors (names, shapes, aliases); input: one per tensor of
 * set, same order.  Usage errors from the map (exit 2) pass through.  A
 * tensor whose shape does not fit the format the map gives it (the format's
 * `fits`) gets the format's declared fallback, with default options, and its
 * options text says so ("fallback from int4: rows of 32 ..."); one info line
 * per tensor, and plan->fallbacks counts them. */
sq_status sq_compress_plan_build(const sq_precision_map *map, const sq_family *family, const sq_tensor_set *set,
                                 const sq_input_tensor *input, sq_compress_plan *plan);
void sq_compress_plan_free(sq_compress_plan *plan);

/* The [rows, cols] matrix a format sees for a tensor shape: rows = shape[0]
 * (output channels), cols = the rest; a 1-D tensor is one row. */
void sq_plan_matrix_shape(int ndim, const int64_t *shape, int64_t *rows, int64_t *cols);
/* True for dtypes the formats quantize (f32, f16, bf16, f64). */
bool sq_dtype_is_float(sq_dtype dtype);

#endif
