/* model_file.c - squeeze's HDF5 model form (schema: docs/artifacts.md, "model form").
 *
 *   /model                  attrs family, config_json, tensor_count, aliases
 *   /model/tensors          links in the model's tensor order (creation order is tracked)
 *     <name>                plain: one dataset; quantized: a group of buffer datasets
 *     <alias>               a hard link to the object of the tensor it shares storage with
 *
 * Formats written as a plain dataset:
 *   fp32  H5T_IEEE_F32LE
 *   fp16  IEEE half (sq_h5_f16_type(), which h5py reads as float16)
 *   bf16  H5T_STD_U16LE holding the bfloat16 bits (HDF5 has no bfloat16 type)
 *   raw   a non-float tensor (int64 step counters, bool masks, ...) kept in its
 *         own dtype: such tensors are not weights, so they are never quantized
 *         and never converted (an int64 converted to fp32 would be rounded);
 *         bool is stored as u8.  The reader returns them in that dtype.
 * Every dataset carries attr dtype (its storage dtype, sq_dtype_name()) so that
 * the reader does not have to guess bf16 from u16 or bool from u8.
 *
 * A quantized tensor is a group: attrs format, original_dtype, shape and the
 * format's scalars (block_size, nested_offset, ...; doubles); one dataset per
 * buffer (packed, absmax, scales, ...).  Reading dequantizes through the format
 * registry (quant/format.h), so this file knows no quantization format itself.
 */
#include "modelio/model_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "quant/format.h"
#include "util/log.h"

/* ------------------------------------------------------------------ dtypes */

/* The in-memory HDF5 type of each storage dtype (the file type follows from it
 * in sq_h5_write_dataset: little-endian of the same width). */
static hid_t native_type_of(sq_dtype dtype)
{
    switch (dtype) {
    case SQ_DTYPE_F32: return H5T_NATIVE_FLOAT;
    case SQ_DTYPE_F16: return sq_h5_f16_type();
    case SQ_DTYPE_BF16: return H5T_NATIVE_UINT16;
    case SQ_DTYPE_F64: return H5T_NATIVE_DOUBLE;
    case SQ_DTYPE_I8: return H5T_NATIVE_INT8;
    case SQ_DTYPE_U8: return H5T_NATIVE_UINT8;
    case SQ_DTYPE_I16: return H5T_NATIVE_INT16;
    case SQ_DTYPE_I32: return H5T_NATIVE_INT32;
    case SQ_DTYPE_I64: return H5T_NATIVE_INT64;
    case SQ_DTYPE_BOOL: return H5T_NATIVE_UINT8;
    default: return -1;
    }
}

static int is_float_dtype(sq_dtype dtype)
{
    return dtype == SQ_DTYPE_F32 || dtype == SQ_DTYPE_F16 || dtype == SQ_DTYPE_BF16 || dtype == SQ_DTYPE_F64;
}

/* The formats stored as one plain dataset (the traits' plain formats, quant/format.h,
 * and "raw"), and the storage dtype each demands: a "fp16" tensor must hold f16
 * data (the seed's "INT8" that was really FP16 came from a format name and a
 * buffer that disagreed).  Returns false for a format that is not stored plain;
 * *dtype -1: any (raw). */
static bool plain_storage(const char *format, int *dtype)
{
    const sq_quant_format *f;
    if (strcmp(format, "raw") == 0) {
        *dtype = -1;
        return true;
    }
    f = sq_quant_format_find(format);
    if (f == NULL || !f->plain)
        return false;
    *dtype = (int)f->storage_dtype;
    return true;
}

/* ------------------------------------------------------------------ write */

