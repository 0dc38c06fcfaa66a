/* gguf_file.c - GGUF v3 writer and reader (layout in gguf_file.h).
 *
 * The reader takes nothing on trust: every length and count is checked
 * against the bytes that remain before anything is allocated, value types and
 * tensor types must be known, tensor offsets must be aligned, inside the data
 * section and not overlap the end of the file, and the tensor's bytes must be
 * what its type and shape need (as ggml's gguf.cpp checks).
 */
#include "gguf/gguf_file.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quant/ggml_blocks.h"

static const struct {
    const char *name;
    size_t size; /* 0: string or array */
} value_types[SQ_GGUF_TYPE_COUNT] = {
    [SQ_GGUF_UINT8] = {"u8", 1},    [SQ_GGUF_INT8] = {"i8", 1},       [SQ_GGUF_UINT16] = {"u16", 2},
    [SQ_GGUF_INT16] = {"i16", 2},   [SQ_GGUF_UINT32] = {"u32", 4},    [SQ_GGUF_INT32] = {"i32", 4},
    [SQ_GGUF_FLOAT32] = {"f32", 4}, [SQ_GGUF_BOOL] = {"bool", 1},     [SQ_GGUF_STRING] = {"string", 0},
    [SQ_GGUF_ARRAY] = {"array", 0}, [SQ_GGUF_UINT64] = {"u64", 8},    [SQ_GGUF_INT64] = {"i64", 8},
    [SQ_GGUF_FLOAT64] = {"f64", 8},
};

const char *sq_gguf_type_name(sq_gguf_type type)
{
    return (unsigned)type < SQ_GGUF_TYPE_COUNT ? value_types[type].name : "unknown";
}

/* The plain ggml types: one value per "block". */
static const struct {
    int type;
    const char *name;
    int size;
} plain_types[] = {
    {SQ_GGML_TYPE_F32, "F32", 4}, {SQ_GGML_TYPE_F16, "F16", 2}, {SQ_GGML_TYPE_BF16, "BF16", 2},
    {SQ_GGML_TYPE_I8, "I8", 1},   {SQ_GGML_TYPE_I16, "I16", 2}, {SQ_GGML_TYPE_I32, "I32", 4},
    {SQ_GGML_TYPE_I64, "I64", 8}, {SQ_GGML_TYPE_F64, "F64", 8},
};

const char *sq_ggml_type_name(int ggml_type)
{
    for (size_t i = 0; i < sizeof plain_types / sizeof plain_types[0]; i++)
        if (plain_types[i].type == ggml_type)
            return plain_types[i].name;
    const sq_ggml_block_kind *kind = sq_ggml_block_kind_of_type(ggml_type);
    return kind ? kind->ggml_name : NULL;
}

sq_status sq_gguf_row_bytes(int ggml_type, int64_t ne0, uint64_t *bytes)
{
    if (ne0 < 0)
        return sq_fail(SQ_ERR_INPUT, "negative dimension %lld", (long long)ne0);
    for (size_t i = 0; i < sizeof plain_types / sizeof plain_types[0]; i++)
        if (plain_types[i].type == ggml_type) {
            *bytes = (uint64_t)ne0 * (uint64_t)plain_types[i].size;
            return SQ_OK;
        }
    const sq_ggml_block_kind *kind = sq_ggml_block_kind_of_type(ggml_type);
    if (kind == NULL)
        return sq_fail(SQ_ERR_INPUT, "ggml type %d is not one squeeze reads (F32, F16, BF16, I8..I64, F64, Q8_0, "
                       "Q4_0, Q4_1, Q4_K, Q6_K)", ggml_type);
    if (ne0 % kind->block_values != 0)
        return sq_fail(SQ_ERR_INPUT, "rows of %lld values are not whole %s blocks of %d", (long long)ne0,
                       kind->ggml_name, kind->block_values);
    *bytes = (uint64_t)(ne0 / kind->block_values) * (uint64_t)kind->block_bytes;
    return SQ_OK;
}

