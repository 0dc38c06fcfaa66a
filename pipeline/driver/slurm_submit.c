/* slurm_submit.c - `squeeze submit`, `squeeze resume` (Slurm) and `squeeze cancel`.
 *
 * One sbatch call per stage group, in plan order:
 *   inspect         one job
 *   calibrate       one job (an array when variants need several calibrations)
 *   baseline        one job (an array when variants vary evaluation options)
 *   compress        an array over the variants, throttled with %N
 *   evaluate        an array over the variants: task i waits for compress task i
 *                   only (aftercorr), and for the baseline (afterok)
 *   report          after every evaluation, whatever its outcome (afterany)
 * so a sweep of any size takes 6 calls, plus one compress/evaluate pair per
 * MaxArraySize chunk (`scontrol show config`; array indices must stay below
 * it, reference-facts B2).  Every job has --kill-on-invalid-dep=yes, so a job
 * whose dependency can never be met is cancelled instead of pending forever.
 * The array index of a variant's compress and evaluate task is the variant's
 * index in the sweep, which keeps aftercorr pairs aligned across resubmissions.
 */
#include "commands.h"
#include "ledger.h"
#include "slurm_jobs.h"
#include "proc.h"
#include "run_lock.h"
#include "select.h"
#include "slurm_groups.h"

#include <stdlib.h>
#include <string.h>

int sq_slurm_max_array_size(void)
{
    const char *env = getenv("SQUEEZE_MAX_ARRAY_SIZE");
    if (env && atoi(env) > 0)
        return atoi(env);
    char *out = NULL;
    int code = 0, value = 1001; /* Slurm's default */
    char *argv[] = {"scontrol", "show", "config", NULL};
    if (sq_capture(argv, false, 20, &out, &code) == SQ_OK && code == 0) {
        char *line = strstr(out, "MaxArraySize");
        if (line) {
            char *eq = strchr(line, '=');
            if (eq && atoi(eq + 1) > 0)
                value = atoi(eq + 1);
        }
    }
    sq_error_clear();
    free(out);
    return value;
}

/* A submit that failed part-way: the jobs this call queued wait for a job that
 * will never exist (or run without the rest of the pipeline), so they are
 * cancelled, and what happened is said job by job.  Returns 0 when nothing of
 * this call is left queued. */
static int cancel_partial_submit(const sq_submission *s, size_t failed, const char *run_name)
{
    char **argv = sq_argv_new();
    char *listed = NULL, *out = NULL;
    size_t size = 0;
    int n = 0, code = 0;
    FILE *f = open_memstream(&listed, &size);
    sq_argv_push(&argv, "scancel");
    for (size_t gi = 0; gi < failed; gi++) {
        const sq_job_group *g = &s->groups[gi];
        if (g->job_id == NULL)
            continue;
        sq_argv_push(&argv, g->job_id);
        fprintf(f, "%s%s job %s", n ? ", " : "", g->label, g->job_id);
        n++;
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "squeeze: nothing was queued by this submit of run %s\n", run_name);
    } else {
        sq_capture(argv, true, 60, &out, &code);
        sq_error_clear();
        if (code == 0)
            fprintf(stderr, "squeeze: cancelled the %d job(s) this submit had queued before the failure (%s): nothing "
                    "of it is left queued; fix the problem and submit again\n", n, listed);
        else
            fprintf(stderr, "squeeze: scancel of the %d job(s) this submit had queued failed (exit %d): %s  these may "
                    "still be queued: %s; see `squeeze status`, or `squeeze cancel`\n", n, code, out ? out : "", listed);
    }
    free(out);
    free(listed);
    sq_argv_free(argv);
    return code;
}