static sq_status check_name(const char *name)
{
    if (name == NULL || name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return sq_fail(SQ_ERR_INPUT, "tensor name '%s' cannot be stored in an HDF5 model file", name ? name : "");
    if (strchr(name, '/'))
        return sq_fail(SQ_ERR_INPUT,
                       "tensor name '%s' contains '/', which HDF5 reads as a group separator; rename the tensor "
                       "(dots are fine)",
                       name);
    return SQ_OK;
}

static sq_status write_shape_attrs(hid_t object, const sq_qtensor *qt)
{
    sq_status st = SQ_OK;
    SQ_TRY(sq_h5_write_attr_string(object, "format", qt->format));
    SQ_TRY(sq_h5_write_attr_string(object, "original_dtype", sq_dtype_name(qt->original_dtype)));
    SQ_TRY(sq_h5_write_attr_ints(object, "shape", qt->shape, qt->ndim));
cleanup:
    return st;
}

/* One buffer as a dataset named `name` under parent, with its dtype attribute.
 * The opened dataset is returned in *dataset_out when asked for (caller closes). */
static sq_status write_buffer(hid_t parent, const char *name, const sq_qbuffer *buffer, hid_t *dataset_out)
{
    sq_status st = SQ_OK;
    uint64_t dims[SQ_MAX_DIMS];
    hid_t dataset = -1, type = native_type_of(buffer->dtype);
    if (type < 0)
        return sq_fail(SQ_ERR_RUN, "buffer '%s' has an unknown dtype", name);
    for (int i = 0; i < buffer->ndim; i++)
        dims[i] = (uint64_t)buffer->shape[i];
    SQ_TRY(sq_h5_write_dataset(parent, name, type, buffer->ndim, dims, buffer->data));
    dataset = H5Dopen2(parent, name, H5P_DEFAULT);
    if (dataset < 0)
        SQ_FAIL(SQ_ERR_RUN, "cannot reopen HDF5 dataset '%s'", name);
    SQ_TRY(sq_h5_write_attr_string(dataset, "dtype", sq_dtype_name(buffer->dtype)));
    if (dataset_out) {
        *dataset_out = dataset;
        dataset = -1;
    }
cleanup:
    if (dataset >= 0)
        H5Dclose(dataset);
    return st;
}

/* A group whose links remember their creation order, so a reader sees the
 * tensors (and a quantized tensor's buffers) in the order they were written. */
static hid_t create_ordered_group(hid_t parent, const char *name)
{
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE), group;
    H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    group = H5Gcreate2(parent, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    return group;
}

static sq_status write_plain(hid_t tensors, const sq_qtensor *qt, int want)
{
    sq_status st = SQ_OK;
    hid_t dataset = -1;
    const sq_qbuffer *data = sq_qtensor_buffer(qt, "data");
    if (qt->buffer_count != 1 || data == NULL)
        return sq_fail(SQ_ERR_RUN, "tensor '%s' (format %s) must have exactly one buffer named 'data', it has %d",
                       qt->name, qt->format, qt->buffer_count);
    if (want >= 0 && (int)data->dtype != want)
        return sq_fail(SQ_ERR_RUN, "tensor '%s' is labelled %s but its data is %s; refusing to store a mislabelled tensor",
                       qt->name, qt->format, sq_dtype_name(data->dtype));
    if (want < 0 && is_float_dtype(data->dtype) && data->dtype != SQ_DTYPE_F64)
        return sq_fail(SQ_ERR_RUN, "tensor '%s' holds %s data under format 'raw'; use fp32, fp16 or bf16", qt->name,
                       sq_dtype_name(data->dtype));
    {
        /* A plain dataset has the tensor's own shape (the format code may hold a
         * 1-D or 3-D tensor as a [rows, cols] buffer), so h5py shows it as is. */
        sq_qbuffer shaped = *data;
        int64_t stored = 1;
        for (int i = 0; i < data->ndim; i++)
            stored *= data->shape[i];
        if (stored != sq_qtensor_numel(qt))
            return sq_fail(SQ_ERR_RUN, "tensor '%s' holds %lld values but its shape needs %lld", qt->name,
                           (long long)stored, (long long)sq_qtensor_numel(qt));
        shaped.ndim = qt->ndim;
        memcpy(shaped.shape, qt->shape, sizeof shaped.shape);
        SQ_TRY(write_buffer(tensors, qt->name, &shaped, &dataset));
    }
    SQ_TRY(write_shape_attrs(dataset, qt));
cleanup:
    if (dataset >= 0)
        H5Dclose(dataset);
    return st;
}

static sq_status write_quantized(hid_t tensors, const sq_qtensor *qt)
{
    sq_status st = SQ_OK;
    hid_t group = create_ordered_group(tensors, qt->name);
    if (group < 0)
        return sq_fail(SQ_ERR_RUN, "cannot create HDF5 group for tensor '%s'", qt->name);
    if (qt->buffer_count == 0)
        SQ_FAIL(SQ_ERR_RUN, "quantized tensor '%s' (format %s) has no buffers", qt->name, qt->format);
    SQ_TRY(write_shape_attrs(group, qt));
    for (int i = 0; i < qt->attr_count; i++) {
        const char *name = qt->attrs[i].name;
        if (strcmp(name, "format") == 0 || strcmp(name, "original_dtype") == 0 || strcmp(name, "shape") == 0)
            SQ_FAIL(SQ_ERR_RUN, "tensor '%s': format attribute '%s' clashes with a reserved attribute", qt->name,
                    name);
        SQ_TRY(sq_h5_write_attr_double(group, name, qt->attrs[i].value));
    }
    for (int i = 0; i < qt->buffer_count; i++)
        SQ_TRY(write_buffer(group, qt->buffers[i].name, &qt->buffers[i], NULL));
cleanup:
    H5Gclose(group);
    return st;
}

/* The tensor an alias finally refers to (aliases of aliases are followed). */
static const sq_qtensor *alias_owner(const sq_qtensor *tensors, size_t count, const sq_qtensor *qt)
{
    for (int hops = 0; qt && qt->alias_of && hops < 8; hops++) {
        const sq_qtensor *next = NULL;
        for (size_t i = 0; i < count && !next; i++)
            if (strcmp(tensors[i].name, qt->alias_of) == 0)
                next = &tensors[i];
        qt = next;
    }
    return qt && qt->alias_of == NULL ? qt : NULL;
}

sq_status sq_model_file_write(hid_t file, const sq_model_config *cfg, const sq_qtensor *tensors, size_t count)
{
    sq_status st = SQ_OK;
    hid_t model = -1, group = -1;
    char *config_json = NULL, *aliases = NULL;
    size_t aliases_size = 1;

    if (cfg == NULL || cfg->family[0] == '\0')
        return sq_fail(SQ_ERR_RUN, "writing a model file needs the model config with its family");
    SQ_TRY(sq_model_config_to_json(cfg, &config_json));
    for (size_t i = 0; i < count; i++) {
        SQ_TRY(check_name(tensors[i].name));
        if (tensors[i].alias_of)
            aliases_size += strlen(tensors[i].name) + strlen(tensors[i].alias_of) + 2;
    }
    SQ_TRY(sq_alloc(&aliases, aliases_size, 1, "aliases attribute"));

    if (sq_h5_exists(file, "model"))
        SQ_FAIL(SQ_ERR_RUN, "the file already holds a /model group");
    SQ_TRY(sq_h5_group(file, "model", &model));
    group = create_ordered_group(model, "tensors");
    if (group < 0)
        SQ_FAIL(SQ_ERR_RUN, "cannot create HDF5 group /model/tensors");

    for (size_t i = 0; i < count; i++) {
        const sq_qtensor *qt = &tensors[i];
        if (sq_h5_exists(group, qt->name))
            SQ_FAIL(SQ_ERR_RUN, "tensor '%s' appears twice in the model", qt->name);
        if (qt->alias_of) {
            /* Shared storage is one HDF5 object with two names: stored and counted once. */
            const sq_qtensor *owner = alias_owner(tensors, count, qt);
            if (owner == NULL)
                SQ_FAIL(SQ_ERR_RUN, "tensor '%s' is an alias of '%s', which the model does not hold", qt->name,
                        qt->alias_of);
            if (!sq_h5_exists(group, owner->name))
                SQ_FAIL(SQ_ERR_RUN, "tensor '%s' is an alias of '%s', which must come before it", qt->name,
                        owner->name);
            if (H5Lcreate_hard(group, owner->name, group, qt->name, H5P_DEFAULT, H5P_DEFAULT) < 0)
                SQ_FAIL(SQ_ERR_RUN, "cannot link alias '%s' to '%s'", qt->name, owner->name);
            strcat(aliases, qt->name);
            strcat(aliases, "=");
            strcat(aliases, owner->name);
            strcat(aliases, "\n");
            continue;
        }
        int plain_dtype;
        if (plain_storage(qt->format, &plain_dtype))
            SQ_TRY(write_plain(group, qt, plain_dtype));
        else
            SQ_TRY(write_quantized(group, qt));
    }
    SQ_TRY(sq_h5_write_attr_string(model, "family", cfg->family));
    SQ_TRY(sq_h5_write_attr_string(model, "config_json", config_json));
    SQ_TRY(sq_h5_write_attr_int(model, "tensor_count", (int64_t)count));
    SQ_TRY(sq_h5_write_attr_string(model, "aliases", aliases));
cleanup:
    if (group >= 0)
        H5Gclose(group);
    if (model >= 0)
        H5Gclose(model);
    free(config_json);
    free(aliases);
    return st;
}

/* ------------------------------------------------------------------ read */

/* An object's identity in the file: two links with the same identity are one
 * stored object (a hard-linked alias). */
typedef struct {
    unsigned char bytes[32];
} object_id;

/* What one link of the file names: its identity and its object type (dataset
 * or group). id may be NULL where only the type is wanted. */
static sq_status object_info(hid_t parent, const char *name, object_id *id, H5O_type_t *type)
{
    /* HDF5 1.12 names an object by a token, older releases by its address. */
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    herr_t got = H5Oget_info_by_name3(parent, name, &info, H5O_INFO_BASIC, H5P_DEFAULT);
    const void *where = &info.token;
    size_t size = sizeof info.token;
#else
    H5O_info_t info;
    herr_t got = H5Oget_info_by_name2(parent, name, &info, H5O_INFO_BASIC, H5P_DEFAULT);
    const void *where = &info.addr;
    size_t size = sizeof info.addr;
#endif
    if (got < 0)
        return sq_fail(SQ_ERR_INPUT, "cannot read HDF5 object '%s'", name);
    if (id) {
        memset(id, 0, sizeof *id);
        memcpy(id->bytes, where, size < sizeof id->bytes ? size : sizeof id->bytes);
    }
    *type = info.type;
    return SQ_OK;
}

typedef struct {
    char **names;
    size_t count, capacity;
    int failed;
} name_list;

static herr_t collect_link(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    name_list *list = data;
    (void)group;
    (void)info;
    if (sq_grow(&list->names, &list->capacity, list->count + 1, sizeof *list->names, 64, "a group's links") != SQ_OK ||
        (list->names[list->count] = strdup(name)) == NULL) {
        list->failed = 1;
        return -1;
    }
    list->count++;
    return 0;
}

static void name_list_free(name_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->names[i]);
    free(list->names);
    memset(list, 0, sizeof *list);
}

