/* accounting.c - the per-tensor byte table of a compressed model (accounting.h). */
#include "compress/accounting.h"

#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "util/log.h"

void sq_accounting_free(sq_accounting *accounting)
{
    free(accounting->rows);
    memset(accounting, 0, sizeof *accounting);
}

sq_status sq_accounting_build(const sq_compress_plan *plan, const sq_qtensor *stored, sq_accounting *out)
{
    sq_status st = SQ_OK;
    memset(out, 0, sizeof *out);
    SQ_TRY(sq_alloc(&out->rows, plan->count, sizeof *out->rows, "accounting"));
    out->count = plan->count;
    for (size_t i = 0; i < plan->count; i++) {
        const sq_plan_entry *e = &plan->entries[i];
        sq_accounting_row *row = &out->rows[i];
        row->name = e->name;
        row->group = sq_group_name(e->group);
        row->rule = sq_map_decision_label(&e->decision);
        snprintf(row->format, sizeof row->format, "%s", stored[i].format[0] ? stored[i].format : "raw");
        row->options = e->options_text;
        row->before = e->bytes_before;
        /* An alias is stored once, under its storage's name. */
        row->after = stored[i].alias_of ? 0 : sq_qtensor_bytes(&stored[i]);
        out->total_before += row->before;
        out->total_after += row->after;
    }
cleanup:
    return st;
}

sq_status sq_accounting_check(const sq_accounting *accounting, uint64_t input_tensor_bytes, const char *input_path)
{
    if (accounting->total_before != input_tensor_bytes)
        return sq_fail(SQ_ERR_RUN,
                       "accounting does not add up: the %zu rows hold %llu bytes before compression, but %s holds "
                       "%llu tensor bytes (shared storage once); a tensor was dropped or counted twice",
                       accounting->count, (unsigned long long)accounting->total_before, input_path,
                       (unsigned long long)input_tensor_bytes);
    return SQ_OK;
}

size_t sq_accounting_format_totals(const sq_accounting *accounting, sq_format_total *totals, size_t capacity)
{
    size_t count = 0;
    for (size_t i = 0; i < accounting->count; i++) {
        const sq_accounting_row *row = &accounting->rows[i];
        const char *name = strcmp(row->rule, "alias") == 0 ? "alias" : row->format;
        size_t f = 0;
        while (f < count && strcmp(totals[f].name, name) != 0)
            f++;
        if (f == count) {
            if (count == capacity)
                continue;
            memset(&totals[count], 0, sizeof totals[count]);
            snprintf(totals[count].name, sizeof totals[count].name, "%s", name);
            count++;
        }
        totals[f].tensors++;
        totals[f].before += row->before;
        totals[f].after += row->after;
    }
    return count;
}

void sq_accounting_print(const sq_accounting *accounting, FILE *out)
{
    sq_format_total totals[SQ_ACCOUNTING_MAX_FORMATS];
    size_t formats = sq_accounting_format_totals(accounting, totals, SQ_ACCOUNTING_MAX_FORMATS);
    int name_width = 6;
    for (size_t i = 0; i < accounting->count; i++) {
        int length = (int)strlen(accounting->rows[i].name);
        if (length > name_width)
            name_width = length;
    }
    fprintf(out, "%-*s  %-10s  %-6s  %12s  %12s  %s\n", name_width, "tensor", "group", "format", "bytes before",
            "bytes after", "decided by");
    for (size_t i = 0; i < accounting->count; i++) {
        const sq_accounting_row *row = &accounting->rows[i];
        fprintf(out, "%-*s  %-10s  %-6s  %12llu  %12llu  %s%s%s\n", name_width, row->name, row->group, row->format,
                (unsigned long long)row->before, (unsigned long long)row->after, row->rule,
                row->options && row->options[0] ? "  " : "", row->options ? row->options : "");
    }
    fprintf(out, "%-*s  %-10s  %-6s  %12llu  %12llu\n", name_width, "total", "", "",
            (unsigned long long)accounting->total_before, (unsigned long long)accounting->total_after);
    fprintf(out, "per format:\n");
    for (size_t f = 0; f < formats; f++)
        fprintf(out, "  %-8s %5llu tensors  %12llu -> %12llu bytes\n", totals[f].name,
                (unsigned long long)totals[f].tensors, (unsigned long long)totals[f].before,
                (unsigned long long)totals[f].after);
}

