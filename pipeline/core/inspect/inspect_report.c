/* inspect_report.c - every fact of a checkpoint, accounted for, as text, JSON and HDF5.
 *
 * Parameter counting follows PyTorch: sum(p.numel() for p in model.parameters())
 * visits a tied weight once (nn.Module.parameters() deduplicates shared
 * Parameters) and never visits buffers (register_buffer), so an alias adds
 * nothing and a buffer is listed apart.  For Itera-Lite micro this gives
 * 293,656 (docs/itera-lite.md 1.5), while the state_dict holds 421,660
 * elements (the head twice, plus the expert_counts buffer).
 */
#include "inspect/inspect_report.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact/artifact.h"
#include "modelio/loader.h"
#include "modelio/model_file.h"
#include "quant/qtensor.h"
#include "util/log.h"

/* ------------------------------------------------------------------ facts */

static sq_status read_model(const char *path, const sq_inspect_options *options, sq_inspect_report *report)
{
    sq_status st = SQ_OK;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* squeeze reports HDF5 errors itself */
    if (H5Fis_hdf5(path) > 0) {
        /* A squeeze artifact: family and config come from /model. */
        sq_loaded_model loaded;
        SQ_TRY(sq_model_load(path, options->family, &options->hints, &loaded));
        report->set = loaded.tensors;
        report->family = loaded.family;
        report->config = loaded.config;
        report->tensor_bytes = loaded.tensor_bytes;
        return SQ_OK;
    }
    SQ_TRY(sq_checkpoint_read(path, &report->set));
    SQ_TRY(sq_model_detect_family(&report->set, options->family, &report->family));
    SQ_TRY(report->family->infer_config(&report->set, &options->hints, &report->config));
    SQ_TRY(report->family->validate(&report->set, &report->config));
    for (size_t i = 0; i < report->set.count; i++)
        if (report->set.tensors[i].alias_of == NULL)
            report->tensor_bytes += report->set.tensors[i].nbytes;
cleanup:
    return st;
}

void sq_inspect_report_free(sq_inspect_report *report)
{
    free(report->path);
    free(report->groups);
    sq_tensor_set_free(&report->set);
    memset(report, 0, sizeof *report);
}

sq_status sq_inspect_run(const char *path, const sq_inspect_options *options, sq_inspect_report *report)
{
    sq_status st = SQ_OK;
    struct stat info;
    sq_advice_input input;

    memset(report, 0, sizeof *report);
    sq_tensor_set_init(&report->set);
    report->path = strdup(path);
    if (stat(path, &info) != 0 || !S_ISREG(info.st_mode))
        SQ_FAIL(SQ_ERR_INPUT, "cannot read checkpoint %s: no such file (give the path of a .pt, .safetensors or "
                "squeeze .h5 file)", path);
    report->file_bytes = (uint64_t)info.st_size;
    SQ_TRY(read_model(path, options, report));
    SQ_TRY(sq_alloc(&report->groups, report->set.count ? report->set.count : 1, sizeof *report->groups, "groups"));

    for (size_t i = 0; i < report->set.count; i++) {
        const sq_tensor *t = &report->set.tensors[i];
        sq_param_group group = sq_family_group_of(report->family, t->name);
        int64_t numel = sq_tensor_numel(t);
        report->groups[i] = group;
        report->state_dict_elements += numel;
        if (t->alias_of)
            report->alias_count++;
        if (group == SQ_GROUP_BUFFER) {
            report->buffer_count++;
            if (!t->alias_of)
                report->buffer_elements += numel;
            report->group_tensors[group]++;
            continue;
        }
        if (group < 0 || group >= SQ_GROUP_COUNT) {
            report->groups[i] = SQ_GROUP_NONE;
            report->ungrouped_count++;
            /* PyTorch parameters are floating point: an unnamed integer or bool
             * tensor can only be a buffer, so it is not counted as one. */
            if (!t->alias_of && (t->dtype == SQ_DTYPE_F32 || t->dtype == SQ_DTYPE_F16 || t->dtype == SQ_DTYPE_BF16 ||
                                 t->dtype == SQ_DTYPE_F64)) {
                report->ungrouped_parameters += numel;
                report->parameters += numel;
            }
            continue;
        }
        report->matched_count++;
        report->group_tensors[group]++;
        if (!t->alias_of) {
            report->group_parameters[group] += numel;
            report->parameters += numel;
        }
    }
    if (report->ungrouped_count > 0) {
        sq_warn("%zu tensor(s) of %s belong to no parameter group of family %s (float ones counted as parameters, "
                "all listed under 'ungrouped' and kept in the baseline):", report->ungrouped_count, path, report->family->name);
        for (size_t i = 0; i < report->set.count; i++)
            if (report->groups[i] == SQ_GROUP_NONE)
                sq_warn("  %s", report->set.tensors[i].name);
    }
    sq_info("%s: %zu tensors = %zu in parameter groups + %zu buffers + %zu without group; %zu alias(es); "
            "%lld parameters", path, report->set.count, report->matched_count, report->buffer_count,
            report->ungrouped_count, report->alias_count, (long long)report->parameters);

    report->arch = sq_advice_arch_of(report->group_parameters);
    input.arch = report->arch;
    input.parameters = report->parameters;
    input.hardware = options->hardware;
    input.quality_pct = options->quality_pct;
    SQ_TRY(sq_advice_recommend(&input, &report->advice));
cleanup:
    if (st != SQ_OK)
        sq_inspect_report_free(report);
    return st;
}