/* The names of a group's links in creation order (name order for a group
 * written without creation-order tracking, e.g. by another tool). */
static sq_status list_links(hid_t group, const char *where, name_list *list)
{
    hid_t gcpl = H5Gget_create_plist(group);
    unsigned flags = 0;
    hsize_t index = 0;
    H5_index_t order = H5_INDEX_NAME;
    if (gcpl >= 0) {
        if (H5Pget_link_creation_order(gcpl, &flags) >= 0 && (flags & H5P_CRT_ORDER_INDEXED))
            order = H5_INDEX_CRT_ORDER;
        H5Pclose(gcpl);
    }
    memset(list, 0, sizeof *list);
    if (H5Literate(group, order, H5_ITER_INC, &index, collect_link, list) < 0 || list->failed) {
        name_list_free(list);
        return sq_fail(SQ_ERR_INPUT, "cannot list %s", where);
    }
    return SQ_OK;
}

static sq_status read_dtype_attr(hid_t object, const char *tensor, sq_dtype *dtype)
{
    char *name = NULL;
    int parsed;
    sq_status st = sq_h5_read_attr_string(object, "dtype", &name);
    if (st != SQ_OK) {
        sq_error_context("tensor '%s'", tensor);
        return st;
    }
    parsed = sq_dtype_from_name(name);
    if (parsed < 0)
        st = sq_fail(SQ_ERR_INPUT, "tensor '%s' has unknown dtype '%s'", tensor, name);
    else
        *dtype = (sq_dtype)parsed;
    free(name);
    return st;
}

