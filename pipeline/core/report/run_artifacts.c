/* run_artifacts.c - the report's readers of the inspect, calibration and model
 * artifacts (layouts: docs/artifacts.md, docs/artifact-calibration.md and
 * compress/accounting.h).  Each reader is strict about what it uses: a file
 * that is there but damaged is an input error, never silently skipped. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "report/report_h5.h"
#include "report/run_results.h"

sq_status sq_report_load_inspect(sq_run_results *results)
{
    sq_status st = SQ_OK;
    hid_t file = -1, group = -1;
    sq_advice_input input;

    if (snprintf(results->inspect_path, sizeof results->inspect_path, "%s/inspect/inspect.h5", results->run_dir) >=
        (int)sizeof results->inspect_path)
        return sq_fail(SQ_ERR_INPUT, "run folder path too long: %s", results->run_dir);
    if (!sq_report_file_exists(results->inspect_path)) {
        results->inspect_path[0] = '\0';
        return SQ_OK; /* the page says the model facts are missing */
    }
    SQ_TRY(sq_artifact_open(results->inspect_path, "inspect", &file));
    if (!sq_h5_exists(file, "inspect") || !sq_h5_exists(file, "model"))
        SQ_FAIL(SQ_ERR_INPUT, "%s has no /inspect or /model group: not a complete inspect artifact; rerun "
                "squeeze-inspect", results->inspect_path);
    group = H5Gopen2(file, "model", H5P_DEFAULT);
    sq_report_attr_text(group, "family", results->family, sizeof results->family);
    sq_report_attr_text(group, "config_json", results->config_json, sizeof results->config_json);
    sq_h5_close(group);
    group = H5Gopen2(file, "inspect", H5P_DEFAULT);
    sq_report_attr_text(group, "checkpoint", results->checkpoint, sizeof results->checkpoint);
    results->parameters = sq_report_attr_int(group, "parameters", 0);
    results->checkpoint_file_bytes = sq_report_attr_int(group, "file_bytes", 0);
    results->checkpoint_tensor_bytes = sq_report_attr_int(group, "tensor_bytes", 0);
    for (int g = 0; g < SQ_GROUP_COUNT; g++) {
        char name[64];
        snprintf(name, sizeof name, "params_%s", sq_group_name((sq_param_group)g));
        results->group_params[g] = sq_report_attr_int(group, name, 0);
    }
    if (results->parameters <= 0)
        SQ_FAIL(SQ_ERR_INPUT, "%s records no /inspect@parameters: rerun squeeze-inspect", results->inspect_path);
    /* The seed's decision matrix for this model under the run's own targets. */
    input.arch = sq_advice_arch_of(results->group_params); /* as inspect decides it */
    input.parameters = results->parameters;
    input.quality_pct = results->target_quality;
    SQ_TRY(sq_advice_hardware_parse(results->target_hardware, &input.hardware));
    SQ_TRY(sq_advice_recommend(&input, &results->advice));
    results->has_advice = true;
cleanup:
    sq_h5_close(group);
    sq_h5_close(file);
    return st;
}

/* The first calibration artifact under calibrate/, in name order, into
 * results->calibration_path ("" when there is none). */
static void find_calibration(sq_run_results *results)
{
    char folder[SQ_REPORT_PATH + 16], path[2 * SQ_REPORT_PATH];
    struct dirent **entries = NULL;
    int count;

    snprintf(folder, sizeof folder, "%s/calibrate", results->run_dir);
    count = scandir(folder, &entries, NULL, alphasort);
    for (int i = 0; i < count && results->calibration_path[0] == '\0'; i++) {
        bool whole = snprintf(path, sizeof path, "%s/%s/calibration.h5", folder, entries[i]->d_name) < (int)sizeof path;
        if (whole && entries[i]->d_name[0] != '.' && sq_report_file_exists(path) &&
            snprintf(results->calibration_path, sizeof results->calibration_path, "%s", path) >=
                (int)sizeof results->calibration_path)
            results->calibration_path[0] = '\0'; /* too long to keep: no routing figures */
    }
    for (int i = 0; i < count; i++)
        free(entries[i]);
    free(entries);
}

/* A run has one calibration artifact per calibration setup; its routing
 * counts do not depend on which, so the first is read. */
