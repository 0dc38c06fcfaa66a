/* calib_file.c - a calibration artifact read back for compress. */
#include "calib/calib_file.h"

#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"

void sq_calib_file_close(sq_calib_file *calib)
{
    sq_h5_close(calib->file);
    free(calib->path);
    free(calib->model_path);
    sq_model_identity_free(&calib->identity);
    memset(calib, 0, sizeof *calib);
    calib->file = -1;
}

void sq_calib_linear_free(sq_calib_linear *linear)
{
    free(linear->absmax);
    free(linear->percentile);
    free(linear->mean_sq);
    free(linear->hessian);
    memset(linear, 0, sizeof *linear);
}

sq_status sq_calib_file_open(const char *path, sq_calib_file *out)
{
    sq_status st = SQ_OK;
    hid_t root = -1;
    double *levels = NULL;
    int ndim = 0;
    uint64_t dims[8];
    bool found = false;
    memset(out, 0, sizeof *out);
    out->file = -1;
    SQ_TRY(sq_artifact_open(path, "calibration", &out->file));
    out->path = strdup(path);
    if (!sq_h5_exists(out->file, "calibration"))
        SQ_FAIL(SQ_ERR_INPUT, "%s: calibration artifact without a /calibration group: rerun squeeze-calibrate", path);
    root = H5Gopen2(out->file, "calibration", H5P_DEFAULT);
    SQ_TRY(sq_model_identity_read_attrs(root, "", &out->identity, &found));
    if (!found)
        SQ_FAIL(SQ_ERR_INPUT, "%s: /calibration does not record the model it was made on (family, config_json, "
                "model_tensors_sha256): rerun squeeze-calibrate", path);
    SQ_TRY(sq_h5_read_attr_string(root, "model_path", &out->model_path));
    SQ_TRY(sq_h5_read_attr_int(root, "tokens", &out->tokens));
    SQ_TRY(sq_h5_read_attr_int(root, "windows", &out->windows));
    SQ_TRY(sq_model_config_from_json(out->identity.config_json, &out->config));
    SQ_TRY(sq_h5_read_dataset(root, "percentile_levels", H5T_NATIVE_DOUBLE, (void **)&levels, &ndim, dims));
    out->percentile = (ndim == 1 && dims[0] > 0) ? levels[0] : 0;
cleanup:
    free(levels);
    sq_h5_close(root);
    if (st != SQ_OK) {
        sq_error_context("calibration %s", path);
        sq_calib_file_close(out);
    }
    return st;
}

/* stats views the linear's own arrays (after they were read or cut). */
static void view_stats(sq_calib_linear *linear)
{
    linear->stats.act_absmax = linear->absmax;
    linear->stats.act_percentile = linear->percentile;
    linear->stats.act_mean_sq = linear->mean_sq;
    linear->stats.hessian = linear->hessian;
}

static sq_status read_vector(hid_t group, const char *name, const char *linear, hid_t type, int expect_ndim,
                             uint64_t expect0, uint64_t expect1, void **data)
{
    int ndim = 0;
    uint64_t dims[8] = {0};
    sq_status st = sq_h5_read_dataset(group, name, type, data, &ndim, dims);
    if (st != SQ_OK)
        return st;
    if (ndim != expect_ndim || dims[0] != expect0 || (expect_ndim == 2 && dims[1] != expect1)) {
        free(*data);
        *data = NULL;
        return sq_fail(SQ_ERR_INPUT, "calibration of '%s': dataset %s has the wrong shape", linear, name);
    }
    return SQ_OK;
}

