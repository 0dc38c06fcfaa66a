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
#include "driver.h"

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

/* "0-3,5,7-9%4" from sorted task ids. */
static char *array_spec(const int *ids, size_t count, int throttle)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    for (size_t i = 0; i < count;) {
        size_t j = i;
        while (j + 1 < count && ids[j + 1] == ids[j] + 1)
            j++;
        if (j > i)
            fprintf(f, "%s%d-%d", i ? "," : "", ids[i], ids[j]);
        else
            fprintf(f, "%s%d", i ? "," : "", ids[i]);
        i = j + 1;
    }
    if (throttle > 0)
        fprintf(f, "%%%d", throttle);
    fclose(f);
    return text;
}

typedef struct {
    sq_stage_kind stage;
    const char *label;       /* script name: inspect, calibrate, baseline, compress, evaluate, report */
    sq_instance **items;
    int *tasks;              /* array task ids (local to the chunk), NULL for a single job */
    size_t count;
    int offset;
    char *job_id;            /* after submission ("<label>" in a dry run) */
    bool corr_with_prev;     /* evaluate chunk whose every task has its compress in the previous group */
    int corr_group;          /* index of the compress group it pairs with, -1 */
} job_group;

typedef struct {
    sq_plan *plan;
    bool *submit;            /* per plan item */
    job_group *groups;
    size_t group_count;
    int *group_of;           /* per plan item: group index or -1 */
} submission;

static job_group *new_group(submission *s, sq_stage_kind stage, const char *label)
{
    job_group *grown = realloc(s->groups, (s->group_count + 1) * sizeof *grown);
    if (grown == NULL)
        return NULL;
    s->groups = grown;
    job_group *g = &s->groups[s->group_count++];
    memset(g, 0, sizeof *g);
    g->stage = stage;
    g->label = label;
    g->corr_group = -1;
    return g;
}

static void group_add(submission *s, job_group *g, size_t item, int task)
{
    g->items = realloc(g->items, (g->count + 1) * sizeof *g->items);
    g->tasks = realloc(g->tasks, (g->count + 1) * sizeof *g->tasks);
    g->items[g->count] = s->plan->items[item];
    g->tasks[g->count] = task;
    g->count++;
    s->group_of[item] = (int)(g - s->groups);
}

static size_t item_index(const sq_plan *plan, const sq_instance *inst)
{
    for (size_t i = 0; i < plan->count; i++)
        if (plan->items[i] == inst)
            return i;
    return 0;
}

/* Groups the instances to submit, in plan order. */
static void make_groups(submission *s, int max_array)
{
    sq_plan *plan = s->plan;
    job_group *g;
    /* inspect, calibrate, baseline: positions as task ids */
    static const struct { sq_stage_kind stage; const char *label; bool baseline; } simple[] = {
        {SQ_STAGE_INSPECT, "inspect", false}, {SQ_STAGE_CALIBRATE, "calibrate", false},
        {SQ_STAGE_EVALUATE, "baseline", true}};
    for (size_t k = 0; k < 3; k++) {
        g = NULL;
        for (size_t i = 0; i < plan->count; i++) {
            sq_instance *inst = plan->items[i];
            if (!s->submit[i] || inst->stage != simple[k].stage)
                continue;
            if (simple[k].stage == SQ_STAGE_EVALUATE && inst->variant_index >= 0)
                continue;
            if (g == NULL || (int)g->count == max_array)
                g = new_group(s, simple[k].stage, simple[k].label);
            group_add(s, g, i, (int)g->count);
        }
    }
    /* compress and evaluate: array index = variant index, chunked by MaxArraySize */
    int chunks = (int)((plan->variant_count + (size_t)max_array - 1) / (size_t)max_array);
    for (int c = 0; c < chunks; c++) {
        int offset = c * max_array;
        job_group *compress = NULL, *paired = NULL, *single = NULL;
        for (size_t i = 0; i < plan->count; i++) {
            sq_instance *inst = plan->items[i];
            if (!s->submit[i] || inst->stage != SQ_STAGE_COMPRESS || inst->variant_index / max_array != c)
                continue;
            if (compress == NULL) {
                compress = new_group(s, SQ_STAGE_COMPRESS, "compress");
                compress->offset = offset;
            }
            group_add(s, compress, i, inst->variant_index - offset);
        }
        int compress_index = compress ? (int)(compress - s->groups) : -1;
        for (size_t i = 0; i < plan->count; i++) {
            sq_instance *inst = plan->items[i];
            if (!s->submit[i] || inst->stage != SQ_STAGE_EVALUATE || inst->variant_index < 0 ||
                inst->variant_index / max_array != c)
                continue;
            /* its compress input is inputs[0] */
            bool corr = compress_index >= 0 && s->submit[item_index(plan, inst->inputs[0])];
            job_group **slot = corr ? &paired : &single;
            if (*slot == NULL) {
                *slot = new_group(s, SQ_STAGE_EVALUATE, corr ? "evaluate" : "evaluate-only");
                (*slot)->offset = offset;
                (*slot)->corr_group = corr ? compress_index : -1;
            }
            group_add(s, *slot, i, inst->variant_index - offset);
        }
    }
    g = NULL;
    for (size_t i = 0; i < plan->count; i++)
        if (s->submit[i] && plan->items[i]->stage == SQ_STAGE_REPORT)
            group_add(s, g = new_group(s, SQ_STAGE_REPORT, "report"), i, 0);
}

/* --dependency for a group: afterok on the groups (or running jobs) of its
 * inputs, aftercorr on the paired compress array, afterany for the report. */
