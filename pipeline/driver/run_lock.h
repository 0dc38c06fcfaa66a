/* run_lock.h - one driver at a time on a run folder (run_lock.c). */
#ifndef SQ_DRIVER_RUN_LOCK_H
#define SQ_DRIVER_RUN_LOCK_H

#include "util/status.h"

typedef struct {
    int fd;
    char *path;
} sq_run_lock;

/* Takes <run_dir>/.squeeze.lock (flock, released when the process dies);
 * a second holder gets a usage error naming the first one's pid and command. */
sq_status sq_run_lock_take(const char *run_dir, const char *command, sq_run_lock *lock);
void sq_run_lock_release(sq_run_lock *lock);

#endif
