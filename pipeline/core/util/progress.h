/* progress.h - how far a long loop is, on stderr.
 *
 * DESIGN: "Long loops show progress on a terminal and plain lines in batch
 * logs."  When stderr is a terminal, one line is rewritten in place with '\r'
 * (at most 10 times a second) and ends with a newline when the loop is done.
 * Otherwise (a pipe, a Slurm log) a plain info line is logged each time another
 * tenth of the loop is done:
 *
 *   [squeeze-evaluate] info: windows 120/785 (15%), 24,000 tok/s
 *
 * A loop that finishes within its first second prints nothing at all, so
 * short runs (and the tests) keep their logs as they were.  Nothing is shown
 * below log level info (SQUEEZE_LOG=warn) or where `enabled` is false: MPI
 * stages enable it on rank 0 only, which reports its own share of the work
 * (no communication for it).  The rate is rank 0's units over its wall time.
 *
 * The progress channel: when the environment names a file in
 * SQUEEZE_PROGRESS_FILE (the driver sets <instance>/progress), every enabled
 * loop also keeps that file at one line, "<done> <total> <seconds> <what>",
 * rewritten by rename at most 4 times a second and at the end, whatever the
 * log level.  `squeeze run` reads it to show the running stage's progress and
 * its ETA (docs/driver.md, "Progress").
 */
#ifndef SQ_UTIL_PROGRESS_H
#define SQ_UTIL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bool enabled;          /* false: every call is a no-op */
    bool terminal;         /* stderr is a TTY: rewrite one line */
    bool drawn;            /* something was printed (terminal line or plain line) */
    char what[48];         /* "windows", "tensors" */
    char unit[16];         /* rate unit ("tok"), "" for no rate */
    int64_t total, done, units;
    int tenths_reported;   /* plain mode: tenths of the loop already reported */
    double started, last_drawn;
    const char *channel;   /* SQUEEZE_PROGRESS_FILE, or NULL */
    double last_written;
} sq_progress;

/* Starts a loop of `total` steps.  rate_unit: what `units` counts ("tok"),
 * or NULL for no rate. */
void sq_progress_start(sq_progress *progress, bool enabled, const char *what, int64_t total, const char *rate_unit);
/* `done` steps are complete and `units` units processed (both cumulative). */
void sq_progress_update(sq_progress *progress, int64_t done, int64_t units);
/* Ends the terminal line (if one was drawn).  Safe to call on an early exit. */
void sq_progress_finish(sq_progress *progress);

#endif
