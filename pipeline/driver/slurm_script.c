/* slurm_script.c - batch scripts from slurm/stage.sbatch.in.
 *
 * One script per stage (and per array chunk when MaxArraySize splits it).
 * The template holds @NAME@ placeholders; every value the config or the plan
 * supplies is quoted for its line: shell-quoted (sq_shell_quote) in the
 * script's body, escaped for sbatch's own parser (sq_sbatch_quote) on #SBATCH
 * lines, or checked to need no quoting (Slurm names, times, memory:
 * slurm_options.c).  No value goes into a comment, and control characters
 * were refused when the plan was built (script_values.c), so a variant name or
 * a path never becomes shell code.  Each task is a `case` branch that sets the
 * variant, folder, key and the stage's argv, so the script reads like what it
 * does and runs by hand with SLURM_ARRAY_TASK_ID=<task> bash <script>.
 */
#include "slurm_jobs.h"
#include "fault.h"
#include "proc.h"
#include "script_values.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *sq_slurm_template_path(const char *bin_dir, const char *name)
{
    const char *env = getenv("SQUEEZE_TEMPLATE_DIR");
    char *candidates[4] = {NULL, NULL, NULL, NULL};
    char *found = NULL;
    int n = 0;
    if (env && env[0])
        candidates[n++] = sq_strdupf("%s/%s", env, name);
    candidates[n++] = sq_strdupf("%s/../share/squeeze/slurm/%s", bin_dir, name);
    candidates[n++] = sq_strdupf("%s/../slurm/%s", bin_dir, name);
#ifdef SQUEEZE_SOURCE_DIR
    candidates[n++] = sq_strdupf("%s/slurm/%s", SQUEEZE_SOURCE_DIR, name);
#endif
    for (int i = 0; i < n; i++) {
        if (found == NULL && candidates[i] && access(candidates[i], R_OK) == 0)
            found = candidates[i];
        else
            free(candidates[i]);
    }
    return found;
}

typedef struct {
    const char *name;
    char *value;
} placeholder;

