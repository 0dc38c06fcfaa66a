/* tensor.c - tensor sets and the exact fp16/bf16 conversions. */
#include "tensor/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    const char *safetensors_name;
    size_t size;
} dtype_traits[SQ_DTYPE_COUNT] = {
    [SQ_DTYPE_F32] = {"f32", "F32", 4},   [SQ_DTYPE_F16] = {"f16", "F16", 2},
    [SQ_DTYPE_BF16] = {"bf16", "BF16", 2}, [SQ_DTYPE_F64] = {"f64", "F64", 8},
    [SQ_DTYPE_I8] = {"i8", "I8", 1},       [SQ_DTYPE_U8] = {"u8", "U8", 1},
    [SQ_DTYPE_I16] = {"i16", "I16", 2},    [SQ_DTYPE_I32] = {"i32", "I32", 4},
    [SQ_DTYPE_I64] = {"i64", "I64", 8},    [SQ_DTYPE_BOOL] = {"bool", "BOOL", 1},
};

const char *sq_dtype_name(sq_dtype dtype)
{
    return (unsigned)dtype < SQ_DTYPE_COUNT ? dtype_traits[dtype].name : "?";
}

size_t sq_dtype_size(sq_dtype dtype)
{
    return (unsigned)dtype < SQ_DTYPE_COUNT ? dtype_traits[dtype].size : 0;
}

int sq_dtype_from_name(const char *name)
{
    for (int i = 0; i < SQ_DTYPE_COUNT; i++)
        if (strcmp(name, dtype_traits[i].name) == 0 || strcmp(name, dtype_traits[i].safetensors_name) == 0)
            return i;
    return -1;
}

