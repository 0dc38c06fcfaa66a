/* gguf_file.h - GGUF version 3 files: metadata key/values, tensor infos and
 * aligned tensor data, written and read from the format's definition
 * (ggml's docs/gguf.md and include/gguf.h).
 *
 * Layout (all little-endian):
 *   "GGUF" magic, u32 version (3), i64 tensor count, i64 key/value count
 *   key/values: string key, u32 value type, value
 *     (string = u64 length + bytes, no NUL; array = u32 element type, u64 count, elements)
 *   tensor infos: string name, u32 n_dims, i64 ne[n_dims] (ne[0] = the
 *     contiguous dimension, so a [rows, cols] matrix is ne = {cols, rows}),
 *     u32 ggml type, u64 offset from the start of the data section
 *   padding to general.alignment (u32 key/value, 32 when absent), then the
 *   data section: each tensor at an offset that is a multiple of the alignment.
 *
 * This file knows the container only; which keys and tensor names a model
 * architecture uses is gguf_model.c's business (model I/O).
 */
#ifndef SQ_GGUF_GGUF_FILE_H
#define SQ_GGUF_GGUF_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor/tensor.h"
#include "util/file_map.h"
#include "util/status.h"

#define SQ_GGUF_VERSION 3
#define SQ_GGUF_DEFAULT_ALIGNMENT 32
#define SQ_GGUF_MAX_DIMS 4

/* gguf_type: the value types of metadata. */
typedef enum {
    SQ_GGUF_UINT8 = 0,
    SQ_GGUF_INT8 = 1,
    SQ_GGUF_UINT16 = 2,
    SQ_GGUF_INT16 = 3,
    SQ_GGUF_UINT32 = 4,
    SQ_GGUF_INT32 = 5,
    SQ_GGUF_FLOAT32 = 6,
    SQ_GGUF_BOOL = 7,
    SQ_GGUF_STRING = 8,
    SQ_GGUF_ARRAY = 9,
    SQ_GGUF_UINT64 = 10,
    SQ_GGUF_INT64 = 11,
    SQ_GGUF_FLOAT64 = 12,
    SQ_GGUF_TYPE_COUNT
} sq_gguf_type;

/* ggml_type ids of the plain tensor types (the block types are in quant/ggml_blocks.h). */
enum {
    SQ_GGML_TYPE_F32 = 0,
    SQ_GGML_TYPE_F16 = 1,
    SQ_GGML_TYPE_I8 = 24,
    SQ_GGML_TYPE_I16 = 25,
    SQ_GGML_TYPE_I32 = 26,
    SQ_GGML_TYPE_I64 = 27,
    SQ_GGML_TYPE_F64 = 28,
    SQ_GGML_TYPE_BF16 = 30,
};

typedef struct {
    char *key;
    sq_gguf_type type;
    sq_gguf_type elem_type;  /* arrays */
    uint64_t count;          /* arrays: elements; scalars and strings: 1 */
    void *data;              /* scalar: its bytes; string: NUL-terminated text; numeric array: elements;
                                string array: char *[count] */
} sq_gguf_kv;

typedef struct {
    char *name;
    int n_dims;
    int64_t ne[SQ_GGUF_MAX_DIMS]; /* ne[0] contiguous */
    int type;                     /* ggml_type */
    uint64_t offset;              /* in the data section */
    uint64_t nbytes;
    void *data;                   /* added: owned; read: points into the file's mapping (read-only) */
} sq_gguf_tensor;

typedef struct {
    uint32_t version;
    uint32_t alignment;
    sq_gguf_kv *kvs;
    size_t kv_count;
    sq_gguf_tensor *tensors;
    size_t tensor_count;
    uint64_t data_offset;         /* where the data section starts (after reading or writing) */
    sq_file_map *map;             /* a file read: its mapping, which the tensors' data lies in */
} sq_gguf_file;

void sq_gguf_init(sq_gguf_file *f);
void sq_gguf_free(sq_gguf_file *f);

/* Setters replace an existing key.  Strings and arrays are copied. */
sq_status sq_gguf_set_u32(sq_gguf_file *f, const char *key, uint32_t value);
sq_status sq_gguf_set_i32(sq_gguf_file *f, const char *key, int32_t value);
sq_status sq_gguf_set_u64(sq_gguf_file *f, const char *key, uint64_t value);
sq_status sq_gguf_set_f32(sq_gguf_file *f, const char *key, float value);
sq_status sq_gguf_set_bool(sq_gguf_file *f, const char *key, bool value);
sq_status sq_gguf_set_string(sq_gguf_file *f, const char *key, const char *value);
/* A numeric array of count elements of elem_type (not STRING, not ARRAY). */
sq_status sq_gguf_set_array(sq_gguf_file *f, const char *key, sq_gguf_type elem_type, const void *values,
                            uint64_t count);
sq_status sq_gguf_set_string_array(sq_gguf_file *f, const char *key, const char *const *values, uint64_t count);

/* Adds a tensor (data copied: nbytes must be what its type and shape need). */
sq_status sq_gguf_add_tensor(sq_gguf_file *f, const char *name, int n_dims, const int64_t *ne, int ggml_type,
                             const void *data, uint64_t nbytes);

/* Writes path via path.tmp renamed into place; no partial file is left. */
sq_status sq_gguf_write(const sq_gguf_file *f, const char *path);
/* Reads the whole file, tensor data included (mapped, not copied: sq_gguf_free unmaps
 * it); every length, count, type and offset is checked against the file (SQ_ERR_INPUT
 * naming the file and what). */
sq_status sq_gguf_read(const char *path, sq_gguf_file *f);
/* True when the file starts with the GGUF magic. */
bool sq_gguf_is_gguf(const char *path);

const sq_gguf_kv *sq_gguf_find(const sq_gguf_file *f, const char *key);
const sq_gguf_tensor *sq_gguf_find_tensor(const sq_gguf_file *f, const char *name);
/* Typed getters: SQ_ERR_INPUT naming the key when it is missing or of another type. */
sq_status sq_gguf_get_u32(const sq_gguf_file *f, const char *key, uint32_t *value);
sq_status sq_gguf_get_f32(const sq_gguf_file *f, const char *key, float *value);
sq_status sq_gguf_get_string(const sq_gguf_file *f, const char *key, const char **value);

/* "u32", "f32", "string", ... */
const char *sq_gguf_type_name(sq_gguf_type type);
/* Bytes of a row of ne0 values of a ggml type, or SQ_ERR_INPUT for an unknown
 * type or a row that is not whole blocks. */
sq_status sq_gguf_row_bytes(int ggml_type, int64_t ne0, uint64_t *bytes);
/* "F32", "Q4_K", ... or NULL */
const char *sq_ggml_type_name(int ggml_type);

#endif
