/* calibrate.h - the calibrate stage as a library call (stages/calibrate/main.c is thin).
 *
 * Runs the model over calibrate.windows windows of calibrate.window_length
 * tokens from data.calibration (tokenized with data.tokenizer), collects the
 * statistics of calib/act_stats.h through the forward hooks, and writes the
 * calibration artifact (docs/artifact-calibration.md).  Collective over
 * MPI_COMM_WORLD: rank r runs a contiguous block of windows; rank 0 merges and
 * writes.  One process without mpirun is one rank.
 */
#ifndef SQ_CALIB_CALIBRATE_H
#define SQ_CALIB_CALIBRATE_H

#include <stdint.h>

#include "config/run_config.h"

typedef struct {
    const sq_run_config *config;
    const char *model_path;   /* inspect or model artifact, or a checkpoint */
    const char *out_path;
    const char *plan_key;     /* --key, or "" */
} sq_calibrate_request;

sq_status sq_calibrate_run(const sq_calibrate_request *request);

/* Where the windows start: `used` non-overlapping windows of `length` tokens
 * spread evenly over `count` tokens (used = min(requested, count / length)). */
void sq_calibrate_window_starts(int64_t count, int length, int used, int64_t *starts);

#endif
