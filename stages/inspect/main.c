/* squeeze-inspect: what is in this checkpoint, and what compression to try.
 *
 * Parses the command line and the run config, and runs the inspect stage
 * (inspect/inspect_stage.h): the facts printed (text or --json) and, with
 * --out, the inspect artifact written atomically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact/artifact.h"
#include "cli/stage_options.h"
#include "config/run_config.h"
#include "inspect/inspect_stage.h"
#include "util/log.h"

static const char usage_text[] =
    "usage: squeeze-inspect CHECKPOINT|--model CHECKPOINT [--config F] [--out inspect.h5] [--json] [--num-heads N]\n"
    "                       [--target-hardware gpu|cpu|edge] [--quality-constraint PCT] [--family NAME]\n"
    "                       [--key K]\n"
    "\n"
    "Reads a checkpoint (.pt, .safetensors or a squeeze .h5), detects its model family, infers its\n"
    "config, accounts for every tensor (parameter groups, buffers, shared storage) and recommends a\n"
    "compression from rules of thumb.\n"
    "\n"
    "  CHECKPOINT, --model F     the model file, positional or as --model like the other stages\n"
    "                            (default: model.checkpoint of --config)\n"
    "  --config F                the run's YAML (model.family, model.num_heads, inspect.target_hardware,\n"
    "                            targets.quality are read from it)\n"
    "  --out F                   write the inspect artifact (facts + fp32 baseline model) to F\n"
    "  --json                    print the facts as one JSON object on stdout instead of text\n"
    "  --num-heads N             attention heads, for a Transformer checkpoint without a config\n"
    "  --target-hardware H       gpu, cpu or edge (default: config, else gpu)\n"
    "  --quality-constraint PCT  accepted perplexity increase in percent (default: targets.quality, else 3)\n"
    "  --family NAME             skip detection (default: model.family, else auto)\n"
    "  --key K                   the driver's plan key, stored as the root attribute plan_key\n"
    "  --help, --version         this text; the program's version\n"
    "\n"
    "Exit status: 0 done, 2 usage or config error, 3 bad input (missing, corrupt, unknown family),\n"
    "4 failure while running.\n";

typedef struct {
    const char *checkpoint;
    const char *model;       /* --model: the same as CHECKPOINT */
    const char *config_path;
    const char *out_path;
    const char *hardware;
    const char *family;
    const char *key;
    const char *num_heads_text, *quality_text;
    double quality;
    int has_quality;
    int num_heads;
    bool json, help;
} cli_args;

/* The values that are numbers; the option table has them as text. */
static sq_status parse_numbers(cli_args *args)
{
    char *end;
    if (args->num_heads_text) {
        args->num_heads = (int)strtol(args->num_heads_text, &end, 10);
        if (*end != '\0' || args->num_heads <= 0)
            return sq_fail(SQ_ERR_USAGE, "--num-heads needs a positive integer, not '%s'", args->num_heads_text);
    }
    if (args->quality_text) {
        args->quality = strtod(args->quality_text, &end);
        if (*end == '%')
            end++;
        if (*end != '\0' || args->quality < 0)
            return sq_fail(SQ_ERR_USAGE, "--quality-constraint needs a percentage >= 0 (e.g. 3), not '%s'",
                           args->quality_text);
        args->has_quality = 1;
    }
    return SQ_OK;
}

int main(int argc, char **argv)
{
    sq_status st = SQ_OK;
    cli_args args = {0};
    const sq_stage_option cli_options[] = {
        SQ_OPTION("config", &args.config_path),       SQ_OPTION("out", &args.out_path),
        SQ_FLAG("json", &args.json),                  SQ_OPTION("num-heads", &args.num_heads_text),
        SQ_OPTION("target-hardware", &args.hardware), SQ_OPTION("quality-constraint", &args.quality_text),
        SQ_OPTION("family", &args.family),            SQ_OPTION("key", &args.key),
        SQ_OPTION("model", &args.model),
    };
    const sq_stage_command_line line = {"squeeze-inspect", cli_options, SQ_OPTION_COUNT(cli_options),
                                        &args.checkpoint};
    sq_run_config config;
    int have_config = 0;
    sq_inspect_request request;

    sq_h5_library_setup();
    sq_log_init("squeeze-inspect");
    SQ_TRY(sq_stage_parse(&line, argc, argv, &args.help));
    if (args.help) {
        sq_stage_print_help(&line, usage_text);
        return 0;
    }
    if (args.model && args.checkpoint && strcmp(args.model, args.checkpoint) != 0)
        SQ_FAIL(SQ_ERR_USAGE, "two checkpoints given: %s and --model %s (see squeeze-inspect --help)",
                args.checkpoint, args.model);
    if (args.model)
        args.checkpoint = args.model;
    SQ_TRY(parse_numbers(&args));
    if (args.config_path) {
        SQ_TRY(sq_run_config_load(args.config_path, &config));
        have_config = 1;
    }
    request = (sq_inspect_request){
        .config = have_config ? &config : NULL, .checkpoint = args.checkpoint, .out_path = args.out_path,
        .family = args.family, .hardware = args.hardware, .num_heads = args.num_heads,
        .has_quality = args.has_quality != 0, .quality_pct = args.quality, .plan_key = args.key ? args.key : "",
        .json = args.json,
    };
    st = sq_inspect_stage(&request, stdout);
cleanup:
    if (have_config)
        sq_run_config_free(&config);
    return sq_stage_exit_status(st);
}