/* ------------------------------------------------------------------ text */

/* 1234567 -> "1,234,567" */
static const char *with_commas(int64_t value, char *buf, size_t size)
{
    char digits[32];
    int len, out = 0, negative = value < 0;
    snprintf(digits, sizeof digits, "%lld", (long long)(negative ? -value : value));
    len = (int)strlen(digits);
    if (negative && out < (int)size - 1)
        buf[out++] = '-';
    for (int i = 0; i < len && out < (int)size - 1; i++) {
        if (i > 0 && (len - i) % 3 == 0 && out < (int)size - 1)
            buf[out++] = ',';
        buf[out++] = digits[i];
    }
    buf[out] = '\0';
    return buf;
}

static double percent(int64_t part, int64_t whole) { return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0; }

static void print_config(FILE *out, const sq_model_config *cfg)
{
    char *text = NULL;
    json_t *json;
    const char *key;
    json_t *value;
    if (sq_model_config_to_json(cfg, &text) != SQ_OK)
        return;
    json = json_loads(text, 0, NULL);
    free(text);
    /* every field the family filled in (zero fields belong to other families) */
    json_object_foreach(json, key, value) {
        if (json_is_integer(value) && json_integer_value(value) != 0)
            fprintf(out, "  %-18s %lld\n", key, (long long)json_integer_value(value));
        else if (json_is_real(value) && json_real_value(value) != 0)
            fprintf(out, "  %-18s %g\n", key, json_real_value(value));
        else if (json_is_array(value) && json_array_size(value) > 0) {
            size_t i;
            json_t *item;
            fprintf(out, "  %-18s [", key);
            json_array_foreach(value, i, item) fprintf(out, "%s%lld", i ? ", " : "", (long long)json_integer_value(item));
            fprintf(out, "]\n");
        }
    }
    json_decref(json);
}

