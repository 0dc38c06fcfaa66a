/* run_results.c - gather a run folder's artifacts for the report.
 *
 * Order: plan.json (which variants exist, which failed), the baseline
 * evaluation, the inspect artifact (model facts and the decision matrix), then
 * every evaluate/<variant>/evaluation.h5 with its compress/<variant>/model.h5,
 * and the calibration's routing counts.  Artifacts of different models mixed
 * into one folder are refused (exit 3) by independent checks: each variant
 * was measured against this folder's baseline (the sha256 evaluate records in
 * its 'inputs'), evaluates the same model as the baseline (the identity
 * evaluate records: family, config_json and the names+shapes sha256, for a
 * compressed model those of the model it was compressed from), the baseline
 * evaluates the inspected model, and each compressed model has the inspected
 * model's config.
 */
#include "report/run_results.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "report/report_h5.h"
#include "util/hash.h"

static sq_status require_attr(hid_t group, const char *path, const char *name)
{
    if (!sq_h5_has_attr(group, name))
        return sq_fail(SQ_ERR_INPUT, "%s: /evaluation has no attribute '%s' (docs/artifact-evaluation.md); it was "
                       "written by another version of squeeze-evaluate: evaluate again", path, name);
    return SQ_OK;
}

/* Reads one evaluation artifact: every measured number, and the root
 * attributes for provenance.  inputs receives the root 'inputs' text. */
