/* commands.h - the `squeeze` commands: plan, check, run, submit, status,
 * resume, cancel, export (docs/driver.md, docs/export.md), and the command line that picks one. */
#ifndef SQ_DRIVER_COMMANDS_H
#define SQ_DRIVER_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

#include "plan.h"

typedef struct {
    const char *config;
    const char *stage;     /* resume --stage */
    const char *variant;   /* resume --variant, export --variant */
    const char *format;    /* export --format (default gguf) */
    bool dry_run;          /* submit --dry-run */
    bool keep_going;       /* run --keep-going */
    bool local_only;       /* check --local: skip the Slurm tools */
    bool slurm;            /* check --slurm, resume --slurm */
    bool json;
    bool no_check;         /* run, submit, resume --no-check: skip the preflight gate */
} sq_command_options;

int sq_cmd_plan(const sq_command_options *opts);
int sq_cmd_check(const sq_command_options *opts);
int sq_cmd_run(const sq_command_options *opts, bool resume);
int sq_cmd_submit(const sq_command_options *opts, bool resume);
int sq_cmd_status(const sq_command_options *opts);
int sq_cmd_cancel(const sq_command_options *opts);
int sq_cmd_export(const sq_command_options *opts);
/* The check as the gate of run, submit and resume (command names which): its
 * problems on stderr, nothing else; 0 when the run can go, else 2 with a line
 * saying nothing ran and how to skip the check (--no-check). */
int sq_check_gate(const sq_command_options *opts, const char *command);

/* `squeeze COMMAND CONFIG [options]`: parses argv and runs the command;
 * returns the exit status (0 ok, 2 usage or config error, 4 a stage failed). */
int sq_driver_main(int argc, char **argv);

/* Prints the plan table (stage, variant, state, key, output). */
void sq_plan_print(const sq_plan *plan, FILE *out);

#endif
