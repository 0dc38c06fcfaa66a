/* slurm_jobs.h - Slurm's side of a run: job states (slurm_query.c), the
 * cluster's MaxArraySize and the batch scripts (slurm_script.c). */
#ifndef SQ_DRIVER_SLURM_JOBS_H
#define SQ_DRIVER_SLURM_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "ledger.h"
#include "plan.h"
#include "util/status.h"

/* Fills the Slurm states (pending, running, failed with exit code) of the plan's
 * instances from the ledger with one squeue call and one `sacct -c` call. */
sq_status sq_slurm_query_states(sq_plan *plan, sq_ledger *ledger, bool *any_active);
/* MaxArraySize from `scontrol show config` (SQUEEZE_MAX_ARRAY_SIZE overrides; 1001 if unknown). */
int sq_slurm_max_array_size(void);

/* Writes a batch script from slurm/stage.sbatch.in for a group of instances of
 * one stage (an array when count > 1 or array is set). */
sq_status sq_slurm_write_script(const sq_plan *plan, sq_stage_kind stage, sq_instance *const *instances,
                                const int *task_ids, size_t count, int offset, const char *path);
/* Where the templates are: $SQUEEZE_TEMPLATE_DIR, <bin>/../share/squeeze/slurm, <bin>/../slurm. */
char *sq_slurm_template_path(const char *bin_dir, const char *name);

#endif
