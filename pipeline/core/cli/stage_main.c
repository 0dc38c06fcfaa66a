/* stage_main.c - the start and the end every stage main shares (cli/stage_main.h). */
#include "cli/stage_main.h"

#include <cblas.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/stage_options.h"
#include "util/log.h"

int sq_stage_mpi_start(int *argc, char ***argv, const char *program)
{
    int rank = 0;
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    sq_log_init(program);
    sq_log_set_rank(rank);
    openblas_set_num_threads(1);
    return rank;
}

void sq_stage_warn_ranks(int rank, int size, const char *config_path, const char *stage, int ranks,
                         const char *measures)
{
    if (rank == 0 && ranks > 1 && size == 1)
        sq_warn("%s sets %s.ranks: %d, but this %s runs as 1 MPI process: start it with mpirun -np %d (squeeze run "
                "does). The %s are the same on any number of ranks; only the time differs",
                config_path, stage, ranks, stage, ranks, measures);
}

int sq_stage_finish(sq_status st, char *json)
{
    if (st == SQ_OK && json != NULL)
        printf("%s\n", json);
    free(json);
    /* a failure the MPI ranks agreed on was logged once then; any other is logged here */
    return sq_stage_exit_status(st);
}

int sq_stage_mpi_finish(sq_status st, char *json)
{
    int code = sq_stage_finish(st, json);
    MPI_Finalize();
    return code;
}
