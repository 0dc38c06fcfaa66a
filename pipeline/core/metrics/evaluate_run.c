/* evaluate_run.c - the evaluate stage's orchestration: model, text, window
 * plan, baseline, the windows over MPI ranks, and the root's log lines,
 * artifact, --dump-logits file and --json summary (evaluate_run.h).
 * Windows, offsets and scoring: docs/evaluate.md; the artifact:
 * docs/artifact-evaluation.md.
 */
#include "metrics/evaluate_run.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "calib/model_identity.h"
#include "cli/stage_main.h"
#include "metrics/evaluation.h"
#include "metrics/evaluation_file.h"
#include "metrics/unigram.h"
#include "metrics/unknown_tokens.h"
#include "metrics/windows.h"
#include "modelio/loader.h"
#include "models/forward.h"
#include "tokenize/tokenizer.h"
#include "util/log.h"
#include "util/mpi_agree.h"

/* The evaluate section as window options; "given" tells a set key from a default. */
/* Default variant: "baseline" without a baseline, else the model's folder
 * (results/<run>/compress/<variant>/model.h5). */
static void default_variant(const sq_evaluate_request *request, char *out, size_t size)
{
    char *folder_copy = strdup(request->model_path), *file_copy = strdup(request->model_path);
    const char *folder = folder_copy ? basename(dirname(folder_copy)) : ".";
    if (request->baseline_path == NULL)
        snprintf(out, size, "baseline");
    else if (strcmp(folder, ".") != 0 && strcmp(folder, "/") != 0)
        snprintf(out, size, "%s", folder);
    else /* a model in the current folder: its file name */
        snprintf(out, size, "%s", file_copy ? basename(file_copy) : "model");
    free(folder_copy);
    free(file_copy);
}

/* Which kernel runs each linear weight: *summary counts them per kernel ("20 x int8xq8/avx512,
 * 15 x f32-panel/avx2", prefixed "dequantized: " on the reference path, as docs/report.md reads
 * it), *per_tensor has a "tensor kernel/isa bytes" line each; both malloc'd. */
static sq_status describe_kernels(const sq_model *model, bool dequantized, int rank, char **summary,
                                  char **per_tensor, uint64_t *linear_bytes)
{
    char kinds[8][64], kernel[64];
    int counts[8] = {0}, kind_count = 0, n = sq_model_linear_count(model);
    size_t size = (size_t)n * 200 + 1, used = 0;
    *linear_bytes = 0;
    *summary = malloc(640);
    *per_tensor = malloc(size);
    if (*summary == NULL || *per_tensor == NULL)
        return sq_fail(SQ_ERR_RUN, "out of memory for the kernel list");
    (*per_tensor)[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *name;
        size_t bytes;
        int k = 0;
        sq_model_linear_at(model, i, &name, kernel, sizeof kernel, &bytes);
        used += (size_t)snprintf(*per_tensor + used, size - used, "%.100s %s %zu\n", name, kernel, bytes);
        *linear_bytes += bytes;
        while (k < kind_count && strcmp(kinds[k], kernel) != 0)
            k++;
        if (k == kind_count && kind_count < 8)
            snprintf(kinds[kind_count++], sizeof kinds[0], "%s", kernel);
        if (k < kind_count)
            counts[k]++;
    }
    snprintf(*summary, 640, "%s", dequantized ? "dequantized: " : "");
    for (int k = 0; k < kind_count; k++)
        snprintf(*summary + strlen(*summary), 640 - strlen(*summary), "%s%d x %s", k ? ", " : "", counts[k],
                 kinds[k]);
    if (rank == 0)
        sq_info("kernels: %s; linear weights %.2f MiB in memory, model %.2f MiB", *summary,
                (double)*linear_bytes / 1048576.0, (double)sq_model_weight_bytes(model) / 1048576.0);
    return SQ_OK;
}

