/* artifact.c - atomic HDF5 artifact files with the common root attributes. */
#include "artifact/artifact.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/hash.h"

#ifndef SQUEEZE_VERSION
#define SQUEEZE_VERSION "0.1.0"
#endif

const char *sq_version(void) { return SQUEEZE_VERSION; }

static void silence_hdf5(void)
{
    /* HDF5 prints its own error stack; squeeze reports errors itself. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void sq_h5_library_setup(void)
{
    H5dont_atexit();
    silence_hdf5();
}

void sq_h5_close(hid_t id)
{
    if (id < 0)
        return;
    switch (H5Iget_type(id)) {
    case H5I_FILE: H5Fclose(id); break;
    case H5I_GROUP: H5Gclose(id); break;
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_ATTR: H5Aclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_GENPROP_LST: H5Pclose(id); break;
    default: break; /* not an identifier squeeze opens */
    }
}

hid_t sq_h5_f16_type(void)
{
    static hid_t type = -1;
    if (type < 0) {
        type = H5Tcopy(H5T_IEEE_F32LE);
        H5Tset_fields(type, 15, 10, 5, 0, 10);
        H5Tset_size(type, 2);
        H5Tset_ebias(type, 15);
    }
    return type;
}

hid_t sq_h5_string_type(size_t size, H5T_cset_t cset)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, size);
    H5Tset_strpad(type, H5T_STR_NULLTERM);
    H5Tset_cset(type, cset);
    return type;
}

/* One attribute, replaced if there: scalar when count < 0, else 1-D of count values. */
static sq_status write_attr(hid_t object, const char *name, hid_t file_type, hid_t mem_type, int count,
                            const void *values)
{
    sq_status st = SQ_OK;
    hsize_t dims[1] = {(hsize_t)count};
    hid_t space = count < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
    hid_t attr;
    if (H5Aexists(object, name) > 0)
        H5Adelete(object, name);
    attr = H5Acreate2(object, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0 || H5Awrite(attr, mem_type, values) < 0)
        st = sq_fail(SQ_ERR_RUN, "cannot write HDF5 attribute '%s'", name);
    sq_h5_close(attr);
    sq_h5_close(space);
    return st;
}

sq_status sq_h5_write_attr_string(hid_t object, const char *name, const char *value)
{
    hid_t type = sq_h5_string_type(strlen(value) + 1, H5T_CSET_UTF8);
    sq_status st = write_attr(object, name, type, type, -1, value);
    sq_h5_close(type);
    return st;
}

sq_status sq_h5_write_attr_int(hid_t object, const char *name, int64_t value)
{
    return write_attr(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, -1, &value);
}

sq_status sq_h5_write_attr_double(hid_t object, const char *name, double value)
{
    return write_attr(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, -1, &value);
}

sq_status sq_h5_write_attr_ints(hid_t object, const char *name, const int64_t *values, int count)
{
    static const int64_t none = 0;
    /* HDF5 refuses zero-sized simple dataspaces for attributes in 1.10; store an
     * empty list as a one-element list with a sibling count attribute. */
    if (count == 0) {
        char count_name[256];
        snprintf(count_name, sizeof count_name, "%s_count", name);
        sq_status st = write_attr(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &none);
        return st == SQ_OK ? sq_h5_write_attr_int(object, count_name, 0) : st;
    }
    return write_attr(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, count, values);
}

int sq_h5_has_attr(hid_t object, const char *name) { return H5Aexists(object, name) > 0; }

