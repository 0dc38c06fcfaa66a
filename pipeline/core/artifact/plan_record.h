/* plan_record.h - results/<run>/plan.json, defined once: the driver fills a
 * record from its plan and writes it (pipeline/driver/plan_json.c), the
 * report reads it (report/run_plan.c).
 *
 *   {"run": "demo", "config": "/abs/demo.yaml", "run_dir": "...", "executor": "local",
 *    "written_utc": "...", "variants": [{"name": "int8", "overrides": {"compress.recipe": "..."}}],
 *    "instances": [{"id": "compress/int8", "stage": "compress", "variant": "int8", "key": "...",
 *                   "inputs": ["inspect", "calibrate/3fa9..."], "dir": "...", "output": "...",
 *                   "config": "...", "log": "...", "ranks": 1, "state": "failed", "exit_code": 4,
 *                   "job_id": "123_4", "command": ["/abs/squeeze-compress", "--config", ...]}]}
 *
 * state is missing | stale | done | pending | running | failed; exit_code is
 * present for a failed instance, job_id once Slurm gave one.
 */
#ifndef SQ_ARTIFACT_PLAN_RECORD_H
#define SQ_ARTIFACT_PLAN_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "util/status.h"

#define SQ_PLAN_RECORD_FILE "plan.json"

typedef struct {
    char *id, *stage, *variant, *key;
    char **inputs;          /* ids of the instances it reads */
    size_t input_count;
    char *dir, *output, *config, *log;
    int ranks;
    char *state;
    bool has_exit_code;
    int exit_code;
    char *job_id;           /* NULL when none */
    char **command;
    size_t command_count;
} sq_plan_record_instance;

typedef struct {
    char *name;
    char **override_paths;  /* "compress.recipe" */
    char **override_json;   /* each value as JSON text ("\"int8\"", "[1, 2]") */
    size_t override_count;
} sq_plan_record_variant;

typedef struct {
    char *run, *config, *run_dir, *executor, *written_utc;
    sq_plan_record_variant *variants;
    size_t variant_count;
    sq_plan_record_instance *instances;
    size_t instance_count;
} sq_plan_record;

/* Writes the record as JSON to path through a temporary name and a rename. */
sq_status sq_plan_record_write(const sq_plan_record *plan, const char *path);
/* Reads path; a usage of the wrong shape is SQ_ERR_INPUT naming the file
 * (and line:column for broken JSON).  Fields a reader does not find are "" / 0. */
sq_status sq_plan_record_read(const char *path, sq_plan_record *plan);
void sq_plan_record_free(sq_plan_record *plan);

/* Helpers for building a record: room for count entries, zeroed. */
sq_status sq_plan_record_alloc(sq_plan_record *plan, size_t variants, size_t instances);

const sq_plan_record_instance *sq_plan_record_find(const sq_plan_record *plan, const char *id);
const sq_plan_record_instance *sq_plan_record_of(const sq_plan_record *plan, const char *stage, const char *variant);

#endif
