/* ledger.c - results/<run>/ledger.json: what was submitted to Slurm.
 *
 *   {"submissions": [{"stage": "compress", "script": ".../slurm/compress.sbatch",
 *                     "sbatch": ["sbatch", "--parsable", ...], "job_id": "123",
 *                     "array": "0-15%4", "submitted_utc": "...",
 *                     "tasks": [{"task": 0, "instance": "compress/int8", "key": "..."}]}],
 *    "jobs": {"compress/int8": {"job_id": "123_0", "raw_id": "130", "key": "...",
 *                               "submitted_utc": "..."}}}
 *
 * "jobs" holds the latest submission of each instance; "raw_id" is the array
 * task's own job id, learnt from squeue while Slurm still knows the job, and
 * needed afterwards because `sacct -c` (the completion log) knows only raw ids.
 */
#include "ledger.h"
#include "proc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void utc_now(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void free_jobs(sq_ledger *ledger)
{
    for (size_t i = 0; i < ledger->count; i++) {
        free(ledger->jobs[i].instance);
        free(ledger->jobs[i].job_id);
        free(ledger->jobs[i].raw_id);
        free(ledger->jobs[i].submitted_utc);
        free(ledger->jobs[i].key);
    }
    free(ledger->jobs);
    ledger->jobs = NULL;
    ledger->count = 0;
}

/* Rebuilds the jobs array from the JSON "jobs" object. */
static void index_jobs(sq_ledger *ledger)
{
    json_t *jobs = json_object_get(ledger->json, "jobs");
    const char *name;
    json_t *job;
    free_jobs(ledger);
    ledger->jobs = calloc(json_object_size(jobs) + 1, sizeof *ledger->jobs);
    json_object_foreach(jobs, name, job) {
        sq_ledger_job *entry = &ledger->jobs[ledger->count++];
        const char *raw = json_string_value(json_object_get(job, "raw_id"));
        const char *when = json_string_value(json_object_get(job, "submitted_utc"));
        entry->instance = strdup(name);
        entry->job_id = strdup(json_string_value(json_object_get(job, "job_id")) ?: "");
        entry->raw_id = strdup(raw ? raw : "");
        entry->submitted_utc = strdup(when ? when : "");
        entry->key = strdup(json_string_value(json_object_get(job, "key")) ?: "");
    }
}

sq_status sq_ledger_load(const char *run_dir, sq_ledger *ledger)
{
    memset(ledger, 0, sizeof *ledger);
    ledger->path = sq_path_join(run_dir, "ledger.json");
    if (access(ledger->path, F_OK) == 0) {
        json_error_t error;
        ledger->json = json_load_file(ledger->path, 0, &error);
        if (ledger->json == NULL)
            return sq_fail(SQ_ERR_INPUT, "%s:%d: cannot read the ledger: %s (move it away to start over)",
                           ledger->path, error.line, error.text);
    } else {
        ledger->json = json_object();
    }
    if (json_object_get(ledger->json, "submissions") == NULL)
        json_object_set_new(ledger->json, "submissions", json_array());
    if (json_object_get(ledger->json, "jobs") == NULL)
        json_object_set_new(ledger->json, "jobs", json_object());
    index_jobs(ledger);
    return SQ_OK;
}

sq_status sq_ledger_add_submission(sq_ledger *ledger, const char *stage, const char *script, char *const sbatch_argv[],
                                   const char *job_id, const char *array_spec, sq_instance *const *instances,
                                   const int *task_ids, size_t count)
{
    char stamp[32];
    json_t *submission = json_object(), *argv = json_array(), *tasks = json_array();
    json_t *jobs = json_object_get(ledger->json, "jobs");
    utc_now(stamp, sizeof stamp);
    json_object_set_new(submission, "stage", json_string(stage));
    json_object_set_new(submission, "script", json_string(script));
    for (size_t i = 0; sbatch_argv[i]; i++)
        json_array_append_new(argv, json_string(sbatch_argv[i]));
    json_object_set_new(submission, "sbatch", argv);
    json_object_set_new(submission, "job_id", json_string(job_id));
    if (array_spec)
        json_object_set_new(submission, "array", json_string(array_spec));
    json_object_set_new(submission, "submitted_utc", json_string(stamp));
    for (size_t i = 0; i < count; i++) {
        json_t *task = json_object(), *job = json_object();
        char *id = array_spec ? sq_strdupf("%s_%d", job_id, task_ids[i]) : strdup(job_id);
        json_object_set_new(task, "task", json_integer(array_spec ? task_ids[i] : -1));
        json_object_set_new(task, "instance", json_string(instances[i]->id));
        json_object_set_new(task, "key", json_string(instances[i]->key));
        json_array_append_new(tasks, task);
        json_object_set_new(job, "job_id", json_string(id));
        json_object_set_new(job, "raw_id", json_string(array_spec ? "" : job_id));
        json_object_set_new(job, "key", json_string(instances[i]->key));
        json_object_set_new(job, "submitted_utc", json_string(stamp));
        json_object_set_new(jobs, instances[i]->id, job);
        free(id);
    }
    json_object_set_new(submission, "tasks", tasks);
    json_array_append_new(json_object_get(ledger->json, "submissions"), submission);
    index_jobs(ledger);
    return SQ_OK;
}

void sq_ledger_set_raw_id(sq_ledger *ledger, const char *instance, const char *raw_id)
{
    json_t *job = json_object_get(json_object_get(ledger->json, "jobs"), instance);
    if (job == NULL || raw_id == NULL || raw_id[0] == '\0')
        return;
    json_object_set_new(job, "raw_id", json_string(raw_id));
    for (size_t i = 0; i < ledger->count; i++) {
        if (strcmp(ledger->jobs[i].instance, instance) == 0) {
            free(ledger->jobs[i].raw_id);
            ledger->jobs[i].raw_id = strdup(raw_id);
        }
    }
}

sq_status sq_ledger_save(sq_ledger *ledger)
{
    char *text = json_dumps(ledger->json, JSON_INDENT(2));
    sq_status st;
    if (text == NULL)
        return sq_fail(SQ_ERR_RUN, "cannot format %s", ledger->path);
    char *line = sq_strdupf("%s\n", text);
    st = sq_write_file_atomic(ledger->path, line, strlen(line));
    free(line);
    free(text);
    return st;
}

const sq_ledger_job *sq_ledger_find(const sq_ledger *ledger, const char *instance)
{
    for (size_t i = 0; i < ledger->count; i++)
        if (strcmp(ledger->jobs[i].instance, instance) == 0)
            return &ledger->jobs[i];
    return NULL;
}

void sq_ledger_free(sq_ledger *ledger)
{
    free_jobs(ledger);
    if (ledger->json)
        json_decref(ledger->json);
    free(ledger->path);
    memset(ledger, 0, sizeof *ledger);
}