static sq_status load_evaluation(const char *path, const char *baseline_path, sq_variant_result *v, char *inputs,
                                 size_t inputs_size)
{
    sq_status st = SQ_OK;
    hid_t file = -1, group = -1;
    uint64_t dims[8];
    int ndim;
    static const char *const required[] = {"perplexity", "ppl_stderr", "mean_nll", "scored_tokens", "windows",
                                           "tokens_per_second", "peak_rss_bytes", "model_file_bytes",
                                           "model_tensor_bytes"};
    static const char *const compared[] = {"baseline_path", "ratio_file_bytes", "ratio_tensor_bytes",
                                           "ppl_change_pct", "kl_divergence"};

    SQ_TRY(sq_artifact_open(path, "evaluation", &file));
    if (!sq_h5_exists(file, "evaluation"))
        SQ_FAIL(SQ_ERR_INPUT, "%s has no /evaluation group: not a complete evaluation artifact", path);
    group = H5Gopen2(file, "evaluation", H5P_DEFAULT);
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        SQ_TRY(require_attr(group, path, required[i]));
    if (baseline_path) {
        if (!sq_h5_has_attr(group, "baseline_path"))
            SQ_FAIL(SQ_ERR_INPUT, "%s was evaluated without --baseline, so it cannot be compared with the run's "
                    "baseline (no ratios, no KL): evaluate it again with --baseline %s", path, baseline_path);
        for (size_t i = 0; i < sizeof compared / sizeof *compared; i++)
            SQ_TRY(require_attr(group, path, compared[i]));
    }
    snprintf(v->evaluation_path, sizeof v->evaluation_path, "%s", path);
    v->perplexity = sq_report_attr_double(group, "perplexity", 0);
    v->ppl_stderr = sq_report_attr_double(group, "ppl_stderr", 0);
    v->mean_nll = sq_report_attr_double(group, "mean_nll", 0);
    v->nll_std = sq_report_attr_double(group, "nll_std", 0);
    v->scored_tokens = sq_report_attr_int(group, "scored_tokens", 0);
    v->windows = sq_report_attr_int(group, "windows", 0);
    v->tokens_per_second = sq_report_attr_double(group, "tokens_per_second", 0);
    v->seconds = sq_report_attr_double(group, "seconds", 0);
    v->peak_rss_bytes = sq_report_attr_int(group, "peak_rss_bytes", 0);
    v->file_bytes = sq_report_attr_int(group, "model_file_bytes", 0);
    v->tensor_bytes = sq_report_attr_int(group, "model_tensor_bytes", 0);
    v->baseline_file_bytes = sq_report_attr_int(group, "baseline_file_bytes", v->file_bytes);
    v->baseline_tensor_bytes = sq_report_attr_int(group, "baseline_tensor_bytes", v->tensor_bytes);
    v->ratio_file = sq_report_attr_double(group, "ratio_file_bytes", 1.0);
    v->ratio_tensor = sq_report_attr_double(group, "ratio_tensor_bytes", 1.0);
    v->ppl_change_pct = sq_report_attr_double(group, "ppl_change_pct", 0.0);
    v->has_kl = sq_h5_has_attr(group, "kl_divergence");
    v->kl_divergence = sq_report_attr_double(group, "kl_divergence", 0);
    v->mpi_ranks = sq_report_attr_int(group, "mpi_ranks", sq_report_attr_int(file, "mpi_ranks", 1));
    sq_report_attr_text(group, "family", v->family, sizeof v->family);
    sq_report_attr_text(group, "config_json", v->config_json, sizeof v->config_json);
    sq_report_attr_text(group, "model_tensors_sha256", v->tensors_sha256, sizeof v->tensors_sha256);
    sq_report_attr_text(group, "model_kind", v->model_kind, sizeof v->model_kind);
    sq_report_attr_text(group, "kernels", v->kernels, sizeof v->kernels);
    sq_report_attr_text(group, "model_path", v->recorded_model_path, sizeof v->recorded_model_path);
    v->setup.window_length = sq_report_attr_int(group, "window_length", 0);
    v->setup.stride = sq_report_attr_int(group, "stride", 0);
    v->setup.offset = sq_report_attr_int(group, "offset", 1);
    v->setup.max_windows = sq_report_attr_int(group, "max_windows", 0);
    v->setup.text_tokens = sq_report_attr_int(group, "text_tokens", 0);
    sq_report_attr_text(group, "scoring", v->setup.scoring, sizeof v->setup.scoring);
    sq_report_attr_text(group, "data_path", v->setup.data_path, sizeof v->setup.data_path);
    sq_report_attr_text(group, "tokenizer", v->setup.tokenizer, sizeof v->setup.tokenizer);
    sq_report_attr_text(group, "tokens_sha256", v->setup.tokens_sha256, sizeof v->setup.tokens_sha256);
    sq_report_attr_text(file, "plan_key", v->plan_key, sizeof v->plan_key);
    sq_report_attr_text(file, "squeeze_version", v->squeeze_version, sizeof v->squeeze_version);
    sq_report_attr_text(file, "created_utc", v->created_utc, sizeof v->created_utc);
    sq_report_attr_text(file, "config_sha256", v->config_sha256, sizeof v->config_sha256);
    sq_report_attr_text(file, "inputs", inputs, inputs_size);
    /* evaluate refuses inf/NaN (exit 4) and writes nothing; a file that holds
     * one anyway was not written by it. */
    if (!(v->perplexity > 0) || !isfinite(v->perplexity) || !(v->ratio_file > 0) || !isfinite(v->ratio_file) ||
        !isfinite(v->ratio_tensor) || !isfinite(v->ppl_change_pct) || !isfinite(v->kl_divergence) ||
        !isfinite(v->ppl_stderr) || !isfinite(v->mean_nll) || !isfinite(v->nll_std) ||
        !isfinite(v->tokens_per_second) || !isfinite(v->seconds))
        SQ_FAIL(SQ_ERR_INPUT, "%s records perplexity %g, ratio %g, change %g%%, KL %g: not a result", path,
                v->perplexity, v->ratio_file, v->ppl_change_pct, v->kl_divergence);
    SQ_TRY(sq_h5_read_dataset(group, "window_nll", H5T_NATIVE_DOUBLE, (void **)&v->window_nll, &ndim, dims));
    if ((int64_t)dims[0] != v->windows)
        SQ_FAIL(SQ_ERR_INPUT, "%s: window_nll has %llu entries for %lld windows", path, (unsigned long long)dims[0],
                (long long)v->windows);
    SQ_TRY(sq_h5_read_dataset(group, "window_tokens", H5T_NATIVE_INT64, (void **)&v->window_tokens, &ndim, dims));
    if ((int64_t)dims[0] != v->windows)
        SQ_FAIL(SQ_ERR_INPUT, "%s: window_tokens has %llu entries for %lld windows", path,
                (unsigned long long)dims[0], (long long)v->windows);
    v->evaluated = true;
cleanup:
    if (st != SQ_OK)
        sq_error_context("reading the evaluation artifact %s", path);
    sq_h5_close(group);
    sq_h5_close(file);
    return st;
}

sq_variant_result *sq_report_variant(sq_run_results *results, const char *name)
{
    sq_variant_result *v;
    for (int i = 0; i < results->variant_count; i++)
        if (strcmp(results->variants[i].name, name) == 0)
            return &results->variants[i];
    if (results->variant_count == SQ_REPORT_MAX_VARIANTS)
        return NULL;
    /* name may point into results (a caller's copy): format from locals. */
    char own_name[sizeof v->name], run_dir[sizeof results->run_dir];
    snprintf(own_name, sizeof own_name, "%s", name);
    memcpy(run_dir, results->run_dir, sizeof run_dir);
    v = &results->variants[results->variant_count++];
    memset(v, 0, sizeof *v);
    v->exit_code = -1;
    memcpy(v->name, own_name, sizeof v->name);
    if (snprintf(v->model_path, sizeof v->model_path, "%s/compress/%s/model.h5", run_dir, own_name) >=
        (int)sizeof v->model_path)
        v->model_path[0] = '\0'; /* too long to name: reported as missing */
    return v;
}

