/* check_programs.c - the programs a local run starts: the five stage
 * binaries (next to squeeze or on PATH) and mpirun when a stage runs on more
 * than one rank. */
#include "checks.h"
#include "proc.h"

#include <stdlib.h>

void sq_check_programs(const sq_plan *plan, sq_check_result *r)
{
    int found = 0;
    bool need_mpirun = false;
    for (int s = 0; s < SQ_STAGE_COUNT; s++) {
        char *path = sq_find_program(plan->bin_dir, sq_stage_program(s));
        if (path == NULL)
            sq_check_problem(r, "missing executable %s: not next to squeeze (%s) nor on PATH; build it (cmake --build) "
                             "or add its folder to PATH", sq_stage_program(s), plan->bin_dir);
        else
            found++;
        free(path);
    }
    if (found == SQ_STAGE_COUNT)
        sq_check_note(r, "stage programs found (%s)", plan->bin_dir);
    for (size_t i = 0; i < plan->count; i++)
        need_mpirun |= plan->items[i]->ranks > 1;
    if (need_mpirun) {
        char *mpirun = sq_find_on_path("mpirun");
        if (mpirun == NULL)
            sq_check_problem(r, "missing executable mpirun: calibrate.ranks or evaluate.ranks is above 1, so the "
                             "local run needs Open MPI's mpirun on PATH (or set ranks: 1)");
        free(mpirun);
    }
}
