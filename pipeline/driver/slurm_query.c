/* slurm_query.c - Slurm's view of a submitted run, in two calls.
 *
 * One squeue call scoped to the run's job ids (from the ledger), with -r so
 * that every array task is a row ("123_4|130|RUNNING|None"), and -t all so
 * that finished jobs still known to the controller (MinJobAge) show too.  Then
 * one `sacct -c` call for the exit codes of the finished ones: without an
 * accounting database, sacct reads the jobcomp/filetxt completion log, which
 * knows only raw job ids (an array task's own id); squeue tells us those, and
 * each job also writes its id into <instance>/slurm_job_id when it starts.
 * Never one call per job (reference-facts B2).
 */
#include "slurm_jobs.h"
#include "proc.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *id, *raw, *state, *reason;
} queue_row;

static void split_fields(char *line, char **fields, int want)
{
    for (int i = 0; i < want; i++) {
        fields[i] = line;
        if (line) {
            char *bar = strchr(line, '|');
            if (bar) {
                *bar = '\0';
                line = bar + 1;
            } else {
                line = NULL;
            }
        }
    }
}

static bool terminal(const char *state)
{
    return strcmp(state, "PENDING") != 0 && strcmp(state, "RUNNING") != 0 && strcmp(state, "CONFIGURING") != 0 &&
           strcmp(state, "COMPLETING") != 0 && strcmp(state, "REQUEUED") != 0 && strcmp(state, "SUSPENDED") != 0 &&
           strcmp(state, "RESIZING") != 0;
}

static int parse_exit(const char *text)
{
    int code = 0, sig = 0;
    if (sscanf(text, "%d:%d", &code, &sig) < 1)
        return -1;
    return sig ? 128 + sig : code;
}

static void set_detail(sq_instance *inst, char *text)
{
    free(inst->detail);
    inst->detail = text;
}