/* Folder names under run_dir/sub, sorted (scandir + alphasort: the same order on every machine). */
static int list_folders(const char *run_dir, const char *sub, struct dirent ***entries)
{
    char folder[SQ_REPORT_PATH + 32];
    snprintf(folder, sizeof folder, "%s/%s", run_dir, sub);
    int count = scandir(folder, entries, NULL, alphasort);
    return count < 0 ? 0 : count;
}

static void free_list(struct dirent **entries, int count)
{
    for (int i = 0; i < count; i++)
        free(entries[i]);
    free(entries);
}

/* Two evaluations measured the same model: the identities evaluate recorded
 * (calib/model_identity.h) are equal.  Each part is compared where both
 * record it, so artifacts from before config_json and model_tensors_sha256
 * were recorded are still compared by family. */
static sq_status check_same_model(const sq_run_results *results, const sq_variant_result *v)
{
    const sq_variant_result *b = &results->baseline;
    const char *what = NULL, *mine = "", *theirs = "";
    /* a pruned model is another shape of the model: the one it was pruned from is the baseline's */
    const char *family = v->pruned ? v->source_family : v->family;
    const char *config = v->pruned ? v->source_config_json : v->config_json;
    const char *sha = v->pruned ? v->source_tensors_sha256 : v->tensors_sha256;
    if (family[0] && b->family[0] && strcmp(family, b->family) != 0)
        what = "family", mine = family, theirs = b->family;
    else if (config[0] && b->config_json[0] && strcmp(config, b->config_json) != 0)
        what = "config", mine = config, theirs = b->config_json;
    else if (sha[0] && b->tensors_sha256[0] && strcmp(sha, b->tensors_sha256) != 0)
        what = "tensor names and shapes (sha256)", mine = sha, theirs = b->tensors_sha256;
    if (!what)
        return SQ_OK;
    return sq_fail(SQ_ERR_INPUT, "%s evaluates another model than the baseline %s: its %s is %s, the baseline's %s "
                   "(/evaluation@family, config_json, model_tensors_sha256). Artifacts of different models are mixed "
                   "in %s: compress and evaluate this model's variants again%s", v->evaluation_path,
                   b->evaluation_path, what, mine, theirs, results->run_dir,
                   v->pruned ? " (for a pruned model, the model before pruning: its model artifact's /pruning@source_*)"
                             : "");
}

/* The variant was measured against this folder's baseline: the sha256 that
 * evaluate recorded for its --baseline file equals the baseline's. */
static sq_status check_same_baseline(const sq_run_results *results, const sq_variant_result *v, const char *inputs,
                                     const char *base_sha)
{
    char path[SQ_REPORT_PATH], recorded[65] = "";
    if (!sq_report_input_line(inputs, "evaluation.h5", path, sizeof path, recorded))
        return sq_fail(SQ_ERR_INPUT, "%s does not record the baseline it was compared with (root attribute 'inputs'); "
                       "evaluate it again with --baseline %s", v->evaluation_path, results->baseline.evaluation_path);
    if (strcmp(recorded, base_sha) != 0)
        return sq_fail(SQ_ERR_INPUT, "%s was measured against another baseline (%s, sha256 %.12s...) than this run's %s "
                       "(sha256 %.12s...): artifacts from different models or runs are mixed in %s. Evaluate it "
                       "again with --baseline %s", v->evaluation_path, path, recorded,
                       results->baseline.evaluation_path, base_sha, results->run_dir,
                       results->baseline.evaluation_path);
    return check_same_model(results, v);
}

/* The baseline evaluated the inspected model: when it was run on the inspect
 * artifact (as the driver does), the sha256 it recorded for it is this one's. */
static sq_status check_baseline_model(const sq_run_results *results, const char *base_inputs)
{
    sq_status st = SQ_OK;
    char path[SQ_REPORT_PATH], recorded[65], actual[SQ_SHA256_HEX];
    if (!results->inspect_path[0] || strcmp(results->baseline.model_kind, "inspect") != 0 ||
        !sq_report_input_line(base_inputs, "inspect.h5", path, sizeof path, recorded))
        return SQ_OK;
    SQ_TRY(sq_sha256_file(results->inspect_path, actual));
    if (strcmp(recorded, actual) != 0)
        SQ_FAIL(SQ_ERR_INPUT, "the baseline %s evaluated %s (sha256 %.12s...), not this run's %s (sha256 %.12s...): "
                "artifacts of different models or runs are mixed in %s", results->baseline.evaluation_path, path,
                recorded, results->inspect_path, actual, results->run_dir);
cleanup:
    return st;
}

