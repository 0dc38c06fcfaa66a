/* slurm_groups.h - the sbatch calls of a submission (slurm_groups.c): the
 * selected instances grouped into jobs and job arrays, split by MaxArraySize,
 * with the --array and --dependency of each. */
#ifndef SQ_DRIVER_SLURM_GROUPS_H
#define SQ_DRIVER_SLURM_GROUPS_H

#include <stdbool.h>
#include <stddef.h>

#include "plan.h"
#include "util/status.h"

typedef struct {
    sq_stage_kind stage;
    char *label;             /* script name: inspect, calibrate, baseline, compress, evaluate, evaluate-only, report */
    const sq_stage_step *step;
    sq_instance **items;
    int *tasks;              /* array task ids, local to the chunk */
    size_t count;
    int offset;              /* the chunk's first variant index (SLURM_ARRAY_TASK_ID + offset) */
    int chunk;               /* 0, 1, ...: which MaxArraySize chunk */
    bool array;              /* submitted with --array */
    char *job_id;            /* after submission ("<label>" in a dry run) */
    int corr_group;          /* index of the group whose task i it waits for (aftercorr), -1 */
} sq_job_group;

typedef struct {
    const sq_plan *plan;
    sq_job_group *groups;    /* in submission order */
    size_t group_count;
    int *group_of;           /* per plan item: its group, or -1 */
    const bool *submit;      /* per plan item: selected (sq_plan_select) */
} sq_submission;

/* Groups the selected instances in plan order, one group per step of the
 * stage table: the steps that follow the variants one by one (compress,
 * evaluate) become arrays indexed by the variant's index in the sweep, split
 * into chunks of max_array; a variant's evaluate task waits for its own
 * compress task only (aftercorr) when both are submitted together; the other
 * steps are one job, or an array when several instances are selected. */
sq_status sq_submission_group(const sq_plan *plan, const bool *submit, int max_array, sq_submission *out);
void sq_submission_free(sq_submission *s);

/* "0-3,5,7-9%4" from sorted task ids (throttle 0: no %N). */
char *sq_slurm_array_spec(const int *ids, size_t count, int throttle);

/* --dependency of a group (NULL when none): afterok on the groups (or queued
 * jobs) of its inputs, aftercorr on the paired array, afterany for the report. */
char *sq_submission_dependency(const sq_submission *s, const sq_job_group *g);

#endif
