/* stage_table.h - the pipeline described once: each step (a stage in one
 * role) with its program, artifact, the config sections it reads, the files
 * and inputs its key covers, how its instances follow the sweep, whether it
 * is MPI and its argv.  The planner walks this table (plan.c); the Slurm
 * executor names its scripts after the steps (slurm_groups.c).
 *
 *   inspect -> calibrate -> compress -> evaluate -> report
 *          \-> baseline (evaluate of the uncompressed model) -/
 */
#ifndef SQ_DRIVER_STAGE_TABLE_H
#define SQ_DRIVER_STAGE_TABLE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    SQ_STAGE_INSPECT = 0,
    SQ_STAGE_CALIBRATE,
    SQ_STAGE_COMPRESS,
    SQ_STAGE_EVALUATE,
    SQ_STAGE_REPORT,
    SQ_STAGE_COUNT
} sq_stage_kind;

const char *sq_stage_name(sq_stage_kind stage);          /* "inspect", ... */
int sq_stage_from_name(const char *name);                /* -1 when unknown */
const char *sq_stage_program(sq_stage_kind stage);       /* "squeeze-inspect", ... */

/* How a step's instances follow the variants of a sweep. */
typedef enum {
    SQ_EXPAND_ONCE,        /* one instance for the whole run */
    SQ_EXPAND_DISTINCT,    /* one per distinct key over the variants: variants share it */
    SQ_EXPAND_PER_VARIANT, /* one per variant */
} sq_step_expansion;

/* What names an instance of the step: its folder <stage>[/<name>] and variant. */
typedef enum {
    SQ_NAME_NONE,          /* "inspect", variant "" */
    SQ_NAME_KEY,           /* the key's first 12 hex digits: "calibrate/3fa9c0d2b1e4" */
    SQ_NAME_BASELINE,      /* "baseline", then "baseline-<key's first 8>" */
    SQ_NAME_VARIANT,       /* the variant's name */
} sq_step_naming;

/* Files whose identity (content sha256, or size and mtime) goes into a key. */
typedef enum {
    SQ_FILE_CHECKPOINT,
    SQ_FILE_TOKENIZER,
    SQ_FILE_CALIBRATION_DATA,
    SQ_FILE_EVALUATION_DATA,
    SQ_FILE_RECIPE,        /* compress.recipe, a bare name found in configs/recipes */
} sq_step_file;

/* MPI: the config value that gives a step's ranks. */
typedef enum { SQ_RANKS_ONE, SQ_RANKS_CALIBRATE, SQ_RANKS_EVALUATE } sq_step_ranks;

#define SQ_STEP_MAX_SECTIONS 4
#define SQ_STEP_MAX_FILES 3
#define SQ_STEP_MAX_INPUTS 3
#define SQ_STEP_MAX_ARGS 16

typedef struct {
    const char *role;      /* the key's "file <role> ..." line */
    sq_step_file file;
} sq_step_file_role;

typedef struct {
    const char *name;      /* "baseline": the step, its Slurm script's name */
    sq_stage_kind stage;
    int phase;             /* execution order; the steps of one phase are walked variant by variant */
    sq_step_expansion expand;
    sq_step_naming naming;
    const char *artifact;  /* file name in the instance folder */
    const char *key_tag;   /* the key text's "stage <tag>" line */
    bool run_config;       /* reads the run YAML without any sweep override (the report) */
    bool compresses;       /* planned only when a variant names a precision map: an evaluate-only run
                              (no compress.recipe, no compress.precision_map) is inspect, evaluate, report */
    const char *set_section, *set_key, *set_value; /* one value the step sets in its config, or NULL */
    const char *sections[SQ_STEP_MAX_SECTIONS];    /* config sections it reads (and its key covers) */
    sq_step_file_role files[SQ_STEP_MAX_FILES];
    size_t file_count;
    /* inputs: steps whose instance for the same variant it reads, in key order;
     * "*evaluate" = every evaluate instance planned before it (the report) */
    const char *inputs[SQ_STEP_MAX_INPUTS];
    sq_step_ranks ranks;
    /* argv after the program; @config @output @key @variant @run_dir @checkpoint
     * are the instance's, @<step> the output of that input */
    const char *argv[SQ_STEP_MAX_ARGS];
} sq_stage_step;

extern const sq_stage_step sq_stage_steps[];
extern const size_t sq_stage_step_count;

/* The step of a name ("baseline"), NULL when unknown. */
const sq_stage_step *sq_stage_step_find(const char *name);

#endif
