/* evaluation_file.c - the evaluation artifact, baselines, JSON summary and the
 * logits dump (evaluation_file.h, docs/artifact-evaluation.md). */
#include "metrics/evaluation_file.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "artifact/artifact.h"

void sq_tokens_sha256(const int32_t *tokens, size_t count, char out[SQ_SHA256_HEX])
{
    /* int32 ids are hashed in memory order; squeeze builds for little-endian hosts. */
    sq_sha256_hex(tokens, count * sizeof(int32_t), out);
}

/* ---- baseline ---------------------------------------------------------- */

sq_status sq_baseline_read(const char *path, sq_baseline_info *info)
{
    sq_status st = SQ_OK;
    hid_t file = -1, group = -1;
    int64_t value;

    memset(info, 0, sizeof *info);
    SQ_TRY(sq_artifact_open(path, "evaluation", &file));
    if (!sq_h5_exists(file, "evaluation"))
        SQ_FAIL(SQ_ERR_INPUT, "%s has no /evaluation group: not a complete evaluation artifact", path);
    group = H5Gopen2(file, "evaluation", H5P_DEFAULT);
    if (group < 0)
        SQ_FAIL(SQ_ERR_INPUT, "cannot open /evaluation in %s", path);
    SQ_TRY(sq_h5_read_attr_int(group, "window_length", &value));
    info->window_length = (int)value;
    SQ_TRY(sq_h5_read_attr_int(group, "stride", &value));
    info->stride = (int)value;
    SQ_TRY(sq_h5_read_attr_int(group, "offset", &value));
    info->offset = (int)value;
    SQ_TRY(sq_h5_read_attr_int(group, "windows", &info->windows));
    SQ_TRY(sq_h5_read_attr_int(group, "scored_tokens", &info->scored_tokens));
    SQ_TRY(sq_h5_read_attr_int(group, "model_file_bytes", &value));
    info->file_bytes = (uint64_t)value;
    SQ_TRY(sq_h5_read_attr_int(group, "model_tensor_bytes", &value));
    info->tensor_bytes = (uint64_t)value;
    SQ_TRY(sq_h5_read_attr_double(group, "perplexity", &info->perplexity));
    SQ_TRY(sq_h5_read_attr_text(group, "scoring", info->scoring, sizeof info->scoring));
    SQ_TRY(sq_h5_read_attr_text(group, "tokens_sha256", info->tokens_sha256, sizeof info->tokens_sha256));
    if (sq_h5_exists(group, "logprobs")) {
        int ndim = 0;
        uint64_t dims[8] = {0};
        if (sq_h5_dataset_shape(group, "logprobs", &ndim, dims) != SQ_OK || ndim != 2)
            SQ_FAIL(SQ_ERR_INPUT, "%s: /evaluation/logprobs is not a 2-D dataset [scored, vocab]", path);
        info->has_logprobs = true;
        info->logprob_rows = (int64_t)dims[0];
        info->vocab = (int)dims[1];
    }
cleanup:
    if (st != SQ_OK)
        sq_error_context("reading the baseline evaluation %s", path);
    sq_h5_close(group);
    sq_h5_close(file);
    return st;
}

sq_status sq_baseline_check(const char *path, const sq_baseline_info *info, const sq_window_plan *plan,
                            const char *tokens_sha256, int vocab)
{
    const char *scoring = sq_scoring_name(plan->scoring);
    if (info->window_length != plan->window_length || info->stride != plan->stride || info->offset != plan->offset ||
        strcmp(info->scoring, scoring) != 0 || info->windows != plan->count ||
        strcmp(info->tokens_sha256, tokens_sha256) != 0)
        return sq_fail(SQ_ERR_INPUT,
                       "baseline %s comes from a different evaluation setup: baseline window_length %d, stride %d, "
                       "scoring %s, offset %d, %lld windows, text sha256 %.16s; this evaluation window_length %d, "
                       "stride %d, scoring %s, offset %d, %lld windows, text sha256 %.16s. Evaluate the baseline "
                       "and this model with the same evaluate section and data.evaluation",
                       path, info->window_length, info->stride, info->scoring, info->offset,
                       (long long)info->windows, info->tokens_sha256, plan->window_length, plan->stride, scoring,
                       plan->offset, (long long)plan->count, tokens_sha256);
    if (!info->has_logprobs)
        return sq_fail(SQ_ERR_INPUT, "baseline %s holds no log-probs, so the KL divergence cannot be measured: "
                                     "evaluate the baseline with evaluate.store_logprobs: true", path);
    if (info->vocab != vocab || info->logprob_rows != plan->scored)
        return sq_fail(SQ_ERR_INPUT, "baseline %s holds log-probs [%lld, %d] but this evaluation scores [%lld, %d] "
                                     "(positions, vocabulary): the models or setups differ",
                       path, (long long)info->logprob_rows, info->vocab, (long long)plan->scored, vocab);
    return SQ_OK;
}

