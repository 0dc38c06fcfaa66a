/* status.c - `squeeze plan` and `squeeze status` tables.
 *
 * status reads the artifacts (done / stale / missing), the failures the local
 * executor recorded in plan.json, and, when the run was submitted, Slurm's
 * view with ONE scoped squeue call and ONE `sacct -c` call (slurm_query.c).
 */
#include "commands.h"
#include "ledger.h"
#include "slurm_jobs.h"
#include "proc.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *relative(const sq_plan *plan, const char *path)
{
    size_t n = strlen(plan->run_dir);
    if (strncmp(path, plan->run_dir, n) == 0 && path[n] == '/')
        return path + n + 1;
    return path;
}

void sq_plan_print(const sq_plan *plan, FILE *out)
{
    fprintf(out, "plan of run %s (%zu variant%s, %zu stage instances) in %s\n", plan->run_name, plan->variant_count,
            plan->variant_count == 1 ? "" : "s", plan->count, plan->run_dir);
    fprintf(out, "%-10s %-24s %-8s %-12s %-5s %-34s %s\n", "STAGE", "VARIANT", "STATE", "KEY", "RANKS", "OUTPUT",
            "INPUTS");
    for (size_t i = 0; i < plan->count; i++) {
        const sq_instance *inst = plan->items[i];
        char inputs[1024] = "";
        for (int j = 0; j < inst->input_count; j++)
            snprintf(inputs + strlen(inputs), sizeof inputs - strlen(inputs), "%s%s", j ? "," : "", inst->inputs[j]->id);
        fprintf(out, "%-10s %-24s %-8s %.12s %-5d %-34s %s\n", sq_stage_name(inst->stage),
                inst->variant[0] ? inst->variant : "-", sq_state_name(inst->state), inst->key, inst->ranks,
                relative(plan, inst->output), inputs[0] ? inputs : "-");
    }
    for (size_t v = 0; v < plan->variant_count; v++) {
        const sq_variant_spec *spec = plan->variants[v].spec;
        if (spec == NULL || spec->override_count == 0)
            continue;
        fprintf(out, "variant %s:", plan->variants[v].name);
        for (size_t i = 0; i < spec->override_count; i++) {
            const sq_yaml_node *value = spec->overrides[i].value;
            fprintf(out, " %s=%s", spec->overrides[i].path, value->kind == SQ_YAML_SCALAR ? value->value : "(list/map)");
        }
        fputc('\n', out);
    }
}

int sq_cmd_plan(const sq_command_options *opts)
{
    sq_plan plan;
    if (sq_plan_build(opts->config, &plan) != SQ_OK) {
        fprintf(stderr, "squeeze: %s\n", sq_error_message());
        sq_plan_free(&plan);
        return 2;
    }
    sq_plan_print(&plan, stdout);
    sq_plan_free(&plan);
    return 0;
}

int sq_cmd_status(const sq_command_options *opts)
{
    sq_plan plan;
    sq_ledger ledger;
    bool active = false, slurm_failed = false;
    int counts[SQ_STATE_FAILED + 1] = {0};
    if (sq_plan_build(opts->config, &plan) != SQ_OK) {
        fprintf(stderr, "squeeze: %s\n", sq_error_message());
        sq_plan_free(&plan);
        return 2;
    }
    sq_plan_read_failures(&plan);
    if (sq_ledger_load(plan.run_dir, &ledger) == SQ_OK && ledger.count > 0) {
        if (sq_slurm_query_states(&plan, &ledger, &active) != SQ_OK) {
            fprintf(stderr, "squeeze: %s\n", sq_error_message());
            sq_error_clear();
            slurm_failed = true;
        }
        sq_ledger_save(&ledger);
    }
    sq_error_clear();
    printf("status of run %s in %s\n", plan.run_name, plan.run_dir);
    printf("%-10s %-24s %-8s %s\n", "STAGE", "VARIANT", "STATE", "DETAIL");
    for (size_t i = 0; i < plan.count; i++) {
        const sq_instance *inst = plan.items[i];
        char detail[2048] = "";
        switch (inst->state) {
        case SQ_STATE_FAILED:
            snprintf(detail, sizeof detail, "exit %d, log %s%s%s", inst->exit_code, inst->log_path,
                     inst->detail ? ", " : "", inst->detail ? inst->detail : "");
            break;
        case SQ_STATE_STALE:
            snprintf(detail, sizeof detail, "%s was made from another config or input", relative(&plan, inst->output));
            break;
        case SQ_STATE_PENDING:
        case SQ_STATE_RUNNING:
            snprintf(detail, sizeof detail, "job %s%s%s", inst->job_id ? inst->job_id : "?", inst->detail ? ", " : "",
                     inst->detail ? inst->detail : "");
            break;
        case SQ_STATE_DONE:
            snprintf(detail, sizeof detail, "%s", relative(&plan, inst->output));
            break;
        case SQ_STATE_MISSING: {
            char *written = inst->stage == SQ_STAGE_REPORT ? sq_path_join(inst->dir, "report.json") : NULL;
            if (inst->detail == NULL && written && access(written, F_OK) == 0)
                snprintf(detail, sizeof detail, "%s/ written while an evaluation was not done: incomplete",
                         relative(&plan, inst->dir));
            else
                snprintf(detail, sizeof detail, "%s", inst->detail ? inst->detail : "not run yet");
            free(written);
            break;
        }
        }
        counts[inst->state]++;
        printf("%-10s %-24s %-8s %s\n", sq_stage_name(inst->stage), inst->variant[0] ? inst->variant : "-",
               sq_state_name(inst->state), detail);
    }
    printf("%d done, %d running, %d pending, %d failed, %d stale, %d missing\n", counts[SQ_STATE_DONE],
           counts[SQ_STATE_RUNNING], counts[SQ_STATE_PENDING], counts[SQ_STATE_FAILED], counts[SQ_STATE_STALE],
           counts[SQ_STATE_MISSING]);
    if (slurm_failed)
        fprintf(stderr, "squeeze: Slurm could not be asked: the states above come from the artifacts alone (exit 4)\n");
    sq_ledger_free(&ledger);
    sq_plan_free(&plan);
    return slurm_failed ? 4 : 0;
}