/* The root's summary of the measured numbers on stderr. */
static void log_results(const sq_evaluate_request *request, const sq_loaded_model *loaded,
                        const sq_eval_options *eval_options, const sq_baseline_info *baseline,
                        const sq_eval_record *record, const sq_eval_result *result, int offset)
{
    const uint64_t held = record->weight_bytes + record->activation_bytes + record->buffer_bytes;
    sq_info("perplexity %.6g (mean NLL %.6g +- %.3g per token, stderr %.3g) over %lld tokens; %.0f tokens/s "
            "(%lld positions in %.3f s of forward), model %llu bytes on disk",
            result->perplexity, result->mean_nll, result->nll_std, result->ppl_stderr, (long long)result->scored,
            result->tokens_per_second, (long long)result->processed, result->forward_seconds,
            (unsigned long long)loaded->file_bytes);
    /* the rest of the peak: the program, its libraries, MPI, HDF5, and what loading held at its height */
    sq_info("peak RSS %.1f MiB: weights %.1f MiB, activations %.1f MiB, evaluation buffers %.1f MiB, the rest %.1f MiB",
            (double)result->peak_rss_bytes / 1048576.0, (double)record->weight_bytes / 1048576.0,
            (double)record->activation_bytes / 1048576.0, (double)record->buffer_bytes / 1048576.0,
            ((double)result->peak_rss_bytes - (double)held) / 1048576.0);
    if (eval_options->side_offset && result->side_scored > 0) {
        sq_info("same windows scored against token t+2: perplexity %.6g over %lld tokens",
                result->side_perplexity, (long long)result->side_scored);
        /* Itera-Lite's Phase 3/4 models were trained with a double shift (itera-lite.md 0.2). */
        if (result->side_perplexity < result->perplexity / 2.0)
            sq_warn("the model predicts token t+2 far better than t+1 (perplexity %.4g at offset 2 vs %.4g at "
                    "offset 1): it appears trained to predict t+2, as Itera-Lite's Phase 3/4 models are; "
                    "set evaluate.offset: 2 to measure what it was trained for",
                    result->side_perplexity, result->perplexity);
    }
    if (record->unigram_perplexity > 0 && result->perplexity > SQ_UNIGRAM_WARN_FACTOR * record->unigram_perplexity)
        sq_warn("perplexity %.6g is %.1f times that of a unigram model of the same text (%.6g: the text's own token "
                "frequencies, no model at all): the model is not reading this text as it was trained to. Check "
                "that data.tokenizer (%s) is the tokenizer the model was trained with and that evaluate.offset "
                "(%d) is what it predicts", result->perplexity, result->perplexity / record->unigram_perplexity,
                record->unigram_perplexity, record->tokenizer, offset);
    char unknown[1024];
    if (sq_unknown_token_warning((size_t)record->unknown_tokens, (size_t)record->token_count, record->unknown_token_id,
                                 record->tokenizer, "data.evaluation", unknown, sizeof unknown)[0])
        sq_warn("%s", unknown);
    if (request->baseline_path != NULL)
        sq_info("against baseline %s: KL %.6g per token, perplexity %.6g -> %.6g, file bytes %llu -> %llu, "
                "tensor bytes %llu -> %llu", request->baseline_path, result->kl_divergence, baseline->perplexity,
                result->perplexity, (unsigned long long)baseline->file_bytes,
                (unsigned long long)loaded->file_bytes, (unsigned long long)baseline->tensor_bytes,
                (unsigned long long)loaded->tensor_bytes);
}

/* The root writes the artifact (and the --dump-logits file, and the --json
 * summary when asked) and commits it only when all of them succeeded. */