sq_status sq_baseline_read_rows(const char *path, int64_t row_first, int64_t rows, int vocab, uint16_t **out)
{
    sq_status st = SQ_OK;
    hid_t file = -1;

    *out = NULL;
    SQ_TRY(sq_artifact_open(path, "evaluation", &file));
    if (!sq_h5_exists(file, "evaluation/logprobs"))
        SQ_FAIL(SQ_ERR_INPUT, "%s has no /evaluation/logprobs: evaluate the baseline with "
                              "evaluate.store_logprobs: true", path);
    /* Read the stored half-precision bits as they are (no conversion): kl.c
     * converts them exactly with sq_f16_to_f32. */
    st = sq_h5_read_rows(file, "evaluation/logprobs", sq_h5_f16_type(), row_first, rows, (uint64_t)vocab,
                         (void **)out);
    if (st != SQ_OK)
        sq_error_context("the baseline log-probs of %s", path);
cleanup:
    sq_h5_close(file);
    return st;
}

/* ---- derived comparisons ------------------------------------------------ */

typedef struct {
    double ratio_file_bytes, ratio_tensor_bytes, ppl_change_pct;
} comparison;

static comparison compare_to_baseline(const sq_eval_record *record, const sq_eval_result *result)
{
    comparison c;
    const sq_baseline_info *b = record->baseline;
    /* Both byte counts were measured (stat() / stored buffers) by the stage that owned them. */
    c.ratio_file_bytes = record->model_file_bytes ? (double)b->file_bytes / (double)record->model_file_bytes : NAN;
    c.ratio_tensor_bytes =
        record->model_tensor_bytes ? (double)b->tensor_bytes / (double)record->model_tensor_bytes : NAN;
    c.ppl_change_pct = (result->perplexity - b->perplexity) / b->perplexity * 100.0;
    return c;
}

/* ---- the artifact -------------------------------------------------------- */