void sq_inspect_print(FILE *out, const sq_inspect_report *r)
{
    char a[32], b[32], shape[96];
    int name_width = 4;
    const sq_advice *advice = &r->advice;

    for (size_t i = 0; i < r->set.count; i++) {
        int len = (int)strlen(r->set.tensors[i].name);
        if (len > name_width)
            name_width = len;
    }
    fprintf(out, "Checkpoint %s\n", r->path);
    fprintf(out, "  format %s, %s bytes on disk (stat), %zu tensors, %s bytes of tensors (shared storage once)\n",
            r->set.source_format ? r->set.source_format : "?", with_commas((int64_t)r->file_bytes, a, sizeof a),
            r->set.count, with_commas((int64_t)r->tensor_bytes, b, sizeof b));

    fprintf(out, "\nTensors\n  %-*s  %-16s %-5s %12s  %s\n", name_width, "name", "shape", "dtype", "bytes", "group");
    for (size_t i = 0; i < r->set.count; i++) {
        const sq_tensor *t = &r->set.tensors[i];
        if (t->alias_of)
            snprintf(b, sizeof b, "shared");
        else
            with_commas((int64_t)t->nbytes, b, sizeof b);
        fprintf(out, "  %-*s  %-16s %-5s %12s  %s%s%s\n", name_width, t->name, sq_shape_string(t, shape, sizeof shape),
                sq_dtype_name(t->dtype), b, sq_group_name(r->groups[i]), t->alias_of ? ", alias of " : "",
                t->alias_of ? t->alias_of : "");
    }

    fprintf(out, "\nShared storage (aliases: stored and counted once)\n");
    if (r->alias_count == 0)
        fprintf(out, "  none\n");
    for (size_t i = 0; i < r->set.count; i++)
        if (r->set.tensors[i].alias_of)
            fprintf(out, "  %s -> %s\n", r->set.tensors[i].name, r->set.tensors[i].alias_of);

    fprintf(out, "\nFamily %s: %s\nConfig (inferred from tensor shapes)\n", r->family->name,
            r->family->description ? r->family->description : "");
    print_config(out, &r->config);

    fprintf(out, "\nParameters (sum of numel, shared storage once, buffers excluded)\n");
    for (int g = 0; g < SQ_GROUP_COUNT; g++) {
        if (g == SQ_GROUP_BUFFER || r->group_tensors[g] == 0)
            continue;
        fprintf(out, "  %-12s %12s  %6.2f%%  %d tensor%s%s\n", sq_group_name((sq_param_group)g),
                with_commas(r->group_parameters[g], a, sizeof a), percent(r->group_parameters[g], r->parameters),
                r->group_tensors[g], r->group_tensors[g] == 1 ? "" : "s",
                r->group_parameters[g] == 0 ? " (shared storage: counted under the tensor it aliases)" : "");
    }
    if (r->ungrouped_count)
        fprintf(out, "  %-12s %12s  %6.2f%%  %zu tensors (WARNING: no group claims them)\n", "ungrouped",
                with_commas(r->ungrouped_parameters, a, sizeof a), percent(r->ungrouped_parameters, r->parameters),
                r->ungrouped_count);
    fprintf(out, "  %-12s %12s  100.00%%\n", "total", with_commas(r->parameters, a, sizeof a));
    fprintf(out, "  (the state_dict holds %s elements: aliases counted again, buffers included)\n",
            with_commas(r->state_dict_elements, a, sizeof a));

    fprintf(out, "\nBuffers (state, not parameters)\n");
    if (r->buffer_count == 0)
        fprintf(out, "  none\n");
    for (size_t i = 0; i < r->set.count; i++)
        if (r->groups[i] == SQ_GROUP_BUFFER)
            fprintf(out, "  %s %s %s\n", r->set.tensors[i].name, sq_shape_string(&r->set.tensors[i], shape, sizeof shape),
                    sq_dtype_name(r->set.tensors[i].dtype));

    fprintf(out, "\nAccounting: %zu tensors = %zu in parameter groups (%zu alias%s) + %zu buffer%s + %zu without group\n",
            r->set.count, r->matched_count, r->alias_count, r->alias_count == 1 ? "" : "es", r->buffer_count,
            r->buffer_count == 1 ? "" : "s", r->ungrouped_count);
    if (r->ungrouped_count) {
        fprintf(out, "  WARNING: tensors without a group (kept and stored, but the family does not name them):\n");
        for (size_t i = 0; i < r->set.count; i++)
            if (r->groups[i] == SQ_GROUP_NONE)
                fprintf(out, "    %s\n", r->set.tensors[i].name);
    }

    fprintf(out, "\nNon-tensor entries\n");
    if (r->set.meta_count == 0)
        fprintf(out, "  none\n");
    for (size_t i = 0; i < r->set.meta_count; i++)
        fprintf(out, "  %s = %s\n", r->set.meta[i].key, r->set.meta[i].repr);

    fprintf(out, "\nRecommendation (architecture %s, %s parameters %s, target %s, quality loss up to %.3g%%)\n",
            sq_advice_arch_name(r->arch), with_commas(r->parameters, a, sizeof a), sq_advice_size_name(advice->size),
            sq_advice_hardware_name(advice->input.hardware), advice->input.quality_pct);
    fprintf(out, "  %s\n", advice->summary);
    for (int i = 0; i < advice->recommended_count; i++) {
        const sq_advice_item *item = &advice->recommended[i];
        fprintf(out, "  %d. %s: %s\n     why: %s\n     how: %s\n", i + 1, item->technique, item->title, item->reason,
                item->squeeze_how);
    }
    if (advice->avoided_count) {
        fprintf(out, "  Not advised here:\n");
        for (int i = 0; i < advice->avoided_count; i++)
            fprintf(out, "  - %s: %s\n", advice->avoided[i].technique, advice->avoided[i].reason);
    }
    fprintf(out, "  Caveats:\n");
    for (int i = 0; i < advice->caveat_count; i++)
        fprintf(out, "  - %s\n", advice->caveats[i]);
}

