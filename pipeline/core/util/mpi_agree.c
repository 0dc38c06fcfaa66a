/* mpi_agree.c - the MPI agreement protocol (mpi_agree.h). */
#include "util/mpi_agree.h"

#include <limits.h>

#include "util/log.h"

static bool failure_logged = false;

bool sq_mpi_failure_logged(void) { return failure_logged; }

sq_status sq_mpi_agree(MPI_Comm comm, sq_status local)
{
    int mine = (int)local, worst = 0, rank = 0, failing, lowest = INT_MAX;
    MPI_Comm_rank(comm, &rank);
    MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, comm);
    if (worst == SQ_OK)
        return SQ_OK;
    failing = local != SQ_OK ? rank : INT_MAX;
    MPI_Allreduce(&failing, &lowest, 1, MPI_INT, MPI_MIN, comm);
    if (rank == lowest) {
        if (rank == 0)
            sq_error("%s (%s)", sq_error_message(), sq_status_name(local));
        else
            sq_error("rank %d: %s (%s)", rank, sq_error_message(), sq_status_name(local));
    }
    failure_logged = true;
    if (local == SQ_OK)
        return sq_fail((sq_status)worst, "another MPI rank failed (its message is above)");
    return (sq_status)worst;
}
