/* compress_summary.h - what squeeze-compress --json prints on stdout.
 *
 * One JSON object per run, for scripts that would otherwise open /accounting
 * (scripts/recipe_table.sh): the artifact's path and its size on disk (stat()
 * after the commit), the input's, the tensor bytes before and after with their
 * ratios, the counts and bytes per storage format, the tensor count, the
 * precision map (its file, description, rules and default) and the identity of
 * the model compressed (calib/model_identity.h).  Every number is one the
 * stage measured or counted; the keys: docs/precision-maps.md.
 */
#ifndef SQ_COMPRESS_COMPRESS_SUMMARY_H
#define SQ_COMPRESS_COMPRESS_SUMMARY_H

#include <stdint.h>

#include "calib/model_identity.h"
#include "compress/accounting.h"
#include "precision/precision_map.h"

typedef struct {
    const char *output_path;
    uint64_t file_bytes;            /* stat() of output_path after the commit */
    const char *input_path;
    const char *input_kind;         /* "inspect", "model" or "checkpoint" */
    uint64_t input_file_bytes;      /* stat() of input_path, as the loader measured it */
    uint64_t input_tensor_bytes;    /* the input's tensor bytes, as its reader measured them */
    const char *calibration_path;   /* or NULL */
    const sq_accounting *accounting;
    const sq_precision_map *map;
    const sq_model_identity *source;
} sq_compress_summary;

/* The object as one line of JSON (malloc'd). */
sq_status sq_compress_summary_json(const sq_compress_summary *summary, char **json);

#endif
