/* run_lock.c - one writer per run folder.
 *
 * `run`, `resume`, `submit` and `cancel` hold an flock(2) on
 * <run_dir>/.squeeze.lock while they work.  The kernel drops the lock when the
 * holder dies (even by SIGKILL), so a crashed run never blocks the next one;
 * a second concurrent command on the same folder is refused, naming the
 * holder's pid and command (written into the lock file).
 */
#include "run_lock.h"
#include "proc.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

sq_status sq_run_lock_take(const char *run_dir, const char *command, sq_run_lock *lock)
{
    sq_status st = SQ_OK;
    char holder[256] = "";
    lock->fd = -1;
    lock->path = NULL;
    SQ_TRY(sq_mkdir_p(run_dir));
    lock->path = sq_path_join(run_dir, ".squeeze.lock");
    lock->fd = open(lock->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock->fd < 0)
        SQ_FAIL(SQ_ERR_RUN, "cannot open the lock %s: %s (is the output folder writable?)", lock->path,
                strerror(errno));
    if (flock(lock->fd, LOCK_EX | LOCK_NB) != 0) {
        ssize_t n = pread(lock->fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        SQ_FAIL(SQ_ERR_USAGE, "run folder %s is in use by another squeeze command (%s); wait for it to finish or "
                "stop it: two runs must not write into one folder", run_dir, holder[0] ? holder : "unknown pid");
    }
    snprintf(holder, sizeof holder, "pid %d: squeeze %s\n", (int)getpid(), command);
    if (ftruncate(lock->fd, 0) != 0 || pwrite(lock->fd, holder, strlen(holder), 0) < 0)
        SQ_FAIL(SQ_ERR_RUN, "cannot write the lock %s: %s", lock->path, strerror(errno));
cleanup:
    if (st != SQ_OK)
        sq_run_lock_release(lock);
    return st;
}

void sq_run_lock_release(sq_run_lock *lock)
{
    if (lock->fd >= 0) {
        if (ftruncate(lock->fd, 0) != 0) {
            /* the content is informative only */
        }
        close(lock->fd);
    }
    free(lock->path);
    lock->fd = -1;
    lock->path = NULL;
}
