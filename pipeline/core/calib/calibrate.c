/* calibrate.c - run the model over calibration windows and write the calibration
 * artifact (docs/artifact-calibration.md).
 *
 * Determinism (DESIGN.md): the windows are fixed by the data and the config,
 * rank r runs windows [r*W/n, (r+1)*W/n), each window is one forward pass
 * whose statistics do not depend on which rank runs it, and the merge
 * (calib/act_stats.c) uses only max, integer sums and window-ordered double
 * sums.  So the artifact's statistics have the same bits for any rank count;
 * only X^T X is summed by MPI_Reduce and may differ by rounding.
 */
#include "calib/calibrate.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "artifact/artifact.h"
#include "calib/act_stats.h"
#include "calib/histogram.h"
#include "calib/model_identity.h"
#include "cli/stage_main.h"
#include "modelio/loader.h"
#include "models/forward.h"
#include "tokenize/tokenizer.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/mpi_agree.h"
#include "util/progress.h"

void sq_calibrate_window_starts(int64_t count, int length, int used, int64_t *starts)
{
    /* Evenly spread and non-overlapping: consecutive starts differ by at least
     * floor((count - length) / (used - 1)) >= length because used <= count / length. */
    for (int w = 0; w < used; w++)
        starts[w] = used > 1 ? ((int64_t)w * (count - length)) / (used - 1) : 0;
}

static sq_status write_linear(hid_t linears, const sq_linear_stats *linear, const sq_run_config *cfg)
{
    sq_status st = SQ_OK;
    hid_t group = -1;
    size_t cols = (size_t)linear->cols;
    int percentiles = cfg->calibrate.percentile_count;
    double *mean_abs = NULL, *mean_sq = NULL, *tensor_percentiles = NULL, *hessian = NULL;
    float *channel_percentiles = NULL;
    uint64_t *histogram = NULL, dims[2];
    double tensor_absmax = 0, tokens = (double)linear->tokens;

    SQ_TRY(sq_h5_group(linears, linear->name, &group));
    SQ_TRY(sq_h5_write_attr_int(group, "cols", (int64_t)cols));
    SQ_TRY(sq_h5_write_attr_int(group, "tokens", linear->tokens));
    SQ_TRY(sq_h5_write_attr_int(group, "has_hessian", linear->hessian != NULL));

    SQ_TRY(sq_alloc(&mean_abs, cols, sizeof *mean_abs, linear->name));
    SQ_TRY(sq_alloc(&mean_sq, cols, sizeof *mean_sq, linear->name));
    SQ_TRY(sq_alloc(&histogram, SQ_HIST_BINS, sizeof *histogram, linear->name));
    SQ_TRY(sq_alloc(&channel_percentiles, (size_t)percentiles * cols, sizeof *channel_percentiles, linear->name));
    SQ_TRY(sq_alloc(&tensor_percentiles, (size_t)percentiles, sizeof *tensor_percentiles, linear->name));
    for (size_t c = 0; c < cols; c++) {
        /* Sum of the per-window sums (in window order), then one division. */
        mean_abs[c] = tokens > 0 ? linear->sum_abs[c] / tokens : 0.0;
        mean_sq[c] = tokens > 0 ? linear->sum_sq[c] / tokens : 0.0;
        if (linear->absmax[c] > tensor_absmax)
            tensor_absmax = linear->absmax[c];
        for (int b = 0; b < SQ_HIST_BINS; b++)
            histogram[b] += linear->histogram[c * SQ_HIST_BINS + (size_t)b];
        for (int p = 0; p < percentiles; p++)
            channel_percentiles[(size_t)p * cols + c] = (float)sq_hist_percentile_u32(
                linear->histogram + c * SQ_HIST_BINS, cfg->calibrate.percentiles[p], linear->absmax[c]);
    }
    for (int p = 0; p < percentiles; p++)
        tensor_percentiles[p] = sq_hist_percentile_u64(histogram, cfg->calibrate.percentiles[p], tensor_absmax);

    dims[0] = cols;
    SQ_TRY(sq_h5_write_dataset(group, "absmax", H5T_NATIVE_FLOAT, 1, dims, linear->absmax));
    SQ_TRY(sq_h5_write_dataset(group, "mean_abs", H5T_NATIVE_DOUBLE, 1, dims, mean_abs));
    SQ_TRY(sq_h5_write_dataset(group, "mean_sq", H5T_NATIVE_DOUBLE, 1, dims, mean_sq));
    dims[0] = (uint64_t)percentiles;
    dims[1] = cols;
    SQ_TRY(sq_h5_write_dataset(group, "percentiles", H5T_NATIVE_FLOAT, 2, dims, channel_percentiles));
    SQ_TRY(sq_h5_write_dataset(group, "tensor_percentiles", H5T_NATIVE_DOUBLE, 1, dims, tensor_percentiles));
    dims[0] = SQ_HIST_BINS;
    SQ_TRY(sq_h5_write_dataset(group, "histogram", H5T_NATIVE_UINT64, 1, dims, histogram));
    if (linear->hessian) {
        /* Stored as X^T X / N, the form sq_calib_stats.hessian takes (GPTQ's H
         * without its factor 2, which does not change the solution). */
        SQ_TRY(sq_alloc(&hessian, cols * cols, sizeof *hessian, linear->name));
        for (size_t i = 0; i < cols * cols; i++)
            hessian[i] = tokens > 0 ? linear->hessian[i] / tokens : 0.0;
        dims[0] = cols;
        dims[1] = cols;
        SQ_TRY(sq_h5_write_dataset(group, "hessian", H5T_NATIVE_DOUBLE, 2, dims, hessian));
    }
cleanup:
    sq_h5_close(group);
    free(mean_abs);
    free(mean_sq);
    free(histogram);
    free(channel_percentiles);
    free(tensor_percentiles);
    free(hessian);
    return st;
}