static sq_status fill_template(const char *text, const placeholder *values, size_t count, FILE *out)
{
    const char *p = text;
    while (*p) {
        const char *at = strchr(p, '@');
        if (at == NULL) {
            fputs(p, out);
            break;
        }
        fwrite(p, 1, (size_t)(at - p), out);
        const char *end = strchr(at + 1, '@');
        size_t len = end ? (size_t)(end - at - 1) : 0;
        bool replaced = false;
        for (size_t i = 0; end && i < count && !replaced; i++) {
            if (strlen(values[i].name) == len && strncmp(values[i].name, at + 1, len) == 0) {
                fputs(values[i].value ? values[i].value : "", out);
                replaced = true;
            }
        }
        if (replaced) {
            p = end + 1;
        } else {
            if (end && len > 0 && strspn(at + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == len)
                return sq_fail(SQ_ERR_RUN, "the batch template has an unknown placeholder @%.*s@", (int)len, at + 1);
            fputc('@', out);
            p = at + 1;
        }
    }
    return SQ_OK;
}

static void quoted(FILE *out, const char *word)
{
    char *q = sq_shell_quote(word);
    fputs(q ? q : "''", out);
    free(q);
}

sq_status sq_slurm_write_script(const sq_plan *plan, sq_stage_kind stage, sq_instance *const *instances,
                                const int *task_ids, size_t count, int offset, const char *path)
{
    sq_status st = SQ_OK;
    char *template_path = sq_slurm_template_path(plan->bin_dir, "stage.sbatch.in");
    char *template = NULL, *script = NULL;
    size_t script_size = 0;
    char *sbatch_lines = NULL, *modules = NULL, *tasks = NULL, *after = NULL, *launcher = NULL;
    size_t size = 0;
    FILE *f;
    const sq_slurm_options *o = &plan->slurm;
    int ntasks = 1;
    char cpus[16];
    bool array = task_ids != NULL;

    if (template_path == NULL)
        SQ_FAIL(SQ_ERR_INPUT, "cannot find the batch template slurm/stage.sbatch.in next to %s (set "
                "SQUEEZE_TEMPLATE_DIR to the squeeze slurm/ folder)", plan->bin_dir);
    SQ_TRY(sq_read_file(template_path, &template, NULL));
    for (size_t i = 0; i < count; i++)
        if (instances[i]->ranks > ntasks)
            ntasks = instances[i]->ranks;
    if (o->tasks[stage] > 0)
        ntasks = o->tasks[stage];

    snprintf(cpus, sizeof cpus, "%d", o->cpus_per_task[stage]);
    const struct {
        const char *option, *value; /* the value NULL: not set for this stage */
    } directives[] = {
        {"partition", o->partition[stage]},
        {"account", o->account[stage]},
        {"qos", o->qos[stage]},
        {"cpus-per-task", o->cpus_per_task[stage] > 0 ? cpus : NULL},
        {"gres", o->gres[stage]},
        {"time", o->time[stage]},
        {"mem", o->memory[stage]},
    };
    f = open_memstream(&sbatch_lines, &size);
    for (size_t i = 0; i < sizeof directives / sizeof directives[0]; i++)
        if (directives[i].value)
            fprintf(f, "#SBATCH --%s=%s\n", directives[i].option, directives[i].value);
    for (int i = 0; i < o->sbatch_line_count; i++)
        fprintf(f, "#SBATCH %s\n", o->sbatch_lines[i]);
    fclose(f);
    if (sbatch_lines[0] && sbatch_lines[strlen(sbatch_lines) - 1] == '\n')
        sbatch_lines[strlen(sbatch_lines) - 1] = '\0';

    f = open_memstream(&modules, &size);
    for (int i = 0; i < o->module_count; i++) {
        fputs("module load ", f);
        quoted(f, o->modules[i]);
        fputs(" || exit 4\n", f);
    }
    fclose(f);

    f = open_memstream(&launcher, &size);
    if (ntasks > 1)
        for (int i = 0; i < o->launcher_argc; i++) {
            fputs(i ? " " : "", f);
            quoted(f, o->launcher[i]);
        }
    fclose(f);

    f = open_memstream(&tasks, &size);
    for (size_t i = 0; i < count; i++) {
        const sq_instance *inst = instances[i];
        int id = array ? task_ids[i] + offset : (int)i;
        fprintf(f, "  %d)\n    variant=", id);
        quoted(f, inst->variant[0] ? inst->variant : "-");
        fputs("; dir=", f);
        quoted(f, inst->dir);
        fprintf(f, "; key=%s; ranks=%d\n    artifact=", inst->key, ntasks);
        quoted(f, inst->output);
        fputs("\n    command=(", f);
        for (size_t a = 0; inst->argv[a]; a++) {
            fputs(a ? " " : "", f);
            quoted(f, inst->argv[a]);
        }
        fputs(")\n    ;;\n", f);
    }
    fclose(f);
    if (tasks[0])
        tasks[strlen(tasks) - 1] = '\0';

    f = open_memstream(&after, &size);
    if (stage == SQ_STAGE_REPORT) {
        /* the report's key is written only when every evaluation it read exists */
        fputs("if [ \"$status\" -eq 0 ]; then\n  complete=1\n  for input in", f);
        for (int j = 0; j < instances[0]->input_count; j++) {
            fputc(' ', f);
            quoted(f, instances[0]->inputs[j]->output);
        }
        fputs("; do\n    [ -e \"$input\" ] || { echo \"squeeze: $input is missing: the report is incomplete\"; complete=0; }\n"
              "  done\n", f);
        /* an evaluation left by an earlier config (its rerun failed or was
         * cancelled) exists but carries another key: `squeeze plan` reads the
         * keys, and a report over it is not marked done either */
        char *program = sq_path_join(plan->bin_dir, "squeeze");
        fputs("  if [ \"$complete\" = 1 ] && ! ", f);
        quoted(f, program);
        fputs(" plan ", f);
        quoted(f, plan->config_path);
        fputs(" --run ", f); /* this run's folder, also when `--run` chose it */
        quoted(f, plan->run_name);
        fputs(" | awk '$1 == \"evaluate\" && $3 != \"done\" {print \"squeeze: evaluate/\" $2 \" is \" $3 \": the report is "
              "incomplete\"; bad = 1} END {exit bad}'; then\n    complete=0\n  fi\n"
              "  if [ \"$complete\" = 1 ]; then printf '%s\\n' \"$key\" > \"$artifact.tmp.$$\" && mv \"$artifact.tmp.$$\" "
              "\"$artifact\"; fi\nfi", f);
        free(program);
    } else {
        fputs("if [ \"$status\" -eq 0 ] && [ ! -e \"$artifact\" ]; then\n"
              "  echo \"squeeze: the stage exited 0 but wrote no $artifact\"; status=4\nfi", f);
    }
    fclose(f);

    char *squeeze = sq_path_join(plan->bin_dir, "squeeze");
    char *job_name = sq_strdupf("sq-%s-%s", plan->run_name, sq_stage_name(stage));
    /* sbatch expands %j, %A, ... in --output: a '%' of the folder is written %% */
    char *output = NULL;
    {
        size_t n = strlen(plan->run_dir), k = 0;
        char *folder = malloc(2 * n + 1);
        for (size_t i = 0; folder && i < n; i++) {
            if (plan->run_dir[i] == '%')
                folder[k++] = '%';
            folder[k++] = plan->run_dir[i];
        }
        if (folder)
            folder[k] = '\0';
        output = sq_strdupf("%s/slurm/%s-%s.out", folder ? folder : "", sq_stage_name(stage), array ? "%A_%a" : "%j");
        free(folder);
    }
    char *task_count = sq_strdupf("%zu", count);
    char *ntasks_text = sq_strdupf("%d", ntasks);
    char *offset_text = sq_strdupf("%d", offset);
    char *first = sq_strdupf("%d", array ? task_ids[0] : 0);
    placeholder values[] = {
        {"STAGE", sq_shell_quote(sq_stage_name(stage))},
        {"RUN", sq_shell_quote(plan->run_name)},
        {"TASK_COUNT", task_count},
        {"SUBMIT_COMMAND", strdup("see ledger.json (sbatch with --dependency and --array)")},
        {"JOB_NAME", sq_sbatch_quote(job_name)},
        {"SLURM_OUTPUT", sq_sbatch_quote(output)},
        {"NTASKS", ntasks_text},
        {"SBATCH_LINES", sbatch_lines},
        {"MODULE_LINES", modules},
        {"RUN_DIR", sq_shell_quote(plan->run_dir)},
        {"OFFSET", offset_text},
        {"FIRST_TASK", first},
        {"LAUNCHER", launcher},
        {"TASKS", tasks},
        {"AFTER_SUCCESS", after},
        {"SQUEEZE", sq_shell_quote(squeeze)},
        {"BEFORE_RUN", strdup(stage == SQ_STAGE_REPORT ? "rm -f \"$artifact\"   # the report's key is rewritten only if it completes"
                                                       : "")},
    };
    size_t nvalues = sizeof values / sizeof values[0];
    f = open_memstream(&script, &script_size);
    st = fill_template(template, values, nvalues, f);
    fclose(f);
    for (size_t i = 0; i < nvalues; i++)
        free(values[i].value);
    free(output);
    free(job_name);
    free(squeeze);
    sbatch_lines = modules = launcher = tasks = after = NULL; /* freed through values */
    SQ_TRY(st);
    {
        char *folder = sq_path_join(plan->run_dir, "slurm");
        st = sq_mkdir_p(folder);
        free(folder);
        SQ_TRY(st);
    }
    SQ_TRY(sq_write_file_atomic(path, script, script_size));
    chmod(path, 0755);
cleanup:
    free(template_path);
    free(template);
    free(script);
    free(sbatch_lines);
    free(modules);
    free(launcher);
    free(tasks);
    free(after);
    return st;
}
