/* squeeze-compress: a model and a precision map in, a compressed model artifact out.
 *
 *   squeeze-compress --config F --model INSPECT.h5|CHECKPOINT [--calibration calibration.h5]
 *                    [--map FILE] --out model.h5 [--key KEY]
 *
 * The precision map comes from --map, else compress.precision_map, else
 * compress.recipe (docs/precision-maps.md).  Logic: compress/compress.h.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "compress/compress.h"
#include "config/run_config.h"
#include "util/log.h"

typedef struct {
    const char *config, *model, *calibration, *map, *out, *key;
    bool help;
} compress_args;

static const char usage_text[] =
    "usage: squeeze-compress --config FILE --model INSPECT.h5|MODEL.h5|CHECKPOINT --out model.h5\n"
    "                        [--calibration calibration.h5] [--map FILE] [--key KEY]\n"
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
    "  --key KEY            the driver's plan key (root attribute plan_key)\n"
    "\n"
    "Recipes: configs/recipes/ (fp16, bf16, int8, nf4, nf4-double, int4-g32, gptq-int4, seed-mixed,\n"
    "ssm-mixed); the map syntax: docs/precision-maps.md.\n"
    "\n"
    "exit status: 0 done, 2 usage or config error, 3 bad input, 4 failure while running\n";

static sq_status parse_args(int argc, char **argv, compress_args *args)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"model", required_argument, NULL, 'm'},
        {"calibration", required_argument, NULL, 'a'}, {"map", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},    {"key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    int c;
    memset(args, 0, sizeof *args);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'c': args->config = optarg; break;
        case 'm': args->model = optarg; break;
        case 'a': args->calibration = optarg; break;
        case 'p': args->map = optarg; break;
        case 'o': args->out = optarg; break;
        case 'k': args->key = optarg; break;
        case 'h': args->help = true; return SQ_OK;
        default:
            return sq_fail(SQ_ERR_USAGE, "unknown or incomplete option '%s' (see squeeze-compress --help)",
                           argv[optind - 1]);
        }
    }
    if (optind < argc)
        return sq_fail(SQ_ERR_USAGE, "unexpected argument '%s' (see squeeze-compress --help)", argv[optind]);
    if (!args->model || !args->out)
        return sq_fail(SQ_ERR_USAGE, "--model and --out are required (see squeeze-compress --help)");
    if (!args->config && !args->map)
        return sq_fail(SQ_ERR_USAGE, "--config (or at least --map) is required (see squeeze-compress --help)");
    return SQ_OK;
}

int main(int argc, char **argv)
{
    compress_args args;
    sq_run_config cfg;
    sq_status st;
    bool loaded = false;

    sq_log_init("squeeze-compress");
    st = parse_args(argc, argv, &args);
    if (st == SQ_OK && args.help) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (st == SQ_OK && args.config) {
        st = sq_run_config_load(args.config, &cfg);
        loaded = st == SQ_OK;
    }
    if (st == SQ_OK) {
        sq_compress_request request = {.config = loaded ? &cfg : NULL, .model_path = args.model,
                                       .calibration_path = args.calibration, .map_path = args.map,
                                       .out_path = args.out, .plan_key = args.key ? args.key : ""};
        st = sq_compress_run(&request);
    }
    if (st != SQ_OK)
        sq_error("%s (%s)", sq_error_message(), sq_status_name(st));
    if (loaded)
        sq_run_config_free(&cfg);
    return (int)st;
}
