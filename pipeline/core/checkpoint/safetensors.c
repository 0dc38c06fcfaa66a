/* safetensors.c - the safetensors format (huggingface/safetensors, docs "Format"):
 *
 *   8 bytes     N, little-endian unsigned: the header's length
 *   N bytes     JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *               "__metadata__": {"key": "value"}}; may be padded with spaces
 *   rest        the data section; offsets are relative to its start
 *
 * The reader checks what the reference implementation (safetensors/src/tensor.rs,
 * validate) checks that matters for safety: N fits the file, offsets lie in the
 * data section, end - begin is numel * dtype size, no two tensors overlap.
 * Gaps between tensors are accepted.
 *
 * The file is memory-mapped (util/file_map.h) and a tensor's data is used where it
 * lies when it is aligned to its element size (the format stores the data section
 * contiguous and little-endian, as squeeze holds tensors); a tensor that is not (the
 * format does not require a header length that keeps fp32 data aligned to 4 bytes,
 * and C does not allow reading a float from a misaligned address) is copied out, and
 * the count of those is logged.  The writer puts tensors in the order given,
 * each right after the previous one, and pads the header with spaces to a
 * multiple of 8 bytes so the data section starts aligned.
 */
#include "checkpoint/checkpoint.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

#define ST_MAX_HEADER ((uint64_t)100 << 20) /* the reference implementation's limit (100 MB) */

typedef struct {
    const char *name;
    sq_dtype dtype;
    int ndim;
    int64_t shape[SQ_MAX_DIMS];
    uint64_t begin;
    uint64_t end;
    size_t index; /* header order, to break ties (zero-length tensors) */
} st_entry;

