/* main.c - the `squeeze` executable: process set-up around the driver
 * library (commands.c parses the command line and runs the command). */
#include <stdlib.h>

#include "artifact/artifact.h"
#include "commands.h"
#include "util/log.h"

int main(int argc, char **argv)
{
    sq_h5_library_setup(); /* also: a missing or foreign artifact is a state, not an error */
    sq_log_init("squeeze");
    /* MPI ranks are the stages' parallelism: OpenBLAS threads on top of them
     * oversubscribe the cores.  OpenBLAS reads this when it loads, so it must be
     * in the stage's environment (the user's own setting wins). */
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    return sq_driver_main(argc, argv);
}
