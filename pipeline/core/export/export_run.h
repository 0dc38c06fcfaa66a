/* export_run.h - the export stage as a library call (stages/export/main.c is thin).
 *
 * Takes a model (a compress stage's model artifact, an inspect artifact, a
 * checkpoint or a GGUF) and writes it for another runtime:
 *   gguf         one .gguf file (modelio/gguf_model.h: llama.cpp's "llama"
 *                architecture for the llama family; squeeze's own "itera" /
 *                "itera-transformer" for those, read back by squeeze only);
 *   safetensors  a folder with model.safetensors (the family's checkpoint
 *                names, HF's for llama; fp32/fp16/bf16 tensors keep their
 *                dtype, quantized ones are dequantized to fp32), config.json
 *                and the run's tokenizer files copied.
 * The output is written under a temporary name and renamed when complete.
 * The export record (docs/export.md) lists every tensor (copied, converted or
 * not written, with the reason), the file's sha256 and its bytes on disk; it
 * is written as JSON to record_path.
 */
#ifndef SQ_EXPORT_EXPORT_RUN_H
#define SQ_EXPORT_EXPORT_RUN_H

#include "config/run_config.h"
#include "util/status.h"

typedef struct {
    const sq_run_config *config;  /* data.tokenizer, model.family, run name */
    const char *model_path;       /* model artifact, inspect artifact, checkpoint or .gguf */
    const char *format;           /* "gguf" or "safetensors" */
    const char *out_path;         /* the .gguf file, or the safetensors folder */
    const char *record_path;      /* export record (JSON), or NULL: <out_path>.export.json */
    const char *variant;          /* recorded name, or NULL */
    const char *plan_key;         /* --key, or "" */
} sq_export_request;

/* summary_json: NULL, or receives the record (malloc'd) once written. */
sq_status sq_export_run(const sq_export_request *request, char **summary_json);

#endif
