/* export_cmd.c - `squeeze export CONFIG [--variant V] [--format gguf|safetensors]`:
 * runs squeeze-export on a variant's model artifact (default: the variant the
 * report recommends) into <run>/export/<variant>/ (docs/export.md). */
#include "commands.h"
#include "plan.h"
#include "proc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* The report's recommendation (report/report.json "recommended"), malloc'd. */
static sq_status recommended_variant(const sq_plan *plan, char **variant)
{
    sq_status st = SQ_OK;
    char *path = sq_path_join(plan->run_dir, "report/report.json");
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    *variant = NULL;
    if (root == NULL)
        SQ_FAIL(SQ_ERR_INPUT, "%s: no report to take the recommended variant from (%s); run the pipeline first "
                "(squeeze run %s) or name the variant with --variant", path, error.text, plan->config_path);
    json_t *rec = json_object_get(root, "recommended");
    if (!json_is_string(rec))
        SQ_FAIL(SQ_ERR_INPUT, "%s: the report recommends no variant (none met the targets); name one with --variant",
                path);
    *variant = strdup(json_string_value(rec));
cleanup:
    json_decref(root);
    free(path);
    return st;
}

/* The report lists the run's exports (report/run_exports.c): when it was written, write it
 * again with the same command, so the new record shows.  A report that fails now only warns:
 * the export itself is complete. */
static void refresh_report(const sq_plan *plan)
{
    const sq_instance *report = sq_plan_find(plan, SQ_STAGE_REPORT, "");
    char *output = NULL;
    int code = -1;
    if (report == NULL || report->state != SQ_STATE_DONE)
        return;
    if (sq_capture(report->argv, true, 0, &output, &code) != SQ_OK || code != 0) {
        sq_warn("the report was not rewritten with this export (exit %d): run squeeze resume %s --stage report%s%s",
                code, plan->config_path, output ? "\n" : "", output ? output : "");
        sq_error_clear();
    } else {
        sq_info("report rewritten with the export: %s/report/", plan->run_dir);
    }
    free(output);
}

int sq_cmd_export(const sq_command_options *opts)
{
    sq_status st = SQ_OK;
    sq_plan plan;
    bool planned = false;
    char *variant = NULL, *dir = NULL, *out = NULL, *record = NULL, *program = NULL, *output = NULL;
    char **argv = NULL;
    const char *format = opts->format ? opts->format : "gguf";
    int code = -1;

    if (strcmp(format, "gguf") != 0 && strcmp(format, "safetensors") != 0)
        SQ_FAIL(SQ_ERR_USAGE, "squeeze export: --format %s: use gguf or safetensors", format);
    SQ_TRY(sq_plan_build(opts->config, &plan));
    planned = true;
    if (opts->variant)
        variant = strdup(opts->variant);
    else
        SQ_TRY(recommended_variant(&plan, &variant));
    const sq_instance *compress = sq_plan_find(&plan, SQ_STAGE_COMPRESS, variant);
    if (compress == NULL) {
        char names[1024] = "";
        for (size_t i = 0; i < plan.variant_count; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     plan.variants[i].name);
        SQ_FAIL(SQ_ERR_USAGE, "squeeze export: the run has no variant '%s' (variants: %s)", variant, names);
    }
    if (compress->state != SQ_STATE_DONE)
        SQ_FAIL(SQ_ERR_INPUT, "squeeze export: variant '%s' is not compressed yet (%s is %s); run squeeze run %s first",
                variant, compress->id, sq_state_name(compress->state), plan.config_path);
    dir = sq_strdupf("%s/export/%s", plan.run_dir, variant);
    SQ_TRY(sq_mkdir_p(dir));
    out = strcmp(format, "gguf") == 0 ? sq_strdupf("%s/%s-%s.gguf", dir, plan.run_name, variant)
                                      : sq_strdupf("%s/safetensors", dir);
    record = sq_strdupf("%s/export-%s.json", dir, format);
    program = sq_find_program(plan.bin_dir, "squeeze-export");
    if (program == NULL)
        SQ_FAIL(SQ_ERR_USAGE, "squeeze export: squeeze-export is neither beside squeeze (%s) nor on PATH", plan.bin_dir);
    argv = sq_argv_new();
    const char *words[] = {program, "--config", compress->config_path, "--model", compress->output, "--format", format,
                           "--out", out, "--record", record, "--variant", variant, "--key", compress->key};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        SQ_TRY(sq_argv_push(&argv, words[i]));
    sq_info("export %s (%s) -> %s", variant, format, out);
    SQ_TRY(sq_capture(argv, true, 0, &output, &code));
    if (output)
        fputs(output, stderr);
    if (code != 0)
        SQ_FAIL(code == 2 || code == 3 ? (sq_status)code : SQ_ERR_RUN, "squeeze-export failed (exit %d) for variant '%s'",
                code, variant);
    printf("%s\n%s\n", out, record);
    refresh_report(&plan);
cleanup:
    if (st != SQ_OK)
        sq_error("%s", sq_error_message());
    if (planned)
        sq_plan_free(&plan);
    sq_argv_free(argv);
    free(variant);
    free(dir);
    free(out);
    free(record);
    free(program);
    free(output);
    return (int)st;
}