/* ------------------------------------------------------------------ JSON */

static json_t *shape_json(const sq_tensor *t)
{
    json_t *shape = json_array();
    for (int d = 0; d < t->ndim; d++)
        json_array_append_new(shape, json_integer(t->shape[d]));
    return shape;
}

static json_t *advice_item_json(const sq_advice_item *item)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "technique", item->technique, "title", item->title, "how",
                     item->squeeze_how, "score", item->score, "worst_rating", sq_advice_rating_name(item->worst),
                     "reason", item->reason);
}

static json_t *advice_json(const sq_inspect_report *r)
{
    const sq_advice *advice = &r->advice;
    json_t *recommended = json_array(), *avoided = json_array(), *caveats = json_array();
    for (int i = 0; i < advice->recommended_count; i++)
        json_array_append_new(recommended, advice_item_json(&advice->recommended[i]));
    for (int i = 0; i < advice->avoided_count; i++)
        json_array_append_new(avoided, advice_item_json(&advice->avoided[i]));
    for (int i = 0; i < advice->caveat_count; i++)
        json_array_append_new(caveats, json_string(advice->caveats[i]));
    return json_pack("{s:s, s:I, s:s, s:s, s:f, s:s, s:s, s:o, s:o, s:o}", "architecture",
                     sq_advice_arch_name(r->arch), "parameters", (json_int_t)advice->input.parameters, "size_class",
                     sq_advice_size_name(advice->size), "target_hardware",
                     sq_advice_hardware_name(advice->input.hardware), "quality_constraint_pct",
                     advice->input.quality_pct, "quality_class", sq_advice_quality_name(advice->quality), "summary",
                     advice->summary, "recommended", recommended, "avoided", avoided, "caveats", caveats);
}