/* Reads one dataset (a plain tensor or a buffer) in its storage dtype. */
static sq_status read_buffer(hid_t parent, const char *name, const char *tensor, sq_qbuffer *buffer,
                             uint64_t *bytes)
{
    sq_status st = SQ_OK;
    hid_t dataset = H5Dopen2(parent, name, H5P_DEFAULT);
    uint64_t dims[SQ_MAX_DIMS] = {0}, count = 1;
    int ndim = 0;
    memset(buffer, 0, sizeof *buffer);
    if (dataset < 0)
        return sq_fail(SQ_ERR_INPUT, "cannot open dataset '%s' of tensor '%s'", name, tensor);
    SQ_TRY(read_dtype_attr(dataset, tensor, &buffer->dtype));
    snprintf(buffer->name, sizeof buffer->name, "%s", name);
    SQ_TRY(sq_h5_read_dataset(parent, name, native_type_of(buffer->dtype), &buffer->data, &ndim, dims));
    if (ndim > SQ_MAX_DIMS)
        SQ_FAIL(SQ_ERR_INPUT, "tensor '%s': dataset '%s' has %d dimensions", tensor, name, ndim);
    buffer->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        buffer->shape[i] = (int64_t)dims[i];
        count *= dims[i];
    }
    *bytes += count * sq_dtype_size(buffer->dtype);
cleanup:
    H5Dclose(dataset);
    if (st != SQ_OK) {
        free(buffer->data);
        buffer->data = NULL;
    }
    return st;
}

/* The shape attribute comes from the file: every dimension non-negative, the
 * product without overflow, and no more elements than one bit each of the
 * file's bytes could encode (squeeze's formats store at least 3 bits per
 * weight), so that a hostile file cannot make the dequantizer allocate more
 * than a small multiple of its size. */
static sq_status check_shape(hid_t object, const int64_t *shape, int ndim)
{
    hid_t file = H5Iget_file_id(object);
    hsize_t file_bytes = 0;
    int64_t numel = 1;
    if (file >= 0) {
        H5Fget_filesize(file, &file_bytes);
        H5Fclose(file);
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || __builtin_mul_overflow(numel, shape[i], &numel))
            return sq_fail(SQ_ERR_INPUT, "shape attribute entry %d (%lld) is negative or the shape overflows", i,
                           (long long)shape[i]);
    if ((uint64_t)numel > (uint64_t)file_bytes * 8 + ((uint64_t)1 << 20))
        return sq_fail(SQ_ERR_INPUT, "shape attribute gives %lld elements, more than the file of %llu bytes can hold",
                       (long long)numel, (unsigned long long)file_bytes);
    return SQ_OK;
}

static sq_status read_header(hid_t object, const char *tensor, sq_qtensor *qt)
{
    sq_status st = SQ_OK;
    char *format = NULL, *original = NULL;
    int64_t shape[SQ_MAX_DIMS] = {0};
    int ndim = 0, dtype;
    SQ_TRY(sq_h5_read_attr_string(object, "format", &format));
    SQ_TRY(sq_h5_read_attr_string(object, "original_dtype", &original));
    SQ_TRY(sq_h5_read_attr_ints(object, "shape", shape, SQ_MAX_DIMS, &ndim));
    dtype = sq_dtype_from_name(original);
    if (dtype < 0)
        SQ_FAIL(SQ_ERR_INPUT, "unknown original_dtype '%s'", original);
    SQ_TRY(check_shape(object, shape, ndim));
    if (strlen(format) >= sizeof qt->format)
        SQ_FAIL(SQ_ERR_INPUT, "format name '%s' is too long", format);
    sq_qtensor_init(qt, tensor, format, (sq_dtype)dtype, ndim, shape);
cleanup:
    if (st != SQ_OK)
        sq_error_context("tensor '%s' in /model/tensors", tensor);
    free(format);
    free(original);
    return st;
}

typedef struct {
    sq_qtensor *qt;
    int out_of_range; /* an attribute no int holds: sq_fail already said which */
} attr_scan;