static int compare_begin(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

/* The format's dtype names ("F32", "BF16", ...) -- sq_dtype_from_name also takes "f32". */
static int dtype_from_safetensors(const char *name)
{
    int d = sq_dtype_from_name(name);
    if (d >= 0 && strcmp(name, sq_dtype_name((sq_dtype)d)) == 0)
        return -1; /* lower case spelling is squeeze's, not the format's */
    return d;
}

static const char *safetensors_dtype(sq_dtype dtype)
{
    static const char *const names[SQ_DTYPE_COUNT] = {
        [SQ_DTYPE_F32] = "F32", [SQ_DTYPE_F16] = "F16", [SQ_DTYPE_BF16] = "BF16", [SQ_DTYPE_F64] = "F64",
        [SQ_DTYPE_I8] = "I8",   [SQ_DTYPE_U8] = "U8",   [SQ_DTYPE_I16] = "I16",   [SQ_DTYPE_I32] = "I32",
        [SQ_DTYPE_I64] = "I64", [SQ_DTYPE_BOOL] = "BOOL",
    };
    return (unsigned)dtype < SQ_DTYPE_COUNT ? names[dtype] : NULL;
}

static sq_status parse_entry(const char *path, const char *name, json_t *info, uint64_t data_size, st_entry *e)
{
    json_t *dtype = json_object_get(info, "dtype");
    json_t *shape = json_object_get(info, "shape");
    json_t *offsets = json_object_get(info, "data_offsets");
    int d;
    uint64_t numel = 1, nbytes;
    json_int_t begin, end;

    memset(e, 0, sizeof *e);
    e->name = name;
    if (!json_is_object(info) || !json_is_string(dtype) || !json_is_array(shape) || !json_is_array(offsets) ||
        json_array_size(offsets) != 2)
        return sq_fail(SQ_ERR_INPUT,
                       "safetensors '%s': tensor '%s' lacks dtype, shape or data_offsets [begin, end] in the header",
                       path, name);
    d = dtype_from_safetensors(json_string_value(dtype));
    if (d < 0)
        return sq_fail(SQ_ERR_INPUT,
                       "not supported: safetensors '%s': tensor '%s' has dtype '%s' (squeeze reads F32, F16, BF16, "
                       "F64, I8, U8, I16, I32, I64, BOOL)",
                       path, name, json_string_value(dtype));
    e->dtype = (sq_dtype)d;
    if (json_array_size(shape) > SQ_MAX_DIMS)
        return sq_fail(SQ_ERR_INPUT, "not supported: safetensors '%s': tensor '%s' has %zu dimensions (at most %d)",
                       path, name, json_array_size(shape), SQ_MAX_DIMS);
    e->ndim = (int)json_array_size(shape);
    for (int i = 0; i < e->ndim; i++) {
        json_t *dim = json_array_get(shape, (size_t)i);
        if (!json_is_integer(dim) || json_integer_value(dim) < 0)
            return sq_fail(SQ_ERR_INPUT, "safetensors '%s': tensor '%s': shape entry %d is not a non-negative integer",
                           path, name, i);
        e->shape[i] = json_integer_value(dim);
        if (__builtin_mul_overflow(numel, (uint64_t)e->shape[i], &numel))
            return sq_fail(SQ_ERR_INPUT, "safetensors '%s': tensor '%s': shape overflows", path, name);
    }
    if (!json_is_integer(json_array_get(offsets, 0)) || !json_is_integer(json_array_get(offsets, 1)))
        return sq_fail(SQ_ERR_INPUT, "safetensors '%s': tensor '%s': data_offsets are not integers", path, name);
    begin = json_integer_value(json_array_get(offsets, 0));
    end = json_integer_value(json_array_get(offsets, 1));
    if (begin < 0 || end < begin || (uint64_t)end > data_size)
        return sq_fail(SQ_ERR_INPUT,
                       "safetensors '%s': tensor '%s': data_offsets [%lld, %lld] lie outside the data section of %llu "
                       "bytes; the file is truncated or damaged",
                       path, name, (long long)begin, (long long)end, (unsigned long long)data_size);
    e->begin = (uint64_t)begin;
    e->end = (uint64_t)end;
    if (__builtin_mul_overflow(numel, (uint64_t)sq_dtype_size(e->dtype), &nbytes) || nbytes != e->end - e->begin)
        return sq_fail(SQ_ERR_INPUT,
                       "safetensors '%s': tensor '%s': data_offsets [%llu, %llu] span %llu bytes but shape and dtype %s "
                       "need %llu",
                       path, name, (unsigned long long)e->begin, (unsigned long long)e->end,
                       (unsigned long long)(e->end - e->begin), json_string_value(dtype), (unsigned long long)nbytes);
    return SQ_OK;
}

static sq_status read_metadata(const char *path, json_t *meta, sq_tensor_set *out)
{
    const char *key;
    json_t *value;
    if (!json_is_object(meta))
        return sq_fail(SQ_ERR_INPUT, "safetensors '%s': __metadata__ is not an object of strings", path);
    json_object_foreach(meta, key, value)
    {
        sq_status st;
        if (json_is_string(value)) {
            st = sq_tensor_set_add_meta(out, key, json_string_value(value));
        } else {
            /* the format says strings; keep other values as their JSON text */
            char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
            if (text == NULL)
                return sq_fail(SQ_ERR_RUN, "out of memory");
            st = sq_tensor_set_add_meta(out, key, text);
            free(text);
        }
        if (st != SQ_OK)
            return st;
    }
    return SQ_OK;
}

sq_status sq_safetensors_read(const char *path, sq_tensor_set *out)
{
    sq_status st = SQ_OK;
    sq_file_map *map = NULL;
    const unsigned char *len_bytes;
    const void *header = NULL;
    uint64_t header_len = 0, data_size, file_size;
    json_t *root = NULL;
    json_error_t jerr;
    st_entry *entries = NULL;
    size_t count = 0, copied = 0, mapped = 0;
    void *data = NULL;

    sq_tensor_set_init(out);
    SQ_TRY(sq_file_map_open(path, &map));
    file_size = sq_file_map_size(map);
    if (file_size < 8)
        SQ_FAIL(SQ_ERR_INPUT, "safetensors '%s' is shorter than its 8-byte header length", path);
    len_bytes = sq_file_map_bytes(map);
    for (int i = 7; i >= 0; i--)
        header_len = (header_len << 8) | len_bytes[i];
    if (header_len > file_size - 8)
        SQ_FAIL(SQ_ERR_INPUT,
                "safetensors '%s': header length %llu is longer than the file (%llu bytes); the file is truncated "
                "or not safetensors",
                path, (unsigned long long)header_len, (unsigned long long)file_size);
    if (header_len > ST_MAX_HEADER)
        SQ_FAIL(SQ_ERR_INPUT, "safetensors '%s': header length %llu is over the format's limit of 100 MB", path,
                (unsigned long long)header_len);
    data_size = file_size - 8 - header_len;
    SQ_TRY(sq_file_map_range(map, 8, header_len, "the JSON header", &header));
    root = json_loadb(header, (size_t)header_len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        SQ_FAIL(SQ_ERR_INPUT, "safetensors '%s': header is not valid JSON (%s at byte %d)", path, jerr.text,
                jerr.position);
    if (!json_is_object(root))
        SQ_FAIL(SQ_ERR_INPUT, "safetensors '%s': header is not a JSON object", path);

    SQ_TRY(sq_alloc(&entries, json_object_size(root) + 1, sizeof *entries, "safetensors entries"));
    {
        const char *key;
        json_t *value;
        json_object_foreach(root, key, value)
        {
            if (strcmp(key, "__metadata__") == 0) {
                SQ_TRY(read_metadata(path, value, out));
                continue;
            }
            SQ_TRY(parse_entry(path, key, value, data_size, &entries[count]));
            entries[count].index = count;
            count++;
        }
    }
    /* file order; then no tensor may begin before the previous one ends */
    qsort(entries, count, sizeof *entries, compare_begin);
    for (size_t i = 1; i < count; i++)
        if (entries[i].begin < entries[i - 1].end)
            SQ_FAIL(SQ_ERR_INPUT,
                    "safetensors '%s': tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap in the data section; "
                    "the file is damaged",
                    path, entries[i - 1].name, (unsigned long long)entries[i - 1].begin,
                    (unsigned long long)entries[i - 1].end, entries[i].name, (unsigned long long)entries[i].begin,
                    (unsigned long long)entries[i].end);
    SQ_TRY(sq_tensor_set_use_map(out, map));
    for (size_t i = 0; i < count; i++) {
        st_entry *e = &entries[i];
        size_t nbytes = (size_t)(e->end - e->begin);
        const void *at = NULL;
        /* parse_entry bounded the range by the data section; the mapping checks it again */
        SQ_TRY(sq_file_map_range(map, 8 + header_len + e->begin, nbytes, e->name, &at));
        if (nbytes > 0 && (uintptr_t)at % sq_dtype_size(e->dtype) == 0) {
            SQ_TRY(sq_tensor_set_add(out, e->name, e->dtype, e->ndim, e->shape, (void *)(uintptr_t)at, NULL));
            mapped++;
            continue;
        }
        SQ_TRY(sq_alloc(&data, nbytes ? nbytes : 1, 1, e->name));
        memcpy(data, at, nbytes);
        SQ_TRY(sq_tensor_set_add(out, e->name, e->dtype, e->ndim, e->shape, data, NULL));
        data = NULL;
        copied += nbytes > 0;
    }
    out->source_path = strdup(path);
    out->source_format = strdup("safetensors");
    if (out->source_path == NULL || out->source_format == NULL)
        SQ_FAIL(SQ_ERR_RUN, "out of memory");
    sq_info("read %zu tensors and %zu metadata entries from %s (safetensors; %zu used in place from the mapped file, "
            "%zu copied out because their data is not aligned to their element size)",
            out->count, out->meta_count, path, mapped, copied);
cleanup:
    if (st != SQ_OK)
        sq_tensor_set_free(out);
    free(data);
    free(entries);
    json_decref(root);
    sq_file_map_release(map);
    return st;
}

/* ================= writing ================= */

static sq_status build_header(const sq_tensor_set *set, char **text_out)
{
    sq_status st = SQ_OK;
    json_t *root = json_object();
    json_t *meta = NULL;
    uint64_t offset = 0;
    *text_out = NULL;
    if (root == NULL)
        SQ_FAIL(SQ_ERR_RUN, "out of memory");
    if (set->meta_count > 0) {
        meta = json_object();
        if (meta == NULL)
            SQ_FAIL(SQ_ERR_RUN, "out of memory");
        for (size_t i = 0; i < set->meta_count; i++)
            if (json_object_set_new(meta, set->meta[i].key, json_string(set->meta[i].repr)) != 0)
                SQ_FAIL(SQ_ERR_INPUT, "metadata '%s' cannot be written as a JSON string (not UTF-8?)",
                        set->meta[i].key);
        json_object_set_new(root, "__metadata__", meta);
    }
    for (size_t i = 0; i < set->count; i++) {
        const sq_tensor *t = &set->tensors[i];
        const char *dtype = safetensors_dtype(t->dtype);
        json_t *info = json_object(), *shape = json_array(), *offsets = json_array();
        if (info == NULL || shape == NULL || offsets == NULL) {
            json_decref(info);
            json_decref(shape);
            json_decref(offsets);
            SQ_FAIL(SQ_ERR_RUN, "out of memory");
        }
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        json_array_append_new(offsets, json_integer((json_int_t)offset));
        json_array_append_new(offsets, json_integer((json_int_t)(offset + t->nbytes)));
        offset += t->nbytes;
        json_object_set_new(info, "dtype", json_string(dtype ? dtype : "?"));
        json_object_set_new(info, "shape", shape);
        json_object_set_new(info, "data_offsets", offsets);
        if (dtype == NULL) {
            json_decref(info);
            SQ_FAIL(SQ_ERR_INPUT, "tensor '%s' has no safetensors dtype", t->name);
        }
        if (json_object_set_new(root, t->name, info) != 0)
            SQ_FAIL(SQ_ERR_INPUT, "tensor name '%s' cannot be written as a JSON key", t->name);
    }
    *text_out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (*text_out == NULL)
        SQ_FAIL(SQ_ERR_RUN, "out of memory writing the safetensors header");
cleanup:
    json_decref(root);
    return st;
}

sq_status sq_safetensors_write(const char *path, const sq_tensor_set *set)
{
    sq_status st = SQ_OK;
    char *header = NULL, *temp_path = NULL;
    FILE *f = NULL;
    size_t header_len, padded;
    unsigned char len_bytes[8];
    size_t temp_size = strlen(path) + 32;

    for (size_t i = 0; i < set->count; i++) {
        const sq_tensor *t = sq_tensor_set_resolve(set, &set->tensors[i]);
        if (t == NULL || (t->data == NULL && t->nbytes > 0))
            SQ_FAIL(SQ_ERR_INPUT, "cannot write '%s': tensor '%s' has no data (alias of a missing tensor?)", path,
                    set->tensors[i].name);
    }
    SQ_TRY(build_header(set, &header));
    header_len = strlen(header);
    padded = (header_len + 7) / 8 * 8; /* the format allows trailing spaces; aligns the data */
    for (int i = 0; i < 8; i++)
        len_bytes[i] = (unsigned char)(((uint64_t)padded >> (8 * i)) & 0xff);

    /* written under a temporary name and renamed: never a half file under the final name */
    SQ_TRY(sq_alloc(&temp_path, temp_size, 1, "path"));
    snprintf(temp_path, temp_size, "%s.tmp.%ld", path, (long)getpid());
    f = fopen(temp_path, "wb");
    if (f == NULL)
        SQ_FAIL(SQ_ERR_RUN, "cannot create '%s': %s", temp_path, strerror(errno));
    if (fwrite(len_bytes, 1, 8, f) != 8 || fwrite(header, 1, header_len, f) != header_len)
        SQ_FAIL(SQ_ERR_RUN, "cannot write '%s': %s", temp_path, strerror(errno));
    for (size_t i = header_len; i < padded; i++)
        if (fputc(' ', f) == EOF)
            SQ_FAIL(SQ_ERR_RUN, "cannot write '%s': %s", temp_path, strerror(errno));
    for (size_t i = 0; i < set->count; i++) {
        const sq_tensor *t = sq_tensor_set_resolve(set, &set->tensors[i]);
        if (set->tensors[i].nbytes > 0 && fwrite(t->data, 1, set->tensors[i].nbytes, f) != set->tensors[i].nbytes)
            SQ_FAIL(SQ_ERR_RUN, "cannot write '%s': %s", temp_path, strerror(errno));
    }
    if (fclose(f) != 0) {
        f = NULL;
        SQ_FAIL(SQ_ERR_RUN, "cannot write '%s': %s", temp_path, strerror(errno));
    }
    f = NULL;
    if (rename(temp_path, path) != 0)
        SQ_FAIL(SQ_ERR_RUN, "cannot rename '%s' to '%s': %s", temp_path, path, strerror(errno));
    sq_info("wrote %zu tensors to %s (safetensors, header %zu bytes)", set->count, path, padded);
cleanup:
    if (f != NULL)
        fclose(f);
    if (st != SQ_OK && temp_path != NULL)
        remove(temp_path);
    free(temp_path);
    free(header);
    return st;
}