static sq_status write_on_root(const sq_evaluate_request *request, const sq_eval_record *record,
                               const sq_window_plan *plan, const sq_eval_result *result, sq_model *model,
                               const int32_t *tokens, char **json)
{
    sq_status st;
    sq_artifact_writer writer = {.file = -1};
    char config_sha[SQ_SHA256_HEX] = "";

    st = sq_run_config_section_sha256(request->config, "", config_sha);
    if (st == SQ_OK) {
        sq_artifact_meta meta = {.kind = "evaluation", .config_sha256 = config_sha,
                                 .plan_key = request->plan_key ? request->plan_key : "",
                                 .mpi_ranks = record->ranks, .input_count = request->baseline_path ? 2 : 1,
                                 .inputs = {request->model_path, request->baseline_path}};
        st = sq_artifact_create(&writer, request->out_path, &meta);
    }
    if (st == SQ_OK)
        st = sq_evaluation_write(writer.file, record, plan, result);
    if (st == SQ_OK && request->dump_logits_path != NULL)
        st = sq_dump_first_window_logits(request->dump_logits_path, model, tokens, plan);
    if (st == SQ_OK && json != NULL)
        st = sq_evaluation_json(record, plan, result, json);
    if (st == SQ_OK)
        st = sq_artifact_commit(&writer);
    else
        sq_artifact_abort(&writer);
    if (st == SQ_OK)
        sq_info("wrote %s", request->out_path);
    return st;
}