int sq_cmd_submit(const sq_command_options *opts, bool resume)
{
    sq_plan plan;
    sq_ledger ledger = {0};
    sq_run_lock lock = {-1, NULL};
    sq_submission s = {0};
    bool *submit = NULL;
    int rc = 0, calls = 0;
    bool active = false;
    char *sbatch = NULL;

    if (sq_plan_build(opts->config, &plan) != SQ_OK) {
        fprintf(stderr, "squeeze: %s\n", sq_error_message());
        sq_plan_free(&plan);
        return 2;
    }
    if (sq_run_lock_take(plan.run_dir, resume ? "resume" : "submit", &lock) != SQ_OK ||
        sq_ledger_load(plan.run_dir, &ledger) != SQ_OK) {
        fprintf(stderr, "squeeze: %s\n", sq_error_message());
        rc = 2;
        goto cleanup;
    }
    if (!opts->dry_run) {
        sbatch = sq_find_on_path("sbatch");
        if (sbatch == NULL) {
            fprintf(stderr, "squeeze: sbatch is not on PATH: submit needs a Slurm login node (or `squeeze run` here)\n");
            rc = 2;
            goto cleanup;
        }
        if (ledger.count > 0 && sq_slurm_query_states(&plan, &ledger, &active) != SQ_OK) {
            fprintf(stderr, "squeeze: %s\n", sq_error_message());
            rc = 4;
            goto cleanup;
        }
        if (active && !resume) {
            fprintf(stderr, "squeeze: jobs of run %s are still queued or running: see `squeeze status %s`, "
                    "or `squeeze cancel` first\n", plan.run_name, opts->config);
            rc = 2;
            goto cleanup;
        }
    }
    submit = calloc(plan.count + 1, sizeof *submit);
    if (submit == NULL || sq_plan_select(&plan, opts->stage, opts->variant, submit) != SQ_OK) {
        fprintf(stderr, "squeeze: %s\n", sq_error_message());
        rc = 2;
        goto cleanup;
    }
    int max_array = sq_slurm_max_array_size();
    if (sq_submission_group(&plan, submit, max_array, &s) != SQ_OK) {
        fprintf(stderr, "squeeze: %s\n", sq_error_message());
        rc = 4;
        goto cleanup;
    }
    if (s.group_count == 0) {
        fprintf(stderr, "squeeze: nothing to submit: every stage of run %s is done or queued\n", plan.run_name);
        goto cleanup;
    }
    fprintf(stderr, "squeeze: %s %s: %zu job group(s), MaxArraySize %d\n", opts->dry_run ? "writing" : "submitting",
            plan.run_name, s.group_count, max_array);

    size_t failed_group = s.group_count;

    for (size_t gi = 0; gi < s.group_count; gi++) {
        sq_job_group *g = &s.groups[gi];
        bool array = g->array;
        int chunk = g->chunk;
        char *script = chunk ? sq_strdupf("%s/slurm/%s.%d.sbatch", plan.run_dir, g->label, chunk)
                             : sq_strdupf("%s/slurm/%s.sbatch", plan.run_dir, g->label);
        for (size_t i = 0; i < g->count; i++)
            if (sq_instance_prepare(&plan, g->items[i]) != SQ_OK)
                break;
        if (sq_slurm_write_script(&plan, g->stage, g->items, array ? g->tasks : NULL, g->count, g->offset, script) !=
            SQ_OK) {
            fprintf(stderr, "squeeze: %s\n", sq_error_message());
            free(script);
            rc = 4;
            goto cleanup;
        }
        char *spec = array ? sq_slurm_array_spec(g->tasks, g->count, plan.slurm.array_throttle) : NULL;
        char *dep = sq_submission_dependency(&s, g);
        char **argv = sq_argv_new();
        sq_argv_push(&argv, opts->dry_run ? "sbatch" : sbatch);
        sq_argv_push(&argv, "--parsable");
        sq_argv_push(&argv, "--kill-on-invalid-dep=yes");
        if (dep) {
            char *arg = sq_strdupf("--dependency=%s", dep);
            sq_argv_push(&argv, arg);
            free(arg);
        }
        if (spec) {
            char *arg = sq_strdupf("--array=%s", spec);
            sq_argv_push(&argv, arg);
            free(arg);
        }
        sq_argv_push(&argv, script);
        if (opts->dry_run) {
            char *shown = sq_shell_join(argv);
            printf("%s\n", shown);
            free(shown);
            g->job_id = chunk ? sq_strdupf("<%s.%d>", g->label, chunk) : sq_strdupf("<%s>", g->label);
        } else {
            char *out = NULL;
            int code = 0;
            sq_capture(argv, true, 60, &out, &code);
            calls++;
            if (code != 0) {
                char *shown = sq_shell_join(argv);
                fprintf(stderr, "squeeze: sbatch failed for %s (exit %d): %s\n  %s\n", g->label, code, out ? out : "",
                        shown);
                free(shown);
                free(out);
                failed_group = gi;
                rc = 4;
            } else {
                out[strcspn(out, ";\n")] = '\0';
                g->job_id = strdup(out);
                free(out);
                sq_ledger_add_submission(&ledger, g->label, script, argv, g->job_id, spec, g->items, g->tasks, g->count);
                for (size_t i = 0; i < g->count; i++) {
                    free(g->items[i]->job_id);
                    g->items[i]->job_id = spec ? sq_strdupf("%s_%d", g->job_id, g->tasks[i]) : strdup(g->job_id);
                }
                fprintf(stderr, "squeeze: %-14s job %s%s%s%s%s (%zu task%s)\n", g->label, g->job_id,
                        spec ? " array " : "", spec ? spec : "", dep ? " after " : "", dep ? dep : "", g->count,
                        g->count == 1 ? "" : "s");
            }
        }
        sq_argv_free(argv);
        free(spec);
        free(dep);
        free(script);
        if (rc != 0)
            break;
    }
    if (!opts->dry_run && failed_group < s.group_count) {
        fputs("squeeze: not submitted:", stderr);
        for (size_t gi = failed_group; gi < s.group_count; gi++)
            fprintf(stderr, " %s%s", s.groups[gi].label, gi + 1 < s.group_count ? "," : "\n");
        cancel_partial_submit(&s, failed_group, plan.run_name);
    }
    if (!opts->dry_run) {
        sq_ledger_save(&ledger);
        sq_plan_write_json(&plan, "slurm");
        fprintf(stderr, "squeeze: %d sbatch call(s); job ids in %s\n", calls, ledger.path);
    } else {
        fprintf(stderr, "squeeze: dry run: scripts in %s/slurm/, nothing submitted\n", plan.run_dir);
    }
cleanup:
    sq_submission_free(&s);
    free(submit);
    free(sbatch);
    sq_ledger_free(&ledger);
    sq_run_lock_release(&lock);
    sq_plan_free(&plan);
    return rc;
}