sq_status sq_inspect_to_json(const sq_inspect_report *r, json_t **json_out)
{
    json_t *root, *tensors = json_array(), *aliases = json_array(), *groups = json_array(), *buffers = json_array(),
                  *ungrouped = json_array(), *meta = json_array(), *config;
    char *config_text = NULL;
    sq_status st = sq_model_config_to_json(&r->config, &config_text);
    *json_out = NULL;
    if (st != SQ_OK)
        return st;
    config = json_loads(config_text, 0, NULL);
    free(config_text);

    for (size_t i = 0; i < r->set.count; i++) {
        const sq_tensor *t = &r->set.tensors[i];
        json_t *entry = json_pack("{s:s, s:o, s:s, s:I, s:I, s:I, s:s, s:o}", "name", t->name, "shape", shape_json(t),
                                  "dtype", sq_dtype_name(t->dtype), "elements", (json_int_t)sq_tensor_numel(t), "bytes",
                                  (json_int_t)t->nbytes, "stored_bytes", (json_int_t)(t->alias_of ? 0 : t->nbytes),
                                  "group", sq_group_name(r->groups[i]),
                                  "alias_of", t->alias_of ? json_string(t->alias_of) : json_null());
        json_array_append_new(tensors, entry);
        if (t->alias_of)
            json_array_append_new(aliases, json_pack("{s:s, s:s}", "name", t->name, "alias_of", t->alias_of));
        if (r->groups[i] == SQ_GROUP_BUFFER)
            json_array_append_new(buffers, json_pack("{s:s, s:o, s:s, s:I}", "name", t->name, "shape", shape_json(t),
                                                     "dtype", sq_dtype_name(t->dtype), "elements",
                                                     (json_int_t)sq_tensor_numel(t)));
        if (r->groups[i] == SQ_GROUP_NONE)
            json_array_append_new(ungrouped, json_string(t->name));
    }
    for (int g = 0; g < SQ_GROUP_COUNT; g++) {
        if (g == SQ_GROUP_BUFFER || r->group_tensors[g] == 0)
            continue;
        json_array_append_new(groups, json_pack("{s:s, s:I, s:f, s:i}", "group", sq_group_name((sq_param_group)g),
                                                "parameters", (json_int_t)r->group_parameters[g], "percent",
                                                percent(r->group_parameters[g], r->parameters), "tensors",
                                                r->group_tensors[g]));
    }
    if (r->ungrouped_count)
        json_array_append_new(groups, json_pack("{s:s, s:I, s:f, s:i}", "group", "ungrouped", "parameters",
                                                (json_int_t)r->ungrouped_parameters, "percent",
                                                percent(r->ungrouped_parameters, r->parameters), "tensors",
                                                (int)r->ungrouped_count));
    for (size_t i = 0; i < r->set.meta_count; i++)
        json_array_append_new(meta, json_pack("{s:s, s:s}", "key", r->set.meta[i].key, "repr", r->set.meta[i].repr));

    root = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:o, s:I, s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:{s:I, s:I, s:I, "
                     "s:I, s:I}, s:o, s:o}",
                     "checkpoint", r->path, "format", r->set.source_format ? r->set.source_format : "", "file_bytes",
                     (json_int_t)r->file_bytes, "tensor_bytes", (json_int_t)r->tensor_bytes, "family",
                     r->family->name, "family_description", r->family->description ? r->family->description : "",
                     "config", config ? config : json_null(), "tensor_count", (json_int_t)r->set.count, "tensors",
                     tensors, "aliases", aliases, "parameters", (json_int_t)r->parameters, "state_dict_elements",
                     (json_int_t)r->state_dict_elements, "groups", groups, "buffers", buffers, "ungrouped", ungrouped,
                     "accounting", "tensors", (json_int_t)r->set.count, "in_groups", (json_int_t)r->matched_count,
                     "aliases", (json_int_t)r->alias_count, "buffers", (json_int_t)r->buffer_count, "ungrouped",
                     (json_int_t)r->ungrouped_count, "meta", meta, "recommendation", advice_json(r));
    if (root == NULL)
        return sq_fail(SQ_ERR_RUN, "cannot build the inspect JSON");
    *json_out = root;
    return SQ_OK;
}

/* ------------------------------------------------------------------ HDF5 */

static sq_status write_i64(hid_t parent, const char *name, const int64_t *values, size_t count)
{
    uint64_t dims[1] = {count};
    return sq_h5_write_dataset(parent, name, H5T_NATIVE_INT64, 1, dims, values);
}