sq_status sq_calib_file_linear(const sq_calib_file *calib, const char *name, bool *found, sq_calib_linear *out)
{
    sq_status st = SQ_OK;
    hid_t linears = -1, group = -1;
    int64_t cols = 0, tokens = 0, has_hessian = 0;
    memset(out, 0, sizeof *out);
    *found = false;
    linears = H5Gopen2(calib->file, "calibration/linears", H5P_DEFAULT);
    if (linears < 0)
        SQ_FAIL(SQ_ERR_INPUT, "%s: no /calibration/linears group", calib->path);
    if (!sq_h5_exists(linears, name))
        goto cleanup;
    group = H5Gopen2(linears, name, H5P_DEFAULT);
    SQ_TRY(sq_h5_read_attr_int(group, "cols", &cols));
    SQ_TRY(sq_h5_read_attr_int(group, "tokens", &tokens));
    SQ_TRY(sq_h5_read_attr_int(group, "has_hessian", &has_hessian));
    out->cols = (int)cols;
    SQ_TRY(read_vector(group, "absmax", name, H5T_NATIVE_FLOAT, 1, (uint64_t)cols, 0, (void **)&out->absmax));
    {
        double *mean_sq = NULL;
        SQ_TRY(read_vector(group, "mean_sq", name, H5T_NATIVE_DOUBLE, 1, (uint64_t)cols, 0, (void **)&mean_sq));
        st = sq_alloc(&out->mean_sq, (size_t)cols, sizeof *out->mean_sq, name);
        for (int64_t c = 0; st == SQ_OK && c < cols; c++)
            out->mean_sq[c] = (float)mean_sq[c];
        free(mean_sq);
        SQ_TRY(st);
    }
    /* percentiles is [levels, cols]: the first configured level is the one formats clip to. */
    if (sq_h5_read_rows(group, "percentiles", H5T_NATIVE_FLOAT, 0, 1, (uint64_t)cols, (void **)&out->percentile) !=
        SQ_OK)
        SQ_FAIL(SQ_ERR_INPUT, "%s: calibration of '%s': percentiles has the wrong shape", calib->path, name);
    if (has_hessian)
        SQ_TRY(read_vector(group, "hessian", name, H5T_NATIVE_DOUBLE, 2, (uint64_t)cols, (uint64_t)cols,
                           (void **)&out->hessian));
    view_stats(out);
    out->stats.tokens = tokens;
    *found = true;
cleanup:
    sq_h5_close(group);
    sq_h5_close(linears);
    if (st != SQ_OK)
        sq_calib_linear_free(out);
    return st;
}

static sq_status keep_floats(float **values, const int *keep, int nkeep)
{
    float *kept = NULL;
    if (!*values)
        return SQ_OK;
    if (sq_alloc(&kept, (size_t)nkeep, sizeof *kept, "kept statistics") != SQ_OK)
        return SQ_ERR_RUN;
    for (int k = 0; k < nkeep; k++)
        kept[k] = (*values)[keep[k]];
    free(*values);
    *values = kept;
    return SQ_OK;
}

sq_status sq_calib_linear_keep_cols(sq_calib_linear *linear, const int *keep, int nkeep)
{
    sq_status st = SQ_OK;
    const int cols = linear->cols;
    for (int k = 0; k < nkeep; k++)
        if (keep[k] < 0 || keep[k] >= cols)
            return sq_fail(SQ_ERR_INPUT, "statistics of %d columns cannot keep column %d", cols, keep[k]);
    SQ_TRY(keep_floats(&linear->absmax, keep, nkeep));
    SQ_TRY(keep_floats(&linear->percentile, keep, nkeep));
    SQ_TRY(keep_floats(&linear->mean_sq, keep, nkeep));
    if (linear->hessian) {
        double *kept = NULL;
        SQ_TRY(sq_alloc(&kept, (size_t)nkeep * (size_t)nkeep, sizeof *kept, "kept Hessian"));
        for (int i = 0; i < nkeep; i++)
            for (int j = 0; j < nkeep; j++)
                kept[(size_t)i * (size_t)nkeep + (size_t)j] = linear->hessian[(size_t)keep[i] * (size_t)cols + (size_t)keep[j]];
        free(linear->hessian);
        linear->hessian = kept;
    }
    linear->cols = nkeep;
    view_stats(linear);
cleanup:
    return st;
}