sq_status sq_evaluate_run(const sq_evaluate_request *request, MPI_Comm comm, char **summary_json)
{
    sq_status st = SQ_OK;
    const sq_run_config *cfg = request->config;
    sq_loaded_model loaded;
    sq_model *model = NULL;
    sq_tokenizer *tokenizer = NULL;
    int32_t *tokens = NULL;
    size_t token_count = 0;
    sq_window_options window_options;
    sq_window_plan plan;
    sq_baseline_info baseline;
    sq_eval_options eval_options;
    sq_eval_result result;
    sq_eval_record record;
    sq_model_identity identity = {0};
    char tokens_sha[SQ_SHA256_HEX], variant[256];
    char *json = NULL, *kernels = NULL, *kernels_per_tensor = NULL;
    uint64_t linear_bytes = 0;
    bool model_loaded = false;
    sq_family_hints hints = {0};
    int rank = 0, ranks = 1;

    memset(&loaded, 0, sizeof loaded);
    memset(&plan, 0, sizeof plan);
    memset(&result, 0, sizeof result);
    if (summary_json != NULL)
        *summary_json = NULL;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &ranks);
    sq_stage_warn_ranks(rank, ranks, cfg->path, "evaluate", cfg->evaluate.ranks, "numbers");

    /* Model, tokens, plan, baseline: every rank, agreed step by step. */
    if (cfg->data.evaluation.path == NULL)
        st = sq_fail(SQ_ERR_USAGE, "%s: data.evaluation.path is not set: name the text to evaluate on",
                     cfg->path);
    SQ_TRY(sq_mpi_agree(comm, st));

    hints.num_heads = cfg->model.num_heads;
    st = sq_model_load_packed(request->model_path, cfg->model.family, &hints, &loaded);
    model_loaded = st == SQ_OK;
    if (st == SQ_OK)
        st = sq_model_identity_of_loaded(request->model_path, &loaded, &identity);
    if (st == SQ_OK) {
        /* One copy of the weights: each tensor's data goes once the model holds its own form */
        sq_model_build_options build = {.packed = loaded.packed, .packed_count = loaded.packed_count,
                                        .fp32_activations = cfg->evaluate.fp32_activations,
                                        .dequantized = cfg->evaluate.dequantized, .release = true};
        st = sq_model_build_ex(&loaded.config, &loaded.tensors, &build, &model);
        if (st != SQ_OK)
            sq_error_context("building the model of %s", request->model_path);
        else
            st = describe_kernels(model, cfg->evaluate.dequantized && loaded.packed_count > 0, rank, &kernels,
                                  &kernels_per_tensor, &linear_bytes);
    }
    SQ_TRY(sq_mpi_agree(comm, st));

    /* No data.tokenizer: byte level, as the bundled default models are trained. */
    st = sq_tokenizer_load(cfg->data.tokenizer ? cfg->data.tokenizer : "bytes", &tokenizer);
    if (st == SQ_OK)
        st = sq_tokenizer_check_model(tokenizer, loaded.config.vocab_size, request->model_path);
    if (st == SQ_OK)
        st = sq_data_load_tokens(&cfg->data.evaluation, tokenizer, loaded.config.vocab_size, &tokens, &token_count);
    SQ_TRY(sq_mpi_agree(comm, st));

    sq_window_options_from_config(cfg, &window_options);
    SQ_TRY(sq_mpi_agree(comm, sq_window_plan_build(&window_options, loaded.config.max_seq_length,
                                                   (int64_t)token_count, &plan)));
    if (plan.note[0] != '\0')
        sq_warn("%s", plan.note);
    sq_info("%s model %s (%s): %lld windows of %d tokens (%d fed to the model, offset %d), stride %d, scoring %s: "
            "%lld predictions scored of %zu text tokens (%lld after the last window unused), %d rank%s",
            loaded.config.family, request->model_path, loaded.kind, (long long)plan.count, plan.window_length,
            plan.inputs, plan.offset, plan.stride, sq_scoring_name(plan.scoring), (long long)plan.scored,
            token_count, (long long)plan.unused_tail, ranks, ranks == 1 ? "" : "s");

    sq_tokens_sha256(tokens, token_count, tokens_sha);
    memset(&eval_options, 0, sizeof eval_options);
    eval_options.store_logprobs = cfg->evaluate.store_logprobs;
    eval_options.side_offset = plan.offset == 1;
    if (request->baseline_path != NULL) {
        st = sq_baseline_read(request->baseline_path, &baseline);
        if (st == SQ_OK)
            st = sq_baseline_check(request->baseline_path, &baseline, &plan, tokens_sha, loaded.config.vocab_size);
        SQ_TRY(sq_mpi_agree(comm, st));
        eval_options.baseline_path = request->baseline_path;
        eval_options.baseline_rows = baseline.logprob_rows;
    }

    SQ_TRY(sq_evaluate(comm, model, tokens, &plan, &eval_options, &result));

    /* The root reports and writes; the others wait for its verdict. */
    if (rank == 0) {
        if (request->variant)
            snprintf(variant, sizeof variant, "%s", request->variant);
        else
            default_variant(request, variant, sizeof variant);
        record = (sq_eval_record){
            .variant = variant, .model_path = request->model_path, .model_kind = loaded.kind,
            .identity = &identity, .model_file_bytes = loaded.file_bytes,
            .model_tensor_bytes = loaded.tensor_bytes, .tokenizer = cfg->data.tokenizer ? cfg->data.tokenizer : "bytes",
            .data = &cfg->data.evaluation, .token_count = (int64_t)token_count, .tokens_sha256 = tokens_sha,
            .ranks = ranks, .max_windows = cfg->evaluate.max_windows,
            .baseline_path = request->baseline_path, .baseline = request->baseline_path ? &baseline : NULL,
            .kernels = kernels, .kernels_per_tensor = kernels_per_tensor,
            .weight_bytes = sq_model_weight_bytes(model), .activation_bytes = sq_model_activation_bytes(model),
            .buffer_bytes = result.buffer_bytes + (uint64_t)token_count * sizeof *tokens,
        };
        sq_tokenizer_info tokenizer_info;
        sq_tokenizer_get_info(tokenizer, &tokenizer_info);
        record.unknown_token_id = tokenizer_info.unk_id;
        record.unknown_tokens = (int64_t)sq_unknown_token_count(tokens, token_count, tokenizer_info.unk_id);
        st = sq_unigram_perplexity(tokens, token_count, loaded.config.vocab_size, &record.unigram_perplexity);
        if (st == SQ_OK)
            log_results(request, &loaded, &eval_options, &baseline, &record, &result, plan.offset);
        if (st == SQ_OK)
        st = write_on_root(request, &record, &plan, &result, model, tokens, summary_json ? &json : NULL);
    }
    SQ_TRY(sq_mpi_agree(comm, st));
    if (summary_json != NULL) {
        *summary_json = json;
        json = NULL;
    }
cleanup:
    free(json);
    free(kernels);
    free(kernels_per_tensor);
    sq_eval_result_free(&result);
    sq_window_plan_free(&plan);
    free(tokens);
    if (tokenizer)
        sq_tokenizer_free(tokenizer);
    if (model)
        sq_model_free(model);
    sq_model_identity_free(&identity);
    if (model_loaded)
        sq_loaded_model_free(&loaded);
    return st;
}