static sq_status write_tensor_table(hid_t inspect, const sq_inspect_report *r)
{
    sq_status st = SQ_OK;
    size_t n = r->set.count;
    hid_t table = -1;
    const char **names = NULL, **dtypes = NULL, **groups = NULL, **aliases = NULL, **shapes = NULL;
    char *shape_text = NULL;
    int64_t *ndim = NULL, *dims = NULL, *bytes = NULL, *stored = NULL, *elements = NULL;
    uint64_t dims_shape[2] = {n, SQ_MAX_DIMS};

    SQ_TRY(sq_alloc(&names, n + 1, sizeof *names, "names"));
    SQ_TRY(sq_alloc(&dtypes, n + 1, sizeof *dtypes, "dtypes"));
    SQ_TRY(sq_alloc(&groups, n + 1, sizeof *groups, "groups"));
    SQ_TRY(sq_alloc(&aliases, n + 1, sizeof *aliases, "aliases"));
    SQ_TRY(sq_alloc(&shapes, n + 1, sizeof *shapes, "shapes"));
    SQ_TRY(sq_alloc(&shape_text, (n + 1) * 96, 1, "shape text"));
    SQ_TRY(sq_alloc(&ndim, n + 1, sizeof *ndim, "ndim"));
    SQ_TRY(sq_alloc(&dims, (n + 1) * SQ_MAX_DIMS, sizeof *dims, "dims"));
    SQ_TRY(sq_alloc(&bytes, n + 1, sizeof *bytes, "bytes"));
    SQ_TRY(sq_alloc(&stored, n + 1, sizeof *stored, "stored"));
    SQ_TRY(sq_alloc(&elements, n + 1, sizeof *elements, "elements"));
    for (size_t i = 0; i < n; i++) {
        const sq_tensor *t = &r->set.tensors[i];
        names[i] = t->name;
        dtypes[i] = sq_dtype_name(t->dtype);
        groups[i] = sq_group_name(r->groups[i]);
        aliases[i] = t->alias_of ? t->alias_of : "";
        shapes[i] = sq_shape_string(t, shape_text + i * 96, 96);
        ndim[i] = t->ndim;
        for (int d = 0; d < t->ndim; d++)
            dims[i * SQ_MAX_DIMS + d] = t->shape[d];
        elements[i] = sq_tensor_numel(t);
        bytes[i] = (int64_t)t->nbytes;
        stored[i] = t->alias_of ? 0 : (int64_t)t->nbytes;
    }
    SQ_TRY(sq_h5_group(inspect, "tensors", &table));
    SQ_TRY(sq_h5_write_strings(table, "name", names, n));
    SQ_TRY(sq_h5_write_strings(table, "shape", shapes, n));
    SQ_TRY(write_i64(table, "ndim", ndim, n));
    SQ_TRY(sq_h5_write_dataset(table, "dims", H5T_NATIVE_INT64, 2, dims_shape, dims));
    SQ_TRY(sq_h5_write_strings(table, "dtype", dtypes, n));
    SQ_TRY(write_i64(table, "elements", elements, n));
    SQ_TRY(write_i64(table, "bytes", bytes, n));
    SQ_TRY(write_i64(table, "stored_bytes", stored, n));
    SQ_TRY(sq_h5_write_strings(table, "group", groups, n));
    SQ_TRY(sq_h5_write_strings(table, "alias_of", aliases, n));
cleanup:
    sq_h5_close(table);
    free(names);
    free(dtypes);
    free(groups);
    free(aliases);
    free(shapes);
    free(shape_text);
    free(ndim);
    free(dims);
    free(bytes);
    free(stored);
    free(elements);
    return st;
}

static sq_status write_groups(hid_t inspect, const sq_inspect_report *r)
{
    sq_status st = SQ_OK;
    hid_t group = -1;
    const char *names[SQ_GROUP_COUNT + 1];
    int64_t params[SQ_GROUP_COUNT + 1], tensors[SQ_GROUP_COUNT + 1];
    double share[SQ_GROUP_COUNT + 1];
    uint64_t count = 0;
    for (int g = 0; g < SQ_GROUP_COUNT; g++) {
        if (g == SQ_GROUP_BUFFER || r->group_tensors[g] == 0)
            continue;
        names[count] = sq_group_name((sq_param_group)g);
        params[count] = r->group_parameters[g];
        tensors[count] = r->group_tensors[g];
        share[count++] = percent(r->group_parameters[g], r->parameters);
    }
    if (r->ungrouped_count) {
        names[count] = "ungrouped";
        params[count] = r->ungrouped_parameters;
        tensors[count] = (int64_t)r->ungrouped_count;
        share[count++] = percent(r->ungrouped_parameters, r->parameters);
    }
    SQ_TRY(sq_h5_group(inspect, "groups", &group));
    SQ_TRY(sq_h5_write_strings(group, "name", names, count));
    SQ_TRY(write_i64(group, "parameters", params, count));
    SQ_TRY(sq_h5_write_dataset(group, "percent", H5T_NATIVE_DOUBLE, 1, &count, share));
    SQ_TRY(write_i64(group, "tensors", tensors, count));
cleanup:
    sq_h5_close(group);
    return st;
}

