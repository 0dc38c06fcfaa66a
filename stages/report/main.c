/* squeeze-report: one page that compares every variant of a run and gives a verdict.
 *
 *   squeeze-report --run-dir DIR [--config FILE] [--key KEY]
 *
 * Reads DIR's inspect, calibration and evaluation artifacts (and plan.json for
 * variants that failed) and writes DIR/report/report.{md,json,html} (docs/report.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "advice/decision_matrix.h"
#include "artifact/artifact.h"
#include "cli/stage_options.h"
#include "config/run_config.h"
#include "report/run_results.h"
#include "util/log.h"

static const char usage_text[] =
    "usage: squeeze-report --run-dir DIR [--config FILE] [--key KEY]\n"
    "Compares every variant of a run against the fp32 baseline and its targets, and writes\n"
    "DIR/report/report.md, report.json and report.html (self-contained).\n"
    "  --run-dir DIR   the run folder (results/<run>)\n"
    "  --config FILE   the run config, for targets.compression, targets.quality and\n"
    "                  inspect.target_hardware (defaults 2.0x, 3%, gpu)\n"
    "  --key KEY       the driver's plan key (recorded in report.json)\n"
    "  --json          print report.json on stdout (instead of the three paths)\n"
    "  --version       the program's version\n"
    "Exit: 0 written, 2 usage/config error, 3 bad or missing artifacts, 4 failure.\n";

int main(int argc, char **argv)
{
    const char *run_dir = NULL, *config_path = NULL, *key = NULL;
    bool json = false;
    const sq_stage_option options[] = {
        SQ_OPTION_REQUIRED("run-dir", &run_dir), SQ_OPTION("config", &config_path), SQ_OPTION("key", &key),
        SQ_FLAG("json", &json),
    };
    const sq_stage_command_line line = {"squeeze-report", options, SQ_OPTION_COUNT(options), NULL};
    sq_status st = SQ_OK;
    sq_run_config cfg;
    sq_run_results *results = NULL;
    sq_report_settings settings;
    sq_advice_hardware hardware;
    char folder[2048], path[2200];
    int have_config = 0;
    bool help = false;

    sq_h5_library_setup();
    sq_log_init("squeeze-report");
    sq_run_config_defaults(&cfg);
    SQ_TRY(sq_stage_parse(&line, argc, argv, &help));
    if (help) {
        sq_stage_print_help(&line, usage_text);
        return 0;
    }
    if (config_path) {
        SQ_TRY(sq_run_config_load(config_path, &cfg));
        have_config = 1;
    }
    settings.target_compression = cfg.targets.compression;
    settings.target_quality = cfg.targets.quality;
    settings.target_hardware = cfg.inspect.target_hardware ? cfg.inspect.target_hardware : "gpu";
    settings.config_path = config_path;
    settings.plan_key = key;
    SQ_TRY(sq_advice_hardware_parse(settings.target_hardware, &hardware));
    if (!(settings.target_compression > 0) || settings.target_quality != settings.target_quality)
        SQ_FAIL(SQ_ERR_USAGE, "%s: targets.compression must be > 0 and targets.quality a number (got %g, %g)",
                config_path ? config_path : "defaults", settings.target_compression, settings.target_quality);
    SQ_TRY(sq_alloc(&results, 1, sizeof *results, "report"));
    SQ_TRY(sq_run_results_load(run_dir, &settings, results));
    sq_run_results_judge(results);

    snprintf(folder, sizeof folder, "%s/report", run_dir);
    if (mkdir(folder, 0755) != 0 && errno != EEXIST)
        SQ_FAIL(SQ_ERR_RUN, "cannot create %s: %s", folder, strerror(errno));
    snprintf(path, sizeof path, "%s/report.json", folder);
    SQ_TRY(sq_report_write_json(results, path));
    snprintf(path, sizeof path, "%s/report.md", folder);
    SQ_TRY(sq_report_write_markdown(results, path));
    snprintf(path, sizeof path, "%s/report.html", folder);
    SQ_TRY(sq_report_write_html(results, path));

    for (int i = 0; i < results->variant_count; i++) {
        const sq_variant_result *v = &results->variants[i];
        if (v->evaluated)
            sq_info("%-20s %-8s %.2fx smaller, perplexity %+.2f%% +- %.2f%%", v->name, sq_verdict_name(v->verdict),
                    v->ratio_size, v->ppl_change_pct, v->ppl_change_stderr_pct);
        else
            sq_info("%-20s %s: %s (log %s)", v->name, sq_verdict_name(v->verdict), v->failure,
                    v->log_path[0] ? v->log_path : "-");
    }
    if (results->recommended >= 0)
        sq_info("recommended: %s", results->variants[results->recommended].name);
    else
        sq_info("no variant meets both targets");
    if (json) {
        char json_path[2200];
        snprintf(json_path, sizeof json_path, "%s/report.json", folder);
        FILE *in = fopen(json_path, "r");
        if (in == NULL)
            SQ_FAIL(SQ_ERR_RUN, "cannot read back %s", json_path);
        char chunk[8192];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
            fwrite(chunk, 1, n, stdout);
        fclose(in);
    } else {
        printf("%s/report.md\n%s/report.json\n%s\n", folder, folder, path);
    }
cleanup:
    if (results)
        sq_run_results_free(results);
    free(results);
    if (have_config)
        sq_run_config_free(&cfg);
    return sq_stage_exit_status(st);
}