int sq_cmd_cancel(const sq_command_options *opts)
{
    sq_plan plan;
    sq_ledger ledger = {0};
    sq_run_lock lock = {-1, NULL};
    bool active = false;
    int rc = 0;
    if (sq_plan_build(opts->config, &plan) != SQ_OK) {
        fprintf(stderr, "squeeze: %s\n", sq_error_message());
        sq_plan_free(&plan);
        return 2;
    }
    if (sq_run_lock_take(plan.run_dir, "cancel", &lock) != SQ_OK || sq_ledger_load(plan.run_dir, &ledger) != SQ_OK) {
        fprintf(stderr, "squeeze: %s\n", sq_error_message());
        rc = 2;
        goto cleanup;
    }
    if (ledger.count == 0 || sq_slurm_query_states(&plan, &ledger, &active) != SQ_OK || !active) {
        fprintf(stderr, "squeeze: no queued or running job of run %s\n", plan.run_name);
        goto cleanup;
    }
    char **argv = sq_argv_new();
    sq_argv_push(&argv, "scancel");
    int n = 0;
    for (size_t i = 0; i < plan.count; i++) {
        sq_instance *inst = plan.items[i];
        if ((inst->state == SQ_STATE_PENDING || inst->state == SQ_STATE_RUNNING) && inst->job_id) {
            sq_argv_push(&argv, inst->job_id);
            n++;
        }
    }
    char *out = NULL;
    int code = 0;
    sq_capture(argv, true, 60, &out, &code);
    fprintf(stderr, "squeeze: cancelled %d job(s) of run %s%s%s\n", n, plan.run_name, code ? ": " : "",
            code ? out : "");
    rc = code ? 4 : 0;
    free(out);
    sq_argv_free(argv);
    sq_ledger_save(&ledger);
cleanup:
    sq_ledger_free(&ledger);
    sq_run_lock_release(&lock);
    sq_plan_free(&plan);
    return rc;
}