int64_t sq_tensor_numel(const sq_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

const char *sq_shape_string(const sq_tensor *t, char *buf, size_t size)
{
    size_t used = 0;
    used += (size_t)snprintf(buf + used, size - used, "[");
    for (int i = 0; i < t->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

void sq_tensor_set_init(sq_tensor_set *set) { memset(set, 0, sizeof *set); }

void sq_tensor_set_free(sq_tensor_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        free(set->tensors[i].name);
        if (!sq_tensor_data_mapped(set, &set->tensors[i]))
            free(set->tensors[i].data);
        free(set->tensors[i].alias_of);
    }
    sq_file_map_release(set->map); /* unmapped here unless another holder keeps it */
    for (size_t i = 0; i < set->meta_count; i++) {
        free(set->meta[i].key);
        free(set->meta[i].repr);
    }
    free(set->tensors);
    free(set->meta);
    free(set->source_path);
    free(set->source_format);
    memset(set, 0, sizeof *set);
}

sq_status sq_tensor_set_use_map(sq_tensor_set *set, sq_file_map *map)
{
    if (set->map != NULL && set->map != map)
        return sq_fail(SQ_ERR_RUN, "a tensor set holds one file mapping; '%s' already has one",
                       set->source_path ? set->source_path : sq_file_map_path(set->map));
    if (set->map == NULL)
        set->map = sq_file_map_retain(map);
    return SQ_OK;
}

bool sq_tensor_data_mapped(const sq_tensor_set *set, const sq_tensor *t)
{
    return sq_file_map_holds(set->map, t->data, t->nbytes);
}

void sq_tensor_drop_data(sq_tensor_set *set, sq_tensor *t)
{
    if (sq_tensor_data_mapped(set, t))
        sq_file_map_forget(set->map, t->data, t->nbytes);
    else
        free(t->data);
    t->data = NULL;
}

void sq_tensor_replace_data(sq_tensor_set *set, sq_tensor *t, void *data)
{
    sq_tensor_drop_data(set, t);
    t->data = data;
}

sq_status sq_tensor_make_writable(sq_tensor_set *set, sq_tensor *t)
{
    void *copy = NULL;
    if (!sq_tensor_data_mapped(set, t))
        return SQ_OK;
    sq_status st = sq_alloc(&copy, t->nbytes ? t->nbytes : 1, 1, t->name);
    if (st != SQ_OK)
        return st;
    memcpy(copy, t->data, t->nbytes);
    sq_tensor_replace_data(set, t, copy);
    return SQ_OK;
}

void sq_tensor_set_remove(sq_tensor_set *set, size_t index)
{
    sq_tensor *t = &set->tensors[index];
    sq_tensor_drop_data(set, t);
    free(t->name);
    free(t->alias_of);
    memmove(t, t + 1, (set->count - index - 1) * sizeof *t);
    set->count--;
}

void *sq_tensor_take_data(sq_tensor_set *set, sq_tensor *t)
{
    void *data = t->data;
    if (data == NULL || sq_tensor_data_mapped(set, t))
        return NULL;
    t->data = NULL;
    return data;
}

sq_status sq_tensor_set_add(sq_tensor_set *set, const char *name, sq_dtype dtype, int ndim,
                            const int64_t *shape, void *data, const char *alias_of)
{
    sq_tensor *t;
    if (ndim < 0 || ndim > SQ_MAX_DIMS)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' has %d dimensions; at most %d are supported", name, ndim,
                       SQ_MAX_DIMS);
    if (sq_tensor_set_find(set, name) != NULL)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' appears twice", name);
    sq_status st = sq_grow(&set->tensors, &set->capacity, set->count + 1, sizeof *set->tensors, 64, "the tensor list");
    if (st != SQ_OK)
        return st;
    t = &set->tensors[set->count];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->alias_of = alias_of ? strdup(alias_of) : NULL;
    if (t->name == NULL || (alias_of && t->alias_of == NULL)) {
        free(t->name);
        free(t->alias_of);
        return sq_fail(SQ_ERR_RUN, "out of memory");
    }
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->data = data;
    t->nbytes = (size_t)sq_tensor_numel(t) * sq_dtype_size(dtype);
    set->count++;
    return SQ_OK;
}

sq_status sq_tensor_set_add_meta(sq_tensor_set *set, const char *key, const char *repr)
{
    sq_meta_entry *grown = realloc(set->meta, (set->meta_count + 1) * sizeof *grown);
    if (grown == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    set->meta = grown;
    set->meta[set->meta_count].key = strdup(key);
    set->meta[set->meta_count].repr = strdup(repr);
    if (!set->meta[set->meta_count].key || !set->meta[set->meta_count].repr)
        return sq_fail(SQ_ERR_RUN, "out of memory");
    set->meta_count++;
    return SQ_OK;
}

const sq_tensor *sq_tensor_set_find(const sq_tensor_set *set, const char *name)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->tensors[i].name, name) == 0)
            return &set->tensors[i];
    return NULL;
}

const sq_tensor *sq_tensor_set_resolve(const sq_tensor_set *set, const sq_tensor *t)
{
    /* Aliases point at a tensor that owns data; follow a short chain at most. */
    for (int hops = 0; t != NULL && t->alias_of != NULL && hops < 8; hops++)
        t = sq_tensor_set_find(set, t->alias_of);
    return t;
}

const char *sq_tensor_set_meta(const sq_tensor_set *set, const char *key)
{
    for (size_t i = 0; i < set->meta_count; i++)
        if (strcmp(set->meta[i].key, key) == 0)
            return set->meta[i].repr;
    return NULL;
}