void sq_gguf_init(sq_gguf_file *f)
{
    memset(f, 0, sizeof *f);
    f->version = SQ_GGUF_VERSION;
    f->alignment = SQ_GGUF_DEFAULT_ALIGNMENT;
}

static void kv_free(sq_gguf_kv *kv)
{
    if (kv->type == SQ_GGUF_ARRAY && kv->elem_type == SQ_GGUF_STRING && kv->data) {
        char **strings = kv->data;
        for (uint64_t i = 0; i < kv->count; i++)
            free(strings[i]);
    }
    free(kv->data);
    free(kv->key);
    memset(kv, 0, sizeof *kv);
}

void sq_gguf_free(sq_gguf_file *f)
{
    for (size_t i = 0; i < f->kv_count; i++)
        kv_free(&f->kvs[i]);
    for (size_t i = 0; i < f->tensor_count; i++) {
        free(f->tensors[i].name);
        if (!sq_file_map_holds(f->map, f->tensors[i].data, (size_t)f->tensors[i].nbytes))
            free(f->tensors[i].data);
    }
    free(f->kvs);
    free(f->tensors);
    sq_file_map_release(f->map);
    sq_gguf_init(f);
}

const sq_gguf_kv *sq_gguf_find(const sq_gguf_file *f, const char *key)
{
    for (size_t i = 0; i < f->kv_count; i++)
        if (strcmp(f->kvs[i].key, key) == 0)
            return &f->kvs[i];
    return NULL;
}