sq_status sq_evaluation_write(hid_t file, const sq_eval_record *record, const sq_window_plan *plan,
                              const sq_eval_result *result)
{
    sq_status st = SQ_OK;
    hid_t g = -1;
    uint64_t dims[2] = {(uint64_t)plan->count, 0};
    int64_t *starts = NULL;

    SQ_TRY(sq_h5_group(file, "evaluation", &g));
    SQ_TRY(sq_h5_write_attr_string(g, "variant", record->variant));
    SQ_TRY(sq_h5_write_attr_string(g, "model_path", record->model_path));
    SQ_TRY(sq_h5_write_attr_string(g, "model_kind", record->model_kind));
    /* family, config_json, model_tensors_sha256, model_tensor_count: which
     * model this measures (for a compressed one, the model it was compressed
     * from); the report compares them across a run's evaluations. */
    SQ_TRY(sq_model_identity_write_attrs(g, "", record->identity));
    SQ_TRY(sq_h5_write_attr_double(g, "perplexity", result->perplexity));
    SQ_TRY(sq_h5_write_attr_double(g, "mean_nll", result->mean_nll));
    SQ_TRY(sq_h5_write_attr_double(g, "nll_std", result->nll_std));
    SQ_TRY(sq_h5_write_attr_double(g, "ppl_stderr", result->ppl_stderr));
    SQ_TRY(sq_h5_write_attr_int(g, "scored_tokens", result->scored));
    SQ_TRY(sq_h5_write_attr_int(g, "processed_tokens", result->processed));
    SQ_TRY(sq_h5_write_attr_int(g, "windows", plan->count));
    SQ_TRY(sq_h5_write_attr_int(g, "window_length", plan->window_length));
    SQ_TRY(sq_h5_write_attr_int(g, "window_inputs", plan->inputs));
    SQ_TRY(sq_h5_write_attr_int(g, "stride", plan->stride));
    SQ_TRY(sq_h5_write_attr_string(g, "scoring", sq_scoring_name(plan->scoring)));
    SQ_TRY(sq_h5_write_attr_int(g, "offset", plan->offset));
    SQ_TRY(sq_h5_write_attr_int(g, "max_windows", record->max_windows));
    SQ_TRY(sq_h5_write_attr_int(g, "mpi_ranks", record->ranks));
    SQ_TRY(sq_h5_write_attr_string(g, "rank_distribution", "contiguous"));
    SQ_TRY(sq_h5_write_attr_double(g, "tokens_per_second", result->tokens_per_second));
    SQ_TRY(sq_h5_write_attr_double(g, "scored_tokens_per_second", result->scored_tokens_per_second));
    SQ_TRY(sq_h5_write_attr_double(g, "seconds", result->seconds));
    SQ_TRY(sq_h5_write_attr_double(g, "forward_seconds", result->forward_seconds));
    SQ_TRY(sq_h5_write_attr_double(g, "forward_cpu_seconds", result->forward_cpu_seconds));
    SQ_TRY(sq_h5_write_attr_double(g, "loop_cpu_seconds", result->cpu_seconds));
    SQ_TRY(sq_h5_write_attr_int(g, "peak_rss_bytes", (int64_t)result->peak_rss_bytes));
    SQ_TRY(sq_h5_write_attr_int(g, "weight_bytes_in_memory", (int64_t)record->weight_bytes));
    SQ_TRY(sq_h5_write_attr_int(g, "activation_bytes_in_memory", (int64_t)record->activation_bytes));
    SQ_TRY(sq_h5_write_attr_int(g, "buffer_bytes_in_memory", (int64_t)record->buffer_bytes));
    if (record->kernels) {
        SQ_TRY(sq_h5_write_attr_string(g, "kernels", record->kernels));
        SQ_TRY(sq_h5_write_attr_string(g, "kernels_per_tensor", record->kernels_per_tensor ? record->kernels_per_tensor : ""));
    }
    SQ_TRY(sq_h5_write_attr_int(g, "model_file_bytes", (int64_t)record->model_file_bytes));
    SQ_TRY(sq_h5_write_attr_int(g, "model_tensor_bytes", (int64_t)record->model_tensor_bytes));
    SQ_TRY(sq_h5_write_attr_string(g, "tokenizer", record->tokenizer));
    SQ_TRY(sq_h5_write_attr_string(g, "data_path", record->data->path ? record->data->path : ""));
    SQ_TRY(sq_h5_write_attr_string(g, "data_format", record->data->format ? record->data->format : "text"));
    SQ_TRY(sq_h5_write_attr_double(g, "data_start", record->data->start));
    SQ_TRY(sq_h5_write_attr_double(g, "data_end", record->data->end));
    SQ_TRY(sq_h5_write_attr_int(g, "text_tokens", record->token_count));
    SQ_TRY(sq_h5_write_attr_string(g, "tokens_sha256", record->tokens_sha256));
    SQ_TRY(sq_h5_write_attr_double(g, "unigram_perplexity", record->unigram_perplexity));
    SQ_TRY(sq_h5_write_attr_int(g, "unknown_token_id", record->unknown_token_id));
    SQ_TRY(sq_h5_write_attr_int(g, "unknown_tokens", record->unknown_tokens));
    SQ_TRY(sq_h5_write_attr_double(g, "unknown_token_rate",
                                   record->token_count ? (double)record->unknown_tokens / (double)record->token_count : 0));
    if (!isnan(result->side_perplexity)) {
        SQ_TRY(sq_h5_write_attr_int(g, "side_offset", plan->offset + 1));
        SQ_TRY(sq_h5_write_attr_double(g, "side_perplexity", result->side_perplexity));
        SQ_TRY(sq_h5_write_attr_double(g, "side_mean_nll", result->side_mean_nll));
        SQ_TRY(sq_h5_write_attr_int(g, "side_scored_tokens", result->side_scored));
    }
    if (record->baseline != NULL) {
        comparison c = compare_to_baseline(record, result);
        SQ_TRY(sq_h5_write_attr_string(g, "baseline_path", record->baseline_path));
        SQ_TRY(sq_h5_write_attr_int(g, "baseline_file_bytes", (int64_t)record->baseline->file_bytes));
        SQ_TRY(sq_h5_write_attr_int(g, "baseline_tensor_bytes", (int64_t)record->baseline->tensor_bytes));
        SQ_TRY(sq_h5_write_attr_double(g, "ratio_file_bytes", c.ratio_file_bytes));
        SQ_TRY(sq_h5_write_attr_double(g, "ratio_tensor_bytes", c.ratio_tensor_bytes));
        SQ_TRY(sq_h5_write_attr_double(g, "baseline_perplexity", record->baseline->perplexity));
        SQ_TRY(sq_h5_write_attr_double(g, "ppl_change_pct", c.ppl_change_pct));
        SQ_TRY(sq_h5_write_attr_double(g, "kl_divergence", result->kl_divergence));
    }
    SQ_TRY(sq_h5_write_dataset(g, "window_nll", H5T_NATIVE_DOUBLE, 1, dims, result->window_nll));
    SQ_TRY(sq_h5_write_dataset(g, "window_tokens", H5T_NATIVE_INT64, 1, dims, result->window_tokens));
    SQ_TRY(sq_alloc(&starts, (size_t)plan->count, sizeof(int64_t), "window starts"));
    for (int64_t w = 0; w < plan->count; w++)
        starts[w] = plan->windows[w].start;
    SQ_TRY(sq_h5_write_dataset(g, "window_start", H5T_NATIVE_INT64, 1, dims, starts));
    if (result->window_kl != NULL)
        SQ_TRY(sq_h5_write_dataset(g, "window_kl", H5T_NATIVE_DOUBLE, 1, dims, result->window_kl));
    if (result->logprobs != NULL) {
        uint64_t lp_dims[2] = {(uint64_t)result->logprob_rows, (uint64_t)result->vocab};
        SQ_TRY(sq_h5_write_dataset(g, "logprobs", sq_h5_f16_type(), 2, lp_dims, result->logprobs));
    }
cleanup:
    free(starts);
    sq_h5_close(g);
    return st;
}