typedef struct {
    const sq_calibrate_request *request;
    const sq_loaded_model *model;
    const sq_model_identity *identity;
    const sq_act_stats *stats;
    const char *tokenizer;
    const int64_t *starts;
    int windows_used, ranks;
    int64_t data_tokens, tokens;
    double seconds;
} artifact_contents;

/* /calibration and its groups (docs/artifact-calibration.md). */
static sq_status write_calibration(hid_t file, const artifact_contents *in, int64_t *linear_count)
{
    sq_status st = SQ_OK;
    const sq_run_config *cfg = in->request->config;
    hid_t root = -1, linears = -1, routing = -1;
    uint64_t dims[2];

    SQ_TRY(sq_h5_group(file, "calibration", &root));
    SQ_TRY(sq_model_identity_write_attrs(root, "", in->identity));
    SQ_TRY(sq_h5_write_attr_string(root, "model_path", in->request->model_path));
    SQ_TRY(sq_h5_write_attr_string(root, "model_kind", in->model->kind));
    SQ_TRY(sq_h5_write_attr_string(root, "data_path", cfg->data.calibration.path));
    SQ_TRY(sq_h5_write_attr_string(root, "tokenizer", in->tokenizer));
    SQ_TRY(sq_h5_write_attr_int(root, "data_tokens", in->data_tokens));
    SQ_TRY(sq_h5_write_attr_int(root, "tokens", in->tokens));
    SQ_TRY(sq_h5_write_attr_int(root, "windows", in->windows_used));
    SQ_TRY(sq_h5_write_attr_int(root, "windows_requested", cfg->calibrate.windows));
    SQ_TRY(sq_h5_write_attr_int(root, "window_length", cfg->calibrate.window_length));
    SQ_TRY(sq_h5_write_attr_double(root, "seconds", in->seconds));
    {
        double percentiles[SQ_MAX_PERCENTILES];
        for (int p = 0; p < cfg->calibrate.percentile_count; p++)
            percentiles[p] = cfg->calibrate.percentiles[p];
        dims[0] = (uint64_t)cfg->calibrate.percentile_count;
        SQ_TRY(sq_h5_write_dataset(root, "percentile_levels", H5T_NATIVE_DOUBLE, 1, dims, percentiles));
    }
    SQ_TRY(sq_h5_write_attr_int(root, "histogram_bins", SQ_HIST_BINS));
    SQ_TRY(sq_h5_write_attr_int(root, "histogram_bins_per_octave", SQ_HIST_BINS_PER_OCTAVE));
    SQ_TRY(sq_h5_write_attr_int(root, "histogram_min_exponent", SQ_HIST_MIN_EXPONENT));
    SQ_TRY(sq_h5_write_attr_int(root, "histogram_max_exponent", SQ_HIST_MAX_EXPONENT));
    {
        double edges[SQ_HIST_BINS + 1];
        for (int b = 0; b < SQ_HIST_BINS; b++)
            edges[b] = sq_hist_bin_lower(b);
        edges[SQ_HIST_BINS] = sq_hist_bin_upper(SQ_HIST_BINS - 1);
        dims[0] = SQ_HIST_BINS + 1;
        SQ_TRY(sq_h5_write_dataset(root, "histogram_edges", H5T_NATIVE_DOUBLE, 1, dims, edges));
    }
    dims[0] = (uint64_t)in->windows_used;
    SQ_TRY(sq_h5_write_dataset(root, "window_starts", H5T_NATIVE_INT64, 1, dims, in->starts));

    SQ_TRY(sq_h5_group(root, "linears", &linears));
    for (size_t i = 0; i < in->stats->count; i++) {
        if (!in->stats->linears[i].seen)
            continue;
        SQ_TRY(write_linear(linears, &in->stats->linears[i], cfg));
        (*linear_count)++;
    }
    SQ_TRY(sq_h5_write_attr_int(root, "linear_count", *linear_count));

    SQ_TRY(sq_h5_group(root, "routing", &routing));
    SQ_TRY(sq_h5_write_attr_int(routing, "num_experts", in->stats->num_experts));
    SQ_TRY(sq_h5_write_attr_int(routing, "top_k", in->model->config.top_k));
    if (in->stats->expert_tokens) {
        int64_t layers[SQ_MAX_LAYERS];
        for (int i = 0; i < in->stats->moe_layer_count; i++)
            layers[i] = in->stats->moe_layers[i];
        dims[0] = (uint64_t)in->stats->moe_layer_count;
        SQ_TRY(sq_h5_write_dataset(routing, "layers", H5T_NATIVE_INT64, 1, dims, layers));
        dims[1] = (uint64_t)in->stats->num_experts;
        SQ_TRY(sq_h5_write_dataset(routing, "expert_tokens", H5T_NATIVE_INT64, 2, dims, in->stats->expert_tokens));
    }
cleanup:
    sq_h5_close(routing);
    sq_h5_close(linears);
    sq_h5_close(root);
    return st;
}

