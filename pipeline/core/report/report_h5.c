/* report_h5.c - lenient HDF5 readers for the report (report_h5.h). */
#include "report/report_h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact/artifact.h"

bool sq_report_file_exists(const char *path)
{
    struct stat info;
    return path && path[0] && stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

double sq_report_attr_double(hid_t object, const char *name, double fallback)
{
    double value = fallback;
    if (!sq_h5_has_attr(object, name))
        return fallback;
    /* HDF5 converts an integer attribute to double on read. */
    if (sq_h5_read_attr_double(object, name, &value) != SQ_OK) {
        sq_error_clear();
        return fallback;
    }
    return value;
}

int64_t sq_report_attr_int(hid_t object, const char *name, int64_t fallback)
{
    int64_t value = fallback;
    if (!sq_h5_has_attr(object, name))
        return fallback;
    if (sq_h5_read_attr_int(object, name, &value) != SQ_OK) {
        sq_error_clear();
        return fallback;
    }
    return value;
}

void sq_report_attr_text(hid_t object, const char *name, char *out, size_t size)
{
    char *value = NULL;
    out[0] = '\0';
    if (sq_h5_has_attr(object, name) && sq_h5_read_attr_string(object, name, &value) == SQ_OK)
        snprintf(out, size, "%s", value);
    sq_error_clear();
    free(value);
}

sq_status sq_report_read_strings(hid_t parent, const char *name, char **packed, size_t *width, size_t *rows)
{
    sq_status st = SQ_OK;
    hid_t dataset = -1, type = -1, space = -1, memtype = -1;
    hsize_t dims[1] = {0};

    *packed = NULL;
    dataset = H5Dopen2(parent, name, H5P_DEFAULT);
    if (dataset < 0)
        SQ_FAIL(SQ_ERR_INPUT, "no dataset '%s'", name);
    type = H5Dget_type(dataset);
    space = H5Dget_space(dataset);
    if (H5Tget_class(type) != H5T_STRING || H5Tis_variable_str(type) > 0 || H5Sget_simple_extent_ndims(space) != 1)
        SQ_FAIL(SQ_ERR_INPUT, "dataset '%s' is not a 1-D fixed-length string column", name);
    H5Sget_simple_extent_dims(space, dims, NULL);
    /* One byte more than stored per row, so every row ends with a terminator
     * even when the writer padded with nulls only up to its width. */
    *width = H5Tget_size(type) + 1;
    *rows = (size_t)dims[0];
    SQ_TRY(sq_h5_check_extent(dataset, name, dims[0]));
    memtype = H5Tcopy(H5T_C_S1);
    H5Tset_size(memtype, *width);
    H5Tset_strpad(memtype, H5T_STR_NULLTERM);
    H5Tset_cset(memtype, H5Tget_cset(type)); /* HDF5 converts no character set into another */
    SQ_TRY(sq_alloc(packed, *rows ? *rows : 1, *width, name));
    if (*rows > 0 && H5Dread(dataset, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *packed) < 0)
        SQ_FAIL(SQ_ERR_INPUT, "cannot read the string column '%s'", name);
cleanup:
    sq_h5_close(memtype);
    sq_h5_close(space);
    sq_h5_close(type);
    sq_h5_close(dataset);
    if (st != SQ_OK) {
        free(*packed);
        *packed = NULL;
    }
    return st;
}

bool sq_report_input_line(const char *inputs, const char *suffix, char *path, size_t path_size, char sha[65])
{
    const char *line = inputs;
    size_t suffix_length = strlen(suffix);
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t length = end ? (size_t)(end - line) : strlen(line);
        char entry[4096];
        const char *space;
        snprintf(entry, sizeof entry, "%.*s", (int)length, line);
        space = strrchr(entry, ' ');
        if (space && (size_t)(space - entry) >= suffix_length &&
            strncmp(space - suffix_length, suffix, suffix_length) == 0) {
            snprintf(path, path_size, "%.*s", (int)(space - entry), entry);
            snprintf(sha, 65, "%s", space + 1);
            return true;
        }
        line = end ? end + 1 : NULL;
    }
    return false;
}