sq_status sq_report_load_calibration(sq_run_results *results)
{
    sq_status st = SQ_OK;
    hid_t file = -1, routing = -1;
    int64_t *layers = NULL, *tokens = NULL;
    uint64_t dims[8];
    int ndim;

    find_calibration(results);
    if (results->calibration_path[0] == '\0')
        goto cleanup;
    SQ_TRY(sq_artifact_open(results->calibration_path, "calibration", &file));
    if (!sq_h5_exists(file, "calibration") || H5Lexists(file, "calibration/routing", H5P_DEFAULT) <= 0)
        SQ_FAIL(SQ_ERR_INPUT, "%s has no /calibration/routing group: not a complete calibration artifact",
                results->calibration_path);
    routing = H5Gopen2(file, "calibration/routing", H5P_DEFAULT);
    results->top_k = (int)sq_report_attr_int(routing, "top_k", 0);
    if (!sq_h5_exists(routing, "expert_tokens"))
        goto cleanup; /* no MoE layer */
    SQ_TRY(sq_h5_read_dataset(routing, "layers", H5T_NATIVE_INT64, (void **)&layers, &ndim, dims));
    int moe_layers = (int)dims[0];
    SQ_TRY(sq_h5_read_dataset(routing, "expert_tokens", H5T_NATIVE_INT64, (void **)&tokens, &ndim, dims));
    if (ndim != 2 || (int)dims[0] != moe_layers)
        SQ_FAIL(SQ_ERR_INPUT, "%s: /calibration/routing/expert_tokens is not [%d layers, experts]",
                results->calibration_path, moe_layers);
    if (moe_layers > SQ_REPORT_MAX_MOE || dims[1] > SQ_REPORT_MAX_EXPERTS)
        SQ_FAIL(SQ_ERR_INPUT, "%s: %d MoE layers of %llu experts; the report draws at most %d layers of %d",
                results->calibration_path, moe_layers, (unsigned long long)dims[1], SQ_REPORT_MAX_MOE,
                SQ_REPORT_MAX_EXPERTS);
    results->moe_layer_count = moe_layers;
    results->expert_count = (int)dims[1];
    for (int m = 0; m < moe_layers; m++) {
        results->moe_layers[m] = (int)layers[m];
        for (int e = 0; e < results->expert_count; e++)
            results->expert_tokens[m][e] = tokens[(size_t)m * dims[1] + (size_t)e];
    }
cleanup:
    free(layers);
    free(tokens);
    sq_h5_close(routing);
    sq_h5_close(file);
    return st;
}

/* /accounting of a compressed model: bytes per parameter group (summed over
 * its per-tensor rows) and per storage format, and the precision map used. */
static sq_status read_accounting(hid_t file, const char *path, sq_variant_result *v)
{
    sq_status st = SQ_OK;
    hid_t accounting = -1;
    char *groups = NULL, *formats = NULL;
    uint64_t *before = NULL, *after = NULL, *format_tensors = NULL, *format_before = NULL, *format_after = NULL;
    uint64_t dims[8];
    size_t width, rows, format_width, format_rows;
    int ndim;

    accounting = H5Gopen2(file, "accounting", H5P_DEFAULT);
    sq_report_attr_text(accounting, "precision_map", v->precision_map, sizeof v->precision_map);
    sq_report_attr_text(accounting, "precision_map_description", v->map_description, sizeof v->map_description);
    SQ_TRY(sq_h5_read_strings(accounting, "group", &groups, &width, &rows));
    SQ_TRY(sq_h5_read_dataset(accounting, "bytes_before", H5T_NATIVE_UINT64, (void **)&before, &ndim, dims));
    if (dims[0] != rows)
        SQ_FAIL(SQ_ERR_INPUT, "%s: /accounting has %zu groups but %llu byte counts", path, rows,
                (unsigned long long)dims[0]);
    SQ_TRY(sq_h5_read_dataset(accounting, "bytes_after", H5T_NATIVE_UINT64, (void **)&after, &ndim, dims));
    if (dims[0] != rows)
        SQ_FAIL(SQ_ERR_INPUT, "%s: /accounting has %zu groups but %llu byte counts", path, rows,
                (unsigned long long)dims[0]);
    for (size_t r = 0; r < rows; r++) {
        const char *name = groups + r * width;
        for (int g = 0; g < SQ_GROUP_COUNT; g++) {
            if (strcmp(name, sq_group_name((sq_param_group)g)) == 0) {
                v->group_before[g] += (int64_t)before[r];
                v->group_after[g] += (int64_t)after[r];
                v->has_groups = true;
            }
        }
    }
    SQ_TRY(sq_h5_read_strings(accounting, "formats", &formats, &format_width, &format_rows));
    SQ_TRY(sq_h5_read_dataset(accounting, "format_tensors", H5T_NATIVE_UINT64, (void **)&format_tensors, &ndim,
                              dims));
    SQ_TRY(sq_h5_read_dataset(accounting, "format_bytes_before", H5T_NATIVE_UINT64, (void **)&format_before, &ndim,
                              dims));
    SQ_TRY(sq_h5_read_dataset(accounting, "format_bytes_after", H5T_NATIVE_UINT64, (void **)&format_after, &ndim,
                              dims));
    for (size_t f = 0; f < format_rows && f < dims[0] && v->format_count < SQ_REPORT_MAX_FORMATS; f++) {
        sq_format_share *share = &v->formats[v->format_count++];
        snprintf(share->name, sizeof share->name, "%s", formats + f * format_width);
        share->tensors = (int64_t)format_tensors[f];
        share->bytes_before = (int64_t)format_before[f];
        share->bytes_after = (int64_t)format_after[f];
    }
cleanup:
    if (st != SQ_OK)
        sq_error_context("reading /accounting of %s", path);
    free(groups);
    free(formats);
    free(before);
    free(after);
    free(format_tensors);
    free(format_before);
    free(format_after);
    sq_h5_close(accounting);
    return st;
}

