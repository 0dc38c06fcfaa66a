/* driver.h - the `squeeze` command: plan, check, run, submit, status, resume,
 * cancel (docs/driver.md).
 *
 * The driver turns one run YAML into a plan of stage instances (DESIGN.md
 * "Driver and Slurm"): each instance has its inputs, its folder
 * results/<run>/<stage>[/<variant>]/, its effective config and a key, the
 * sha256 of the config sections the stage reads plus its inputs' keys.  A
 * stage whose artifact carries the planned key (root attribute plan_key) is
 * done.  Executors (local.c, slurm_submit.c) run what is not done.
 */
#ifndef SQ_DRIVER_DRIVER_H
#define SQ_DRIVER_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config/run_config.h"
#include "config/yaml_tree.h"
#include "util/hash.h"
#include "util/status.h"

/* ---- stages ------------------------------------------------------------- */

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

/* ---- sweep (sweep.c) ---------------------------------------------------- */

typedef struct {
    char *path;                   /* dotted option path, e.g. "compress.recipe" */
    const sq_yaml_node *value;    /* the value (a node of the sweep section) */
    const sq_yaml_node *where;    /* the path's key node, for messages */
} sq_override;

typedef struct {
    char *name;                   /* [A-Za-z0-9._-], unique */
    sq_override *overrides;
    size_t override_count;
} sq_variant_spec;

typedef struct {
    sq_variant_spec *variants;
    size_t count;
} sq_sweep;

/* Expands the sweep section (NULL: one variant "default") into variants. */
sq_status sq_sweep_expand(const sq_yaml_node *section, sq_sweep *out);
void sq_sweep_free(sq_sweep *sweep);
/* Sets a dotted path in a config tree to a copy of value (intermediate maps created). */
sq_status sq_sweep_apply(sq_yaml_node *root, const char *path, const sq_yaml_node *value, const sq_yaml_node *where);
/* Writes a name part for a value into buf: basename without extension for
 * paths, characters outside [A-Za-z0-9._-] replaced by '-'. */
void sq_sweep_name_part(const char *value, char *buf, size_t size);
bool sq_variant_name_valid(const char *name);

/* ---- slurm section (slurm_options.c) ------------------------------------- */

#define SQ_SLURM_MAX_LINES 32

