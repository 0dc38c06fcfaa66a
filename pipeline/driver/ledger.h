/* ledger.h - <run>/ledger.json: every sbatch submission of a run and the
 * job id of each instance (ledger.c). */
#ifndef SQ_DRIVER_LEDGER_H
#define SQ_DRIVER_LEDGER_H

#include <stddef.h>

#include "plan.h"
#include "util/status.h"

typedef struct {
    char *instance;        /* "compress/int8" */
    char *job_id;          /* "123" or "123_4" */
    char *raw_id;          /* the task's own job id once known ("" before) */
    char *key;             /* the plan key it was submitted for */
    char *submitted_utc;
} sq_ledger_job;

typedef struct {
    sq_ledger_job *jobs;
    size_t count;
    char *path;
    void *json;            /* json_t *: the whole ledger (submissions kept as written) */
} sq_ledger;

sq_status sq_ledger_load(const char *run_dir, sq_ledger *ledger);
/* Records a submission (script, sbatch argv, job id, its instances by array index). */
sq_status sq_ledger_add_submission(sq_ledger *ledger, const char *stage, const char *script, char *const sbatch_argv[],
                                   const char *job_id, const char *array_spec, sq_instance *const *instances,
                                   const int *task_ids, size_t count);
void sq_ledger_set_raw_id(sq_ledger *ledger, const char *instance, const char *raw_id);
sq_status sq_ledger_save(sq_ledger *ledger);
void sq_ledger_free(sq_ledger *ledger);
const sq_ledger_job *sq_ledger_find(const sq_ledger *ledger, const char *instance);

#endif