/* /pruning (docs/precision-maps.md): what was removed, and the model it was
 * removed from, which is what the run's baseline evaluated. */
static void read_pruning(hid_t file, sq_variant_result *v)
{
    hid_t group = H5Gopen2(file, "pruning", H5P_DEFAULT);
    if (group < 0)
        return;
    v->pruned = true;
    sq_report_attr_text(group, "amounts", v->prune_amounts, sizeof v->prune_amounts);
    v->channels_removed = sq_report_attr_int(group, "channels_removed", 0);
    v->experts_removed = sq_report_attr_int(group, "experts_removed", 0);
    v->heads_removed = sq_report_attr_int(group, "heads_removed", 0);
    sq_report_attr_text(group, "source_family", v->source_family, sizeof v->source_family);
    sq_report_attr_text(group, "source_config_json", v->source_config_json, sizeof v->source_config_json);
    sq_report_attr_text(group, "source_model_tensors_sha256", v->source_tensors_sha256,
                        sizeof v->source_tensors_sha256);
    if (!v->prune_amounts[0])
        snprintf(v->prune_amounts, sizeof v->prune_amounts, "%lld FFN channels, %lld experts, %lld heads",
                 (long long)v->channels_removed, (long long)v->experts_removed, (long long)v->heads_removed);
    /* SSM dimensions compress pruned past the guard (force: true), or "" */
    sq_report_attr_text(group, "forced_ssm", v->forced_ssm, sizeof v->forced_ssm);
    sq_h5_close(group);
}

sq_status sq_report_load_model(const sq_run_results *results, sq_variant_result *v)
{
    sq_status st = SQ_OK;
    hid_t file = -1, model = -1;
    char inputs[8192], sha[65], config_json[2048];

    if (!sq_report_file_exists(v->model_path))
        return SQ_OK;
    SQ_TRY(sq_artifact_open(v->model_path, "model", &file));
    v->has_model = true;
    sq_report_attr_text(file, "inputs", inputs, sizeof inputs);
    sq_report_attr_text(file, "squeeze_version", v->model_squeeze_version, sizeof v->model_squeeze_version);
    v->model_mpi_ranks = sq_report_attr_int(file, "mpi_ranks", 1);
    sq_report_input_line(inputs, "calibration.h5", v->calibration_input, sizeof v->calibration_input, sha);
    if (sq_h5_exists(file, "pruning"))
        read_pruning(file, v);
    /* Mixed models: a compressed model must be a form of the inspected one
     * (a pruned one: the model it was pruned from). */
    if (sq_h5_exists(file, "model") && results->config_json[0]) {
        model = H5Gopen2(file, "model", H5P_DEFAULT);
        sq_report_attr_text(model, "config_json", config_json, sizeof config_json);
        /* the evaluation measured this pruned model, and it was pruned from the inspected one */
        if (v->pruned && v->evaluated && v->config_json[0] && strcmp(config_json, v->config_json) != 0)
            SQ_FAIL(SQ_ERR_INPUT, "%s evaluated a model with config %s, but %s holds one with config %s: artifacts "
                    "of different runs are mixed in %s; rerun the run", v->evaluation_path, v->config_json,
                    v->model_path, config_json, results->run_dir);
        if (v->pruned)
            snprintf(config_json, sizeof config_json, "%s", v->source_config_json);
        if (config_json[0] && strcmp(config_json, results->config_json) != 0)
            SQ_FAIL(SQ_ERR_INPUT, "%s is a different model from the run's inspected model %s: its config is %s, the "
                    "inspected one %s. Artifacts of different models are mixed in %s; rerun the run",
                    v->model_path, results->inspect_path, config_json, results->config_json, results->run_dir);
    }
    if (sq_h5_exists(file, "accounting"))
        SQ_TRY(read_accounting(file, v->model_path, v));
cleanup:
    sq_h5_close(model);
    sq_h5_close(file);
    return st;
}
