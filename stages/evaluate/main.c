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

#include "cli/stage_options.h"
#include "config/run_config.h"
#include "metrics/evaluate_run.h"
#include "metrics/evaluation.h"
#include "stage/stage_run.h"

static struct {
    sq_stage_args common;
    const char *baseline, *variant, *dump_logits;
} args;

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

static const sq_stage_option options[] = {
    SQ_OPTION("baseline", &args.baseline), SQ_OPTION("variant", &args.variant),
    SQ_OPTION("dump-logits", &args.dump_logits),
};

static sq_status evaluate(const sq_run_config *cfg, int rank, char **json)
{
    (void)rank; /* every rank evaluates its block of windows */
    const sq_stage_args *a = &args.common;
    sq_evaluate_request request = {.config = cfg, .model_path = a->model, .out_path = a->out,
                                   .baseline_path = args.baseline, .variant = args.variant,
                                   .dump_logits_path = args.dump_logits, .plan_key = a->key ? a->key : ""};
    return sq_evaluate_run(&request, MPI_COMM_WORLD, a->json ? json : NULL);
}

int main(int argc, char **argv)
{
    static const sq_stage stage = {
        .program = "squeeze-evaluate", .usage = usage_text, .args = &args.common, .options = options,
        .option_count = SQ_OPTION_COUNT(options), .mpi = true, .blas = true, .run = evaluate,
    };
    return sq_stage_run(&stage, argc, argv);
}
