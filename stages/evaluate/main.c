/* squeeze-evaluate: perplexity, KL to a baseline, speed, memory and measured
 * compression ratios of a model on the run's evaluation text (MPI).
 *
 *   squeeze-evaluate --config F --model MODEL.h5|INSPECT.h5|CHECKPOINT --out evaluation.h5
 *                    [--baseline BASELINE_EVALUATION.h5] [--variant NAME] [--json]
 *                    [--dump-logits FILE] [--key KEY]
 *
 * Runs as one process without mpirun; with N ranks the windows are split into
 * N contiguous blocks and the numbers are bit-identical (metrics/evaluation.h).
 * Every step that can fail is agreed on by all ranks before the next
 * collective call, so a bad input stops every rank with the same exit code.
 * Windows, offsets and scoring: docs/evaluate.md; the artifact:
 * docs/artifact-evaluation.md.
 */
#include <cblas.h>
#include <libgen.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "calib/model_identity.h"
#include "cli/stage_options.h"
#include "config/run_config.h"
#include "metrics/evaluation.h"
#include "metrics/evaluation_file.h"
#include "metrics/windows.h"
#include "models/forward.h"
#include "models/loader.h"
#include "tokenize/tokenizer.h"
#include "util/log.h"

typedef struct {
    const char *config, *model, *out, *baseline, *variant, *dump_logits, *key;
    bool json, help;
} evaluate_args;

static const char usage_text[] =
    "usage: squeeze-evaluate --config FILE --model MODEL.h5|INSPECT.h5|CHECKPOINT --out evaluation.h5\n"
    "                        [--baseline BASELINE_EVALUATION.h5] [--variant NAME] [--json]\n"
    "                        [--dump-logits FILE] [--key KEY]\n"
    "\n"
    "Measures the model's perplexity on the config's data.evaluation text over the windows of its\n"
    "evaluate section (window_length, stride, scoring all|new|second-half, offset, max_windows),\n"
    "its speed, peak memory and bytes; with --baseline, the KL divergence to the baseline and the\n"
    "measured compression ratios. An MPI program: mpirun -np N squeeze-evaluate ... gives the same\n"
    "numbers for any N.\n"
    "\n"
    "  --config FILE        the run's YAML (data.tokenizer, data.evaluation, evaluate, model.family)\n"
    "  --model PATH         model artifact, inspect artifact or checkpoint (.pt, .safetensors)\n"
    "  --out FILE           the evaluation artifact to write (docs/artifact-evaluation.md)\n"
    "  --baseline FILE      evaluation of the uncompressed model, run with evaluate.store_logprobs: true\n"
    "  --variant NAME       name recorded in the artifact (default: baseline, or the model's folder)\n"
    "  --json               print a summary object on stdout\n"
    "  --dump-logits FILE   write the first window's logits [T, V] and tokens to a plain HDF5 file\n"
    "  --key KEY            the driver's plan key (root attribute plan_key)\n"
    "\n"
    "exit status: 0 done, 2 usage or config error, 3 bad input, 4 failure while running\n";

/* The evaluate section as window options; "given" tells a set key from a default. */
static void window_options_from(const sq_run_config *cfg, sq_window_options *options)
{
    const sq_yaml_node *section = cfg->doc.root ? sq_yaml_get(cfg->doc.root, "evaluate") : NULL;
    options->window_length = cfg->evaluate.window_length;
    options->stride = cfg->evaluate.stride;
    options->scoring = cfg->evaluate.scoring;
    options->offset = cfg->evaluate.offset;
    options->max_windows = cfg->evaluate.max_windows;
    options->window_length_given = section != NULL && sq_yaml_get(section, "window_length") != NULL;
    options->stride_given = section != NULL && sq_yaml_get(section, "stride") != NULL;
}

/* Default variant: "baseline" without --baseline, else the model's folder
 * (results/<run>/compress/<variant>/model.h5). */
static void default_variant(const evaluate_args *args, char *out, size_t size)
{
    char *folder_copy = strdup(args->model), *file_copy = strdup(args->model);
    const char *folder = folder_copy ? basename(dirname(folder_copy)) : ".";
    if (args->baseline == NULL)
        snprintf(out, size, "baseline");
    else if (strcmp(folder, ".") != 0 && strcmp(folder, "/") != 0)
        snprintf(out, size, "%s", folder);
    else /* a model in the current folder: its file name */
        snprintf(out, size, "%s", file_copy ? basename(file_copy) : "model");
    free(folder_copy);
    free(file_copy);
}