static herr_t collect_scalar_attr(hid_t object, const char *name, const H5A_info_t *info, void *data)
{
    attr_scan *scan = data;
    sq_qtensor *qt = scan->qt;
    hid_t attr, type, space;
    double value;
    int numeric_scalar;
    (void)info;
    if (strcmp(name, "format") == 0 || strcmp(name, "original_dtype") == 0 || strcmp(name, "shape") == 0 ||
        strcmp(name, "shape_count") == 0)
        return 0;
    attr = H5Aopen(object, name, H5P_DEFAULT);
    if (attr < 0)
        return -1;
    type = H5Aget_type(attr);
    space = H5Aget_space(attr);
    numeric_scalar = (H5Tget_class(type) == H5T_FLOAT || H5Tget_class(type) == H5T_INTEGER) &&
                     H5Sget_simple_extent_npoints(space) == 1;
    if (numeric_scalar && H5Aread(attr, H5T_NATIVE_DOUBLE, &value) >= 0) {
        /* formats read block sizes and bit widths as int: a value no int holds is damage */
        if (!isfinite(value) || fabs(value) >= 2147483648.0) {
            sq_fail(SQ_ERR_INPUT, "tensor '%s': attribute '%s' is %g, outside the range squeeze's formats use",
                    qt->name, name, value);
            scan->out_of_range = 1;
            H5Sclose(space);
            H5Tclose(type);
            H5Aclose(attr);
            return -1;
        }
        sq_qtensor_set_attr(qt, name, value);
    }
    H5Sclose(space);
    H5Tclose(type);
    H5Aclose(attr);
    return 0;
}

/* The numeric scalar attributes of a quantized tensor (its format's options) into qt. */
static sq_status read_scalar_attrs(hid_t object, const char *name, sq_qtensor *qt)
{
    attr_scan scan = {qt, 0};
    hsize_t index = 0;
    if (H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &index, collect_scalar_attr, &scan) < 0)
        return scan.out_of_range ? SQ_ERR_INPUT
                                 : sq_fail(SQ_ERR_INPUT, "cannot read the attributes of tensor '%s'", name);
    return SQ_OK;
}

/* A plain tensor to fp32 (or, for raw, its own dtype); appends it to set. */
static sq_status read_plain(hid_t tensors, const char *name, sq_tensor_set *set, uint64_t *bytes, bool keep_16bit)
{
    sq_status st = SQ_OK;
    sq_qtensor qt;
    sq_qbuffer buffer = {0};
    hid_t dataset = H5Dopen2(tensors, name, H5P_DEFAULT);
    void *values = NULL;
    sq_dtype dtype = SQ_DTYPE_F32;
    int64_t numel;
    memset(&qt, 0, sizeof qt);
    if (dataset < 0)
        return sq_fail(SQ_ERR_INPUT, "cannot open tensor '%s' in /model/tensors", name);
    SQ_TRY(read_header(dataset, name, &qt));
    SQ_TRY(read_buffer(tensors, name, name, &buffer, bytes));
    numel = sq_qtensor_numel(&qt);
    {
        int64_t stored = 1;
        for (int i = 0; i < buffer.ndim; i++)
            stored *= buffer.shape[i];
        if (stored != numel)
            SQ_FAIL(SQ_ERR_INPUT, "tensor '%s' stores %lld values but its shape attribute gives %lld", name,
                    (long long)stored, (long long)numel);
    }
    if (strcmp(qt.format, "raw") == 0) {
        dtype = buffer.dtype;
        values = buffer.data;
        buffer.data = NULL;
    } else {
        int plain_dtype = 0;
        float *out = NULL;
        if (!plain_storage(qt.format, &plain_dtype) || (int)buffer.dtype != plain_dtype)
            SQ_FAIL(SQ_ERR_INPUT, "tensor '%s' is a dataset of %s with format '%s'; expected fp32, fp16, bf16 or raw",
                    name, sq_dtype_name(buffer.dtype), qt.format);
        if (buffer.dtype == SQ_DTYPE_F32) {
            out = buffer.data;
            buffer.data = NULL;
        } else if (keep_16bit) { /* as stored: the forward widens them where it reads them */
            dtype = buffer.dtype;
            out = buffer.data;
            buffer.data = NULL;
        } else {
            const uint16_t *bits = buffer.data;
            SQ_TRY(sq_alloc(&out, (size_t)numel, sizeof *out, name));
            for (int64_t i = 0; i < numel; i++)
                out[i] = buffer.dtype == SQ_DTYPE_F16 ? sq_f16_to_f32(bits[i]) : sq_bf16_to_f32(bits[i]);
        }
        values = out;
    }
    st = sq_tensor_set_add(set, name, dtype, qt.ndim, qt.shape, values, NULL);
    if (st == SQ_OK)
        values = NULL;
cleanup:
    H5Dclose(dataset);
    free(values);
    free(buffer.data);
    sq_qtensor_free(&qt);
    return st;
}

/* A quantized tensor: rebuilt as an sq_qtensor and dequantized by its format. */
/* Quantized tensors kept packed by sq_model_file_read_packed. */
typedef struct {
    sq_qtensor *tensors;
    size_t count, capacity;
} packed_list;