/* ---- --json ------------------------------------------------------------- */

sq_status sq_evaluation_json(const sq_eval_record *record, const sq_window_plan *plan, const sq_eval_result *result,
                             char **json)
{
    json_t *o = json_object();
    json_object_set_new(o, "variant", json_string(record->variant));
    json_object_set_new(o, "model_path", json_string(record->model_path));
    json_object_set_new(o, "family", json_string(record->identity->family));
    json_object_set_new(o, "model_tensors_sha256", json_string(record->identity->tensors_sha256));
    json_object_set_new(o, "perplexity", json_real(result->perplexity));
    json_object_set_new(o, "mean_nll", json_real(result->mean_nll));
    json_object_set_new(o, "nll_std", json_real(result->nll_std));
    json_object_set_new(o, "ppl_stderr", json_real(result->ppl_stderr));
    json_object_set_new(o, "scored_tokens", json_integer(result->scored));
    json_object_set_new(o, "processed_tokens", json_integer(result->processed));
    json_object_set_new(o, "windows", json_integer(plan->count));
    json_object_set_new(o, "window_length", json_integer(plan->window_length));
    json_object_set_new(o, "stride", json_integer(plan->stride));
    json_object_set_new(o, "scoring", json_string(sq_scoring_name(plan->scoring)));
    json_object_set_new(o, "offset", json_integer(plan->offset));
    json_object_set_new(o, "ranks", json_integer(record->ranks));
    json_object_set_new(o, "tokens_per_second", json_real(result->tokens_per_second));
    json_object_set_new(o, "seconds", json_real(result->seconds));
    json_object_set_new(o, "forward_seconds", json_real(result->forward_seconds));
    json_object_set_new(o, "forward_cpu_seconds", json_real(result->forward_cpu_seconds));
    json_object_set_new(o, "loop_cpu_seconds", json_real(result->cpu_seconds));
    json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)result->peak_rss_bytes));
    json_object_set_new(o, "weight_bytes_in_memory", json_integer((json_int_t)record->weight_bytes));
    json_object_set_new(o, "activation_bytes_in_memory", json_integer((json_int_t)record->activation_bytes));
    json_object_set_new(o, "buffer_bytes_in_memory", json_integer((json_int_t)record->buffer_bytes));
    if (record->kernels) {
        json_object_set_new(o, "kernels", json_string(record->kernels));
        json_object_set_new(o, "kernels_per_tensor",
                            json_string(record->kernels_per_tensor ? record->kernels_per_tensor : ""));
    }
    json_object_set_new(o, "model_file_bytes", json_integer((json_int_t)record->model_file_bytes));
    json_object_set_new(o, "model_tensor_bytes", json_integer((json_int_t)record->model_tensor_bytes));
    json_object_set_new(o, "unigram_perplexity", json_real(record->unigram_perplexity));
    json_object_set_new(o, "unknown_token_id", json_integer(record->unknown_token_id));
    json_object_set_new(o, "unknown_tokens", json_integer((json_int_t)record->unknown_tokens));
    json_object_set_new(o, "unknown_token_rate",
                        json_real(record->token_count ? (double)record->unknown_tokens / (double)record->token_count : 0));
    if (!isnan(result->side_perplexity)) {
        json_object_set_new(o, "side_offset", json_integer(plan->offset + 1));
        json_object_set_new(o, "side_perplexity", json_real(result->side_perplexity));
        json_object_set_new(o, "side_mean_nll", json_real(result->side_mean_nll));
    }
    if (record->baseline != NULL) {
        comparison c = compare_to_baseline(record, result);
        json_object_set_new(o, "baseline_perplexity", json_real(record->baseline->perplexity));
        json_object_set_new(o, "ppl_change_pct", json_real(c.ppl_change_pct));
        json_object_set_new(o, "kl_divergence", json_real(result->kl_divergence));
        json_object_set_new(o, "baseline_file_bytes", json_integer((json_int_t)record->baseline->file_bytes));
        json_object_set_new(o, "baseline_tensor_bytes", json_integer((json_int_t)record->baseline->tensor_bytes));
        json_object_set_new(o, "ratio_file_bytes", json_real(c.ratio_file_bytes));
        json_object_set_new(o, "ratio_tensor_bytes", json_real(c.ratio_tensor_bytes));
    }
    *json = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (*json == NULL)
        return sq_fail(SQ_ERR_RUN, "cannot format the JSON summary (a value is not finite?)");
    return SQ_OK;
}

