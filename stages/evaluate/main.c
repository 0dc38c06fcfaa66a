/* squeeze-evaluate: perplexity, KL to a baseline, speed, memory and measured
 * compression ratios of a model on the run's evaluation text (MPI).
 *
 *   squeeze-evaluate --config F --model MODEL.h5|INSPECT.h5|CHECKPOINT --out evaluation.h5
 *                    [--baseline BASELINE_EVALUATION.h5] [--variant NAME] [--json]
 *                    [--dump-logits FILE] [--key KEY]
 *
 * Runs as one process without mpirun; with N ranks the windows are split into
 * N contiguous blocks and the numbers are bit-identical (metrics/evaluation.h).
 * Logic: metrics/evaluate_run.h.  Windows, offsets and scoring:
 * docs/evaluate.md; the artifact: docs/artifact-evaluation.md.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/stage_main.h"
#include "cli/stage_options.h"
#include "config/run_config.h"
#include "metrics/evaluate_run.h"
#include "metrics/evaluation.h"
#include "util/mpi_agree.h"
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

int main(int argc, char **argv)
{
    int rank;
    sq_status st;
    evaluate_args args;
    const sq_stage_option options[] = {
        SQ_OPTION_REQUIRED("config", &args.config), SQ_OPTION_REQUIRED("model", &args.model),
        SQ_OPTION_REQUIRED("out", &args.out),       SQ_OPTION("baseline", &args.baseline),
        SQ_OPTION("variant", &args.variant),        SQ_OPTION("dump-logits", &args.dump_logits),
        SQ_OPTION("key", &args.key),                SQ_FLAG("json", &args.json),
    };
    const sq_stage_command_line line = {"squeeze-evaluate", options, SQ_OPTION_COUNT(options), NULL};
    sq_run_config cfg;
    bool loaded = false;
    char *json = NULL;

    rank = sq_stage_mpi_start(&argc, &argv, "squeeze-evaluate");

    /* Every step is agreed on by all ranks (sq_mpi_agree logs a failure once),
     * so a bad input stops every rank with the same exit status. */
    st = sq_mpi_agree(MPI_COMM_WORLD, sq_stage_parse(&line, argc, argv, &args.help));
    if (st == SQ_OK && args.help) {
        if (rank == 0)
            sq_stage_print_help(&line, usage_text);
    } else if (st == SQ_OK) {
        sq_status local = sq_run_config_load(args.config, &cfg);
        loaded = local == SQ_OK;
        st = sq_mpi_agree(MPI_COMM_WORLD, local);
    }
    if (st == SQ_OK && !args.help) {
        sq_evaluate_request request = {.config = &cfg, .model_path = args.model, .out_path = args.out,
                                       .baseline_path = args.baseline, .variant = args.variant,
                                       .dump_logits_path = args.dump_logits, .plan_key = args.key ? args.key : ""};
        st = sq_evaluate_run(&request, MPI_COMM_WORLD, args.json ? &json : NULL);
    }
    if (loaded)
        sq_run_config_free(&cfg);
    return sq_stage_mpi_finish(st, json);
}