/* Names of the tensors in one group (buffers, ungrouped) as a string dataset. */
static sq_status write_names_in(hid_t parent, const char *name, const sq_inspect_report *r, sq_param_group group)
{
    sq_status st = SQ_OK;
    const char **names = NULL;
    size_t count = 0;
    SQ_TRY(sq_alloc(&names, r->set.count + 1, sizeof *names, name));
    for (size_t i = 0; i < r->set.count; i++)
        if (r->groups[i] == group)
            names[count++] = r->set.tensors[i].name;
    SQ_TRY(sq_h5_write_strings(parent, name, names, count));
cleanup:
    free(names);
    return st;
}

static sq_status write_recommendation(hid_t inspect, const sq_inspect_report *r, const char *text)
{
    sq_status st = SQ_OK;
    const sq_advice *advice = &r->advice;
    hid_t group = -1;
    const char *technique[SQ_ADVICE_MAX_ITEMS], *reason[SQ_ADVICE_MAX_ITEMS], *how[SQ_ADVICE_MAX_ITEMS];
    const char *avoided[SQ_ADVICE_MAX_ITEMS], *avoided_reason[SQ_ADVICE_MAX_ITEMS];
    SQ_TRY(sq_h5_group(inspect, "recommendation", &group));
    SQ_TRY(sq_h5_write_attr_string(group, "summary", advice->summary));
    SQ_TRY(sq_h5_write_attr_string(group, "text", text));
    SQ_TRY(sq_h5_write_attr_string(group, "architecture", sq_advice_arch_name(r->arch)));
    SQ_TRY(sq_h5_write_attr_string(group, "size_class", sq_advice_size_name(advice->size)));
    SQ_TRY(sq_h5_write_attr_string(group, "target_hardware", sq_advice_hardware_name(advice->input.hardware)));
    SQ_TRY(sq_h5_write_attr_double(group, "quality_constraint_pct", advice->input.quality_pct));
    SQ_TRY(sq_h5_write_attr_string(group, "quality_class", sq_advice_quality_name(advice->quality)));
    for (int i = 0; i < advice->recommended_count; i++) {
        technique[i] = advice->recommended[i].technique;
        reason[i] = advice->recommended[i].reason;
        how[i] = advice->recommended[i].squeeze_how;
    }
    for (int i = 0; i < advice->avoided_count; i++) {
        avoided[i] = advice->avoided[i].technique;
        avoided_reason[i] = advice->avoided[i].reason;
    }
    SQ_TRY(sq_h5_write_strings(group, "technique", technique, (size_t)advice->recommended_count));
    SQ_TRY(sq_h5_write_strings(group, "reason", reason, (size_t)advice->recommended_count));
    SQ_TRY(sq_h5_write_strings(group, "how", how, (size_t)advice->recommended_count));
    SQ_TRY(sq_h5_write_strings(group, "avoided_technique", avoided, (size_t)advice->avoided_count));
    SQ_TRY(sq_h5_write_strings(group, "avoided_reason", avoided_reason, (size_t)advice->avoided_count));
    SQ_TRY(sq_h5_write_strings(group, "caveats", advice->caveats, (size_t)advice->caveat_count));
cleanup:
    sq_h5_close(group);
    return st;
}

