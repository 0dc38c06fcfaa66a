/* inspect_stage.h - the inspect stage as a library call (stages/inspect/main.c is thin).
 *
 * Settles the options (the command line first, then the run config's
 * model.checkpoint, model.family, model.num_heads, inspect.target_hardware and
 * targets.quality, then the defaults auto, gpu and 3 percent), gathers the
 * facts (inspect_report.h), writes the inspect artifact atomically when asked
 * (artifact/artifact.h; schema in docs/artifacts.md), and prints the facts as
 * text or as one JSON object.
 */
#ifndef SQ_INSPECT_INSPECT_STAGE_H
#define SQ_INSPECT_INSPECT_STAGE_H

#include <stdbool.h>
#include <stdio.h>

#include "config/run_config.h"
#include "util/status.h"

typedef struct {
    const sq_run_config *config; /* --config, or NULL */
    const char *checkpoint;      /* the positional argument, or NULL: model.checkpoint */
    const char *out_path;        /* --out, or NULL: no artifact */
    const char *family;          /* --family, or NULL */
    const char *hardware;        /* --target-hardware, or NULL */
    int num_heads;               /* --num-heads, or 0 */
    bool has_quality;            /* --quality-constraint given: */
    double quality_pct;          /*   its percentage */
    const char *plan_key;        /* --key, or "" */
    bool json;                   /* print JSON instead of text */
} sq_inspect_request;

/* Usage error (SQ_ERR_USAGE) when no checkpoint is named or the hardware is
 * unknown; input errors as sq_inspect_run().  The facts go to out once the
 * artifact, if any, is committed. */
sq_status sq_inspect_stage(const sq_inspect_request *request, FILE *out);

#endif
