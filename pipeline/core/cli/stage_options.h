/* stage_options.h - a stage's command line as a table of options.
 *
 * Every stage takes --config, --out, --key and --help, and most --model (the
 * stage CLI contract in docs/architecture.md); each main lists its options in
 * a table and calls sq_stage_parse(), so that all stages word an unknown
 * option, a missing value, a missing required option and a stray argument the
 * same way (usage error, exit 2).  What a value means (a number, a choice)
 * stays the main's business.
 *
 *   const sq_stage_option options[] = {
 *       SQ_OPTION_REQUIRED("config", &args.config), SQ_OPTION_REQUIRED("model", &args.model),
 *       SQ_OPTION_REQUIRED("out", &args.out), SQ_OPTION("key", &args.key), SQ_FLAG("json", &args.json),
 *   };
 */
#ifndef SQ_CLI_STAGE_OPTIONS_H
#define SQ_CLI_STAGE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/status.h"

typedef struct {
    const char *name;   /* "config" for --config */
    const char **value; /* receives the option's value; NULL for a flag */
    bool *flag;         /* set to true by a flag */
    bool required;      /* a usage error when not given */
} sq_stage_option;

#define SQ_OPTION(name, target) {(name), (target), NULL, false}
#define SQ_OPTION_REQUIRED(name, target) {(name), (target), NULL, true}
#define SQ_FLAG(name, target) {(name), NULL, (target), false}
#define SQ_OPTION_COUNT(table) (sizeof(table) / sizeof *(table))

typedef struct {
    const char *program;            /* "squeeze-compress": messages say "see squeeze-compress --help" */
    const sq_stage_option *options; /* --help is always there and need not be listed */
    size_t option_count;
    const char **positional;        /* receives the one positional argument, or NULL: none is taken */
} sq_stage_command_line;

/* Parses argv.  --help or --version sets *help and stops (nothing is required
 * then): the main prints sq_stage_print_help() and exits 0.
 * Usage errors (SQ_ERR_USAGE): an unknown option, an option without its
 * value, more positional arguments than taken, required options missing (all
 * of them named in one message). */
sq_status sq_stage_parse(const sq_stage_command_line *line, int argc, char **argv, bool *help);

/* What --help or --version asked for: the usage text, or "PROGRAM VERSION". */
void sq_stage_print_help(const sq_stage_command_line *line, const char *usage);
/* Whether the last parse met --version (a main adds to --help's text only without it). */
bool sq_stage_version_asked(void);

/* The end of every stage main: logs a failure's message with its kind
 * (unless the MPI ranks agreed on it and it was logged then, util/mpi_agree.h),
 * and returns the exit status (0 done, 2 usage/config, 3 bad input, 4 run). */
int sq_stage_exit_status(sq_status st);

#endif
