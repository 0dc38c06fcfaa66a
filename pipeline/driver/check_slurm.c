/* check_slurm.c - what submit needs when the config has a slurm section: the
 * Slurm client tools on PATH, and the MPI launcher of the multi-rank jobs
 * (on PATH here, or loaded by the section's module lines on the cluster). */
#include "checks.h"
#include "proc.h"

#include <stdio.h>
#include <stdlib.h>

void sq_check_slurm(const sq_plan *plan, const sq_command_options *opts, sq_check_result *r)
{
    if (!plan->slurm.present || opts->local_only)
        return;
    static const char *const tools[] = {"sbatch", "squeue", "scontrol", "scancel", "sacct", NULL};
    int missing = 0;
    for (int i = 0; tools[i]; i++) {
        char *path = sq_find_on_path(tools[i]);
        if (path == NULL) {
            sq_check_problem(r, "missing executable %s: the config has a slurm section, so submit needs the Slurm "
                             "client tools on PATH (use `squeeze check --local` for a local run only)", tools[i]);
            missing++;
        }
        free(path);
    }
    char *launcher = sq_find_on_path(plan->slurm.launcher[0]);
    bool mpi_jobs = false;
    for (size_t i = 0; i < plan->count; i++)
        mpi_jobs |= plan->items[i]->ranks > 1 || plan->slurm.tasks[plan->items[i]->stage] > 1;
    if (launcher == NULL && mpi_jobs) {
        char pos[600];
        if (plan->slurm.module_count > 0)
            printf("warning: %sslurm.launcher %s is not on PATH here; it must come from the module lines\n",
                   sq_check_where(plan->doc.root, "slurm.launcher", pos, sizeof pos), plan->slurm.launcher[0]);
        else
            sq_check_problem(r, "%smissing executable %s (slurm.launcher) for the MPI stages: not on PATH and no "
                             "slurm.modules to load it", sq_check_where(plan->doc.root, "slurm.launcher", pos,
                                                                        sizeof pos), plan->slurm.launcher[0]);
    }
    free(launcher);
    if (missing == 0)
        sq_check_note(r, "Slurm client tools found");
}