static sq_status read_quantized(hid_t tensors, const char *name, sq_tensor_set *set, uint64_t *bytes,
                                packed_list *keep)
{
    sq_status st = SQ_OK;
    sq_qtensor qt;
    name_list buffers = {0};
    hid_t group = H5Gopen2(tensors, name, H5P_DEFAULT);
    const sq_quant_format *format;
    float *values = NULL;
    memset(&qt, 0, sizeof qt);
    if (group < 0)
        return sq_fail(SQ_ERR_INPUT, "cannot open tensor group '%s' in /model/tensors", name);
    SQ_TRY(read_header(group, name, &qt));
    format = sq_quant_format_find(qt.format);
    if (format == NULL || format->dequantize == NULL) {
        char known[512] = "";
        const sq_quant_format *const *all = sq_quant_format_all();
        for (int i = 0; all && all[i]; i++) {
            strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
            strncat(known, all[i]->name, sizeof known - strlen(known) - 1);
        }
        SQ_FAIL(SQ_ERR_INPUT,
                "tensor '%s' is stored in format '%s', which this squeeze does not know (formats: %s); "
                "was the file written by a newer squeeze?",
                name, qt.format, known);
    }
    SQ_TRY(read_scalar_attrs(group, name, &qt));
    SQ_TRY(list_links(group, name, &buffers));
    if (buffers.count == 0 || buffers.count > SQ_QT_MAX_BUFFERS)
        SQ_FAIL(SQ_ERR_INPUT, "quantized tensor '%s' has %zu buffers (1 to %d expected)", name, buffers.count,
                SQ_QT_MAX_BUFFERS);
    for (size_t i = 0; i < buffers.count; i++) {
        SQ_TRY(read_buffer(group, buffers.names[i], name, &qt.buffers[qt.buffer_count], bytes));
        qt.buffer_count++;
    }
    if (keep) { /* packed as stored; the set gets the name and shape with no data */
        SQ_TRY(sq_grow(&keep->tensors, &keep->capacity, keep->count + 1, sizeof *keep->tensors, 32,
                       "the packed tensors"));
        SQ_TRY(sq_tensor_set_add(set, name, SQ_DTYPE_F32, qt.ndim, qt.shape, NULL, NULL));
        keep->tensors[keep->count++] = qt;
        memset(&qt, 0, sizeof qt);
        goto cleanup;
    }
    SQ_TRY(sq_alloc(&values, (size_t)sq_qtensor_numel(&qt), sizeof *values, name));
    st = format->dequantize(&qt, values);
    if (st != SQ_OK) {
        sq_error_context("dequantizing tensor '%s' (%s)", name, qt.format);
        goto cleanup;
    }
    SQ_TRY(sq_tensor_set_add(set, name, SQ_DTYPE_F32, qt.ndim, qt.shape, values, NULL));
    values = NULL;
cleanup:
    H5Gclose(group);
    free(values);
    name_list_free(&buffers);
    sq_qtensor_free(&qt);
    return st;
}

