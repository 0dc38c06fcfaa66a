/* stage_run.h - the whole main of a stage that runs one request on the run's config
 * (calibrate, compress, evaluate, export): the start, the command line with the options
 * every such stage takes, --help, the options' check, the config, the run and the end.
 * Each stages/NAME/main.c keeps its own options, its check and its run. */
#ifndef SQ_STAGE_STAGE_RUN_H
#define SQ_STAGE_STAGE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/stage_options.h"
#include "config/run_config.h"
#include "util/status.h"

/* What every stage that runs one request on the run's config takes (calibrate, compress,
 * evaluate, export; the stage CLI contract, docs/architecture.md): --config, --model, --out,
 * --key and --json. */
typedef struct {
    const char *config, *model, *out, *key;
    bool json;
} sq_stage_args;

/* Such a stage: its command line and what is particular to it; sq_stage_run does the rest. */
typedef struct {
    const char *program;              /* "squeeze-evaluate" */
    const char *usage;                /* --help's text */
    sq_stage_args *args;              /* receives the options every such stage takes */
    bool config_optional;             /* --config may be left out (then cfg is NULL) */
    const sq_stage_option *options;   /* its own options besides those (NULL: none) */
    size_t option_count;
    bool mpi;                         /* an MPI program: the ranks agree on every step (util/mpi_agree.h) */
    bool blas;                        /* its work runs OpenBLAS (cli/blas_core.h: says when its core is the fallback) */
    /* optional: more --help text after the usage (not with --version) */
    void (*more_help)(FILE *out);
    /* optional: the options' values, checked before the config is read */
    sq_status (*check)(void);
    /* the stage's work: *json receives the --json summary (malloc'd), or stays NULL */
    sq_status (*run)(const sq_run_config *cfg, int rank, char **json);
} sq_stage;

/* A stage's main: the start (MPI or the log), the parse, --help (printed by rank 0), the
 * options' check, the config read, the run and the end; returns the exit status. */
int sq_stage_run(const sq_stage *stage, int argc, char **argv);

#endif