sq_status sq_inspect_write(hid_t file, const sq_inspect_report *r)
{
    sq_status st = SQ_OK;
    hid_t inspect = -1, meta = -1;
    json_t *json = NULL;
    char *json_text = NULL, *config_json = NULL, *text = NULL;
    size_t text_size = 0;
    FILE *text_stream = NULL;
    sq_qtensor *baseline = NULL;
    size_t baseline_count = 0;
    const char **keys = NULL, **reprs = NULL;

    SQ_TRY(sq_inspect_to_json(r, &json));
    json_text = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER);
    SQ_TRY(sq_model_config_to_json(&r->config, &config_json));
    text_stream = open_memstream(&text, &text_size);
    if (text_stream == NULL || json_text == NULL)
        SQ_FAIL(SQ_ERR_RUN, "out of memory formatting the inspect report");
    sq_inspect_print(text_stream, r);
    fclose(text_stream);
    text_stream = NULL;

    SQ_TRY(sq_h5_group(file, "inspect", &inspect));
    SQ_TRY(sq_h5_write_attr_string(inspect, "checkpoint", r->path));
    SQ_TRY(sq_h5_write_attr_string(inspect, "checkpoint_format", r->set.source_format ? r->set.source_format : ""));
    SQ_TRY(sq_h5_write_attr_int(inspect, "file_bytes", (int64_t)r->file_bytes));
    SQ_TRY(sq_h5_write_attr_int(inspect, "tensor_bytes", (int64_t)r->tensor_bytes));
    SQ_TRY(sq_h5_write_attr_string(inspect, "family", r->family->name));
    SQ_TRY(sq_h5_write_attr_string(inspect, "config_json", config_json));
    SQ_TRY(sq_h5_write_attr_int(inspect, "tensor_count", (int64_t)r->set.count));
    SQ_TRY(sq_h5_write_attr_int(inspect, "parameter_count", r->parameters));
    /* The same as flat attributes, for readers that want numbers without datasets
     * (the report stage): parameters, params_<group>. */
    SQ_TRY(sq_h5_write_attr_int(inspect, "parameters", r->parameters));
    for (int g = 0; g < SQ_GROUP_COUNT; g++) {
        char name[64];
        if (g == SQ_GROUP_BUFFER)
            continue;
        snprintf(name, sizeof name, "params_%s", sq_group_name((sq_param_group)g));
        SQ_TRY(sq_h5_write_attr_int(inspect, name, r->group_parameters[g]));
    }
    SQ_TRY(sq_h5_write_attr_int(inspect, "state_dict_elements", r->state_dict_elements));
    SQ_TRY(sq_h5_write_attr_int(inspect, "matched_count", (int64_t)r->matched_count));
    SQ_TRY(sq_h5_write_attr_int(inspect, "alias_count", (int64_t)r->alias_count));
    SQ_TRY(sq_h5_write_attr_int(inspect, "buffer_count", (int64_t)r->buffer_count));
    SQ_TRY(sq_h5_write_attr_int(inspect, "buffer_elements", r->buffer_elements));
    SQ_TRY(sq_h5_write_attr_int(inspect, "ungrouped_count", (int64_t)r->ungrouped_count));
    SQ_TRY(sq_h5_write_attr_string(inspect, "report_json", json_text));
    SQ_TRY(write_tensor_table(inspect, r));
    SQ_TRY(write_groups(inspect, r));
    SQ_TRY(write_names_in(inspect, "buffers", r, SQ_GROUP_BUFFER));
    SQ_TRY(write_names_in(inspect, "ungrouped", r, SQ_GROUP_NONE));

    SQ_TRY(sq_alloc(&keys, r->set.meta_count + 1, sizeof *keys, "meta keys"));
    SQ_TRY(sq_alloc(&reprs, r->set.meta_count + 1, sizeof *reprs, "meta values"));
    for (size_t i = 0; i < r->set.meta_count; i++) {
        keys[i] = r->set.meta[i].key;
        reprs[i] = r->set.meta[i].repr;
    }
    SQ_TRY(sq_h5_group(inspect, "meta", &meta));
    SQ_TRY(sq_h5_write_strings(meta, "key", keys, r->set.meta_count));
    SQ_TRY(sq_h5_write_strings(meta, "repr", reprs, r->set.meta_count));
    SQ_TRY(write_recommendation(inspect, r, text));

    /* The baseline: every tensor as fp32 (raw for integer buffers), tied tensors once. */
    SQ_TRY(sq_model_baseline_qtensors(&r->set, &baseline, &baseline_count));
    SQ_TRY(sq_model_file_write(file, &r->config, baseline, baseline_count));
cleanup:
    if (text_stream)
        fclose(text_stream);
    sq_h5_close(meta);
    sq_h5_close(inspect);
    for (size_t i = 0; i < baseline_count; i++)
        sq_qtensor_free(&baseline[i]);
    free(baseline);
    free(keys);
    free(reprs);
    free(text);
    free(json_text);
    free(config_json);
    json_decref(json);
    return st;
}