static char *dependency(submission *s, const job_group *g)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    int n = 0;
    const char *type = g->stage == SQ_STAGE_REPORT ? "afterany" : "afterok";
    char **seen = NULL;
    size_t seen_count = 0;
    for (size_t i = 0; i < g->count; i++) {
        const sq_instance *inst = g->items[i];
        for (int j = 0; j < inst->input_count; j++) {
            const sq_instance *input = inst->inputs[j];
            size_t index = item_index(s->plan, input);
            const char *id = NULL, *kind = type;
            if (s->submit[index] && s->group_of[index] >= 0) {
                if (s->group_of[index] == g->corr_group)
                    kind = "aftercorr";
                id = s->groups[s->group_of[index]].job_id;
            } else if (input->state == SQ_STATE_PENDING || input->state == SQ_STATE_RUNNING) {
                id = input->job_id;
            }
            if (id == NULL)
                continue;
            char *dep = sq_strdupf("%s:%s", kind, id);
            bool dup = false;
            for (size_t k = 0; k < seen_count && !dup; k++)
                dup = strcmp(seen[k], dep) == 0;
            if (dup) {
                free(dep);
                continue;
            }
            seen = realloc(seen, (seen_count + 1) * sizeof *seen);
            seen[seen_count++] = dep;
            fprintf(f, "%s%s", n++ ? "," : "", dep);
        }
    }
    fclose(f);
    for (size_t k = 0; k < seen_count; k++)
        free(seen[k]);
    free(seen);
    if (n == 0) {
        free(text);
        return NULL;
    }
    return text;
}

static void select_for_submit(sq_plan *plan, const sq_command_options *opts, bool *submit, sq_status *st)
{
    *st = SQ_OK;
    if (opts->stage) {
        int stage = sq_stage_from_name(opts->stage);
        int matches = 0;
        if (stage < 0) {
            *st = sq_fail(SQ_ERR_USAGE, "unknown stage '%s' (inspect, calibrate, compress, evaluate, report)", opts->stage);
            return;
        }
        for (size_t i = 0; i < plan->count; i++) {
            sq_instance *inst = plan->items[i];
            submit[i] = (int)inst->stage == stage && (opts->variant == NULL || strcmp(inst->variant, opts->variant) == 0);
            matches += submit[i];
        }
        if (matches != 1)
            *st = sq_fail(SQ_ERR_USAGE, "--stage %s%s%s names %d instances; name exactly one (see squeeze plan)",
                          opts->stage, opts->variant ? " --variant " : "", opts->variant ? opts->variant : "", matches);
        return;
    }
    for (size_t i = 0; i < plan->count; i++) {
        sq_instance *inst = plan->items[i];
        bool active = inst->state == SQ_STATE_PENDING || inst->state == SQ_STATE_RUNNING;
        submit[i] = inst->state != SQ_STATE_DONE && !active;
        for (int j = 0; j < inst->input_count && !submit[i] && !active; j++)
            for (size_t k = 0; k < i; k++)
                if (plan->items[k] == inst->inputs[j] && submit[k])
                    submit[i] = true;
    }
}

int sq_cmd_submit(const sq_command_options *opts, bool resume)
{
    sq_plan plan;
    sq_ledger ledger = {0};
    sq_run_lock lock = {-1, NULL};
    submission s = {0};
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
    s.plan = &plan;
    s.submit = calloc(plan.count, sizeof *s.submit);
    s.group_of = malloc(plan.count * sizeof *s.group_of);
    for (size_t i = 0; i < plan.count; i++)
        s.group_of[i] = -1;
    {
        sq_status st;
        select_for_submit(&plan, opts, s.submit, &st);
        if (st != SQ_OK) {
            fprintf(stderr, "squeeze: %s\n", sq_error_message());
            rc = 2;
            goto cleanup;
        }
    }
    int max_array = sq_slurm_max_array_size();
    make_groups(&s, max_array);
    if (s.group_count == 0) {
        fprintf(stderr, "squeeze: nothing to submit: every stage of run %s is done or queued\n", plan.run_name);
        goto cleanup;
    }
    fprintf(stderr, "squeeze: %s %s: %zu job group(s), MaxArraySize %d\n", opts->dry_run ? "writing" : "submitting",
            plan.run_name, s.group_count, max_array);

    for (size_t gi = 0; gi < s.group_count; gi++) {
        job_group *g = &s.groups[gi];
        bool array = g->stage == SQ_STAGE_COMPRESS || (g->stage == SQ_STAGE_EVALUATE && g->items[0]->variant_index >= 0) ||
                     g->count > 1;
        int chunk = g->offset / max_array;
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
        char *spec = array ? array_spec(g->tasks, g->count, plan.slurm.array_throttle) : NULL;
        char *dep = dependency(&s, g);
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
                fprintf(stderr, "squeeze: sbatch failed (exit %d): %s\n  %s\n", code, out ? out : "", shown);
                free(shown);
                free(out);
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
    if (!opts->dry_run) {
        sq_ledger_save(&ledger);
        sq_plan_write_json(&plan, "slurm");
        fprintf(stderr, "squeeze: %d sbatch call(s); job ids in %s\n", calls, ledger.path);
    } else {
        fprintf(stderr, "squeeze: dry run: scripts in %s/slurm/, nothing submitted\n", plan.run_dir);
    }
cleanup:
    for (size_t gi = 0; gi < s.group_count; gi++) {
        free(s.groups[gi].items);
        free(s.groups[gi].tasks);
        free(s.groups[gi].job_id);
    }
    free(s.groups);
    free(s.submit);
    free(s.group_of);
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
