/* stage_table.c - the pipeline's steps, one row each (stage_table.h).
 *
 * Changing a row changes the plan: its keys (so which artifacts count as
 * done), its folders and the commands the executors start.  The key text of
 * a step is "stage <key_tag>", its sections (canonical YAML, `ranks` left
 * out), its files' identities and its inputs' keys, in the order given here.
 */
#include "stage_table.h"

#include <string.h>

static const char *const stage_names[SQ_STAGE_COUNT] = {"inspect", "calibrate", "compress", "evaluate", "report"};
static const char *const stage_programs[SQ_STAGE_COUNT] = {"squeeze-inspect", "squeeze-calibrate", "squeeze-compress",
                                                           "squeeze-evaluate", "squeeze-report"};

const char *sq_stage_name(sq_stage_kind stage) { return stage_names[stage]; }
const char *sq_stage_program(sq_stage_kind stage) { return stage_programs[stage]; }

int sq_stage_from_name(const char *name)
{
    for (int s = 0; s < SQ_STAGE_COUNT; s++)
        if (strcmp(stage_names[s], name) == 0)
            return s;
    return -1;
}

const sq_stage_step sq_stage_steps[] = {
    /* the model, read and converted once: no sweep may vary it */
    {.name = "inspect", .stage = SQ_STAGE_INSPECT, .phase = 0, .expand = SQ_EXPAND_ONCE, .naming = SQ_NAME_NONE,
     .artifact = "inspect.h5", .key_tag = "inspect",
     .sections = {"model", "inspect"},
     .files = {{"checkpoint", SQ_FILE_CHECKPOINT}}, .file_count = 1,
     .argv = {"@checkpoint", "--config", "@config", "--out", "@output", "--key", "@key"}},
    /* activation statistics: shared by the variants that do not vary calibration */
    {.name = "calibrate", .stage = SQ_STAGE_CALIBRATE, .phase = 1, .expand = SQ_EXPAND_DISTINCT,
     .naming = SQ_NAME_KEY, .artifact = "calibration.h5", .key_tag = "calibrate", .compresses = true,
     .sections = {"calibrate", "data.tokenizer", "data.calibration"},
     .files = {{"tokenizer", SQ_FILE_TOKENIZER}, {"data", SQ_FILE_CALIBRATION_DATA}}, .file_count = 2,
     .inputs = {"inspect"}, .ranks = SQ_RANKS_CALIBRATE,
     .argv = {"--config", "@config", "--model", "@inspect", "--out", "@output", "--key", "@key"}},
    /* the uncompressed model, with log-probs kept for the variants' KL */
    {.name = "baseline", .stage = SQ_STAGE_EVALUATE, .phase = 2, .expand = SQ_EXPAND_DISTINCT,
     .naming = SQ_NAME_BASELINE, .artifact = "evaluation.h5", .key_tag = "evaluate-baseline",
     .set_section = "evaluate", .set_key = "store_logprobs", .set_value = "true",
     .sections = {"evaluate", "data.tokenizer", "data.evaluation"},
     .files = {{"tokenizer", SQ_FILE_TOKENIZER}, {"data", SQ_FILE_EVALUATION_DATA}}, .file_count = 2,
     .inputs = {"inspect"}, .ranks = SQ_RANKS_EVALUATE,
     .argv = {"--config", "@config", "--model", "@inspect", "--out", "@output", "--variant", "baseline", "--key",
              "@key"}},
    /* per variant: compress, then evaluate against its baseline */
    {.name = "compress", .stage = SQ_STAGE_COMPRESS, .phase = 3, .expand = SQ_EXPAND_PER_VARIANT,
     .naming = SQ_NAME_VARIANT, .artifact = "model.h5", .key_tag = "compress", .compresses = true,
     .sections = {"compress"},
     .files = {{"recipe", SQ_FILE_RECIPE}}, .file_count = 1,
     .inputs = {"inspect", "calibrate"},
     .argv = {"--config", "@config", "--model", "@inspect", "--calibration", "@calibrate", "--out", "@output", "--key",
              "@key"}},
    {.name = "evaluate", .stage = SQ_STAGE_EVALUATE, .phase = 3, .expand = SQ_EXPAND_PER_VARIANT,
     .naming = SQ_NAME_VARIANT, .artifact = "evaluation.h5", .key_tag = "evaluate", .compresses = true,
     .sections = {"evaluate", "data.tokenizer", "data.evaluation"},
     .files = {{"tokenizer", SQ_FILE_TOKENIZER}, {"data", SQ_FILE_EVALUATION_DATA}}, .file_count = 2,
     .inputs = {"compress", "baseline"}, .ranks = SQ_RANKS_EVALUATE,
     .argv = {"--config", "@config", "--model", "@compress", "--baseline", "@baseline", "--out", "@output",
              "--variant", "@variant", "--key", "@key"}},
    /* every evaluation, whatever its outcome; its "artifact" is the key file
     * written after a complete report */
    {.name = "report", .stage = SQ_STAGE_REPORT, .phase = 4, .expand = SQ_EXPAND_ONCE, .naming = SQ_NAME_NONE,
     .artifact = "plan_key", .key_tag = "report", .run_config = true,
     .sections = {"targets"},
     .inputs = {"*evaluate"},
     .argv = {"--config", "@config", "--run-dir", "@run_dir", "--key", "@key"}},
};
const size_t sq_stage_step_count = sizeof sq_stage_steps / sizeof sq_stage_steps[0];

const sq_stage_step *sq_stage_step_find(const char *name)
{
    for (size_t i = 0; i < sq_stage_step_count; i++)
        if (strcmp(sq_stage_steps[i].name, name) == 0)
            return &sq_stage_steps[i];
    return NULL;
}