/* ---- --dump-logits ------------------------------------------------------ */

sq_status sq_dump_first_window_logits(const char *path, sq_model *model, const int32_t *tokens,
                                      const sq_window_plan *plan)
{
    sq_status st = SQ_OK;
    int vocab = sq_model_get_config(model)->vocab_size;
    int inputs = plan->inputs;
    float *logits = NULL;
    int32_t *targets = NULL;
    char *temp = NULL;
    hid_t file = -1;
    uint64_t dims[2] = {(uint64_t)inputs, (uint64_t)vocab};
    const int32_t *window = tokens + plan->windows[0].start;

    SQ_TRY(sq_alloc(&logits, (size_t)inputs * (size_t)vocab, sizeof(float), "dumped logits"));
    SQ_TRY(sq_alloc(&targets, (size_t)inputs, sizeof(int32_t), "dumped targets"));
    SQ_TRY(sq_alloc(&temp, strlen(path) + 32, 1, "temporary path"));
    snprintf(temp, strlen(path) + 32, "%s.tmp.%ld", path, (long)getpid());
    SQ_TRY(sq_model_forward(model, window, inputs, logits, NULL));
    for (int t = 0; t < inputs; t++)
        targets[t] = window[t + plan->offset];
    file = H5Fcreate(temp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0)
        SQ_FAIL(SQ_ERR_RUN, "cannot create %s for --dump-logits (is the folder there and writable?)", temp);
    SQ_TRY(sq_h5_write_dataset(file, "logits", H5T_NATIVE_FLOAT, 2, dims, logits));
    SQ_TRY(sq_h5_write_dataset(file, "tokens", H5T_NATIVE_INT32, 1, dims, window));
    SQ_TRY(sq_h5_write_dataset(file, "targets", H5T_NATIVE_INT32, 1, dims, targets));
    SQ_TRY(sq_h5_write_attr_int(file, "offset", plan->offset));
    SQ_TRY(sq_h5_write_attr_int(file, "window_start", plan->windows[0].start));
    SQ_TRY(sq_h5_write_attr_int(file, "window_length", plan->window_length));
    if (H5Fclose(file) < 0) {
        file = -1;
        SQ_FAIL(SQ_ERR_RUN, "cannot finish writing %s", temp);
    }
    file = -1;
    if (rename(temp, path) != 0)
        SQ_FAIL(SQ_ERR_RUN, "cannot rename %s to %s: %s", temp, path, strerror(errno));
cleanup:
    sq_h5_close(file);
    if (st != SQ_OK && temp != NULL)
        unlink(temp);
    free(temp);
    free(logits);
    free(targets);
    return st;
}