static sq_status write_artifact(const artifact_contents *in)
{
    sq_status st = SQ_OK;
    const sq_run_config *cfg = in->request->config;
    sq_artifact_writer writer = {0};
    sq_artifact_meta meta = {0};
    char config_sha[SQ_SHA256_HEX] = "";
    int64_t linear_count = 0;

    SQ_TRY(sq_run_config_section_sha256(cfg, "", config_sha));
    meta.kind = "calibration";
    meta.config_sha256 = config_sha;
    meta.plan_key = in->request->plan_key ? in->request->plan_key : "";
    meta.mpi_ranks = in->ranks;
    meta.inputs[meta.input_count++] = in->request->model_path;
    meta.inputs[meta.input_count++] = cfg->data.calibration.path;
    if (strcmp(in->tokenizer, "bytes") != 0)
        meta.inputs[meta.input_count++] = in->tokenizer;
    SQ_TRY(sq_artifact_create(&writer, in->request->out_path, &meta));
    SQ_TRY(write_calibration(writer.file, in, &linear_count));
    SQ_TRY(sq_artifact_commit(&writer));
    sq_info("wrote %s: %lld linears, %d windows, %lld tokens", in->request->out_path, (long long)linear_count,
            in->windows_used, (long long)in->tokens);
cleanup:
    if (st != SQ_OK)
        sq_artifact_abort(&writer);
    return st;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

sq_status sq_calibrate_run(const sq_calibrate_request *request)
{
    sq_status st = SQ_OK;
    const sq_run_config *cfg = request->config;
    /* No data.tokenizer: byte level, as the bundled default models are trained
     * (the same default as evaluate). */
    const char *tokenizer_spec = cfg->data.tokenizer ? cfg->data.tokenizer : "bytes";
    sq_loaded_model loaded;
    sq_model_identity identity = {0};
    sq_tokenizer *tokenizer = NULL;
    sq_model *model = NULL;
    sq_act_stats stats = {0};
    sq_family_hints hints = {.num_heads = cfg->model.num_heads};
    int32_t *tokens = NULL;
    size_t token_count = 0;
    int64_t *starts = NULL;
    float *logits = NULL;
    int rank = 0, size = 1, used = 0, first = 0, last = 0;
    int length = cfg->calibrate.window_length;
    double started = now_seconds();
    bool loaded_ok = false;

    memset(&loaded, 0, sizeof loaded);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    sq_stage_warn_ranks(rank, size, cfg->path, "calibrate", cfg->calibrate.ranks, "statistics");

    if (!cfg->data.calibration.path)
        st = sq_fail(SQ_ERR_USAGE, "%s: data.calibration is not set: give the calibration text or tokens",
                     cfg->path);
    SQ_TRY(sq_mpi_agree(MPI_COMM_WORLD, st));

    st = sq_model_load(request->model_path, cfg->model.family ? cfg->model.family : "auto", &hints, &loaded);
    loaded_ok = st == SQ_OK;
    if (st != SQ_OK)
        sq_error_context("calibrate: loading %s", request->model_path);
    SQ_TRY(sq_mpi_agree(MPI_COMM_WORLD, st));
    if (length < 1 || length > loaded.config.max_seq_length)
        st = sq_fail(SQ_ERR_USAGE, "%s: calibrate.window_length %d is outside 1..%d (the model's max_seq_length)",
                     cfg->path, length, loaded.config.max_seq_length);
    if (st == SQ_OK)
        st = sq_model_identity_compute(&loaded.config, &loaded.tensors, &identity);
    if (st == SQ_OK)
        st = sq_tokenizer_load(tokenizer_spec, &tokenizer);
    if (st == SQ_OK)
        st = sq_tokenizer_check_model(tokenizer, loaded.config.vocab_size, request->model_path);
    if (st == SQ_OK)
        st = sq_data_load_tokens(&cfg->data.calibration, tokenizer, loaded.config.vocab_size, &tokens, &token_count);
    SQ_TRY(sq_mpi_agree(MPI_COMM_WORLD, st));

    used = cfg->calibrate.windows;
    if ((int64_t)token_count / length < used)
        used = (int)((int64_t)token_count / length);
    if (used < 1)
        st = sq_fail(SQ_ERR_INPUT, "%s: %zu calibration tokens, fewer than one window of %d", cfg->data.calibration.path,
                     token_count, length);
    SQ_TRY(sq_mpi_agree(MPI_COMM_WORLD, st));
    if (used < cfg->calibrate.windows)
        sq_warn("%s holds %zu tokens: %d windows of %d instead of the %d asked for", cfg->data.calibration.path,
                token_count, used, length, cfg->calibrate.windows);
    SQ_TRY(sq_alloc(&starts, (size_t)used, sizeof *starts, "window starts"));
    sq_calibrate_window_starts((int64_t)token_count, length, used, starts);

    /* Rank r runs the contiguous block [first, last). */
    first = (int)((int64_t)used * rank / size);
    last = (int)((int64_t)used * (rank + 1) / size);
    st = sq_act_stats_init(&stats, &loaded.tensors, &loaded.config, last - first, cfg->calibrate.hessian,
                           cfg->calibrate.hessian_count);
    if (st == SQ_OK)
        st = sq_model_build(&loaded.config, &loaded.tensors, &model);
    if (st == SQ_OK)
        st = sq_alloc(&logits, (size_t)length * (size_t)loaded.config.vocab_size, sizeof *logits, "logits");
    SQ_TRY(sq_mpi_agree(MPI_COMM_WORLD, st));
    sq_info("calibrating %s on %d windows of %d tokens from %s (%zu tokens), %d rank%s", request->model_path, used,
            length, cfg->data.calibration.path, token_count, size, size == 1 ? "" : "s");

    {
        sq_forward_hooks hooks = sq_act_stats_hooks(&stats);
        sq_progress progress;
        char what[48];
        /* Rank 0 shows its own block; the others' progress is alike (same work). */
        snprintf(what, sizeof what, size > 1 ? "rank 0 of %d: windows" : "windows", size);
        sq_progress_start(&progress, rank == 0, what, last - first, "tok");
        for (int w = first; w < last && st == SQ_OK; w++) {
            stats.current_window = w - first;
            st = sq_model_forward(model, tokens + starts[w], length, logits, &hooks);
            if (st == SQ_OK && stats.hook_status != SQ_OK)
                st = sq_fail(stats.hook_status, "window %d (tokens %lld..%lld): %s", w, (long long)starts[w],
                             (long long)starts[w] + length, stats.hook_error);
            if (st == SQ_OK)
                sq_progress_update(&progress, w - first + 1, (int64_t)(w - first + 1) * length);
        }
        sq_progress_finish(&progress);
    }
    SQ_TRY(sq_mpi_agree(MPI_COMM_WORLD, st));
    SQ_TRY(sq_act_stats_merge(&stats));

    if (rank == 0) {
        artifact_contents contents = {
            .request = request, .model = &loaded, .identity = &identity, .stats = &stats,
            .tokenizer = tokenizer_spec, .starts = starts, .windows_used = used, .ranks = size,
            .data_tokens = (int64_t)token_count, .tokens = (int64_t)used * length,
            .seconds = now_seconds() - started,
        };
        st = write_artifact(&contents);
    }
    SQ_TRY(sq_mpi_agree(MPI_COMM_WORLD, st));
cleanup:
    free(logits);
    free(starts);
    free(tokens);
    if (model)
        sq_model_free(model);
    if (tokenizer)
        sq_tokenizer_free(tokenizer);
    sq_act_stats_free(&stats);
    sq_model_identity_free(&identity);
    if (loaded_ok)
        sq_loaded_model_free(&loaded);
    return st;
}
