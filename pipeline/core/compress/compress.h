/* compress.h - the compress stage as a library call (stages/compress/main.c is thin).
 *
 * Reads a model (inspect or model artifact, or a checkpoint), an optional
 * calibration artifact (refused when it belongs to another model), and a
 * precision map (--map FILE, else compress.precision_map, else
 * compress.recipe); decides every tensor's format (compress_plan.h),
 * quantizes, and writes the model artifact: /model (modelio/model_file.h)
 * and /accounting (accounting.h).  The file's size is measured with stat()
 * after the commit and logged next to the input's.
 */
#ifndef SQ_COMPRESS_COMPRESS_H
#define SQ_COMPRESS_COMPRESS_H

#include "config/run_config.h"
#include "precision/precision_map.h"

typedef struct {
    const sq_run_config *config;  /* may be NULL when map_path is given */
    const char *model_path;
    const char *calibration_path; /* or NULL */
    const char *map_path;         /* --map, or NULL */
    const char *out_path;
    const char *plan_key;         /* --key, or "" */
} sq_compress_request;

/* summary_json: NULL, or receives the --json summary (compress_summary.h,
 * malloc'd) once the artifact is committed and measured. */
sq_status sq_compress_run(const sq_compress_request *request, char **summary_json);

/* The precision map the request names (usage error when none is given). */
sq_status sq_compress_load_map(const sq_compress_request *request, sq_precision_map *map);

/* A recipe path or name: the path if it exists, else NAME(.yaml) looked up in
 * $SQUEEZE_RECIPES, <executable>/../configs/recipes and
 * <executable>/../share/squeeze/configs/recipes.  *found is malloc'd. */
sq_status sq_compress_find_recipe(const char *recipe, char **found);

#endif
