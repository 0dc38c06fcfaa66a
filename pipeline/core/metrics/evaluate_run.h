/* evaluate_run.h - the evaluate stage as a library call (stages/evaluate/main.c is thin).
 *
 * Loads the model (artifact or checkpoint, modelio/loader.h) and the config's
 * data.evaluation text, plans the windows of its evaluate section
 * (metrics/windows.h), checks the baseline evaluation against that plan,
 * runs the windows over the ranks of comm (metrics/evaluation.h: the numbers
 * are bit-identical for any number of ranks), and on the root logs the
 * results and writes the evaluation artifact atomically
 * (metrics/evaluation_file.h, docs/artifact-evaluation.md), the optional
 * --dump-logits file and the --json summary.
 *
 * Collective over comm: every step that can fail is agreed on by all ranks
 * (sq_mpi_agree, which logs the failure once) before the next collective call,
 * so a bad input stops every rank with the same status.
 */
#ifndef SQ_METRICS_EVALUATE_RUN_H
#define SQ_METRICS_EVALUATE_RUN_H

#include <mpi.h>

#include "config/run_config.h"
#include "util/status.h"

typedef struct {
    const sq_run_config *config;  /* data.tokenizer, data.evaluation, evaluate, model */
    const char *model_path;       /* model artifact, inspect artifact or checkpoint */
    const char *out_path;         /* the evaluation artifact */
    const char *baseline_path;    /* --baseline: a baseline evaluation with logprobs, or NULL */
    const char *variant;          /* --variant, or NULL: "baseline" without a baseline, else the model's folder */
    const char *dump_logits_path; /* --dump-logits, or NULL */
    const char *plan_key;         /* --key, or "" */
} sq_evaluate_request;

/* summary_json: NULL, or receives on the root the --json summary (one line,
 * malloc'd) once the artifact is committed; it stays NULL on the other ranks
 * and on failure.  Returns the status all ranks agreed on. */
sq_status sq_evaluate_run(const sq_evaluate_request *request, MPI_Comm comm, char **summary_json);

#endif
