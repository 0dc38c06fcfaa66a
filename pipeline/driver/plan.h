/* plan.h - from one run YAML to a plan of stage instances (DESIGN.md "Driver
 * and Slurm"): each instance has its inputs, its folder
 * results/<run>/<stage>[/<variant>]/, its effective config and a key, the
 * sha256 of the config sections the stage reads plus its inputs' keys.  A
 * stage whose artifact carries the planned key (root attribute plan_key) is
 * done.  Executors (local.c, slurm_submit.c) run what is not done. */
#ifndef SQ_DRIVER_PLAN_H
#define SQ_DRIVER_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config/run_config.h"
#include "config/yaml_tree.h"
#include "slurm_options.h"
#include "stage_table.h"
#include "sweep.h"
#include "util/hash.h"
#include "util/status.h"

typedef enum {
    SQ_STATE_MISSING = 0, /* no artifact */
    SQ_STATE_STALE,       /* an artifact with another key */
    SQ_STATE_DONE,        /* the artifact carries the planned key */
    SQ_STATE_PENDING,     /* queued in Slurm */
    SQ_STATE_RUNNING,
    SQ_STATE_FAILED,      /* the last attempt failed (exit code, log) */
    SQ_STATE_CANCELLED,   /* its Slurm job was cancelled (squeeze cancel, scancel) before it finished */
} sq_state;

const char *sq_state_name(sq_state state);

typedef struct sq_instance sq_instance;
struct sq_instance {
    const sq_stage_step *step; /* its row of the stage table */
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
    sq_instance **inputs; /* what it reads, in key order (the report: every evaluation) */
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
    bool evaluate_only;     /* no variant names a precision map: inspect, the baseline evaluations, report */
    sq_instance **items;    /* in execution order */
    size_t count;
} sq_plan;

/* Loads the config, expands the sweep, builds the instances and their keys by
 * walking the stage table (stage_table.h) and reads each instance's state from
 * its artifact.  Config errors name file:line:column. */
sq_status sq_plan_build(const char *config_path, sq_plan *plan);
/* The same, with the folder of the stage programs given (unit tests; the
 * executable passes the folder of the squeeze binary). */
sq_status sq_plan_build_in(const char *config_path, const char *bin_dir, sq_plan *plan);
void sq_plan_free(sq_plan *plan);
/* `--run NAME`: every plan this process builds uses NAME as its run name (its
 * folder <output_root>/NAME) instead of the config's `run:`; checked as a run
 * name is.  NULL restores the config's. */
void sq_plan_set_run_name(const char *name);
/* The override in force, or NULL. */
const char *sq_plan_run_name_override(void);
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

#endif