typedef struct {
    char *partition, *account, *qos;
    char *time[SQ_STAGE_COUNT];   /* per stage, NULL = none */
    char *memory[SQ_STAGE_COUNT];
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

/* ---- the plan (plan.c) --------------------------------------------------- */

typedef enum {
    SQ_STATE_MISSING = 0, /* no artifact */
    SQ_STATE_STALE,       /* an artifact with another key */
    SQ_STATE_DONE,        /* the artifact carries the planned key */
    SQ_STATE_PENDING,     /* queued in Slurm */
    SQ_STATE_RUNNING,
    SQ_STATE_FAILED,      /* the last attempt failed (exit code, log) */
} sq_state;

const char *sq_state_name(sq_state state);

#define SQ_MAX_INSTANCE_INPUTS 64

typedef struct sq_instance sq_instance;
struct sq_instance {
    sq_stage_kind stage;
    char *variant;        /* variant name, "baseline", a calibration id, or "" */
    char *id;             /* "compress/int8", "inspect" */
    char *dir;            /* absolute folder of the instance */
    char *output;         /* artifact path (report: the report folder's report.json) */
    char *config_path;    /* dir/config.yaml: the effective config the stage reads */
    char *log_path;       /* dir/stage.log */
    char key[SQ_SHA256_HEX];
    sq_yaml_node *config; /* effective config tree (owned) */
    int ranks;            /* MPI ranks (calibrate, evaluate), else 1 */
    int variant_index;    /* index in plan->variants for compress/evaluate of a variant, else -1 */
    sq_instance *inputs[SQ_MAX_INSTANCE_INPUTS];
    int input_count;
    char **argv;          /* the stage command (absolute program path), NULL-terminated */
    sq_state state;       /* from the artifacts, then refined by executors */
    int exit_code;        /* for SQ_STATE_FAILED: exit status, or 128+signal */
    char *detail;         /* a short note for status (job id, reason) */
    char *job_id;         /* Slurm: "123" or "123_4" from the ledger */
};

typedef struct {
    char *name;
    sq_yaml_node *config;   /* the variant's effective config (absolute paths, no sweep/slurm) */
    const sq_variant_spec *spec;
    sq_run_config cfg;      /* typed view of config (validated) */
    bool typed;
} sq_variant;

typedef struct {
    char *config_path;      /* absolute */
    char *config_dir;
    sq_yaml_doc doc;        /* the run YAML */
    sq_run_config base;     /* typed view of the run YAML (validated) */
    sq_sweep sweep;
    sq_slurm_options slurm;
    char *run_name;
    char *run_dir;          /* absolute: <output_root>/<run> */
    char *bin_dir;          /* folder of the squeeze binary */
    sq_variant *variants;
    size_t variant_count;
    sq_instance **items;    /* in execution order */
    size_t count;
} sq_plan;

/* Loads the config, expands the sweep, builds the instances and their keys and
 * reads each instance's state from its artifact.  Config errors name file:line:column. */
sq_status sq_plan_build(const char *config_path, sq_plan *plan);
void sq_plan_free(sq_plan *plan);
sq_instance *sq_plan_find(const sq_plan *plan, sq_stage_kind stage, const char *variant);
/* Re-reads the artifact states (after a run). */
void sq_plan_refresh_states(sq_plan *plan);
/* Writes dir and config.yaml of an instance (atomically). */
sq_status sq_instance_prepare(const sq_plan *plan, const sq_instance *inst);
/* The key of the artifact at inst->output ("" when none or unreadable). */
void sq_instance_artifact_key(const sq_instance *inst, char *key, size_t size);
/* The report is not HDF5: its key lives in report/plan_key, written after success. */
sq_status sq_instance_mark_done(const sq_instance *inst);

/* plan.json (plan_json.c): the instances with inputs, outputs, keys, states. */
sq_status sq_plan_write_json(const sq_plan *plan, const char *executor);
/* Reads failures recorded by the last local run (state, exit code) back into the plan. */
void sq_plan_read_failures(sq_plan *plan);

/* ---- values that reach scripts and command lines (script_values.c) ------- */

/* Refuses a control character in any key or value of the run YAML (except
 * the free-text `description`), naming the dotted key and file:line:column. */
sq_status sq_config_refuse_control(const sq_yaml_node *root);
/* One folder name: [A-Za-z0-9._-], not starting with '.' or '-' (never "..").*/
bool sq_folder_name_valid(const char *name);
/* The config path holds no control character and the run name is one folder name. */
sq_status sq_plan_check_names(const char *config_path, const sq_yaml_node *root, const char *run_name);
/* A word for an "#SBATCH" line: every ASCII byte outside [A-Za-z0-9/._%+,=:@-]
 * backslash-escaped (sbatch's own parser), malloc'd. */
char *sq_sbatch_quote(const char *word);

/* ---- run folder lock (lock.c) -------------------------------------------- */

typedef struct {
    int fd;
    char *path;
} sq_run_lock;

/* Takes <run_dir>/.squeeze.lock (flock, released when the process dies);
 * a second holder gets a usage error naming the first one's pid and command. */
sq_status sq_run_lock_take(const char *run_dir, const char *command, sq_run_lock *lock);
void sq_run_lock_release(sq_run_lock *lock);

/* ---- processes and files (proc.c) ---------------------------------------- */

/* Absolute path of an executable: next to the squeeze binary first, then PATH.
 * NULL when not found. */
char *sq_find_program(const char *bin_dir, const char *name);
char *sq_find_on_path(const char *name);
char *sq_self_dir(void);
/* Runs argv (execvp, no shell), capturing stdout (and stderr when merge) into
 * a malloc'd string; *exit_code receives the exit status (128+signal when killed).
 * timeout_s > 0 kills the child after that many seconds (exit 124). */
sq_status sq_capture(char *const argv[], bool merge_stderr, int timeout_s, char **output, int *exit_code);
/* Shell-quoted form of one word ('...' with ' -> '\''), malloc'd. */
char *sq_shell_quote(const char *word);
/* A whole argv quoted and joined with spaces, malloc'd. */
char *sq_shell_join(char *const argv[]);
sq_status sq_mkdir_p(const char *path);
/* Writes text to path via a temporary name and rename (never half a file). */
sq_status sq_write_file_atomic(const char *path, const char *text, size_t size);
sq_status sq_read_file(const char *path, char **text, size_t *size);
char *sq_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *sq_path_join(const char *dir, const char *name);
/* "path size=N mtime=S.NS" or a content sha256 for files up to 64 MiB; "" when absent. */
void sq_file_identity(const char *path, char *out, size_t size);
char **sq_argv_new(void);
sq_status sq_argv_push(char ***argv, const char *word);
void sq_argv_free(char **argv);
size_t sq_argv_count(char *const argv[]);
double sq_now(void);

/* ---- commands ------------------------------------------------------------- */

typedef struct {
    const char *config;
    const char *stage;     /* resume --stage */
    const char *variant;   /* resume --variant */
    bool dry_run;          /* submit --dry-run */
    bool keep_going;       /* run --keep-going */
    bool local_only;       /* check --local: skip the Slurm tools */
    bool slurm;            /* check --slurm, resume --slurm */
    bool json;
} sq_command_options;

int sq_cmd_plan(const sq_command_options *opts);
int sq_cmd_check(const sq_command_options *opts);
int sq_cmd_run(const sq_command_options *opts, bool resume);
int sq_cmd_submit(const sq_command_options *opts, bool resume);
int sq_cmd_status(const sq_command_options *opts);
int sq_cmd_cancel(const sq_command_options *opts);

/* Prints the plan table (stage, variant, state, key, output). */
void sq_plan_print(const sq_plan *plan, FILE *out);

/* ---- Slurm (slurm_*.c, ledger.c) ------------------------------------------ */

typedef struct {
    char *instance;        /* "compress/int8" */
    char *job_id;          /* "123" or "123_4" */
    char *raw_id;          /* the task's own job id once known ("" before) */
    char *key;             /* the plan key it was submitted for */
    char *submitted_utc;
} sq_ledger_job;

typedef struct {
    sq_ledger_job *jobs;
    size_t count;
    char *path;
    void *json;            /* json_t *: the whole ledger (submissions kept as written) */
} sq_ledger;

sq_status sq_ledger_load(const char *run_dir, sq_ledger *ledger);
/* Records a submission (script, sbatch argv, job id, its instances by array index). */
sq_status sq_ledger_add_submission(sq_ledger *ledger, const char *stage, const char *script, char *const sbatch_argv[],
                                   const char *job_id, const char *array_spec, sq_instance *const *instances,
                                   const int *task_ids, size_t count);
void sq_ledger_set_raw_id(sq_ledger *ledger, const char *instance, const char *raw_id);
sq_status sq_ledger_save(sq_ledger *ledger);
void sq_ledger_free(sq_ledger *ledger);
const sq_ledger_job *sq_ledger_find(const sq_ledger *ledger, const char *instance);

/* Fills the Slurm states (pending, running, failed with exit code) of the plan's
 * instances from the ledger with one squeue call and one `sacct -c` call. */
sq_status sq_slurm_query_states(sq_plan *plan, sq_ledger *ledger, bool *any_active);
/* MaxArraySize from `scontrol show config` (SQUEEZE_MAX_ARRAY_SIZE overrides; 1001 if unknown). */
int sq_slurm_max_array_size(void);

/* Writes a batch script from slurm/stage.sbatch.in for a group of instances of
 * one stage (an array when count > 1 or array is set). */
sq_status sq_slurm_write_script(const sq_plan *plan, sq_stage_kind stage, sq_instance *const *instances,
                                const int *task_ids, size_t count, int offset, const char *path);
/* Where the templates are: $SQUEEZE_TEMPLATE_DIR, <bin>/../share/squeeze/slurm, <bin>/../slurm. */
char *sq_slurm_template_path(const char *bin_dir, const char *name);

#endif