sq_status sq_h5_read_attr_string(hid_t object, const char *name, char **value)
{
    sq_status st = SQ_OK;
    hid_t attr = -1, type = -1, mem = -1, space = -1;
    bool variable;
    size_t size;
    *value = NULL;
    if (H5Aexists(object, name) <= 0)
        return sq_fail(SQ_ERR_INPUT, "HDF5 attribute '%s' is missing", name);
    attr = H5Aopen(object, name, H5P_DEFAULT);
    type = H5Aget_type(attr);
    if (H5Tget_class(type) != H5T_STRING)
        SQ_FAIL(SQ_ERR_INPUT, "HDF5 attribute '%s' is not a string", name);
    /* H5Aread fills one string per point: a hostile file may give the attribute many */
    space = H5Aget_space(attr);
    if (space < 0 || H5Sget_simple_extent_npoints(space) != 1)
        SQ_FAIL(SQ_ERR_INPUT, "HDF5 attribute '%s' holds %lld strings, expected one", name,
                space < 0 ? -1LL : (long long)H5Sget_simple_extent_npoints(space));
    variable = H5Tis_variable_str(type) > 0;
    size = variable ? H5T_VARIABLE : H5Tget_size(type);
    mem = sq_h5_string_type(size, H5Tget_cset(type));
    if (variable) {
        char *vl = NULL;
        if (H5Aread(attr, mem, &vl) < 0)
            SQ_FAIL(SQ_ERR_INPUT, "cannot read HDF5 attribute '%s'", name);
        *value = strdup(vl ? vl : "");
        H5free_memory(vl);
    } else {
        SQ_TRY(sq_alloc(value, size + 1, 1, name));
        if (H5Aread(attr, mem, *value) < 0)
            SQ_FAIL(SQ_ERR_INPUT, "cannot read HDF5 attribute '%s'", name);
        (*value)[size] = '\0';
    }
cleanup:
    sq_h5_close(space);
    sq_h5_close(mem);
    sq_h5_close(type);
    sq_h5_close(attr);
    if (st != SQ_OK) {
        free(*value);
        *value = NULL;
    }
    return st;
}

sq_status sq_h5_read_attr_text(hid_t object, const char *name, char *out, size_t size)
{
    char *value = NULL;
    sq_status st = sq_h5_read_attr_string(object, name, &value);
    snprintf(out, size, "%s", st == SQ_OK ? value : "");
    free(value);
    return st;
}

static sq_status read_attr(hid_t object, const char *name, hid_t mem_type, void *values, int max_count,
                           int *count)
{
    sq_status st = SQ_OK;
    hid_t attr, space;
    hssize_t points;
    if (H5Aexists(object, name) <= 0)
        return sq_fail(SQ_ERR_INPUT, "HDF5 attribute '%s' is missing", name);
    attr = H5Aopen(object, name, H5P_DEFAULT);
    space = H5Aget_space(attr);
    points = H5Sget_simple_extent_npoints(space);
    if (points < 0 || points > max_count)
        st = sq_fail(SQ_ERR_INPUT, "HDF5 attribute '%s' has %lld values, expected at most %d", name,
                     (long long)points, max_count);
    else if (H5Aread(attr, mem_type, values) < 0)
        st = sq_fail(SQ_ERR_INPUT, "cannot read HDF5 attribute '%s'", name);
    if (count)
        *count = (int)points;
    sq_h5_close(space);
    sq_h5_close(attr);
    return st;
}

sq_status sq_h5_read_attr_int(hid_t object, const char *name, int64_t *value)
{
    return read_attr(object, name, H5T_NATIVE_INT64, value, 1, NULL);
}

sq_status sq_h5_read_attr_double(hid_t object, const char *name, double *value)
{
    return read_attr(object, name, H5T_NATIVE_DOUBLE, value, 1, NULL);
}

sq_status sq_h5_read_attr_ints(hid_t object, const char *name, int64_t *values, int max_count, int *count)
{
    char count_name[256];
    int64_t stored = -1;
    sq_status st = read_attr(object, name, H5T_NATIVE_INT64, values, max_count, count);
    snprintf(count_name, sizeof count_name, "%s_count", name);
    if (st == SQ_OK && H5Aexists(object, count_name) > 0 && (st = sq_h5_read_attr_int(object, count_name, &stored)) == SQ_OK) {
        /* the count says how many of the values are used: never more than were read */
        if (stored < 0 || stored > *count)
            st = sq_fail(SQ_ERR_INPUT, "HDF5 attribute '%s' is %lld but '%s' holds %d values", count_name,
                         (long long)stored, name, *count);
        else
            *count = (int)stored;
    }
    return st;
}

int sq_h5_exists(hid_t parent, const char *name) { return H5Lexists(parent, name, H5P_DEFAULT) > 0; }

/* Link creation that makes the missing groups of a path such as "a/b/c". */
static hid_t with_intermediate_groups(void)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    return lcpl;
}