const sq_gguf_tensor *sq_gguf_find_tensor(const sq_gguf_file *f, const char *name)
{
    for (size_t i = 0; i < f->tensor_count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

/* A fresh or replaced slot for key (its old value freed) of this type, element
 * type and count, with `bytes` of zeroed data to fill. */
static sq_status kv_slot(sq_gguf_file *f, const char *key, sq_gguf_type type, sq_gguf_type elem_type,
                         uint64_t count, size_t bytes, sq_gguf_kv **slot)
{
    const sq_gguf_kv *found = sq_gguf_find(f, key);
    sq_gguf_kv *kv = found ? &f->kvs[found - f->kvs] : NULL;
    if (kv) {
        char *kept = kv->key;
        kv->key = NULL;
        kv_free(kv);
        kv->key = kept;
    } else {
        sq_gguf_kv *grown = realloc(f->kvs, (f->kv_count + 1) * sizeof *grown);
        if (grown == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory for GGUF key '%s'", key);
        f->kvs = grown;
        kv = &f->kvs[f->kv_count];
        memset(kv, 0, sizeof *kv);
        if ((kv->key = strdup(key)) == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory for GGUF key '%s'", key);
        f->kv_count++;
    }
    kv->type = type;
    kv->elem_type = elem_type;
    kv->count = count;
    if ((kv->data = calloc(bytes ? bytes : 1, 1)) == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory for GGUF key '%s'", key);
    *slot = kv;
    return SQ_OK;
}

static sq_status set_scalar(sq_gguf_file *f, const char *key, sq_gguf_type type, const void *value)
{
    sq_gguf_kv *kv;
    sq_status st = kv_slot(f, key, type, 0, 1, value_types[type].size, &kv);
    if (st == SQ_OK)
        memcpy(kv->data, value, value_types[type].size);
    return st;
}

sq_status sq_gguf_set_u32(sq_gguf_file *f, const char *key, uint32_t v) { return set_scalar(f, key, SQ_GGUF_UINT32, &v); }
sq_status sq_gguf_set_i32(sq_gguf_file *f, const char *key, int32_t v) { return set_scalar(f, key, SQ_GGUF_INT32, &v); }
sq_status sq_gguf_set_u64(sq_gguf_file *f, const char *key, uint64_t v) { return set_scalar(f, key, SQ_GGUF_UINT64, &v); }
sq_status sq_gguf_set_f32(sq_gguf_file *f, const char *key, float v) { return set_scalar(f, key, SQ_GGUF_FLOAT32, &v); }

sq_status sq_gguf_set_bool(sq_gguf_file *f, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return set_scalar(f, key, SQ_GGUF_BOOL, &b);
}

sq_status sq_gguf_set_string(sq_gguf_file *f, const char *key, const char *value)
{
    sq_gguf_kv *kv;
    size_t bytes = strlen(value) + 1;
    sq_status st = kv_slot(f, key, SQ_GGUF_STRING, 0, 1, bytes, &kv);
    if (st == SQ_OK)
        memcpy(kv->data, value, bytes);
    return st;
}

sq_status sq_gguf_set_array(sq_gguf_file *f, const char *key, sq_gguf_type elem_type, const void *values,
                            uint64_t count)
{
    sq_gguf_kv *kv;
    if ((unsigned)elem_type >= SQ_GGUF_TYPE_COUNT || value_types[elem_type].size == 0)
        return sq_fail(SQ_ERR_RUN, "GGUF key '%s': numeric arrays only", key);
    size_t bytes = (size_t)count * value_types[elem_type].size;
    sq_status st = kv_slot(f, key, SQ_GGUF_ARRAY, elem_type, count, bytes, &kv);
    if (st == SQ_OK && bytes)
        memcpy(kv->data, values, bytes);
    return st;
}

sq_status sq_gguf_set_string_array(sq_gguf_file *f, const char *key, const char *const *values, uint64_t count)
{
    sq_gguf_kv *kv;
    /* count grows with each string copied, so that a failure frees what was copied */
    sq_status st = kv_slot(f, key, SQ_GGUF_ARRAY, SQ_GGUF_STRING, 0, (size_t)count * sizeof(char *), &kv);
    if (st != SQ_OK)
        return st;
    char **strings = kv->data;
    for (uint64_t i = 0; i < count; i++) {
        if ((strings[i] = strdup(values[i])) == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory for GGUF key '%s'", key);
        kv->count++;
    }
    return SQ_OK;
}

static sq_status tensor_bytes(const char *name, int n_dims, const int64_t *ne, int type, uint64_t *nbytes)
{
    uint64_t row;
    sq_status st = sq_gguf_row_bytes(type, ne[0], &row);
    if (st != SQ_OK) {
        sq_error_context("tensor '%s'", name);
        return st;
    }
    *nbytes = row;
    for (int d = 1; d < n_dims; d++) {
        if (ne[d] < 0 || (ne[d] && *nbytes > UINT64_MAX / (uint64_t)ne[d]))
            return sq_fail(SQ_ERR_INPUT, "tensor '%s': dimension %d is %lld", name, d, (long long)ne[d]);
        *nbytes *= (uint64_t)ne[d];
    }
    return SQ_OK;
}

sq_status sq_gguf_add_tensor(sq_gguf_file *f, const char *name, int n_dims, const int64_t *ne, int ggml_type,
                             const void *data, uint64_t nbytes)
{
    uint64_t need;
    sq_status st;
    if (n_dims < 1 || n_dims > SQ_GGUF_MAX_DIMS)
        return sq_fail(SQ_ERR_RUN, "tensor '%s': %d dimensions (GGUF holds 1 to 4)", name, n_dims);
    if (sq_gguf_find_tensor(f, name))
        return sq_fail(SQ_ERR_RUN, "tensor '%s' is added twice to the GGUF file", name);
    if ((st = tensor_bytes(name, n_dims, ne, ggml_type, &need)) != SQ_OK)
        return st;
    if (need != nbytes)
        return sq_fail(SQ_ERR_RUN, "tensor '%s': %llu bytes given, its %s shape needs %llu", name,
                       (unsigned long long)nbytes, sq_ggml_type_name(ggml_type), (unsigned long long)need);
    sq_gguf_tensor *grown = realloc(f->tensors, (f->tensor_count + 1) * sizeof *grown);
    if (grown == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory for GGUF tensor '%s'", name);
    f->tensors = grown;
    sq_gguf_tensor *t = &f->tensors[f->tensor_count];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->data = malloc(nbytes ? nbytes : 1);
    if (t->name == NULL || t->data == NULL) {
        free(t->name);
        free(t->data);
        return sq_fail(SQ_ERR_RUN, "out of memory for GGUF tensor '%s'", name);
    }
    memcpy(t->data, data, nbytes);
    t->n_dims = n_dims;
    for (int d = 0; d < SQ_GGUF_MAX_DIMS; d++)
        t->ne[d] = d < n_dims ? ne[d] : 1;
    t->type = ggml_type;
    t->nbytes = nbytes;
    f->tensor_count++;
    return SQ_OK;
}

/* ---- writing ---- */

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

static bool put(FILE *out, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, out) == n; }

static bool put_string(FILE *out, const char *s)
{
    uint64_t n = strlen(s);
    return put(out, &n, sizeof n) && put(out, s, (size_t)n);
}

static bool put_kv(FILE *out, const sq_gguf_kv *kv)
{
    uint32_t type = kv->type;
    if (!put_string(out, kv->key) || !put(out, &type, sizeof type))
        return false;
    if (kv->type == SQ_GGUF_STRING)
        return put_string(out, kv->data);
    if (kv->type != SQ_GGUF_ARRAY)
        return put(out, kv->data, value_types[kv->type].size);
    uint32_t elem = kv->elem_type;
    if (!put(out, &elem, sizeof elem) || !put(out, &kv->count, sizeof kv->count))
        return false;
    if (kv->elem_type == SQ_GGUF_STRING) {
        char **strings = kv->data;
        for (uint64_t i = 0; i < kv->count; i++)
            if (!put_string(out, strings[i]))
                return false;
        return true;
    }
    return put(out, kv->data, (size_t)(kv->count * value_types[kv->elem_type].size));
}

sq_status sq_gguf_write(const sq_gguf_file *f, const char *path)
{
    sq_status st = SQ_OK;
    char tmp[4096];
    FILE *out = NULL;
    static const char zeros[256] = {0};
    uint32_t alignment = f->alignment ? f->alignment : SQ_GGUF_DEFAULT_ALIGNMENT;
    const sq_gguf_kv *declared = sq_gguf_find(f, "general.alignment");

    if (declared && (declared->type != SQ_GGUF_UINT32 || *(const uint32_t *)declared->data != alignment))
        return sq_fail(SQ_ERR_RUN, "general.alignment must be the u32 %u the file is written with", alignment);
    if (alignment == 0 || alignment > sizeof zeros || (alignment & (alignment - 1)) != 0)
        return sq_fail(SQ_ERR_RUN, "GGUF alignment %u is not a power of two up to %zu", alignment, sizeof zeros);
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return sq_fail(SQ_ERR_USAGE, "output path too long: %s", path);
    if ((out = fopen(tmp, "wb")) == NULL)
        return sq_fail(SQ_ERR_RUN, "cannot write %s: %s", tmp, strerror(errno));

    {
        uint32_t version = f->version ? f->version : SQ_GGUF_VERSION;
        int64_t n_tensors = (int64_t)f->tensor_count, n_kv = (int64_t)f->kv_count;
        if (!put(out, "GGUF", 4) || !put(out, &version, 4) || !put(out, &n_tensors, 8) || !put(out, &n_kv, 8))
            goto io_error;
    }
    for (size_t i = 0; i < f->kv_count; i++)
        if (!put_kv(out, &f->kvs[i]))
            goto io_error;
    uint64_t offset = 0;
    for (size_t i = 0; i < f->tensor_count; i++) {
        const sq_gguf_tensor *t = &f->tensors[i];
        uint32_t n_dims = (uint32_t)t->n_dims, type = (uint32_t)t->type;
        if (!put_string(out, t->name) || !put(out, &n_dims, 4) || !put(out, t->ne, 8 * (size_t)t->n_dims) ||
            !put(out, &type, 4) || !put(out, &offset, 8))
            goto io_error;
        offset = align_up(offset + t->nbytes, alignment);
    }
    {
        long here = ftell(out);
        if (here < 0)
            goto io_error;
        uint64_t start = align_up((uint64_t)here, alignment);
        if (!put(out, zeros, (size_t)(start - (uint64_t)here)))
            goto io_error;
    }
    for (size_t i = 0; i < f->tensor_count; i++) {
        const sq_gguf_tensor *t = &f->tensors[i];
        if (!put(out, t->data, (size_t)t->nbytes) ||
            !put(out, zeros, (size_t)(align_up(t->nbytes, alignment) - t->nbytes)))
            goto io_error;
    }
    if (fflush(out) != 0 || fsync(fileno(out)) != 0)
        goto io_error;
    if (fclose(out) != 0) {
        out = NULL;
        goto io_error;
    }
    out = NULL;
    if (rename(tmp, path) != 0)
        SQ_FAIL(SQ_ERR_RUN, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    return SQ_OK;
io_error:
    st = sq_fail(SQ_ERR_RUN, "cannot write %s: %s", tmp, strerror(errno ? errno : EIO));
cleanup:
    if (out)
        fclose(out);
    unlink(tmp);
    return st;
}

/* ---- reading ---- */

typedef struct {
    const uint8_t *p;
    uint64_t size, at;
    const char *path;
} cursor;

static sq_status take(cursor *c, void *dst, uint64_t n, const char *what)
{
    if (n > c->size - c->at)
        return sq_fail(SQ_ERR_INPUT, "%s: truncated GGUF file: %s at byte %llu needs %llu bytes, %llu remain",
                       c->path, what, (unsigned long long)c->at, (unsigned long long)n,
                       (unsigned long long)(c->size - c->at));
    memcpy(dst, c->p + c->at, (size_t)n);
    c->at += n;
    return SQ_OK;
}

static sq_status take_string(cursor *c, char **out, const char *what)
{
    uint64_t n;
    sq_status st = take(c, &n, 8, what);
    if (st != SQ_OK)
        return st;
    if (n > c->size - c->at)
        return sq_fail(SQ_ERR_INPUT, "%s: %s at byte %llu claims %llu bytes, beyond the end of the file", c->path,
                       what, (unsigned long long)c->at, (unsigned long long)n);
    if ((*out = malloc((size_t)n + 1)) == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory reading %s", c->path);
    memcpy(*out, c->p + c->at, (size_t)n);
    (*out)[n] = '\0';
    if (strlen(*out) != n) {
        free(*out);
        *out = NULL;
        return sq_fail(SQ_ERR_INPUT, "%s: %s at byte %llu holds a NUL byte", c->path, what, (unsigned long long)c->at);
    }
    c->at += n;
    return SQ_OK;
}

static sq_status take_kv(cursor *c, sq_gguf_kv *kv)
{
    sq_status st;
    uint32_t type;
    if ((st = take_string(c, &kv->key, "a metadata key")) != SQ_OK ||
        (st = take(c, &type, 4, "a value type")) != SQ_OK)
        return st;
    if (type >= SQ_GGUF_TYPE_COUNT)
        return sq_fail(SQ_ERR_INPUT, "%s: key '%s' has value type %u, which GGUF does not define", c->path, kv->key,
                       type);
    kv->type = (sq_gguf_type)type;
    kv->count = 1;
    if (kv->type == SQ_GGUF_STRING)
        return take_string(c, (char **)&kv->data, kv->key);
    if (kv->type != SQ_GGUF_ARRAY) {
        if ((kv->data = malloc(value_types[type].size)) == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory reading %s", c->path);
        return take(c, kv->data, value_types[type].size, kv->key);
    }
    uint32_t elem;
    uint64_t count;
    if ((st = take(c, &elem, 4, kv->key)) != SQ_OK || (st = take(c, &count, 8, kv->key)) != SQ_OK)
        return st;
    if (elem >= SQ_GGUF_TYPE_COUNT || elem == SQ_GGUF_ARRAY)
        return sq_fail(SQ_ERR_INPUT, "%s: key '%s' is an array of type %u, which squeeze does not read", c->path,
                       kv->key, elem);
    kv->elem_type = (sq_gguf_type)elem;
    if (elem == SQ_GGUF_STRING) {
        /* each string takes at least its 8-byte length */
        if (count > (c->size - c->at) / 8)
            return sq_fail(SQ_ERR_INPUT, "%s: key '%s' claims %llu strings, more than the file holds", c->path,
                           kv->key, (unsigned long long)count);
        char **strings = calloc(count ? (size_t)count : 1, sizeof *strings);
        if ((kv->data = strings) == NULL)
            return sq_fail(SQ_ERR_RUN, "out of memory reading %s", c->path);
        kv->count = 0;
        for (uint64_t i = 0; i < count; i++) {
            if ((st = take_string(c, &strings[i], kv->key)) != SQ_OK)
                return st;
            kv->count++;
        }
        return SQ_OK;
    }
    uint64_t size = value_types[elem].size;
    if (count > (c->size - c->at) / size)
        return sq_fail(SQ_ERR_INPUT, "%s: key '%s' claims %llu values of %s, more than the file holds", c->path,
                       kv->key, (unsigned long long)count, value_types[elem].name);
    kv->count = count;
    if ((kv->data = malloc(count ? (size_t)(count * size) : 1)) == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory reading %s", c->path);
    return take(c, kv->data, count * size, kv->key);
}

static sq_status take_tensor_info(cursor *c, sq_gguf_tensor *t)
{
    sq_status st;
    uint32_t n_dims, type;
    if ((st = take_string(c, &t->name, "a tensor name")) != SQ_OK || (st = take(c, &n_dims, 4, t->name)) != SQ_OK)
        return st;
    if (n_dims < 1 || n_dims > SQ_GGUF_MAX_DIMS)
        return sq_fail(SQ_ERR_INPUT, "%s: tensor '%s' has %u dimensions (1 to 4)", c->path, t->name, n_dims);
    t->n_dims = (int)n_dims;
    for (int d = 0; d < SQ_GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    if ((st = take(c, t->ne, 8 * (uint64_t)n_dims, t->name)) != SQ_OK || (st = take(c, &type, 4, t->name)) != SQ_OK ||
        (st = take(c, &t->offset, 8, t->name)) != SQ_OK)
        return st;
    t->type = (int)type;
    /* the element count must be an int64 in any order of the dimensions, a zero one aside (as
     * llama.cpp's gguf reader checks): the model's shapes multiply them in their own order */
    int64_t elements = 1;
    for (int d = 0; d < t->n_dims; d++) {
        if (t->ne[d] < 0)
            return sq_fail(SQ_ERR_INPUT, "%s: tensor '%s' has dimension %d = %lld", c->path, t->name, d,
                           (long long)t->ne[d]);
        if (t->ne[d] > 0 && __builtin_mul_overflow(elements, t->ne[d], &elements))
            return sq_fail(SQ_ERR_INPUT, "%s: tensor '%s' has more elements than an int64 holds (dimension %d = "
                           "%lld)", c->path, t->name, d, (long long)t->ne[d]);
    }
    if ((st = tensor_bytes(t->name, t->n_dims, t->ne, t->type, &t->nbytes)) != SQ_OK) {
        sq_error_context("%s", c->path);
        return st;
    }
    return SQ_OK;
}

bool sq_gguf_is_gguf(const char *path)
{
    char magic[4];
    FILE *in = fopen(path, "rb");
    bool yes = in && fread(magic, 1, 4, in) == 4 && memcmp(magic, "GGUF", 4) == 0;
    if (in)
        fclose(in);
    return yes;
}

/* Tensors whose data regions overlap are refused: a writer never produces them,
 * and a hostile file could otherwise make many tensors of one region and
 * squeeze materialise far more bytes than the file holds. */
static int compare_by_offset(const void *a, const void *b)
{
    const sq_gguf_tensor *x = *(const sq_gguf_tensor *const *)a, *y = *(const sq_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static sq_status check_no_overlap(const char *path, const sq_gguf_file *f)
{
    sq_status st = SQ_OK;
    const sq_gguf_tensor **order = NULL;
    if (f->tensor_count < 2)
        return SQ_OK;
    if ((order = malloc(f->tensor_count * sizeof *order)) == NULL)
        SQ_FAIL(SQ_ERR_RUN, "out of memory reading %s", path);
    for (size_t i = 0; i < f->tensor_count; i++)
        order[i] = &f->tensors[i];
    qsort(order, f->tensor_count, sizeof *order, compare_by_offset);
    for (size_t i = 1; i < f->tensor_count; i++)
        if (order[i - 1]->nbytes > 0 && order[i]->offset < order[i - 1]->offset + order[i - 1]->nbytes)
            SQ_FAIL(SQ_ERR_INPUT, "%s: tensors '%s' and '%s' share data bytes (offsets %llu and %llu)", path,
                    order[i - 1]->name, order[i]->name, (unsigned long long)order[i - 1]->offset,
                    (unsigned long long)order[i]->offset);
cleanup:
    free(order);
    return st;
}

sq_status sq_gguf_read(const char *path, sq_gguf_file *f)
{
    sq_status st = SQ_OK;
    cursor c = {0};
    char magic[4];
    int64_t n_tensors, n_kv;

    sq_gguf_init(f);
    SQ_TRY(sq_file_map_open(path, &f->map));
    c.p = sq_file_map_bytes(f->map);
    c.size = sq_file_map_size(f->map);
    c.path = path;
    SQ_TRY(take(&c, magic, 4, "the magic"));
    if (memcmp(magic, "GGUF", 4) != 0)
        SQ_FAIL(SQ_ERR_INPUT, "%s is not a GGUF file (it does not start with \"GGUF\")", path);
    SQ_TRY(take(&c, &f->version, 4, "the version"));
    if (f->version != SQ_GGUF_VERSION)
        SQ_FAIL(SQ_ERR_INPUT, "%s is GGUF version %u; squeeze reads version 3", path, f->version);
    SQ_TRY(take(&c, &n_tensors, 8, "the tensor count"));
    SQ_TRY(take(&c, &n_kv, 8, "the key/value count"));
    /* a key/value takes at least 12 bytes, a tensor info at least 28 */
    if (n_kv < 0 || (uint64_t)n_kv > c.size / 12 || n_tensors < 0 || (uint64_t)n_tensors > c.size / 28)
        SQ_FAIL(SQ_ERR_INPUT, "%s claims %lld key/values and %lld tensors, more than its %llu bytes can hold", path,
                (long long)n_kv, (long long)n_tensors, (unsigned long long)c.size);
    if ((f->kvs = calloc(n_kv ? (size_t)n_kv : 1, sizeof *f->kvs)) == NULL ||
        (f->tensors = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *f->tensors)) == NULL)
        SQ_FAIL(SQ_ERR_RUN, "out of memory reading %s", path);
    for (int64_t i = 0; i < n_kv; i++) {
        f->kv_count++;
        SQ_TRY(take_kv(&c, &f->kvs[i]));
        if (sq_gguf_find(f, f->kvs[i].key) != &f->kvs[i]) /* the first of its name is an earlier one */
            SQ_FAIL(SQ_ERR_INPUT, "%s: key '%s' appears twice", path, f->kvs[i].key);
    }
    {
        const sq_gguf_kv *a = sq_gguf_find(f, "general.alignment");
        if (a) {
            uint32_t v = a->type == SQ_GGUF_UINT32 ? *(const uint32_t *)a->data : 0;
            if (v == 0 || (v & (v - 1)) != 0)
                SQ_FAIL(SQ_ERR_INPUT, "%s: general.alignment must be a u32 power of two (it is a %s%s)", path,
                        sq_gguf_type_name(a->type), a->type == SQ_GGUF_UINT32 ? " that is not" : "");
            f->alignment = v;
        }
    }
    for (int64_t i = 0; i < n_tensors; i++) {
        f->tensor_count++;
        SQ_TRY(take_tensor_info(&c, &f->tensors[i]));
        if (sq_gguf_find_tensor(f, f->tensors[i].name) != &f->tensors[i])
            SQ_FAIL(SQ_ERR_INPUT, "%s: tensor '%s' appears twice", path, f->tensors[i].name);
    }
    f->data_offset = align_up(c.at, f->alignment);
    for (size_t i = 0; i < f->tensor_count; i++) {
        sq_gguf_tensor *t = &f->tensors[i];
        if (t->offset % f->alignment != 0)
            SQ_FAIL(SQ_ERR_INPUT, "%s: tensor '%s' starts at data offset %llu, not a multiple of the alignment %u",
                    path, t->name, (unsigned long long)t->offset, f->alignment);
        if (f->data_offset > c.size || t->offset > c.size - f->data_offset ||
            t->nbytes > c.size - f->data_offset - t->offset)
            SQ_FAIL(SQ_ERR_INPUT, "%s: tensor '%s' (%llu bytes at data offset %llu) runs past the end of the file "
                    "(%llu bytes): the file is truncated", path, t->name, (unsigned long long)t->nbytes,
                    (unsigned long long)t->offset, (unsigned long long)c.size);
    }
    SQ_TRY(check_no_overlap(path, f));
    /* the data stays where it lies in the mapped file, aligned as general.alignment says */
    for (size_t i = 0; i < f->tensor_count; i++) {
        sq_gguf_tensor *t = &f->tensors[i];
        const void *at = NULL;
        SQ_TRY(sq_file_map_range(f->map, f->data_offset + t->offset, t->nbytes, t->name, &at));
        t->data = (void *)(uintptr_t)at;
    }
cleanup:
    if (st != SQ_OK)
        sq_gguf_free(f);
    return st;
}

static sq_status get_typed(const sq_gguf_file *f, const char *key, sq_gguf_type type, const sq_gguf_kv **kv)
{
    *kv = sq_gguf_find(f, key);
    if (*kv == NULL)
        return sq_fail(SQ_ERR_INPUT, "GGUF key '%s' is missing", key);
    if ((*kv)->type != type)
        return sq_fail(SQ_ERR_INPUT, "GGUF key '%s' is a %s, expected a %s", key, sq_gguf_type_name((*kv)->type),
                       sq_gguf_type_name(type));
    return SQ_OK;
}

/* A scalar value of the given type, copied into value (size bytes). */
static sq_status get_scalar(const sq_gguf_file *f, const char *key, sq_gguf_type type, void *value, size_t size)
{
    const sq_gguf_kv *kv;
    sq_status st = get_typed(f, key, type, &kv);
    if (st == SQ_OK)
        memcpy(value, kv->data, size);
    return st;
}

sq_status sq_gguf_get_u32(const sq_gguf_file *f, const char *key, uint32_t *value)
{
    return get_scalar(f, key, SQ_GGUF_UINT32, value, sizeof *value);
}

sq_status sq_gguf_get_f32(const sq_gguf_file *f, const char *key, float *value)
{
    return get_scalar(f, key, SQ_GGUF_FLOAT32, value, sizeof *value);
}

sq_status sq_gguf_get_string(const sq_gguf_file *f, const char *key, const char **value)
{
    const sq_gguf_kv *kv;
    sq_status st = get_typed(f, key, SQ_GGUF_STRING, &kv);
    if (st == SQ_OK)
        *value = kv->data;
    return st;
}
