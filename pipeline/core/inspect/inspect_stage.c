/* inspect_stage.c - the inspect stage's orchestration: options settled from
 * the command line and the config, the facts, the artifact, the printout
 * (inspect_stage.h).
 */
#include "inspect/inspect_stage.h"

#include <string.h>

#include "advice/decision_matrix.h"
#include "artifact/artifact.h"
#include "inspect/inspect_report.h"
#include "util/hash.h"
#include "util/log.h"

sq_status sq_inspect_stage(const sq_inspect_request *request, FILE *out)
{
    sq_status st = SQ_OK;
    const sq_run_config *config = request->config;
    bool writing = false;
    sq_inspect_options options;
    sq_inspect_report report;
    sq_artifact_writer writer;
    sq_artifact_meta meta;
    char config_sha[SQ_SHA256_HEX] = "";
    json_t *json = NULL;
    const char *checkpoint, *hardware;

    memset(&report, 0, sizeof report);
    memset(&writer, 0, sizeof writer);
    writer.file = -1;

    if (config)
        SQ_TRY(sq_run_config_section_sha256(config, "", config_sha));
    checkpoint = request->checkpoint ? request->checkpoint : config ? config->model.checkpoint : NULL;
    if (checkpoint == NULL)
        SQ_FAIL(SQ_ERR_USAGE, "no checkpoint: give its path, or --config with model.checkpoint (see --help)");

    memset(&options, 0, sizeof options);
    options.family = request->family ? request->family : config ? config->model.family : "auto";
    options.hints.num_heads = request->num_heads ? request->num_heads : config ? config->model.num_heads : 0;
    hardware = request->hardware ? request->hardware
               : config && config->inspect.target_hardware ? config->inspect.target_hardware
                                                           : "gpu";
    SQ_TRY(sq_advice_hardware_parse(hardware, &options.hardware));
    options.quality_pct = request->has_quality ? request->quality_pct : config ? config->targets.quality : 3.0;

    SQ_TRY(sq_inspect_run(checkpoint, &options, &report));

    if (request->out_path) {
        memset(&meta, 0, sizeof meta);
        meta.kind = "inspect";
        meta.config_sha256 = config_sha;
        meta.plan_key = request->plan_key ? request->plan_key : "";
        meta.mpi_ranks = 1;
        meta.input_count = 1;
        meta.inputs[0] = checkpoint;
        SQ_TRY(sq_artifact_create(&writer, request->out_path, &meta));
        writing = true;
        SQ_TRY(sq_inspect_write(writer.file, &report));
        writing = false;
        SQ_TRY(sq_artifact_commit(&writer));
        sq_info("wrote %s", request->out_path);
    }

    if (request->json) {
        SQ_TRY(sq_inspect_to_json(&report, &json));
        if (json_dumpf(json, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
            SQ_FAIL(SQ_ERR_RUN, "cannot write JSON to stdout");
        fputc('\n', out);
    } else {
        sq_inspect_print(out, &report);
    }
cleanup:
    if (writing)
        sq_artifact_abort(&writer);
    json_decref(json);
    sq_inspect_report_free(&report);
    return st;
}