sq_status sq_h5_group(hid_t parent, const char *name, hid_t *group)
{
    if (sq_h5_exists(parent, name)) {
        *group = H5Gopen2(parent, name, H5P_DEFAULT);
    } else {
        hid_t lcpl = with_intermediate_groups();
        *group = H5Gcreate2(parent, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        sq_h5_close(lcpl);
    }
    if (*group < 0)
        return sq_fail(SQ_ERR_RUN, "cannot create or open HDF5 group '%s'", name);
    return SQ_OK;
}

static hid_t file_type_for(hid_t native_type)
{
    if (H5Tequal(native_type, H5T_NATIVE_FLOAT) > 0) return H5T_IEEE_F32LE;
    if (H5Tequal(native_type, H5T_NATIVE_DOUBLE) > 0) return H5T_IEEE_F64LE;
    if (H5Tequal(native_type, H5T_NATIVE_INT8) > 0) return H5T_STD_I8LE;
    if (H5Tequal(native_type, H5T_NATIVE_UINT8) > 0) return H5T_STD_U8LE;
    if (H5Tequal(native_type, H5T_NATIVE_INT16) > 0) return H5T_STD_I16LE;
    if (H5Tequal(native_type, H5T_NATIVE_UINT16) > 0) return H5T_STD_U16LE;
    if (H5Tequal(native_type, H5T_NATIVE_INT32) > 0) return H5T_STD_I32LE;
    if (H5Tequal(native_type, H5T_NATIVE_UINT32) > 0) return H5T_STD_U32LE;
    if (H5Tequal(native_type, H5T_NATIVE_INT64) > 0) return H5T_STD_I64LE;
    if (H5Tequal(native_type, H5T_NATIVE_UINT64) > 0) return H5T_STD_U64LE;
    return native_type; /* e.g. the f16 type: stored as given */
}

sq_status sq_h5_write_dataset(hid_t parent, const char *name, hid_t native_type, int ndim, const uint64_t *dims,
                              const void *data)
{
    sq_status st = SQ_OK;
    hsize_t hdims[8];
    hid_t space, dataset, lcpl;
    int empty = 0;
    for (int i = 0; i < ndim && i < 8; i++) {
        hdims[i] = dims[i];
        empty |= dims[i] == 0;
    }
    space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, hdims, NULL);
    lcpl = with_intermediate_groups();
    dataset = H5Dcreate2(parent, name, file_type_for(native_type), space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (dataset < 0)
        st = sq_fail(SQ_ERR_RUN, "cannot create HDF5 dataset '%s'", name);
    else if (!empty && data != NULL && H5Dwrite(dataset, native_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        st = sq_fail(SQ_ERR_RUN, "cannot write HDF5 dataset '%s'", name);
    sq_h5_close(dataset);
    sq_h5_close(lcpl);
    sq_h5_close(space);
    return st;
}

sq_status sq_h5_write_strings(hid_t parent, const char *name, const char *const *values, size_t count)
{
    sq_status st = SQ_OK;
    size_t width = 1;
    char *packed = NULL;
    hsize_t dims[1] = {count};
    hid_t type = -1, space = -1, dataset = -1;
    for (size_t i = 0; i < count; i++)
        if (values[i] && strlen(values[i]) + 1 > width)
            width = strlen(values[i]) + 1;
    SQ_TRY(sq_alloc(&packed, count ? count : 1, width, name));
    for (size_t i = 0; i < count; i++)
        if (values[i])
            memcpy(packed + i * width, values[i], strlen(values[i]));
    type = sq_h5_string_type(width, H5T_CSET_UTF8);
    space = H5Screate_simple(1, dims, NULL);
    dataset = H5Dcreate2(parent, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dataset < 0 || (count > 0 && H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, packed) < 0))
        SQ_FAIL(SQ_ERR_RUN, "cannot write HDF5 dataset '%s'", name);
cleanup:
    sq_h5_close(dataset);
    sq_h5_close(space);
    sq_h5_close(type);
    free(packed);
    return st;
}

/* The file's bytes bound what a dataset may declare: squeeze writes datasets
 * uncompressed, and even a compressed HDF5 dataset rarely packs more than this
 * many bytes per stored byte.  Without the check a 2 KB file can declare a
 * chunked dataset of 2^40 elements that HDF5 reads back as fill values. */
#define SQ_H5_MAX_INFLATION 16
#define SQ_H5_EXTENT_SLACK ((uint64_t)1 << 20)

sq_status sq_h5_check_extent(hid_t dataset, const char *name, uint64_t count)
{
    hid_t file = H5Iget_file_id(dataset), type = H5Dget_type(dataset);
    hsize_t file_bytes = 0;
    size_t element = type >= 0 ? H5Tget_size(type) : 0;
    uint64_t bytes, limit;
    if (file >= 0)
        H5Fget_filesize(file, &file_bytes);
    sq_h5_close(file);
    sq_h5_close(type);
    limit = (uint64_t)file_bytes * SQ_H5_MAX_INFLATION + SQ_H5_EXTENT_SLACK;
    if (__builtin_mul_overflow(count, (uint64_t)(element ? element : 1), &bytes) || bytes > limit)
        return sq_fail(SQ_ERR_INPUT,
                       "HDF5 dataset '%s' declares %llu elements of %zu bytes, more than its file of %llu bytes can "
                       "hold; the file is damaged or hostile",
                       name, (unsigned long long)count, element, (unsigned long long)file_bytes);
    return SQ_OK;
}

/* parent/name opened, with its rank (at most 8), dimensions and element count. */
static sq_status open_dataset(hid_t parent, const char *name, hid_t *dataset, int *rank, hsize_t dims[8],
                              size_t *count)
{
    sq_status st = SQ_OK;
    hid_t space = -1;
    *dataset = -1;
    *count = 1;
    if (!sq_h5_exists(parent, name))
        return sq_fail(SQ_ERR_INPUT, "HDF5 dataset '%s' is missing", name);
    *dataset = H5Dopen2(parent, name, H5P_DEFAULT);
    if (*dataset < 0)
        SQ_FAIL(SQ_ERR_INPUT, "cannot open HDF5 dataset '%s'", name);
    space = H5Dget_space(*dataset);
    *rank = H5Sget_simple_extent_ndims(space);
    if (*rank < 0 || *rank > 8)
        SQ_FAIL(SQ_ERR_INPUT, "HDF5 dataset '%s' has an unsupported rank", name);
    H5Sget_simple_extent_dims(space, dims, NULL);
    for (int i = 0; i < *rank; i++)
        if (__builtin_mul_overflow(*count, (size_t)dims[i], count))
            SQ_FAIL(SQ_ERR_INPUT, "HDF5 dataset '%s': its dimensions overflow", name);
cleanup:
    sq_h5_close(space);
    return st;
}

/* All count elements of a dataset, as mem_type, into a malloc'd buffer (which
 * is NULL on failure); the extent is checked against the file first. */
static sq_status read_whole(hid_t dataset, const char *name, hid_t mem_type, size_t count, void **data)
{
    sq_status st = SQ_OK;
    *data = NULL;
    SQ_TRY(sq_h5_check_extent(dataset, name, count));
    SQ_TRY(sq_alloc(data, count, H5Tget_size(mem_type), name));
    if (count > 0 && H5Dread(dataset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0)
        SQ_FAIL(SQ_ERR_INPUT, "cannot read HDF5 dataset '%s'", name);
cleanup:
    if (st != SQ_OK) {
        free(*data);
        *data = NULL;
    }
    return st;
}

sq_status sq_h5_read_dataset(hid_t parent, const char *name, hid_t native_type, void **data, int *ndim,
                             uint64_t *dims)
{
    sq_status st = SQ_OK;
    hid_t dataset = -1;
    hsize_t hdims[8] = {0};
    int rank = 0;
    size_t count;
    *data = NULL;
    SQ_TRY(open_dataset(parent, name, &dataset, &rank, hdims, &count));
    for (int i = 0; dims && i < rank; i++)
        dims[i] = hdims[i];
    if (ndim)
        *ndim = rank;
    SQ_TRY(read_whole(dataset, name, native_type, count, data));
cleanup:
    sq_h5_close(dataset);
    return st;
}

sq_status sq_h5_dataset_shape(hid_t parent, const char *name, int *ndim, uint64_t dims[8])
{
    sq_status st = SQ_OK;
    hid_t dataset = -1;
    hsize_t hdims[8] = {0};
    size_t count;
    SQ_TRY(open_dataset(parent, name, &dataset, ndim, hdims, &count));
    for (int i = 0; i < *ndim; i++)
        dims[i] = hdims[i];
cleanup:
    sq_h5_close(dataset);
    return st;
}

sq_status sq_h5_read_rows(hid_t parent, const char *name, hid_t native_type, int64_t first, int64_t count,
                          uint64_t row_length, void **data)
{
    sq_status st = SQ_OK;
    hid_t dataset = -1, space = -1, memspace = -1;
    hsize_t dims[8] = {0}, start[2] = {(hsize_t)first, 0}, block[2] = {(hsize_t)count, (hsize_t)row_length};
    int rank = 0;
    size_t elements;
    void *rows = NULL;
    *data = NULL;
    SQ_TRY(open_dataset(parent, name, &dataset, &rank, dims, &elements));
    if (rank != 2 || dims[1] != row_length || first < 0 || count < 0 || (uint64_t)first + (uint64_t)count > dims[0])
        SQ_FAIL(SQ_ERR_INPUT, "HDF5 dataset '%s' has no rows %lld..%lld of %llu values", name, (long long)first,
                (long long)(first + count - 1), (unsigned long long)row_length);
    SQ_TRY(sq_alloc(&rows, (size_t)count * (size_t)row_length, H5Tget_size(native_type), name));
    space = H5Dget_space(dataset);
    memspace = H5Screate_simple(2, block, NULL);
    if (count > 0 && row_length > 0 &&
        (H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, block, NULL) < 0 ||
         H5Dread(dataset, native_type, memspace, space, H5P_DEFAULT, rows) < 0))
        SQ_FAIL(SQ_ERR_INPUT, "cannot read rows %lld..%lld of HDF5 dataset '%s'", (long long)first,
                (long long)(first + count - 1), name);
    *data = rows; /* the caller's from here */
    rows = NULL;
cleanup:
    sq_h5_close(memspace);
    sq_h5_close(space);
    sq_h5_close(dataset);
    free(rows);
    return st;
}

sq_status sq_h5_read_strings(hid_t parent, const char *name, char **packed, size_t *width, size_t *rows)
{
    sq_status st = SQ_OK;
    hid_t dataset = -1, type = -1, mem = -1;
    hsize_t dims[8] = {0};
    int rank = 0;
    size_t count;
    *packed = NULL;
    SQ_TRY(open_dataset(parent, name, &dataset, &rank, dims, &count));
    type = H5Dget_type(dataset);
    if (H5Tget_class(type) != H5T_STRING || H5Tis_variable_str(type) > 0 || rank != 1)
        SQ_FAIL(SQ_ERR_INPUT, "dataset '%s' is not a 1-D fixed-length string column", name);
    /* One byte more than stored per row, so every row ends with a terminator
     * even when the writer padded with nulls only up to its width. */
    *width = H5Tget_size(type) + 1;
    *rows = count;
    mem = sq_h5_string_type(*width, H5Tget_cset(type));
    SQ_TRY(read_whole(dataset, name, mem, count, (void **)packed));
cleanup:
    sq_h5_close(mem);
    sq_h5_close(type);
    sq_h5_close(dataset);
    return st;
}

/* The root attributes every artifact carries (DESIGN.md), on a new file. */
static sq_status write_root_attributes(hid_t file, const sq_artifact_meta *meta)
{
    sq_status st = SQ_OK;
    char stamp[64], host[256] = "unknown";
    char *inputs = NULL;
    size_t inputs_size = 1;
    time_t now = time(NULL);
    struct tm utc;

    gmtime_r(&now, &utc);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
    gethostname(host, sizeof host - 1);

    /* inputs: one "path sha256" line per input artifact */
    for (int i = 0; i < meta->input_count; i++)
        inputs_size += strlen(meta->inputs[i]) + SQ_SHA256_HEX + 2;
    SQ_TRY(sq_alloc(&inputs, inputs_size, 1, "inputs attribute"));
    for (int i = 0; i < meta->input_count; i++) {
        char digest[SQ_SHA256_HEX];
        SQ_TRY(sq_sha256_file(meta->inputs[i], digest));
        strcat(inputs, meta->inputs[i]);
        strcat(inputs, " ");
        strcat(inputs, digest);
        strcat(inputs, "\n");
    }
    SQ_TRY(sq_h5_write_attr_string(file, "squeeze_artifact", meta->kind));
    SQ_TRY(sq_h5_write_attr_int(file, "schema_version", SQ_SCHEMA_VERSION));
    SQ_TRY(sq_h5_write_attr_string(file, "created_utc", stamp));
    SQ_TRY(sq_h5_write_attr_string(file, "squeeze_version", sq_version()));
    SQ_TRY(sq_h5_write_attr_string(file, "config_sha256", meta->config_sha256 ? meta->config_sha256 : ""));
    SQ_TRY(sq_h5_write_attr_string(file, "plan_key", meta->plan_key ? meta->plan_key : ""));
    SQ_TRY(sq_h5_write_attr_string(file, "inputs", inputs));
    SQ_TRY(sq_h5_write_attr_int(file, "mpi_ranks", meta->mpi_ranks > 0 ? meta->mpi_ranks : 1));
    SQ_TRY(sq_h5_write_attr_string(file, "host", host));
cleanup:
    free(inputs);
    return st;
}

sq_status sq_artifact_create(sq_artifact_writer *writer, const char *path, const sq_artifact_meta *meta)
{
    sq_status st = SQ_OK;
    silence_hdf5();
    memset(writer, 0, sizeof *writer);
    writer->file = -1;
    writer->final_path = strdup(path);
    SQ_TRY(sq_alloc(&writer->temp_path, strlen(path) + 32, 1, "temporary path"));
    snprintf(writer->temp_path, strlen(path) + 32, "%s.tmp.%ld", path, (long)getpid());
    writer->file = H5Fcreate(writer->temp_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (writer->file < 0)
        SQ_FAIL(SQ_ERR_RUN, "cannot create %s (is the folder there and writable?)", writer->temp_path);
    SQ_TRY(write_root_attributes(writer->file, meta));
cleanup:
    if (st != SQ_OK)
        sq_artifact_abort(writer);
    return st;
}

sq_status sq_artifact_commit(sq_artifact_writer *writer)
{
    sq_status st = SQ_OK;
    if (writer->file < 0)
        return sq_fail(SQ_ERR_RUN, "artifact %s was not open", writer->final_path ? writer->final_path : "?");
    /* Closed even when the flush failed (a full disk): a file left open is closed again
     * by HDF5's exit handler, whose second failing flush crashed the process. */
    herr_t flushed = H5Fflush(writer->file, H5F_SCOPE_GLOBAL);
    herr_t closed = H5Fclose(writer->file);
    writer->file = -1;
    if (flushed < 0 || closed < 0)
        st = sq_fail(SQ_ERR_RUN, "cannot finish writing %s", writer->temp_path);
    if (st == SQ_OK && rename(writer->temp_path, writer->final_path) != 0)
        st = sq_fail(SQ_ERR_RUN, "cannot rename %s to %s: %s", writer->temp_path, writer->final_path,
                     strerror(errno));
    if (st != SQ_OK)
        unlink(writer->temp_path);
    free(writer->temp_path);
    free(writer->final_path);
    writer->temp_path = writer->final_path = NULL;
    return st;
}

void sq_artifact_abort(sq_artifact_writer *writer)
{
    sq_h5_close(writer->file);
    writer->file = -1;
    if (writer->temp_path)
        unlink(writer->temp_path);
    free(writer->temp_path);
    free(writer->final_path);
    writer->temp_path = writer->final_path = NULL;
}

sq_status sq_artifact_kind(const char *path, char *kind, size_t size)
{
    hid_t file;
    silence_hdf5();
    kind[0] = '\0';
    if (H5Fis_hdf5(path) <= 0)
        return SQ_OK;
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return sq_fail(SQ_ERR_INPUT, "cannot open HDF5 file %s", path);
    if (sq_h5_has_attr(file, "squeeze_artifact"))
        (void)sq_h5_read_attr_text(file, "squeeze_artifact", kind, size); /* "" when unreadable */
    sq_h5_close(file);
    return SQ_OK;
}

sq_status sq_artifact_open(const char *path, const char *expected_kind, hid_t *file_out)
{
    sq_status st = SQ_OK;
    hid_t file = -1;
    char *kind = NULL;
    int64_t version = -1;
    silence_hdf5();
    *file_out = -1;
    if (access(path, R_OK) != 0)
        return sq_fail(SQ_ERR_INPUT, "cannot read %s: %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0)
        return sq_fail(SQ_ERR_INPUT, "%s is not an HDF5 file (expected a squeeze %s artifact)", path,
                       expected_kind);
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        SQ_FAIL(SQ_ERR_INPUT, "cannot open HDF5 file %s (truncated or corrupt?)", path);
    if (!sq_h5_has_attr(file, "squeeze_artifact"))
        SQ_FAIL(SQ_ERR_INPUT, "%s is an HDF5 file but not a squeeze artifact (no 'squeeze_artifact' attribute)",
                path);
    SQ_TRY(sq_h5_read_attr_string(file, "squeeze_artifact", &kind));
    if (expected_kind && strcmp(kind, expected_kind) != 0)
        SQ_FAIL(SQ_ERR_INPUT, "%s is a squeeze '%s' artifact, but a '%s' artifact is needed here", path, kind,
                expected_kind);
    SQ_TRY(sq_h5_read_attr_int(file, "schema_version", &version));
    if (version != SQ_SCHEMA_VERSION)
        SQ_FAIL(SQ_ERR_INPUT, "%s has schema_version %lld; this squeeze (%s) reads schema_version %d", path,
                (long long)version, sq_version(), SQ_SCHEMA_VERSION);
    *file_out = file;
    file = -1;
cleanup:
    free(kind);
    sq_h5_close(file);
    return st;
}