sq_status sq_tensor_to_f32(const sq_tensor_set *set, const sq_tensor *t, float **out)
{
    const sq_tensor *src = set ? sq_tensor_set_resolve(set, t) : t;
    int64_t n = sq_tensor_numel(t);
    float *values;
    sq_status st;
    if (src == NULL || src->data == NULL)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' has no data (alias of '%s' not found)", t->name,
                       t->alias_of ? t->alias_of : "?");
    st = sq_alloc(&values, (size_t)n, sizeof *values, t->name);
    if (st != SQ_OK)
        return st;
    for (int64_t i = 0; i < n; i++) {
        switch (src->dtype) {
        case SQ_DTYPE_F32: values[i] = ((const float *)src->data)[i]; break;
        case SQ_DTYPE_F16: values[i] = sq_f16_to_f32(((const uint16_t *)src->data)[i]); break;
        case SQ_DTYPE_BF16: values[i] = sq_bf16_to_f32(((const uint16_t *)src->data)[i]); break;
        case SQ_DTYPE_F64: values[i] = (float)((const double *)src->data)[i]; break;
        case SQ_DTYPE_I8: values[i] = ((const int8_t *)src->data)[i]; break;
        case SQ_DTYPE_U8: values[i] = ((const uint8_t *)src->data)[i]; break;
        case SQ_DTYPE_BOOL: values[i] = ((const uint8_t *)src->data)[i] != 0; break;
        case SQ_DTYPE_I16: values[i] = ((const int16_t *)src->data)[i]; break;
        case SQ_DTYPE_I32: values[i] = (float)((const int32_t *)src->data)[i]; break;
        case SQ_DTYPE_I64: values[i] = (float)((const int64_t *)src->data)[i]; break;
        default:
            free(values);
            return sq_fail(SQ_ERR_INPUT, "tensor '%s' has an unknown dtype", t->name);
        }
    }
    *out = values;
    return SQ_OK;
}

static uint32_t float_bits(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

static float bits_float(uint32_t bits)
{
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

uint16_t sq_f32_to_f16(float value)
{
    uint32_t bits = float_bits(value);
    uint32_t sign = (bits >> 16) & 0x8000u;
    uint32_t exponent = (bits >> 23) & 0xffu;
    uint32_t mantissa = bits & 0x7fffffu;

    if (exponent == 0xff) /* Inf stays Inf; NaN stays a quiet NaN with its top payload bits */
        return (uint16_t)(sign | 0x7c00u | (mantissa ? 0x200u | (mantissa >> 13) : 0));
    int32_t half_exponent = (int32_t)exponent - 127 + 15;
    if (half_exponent >= 0x1f) /* too large: Inf */
        return (uint16_t)(sign | 0x7c00u);
    if (half_exponent <= 0) {
        /* Subnormal or zero in fp16: shift the full 24-bit significand. */
        if (half_exponent < -10)
            return (uint16_t)sign;
        uint32_t significand = mantissa | 0x800000u;
        uint32_t shift = (uint32_t)(14 - half_exponent);
        uint32_t half_mantissa = significand >> shift;
        uint32_t remainder = significand & ((1u << shift) - 1);
        uint32_t halfway = 1u << (shift - 1);
        if (remainder > halfway || (remainder == halfway && (half_mantissa & 1u)))
            half_mantissa++;
        return (uint16_t)(sign | half_mantissa);
    }
    uint32_t half = sign | ((uint32_t)half_exponent << 10) | (mantissa >> 13);
    uint32_t remainder = mantissa & 0x1fffu;
    /* Round to nearest even; a carry into the exponent is correct (may give Inf). */
    if (remainder > 0x1000u || (remainder == 0x1000u && (half & 1u)))
        half++;
    return (uint16_t)half;
}

float sq_f16_to_f32(uint16_t half)
{
    uint32_t sign = ((uint32_t)half & 0x8000u) << 16;
    uint32_t exponent = (half >> 10) & 0x1fu;
    uint32_t mantissa = half & 0x3ffu;
    if (exponent == 0x1f)
        return bits_float(sign | 0x7f800000u | (mantissa << 13));
    if (exponent == 0) {
        if (mantissa == 0)
            return bits_float(sign);
        /* Subnormal: value = mantissa * 2^-24, exact in float. */
        float magnitude = (float)mantissa * 0x1p-24f;
        return sign ? -magnitude : magnitude;
    }
    return bits_float(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

uint16_t sq_f32_to_bf16(float value)
{
    uint32_t bits = float_bits(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it quiet, keep the sign */
        return (uint16_t)((bits >> 16) | 0x40u);
    uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)((bits + rounding) >> 16);
}

float sq_bf16_to_f32(uint16_t bits) { return bits_float((uint32_t)bits << 16); }
