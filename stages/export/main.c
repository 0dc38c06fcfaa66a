/* squeeze-export: a model out of squeeze, for the runtime that will run it.
 *
 *   squeeze-export --config F --model MODEL.h5|INSPECT.h5|CHECKPOINT|FILE.gguf
 *                  --format gguf|safetensors --out PATH [--record FILE]
 *                  [--variant NAME] [--json] [--key KEY]
 *
 * Logic: export/export_run.h; the GGUF architectures: modelio/gguf_model.h;
 * the record: docs/export.md.
 */
#include <string.h>

#include "cli/stage_options.h"
#include "config/run_config.h"
#include "export/export_run.h"
#include "stage/stage_run.h"

static struct {
    sq_stage_args common;
    const char *format, *record, *variant;
} args;

static const char usage_text[] =
    "usage: squeeze-export --config FILE --model MODEL.h5|INSPECT.h5|CHECKPOINT|FILE.gguf\n"
    "                      --format gguf|safetensors --out PATH [--record FILE] [--variant NAME]\n"
    "                      [--json] [--key KEY]\n"
    "\n"
    "Writes the model for another runtime. gguf: one GGUF v3 file; the llama family as llama.cpp's\n"
    "'llama' architecture (llama.cpp loads it), itera and itera-transformer as squeeze's own\n"
    "architectures (squeeze reads them back; no other runtime knows them). Tensors keep their\n"
    "format where GGUF has it (fp32, fp16, bf16, q8_0, q4_0, q4_1, q4_k, q6_k: bytes copied); other\n"
    "formats are dequantized to F32. safetensors: a folder with model.safetensors (fp32/fp16/bf16\n"
    "kept, quantized tensors dequantized to fp32), config.json and the tokenizer file copied.\n"
    "Written under a temporary name and renamed when complete; the export record (sha256, bytes on\n"
    "disk, every tensor copied, converted or not written) goes to --record.\n"
    "\n"
    "  --config FILE     the run's YAML (data.tokenizer, model.family, run name)\n"
    "  --model PATH      model artifact (compress), inspect artifact, checkpoint or .gguf\n"
    "  --format F        gguf or safetensors\n"
    "  --out PATH        the .gguf file, or the safetensors folder\n"
    "  --record FILE     the export record, JSON (default: PATH.export.json)\n"
    "  --variant NAME    the variant's name, recorded (and the GGUF's general.name)\n"
    "  --json            print the record's summary on stdout\n"
    "  --key KEY         the driver's plan key, recorded\n"
    "\n"
    "exit status: 0 done, 2 usage or config error, 3 bad input (incl. a family the format cannot\n"
    "hold), 4 failure while running\n";

static const sq_stage_option options[] = {
    SQ_OPTION_REQUIRED("format", &args.format), SQ_OPTION("record", &args.record),
    SQ_OPTION("variant", &args.variant),
};

static sq_status check_format(void)
{
    if (strcmp(args.format, "gguf") != 0 && strcmp(args.format, "safetensors") != 0)
        return sq_fail(SQ_ERR_USAGE, "--format %s: use gguf or safetensors (see squeeze-export --help)", args.format);
    return SQ_OK;
}

static sq_status export_model(const sq_run_config *cfg, int rank, char **json)
{
    (void)rank; /* not an MPI program */
    const sq_stage_args *a = &args.common;
    sq_export_request request = {.config = cfg, .model_path = a->model, .format = args.format,
                                 .out_path = a->out, .record_path = args.record, .variant = args.variant,
                                 .plan_key = a->key ? a->key : ""};
    return sq_export_run(&request, a->json ? json : NULL);
}

int main(int argc, char **argv)
{
    static const sq_stage stage = {
        .program = "squeeze-export", .usage = usage_text, .args = &args.common, .options = options,
        .option_count = SQ_OPTION_COUNT(options), .check = check_format, .run = export_model,
    };
    return sq_stage_run(&stage, argc, argv);
}