static sq_status evaluate(const evaluate_args *args, MPI_Comm comm, int rank, int ranks)
{
    sq_status st = SQ_OK;
    sq_run_config cfg;
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
    sq_artifact_writer writer = {.file = -1};
    char tokens_sha[SQ_SHA256_HEX], config_sha[SQ_SHA256_HEX] = "", variant[256];
    char *json = NULL;
    bool config_loaded = false, model_loaded = false;
    sq_family_hints hints = {0};

    memset(&loaded, 0, sizeof loaded);
    memset(&plan, 0, sizeof plan);
    memset(&result, 0, sizeof result);

    /* Config, model, tokens, plan, baseline: every rank, agreed step by step. */
    st = sq_run_config_load(args->config, &cfg);
    config_loaded = st == SQ_OK;
    SQ_TRY(sq_mpi_agree(comm, st));
    if (cfg.data.evaluation.path == NULL)
        st = sq_fail(SQ_ERR_USAGE, "%s: data.evaluation.path is not set: name the text to evaluate on",
                     args->config);
    SQ_TRY(sq_mpi_agree(comm, st));

    hints.num_heads = cfg.model.num_heads;
    st = sq_model_load(args->model, cfg.model.family, &hints, &loaded);
    model_loaded = st == SQ_OK;
    if (st == SQ_OK)
        st = sq_model_identity_of_loaded(args->model, &loaded, &identity);
    if (st == SQ_OK) {
        st = sq_model_build(&loaded.config, &loaded.tensors, &model);
        if (st != SQ_OK)
            sq_error_context("building the model of %s", args->model);
    }
    SQ_TRY(sq_mpi_agree(comm, st));

    /* No data.tokenizer: byte level, as the bundled default models are trained. */
    st = sq_tokenizer_load(cfg.data.tokenizer ? cfg.data.tokenizer : "bytes", &tokenizer);
    if (st == SQ_OK)
        st = sq_data_load_tokens(&cfg.data.evaluation, tokenizer, loaded.config.vocab_size, &tokens, &token_count);
    SQ_TRY(sq_mpi_agree(comm, st));

    window_options_from(&cfg, &window_options);
    SQ_TRY(sq_mpi_agree(comm, sq_window_plan_build(&window_options, loaded.config.max_seq_length,
                                                   (int64_t)token_count, &plan)));
    if (plan.note[0] != '\0')
        sq_warn("%s", plan.note);
    sq_info("%s model %s (%s): %lld windows of %d tokens (%d fed to the model, offset %d), stride %d, scoring %s: "
            "%lld predictions scored of %zu text tokens (%lld after the last window unused), %d rank%s",
            loaded.config.family, args->model, loaded.kind, (long long)plan.count, plan.window_length, plan.inputs,
            plan.offset, plan.stride, sq_scoring_name(plan.scoring), (long long)plan.scored, token_count,
            (long long)plan.unused_tail, ranks, ranks == 1 ? "" : "s");

    sq_tokens_sha256(tokens, token_count, tokens_sha);
    memset(&eval_options, 0, sizeof eval_options);
    eval_options.store_logprobs = cfg.evaluate.store_logprobs;
    eval_options.side_offset = plan.offset == 1;
    if (args->baseline != NULL) {
        st = sq_baseline_read(args->baseline, &baseline);
        if (st == SQ_OK)
            st = sq_baseline_check(args->baseline, &baseline, &plan, tokens_sha, loaded.config.vocab_size);
        SQ_TRY(sq_mpi_agree(comm, st));
        eval_options.baseline_path = args->baseline;
        eval_options.baseline_rows = baseline.logprob_rows;
    }

    SQ_TRY(sq_evaluate(comm, model, tokens, &plan, &eval_options, &result));

    /* The root reports and writes; the others wait for its verdict. */
    if (rank == 0) {
        if (args->variant)
            snprintf(variant, sizeof variant, "%s", args->variant);
        else
            default_variant(args, variant, sizeof variant);
        record = (sq_eval_record){
            .variant = variant, .model_path = args->model, .model_kind = loaded.kind,
            .identity = &identity, .model_file_bytes = loaded.file_bytes,
            .model_tensor_bytes = loaded.tensor_bytes, .tokenizer = cfg.data.tokenizer ? cfg.data.tokenizer : "bytes",
            .data = &cfg.data.evaluation, .token_count = (int64_t)token_count, .tokens_sha256 = tokens_sha,
            .ranks = ranks, .max_windows = cfg.evaluate.max_windows,
            .baseline_path = args->baseline, .baseline = args->baseline ? &baseline : NULL,
        };
        sq_info("perplexity %.6g (mean NLL %.6g +- %.3g per token, stderr %.3g) over %lld tokens; %.0f tokens/s "
                "(%lld positions in %.3f s of forward), peak RSS %.1f MiB, model %llu bytes on disk",
                result.perplexity, result.mean_nll, result.nll_std, result.ppl_stderr, (long long)result.scored,
                result.tokens_per_second, (long long)result.processed, result.forward_seconds,
                (double)result.peak_rss_bytes / 1048576.0, (unsigned long long)loaded.file_bytes);
        if (eval_options.side_offset && result.side_scored > 0) {
            sq_info("same windows scored against token t+2: perplexity %.6g over %lld tokens",
                    result.side_perplexity, (long long)result.side_scored);
            /* Itera-Lite's Phase 3/4 models were trained with a double shift (itera-lite.md 0.2). */
            if (result.side_perplexity < result.perplexity / 2.0)
                sq_warn("the model predicts token t+2 far better than t+1 (perplexity %.4g at offset 2 vs %.4g at "
                        "offset 1): it appears trained to predict t+2, as Itera-Lite's Phase 3/4 models are; "
                        "set evaluate.offset: 2 to measure what it was trained for",
                        result.side_perplexity, result.perplexity);
        }
        if (args->baseline != NULL)
            sq_info("against baseline %s: KL %.6g per token, perplexity %.6g -> %.6g, file bytes %llu -> %llu, "
                    "tensor bytes %llu -> %llu", args->baseline, result.kl_divergence, baseline.perplexity,
                    result.perplexity, (unsigned long long)baseline.file_bytes,
                    (unsigned long long)loaded.file_bytes, (unsigned long long)baseline.tensor_bytes,
                    (unsigned long long)loaded.tensor_bytes);
        st = sq_run_config_section_sha256(&cfg, "", config_sha);
        if (st == SQ_OK) {
            sq_artifact_meta meta = {.kind = "evaluation", .config_sha256 = config_sha,
                                     .plan_key = args->key ? args->key : "", .mpi_ranks = ranks,
                                     .input_count = args->baseline ? 2 : 1,
                                     .inputs = {args->model, args->baseline}};
            st = sq_artifact_create(&writer, args->out, &meta);
        }
        if (st == SQ_OK)
            st = sq_evaluation_write(writer.file, &record, &plan, &result);
        if (st == SQ_OK && args->dump_logits != NULL)
            st = sq_dump_first_window_logits(args->dump_logits, model, tokens, &plan);
        if (st == SQ_OK && args->json)
            st = sq_evaluation_json(&record, &plan, &result, &json);
        if (st == SQ_OK)
            st = sq_artifact_commit(&writer);
        else
            sq_artifact_abort(&writer);
        if (st == SQ_OK) {
            sq_info("wrote %s", args->out);
            if (json != NULL)
                printf("%s\n", json);
        }
    }
    SQ_TRY(sq_mpi_agree(comm, st));
cleanup:
    free(json);
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
    if (config_loaded)
        sq_run_config_free(&cfg);
    return st;
}

