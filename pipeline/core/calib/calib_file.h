/* calib_file.h - reading a calibration artifact (docs/artifact-calibration.md)
 * back into the sq_calib_stats that formats take (quant/format.h).
 */
#ifndef SQ_CALIB_CALIB_FILE_H
#define SQ_CALIB_CALIB_FILE_H

#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>

#include "calib/model_identity.h"
#include "models/model_config.h"
#include "quant/format.h"

typedef struct {
    hid_t file;
    char *path;
    sq_model_identity identity;  /* of the model it was calibrated on */
    sq_model_config config;
    char *model_path;            /* as recorded */
    int64_t tokens, windows;
    double percentile;           /* the first configured percentile (act_percentile) */
} sq_calib_file;

/* Opens and checks the kind and schema (exit 3 on another kind). */
sq_status sq_calib_file_open(const char *path, sq_calib_file *out);
void sq_calib_file_close(sq_calib_file *calib);

/* One linear's statistics; stats points into the owned arrays. */
typedef struct {
    sq_calib_stats stats;
    int cols;
    float *absmax, *percentile, *mean_sq;
    double *hessian;
} sq_calib_linear;

/* *found = false (and nothing allocated) when the linear was not calibrated. */
sq_status sq_calib_file_linear(const sq_calib_file *calib, const char *name, bool *found, sq_calib_linear *out);
void sq_calib_linear_free(sq_calib_linear *linear);
/* Keeps the statistics of the input columns in keep (indices, each < cols):
 * the per-column vectors and the Hessian's rows and columns alike, so that a
 * linear whose inputs were pruned is quantized with the statistics of the
 * inputs it still has. */
sq_status sq_calib_linear_keep_cols(sq_calib_linear *linear, const int *keep, int nkeep);

#endif
