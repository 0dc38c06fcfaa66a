/* check.c - `squeeze check CONFIG`: everything that failed the seed's cluster
 * jobs, caught on the laptop in seconds (DESIGN.md "Who uses it").
 *
 * In order: the config (unknown keys, wrong types, sweep and slurm sections,
 * every variant's effective config, all with file:line:column); the programs
 * (check_programs.c, check_slurm.c); the output folder (check_output.c); the
 * checkpoint (exists and loads, through the same loader the stages use, here);
 * then for each variant the tokenizer against the model's vocabulary
 * (check_tokenizer.c), the windows against the model's maximum sequence length
 * (check_windows.c), the data against one window (check_data.c) and the
 * precision map against the checkpoint's tensors (check_precision_map.c).
 * Every problem is listed; exit 0 only if none.
 */
#include "checks.h"
#include "proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/* The checkpoint the variants share: exists and loads; false (said as a problem) otherwise. */
static bool check_checkpoint(const sq_plan *plan, sq_loaded_model *model, sq_check_result *r)
{
    const sq_run_config *first = &plan->variants[0].cfg;
    const sq_yaml_node *root = plan->variants[0].config;
    char pos[600];
    if (first->model.checkpoint == NULL) {
        sq_check_problem(r, "%s: model.checkpoint is not set: name the checkpoint to compress", plan->config_path);
        return false;
    }
    if (access(first->model.checkpoint, R_OK) != 0) {
        sq_check_problem(r, "%smodel.checkpoint %s: %s", sq_check_where(root, "model.checkpoint", pos, sizeof pos),
                         first->model.checkpoint, strerror(errno));
        return false;
    }
    sq_family_hints hints = {first->model.num_heads};
    if (sq_model_load(first->model.checkpoint, first->model.family, &hints, model) != SQ_OK) {
        sq_check_problem(r, "%smodel.checkpoint %s does not load: %s",
                         sq_check_where(root, "model.checkpoint", pos, sizeof pos), first->model.checkpoint,
                         sq_error_message());
        sq_error_clear();
        return false;
    }
    sq_check_note(r, "checkpoint %s loads: family %s, %zu tensors, vocab %d, max sequence %d", first->model.checkpoint,
                  model->config.family, model->tensors.count, model->config.vocab_size, model->config.max_seq_length);
    return true;
}

/* compresses: false for an evaluate-only run (no calibration data, no precision map to check). */
static void check_variant(const sq_variant *var, const sq_loaded_model *model, bool compresses,
                          sq_check_data_cache *cache, sq_check_result *r)
{
    sq_tokenizer *tok = sq_check_tokenizer(&var->cfg, var->config, model, r);
    sq_check_windows(&var->cfg, var->config, model ? model->config.max_seq_length : 0, compresses, r);
    sq_check_data(&var->cfg, var->config, tok, model ? model->config.vocab_size : 0, compresses, cache, r);
    if (compresses)
        sq_check_precision_map(var, model, r);
    if (tok)
        sq_tokenizer_free(tok);
}

/* The check, as `squeeze check` (gate false) or as the gate of run, submit and resume. */
static int run_check(const sq_command_options *opts, bool gate)
{
    double start = sq_now();
    sq_check_result r = {.gate = gate};
    sq_plan plan;
    sq_loaded_model model;
    sq_check_data_cache cache = {0};

    sq_log_level level = sq_log_get_level();
    FILE *summary = gate ? stderr : stdout;
    if (getenv("SQUEEZE_LOG") == NULL)
        sq_log_set_level(SQ_LOG_ERROR); /* the library's info lines would drown the verdicts */
    if (sq_plan_build(opts->config, &plan) != SQ_OK) {
        sq_check_problem(&r, "%s", sq_error_message());
        fprintf(summary, "check %s: 1 problem (the config must be fixed before the other checks) in %.2f s\n",
                opts->config, sq_now() - start);
        sq_check_result_free(&r);
        sq_plan_free(&plan);
        sq_log_set_level(level);
        return 2;
    }
    sq_check_note(&r, "config %s: run %s, %zu variant%s, %zu stage instances", plan.config_path, plan.run_name,
                  plan.variant_count, plan.variant_count == 1 ? "" : "s", plan.count);
    sq_check_programs(&plan, &r);
    sq_check_slurm(&plan, opts, &r);
    sq_check_cluster(&plan, opts, &r);
    sq_check_output(&plan, &r);
    if (plan.evaluate_only)
        sq_check_note(&r, "evaluate-only run (no compress.recipe or compress.precision_map): inspect, evaluate and "
                      "report; no calibration data or recipe needed");

    bool have_model = check_checkpoint(&plan, &model, &r);
    for (size_t v = 0; v < plan.variant_count; v++)
        check_variant(&plan.variants[v], have_model ? &model : NULL, !plan.evaluate_only, &cache, &r);

    sq_check_data_cache_free(&cache);
    if (have_model)
        sq_loaded_model_free(&model);
    if (!gate || r.problems)
        fprintf(summary, "check %s: %d problem%s%s%s in %.2f s%s\n", opts->config, r.problems,
                r.problems == 1 ? "" : "s", r.repeats ? " (met again in other variants, shown once)" : "",
                r.warnings ? (r.warnings == 1 ? ", 1 warning" : ", warnings above") : "", sq_now() - start,
                r.problems ? "" : ": the run can go");
    sq_check_result_free(&r);
    sq_plan_free(&plan);
    sq_log_set_level(level);
    return r.problems ? 2 : 0;
}

int sq_cmd_check(const sq_command_options *opts)
{
    return run_check(opts, false);
}

int sq_check_gate(const sq_command_options *opts, const char *command)
{
    sq_command_options check = *opts;
    /* run and resume (locally) need no Slurm tools; submit does */
    check.local_only = strcmp(command, "submit") != 0 && !opts->slurm;
    int rc = run_check(&check, true);
    if (rc != 0)
        fprintf(stderr, "squeeze %s: stopped before anything ran or was queued: fix the problems above (squeeze "
                "check %s lists them with what was verified), or skip the check with --no-check\n", command,
                opts->config);
    return rc;
}
