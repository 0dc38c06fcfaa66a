/* tensor.h - named tensors as the checkpoint readers yield them.
 *
 * A tensor's data is row-major, little-endian and contiguous.  It is either the
 * tensor's own (malloc'd) or lies in the file mapping its set holds (set->map: a
 * reader pointed the tensor into the checkpoint file instead of copying it).  Mapped
 * data is read-only and freed with the set, never by itself: whoever frees, replaces
 * or takes over a tensor's data does it through sq_tensor_drop_data /
 * sq_tensor_replace_data / sq_tensor_take_data, which know the difference.  A tensor
 * that shares storage with an earlier one of the same set (PyTorch's tied
 * lm_head.weight / embedding.weight) has alias_of set to that tensor's name
 * and data == NULL: shared storage is stored and counted once.
 */
#ifndef SQ_TENSOR_TENSOR_H
#define SQ_TENSOR_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "util/file_map.h"
#include "util/status.h"

#define SQ_MAX_DIMS 8

typedef enum {
    SQ_DTYPE_F32 = 0,
    SQ_DTYPE_F16,
    SQ_DTYPE_BF16,
    SQ_DTYPE_F64,
    SQ_DTYPE_I8,
    SQ_DTYPE_U8,
    SQ_DTYPE_I16,
    SQ_DTYPE_I32,
    SQ_DTYPE_I64,
    SQ_DTYPE_BOOL,
    SQ_DTYPE_COUNT
} sq_dtype;

/* "f32", "f16", "bf16", ... (safetensors spells them F32, F16, BF16). */
const char *sq_dtype_name(sq_dtype dtype);
size_t sq_dtype_size(sq_dtype dtype);
/* Parses a name in either spelling; returns -1 when unknown. */
int sq_dtype_from_name(const char *name);

typedef struct {
    char *name;
    sq_dtype dtype;
    int ndim;
    int64_t shape[SQ_MAX_DIMS];
    void *data;       /* NULL for an alias */
    size_t nbytes;    /* numel * dtype size, also for an alias */
    char *alias_of;   /* name of the tensor whose storage this one shares, or NULL */
} sq_tensor;

int64_t sq_tensor_numel(const sq_tensor *t);
/* "[2000, 64]" into buf. */
const char *sq_shape_string(const sq_tensor *t, char *buf, size_t size);

/* A top-level non-tensor entry of a checkpoint ("epoch" -> "12",
 * "config" -> "{'vocab_size': 2000, ...}"), printed, never executed. */
typedef struct {
    char *key;
    char *repr;
} sq_meta_entry;

typedef struct {
    sq_tensor *tensors;
    size_t count;
    size_t capacity;
    sq_meta_entry *meta;
    size_t meta_count;
    char *source_path;   /* the file they were read from */
    char *source_format; /* "pytorch-zip", "safetensors", "squeeze-hdf5", "torchscript" */
    sq_file_map *map;    /* the mapped file some tensors' data lies in (one reference), or NULL */
} sq_tensor_set;

void sq_tensor_set_init(sq_tensor_set *set);
void sq_tensor_set_free(sq_tensor_set *set);
/* Appends a tensor; takes ownership of data (may be NULL for an alias), unless data lies
 * in the set's mapping (set it first with sq_tensor_set_use_map), which the set keeps. */
sq_status sq_tensor_set_add(sq_tensor_set *set, const char *name, sq_dtype dtype, int ndim,
                            const int64_t *shape, void *data, const char *alias_of);
sq_status sq_tensor_set_add_meta(sq_tensor_set *set, const char *key, const char *repr);
/* The set takes a reference to map (at most one mapping per set). */
sq_status sq_tensor_set_use_map(sq_tensor_set *set, sq_file_map *map);
/* Whether t's data lies in the set's mapping (read-only, not freed by itself). */
bool sq_tensor_data_mapped(const sq_tensor_set *set, const sq_tensor *t);
/* Lets go of t's data: frees its own, gives mapped pages back to the kernel. */
void sq_tensor_drop_data(sq_tensor_set *set, sq_tensor *t);
/* Drops t's data and gives it data (owned) instead. */
void sq_tensor_replace_data(sq_tensor_set *set, sq_tensor *t, void *data);
/* t's own data, handed over to the caller (t->data becomes NULL); NULL when t's data
 * is mapped (the caller copies it) or there is none. */
void *sq_tensor_take_data(sq_tensor_set *set, sq_tensor *t);
/* Gives t data of its own that may be written: mapped data is copied out first. */
sq_status sq_tensor_make_writable(sq_tensor_set *set, sq_tensor *t);
/* Removes the tensor at index (its data dropped as above); later tensors move down one. */
void sq_tensor_set_remove(sq_tensor_set *set, size_t index);
const sq_tensor *sq_tensor_set_find(const sq_tensor_set *set, const char *name);
/* The tensor whose data an alias refers to (itself when not an alias). */
const sq_tensor *sq_tensor_set_resolve(const sq_tensor_set *set, const sq_tensor *t);
const char *sq_tensor_set_meta(const sq_tensor_set *set, const char *key);

/* Converts any numeric tensor to a freshly allocated float array (numel). */
sq_status sq_tensor_to_f32(const sq_tensor_set *set, const sq_tensor *t, float **out);

/* Exact conversions: round to nearest even, NaN stays NaN (quiet), Inf stays Inf,
 * overflow becomes Inf (fp16), subnormals handled. */
uint16_t sq_f32_to_f16(float value);
float sq_f16_to_f32(uint16_t bits);
uint16_t sq_f32_to_bf16(float value);
float sq_bf16_to_f32(uint16_t bits);

#endif
