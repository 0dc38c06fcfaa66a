/* select.h - which instances of a plan an executor runs (select.c): one rule
 * for the local and the Slurm executor. */
#ifndef SQ_DRIVER_SELECT_H
#define SQ_DRIVER_SELECT_H

#include <stdbool.h>

#include "plan.h"
#include "util/status.h"

/* Marks in selected[i] (one per plan item) what to run.
 * - stage NULL: every instance that is not done and not queued or running in
 *   Slurm, and everything downstream of a marked instance unless it is itself
 *   queued or running (its queued job waits on the new one through Slurm).
 * - stage given: exactly the one instance of that stage (and variant, when
 *   given); a usage error when the name matches none or several, or when an
 *   input is neither done nor queued or running. */
sq_status sq_plan_select(const sq_plan *plan, const char *stage, const char *variant, bool *selected);

#endif