static sq_status missing_baseline(const sq_run_results *results, const char *path)
{
    const sq_variant_result *b = &results->baseline;
    if (b->plan_failed)
        return sq_fail(SQ_ERR_INPUT, "%s: no baseline evaluation (%s): %s; see %s. The report compares every variant "
                       "with it: fix that stage and run again", results->run_dir, path, b->failure, b->log_path);
    return sq_fail(SQ_ERR_INPUT, "%s: no evaluation artifacts to report (no %s). The report compares every variant "
                   "with the baseline evaluation: run the pipeline (squeeze run CONFIG) or squeeze-evaluate on "
                   "inspect/inspect.h5 with --out %s first", results->run_dir, path, path);
}

/* Sizes are compared with the file the user brought: the checkpoint inspect
 * read (its stat(), recorded in the inspect artifact).  The baseline
 * evaluation's model is squeeze's HDF5 copy of it, whose size is squeeze's
 * format, not the user's; it is the fallback when there is no inspect artifact. */
static void choose_size_base(sq_run_results *results)
{
    const sq_variant_result *base = &results->baseline;
    results->size_base_is_checkpoint = results->checkpoint_file_bytes > 0 && results->checkpoint[0];
    if (results->size_base_is_checkpoint) {
        snprintf(results->size_base_path, sizeof results->size_base_path, "%s", results->checkpoint);
        results->size_base_bytes = results->checkpoint_file_bytes;
    } else {
        snprintf(results->size_base_path, sizeof results->size_base_path, "%s",
                 base->recorded_model_path[0] ? base->recorded_model_path : base->evaluation_path);
        results->size_base_bytes = base->file_bytes;
    }
}

/* Smallest measured file first; variants that did not run last, in plan order. */
static void sort_variants(sq_run_results *results)
{
    for (int a = 1; a < results->variant_count; a++) {
        for (int b = a; b > 0; b--) {
            sq_variant_result *x = &results->variants[b - 1], *y = &results->variants[b];
            bool swap = (!x->evaluated && y->evaluated) ||
                        (x->evaluated && y->evaluated && y->file_bytes < x->file_bytes);
            if (!swap)
                break;
            sq_variant_result held = *x;
            *x = *y;
            *y = held;
        }
    }
}