/* The declared alias of `name` in the aliases attribute ("a=b\n..."), or NULL. */
static const char *declared_alias(const char *aliases, const char *name, char *target, size_t size)
{
    size_t len = strlen(name);
    for (const char *line = aliases; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t line_len = end ? (size_t)(end - line) : strlen(line);
        if (line_len > len && strncmp(line, name, len) == 0 && line[len] == '=') {
            snprintf(target, size, "%.*s", (int)(line_len - len - 1), line + len + 1);
            return target;
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

/* The /model group of a file as both readers see it: its config parsed and
 * checked against the family it names, its tensor links listed and counted. */
typedef struct {
    char file_name[4096];
    hid_t model, tensors;
    char *family, *config_json, *aliases;
    name_list names;
} stored_model;

static void stored_model_close(stored_model *m)
{
    if (m->tensors >= 0)
        H5Gclose(m->tensors);
    if (m->model >= 0)
        H5Gclose(m->model);
    free(m->family);
    free(m->config_json);
    free(m->aliases);
    name_list_free(&m->names);
}

/* On failure the caller still closes m. */
static sq_status stored_model_open(hid_t file, sq_model_config *cfg, stored_model *m)
{
    sq_status st = SQ_OK;
    int64_t tensor_count = -1;

    memset(m, 0, sizeof *m);
    m->model = m->tensors = -1;
    if (H5Fget_name(file, m->file_name, sizeof m->file_name) < 0)
        snprintf(m->file_name, sizeof m->file_name, "the model file");
    if (!sq_h5_exists(file, "model") || !sq_h5_exists(file, "model/tensors"))
        SQ_FAIL(SQ_ERR_INPUT, "%s has no /model/tensors group: it holds no model (is it a calibration or "
                "evaluation artifact?)", m->file_name);
    m->model = H5Gopen2(file, "model", H5P_DEFAULT);
    m->tensors = m->model >= 0 ? H5Gopen2(m->model, "tensors", H5P_DEFAULT) : -1;
    if (m->model < 0 || m->tensors < 0)
        SQ_FAIL(SQ_ERR_INPUT, "cannot open /model/tensors in %s", m->file_name);
    SQ_TRY(sq_h5_read_attr_string(m->model, "family", &m->family));
    SQ_TRY(sq_h5_read_attr_string(m->model, "config_json", &m->config_json));
    SQ_TRY(sq_h5_read_attr_int(m->model, "tensor_count", &tensor_count));
    SQ_TRY(sq_h5_read_attr_string(m->model, "aliases", &m->aliases));
    SQ_TRY(sq_model_config_from_json(m->config_json, cfg));
    if (strcmp(m->family, cfg->family) != 0)
        SQ_FAIL(SQ_ERR_INPUT, "%s: /model says family '%s' but its config_json says '%s'", m->file_name, m->family,
                cfg->family);
    SQ_TRY(list_links(m->tensors, "/model/tensors", &m->names));
    if ((int64_t)m->names.count != tensor_count)
        SQ_FAIL(SQ_ERR_INPUT, "%s: /model/tensors holds %zu tensors but tensor_count says %lld (file damaged?)",
                m->file_name, m->names.count, (long long)tensor_count);
cleanup:
    return st;
}

static sq_status read_model(hid_t file, sq_model_config *cfg, sq_tensor_set *set, uint64_t *stored_bytes,
                            packed_list *keep);

sq_status sq_model_file_read(hid_t file, sq_model_config *cfg, sq_tensor_set *set, uint64_t *stored_bytes)
{
    return read_model(file, cfg, set, stored_bytes, NULL);
}

sq_status sq_model_file_read_packed(hid_t file, sq_model_config *cfg, sq_tensor_set *set, uint64_t *stored_bytes,
                                    sq_qtensor **packed, size_t *packed_count)
{
    packed_list keep = {0};
    sq_status st = read_model(file, cfg, set, stored_bytes, &keep);
    if (st != SQ_OK) {
        for (size_t i = 0; i < keep.count; i++)
            sq_qtensor_free(&keep.tensors[i]);
        free(keep.tensors);
        keep.tensors = NULL;
        keep.count = 0;
    }
    *packed = keep.tensors;
    *packed_count = keep.count;
    return st;
}

static sq_status read_model(hid_t file, sq_model_config *cfg, sq_tensor_set *set, uint64_t *stored_bytes,
                            packed_list *keep)
{
    sq_status st = SQ_OK;
    stored_model m;
    object_id *ids = NULL;
    uint64_t bytes = 0;

    sq_tensor_set_init(set);
    SQ_TRY(stored_model_open(file, cfg, &m));
    set->source_path = strdup(m.file_name);
    set->source_format = strdup("squeeze-hdf5");
    SQ_TRY(sq_alloc(&ids, m.names.count, sizeof *ids, "object ids"));

    for (size_t i = 0; i < m.names.count; i++) {
        const char *name = m.names.names[i];
        char target[1024];
        const char *declared = declared_alias(m.aliases, name, target, sizeof target);
        const char *owner = NULL;
        H5O_type_t type = H5O_TYPE_UNKNOWN;
        SQ_TRY(object_info(m.tensors, name, &ids[i], &type));
        /* A second name for an object already read is shared storage: an alias. */
        for (size_t j = 0; j < i && !owner; j++)
            if (memcmp(&ids[j], &ids[i], sizeof ids[i]) == 0 && !sq_tensor_set_find(set, m.names.names[j])->alias_of)
                owner = m.names.names[j];
        if (declared && (owner == NULL || strcmp(declared, owner) != 0))
            SQ_FAIL(SQ_ERR_INPUT, "%s: tensor '%s' is declared an alias of '%s' but is not a link to it", m.file_name,
                    name, declared);
        if (owner) {
            const sq_tensor *shared = sq_tensor_set_find(set, owner);
            SQ_TRY(sq_tensor_set_add(set, name, shared->dtype, shared->ndim, shared->shape, NULL, owner));
            continue;
        }
        if (type == H5O_TYPE_DATASET)
            st = read_plain(m.tensors, name, set, &bytes, keep != NULL);
        else if (type == H5O_TYPE_GROUP)
            st = read_quantized(m.tensors, name, set, &bytes, keep);
        else
            st = sq_fail(SQ_ERR_INPUT, "tensor '%s' is neither a dataset nor a group", name);
        if (st != SQ_OK) {
            sq_error_context("%s", m.file_name);
            goto cleanup;
        }
    }
    if (stored_bytes)
        *stored_bytes = bytes;
cleanup:
    stored_model_close(&m);
    free(ids);
    if (st != SQ_OK)
        sq_tensor_set_free(set);
    return st;
}

/* ------------------------------------------------------------------ baseline */

sq_status sq_model_baseline_qtensors(const sq_tensor_set *set, sq_qtensor **tensors_out, size_t *count_out)
{
    sq_status st = SQ_OK;
    sq_qtensor *tensors = NULL;
    size_t count = 0;
    float *values = NULL;

    *tensors_out = NULL;
    *count_out = 0;
    SQ_TRY(sq_alloc(&tensors, set->count ? set->count : 1, sizeof *tensors, "baseline tensors"));
    for (size_t i = 0; i < set->count; i++) {
        const sq_tensor *t = &set->tensors[i];
        sq_qtensor *qt = &tensors[count];
        void *data = NULL;
        int raw = !is_float_dtype(t->dtype);
        sq_qtensor_init(qt, t->name, raw ? "raw" : "fp32", t->dtype, t->ndim, t->shape);
        count++;
        if (t->alias_of) {
            qt->alias_of = strdup(t->alias_of);
            if (qt->alias_of == NULL)
                SQ_FAIL(SQ_ERR_RUN, "out of memory");
            continue;
        }
        if (t->data == NULL && sq_tensor_numel(t) > 0)
            SQ_FAIL(SQ_ERR_INPUT, "tensor '%s' has no data", t->name);
        if (raw) {
            /* Integer and bool tensors (step counters, masks) keep their dtype and
             * every bit: they are state, not weights. */
            SQ_TRY(sq_qtensor_add_buffer(qt, "data", t->dtype, t->ndim, t->shape, &data));
            if (t->nbytes)
                memcpy(data, t->data, t->nbytes);
        } else {
            SQ_TRY(sq_tensor_to_f32(set, t, &values));
            SQ_TRY(sq_qtensor_add_buffer(qt, "data", SQ_DTYPE_F32, t->ndim, t->shape, &data));
            memcpy(data, values, (size_t)sq_tensor_numel(t) * sizeof(float));
            free(values);
            values = NULL;
        }
    }
    *tensors_out = tensors;
    *count_out = count;
    tensors = NULL;
cleanup:
    free(values);
    if (tensors) {
        for (size_t i = 0; i < count; i++)
            sq_qtensor_free(&tensors[i]);
        free(tensors);
    }
    return st;
}

/* ------------------------------------------------------------ stored form */

/* One tensor as stored: a dataset becomes a qtensor with its one buffer
 * "data" (format fp32/fp16/bf16/raw), a group its buffers and scalar attrs. */
static sq_status read_stored_one(hid_t tensors, const char *name, sq_qtensor *qt)
{
    sq_status st = SQ_OK;
    uint64_t bytes = 0;
    name_list buffers = {0};
    H5O_type_t type = H5O_TYPE_UNKNOWN;
    hid_t object = -1;
    SQ_TRY(object_info(tensors, name, NULL, &type));
    if (type == H5O_TYPE_DATASET) {
        if ((object = H5Dopen2(tensors, name, H5P_DEFAULT)) < 0)
            return sq_fail(SQ_ERR_INPUT, "cannot open tensor '%s'", name);
        SQ_TRY(read_header(object, name, qt));
        SQ_TRY(read_buffer(tensors, name, name, &qt->buffers[0], &bytes));
        snprintf(qt->buffers[0].name, sizeof qt->buffers[0].name, "data");
        qt->buffer_count = 1;
        H5Dclose(object);
        object = -1;
        return SQ_OK;
    }
    if (type != H5O_TYPE_GROUP)
        return sq_fail(SQ_ERR_INPUT, "tensor '%s' is neither a dataset nor a group", name);
    if ((object = H5Gopen2(tensors, name, H5P_DEFAULT)) < 0)
        return sq_fail(SQ_ERR_INPUT, "cannot open tensor group '%s'", name);
    SQ_TRY(read_header(object, name, qt));
    SQ_TRY(read_scalar_attrs(object, name, qt));
    SQ_TRY(list_links(object, name, &buffers));
    if (buffers.count == 0 || buffers.count > SQ_QT_MAX_BUFFERS)
        SQ_FAIL(SQ_ERR_INPUT, "quantized tensor '%s' has %zu buffers (1 to %d expected)", name, buffers.count,
                SQ_QT_MAX_BUFFERS);
    for (size_t i = 0; i < buffers.count; i++) {
        SQ_TRY(read_buffer(object, buffers.names[i], name, &qt->buffers[qt->buffer_count], &bytes));
        qt->buffer_count++;
    }
cleanup:
    if (object >= 0)
        type == H5O_TYPE_DATASET ? H5Dclose(object) : H5Gclose(object);
    name_list_free(&buffers);
    return st;
}

sq_status sq_model_file_read_stored(hid_t file, sq_model_config *cfg, sq_qtensor **tensors_out, size_t *count_out)
{
    sq_status st = SQ_OK;
    stored_model m;
    sq_qtensor *out = NULL;
    size_t count = 0;

    *tensors_out = NULL;
    *count_out = 0;
    SQ_TRY(stored_model_open(file, cfg, &m));
    SQ_TRY(sq_alloc(&out, m.names.count ? m.names.count : 1, sizeof *out, "stored tensors"));
    for (size_t i = 0; i < m.names.count; i++) {
        char target[1024];
        const char *declared = declared_alias(m.aliases, m.names.names[i], target, sizeof target);
        sq_qtensor *qt = &out[count++];
        memset(qt, 0, sizeof *qt);
        if (declared) {
            int64_t shape[1] = {0};
            sq_qtensor_init(qt, m.names.names[i], "alias", SQ_DTYPE_F32, 1, shape);
            if ((qt->alias_of = strdup(declared)) == NULL)
                SQ_FAIL(SQ_ERR_RUN, "out of memory");
            continue;
        }
        SQ_TRY(read_stored_one(m.tensors, m.names.names[i], qt));
    }
    /* An alias takes the shape of the tensor it shares storage with. */
    for (size_t i = 0; i < count; i++) {
        if (!out[i].alias_of)
            continue;
        for (size_t j = 0; j < count; j++)
            if (!out[j].alias_of && strcmp(out[j].name, out[i].alias_of) == 0) {
                out[i].ndim = out[j].ndim;
                memcpy(out[i].shape, out[j].shape, sizeof out[i].shape);
                memcpy(out[i].format, out[j].format, sizeof out[i].format);
                out[i].original_dtype = out[j].original_dtype;
            }
    }
    *tensors_out = out;
    *count_out = count;
    out = NULL;
cleanup:
    stored_model_close(&m);
    if (out) {
        for (size_t i = 0; i < count; i++)
            sq_qtensor_free(&out[i]);
        free(out);
    }
    return st;
}
