/* stage_run.c - the whole main of a stage that runs one request (stage/stage_run.h). */
#include "stage/stage_run.h"

#include <mpi.h>

#include "artifact/artifact.h"
#include "cli/blas_core.h"
#include "cli/stage_main.h"
#include "util/log.h"
#include "util/mpi_agree.h"

/* In an MPI stage every rank learns the worst of the ranks' statuses. */
static sq_status agreed(const sq_stage *stage, sq_status local)
{
    return stage->mpi ? sq_mpi_agree(MPI_COMM_WORLD, local) : local;
}

/* A stage whose work runs OpenBLAS says so where the library chose its generic kernels for
 * this CPU, and what to set (cli/blas_core.h; squeeze run sets it for the stages it starts). */
static void note_blas_core(const sq_stage *stage, int rank)
{
    const char *core = stage->blas && rank == 0 ? sq_blas_core_for_this_cpu() : NULL;
    if (core)
        sq_info("OpenBLAS runs its generic %s kernels on this CPU, which has %s's: OPENBLAS_CORETYPE=%s in the "
                "environment selects them (squeeze run sets it for the stages it starts)",
                sq_blas_core_running(), core, core);
}

/* The most options a stage adds to the common ones. */
#define SQ_STAGE_MAX_OWN_OPTIONS 8

int sq_stage_run(const sq_stage *stage, int argc, char **argv)
{
    sq_stage_args *args = stage->args;
    sq_stage_option options[5 + SQ_STAGE_MAX_OWN_OPTIONS] = {
        {"config", &args->config, NULL, !stage->config_optional}, SQ_OPTION_REQUIRED("model", &args->model),
        SQ_OPTION_REQUIRED("out", &args->out), SQ_OPTION("key", &args->key), SQ_FLAG("json", &args->json),
    };
    sq_stage_command_line line = {stage->program, options, 5, NULL};
    int rank = 0;
    bool help = false, loaded = false;
    sq_run_config cfg;
    char *json = NULL;
    sq_status st;

    sq_h5_library_setup();
    if (stage->mpi)
        rank = sq_stage_mpi_start(&argc, &argv, stage->program);
    else
        sq_log_init(stage->program);
    if (stage->option_count > SQ_STAGE_MAX_OWN_OPTIONS)
        return sq_stage_finish(sq_fail(SQ_ERR_RUN, "%s has more than %d options of its own", stage->program,
                                       SQ_STAGE_MAX_OWN_OPTIONS), NULL);
    for (size_t i = 0; i < stage->option_count; i++)
        options[line.option_count++] = stage->options[i];
    st = agreed(stage, sq_stage_parse(&line, argc, argv, &help));
    if (st == SQ_OK && help) {
        if (rank == 0) {
            sq_stage_print_help(&line, stage->usage);
            if (stage->more_help && !sq_stage_version_asked())
                stage->more_help(stdout);
        }
    } else {
        if (st == SQ_OK)
            note_blas_core(stage, rank);
        if (st == SQ_OK && stage->check)
            st = agreed(stage, stage->check());
        if (st == SQ_OK && args->config) {
            sq_status local = sq_run_config_load(args->config, &cfg);
            loaded = local == SQ_OK;
            st = agreed(stage, local);
        }
        if (st == SQ_OK)
            st = stage->run(loaded ? &cfg : NULL, rank, &json);
    }
    if (loaded)
        sq_run_config_free(&cfg);
    return stage->mpi ? sq_stage_mpi_finish(st, json) : sq_stage_finish(st, json);
}