sq_status sq_slurm_query_states(sq_plan *plan, sq_ledger *ledger, bool *any_active)
{
    char **argv = sq_argv_new();
    char *out = NULL, *list = NULL, *raw_list = NULL;
    size_t list_size = 0, raw_size = 0;
    FILE *ids = open_memstream(&list, &list_size);
    queue_row *rows = NULL;
    size_t row_count = 0;
    int code;
    sq_status st = SQ_OK;
    int n = 0;

    *any_active = false;
    /* base job ids, each once */
    for (size_t i = 0; i < ledger->count; i++) {
        char base[64];
        snprintf(base, sizeof base, "%.*s", (int)strcspn(ledger->jobs[i].job_id, "_"), ledger->jobs[i].job_id);
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strncmp(ledger->jobs[j].job_id, base, strlen(base)) == 0 &&
                   (ledger->jobs[j].job_id[strlen(base)] == '_' || ledger->jobs[j].job_id[strlen(base)] == '\0');
        if (!seen)
            fprintf(ids, "%s%s", n++ ? "," : "", base);
    }
    fclose(ids);
    if (n == 0)
        goto cleanup;

    {
        char *jobs_arg = sq_strdupf("--jobs=%s", list);
        const char *words[] = {"squeue", "--noheader", "--array", "--states=all", jobs_arg, "--format=%i|%A|%T|%r", NULL};
        for (int i = 0; words[i]; i++)
            sq_argv_push(&argv, words[i]);
        free(jobs_arg);
    }
    SQ_TRY(sq_capture(argv, true, 30, &out, &code));
    if (code == 127)
        SQ_FAIL(SQ_ERR_RUN, "squeue is not available: cannot ask Slurm about jobs %s", list);
    /* exit 1 with "Invalid job id" when the controller forgot every job: no rows.
     * Any other failure (controller unreachable, timeout) must not read as
     * "nothing queued": the caller would resubmit queued work or call the run
     * settled while its jobs still wait. */
    if (code != 0 && strstr(out ? out : "", "Invalid job id") == NULL)
        SQ_FAIL(SQ_ERR_RUN, "squeue failed (exit %d): %.300s; cannot tell which jobs of this run are queued: try again",
                code, out ? out : "");
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[4];
        split_fields(line, f, 4);
        if (f[1] == NULL || f[2] == NULL)
            continue;
        queue_row *grown = realloc(rows, (row_count + 1) * sizeof *rows);
        if (grown == NULL)
            break;
        rows = grown;
        rows[row_count++] = (queue_row){f[0], f[1], f[2], f[3] ? f[3] : ""};
    }

    FILE *raw = open_memstream(&raw_list, &raw_size);
    int raw_count = 0;
    for (size_t i = 0; i < plan->count; i++) {
        sq_instance *inst = plan->items[i];
        const sq_ledger_job *job = sq_ledger_find(ledger, inst->id);
        if (job == NULL)
            continue; /* never submitted */
        bool same_key = strcmp(job->key, inst->key) == 0;
        const queue_row *row = NULL;
        for (size_t r = 0; r < row_count && !row; r++)
            if (strcmp(rows[r].id, job->job_id) == 0)
                row = &rows[r];
        if (row)
            sq_ledger_set_raw_id(ledger, inst->id, row->raw);
        if (row && !terminal(row->state) && !same_key) {
            /* Queued for an earlier config or input (the config, a recipe or a
             * data file changed since the submission): the job still writes into
             * this folder, so it counts as queued or running until it ends, and
             * resume neither duplicates it nor calls the run settled.  Its
             * artifact will carry the old key, so it shows stale afterwards. */
            *any_active = true;
            free(inst->job_id);
            inst->job_id = strdup(job->job_id);
            inst->state = strcmp(row->state, "PENDING") == 0 ? SQ_STATE_PENDING : SQ_STATE_RUNNING;
            set_detail(inst, sq_strdupf("submitted for an earlier config or input (key %.12s): stale once it ends",
                                        job->key));
            continue;
        }
        if (!same_key)
            continue; /* submitted for another config, and no longer queued */
        free(inst->job_id);
        inst->job_id = strdup(job->job_id);
        if (row && !terminal(row->state)) {
            *any_active = true;
            if (inst->state != SQ_STATE_DONE) {
                inst->state = strcmp(row->state, "PENDING") == 0 ? SQ_STATE_PENDING : SQ_STATE_RUNNING;
                if (strcmp(row->reason, "None") != 0 && row->reason[0])
                    set_detail(inst, sq_strdupf("waiting: %s", row->reason));
            }
            continue;
        }
        if (inst->state == SQ_STATE_DONE)
            continue;
        if (row && strcmp(row->state, "CANCELLED") == 0 && strcmp(row->reason, "DependencyNeverSatisfied") == 0) {
            inst->state = SQ_STATE_MISSING;
            set_detail(inst, sq_strdupf("job %s cancelled: a stage it needs failed", job->job_id));
            continue;
        }
        /* the raw id: from squeue, the ledger, or the file the job wrote */
        const char *raw_id = row ? row->raw : job->raw_id;
        char file_id[64] = "";
        if (raw_id == NULL || raw_id[0] == '\0') {
            char *path = sq_path_join(inst->dir, "slurm_job_id"), *text = NULL;
            if (sq_read_file(path, &text, NULL) == SQ_OK) {
                char *submitted = strchr(text, ' ');
                /* "<raw id> <array job id>_<task>": only if it belongs to this submission */
                if (submitted && strncmp(submitted + 1, job->job_id, strlen(job->job_id)) == 0) {
                    snprintf(file_id, sizeof file_id, "%.*s", (int)(submitted - text), text);
                    sq_ledger_set_raw_id(ledger, inst->id, file_id);
                }
            }
            sq_error_clear();
            free(text);
            free(path);
            raw_id = file_id;
        }
        if (raw_id[0]) {
            fprintf(raw, "%s%s", raw_count++ ? "," : "", raw_id);
            free(inst->detail);
            inst->detail = sq_strdupf("raw:%s", raw_id);
        } else if (row) {
            inst->state = SQ_STATE_MISSING;
            set_detail(inst, sq_strdupf("job %s ended %s", job->job_id, row->state));
        }
    }
    fclose(raw);
    if (raw_count) {
        sq_argv_free(argv);
        argv = sq_argv_new();
        free(out);
        out = NULL;
        char *jobs_arg = sq_strdupf("--jobs=%s", raw_list);
        const char *words[] = {"sacct", "--completion", "--noheader", "--parsable2", jobs_arg,
                               "--format=jobid,state,exitcode", NULL};
        for (int i = 0; words[i]; i++)
            sq_argv_push(&argv, words[i]);
        free(jobs_arg);
        SQ_TRY(sq_capture(argv, false, 30, &out, &code));
        for (size_t i = 0; i < plan->count; i++) {
            sq_instance *inst = plan->items[i];
            if (inst->detail == NULL || strncmp(inst->detail, "raw:", 4) != 0)
                continue;
            char raw_id[64];
            snprintf(raw_id, sizeof raw_id, "%s", inst->detail + 4);
            free(inst->detail);
            inst->detail = NULL;
            /* the last record of that id wins (ids are reused only after a purge) */
            char *copy = strdup(out), *state = NULL, *exit_text = NULL, *save = NULL;
            for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *f[3];
                split_fields(line, f, 3);
                if (f[0] && f[1] && f[2] && strcmp(f[0], raw_id) == 0) {
                    state = f[1];
                    exit_text = f[2];
                }
            }
            if (state == NULL) {
                inst->detail = sq_strdupf("job %s (%s): no completion record", inst->job_id, raw_id);
            } else if (strcmp(state, "COMPLETED") == 0 && inst->stage == SQ_STAGE_REPORT) {
                inst->state = SQ_STATE_MISSING;
                inst->detail = sq_strdupf("job %s ran while an evaluation was missing: the report is incomplete",
                                          inst->job_id);
            } else if (strcmp(state, "COMPLETED") == 0) {
                inst->state = SQ_STATE_FAILED;
                inst->exit_code = 0;
                inst->detail = sq_strdupf("job %s completed but left no artifact with the planned key", inst->job_id);
            } else if (strncmp(state, "CANCELLED", 9) == 0) {
                /* "CANCELLED by <uid>": squeeze cancel or scancel, not a failure of the stage */
                inst->state = SQ_STATE_CANCELLED;
                inst->detail = sq_strdupf("job %s %s before it finished; squeeze resume runs it again", inst->job_id,
                                          state);
            } else {
                inst->state = SQ_STATE_FAILED;
                inst->exit_code = parse_exit(exit_text);
                inst->detail = sq_strdupf("job %s %s", inst->job_id, state);
            }
            free(copy);
        }
    }
cleanup:
    free(raw_list);
    free(rows);
    free(out);
    free(list);
    sq_argv_free(argv);
    return st;
}