sq_status sq_accounting_write(hid_t file, const sq_accounting *accounting, uint64_t input_tensor_bytes,
                              const char *map_source, const char *map_description,
                              const sq_model_identity *source)
{
    sq_status st = SQ_OK;
    hid_t group = -1;
    size_t n = accounting->count;
    const char **column = NULL;
    uint64_t *numbers = NULL, dims[1];
    sq_format_total totals[SQ_ACCOUNTING_MAX_FORMATS];
    size_t formats = sq_accounting_format_totals(accounting, totals, SQ_ACCOUNTING_MAX_FORMATS);

    SQ_TRY(sq_h5_group(file, "accounting", &group));
    SQ_TRY(sq_alloc(&column, n ? n : 1, sizeof *column, "accounting"));
    SQ_TRY(sq_alloc(&numbers, n ? n : 1, sizeof *numbers, "accounting"));
#define COLUMN(field, label)                          \
    for (size_t i = 0; i < n; i++)                    \
        column[i] = accounting->rows[i].field;        \
    SQ_TRY(sq_h5_write_strings(group, label, column, n));
    COLUMN(name, "name")
    COLUMN(group, "group")
    COLUMN(rule, "rule")
    COLUMN(format, "format")
    COLUMN(options, "options")
#undef COLUMN
    dims[0] = n;
    for (size_t i = 0; i < n; i++)
        numbers[i] = accounting->rows[i].before;
    SQ_TRY(sq_h5_write_dataset(group, "bytes_before", H5T_NATIVE_UINT64, 1, dims, numbers));
    for (size_t i = 0; i < n; i++)
        numbers[i] = accounting->rows[i].after;
    SQ_TRY(sq_h5_write_dataset(group, "bytes_after", H5T_NATIVE_UINT64, 1, dims, numbers));

    {
        const char *names[SQ_ACCOUNTING_MAX_FORMATS];
        uint64_t tensors[SQ_ACCOUNTING_MAX_FORMATS], before[SQ_ACCOUNTING_MAX_FORMATS],
            after[SQ_ACCOUNTING_MAX_FORMATS];
        for (size_t f = 0; f < formats; f++) {
            names[f] = totals[f].name;
            tensors[f] = totals[f].tensors;
            before[f] = totals[f].before;
            after[f] = totals[f].after;
        }
        SQ_TRY(sq_h5_write_strings(group, "formats", names, formats));
        dims[0] = formats;
        SQ_TRY(sq_h5_write_dataset(group, "format_tensors", H5T_NATIVE_UINT64, 1, dims, tensors));
        SQ_TRY(sq_h5_write_dataset(group, "format_bytes_before", H5T_NATIVE_UINT64, 1, dims, before));
        SQ_TRY(sq_h5_write_dataset(group, "format_bytes_after", H5T_NATIVE_UINT64, 1, dims, after));
    }
    SQ_TRY(sq_h5_write_attr_int(group, "tensor_count", (int64_t)n));
    SQ_TRY(sq_h5_write_attr_int(group, "bytes_before", (int64_t)accounting->total_before));
    SQ_TRY(sq_h5_write_attr_int(group, "bytes_after", (int64_t)accounting->total_after));
    SQ_TRY(sq_h5_write_attr_int(group, "input_tensor_bytes", (int64_t)input_tensor_bytes));
    SQ_TRY(sq_h5_write_attr_string(group, "precision_map", map_source ? map_source : ""));
    SQ_TRY(sq_h5_write_attr_string(group, "precision_map_description", map_description ? map_description : ""));
    /* Which model this is a form of: the evaluation records it and the report
     * compares it (docs/artifact-evaluation.md). */
    SQ_TRY(sq_model_identity_write_attrs(group, "source_", source));
cleanup:
    free(column);
    free(numbers);
    sq_h5_close(group);
    return st;
}

/* ---- per-tensor bytes of an artifact input -------------------------------- */

static uint64_t dataset_bytes(hid_t dataset)
{
    hid_t type = H5Dget_type(dataset), space = H5Dget_space(dataset);
    hssize_t points = H5Sget_simple_extent_npoints(space);
    uint64_t bytes = points > 0 ? (uint64_t)points * H5Tget_size(type) : 0;
    sq_h5_close(space);
    sq_h5_close(type);
    return bytes;
}

/* H5Literate callback (HDF5 1.10 API): adds the bytes of a dataset member. */
static herr_t add_member_bytes(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    hid_t member = H5Oopen(group, name, H5P_DEFAULT);
    (void)info;
    if (member < 0)
        return -1;
    if (H5Iget_type(member) == H5I_DATASET)
        *(uint64_t *)data += dataset_bytes(member);
    sq_h5_close(member);
    return 0;
}

sq_status sq_accounting_artifact_inputs(const char *path, const sq_tensor_set *set, sq_input_tensor *input)
{
    sq_status st = SQ_OK;
    hid_t file = -1, tensors = -1;
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        SQ_FAIL(SQ_ERR_INPUT, "cannot open %s as HDF5", path);
    tensors = H5Gopen2(file, "model/tensors", H5P_DEFAULT);
    if (tensors < 0)
        SQ_FAIL(SQ_ERR_INPUT, "%s has no /model/tensors group: not a squeeze model artifact", path);
    for (size_t i = 0; i < set->count; i++) {
        const sq_tensor *t = &set->tensors[i];
        hid_t handle;
        char *dtype = NULL;
        input[i].dtype = SQ_DTYPE_F32;
        input[i].bytes = 0;
        if (!sq_h5_exists(tensors, t->name))
            SQ_FAIL(SQ_ERR_INPUT, "%s: tensor '%s' is not under /model/tensors", path, t->name);
        handle = H5Oopen(tensors, t->name, H5P_DEFAULT);
        if (handle < 0)
            SQ_FAIL(SQ_ERR_INPUT, "%s: cannot open /model/tensors/%s", path, t->name);
        if (sq_h5_has_attr(handle, "original_dtype")) {
            if (sq_h5_read_attr_string(handle, "original_dtype", &dtype) == SQ_OK) {
                int parsed = sq_dtype_from_name(dtype);
                if (parsed >= 0)
                    input[i].dtype = (sq_dtype)parsed;
            } else {
                sq_error_clear();
            }
        }
        free(dtype);
        if (!t->alias_of) {
            if (H5Iget_type(handle) == H5I_DATASET)
                input[i].bytes = dataset_bytes(handle);
            else if (H5Iget_type(handle) == H5I_GROUP)
                H5Literate(handle, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, add_member_bytes, &input[i].bytes);
        }
        sq_h5_close(handle);
    }
cleanup:
    sq_h5_close(tensors);
    sq_h5_close(file);
    return st;
}
