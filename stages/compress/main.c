/* squeeze-compress: a model and a precision map in, a compressed model artifact out.
 *
 *   squeeze-compress --config F --model INSPECT.h5|CHECKPOINT [--calibration calibration.h5]
 *                    [--map FILE] --out model.h5 [--json] [--key KEY]
 *
 * The precision map comes from --map, else compress.precision_map, else
 * compress.recipe (docs/precision-maps.md).  Logic: compress/compress.h.
 */
#include <stdio.h>

#include "cli/stage_options.h"
#include "compress/compress.h"
#include "config/run_config.h"
#include "quant/format.h"
#include "stage/stage_run.h"

static struct {
    sq_stage_args common;
    const char *calibration, *map;
} args;

static const char usage_text[] =
    "usage: squeeze-compress --config FILE --model INSPECT.h5|MODEL.h5|CHECKPOINT --out model.h5\n"
    "                        [--calibration calibration.h5] [--map FILE] [--json] [--key KEY]\n"
    "\n"
    "Stores every tensor of the model in the format its precision map gives it (first matching\n"
    "rule wins; '*' stays inside one dot-separated name segment, '**' crosses segments), keeps the\n"
    "tensors an SSM needs in full precision unless a rule names them, stores tied tensors once, and\n"
    "writes the model artifact with a per-tensor accounting of bytes before and after. The file's\n"
    "size is measured on disk after writing.\n"
    "\n"
    "  --config FILE        the run's YAML (compress.recipe or compress.precision_map, model.family)\n"
    "  --model PATH         inspect or model artifact, or a checkpoint (.pt, .safetensors)\n"
    "  --calibration FILE   calibration artifact of the same model (squeeze-calibrate)\n"
    "  --map FILE           precision map or recipe file; overrides the config's\n"
    "  --out FILE           the model artifact to write (docs/artifacts.md)\n"
    "  --json               print a summary object on stdout: sizes (stat), ratios, formats, the map\n"
    "  --key KEY            the driver's plan key (root attribute plan_key)\n"
    "\n"
    "Recipes: configs/recipes/ (fp16, bf16, int8, nf4, nf4-double, int4-g32, gptq-int4, seed-mixed,\n"
    "ssm-mixed); the map syntax: docs/precision-maps.md.\n"
    "\n"
    "exit status: 0 done, 2 usage or config error, 3 bad input, 4 failure while running\n"
    "\n"
    "Formats (a rule's format and its options; bits per weight at the default options, scales\n"
    "included; calib: what the format needs from a calibration artifact):\n";

static const sq_stage_option options[] = {SQ_OPTION("calibration", &args.calibration), SQ_OPTION("map", &args.map)};

/* The map may come from --map alone; everything else needs the config. */
static sq_status check_inputs(void)
{
    if (!args.common.config && !args.map)
        return sq_fail(SQ_ERR_USAGE, "--config (or at least --map) is required (see squeeze-compress --help)");
    return SQ_OK;
}

static sq_status compress(const sq_run_config *cfg, int rank, char **json)
{
    (void)rank; /* not an MPI program */
    const sq_stage_args *a = &args.common;
    sq_compress_request request = {.config = cfg, .model_path = a->model, .calibration_path = args.calibration,
                                   .map_path = args.map, .out_path = a->out, .plan_key = a->key ? a->key : ""};
    return sq_compress_run(&request, a->json ? json : NULL);
}

int main(int argc, char **argv)
{
    static const sq_stage stage = {
        .program = "squeeze-compress", .usage = usage_text, .args = &args.common, .config_optional = true,
        .options = options, .option_count = SQ_OPTION_COUNT(options), .more_help = sq_quant_format_print_table,
        .check = check_inputs, .blas = true, .run = compress,
    };
    return sq_stage_run(&stage, argc, argv);
}
