/* stage_main.h - the start and the end every stage main shares (each stages/NAME/main.c):
 * an MPI stage's start (MPI, the rank's log prefix, one BLAS thread per rank, the
 * warning when its config asks for more ranks than were started), and the end (the
 * --json summary printed, the failure logged once, the exit status). */
#ifndef SQ_CLI_STAGE_MAIN_H
#define SQ_CLI_STAGE_MAIN_H

#include "util/status.h"

/* MPI_Init, the log named for program with this rank's prefix, and one BLAS thread:
 * the ranks are the parallelism (2 ranks on 2 cores do not oversubscribe) and each
 * window's sums stay reproducible.  Returns the rank. */
int sq_stage_mpi_start(int *argc, char ***argv, const char *program);

/* On rank 0 of size processes: warns when the config (config_path) asks for
 * <stage>.ranks > 1 but the stage was started as one process (without mpirun);
 * what it measures is the same, only slower. */
void sq_stage_warn_ranks(int rank, int size, const char *config_path, const char *stage, int ranks,
                         const char *measures);

/* Prints json (the stage's --json summary, NULL for none) on stdout when the stage
 * succeeded, frees it, and returns sq_stage_exit_status(st) (cli/stage_options.h). */
int sq_stage_finish(sq_status st, char *json);
/* As sq_stage_finish, then MPI_Finalize. */
int sq_stage_mpi_finish(sq_status st, char *json);

#endif
