/* squeeze-calibrate: activation statistics of every linear input, for compress (MPI).
 *
 *   squeeze-calibrate --config F --model INSPECT_OR_MODEL.h5|CHECKPOINT --out calibration.h5 [--key KEY]
 *
 * Runs as one process without mpirun; with N ranks the windows are split into
 * N contiguous blocks and the statistics have the same bits (calib/calibrate.h).
 * The artifact: docs/artifact-calibration.md.
 */

#include "artifact/artifact_json.h"
#include "calib/calibrate.h"
#include "cli/stage_options.h"
#include "config/run_config.h"
#include "stage/stage_run.h"

static sq_stage_args args;

static const char usage_text[] =
    "usage: squeeze-calibrate --config FILE --model INSPECT.h5|MODEL.h5|CHECKPOINT --out calibration.h5\n"
    "                         [--key KEY] [--json]\n"
    "\n"
    "Runs the model over calibrate.windows windows of calibrate.window_length tokens of\n"
    "data.calibration (tokenized with data.tokenizer, default bytes) and records, for the input of\n"
    "every linear layer and per input channel: absmax, mean |x|, mean x^2, a log-bucket histogram\n"
    "of |x| with the calibrate.percentiles read from it, optionally X^T X (calibrate.hessian globs),\n"
    "and per MoE layer the tokens routed to each expert. An MPI program: mpirun -np N gives the same\n"
    "statistics for any N (X^T X up to rounding).\n"
    "\n"
    "  --config FILE   the run's YAML (data, calibrate, model.family)\n"
    "  --model PATH    inspect or model artifact, or a checkpoint (.pt, .safetensors)\n"
    "  --out FILE      the calibration artifact to write (docs/artifact-calibration.md)\n"
    "  --key KEY       the driver's plan key (root attribute plan_key)\n"
    "  --json          print the artifact's attributes (root and /calibration) as one JSON line\n"
    "  --version       the program's version\n"
    "\n"
    "exit status: 0 done, 2 usage or config error, 3 bad input, 4 failure while running\n";

static sq_status calibrate(const sq_run_config *cfg, int rank, char **json)
{
    sq_calibrate_request request = {.config = cfg, .model_path = args.model, .out_path = args.out,
                                    .plan_key = args.key ? args.key : ""};
    sq_status st = sq_calibrate_run(&request);
    if (st == SQ_OK && args.json && rank == 0)
        st = sq_artifact_attributes_json(args.out, "calibration", json);
    return st;
}

int main(int argc, char **argv)
{
    static const sq_stage stage = {
        .program = "squeeze-calibrate", .usage = usage_text, .args = &args, .mpi = true, .blas = true,
        .run = calibrate,
    };
    return sq_stage_run(&stage, argc, argv);
}
