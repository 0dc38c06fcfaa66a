/* mpi_agree.h - the one agreement protocol of squeeze's MPI stages.
 *
 * Every rank calls sq_mpi_agree(comm, its own status) at the same point, so
 * that no rank waits in a collective for a rank that has given up.  All ranks
 * learn the worst status; the lowest failing rank logs its own message once
 * (naming its rank when it is not 0); a rank that did not fail gets the error
 * "another MPI rank failed".  The stage's end (cli/stage_options.h,
 * sq_stage_exit_status) then logs nothing more for an agreed failure.
 */
#ifndef SQ_UTIL_MPI_AGREE_H
#define SQ_UTIL_MPI_AGREE_H

#include <mpi.h>
#include <stdbool.h>

#include "util/status.h"

sq_status sq_mpi_agree(MPI_Comm comm, sq_status local);

/* Whether a failure was agreed (and so logged once) in this process. */
bool sq_mpi_failure_logged(void);

#endif
