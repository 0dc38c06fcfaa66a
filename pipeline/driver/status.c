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

#include <jansson.h>
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

/* One instance as a JSON object, for plan --json and status --json. */
static json_t *instance_json(const sq_plan *plan, const sq_instance *inst, const char *detail)
{
    json_t *o = json_object();
    (void)plan;
    json_object_set_new(o, "id", json_string(inst->id));
    json_object_set_new(o, "stage", json_string(sq_stage_name(inst->stage)));
    json_object_set_new(o, "variant", json_string(inst->variant));
    json_object_set_new(o, "state", json_string(sq_state_name(inst->state)));
    json_object_set_new(o, "key", json_string(inst->key));
    json_object_set_new(o, "output", json_string(inst->output));
    json_object_set_new(o, "log", json_string(inst->log_path));
    json_object_set_new(o, "ranks", json_integer(inst->ranks));
    json_object_set_new(o, "exit_code", inst->state == SQ_STATE_FAILED ? json_integer(inst->exit_code) : json_null());
    json_object_set_new(o, "job_id", inst->job_id ? json_string(inst->job_id) : json_null());
    json_object_set_new(o, "detail", detail && detail[0] ? json_string(detail) : json_null());
    return o;
}

static void print_json(json_t *root)
{
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(root);
}

int sq_cmd_plan(const sq_command_options *opts)
{
    sq_plan plan;
    if (sq_plan_build(opts->config, &plan) != SQ_OK) {
        fprintf(stderr, "squeeze: %s\n", sq_error_message());
        sq_plan_free(&plan);
        return 2;
    }
    if (opts->json) {
        json_t *root = json_object(), *items = json_array();
        json_object_set_new(root, "run", json_string(plan.run_name));
        json_object_set_new(root, "run_dir", json_string(plan.run_dir));
        json_object_set_new(root, "config", json_string(plan.config_path));
        for (size_t i = 0; i < plan.count; i++)
            json_array_append_new(items, instance_json(&plan, plan.items[i], NULL));
        json_object_set_new(root, "instances", items);
        print_json(root);
    } else {
        sq_plan_print(&plan, stdout);
    }
    sq_plan_free(&plan);
    return 0;
}

int sq_cmd_status(const sq_command_options *opts)
{
    sq_plan plan;
    sq_ledger ledger;
    bool active = false, slurm_failed = false;
    int counts[SQ_STATE_CANCELLED + 1] = {0}, rc;
    json_t *items = opts->json ? json_array() : NULL;
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
    if (!opts->json) {
        printf("status of run %s in %s\n", plan.run_name, plan.run_dir);
        printf("%-10s %-24s %-9s %s\n", "STAGE", "VARIANT", "STATE", "DETAIL");
    }
    for (size_t i = 0; i < plan.count; i++) {
        const sq_instance *inst = plan.items[i];
        char detail[2048] = "";
        switch (inst->state) {
        case SQ_STATE_FAILED: {
            /* the file that holds the error: stage.log, or the job's slurm output file when the job died
             * before its output went to stage.log (a module that does not load) */
            char *slurm_out = NULL;
            const char *log = inst->log_path;
            if (access(log, F_OK) != 0 && inst->job_id) {
                slurm_out = sq_strdupf("%s/slurm/%s-%s.out", plan.run_dir, sq_stage_name(inst->stage), inst->job_id);
                if (access(slurm_out, F_OK) == 0)
                    log = slurm_out;
            }
            snprintf(detail, sizeof detail, "exit %d, log %s%s%s%s", inst->exit_code, log,
                     access(log, F_OK) == 0 ? "" : " (not written: the job died before it started the stage)",
                     inst->detail ? ", " : "", inst->detail ? inst->detail : "");
            free(slurm_out);
            break;
        }
        case SQ_STATE_CANCELLED:
            snprintf(detail, sizeof detail, "%s", inst->detail ? inst->detail : "cancelled");
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
        if (items)
            json_array_append_new(items, instance_json(&plan, inst, detail));
        else
            printf("%-10s %-24s %-9s %s\n", sq_stage_name(inst->stage), inst->variant[0] ? inst->variant : "-",
                   sq_state_name(inst->state), detail);
    }
    /* The exit status says where the run stands (docs/driver.md), for scripts that wait on it. */
    if (slurm_failed || counts[SQ_STATE_FAILED] || counts[SQ_STATE_CANCELLED])
        rc = 4; /* needs a fix or a resume */
    else if (counts[SQ_STATE_PENDING] || counts[SQ_STATE_RUNNING])
        rc = 5; /* still going */
    else if (counts[SQ_STATE_MISSING] || counts[SQ_STATE_STALE])
        rc = 6; /* not done, and nothing is running: squeeze run or resume */
    else
        rc = 0;
    if (items) {
        json_t *root = json_object(), *c = json_object();
        json_object_set_new(root, "run", json_string(plan.run_name));
        json_object_set_new(root, "run_dir", json_string(plan.run_dir));
        for (int k = 0; k <= SQ_STATE_CANCELLED; k++)
            json_object_set_new(c, sq_state_name((sq_state)k), json_integer(counts[k]));
        json_object_set_new(root, "counts", c);
        json_object_set_new(root, "slurm_asked", json_boolean(!slurm_failed));
        json_object_set_new(root, "exit_code", json_integer(rc));
        json_object_set_new(root, "instances", items);
        print_json(root);
    } else {
        printf("%d done, %d running, %d pending, %d failed, %d cancelled, %d stale, %d missing\n",
               counts[SQ_STATE_DONE], counts[SQ_STATE_RUNNING], counts[SQ_STATE_PENDING], counts[SQ_STATE_FAILED],
               counts[SQ_STATE_CANCELLED], counts[SQ_STATE_STALE], counts[SQ_STATE_MISSING]);
    }
    if (slurm_failed)
        fprintf(stderr, "squeeze: Slurm could not be asked: the states above come from the artifacts alone (exit 4)\n");
    sq_ledger_free(&ledger);
    sq_plan_free(&plan);
    return rc;
}