sq_status sq_run_results_load(const char *run_dir, const sq_report_settings *settings, sq_run_results *results)
{
    sq_status st = SQ_OK;
    char path[2 * SQ_REPORT_PATH], base_inputs[8192], inputs[8192];
    char base_sha[SQ_SHA256_HEX] = "";
    struct dirent **entries = NULL;
    int count = 0;
    const char *slash;
    size_t length;

    memset(results, 0, sizeof *results);
    results->recommended = results->closest = -1;
    results->baseline.exit_code = -1;
    snprintf(results->run_dir, sizeof results->run_dir, "%s", run_dir);
    length = strlen(results->run_dir);
    while (length > 1 && results->run_dir[length - 1] == '/')
        results->run_dir[--length] = '\0';
    slash = strrchr(results->run_dir, '/');
    snprintf(results->run_name, sizeof results->run_name, "%s", slash && slash[1] ? slash + 1 : results->run_dir);
    results->target_compression = settings->target_compression;
    results->target_quality = settings->target_quality;
    snprintf(results->target_hardware, sizeof results->target_hardware, "%s",
             settings->target_hardware ? settings->target_hardware : "gpu");
    snprintf(results->plan_key, sizeof results->plan_key, "%s", settings->plan_key ? settings->plan_key : "");
    if (settings->config_path) {
        snprintf(results->config_path, sizeof results->config_path, "%s", settings->config_path);
        SQ_TRY(sq_sha256_file(settings->config_path, results->config_sha256));
    }

    SQ_TRY(sq_report_load_plan(results));
    snprintf(path, sizeof path, "%s/evaluate/baseline/evaluation.h5", results->run_dir);
    if (!sq_report_file_exists(path))
    {
        st = missing_baseline(results, path);
        goto cleanup;
    }
    snprintf(results->baseline.name, sizeof results->baseline.name, "baseline");
    results->baseline.failure[0] = '\0';
    SQ_TRY(load_evaluation(path, NULL, &results->baseline, base_inputs, sizeof base_inputs));
    SQ_TRY(sq_sha256_file(path, base_sha));
    SQ_TRY(sq_report_load_inspect(results));
    SQ_TRY(check_baseline_model(results, base_inputs));
    if (results->family[0] && results->baseline.family[0] && strcmp(results->family, results->baseline.family) != 0)
        SQ_FAIL(SQ_ERR_INPUT, "the baseline %s evaluated a model of family %s but %s inspected one of family %s: "
                "artifacts of different models are mixed in %s", results->baseline.evaluation_path,
                results->baseline.family, results->inspect_path, results->family, results->run_dir);
    if (results->config_json[0] && results->baseline.config_json[0] &&
        strcmp(results->config_json, results->baseline.config_json) != 0)
        SQ_FAIL(SQ_ERR_INPUT, "the baseline %s evaluated a model with config %s but %s inspected one with config %s: "
                "artifacts of different models are mixed in %s", results->baseline.evaluation_path,
                results->baseline.config_json, results->inspect_path, results->config_json, results->run_dir);

    /* Every evaluation artifact, planned or not. */
    count = list_folders(results->run_dir, "evaluate", &entries);
    for (int i = 0; i < count; i++) {
        const char *name = entries[i]->d_name;
        sq_variant_result *v;
        snprintf(path, sizeof path, "%s/evaluate/%s/evaluation.h5", results->run_dir, name);
        if (name[0] == '.' || strcmp(name, "baseline") == 0 || !sq_report_file_exists(path))
            continue;
        if ((v = sq_report_variant(results, name)) == NULL)
            SQ_FAIL(SQ_ERR_INPUT, "%s: more than %d variants", results->run_dir, SQ_REPORT_MAX_VARIANTS);
        if (v->plan_failed)
            continue; /* the artifact is an earlier attempt's: the last one failed */
        SQ_TRY(load_evaluation(path, results->baseline.evaluation_path, v, inputs, sizeof inputs));
        SQ_TRY(sq_report_load_model(results, v)); /* first: whether it was pruned, and from which model */
        SQ_TRY(check_same_baseline(results, v, inputs, base_sha));
        v->failure[0] = '\0';
        v->failed_stage[0] = '\0';
        snprintf(v->log_path, sizeof v->log_path, "%s/evaluate/%s/stage.log", results->run_dir, name);
        if (!sq_report_file_exists(v->log_path))
            v->log_path[0] = '\0';
        v->stale = v->planned && v->planned_key[0] && strcmp(v->planned_key, v->plan_key) != 0;
    }
    free_list(entries, count);
    entries = NULL;

    /* Compressions without an evaluation (run by hand, no plan.json): failed or not run. */
    count = list_folders(results->run_dir, "compress", &entries);
    for (int i = 0; i < count; i++) {
        if (entries[i]->d_name[0] != '.')
            sq_report_variant(results, entries[i]->d_name);
    }
    for (int i = 0; i < results->variant_count; i++) {
        sq_variant_result *v = &results->variants[i];
        char log[2 * SQ_REPORT_PATH];
        if (v->evaluated || v->failure[0])
            continue;
        if (!sq_report_file_exists(v->model_path)) {
            snprintf(v->failure, sizeof v->failure, "compress left no model artifact (failed or not run)");
            snprintf(v->failed_stage, sizeof v->failed_stage, "compress");
            snprintf(log, sizeof log, "%s/compress/%s/stage.log", results->run_dir, v->name);
        } else {
            snprintf(v->failure, sizeof v->failure, "evaluate left no evaluation artifact (failed or not run)");
            snprintf(v->failed_stage, sizeof v->failed_stage, "evaluate");
            snprintf(log, sizeof log, "%s/evaluate/%s/stage.log", results->run_dir, v->name);
        }
        bool whole = snprintf(v->log_path, sizeof v->log_path, "%s", log) < (int)sizeof v->log_path; /* via a local: -Wrestrict */
        if (!whole || !sq_report_file_exists(v->log_path))
            v->log_path[0] = '\0';
    }
    if (results->variant_count == 0 && !results->evaluate_only)
        SQ_FAIL(SQ_ERR_INPUT, "%s: only the baseline was evaluated: no variant (evaluate/<variant>/evaluation.h5, "
                "compress/<variant>/ or plan.json) to report on. Compress and evaluate at least one variant",
                results->run_dir);
    SQ_TRY(sq_report_load_calibration(results));
    SQ_TRY(sq_report_load_exports(results));
    choose_size_base(results);
    sort_variants(results);
cleanup:
    free_list(entries, count);
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