int main(int argc, char **argv)
{
    int rank = 0, ranks = 1;
    sq_status st;
    evaluate_args args;
    const sq_stage_option options[] = {
        SQ_OPTION_REQUIRED("config", &args.config), SQ_OPTION_REQUIRED("model", &args.model),
        SQ_OPTION_REQUIRED("out", &args.out),       SQ_OPTION("baseline", &args.baseline),
        SQ_OPTION("variant", &args.variant),        SQ_OPTION("dump-logits", &args.dump_logits),
        SQ_OPTION("key", &args.key),                SQ_FLAG("json", &args.json),
    };
    const sq_stage_command_line line = {"squeeze-evaluate", options, SQ_OPTION_COUNT(options), NULL};

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    sq_log_init("squeeze-evaluate");
    sq_log_set_rank(rank);
    /* The ranks are the parallelism; one BLAS thread each keeps 2 ranks on 2
     * cores from oversubscribing, and keeps each window's sums reproducible. */
    openblas_set_num_threads(1);

    st = sq_mpi_agree(MPI_COMM_WORLD, sq_stage_parse(&line, argc, argv, &args.help));
    if (st == SQ_OK && args.help) {
        if (rank == 0)
            fputs(usage_text, stdout);
    } else if (st == SQ_OK) {
        st = evaluate(&args, MPI_COMM_WORLD, rank, ranks);
    }
    MPI_Finalize();
    return (int)st;
}
