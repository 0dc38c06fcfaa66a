/* slurm_options.h - the `slurm` section of a run config (slurm_options.c). */
#ifndef SQ_DRIVER_SLURM_OPTIONS_H
#define SQ_DRIVER_SLURM_OPTIONS_H

#include <stdbool.h>

#include "config/yaml_tree.h"
#include "stage_table.h"
#include "util/status.h"

#define SQ_SLURM_MAX_LINES 32

typedef struct {
    /* per stage, each from {default: ..., <stage>: ...} or one value for all; NULL / 0 = not set */
    char *partition[SQ_STAGE_COUNT], *account[SQ_STAGE_COUNT], *qos[SQ_STAGE_COUNT];
    char *time[SQ_STAGE_COUNT];
    char *memory[SQ_STAGE_COUNT];
    char *gres[SQ_STAGE_COUNT];   /* --gres, e.g. gpu:1 */
    int cpus_per_task[SQ_STAGE_COUNT];
    int tasks[SQ_STAGE_COUNT];    /* 0 = the stage's ranks from the config */
    int array_throttle;           /* %N, 0 = none */
    char *modules[SQ_SLURM_MAX_LINES];
    int module_count;
    char *sbatch_lines[SQ_SLURM_MAX_LINES]; /* extra "#SBATCH <line>" */
    int sbatch_line_count;
    char *launcher[8];            /* argv of the MPI launcher: mpirun | srun --mpi=pmix */
    int launcher_argc;
    bool present;                 /* the config has a slurm section */
} sq_slurm_options;

sq_status sq_slurm_options_parse(const sq_yaml_node *section, sq_slurm_options *out);
void sq_slurm_options_free(sq_slurm_options *opts);
/* sbatch --time syntax: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, or UNLIMITED. */
bool sq_slurm_time_valid(const char *text);
bool sq_slurm_memory_valid(const char *text);
/* sbatch --gres: name[:type][:count] entries separated by commas, e.g. gpu:1 or gpu:a100:2,shard:1. */
bool sq_slurm_gres_valid(const char *text);
/* "file:line:column: " of the value that set slurm.<key> for a stage ({<stage>: } before {default: }
 * before one value for all), "" when the config does not set it. */
const char *sq_slurm_option_where(const sq_yaml_node *root, const char *key, int stage, char *buf, size_t size);

#endif
