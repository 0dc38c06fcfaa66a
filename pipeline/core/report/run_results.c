/* run_results.c - gather a run folder's artifacts for the report. */
#include "report/run_results.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact/artifact.h"
#include "util/hash.h"
#include "util/log.h"

static int file_exists(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

static double attr_double(hid_t group, const char *name, double fallback)
{
    double value = fallback;
    int64_t integer;
    if (!sq_h5_has_attr(group, name))
        return fallback;
    if (sq_h5_read_attr_double(group, name, &value) == SQ_OK)
        return value;
    if (sq_h5_read_attr_int(group, name, &integer) == SQ_OK)
        return (double)integer;
    sq_error_clear();
    return fallback;
}

static void attr_text(hid_t object, const char *name, char *out, size_t size)
{
    char *value = NULL;
    out[0] = '\0';
    if (sq_h5_has_attr(object, name) && sq_h5_read_attr_string(object, name, &value) == SQ_OK)
        snprintf(out, size, "%s", value);
    free(value);
}

/* The sha256 recorded for an input whose path ends in suffix ("" when absent). */
static void recorded_input_sha(const char *inputs, const char *suffix, char out[SQ_SHA256_HEX])
{
    const char *line = inputs;
    out[0] = '\0';
    while (line && *line) {
        const char *end = strchr(line, '\n');
        const char *space;
        size_t length = end ? (size_t)(end - line) : strlen(line);
        char entry[2048];
        snprintf(entry, sizeof entry, "%.*s", (int)length, line);
        space = strrchr(entry, ' ');
        if (space && (size_t)(space - entry) >= strlen(suffix) &&
            strncmp(space - strlen(suffix), suffix, strlen(suffix)) == 0) {
            snprintf(out, SQ_SHA256_HEX, "%s", space + 1);
            return;
        }
        line = end ? end + 1 : NULL;
    }
}

static sq_status load_evaluation(const char *path, sq_variant_result *v, char *inputs, size_t inputs_size,
                                 char *model_id, size_t model_id_size)
{
    sq_status st = SQ_OK;
    hid_t file = -1, group = -1;
    uint64_t dims[8];
    int ndim;
    char text[64];

    SQ_TRY(sq_artifact_open(path, "evaluation", &file));
    if (!sq_h5_exists(file, "evaluation"))
        SQ_FAIL(SQ_ERR_INPUT, "%s has no /evaluation group", path);
    group = H5Gopen2(file, "evaluation", H5P_DEFAULT);
    snprintf(v->evaluation_path, sizeof v->evaluation_path, "%s", path);
    v->evaluated = true;
    v->perplexity = attr_double(group, "perplexity", 0);
    v->ppl_stderr = attr_double(group, "ppl_stderr", 0);
    v->mean_nll = attr_double(group, "mean_nll", 0);
    v->scored_tokens = (int64_t)attr_double(group, "scored_tokens", 0);
    v->windows = (int64_t)attr_double(group, "windows", 0);
    v->tokens_per_second = attr_double(group, "tokens_per_second", 0);
    v->seconds = attr_double(group, "seconds", 0);
    v->peak_rss_bytes = attr_double(group, "peak_rss_bytes", 0);
    v->file_bytes = attr_double(group, "model_file_bytes", 0);
    v->tensor_bytes = attr_double(group, "model_tensor_bytes", 0);
    v->ratio_file = attr_double(group, "ratio_file_bytes", 1.0);
    v->ratio_tensor = attr_double(group, "ratio_tensor_bytes", 1.0);
    v->has_kl = sq_h5_has_attr(group, "kl_divergence");
    v->kl_divergence = attr_double(group, "kl_divergence", 0);
    v->mpi_ranks = (int64_t)attr_double(file, "mpi_ranks", 1);
    attr_text(file, "plan_key", v->plan_key, sizeof v->plan_key);
    attr_text(file, "squeeze_version", v->squeeze_version, sizeof v->squeeze_version);
    attr_text(file, "inputs", inputs, inputs_size);
    attr_text(group, "model_config_json", model_id, model_id_size);
    attr_text(group, "variant", text, sizeof text);
    if (!(v->perplexity > 0) || v->perplexity != v->perplexity || v->perplexity > 1e300)
        SQ_FAIL(SQ_ERR_INPUT, "%s records perplexity %g, which is not a result", path, v->perplexity);
    SQ_TRY(sq_h5_read_dataset(group, "window_nll", H5T_NATIVE_DOUBLE, (void **)&v->window_nll, &ndim, dims));
    SQ_TRY(sq_h5_read_dataset(group, "window_tokens", H5T_NATIVE_INT64, (void **)&v->window_tokens, &ndim, dims));
    if ((int64_t)dims[0] != v->windows)
        SQ_FAIL(SQ_ERR_INPUT, "%s: window_tokens has %llu entries for %lld windows", path,
                (unsigned long long)dims[0], (long long)v->windows);
cleanup:
    if (group >= 0)
        H5Gclose(group);
    if (file >= 0)
        H5Fclose(file);
    return st;
}

/* Bytes per parameter group, before and after, from compress's accounting. */
static void load_group_bytes(sq_variant_result *v)
{
    hid_t file = -1;
    char *groups = NULL;
    double *before = NULL, *after = NULL;
    uint64_t dims[8];
    int ndim;
    if (!file_exists(v->model_path) || sq_artifact_open(v->model_path, "model", &file) != SQ_OK) {
        sq_error_clear();
        return;
    }
    if (sq_h5_exists(file, "accounting/group") &&
        sq_h5_read_dataset(file, "accounting/bytes_before", H5T_NATIVE_DOUBLE, (void **)&before, &ndim, dims) ==
            SQ_OK &&
        sq_h5_read_dataset(file, "accounting/bytes_after", H5T_NATIVE_DOUBLE, (void **)&after, &ndim, dims) ==
            SQ_OK) {
        hid_t dataset = H5Dopen2(file, "accounting/group", H5P_DEFAULT);
        hid_t type = H5Dget_type(dataset);
        size_t width = H5Tget_size(type);
        size_t rows = dims[0];
        if (!H5Tis_variable_str(type) && (groups = calloc(rows, width + 1)) != NULL &&
            H5Dread(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, groups) >= 0) {
            for (size_t r = 0; r < rows; r++) {
                char name[64];
                snprintf(name, sizeof name, "%.*s", (int)width, groups + r * width);
                for (int g = 0; g < SQ_GROUP_COUNT; g++) {
                    if (strcmp(name, sq_group_name((sq_param_group)g)) == 0) {
                        v->group_before[g] += before[r];
                        v->group_after[g] += after[r];
                        v->has_groups = true;
                    }
                }
            }
        }
        H5Tclose(type);
        H5Dclose(dataset);
    }
    sq_error_clear();
    free(groups);
    free(before);
    free(after);
    H5Fclose(file);
}

static void load_inspect(sq_run_results *results)
{
    hid_t file = -1;
    snprintf(results->inspect_path, sizeof results->inspect_path, "%s/inspect/inspect.h5", results->run_dir);
    if (!file_exists(results->inspect_path) || sq_artifact_open(results->inspect_path, "inspect", &file) != SQ_OK) {
        sq_error_clear();
        results->inspect_path[0] = '\0';
        return;
    }
    if (sq_h5_exists(file, "model")) {
        hid_t model = H5Gopen2(file, "model", H5P_DEFAULT);
        attr_text(model, "family", results->family, sizeof results->family);
        attr_text(model, "config_json", results->config_json, sizeof results->config_json);
        H5Gclose(model);
    }
    if (sq_h5_exists(file, "inspect")) {
        hid_t inspect = H5Gopen2(file, "inspect", H5P_DEFAULT);
        results->parameters = (int64_t)attr_double(inspect, "parameters", 0);
        results->baseline_tensor_bytes = attr_double(inspect, "tensor_bytes", 0);
        for (int g = 0; g < SQ_GROUP_COUNT; g++) {
            char name[64];
            snprintf(name, sizeof name, "params_%s", sq_group_name((sq_param_group)g));
            results->group_params[g] = attr_double(inspect, name, 0);
        }
        H5Gclose(inspect);
    }
    sq_error_clear();
    H5Fclose(file);
}

/* Expert routing counts from the (first) calibration artifact. */
static void load_calibration(sq_run_results *results)
{
    char folder[1200];
    struct dirent *entry;
    DIR *dir;
    snprintf(folder, sizeof folder, "%s/calibrate", results->run_dir);
    dir = opendir(folder);
    while (dir && (entry = readdir(dir)) != NULL) {
        char path[2400];
        hid_t file = -1;
        if (entry->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s/calibration.h5", folder, entry->d_name);
        if (!file_exists(path) || sq_artifact_open(path, "calibration", &file) != SQ_OK) {
            sq_error_clear();
            continue;
        }
        snprintf(results->calibration_path, sizeof results->calibration_path, "%s", path);
        for (int layer = 0; layer < 128 && results->moe_layer_count < SQ_REPORT_MAX_MOE; layer++) {
            char name[128];
            int64_t *counts = NULL;
            uint64_t dims[8];
            int ndim;
            snprintf(name, sizeof name, "experts/layer_%d/tokens", layer);
            if (!sq_h5_exists(file, "experts") || H5Lexists(file, name, H5P_DEFAULT) <= 0)
                continue;
            if (sq_h5_read_dataset(file, name, H5T_NATIVE_INT64, (void **)&counts, &ndim, dims) == SQ_OK) {
                int m = results->moe_layer_count++;
                results->moe_layers[m] = layer;
                results->expert_count = (int)(dims[0] < SQ_REPORT_MAX_EXPERTS ? dims[0] : SQ_REPORT_MAX_EXPERTS);
                for (int e = 0; e < results->expert_count; e++)
                    results->expert_tokens[m][e] = counts[e];
            }
            free(counts);
        }
        sq_error_clear();
        H5Fclose(file);
        break;
    }
    if (dir)
        closedir(dir);
}

static sq_variant_result *find_or_add(sq_run_results *results, const char *name)
{
    for (int i = 0; i < results->variant_count; i++)
        if (strcmp(results->variants[i].name, name) == 0)
            return &results->variants[i];
    if (results->variant_count == SQ_REPORT_MAX_VARIANTS)
        return NULL;
    char run_dir[sizeof results->run_dir];
    memcpy(run_dir, results->run_dir, sizeof run_dir);
    sq_variant_result *v = &results->variants[results->variant_count++];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    snprintf(v->model_path, sizeof v->model_path, "%s/compress/%s/model.h5", run_dir, name);
    return v;
}

/* plan.json names every variant and the state of each stage instance; a variant
 * without an evaluation is listed as failed with the log of the stage that failed. */
static void load_plan(sq_run_results *results)
{
    char path[1200];
    json_error_t error;
    json_t *root, *instances, *item;
    size_t index;
    snprintf(path, sizeof path, "%s/plan.json", results->run_dir);
    root = json_load_file(path, 0, &error);
    if (root == NULL)
        return;
    instances = json_object_get(root, "instances");
    json_array_foreach(instances, index, item)
    {
        const char *stage = json_string_value(json_object_get(item, "stage"));
        const char *variant = json_string_value(json_object_get(item, "variant"));
        const char *state = json_string_value(json_object_get(item, "state"));
        const char *log = json_string_value(json_object_get(item, "log"));
        json_t *exit_code = json_object_get(item, "exit_code");
        sq_variant_result *v;
        if (!stage || !variant || !variant[0] || strcmp(variant, "baseline") == 0 ||
            (strcmp(stage, "compress") != 0 && strcmp(stage, "evaluate") != 0))
            continue;
        if ((v = find_or_add(results, variant)) == NULL)
            continue;
        if (state && strcmp(state, "done") != 0 && v->failure[0] == '\0') {
            if (json_is_integer(exit_code))
                snprintf(v->failure, sizeof v->failure, "%s %s (exit %lld)", stage, state,
                         (long long)json_integer_value(exit_code));
            else
                snprintf(v->failure, sizeof v->failure, "%s %s", stage, state);
            snprintf(v->log_path, sizeof v->log_path, "%s", log ? log : "");
        }
    }
    json_decref(root);
}

sq_status sq_run_results_load(const char *run_dir, double target_compression, double target_quality,
                              const char *target_hardware, sq_run_results *results)
{
    sq_status st = SQ_OK;
    char folder[1200], path[2400], base_inputs[8192], inputs[8192];
    char base_model[2048], model_id[2048];
    char base_sha[SQ_SHA256_HEX] = "";
    struct dirent *entry;
    DIR *dir = NULL;
    const char *slash;

    memset(results, 0, sizeof *results);
    results->recommended = -1;
    snprintf(results->run_dir, sizeof results->run_dir, "%s", run_dir);
    slash = strrchr(run_dir, '/');
    snprintf(results->run_name, sizeof results->run_name, "%s", slash && slash[1] ? slash + 1 : run_dir);
    results->target_compression = target_compression;
    results->target_quality = target_quality;
    results->target_hardware = target_hardware;

    snprintf(path, sizeof path, "%s/evaluate/baseline/evaluation.h5", run_dir);
    if (!file_exists(path))
        SQ_FAIL(SQ_ERR_INPUT, "%s: no baseline evaluation (evaluate/baseline/evaluation.h5); the report compares "
                "every variant with it. Run the baseline evaluation first (squeeze run)", run_dir);
    snprintf(results->baseline.name, sizeof results->baseline.name, "baseline");
    SQ_TRY(load_evaluation(path, &results->baseline, base_inputs, sizeof base_inputs, base_model,
                           sizeof base_model));
    SQ_TRY(sq_sha256_file(path, base_sha));

    load_plan(results);
    snprintf(folder, sizeof folder, "%s/evaluate", run_dir);
    dir = opendir(folder);
    while (dir && (entry = readdir(dir)) != NULL) {
        sq_variant_result *v;
        char recorded[SQ_SHA256_HEX];
        if (entry->d_name[0] == '.' || strcmp(entry->d_name, "baseline") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s/evaluation.h5", folder, entry->d_name);
        if (!file_exists(path))
            continue;
        if ((v = find_or_add(results, entry->d_name)) == NULL)
            SQ_FAIL(SQ_ERR_INPUT, "%s: more than %d variants", run_dir, SQ_REPORT_MAX_VARIANTS);
        SQ_TRY(load_evaluation(path, v, inputs, sizeof inputs, model_id, sizeof model_id));
        v->failure[0] = '\0'; /* an evaluation artifact exists: the variant ran */
        v->log_path[0] = '\0';
        /* Mixed models: the variant must have been measured against this run's baseline. */
        recorded_input_sha(inputs, "evaluation.h5", recorded);
        if (recorded[0] == '\0')
            SQ_FAIL(SQ_ERR_INPUT, "%s was evaluated without a baseline, so it cannot be compared with %s/evaluate/"
                    "baseline/evaluation.h5; rerun it with --baseline", path, run_dir);
        if (strcmp(recorded, base_sha) != 0)
            SQ_FAIL(SQ_ERR_INPUT, "%s was measured against another baseline (sha256 %.12s...) than %s/evaluate/"
                    "baseline/evaluation.h5 (sha256 %.12s...): artifacts from different models or runs are mixed",
                    path, recorded, run_dir, base_sha);
        if (model_id[0] && base_model[0] && strcmp(model_id, base_model) != 0)
            SQ_FAIL(SQ_ERR_INPUT, "%s is a different model (%s) from the baseline %s (%s)", path, model_id,
                    results->baseline.evaluation_path, base_model);
        load_group_bytes(v);
    }
    if (results->variant_count == 0)
        SQ_FAIL(SQ_ERR_INPUT, "%s: no variant evaluations (evaluate/<variant>/evaluation.h5) and no variants in "
                "plan.json: nothing to report", run_dir);
    for (int i = 0; i < results->variant_count; i++) {
        sq_variant_result *v = &results->variants[i];
        if (!v->evaluated && v->failure[0] == '\0')
            snprintf(v->failure, sizeof v->failure, "no evaluation artifact (not run yet)");
    }
    load_inspect(results);
    load_calibration(results);
cleanup:
    if (dir)
        closedir(dir);
    if (st != SQ_OK)
        sq_run_results_free(results);
    return st;
}

void sq_run_results_free(sq_run_results *results)
{
    free(results->baseline.window_nll);
    free(results->baseline.window_tokens);
    results->baseline.window_nll = NULL;
    results->baseline.window_tokens = NULL;
    for (int i = 0; i < results->variant_count; i++) {
        free(results->variants[i].window_nll);
        free(results->variants[i].window_tokens);
        results->variants[i].window_nll = NULL;
        results->variants[i].window_tokens = NULL;
    }
}
