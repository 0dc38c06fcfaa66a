/* squeeze-calibrate: activation statistics of every linear input, for compress (MPI).
 *
 *   squeeze-calibrate --config F --model INSPECT_OR_MODEL.h5|CHECKPOINT --out calibration.h5 [--key KEY]
 *
 * Runs as one process without mpirun; with N ranks the windows are split into
 * N contiguous blocks and the statistics have the same bits (calib/calibrate.h).
 * The artifact: docs/artifact-calibration.md.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib/calibrate.h"
#include "artifact/artifact_json.h"
#include "cli/stage_main.h"
#include "cli/stage_options.h"
#include "config/run_config.h"
#include "util/log.h"

typedef struct {
    const char *config, *model, *out, *key;
    bool json, help;
} calibrate_args;

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

int main(int argc, char **argv)
{
    calibrate_args args;
    const sq_stage_option options[] = {
        SQ_OPTION_REQUIRED("config", &args.config), SQ_OPTION_REQUIRED("model", &args.model),
        SQ_OPTION_REQUIRED("out", &args.out),       SQ_OPTION("key", &args.key),
        SQ_FLAG("json", &args.json),
    };
    const sq_stage_command_line line = {"squeeze-calibrate", options, SQ_OPTION_COUNT(options), NULL};
    sq_run_config cfg;
    sq_status st;
    bool loaded = false;
    char *json = NULL;
    int rank;

    rank = sq_stage_mpi_start(&argc, &argv, "squeeze-calibrate");
    st = sq_stage_parse(&line, argc, argv, &args.help);
    if (st == SQ_OK && args.help) {
        if (rank == 0)
            sq_stage_print_help(&line, usage_text);
        MPI_Finalize();
        return 0;
    }
    if (st == SQ_OK) {
        st = sq_run_config_load(args.config, &cfg);
        loaded = st == SQ_OK;
    }
    if (st == SQ_OK) {
        sq_calibrate_request request = {.config = &cfg, .model_path = args.model, .out_path = args.out,
                                        .plan_key = args.key ? args.key : ""};
        st = sq_calibrate_run(&request);
    }
    if (st == SQ_OK && args.json && rank == 0)
        st = sq_artifact_attributes_json(args.out, "calibration", &json);
    if (loaded)
        sq_run_config_free(&cfg);
    return sq_stage_mpi_finish(st, json);
}
